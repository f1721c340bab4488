// Package framing guards HTTP/1.1 request framing on a listener.
//
// net/http reads a request with both Content-Length and Transfer-Encoding:
// chunked by its chunks, hides the conflict from handlers and keeps the
// connection open; a proxy in front that framed the same bytes by their
// Content-Length then sees a different next request than the server does
// (request smuggling). RFC 9112 §6.1 lets a server refuse such a request
// and then requires it to close the connection, as nginx does since 1.21.1.
// The same holds for every head whose framing a front end might read
// otherwise: several or malformed Content-Length values, a
// Transfer-Encoding other than chunked, several of them, one in an
// HTTP/1.0 request, obsolete line folding, blanks before a header's colon;
// and for chunked bodies whose framing breaks.
//
// Listener wraps each accepted connection to follow the framing of the
// bytes the client sends, before net/http reads them. A request whose
// framing is sound passes unchanged. A head that is not never reaches
// net/http: in its place net/http reads a stand-in request (a GET with
// Connection: close) and then the end of the stream, so it answers the
// requests before it in order, answers the stand-in and closes the
// connection; nothing after the refused head is ever read as a request.
// A chunked body whose framing breaks passes up to the break, then ends in
// an error. Either way Err tells the handler, through the request's
// context (ConnContext puts the connection there), that the framing of its
// request was refused, so that it answers 400 (431 for a head over the
// server's limit) and closes the connection. The stand-in gets no such
// treatment when a client sends it itself: the refusal is the state of
// the connection, never a header.
//
// Listener must see the bytes the client sent: it wraps a plain TCP
// listener, never the inside of a TLS one.
package framing

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"glint/internal/errs"
)

const op errs.Op = "framing"

// ErrHeadTooLarge is in the chain of Err's error when the refused head was
// larger than the server takes; the answer is then 431, not 400.
var ErrHeadTooLarge = errors.New("request head too large")

// standIn is what net/http reads in place of a refused head: harmless
// whatever the handler does with it, and closing the connection after its
// answer even where the handler does not look at Err.
const standIn = "GET / HTTP/1.1\r\nHost: glint\r\nConnection: close\r\n\r\n"

// The default head limit is net/http's: MaxHeaderBytes, or
// http.DefaultMaxHeaderBytes, plus the 4096 bytes of slack net/http gives
// it (Server.initialReadLimitSize), so that no head it takes is refused.
const headSlack = 4096

// lingerTime bounds how long a refused connection keeps reading what the
// client still sends after the answer, so that the close does not reset
// the connection (and lose the answer) because of unread bytes.
const lingerTime = 500 * time.Millisecond

// readSize is the size of the buffer of bytes not yet judged, and how
// much is read into it at a time; it grows when less than minRead is free.
const (
	readSize = 4096
	minRead  = 1024
)

// Listener returns ln with each accepted connection guarded.
func Listener(ln net.Listener) net.Listener { return &listener{ln} }

type listener struct{ net.Listener }

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newConn(c, http.DefaultMaxHeaderBytes+headSlack), nil
}

type ctxKey struct{}

// ConnContext is for http.Server.ConnContext: it puts the connection in
// the context of its requests, for Err, and takes the head limit from the
// server's MaxHeaderBytes.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	fc, ok := c.(*conn)
	if !ok {
		return ctx
	}
	if srv, ok := ctx.Value(http.ServerContextKey).(*http.Server); ok && srv.MaxHeaderBytes > 0 {
		// Serve calls ConnContext before the connection's goroutine starts,
		// so this happens before any Read.
		fc.t.limit = srv.MaxHeaderBytes + headSlack
	}
	return context.WithValue(ctx, ctxKey{}, fc)
}

// TLS returns the TLS state of the connection of the request whose
// context ctx is, when the listener framing wraps serves TLS (net/http
// sets Request.TLS only for a *tls.Conn it is given itself); nil otherwise.
func TLS(ctx context.Context) *tls.ConnectionState {
	fc, _ := ctx.Value(ctxKey{}).(*conn)
	if fc == nil {
		return nil
	}
	tc, ok := fc.Conn.(*tls.Conn)
	if !ok {
		return nil
	}
	st := tc.ConnectionState()
	return &st
}

// Err returns the framing error of the request whose context ctx is: an
// errs.Invalid error saying what was wrong, with ErrHeadTooLarge in its
// chain for a head over the limit; nil when its framing is sound.
func Err(ctx context.Context) error {
	c, _ := ctx.Value(ctxKey{}).(*conn)
	if c == nil {
		return nil
	}
	if e := c.published.Load(); e != nil {
		return e.err
	}
	return nil
}

type published struct{ err error }

