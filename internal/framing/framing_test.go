package framing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"glint/internal/errs"
)

// script is a client connection that delivers its reads as given: byte
// slices (cut short by the reader's buffer) and errors, then EOF.
type script struct {
	net.Conn // unused methods
	reads    []any
}

func (s *script) Read(p []byte) (int, error) {
	if len(s.reads) == 0 {
		return 0, io.EOF
	}
	switch r := s.reads[0].(type) {
	case error:
		s.reads = s.reads[1:]
		return 0, r
	case []byte:
		n := copy(p, r)
		if n == len(r) {
			s.reads = s.reads[1:]
		} else {
			s.reads[0] = r[n:]
		}
		return n, nil
	}
	panic("bad script")
}

func pieced(in string, piece int) []any {
	var reads []any
	for len(in) > 0 {
		k := min(piece, len(in))
		reads, in = append(reads, []byte(in[:k])), in[k:]
	}
	return reads
}

// readAll reads c with buffers of size n until an error, returning each
// read's bytes and the error.
func readAll(c net.Conn, n int) ([]string, error) {
	var got []string
	p := make([]byte, n)
	for {
		k, err := c.Read(p)
		if k > 0 {
			got = append(got, string(p[:k]))
		}
		if err != nil {
			return got, err
		}
	}
}

// The server reads good requests unchanged, blank lines before request
// lines aside, and no read crosses the end of a request.
func TestConnPasses(t *testing.T) {
	for _, c := range goodCases() {
		want, ends, _ := judge(200, []byte(c.in), len(c.in))
		for _, piece := range []int{1, 3, 4096} {
			for _, size := range []int{1, 2, 7, 4096} {
				fc := newConn(&script{reads: pieced(c.in, piece)}, 200)
				ctx := ConnContext(context.Background(), fc)
				got, err := readAll(fc, size)
				if err != io.EOF || strings.Join(got, "") != string(want) {
					t.Fatalf("%s (pieces of %d, reads of %d): read %q, %v; want %q", c.name, piece, size, got, err, want)
				}
				off := 0
				for _, g := range got {
					for _, e := range ends {
						if off < e && e < off+len(g) {
							t.Fatalf("%s: a read of %q crosses the end of a request at %d", c.name, g, e)
						}
					}
					off += len(g)
				}
				if err := Err(ctx); err != nil {
					t.Fatalf("%s: Err %v", c.name, err)
				}
			}
		}
	}
}

// A refused head never reaches the server: the requests before it do,
// then the stand-in, then EOF; the refusal is published once the stand-in
// is read. A broken body reaches the server up to the break, then the
// error (published as it is read), then EOF.
func TestConnRefuses(t *testing.T) {
	for _, c := range badCases() {
		for _, piece := range []int{1, 4096} {
			fc := newConn(&script{reads: pieced(c.in, piece)}, 200)
			ctx := ConnContext(context.Background(), fc)
			name := fmt.Sprintf("%s (pieces of %d)", c.name, piece)
			var got strings.Builder
			p := make([]byte, 7)
			var err error
			for {
				var n int
				n, err = fc.Read(p)
				got.Write(p[:n])
				if err != nil {
					break
				}
				if c.head && got.Len() < len(c.pass)+len(standIn) && Err(ctx) != nil {
					t.Fatalf("%s: Err published after %q", name, got.String())
				}
			}
			want, wantErr := c.pass, io.EOF
			if c.head {
				want += standIn
			} else {
				wantErr = nil // the framing error, checked below
			}
			if got.String() != want {
				t.Fatalf("%s: read %q, want %q", name, got.String(), want)
			}
			ferr := Err(ctx)
			if ferr == nil || !errs.Is(errs.Invalid, ferr) || errs.Message(ferr) != "Bad request framing: "+mustMsg(t, c) ||
				errors.Is(ferr, ErrHeadTooLarge) != c.tooLarge {
				t.Fatalf("%s: Err %v", name, ferr)
			}
			if wantErr == nil {
				if err != ferr {
					t.Fatalf("%s: Read error %v, want %v", name, err, ferr)
				}
				if _, err = fc.Read(p); err != io.EOF {
					t.Fatalf("%s: Read after the framing error: %v, want EOF", name, err)
				}
			} else if err != io.EOF {
				t.Fatalf("%s: Read error %v, want EOF", name, err)
			}
		}
	}
}

