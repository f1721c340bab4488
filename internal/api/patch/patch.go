// Package patch parses the two JSON-patch dialects that Glance's Image API v2
// accepts on PATCH /v2/images/{id}: the v2.1 dialect (RFC 6902 style,
// {"op": "add", "path": "/name", "value": ...}) and the older v2.0 dialect
// (draft-04 style, {"add": "/name", "value": ...}).
//
// Parsing is purely syntactic, as in Glance's RequestDeserializer: it checks
// the document shape, the operation names and the JSON pointers, and leaves
// values, read-only and reserved attributes, and location indexes out of range
// to the caller, which has the image and its schema.
package patch

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"

	"glint/internal/errs"
)

// Media types of the two dialects, as Glance names them.
const (
	MediaV21 = "application/openstack-images-v2.1-json-patch"
	MediaV20 = "application/openstack-images-v2.0-json-patch"
)

// AcceptPatch is the value of the Accept-Patch header sent with a 415. Glance
// lists the media types sorted, so v2.0 comes first.
const AcceptPatch = MediaV20 + ", " + MediaV21

// Op is one parsed patch operation.
type Op struct {
	// Op is "add", "remove" or "replace".
	Op string
	// Path holds the decoded JSON-pointer segments, e.g. ["name"],
	// ["locations","0"], ["locations","-"]. It has one segment, or two when
	// Op is add or remove and Path[0] is "locations"; the second segment is
	// then "-" or a decimal index without leading zeros, which may still be
	// too large for an int (treat that as out of range, as Glance does).
	Path []string
	// Value is the operation's value as sent, nil for remove. A JSON null
	// value is the non-nil RawMessage "null".
	Value json.RawMessage
}

const (
	opDialect errs.Op = "patch.Dialect"
	opParse   errs.Op = "patch.Parse"
)

// supportedOps is in Glance's order, which its messages list.
const supportedOps = "add, remove, replace"

// Dialect returns MediaV21 or MediaV20 for a Content-Type header value, or an
// errs.BadFormat error. Parameters such as "; charset=UTF-8" are
// ignored and the comparison is case-insensitive, since media types are.
func Dialect(contentType string) (string, error) {
	mt, _, _ := strings.Cut(contentType, ";")
	switch strings.ToLower(strings.TrimSpace(mt)) {
	case MediaV21:
		return MediaV21, nil
	case MediaV20:
		return MediaV20, nil
	}
	// webob's wording, quoting the header as sent.
	return "", errs.Errorf(opDialect, errs.BadFormat,
		"The request media type %s is not supported by this server.", contentType)
}

