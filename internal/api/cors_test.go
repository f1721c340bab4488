package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"glint/internal/app"
	"glint/internal/app/apptest"
	"glint/internal/config"
	"glint/internal/errs"
)

// CORS through the whole API, configured as [cors] and [cors.<name>]
// are: preflights, actual answers and errors (the API's and the
// authenticator's), for allowed origins, others, and with no [cors].
func TestCORS(t *testing.T) {
	const horizon = "http://horizon.example:8080"
	expose := "X-Image-Meta-Checksum,X-Auth-Token,X-Subject-Token,X-Service-Token,X-OpenStack-Request-ID"
	configured := func(c *config.Config) {
		c.CORS.AllowedOrigin = []string{horizon}
		sub := c.CORS
		sub.Section, sub.AllowedOrigin, sub.AllowCredentials, sub.MaxAge = "cors.sub", []string{"http://sub.example"}, false, 0
		c.CORSSections = []config.CORS{sub}
	}
	preflight := func(origin, method, headers string) map[string]string {
		h := map[string]string{"Origin": origin, "Access-Control-Request-Method": method}
		if headers != "" {
			h["Access-Control-Request-Headers"] = headers
		}
		return h
	}
	type want struct {
		status  int
		body    string            // substring
		headers map[string]string // "" for must be absent
	}
	none := map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": "", "Access-Control-Allow-Methods": "",
		"Access-Control-Expose-Headers": "", "Vary": ""}
	cases := []struct {
		name    string
		adjust  func(*config.Config)
		refuse  bool // the authenticator refuses every request
		method  string
		path    string
		headers map[string]string
		want    want
	}{
		{"Horizon's preflight of a direct upload", configured, false, "OPTIONS", "/v2/images/00000000-0000-0000-0000-000000000001/file",
			preflight(horizon, "PUT", "content-type,x-auth-token"),
			want{200, "", map[string]string{"Access-Control-Allow-Origin": horizon, "Access-Control-Allow-Credentials": "true",
				"Access-Control-Allow-Methods": "PUT", "Access-Control-Allow-Headers": "content-type,x-auth-token",
				"Access-Control-Max-Age": "3600", "Vary": "Origin", "Content-Length": "0", "Content-Type": "",
				"X-Openstack-Request-Id": "", "Access-Control-Expose-Headers": ""}}},
		{"a preflight from a section's origin", configured, false, "OPTIONS", "/v2/images",
			preflight("http://sub.example", "POST", "X-Auth-Token"),
			want{200, "", map[string]string{"Access-Control-Allow-Origin": "http://sub.example", "Access-Control-Allow-Credentials": "",
				"Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers": "X-Auth-Token", "Access-Control-Max-Age": ""}}},
		{"a preflight asking for a header not allowed", configured, false, "OPTIONS", "/v2/images",
			preflight(horizon, "PUT", "content-type,x-foo"), want{200, "", none}},
		{"a preflight from an origin not allowed", configured, false, "OPTIONS", "/v2/images",
			preflight("http://evil.example", "PUT", ""), want{200, "", none}},
		{"a preflight with nothing configured", nil, false, "OPTIONS", "/v2/images",
			preflight(horizon, "PUT", ""), want{200, "", none}},
		{"a preflight to /versions keeps its body", configured, false, "OPTIONS", "/versions",
			preflight(horizon, "GET", ""), want{200, `"versions"`, map[string]string{"Access-Control-Allow-Origin": horizon,
				"Access-Control-Allow-Methods": "GET", "Content-Type": "application/json"}}},
		{"a preflight to /healthcheck too", configured, false, "OPTIONS", "/healthcheck",
			preflight(horizon, "GET", ""), want{200, "OK", map[string]string{"Access-Control-Allow-Origin": horizon}}},
		{"a preflight is not authenticated", configured, true, "OPTIONS", "/v2/images",
			preflight(horizon, "GET", "x-auth-token"), want{200, "", map[string]string{"Access-Control-Allow-Origin": horizon}}},
		{"a list", configured, false, "GET", "/v2/images", map[string]string{"Origin": horizon},
			want{200, `"images"`, map[string]string{"Access-Control-Allow-Origin": horizon, "Access-Control-Allow-Credentials": "true",
				"Access-Control-Expose-Headers": expose, "Vary": "Origin", "Access-Control-Allow-Methods": "", "Access-Control-Max-Age": ""}}},
		{"a 404", configured, false, "GET", "/v2/images/00000000-0000-0000-0000-000000000001", map[string]string{"Origin": horizon},
			want{404, "No image found", map[string]string{"Access-Control-Allow-Origin": horizon, "Access-Control-Expose-Headers": expose}}},
		{"a 400", configured, false, "POST", "/v2/images", map[string]string{"Origin": "http://sub.example", "Content-Type": "application/json"},
			want{400, "", map[string]string{"Access-Control-Allow-Origin": "http://sub.example", "Access-Control-Allow-Credentials": "",
				"Access-Control-Expose-Headers": expose}}},
		{"a 401 from the authenticator", configured, true, "GET", "/v2/images", map[string]string{"Origin": horizon},
			want{401, "", map[string]string{"Access-Control-Allow-Origin": horizon, "WWW-Authenticate": `Keystone uri="http://ks:5000"`}}},
		{"/versions", configured, false, "GET", "/versions", map[string]string{"Origin": horizon},
			want{200, `"versions"`, map[string]string{"Access-Control-Allow-Origin": horizon}}},
		{"an origin not allowed", configured, false, "GET", "/v2/images", map[string]string{"Origin": "http://evil.example"},
			want{200, `"images"`, none}},
		{"nothing configured", nil, false, "GET", "/v2/images", map[string]string{"Origin": horizon}, want{200, `"images"`, none}},
		{"nothing configured, an error", nil, false, "GET", "/v2/images/x", map[string]string{"Origin": horizon}, want{404, "", none}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var opts []app.Option
			if tc.refuse {
				opts = append(opts, app.WithAuthenticator(refuser{errs.E(errs.Op("t"), errs.Unauthorized)}))
			}
			g := apptest.New(t, tc.adjust, opts...)
			var body io.Reader
			if tc.method == "POST" {
				body = strings.NewReader("{")
			}
			req, _ := http.NewRequest(tc.method, g.URL+tc.path, body)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want.status || !strings.Contains(string(b), tc.want.body) {
				t.Errorf("answer %d %.200s, want %d containing %q", resp.StatusCode, b, tc.want.status, tc.want.body)
			}
			if tc.want.body == "" && len(b) != 0 && tc.method == "OPTIONS" {
				t.Errorf("preflight answered with a body: %q", b)
			}
			for k, v := range tc.want.headers {
				got, ok := resp.Header[http.CanonicalHeaderKey(k)]
				switch {
				case v == "" && ok:
					t.Errorf("%s: %q, want none", k, got)
				case v != "" && resp.Header.Get(k) != v:
					t.Errorf("%s: %q, want %q", k, resp.Header.Get(k), v)
				}
			}
		})
	}
}
