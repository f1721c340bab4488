package framing

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// judge runs a tracker over in as a connection would see it, piece bytes
// at a time. It returns the bytes passed to the server, the offsets in
// them where a request ended, and the violation that stopped it, if any.
func judge(limit int, in []byte, piece int) (out []byte, ends []int, v *violation) {
	var reads [][]byte
	for len(in) > 0 {
		k := min(piece, len(in))
		reads, in = append(reads, in[:k]), in[k:]
	}
	return judgeReads(limit, reads)
}

const (
	get     = "GET /v2/images HTTP/1.1\r\nHost: glint\r\n\r\n"
	head    = "POST /v2/images HTTP/1.1\r\nHost: glint\r\n"
	chunked = head + "Transfer-Encoding: chunked\r\n\r\n"
)

type good struct {
	name string
	in   string
	out  string // "" means in
	reqs []string
}

func goodCases() []good {
	return []good{
		{name: "get", in: get, reqs: []string{get}},
		{name: "pipelined gets", in: get + get, reqs: []string{get, get}},
		{name: "bare LF line ends", in: "GET / HTTP/1.1\nHost: glint\n\n", reqs: []string{"GET / HTTP/1.1\nHost: glint\n\n"}},
		{name: "blank lines before request lines", in: "\r\n\n" + get + "\r\n" + get, out: get + get, reqs: []string{get, get}},
		{name: "content-length then get", in: head + "Content-Length: 5\r\n\r\nhello" + get,
			reqs: []string{head + "Content-Length: 5\r\n\r\nhello", get}},
		{name: "content-length zero", in: head + "content-length: 0\r\n\r\n" + get,
			reqs: []string{head + "content-length: 0\r\n\r\n", get}},
		{name: "equal content-lengths", in: head + "Content-Length: 3\r\nContent-Length:3 \r\n\r\nabc" + get,
			reqs: []string{head + "Content-Length: 3\r\nContent-Length:3 \r\n\r\nabc", get}},
		{name: "content-length with leading zeros", in: head + "Content-Length: 003\r\n\r\nabc",
			reqs: []string{head + "Content-Length: 003\r\n\r\nabc"}},
		{name: "100-continue", in: head + "Expect: 100-continue\r\nContent-Length: 4\r\n\r\nbody" + get,
			reqs: []string{head + "Expect: 100-continue\r\nContent-Length: 4\r\n\r\nbody", get}},
		{name: "http/1.0 with content-length", in: "POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi" + get,
			reqs: []string{"POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi", get}},
		{name: "chunked", in: chunked + "5\r\nhello\r\n0\r\n\r\n" + get,
			reqs: []string{chunked + "5\r\nhello\r\n0\r\n\r\n", get}},
		{name: "chunked, case and blanks", in: head + "transfer-encoding:  Chunked \r\n\r\n5 \r\nhello\r\n000\r\n\r\n",
			reqs: []string{head + "transfer-encoding:  Chunked \r\n\r\n5 \r\nhello\r\n000\r\n\r\n"}},
		{name: "chunk extensions", in: chunked + "5;a=b\r\nhello\r\nA; x=\"y z\"\r\n0123456789\r\n0;last\r\n\r\n" + get,
			reqs: []string{chunked + "5;a=b\r\nhello\r\nA; x=\"y z\"\r\n0123456789\r\n0;last\r\n\r\n", get}},
		{name: "trailers", in: chunked + "3\r\nabc\r\n0\r\nX-Sum: 1\r\nY:2\r\n\r\n" + get,
			reqs: []string{chunked + "3\r\nabc\r\n0\r\nX-Sum: 1\r\nY:2\r\n\r\n", get}},
		{name: "chunk data holding a request", in: chunked + fmt.Sprintf("%x", len(get)) + "\r\n" + get + "\r\n0\r\n\r\n",
			reqs: []string{chunked + fmt.Sprintf("%x", len(get)) + "\r\n" + get + "\r\n0\r\n\r\n"}},
		{name: "upper-case hex", in: chunked + "B\r\nhello world\r\n0\r\n\r\n",
			reqs: []string{chunked + "B\r\nhello world\r\n0\r\n\r\n"}},
		{name: "obs-text and tabs in values", in: "GET / HTTP/1.1\r\nHost: glint\r\nX-A:\t\xe9t\xe9\t\r\n\r\n",
			reqs: []string{"GET / HTTP/1.1\r\nHost: glint\r\nX-A:\t\xe9t\xe9\t\r\n\r\n"}},
		{name: "incomplete body", in: head + "Content-Length: 10\r\n\r\nhello", reqs: nil},
		{name: "incomplete head", in: "GET / HTTP/1.1\r\nHost: gl", out: "-", reqs: nil},
	}
}

