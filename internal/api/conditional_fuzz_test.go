package api

import (
	"net/http"
	"testing"
	"time"
)

// FuzzConditional: any conditional headers give one of the three
// outcomes without panicking; the current entity tag in If-None-Match,
// alone or after another tag, always matches.
func FuzzConditional(f *testing.F) {
	f.Add(`"abc"`, `W/"abc", "x"`, "Mon, 07 Dec 2026 10:00:00 GMT", `"abc"`)
	f.Add("*", "", "yesterday", "W/")
	f.Add(`"a`, `,,, "b"`, "", "Mon, 07 Dec 2026 10:00:00 GMT")
	v := dataValidators{etag: `"abc"`, modified: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	f.Fuzz(func(t *testing.T, ifMatch, ifNoneMatch, date, ifRange string) {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("If-Match", ifMatch)
		r.Header.Set("If-None-Match", ifNoneMatch)
		r.Header.Set("If-Modified-Since", date)
		r.Header.Set("If-Unmodified-Since", date)
		r.Header.Set("If-Range", ifRange)
		if c := checkPreconditions(r, v); c != condProceed && c != condNotModified && c != condFailed {
			t.Fatalf("outcome %d", c)
		}
		ifRangeHolds(r, v)
		// The current tag after anything that parses matches, whatever the dates say.
		r2, _ := http.NewRequest("GET", "/", nil)
		r2.Header.Set("If-None-Match", v.etag)
		r2.Header.Set("If-Modified-Since", date)
		if c := checkPreconditions(r2, v); c != condNotModified {
			t.Fatalf("If-None-Match %s with If-Modified-Since %q: outcome %d", v.etag, date, c)
		}
		if _, rest, ok := scanETag(ifNoneMatch); ok && rest == "" && !etagListMatches(ifNoneMatch+", "+v.etag, v.etag, true) {
			t.Fatalf("If-None-Match %q, %s does not match", ifNoneMatch, v.etag)
		}
	})
}