// Parse decodes body in the given dialect (MediaV21 or MediaV20) into ops.
// Every failure is an errs.Invalid error carrying Glance's message; the first
// bad operation stops parsing.
func Parse(dialect string, body []byte) ([]Op, error) {
	if dialect != MediaV21 && dialect != MediaV20 {
		return nil, invalid("Unrecognized JSON Schema draft version")
	}
	// Glance tells an absent body apart from an unparsable one.
	if len(body) == 0 {
		return nil, invalid("Body expected in request.")
	}
	// Glance decodes the body as strict UTF-8 before parsing it; Go's decoder
	// would otherwise quietly substitute U+FFFD.
	if !utf8.Valid(body) || !json.Valid(body) {
		return nil, invalid("Malformed JSON in request body.")
	}
	if firstByte(body) != '[' {
		return nil, invalid("Request body must be a JSON array of operation objects.")
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(body, &elems); err != nil {
		// Unreachable after json.Valid, but a decoder error must stay a 400.
		return nil, invalid("Malformed JSON in request body.")
	}
	ops := make([]Op, 0, len(elems))
	for _, elem := range elems {
		if firstByte(elem) != '{' {
			return nil, invalid("Operations must be JSON objects.")
		}
		// Duplicate keys: the last one wins, as with Python's json module.
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(elem, &obj); err != nil {
			return nil, invalid("Operations must be JSON objects.")
		}
		op, err := parseOp(dialect, obj)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// parseOp checks one operation object in Glance's order: operation name,
// path presence, pointer syntax, path depth, then value.
func parseOp(dialect string, obj map[string]json.RawMessage) (Op, error) {
	var (
		name    string
		rawPath json.RawMessage
	)
	if dialect == MediaV21 {
		rawOp, ok := obj["op"]
		// Python's dict.get cannot tell a null "op" from a missing one.
		if !ok || isNull(rawOp) {
			return Op{}, invalid("Unable to find `op` in JSON Schema change. It must be one of the following: " + supportedOps + ".")
		}
		var s string
		if firstByte(rawOp) != '"' || json.Unmarshal(rawOp, &s) != nil {
			return Op{}, invalidf("Invalid operation: `%s`. It must be one of the following: %s.", compact(rawOp), supportedOps)
		}
		if !isSupported(s) {
			return Op{}, invalidf("Invalid operation: `%s`. It must be one of the following: %s.", s, supportedOps)
		}
		name = s
		if rawPath, ok = obj["path"]; !ok {
			return Op{}, invalid("Unable to find 'path' in JSON Schema change")
		}
	} else {
		for _, k := range []string{"add", "remove", "replace"} {
			if _, ok := obj[k]; !ok {
				continue
			}
			if name != "" {
				return Op{}, invalid(`Operation objects must contain only one member named "add", "remove", or "replace".`)
			}
			name = k
		}
		if name == "" {
			return Op{}, invalid(`Operation objects must contain exactly one member named "add", "remove", or "replace".`)
		}
		rawPath = obj[name]
	}

	path, err := parsePath(name, rawPath)
	if err != nil {
		return Op{}, err
	}
	out := Op{Op: name, Path: path}
	if name == "remove" {
		// Glance never looks at a remove's value.
		return out, nil
	}
	v, ok := obj["value"]
	if !ok {
		return Op{}, invalidf(`Operation "%s" requires a member named "value".`, name)
	}
	if v == nil {
		v = json.RawMessage("null")
	}
	out.Value = v
	return out, nil
}

// parsePath decodes a JSON pointer and checks that its depth suits the
// operation. Glance words each syntax fault differently; one message serves
// them all here, quoting the pointer as sent.
func parsePath(op string, raw json.RawMessage) ([]string, error) {
	var p string
	if firstByte(raw) != '"' || json.Unmarshal(raw, &p) != nil {
		return nil, badPointer(compact(raw))
	}
	if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return nil, badPointer(p)
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		d, ok := unescape(s)
		// Glance strips whitespace around each segment, so "/name " is
		// "name"; a segment that is only whitespace names nothing.
		d = strings.TrimFunc(d, isPySpace)
		if !ok || d == "" {
			return nil, badPointer(p)
		}
		segs[i] = d
	}
	// Only the locations list may be addressed below the top level, and then
	// add and remove must name an element while replace swaps the whole list.
	want := 1
	if segs[0] == "locations" && op != "replace" {
		want = 2
	}
	if len(segs) != want {
		return nil, badPointer(p)
	}
	if want == 2 && !isIndex(segs[1]) {
		return nil, badPointer(p)
	}
	return segs, nil
}

// unescape decodes ~0 and ~1 in one pass, so "~01" is "~1" and not "/";
// any other "~" makes the pointer invalid.
func unescape(s string) (string, bool) {
	if !strings.Contains(s, "~") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '~' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return "", false
		}
		switch s[i+1] {
		case '0':
			b.WriteByte('~')
		case '1':
			b.WriteByte('/')
		default:
			return "", false
		}
		i++
	}
	return b.String(), true
}

// isIndex reports whether s addresses a list element: "-" (the end) or a
// non-negative decimal without leading zeros.
func isIndex(s string) bool {
	if s == "-" || s == "0" {
		return true
	}
	if s == "" || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isSupported(op string) bool {
	return op == "add" || op == "remove" || op == "replace"
}

// isPySpace matches what Python's str.strip removes: Unicode white space
// plus the ASCII separators U+001C..U+001F.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// firstByte returns the first non-whitespace byte of a JSON text, or 0.
func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func isNull(b []byte) bool {
	return string(bytes.TrimSpace(b)) == "null"
}

// compact renders a non-string JSON value for an error message.
func compact(raw json.RawMessage) string {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return string(raw)
	}
	return buf.String()
}

func badPointer(p string) error {
	return invalidf("Invalid JSON pointer for this resource: '%s'", p)
}

func invalid(msg string) error {
	return errs.E(opParse, errs.Invalid, msg)
}

func invalidf(format string, args ...any) error {
	return errs.Errorf(opParse, errs.Invalid, format, args...)
}
