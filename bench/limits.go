package bench

import (
	"context"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Chunk is the unit of every stream the benchmark hashes or writes: 1 MiB.
const Chunk = 1 << 20

// Pattern is the content of every image the benchmark sends: a block of
// pseudo-random bytes (fixed seed) repeated. The machine-limit measurements
// stream the same bytes, in the same 1 MiB chunks.
type Pattern struct{ block []byte }

// NewPattern returns a pattern with a block of blockSize bytes (a multiple
// of Chunk; 64 MiB is plenty: nothing on the path deduplicates).
func NewPattern(blockSize int) *Pattern {
	if blockSize < Chunk {
		blockSize = Chunk
	}
	blockSize -= blockSize % Chunk
	b := make([]byte, blockSize)
	r := rand.NewChaCha8([32]byte{'g', 'l', 'i', 'n', 't', 'b', 'e', 'n', 'c', 'h'})
	r.Read(b)
	return &Pattern{block: b}
}

// Each calls fn with the consecutive chunks of the first size bytes of the
// content. The slices are shared: fn must not modify them.
func (p *Pattern) Each(size int64, fn func([]byte) error) error {
	var off int64
	for off < size {
		i := int(off % int64(len(p.block)))
		n := int(min(int64(Chunk), size-off))
		if err := fn(p.block[i : i+n]); err != nil {
			return err
		}
		off += int64(n)
	}
	return nil
}

// Sums are the hashes a server must report for the content.
type Sums struct {
	Size   int64  `json:"size"`
	MD5    string `json:"md5"`
	SHA512 string `json:"sha512"`
}

// HashOne streams size bytes of the content through h.
func HashOne(p *Pattern, size int64, h hash.Hash) (string, time.Duration) {
	start := time.Now()
	p.Each(size, func(b []byte) error { h.Write(b); return nil })
	el := time.Since(start)
	return hex.EncodeToString(h.Sum(nil)), el
}

// HashSerial computes md5 and sha512 in one goroutine through an
// io.MultiWriter (what a TeeReader into both hashes costs).
func HashSerial(p *Pattern, size int64) (Sums, time.Duration) {
	m, s := md5.New(), sha512.New()
	w := io.MultiWriter(m, s)
	start := time.Now()
	p.Each(size, func(b []byte) error { w.Write(b); return nil })
	el := time.Since(start)
	return Sums{size, hex.EncodeToString(m.Sum(nil)), hex.EncodeToString(s.Sum(nil))}, el
}

// HashTogether computes md5 and sha512 at once, each in its own goroutine
// over the same stream of 1 MiB chunks (on two cores, two at a time).
func HashTogether(p *Pattern, size int64) (Sums, time.Duration) {
	m, s := md5.New(), sha512.New()
	start := time.Now()
	mc, sc := make(chan []byte, 8), make(chan []byte, 8)
	done := make(chan struct{}, 2)
	consume := func(c chan []byte, h hash.Hash) {
		for b := range c {
			h.Write(b)
		}
		done <- struct{}{}
	}
	go consume(mc, m)
	go consume(sc, s)
	p.Each(size, func(b []byte) error { mc <- b; sc <- b; return nil })
	close(mc)
	close(sc)
	<-done
	<-done
	el := time.Since(start)
	return Sums{size, hex.EncodeToString(m.Sum(nil)), hex.EncodeToString(s.Sum(nil))}, el
}

// HashWrite is the best an upload can do on this machine without the
// network: the content streams in 1 MiB chunks to md5 and sha512, each on
// its own goroutine, and to a third that writes the file; fsync at the
// end. The duration runs until the file is synced and both sums are done.
// On two cores the three compete for the CPU (the write's copy into the
// page cache costs about as much as a hash), which the separate limits
// do not show.
func HashWrite(path string, p *Pattern, size int64) (Sums, time.Duration, error) {
	tmp := path + ".tmp"
	os.Remove(tmp)
	start := time.Now()
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return Sums{}, 0, err
	}
	defer os.Remove(tmp)
	m, s := md5.New(), sha512.New()
	mc, sc, wc := make(chan []byte, 4), make(chan []byte, 4), make(chan []byte, 4)
	done := make(chan struct{}, 2)
	hash := func(c chan []byte, h hash.Hash) {
		for b := range c {
			h.Write(b)
		}
		done <- struct{}{}
	}
	go hash(mc, m)
	go hash(sc, s)
	werr := make(chan error, 1)
	go func() {
		var err error
		for b := range wc {
			if err == nil {
				_, err = f.Write(b)
			}
		}
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		werr <- err
	}()
	p.Each(size, func(b []byte) error { mc <- b; sc <- b; wc <- b; return nil })
	close(mc)
	close(sc)
	close(wc)
	<-done
	<-done
	err = <-werr
	el := time.Since(start)
	return Sums{size, hex.EncodeToString(m.Sum(nil)), hex.EncodeToString(s.Sum(nil))}, el, err
}

