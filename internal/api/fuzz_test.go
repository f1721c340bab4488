package api

import (
	"net/http"
	"testing"

	"glint/internal/errs"
)

// FuzzParseListQuery: any query string either parses into a bounded query
// or is refused as bad input, never a panic or another kind of error.
func FuzzParseListQuery(f *testing.F) {
	for _, s := range []string{"", "limit=5&marker=x", "sort=name:asc,size", "sort_key=name&sort_dir=desc",
		`name=in:"a,b",c`, "created_at=gt:2020-01-01T00:00:00Z", "tag=a&tag=b&os_distro=x", "size_min=1&size_max=2",
		"visibility=all&member_status=pending&os_hidden=TRUE", `name=in:"a`, "%zz", "limit=-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseListQuery(raw, 25, 1000)
		if err != nil {
			if errs.KindOf(err) != errs.Invalid {
				t.Fatalf("%q: error of kind %v: %v", raw, errs.KindOf(err), err)
			}
			return
		}
		if q.Limit < 0 || q.Limit > 1000 {
			t.Fatalf("%q: limit %d", raw, q.Limit)
		}
		for _, f := range q.Filters {
			if f.Op == "" || (len(f.Values) == 0 && f.Field != "size" && f.Field != "created_at" && f.Field != "updated_at") {
				t.Fatalf("%q: bad filter %+v", raw, f)
			}
		}
	})
}

// FuzzParseRange: any Range header gives a range inside the image or a
// 400/416, never a panic.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-9", "bytes=-5", "bytes=5-", "bytes=1-2,3-4", "bytes=9-3", "lines=1", "bytes=-0", "bytes=99999999999999999999-"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size <= 0 {
			return
		}
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Range", h)
		start, end, _, err := parseRange(r, size)
		if err != nil {
			if k := errs.KindOf(err); k != errs.Invalid && k != errs.OutOfRange {
				t.Fatalf("%q: kind %v", h, k)
			}
			return
		}
		if start < 0 || end >= size || start > end {
			t.Fatalf("%q over %d: [%d, %d]", h, size, start, end)
		}
	})
}
