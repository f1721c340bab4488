// Package imagecache is the per-node image cache (Glance's image cache):
// image files kept on this node's disk so that a download of an image
// whose data lives in a remote store reads the store once. A download
// that misses is served from the store and written to the cache at the
// same time; the next one is served from the cache file. Images are
// queued for prefetching through the cache API, and the periodic work
// (prefetch, prune to image_cache_max_size, clean) runs in glint serve or
// from cron (glint cache ...).
//
// On disk, as Glance lays it out: <dir>/<image id> for complete files,
// <dir>/incomplete/ for files being written, <dir>/invalid/ for files whose
// checksum was wrong, <dir>/queue/ for images queued for prefetching. The
// records (size, checksum, hits, last access) are in an Index: a SQLite
// file of the node's own or the main database (centralized_db).
package imagecache

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"glint/internal/auth"
	"glint/internal/errs"
	"glint/internal/image"
)

// Images is what the cache needs of the image service: images (under
// the caller's identity, or the cache's own admin one for background
// work), policy checks, and the image data from its stores, past the
// cache. *image.Service is one.
type Images interface {
	Fetch(ctx context.Context, id string) (*image.Image, error)
	Authorize(ctx context.Context, action string, img *image.Image) error
	AuthorizeAction(ctx context.Context, action string, target map[string]any) error
	OpenStore(ctx context.Context, img *image.Image, offset int64) (io.ReadCloser, error)
}

// Options are the cache's settings.
type Options struct {
	// Dir is image_cache_dir.
	Dir string
	// MaxSize is image_cache_max_size: the pruner removes least recently
	// used files until the cache holds no more; an image larger than it
	// is never cached. 0: no limit.
	MaxSize int64
	// StallTime is image_cache_stall_time: an incomplete file untouched
	// this long is removed by the cleaner.
	StallTime time.Duration
	// Serve makes downloads go through the cache (the caching flavors);
	// without it only the cache API and the prefetcher use it.
	Serve bool
	// BufferBytes bounds what a download that misses holds for the cache
	// file: when the cache's disk falls this far behind the client, the
	// cache file is abandoned, never the client slowed, and the image is
	// queued for the next prefetch pass. 0: 32 MiB.
	BufferBytes int64
}

// Stats count what the cache did since the node started.
type Stats struct {
	Hits      int64 // downloads served from the cache
	Misses    int64 // downloads of an active image served from the store
	Written   int64 // files completed (by downloads and the prefetcher)
	Abandoned int64 // files given up: client gone, disk behind, bad checksum
	Dropped   int64 // cached files found wrong at a download and removed
}

// Cache is one node's image cache.
type Cache struct {
	opts   Options
	index  Index
	images Images
	log    *slog.Logger
	now    func() time.Time

	hits, misses, written, abandoned, dropped atomic.Int64

	mu      sync.Mutex
	filling map[string]bool      // images whose file is being written
	touched map[string]*accesses // hits not yet written to the index

	wg   sync.WaitGroup // files being written in the background
	kick chan struct{}  // prefetch now (PUT /v2/cache/{id})
}

type accesses struct {
	n    int64
	last time.Time
}

// New opens the cache in opts.Dir, creating its directories.
func New(opts Options, index Index, images Images, log *slog.Logger) (*Cache, error) {
	const op errs.Op = "imagecache.New"
	if opts.Dir == "" {
		return nil, errs.E(op, errs.Invalid, "image_cache_dir is not set")
	}
	for _, d := range []string{opts.Dir, filepath.Join(opts.Dir, "incomplete"), filepath.Join(opts.Dir, "invalid"), filepath.Join(opts.Dir, "queue")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, errs.E(op, errs.Unavailable, err)
		}
	}
	if opts.BufferBytes <= 0 {
		opts.BufferBytes = 32 << 20
	}
	if log == nil {
		log = slog.Default()
	}
	return &Cache{opts: opts, index: index, images: images, log: log, now: time.Now,
		filling: map[string]bool{}, touched: map[string]*accesses{}, kick: make(chan struct{}, 1)}, nil
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Written: c.written.Load(),
		Abandoned: c.abandoned.Load(), Dropped: c.dropped.Load()}
}

// Wait waits for the files being written in the background.
func (c *Cache) Wait() { c.wg.Wait() }

// Close waits for the files being written and records the hits not yet
// recorded.
func (c *Cache) Close() error {
	c.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.flush(ctx)
}

func (c *Cache) path(id string) string       { return filepath.Join(c.opts.Dir, id) }
func (c *Cache) incomplete(id string) string { return filepath.Join(c.opts.Dir, "incomplete", id) }
func (c *Cache) invalid(id string) string    { return filepath.Join(c.opts.Dir, "invalid", id) }
func (c *Cache) queued(id string) string     { return filepath.Join(c.opts.Dir, "queue", id) }

// validID keeps image IDs that name files: anything else never reaches
// the file system.
func validID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil && len(id) == 36
}