// WriteFile writes size bytes of the content to path in 1 MiB writes and
// fsyncs it; the duration covers create, the writes, fsync and close. The
// file is written under a temporary name and renamed after the timing, so
// a partial file never carries the final name.
func WriteFile(path string, p *Pattern, size int64) (time.Duration, error) {
	tmp := path + ".tmp"
	os.Remove(tmp)
	start := time.Now()
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	err = p.Each(size, func(b []byte) error { _, err := f.Write(b); return err })
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	el := time.Since(start)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, err
	}
	return el, nil
}

// DataSet is a file holding the first Size bytes of the content, and its
// hashes.
type DataSet struct {
	Path string
	Sums Sums
}

const dataVersion = 1 // bump when Pattern's content changes

// DataPath is where the data file of size bytes lives under dir.
func DataPath(dir string, size int64) string {
	return filepath.Join(dir, fmt.Sprintf("glintbench-v%d-%d.bin", dataVersion, size))
}

// SaveSums records the hashes of the data file of sums.Size bytes under
// dir, once that file is complete.
func SaveSums(dir string, sums Sums) error {
	b, _ := json.Marshal(sums)
	return os.WriteFile(DataPath(dir, sums.Size)+".json", b, 0o600)
}

// PrepareData returns the data file of size bytes under dir, writing it
// (with fsync) and its hashes when they are missing. A sidecar .json keeps
// the hashes so that later runs reuse both. written reports the time of
// the write, 0 when the file was reused.
func PrepareData(dir string, p *Pattern, size int64) (ds *DataSet, written time.Duration, err error) {
	path := DataPath(dir, size)
	side := path + ".json"
	var sums Sums
	if b, err := os.ReadFile(side); err == nil && json.Unmarshal(b, &sums) == nil && sums.Size == size {
		if fi, err := os.Stat(path); err == nil && fi.Size() == size {
			return &DataSet{Path: path, Sums: sums}, 0, nil
		}
	}
	os.Remove(side)
	if written, err = WriteFile(path, p, size); err != nil {
		return nil, 0, err
	}
	sums, _ = HashTogether(p, size)
	if err := SaveSums(dir, sums); err != nil {
		return nil, 0, err
	}
	return &DataSet{Path: path, Sums: sums}, written, nil
}

