package framing

import (
	"bytes"
	"fmt"
)

// Limits on the structural lines of a chunked body. net/http reads both
// through its 4096-byte bufio.Reader (a chunk-size line must fit in it,
// and readTrailer must see the trailer's closing CRLFCRLF within it), so
// staying well below that keeps every body this tracker accepts one that
// net/http accepts too, whatever a later Go release does at the margin.
const (
	maxChunkLine = 1024 // a chunk-size line with its extensions and CRLF
	maxTrailer   = 2048 // the whole trailer section with its closing CRLF
	maxChunkHex  = 15   // hex digits of a chunk size (net/http takes 16)
)

// net/http's own bound on chunk overhead (internal/chunked.go): 16 bytes
// per chunk plus twice the data are free, more than 16 KiB beyond that is
// an error. The tracker keeps the same account so that it never passes a
// body net/http then refuses half way.
const (
	chunkOverheadFree = 16
	maxChunkExcess    = 16 * 1024
)

type state uint8

const (
	inHead      state = iota // request line and header lines
	inBody                   // Content-Length body: left bytes to go
	inChunkLine              // a chunk-size line
	inChunkData              // chunk data: left bytes to go
	inChunkCRLF              // the CRLF after chunk data: crlf bytes of it seen
	inTrailer                // trailer lines up to an empty line
)

// violation is a framing error found by the tracker. head says whether it
// is in a request head (nothing of that head reaches the server) rather
// than in a body (the bytes before it do).
type violation struct {
	head     bool
	tooLarge bool
	msg      string
}

func headViolation(msg string) *violation { return &violation{head: true, msg: msg} }
func bodyViolation(msg string) *violation { return &violation{msg: msg} }

// tracker follows the HTTP/1.1 framing of the bytes a client sends (RFC
// 9112): a head up to its empty line, then the body its head announces,
// then the next head. It accepts a request only when it is sure where that
// request ends and sure that net/http will find the same end; anything
// else is a violation. It does no I/O: step judges the bytes it is shown.
type tracker struct {
	limit int // most bytes a head may take, blank lines before it included
	st    state

	left   int64 // inBody, inChunkData
	crlf   int   // inChunkCRLF
	excess int64 // chunk overhead account, as net/http keeps it
	trail  int   // bytes of the trailer so far

	// The head being read. scanned counts its bytes already checked (all
	// in complete lines), so a head that arrives in pieces is not checked
	// again from its start at every piece.
	blank   int
	scanned int
	lines   int
	http10  bool
	cl      []byte // Content-Length as given (trimmed), nil if none
	clValue int64
	te      int // Transfer-Encoding lines
}

func newTracker(limit int) *tracker { return &tracker{limit: limit} }

// rawData is how many bytes the tracker can pass unseen: what is left of
// a Content-Length body or of a chunk's data.
func (t *tracker) rawData() int64 {
	if t.st == inBody || t.st == inChunkData {
		return t.left
	}
	return 0
}

// skip accounts for n bytes passed unseen (n <= rawData()).
func (t *tracker) skip(n int) {
	t.left -= int64(n)
	if t.left == 0 {
		if t.st == inBody {
			t.st = inHead
		} else {
			t.st, t.crlf = inChunkCRLF, 0
		}
	}
}

// step judges b, the client's bytes not yet judged. It returns how many of
// them to drop (blank lines before a request line), then how many of those
// that follow to pass to the server: never beyond the end of the current
// request, so that a head is never in the same read as the request before
// it. A violation comes after those bytes. Nothing to drop or pass and no
// violation means the tracker needs more bytes.
func (t *tracker) step(b []byte) (drop, pass int, v *violation) {
	if t.st == inHead {
		if t.scanned == 0 {
			// RFC 9112 §2.2: a server SHOULD ignore empty lines before a
			// request line. They are dropped rather than passed: net/http
			// skips at most four bytes of them, and only after a POST.
			for len(b) > drop {
				if b[drop] == '\n' {
					drop++
				} else if b[drop] == '\r' && len(b) > drop+1 && b[drop+1] == '\n' {
					drop += 2
				} else {
					break
				}
			}
			t.blank += drop
			b = b[drop:]
			if t.blank >= t.limit {
				return drop, 0, t.tooLarge()
			}
		}
		end, v := t.head(b)
		if end == 0 || v != nil {
			return drop, 0, v
		}
		pass = end
		b = b[end:]
	}
	n, v := t.body(b)
	return drop, pass + n, v
}

func (t *tracker) tooLarge() *violation {
	return &violation{head: true, tooLarge: true,
		msg: fmt.Sprintf("the request line and header fields take more than %d bytes", t.limit)}
}

