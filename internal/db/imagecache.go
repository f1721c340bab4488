package db

import (
	"context"
	"database/sql"
	"runtime"
	"sync"
	"sync/atomic"

	"glint/internal/image"
)

// imageCache keeps live images SQLite's readers have read, with their
// properties, tags and locations. On SQLite, reading an image and its
// child rows costs most of a GET's CPU (modernc's SQLite: stepping, column
// copies, the page cache's mutex), and most of a listing's; images are
// read far more often than written.
//
// A cached image stays until a commit changes it. This process's writer
// says which images each of its transactions changed (conn.touches), and
// the cache drops just those when it commits (commit, record); a commit by
// anyone else (the scrubber, a second server or the sqlite3 shell on the
// same file) drops every image, for the cache cannot know what it changed.
// Telling the two apart (generation): the wal-index header's change
// counter goes up by one with every commit to the file, whoever makes it;
// this process counts its own commits (own) after recording them. While
// the counter has moved by exactly as many commits as this process has
// recorded since a state where the two were known to agree, every commit
// in between was this process's and is recorded; otherwise another
// connection has committed, and everything is dropped. So a read never
// sees an image older than the last commit before it started. Without the
// wal-index (not Linux, or before it is mapped) SQLite is asked
// (PRAGMA data_version), and any commit drops every image.
//
// PostgreSQL and MySQL get no cache: their servers are shared by several
// API nodes.
type imageCache struct {
	readers *sql.DB
	shmPath string // the database's wal-index, the -shm file

	// agreed is the last state known to agree: the wal-index header and
	// own, read in that state. nil until the wal-index is mapped.
	agreed atomic.Pointer[agreement]
	// own counts this process's recorded commits that changed rows (each
	// moved the header's counter by exactly one). It goes up after the
	// commit is recorded, so that a count read first and a header read
	// second agree only when every commit the header shows is recorded.
	own atomic.Uint64
	// commitMu is held by the writer from before its COMMIT until the
	// commit is recorded and counted: a check holding it sees no commit
	// of this process half done.
	commitMu sync.Mutex

	mu       sync.Mutex // serialises the slow checks; guards conn, version, lastDV, shm
	conn     *sql.Conn  // a reader taken from the pool for good, at first use
	version  *sql.Stmt  // PRAGMA data_version, prepared on conn
	lastDV   int64
	shm      *walIndex // mapped after the first check; nil if it cannot be
	shmTried bool

	// gen counts what the cache has recorded: commits and drops. It is
	// written under emu and read without it.
	gen     atomic.Uint64
	emu     sync.RWMutex
	entries map[string]*image.Image
	// changed holds, for the images the recorded commits of this process
	// changed, the generation of the last one; floor is the generation
	// below which nothing may be put (every image was dropped then, or
	// changed was emptied).
	changed map[string]uint64
	floor   uint64
	pages   map[string]cachedPage // a listing's key -> its page
	max     int
}

// cachedPage is a listing's page, read at generation gen: valid while
// nothing was recorded since (any commit may change which images a
// listing returns).
type cachedPage struct {
	ids []string
	gen uint64
}

// agreement is a state in which the header's counter and own were read
// and every commit the header showed was recorded.
type agreement struct {
	shm *walIndex
	hdr walIndexHeader
	own uint64
}

// maxCachedImages bounds the cache: about 1 KiB per image with a few
// properties, so a MiB or so: the first pages of the usual listings and
// the images read most. Memory, not speed, sets the size: issue 4 asks
// for an RSS under 64 MiB while listing.
const maxCachedImages = 1024

// maxCachedPages bounds the listings remembered: a page of up to 256 IDs
// each, usually 20 (a few KiB).
const maxCachedPages = 128

// maxChanged bounds changed: beyond it, it is emptied and the floor
// raised, which only makes reads in flight not put what they read.
const maxChanged = 8192

