package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"glint/internal/errs"
)

// maxJSONBody bounds metadata request bodies; image data never goes here.
const maxJSONBody = 1 << 20

// readBody reads a metadata request body, bounded, and refuses what no
// database can store the same way. Glance decodes bodies as strict UTF-8
// (Go's decoder would quietly put U+FFFD in place of bad bytes), and a NUL
// in a string is refused here for every database, since PostgreSQL cannot
// store one and SQLite and MariaDB can: the answer must not depend on the
// database behind the API.
func readBody(r *http.Request) ([]byte, error) {
	const op errs.Op = "api.readBody"
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxJSONBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errs.E(op, errs.TooLarge, "Request body is too large.")
		}
		return nil, errs.E(op, errs.Invalid, "Could not read the request body.", err)
	}
	if !utf8.Valid(body) {
		return nil, errs.E(op, errs.Invalid, "Malformed JSON in request body.")
	}
	if hasNUL(body) {
		return nil, errs.E(op, errs.Invalid, nulMessage)
	}
	return body, nil
}

const nulMessage = "Strings may not contain NUL (\\u0000) characters."

// hasNUL reports whether a JSON document holds a string (a key or a value)
// with a NUL character. A raw NUL byte makes the JSON invalid anyway, so
// only the escape can bring one in; the token walk tells it apart from an
// escaped backslash followed by "u0000".
func hasNUL(body []byte) bool {
	if !bytes.Contains(body, []byte(`\u0000`)) {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false // not JSON: the caller's parser says so
		}
		if s, ok := tok.(string); ok && strings.IndexByte(s, 0) >= 0 {
			return true
		}
	}
}

// nulInRequestLine reports a NUL in the path or the query, which would
// reach the database as a tag, a member or a filter value.
func nulInRequestLine(r *http.Request) bool {
	return strings.IndexByte(r.URL.Path, 0) >= 0 || strings.Contains(r.URL.RawQuery, "%00") ||
		strings.Contains(r.URL.RawPath, "%00")
}
