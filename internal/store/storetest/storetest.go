// Package storetest is the conformance suite every store driver passes
// unchanged, against its real backend: round trips from empty to
// multi-GiB streams with flat memory, offsets, deleting what is not there,
// failed and cancelled writes leaving nothing behind, concurrent writers,
// duplicates and bad credentials. A driver's test builds a Harness and
// calls Run.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"glint/internal/errs"
	"glint/internal/store"
)

// Harness adapts one driver to the suite.
type Harness struct {
	// New returns a driver over an empty namespace of the real backend
	// (a fresh directory, bucket or container).
	New func(t *testing.T) store.Driver
	// Leftovers lists everything the backend holds for d, including
	// partial or temporary objects and unfinished multipart uploads.
	Leftovers func(t *testing.T, d store.Driver) []string
	// BadCredentials returns a driver whose credentials are wrong, or is
	// nil when the backend has no credentials.
	BadCredentials func(t *testing.T) store.Driver
	// Put writes data at a location for read-only drivers, which cannot
	// Add; it returns the location the driver reads.
	Put func(t *testing.T, d store.Driver, id string, data []byte) string
	// BigSize is the length of the multi-GiB round trip; 0 means
	// DefaultBigSize. GLINT_STORETEST_BIG (bytes, or with a G/M suffix)
	// overrides it, "0" skips it.
	BigSize int64
	// SmallSizes are extra sizes to round-trip, e.g. around a driver's
	// chunk or segment size.
	SmallSizes []int64
}

// DefaultBigSize is the multi-GiB stream each driver round-trips in CI.
const DefaultBigSize = 2 << 30

// maxHeapGrowth is how much the heap may grow during the big round trip:
// a streaming driver holds a few chunks, never the image.
const maxHeapGrowth = 192 << 20

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	t.Helper()
	ro := !h.New(t).Capabilities().Has(store.WriteAccess)
	t.Run("Check", func(t *testing.T) { testCheck(t, h) })
	t.Run("Capabilities", func(t *testing.T) { testCapabilities(t, h) })
	if ro {
		t.Run("ReadOnly", func(t *testing.T) { testReadOnly(t, h) })
		t.Run("ReadOnlyRoundTrip", func(t *testing.T) { testReadOnlyRoundTrip(t, h) })
		return
	}
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, h) })
	t.Run("Offsets", func(t *testing.T) { testOffsets(t, h) })
	t.Run("DeleteMissing", func(t *testing.T) { testDeleteMissing(t, h) })
	t.Run("Duplicate", func(t *testing.T) { testDuplicate(t, h) })
	t.Run("FailingReader", func(t *testing.T) { testFailingReader(t, h) })
	t.Run("Cancelled", func(t *testing.T) { testCancelled(t, h) })
	t.Run("ConcurrentWriters", func(t *testing.T) { testConcurrent(t, h) })
	if h.BadCredentials != nil {
		t.Run("BadCredentials", func(t *testing.T) { testBadCredentials(t, h) })
	}
	t.Run("Big", func(t *testing.T) { testBig(t, h) })
}

func ctxT(t *testing.T) context.Context { return t.Context() }

func randBytes(n int64) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func checkLocation(t *testing.T, d store.Driver, loc string) {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("location %q does not parse: %v", loc, err)
	}
	base := func(s string) string { b, _, _ := strings.Cut(s, "+"); return b }
	if base(u.Scheme) != base(d.Scheme()) && !(d.Scheme() == "file" && u.Scheme == "filesystem") {
		t.Errorf("location %q: scheme is not the driver's %q", loc, d.Scheme())
	}
}

