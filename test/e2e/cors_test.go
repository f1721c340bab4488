package e2e

import (
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestCORSLikeGlance sends the same preflights and requests to Glance
// 25.1 and to the glint binary, both with one [cors] origin, a
// [cors.<name>] section and a wildcard section, and compares the status
// and every CORS header (Access-Control-*, Vary) of each answer.
func TestCORSLikeGlance(t *testing.T) {
	const horizon = "http://horizon.example:8080"
	opts := [][3]string{
		{"cors", "allowed_origin", horizon},
		{"cors.sub", "allowed_origin", "http://a.example, " + horizon},
		{"cors.sub", "allow_credentials", "false"},
		{"cors.sub", "expose_headers", "X-Foo"},
		{"cors.sub", "max_age", "0"},
		{"cors.zz", "allowed_origin", "*"},
		{"cors.zz", "allow_methods", "GET"},
	}
	var sets []string
	conf := ""
	for _, o := range opts {
		sets = append(sets, o[0]+"."+o[1]+"="+o[2])
		conf += "[" + o[0] + "]\n" + o[1] + " = " + o[2] + "\n"
	}
	glance := startGlance(t, filepath.Join(t.TempDir(), "glance"), sets...)
	glint := startServerConf(t, conf).URL

	pre := func(origin, method, headers string) map[string]string {
		h := map[string]string{"Origin": origin, "Access-Control-Request-Method": method}
		if headers != "" {
			h["Access-Control-Request-Headers"] = headers
		}
		return h
	}
	const file = "/v2/images/7b2a2ab4-4f4c-4f0e-9a0b-6d3c5c1a2b3c/file"
	cases := []struct {
		name         string
		method, path string
		headers      map[string]string
		body         string
	}{
		{"Horizon's direct upload preflight", "OPTIONS", file, pre(horizon, "PUT", "content-type,x-auth-token"), ""},
		{"a header not allowed", "OPTIONS", file, pre(horizon, "PUT", "content-type,x-foo"), ""},
		{"stripped and empty header names", "OPTIONS", "/v2/images", pre(horizon, "GET", " X-Auth-Token ,, accept,"), ""},
		{"a method in lower case", "OPTIONS", "/v2/images", pre(horizon, "put", ""), ""},
		{"a method not allowed", "OPTIONS", "/v2/images", pre(horizon, "TRACE", ""), ""},
		{"no request method", "OPTIONS", "/v2/images", map[string]string{"Origin": horizon}, ""},
		{"no origin", "OPTIONS", "/v2/images", map[string]string{"Access-Control-Request-Method": "GET"}, ""},
		{"a section's origin", "OPTIONS", "/v2/images", pre("http://a.example", "PATCH", "X-Auth-Token"), ""},
		{"the wildcard section", "OPTIONS", "/v2/images", pre("http://other.example", "GET", "X-Tenant-Id"), ""},
		{"the wildcard section's methods", "OPTIONS", "/v2/images", pre("http://other.example", "PUT", ""), ""},
		{"/versions", "OPTIONS", "/versions", pre("http://a.example", "GET", ""), ""},
		{"/healthcheck", "OPTIONS", "/healthcheck", pre(horizon, "GET", ""), ""},
		{"a list", "GET", "/v2/images", map[string]string{"Origin": horizon}, ""},
		{"a 404 to a section's origin", "GET", "/v2/images/nope", map[string]string{"Origin": "http://a.example"}, ""},
		{"a 404 to the wildcard", "GET", "/v2/images/nope", map[string]string{"Origin": "http://other.example"}, ""},
		{"a 400", "POST", "/v2/images", map[string]string{"Origin": horizon, "Content-Type": "application/json"}, "{"},
		{"the version list", "GET", "/", map[string]string{"Origin": horizon}, ""},
		{"/healthcheck's GET", "GET", "/healthcheck", map[string]string{"Origin": horizon}, ""},
		{"no origin, no headers", "GET", "/v2/images", nil, ""},
	}
	type answer struct {
		Status int
		CORS   map[string]string
		Empty  bool // no body (compared for OPTIONS)
	}
	ask := func(base string, method, path string, headers map[string]string, body string) answer {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		a := answer{Status: res.StatusCode, CORS: map[string]string{}, Empty: len(b) == 0}
		for k, v := range res.Header {
			if strings.HasPrefix(k, "Access-Control-") || k == "Vary" {
				a.CORS[k] = strings.Join(v, "|")
			}
		}
		if method != "OPTIONS" {
			a.Empty = false
		}
		return a
	}
	for _, tc := range cases {
		want := ask(glance, tc.method, tc.path, tc.headers, tc.body)
		got := ask(glint, tc.method, tc.path, tc.headers, tc.body)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %s %s\nGlint  %+v\nGlance %+v", tc.name, tc.method, tc.path, got, want)
		}
	}
}
