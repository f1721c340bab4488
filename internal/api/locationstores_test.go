package api_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"glint/internal/app"
	"glint/internal/app/apptest"
	"glint/internal/config"
	"glint/internal/image"
	"glint/internal/store"
	"glint/internal/store/filesystem"
	"glint/internal/store/httpstore"
	"glint/internal/urlfilter"
)

// Every location Glint writes or adds records its store, as Glance's
// multi-store does (test/e2e's TestLocationStoresLikeGlance holds both to
// the same answers), and a location read without one is shown with the
// store its URL belongs to. Without enabled_backends nothing is added.
func TestLocationStoreMetadata(t *testing.T) {
	web, _ := webImages(t)
	newEnv := func(t *testing.T, multi bool) (*env, map[string]string, image.Repo) {
		dir := t.TempDir()
		dirs := map[string]string{"fast": filepath.Join(dir, "fast"), "slow": filepath.Join(dir, "slow")}
		fast, _ := filesystem.New(dirs["fast"], 0)
		slow, _ := filesystem.New(dirs["slow"], 0)
		hs, _ := httpstore.New(httpstore.Options{Filter: urlfilter.Options{AllowPrivate: true}})
		adjust := func(c *config.Config) {
			c.ShowMultipleLocations, c.HTTPStoreAllowPrivate, c.AllowedPorts = true, true, nil
			if multi {
				c.EnabledBackends, c.DefaultBackend = []string{"fast:file", "slow:file", "web:http"}, "slow"
			}
		}
		opts := []app.Option{app.WithAuthenticator(adminAuth{})}
		if multi {
			opts = append(opts, app.WithStore(&store.Store{Name: "fast", Type: "file", Driver: fast}),
				app.WithStore(&store.Store{Name: "slow", Type: "file", Driver: slow}),
				app.WithStore(&store.Store{Name: "web", Type: "http", Driver: hs}))
		} else {
			dirs = map[string]string{"file": filepath.Join(dir, "file")}
			fs, _ := filesystem.New(dirs["file"], 0)
			opts = append(opts, app.WithStore(&store.Store{Name: "file", Type: "file", Driver: fs}),
				app.WithStore(&store.Store{Name: "http", Type: "http", Driver: hs}))
		}
		g := apptest.New(t, adjust, opts...)
		return &env{t: t, url: g.URL, srv: g.Server}, dirs, g.DB().Images()
	}
	addLoc := func(path string, md string) string {
		return `[{"op": "add", "path": "/locations/-", "value": {"url": "` + web.URL + path + `", "metadata": ` + md + `}}]`
	}
	type req struct {
		method, path, body string
		hdr                []string
		status             int
	}
	// byHand writes the image's locations into the database as an older
	// Glint, or an operator, left them.
	type byHand func(dirs map[string]string, id string) []image.Location
	cases := []struct {
		name   string
		multi  bool
		reqs   []req
		hand   byHand
		stores any    // the image's stores field (nil: none)
		locs   string // its locations, store directories as <name>
	}{
		{name: "upload to the default store", multi: true,
			reqs:   []req{{"PUT", "/file", "data", nil, 204}},
			stores: "slow", locs: `[{"metadata":{"store":"slow"},"url":"file://<slow>/ID"}]`},
		{name: "upload with X-Image-Meta-Store", multi: true,
			reqs:   []req{{"PUT", "/file", "data", []string{"X-Image-Meta-Store", "fast"}, 204}},
			stores: "fast", locs: `[{"metadata":{"store":"fast"},"url":"file://<fast>/ID"}]`},
		{name: "a location added: the store of its URL", multi: true,
			reqs:   []req{{"PATCH", "", addLoc("/a", `{"k": "v"}`), nil, 200}},
			stores: "web", locs: `[{"metadata":{"k":"v","store":"web"},"url":"WEB/a"}]`},
		{name: "a location added naming another store", multi: true,
			reqs:   []req{{"PATCH", "", addLoc("/a", `{"store": "fast"}`), nil, 200}},
			stores: "web", locs: `[{"metadata":{"store":"web"},"url":"WEB/a"}]`},
		{name: "the same location again is a duplicate", multi: true,
			reqs:   []req{{"PATCH", "", addLoc("/a", `{}`), nil, 200}, {"PATCH", "", addLoc("/a", `{}`), nil, 400}},
			stores: "web", locs: `[{"metadata":{"store":"web"},"url":"WEB/a"}]`},
		{name: "two locations in one store, listed twice as Glance does", multi: true,
			reqs:   []req{{"PATCH", "", addLoc("/a", `{}`), nil, 200}, {"PATCH", "", addLoc("/b", `{}`), nil, 200}},
			stores: "web,web", locs: `[{"metadata":{"store":"web"},"url":"WEB/a"},{"metadata":{"store":"web"},"url":"WEB/b"}]`},
		{name: "locations replaced", multi: true,
			reqs:   []req{{"PATCH", "", `[{"op": "replace", "path": "/locations", "value": [{"url": "` + web.URL + `/b", "metadata": {"store": "nope"}}]}]`, nil, 200}},
			stores: "web", locs: `[{"metadata":{"store":"web"},"url":"WEB/b"}]`},
		{name: "read without a store, or with one no longer configured", multi: true,
			hand: func(dirs map[string]string, id string) []image.Location {
				return []image.Location{
					{URL: "file://" + dirs["fast"] + "/" + id, Metadata: map[string]any{}},
					{URL: "file://" + dirs["slow"] + "/" + id, Metadata: map[string]any{"store": "gone", "k": "v"}},
					{URL: "file:///elsewhere/" + id, Metadata: map[string]any{"store": "old"}},
				}
			},
			stores: "fast,slow,old",
			locs: `[{"metadata":{"store":"fast"},"url":"file://<fast>/ID"},{"metadata":{"k":"v","store":"slow"},"url":"file://<slow>/ID"},` +
				`{"metadata":{"store":"old"},"url":"file:///elsewhere/ID"}]`},
		{name: "single store: an upload records none", reqs: []req{{"PUT", "/file", "data", nil, 204}},
			locs: `[{"metadata":{},"url":"file://<file>/ID"}]`},
		{name: "single store: a location keeps its metadata", reqs: []req{{"PATCH", "", addLoc("/a", `{"store": "x"}`), nil, 200}},
			locs: `[{"metadata":{"store":"x"},"url":"WEB/a"}]`},
		{name: "single store: nothing filled in on read",
			hand: func(dirs map[string]string, id string) []image.Location {
				return []image.Location{{URL: "file://" + dirs["file"] + "/" + id, Metadata: map[string]any{}}}
			},
			locs: `[{"metadata":{},"url":"file://<file>/ID"}]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, dirs, repo := newEnv(t, tc.multi)
			r := e.do("POST", "/v2/images", strings.NewReader(`{"disk_format":"raw","container_format":"bare"}`), "Content-Type", "application/json")
			id, _ := r.json(t)["id"].(string)
			for _, q := range tc.reqs {
				ctype := "application/octet-stream"
				if q.method == "PATCH" {
					ctype = "application/openstack-images-v2.1-json-patch"
				}
				if r := e.do(q.method, "/v2/images/"+id+q.path, strings.NewReader(q.body), append([]string{"Content-Type", ctype}, q.hdr...)...); r.status != q.status {
					t.Fatalf("%s %s: %d %s, want %d", q.method, q.path, r.status, r.body, q.status)
				}
			}
			if tc.hand != nil {
				img, err := repo.Get(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				img.Locations, img.Status = tc.hand(dirs, id), image.Active
				if err := repo.Update(context.Background(), img, image.Queued); err != nil {
					t.Fatal(err)
				}
			}
			for _, path := range []string{"/v2/images/" + id, "/v2/images"} {
				got := e.do("GET", path, nil).json(t)
				if imgs, ok := got["images"].([]any); ok {
					got = imgs[0].(map[string]any)
				}
				b, _ := json.Marshal(got["locations"])
				locs := strings.ReplaceAll(string(b), id, "ID")
				locs = strings.ReplaceAll(locs, web.URL, "WEB")
				for name, d := range dirs {
					locs = strings.ReplaceAll(locs, "file://"+d+"/", "file://<"+name+">/")
				}
				if got["stores"] != tc.stores || locs != tc.locs {
					t.Errorf("GET %s: stores %v, locations\n%s\nwant %v\n%s", path, got["stores"], locs, tc.stores, tc.locs)
				}
			}
		})
	}
}
