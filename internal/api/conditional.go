package api

// Downloads that HTTP caches can keep (docs/api.md, "Caching image
// downloads"): the validators and Cache-Control of GET
// /v2/images/{id}/file, and the conditional requests of RFC 9110 §13
// evaluated against them, as net/http's ServeContent does.

import (
	"net/http"
	"strings"
	"time"

	"glint/internal/errs"
	"glint/internal/image"
)

// dataValidators are the validators of an image's data. Both are empty
// when no recorded hash pins the data (an image added by location without
// validation data): what such a location serves may change under the same
// record, so nothing may claim it has not.
type dataValidators struct {
	etag     string    // strong entity tag, quoted
	modified time.Time // Last-Modified, in whole seconds
}

// validatorsOf derives the validators from the image record alone, so a
// revalidation never reads the store. The entity tag is the data's own
// hash: os_hash_value (the secure multihash, sha512 by default), else the
// legacy MD5 checksum of images that predate it. Last-Modified is
// updated_at: the data never changes once the image has it, and
// updated_at is never earlier than that moment; a metadata change moves
// it, which only makes a date-only revalidation download again.
func validatorsOf(img *image.Image) dataValidators {
	var tag string
	switch {
	case img.OSHashValue != nil && *img.OSHashValue != "":
		tag = *img.OSHashValue
	case img.Checksum != nil && *img.Checksum != "":
		tag = *img.Checksum
	}
	if tag == "" || !isETagText(tag) {
		return dataValidators{}
	}
	return dataValidators{etag: `"` + tag + `"`, modified: img.UpdatedAt.UTC().Truncate(time.Second)}
}

// isETagText reports whether s may stand between an entity tag's quotes
// (etagc, RFC 9110 §8.8.3): a database adopted from Glance holds whatever
// hash text a client once gave.
func isETagText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != 0x21 && (c < 0x23 || c > 0x7e) {
			return false
		}
	}
	return true
}

// setCacheHeaders writes the validators and the caching rules of a
// download of img (a 200, 206 or 304). Only data that anyone may read
// (public and community images, and every image when the node runs
// without authentication) is "public"; the rest is "private", which no
// shared cache may store. Either way no-cache makes every cache ask Glint
// again, with the caller's own request and token, before each reuse, so a
// 304 passes the same access checks as a download, and an image that is
// deactivated, deleted or made private stops being served from caches at
// their next revalidation. Data no hash pins is never stored.
func (s *Server) setCacheHeaders(h http.Header, img *image.Image, v dataValidators) {
	if v.etag == "" {
		h.Set("Cache-Control", "no-store")
		return
	}
	h.Set("ETag", v.etag)
	h.Set("Last-Modified", v.modified.Format(http.TimeFormat))
	if s.anyoneMayRead(img) {
		// No Vary on X-Auth-Token: tokens are per user and short-lived,
		// so it would split the cache per token and keep nothing shared;
		// the revalidation carries the caller's token instead.
		h.Set("Cache-Control", "public, no-cache")
		return
	}
	h.Set("Cache-Control", "private, no-cache")
	// For a cache that ignores "private" but honours Vary.
	h.Add("Vary", "X-Auth-Token")
}

// anyoneMayRead reports whether every caller may read img's data, the
// condition for a shared cache to keep it.
func (s *Server) anyoneMayRead(img *image.Image) bool {
	return s.noauth || img.Visibility == image.Public || img.Visibility == image.Community
}

// precondition is the outcome of a request's conditional headers.
type precondition int

const (
	condProceed     precondition = iota // serve the data (subject to If-Range)
	condNotModified                     // 304
	condFailed                          // 412
)

// checkPreconditions evaluates If-Match, If-Unmodified-Since,
// If-None-Match and If-Modified-Since in the order of RFC 9110 §13.2.2,
// for a GET of data that exists.
func checkPreconditions(r *http.Request, v dataValidators) precondition {
	if im := r.Header.Get("If-Match"); im != "" {
		if !etagListMatches(im, v.etag, false) {
			return condFailed
		}
	} else if ius := r.Header.Get("If-Unmodified-Since"); ius != "" && !v.modified.IsZero() {
		if t, err := http.ParseTime(ius); err == nil && v.modified.After(t) {
			return condFailed
		}
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		if etagListMatches(inm, v.etag, true) {
			return condNotModified
		}
	} else if ims := r.Header.Get("If-Modified-Since"); ims != "" && !v.modified.IsZero() {
		if t, err := http.ParseTime(ims); err == nil && !v.modified.After(t) {
			return condNotModified
		}
	}
	return condProceed
}

// ifRangeHolds reports whether a range request may be answered with the
// range (RFC 9110 §13.1.5): without If-Range, or when If-Range names the
// current data by its strong entity tag or its exact Last-Modified date.
// When it does not hold, the whole image is sent.
func ifRangeHolds(r *http.Request, v dataValidators) bool {
	ir := strings.TrimSpace(r.Header.Get("If-Range"))
	if ir == "" {
		return true
	}
	if tag, rest, ok := scanETag(ir); ok {
		return rest == "" && !tag.weak && v.etag != "" && tag.opaque == v.etag
	}
	t, err := http.ParseTime(ir)
	return err == nil && !v.modified.IsZero() && v.modified.Equal(t)
}

// etagListMatches reports whether an If-Match (weak false: strong
// comparison) or If-None-Match (weak true: weak comparison) field value
// matches etag. "*" matches any current data; a malformed list matches
// nothing after its fault.
func etagListMatches(list, etag string, weak bool) bool {
	list = strings.TrimSpace(list)
	if list == "*" {
		return true
	}
	for {
		list = strings.TrimLeft(list, " \t,")
		if list == "" {
			return false
		}
		tag, rest, ok := scanETag(list)
		if !ok {
			return false
		}
		if etag != "" && tag.opaque == etag && (weak || !tag.weak) {
			return true
		}
		list = rest
	}
}

type entityTag struct {
	opaque string // with its quotes
	weak   bool
}

// scanETag reads one entity-tag (RFC 9110 §8.8.3) from the start of s.
func scanETag(s string) (tag entityTag, rest string, ok bool) {
	s = strings.TrimLeft(s, " \t")
	if strings.HasPrefix(s, "W/") {
		tag.weak, s = true, s[2:]
	}
	if len(s) < 2 || s[0] != '"' {
		return entityTag{}, "", false
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			tag.opaque = s[:i+1]
			return tag, strings.TrimLeft(s[i+1:], " \t"), true
		case c != 0x21 && (c < 0x23 || c > 0x7e) && c < 0x80:
			return entityTag{}, "", false
		}
	}
	return entityTag{}, "", false
}

// errPreconditionFailed is the answer to an If-Match or
// If-Unmodified-Since that the image's data does not meet.
func errPreconditionFailed() error {
	return &httpError{status: http.StatusPreconditionFailed,
		err: errs.E(errs.Op("api.download"), "The image data does not meet the request's preconditions.")}
}
