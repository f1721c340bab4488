// Package storetest is the conformance suite every store driver passes
// unchanged, against its real backend, through the portable store.Store:
// round trips from empty to multi-GiB streams with flat memory, offsets,
// deleting what is not there, failed, cancelled and mis-sized writes
// leaving nothing behind, concurrent writers, duplicates and bad
// credentials; and what the Store does for every driver: invalid image IDs
// and read-only stores refused before the driver is asked, the hashes and
// the format inspection of what was written, errors that carry their Kind
// and the store's name, and no credentials in any error. A driver's test
// builds a Harness and calls Run.
package storetest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"glint/internal/errs"
	"glint/internal/imageformat"
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
	// Secrets are the credentials of the drivers New and BadCredentials
	// make (keys, passwords), which no error may show.
	Secrets []string
	// BigSize is the length of the multi-GiB round trip; 0 means
	// DefaultBigSize. GLINT_STORETEST_BIG (bytes, or with a G/M suffix)
	// overrides it, "0" skips it.
	BigSize int64
	// SmallSizes are extra sizes to round-trip, e.g. around a driver's
	// chunk or segment size.
	SmallSizes []int64
	// UseOutside, for drivers whose data can be used outside Glint
	// (store.InUseReporter: an RBD snapshot cloned by Nova or Cinder),
	// makes the data at loc in use as such a user would, and returns
	// what ends that use.
	UseOutside func(t *testing.T, d store.Driver, loc string) (release func())
	// Allocated, when set, returns the bytes the backend holds for the
	// data at loc; with Thin the suite checks that runs of zeros take
	// no space.
	Allocated func(t *testing.T, d store.Driver, loc string) int64
	// Thin says the driver New makes claims thin provisioning.
	Thin bool
	// ThinChunk is the granularity of the driver's zero detection: a
	// run of zeros shorter than this, or not aligned to it, may be
	// written.
	ThinChunk int64
}

// DefaultBigSize is the multi-GiB stream each driver round-trips in CI.
const DefaultBigSize = 2 << 30

// maxHeapGrowth is how much the heap may grow during the big round trip:
// a streaming driver holds a few chunks, never the image.
const maxHeapGrowth = 192 << 20

// storeName is the name the suite gives its stores; every error names it.
const storeName = "conformance-store"

// hashAlgo is the os_hash algorithm of the suite's writes (Glance's default).
const hashAlgo = "sha512"

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	t.Helper()
	ro := open(t, h).ReadOnly()
	t.Run("Check", func(t *testing.T) { testCheck(t, h) })
	if ro {
		t.Run("ReadOnly", func(t *testing.T) { testReadOnly(t, h) })
		t.Run("ReadOnlyRoundTrip", func(t *testing.T) { testReadOnlyRoundTrip(t, h) })
		return
	}
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, h) })
	t.Run("Hashes", func(t *testing.T) { testHashes(t, h) })
	t.Run("Offsets", func(t *testing.T) { testOffsets(t, h) })
	t.Run("DeleteMissing", func(t *testing.T) { testDeleteMissing(t, h) })
	t.Run("Duplicate", func(t *testing.T) { testDuplicate(t, h) })
	t.Run("InvalidIDs", func(t *testing.T) { testInvalidIDs(t, h) })
	t.Run("SizeMismatch", func(t *testing.T) { testSizeMismatch(t, h) })
	t.Run("FailingReader", func(t *testing.T) { testFailingReader(t, h) })
	t.Run("Cancelled", func(t *testing.T) { testCancelled(t, h) })
	t.Run("ConcurrentWriters", func(t *testing.T) { testConcurrent(t, h) })
	if h.BadCredentials != nil {
		t.Run("BadCredentials", func(t *testing.T) { testBadCredentials(t, h) })
	}
	if h.UseOutside != nil {
		t.Run("InUse", func(t *testing.T) { testInUse(t, h) })
	}
	if h.Thin && h.Allocated != nil {
		t.Run("ThinProvisioning", func(t *testing.T) { testThin(t, h) })
	}
	t.Run("Big", func(t *testing.T) { testBig(t, h) })
}