// Warm reads the file once so that it sits in the page cache.
func Warm(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, Chunk)
	for {
		_, err := f.Read(buf)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Discard reads r to its end through a 1 MiB buffer (the read size of the
// downloads too) and returns the byte count.
func Discard(r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		m, err := r.Read(buf)
		n += int64(m)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// LoopbackCopy sends the file over a loopback TCP connection with
// sendfile (net.TCPConn.ReadFrom(*os.File)) to a reader that discards
// through a 1 MiB buffer; the duration runs from dialing until the reader
// has seen the last byte.
func LoopbackCopy(path string) (int64, time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	defer ln.Close()
	type got struct {
		n   int64
		at  time.Time
		err error
	}
	res := make(chan got, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			res <- got{err: err}
			return
		}
		defer c.Close()
		n, err := Discard(c, make([]byte, Chunk))
		res <- got{n, time.Now(), err}
	}()
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	start := time.Now()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0, 0, err
	}
	tc := c.(*net.TCPConn)
	sent, err := tc.ReadFrom(f) // sendfile(2) from the page cache
	tc.CloseWrite()
	r := <-res
	tc.Close()
	if err == nil {
		err = r.err
	}
	if err == nil && r.n != sent {
		err = fmt.Errorf("loopback copy: sent %d bytes, received %d", sent, r.n)
	}
	return r.n, r.at.Sub(start), err
}

// Limits measures the machine: md5 and sha512 alone, both together (two
// goroutines over the same chunks) and serially (io.MultiWriter), a
// write of size bytes with fsync in dir (the data file the uploads then
// send), and loopback sendfile copies of that file. Hashing and the disk
// write run `runs` times and report the best run, the machine's limit;
// the loopback copy runs loopRuns times and reports their aggregate.
func (s *Suite) Limits(ctx context.Context, size int64, runs, loopRuns int) {
	runs = max(1, runs)
	best := func(name, note string, f func() time.Duration) {
		s.measure(Result{Name: name, Kind: "limit", Concurrency: 1}, func(res *Result) {
			var bestEl time.Duration
			for i := 0; i < runs && ctx.Err() == nil; i++ {
				if el := f(); bestEl == 0 || el < bestEl {
					bestEl = el
				}
			}
			rec := &Recorder{Lat: []time.Duration{bestEl}, Bytes: size}
			res.Fill(rec, bestEl)
			res.Note = fmt.Sprintf("best of %d; %s", runs, note)
		})
	}
	var sums Sums
	best("limit md5", "crypto/md5 over 1 MiB chunks in memory", func() time.Duration {
		_, el := HashOne(s.Pattern, size, md5.New())
		return el
	})
	best("limit sha512", "crypto/sha512 over 1 MiB chunks in memory", func() time.Duration {
		_, el := HashOne(s.Pattern, size, sha512.New())
		return el
	})
	best("limit md5+sha512 together", "two goroutines, each hashing the same 1 MiB chunks", func() time.Duration {
		var el time.Duration
		sums, el = HashTogether(s.Pattern, size)
		return el
	})
	best("limit md5+sha512 serial", "one goroutine, io.MultiWriter(md5, sha512)", func() time.Duration {
		_, el := HashSerial(s.Pattern, size)
		return el
	})
	var werr error
	path := DataPath(s.Opt.WorkDir, size)
	best("limit disk write+fsync", "1 MiB writes, fsync at the end, in "+s.Opt.WorkDir, func() time.Duration {
		os.Remove(path + ".json")
		el, err := WriteFile(path, s.Pattern, size)
		if err != nil {
			werr = err
		}
		return el
	})
	if werr == nil {
		werr = SaveSums(s.Opt.WorkDir, sums)
	}
	best("limit upload pipeline", "md5, sha512 and the write+fsync each on a goroutine over the same 1 MiB chunks, in "+s.Opt.WorkDir, func() time.Duration {
		_, el, err := HashWrite(path+".pipeline", s.Pattern, size)
		if err != nil {
			werr = err
		}
		return el
	})
	if werr != nil {
		s.logf("disk write: %v", werr)
		s.Results[len(s.Results)-1].Errors++
		s.Results[len(s.Results)-1].ErrorLog = []string{werr.Error()}
		return
	}
	Warm(path)
	s.measure(Result{Name: "limit loopback sendfile copy", Kind: "limit", Concurrency: 1}, func(res *Result) {
		rec := &Recorder{}
		var el time.Duration
		for i := 0; i < max(1, loopRuns) && ctx.Err() == nil; i++ {
			n, d, err := LoopbackCopy(path)
			if err != nil {
				rec.Fail(d, "loopback", err.Error())
				continue
			}
			rec.OK(d)
			rec.Bytes += n
			el += d
		}
		res.Fill(rec, el)
		res.Note = fmt.Sprintf("%d runs of TCPConn.ReadFrom(*os.File) from the page cache to a 1 MiB-buffer reader", loopRuns)
	})
}