func readAll(t *testing.T, d store.Driver, loc string, off int64) []byte {
	t.Helper()
	rc, err := d.Get(ctxT(t), loc, off)
	if err != nil {
		t.Fatalf("Get(%q, %d): %v", loc, off, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q from %d: %v", loc, off, err)
	}
	return b
}

func add(t *testing.T, d store.Driver, id string, data []byte, announce bool) string {
	t.Helper()
	size := int64(-1)
	if announce {
		size = int64(len(data))
	}
	loc, n, err := d.Add(ctxT(t), id, bytes.NewReader(data), size)
	if err != nil {
		t.Fatalf("Add(%s, %d bytes): %v", id, len(data), err)
	}
	if n != int64(len(data)) {
		t.Fatalf("Add(%s) wrote %d bytes, want %d", id, n, len(data))
	}
	checkLocation(t, d, loc)
	return loc
}

func noLeftovers(t *testing.T, h Harness, d store.Driver) {
	t.Helper()
	if h.Leftovers == nil {
		return
	}
	if left := h.Leftovers(t, d); len(left) > 0 {
		t.Errorf("left behind in the store: %q", left)
	}
}

func testCheck(t *testing.T, h Harness) {
	d := h.New(t)
	if err := d.Check(ctxT(t)); err != nil {
		t.Fatalf("Check on a working store: %v", err)
	}
	noLeftovers(t, h, d)
}

func testCapabilities(t *testing.T, h Harness) {
	c := h.New(t).Capabilities()
	if !c.Has(store.ReadAccess) {
		t.Errorf("capabilities %v lack read_access", c)
	}
	if !c.Has(store.ReadOffset) {
		t.Errorf("capabilities %v lack read_offset: Get takes an offset in every driver", c)
	}
}

func testRoundTrip(t *testing.T, h Harness) {
	d := h.New(t)
	sizes := append([]int64{0, 1, 4097, 1<<20 + 13}, h.SmallSizes...)
	for i, size := range sizes {
		for _, announce := range []bool{true, false} {
			t.Run(fmt.Sprintf("%d/announced=%v", size, announce), func(t *testing.T) {
				data := randBytes(size)
				id := fmt.Sprintf("rt-%d-%v", i, announce)
				loc := add(t, d, id, data, announce)
				if got, err := d.Size(ctxT(t), loc); err != nil || got != size {
					t.Fatalf("Size = %d, %v; want %d", got, err, size)
				}
				if got := readAll(t, d, loc, 0); !bytes.Equal(got, data) {
					t.Fatalf("read back %d bytes, not the %d written", len(got), size)
				}
				if err := d.Delete(ctxT(t), loc); err != nil {
					t.Fatalf("Delete: %v", err)
				}
				if _, err := d.Size(ctxT(t), loc); !errs.Is(errs.NotFound, err) {
					t.Errorf("Size after Delete: %v, want NotFound", err)
				}
			})
		}
	}
	noLeftovers(t, h, d)
}

func testOffsets(t *testing.T, h Harness) {
	d := h.New(t)
	data := randBytes(3<<20 + 5)
	loc := add(t, d, "offsets", data, true)
	defer d.Delete(ctxT(t), loc)
	n := int64(len(data))
	for _, off := range []int64{0, 1, 65535, n / 2, n - 1, n} {
		if got := readAll(t, d, loc, off); !bytes.Equal(got, data[off:]) {
			t.Errorf("Get from %d: %d bytes, want %d", off, len(got), n-off)
		}
	}
	// A range: read a slice from an offset, then close early.
	rc, err := d.Get(ctxT(t), loc, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 4096)
	if _, err := io.ReadFull(rc, part); err != nil {
		t.Fatal(err)
	}
	if err := rc.Close(); err != nil {
		t.Errorf("closing a reader early: %v", err)
	}
	if !bytes.Equal(part, data[1<<20:1<<20+4096]) {
		t.Error("ranged read returned the wrong bytes")
	}
}

func testDeleteMissing(t *testing.T, h Harness) {
	d := h.New(t)
	loc := add(t, d, "gone", []byte("x"), true)
	if err := d.Delete(ctxT(t), loc); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctxT(t), loc); !errs.Is(errs.NotFound, err) {
		t.Errorf("Delete of a deleted location: %v, want NotFound", err)
	}
	if _, err := d.Get(ctxT(t), loc, 0); !errs.Is(errs.NotFound, err) {
		t.Errorf("Get of a deleted location: %v, want NotFound", err)
	}
	if _, err := d.Size(ctxT(t), loc); !errs.Is(errs.NotFound, err) {
		t.Errorf("Size of a deleted location: %v, want NotFound", err)
	}
	noLeftovers(t, h, d)
}

