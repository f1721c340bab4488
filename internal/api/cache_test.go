package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"glint/internal/app"
	"glint/internal/app/apptest"
	"glint/internal/auth"
	"glint/internal/config"
)

// cacheEnv is a Glint whose image cache the test also reaches directly.
type cacheEnv struct {
	*env
	g *apptest.Glint
}

func newCacheEnv(t *testing.T, dbURL, flavor string, adjust func(*config.Config)) *cacheEnv {
	t.Helper()
	g := apptest.New(t, func(c *config.Config) {
		c.Stores = []string{"file"}
		c.Flavor = flavor
		if dbURL != "" {
			c.DatabaseConnection = dbURL
		}
		if adjust != nil {
			adjust(c)
		}
	}, app.WithAuthenticator(cacheAuth{}))
	return &cacheEnv{env: &env{t: t, url: g.URL, images: g.Config.FilesystemStoreDatadir, srv: g.Server, svc: g.Service(), db: g.DB()}, g: g}
}

// cacheAuth is roleAuth whose callers without X-Roles are a project's
// admins (noauth's context has no admin role, which the cache policies'
// defaults ask for, in Glance as in Glint).
type cacheAuth struct{ roleAuth }

func (a cacheAuth) Authenticate(ctx context.Context, r *http.Request) (*auth.Context, error) {
	if r.Header.Get("X-Roles") == "" {
		return &auth.Context{Roles: []string{"admin", "member", "reader"}, IsAdmin: true, ProjectID: "adminproject", UserID: "admin"}, nil
	}
	return a.roleAuth.Authenticate(ctx, r)
}

func (e *cacheEnv) upload(data []byte, attrs string) string {
	e.t.Helper()
	id := e.create(attrs)
	if r := e.do("PUT", "/v2/images/"+id+"/file", bytes.NewReader(data), "Content-Type", "application/octet-stream"); r.status != 204 {
		e.t.Fatalf("upload: %d %s", r.status, r.body)
	}
	return id
}

