package app

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glint/internal/config"
)

// A broken store stops the start with a message naming it and the fix.
func TestOpenStoresErrors(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	file := filepath.Join(t.TempDir(), "afile")
	os.WriteFile(file, nil, 0o600)
	for _, c := range []struct {
		name string
		set  func(*config.Config)
		want string
	}{
		{"default not enabled", func(c *config.Config) { c.DefaultStore = "s3" }, "not one of the enabled stores"},
		{"rbd", func(c *config.Config) {
			c.Stores, c.RBDStoreCephConf = []string{"file", "rbd"}, file+"/ceph.conf"
		}, rbdMissing},
		{"s3 without settings", func(c *config.Config) { c.Stores = []string{"file", "s3"} }, "s3_store_host"},
		{"s3 unreachable", func(c *config.Config) {
			c.Stores = []string{"file", "s3"}
			c.S3StoreHost, c.S3StoreAccessKey, c.S3StoreSecretKey, c.S3StoreBucket = "http://127.0.0.1:1", "a", "b", "bkt"
		}, "store s3: "},
		{"datadir is a file", func(c *config.Config) { c.FilesystemStoreDatadir = file + "/images" }, "cannot create filesystem store directory"},
		{"bad datadirs", func(c *config.Config) { c.FilesystemStoreDatadirs = []string{"/x:high"} }, "priority"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.FilesystemStoreDatadir = filepath.Join(t.TempDir(), "images")
			c.set(cfg)
			_, err := OpenStores(context.Background(), cfg, log)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("OpenStores: %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// rbdMissing is what opening an RBD store on a missing ceph.conf says:
// that this glint cannot have one, unless built with the rbd tag.
var rbdMissing = map[bool]string{false: "built without rbd", true: "rbd_store_ceph_conf"}[rbdBuilt]

// /healthcheck reports a store that broke after start.
func TestStoreHealth(t *testing.T) {
	cfg := config.Default()
	dir := filepath.Join(t.TempDir(), "images")
	cfg.FilesystemStoreDatadir = dir
	set, err := OpenStores(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	h := &storeHealth{set: set}
	if err := h.check(context.Background()); err != nil {
		t.Fatalf("healthy store: %v", err)
	}
	os.RemoveAll(dir)
	if err := h.check(context.Background()); err == nil || !strings.Contains(err.Error(), "store file") {
		t.Fatalf("removed store directory: %v", err)
	}
}

// enabled_backends gives named stores, each from its own section.
func TestOpenStoresMulti(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "glance-api.conf")
	os.WriteFile(conf, []byte("[DEFAULT]\nenabled_backends = fast:file, slow:file, web:http\n[glance_store]\ndefault_backend = slow\n"+
		"[fast]\nfilesystem_store_datadir = "+filepath.Join(dir, "fast")+"\nstore_description = Fast\n"+
		"[slow]\nfilesystem_store_datadir = "+filepath.Join(dir, "slow")+"\n"), 0o644)
	cfg, err := config.Load([]string{conf}, nil)
	if err != nil {
		t.Fatal(err)
	}
	set, err := OpenStores(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(set.Names(), ","); got != "fast,slow,web" || set.DefaultName() != "slow" {
		t.Fatalf("stores %s, default %s", got, set.DefaultName())
	}
	fast, _ := set.Named("fast")
	if fast.Description != "Fast" {
		t.Errorf("description %q", fast.Description)
	}
	// A location is served by the store whose directory holds it.
	w, err := fast.Write(context.Background(), "img", strings.NewReader("x"), 1, "sha512")
	if err != nil {
		t.Fatal(err)
	}
	if n := set.NameFor(w.Location); n != "fast" {
		t.Errorf("NameFor(%s) = %q", w.Location, n)
	}
}
