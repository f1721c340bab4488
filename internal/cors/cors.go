// Package cors answers cross-origin requests as oslo.middleware's cors
// filter does at the front of Glance's pipeline: preflight requests
// (OPTIONS with Origin and Access-Control-Request-Method) of an allowed
// origin get the Access-Control-Allow-* headers, and the actual responses
// to an allowed origin (errors included) get Access-Control-Allow-Origin,
// -Allow-Credentials and -Expose-Headers. An origin no rule allows gets
// no CORS header at all, and neither does anybody when no origin is
// configured.
//
// As in the filter, an OPTIONS request whose answer is not a 2xx is
// answered with an empty 200 instead, whether or not CORS is configured.
package cors

import (
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Rule is what one allowed origin may do: oslo.middleware's options of a
// [cors] or [cors.<name>] section other than allowed_origin.
type Rule struct {
	AllowCredentials bool
	ExposeHeaders    []string
	MaxAge           int
	AllowMethods     []string
	AllowHeaders     []string
}

// Group is one section: the origins it allows and their rule. "*"
// allows any origin no other group names.
type Group struct {
	Origins []string
	Rule
}

// Policy holds the allowed origins. The nil *Policy allows none.
type Policy struct {
	rules map[string]*rule
}

// rule is a Rule prepared for the checks of a preflight.
type rule struct {
	Rule
	allowHeaders map[string]bool // upper-cased, the simple headers included
}

// simpleHeaders are the headers oslo.middleware allows in a preflight
// whatever allow_headers says.
var simpleHeaders = []string{"Accept", "Accept-Language", "Content-Type", "Cache-Control",
	"Content-Language", "Expires", "Last-Modified", "Pragma"}

// New builds the policy of the groups, read in order as oslo.middleware
// reads [cors] and then the [cors.<name>] sections: an origin named by
// two groups keeps the first one's rule. It returns nil when no group
// names an origin.
func New(groups ...Group) *Policy {
	p := &Policy{rules: map[string]*rule{}}
	for _, g := range groups {
		r := &rule{Rule: g.Rule, allowHeaders: map[string]bool{}}
		for _, h := range append(slices.Clone(g.AllowHeaders), simpleHeaders...) {
			r.allowHeaders[upper(h)] = true
		}
		for _, o := range g.Origins {
			if _, dup := p.rules[o]; !dup {
				p.rules[o] = r
			}
		}
	}
	if len(p.rules) == 0 {
		return nil
	}
	return p
}

// match returns the rule for an Origin header value and the value
// Access-Control-Allow-Origin takes: the origin itself, or "*" when only
// the wildcard allows it.
func (p *Policy) match(origin string) (string, *rule, bool) {
	if p == nil {
		return "", nil, false
	}
	if r, ok := p.rules[origin]; ok {
		return origin, r, true
	}
	if r, ok := p.rules["*"]; ok {
		return "*", r, true
	}
	return "", nil, false
}

// header returns a request header as the filter reads it through WSGI:
// present or not, several lines joined with commas.
func header(h http.Header, name string) (string, bool) {
	v, ok := h[name]
	if !ok {
		return "", false
	}
	return strings.Join(v, ","), true
}

// Preflight adds to resp the headers of a preflight answer to a request
// with headers req, if the request earns any: an allowed Origin, an
// Access-Control-Request-Method in the rule's methods (compared exactly)
// and every Access-Control-Request-Headers name allowed (compared without
// case). It reports whether it added them.
func (p *Policy) Preflight(req, resp http.Header) bool {
	origin, ok := header(req, "Origin")
	if !ok {
		return false
	}
	allowOrigin, r, ok := p.match(origin)
	if !ok {
		return false
	}
	method, ok := header(req, "Access-Control-Request-Method")
	if !ok || !slices.Contains(r.AllowMethods, method) {
		return false
	}
	requested := splitValues(req, "Access-Control-Request-Headers")
	for _, h := range requested {
		if !r.allowHeaders[upper(h)] {
			return false
		}
	}
	resp.Set("Vary", "Origin")
	resp.Set("Access-Control-Allow-Origin", allowOrigin)
	if r.AllowCredentials {
		resp.Set("Access-Control-Allow-Credentials", "true")
	}
	if r.MaxAge != 0 {
		resp.Set("Access-Control-Max-Age", strconv.Itoa(r.MaxAge))
	}
	resp.Set("Access-Control-Allow-Methods", method)
	if len(requested) > 0 {
		resp.Set("Access-Control-Allow-Headers", strings.Join(requested, ","))
	}
	return true
}

// Actual adds to resp the headers of an actual (not preflight) response
// to a request with headers req, if its Origin is allowed, and reports
// whether it did.
func (p *Policy) Actual(req, resp http.Header) bool {
	origin, ok := header(req, "Origin")
	if !ok {
		return false
	}
	allowOrigin, r, ok := p.match(origin)
	if !ok {
		return false
	}
	if v := resp.Values("Vary"); len(v) > 0 {
		resp.Set("Vary", strings.Join(v, ",")+",Origin")
	} else {
		resp.Set("Vary", "Origin")
	}
	resp.Set("Access-Control-Allow-Origin", allowOrigin)
	if r.AllowCredentials {
		resp.Set("Access-Control-Allow-Credentials", "true")
	}
	if len(r.ExposeHeaders) > 0 {
		resp.Set("Access-Control-Expose-Headers", strings.Join(r.ExposeHeaders, ","))
	}
	return true
}

// splitValues splits a comma-separated request header into its items,
// each stripped of whitespace as Python's str.strip does on the header's
// Latin-1 text, empty items dropped.
func splitValues(h http.Header, name string) []string {
	v, ok := header(h, name)
	if !ok {
		return nil
	}
	var out []string
	for _, it := range strings.Split(v, ",") {
		if it = pyStrip(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}

// pyStrip trims what Python's str.strip trims from a header value decoded
// as Latin-1 (each byte one character): ASCII whitespace, the
// information separators 0x1c-0x1f, NEL (0x85) and NBSP (0xa0).
func pyStrip(s string) string {
	isSpace := func(c byte) bool {
		switch c {
		case ' ', '\t', '\n', '\v', '\f', '\r', 0x1c, 0x1d, 0x1e, 0x1f, 0x85, 0xa0:
			return true
		}
		return false
	}
	i, j := 0, len(s)
	for i < j && isSpace(s[i]) {
		i++
	}
	for j > i && isSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}

// upper upper-cases a header name for comparison. Request headers are
// Latin-1 text to the filter; configured names are ASCII in practice.
func upper(s string) string {
	rs := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		rs[i] = rune(s[i])
	}
	return strings.ToUpper(string(rs))
}

// Wrap returns the writer the response to r is written through: one that
// adds the CORS headers when the status is written, or w itself when the
// response cannot need them (not OPTIONS, and no allowed Origin).
func (p *Policy) Wrap(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	preflight := r.Method == http.MethodOptions
	if !preflight {
		origin, ok := header(r.Header, "Origin")
		if !ok {
			return w
		}
		if _, _, ok := p.match(origin); !ok {
			return w
		}
	}
	return &writer{ResponseWriter: w, p: p, req: r.Header, preflight: preflight}
}

// writer decorates a response when its status is written, as the filter
// decorates the response the pipeline returns to it.
type writer struct {
	http.ResponseWriter
	p         *Policy
	req       http.Header
	preflight bool
	wrote     bool
	discard   bool // the answer was replaced by an empty 200
}

func (w *writer) WriteHeader(code int) {
	if w.wrote || (code >= 100 && code < 200 && code != http.StatusSwitchingProtocols) {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.wrote = true
	h := w.Header()
	if _, ok := h["Access-Control-Allow-Origin"]; ok {
		// Something behind knew better (the filter's own rule).
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if !w.preflight {
		w.p.Actual(w.req, h)
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if code < 200 || code >= 300 {
		// A preflight the API did not answer with a 2xx: a fresh empty
		// 200, without the API's headers.
		clear(h)
		h.Set("Content-Length", "0")
		code, w.discard = http.StatusOK, true
	}
	w.p.Preflight(w.req, h)
	w.ResponseWriter.WriteHeader(code)
}

func (w *writer) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.discard {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// ReadFrom keeps sendfile(2) reachable for downloads.
func (w *writer) ReadFrom(src io.Reader) (int64, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.discard {
		return io.Copy(io.Discard, src)
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(onlyWriter{w.ResponseWriter}, src)
}

// onlyWriter hides a writer's ReadFrom so that io.Copy does not loop.
type onlyWriter struct{ io.Writer }

func (w *writer) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
