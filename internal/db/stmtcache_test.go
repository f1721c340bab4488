package db

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

// openSQLite opens a new SQLite database in t's temporary directory (or
// the one url names), migrated, and closes it when t ends.
func openSQLite(t *testing.T, url ...string) *DB {
	t.Helper()
	ctx := context.Background()
	u := "sqlite:///" + filepath.Join(t.TempDir(), "glint.db")
	if len(url) > 0 {
		u = url[0]
	}
	d, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

// The SQLite writer's statements are prepared once, after the transaction
// that first ran them, and later run inside their own transaction (a
// rollback undoes them).
func TestWriterStatementCache(t *testing.T) {
	ctx := context.Background()
	d := openSQLite(t)
	const q = "INSERT INTO glint_quota_locks (owner) VALUES (?)"
	insert := func(owner string, fail bool) error {
		return d.inTx(ctx, "test", func(c conn) error {
			if _, err := c.exec(ctx, q, owner); err != nil {
				return err
			}
			if fail {
				return errors.New("roll back")
			}
			return nil
		})
	}
	if err := insert("a", false); err != nil {
		t.Fatal(err)
	}
	st := d.wstmts.lookup(q)
	if st == nil {
		t.Fatal("the statement was not prepared after its first transaction")
	}
	if err := insert("b", true); err == nil {
		t.Fatal("the failing transaction succeeded")
	}
	if err := insert("c", false); err != nil {
		t.Fatal(err)
	}
	if d.wstmts.lookup(q) != st {
		t.Error("the statement was prepared again")
	}
	var owners []string
	rows, err := d.read.QueryContext(ctx, "SELECT owner FROM glint_quota_locks ORDER BY owner")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var o string
		rows.Scan(&o)
		owners = append(owners, o)
	}
	rows.Close()
	if len(owners) != 2 || owners[0] != "a" || owners[1] != "c" {
		t.Errorf("owners %v, want [a c] (b rolled back)", owners)
	}
}
