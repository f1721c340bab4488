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
		{[]string{"db", "--help"}, 0, "", "db sync"},
		{[]string{"db", "frob"}, 2, "", `glint db: unknown command "frob"`},
		{[]string{"policy"}, 2, "", "sample"},
		{[]string{"policy", "frob"}, 2, "", `glint policy: unknown command "frob"`},
		{[]string{"db", "check", "--config-file", conf}, 3, "run `glint db expand`", ""},
		{[]string{"db", "contract", "--config-file", conf}, 1, "", "Run \"glint db expand\" first"},
		{[]string{"db", "version", "extra", "--config-file", conf}, 2, "", "unexpected argument"},
		{[]string{"db", "sync", "--config-file", conf}, 0, "synced successfully", ""},
		{[]string{"db", "check", "--config-file", conf}, 0, "up to date", ""},
		{[]string{"db", "expand", "--config-file", conf}, 0, "Database is up to date. No migrations needed.", ""},
		{[]string{"db", "sync", "--config-file", conf}, 0, "Database is up to date. No migrations needed.", ""},
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
	go func() { done <- serveWith(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), ready) }()
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

// The policy file, the property protection file and the quota options
// from the configuration reach the running server.
func TestServeAuthorizationConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("policy.yaml", "get_images: '!'\n")
	write("protect.conf", "[^x_]\ncreate = !\nread = @\nupdate = @\ndelete = @\n[.*]\ncreate = @\nread = @\nupdate = @\ndelete = @\n")
	write("glance-api.conf", "[DEFAULT]\nproperty_protection_file = protect.conf\nuse_keystone_limits = true\n"+
		"[glint_limits]\nimage_count_total = 1\n[glint]\ndata_dir = "+filepath.Join(dir, "data")+"\n")
	c := &common{files: listFlag{filepath.Join(dir, "glance-api.conf")}}
	cfg, err := c.load()
	if err != nil {
		t.Fatal(err)
	}
	cfg.BindPort = 0 // any free port
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serveWith(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	do := func(method, path, body string) int {
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/v2/images", "", 403},                 // policy.yaml
		{"POST", "/v2/images", `{"x_a": "1"}`, 403},    // protections
		{"POST", "/v2/images", `{"name": "one"}`, 201}, //
		{"POST", "/v2/images", `{"name": "two"}`, 413}, // image_count_total
		{"GET", "/v2/info/usage", "", 200},
	} {
		if got := do(c.method, c.path, c.body); got != c.want {
			t.Errorf("%s %s %s: %d, want %d", c.method, c.path, c.body, got, c.want)
		}
	}
	cancel()
	<-done
}

func TestPolicyCommand(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "glance-api.conf")
	os.WriteFile(conf, []byte("[DEFAULT]\n"), 0o644)
	runCmd := func(args ...string) (int, string, string) {
		var out, errOut strings.Builder
		code := run(context.Background(), args, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	if code, out, _ := runCmd("policy", "sample"); code != 0 || !strings.Contains(out, `#"get_image": "role:admin or (role:reader and`) {
		t.Errorf("policy sample: %d %.200q", code, out)
	}
	if code, out, _ := runCmd("policy", "check", "--config-file", conf); code != 0 || !strings.Contains(out, "policy OK") {
		t.Errorf("policy check, no policy file: %d %q", code, out)
	}
	os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte("get_imagez: '!'\nget_images: '!'\n"), 0o644)
	if code, out, _ := runCmd("policy", "check", "--config-file", conf); code != 1 || !strings.Contains(out, "get_imagez") {
		t.Errorf("policy check, misspelt rule: %d %q", code, out)
	}
	if code, out, _ := runCmd("policy", "effective", "--config-file", conf); code != 0 || !strings.Contains(out, `"get_images": "!"`) {
		t.Errorf("policy effective: %d %q", code, out)
	}
}