func testDuplicate(t *testing.T, h Harness) {
	d := h.New(t)
	loc := add(t, d, "dup", []byte("first"), true)
	if _, _, err := d.Add(ctxT(t), "dup", strings.NewReader("second"), 6); !errs.Is(errs.Conflict, err) {
		t.Errorf("Add over existing data: %v, want Conflict", err)
	}
	if got := readAll(t, d, loc, 0); string(got) != "first" {
		t.Errorf("existing data became %q", got)
	}
	d.Delete(ctxT(t), loc)
}

// failingReader yields n bytes then fails with err.
type failingReader struct {
	n   int64
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	m := int(min(int64(len(p)), f.n))
	rand.Read(p[:m])
	f.n -= int64(m)
	return m, nil
}

func testFailingReader(t *testing.T, h Harness) {
	d := h.New(t)
	for _, size := range []int64{-1, 12 << 20} {
		boom := errors.New("client went away")
		_, _, err := d.Add(ctxT(t), "half", &failingReader{n: 6 << 20, err: boom}, size)
		if err == nil {
			t.Fatal("Add from a reader that fails half-way succeeded")
		}
		// The reader's classified error (the service's size cap, say)
		// reaches the caller unchanged.
		capErr := errs.E(errs.Op("test.cap"), errs.TooLarge, "The incoming image is too large")
		_, _, err = d.Add(ctxT(t), "capped", &failingReader{n: 1 << 20, err: capErr}, size)
		if !errs.Is(errs.TooLarge, err) {
			t.Errorf("Add from a reader failing with a TooLarge error: %v, want TooLarge", err)
		}
	}
	noLeftovers(t, h, d)
	// The id is usable after the failure.
	loc := add(t, d, "half", []byte("ok"), true)
	d.Delete(ctxT(t), loc)
}

// cancelReader cancels its context after n bytes.
type cancelReader struct {
	n      int64
	cancel context.CancelFunc
}

func (c *cancelReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
		// Keep yielding data: the driver must notice the context itself.
	}
	m := min(len(p), 64<<10)
	rand.Read(p[:m])
	c.n -= int64(m)
	return m, nil
}

func testCancelled(t *testing.T, h Harness) {
	d := h.New(t)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	if _, _, err := d.Add(ctx, "cancelled", &cancelReader{n: 6 << 20, cancel: cancel}, -1); err == nil {
		t.Fatal("Add whose context was cancelled half-way succeeded")
	}
	noLeftovers(t, h, d)
}

