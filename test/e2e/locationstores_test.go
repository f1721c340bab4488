package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// storeSide is one of the two servers TestLocationStoresLikeGlance
// compares: its URL, its store directories and its database.
type storeSide struct {
	name string
	url  string
	dirs map[string]string // store name -> filesystem_store_datadir
	db   string            // SQLite file
}

// identity is what Glance's trusted-header pipeline takes for
// keystonemiddleware's word; Glint's no-auth pipeline ignores it.
var identity = map[string]string{"X-Identity-Status": "Confirmed", "X-Project-Id": "p1", "X-User-Id": "u1",
	"X-Roles": "admin,member,reader"}

func (s storeSide) do(t *testing.T, method, path string, body []byte, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, s.url+path, bytes.NewReader(body))
	for k, v := range identity {
		req.Header.Set(k, v)
	}
	switch {
	case method == "PATCH":
		req.Header.Set("Content-Type", "application/openstack-images-v2.1-json-patch")
	case method == "PUT":
		req.Header.Set("Content-Type", "application/octet-stream")
	default:
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %s %s: %v", s.name, method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out map[string]any
	json.Unmarshal(b, &out)
	if res.StatusCode >= 300 {
		t.Logf("%s: %s %s: %d %.300s", s.name, method, path, res.StatusCode, b)
	}
	return res.StatusCode, out
}

// create makes a raw image with id (the same on both sides).
func (s storeSide) create(t *testing.T, id, name string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"id": id, "name": name, "disk_format": "raw", "container_format": "bare"})
	if st, _ := s.do(t, "POST", "/v2/images", body, nil); st != 201 {
		t.Fatalf("%s: create %s: %d", s.name, name, st)
	}
}