func ctxT(t *testing.T) context.Context { return t.Context() }

// open makes a store over a new driver of the harness.
func open(t *testing.T, h Harness) *store.Store {
	t.Helper()
	return wrap(h.New(t))
}

func wrap(d store.Driver) *store.Store {
	return &store.Store{Name: storeName, Type: d.Scheme(), Driver: d}
}

func randBytes(n int64) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func checkLocation(t *testing.T, st *store.Store, loc string) {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		// The error would show the location's credentials.
		t.Fatalf("location %q does not parse", store.Redact(loc))
	}
	base := func(s string) string { b, _, _ := strings.Cut(s, "+"); return b }
	scheme := st.Driver.Scheme()
	if base(u.Scheme) != base(scheme) && !(scheme == "file" && u.Scheme == "filesystem") {
		t.Errorf("location %q: scheme is not the driver's %q", store.Redact(loc), scheme)
	}
}

func readAll(t *testing.T, st *store.Store, loc string, off int64) []byte {
	t.Helper()
	rc, err := st.Open(ctxT(t), loc, off)
	if err != nil {
		t.Fatalf("Open(%q, %d): %v", store.Redact(loc), off, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q from %d: %v", store.Redact(loc), off, err)
	}
	return b
}

func write(t *testing.T, st *store.Store, id string, data []byte, announce bool) store.Written {
	t.Helper()
	size := int64(-1)
	if announce {
		size = int64(len(data))
	}
	w, err := st.Write(ctxT(t), id, bytes.NewReader(data), size, hashAlgo)
	if err != nil {
		t.Fatalf("Write(%s, %d bytes): %v", id, len(data), err)
	}
	if w.Size != int64(len(data)) {
		t.Fatalf("Write(%s) wrote %d bytes, want %d", id, w.Size, len(data))
	}
	checkLocation(t, st, w.Location)
	return w
}

// noLeftovers checks that the backend holds nothing for the harness's
// driver d (of a Store, or under a spy).
func noLeftovers(t *testing.T, h Harness, d store.Driver) {
	t.Helper()
	if h.Leftovers == nil {
		return
	}
	if sp, ok := d.(*spy); ok {
		d = sp.Writable
	}
	if left := h.Leftovers(t, d); len(left) > 0 {
		t.Errorf("left behind in the store: %q", left)
	}
}

// checkErr checks what every error of a Store carries: the Kind want,
// the store's name, and none of the harness's secrets.
func checkErr(t *testing.T, h Harness, what string, err error, want errs.Kind) {
	t.Helper()
	if err == nil {
		t.Errorf("%s succeeded, want %v", what, want)
		return
	}
	if k := errs.KindOf(err); k != want {
		t.Errorf("%s: kind %v (%v), want %v", what, k, err, want)
	}
	checkNamed(t, h, what, err)
}

// checkNamed checks that err names the store and hides the secrets.
func checkNamed(t *testing.T, h Harness, what string, err error) {
	t.Helper()
	var se *store.Error
	if !errors.As(err, &se) || se.Store != storeName {
		t.Errorf("%s: error %v is not a *store.Error of store %s", what, err, storeName)
	}
	if !strings.Contains(err.Error(), storeName) {
		t.Errorf("%s: error %q does not name the store", what, err)
	}
	for _, sec := range h.Secrets {
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec)} {
			if strings.Contains(err.Error(), form) || strings.Contains(errs.Message(err), form) {
				t.Errorf("%s: error %q shows a credential", what, err)
			}
		}
	}
}

// spy counts the calls that reach a writable driver.
type spy struct {
	store.Writable
	calls atomic.Int32
}

func (s *spy) Add(ctx context.Context, id string, r io.Reader, size int64) (string, int64, error) {
	s.calls.Add(1)
	return s.Writable.Add(ctx, id, r, size)
}

func (s *spy) Delete(ctx context.Context, loc string) error {
	s.calls.Add(1)
	return s.Writable.Delete(ctx, loc)
}

func (s *spy) Get(ctx context.Context, loc string, off int64) (io.ReadCloser, error) {
	s.calls.Add(1)
	return s.Writable.Get(ctx, loc, off)
}

