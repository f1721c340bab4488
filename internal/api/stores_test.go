package api_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glint/internal/app"
	"glint/internal/app/apptest"
	"glint/internal/auth"
	"glint/internal/config"
	"glint/internal/image"
	"glint/internal/store"
	"glint/internal/store/filesystem"
	"glint/internal/store/httpstore"
)

// newMultiEnv serves two filesystem stores and the HTTP store under
// enabled_backends-style names, "slow" being the default.
func newMultiEnv(t *testing.T) (*env, map[string]string) {
	e, dirs, _ := newMultiEnvRepo(t)
	return e, dirs
}

func newMultiEnvRepo(t *testing.T) (*env, map[string]string, image.Repo) {
	dir := t.TempDir()
	dirs := map[string]string{"fast": filepath.Join(dir, "fast"), "slow": filepath.Join(dir, "slow")}
	fast, _ := filesystem.New(dirs["fast"], 0)
	slow, _ := filesystem.New(dirs["slow"], 0)
	web, _ := httpstore.New(httpstore.Options{})
	g := apptest.New(t, func(c *config.Config) {
		c.EnabledBackends, c.DefaultBackend = []string{"fast:file", "slow:file", "web:http"}, "slow"
	}, app.WithAuthenticator(adminAuth{}),
		app.WithStore(&store.Store{Name: "fast", Type: "file", Description: "Fast disks", Driver: fast, Properties: map[string]any{"data_dir": dirs["fast"]}}),
		app.WithStore(&store.Store{Name: "slow", Type: "file", Driver: slow}),
		app.WithStore(&store.Store{Name: "web", Type: "http", Driver: web}))
	return &env{t: t, url: g.URL, srv: g.Server}, dirs, g.DB().Images()
}

