package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// glint db purge and purge_images_table check their arguments as
// glance-manage does (a bad one is exit 2, before the database is opened)
// and print what they removed from each table.
func TestDBPurgeCommand(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "glance-api.conf")
	os.WriteFile(conf, []byte("[glint]\ndata_dir = "+dir+"/data\n"), 0o600)
	cases := []struct {
		args       []string
		code       int
		out, errIn string
	}{
		{[]string{"db", "purge", "--help"}, 0, "", "OSSN-0075"},
		{[]string{"db", "purge_images_table", "-h"}, 0, "", "default 180"},
		{[]string{"db", "purge", "--age_in_days", "-1"}, 2, "", "Must supply a non-negative value for age."},
		{[]string{"db", "purge", "--age_in_days", "100000"}, 2, "", "Maximal age is count of days since epoch."},
		{[]string{"db", "purge", "--max_rows", "-2"}, 2, "", "Minimal rows limit is -1."},
		{[]string{"db", "purge", "--max_rows", "2147483648"}, 2, "", "'max_rows' value out of range, must not exceed 2147483647."},
		{[]string{"db", "purge", "--max_rows", "ten"}, 2, "", `invalid int value: "ten"`},
		{[]string{"db", "purge", "--age_in_days", "0x10"}, 2, "", "invalid int value"},
		{[]string{"db", "purge", "--age_in_days"}, 2, "", "flag needs an argument"},
		{[]string{"db", "purge", "30"}, 2, "", `unexpected argument "30"`},
		{[]string{"db", "purge_images_table", "--max_rows", "-5"}, 2, "", "Minimal rows limit is -1."},
		{[]string{"db", "sync", "--config-file", conf}, 0, "synced successfully", ""},
		{[]string{"db", "purge", "--config-file", conf}, 0, "at most 100 row(s) per table", ""},
		{[]string{"db", "purge", "--config-file", conf, "--age_in_days", "0", "--max_rows", "-1"}, 0, "tasks             0 row(s) removed", ""},
		{[]string{"db", "purge_images_table", "--config-file", conf, "--max_rows", "-1"}, 0, "images            0 row(s) removed\nPurged 0 row(s).", ""},
	}
	for _, c := range cases {
		code, out, errOut := runCmd(c.args...)
		if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errOut, c.errIn) {
			t.Errorf("glint %v: code %d, stdout %q, stderr %q", c.args, code, out, errOut)
		}
	}
	code, out, _ := runCmd("db", "purge", "--config-file", conf, "--age_in_days", "7")
	for _, table := range []string{"task_info", "image_properties", "image_tags", "image_locations", "image_members", "tasks"} {
		if code != 0 || !strings.Contains(out, "  "+table+" ") {
			t.Errorf("glint db purge does not report %s: %d %q", table, code, out)
		}
	}
	if strings.Contains(out, "images ") {
		t.Errorf("glint db purge touched the images table: %q", out)
	}
}