func (s *spy) Size(ctx context.Context, loc string) (int64, error) {
	s.calls.Add(1)
	return s.Writable.Size(ctx, loc)
}

func testCheck(t *testing.T, h Harness) {
	st := open(t, h)
	if err := st.Check(ctxT(t)); err != nil {
		t.Fatalf("Check on a working store: %v", err)
	}
	noLeftovers(t, h, st.Driver)
}

func testRoundTrip(t *testing.T, h Harness) {
	st := open(t, h)
	if st.ReadOnly() {
		t.Fatal("a driver with Add and Delete is read-only")
	}
	sizes := append([]int64{0, 1, 4097, 1<<20 + 13}, h.SmallSizes...)
	for i, size := range sizes {
		for _, announce := range []bool{true, false} {
			t.Run(fmt.Sprintf("%d/announced=%v", size, announce), func(t *testing.T) {
				data := randBytes(size)
				id := fmt.Sprintf("rt-%d-%v", i, announce)
				w := write(t, st, id, data, announce)
				checkSums(t, w, data, hashAlgo)
				loc := w.Location
				if got, err := st.Size(ctxT(t), loc); err != nil || got != size {
					t.Fatalf("Size = %d, %v; want %d", got, err, size)
				}
				if got := readAll(t, st, loc, 0); !bytes.Equal(got, data) {
					t.Fatalf("read back %d bytes, not the %d written", len(got), size)
				}
				if err := st.Delete(ctxT(t), loc); err != nil {
					t.Fatalf("Delete: %v", err)
				}
				_, err := st.Size(ctxT(t), loc)
				checkErr(t, h, "Size after Delete", err, errs.NotFound)
			})
		}
	}
	noLeftovers(t, h, st.Driver)
}

// checkSums compares what Write reports with the data's own sums and
// inspection.
func checkSums(t *testing.T, w store.Written, data []byte, algo string) {
	t.Helper()
	md := md5.Sum(data)
	mh, err := store.NewHash(algo)
	if err != nil {
		t.Fatal(err)
	}
	mh.Write(data)
	insp := imageformat.New()
	insp.Write(data)
	switch {
	case w.Checksum != hex.EncodeToString(md[:]):
		t.Errorf("checksum %s, want the data's md5 %x", w.Checksum, md)
	case w.HashAlgo != algo:
		t.Errorf("os_hash_algo %s, want %s", w.HashAlgo, algo)
	case w.HashValue != hex.EncodeToString(mh.Sum(nil)):
		t.Errorf("os_hash_value %s is not the data's %s", w.HashValue, algo)
	case !reflect.DeepEqual(w.Format, insp.Result()):
		t.Errorf("inspection %+v, want %+v", w.Format, insp.Result())
	}
}

// qcow2 is a qcow2 v2 header declaring a 1 GiB disk, then n bytes of data.
func qcow2(n int) []byte {
	b := make([]byte, 4096+n)
	copy(b, "QFI\xfb")
	binary.BigEndian.PutUint32(b[4:], 2)
	binary.BigEndian.PutUint32(b[20:], 16) // cluster bits
	binary.BigEndian.PutUint64(b[24:], 1<<30)
	rand.Read(b[4096:])
	return b
}

// testHashes: the sums and the inspection of what was written are the
// data's, for every os_hash algorithm, announced or not, across chunks.
func testHashes(t *testing.T, h Harness) {
	st := open(t, h)
	data := qcow2(3<<20 + 5)
	for i, algo := range []string{"sha512", "sha256", "sha1", "md5"} {
		for _, size := range []int64{int64(len(data)), -1} {
			w, err := st.Write(ctxT(t), fmt.Sprintf("hash-%d-%d", i, size), bytes.NewReader(data), size, algo)
			if err != nil {
				t.Fatalf("Write with %s: %v", algo, err)
			}
			checkSums(t, w, data, algo)
			if w.Format.Format != "qcow2" || w.Format.VirtualSize != 1<<30 {
				t.Errorf("%s: inspected as %s of %d bytes, want qcow2 of 1 GiB", algo, w.Format.Format, w.Format.VirtualSize)
			}
			if err := st.Delete(ctxT(t), w.Location); err != nil {
				t.Fatal(err)
			}
		}
	}
	// An algorithm Glance does not know is refused before anything is written.
	_, err := st.Write(ctxT(t), "hash-bad", bytes.NewReader(data), -1, "crc32")
	checkErr(t, h, "Write with an unknown hash", err, errs.Internal)
	noLeftovers(t, h, st.Driver)
}

