package store

import (
	"io"
	"sync"
	"sync/atomic"

	"glint/internal/errs"
)

// hashPipe reads its source in large chunks on a goroutine of its own and
// hands each chunk, without copying, to one goroutine per hash and to
// whoever reads the pipe (the store). So md5 and the multihash run on
// separate cores while the data is written, instead of one after the
// other on the writer's core. Memory stays at most chunks × chunkSize, and
// is allocated as the data comes: a small upload (most of a busy cloud's
// requests are metadata and small images) costs one small chunk, not the
// eight full ones a gigabyte needs.
type hashPipe struct {
	out     chan *chunk
	hashers []chan *chunk
	free    chan *chunk
	done    chan struct{}
	wg      sync.WaitGroup // producer and hashers
	err     error          // set by the producer before it closes out
	cur     *chunk
	off     int
	closeMu sync.Once
	// The producer's own: chunks allocated so far, bytes read so far.
	allocated int
	read      int64
}

type chunk struct {
	buf  []byte
	n    int
	refs atomic.Int32
}

const (
	pipeChunkSize = 1 << 20
	pipeChunks    = 8
	// pipeFirstChunk is the first chunk's size: enough for a small image
	// in one read. Once the data outgrows it, chunks are full-sized.
	pipeFirstChunk = 64 << 10
)

// newHashPipe starts the pipe; every consumer (the hashes, a format
// inspector) sees every byte, each on its own goroutine.
func newHashPipe(src io.Reader, hashes ...io.Writer) *hashPipe {
	p := &hashPipe{
		out:  make(chan *chunk, pipeChunks),
		free: make(chan *chunk, pipeChunks),
		done: make(chan struct{}),
	}
	for _, h := range hashes {
		ch := make(chan *chunk, pipeChunks)
		p.hashers = append(p.hashers, ch)
		p.wg.Add(1)
		go func(h io.Writer) {
			defer p.wg.Done()
			for c := range ch {
				h.Write(c.buf[:c.n])
				p.release(c)
			}
		}(h)
	}
	p.wg.Add(1)
	go p.produce(src)
	return p
}

func (p *hashPipe) produce(src io.Reader) {
	defer p.wg.Done()
	defer func() {
		for _, ch := range p.hashers {
			close(ch)
		}
		close(p.out)
	}()
	for {
		c := p.take()
		if c == nil {
			return
		}
		n, err := io.ReadFull(src, c.buf)
		p.read += int64(n)
		if n > 0 {
			c.n = n
			c.refs.Store(int32(len(p.hashers) + 1))
			for _, ch := range p.hashers {
				ch <- c // buffered as deep as there are chunks: never blocks for long
			}
			select {
			case p.out <- c:
			case <-p.done:
				p.release(c)
				return
			}
		}
		// Only ReadFull's own end markers are a clean end: a source error
		// that wraps one (a client gone mid-body, as net/http reports
		// it) is a failure.
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			p.err = io.EOF
			return
		}
		if err != nil {
			p.err = err
			return
		}
	}
}

// take returns a chunk to read into: a free one, or a new one while
// fewer than pipeChunks exist; nil when the pipe is closing. A small chunk
// is grown once the data has shown itself large, so a big image is moved
// in full-sized reads and writes.
func (p *hashPipe) take() *chunk {
	select {
	case <-p.done:
		return nil
	default:
	}
	var c *chunk
	select {
	case c = <-p.free:
	default:
		if p.allocated < pipeChunks {
			p.allocated++
			size := pipeChunkSize
			if p.read == 0 {
				size = pipeFirstChunk
			}
			return &chunk{buf: make([]byte, size)}
		}
		select {
		case c = <-p.free:
		case <-p.done:
			return nil
		}
	}
	if len(c.buf) < pipeChunkSize && p.read >= pipeFirstChunk {
		c.buf = make([]byte, pipeChunkSize)
	}
	return c
}

func (p *hashPipe) release(c *chunk) {
	if c.refs.Add(-1) == 0 {
		select {
		case p.free <- c:
		default: // the pipe is closing and nobody takes chunks back
		}
	}
}

// next makes p.cur a chunk with unread bytes, or returns the source's end.
func (p *hashPipe) next() error {
	if p.cur != nil && p.off < p.cur.n {
		return nil
	}
	if p.cur != nil {
		p.release(p.cur)
		p.cur = nil
	}
	c, ok := <-p.out
	if !ok {
		return p.err // out is closed only after err is set
	}
	p.cur, p.off = c, 0
	return nil
}

// Read implements io.Reader.
func (p *hashPipe) Read(b []byte) (int, error) {
	if err := p.next(); err != nil {
		return 0, err
	}
	n := copy(b, p.cur.buf[p.off:p.cur.n])
	p.off += n
	return n, nil
}

// WriteTo hands whole chunks to w, so a file store writes 1 MiB at a time.
func (p *hashPipe) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if err := p.next(); err != nil {
			if err == io.EOF {
				return total, nil
			}
			return total, err
		}
		n, err := w.Write(p.cur.buf[p.off:p.cur.n])
		p.off += n
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
}

// end reports whether the reader of the pipe had everything the source
// holds: nil when the source is at its end, the source's error, or
// errUnread when bytes are left that nobody read. It waits for the
// source's next read when the reader stopped exactly at a chunk's end.
func (p *hashPipe) end() error {
	var one [1]byte
	n, err := p.Read(one[:])
	switch {
	case n > 0:
		return errUnread
	case err == io.EOF:
		return nil
	}
	return err
}

var errUnread = errs.E(errs.Op("store.Write"), errs.Internal, "the driver stopped reading before the end of the data")

// Close stops the pipe and waits until the hashes have seen every byte
// that was read; after a clean EOF the sums are then complete.
func (p *hashPipe) Close() {
	p.closeMu.Do(func() { close(p.done) })
	p.wg.Wait()
}