// head checks the complete lines of the head at the start of b. It returns
// the head's length once its empty line is there, 0 while it needs more.
func (t *tracker) head(b []byte) (int, *violation) {
	room := t.limit - t.blank
	for {
		i := bytes.IndexByte(b[t.scanned:min(len(b), room)], '\n')
		if i < 0 {
			if len(b) >= room {
				return 0, t.tooLarge()
			}
			return 0, nil
		}
		// Lines end at LF, with an optional CR before it, as net/textproto
		// reads them; any other CR is refused (net/textproto keeps it).
		line := b[t.scanned : t.scanned+i]
		next := t.scanned + i + 1
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if bytes.IndexByte(line, '\r') >= 0 {
			return 0, headViolation("CR without LF in the request head")
		}
		var v *violation
		switch {
		case t.lines == 0:
			v = t.requestLine(line)
		case len(line) == 0:
			v = t.endHead()
			t.blank, t.scanned, t.lines = 0, 0, 0
			return next, v
		default:
			v = t.field(line)
		}
		if v != nil {
			return 0, v
		}
		t.lines++
		t.scanned = next
	}
}

func (t *tracker) requestLine(line []byte) *violation {
	method, rest, ok1 := bytes.Cut(line, []byte{' '})
	target, version, ok2 := bytes.Cut(rest, []byte{' '})
	if !ok1 || !ok2 || !isToken(method) || len(target) == 0 {
		return headViolation("malformed request line")
	}
	for _, c := range target {
		if c <= ' ' || c == 0x7f {
			return headViolation("malformed request line")
		}
	}
	switch string(version) {
	case "HTTP/1.1":
		t.http10 = false
	case "HTTP/1.0":
		t.http10 = true
	default:
		return headViolation("HTTP version other than 1.0 or 1.1")
	}
	return nil
}

// field checks one header field line and notes the fields that frame the
// body.
func (t *tracker) field(line []byte) *violation {
	name, value, v := fieldLine(line, headViolation)
	if v != nil {
		return v
	}
	switch {
	case asciiEqualFold(name, "Content-Length"):
		// net/http takes repeated equal values (RFC 9110 §8.6 allows it)
		// and refuses different ones; a list in one line it refuses too.
		n, ok := parseLength(value)
		if !ok {
			return headViolation("malformed Content-Length")
		}
		if t.cl != nil && !bytes.Equal(t.cl, value) {
			return headViolation("two different Content-Length values")
		}
		t.cl, t.clValue = value, n
	case asciiEqualFold(name, "Transfer-Encoding"):
		t.te++
		if t.te > 1 {
			return headViolation("more than one Transfer-Encoding header line")
		}
		// Transfer-coding names are case-insensitive (RFC 9112 §7), as
		// net/http and nginx compare them.
		if !asciiEqualFold(value, "chunked") {
			return headViolation("Transfer-Encoding other than chunked")
		}
	}
	return nil
}

// endHead decides, at the head's empty line, how its body is framed.
func (t *tracker) endHead() *violation {
	cl, te, http10, n := t.cl, t.te, t.http10, t.clValue
	t.cl, t.clValue, t.te, t.http10 = nil, 0, 0, false
	switch {
	case te > 0 && cl != nil:
		// RFC 9112 §6.1: a server MAY reject such a request, and MUST then
		// close the connection; a proxy may have framed it by the other.
		return headViolation("Content-Length and Transfer-Encoding both given")
	case te > 0 && http10:
		// RFC 9112 §6.1: HTTP/1.0 has no chunked framing, so an HTTP/1.0
		// intermediary would not frame this body as net/http (which
		// ignores the field then) or a chunked-aware proxy would.
		return headViolation("Transfer-Encoding in an HTTP/1.0 request")
	case te > 0:
		t.st, t.excess = inChunkLine, 0
	case n > 0:
		t.st, t.left = inBody, n
	}
	return nil
}

// body follows the body at the start of b and says how many of its bytes
// may pass; it stops at the end of the request.
func (t *tracker) body(b []byte) (int, *violation) {
	n := 0
	for {
		switch t.st {
		case inHead:
			return n, nil
		case inBody, inChunkData:
			k := min(int64(len(b)-n), t.left)
			if k == 0 {
				return n, nil
			}
			n += int(k)
			t.skip(int(k))
		case inChunkCRLF:
			if n == len(b) {
				return n, nil
			}
			if b[n] != "\r\n"[t.crlf] {
				return n, bodyViolation("no CRLF after chunk data")
			}
			n++
			if t.crlf++; t.crlf == 2 {
				t.st = inChunkLine
			}
		case inChunkLine:
			line, ok, v := crlfLine(b[n:], maxChunkLine, "chunk size line")
			if !ok || v != nil {
				return n, v
			}
			size, v := t.chunkSize(line)
			if v != nil {
				return n, v
			}
			n += len(line) + 2
			if size == 0 {
				t.st, t.trail = inTrailer, 0
			} else {
				t.st, t.left = inChunkData, size
			}
		case inTrailer:
			line, ok, v := crlfLine(b[n:], maxTrailer-t.trail, "trailer")
			if !ok || v != nil {
				return n, v
			}
			if len(line) > 0 {
				if _, _, v := fieldLine(line, bodyViolation); v != nil {
					return n, v
				}
			} else {
				t.st = inHead
			}
			t.trail += len(line) + 2
			n += len(line) + 2
		}
	}
}

