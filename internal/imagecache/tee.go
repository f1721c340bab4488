package imagecache

import (
	"crypto/md5"
	"encoding/hex"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"glint/internal/image"
)

// tee returns rc, whose data is also written to the cache file of img by
// a goroutine of its own. The client's reads never wait for the cache's
// disk: what is read is handed over in a queue of at most BufferBytes,
// and when the queue is full the cache file is abandoned.
func (c *Cache) tee(img *image.Image, rc io.ReadCloser) io.ReadCloser {
	if !c.fits(*img.Size) || !c.claim(img.ID) {
		return rc
	}
	f, err := os.OpenFile(c.incomplete(img.ID), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		// Another process (glint cache prefetch) is writing it.
		c.release(img.ID)
		return rc
	}
	w := &filler{c: c, img: img, f: f, ch: make(chan *[]byte, 4096), limit: c.opts.BufferBytes}
	c.wg.Add(1)
	go w.run()
	return &teeReader{rc: rc, w: w, size: *img.Size}
}

// teeReader reads the store for the client and offers each chunk to the
// filler.
type teeReader struct {
	rc    io.ReadCloser
	w     *filler // nil once finished or abandoned
	n     int64
	size  int64
	close sync.Once
}

func (t *teeReader) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	if n > 0 && t.w != nil {
		t.n += int64(n)
		if !t.w.offer(p[:n]) {
			t.w.behind = true
			t.w.end(false, "the cache's disk fell behind the client")
			t.w = nil
		}
	}
	if err == io.EOF && t.w != nil {
		t.w.end(t.n == t.size, "the store's data ended early")
		t.w = nil
	}
	return n, err
}

// Close ends the cache file: complete if the whole image went by,
// abandoned otherwise (the client went away, or asked for a range).
func (t *teeReader) Close() error {
	t.close.Do(func() {
		if t.w != nil {
			t.w.end(t.n == t.size, "the download ended early")
			t.w = nil
		}
	})
	return t.rc.Close()
}

// bufPool holds the chunks in flight to the cache's disk.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// filler writes one cache file from the chunks a teeReader hands over.
type filler struct {
	c      *Cache
	img    *image.Image
	f      *os.File
	ch     chan *[]byte
	queued atomic.Int64
	limit  int64
	// Set by end before ch is closed, read by run after.
	complete bool
	behind   bool // abandoned because the disk fell behind
	why      string
}

// offer queues a copy of p for the disk; false if that would exceed the
// queue's bound.
func (w *filler) offer(p []byte) bool {
	if w.queued.Load()+int64(len(p)) > w.limit {
		return false
	}
	bp := bufPool.Get().(*[]byte)
	b := append((*bp)[:0], p...)
	*bp = b
	w.queued.Add(int64(len(b)))
	select {
	case w.ch <- bp:
		return true
	default:
		w.queued.Add(-int64(len(b)))
		bufPool.Put(bp)
		return false
	}
}

// end tells the filler that no more data comes: complete, or abandoned
// for why.
func (w *filler) end(complete bool, why string) {
	w.complete, w.why = complete, why
	close(w.ch)
}

func (w *filler) run() {
	defer w.c.wg.Done()
	defer w.c.release(w.img.ID)
	h := md5.New()
	var n int64
	var werr error
	for bp := range w.ch {
		b := *bp
		if werr == nil {
			_, werr = w.f.Write(b)
			h.Write(b)
			n += int64(len(b))
		}
		w.queued.Add(-int64(len(b)))
		bufPool.Put(bp)
	}
	if err := w.f.Close(); werr == nil {
		werr = err
	}
	tmp := w.c.incomplete(w.img.ID)
	switch {
	case werr != nil:
		w.c.log.Warn("image cache: cannot write a cache file", "image_id", w.img.ID, "err", werr)
	case !w.complete:
		w.c.log.Debug("image cache: cache file abandoned", "image_id", w.img.ID, "reason", w.why, "written", n)
		if w.behind {
			// The client was faster than this disk: the next prefetch
			// pass reads the store again, at the disk's own pace.
			w.c.enqueue(w.img.ID)
		}
	default:
		if err := w.c.commit(w.img, n, hex.EncodeToString(h.Sum(nil))); err != nil {
			w.c.log.Warn("image cache: cache file not kept", "image_id", w.img.ID, "err", err)
			w.c.abandoned.Add(1)
		}
		return
	}
	os.Remove(tmp)
	w.c.abandoned.Add(1)
}
