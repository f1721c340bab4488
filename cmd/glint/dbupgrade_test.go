package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What db check, db version and the upgrade check say of migrations a
// newer Glint applied: an expansion is served beside, a contraction is
// not; and of Glance's own expand without its contract.
func TestDBCheckNewerRelease(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "glance-api.conf")
	os.WriteFile(conf, []byte("[glint]\ndata_dir = "+dir+"/data\n"), 0o600)
	if code, out, errOut := runCmd("db", "sync", "--config-file", conf); code != 0 {
		t.Fatalf("sync: %d %s%s", code, out, errOut)
	}
	raw, err := sql.Open("sqlite", filepath.Join(dir, "data", "glint.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	exec := func(q string) {
		t.Helper()
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(args []string, code int, out string) {
		t.Helper()
		got, o, e := runCmd(append(args, "--config-file", conf)...)
		if got != code || !strings.Contains(o+e, out) {
			t.Errorf("glint %v: %d, want %d with %q\n%s%s", args, got, code, out, o, e)
		}
	}
	exec("INSERT INTO goose_db_version (version_id, is_applied) VALUES (99001, true)")
	exec("INSERT INTO glint_migration_phases (version, phase) VALUES (99001, 'expand')")
	expect([]string{"db", "check"}, 0, "A newer Glint has migrated this database: 99001 (expand).")
	expect([]string{"db", "version"}, 0, "99001 (expand)")
	expect([]string{"status", "upgrade", "check"}, 0, "")

	exec("UPDATE alembic_version SET version_num = 'wallaby_expand01'")
	expect([]string{"db", "check"}, 0, "Glance's contract is pending")
	expect([]string{"status", "upgrade", "check"}, 1, "contract is pending")
	exec("UPDATE alembic_version SET version_num = 'ussuri_contract01'")
	expect([]string{"db", "check"}, 3, "older than Glance 25.1's")
	expect([]string{"status", "upgrade", "check"}, 2, "ussuri_contract01")
	exec("UPDATE alembic_version SET version_num = '2099_1_expand01'")
	expect([]string{"db", "check"}, 0, "a newer Glance has only expanded it")
	expect([]string{"status", "upgrade", "check"}, 1, "additions only")
	exec("UPDATE alembic_version SET version_num = '2099_1_contract01'")
	expect([]string{"db", "check"}, 0, "a newer Glance has contracted it")
	expect([]string{"status", "upgrade", "check"}, 1, "may have removed")
	exec("UPDATE alembic_version SET version_num = 'wallaby_contract01'")

	exec("INSERT INTO goose_db_version (version_id, is_applied) VALUES (99002, true)")
	exec("INSERT INTO glint_migration_phases (version, phase) VALUES (99002, 'contract')")
	expect([]string{"db", "check"}, 1, "A newer Glint has contracted this database (versions 99002)")
	expect([]string{"status", "upgrade", "check"}, 2, "contracted")
	expect([]string{"serve"}, 1, "a newer Glint has contracted this database")
}