// settled waits until the image is active with no import under way.
func (s storeSide) settled(t *testing.T, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, img := s.do(t, "GET", "/v2/images/"+id, nil, nil)
		if img["status"] == "active" && img["os_glance_importing_to_stores"] == "" {
			return img
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: image %s did not settle: %v", s.name, id, img)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// view is what the test compares of an image: its stores field and its
// locations, file URLs written relative to their store's directory.
func (s storeSide) view(img map[string]any) string {
	locs, _ := img["locations"].([]any)
	for _, l := range locs {
		m := l.(map[string]any)
		u := m["url"].(string)
		for name, dir := range s.dirs {
			u = strings.Replace(u, "file://"+dir+"/", "file://<"+name+">/", 1)
		}
		m["url"] = u
	}
	b, _ := json.Marshal(map[string]any{"stores": img["stores"], "status": img["status"], "locations": locs})
	return string(b)
}

// sql changes the side's database by hand, as an operator or an older
// release would have written it.
func (s storeSide) sql(t *testing.T, stmt string) {
	t.Helper()
	if out, err := exec.Command("sqlite3", s.db, stmt).CombinedOutput(); err != nil {
		t.Fatalf("%s: sqlite3 %q: %v\n%s", s.name, stmt, err, out)
	}
}

// TestLocationStoresLikeGlance writes locations through every path that
// writes or adds one (upload, stage and import, copy-image, web-download,
// a patch adding or replacing locations) on Glance 25.1 and on the glint
// binary, both with enabled_backends = fast:file, slow:file, web:http and
// show_multiple_locations, and compares each image's locations (their
// metadata's "store") and stores field. Then locations without a store,
// or with one no longer configured, are written into both databases by
// hand: both show them with the store their URL belongs to, download
// them and delete them from that store alike.
func TestLocationStoresLikeGlance(t *testing.T) {
	skipShort(t)
	if _, err := exec.LookPath("sqlite3"); err != nil {
		t.Skip("sqlite3 is not installed (scripts/test installs it)")
	}
	data := bytes.Repeat([]byte("glint"), 4000)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	}))
	defer web.Close()

	dir := t.TempDir()
	gdir := filepath.Join(dir, "glance")
	gside := storeSide{name: "Glance", db: filepath.Join(gdir, "glance.sqlite"),
		dirs: map[string]string{"fast": filepath.Join(dir, "g-fast"), "slow": filepath.Join(dir, "g-slow")}}
	gside.url = startGlanceArgs(t, gdir, []string{"--trusted-headers"},
		"DEFAULT.enabled_backends=fast:file, slow:file, web:http", "DEFAULT.show_multiple_locations=true",
		"glance_store.default_backend=fast",
		"fast.filesystem_store_datadir="+gside.dirs["fast"], "slow.filesystem_store_datadir="+gside.dirs["slow"],
		"import_filtering_opts.allowed_ports=[]", "import_filtering_opts.allowed_hosts=[127.0.0.1]")

	lside := storeSide{name: "Glint", dirs: map[string]string{"fast": filepath.Join(dir, "l-fast"), "slow": filepath.Join(dir, "l-slow")}}
	policy := filepath.Join(dir, "policy.yaml")
	// Glint's no-auth caller is no admin: let it copy as Glance's admin does.
	if err := os.WriteFile(policy, []byte(`"copy_image": ""`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServerConf(t, fmt.Sprintf("enabled_backends = fast:file, slow:file, web:http\nshow_multiple_locations = true\n"+
		"[glance_store]\ndefault_backend = fast\nhttp_store_allow_private_targets = true\n"+
		"[fast]\nfilesystem_store_datadir = %s\n[slow]\nfilesystem_store_datadir = %s\n[web]\nhttp_store_allow_private_targets = true\n"+
		"[import_filtering_opts]\nallowed_ports = []\nallowed_hosts = [127.0.0.1]\n[glint]\nimport_allow_private_networks = true\n"+
		"[oslo_policy]\npolicy_file = %s\n", lside.dirs["fast"], lside.dirs["slow"], policy))
	lside.url, lside.db = srv.URL, filepath.Join(srv.dataDir, "glint.db")
	sides := []storeSide{gside, lside}

	id := func(n int) string { return fmt.Sprintf("1c0ffee0-0000-4000-8000-%012d", n) }
	loc := func(md map[string]any) []byte {
		b, _ := json.Marshal([]map[string]any{{"op": "add", "path": "/locations/-", "value": map[string]any{"url": web.URL + "/a.raw", "metadata": md}}})
		return b
	}
	importBody := func(method string, stores ...string) []byte {
		m := map[string]any{"method": map[string]any{"name": method}}
		if method == "web-download" {
			m["method"].(map[string]any)["uri"] = web.URL + "/w.raw"
		}
		if len(stores) > 0 {
			m["stores"] = stores
		}
		b, _ := json.Marshal(m)
		return b
	}
	type step struct {
		method, path string
		body         []byte
		hdr          map[string]string
		want         int
	}
	paths := []struct {
		name  string
		n     int
		steps []step
		async bool // an import: wait for it to settle
	}{
		{"upload to the default store", 1, []step{{"PUT", "/file", data, nil, 204}}, false},
		{"upload with X-Image-Meta-Store", 2, []step{{"PUT", "/file", data, map[string]string{"X-Image-Meta-Store": "slow"}, 204}}, false},
		{"stage and import to the default store", 3, []step{{"PUT", "/stage", data, nil, 204},
			{"POST", "/import", importBody("glance-direct"), nil, 202}}, true},
		{"stage and import to two stores", 4, []step{{"PUT", "/stage", data, nil, 204},
			{"POST", "/import", importBody("glance-direct", "slow", "fast"), nil, 202}}, true},
		{"web-download to a store", 5, []step{{"POST", "/import", importBody("web-download", "slow"), nil, 202}}, true},
		{"copy-image of an uploaded image", 6, []step{{"PUT", "/file", data, nil, 204},
			{"POST", "/import", importBody("copy-image", "slow"), nil, 202}}, true},
		{"a location added with its own metadata", 7, []step{{"PATCH", "", loc(map[string]any{"k": "v"}), nil, 200}}, false},
		{"a location added naming another store", 8, []step{{"PATCH", "", loc(map[string]any{"store": "fast"}), nil, 200}}, false},
		{"the same location added twice: its store makes it the same", 10, []step{{"PATCH", "", loc(map[string]any{}), nil, 200},
			{"PATCH", "", loc(map[string]any{}), nil, 400}}, false},
		{"locations replaced", 9, []step{{"PATCH", "", []byte(`[{"op": "replace", "path": "/locations", "value": [{"url": "` +
			web.URL + `/b.raw", "metadata": {"store": "nope", "x": "1"}}]}]`), nil, 200}}, false},
	}
	for _, p := range paths {
		var views [2]string
		for i, s := range sides {
			s.create(t, id(p.n), p.name)
			for _, st := range p.steps {
				if got, _ := s.do(t, st.method, "/v2/images/"+id(p.n)+st.path, st.body, st.hdr); got != st.want {
					t.Fatalf("%s: %s: %s %s: %d, want %d", p.name, s.name, st.method, st.path, got, st.want)
				}
				if p.async && st.method == "POST" {
					s.settled(t, id(p.n))
				}
			}
			_, img := s.do(t, "GET", "/v2/images/"+id(p.n), nil, nil)
			views[i] = s.view(img)
		}
		if views[0] != views[1] || !strings.Contains(views[1], `"store":`) {
			t.Errorf("%s:\nGlance %s\nGlint  %s", p.name, views[0], views[1])
		}
	}

	// Locations an older release (no store) or an operator (a store no
	// longer configured) wrote: shown with the store of their URL.
	for _, s := range sides {
		s.sql(t, "UPDATE image_locations SET meta_data = '{}' WHERE image_id = '"+id(4)+"'")
		s.sql(t, `UPDATE image_locations SET meta_data = '{"store": "gone", "k": "v"}' WHERE image_id = '`+id(7)+"'")
	}
	for _, n := range []int{4, 7} {
		var views [2]string
		for i, s := range sides {
			_, img := s.do(t, "GET", "/v2/images/"+id(n), nil, nil)
			views[i] = s.view(img)
		}
		if views[0] != views[1] || !strings.Contains(views[1], `"store":`) {
			t.Errorf("image %d read without its stores:\nGlance %s\nGlint  %s", n, views[0], views[1])
		}
	}
	// ... and used with it: downloaded, and deleted from that store.
	for _, s := range sides {
		s.sql(t, "UPDATE image_locations SET meta_data = '{}' WHERE image_id = '"+id(6)+"'")
	}
	var views [2]string
	for i, s := range sides {
		req, _ := http.NewRequest("GET", s.url+"/v2/images/"+id(6)+"/file", nil)
		for k, v := range identity {
			req.Header.Set(k, v)
		}
		res, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !bytes.Equal(b, data) {
			t.Errorf("%s: download of an image without stores: %d, %d bytes", s.name, res.StatusCode, len(b))
		}
		if st, _ := s.do(t, "DELETE", "/v2/stores/slow/"+id(6), nil, nil); st != 204 {
			t.Errorf("%s: DELETE /v2/stores/slow: %d", s.name, st)
		}
		_, img := s.do(t, "GET", "/v2/images/"+id(6), nil, nil)
		views[i] = s.view(img)
		if _, err := os.Stat(filepath.Join(s.dirs["slow"], id(6))); !os.IsNotExist(err) {
			t.Errorf("%s: the copy in slow is still there: %v", s.name, err)
		}
	}
	if views[0] != views[1] || strings.Count(views[1], `"url"`) != 1 {
		t.Errorf("after deleting from slow:\nGlance %s\nGlint  %s", views[0], views[1])
	}
}
