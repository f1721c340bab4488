package db

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"

	"glint/internal/image"
)

// imageCache keeps live images SQLite's readers have read, with their
// properties, tags and locations, for as long as nothing is committed to
// the database. On SQLite, reading an image and its child rows costs most
// of a GET's CPU (modernc's SQLite: stepping, column copies, the page
// cache's mutex); images are read far more often than written.
//
// Coherence comes from SQLite itself: one reader connection asks PRAGMA
// data_version, which changes whenever any other connection, in this
// process or another (the scrubber, a second server on the same file),
// has committed; while the wal-index header, which every commit rewrites,
// is unchanged since the last answer, it is not asked again (generation).
// Every use of the cache checks first, so a read
// never sees an image older than the last commit before it started; any
// commit drops every entry. PostgreSQL and MySQL get no cache: their
// servers are shared by several API nodes.
type imageCache struct {
	readers *sql.DB
	shmPath string // the database's wal-index, the -shm file

	// fast lets a check skip SQLite while the wal-index header is what it
	// was right before the last check that asked SQLite.
	fast atomic.Pointer[fastCheck]

	mu       sync.Mutex // serialises generation; guards conn and version
	conn     *sql.Conn  // a reader taken from the pool for good, at first use
	version  *sql.Stmt  // PRAGMA data_version, prepared on conn
	lastDV   int64
	gen      uint64
	checked  time.Time // when the last successful check began
	shm      *walIndex // mapped after the first check; nil if it cannot be
	shmTried bool

	emu     sync.RWMutex
	entries map[string]*image.Image // read at generation egen
	pages   map[string][]string     // a listing's key -> its page's IDs, at egen
	egen    uint64
	max     int
}

// maxCachedImages bounds the cache: about 1 KiB per image with a few
// properties, so a MiB or so: the first pages of the usual listings and
// the images read most. Memory, not speed, sets the size: issue 4 asks
// for an RSS under 64 MiB while listing.
const maxCachedImages = 1024

// maxCachedPages bounds the listings remembered: a page of up to 256 IDs
// each, usually 20 (a few KiB).
const maxCachedPages = 128

// fastCheck is the outcome of a check that asked SQLite: gen, and the
// wal-index header read before asking.
type fastCheck struct {
	shm *walIndex
	hdr walIndexHeader
	gen uint64
}

func newImageCache(readers *sql.DB, shmPath string, max int) *imageCache {
	return &imageCache{readers: readers, shmPath: shmPath, entries: map[string]*image.Image{}, pages: map[string][]string{}, max: max}
}

// connect takes one connection of the readers' pool for good, on the
// first GET or list rather than at start-up (glint db and glint scrub
// never need it): data_version is per connection, so the cache always
// asks the same one. (A pool of its own, with one connection, cost
// 2.5 MiB of RSS more: each SQLite connection holds the parsed schema and
// buffers of its own.) c.mu is held.
func (c *imageCache) connect(ctx context.Context) error {
	conn, err := c.readers.Conn(ctx)
	if err != nil {
		return err
	}
	st, err := conn.PrepareContext(ctx, "PRAGMA data_version")
	if err != nil {
		conn.Close()
		return err
	}
	c.conn, c.version = conn, st
	return nil
}