// Open returns the image's data from offset: from the cache file when the
// cache holds a good copy, otherwise from the store (fromStore), written
// to the cache as it is read when the whole image is asked for. It is
// what image.Service.Open calls when the cache serves downloads.
func (c *Cache) Open(ctx context.Context, img *image.Image, offset int64, fromStore func(context.Context, int64) (io.ReadCloser, error)) (io.ReadCloser, error) {
	// Only an active image is served from or written to the cache: a
	// deactivated one (which an admin may still download) goes to the
	// store, as do images without data or a size.
	if !c.opts.Serve || img.Status != image.Active || img.Size == nil || !validID(img.ID) {
		return fromStore(ctx, offset)
	}
	if f := c.hit(ctx, img); f != nil {
		if offset > 0 {
			if _, err := f.Seek(offset, io.SeekStart); err != nil {
				f.Close()
				return fromStore(ctx, offset)
			}
		}
		c.hits.Add(1)
		c.touch(img.ID)
		return f, nil
	}
	c.misses.Add(1)
	rc, err := fromStore(ctx, offset)
	if err != nil || offset != 0 {
		return rc, err
	}
	return c.tee(img, rc), nil
}

// hit opens the cache file of img if it holds img's data: its size and
// the checksum recorded when it was written match the image's. A file
// that does not is dropped.
func (c *Cache) hit(ctx context.Context, img *image.Image) *os.File {
	f, err := os.Open(c.path(img.ID))
	if err != nil {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil
	}
	rec, ok, err := c.index.Get(ctx, img.ID)
	if err != nil {
		// The records are unreachable: the store still is.
		c.log.WarnContext(ctx, "image cache: index unavailable, serving from the store", "image_id", img.ID, "err", err)
		f.Close()
		return nil
	}
	why := ""
	switch {
	case fi.Size() != *img.Size:
		why = "the file's size is not the image's"
	case !ok:
		why = "the file has no record"
	case rec.Size != *img.Size:
		why = "the recorded size is not the image's"
	case img.Checksum != nil && rec.Checksum != "" && rec.Checksum != *img.Checksum:
		why = "the recorded checksum is not the image's"
	case fi.ModTime().After(rec.LastModified.Add(modSlack)):
		// Written to since its checksum was taken: not what was checked.
		why = "the file was modified after it was cached"
	}
	if why != "" {
		f.Close()
		c.mu.Lock()
		busy := c.filling[img.ID]
		c.mu.Unlock()
		if !busy {
			c.dropped.Add(1)
			c.log.WarnContext(ctx, "image cache: dropping a cached file", "image_id", img.ID, "reason", why)
			c.remove(context.WithoutCancel(ctx), img.ID)
		}
		return nil
	}
	return f
}

// modSlack covers the precision of the recorded times (MySQL keeps
// whole seconds).
const modSlack = 2 * time.Second

// touch counts a hit; flush writes the counts to the index.
func (c *Cache) touch(id string) {
	c.mu.Lock()
	a := c.touched[id]
	if a == nil {
		a = &accesses{}
		c.touched[id] = a
	}
	a.n++
	a.last = c.now()
	c.mu.Unlock()
}

// flush writes the hits counted since the last flush to the index. They
// are kept in memory in between so that a download from the cache does
// not write to the database.
func (c *Cache) flush(ctx context.Context) error {
	c.mu.Lock()
	t := c.touched
	c.touched = map[string]*accesses{}
	c.mu.Unlock()
	var errList []error
	for id, a := range t {
		if err := c.index.Touch(ctx, id, a.n, a.last); err != nil {
			errList = append(errList, err)
		}
	}
	return errors.Join(errList...)
}

// remove deletes id's cache file and record.
func (c *Cache) remove(ctx context.Context, id string) error {
	err := os.Remove(c.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	c.mu.Lock()
	delete(c.touched, id)
	c.mu.Unlock()
	return errors.Join(err, c.index.Delete(ctx, id))
}

// claim marks id as being written; false if it already is.
func (c *Cache) claim(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.filling[id] {
		return false
	}
	c.filling[id] = true
	return true
}

func (c *Cache) release(id string) {
	c.mu.Lock()
	delete(c.filling, id)
	c.mu.Unlock()
}

// fits reports whether an image of size bytes may be cached at all.
func (c *Cache) fits(size int64) bool { return c.opts.MaxSize <= 0 || size <= c.opts.MaxSize }

// commit turns the complete file written at c.incomplete(img.ID) into the
// cache file: recorded first, then renamed into place, so that a file in
// place always has its record. The caller holds the claim.
func (c *Cache) commit(img *image.Image, n int64, sum string) error {
	const op errs.Op = "imagecache.commit"
	tmp := c.incomplete(img.ID)
	if img.Size == nil || n != *img.Size {
		os.Remove(tmp)
		return errs.Errorf(op, errs.Invalid, "wrote %d bytes of an image of %v", n, img.Size)
	}
	if img.Checksum != nil && *img.Checksum != "" && *img.Checksum != sum {
		// Kept for inspection; the cleaner removes it.
		if err := os.Rename(tmp, c.invalid(img.ID)); err != nil {
			os.Remove(tmp)
		}
		return errs.Errorf(op, errs.Invalid, "the data read has MD5 %s, the image's checksum is %s", sum, *img.Checksum)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := c.now().UTC()
	if err := c.index.Put(ctx, Record{ImageID: img.ID, LastAccessed: now, LastModified: now, Size: n, Checksum: sum}); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, c.path(img.ID)); err != nil {
		os.Remove(tmp)
		return errors.Join(errs.E(op, errs.Unavailable, err), c.index.Delete(ctx, img.ID))
	}
	c.written.Add(1)
	return nil
}

// asAdmin is the identity of the cache's background work (the
// prefetcher, the cleaner), as Glance's uses an admin context.
func asAdmin(ctx context.Context) context.Context {
	return auth.With(ctx, &auth.Context{IsAdmin: true, Roles: []string{"admin"}, RequestID: "req-" + uuid.NewString()})
}
