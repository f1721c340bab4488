package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"glint/internal/config"
)

func runCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "glance-api.conf")
	os.WriteFile(conf, []byte("[glint]\ndata_dir = "+dir+"/data\n[keystone_authtoken]\nauth_url = http://x\n"), 0o600)
	bad := filepath.Join(dir, "bad.conf")
	os.WriteFile(bad, []byte("[DEFAULT]\nbind_port = ninety\n"), 0o600)
	noKeystone := filepath.Join(dir, "no-keystone.conf")
	os.WriteFile(noKeystone, []byte("[glint]\ndata_dir = "+dir+"/data\n[paste_deploy]\nflavor = keystone\n"), 0o600)
	cases := []struct {
		args       []string
		code       int
		out, errIn string
	}{
		{nil, 2, "", "Usage:"},
		{[]string{"--help"}, 0, "serve        run the API server", ""},
		{[]string{"help", "serve"}, 0, "", "--config-file"},
		{[]string{"serve", "--help"}, 0, "", "--config-dir"},
		{[]string{"version"}, 0, "glint " + version, ""},
		{[]string{"frobnicate"}, 2, "", "unknown command"},
		{[]string{"db"}, 2, "", "db sync"},
		{[]string{"db", "check", "--config-file", conf}, 3, "upgrade needed", ""},
		{[]string{"db", "sync", "--config-file", conf}, 0, "synced successfully", ""},
		{[]string{"db", "check", "--config-file", conf}, 0, "up to date", ""},
		{[]string{"db", "version", "--config-file", conf}, 0, "glance alembic revision: wallaby_contract01", ""},
		{[]string{"db", "version", "--config-file", bad}, 1, "", "DEFAULT.bind_port"},
		{[]string{"serve", "--config-file", filepath.Join(dir, "missing.conf")}, 1, "", "missing.conf"},
		{[]string{"serve", "--config-file", noKeystone}, 1, "", "keystone_authtoken.auth_url is required"},
	}
	for _, c := range cases {
		code, out, errOut := runCmd(c.args...)
		if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errOut, c.errIn) {
			t.Errorf("glint %v: code %d, stdout %q, stderr %q", c.args, code, out, errOut)
		}
	}
}

// serve on the embedded default creates its data folder, migrates, answers,
// and stops cleanly when its context ends.
func TestServeEmbeddedDefault(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.BindPort = 0 // any free port
	cfg.Finish()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serveWith(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	res, err := http.Get("http://" + addr + "/versions")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /versions: %v %v", res, err)
	}
	res.Body.Close()
	for _, p := range []string{"glint.db", "images"} {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, p)); err != nil {
			t.Errorf("data folder lacks %s: %v", p, err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