func testConcurrent(t *testing.T, h Harness) {
	d := h.New(t)
	const writers = 6
	datas := make([][]byte, writers)
	locs := make([]string, writers)
	errc := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		datas[i] = randBytes(int64(512<<10 + i*4099))
		wg.Go(func() {
			loc, _, err := d.Add(ctxT(t), "conc-"+strconv.Itoa(i), bytes.NewReader(datas[i]), -1)
			locs[i], errc[i] = loc, err
		})
	}
	wg.Wait()
	for i := range writers {
		if errc[i] != nil {
			t.Fatalf("writer %d: %v", i, errc[i])
		}
		if got := readAll(t, d, locs[i], 0); !bytes.Equal(got, datas[i]) {
			t.Errorf("writer %d: data differs", i)
		}
	}
	// Concurrent writers of one id: exactly one wins, the others conflict
	// or fail, and what is stored is one writer's data, whole.
	var won []string
	var mu sync.Mutex
	same := make([][]byte, writers)
	for i := range writers {
		same[i] = randBytes(256 << 10)
		wg.Go(func() {
			loc, _, err := d.Add(ctxT(t), "same", bytes.NewReader(same[i]), -1)
			if err == nil {
				mu.Lock()
				won = append(won, loc)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(won) == 0 {
		t.Fatal("no writer of the same id succeeded")
	}
	got := readAll(t, d, won[0], 0)
	whole := false
	for _, s := range same {
		whole = whole || bytes.Equal(got, s)
	}
	if !whole {
		t.Error("concurrent writers of one id left a mix of their data")
	}
	for _, l := range append(locs, won[0]) {
		d.Delete(ctxT(t), l)
	}
	noLeftovers(t, h, d)
}

func testBadCredentials(t *testing.T, h Harness) {
	d := h.BadCredentials(t)
	err := d.Check(ctxT(t))
	if err == nil {
		t.Fatal("Check with bad credentials succeeded")
	}
	if k := errs.KindOf(err); k != errs.Unauthorized && k != errs.Forbidden && k != errs.Unavailable {
		t.Errorf("Check with bad credentials: kind %v (%v), want unauthorized, forbidden or unavailable", k, err)
	}
	if msg := strings.ToLower(err.Error()); !strings.Contains(msg, "credential") && !strings.Contains(msg, "auth") && !strings.Contains(msg, "denied") {
		t.Errorf("Check with bad credentials does not say so: %v", err)
	}
	if _, _, err := d.Add(ctxT(t), "nope", strings.NewReader("x"), 1); err == nil {
		t.Error("Add with bad credentials succeeded")
	}
}

func testReadOnly(t *testing.T, h Harness) {
	d := h.New(t)
	if _, _, err := d.Add(ctxT(t), "x", strings.NewReader("x"), 1); !errs.Is(errs.Forbidden, err) {
		t.Errorf("Add on a read-only store: %v, want Forbidden", err)
	}
	loc := h.Put(t, d, "ro", []byte("data"))
	if err := d.Delete(ctxT(t), loc); !errs.Is(errs.Forbidden, err) {
		t.Errorf("Delete on a read-only store: %v, want Forbidden", err)
	}
}

func testReadOnlyRoundTrip(t *testing.T, h Harness) {
	d := h.New(t)
	for _, size := range append([]int64{0, 1, 1<<20 + 13}, h.SmallSizes...) {
		data := randBytes(size)
		loc := h.Put(t, d, "ro-"+strconv.FormatInt(size, 10), data)
		if got, err := d.Size(ctxT(t), loc); err != nil || got != size {
			t.Errorf("Size = %d, %v; want %d", got, err, size)
		}
		for _, off := range []int64{0, size / 2, size} {
			if got := readAll(t, d, loc, off); !bytes.Equal(got, data[off:]) {
				t.Errorf("size %d from %d: wrong bytes", size, off)
			}
		}
	}
	missing := h.Put(t, d, "ro-missing", nil)
	missing += ".not-there"
	if _, err := d.Get(ctxT(t), missing, 0); !errs.Is(errs.NotFound, err) {
		t.Errorf("Get of a missing location: %v, want NotFound", err)
	}
}

// BigSizeFor resolves the big stream's length from the environment.
func BigSizeFor(def int64) int64 {
	if def == 0 {
		def = DefaultBigSize
	}
	v := os.Getenv("GLINT_STORETEST_BIG")
	if v == "" {
		return def
	}
	mult := int64(1)
	switch {
	case strings.HasSuffix(v, "G"):
		mult, v = 1<<30, strings.TrimSuffix(v, "G")
	case strings.HasSuffix(v, "M"):
		mult, v = 1<<20, strings.TrimSuffix(v, "M")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return def
	}
	return n * mult
}

func testBig(t *testing.T, h Harness) {
	size := BigSizeFor(h.BigSize)
	if size <= 0 {
		t.Skip("GLINT_STORETEST_BIG=0")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	d := h.New(t)
	runtime.GC()
	base := heapInUse()
	src := NewStream(size)
	loc, n, err := d.Add(ctxT(t), "big", src, size)
	if err != nil {
		t.Fatalf("Add of %d bytes: %v", size, err)
	}
	defer d.Delete(ctxT(t), loc)
	if n != size {
		t.Fatalf("Add wrote %d bytes, want %d", n, size)
	}
	if grew := src.PeakHeap - base; grew > maxHeapGrowth {
		t.Errorf("heap grew by %d MiB while writing %d MiB: the driver buffers the image", grew>>20, size>>20)
	}
	if got, err := d.Size(ctxT(t), loc); err != nil || got != size {
		t.Fatalf("Size = %d, %v; want %d", got, err, size)
	}
	rc, err := d.Get(ctxT(t), loc, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	sink := &heapSampler{h: sha256.New()}
	got, err := io.Copy(sink, rc)
	if err != nil || got != size {
		t.Fatalf("read back %d bytes, %v; want %d", got, err, size)
	}
	if !bytes.Equal(sink.h.Sum(nil), src.Sum()) {
		t.Fatal("read back data differs from what was written")
	}
	if grew := sink.peak - base; grew > maxHeapGrowth {
		t.Errorf("heap grew by %d MiB while reading %d MiB: the driver buffers the image", grew>>20, size>>20)
	}
	// A read from deep inside the stream.
	off := size - 3<<20 - 17
	rc2, err := d.Get(ctxT(t), loc, off)
	if err != nil {
		t.Fatal(err)
	}
	tail, err := io.ReadAll(rc2)
	rc2.Close()
	if err != nil || int64(len(tail)) != size-off {
		t.Fatalf("read from %d: %d bytes, %v", off, len(tail), err)
	}
	if !bytes.Equal(tail, StreamBytes(off, size-off)) {
		t.Error("read from deep offset returned the wrong bytes")
	}
}

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

const blockSize = 1 << 20

// Stream is a reproducible stream of n bytes, generated as it is read, in
// 1 MiB blocks: every fourth block is zeros, two in four runs of zeros
// (so sparse writing has something to skip), the rest random-looking
// data stamped with its block number. It records the peak heap in use.
type Stream struct {
	n, off   int64
	h        interface{ Sum([]byte) []byte }
	w        io.Writer
	PeakHeap uint64
	next     int64
}

var (
	patOnce sync.Once
	pat     []byte
)

func pattern() []byte {
	patOnce.Do(func() {
		// Fixed, so that StreamBytes can regenerate any slice.
		pat = make([]byte, blockSize)
		var x uint64 = 0x9E3779B97F4A7C15
		for i := 0; i < len(pat); i += 8 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			binary.LittleEndian.PutUint64(pat[i:], x)
		}
	})
	return pat
}

// NewStream returns a Stream of n bytes.
func NewStream(n int64) *Stream {
	h := sha256.New()
	return &Stream{n: n, h: h, w: h}
}

// Sum is the SHA-256 of the bytes read so far.
func (s *Stream) Sum() []byte { return s.h.Sum(nil) }

// fill writes the stream's bytes [off, off+len(p)) into p.
func fill(p []byte, off int64) {
	pt := pattern()
	for len(p) > 0 {
		blk := off / blockSize
		in := off % blockSize
		m := min(int64(len(p)), blockSize-in)
		if blk%4 == 1 || blk%4 == 2 {
			clear(p[:m])
		} else {
			copy(p[:m], pt[in:in+m])
			// Stamp the block number over the first 8 bytes of the block.
			var stamp [8]byte
			binary.LittleEndian.PutUint64(stamp[:], uint64(blk))
			for i := in; i < 8 && i < in+m; i++ {
				p[i-in] = stamp[i]
			}
		}
		p, off = p[m:], off+m
	}
}

// StreamBytes returns bytes [off, off+n) of any Stream.
func StreamBytes(off, n int64) []byte {
	b := make([]byte, n)
	fill(b, off)
	return b
}

func (s *Stream) Read(p []byte) (int, error) {
	if s.off >= s.n {
		return 0, io.EOF
	}
	m := min(int64(len(p)), s.n-s.off)
	fill(p[:m], s.off)
	s.w.Write(p[:m])
	s.off += m
	if s.off >= s.next {
		s.next += 64 << 20
		s.PeakHeap = max(s.PeakHeap, heapInUse())
	}
	return int(m), nil
}

type heapSampler struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n, next int64
	peak    uint64
}

func (s *heapSampler) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	if s.n >= s.next {
		s.next += 64 << 20
		s.peak = max(s.peak, heapInUse())
	}
	return s.h.Write(p)
}
