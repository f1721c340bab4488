package main

import (
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

type statusJSON struct {
	Name   string `json:"name"`
	Checks []struct {
		Check   string  `json:"check"`
		Result  int     `json:"result"`
		Details *string `json:"details"`
	} `json:"checks"`
}

// cellLines are the lines inside a results table, padding trimmed.
func cellLines(table string) []string {
	var out []string
	for _, l := range strings.Split(table, "\n") {
		if strings.HasPrefix(l, "| ") {
			out = append(out, strings.TrimRight(strings.TrimSuffix(l, "|"), " "))
		} else if strings.HasPrefix(l, "+") {
			out = append(out, "+")
		}
	}
	return out
}

// Glance's three checks give, in table and JSON, what Glance 25.1's
// glance-status upgrade check gives on the same files, with the same
// exit status when they decide it.
func TestStatusMatchesGlanceStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs glance-status (Python, seconds)")
	}
	gs, err := exec.LookPath("glance-status")
	if err != nil {
		t.Skip("glance-status not installed")
	}
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(s), 0o600)
		return p
	}
	write("json/policy.json", `{"get_images": ""}`)
	cases := []struct {
		name, conf string
		code       int // glance-status's exit status
	}{
		{"plain", "[DEFAULT]\n", 0},
		{"sheepdog store", "[glance_store]\nstores = file, sheepdog\n", 2},
		{"sheepdog backend", "[DEFAULT]\nenabled_backends = fast:file, sheepdog:rbd\n", 2},
		{"owner_is_tenant false", "[DEFAULT]\nowner_is_tenant = False\n", 2},
		{"owner_is_tenant true", "[DEFAULT]\nowner_is_tenant = true\n", 0},
		{"json policy", "[oslo_policy]\npolicy_file = policy.json\n", 2},
	}
	for _, c := range cases {
		sub := "yaml"
		if c.name == "json policy" {
			sub = "json"
		}
		conf := write(sub+"/"+strings.ReplaceAll(c.name, " ", "_")+".conf", c.conf+"[glint]\ndata_dir = "+dir+"/data\n")
		for _, asJSON := range []bool{false, true} {
			args := []string{"--config-file", conf, "upgrade", "check"}
			mine := []string{"status", "upgrade", "check", "--config-file", conf}
			if asJSON {
				args, mine = append(args, "--json"), append(mine, "--json")
			}
			cmd := exec.Command(gs, args...)
			out, _ := cmd.Output()
			if got := cmd.ProcessState.ExitCode(); got != c.code {
				t.Errorf("%s: glance-status exit %d, want %d\n%s", c.name, got, c.code, out)
			}
			code, mineOut, errOut := runCmd(mine...)
			if c.code == 2 && code != 2 || code < c.code {
				t.Errorf("%s: glint exit %d, glance-status %d\n%s%s", c.name, code, c.code, mineOut, errOut)
			}
			if asJSON {
				var g, l statusJSON
				if err := json.Unmarshal(out, &g); err != nil {
					t.Fatalf("%s: glance-status --json: %v\n%s", c.name, err, out)
				}
				if err := json.Unmarshal([]byte(mineOut), &l); err != nil || len(l.Checks) < 3 {
					t.Fatalf("%s: glint --json: %v\n%s", c.name, err, mineOut)
				}
				l.Checks = l.Checks[:3]
				if !reflect.DeepEqual(g, l) {
					t.Errorf("%s: --json differs:\nglance-status %s\nglint         %s", c.name, out, mineOut)
				}
				continue
			}
			g, l := cellLines(string(out)), cellLines(mineOut)
			if len(l) < len(g) || !reflect.DeepEqual(g, l[:len(g)]) {
				t.Errorf("%s: table differs:\nglance-status:\n%s\nglint:\n%s", c.name, out, mineOut)
			}
		}
	}
}

