package imagecache

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"glint/internal/errs"
	"glint/internal/image"
)

// memIndex is an in-memory Index for the package's own tests; the SQL
// ones are tested through the API on every database.
type memIndex struct {
	mu   sync.Mutex
	recs map[string]Record
}

func newMemIndex() *memIndex { return &memIndex{recs: map[string]Record{}} }

func (m *memIndex) List(context.Context) ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Record
	for _, r := range m.recs {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ImageID < out[j].ImageID })
	return out, nil
}
func (m *memIndex) Get(_ context.Context, id string) (Record, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[id]
	return r, ok, nil
}
func (m *memIndex) Put(_ context.Context, r Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs[r.ImageID] = r
	return nil
}
func (m *memIndex) Touch(_ context.Context, id string, n int64, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.recs[id]; ok {
		r.Hits += n
		r.LastAccessed = at
		m.recs[id] = r
	}
	return nil
}
func (m *memIndex) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.recs, id)
	return nil
}
func (m *memIndex) Nodes(context.Context, string) ([]string, error) {
	return nil, errs.E(errs.Op("mem"), errs.Conflict, "no")
}

// fakeImages holds images and their data; opens counts store reads.
type fakeImages struct {
	imgs  map[string]*image.Image
	data  map[string][]byte
	opens atomic.Int64
}

func (f *fakeImages) Fetch(_ context.Context, id string) (*image.Image, error) {
	img, ok := f.imgs[id]
	if !ok {
		return nil, errs.E(errs.Op("fake"), errs.NotFound, "no image")
	}
	return img, nil
}
func (f *fakeImages) Authorize(context.Context, string, *image.Image) error         { return nil }
func (f *fakeImages) AuthorizeAction(context.Context, string, map[string]any) error { return nil }
func (f *fakeImages) OpenStore(_ context.Context, img *image.Image, off int64) (io.ReadCloser, error) {
	f.opens.Add(1)
	return io.NopCloser(bytes.NewReader(f.data[img.ID][off:])), nil
}
func (f *fakeImages) open(ctx context.Context, img *image.Image) func(context.Context, int64) (io.ReadCloser, error) {
	return func(ctx context.Context, off int64) (io.ReadCloser, error) { return f.OpenStore(ctx, img, off) }
}

func (f *fakeImages) add(id string, data []byte) *image.Image {
	sum := md5.Sum(data)
	cs := hex.EncodeToString(sum[:])
	n := int64(len(data))
	img := &image.Image{ID: id, Status: image.Active, Size: &n, Checksum: &cs}
	f.imgs[id], f.data[id] = img, data
	return img
}