// crlfLine finds the line at the start of b, which must end in CRLF (RFC
// 9112 errata 7633; net/http refuses a bare LF in chunked framing) and
// take at most max bytes with it. ok is false while it needs more bytes.
func crlfLine(b []byte, max int, what string) (line []byte, ok bool, v *violation) {
	i := bytes.IndexByte(b[:min(len(b), max)], '\n')
	if i < 0 {
		if len(b) >= max {
			return nil, false, bodyViolation(what + " too long")
		}
		return nil, false, nil
	}
	line = b[:i]
	if len(line) == 0 || line[len(line)-1] != '\r' {
		return nil, false, bodyViolation(what + " ends in LF without CR")
	}
	line = line[:len(line)-1]
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, false, bodyViolation("CR without LF in a " + what)
	}
	return line, true, nil
}

// chunkSize parses a chunk-size line (CRLF removed): HEXDIG, then either
// ";" and extensions, or trailing blanks only, as net/http's chunked
// reader takes it ("5 ;x" it refuses, so this does too).
func (t *tracker) chunkSize(line []byte) (int64, *violation) {
	i := 0
	var size int64
	for ; i < len(line); i++ {
		d := unhex(line[i])
		if d < 0 {
			break
		}
		if i == maxChunkHex {
			return 0, bodyViolation("chunk size too large")
		}
		size = size<<4 | int64(d)
	}
	if i == 0 {
		return 0, bodyViolation("invalid chunk size")
	}
	rest := line[i:]
	switch {
	case len(rest) == 0:
	case rest[0] == ';':
		for _, c := range rest[1:] {
			if !validValueByte(c) {
				return 0, bodyViolation("invalid chunk extension")
			}
		}
	default:
		for _, c := range rest {
			if c != ' ' && c != '\t' {
				return 0, bodyViolation("invalid chunk size")
			}
		}
	}
	t.excess += int64(len(line)) + 2
	t.excess -= chunkOverheadFree + 2*size
	t.excess = max(t.excess, 0)
	if t.excess > maxChunkExcess {
		return 0, bodyViolation("too much chunk overhead for the data")
	}
	return size, nil
}

// fieldLine splits a header or trailer field line into its name and its
// value without the blanks around it, refusing what RFC 9112 §5 does not
// allow: obsolete line folding, blanks before the colon (net/textproto
// keeps them in the name, so the field would not count as the one it
// looks like), names that are not tokens, control bytes in values.
func fieldLine(line []byte, bad func(string) *violation) (name, value []byte, v *violation) {
	if line[0] == ' ' || line[0] == '\t' {
		return nil, nil, bad("obsolete line folding (a line starting with a blank)")
	}
	name, value, ok := bytes.Cut(line, []byte{':'})
	if !ok {
		return nil, nil, bad("header line without a colon")
	}
	if bytes.ContainsAny(name, " \t") {
		return nil, nil, bad("whitespace between a header name and its colon")
	}
	if !isToken(name) {
		return nil, nil, bad("invalid header name")
	}
	for _, c := range value {
		if !validValueByte(c) {
			return nil, nil, bad("invalid byte in a header value")
		}
	}
	return name, bytes.Trim(value, " \t"), nil
}

// parseLength parses a Content-Length value: 1*DIGIT, at most 2^63-1 (as
// net/http's strconv.ParseUint(s, 10, 63)).
func parseLength(s []byte) (int64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<63-1-int64(c-'0'))/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	for _, c := range s {
		if !isTchar(c) {
			return false
		}
	}
	return true
}

func isTchar(c byte) bool {
	switch {
	case '0' <= c && c <= '9', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		return true
	}
	return bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0
}

// validValueByte reports whether c may appear in a field value: VCHAR,
// obs-text, SP or HTAB (net/textproto's validHeaderValueByte).
func validValueByte(c byte) bool {
	return c == '\t' || (c >= ' ' && c != 0x7f)
}

// asciiEqualFold compares ASCII case-insensitively; strings.EqualFold
// would also fold non-ASCII letters (K, the Kelvin sign, is "k"), which
// net/http does not.
func asciiEqualFold(s []byte, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range s {
		a, b := s[i], t[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}
