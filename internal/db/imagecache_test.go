package db

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	if d.images.get(img.ID) == nil {
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
// it cannot: no commit, no new generation; a commit by this process, a
// new generation that keeps the images it did not change; one by another
// connection pool on the file, a new generation and nothing kept.
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
	kept := groupImage(100)
	if err := d.Images().Create(ctx, kept); err != nil {
		t.Fatal(err)
	}
	gen()
	gen() // the first check maps the wal-index, the second agrees with it
	if c.agreed.Load() == nil {
		t.Fatal("the wal-index is not used")
	}
	for i, w := range []struct {
		name    string
		db      *DB
		foreign bool
	}{{"this process", d, false}, {"another connection pool", other, true}} {
		if _, err := d.Images().Get(ctx, kept.ID); err != nil {
			t.Fatal(err)
		}
		g := gen()
		for range 10 {
			if gen() != g {
				t.Fatal("the generation moved without a commit")
			}
		}
		if err := w.db.Images().Create(ctx, groupImage(i)); err != nil {
			t.Fatal(err)
		}
		if gen() == g {
			t.Errorf("a commit through %s was not seen", w.name)
		}
		if held := c.get(kept.ID) != nil; held == w.foreign {
			t.Errorf("after a commit through %s the unchanged image is cached: %v", w.name, held)
		}
	}
}