func testOffsets(t *testing.T, h Harness) {
	st := open(t, h)
	data := randBytes(3<<20 + 5)
	loc := write(t, st, "offsets", data, true).Location
	defer st.Delete(ctxT(t), loc)
	n := int64(len(data))
	for _, off := range []int64{0, 1, 65535, n / 2, n - 1, n} {
		if got := readAll(t, st, loc, off); !bytes.Equal(got, data[off:]) {
			t.Errorf("Open from %d: %d bytes, want %d", off, len(got), n-off)
		}
	}
	// A range: read a slice from an offset, then close early.
	rc, err := st.Open(ctxT(t), loc, 1<<20)
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
	_, err = st.Open(ctxT(t), loc, -1)
	checkErr(t, h, "Open from -1", err, errs.Invalid)
}

func testDeleteMissing(t *testing.T, h Harness) {
	st := open(t, h)
	loc := write(t, st, "gone", []byte("x"), true).Location
	if err := st.Delete(ctxT(t), loc); err != nil {
		t.Fatal(err)
	}
	err := st.Delete(ctxT(t), loc)
	checkErr(t, h, "Delete of a deleted location", err, errs.NotFound)
	_, err = st.Open(ctxT(t), loc, 0)
	checkErr(t, h, "Open of a deleted location", err, errs.NotFound)
	_, err = st.Size(ctxT(t), loc)
	checkErr(t, h, "Size of a deleted location", err, errs.NotFound)
	var se *store.Error
	if errors.As(err, &se) && se.Location != store.Redact(loc) {
		t.Errorf("error's location %q, want %q", se.Location, store.Redact(loc))
	}
	noLeftovers(t, h, st.Driver)
}

func testDuplicate(t *testing.T, h Harness) {
	st := open(t, h)
	loc := write(t, st, "dup", []byte("first"), true).Location
	_, err := st.Write(ctxT(t), "dup", strings.NewReader("second"), 6, hashAlgo)
	checkErr(t, h, "Write over existing data", err, errs.Conflict)
	if got := readAll(t, st, loc, 0); string(got) != "first" {
		t.Errorf("existing data became %q", got)
	}
	st.Delete(ctxT(t), loc)
}

// testInvalidIDs: an image ID that could name something else than the
// image's data is refused before the driver is asked.
func testInvalidIDs(t *testing.T, h Harness) {
	d := h.New(t)
	sp := &spy{Writable: d.(store.Writable)}
	st := wrap(sp)
	for _, id := range []string{"", ".", "..", ".hidden", "../x", "a/b", "/abs", "a\\b", "a\x00b", "a b", "a?b", "a%2Fb", "é", strings.Repeat("x", 201)} {
		_, err := st.Write(ctxT(t), id, strings.NewReader("x"), 1, hashAlgo)
		checkErr(t, h, fmt.Sprintf("Write(%q)", id), err, errs.Invalid)
		err = st.RemovePartial(ctxT(t), id)
		checkErr(t, h, fmt.Sprintf("RemovePartial(%q)", id), err, errs.Invalid)
	}
	if n := sp.calls.Load(); n != 0 {
		t.Errorf("the driver was called %d times for invalid IDs", n)
	}
	if err := st.RemovePartial(ctxT(t), "valid-id"); err != nil {
		t.Errorf("RemovePartial of an ID with nothing partial: %v", err)
	}
	noLeftovers(t, h, st.Driver)
}

