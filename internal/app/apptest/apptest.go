// Package apptest serves a whole Glint for a test, built by app.New as
// glint serve builds it: in a temporary directory, on SQLite (or the
// database the test names), with the filesystem store, behind an HTTP
// server wired as glint serve wires its own (framing.Listener,
// framing.ConnContext and Glance's header limit). Every in-process API,
// RBAC, end-to-end and benchmark set-up starts its Glint here.
package apptest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"glint/internal/app"
	"glint/internal/config"
	"glint/internal/framing"
)

// Glint is a running Glint node and the test server in front of it.
type Glint struct {
	*app.App
	URL    string // http://127.0.0.1:PORT
	Server *httptest.Server
	Config *config.Config // what the App was built from
}

// New builds, starts and serves a Glint for t, and releases it when t
// ends. Its configuration is the embedded default with data_dir in a
// temporary directory (so the SQLite database, the filesystem store and
// the staging area are there), bind_host and bind_port where it listens,
// and the policy files looked for in data_dir only; adjust, when not nil,
// changes it further (DatabaseConnection for a test run on each
// database, say). opts are app.New's: the test seams configuration cannot
// express. The log is discarded unless the test runs with -v.
func New(t testing.TB, adjust func(*config.Config), opts ...app.Option) *Glint {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	addr := srv.Listener.Addr().(*net.TCPAddr)

	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.BindHost, cfg.BindPort = addr.IP.String(), addr.Port
	cfg.SearchDirs = []string{cfg.DataDir}
	cfg.PolicyFile = filepath.Join(cfg.DataDir, "policy.yaml")
	cfg.PolicyDirs = []string{filepath.Join(cfg.DataDir, "policy.d")}
	cfg.Finish()
	if adjust != nil {
		adjust(cfg)
		cfg.Finish() // data_dir may have changed
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	ctx := context.Background()
	a, err := app.New(ctx, cfg, append([]app.Option{app.WithLogger(log)}, opts...)...)
	if err != nil {
		srv.Listener.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("apptest: closing Glint: %v", err)
		}
	})
	if err := a.Start(ctx); err != nil {
		srv.Listener.Close()
		t.Fatal(err)
	}

	// As glint serve: refuse ambiguous request framing, Glance's
	// max_header_line.
	srv.Listener = framing.Listener(srv.Listener)
	srv.Config.Handler = a.Handler()
	srv.Config.ConnContext = framing.ConnContext
	srv.Config.MaxHeaderBytes = 16384
	srv.Start()
	t.Cleanup(srv.Close) // before the App closes
	return &Glint{App: a, URL: srv.URL, Server: srv, Config: cfg}
}
