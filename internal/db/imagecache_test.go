package db

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"glint/internal/image"
)

// The SQLite image cache never serves an image older than the last
// commit, whoever made it: this process, or another one on the same file
// (here a second DB, as the scrubber or a second server would be).
func TestImageCacheCoherence(t *testing.T) {
	ctx := context.Background()
	url := "sqlite:///" + filepath.Join(t.TempDir(), "glint.db")
	d := openSQLite(t, url)
	now := time.Now().UTC().Truncate(time.Second)
	name := "first"
	img := &image.Image{ID: "00000000-0000-4000-8000-000000000001", Name: &name, Status: image.Queued,
		Visibility: image.Shared, CreatedAt: now, UpdatedAt: now, Properties: map[string]string{"a": "1"}, Tags: []string{"t1"}}
	if err := d.Images().Create(ctx, img); err != nil {
		t.Fatal(err)
	}
	get := func(t *testing.T, d *DB) *image.Image {
		t.Helper()
		got, err := d.Images().Get(ctx, img.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	list := func(t *testing.T, d *DB) *image.Image {
		t.Helper()
		imgs, err := d.Images().List(ctx, image.ListQuery{Limit: 20}, image.Viewer{Admin: true})
		if err != nil || len(imgs) != 1 {
			t.Fatalf("list: %v, %d images", err, len(imgs))
		}
		return imgs[0]
	}
	rename := func(t *testing.T, d *DB, to string, tag string) {
		t.Helper()
		_, err := d.Images().Modify(ctx, img.ID, func(old *image.Image) (*image.Image, error) {
			n := old.Clone()
			n.Name = &to
			n.Tags = append(n.Tags, tag)
			n.Properties["b"] = to
			return n, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	check := func(t *testing.T, got *image.Image, name string, tags ...string) {
		t.Helper()
		if *got.Name != name || strings.Join(got.Tags, ",") != strings.Join(tags, ",") {
			t.Errorf("got %q with tags %v, want %q with %v", *got.Name, got.Tags, name, tags)
		}
	}

	check(t, get(t, d), "first", "t1")
	if d.images.get(img.ID, d.images.gen) == nil {
		t.Fatal("a GET did not fill the cache")
	}
	check(t, get(t, d), "first", "t1")
	check(t, list(t, d), "first", "t1")

	// A write through this process.
	rename(t, d, "second", "t2")
	check(t, get(t, d), "second", "t1", "t2")
	check(t, list(t, d), "second", "t1", "t2")

	// A write through another connection pool on the same file.
	other := openSQLite(t, url)
	list(t, d) // fills the cache from the list
	rename(t, other, "third", "t3")
	check(t, list(t, d), "third", "t1", "t2", "t3")
	rename(t, other, "fourth", "t4")
	got := get(t, d)
	check(t, got, "fourth", "t1", "t2", "t3", "t4")
	if got.Properties["b"] != "fourth" {
		t.Errorf("properties %v", got.Properties)
	}

	// Callers get copies: changing one changes nothing cached.
	got.Properties["b"] = "changed"
	got.Tags[0] = "changed"
	again := get(t, d)
	check(t, again, "fourth", "t1", "t2", "t3", "t4")
	if again.Properties["b"] != "fourth" {
		t.Errorf("a caller's change reached the cache: %v", again.Properties)
	}

	// A deleted image is not served from the cache.
	if _, err := d.Images().Delete(ctx, img.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Images().Get(ctx, img.ID); err == nil {
		t.Error("GET of a deleted image answered from the cache")
	}
}

// Pages of more than a quarter of the cache are not kept; smaller ones are.
func TestImageCacheSkipsLargePages(t *testing.T) {
	ctx := context.Background()
	d := openSQLite(t)
	if err := d.BulkInsertForBench(ctx, maxCachedImages/4+1); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		limit, cached int
	}{{maxCachedImages/4 + 1, 0}, {20, 20}} {
		imgs, err := d.Images().List(ctx, image.ListQuery{Limit: c.limit}, image.Viewer{Admin: true})
		if err != nil || len(imgs) != c.limit {
			t.Fatalf("list of %d: %v, %d images", c.limit, err, len(imgs))
		}
		if n := len(d.images.entries); n != c.cached {
			t.Errorf("after a page of %d the cache holds %d images, want %d", c.limit, n, c.cached)
		}
	}
}

// Listings that may answer differently never share a cached page.
func TestPageKeysDiffer(t *testing.T) {
	tag := func(tags ...string) image.ListQuery { return image.ListQuery{Limit: 20, Tags: tags} }
	prop := func(name, value string) image.ListQuery {
		return image.ListQuery{Limit: 20, Filters: []image.Filter{{Field: name, Property: true, Op: image.OpEq, Values: []string{value}}}}
	}
	admin, p1, p2 := image.Viewer{Admin: true}, image.Viewer{Project: "p1"}, image.Viewer{Project: "p2"}
	for _, c := range []struct {
		name   string
		q1, q2 image.ListQuery
		v1, v2 image.Viewer
	}{
		{"one tag with a space, two tags", tag("a b"), tag("a", "b"), admin, admin},
		{"tag order is the same listing but not the same key", tag("a", "b"), tag("b", "a"), admin, admin},
		{"property name and value split differently", prop("a=b", "c"), prop("a", "b=c"), admin, admin},
		{"projects", tag(), tag(), p1, p2},
		{"admin and project", tag(), tag(), admin, p1},
		{"limit", image.ListQuery{Limit: 20}, image.ListQuery{Limit: 21}, admin, admin},
		{"marker", image.ListQuery{Limit: 20, Marker: "x"}, image.ListQuery{Limit: 20}, admin, admin},
		{"member status", image.ListQuery{Limit: 20, MemberStatus: "all"}, image.ListQuery{Limit: 20}, p1, p1},
		{"hidden", image.ListQuery{Limit: 20, OSHidden: true}, image.ListQuery{Limit: 20}, admin, admin},
		{"sort", image.ListQuery{Limit: 20, Sort: []image.SortKey{{Key: "name"}}}, image.ListQuery{Limit: 20, Sort: []image.SortKey{{Key: "name", Desc: true}}}, admin, admin},
	} {
		if pageKey(c.q1, c.v1) == pageKey(c.q2, c.v2) {
			t.Errorf("%s: same key %s", c.name, pageKey(c.q1, c.v1))
		}
	}
	if pageKey(tag("a"), p1) != pageKey(image.ListQuery{Limit: 20, Tags: []string{"a"}}, image.Viewer{Project: "p1"}) {
		t.Error("the same listing has two keys")
	}
}

// A listing asked again with nothing committed since is answered from the
// cache without a query; a commit in between is seen.
func TestImageCachePages(t *testing.T) {
	ctx := context.Background()
	d := openSQLite(t)
	if err := d.BulkInsertForBench(ctx, 50); err != nil {
		t.Fatal(err)
	}
	list := func() []*image.Image {
		t.Helper()
		imgs, err := d.Images().List(ctx, image.ListQuery{Limit: 20}, image.Viewer{Admin: true})
		if err != nil || len(imgs) != 20 {
			t.Fatalf("list: %v, %d images", err, len(imgs))
		}
		return imgs
	}
	first := list()
	if len(d.images.pages) != 1 {
		t.Fatalf("%d pages cached after a listing", len(d.images.pages))
	}
	again := list()
	if again[0].ID != first[0].ID || again[0] == first[0] {
		t.Error("the cached page is not the same listing, or not a copy")
	}
	if _, err := d.Images().Delete(ctx, first[0].ID); err != nil {
		t.Fatal(err)
	}
	if after := list(); after[0].ID == first[0].ID {
		t.Error("a deleted image is still listed")
	}
}

// On Linux the check reads the wal-index header and asks SQLite only when
// it changed: no commit, no query; a commit by this process or another
// one on the file, a new generation.
func TestImageCacheFastCheck(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the wal-index is mapped on Linux only")
	}
	ctx := context.Background()
	url := "sqlite:///" + filepath.Join(t.TempDir(), "glint.db")
	d := openSQLite(t, url)
	other := openSQLite(t, url)
	c := d.images
	gen := func() uint64 {
		t.Helper()
		g, ok := c.generation(ctx)
		if !ok {
			t.Fatal("no generation")
		}
		return g
	}
	gen()
	gen() // the first check maps the wal-index, the second records its header
	if c.fast.Load() == nil {
		t.Fatal("the wal-index is not used")
	}
	for _, w := range []struct {
		name string
		db   *DB
	}{{"this process", d}, {"another connection pool", other}} {
		c.mu.Lock()
		checked := c.checked
		c.mu.Unlock()
		g := gen()
		for range 10 {
			if gen() != g {
				t.Fatal("the generation moved without a commit")
			}
		}
		c.mu.Lock()
		asked := c.checked != checked
		c.mu.Unlock()
		if asked {
			t.Errorf("before a commit through %s: SQLite was asked", w.name)
		}
		if err := w.db.Images().Create(ctx, groupImage(len(w.name))); err != nil {
			t.Fatal(err)
		}
		if gen() == g {
			t.Errorf("a commit through %s was not seen", w.name)
		}
	}
}