// testSizeMismatch: data longer or shorter than announced is refused
// whole, below and above a driver's single-request size.
func testSizeMismatch(t *testing.T, h Harness) {
	st := open(t, h)
	big := int64(12 << 20)
	for _, h := range h.SmallSizes {
		big = max(big, h+1)
	}
	for _, c := range []struct{ data, announced int64 }{
		{1<<20 + 13, 1<<20 + 12}, {1<<20 + 13, 1<<20 + 14}, {0, 1}, {1, 0},
		{big - 3<<20, big}, {big, big - 3<<20},
	} {
		_, err := st.Write(ctxT(t), "mis", bytes.NewReader(randBytes(c.data)), c.announced, hashAlgo)
		checkErr(t, h, fmt.Sprintf("Write of %d bytes announced as %d", c.data, c.announced), err, errs.Invalid)
		if m := errs.Message(err); !strings.Contains(m, "size mismatch") {
			t.Errorf("size mismatch message %q", m)
		}
	}
	noLeftovers(t, h, st.Driver)
	write(t, st, "mis", []byte("ok"), true) // the id is usable after the failures
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
	st := open(t, h)
	for _, size := range []int64{-1, 12 << 20} {
		// net/http reports a client gone mid-body as io.ErrUnexpectedEOF,
		// which a reader may wrap: still a failure, not the data's end.
		gone := fmt.Errorf("the client stopped sending: %w", io.ErrUnexpectedEOF)
		_, err := st.Write(ctxT(t), "gone", &failingReader{n: 3<<20 + 17, err: gone}, size, hashAlgo)
		if !errors.Is(err, gone) {
			t.Errorf("Write from a reader failing with a wrapped io.ErrUnexpectedEOF: %v, want its error", err)
		}
		boom := errors.New("client went away")
		_, err = st.Write(ctxT(t), "half", &failingReader{n: 6 << 20, err: boom}, size, hashAlgo)
		if !errors.Is(err, boom) {
			t.Errorf("Write from a reader that fails half-way: %v, want its error", err)
		}
		checkNamed(t, h, "Write from a failing reader", err)
		// The reader's classified error (the service's size cap, say)
		// reaches the caller with its Kind and words.
		capErr := errs.E(errs.Op("test.cap"), errs.TooLarge, "The incoming image is too large")
		_, err = st.Write(ctxT(t), "capped", &failingReader{n: 1 << 20, err: capErr}, size, hashAlgo)
		checkErr(t, h, "Write from a reader failing with a TooLarge error", err, errs.TooLarge)
		if m := errs.Message(err); m != "The incoming image is too large" {
			t.Errorf("the reader's message became %q", m)
		}
	}
	noLeftovers(t, h, st.Driver)
	// The id is usable after the failure.
	loc := write(t, st, "half", []byte("ok"), true).Location
	st.Delete(ctxT(t), loc)
}

// cancelReader cancels its context after n bytes.
type cancelReader struct {
	n      int64
	cancel context.CancelFunc
}

func (c *cancelReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
		// Keep yielding data: the Store must notice the context itself.
	}
	m := min(len(p), 64<<10)
	rand.Read(p[:m])
	c.n -= int64(m)
	return m, nil
}

func testCancelled(t *testing.T, h Harness) {
	d := h.New(t)
	sp := &spy{Writable: d.(store.Writable)}
	st := wrap(sp)
	for _, size := range []int64{-1, 12 << 20} {
		ctx, cancel := context.WithCancel(ctxT(t))
		_, err := st.Write(ctx, "cancelled", &cancelReader{n: 6 << 20, cancel: cancel}, size, hashAlgo)
		cancel()
		checkErr(t, h, "Write whose context was cancelled half-way", err, errs.Invalid)
	}
	noLeftovers(t, h, st.Driver)
	// A context cancelled already: the driver is not asked.
	ctx, cancel := context.WithCancel(ctxT(t))
	cancel()
	calls := sp.calls.Load()
	_, err := st.Write(ctx, "cancelled", strings.NewReader("x"), 1, hashAlgo)
	checkErr(t, h, "Write with a cancelled context", err, errs.Invalid)
	_, err = st.Open(ctx, "x", 0)
	checkErr(t, h, "Open with a cancelled context", err, errs.Unavailable)
	if n := sp.calls.Load() - calls; n != 0 {
		t.Errorf("the driver was called %d times with a cancelled context", n)
	}
	noLeftovers(t, h, st.Driver)
}