// conn follows the framing of what the client sends. net/http reads a
// connection from one goroutine at a time, so Read needs no lock; only
// what other goroutines look at (the published error, the refusal) is
// atomic.
type conn struct {
	net.Conn
	t *tracker

	buf []byte // backing array of in
	in  []byte // bytes from the client not yet judged
	out []byte // judged bytes not yet read by the server

	// publish is the error to publish once out has been read: the
	// refusal of a head, whose stand-in is then in out.
	publish error
	// end is what Read returns once in and out are empty and the
	// connection is refused: the body's framing error once, then EOF.
	end error

	published atomic.Pointer[published]
	refused   atomic.Bool
	closeOnce sync.Once
}

func newConn(c net.Conn, limit int) *conn { return &conn{Conn: c, t: newTracker(limit)} }

// Read hands the server the client's bytes once the tracker has judged
// them. Reads never cross the end of a request: net/http then holds none
// of the next head while a handler runs (beyond the one byte of its
// background read), so a refused head is published only once net/http has
// read all its stand-in, which it does after the handlers before it are
// done.
func (c *conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if len(c.out) > 0 {
			n := copy(p, c.out)
			c.out = c.out[n:]
			if len(c.out) == 0 && c.publish != nil {
				c.setErr(c.publish)
				c.publish = nil
			}
			return n, nil
		}
		if c.refused.Load() {
			err := c.end
			if err != io.EOF {
				// A body's framing error: net/http's body reader hands it
				// to the handler. Then EOF, so that net/http closes the
				// connection quietly instead of writing a 400 of its own
				// after the handler's answer.
				c.setErr(err)
				c.end = io.EOF
			}
			return 0, err
		}
		if len(c.in) == 0 {
			if left := c.t.rawData(); left > 0 {
				// Body data needs no look: read it straight into p.
				q := p
				if int64(len(q)) > left {
					q = q[:left]
				}
				n, err := c.Conn.Read(q)
				c.t.skip(n)
				return n, err
			}
		} else {
			drop, pass, v := c.t.step(c.in)
			c.in = c.in[drop:]
			if v != nil {
				c.refuse(v, pass)
				continue
			}
			if pass > 0 {
				c.out, c.in = c.in[:pass], c.in[pass:]
				continue
			}
		}
		// The tracker needs more bytes. An error from the client (EOF, a
		// deadline net/http set, which it may set to stop its background
		// read and then read on) goes to net/http as it is, and what was
		// read so far stays for the next Read.
		n, err := c.fill()
		if n == 0 && err != nil {
			return 0, err
		}
	}
}

// fill reads more of the client's bytes after those in in. It only runs
// when out is empty, so moving in's bytes within buf overwrites none that
// the server has yet to read.
func (c *conn) fill() (int, error) {
	if len(c.in) == 0 {
		if c.buf == nil {
			c.buf = make([]byte, readSize)
		}
		c.in = c.buf[:0]
	}
	if cap(c.in)-len(c.in) < readSize && cap(c.in) < cap(c.buf) {
		c.in = c.buf[:copy(c.buf, c.in)] // to the front of buf
	}
	if cap(c.in)-len(c.in) < minRead {
		// A head (or chunk-size or trailer line) longer than the buffer:
		// the tracker bounds them, so this growth is bounded too.
		buf := make([]byte, 2*len(c.buf))
		c.in, c.buf = buf[:copy(buf, c.in)], buf
	}
	n, err := c.Conn.Read(c.in[len(c.in):cap(c.in)])
	c.in = c.in[:len(c.in)+n]
	return n, err
}

// refuse ends the connection's requests at violation v, after pass more
// bytes for a body.
func (c *conn) refuse(v *violation, pass int) {
	msg := "Bad request framing: " + v.msg
	var err error
	if v.tooLarge {
		err = errs.E(op, errs.Invalid, msg, ErrHeadTooLarge)
	} else {
		err = errs.E(op, errs.Invalid, msg)
	}
	if v.head {
		c.out, c.publish, c.end = []byte(standIn), err, io.EOF
	} else {
		c.out, c.end = c.in[:pass], err
	}
	c.in = nil
	c.refused.Store(true)
}

func (c *conn) setErr(err error) { c.published.CompareAndSwap(nil, &published{err}) }

// CloseWrite keeps net/http's closeWriteAndWait working through the
// wrapper.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps sendfile(2) and splice(2) reachable: net/http's
// response.ReadFrom uses them only when the connection is an
// io.ReaderFrom.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{c.Conn}, r)
}

type writerOnly struct{ io.Writer }

// Close closes the connection. A refused one may still have unread bytes
// from the client, and closing a socket with unread bytes resets it,
// which can make the client lose the answer it was sent: so it is shut for
// writing, read to the client's end (or for lingerTime at most), then
// closed. That happens in the background, as net/http may close
// connections while it holds its own locks (Server.Close).
func (c *conn) Close() error {
	if !c.refused.Load() {
		return c.Conn.Close()
	}
	c.closeOnce.Do(func() {
		go func() {
			c.CloseWrite()
			c.Conn.SetReadDeadline(time.Now().Add(lingerTime))
			io.Copy(io.Discard, c.Conn)
			c.Conn.Close()
		}()
	})
	return nil
}