// generation returns a number that changes whenever the database has
// changed since the previous call; ok is false (do not use the cache)
// when there is no cache or the database cannot be asked.
//
// Every commit rewrites the wal-index header. The header is read before
// SQLite is asked, so while it stays the same nothing has been committed
// since that answer, and the generation it gave still holds; once it
// changes, SQLite is asked again.
func (c *imageCache) generation(ctx context.Context) (gen uint64, ok bool) {
	if c == nil {
		return 0, false
	}
	if f := c.fast.Load(); f != nil {
		if h, ok := f.shm.header(); ok && h == f.hdr {
			return f.gen, true
		}
	}
	arrived := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	// Under load the calls queue here: a check that began after this call
	// arrived has seen every commit this one must see.
	if c.checked.After(arrived) {
		return c.gen, true
	}
	began := time.Now()
	if c.version == nil {
		if err := c.connect(ctx); err != nil {
			return 0, false
		}
	}
	var (
		hdr   walIndexHeader
		hdrOK bool
	)
	if c.shm != nil {
		hdr, hdrOK = c.shm.header()
	}
	var dv int64
	if err := c.version.QueryRowContext(ctx).Scan(&dv); err != nil {
		c.checked = time.Time{}
		return 0, false
	}
	c.checked = began
	if dv != c.lastDV {
		c.lastDV = dv
		c.gen++
	}
	if hdrOK {
		c.fast.Store(&fastCheck{shm: c.shm, hdr: hdr, gen: c.gen})
	} else if !c.shmTried {
		// Mapped once SQLite has read the database in WAL mode (the
		// file then exists, and c.conn keeps SQLite's hold on it, see
		// walIndex); used from the next check on.
		c.shmTried = true
		c.shm = mapWALIndex(c.shmPath)
	}
	return c.gen, true
}

// stillAt reports whether nothing was committed between the check that
// returned gen and now: a snapshot taken in between is then the state the
// images cached at gen were read in.
func (c *imageCache) stillAt(ctx context.Context, gen uint64) bool {
	now, ok := c.generation(ctx)
	return ok && now == gen
}

// get returns a copy of the image with id read at generation gen, or nil.
func (c *imageCache) get(id string, gen uint64) *image.Image {
	c.emu.RLock()
	var img *image.Image
	if c.egen == gen {
		img = c.entries[id]
	}
	c.emu.RUnlock()
	if img == nil {
		return nil
	}
	return img.Clone()
}

// put keeps a copy of img, read in a query that started after generation
// gen was taken. Entries of an older generation are dropped.
func (c *imageCache) put(img *image.Image, gen uint64) {
	cp := img.Clone()
	c.emu.Lock()
	defer c.emu.Unlock()
	if !c.at(gen) {
		return
	}
	putBounded(c.entries, img.ID, cp, c.max)
}

// putBounded sets m[k] = v, first dropping one entry when m holds max
// others: the first a map iteration (which starts at a random place)
// yields. With more read than the cache holds, it then stays full, and a
// listing of every image does not empty it in one go.
func putBounded[V any](m map[string]V, k string, v V, max int) {
	if _, ok := m[k]; !ok && len(m) >= max {
		for old := range m {
			delete(m, old)
			break
		}
	}
	m[k] = v
}

// at moves the entries to generation gen if it is newer, dropping them,
// and reports whether they are at gen. c.emu is held for writing.
func (c *imageCache) at(gen uint64) bool {
	if gen > c.egen {
		clear(c.entries)
		clear(c.pages)
		c.egen = gen
	}
	return gen == c.egen
}

// page returns copies of the images of the listing key as read at
// generation gen, or nil when the listing or one of its images is not
// cached.
func (c *imageCache) page(key string, gen uint64) []*image.Image {
	c.emu.RLock()
	defer c.emu.RUnlock()
	ids, ok := c.pages[key]
	if c.egen != gen || !ok {
		return nil
	}
	imgs := make([]*image.Image, len(ids))
	for i, id := range ids {
		img := c.entries[id]
		if img == nil {
			return nil
		}
		imgs[i] = img.Clone()
	}
	return imgs
}

// putPage remembers which images the listing key returned, read at
// generation gen (the images themselves are put on their own).
func (c *imageCache) putPage(key string, imgs []*image.Image, gen uint64) {
	ids := make([]string, len(imgs))
	for i, img := range imgs {
		ids[i] = img.ID
	}
	c.emu.Lock()
	defer c.emu.Unlock()
	if !c.at(gen) {
		return
	}
	putBounded(c.pages, key, ids, maxCachedPages)
}

func (c *imageCache) close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return nil
	}
	c.fast.Store(nil)
	c.version.Close()
	return c.conn.Close()
}

// release lets go of the wal-index, once every connection of the DB is
// closed (see walIndex).
func (c *imageCache) release() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shm.release()
	c.shm = nil
}
