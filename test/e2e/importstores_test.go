package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"glint/internal/store/storetest/testserver"
)

// The real glance CLI imports into several stores (two filesystem stores
// and S3) and copies an image to another store; each copy serves the
// image alone. A policy file opens copy_image and delete_image_location
// (admin only by default) to the noauth caller.
func TestImportToStoresWithGlanceCLI(t *testing.T) {
	requireCLI(t)
	if testing.Short() {
		t.Skip("-short: starts an S3 server")
	}
	srv := testserver.StartS3(t)
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte("\"copy_image\": \"\"\n\"delete_image_location\": \"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServerConf(t, fmt.Sprintf("enabled_backends = a:file, b:file, obj:s3, web:http\n"+
		"[oslo_policy]\npolicy_file = %s\n[glance_store]\ndefault_backend = a\n"+
		"[a]\nfilesystem_store_datadir = %s\n[b]\nfilesystem_store_datadir = %s\n"+
		"[obj]\ns3_store_host = %s\ns3_store_access_key = %s\ns3_store_secret_key = %s\ns3_store_bucket = glance\n"+
		"s3_store_create_bucket_on_put = true\n", policy, filepath.Join(dir, "a"), filepath.Join(dir, "b"),
		srv.Endpoint, srv.AccessKey, srv.Secret))
	p := writePayload(t, s.tmp, 3<<20+5)

	r := must(t, s.glanceStdin(t, p.path, "image-create-via-import", "--disk-format", "raw", "--container-format", "bare",
		"--name", "two-stores", "--import-method", "glance-direct", "--stores", "a,obj"))
	id := glanceProps(t, r)["id"]
	// The image turns active with its first store; the others follow.
	img := s.waitStatus(t, id, "active")
	for deadline := time.Now().Add(30 * time.Second); img["os_glance_importing_to_stores"] != "" && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		img = s.mustGetImage(t, id)
	}
	if img["stores"] != "a,obj" || img["os_glance_importing_to_stores"] != "" || img["os_glance_failed_import"] != "" {
		t.Errorf("after import to a and obj: stores %v, importing %v, failed %v", img["stores"],
			img["os_glance_importing_to_stores"], img["os_glance_failed_import"])
	}

	// The client checks store names against stores-info itself.
	r = mustFail(t, s.glanceStdin(t, "", "image-import", id, "--import-method", "copy-image", "--stores", "nosuch"))
	if !strings.Contains(r.stderr, "Store 'nosuch' is not valid for this cloud") {
		t.Errorf("copy to an unknown store:\n%s", r)
	}

	must(t, s.glanceStdin(t, "", "image-import", id, "--import-method", "copy-image", "--stores", "b"))
	deadline := time.Now().Add(30 * time.Second)
	for img = s.mustGetImage(t, id); img["stores"] != "a,obj,b"; img = s.mustGetImage(t, id) {
		if img["status"] != "active" {
			t.Fatalf("image during copy-image: %v", img["status"])
		}
		if time.Now().After(deadline) {
			t.Fatalf("copy-image to b: stores %v after 30s", img["stores"])
		}
		time.Sleep(100 * time.Millisecond)
	}
	r = mustFail(t, s.glanceStdin(t, "", "image-import", id, "--import-method", "copy-image", "--stores", "b"))
	if !strings.Contains(r.stdout+r.stderr, "Image is already present at store") {
		t.Errorf("second copy to b:\n%s", r)
	}

	// Remove copies until one is left: each serves the download.
	for _, gone := range []string{"a", "obj"} {
		must(t, s.glanceStdin(t, "", "stores-delete", "--store", gone, id))
		out := filepath.Join(s.tmp, "without-"+gone+".bin")
		must(t, s.glanceStdin(t, "", "image-download", "--file", out, id))
		img = s.mustGetImage(t, id)
		checkDownload(t, out, p, img)
	}
	if img["stores"] != "b" {
		t.Errorf("stores left: %v", img["stores"])
	}
	got, err := os.ReadFile(filepath.Join(dir, "b", id))
	if err != nil || !bytes.Equal(got, p.data) {
		t.Errorf("b's copy on disk: %v", err)
	}
}
