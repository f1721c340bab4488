package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDBBackupCommand(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "glance-api.conf")
	os.WriteFile(conf, []byte("[glint]\ndata_dir = "+dir+"/data\n"), 0o600)
	pg := filepath.Join(dir, "pg.conf")
	os.WriteFile(pg, []byte("[database]\nconnection = postgresql://glance:secret@db.example/glance\n"), 0o600)
	my := filepath.Join(dir, "my.conf")
	os.WriteFile(my, []byte("[database]\nconnection = mysql+pymysql://glance:secret@db.example/glance\n"), 0o600)
	dest := filepath.Join(dir, "copy.db")
	cases := []struct {
		args       []string
		code       int
		out, errIn string
	}{
		{[]string{"db", "backup", "--help"}, 0, "", "online backup API"},
		{[]string{"db", "backup", "--config-file", conf}, 2, "", "name one destination file"},
		{[]string{"db", "backup", "--config-file", conf, "a", "b"}, 2, "", "name one destination file"},
		{[]string{"db", "sync", "--config-file", conf}, 0, "synced successfully", ""},
		{[]string{"db", "backup", "--config-file", conf, dest}, 0, "quick_check ok", ""},
		{[]string{"db", "backup", dest, "--config-file", conf}, 1, "", "exists (replace it with --force)"},
		{[]string{"db", "backup", dest, "--force", "--config-file", conf}, 0, "Backed up", ""},
		{[]string{"db", "backup", "--config-file", pg, dest}, 1, "", "pg_dump"},
		{[]string{"db", "backup", "--config-file", my, dest}, 1, "", "mariadb-dump"},
	}
	for _, c := range cases {
		code, out, errOut := runCmd(c.args...)
		if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errOut, c.errIn) {
			t.Errorf("glint %v: code %d, stdout %q, stderr %q", c.args, code, out, errOut)
		}
		if strings.Contains(errOut, "secret") {
			t.Errorf("glint %v shows the password: %q", c.args, errOut)
		}
	}
	// The copy is a database Glint opens: glint db version reads it.
	copyConf := filepath.Join(dir, "copy.conf")
	os.WriteFile(copyConf, []byte("[database]\nconnection = sqlite:///"+dest+"\n"), 0o600)
	if code, out, errOut := runCmd("db", "check", "--config-file", copyConf); code != 0 || !strings.Contains(out, "up to date") {
		t.Errorf("glint db check on the copy: %d %q %q", code, out, errOut)
	}
}