type bad struct {
	name string
	in   string
	msg  string
	// pass is what reaches the server before the violation: the requests
	// before a refused head, or the good part of a broken body.
	pass     string
	head     bool
	tooLarge bool
}

func badCases() []bad {
	long := "GET / HTTP/1.1\r\nHost: glint\r\nX-Long: " + strings.Repeat("a", 300) + "\r\n\r\n"
	many := chunked
	for range 3000 {
		many += "1;" + strings.Repeat("e", 20) + "\r\nx\r\n"
	}
	return []bad{
		{name: "content-length and transfer-encoding", in: head + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get,
			msg: "Content-Length and Transfer-Encoding both given", head: true},
		{name: "transfer-encoding and content-length", in: get + head + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
			msg: "Content-Length and Transfer-Encoding both given", head: true, pass: get},
		{name: "content-length zero and chunked", in: head + "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n",
			msg: "both given", head: true},
		{name: "two content-lengths", in: head + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
			msg: "two different Content-Length values", head: true},
		{name: "content-lengths differing in zeros", in: head + "Content-Length: 5\r\nContent-Length: 05\r\n\r\nhello",
			msg: "two different Content-Length values", head: true},
		{name: "content-length list", in: head + "Content-Length: 5, 5\r\n\r\nhello", msg: "malformed Content-Length", head: true},
		{name: "content-length letters", in: head + "Content-Length: 5x\r\n\r\nhello", msg: "malformed Content-Length", head: true},
		{name: "content-length sign", in: head + "Content-Length: +5\r\n\r\nhello", msg: "malformed Content-Length", head: true},
		{name: "content-length negative", in: head + "Content-Length: -1\r\n\r\n", msg: "malformed Content-Length", head: true},
		{name: "content-length empty", in: head + "Content-Length: \r\n\r\n", msg: "malformed Content-Length", head: true},
		{name: "content-length hex", in: head + "Content-Length: 0x10\r\n\r\n", msg: "malformed Content-Length", head: true},
		{name: "content-length overflow", in: head + "Content-Length: 9223372036854775808\r\n\r\n", msg: "malformed Content-Length", head: true},
		{name: "obsolete line folding", in: "GET / HTTP/1.1\r\nHost: glint\r\nX-A: a\r\n b\r\n\r\n", msg: "obsolete line folding", head: true},
		{name: "folded content-length", in: head + "Content-Length: 1\r\n 5\r\n\r\nhello", msg: "obsolete line folding", head: true},
		{name: "first header line folded", in: "GET / HTTP/1.1\r\n\tHost: glint\r\n\r\n", msg: "obsolete line folding", head: true},
		{name: "gzip", in: head + "Transfer-Encoding: gzip\r\n\r\n", msg: "Transfer-Encoding other than chunked", head: true},
		{name: "gzip, chunked", in: head + "Transfer-Encoding: gzip, chunked\r\n\r\n", msg: "Transfer-Encoding other than chunked", head: true},
		{name: "chunked, chunked", in: head + "Transfer-Encoding: chunked, chunked\r\n\r\n", msg: "Transfer-Encoding other than chunked", head: true},
		{name: "empty transfer-encoding", in: head + "Transfer-Encoding: \r\n\r\n", msg: "Transfer-Encoding other than chunked", head: true},
		{name: "kelvin sign", in: head + "Transfer-Encoding: chun\u212aed\r\n\r\n", msg: "Transfer-Encoding other than chunked", head: true},
		{name: "two transfer-encodings", in: head + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			msg: "more than one Transfer-Encoding header line", head: true},
		{name: "transfer-encoding on http/1.0", in: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			msg: "Transfer-Encoding in an HTTP/1.0 request", head: true},
		{name: "space before colon", in: head + "Content-Length : 5\r\n\r\nhello", msg: "whitespace between a header name and its colon", head: true},
		{name: "tab before colon", in: head + "Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n", msg: "whitespace between a header name and its colon", head: true},
		{name: "no colon", in: "GET / HTTP/1.1\r\nHost glint\r\n\r\n", msg: "header line without a colon", head: true},
		{name: "bad header name", in: "GET / HTTP/1.1\r\nHo\"st: glint\r\n\r\n", msg: "invalid header name", head: true},
		{name: "control byte in a value", in: "GET / HTTP/1.1\r\nHost: gl\x00int\r\n\r\n", msg: "invalid byte in a header value", head: true},
		{name: "bare CR", in: "GET / HTTP/1.1\r\nHost: glint\rX: y\r\n\r\n", msg: "CR without LF", head: true},
		{name: "bare CR before blank line", in: "GET / HTTP/1.1\r\nHost: glint\r\n\r\r\n", msg: "CR without LF", head: true},
		{name: "malformed request line", in: "GET  / HTTP/1.1\r\nHost: glint\r\n\r\n", msg: "malformed request line", head: true},
		{name: "request line without version", in: "GET /\r\nHost: glint\r\n\r\n", msg: "malformed request line", head: true},
		{name: "http/2", in: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", msg: "HTTP version", head: true},
		{name: "http/1.2", in: "GET / HTTP/1.2\r\nHost: glint\r\n\r\n", msg: "HTTP version", head: true},
		{name: "head too large", in: get + long, msg: "more than 200 bytes", head: true, tooLarge: true, pass: get},
		{name: "blank lines too many", in: strings.Repeat("\r\n", 101), msg: "more than 200 bytes", head: true, tooLarge: true},
		{name: "invalid chunk size", in: chunked + "5\r\nhello\r\nzz\r\n" + get, msg: "invalid chunk size",
			pass: chunked + "5\r\nhello\r\n"},
		{name: "blank before chunk extension", in: chunked + "5 ;x\r\nhello\r\n0\r\n\r\n", msg: "invalid chunk size", pass: chunked},
		{name: "chunk size with sign", in: chunked + "+5\r\nhello\r\n0\r\n\r\n", msg: "invalid chunk size", pass: chunked},
		{name: "empty chunk size", in: chunked + "\r\n", msg: "invalid chunk size", pass: chunked},
		{name: "chunk size too large", in: chunked + "0000000000000005\r\nhello\r\n", msg: "chunk size too large", pass: chunked},
		{name: "chunk line with bare LF", in: chunked + "5\nhello\r\n0\r\n\r\n", msg: "ends in LF without CR", pass: chunked},
		{name: "chunk line with bare CR", in: chunked + "5;a\rb\r\nhello\r\n", msg: "CR without LF", pass: chunked},
		{name: "control byte in chunk extension", in: chunked + "5;\x01\r\nhello\r\n", msg: "invalid chunk extension", pass: chunked},
		{name: "chunk line too long", in: chunked + "5;" + strings.Repeat("e", 1100) + "\r\nhello\r\n", msg: "chunk size line too long", pass: chunked},
		{name: "no CRLF after chunk data", in: chunked + "5\r\nhelloXX\r\n0\r\n\r\n", msg: "no CRLF after chunk data",
			pass: chunked + "5\r\nhello"},
		{name: "LF alone after chunk data", in: chunked + "5\r\nhello\n0\r\n\r\n", msg: "no CRLF after chunk data",
			pass: chunked + "5\r\nhello"},
		{name: "trailer with bare LF", in: chunked + "0\r\nX: y\n\n", msg: "trailer ends in LF without CR", pass: chunked + "0\r\n"},
		{name: "folded trailer", in: chunked + "0\r\nX: y\r\n z\r\n\r\n", msg: "obsolete line folding", pass: chunked + "0\r\nX: y\r\n"},
		{name: "trailer without colon", in: chunked + "0\r\nXy\r\n\r\n", msg: "header line without a colon", pass: chunked + "0\r\n"},
		{name: "trailer too long", in: chunked + "0\r\n" + strings.Repeat("X-Aaaa: bbbbbbbbbbbbb\r\n", 100) + "\r\n",
			msg: "trailer too long", pass: chunked + "0\r\n" + strings.Repeat("X-Aaaa: bbbbbbbbbbbbb\r\n", 2048/23)},
		{name: "too much chunk overhead", in: many + "0\r\n\r\n" + get, msg: "too much chunk overhead",
			pass: many[:len(chunked)+16*1024/6*27]}, // each chunk adds 24-18 bytes of excess
	}
}

// pieces are the read sizes every case is judged with, beside every
// split of the input into two reads.
var pieces = []int{1, 2, 3, 7, 64, 4096, 1 << 30}

func TestTrackerGood(t *testing.T) {
	for _, c := range goodCases() {
		want := c.in
		if c.out == "-" {
			want = ""
		} else if c.out != "" {
			want = c.out
		}
		var wantEnds []int
		n := 0
		for _, r := range c.reqs {
			n += len(r)
			wantEnds = append(wantEnds, n)
		}
		check := func(how string, out []byte, ends []int, v *violation) {
			t.Helper()
			if v != nil {
				t.Fatalf("%s (%s): violation %q", c.name, how, v.msg)
			}
			if string(out) != want || fmt.Sprint(ends) != fmt.Sprint(wantEnds) {
				t.Fatalf("%s (%s): passed %q, ends %v; want %q, %v", c.name, how, out, ends, want, wantEnds)
			}
		}
		for _, p := range pieces {
			out, ends, v := judge(200, []byte(c.in), p)
			check(fmt.Sprintf("reads of %d", p), out, ends, v)
		}
		for i := range len(c.in) {
			out, ends, v := judgeSplit(200, []byte(c.in), i)
			check(fmt.Sprintf("split at %d", i), out, ends, v)
		}
	}
}

func TestTrackerBad(t *testing.T) {
	for _, c := range badCases() {
		check := func(how string, out []byte, v *violation) {
			t.Helper()
			switch {
			case v == nil:
				t.Fatalf("%s (%s): accepted, passed %q", c.name, how, out)
			case !strings.Contains(v.msg, c.msg) || v.head != c.head || v.tooLarge != c.tooLarge:
				t.Fatalf("%s (%s): violation %+v, want %q (head %v, too large %v)", c.name, how, v, c.msg, c.head, c.tooLarge)
			case string(out) != c.pass:
				t.Fatalf("%s (%s): passed %q, want %q", c.name, how, out, c.pass)
			}
		}
		for _, p := range pieces {
			out, _, v := judge(200, []byte(c.in), p)
			check(fmt.Sprintf("reads of %d", p), out, v)
		}
		if len(c.in) < 1000 {
			for i := range len(c.in) {
				out, _, v := judgeSplit(200, []byte(c.in), i)
				check(fmt.Sprintf("split at %d", i), out, v)
			}
		}
	}
}

// judgeSplit is judge with in read in two pieces, split at i.
func judgeSplit(limit int, in []byte, i int) ([]byte, []int, *violation) {
	return judgeReads(limit, [][]byte{in[:i], in[i:]})
}

func judgeReads(limit int, reads [][]byte) (out []byte, ends []int, v *violation) {
	t := newTracker(limit)
	var pending []byte
	for _, r := range reads {
		pending = append(pending, r...)
		for {
			drop, pass, v := t.step(pending)
			pending = pending[drop:]
			out = append(out, pending[:pass]...)
			pending = pending[pass:]
			if pass > 0 && t.st == inHead {
				ends = append(ends, len(out))
			}
			if v != nil {
				return out, ends, v
			}
			if drop == 0 && pass == 0 {
				break
			}
		}
	}
	return out, ends, nil
}

// Bodies much larger than a read, Content-Length and chunked, end where
// they should whatever the reads.
func TestTrackerBigBodies(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 5000) // 80,000 bytes
	var ch bytes.Buffer
	ch.WriteString(chunked)
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 30001)
		fmt.Fprintf(&ch, "%x\r\n", n)
		ch.Write(rest[:n])
		ch.WriteString("\r\n")
		rest = rest[n:]
	}
	ch.WriteString("0\r\n\r\n")
	cl := fmt.Sprintf("%sContent-Length: %d\r\n\r\n%s", head, len(data), data)
	for _, req := range []string{cl, ch.String()} {
		in := req + get + req
		want := fmt.Sprint([]int{len(req), len(req) + len(get), len(in)})
		for _, p := range append(pieces, 4095, 4097, 65536) {
			out, ends, v := judge(16384, []byte(in), p)
			if v != nil || string(out) != in || fmt.Sprint(ends) != want {
				t.Fatalf("reads of %d: violation %v, ends %v (want %v)", p, v, ends, want)
			}
		}
		// Every split around the ends of the head and the body.
		for _, at := range []int{len(head), len(req) - 4000, len(req)} {
			for i := max(at-40, 0); i < at+40; i++ {
				out, ends, v := judgeSplit(16384, []byte(in), i)
				if v != nil || string(out) != in || fmt.Sprint(ends) != want {
					t.Fatalf("split at %d: violation %v, ends %v (want %v)", i, v, ends, want)
				}
			}
		}
	}
}