func (e *cacheEnv) state() (cached []map[string]any, queued []string) {
	e.t.Helper()
	r := e.do("GET", "/v2/cache", nil)
	if r.status != 200 {
		e.t.Fatalf("GET /v2/cache: %d %s", r.status, r.body)
	}
	var doc struct {
		Cached []map[string]any `json:"cached_images"`
		Queued []string         `json:"queued_images"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil || doc.Cached == nil || doc.Queued == nil {
		e.t.Fatalf("GET /v2/cache: %s (%v)", r.body, err)
	}
	return doc.Cached, doc.Queued
}

func (e *cacheEnv) cachedIDs() []string {
	e.t.Helper()
	c, _ := e.state()
	var ids []string
	for _, m := range c {
		ids = append(ids, m["image_id"].(string))
	}
	return ids
}

// waitCached waits until GET /v2/cache lists id (the prefetcher runs in
// the background).
func (e *cacheEnv) waitCached(id string) {
	e.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if slices.Contains(e.cachedIDs(), id) {
			return
		}
	}
	e.t.Fatalf("image %s never cached", id)
}

func randomData(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// downloadHeaders are the headers a download from the cache must share
// with one from the store.
var downloadHeaders = []string{"Content-Type", "Content-Length", "Content-Md5", "Content-Range"}

// TestCacheDownloads: with a caching flavor the first download of an
// active image is served from the store and fills the cache; the next are
// served from the cache file with the same headers, ranges included;
// deactivated and changed images are not served from it.
func TestCacheDownloads(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		for _, driver := range []string{"centralized_db", "sqlite"} {
			t.Run(driver, func(t *testing.T) {
				e := newCacheEnv(t, dbURL, "keystone+cachemanagement", func(c *config.Config) { c.ImageCacheDriver = driver })
				cache := e.g.Cache()
				data := randomData(t, 3<<20+17)
				id := e.upload(data, `{"disk_format": "raw", "container_format": "bare"}`)

				first := e.do("GET", "/v2/images/"+id+"/file", nil)
				if first.status != 200 || !bytes.Equal(first.body, data) {
					t.Fatalf("first download: %d, %d bytes", first.status, len(first.body))
				}
				cache.Wait()
				if s := cache.Stats(); s.Misses != 1 || s.Written != 1 || s.Hits != 0 {
					t.Fatalf("after a miss: %+v", s)
				}
				if ids := e.cachedIDs(); !slices.Equal(ids, []string{id}) {
					t.Fatalf("cached: %v, want [%s]", ids, id)
				}
				second := e.do("GET", "/v2/images/"+id+"/file", nil)
				if second.status != 200 || !bytes.Equal(second.body, data) {
					t.Fatalf("second download: %d, %d bytes", second.status, len(second.body))
				}
				if s := cache.Stats(); s.Hits != 1 || s.Misses != 1 {
					t.Fatalf("after a hit: %+v", s)
				}
				for _, h := range downloadHeaders {
					if first.header.Get(h) != second.header.Get(h) {
						t.Errorf("%s: store %q, cache %q", h, first.header.Get(h), second.header.Get(h))
					}
				}
				// Ranges from the cache file.
				rg := e.do("GET", "/v2/images/"+id+"/file", nil, "Range", "bytes=1000-1999")
				if rg.status != 206 || !bytes.Equal(rg.body, data[1000:2000]) || rg.header.Get("Content-Range") != "bytes 1000-1999/"+strconv.Itoa(len(data)) {
					t.Fatalf("range from the cache: %d %q, %d bytes", rg.status, rg.header.Get("Content-Range"), len(rg.body))
				}
				if s := cache.Stats(); s.Hits != 2 {
					t.Fatalf("a range of a cached image was not a hit: %+v", s)
				}
				// The hits are counted in the records.
				c, _ := e.state()
				if c[0]["hits"].(float64) != 2 || c[0]["size"].(float64) != float64(len(data)) {
					t.Errorf("record: %v", c[0])
				}

				// A deactivated image: refused to a member, read from the
				// store for an admin, never from the cache.
				if r := e.do("POST", "/v2/images/"+id+"/actions/deactivate", nil); r.status != 204 {
					t.Fatalf("deactivate: %d %s", r.status, r.body)
				}
				if r := e.do("GET", "/v2/images/"+id+"/file", nil, "X-Roles", "member", "X-Project-Id", "p1"); r.status == 200 {
					t.Fatalf("a member downloaded a deactivated image")
				}
				if r := e.do("GET", "/v2/images/"+id+"/file", nil); r.status != 200 || !bytes.Equal(r.body, data) {
					t.Fatalf("admin download of a deactivated image: %d", r.status)
				}
				if s := cache.Stats(); s.Hits != 2 {
					t.Fatalf("a deactivated image was served from the cache: %+v", s)
				}
				if r := e.do("POST", "/v2/images/"+id+"/actions/reactivate", nil); r.status != 204 {
					t.Fatalf("reactivate: %d %s", r.status, r.body)
				}

				// A cache file of the wrong size is dropped, the download
				// served from the store, and the cache filled again.
				cdir := app.CacheDir(e.g.Config)
				if err := os.Truncate(filepath.Join(cdir, id), 100); err != nil {
					t.Fatal(err)
				}
				if r := e.do("GET", "/v2/images/"+id+"/file", nil); r.status != 200 || !bytes.Equal(r.body, data) {
					t.Fatalf("download over a truncated cache file: %d, %d bytes", r.status, len(r.body))
				}
				cache.Wait()
				if s := cache.Stats(); s.Dropped != 1 || s.Hits != 2 || s.Written != 2 {
					t.Fatalf("after a truncated file: %+v", s)
				}

				// The cache serves without the store: its file is the
				// only copy read.
				ents, _ := os.ReadDir(e.images)
				for _, en := range ents {
					os.Remove(filepath.Join(e.images, en.Name()))
				}
				if r := e.do("GET", "/v2/images/"+id+"/file", nil); r.status != 200 || !bytes.Equal(r.body, data) {
					t.Fatalf("download from the cache alone: %d", r.status)
				}

				// A deleted image is never served, and the cleaner drops
				// its file.
				if r := e.do("DELETE", "/v2/images/"+id, nil); r.status != 204 {
					t.Fatalf("delete: %d", r.status)
				}
				if r := e.do("GET", "/v2/images/"+id+"/file", nil); r.status != 404 {
					t.Fatalf("deleted image download: %d", r.status)
				}
				r := e.do("POST", "/v2/cache/clean", nil)
				if r.status != 200 {
					t.Fatalf("clean: %d %s", r.status, r.body)
				}
				if ids := e.cachedIDs(); len(ids) != 0 {
					t.Errorf("cached after the image was deleted and the cache cleaned: %v", ids)
				}
				if _, err := os.Stat(filepath.Join(cdir, id)); err == nil {
					t.Error("the deleted image's cache file is still there")
				}
			})
		}
	})
}

// TestCacheNoServeWithoutCachingFlavor: image_cache_dir without a
// caching flavor gives the cache API and the prefetcher, and downloads
// keep reading the store.
func TestCacheNoServeWithoutCachingFlavor(t *testing.T) {
	dir := t.TempDir()
	e := newCacheEnv(t, "", "keystone", func(c *config.Config) { c.ImageCacheDir = dir })
	id := e.upload([]byte("0123456789"), `{"disk_format": "raw", "container_format": "bare"}`)
	if r := e.do("GET", "/v2/images/"+id+"/file", nil); r.status != 200 {
		t.Fatal(r.status)
	}
	e.g.Cache().Wait()
	if s := e.g.Cache().Stats(); s.Hits+s.Misses+s.Written != 0 {
		t.Fatalf("a download went through the cache: %+v", s)
	}
	if r := e.do("PUT", "/v2/cache/"+id, nil); r.status != 202 {
		t.Fatalf("queue: %d %s", r.status, r.body)
	}
	e.waitCached(id)
}

// TestCacheAPI: Glance's cache API, its codes and bodies.
func TestCacheAPI(t *testing.T) {
	e := newCacheEnv(t, "", "cachemanagement", func(c *config.Config) { c.ImageCacheDriver = "sqlite" })
	data := []byte("IMAGEDATA")
	pub := e.upload(data, `{"disk_format": "raw", "container_format": "bare", "visibility": "public"}`)
	priv := e.upload(data, `{"disk_format": "raw", "container_format": "bare", "visibility": "private"}`)
	queued := e.create(`{"disk_format": "raw", "container_format": "bare"}`)

	if c, q := e.state(); len(c) != 0 || len(q) != 0 {
		t.Fatalf("fresh cache: %v %v", c, q)
	}
	// Versions: Glance with a cache advertises 2.16 as current.
	r := e.do("GET", "/versions", nil)
	var vs struct{ Versions []struct{ ID, Status string } }
	json.Unmarshal(r.body, &vs)
	if len(vs.Versions) == 0 || vs.Versions[0].ID != "v2.16" || vs.Versions[0].Status != "CURRENT" || vs.Versions[2].ID != "v2.14" {
		t.Errorf("versions with a cache: %s", r.body)
	}
	if r := e.do("GET", "/v2.16/cache", nil); r.status != 200 {
		t.Errorf("GET /v2.16/cache: %d", r.status)
	}

	for _, c := range []struct {
		name, method, path string
		hdr                []string
		want               int
	}{
		{"queue a missing image", "PUT", "/v2/cache/" + "9f2c4ad3-8a0e-4a4b-9d0c-000000000000", nil, 404},
		{"queue a queued (no data) image", "PUT", "/v2/cache/" + queued, nil, 400},
		{"queue a bad id", "PUT", "/v2/cache/not-an-id", nil, 404},
		{"delete a missing entry", "DELETE", "/v2/cache/9f2c4ad3-8a0e-4a4b-9d0c-000000000000", nil, 404},
		{"clear with a bad target", "DELETE", "/v2/cache", []string{"X-Image-Cache-Clear-Target", "both"}, 400},
		{"a member lists", "GET", "/v2/cache", []string{"X-Roles", "member", "X-Project-Id", "p1"}, 403},
		{"a member queues a public image", "PUT", "/v2/cache/" + pub, []string{"X-Roles", "member", "X-Project-Id", "p1"}, 403},
		{"a member queues another's private image", "PUT", "/v2/cache/" + priv, []string{"X-Roles", "member", "X-Project-Id", "p1"}, 404},
		{"a member clears", "DELETE", "/v2/cache", []string{"X-Roles", "member", "X-Project-Id", "p1"}, 403},
		{"a member prunes", "POST", "/v2/cache/prune", []string{"X-Roles", "member", "X-Project-Id", "p1"}, 403},
		{"nodes with the sqlite driver", "GET", "/v2/cache/nodes/" + pub, nil, 409},
		{"POST on /v2/cache", "POST", "/v2/cache", nil, 405},
	} {
		if r := e.do(c.method, c.path, nil, c.hdr...); r.status != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.want)
		}
	}

	// Queue: 202, then the prefetcher caches it.
	for _, id := range []string{pub, priv} {
		if r := e.do("PUT", "/v2/cache/"+id, nil); r.status != 202 || len(r.body) != 0 {
			t.Fatalf("queue: %d %s", r.status, r.body)
		}
		e.waitCached(id)
	}
	c, _ := e.state()
	for _, k := range []string{"image_id", "hits", "last_accessed", "last_modified", "size"} {
		if _, ok := c[0][k]; !ok || len(c[0]) != 5 {
			t.Errorf("cached image record %v: want exactly image_id, hits, last_accessed, last_modified, size", c[0])
		}
	}
	if r := e.do("DELETE", "/v2/cache/"+pub, nil); r.status != 204 {
		t.Fatalf("delete entry: %d %s", r.status, r.body)
	}
	if ids := e.cachedIDs(); !slices.Equal(ids, []string{priv}) {
		t.Fatalf("after delete: %v", ids)
	}
	// Queue without the prefetcher running (the legacy route queues
	// without a lookup), then clear the queue only.
	if err := e.g.Cache().Queue(pub); err != nil {
		t.Fatal(err)
	}
	if r := e.do("DELETE", "/v2/cache", nil, "X-Image-Cache-Clear-Target", "queue"); r.status != 204 {
		t.Fatalf("clear queue: %d %s", r.status, r.body)
	}
	if _, q := e.state(); len(q) != 0 {
		t.Fatalf("queue after clearing it: %v", q)
	}
	if r := e.do("DELETE", "/v2/cache", nil, "X-Image-Cache-Clear-Target", "cache"); r.status != 204 || len(e.cachedIDs()) != 0 {
		t.Fatalf("clear cache: %d %s %v", r.status, r.body, e.cachedIDs())
	}
	r = e.do("POST", "/v2/cache/prune", nil)
	if r.status != 200 || r.json(t)["total_files_pruned"] != float64(0) || r.json(t)["total_bytes_pruned"] != float64(0) {
		t.Fatalf("prune: %d %s", r.status, r.body)
	}

	// The legacy routes of glance-cache-manage (cachemanagement flavors).
	if r := e.do("PUT", "/v2/queued_images/"+pub, nil); r.status != 200 || string(r.body) != "null" {
		t.Fatalf("legacy queue: %d %s", r.status, r.body)
	}
	e.waitCached(pub)
	r = e.do("GET", "/v2/cached_images", nil)
	if r.status != 200 || !strings.Contains(string(r.body), pub) {
		t.Fatalf("legacy list: %d %s", r.status, r.body)
	}
	r = e.do("DELETE", "/v2/cached_images", nil)
	if r.status != 200 || r.json(t)["num_deleted"] != float64(1) {
		t.Fatalf("legacy clear: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v2/queued_images", nil, "X-Roles", "member", "X-Project-Id", "p1"); r.status != 403 {
		t.Fatalf("legacy list by a member: %d", r.status)
	}
}

// TestCacheOff: a node without a cache answers the cache API as Glance
// without image_cache_dir does, and advertises no cache versions.
func TestCacheOff(t *testing.T) {
	e := newCacheEnv(t, "", "", nil)
	r := e.do("GET", "/v2/cache", nil)
	if r.status != 404 || !strings.Contains(string(r.body), "Caching via API is not supported at this site.") {
		t.Errorf("GET /v2/cache without a cache: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v2/cache", nil, "X-Roles", "member", "X-Project-Id", "p1"); r.status != 403 {
		t.Errorf("GET /v2/cache by a member without a cache: %d", r.status)
	}
	if r := e.do("GET", "/v2/cached_images", nil); r.status != 404 {
		t.Errorf("legacy route without the cachemanagement flavor: %d", r.status)
	}
	if r := e.do("GET", "/versions", nil); strings.Contains(string(r.body), "v2.16") {
		t.Errorf("versions without a cache: %s", r.body)
	}
}

// TestCacheClientGone: a client that goes away in the middle of a
// download that misses leaves no cache file, complete or not.
func TestCacheClientGone(t *testing.T) {
	e := newCacheEnv(t, "", "caching", nil)
	data := randomData(t, 32<<20)
	id := e.upload(data, `{"disk_format": "raw", "container_format": "bare"}`)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/v2/images/"+id+"/file", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(res.Body, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	cancel()
	res.Body.Close()
	cache := e.g.Cache()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cache.Stats().Abandoned > 0 {
			break
		}
	}
	cache.Wait()
	cdir := app.CacheDir(e.g.Config)
	for _, d := range []string{cdir, filepath.Join(cdir, "incomplete")} {
		ents, _ := os.ReadDir(d)
		for _, en := range ents {
			if en.Type().IsRegular() && en.Name() != "cache.db" {
				t.Errorf("left in %s: %s", d, en.Name())
			}
		}
	}
	if s := cache.Stats(); s.Abandoned != 1 || s.Written != 0 {
		t.Errorf("after a client left: %+v", s)
	}
}
