package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMetadefsCommand(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "glance-api.conf")
	os.WriteFile(conf, []byte("[glint]\ndata_dir = "+dir+"/data\n"), 0o600)
	cat := filepath.Join(dir, "catalog")
	os.Mkdir(cat, 0o755)
	os.WriteFile(filepath.Join(cat, "a.json"), []byte(`{"namespace":"OS::A","display_name":"A ns","visibility":"public",
		"properties":{"p":{"title":"P","type":"string"}},"tags":[{"name":"t"}]}`), 0o644)
	bad := filepath.Join(dir, "bad")
	os.Mkdir(bad, 0o755)
	os.WriteFile(filepath.Join(bad, "b.json"), []byte(`{"display_name":"no namespace"}`), 0o644)
	out := filepath.Join(dir, "out")
	cases := []struct {
		args       []string
		code       int
		out, errIn string
	}{
		{[]string{"metadefs"}, 2, "", "load DIR"},
		{[]string{"metadefs", "--help"}, 0, "", "--prefer-new"},
		{[]string{"metadefs", "frob"}, 2, "", "unknown command"},
		{[]string{"metadefs", "load", "--config-file", conf}, 2, "", "wrong arguments"},
		{[]string{"metadefs", "unload", "--config-file", conf, "x"}, 2, "", "wrong arguments"},
		{[]string{"metadefs", "load", "--prefer-new", "--config-file", conf, cat}, 2, "", "--prefer-new needs --merge"},
		{[]string{"metadefs", "load", "--config-file", conf, filepath.Join(dir, "missing")}, 1, "", "missing"},
		{[]string{"metadefs", "load", "--config-file", conf, bad}, 1, "", "no namespace"},
		{[]string{"metadefs", "load", "--config-file", conf, cat}, 0, "1 namespaces created", ""},
		{[]string{"metadefs", "load", "--config-file", conf, cat}, 0, "Skipping namespace OS::A", ""},
		{[]string{"metadefs", "load", "--merge", "--prefer-new", "--config-file", conf, cat}, 0, "1 merged", ""},
		{[]string{"metadefs", "export", "--config-file", conf, out}, 0, "Exported 1 namespaces", ""},
		{[]string{"metadefs", "unload", "--config-file", conf}, 0, "Unloaded 1 namespaces", ""},
		{[]string{"metadefs", "load", "--config-file", conf, out}, 0, "1 namespaces created", ""},
	}
	for _, c := range cases {
		code, stdout, stderr := runCmd(c.args...)
		if code != c.code || !strings.Contains(stdout, c.out) || !strings.Contains(stderr, c.errIn) {
			t.Errorf("glint %v: code %d, stdout %q, stderr %q", c.args, code, stdout, stderr)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "Ans.json"))
	if err != nil || !strings.Contains(string(b), `"namespace": "OS::A"`) {
		t.Fatalf("export: %s %v", b, err)
	}
}
