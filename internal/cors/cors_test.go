package cors

import (
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// glance is the rule Glance's defaults give an origin.
var glance = Rule{
	AllowCredentials: true,
	ExposeHeaders:    []string{"X-Image-Meta-Checksum", "X-Auth-Token", "X-Subject-Token", "X-Service-Token", "X-OpenStack-Request-ID"},
	MaxAge:           3600,
	AllowMethods:     []string{"GET", "PUT", "POST", "DELETE", "PATCH"},
	AllowHeaders: []string{"Content-MD5", "X-Image-Meta-Checksum", "X-Storage-Token", "Accept-Encoding", "X-Auth-Token",
		"X-Identity-Status", "X-Roles", "X-Service-Catalog", "X-User-Id", "X-Tenant-Id", "X-OpenStack-Request-ID"},
}

func testPolicy() *Policy {
	sub := glance
	sub.AllowCredentials, sub.ExposeHeaders, sub.MaxAge = false, []string{"X-Foo"}, 0
	wild := glance
	wild.AllowMethods = []string{"GET"}
	return New(
		Group{Origins: []string{"http://horizon.example:8080"}, Rule: glance},
		// A later group does not take an origin an earlier one has.
		Group{Origins: []string{"http://a.example", "http://horizon.example:8080"}, Rule: sub},
		Group{Origins: []string{"*"}, Rule: wild},
	)
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// The preflight answers, as oslo.middleware's filter gives them in
// Glance 25.1 (test/e2e's TestCORSLikeGlance compares the two).
func TestPreflight(t *testing.T) {
	horizon := "http://horizon.example:8080"
	cases := []struct {
		name string
		p    *Policy
		req  http.Header
		want http.Header // nil: no CORS header
	}{
		{"Horizon's direct upload", testPolicy(),
			hdr("Origin", horizon, "Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "content-type,x-auth-token"),
			hdr("Vary", "Origin", "Access-Control-Allow-Origin", horizon, "Access-Control-Allow-Credentials", "true",
				"Access-Control-Max-Age", "3600", "Access-Control-Allow-Methods", "PUT", "Access-Control-Allow-Headers", "content-type,x-auth-token")},
		{"no headers asked for", testPolicy(),
			hdr("Origin", horizon, "Access-Control-Request-Method", "DELETE"),
			hdr("Vary", "Origin", "Access-Control-Allow-Origin", horizon, "Access-Control-Allow-Credentials", "true",
				"Access-Control-Max-Age", "3600", "Access-Control-Allow-Methods", "DELETE")},
		{"headers stripped, empty ones dropped, case kept", testPolicy(),
			hdr("Origin", horizon, "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", " X-Auth-Token ,, accept\xa0,"),
			hdr("Vary", "Origin", "Access-Control-Allow-Origin", horizon, "Access-Control-Allow-Credentials", "true",
				"Access-Control-Max-Age", "3600", "Access-Control-Allow-Methods", "GET", "Access-Control-Allow-Headers", "X-Auth-Token,accept")},
		{"several header lines", testPolicy(),
			hdr("Origin", horizon, "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "x-roles", "Access-Control-Request-Headers", "pragma"),
			hdr("Vary", "Origin", "Access-Control-Allow-Origin", horizon, "Access-Control-Allow-Credentials", "true",
				"Access-Control-Max-Age", "3600", "Access-Control-Allow-Methods", "GET", "Access-Control-Allow-Headers", "x-roles,pragma")},
		{"a header not allowed", testPolicy(),
			hdr("Origin", horizon, "Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "content-type,x-foo"), nil},
		{"a method not allowed", testPolicy(),
			hdr("Origin", horizon, "Access-Control-Request-Method", "OPTIONS"), nil},
		{"methods compare exactly", testPolicy(),
			hdr("Origin", horizon, "Access-Control-Request-Method", "put"), nil},
		{"no method", testPolicy(), hdr("Origin", horizon), nil},
		{"no origin", testPolicy(), hdr("Access-Control-Request-Method", "GET"), nil},
		{"the second group's origin, its own rule", testPolicy(),
			hdr("Origin", "http://a.example", "Access-Control-Request-Method", "PUT"),
			hdr("Vary", "Origin", "Access-Control-Allow-Origin", "http://a.example", "Access-Control-Allow-Methods", "PUT")},
		{"any other origin: the wildcard's rule", testPolicy(),
			hdr("Origin", "http://other.example", "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "X-Tenant-Id"),
			hdr("Vary", "Origin", "Access-Control-Allow-Origin", "*", "Access-Control-Allow-Credentials", "true",
				"Access-Control-Max-Age", "3600", "Access-Control-Allow-Methods", "GET", "Access-Control-Allow-Headers", "X-Tenant-Id")},
		{"the wildcard's methods", testPolicy(),
			hdr("Origin", "http://other.example", "Access-Control-Request-Method", "PUT"), nil},
		{"an origin compares exactly", New(Group{Origins: []string{"http://h.example"}, Rule: glance}),
			hdr("Origin", "http://H.example", "Access-Control-Request-Method", "GET"), nil},
		{"an empty origin is an origin", New(Group{Origins: []string{"*"}, Rule: glance}),
			hdr("Origin", "", "Access-Control-Request-Method", "GET"),
			hdr("Vary", "Origin", "Access-Control-Allow-Origin", "*", "Access-Control-Allow-Credentials", "true",
				"Access-Control-Max-Age", "3600", "Access-Control-Allow-Methods", "GET")},
		{"not configured", nil,
			hdr("Origin", horizon, "Access-Control-Request-Method", "GET"), nil},
		{"configured without origins", New(Group{Rule: glance}),
			hdr("Origin", horizon, "Access-Control-Request-Method", "GET"), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := http.Header{}
			added := tc.p.Preflight(tc.req, got)
			if added != (tc.want != nil) {
				t.Errorf("Preflight = %v", added)
			}
			if tc.want == nil {
				tc.want = http.Header{}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("headers\n%v\nwant\n%v", got, tc.want)
			}
		})
	}
}

func TestActual(t *testing.T) {
	expose := "X-Image-Meta-Checksum,X-Auth-Token,X-Subject-Token,X-Service-Token,X-OpenStack-Request-ID"
	cases := []struct {
		name       string
		p          *Policy
		req, resp  http.Header
		want       http.Header
		wantsAdded bool
	}{
		{"allowed", testPolicy(), hdr("Origin", "http://horizon.example:8080"), hdr("Content-Type", "application/json"),
			hdr("Content-Type", "application/json", "Vary", "Origin", "Access-Control-Allow-Origin", "http://horizon.example:8080",
				"Access-Control-Allow-Credentials", "true", "Access-Control-Expose-Headers", expose), true},
		{"a Vary already there", testPolicy(), hdr("Origin", "http://a.example"), hdr("Vary", "Accept"),
			hdr("Vary", "Accept,Origin", "Access-Control-Allow-Origin", "http://a.example", "Access-Control-Expose-Headers", "X-Foo"), true},
		{"the wildcard", testPolicy(), hdr("Origin", "null"), http.Header{},
			hdr("Vary", "Origin", "Access-Control-Allow-Origin", "*", "Access-Control-Allow-Credentials", "true", "Access-Control-Expose-Headers", expose), true},
		{"nothing to expose", New(Group{Origins: []string{"http://o"}}), hdr("Origin", "http://o"), http.Header{},
			hdr("Vary", "Origin", "Access-Control-Allow-Origin", "http://o"), true},
		{"not allowed", New(Group{Origins: []string{"http://o"}, Rule: glance}), hdr("Origin", "http://p"), http.Header{}, http.Header{}, false},
		{"no origin", testPolicy(), http.Header{}, http.Header{}, http.Header{}, false},
		{"not configured", nil, hdr("Origin", "http://o"), http.Header{}, http.Header{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if added := tc.p.Actual(tc.req, tc.resp); added != tc.wantsAdded {
				t.Errorf("Actual = %v", added)
			}
			if !reflect.DeepEqual(tc.resp, tc.want) {
				t.Errorf("headers\n%v\nwant\n%v", tc.resp, tc.want)
			}
		})
	}
}

// Wrap decorates what a handler answers: errors too, sendfile kept, a
// preflight the handler refused made an empty 200.
func TestWrap(t *testing.T) {
	p := testPolicy()
	serve := func(h http.HandlerFunc) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(p.Wrap(w, r), r) })
	}
	cases := []struct {
		name       string
		method     string
		req        http.Header
		handler    http.HandlerFunc
		status     int
		body       string
		wantHeader http.Header // headers that must be there
		noHeader   []string    // headers that must not
	}{
		{"an error gets the headers", "GET", hdr("Origin", "http://horizon.example:8080"),
			func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(404)
				io.WriteString(w, "no")
			}, 404, "no", hdr("Access-Control-Allow-Origin", "http://horizon.example:8080", "Content-Type", "text/plain"), nil},
		{"an implicit 200 too", "GET", hdr("Origin", "http://a.example"),
			func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") },
			200, "ok", hdr("Access-Control-Allow-Origin", "http://a.example", "Vary", "Origin"), nil},
		{"a download through ReadFrom", "GET", hdr("Origin", "http://a.example"),
			func(w http.ResponseWriter, r *http.Request) { w.(io.ReaderFrom).ReadFrom(strings.NewReader("data")) },
			200, "data", hdr("Access-Control-Allow-Origin", "http://a.example"), nil},
		{"a flush first", "GET", hdr("Origin", "http://a.example"),
			func(w http.ResponseWriter, r *http.Request) {
				http.NewResponseController(w).Flush()
				io.WriteString(w, "x")
			},
			200, "x", hdr("Access-Control-Allow-Origin", "http://a.example"), nil},
		{"what is behind knows better", "GET", hdr("Origin", "http://a.example"),
			func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Access-Control-Allow-Origin", "x") },
			200, "", hdr("Access-Control-Allow-Origin", "x"), []string{"Vary"}},
		{"an origin not allowed", "GET", hdr("Origin", "http://b.example"),
			func(w http.ResponseWriter, r *http.Request) {}, 200, "", nil, []string{"Access-Control-Allow-Origin", "Vary"}},
		{"a refused preflight becomes an empty 200", "OPTIONS",
			hdr("Origin", "http://horizon.example:8080", "Access-Control-Request-Method", "PUT"),
			func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Openstack-Request-Id", "req-1")
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(405)
				io.WriteString(w, "refused")
			}, 200, "", hdr("Access-Control-Allow-Methods", "PUT", "Content-Length", "0"), []string{"X-Openstack-Request-Id", "Content-Type"}},
		{"a 2xx answer to OPTIONS is kept", "OPTIONS",
			hdr("Origin", "http://horizon.example:8080", "Access-Control-Request-Method", "GET"),
			func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, "{}")
			}, 200, "{}", hdr("Access-Control-Allow-Methods", "GET", "Content-Type", "application/json"), []string{"Access-Control-Expose-Headers"}},
		{"OPTIONS without an origin is still an empty 200", "OPTIONS", http.Header{},
			func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404); io.WriteString(w, "x") },
			200, "", nil, []string{"Access-Control-Allow-Origin"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(serve(tc.handler))
			defer srv.Close()
			req, _ := http.NewRequest(tc.method, srv.URL, nil)
			req.Header = tc.req
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.status || string(b) != tc.body {
				t.Errorf("answer %d %q, want %d %q", res.StatusCode, b, tc.status, tc.body)
			}
			for k := range tc.wantHeader {
				if got := res.Header.Get(k); got != tc.wantHeader.Get(k) {
					t.Errorf("%s: %q, want %q", k, got, tc.wantHeader.Get(k))
				}
			}
			for _, k := range tc.noHeader {
				if v, ok := res.Header[http.CanonicalHeaderKey(k)]; ok {
					t.Errorf("%s: %q, want none", k, v)
				}
			}
		})
	}
}

