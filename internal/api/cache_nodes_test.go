package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"sync/atomic"
	"testing"

	"glint/internal/app"
	"glint/internal/app/apptest"
	"glint/internal/config"
	"glint/internal/db"
	"glint/internal/db/dbtest"
	"glint/internal/store"
	"glint/internal/store/s3"
	"glint/internal/store/storetest/testserver"
)

// countingS3 is the S3 driver, counting the reads of image data.
type countingS3 struct {
	*s3.Driver
	gets atomic.Int64
}

func (c *countingS3) Get(ctx context.Context, loc string, off int64) (io.ReadCloser, error) {
	c.gets.Add(1)
	return c.Driver.Get(ctx, loc, off)
}

// TestCacheRemoteStore: with the image in S3 (versitygw) behind the
// cache, the first download reads S3 once and the next ones never.
func TestCacheRemoteStore(t *testing.T) {
	srv := testserver.StartS3(t) // skips under -short
	obj, err := s3.New(s3.Options{Host: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.Secret, Bucket: "glance", CreateBucket: true})
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingS3{Driver: obj}
	g := apptest.New(t, func(c *config.Config) {
		c.Stores, c.DefaultStore = []string{"file", "s3"}, "s3"
		c.S3StoreHost, c.S3StoreAccessKey, c.S3StoreSecretKey, c.S3StoreBucket, c.S3StoreCreateBucket = srv.Endpoint, srv.AccessKey, srv.Secret, "glance", true
		c.Flavor = "keystone+caching"
	}, app.WithAuthenticator(cacheAuth{}), app.WithStore(&store.Store{Name: "s3", Type: "s3", Driver: cs}))
	e := &cacheEnv{env: &env{t: t, url: g.URL, srv: g.Server, svc: g.Service(), db: g.DB()}, g: g}
	data := randomData(t, 5<<20+3)
	id := e.upload(data, `{"disk_format": "raw", "container_format": "bare"}`)
	if loc := e.show(id)["direct_url"]; loc != nil {
		t.Logf("direct_url %v", loc)
	}
	for i := 0; i < 3; i++ {
		r := e.do("GET", "/v2/images/"+id+"/file", nil)
		if r.status != 200 || !bytes.Equal(r.body, data) {
			t.Fatalf("download %d: %d, %d bytes", i, r.status, len(r.body))
		}
		g.Cache().Wait()
	}
	if n := cs.gets.Load(); n != 1 {
		t.Errorf("S3 read %d times for 3 downloads, want 1", n)
	}
	if s := g.Cache().Stats(); s.Hits != 2 || s.Misses != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestCacheNodes: two nodes on one PostgreSQL database, each with its
// own cache (centralized_db): GET /v2/cache/nodes/{id} names the nodes
// that hold an image, and each node lists only its own cache.
func TestCacheNodes(t *testing.T) {
	conn := dbtest.New(t, db.Postgres) // skips under -short
	storeDir := t.TempDir()
	node := func(name string) *cacheEnv {
		g := apptest.New(t, func(c *config.Config) {
			c.DatabaseConnection = conn.URL
			c.Stores = []string{"file"}
			c.FilesystemStoreDatadir = storeDir
			c.Flavor = "keystone+cachemanagement"
			c.WorkerSelfReferenceURL = "http://" + name + ".example:9292"
		}, app.WithAuthenticator(cacheAuth{}))
		return &cacheEnv{env: &env{t: t, url: g.URL, images: storeDir, srv: g.Server, svc: g.Service(), db: g.DB()}, g: g}
	}
	a, b := node("worker-a"), node("worker-b")
	id := a.upload(randomData(t, 1<<20), `{"disk_format": "raw", "container_format": "bare"}`)
	nodes := func(e *cacheEnv) []string {
		t.Helper()
		r := e.do("GET", "/v2/cache/nodes/"+id, nil)
		var out []string
		if r.status != 200 || json.Unmarshal(r.body, &out) != nil {
			t.Fatalf("nodes: %d %s", r.status, r.body)
		}
		return out
	}
	if got := nodes(b); len(got) != 0 {
		t.Fatalf("nodes of an uncached image: %v", got)
	}
	if r := a.do("GET", "/v2/images/"+id+"/file", nil); r.status != 200 {
		t.Fatal(r.status)
	}
	a.g.Cache().Wait()
	if got := nodes(b); !slices.Equal(got, []string{"http://worker-a.example:9292"}) {
		t.Fatalf("nodes after node A cached it, asked of B: %v", got)
	}
	if ids := b.cachedIDs(); len(ids) != 0 {
		t.Fatalf("node B lists A's cache: %v", ids)
	}
	if r := b.do("PUT", "/v2/cache/"+id, nil); r.status != 202 {
		t.Fatal(r.status)
	}
	b.waitCached(id)
	if got := nodes(a); !slices.Equal(got, []string{"http://worker-a.example:9292", "http://worker-b.example:9292"}) {
		t.Fatalf("nodes after both cached it: %v", got)
	}
	if r := a.do("DELETE", "/v2/cache/"+id, nil); r.status != 204 {
		t.Fatal(r.status)
	}
	if got := nodes(b); !slices.Equal(got, []string{"http://worker-b.example:9292"}) {
		t.Fatalf("nodes after A dropped it: %v", got)
	}
	if r := a.do("GET", "/v2/cache/nodes/00000000-0000-4000-8000-000000000000", nil); r.status != 404 {
		t.Errorf("nodes of a missing image: %d", r.status)
	}
}