// Only the images a commit of this process changed are dropped, and
// neither a Get nor a listing serves their old version; a commit by
// another connection pool or another process drops every image.
func TestImageCachePerImage(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the wal-index is mapped on Linux only")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "glint.db")
	url := "sqlite:///" + path
	d := openSQLite(t, url)
	imgs := d.Images()
	var all []*image.Image
	for i := range 5 {
		img := groupImage(i)
		if err := imgs.Create(ctx, img); err != nil {
			t.Fatal(err)
		}
		all = append(all, img)
	}
	list := func() map[string]*image.Image {
		t.Helper()
		got, err := imgs.List(ctx, image.ListQuery{Limit: 20}, image.Viewer{Admin: true})
		if err != nil || len(got) != len(all) {
			t.Fatalf("list: %v, %d images", err, len(got))
		}
		m := map[string]*image.Image{}
		for _, img := range got {
			m[img.ID] = img
		}
		return m
	}
	list()
	list() // the wal-index is in use from the second check on
	list()
	cached := func(id string) *image.Image {
		d.images.emu.RLock()
		defer d.images.emu.RUnlock()
		return d.images.entries[id]
	}
	before := map[string]*image.Image{}
	for _, img := range all {
		if before[img.ID] = cached(img.ID); before[img.ID] == nil {
			t.Fatalf("image %s not cached after a listing", img.ID)
		}
	}
	setName := func(db *DB, id, name string) {
		t.Helper()
		_, err := db.Images().Modify(ctx, id, func(old *image.Image) (*image.Image, error) {
			n := old.Clone()
			n.Name = &name
			n.Properties["n"] = name
			return n, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	// This process changes image 0, adds a tag to 1, a member to 2.
	setName(d, all[0].ID, "renamed")
	if _, err := imgs.Modify(ctx, all[1].ID, func(old *image.Image) (*image.Image, error) {
		n := old.Clone()
		n.Tags = append(n.Tags, "new")
		return n, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := imgs.AddMember(ctx, &image.Member{ImageID: all[2].ID, MemberID: "p", Status: "pending", CreatedAt: time.Now(), UpdatedAt: time.Now()}, -1); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.images.generation(ctx); !ok {
		t.Fatal("no generation")
	}
	for i, img := range all {
		got := cached(img.ID)
		if changed := i < 3; changed != (got == nil) {
			t.Errorf("image %d: changed %v, still cached %v", i, changed, got != nil)
		}
		if i >= 3 && got != before[img.ID] {
			t.Errorf("image %d: unchanged but read again", i)
		}
	}
	if got, err := imgs.Get(ctx, all[0].ID); err != nil || *got.Name != "renamed" {
		t.Errorf("Get after a rename: %v, %v", got, err)
	}
	m := list()
	if *m[all[0].ID].Name != "renamed" || strings.Join(m[all[1].ID].Tags, ",") != "new,t" {
		t.Errorf("listing after the changes: %q, tags %v", *m[all[0].ID].Name, m[all[1].ID].Tags)
	}
	if cached(all[4].ID) != before[all[4].ID] {
		t.Error("an unchanged image was read again by the listing")
	}

	// Another connection pool on the file.
	other := openSQLite(t, url)
	setName(other, all[3].ID, "by another pool")
	if got, err := imgs.Get(ctx, all[3].ID); err != nil || *got.Name != "by another pool" {
		t.Errorf("Get after another pool's rename: %v, %v", got, err)
	}
	if cached(all[4].ID) != nil {
		t.Error("another pool's commit kept the unchanged images")
	}

	// Another process.
	list()
	list()
	cmd := exec.Command(os.Args[0], "-test.run=^TestImageCacheHelperProcess$")
	cmd.Env = append(os.Environ(), "GLINT_CACHE_HELPER_DB="+url, "GLINT_CACHE_HELPER_IMAGE="+all[4].ID)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the other process: %v\n%s", err, out)
	}
	if got, err := imgs.Get(ctx, all[4].ID); err != nil || *got.Name != "by another process" {
		t.Errorf("Get after another process's rename: %v, %v", got, err)
	}
	if m := list(); *m[all[4].ID].Name != "by another process" || m[all[4].ID].Properties["n"] != "by another process" {
		t.Errorf("listing after another process's rename: %q %v", *m[all[4].ID].Name, m[all[4].ID].Properties)
	}
}

// TestImageCacheHelperProcess is TestImageCachePerImage's other process:
// it renames an image in the database it is given, and is skipped
// otherwise.
func TestImageCacheHelperProcess(t *testing.T) {
	url, id := os.Getenv("GLINT_CACHE_HELPER_DB"), os.Getenv("GLINT_CACHE_HELPER_IMAGE")
	if url == "" {
		t.Skip("run by TestImageCachePerImage")
	}
	ctx := context.Background()
	d, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	name := "by another process"
	if _, err := d.Images().Modify(ctx, id, func(old *image.Image) (*image.Image, error) {
		n := old.Clone()
		n.Name = &name
		n.Properties["n"] = name
		return n, nil
	}); err != nil {
		t.Fatal(err)
	}
}

// Under concurrent writes by this process and by another connection pool,
// no Get or listing returns an image older than the last change committed
// before it began.
func TestImageCacheNeverStale(t *testing.T) {
	ctx := context.Background()
	url := "sqlite:///" + filepath.Join(t.TempDir(), "glint.db")
	d := openSQLite(t, url)
	other := openSQLite(t, url)
	const n = 4
	const versions = 40
	var latest [n]atomic.Int64
	for i := range n {
		if err := d.Images().Create(ctx, groupImage(i)); err != nil {
			t.Fatal(err)
		}
	}
	version := func(img *image.Image) int64 {
		v, _ := strconv.ParseInt(img.Properties["v"], 10, 64)
		return v
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	errc := make(chan error, 1)
	fail := func(err error) {
		select {
		case errc <- err:
		default:
		}
	}
	// Writers: image i is written by this process when i is even and by
	// the other pool when odd; each write sets v to one more.
	for i := range n {
		db := d
		if i%2 == 1 {
			db = other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := int64(1); v <= versions; v++ {
				_, err := db.Images().Modify(ctx, groupImage(i).ID, func(old *image.Image) (*image.Image, error) {
					n := old.Clone()
					n.Properties["v"] = strconv.FormatInt(v, 10)
					return n, nil
				})
				if err != nil {
					fail(err)
					latest[i].Store(versions)
					return
				}
				latest[i].Store(v)
			}
		}()
	}
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				i := r % n
				want := latest[i].Load()
				got, err := d.Images().Get(ctx, groupImage(i).ID)
				if err != nil {
					fail(err)
					return
				}
				if v := version(got); v < want {
					fail(fmt.Errorf("Get of image %d: version %d after %d was committed", i, v, want))
				}
				var wants [n]int64
				for j := range n {
					wants[j] = latest[j].Load()
				}
				imgs, err := d.Images().List(ctx, image.ListQuery{Limit: 20}, image.Viewer{Admin: true})
				if err != nil {
					fail(err)
					return
				}
				for _, img := range imgs {
					var j int
					fmt.Sscanf(img.ID[len(img.ID)-12:], "%d", &j)
					if v := version(img); v < wants[j] {
						fail(fmt.Errorf("listing: image %d at version %d after %d was committed", j, v, wants[j]))
					}
				}
				r++
			}
		}()
	}
	go func() {
		// The writers end first; then the readers.
		for i := range n {
			for latest[i].Load() < versions {
				time.Sleep(5 * time.Millisecond)
				select {
				case err := <-errc:
					errc <- err
					close(done)
					return
				default:
				}
			}
		}
		close(done)
	}()
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
}
