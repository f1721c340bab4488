package filesystem

import (
	"errors"
	"os"
	"sync"
	"unsafe"
)

// dataFile writes the temporary file of one image. Flushes run on a
// goroutine of their own every flushEvery bytes, so that the fsync the
// image waits for before it turns active has little left to do: written
// in one go at the end, a gigabyte of dirty pages kept the upload waiting
// half a second after its last byte. With direct set (the store's
// DirectIO option), the bytes go with O_DIRECT from the caller's buffers
// to the disk, past the page cache: no copy into cache pages, which on the
// virtual machines Glint was measured on cost as much CPU as md5 while the
// machine's memory was still fresh, and no eviction of what the cache
// holds; but a download right after the upload then reads from the disk.
// Where O_DIRECT is refused (tmpfs, some network filesystems, a device
// wanting another alignment), it writes through the page cache.
type dataFile struct {
	f      *os.File
	direct bool
	stage  []byte // aligned; gathers input that is not aligned, allocated when first needed
	n      int    // bytes in stage
	off    int64  // bytes written to the file

	unflushed int64
	kick      chan struct{}
	flusher   sync.WaitGroup
	flushErr  error // set by the flusher; read after flusher.Wait
	flushes   int   // background flushes run; read after flusher.Wait
	finished  bool
	holes     bool // Skip was called: Finish sets the length
}

const (
	// dioAlign is the alignment of O_DIRECT buffers, lengths and offsets:
	// 4 KiB suits devices with 512-byte and 4 KiB logical blocks.
	dioAlign   = 4096
	stageSize  = 1 << 20
	flushEvery = 64 << 20
)

func newDataFile(f *os.File, direct bool) *dataFile {
	w := &dataFile{f: f, direct: direct && setDirect(f, true) == nil, kick: make(chan struct{}, 1)}
	w.flusher.Add(1)
	go func() {
		defer w.flusher.Done()
		for range w.kick {
			if err := fdatasync(f); err != nil && w.flushErr == nil {
				w.flushErr = err
			}
			w.flushes++
		}
	}()
	return w
}

func aligned(p []byte) bool {
	return len(p) > 0 && uintptr(unsafe.Pointer(&p[0]))%dioAlign == 0
}

// Write implements io.Writer.
func (w *dataFile) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		if w.direct && w.n == 0 && len(p) >= dioAlign && aligned(p) {
			// The caller's buffer goes to the disk as it is.
			m := len(p) &^ (dioAlign - 1)
			if err := w.write(p[:m]); err != nil {
				return total - len(p), err
			}
			p = p[m:]
			continue
		}
		if !w.direct {
			if err := w.write(p); err != nil {
				return 0, err
			}
			return total, nil
		}
		if w.stage == nil {
			w.stage = alignedBuffer(stageSize)
		}
		c := copy(w.stage[w.n:], p)
		w.n += c
		p = p[c:]
		if w.n == len(w.stage) {
			if err := w.write(w.stage); err != nil {
				return total - len(p) - c, err
			}
			w.n = 0
		}
	}
	return total, nil
}

// write writes p whole at the current offset, falling back to the page
// cache if the device refuses the direct write.
func (w *dataFile) write(p []byte) error {
	for len(p) > 0 {
		n, err := w.f.WriteAt(p, w.off)
		w.off += int64(n)
		w.unflushed += int64(n)
		p = p[n:]
		if err != nil {
			if w.direct && errors.Is(err, errInval) && setDirect(w.f, false) == nil {
				w.direct = false
				continue
			}
			return err
		}
	}
	if w.unflushed >= flushEvery {
		w.unflushed = 0
		select {
		case w.kick <- struct{}{}:
		default: // a flush is running; the next one covers these bytes too
		}
	}
	return nil
}

// Skip leaves a hole of n bytes (thin provisioning): what is staged is
// written first, then the offset moves on.
func (w *dataFile) Skip(n int64) error {
	if err := w.flush(); err != nil {
		return err
	}
	w.off += n
	w.holes = true
	return nil
}

// Finish writes what is staged and makes the file durable. The unaligned
// tail of the data goes through the page cache, which has no alignment
// rule.
func (w *dataFile) Finish() error {
	err := w.flush()
	if err == nil && w.holes {
		// A trailing run of zeros left the file short of its length.
		err = w.f.Truncate(w.off)
	}
	w.finished = true
	close(w.kick)
	w.flusher.Wait()
	if err == nil {
		err = w.flushErr
	}
	if err == nil {
		err = w.f.Sync()
	}
	return err
}

func (w *dataFile) flush() error {
	if w.n == 0 {
		return nil
	}
	b := w.stage[:w.n]
	w.n = 0
	if m := len(b) &^ (dioAlign - 1); w.direct && m > 0 {
		if err := w.write(b[:m]); err != nil {
			return err
		}
		b = b[m:]
	}
	if len(b) > 0 && w.direct {
		if err := setDirect(w.f, false); err != nil {
			return err
		}
		w.direct = false
	}
	return w.write(b)
}

// Abort stops the flusher without syncing, if Finish has not.
func (w *dataFile) Abort() {
	if !w.finished {
		w.finished = true
		close(w.kick)
	}
	w.flusher.Wait()
}

func alignedBuffer(n int) []byte {
	b := make([]byte, n+dioAlign)
	off := 0
	if r := uintptr(unsafe.Pointer(&b[0])) % dioAlign; r != 0 {
		off = int(dioAlign - r)
	}
	return b[off : off+n : off+n]
}
