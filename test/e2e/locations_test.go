package e2e

import (
	"bytes"
	"io"
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

// TestLocationsLikeGlance sends the same location patches to Glance 25.1
// and to Glint, both with show_multiple_locations on and the same web
// server as the location target, and compares the answers: status codes
// exactly, and Glint's error message must appear in Glance's.
func TestLocationsLikeGlance(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 1000)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/a", "/b":
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
		case "/empty":
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(nil))
		default:
			http.NotFound(w, r)
		}
	}))
	defer web.Close()
	dir := t.TempDir()
	glance := startGlance(t, filepath.Join(dir, "glance"), "DEFAULT.show_multiple_locations=true",
		"import_filtering_opts.allowed_ports=[]", "import_filtering_opts.allowed_hosts=[127.0.0.1]")
	lint := startServerConf(t, "show_multiple_locations = true\n[glance_store]\nhttp_store_allow_private_targets = true\n"+
		"[import_filtering_opts]\nallowed_ports = []\n").URL
	W := web.URL
	loc := func(path, url, meta string) string {
		return `[{"op":"add","path":"` + path + `","value":{"url":"` + url + `","metadata":` + meta + `}}]`
	}
	steps := []struct{ img, body string }{
		{"q", `[{"op":"remove","path":"/locations/0"}]`},
		{"q", `[{"op":"replace","path":"/locations","value":[]}]`},
		{"nf", loc("/locations/-", W+"/a", "{}")},
		{"q", loc("/locations/-", W+"/missing", "{}")},
		{"q", loc("/locations/-", W+"/empty", "{}")},
		{"q", loc("/locations/-", "file:///etc/passwd", "{}")},
		{"q", loc("/locations/-", "swift+config://ref/c/o", "{}")},
		{"q", loc("/locations/-", "foo://x/y", "{}")},
		{"q", `[{"op":"add","path":"/locations/-","value":{"url":"` + W + `/a"}}]`},
		{"q", loc("/locations/-", W+"/a", "{}")},
		{"q", loc("/locations/-", W+"/a", "{}")},
		{"q", loc("/locations/-", W+"/a", `{"k":"v"}`)},
		{"q", loc("/locations/0", W+"/b", "{}")},
		{"q", `[{"op":"add","path":"/locations/-","value":{"url":"` + W + `/b","metadata":{},"validation_data":{"os_hash_algo":"sha512","os_hash_value":"00"}}}]`},
		{"q", `[{"op":"replace","path":"/locations","value":[{"url":"` + W + `/b","metadata":{}}]}]`},
		{"q", `[{"op":"replace","path":"/locations","value":[{"url":"` + W + `/a","metadata":{"z":"1"}},{"url":"` + W + `/a","metadata":{"k":"v"}},{"url":"` + W + `/b","metadata":{}}]}]`},
		{"q", `[{"op":"remove","path":"/locations/9"}]`},
		{"q", `[{"op":"remove","path":"/locations/-"}]`},
		{"q", `[{"op":"remove","path":"/locations/0"}]`},
		{"q", `[{"op":"remove","path":"/locations/0"}]`},
		{"r", `[{"op":"replace","path":"/locations","value":[{"url":"` + W + `/a","metadata":{}},{"url":"` + W + `/a","metadata":{}}]}]`},
	}
	type answer struct {
		status int
		body   string
	}
	run := func(base string) []answer {
		ids := map[string]string{}
		for _, n := range []string{"q", "r"} {
			st, img := call(t, "POST", base+"/v2/images", strings.NewReader(`{"disk_format":"raw","container_format":"bare"}`))
			if st != 201 {
				t.Fatalf("%s create: %d", base, st)
			}
			ids[n] = img["id"].(string)
		}
		_, img := call(t, "POST", base+"/v2/images", strings.NewReader(`{"name":"no formats"}`))
		ids["nf"] = img["id"].(string)
		var out []answer
		for _, s := range steps {
			req, _ := http.NewRequest("PATCH", base+"/v2/images/"+ids[s.img], strings.NewReader(s.body))
			req.Header.Set("Content-Type", "application/openstack-images-v2.1-json-patch")
			req.Header.Set("Accept", "text/plain")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			out = append(out, answer{res.StatusCode, string(b)})
		}
		return out
	}
	want, got := run(glance), run(lint)
	for i, s := range steps {
		g, l := want[i], got[i]
		if g.status != l.status {
			t.Errorf("%s: Glance %d, Glint %d\nGlance: %s\nGlint: %s", s.body, g.status, l.status, g.body, l.body)
			continue
		}
		if g.status >= 400 {
			msg := strings.TrimSpace(strings.SplitN(l.body, "\n\n", 3)[1])
			if i := strings.Index(msg, ": ["); i > 0 {
				msg = msg[:i] // the list Glance prints differs in spacing
			}
			if i := strings.Index(msg, ": at "); i > 0 {
				msg = msg[:i] // schema details are worded by another validator
			}
			if !strings.Contains(g.body, msg) {
				t.Errorf("%s: %d\nGlance: %s\nGlint: %s", s.body, g.status, g.body, l.body)
			}
		}
	}
}