func newImageCache(readers *sql.DB, shmPath string, max int) *imageCache {
	return &imageCache{readers: readers, shmPath: shmPath, entries: map[string]*image.Image{},
		changed: map[string]uint64{}, pages: map[string]cachedPage{}, max: max}
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

// touchSet is what a write transaction of the writer changed: rows, the
// rows its statements changed (conn.exec counts them), and the images it
// named (conn.touches); an unnamed change may have changed any image.
type touchSet struct {
	ids   []string
	named bool
	rows  int64
}

// add merges t, the changes of one transaction of a group, into s.
func (s *touchSet) add(t *touchSet) {
	if t.rows == 0 {
		return
	}
	if s.rows == 0 {
		s.named = true
	}
	s.rows += t.rows
	s.named = s.named && t.named
	s.ids = append(s.ids, t.ids...)
}

// commit runs the writer's COMMIT (fn) of a transaction that changed ch
// and records what it changed before any check can see the commit. A
// transaction that changed no row is not counted (SQLite commits nothing
// for it, and the header does not move); one whose rows were not all
// counted moves the header unaccounted for, and the next check drops
// everything: mistakes here cost the cache, never a stale read.
func (c *imageCache) commit(ch *touchSet, fn func() error) error {
	if c == nil || ch.rows == 0 {
		return fn()
	}
	c.commitMu.Lock()
	defer c.commitMu.Unlock()
	if err := fn(); err != nil {
		return err
	}
	c.emu.Lock()
	g := c.gen.Add(1)
	if ch.named {
		for _, id := range ch.ids {
			delete(c.entries, id)
			c.changed[id] = g
		}
		if len(c.changed) > maxChanged {
			clear(c.changed)
			c.floor = g
		}
	} else {
		c.dropLocked(g)
	}
	clear(c.pages)
	c.emu.Unlock()
	c.own.Add(1)
	return nil
}

// dropLocked drops every image at generation g. c.emu is held.
func (c *imageCache) dropLocked(g uint64) {
	clear(c.entries)
	clear(c.pages)
	clear(c.changed)
	c.floor = g
}

// drop drops every image: someone else has committed.
func (c *imageCache) drop() {
	c.emu.Lock()
	c.dropLocked(c.gen.Add(1))
	c.emu.Unlock()
}

// accounted reports whether, from the agreed state a to the header h and
// count o (o read before h), every commit was this process's and is
// recorded.
func accounted(a *agreement, h walIndexHeader, o uint64) bool {
	return h.changes()-a.hdr.changes() == uint32(o-a.own)
}

// generation returns the cache's generation once every commit made before
// the call is recorded in it (dropping everything if another connection
// made one); ok is false (do not use the cache) when there is no cache or
// the database cannot be asked.
func (c *imageCache) generation(ctx context.Context) (gen uint64, ok bool) {
	if c == nil {
		return 0, false
	}
	if a := c.agreed.Load(); a != nil {
		o := c.own.Load()
		if h, ok := a.shm.header(); ok && accounted(a, h, o) {
			if h != a.hdr || o != a.own {
				c.agreed.Store(&agreement{shm: a.shm, hdr: h, own: o})
			}
			return c.gen.Load(), true
		}
	}
	return c.check(ctx)
}

// check is generation's slow way: with no commit of this process half
// done (commitMu), the header's counter either agrees with own, or
// another connection has committed; without a readable wal-index, SQLite
// is asked.
func (c *imageCache) check(ctx context.Context) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.shmTried {
		// Mapped once SQLite has read the database in WAL mode (the
		// file then exists, and c.conn keeps SQLite's hold on it, see
		// walIndex).
		if _, err := c.versionChanged(ctx); err != nil {
			return 0, false
		}
		c.shmTried = true
		c.shm = mapWALIndex(c.shmPath)
	}
	if c.shm != nil {
		c.commitMu.Lock()
		o := c.own.Load()
		h, ok := c.shm.header()
		// Another process may be writing the header right now.
		for i := 0; !ok && i < 100; i++ {
			runtime.Gosched()
			h, ok = c.shm.header()
		}
		a := c.agreed.Load()
		var err error
		changed := false
		if ok && a == nil {
			// The first agreement: SQLite, asked after the header
			// was read, says whether anyone committed since the
			// last time it was asked (and this process cannot,
			// commitMu being held).
			changed, err = c.versionChanged(ctx)
		}
		c.commitMu.Unlock()
		if ok && err == nil {
			if changed || (a != nil && !accounted(a, h, o)) {
				c.drop()
			}
			c.agreed.Store(&agreement{shm: c.shm, hdr: h, own: o})
			return c.gen.Load(), true
		}
		c.agreed.Store(nil)
	}
	changed, err := c.versionChanged(ctx)
	if err != nil {
		return 0, false
	}
	if changed {
		c.drop()
	}
	return c.gen.Load(), true
}

// versionChanged asks SQLite whether another connection has committed
// since it was last asked (PRAGMA data_version). c.mu is held.
func (c *imageCache) versionChanged(ctx context.Context) (bool, error) {
	if c.version == nil {
		if err := c.connect(ctx); err != nil {
			return false, err
		}
	}
	var dv int64
	if err := c.version.QueryRowContext(ctx).Scan(&dv); err != nil {
		return false, err
	}
	changed := dv != c.lastDV
	c.lastDV = dv
	return changed, nil
}

// get returns a copy of the image with id, or nil.
func (c *imageCache) get(id string) *image.Image {
	c.emu.RLock()
	img := c.entries[id]
	c.emu.RUnlock()
	if img == nil {
		return nil
	}
	return img.Clone()
}

// unchangedSince reports whether no image of ids was changed (or dropped)
// after generation gen.
func (c *imageCache) unchangedSince(ids []string, gen uint64) bool {
	c.emu.RLock()
	defer c.emu.RUnlock()
	if c.floor > gen {
		return false
	}
	for _, id := range ids {
		if c.changed[id] > gen {
			return false
		}
	}
	return true
}

// put keeps a copy of img, read in a snapshot that began after
// generation gen was returned, unless it was changed since.
func (c *imageCache) put(img *image.Image, gen uint64) {
	cp := img.Clone()
	c.emu.Lock()
	defer c.emu.Unlock()
	if gen < c.floor || c.changed[img.ID] > gen {
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

// page returns copies of the images of the listing key as read at
// generation gen, or nil when the listing or one of its images is not
// cached, or something was recorded since.
func (c *imageCache) page(key string, gen uint64) []*image.Image {
	c.emu.RLock()
	defer c.emu.RUnlock()
	p, ok := c.pages[key]
	if !ok || p.gen != gen || c.gen.Load() != gen {
		return nil
	}
	imgs := make([]*image.Image, len(p.ids))
	for i, id := range p.ids {
		img := c.entries[id]
		if img == nil {
			return nil
		}
		imgs[i] = img.Clone()
	}
	return imgs
}

// putPage remembers which images the listing key returned, read in a
// snapshot between two checks that both returned gen (the images
// themselves are put on their own).
func (c *imageCache) putPage(key string, imgs []*image.Image, gen uint64) {
	ids := make([]string, len(imgs))
	for i, img := range imgs {
		ids[i] = img.ID
	}
	c.emu.Lock()
	defer c.emu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	putBounded(c.pages, key, cachedPage{ids: ids, gen: gen}, maxCachedPages)
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
	c.agreed.Store(nil)
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
	c.agreed.Store(nil)
	c.shm.release()
	c.shm = nil
}