func newTestCache(t *testing.T, opts Options) (*Cache, *fakeImages, *memIndex) {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	opts.Serve = true
	imgs := &fakeImages{imgs: map[string]*image.Image{}, data: map[string][]byte{}}
	idx := newMemIndex()
	c, err := New(opts, idx, imgs, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, imgs, idx
}

const (
	idA = "11111111-1111-4111-8111-111111111111"
	idB = "22222222-2222-4222-8222-222222222222"
	idC = "33333333-3333-4333-8333-333333333333"
)

func read(t *testing.T, c *Cache, imgs *fakeImages, img *image.Image, off int64) []byte {
	t.Helper()
	rc, err := c.Open(context.Background(), img, off, imgs.open(context.Background(), img))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	return b
}

func TestMissThenHit(t *testing.T) {
	c, imgs, idx := newTestCache(t, Options{})
	data := bytes.Repeat([]byte("0123456789abcdef"), 100000)
	img := imgs.add(idA, data)
	if b := read(t, c, imgs, img, 0); !bytes.Equal(b, data) {
		t.Fatal("miss: wrong data")
	}
	c.Wait()
	if b := read(t, c, imgs, img, 0); !bytes.Equal(b, data) {
		t.Fatal("hit: wrong data")
	}
	if b := read(t, c, imgs, img, 10); !bytes.Equal(b, data[10:]) {
		t.Fatal("hit from an offset: wrong data")
	}
	if n := imgs.opens.Load(); n != 1 {
		t.Errorf("store read %d times, want 1", n)
	}
	s := c.Stats()
	if s.Hits != 2 || s.Misses != 1 || s.Written != 1 {
		t.Errorf("stats %+v", s)
	}
	// A hit is an *os.File, for sendfile.
	rc, _ := c.Open(context.Background(), img, 0, imgs.open(context.Background(), img))
	if _, ok := rc.(*os.File); !ok {
		t.Errorf("a hit is a %T, not an *os.File", rc)
	}
	rc.Close()
	recs, _ := c.Cached(context.Background())
	if len(recs) != 1 || recs[0].Hits != 3 || recs[0].Checksum != *img.Checksum || recs[0].Size != int64(len(data)) {
		t.Errorf("records %+v", recs)
	}
	_ = idx
}

func TestWrongChecksumNeverCached(t *testing.T) {
	c, imgs, _ := newTestCache(t, Options{})
	img := imgs.add(idA, []byte("the image data"))
	bad := "00000000000000000000000000000000"
	img.Checksum = &bad
	read(t, c, imgs, img, 0)
	c.Wait()
	if c.IsCached(idA) || c.Stats().Abandoned != 1 {
		t.Fatalf("data with the wrong checksum cached: %+v", c.Stats())
	}
	if _, err := os.Stat(c.invalid(idA)); err != nil {
		t.Errorf("the bad file is not in invalid/: %v", err)
	}
	if n, _ := c.Clean(context.Background()); n != 1 {
		t.Errorf("clean removed %d, want the invalid file", n)
	}
}

func TestChangedRecordDropped(t *testing.T) {
	c, imgs, idx := newTestCache(t, Options{})
	data := []byte("the image data")
	img := imgs.add(idA, data)
	read(t, c, imgs, img, 0)
	c.Wait()
	r, _, _ := idx.Get(context.Background(), idA)
	r.Checksum = "ffffffffffffffffffffffffffffffff"
	idx.Put(context.Background(), r)
	if b := read(t, c, imgs, img, 0); !bytes.Equal(b, data) {
		t.Fatal("wrong data")
	}
	if s := c.Stats(); s.Dropped != 1 || s.Hits != 0 {
		t.Errorf("a file whose record disagrees with the image was served: %+v", s)
	}
}

func TestModifiedFileDropped(t *testing.T) {
	c, imgs, _ := newTestCache(t, Options{})
	data := []byte("the image data")
	img := imgs.add(idA, data)
	read(t, c, imgs, img, 0)
	c.Wait()
	// Same size, other bytes, written after the file was cached.
	if err := os.WriteFile(c.path(idA), []byte("THE IMAGE DATA"), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	os.Chtimes(c.path(idA), later, later)
	if b := read(t, c, imgs, img, 0); !bytes.Equal(b, data) {
		t.Fatalf("served %q", b)
	}
	if s := c.Stats(); s.Dropped != 1 {
		t.Errorf("a file modified after caching was not dropped: %+v", s)
	}
}

func TestDeactivatedNotServed(t *testing.T) {
	c, imgs, _ := newTestCache(t, Options{})
	img := imgs.add(idA, []byte("the image data"))
	read(t, c, imgs, img, 0)
	c.Wait()
	img.Status = image.Deactivated
	read(t, c, imgs, img, 0)
	if s := c.Stats(); s.Hits != 0 {
		t.Errorf("a deactivated image came from the cache: %+v", s)
	}
}

// TestDiskBehindAbandons: a queue bound the first chunk exceeds stands
// for a cache disk that fell behind: the client gets every byte, the
// cache file is given up.
func TestDiskBehindAbandons(t *testing.T) {
	c, imgs, _ := newTestCache(t, Options{BufferBytes: 1})
	data := bytes.Repeat([]byte("x"), 1<<20)
	img := imgs.add(idA, data)
	if b := read(t, c, imgs, img, 0); !bytes.Equal(b, data) {
		t.Fatal("the client did not get its data")
	}
	c.Wait()
	if c.IsCached(idA) || c.Stats().Abandoned != 1 {
		t.Errorf("cached past the bound: %+v", c.Stats())
	}
	ents, _ := os.ReadDir(filepath.Join(c.opts.Dir, "incomplete"))
	if len(ents) != 0 {
		t.Errorf("incomplete files left: %v", ents)
	}
	// Queued instead: the next prefetch pass caches it from the store.
	if q, _ := c.Queued(); !slices.Equal(q, []string{idA}) {
		t.Fatalf("queued after the disk fell behind: %v", q)
	}
	if n, err := c.Prefetch(context.Background()); n != 1 || err != nil || !c.IsCached(idA) {
		t.Errorf("prefetch after the disk fell behind: %d %v", n, err)
	}
}

func TestPartialReadLeavesNothing(t *testing.T) {
	c, imgs, _ := newTestCache(t, Options{})
	img := imgs.add(idA, bytes.Repeat([]byte("y"), 1<<20))
	rc, _ := c.Open(context.Background(), img, 0, imgs.open(context.Background(), img))
	io.ReadFull(rc, make([]byte, 1000))
	rc.Close()
	c.Wait()
	if c.IsCached(idA) {
		t.Error("a partial read was cached")
	}
	ents, _ := os.ReadDir(filepath.Join(c.opts.Dir, "incomplete"))
	if len(ents) != 0 {
		t.Errorf("incomplete files left: %v", ents)
	}
}

func TestPruneLRU(t *testing.T) {
	c, imgs, idx := newTestCache(t, Options{MaxSize: 25})
	base := time.Now()
	for i, id := range []string{idA, idB, idC} {
		img := imgs.add(id, bytes.Repeat([]byte{byte('a' + i)}, 10))
		c.Queue(id)
		_ = img
	}
	if n, err := c.Prefetch(context.Background()); n != 3 || err != nil {
		t.Fatalf("prefetch: %d %v", n, err)
	}
	// B is the least recently used, then A.
	idx.Touch(context.Background(), idB, 0, base.Add(-2*time.Hour))
	idx.Touch(context.Background(), idA, 0, base.Add(-time.Hour))
	idx.Touch(context.Background(), idC, 0, base)
	files, n, err := c.Prune(context.Background())
	if err != nil || files != 1 || n != 10 {
		t.Fatalf("prune: %d files %d bytes %v", files, n, err)
	}
	if c.IsCached(idB) || !c.IsCached(idA) || !c.IsCached(idC) {
		t.Error("prune removed the wrong file")
	}
	// An image larger than the whole cache is never cached.
	big := imgs.add("44444444-4444-4444-8444-444444444444", bytes.Repeat([]byte("z"), 30))
	read(t, c, imgs, big, 0)
	c.Wait()
	if c.IsCached(big.ID) {
		t.Error("an image larger than image_cache_max_size was cached")
	}
}

func TestPrefetchQueue(t *testing.T) {
	c, imgs, _ := newTestCache(t, Options{})
	imgs.add(idA, []byte("aaa"))
	q := imgs.add(idB, nil)
	q.Status = image.Queued
	for _, id := range []string{idA, idB, idC} { // C does not exist
		if err := c.Queue(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Queue("../etc/passwd"); err == nil {
		t.Error("a path was queued")
	}
	if got, _ := c.Queued(); !slices.Equal(got, []string{idA, idB, idC}) && len(got) != 3 {
		t.Fatalf("queued %v", got)
	}
	n, err := c.Prefetch(context.Background())
	if n != 1 || err != nil {
		t.Fatalf("prefetch: %d %v", n, err)
	}
	if got, _ := c.Queued(); len(got) != 0 {
		t.Errorf("still queued: %v", got)
	}
	if !c.IsCached(idA) || c.IsCached(idB) {
		t.Error("prefetch cached the wrong images")
	}
}

func TestCleanStalled(t *testing.T) {
	c, imgs, _ := newTestCache(t, Options{StallTime: time.Hour})
	imgs.add(idA, []byte("aaa"))
	old := c.incomplete(idB)
	os.WriteFile(old, []byte("half"), 0o600)
	os.Chtimes(old, time.Now().Add(-2*time.Hour), time.Now().Add(-2*time.Hour))
	fresh := c.incomplete(idC)
	os.WriteFile(fresh, []byte("half"), 0o600)
	// A file in place without a record (a crash between the two).
	os.WriteFile(c.path(idA), []byte("aaa"), 0o600)
	n, err := c.Clean(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("clean: %d %v", n, err)
	}
	if _, err := os.Stat(old); err == nil {
		t.Error("stalled file kept")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("a fresh incomplete file was removed")
	}
	if c.IsCached(idA) {
		t.Error("a file without a record kept")
	}
}
