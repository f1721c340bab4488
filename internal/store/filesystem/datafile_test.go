package filesystem

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// Whatever sizes and alignments the writes come in, the file holds the
// bytes in order, with and without O_DIRECT.
func TestDataFile(t *testing.T) {
	pieces := map[string][]int{
		"aligned chunks":       {1 << 20, 1 << 20, 1 << 20},
		"aligned then tail":    {1 << 20, 1 << 20, 5000},
		"tail only":            {100},
		"unaligned lengths":    {4095, 1, 8193, 12288, 7, 1 << 20, 3},
		"larger than staging":  {3<<20 + 17},
		"offset slice":         {-1, 1 << 20, 4096},
		"exactly one block":    {4096},
		"past a flush":         {flushEvery/2 + 1, flushEvery / 2, 4096, 99},
		"nothing":              {},
		"one byte then blocks": {1, 4096, 4096},
	}
	for name, sizes := range pieces {
		for _, direct := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/direct=%v", name, direct), func(t *testing.T) {
				p := filepath.Join(t.TempDir(), "f")
				f, err := os.Create(p)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				w := newDataFile(f, direct)
				var want bytes.Buffer
				rng := rand.New(rand.NewPCG(1, uint64(len(sizes))))
				for i, n := range sizes {
					var b []byte
					if n < 0 {
						// A slice starting one byte into an aligned buffer.
						b = alignedBuffer(1<<20 + 1)[1:]
					} else {
						b = alignedBuffer(n)
					}
					for j := range b {
						b[j] = byte(rng.Uint32())
					}
					if got, err := w.Write(b); got != len(b) || err != nil {
						t.Fatalf("write %d: %d, %v", i, got, err)
					}
					want.Write(b)
				}
				if err := w.Finish(); err != nil {
					t.Fatal(err)
				}
				w.Abort() // after Finish: a no-op
				got, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want.Bytes()) {
					t.Fatalf("file has %d bytes, want %d (or different bytes)", len(got), want.Len())
				}
			})
		}
	}
}

// O_DIRECT is really in use on a filesystem that takes it.
func TestDataFileDirect(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := newDataFile(f, true)
	defer w.Abort()
	if !w.direct && setDirect(f, true) == nil {
		t.Fatal("O_DIRECT could be set but the data file does not use it")
	}
}

// Data is flushed while it is written, not only by the final fsync.
func TestDataFileFlushesInBackground(t *testing.T) {
	for _, direct := range []bool{false, true} {
		f, err := os.Create(filepath.Join(t.TempDir(), "f"))
		if err != nil {
			t.Fatal(err)
		}
		w := newDataFile(f, direct)
		b := alignedBuffer(1 << 20)
		for range 3 * flushEvery / len(b) {
			if _, err := w.Write(b); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Finish(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if w.flushes == 0 {
			t.Errorf("direct=%v: %d MiB written with no background flush", direct, 3*flushEvery>>20)
		}
	}
}

// Skip leaves holes, a trailing one included, and the file has its full length.
func TestDataFileSkip(t *testing.T) {
	for _, direct := range []bool{false, true} {
		p := filepath.Join(t.TempDir(), "f")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		w := newDataFile(f, direct)
		data := alignedBuffer(8192)
		for i := range data {
			data[i] = 0xAB
		}
		steps := []func() error{
			func() error { return w.Skip(4096) },
			func() error { _, err := w.Write(data); return err },
			func() error { return w.Skip(1 << 20) },
		}
		for _, s := range steps {
			if err := s(); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Finish(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]byte, 4096+8192+1<<20)
		copy(want[4096:], data)
		if !bytes.Equal(got, want) {
			t.Fatalf("direct=%v: file of %d bytes, want %d with data at 4096", direct, len(got), len(want))
		}
	}
}
