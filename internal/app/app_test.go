package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glint/internal/app"
	"glint/internal/app/apptest"
	"glint/internal/config"
	"glint/internal/store"
	"glint/internal/store/filesystem"
)

// The operator's schema-image.json, found beside the configuration,
// reaches /v2/schemas/image.
func TestCustomSchema(t *testing.T) {
	g := apptest.New(t, func(c *config.Config) {
		os.WriteFile(filepath.Join(c.DataDir, "schema-image.json"),
			[]byte(`{"glint_custom_prop": {"type": "string", "description": "from the operator"}}`), 0o644)
	})
	res, err := http.Get(g.URL + "/v2/schemas/image")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), "glint_custom_prop") {
		t.Fatalf("GET /v2/schemas/image: %d %s", res.StatusCode, b)
	}
}

// A store given to New must be one the configuration enables.
func TestWithStoreNotEnabled(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Finish()
	d, err := filesystem.New(filepath.Join(cfg.DataDir, "other"), 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = app.New(context.Background(), cfg, app.WithLogger(slog.New(slog.DiscardHandler)),
		app.WithStore(&store.Store{Name: "other", Type: "file", Driver: d}))
	if err == nil || !strings.Contains(err.Error(), "store other is given but not enabled") {
		t.Fatalf("New: %v", err)
	}
}

// What the configuration refuses stops New.
func TestNewFails(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.EnforceSecureRBAC = true // without enforce_new_defaults
	cfg.Finish()
	log := app.WithLogger(slog.New(slog.DiscardHandler))
	if _, err := app.New(context.Background(), cfg, log); err == nil || !strings.Contains(err.Error(), "enforce_new_defaults") {
		t.Fatalf("New: %v", err)
	}
	cfg.EnforceNewDefaults = true
	a, err := app.New(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}
