package imagecache

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"glint/internal/errs"
	"glint/internal/image"
)

// Queue queues id for prefetching (a file in <dir>/queue, as Glance's).
func (c *Cache) Queue(id string) error {
	if !validID(id) {
		return errs.Errorf(errs.Op("imagecache.Queue"), errs.Invalid, "%q is not an image ID", id)
	}
	f, err := os.OpenFile(c.queued(id), os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		return errs.E(errs.Op("imagecache.Queue"), errs.Unavailable, err)
	}
	f.Close()
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return nil
}

// enqueue queues id for the next periodic prefetch pass, without
// starting one now.
func (c *Cache) enqueue(id string) {
	if f, err := os.OpenFile(c.queued(id), os.O_CREATE|os.O_WRONLY, 0o640); err == nil {
		f.Close()
	}
}

// Queued lists the queued image IDs, oldest first.
func (c *Cache) Queued() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(c.opts.Dir, "queue"))
	if err != nil {
		return nil, errs.E(errs.Op("imagecache.Queued"), errs.Unavailable, err)
	}
	type q struct {
		id string
		at time.Time
	}
	var qs []q
	for _, e := range ents {
		if !validID(e.Name()) {
			continue
		}
		at := time.Time{}
		if fi, err := e.Info(); err == nil {
			at = fi.ModTime()
		}
		qs = append(qs, q{e.Name(), at})
	}
	sort.SliceStable(qs, func(i, j int) bool { return qs[i].at.Before(qs[j].at) })
	out := make([]string, 0, len(qs))
	for _, x := range qs {
		out = append(out, x.id)
	}
	return out, nil
}

// Cached lists the cached images' records, with the hits counted since
// the last flush.
func (c *Cache) Cached(ctx context.Context) ([]Record, error) {
	if err := c.flush(ctx); err != nil {
		c.log.WarnContext(ctx, "image cache: cannot record hits", "err", err)
	}
	recs, err := c.index.List(ctx)
	if err != nil {
		return nil, err
	}
	if recs == nil {
		recs = []Record{}
	}
	return recs, nil
}

// IsCached reports whether id has a complete cache file.
func (c *Cache) IsCached(id string) bool {
	if !validID(id) {
		return false
	}
	_, err := os.Stat(c.path(id))
	return err == nil
}

// Delete removes id's cache file and record.
func (c *Cache) Delete(ctx context.Context, id string) error {
	if !validID(id) {
		return nil
	}
	return c.remove(ctx, id)
}

// Dequeue removes id from the prefetch queue.
func (c *Cache) Dequeue(id string) error {
	if !validID(id) {
		return nil
	}
	if err := os.Remove(c.queued(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return errs.E(errs.Op("imagecache.Dequeue"), errs.Unavailable, err)
	}
	return nil
}

// DeleteAll removes every cache file and record; it returns how many.
func (c *Cache) DeleteAll(ctx context.Context) (int, error) {
	recs, err := c.index.List(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var errList []error
	for _, r := range recs {
		if err := c.remove(ctx, r.ImageID); err != nil {
			errList = append(errList, err)
			continue
		}
		n++
	}
	// Files without a record (a crash between the two) go too.
	ents, _ := os.ReadDir(c.opts.Dir)
	for _, e := range ents {
		if e.Type().IsRegular() && validID(e.Name()) {
			if os.Remove(c.path(e.Name())) == nil {
				n++
			}
		}
	}
	return n, errors.Join(errList...)
}

// DequeueAll empties the prefetch queue; it returns how many were queued.
func (c *Cache) DequeueAll() (int, error) {
	ids, err := c.Queued()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if c.Dequeue(id) == nil {
			n++
		}
	}
	return n, nil
}

// Nodes lists the nodes whose cache holds id (centralized_db only).
func (c *Cache) Nodes(ctx context.Context, id string) ([]string, error) {
	return c.index.Nodes(ctx, id)
}

// Prefetch caches every queued image and empties the queue; it returns
// how many images it cached. An image that is gone or not active leaves
// the queue uncached, as in Glance.
func (c *Cache) Prefetch(ctx context.Context) (int, error) {
	ids, err := c.Queued()
	if err != nil {
		return 0, err
	}
	n := 0
	var errList []error
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		ok, err := c.fetch(ctx, id)
		if err != nil {
			c.log.WarnContext(ctx, "image cache: prefetch failed", "image_id", id, "err", err)
			errList = append(errList, err)
			continue // stays queued, tried again next time
		}
		if ok {
			n++
		}
		c.Dequeue(id)
	}
	return n, errors.Join(errList...)
}

