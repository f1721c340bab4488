package store

import (
	"bytes"
	"crypto/md5"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

func TestHashPipe(t *testing.T) {
	for _, size := range []int{0, 1, pipeChunkSize - 1, pipeChunkSize, pipeChunkSize + 1, 5*pipeChunkSize + 12345} {
		data := make([]byte, size)
		r := rand.New(rand.NewPCG(uint64(size), 1))
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		for _, mode := range []string{"read", "writeto", "onebyte"} {
			md, sh := md5.New(), sha512.New()
			var src io.Reader = bytes.NewReader(data)
			if mode == "onebyte" {
				src = iotest.OneByteReader(src)
			}
			p := newHashPipe(src, md, sh)
			var got bytes.Buffer
			var err error
			if mode == "writeto" {
				_, err = p.WriteTo(&got)
			} else {
				_, err = io.Copy(&got, struct{ io.Reader }{p})
			}
			p.Close()
			if err != nil || !bytes.Equal(got.Bytes(), data) {
				t.Fatalf("%d %s: %d bytes, %v", size, mode, got.Len(), err)
			}
			wm, ws := md5.Sum(data), sha512.Sum512(data)
			if !bytes.Equal(md.Sum(nil), wm[:]) || !bytes.Equal(sh.Sum(nil), ws[:]) {
				t.Fatalf("%d %s: wrong sums", size, mode)
			}
		}
	}
}

// TestHashPipeMemory: a small upload costs one small chunk; a large one
// never more than pipeChunks full ones.
func TestHashPipeMemory(t *testing.T) {
	for _, c := range []struct {
		size          int
		maxChunks     int
		maxChunkBytes int
	}{
		{0, 1, pipeFirstChunk},
		{4 << 10, 1, pipeFirstChunk},
		{pipeFirstChunk - 1, 1, pipeFirstChunk},
		{20 * pipeChunkSize, pipeChunks, pipeChunkSize},
	} {
		p := newHashPipe(bytes.NewReader(make([]byte, c.size)), md5.New())
		largest := 0
		var total int64
		for {
			if err := p.next(); err != nil {
				if err != io.EOF {
					t.Fatal(err)
				}
				break
			}
			largest = max(largest, len(p.cur.buf))
			total += int64(p.cur.n - p.off)
			p.off = p.cur.n
		}
		p.Close()
		if total != int64(c.size) || p.allocated > c.maxChunks || largest > c.maxChunkBytes {
			t.Errorf("%d bytes: read %d, %d chunks allocated (max %d), largest %d bytes (max %d)",
				c.size, total, p.allocated, c.maxChunks, largest, c.maxChunkBytes)
		}
	}
}

func TestHashPipeErrors(t *testing.T) {
	boom := errors.New("boom")
	p := newHashPipe(io.MultiReader(bytes.NewReader(make([]byte, 3*pipeChunkSize)), iotest.ErrReader(boom)), md5.New())
	_, err := io.Copy(io.Discard, struct{ io.Reader }{p})
	p.Close()
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want boom", err)
	}
	// A source error that wraps an end marker is still an error.
	gone := fmt.Errorf("client gone: %w", io.ErrUnexpectedEOF)
	for _, n := range []int{0, 100, pipeChunkSize} {
		p = newHashPipe(io.MultiReader(bytes.NewReader(make([]byte, n)), iotest.ErrReader(gone)), md5.New())
		_, err = p.WriteTo(io.Discard)
		p.Close()
		if !errors.Is(err, gone) {
			t.Fatalf("after %d bytes: error %v, want the source's", n, err)
		}
	}
	// A reader that stops early (the store failed) can close the pipe
	// without deadlock while the source still has data.
	p = newHashPipe(bytes.NewReader(make([]byte, 20*pipeChunkSize)), md5.New(), sha512.New())
	buf := make([]byte, 100)
	p.Read(buf)
	p.Close()
}

func BenchmarkUploadHashing(b *testing.B) {
	data := make([]byte, 64<<20)
	b.SetBytes(int64(len(data)))
	b.Run("serial-multiwriter", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			md, sh := md5.New(), sha512.New()
			io.Copy(io.Discard, io.TeeReader(bytes.NewReader(data), io.MultiWriter(md, sh)))
		}
	})
	b.Run("pipe-4KiB", func(b *testing.B) {
		small := data[:4<<10]
		b.SetBytes(int64(len(small)))
		b.ReportAllocs()
		for b.Loop() {
			p := newHashPipe(bytes.NewReader(small), md5.New(), sha512.New())
			p.WriteTo(io.Discard)
			p.Close()
		}
	})
	b.Run("pipe", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			p := newHashPipe(bytes.NewReader(data), md5.New(), sha512.New())
			p.WriteTo(io.Discard)
			p.Close()
		}
	})
}