func TestInfoStores(t *testing.T) {
	e, _ := newMultiEnv(t)
	r := e.do("GET", "/v2/info/stores", nil)
	if r.status != 200 {
		t.Fatalf("GET /v2/info/stores: %d %s", r.status, r.body)
	}
	want := `{"stores":[{"description":"Fast disks","id":"fast"},{"default":"true","id":"slow"},{"id":"web","read-only":"true"}]}`
	if got := strings.TrimSpace(string(r.body)); got != want {
		t.Errorf("stores:\n got %s\nwant %s", got, want)
	}
	r = e.do("GET", "/v2/info/stores/detail", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"type":"file"`) || !strings.Contains(string(r.body), `"data_dir"`) {
		t.Errorf("detail: %d %s", r.status, r.body)
	}
	// Without enabled_backends the API is Glance's 404.
	plain := newEnv(t, opts{})
	if r := plain.do("GET", "/v2/info/stores", nil); r.status != 404 || !strings.Contains(string(r.body), "Multi backend is not supported") {
		t.Errorf("single store: %d %s", r.status, r.body)
	}
}

func TestUploadToChosenStore(t *testing.T) {
	e, dirs := newMultiEnv(t)
	for _, c := range []struct{ header, wantStore string }{{"", "slow"}, {"fast", "fast"}} {
		r := e.do("POST", "/v2/images", strings.NewReader(`{"disk_format":"raw","container_format":"bare"}`), "Content-Type", "application/json")
		id, _ := r.json(t)["id"].(string)
		hdr := []string{"Content-Type", "application/octet-stream"}
		if c.header != "" {
			hdr = append(hdr, "X-Image-Meta-Store", c.header)
		}
		if r := e.do("PUT", "/v2/images/"+id+"/file", strings.NewReader("data"), hdr...); r.status != 204 {
			t.Fatalf("upload to %q: %d %s", c.header, r.status, r.body)
		}
		img := e.do("GET", "/v2/images/"+id, nil).json(t)
		if img["stores"] != c.wantStore {
			t.Errorf("stores = %v, want %s", img["stores"], c.wantStore)
		}
		if _, err := os.Stat(filepath.Join(dirs[c.wantStore], id)); err != nil {
			t.Errorf("data not in the %s store: %v", c.wantStore, err)
		}
		if got := e.do("GET", "/v2/images/"+id+"/file", nil); string(got.body) != "data" {
			t.Errorf("download: %q", got.body)
		}
	}
	r := e.do("POST", "/v2/images", strings.NewReader(`{"disk_format":"raw","container_format":"bare"}`), "Content-Type", "application/json")
	id, _ := r.json(t)["id"].(string)
	for _, bad := range []string{"nosuch", "web"} {
		r := e.do("PUT", "/v2/images/"+id+"/file", strings.NewReader("data"), "Content-Type", "application/octet-stream", "X-Image-Meta-Store", bad)
		if r.status != 400 {
			t.Errorf("upload to %s: %d %s", bad, r.status, r.body)
		}
	}
	if st := e.do("GET", "/v2/images/"+id, nil).json(t)["status"]; st != "queued" {
		t.Errorf("after refused uploads the image is %v", st)
	}
}

// With enabled_backends the versions document lists the multi-store
// versions, as Glance 25.1 does.
func TestMultiStoreVersions(t *testing.T) {
	e, _ := newMultiEnv(t)
	r := e.do("GET", "/versions", nil)
	var ids []string
	for _, v := range r.json(t)["versions"].([]any) {
		ids = append(ids, v.(map[string]any)["id"].(string))
	}
	if got := strings.Join(ids, ","); got != "v2.15,v2.13,v2.12,v2.11,v2.10,v2.9,v2.8,v2.7,v2.6,v2.5,v2.4,v2.3,v2.2,v2.1,v2.0" {
		t.Errorf("versions %s", got)
	}
	if r := e.do("GET", "/v2.13/info/stores", nil); r.status != 200 {
		t.Errorf("/v2.13/info/stores: %d", r.status)
	}
}

// DELETE /v2/stores/{store}/{image} removes one copy, with Glance's rules.
func TestDeleteFromStore(t *testing.T) {
	e, dirs, repo := newMultiEnvRepo(t)
	r := e.do("POST", "/v2/images", strings.NewReader(`{"disk_format":"raw","container_format":"bare"}`), "Content-Type", "application/json")
	id, _ := r.json(t)["id"].(string)
	if r := e.do("DELETE", "/v2/stores/slow/"+id, nil); r.status != 409 {
		t.Errorf("queued image: %d %s", r.status, r.body)
	}
	if r := e.do("PUT", "/v2/images/"+id+"/file", strings.NewReader("data"), "Content-Type", "application/octet-stream"); r.status != 204 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	for _, c := range []struct {
		path   string
		status int
	}{
		{"/v2/stores/nosuch/" + id, 409},
		{"/v2/stores/slow/00000000-0000-0000-0000-000000000000", 404},
		{"/v2/stores/slow/" + id, 403}, // the only copy
	} {
		if r := e.do("DELETE", c.path, nil); r.status != c.status {
			t.Errorf("DELETE %s: %d %s, want %d", c.path, r.status, r.body, c.status)
		}
	}
	// A second copy in fast, as copy-image would make.
	os.WriteFile(filepath.Join(dirs["fast"], id), []byte("data"), 0o600)
	img, err := repo.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	img.Locations = append(img.Locations, image.Location{URL: "file://" + filepath.Join(dirs["fast"], id), Metadata: map[string]any{"store": "fast"}})
	if err := repo.Update(context.Background(), img, image.Active); err != nil {
		t.Fatal(err)
	}
	if got := e.do("GET", "/v2/images/"+id, nil).json(t)["stores"]; got != "slow,fast" {
		t.Errorf("stores with two copies: %v", got)
	}
	if r := e.do("DELETE", "/v2/stores/slow/"+id, nil); r.status != 204 {
		t.Fatalf("DELETE from slow: %d %s", r.status, r.body)
	}
	if _, err := os.Stat(filepath.Join(dirs["slow"], id)); err == nil {
		t.Error("the slow copy's data is still there")
	}
	if got := e.do("GET", "/v2/images/"+id, nil).json(t)["stores"]; got != "fast" {
		t.Errorf("stores after removing slow: %v", got)
	}
	if got := e.do("GET", "/v2/images/"+id+"/file", nil); string(got.body) != "data" {
		t.Errorf("download from the remaining copy: %q", got.body)
	}
	if r := e.do("DELETE", "/v2/stores/slow/"+id, nil); r.status != 403 {
		t.Errorf("DELETE of the last copy: %d", r.status)
	}
}

// adminAuth makes every caller an admin with the admin role, which
// delete_image_location needs even without Keystone.
type adminAuth struct{}

func (adminAuth) Authenticate(context.Context, *http.Request) (*auth.Context, error) {
	return &auth.Context{IsAdmin: true, Roles: []string{"admin"}}, nil
}
func (adminAuth) Challenge() string { return "" }