// fetch writes id's data to the cache from its store. false with no
// error: nothing to cache (already cached, gone, not active, too big).
func (c *Cache) fetch(ctx context.Context, id string) (bool, error) {
	actx := asAdmin(ctx)
	img, err := c.images.Fetch(actx, id)
	if errs.Is(errs.NotFound, err) {
		c.log.InfoContext(ctx, "image cache: queued image not found, dropped from the queue", "image_id", id)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if img.Status != image.Active || img.Size == nil {
		c.log.InfoContext(ctx, "image cache: queued image is not active, dropped from the queue", "image_id", id, "status", img.Status)
		return false, nil
	}
	if c.IsCached(id) || !c.fits(*img.Size) || !c.claim(id) {
		return false, nil
	}
	defer c.release(id)
	f, err := os.OpenFile(c.incomplete(id), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil // another process is writing it
		}
		return false, errs.E(errs.Op("imagecache.fetch"), errs.Unavailable, err)
	}
	rc, err := c.images.OpenStore(actx, img, 0)
	if err != nil {
		f.Close()
		os.Remove(c.incomplete(id))
		return false, err
	}
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(f, h), rc)
	rc.Close()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(c.incomplete(id))
		c.abandoned.Add(1)
		return false, err
	}
	if err := c.commit(img, n, hex.EncodeToString(h.Sum(nil))); err != nil {
		c.abandoned.Add(1)
		return false, err
	}
	c.log.InfoContext(ctx, "image cache: prefetched", "image_id", id, "size", n)
	return true, nil
}

// Prune removes least recently used cache files until the cache holds at
// most MaxSize bytes; it returns how many files and bytes it removed.
func (c *Cache) Prune(ctx context.Context) (files int, bytes int64, err error) {
	if err := c.flush(ctx); err != nil {
		c.log.WarnContext(ctx, "image cache: cannot record hits", "err", err)
	}
	if c.opts.MaxSize <= 0 {
		return 0, 0, nil
	}
	recs, err := c.index.List(ctx)
	if err != nil {
		return 0, 0, err
	}
	var total int64
	for _, r := range recs {
		total += r.Size
	}
	slices.SortStableFunc(recs, func(a, b Record) int { return a.LastAccessed.Compare(b.LastAccessed) })
	for _, r := range recs {
		if total <= c.opts.MaxSize {
			break
		}
		if err := c.remove(ctx, r.ImageID); err != nil {
			return files, bytes, err
		}
		total -= r.Size
		files++
		bytes += r.Size
	}
	if files > 0 {
		c.log.InfoContext(ctx, "image cache: pruned", "files", files, "bytes", bytes)
	}
	return files, bytes, nil
}

// Clean removes what the cache should not hold: incomplete files older
// than StallTime that no write of this process holds, every invalid
// file, files without a record and records without a file, and the
// files of images deleted since they were cached. It returns how many
// files it removed.
func (c *Cache) Clean(ctx context.Context) (int, error) {
	n := 0
	now := c.now()
	ents, _ := os.ReadDir(filepath.Join(c.opts.Dir, "incomplete"))
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		c.mu.Lock()
		busy := c.filling[e.Name()]
		c.mu.Unlock()
		if !busy && now.Sub(fi.ModTime()) >= c.opts.StallTime {
			if os.Remove(filepath.Join(c.opts.Dir, "incomplete", e.Name())) == nil {
				n++
			}
		}
	}
	ents, _ = os.ReadDir(filepath.Join(c.opts.Dir, "invalid"))
	for _, e := range ents {
		if os.Remove(filepath.Join(c.opts.Dir, "invalid", e.Name())) == nil {
			n++
		}
	}
	recs, err := c.index.List(ctx)
	if err != nil {
		return n, err
	}
	have := map[string]bool{}
	for _, r := range recs {
		have[r.ImageID] = true
		_, err := os.Stat(c.path(r.ImageID))
		gone := errors.Is(err, fs.ErrNotExist)
		if !gone {
			_, ferr := c.images.Fetch(asAdmin(ctx), r.ImageID)
			gone = errs.Is(errs.NotFound, ferr)
			if gone {
				n++
			}
		}
		if gone {
			c.remove(ctx, r.ImageID)
		}
	}
	// Files left by a crash between recording and renaming, or by hand.
	ents, _ = os.ReadDir(c.opts.Dir)
	for _, e := range ents {
		id := e.Name()
		if !e.Type().IsRegular() || !validID(id) || have[id] {
			continue
		}
		c.mu.Lock()
		busy := c.filling[id]
		c.mu.Unlock()
		if !busy && os.Remove(c.path(id)) == nil {
			n++
		}
	}
	if n > 0 {
		c.log.InfoContext(ctx, "image cache: cleaned", "files", n)
	}
	return n, nil
}

// kickDelay is how long after an image is queued through the API the
// prefetcher starts.
const kickDelay = time.Second

// Run does the periodic work until ctx ends: every interval (and at once
// when an image is queued) it prefetches the queue, and every interval it
// records the hits, prunes and cleans.
func (c *Cache) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = 5 * time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
			// A moment's wait lets the PUTs of several images be fetched
			// in one pass, and a client see its image queued before it is
			// cached, as with Glance's slower worker.
			select {
			case <-ctx.Done():
				return
			case <-time.After(kickDelay):
			}
			c.Prefetch(ctx)
		case <-t.C:
			c.Prefetch(ctx)
			if _, _, err := c.Prune(ctx); err != nil {
				c.log.WarnContext(ctx, "image cache: prune failed", "err", err)
			}
			if _, err := c.Clean(ctx); err != nil {
				c.log.WarnContext(ctx, "image cache: clean failed", "err", err)
			}
		}
	}
}
