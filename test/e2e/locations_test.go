package e2e

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The real glance CLI adds and removes http locations (location-add,
// location-delete): a queued image given a web location becomes active
// and downloads from there; Glance's refusals come back as the CLI shows
// them.
func TestLocationsWithGlanceCLI(t *testing.T) {
	requireCLI(t)
	data := bytes.Repeat([]byte("glint"), 2000)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/a.raw" && r.URL.Path != "/b.raw" {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	}))
	defer web.Close()
	s := startServerConf(t, "show_multiple_locations = true\nshow_image_direct_url = true\n"+
		"[glance_store]\nhttp_store_allow_private_targets = true\n[import_filtering_opts]\nallowed_ports = []\n")
	id := s.createImage(t, map[string]any{"name": "web", "disk_format": "raw", "container_format": "bare"})
	a, b := web.URL+"/a.raw", web.URL+"/b.raw"

	props := glanceProps(t, must(t, s.glance(t, "location-add", "--url", a, id)))
	if props["status"] != "active" || props["size"] != "10000" || props["direct_url"] != a {
		t.Fatalf("after location-add: status %q size %q direct_url %q", props["status"], props["size"], props["direct_url"])
	}
	must(t, s.glance(t, "location-add", "--url", b, "--metadata", `{"site": "b"}`, id))
	if r := mustFail(t, s.glance(t, "location-add", "--url", b, "--metadata", `{"site": "b"}`, id)); !strings.Contains(r.stderr, "already exists") {
		t.Errorf("duplicate location-add:\n%s", r)
	}
	if r := mustFail(t, s.glance(t, "location-add", "--url", "file:///etc/passwd", id)); !strings.Contains(r.stderr, "Invalid location") {
		t.Errorf("file location-add:\n%s", r)
	}
	out := filepath.Join(s.tmp, "web.raw")
	must(t, s.glance(t, "image-download", "--file", out, id))
	if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
		t.Fatalf("download: %d bytes, want %d", len(got), len(data))
	}
	must(t, s.glance(t, "location-delete", "--url", a, id))
	img := s.mustGetImage(t, id)
	if locs, _ := img["locations"].([]any); len(locs) != 1 || locs[0].(map[string]any)["url"] != b {
		t.Fatalf("locations after location-delete: %v", img["locations"])
	}
	if r := mustFail(t, s.glance(t, "location-delete", "--url", b, id)); !strings.Contains(r.stderr, "Cannot remove last location in the image.") {
		t.Errorf("deleting the last location:\n%s", r)
	}
}