// wrapText wraps as Python's textwrap.wrap(s, 60, subsequent_indent="  ").
func TestWrapTextAsPython(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3")
	}
	texts := []string{
		"short",
		"Your policy file is JSON-formatted which is deprecated. You need to switch to YAML-formatted file. Use the ``oslopolicy-convert-json-to-yaml`` tool to convert the existing JSON-formatted files to YAML in a backwards-compatible manner: https://docs.openstack.org/oslo.policy/latest/cli/oslopolicy-convert-json-to-yaml.html.",
		"The configuration does not load: /tmp/some/very/long/path/to/a/configuration/directory/glance-api.conf: DEFAULT.bind_port: invalid value",
		"These options are set but neither Glint nor Glance 25.1 knows them (removed, renamed or misspelt); they are ignored: DEFAULT.owner_is_tenant, glance_store.sheepdog_store_address, x-y-z.a-b.",
		"a-b-c-d well-known co-operate e-mail 3-d x--y aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbb",
	}
	for _, s := range texts {
		out, err := exec.Command("python3", "-c", "import sys, textwrap; print('\\n'.join(textwrap.wrap(sys.argv[1], 60, subsequent_indent='  ')))", s).Output()
		if err != nil {
			t.Fatal(err)
		}
		want := strings.TrimSuffix(string(out), "\n")
		if got := strings.Join(wrapText(s, 60, "  "), "\n"); got != want {
			t.Errorf("wrap of %q:\ngot\n%s\nwant\n%s", s, got, want)
		}
	}
}

// Glint's own checks and the exit status: 1 for a warning, 2 for a
// failure, 0 when all is well; usage errors are 2.
func TestStatusUpgradeCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(s), 0o600)
		return p
	}
	base := "[glint]\ndata_dir = " + dir + "/data\n"
	ok := write("ok/glance-api.conf", base)
	typo := write("typo/glance-api.conf", base+"[DEFAULT]\nshow_multiple_location = true\n")
	badPolicy := write("badpol/glance-api.conf", base)
	write("badpol/policy.yaml", "get_images: [unclosed\n")
	undefined := write("undef/glance-api.conf", base)
	write("undef/policy.yaml", "get_images: \"rule:no_such_rule\"\n")
	badValue := write("badval/glance-api.conf", base+"[DEFAULT]\nbind_port = ninety\n")
	cases := []struct {
		args  []string
		code  int
		check string // a line the table shows
	}{
		{[]string{"status"}, 2, ""},
		{[]string{"status", "upgrade"}, 2, ""},
		{[]string{"status", "upgrade", "check", "extra"}, 2, ""},
		{[]string{"status", "--help"}, 0, ""},
		{[]string{"status", "upgrade", "check", "--config-file", ok}, 1, "glint db sync creates it."},
		{[]string{"db", "sync", "--config-file", ok}, 0, ""},
		{[]string{"status", "upgrade", "check", "--config-file", ok}, 0, "| Check: Glint database schema"},
		{[]string{"status", "upgrade", "check", "--config-file", typo}, 1, "DEFAULT.show_multiple_location"},
		{[]string{"status", "upgrade", "check", "--config-file", badPolicy}, 2, "The policy does not load"},
		{[]string{"status", "upgrade", "check", "--config-file", undefined}, 1, "no_such_rule"},
		{[]string{"status", "upgrade", "check", "--config-file", badValue}, 2, "DEFAULT.bind_port"},
	}
	for _, c := range cases {
		code, out, errOut := runCmd(c.args...)
		if code != c.code || !strings.Contains(out, c.check) {
			t.Errorf("glint %v: code %d, want %d with %q\n%s%s", c.args, code, c.code, c.check, out, errOut)
		}
	}
	// A database that a newer Glance migrated on.
	raw, err := sql.Open("sqlite", filepath.Join(dir, "data", "glint.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec("UPDATE alembic_version SET version_num = '2099_1_contract01'"); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCmd("status", "upgrade", "check", "--config-file", ok); code != 1 || !strings.Contains(out, "2099_1_contract01") {
		t.Errorf("a database a newer Glance migrated: %d\n%s", code, out)
	}
}