// mustMsg is the full message of c's violation, found by the tracker.
func mustMsg(t *testing.T, c bad) string {
	t.Helper()
	_, _, v := judge(200, []byte(c.in), len(c.in))
	if v == nil {
		t.Fatalf("%s: no violation", c.name)
	}
	return v.msg
}

// While a handler runs for a request, net/http reads one byte of what
// follows (its background read); a refused head after the request must
// not show in that handler's Err.
func TestConnPublishesAfterStandIn(t *testing.T) {
	bad := head + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
	fc := newConn(&script{reads: []any{[]byte(get + bad + get)}}, 1<<20)
	ctx := ConnContext(context.Background(), fc)
	p := make([]byte, 4096)
	n, err := fc.Read(p)
	if err != nil || string(p[:n]) != get {
		t.Fatalf("first read %q, %v", p[:n], err)
	}
	if n, err = fc.Read(p[:1]); n != 1 || err != nil || Err(ctx) != nil {
		t.Fatalf("background read: %d, %v; Err %v", n, err, Err(ctx))
	}
	if n, err = fc.Read(p); err != nil || string(p[:n]) != standIn[1:] {
		t.Fatalf("stand-in read %q, %v", p[:n], err)
	}
	if Err(ctx) == nil {
		t.Fatal("Err nil after the stand-in")
	}
	for range 3 {
		if n, err = fc.Read(p); n != 0 || err != io.EOF {
			t.Fatalf("after the stand-in: %d, %v", n, err)
		}
	}
}

// Errors from the client (net/http stops its background read with a
// deadline, then reads on) pass through, and what was read stays.
func TestConnKeepsStateAcrossErrors(t *testing.T) {
	body := strings.Repeat("b", 10000)
	req := head + "Content-Length: 10000\r\n\r\n" + body
	fc := newConn(&script{reads: []any{
		[]byte(get[:10]), os.ErrDeadlineExceeded, []byte(get[10:] + req[:100]), os.ErrDeadlineExceeded,
		[]byte(req[100:5000]), os.ErrDeadlineExceeded, []byte(req[5000:] + get),
	}}, 1<<20)
	var got strings.Builder
	p := make([]byte, 1000)
	timeouts := 0
	for {
		n, err := fc.Read(p)
		got.Write(p[:n])
		if errors.Is(err, os.ErrDeadlineExceeded) {
			timeouts++
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if got.String() != get+req+get || timeouts != 3 {
		t.Fatalf("read %d bytes (want %d), %d timeouts", got.Len(), len(get+req+get), timeouts)
	}
}

// Heads larger than the buffer, in reads of every size, pass whole.
func TestConnLargeHeads(t *testing.T) {
	req := "GET / HTTP/1.1\r\nHost: glint\r\nX-Token: " + strings.Repeat("t", 12000) + "\r\n" +
		"Content-Length: 5000\r\n\r\n" + strings.Repeat("b", 5000)
	in := req + get + req
	for _, piece := range []int{1, 100, 1000, 4095, 4097, 5000, len(in)} {
		fc := newConn(&script{reads: pieced(in, piece)}, 1<<20)
		got, err := readAll(fc, 4096)
		if err != io.EOF || strings.Join(got, "") != in {
			t.Fatalf("pieces of %d: %v, read %d bytes of %d", piece, err, len(strings.Join(got, "")), len(in))
		}
		if len(fc.buf) > 64<<10 {
			t.Fatalf("pieces of %d: buffer grew to %d", piece, len(fc.buf))
		}
	}
}

// The head limit is the server's MaxHeaderBytes with net/http's slack, as
// net/http counts it; without a server it is net/http's default.
func TestConnContextLimit(t *testing.T) {
	for _, c := range []struct {
		max, want int
	}{
		{0, http.DefaultMaxHeaderBytes + 4096},
		{16384, 16384 + 4096},
	} {
		ln := Listener(&oneConn{c: &script{}})
		nc, _ := ln.Accept()
		ctx := context.WithValue(context.Background(), http.ServerContextKey, &http.Server{MaxHeaderBytes: c.max})
		ConnContext(ctx, nc)
		if got := nc.(*conn).t.limit; got != c.want {
			t.Errorf("MaxHeaderBytes %d: limit %d, want %d", c.max, got, c.want)
		}
	}
	if ctx := ConnContext(context.Background(), &script{}); Err(ctx) != nil {
		t.Error("Err on a connection not from Listener")
	}
}

type oneConn struct {
	net.Listener
	c net.Conn
}

func (l *oneConn) Accept() (net.Conn, error) { return l.c, nil }