// Wrap costs nothing on the requests that cannot need CORS.
func TestWrapPassesThrough(t *testing.T) {
	w := httptest.NewRecorder()
	for _, p := range []*Policy{nil, testPolicy()} {
		r := httptest.NewRequest("GET", "/v2/images", nil)
		if got := p.Wrap(w, r); got != http.ResponseWriter(w) {
			t.Errorf("GET without Origin wrapped: %T", got)
		}
	}
	r := httptest.NewRequest("GET", "/v2/images", nil)
	r.Header.Set("Origin", "http://b.example")
	if got := New(Group{Origins: []string{"http://a.example"}}).Wrap(w, r); got != http.ResponseWriter(w) {
		t.Errorf("GET from an origin not allowed wrapped: %T", got)
	}
}

// FuzzPreflight feeds a preflight's untrusted headers to the policy: the
// answer never allows what the policy does not, and never echoes more
// than what was asked.
func FuzzPreflight(f *testing.F) {
	f.Add("http://horizon.example:8080", "PUT", "content-type,x-auth-token")
	f.Add("http://a.example", "GET", " ,\xa0X-Roles\x85,")
	f.Add("null", "DELETE", "")
	f.Add("", "put", "ß,SS")
	p := testPolicy()
	f.Fuzz(func(t *testing.T, origin, method, headers string) {
		req := hdr("Origin", origin, "Access-Control-Request-Method", method, "Access-Control-Request-Headers", headers)
		resp := http.Header{}
		if !p.Preflight(req, resp) {
			if len(resp) != 0 {
				t.Fatalf("refused, yet headers %v", resp)
			}
			return
		}
		ao := resp.Get("Access-Control-Allow-Origin")
		_, r, ok := p.match(origin)
		if !ok || (ao != origin && ao != "*") {
			t.Fatalf("allowed origin %q for %q", ao, origin)
		}
		if resp.Get("Access-Control-Allow-Methods") != method || !slices.Contains(r.AllowMethods, method) {
			t.Fatalf("allowed method %q", method)
		}
		for _, h := range splitValues(req, "Access-Control-Request-Headers") {
			if !r.allowHeaders[upper(h)] {
				t.Fatalf("allowed header %q", h)
			}
			if !strings.Contains(headers, h) {
				t.Fatalf("echoed %q, not in %q", h, headers)
			}
		}
		// What Actual adds for the same origin is as allowed.
		ar := http.Header{}
		if !p.Actual(req, ar) || ar.Get("Access-Control-Allow-Origin") != ao {
			t.Fatalf("preflight allowed %q, actual answer %v", ao, ar)
		}
	})
}