func testConcurrent(t *testing.T, h Harness) {
	st := open(t, h)
	const writers = 6
	datas := make([][]byte, writers)
	locs := make([]string, writers)
	errc := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		datas[i] = randBytes(int64(512<<10 + i*4099))
		wg.Go(func() {
			w, err := st.Write(ctxT(t), "conc-"+strconv.Itoa(i), bytes.NewReader(datas[i]), -1, hashAlgo)
			locs[i], errc[i] = w.Location, err
		})
	}
	wg.Wait()
	for i := range writers {
		if errc[i] != nil {
			t.Fatalf("writer %d: %v", i, errc[i])
		}
		if got := readAll(t, st, locs[i], 0); !bytes.Equal(got, datas[i]) {
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
			w, err := st.Write(ctxT(t), "same", bytes.NewReader(same[i]), -1, hashAlgo)
			if err == nil {
				mu.Lock()
				won = append(won, w.Location)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(won) == 0 {
		t.Fatal("no writer of the same id succeeded")
	}
	got := readAll(t, st, won[0], 0)
	whole := false
	for _, s := range same {
		whole = whole || bytes.Equal(got, s)
	}
	if !whole {
		t.Error("concurrent writers of one id left a mix of their data")
	}
	for _, l := range append(locs, won[0]) {
		st.Delete(ctxT(t), l)
	}
	noLeftovers(t, h, st.Driver)
}

func testBadCredentials(t *testing.T, h Harness) {
	st := wrap(h.BadCredentials(t))
	err := st.Check(ctxT(t))
	if err == nil {
		t.Fatal("Check with bad credentials succeeded")
	}
	if k := errs.KindOf(err); k != errs.Unauthorized && k != errs.Forbidden && k != errs.Unavailable {
		t.Errorf("Check with bad credentials: kind %v (%v), want unauthorized, forbidden or unavailable", k, err)
	}
	if msg := strings.ToLower(err.Error()); !strings.Contains(msg, "credential") && !strings.Contains(msg, "auth") && !strings.Contains(msg, "denied") {
		t.Errorf("Check with bad credentials does not say so: %v", err)
	}
	checkNamed(t, h, "Check with bad credentials", err)
	_, err = st.Write(ctxT(t), "nope", strings.NewReader("x"), 1, hashAlgo)
	if err == nil {
		t.Fatal("Write with bad credentials succeeded")
	}
	checkNamed(t, h, "Write with bad credentials", err)
}

// testInUse: data used outside Glint is reported in use, and its Delete
// is refused (Conflict, glance_store's words) with the data kept whole;
// once the use ends it is deleted and nothing is left.
func testInUse(t *testing.T, h Harness) {
	st := open(t, h)
	if _, ok := st.Driver.(store.InUseReporter); !ok {
		t.Fatal("the harness makes data in use but the driver is no store.InUseReporter")
	}
	data := randBytes(1<<20 + 7)
	loc := write(t, st, "in-use", data, true).Location
	if used, err := st.InUse(ctxT(t), loc); err != nil || used {
		t.Fatalf("InUse of fresh data = %v, %v; want false", used, err)
	}
	release := h.UseOutside(t, st.Driver, loc)
	if used, err := st.InUse(ctxT(t), loc); err != nil || !used {
		t.Fatalf("InUse of data used outside = %v, %v; want true", used, err)
	}
	err := st.Delete(ctxT(t), loc)
	checkErr(t, h, "Delete of data in use", err, errs.Conflict)
	if m := errs.Message(err); m != store.InUseMessage {
		t.Errorf("Delete of data in use says %q, want %q", m, store.InUseMessage)
	}
	if got := readAll(t, st, loc, 0); !bytes.Equal(got, data) {
		t.Fatal("data in use changed by a refused Delete")
	}
	release()
	if used, err := st.InUse(ctxT(t), loc); err != nil || used {
		t.Fatalf("InUse once released = %v, %v; want false", used, err)
	}
	if err := st.Delete(ctxT(t), loc); err != nil {
		t.Fatalf("Delete once released: %v", err)
	}
	_, err = st.InUse(ctxT(t), loc)
	if err != nil && !errs.Is(errs.NotFound, err) {
		t.Errorf("InUse of deleted data: %v", err)
	}
	noLeftovers(t, h, st.Driver)
}

// testThin: a driver that claims thin provisioning stores runs of zeros
// (whole, aligned chunks of them) without allocating space, and reads
// them back as zeros.
func testThin(t *testing.T, h Harness) {
	st := open(t, h)
	chunk := max(h.ThinChunk, 1<<20)
	// 16 chunks, data in chunks 3 and 11 only, size announced and not.
	data := make([]byte, 16*chunk)
	copy(data[3*chunk:], randBytes(chunk))
	copy(data[11*chunk:], randBytes(chunk/2))
	for _, announce := range []bool{true, false} {
		w := write(t, st, fmt.Sprintf("thin-%v", announce), data, announce)
		if got := readAll(t, st, w.Location, 0); !bytes.Equal(got, data) {
			t.Fatal("thin data read back differs")
		}
		if n := h.Allocated(t, st.Driver, w.Location); n > 2*chunk {
			t.Errorf("announced=%v: %d bytes allocated for %d bytes holding 1.5 chunks of data", announce, n, len(data))
		}
		if err := st.Delete(ctxT(t), w.Location); err != nil {
			t.Fatal(err)
		}
	}
	noLeftovers(t, h, st.Driver)
}

func testReadOnly(t *testing.T, h Harness) {
	st := open(t, h)
	if _, ok := st.Driver.(store.Writable); ok {
		t.Fatal("a read-only driver has Add and Delete")
	}
	_, err := st.Write(ctxT(t), "x", strings.NewReader("x"), 1, hashAlgo)
	checkErr(t, h, "Write on a read-only store", err, errs.Forbidden)
	loc := h.Put(t, st.Driver, "ro", []byte("data"))
	err = st.Delete(ctxT(t), loc)
	checkErr(t, h, "Delete on a read-only store", err, errs.Forbidden)
	if got := readAll(t, st, loc, 0); string(got) != "data" {
		t.Errorf("data became %q after a refused Delete", got)
	}
}

func testReadOnlyRoundTrip(t *testing.T, h Harness) {
	st := open(t, h)
	for _, size := range append([]int64{0, 1, 1<<20 + 13}, h.SmallSizes...) {
		data := randBytes(size)
		loc := h.Put(t, st.Driver, "ro-"+strconv.FormatInt(size, 10), data)
		if got, err := st.Size(ctxT(t), loc); err != nil || got != size {
			t.Errorf("Size = %d, %v; want %d", got, err, size)
		}
		for _, off := range []int64{0, size / 2, size} {
			if got := readAll(t, st, loc, off); !bytes.Equal(got, data[off:]) {
				t.Errorf("size %d from %d: wrong bytes", size, off)
			}
		}
	}
	missing := h.Put(t, st.Driver, "ro-missing", nil)
	missing += ".not-there"
	_, err := st.Open(ctxT(t), missing, 0)
	checkErr(t, h, "Open of a missing location", err, errs.NotFound)
	_, err = st.Size(ctxT(t), missing)
	checkErr(t, h, "Size of a missing location", err, errs.NotFound)
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
	st := open(t, h)
	runtime.GC()
	base := heapInUse()
	src := NewStream(size)
	w, err := st.Write(ctxT(t), "big", src, size, hashAlgo)
	if err != nil {
		t.Fatalf("Write of %d bytes: %v", size, err)
	}
	loc := w.Location
	defer st.Delete(ctxT(t), loc)
	if w.Size != size {
		t.Fatalf("Write wrote %d bytes, want %d", w.Size, size)
	}
	if grew := src.PeakHeap - base; grew > maxHeapGrowth {
		t.Errorf("heap grew by %d MiB while writing %d MiB: the driver buffers the image", grew>>20, size>>20)
	}
	if got, err := st.Size(ctxT(t), loc); err != nil || got != size {
		t.Fatalf("Size = %d, %v; want %d", got, err, size)
	}
	rc, err := st.Open(ctxT(t), loc, 0)
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
	rc2, err := st.Open(ctxT(t), loc, off)
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
