package api_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

const patch21 = "application/openstack-images-v2.1-json-patch"
const patch20 = "application/openstack-images-v2.0-json-patch"

func TestCreateValidation(t *testing.T) { eachDB(t, testCreateValidation) }

func testCreateValidation(t *testing.T, dbURL string) {
	e := newEnv(t, opts{dbURL: dbURL})
	dup := e.create(`{"name":"dup"}`)
	cases := []struct {
		body   string
		status int
		msg    string
	}{
		{`{"name":"ok","foo":"bar","min_ram":512}`, 201, ""},
		{`{"id":"2a2b0b8e-8a54-4d36-9d3a-0b6d7f1d1c11"}`, 201, ""},
		{`{"id":"` + dup + `"}`, 409, "already exists"},
		{`{"id":"not-a-uuid"}`, 400, "schema"},
		{`{"status":"active"}`, 403, "read-only"},
		{`{"self":"x"}`, 403, "read-only"},
		{`{"size":5}`, 403, "read-only"},
		{`{"checksum":"abc"}`, 403, "read-only"},
		{`{"os_hash_algo":"x","os_hash_value":"y"}`, 201, ""},
		{`{"name":"x😀"}`, 400, "4 byte unicode"},
		{`{"k😀":"v"}`, 400, "4 byte unicode"},
		{`{"kernel_id":"nope"}`, 400, "schema"},
		{`{"kernel_id":"2a2b0b8e-8a54-4d36-9d3a-0b6d7f1d1c11","os_distro":"cirros"}`, 201, ""},
		{`{"locations":[]}`, 403, "reserved"},
		{`{"deleted":true}`, 403, "reserved"},
		{`{"os_glance_foo":"x"}`, 403, "reserved"},
		{`{"foo":1}`, 400, "schema"},
		{`{"disk_format":"qcow3"}`, 400, "schema"},
		{`{"container_format":"tgz"}`, 400, "schema"},
		{`{"visibility":"everyone"}`, 400, "schema"},
		{`{"protected":"yes"}`, 400, "schema"},
		{`{"min_ram":-1}`, 400, ""},
		{`{"name":"` + strings.Repeat("n", 256) + `"}`, 400, "schema"},
		{`{"tags":["` + strings.Repeat("t", 256) + `"]}`, 400, ""},
		{`{"` + strings.Repeat("k", 256) + `":"v"}`, 400, ""},
		{`{"visibility":"public"}`, 403, "publicize_image"},
		{`{"name":`, 400, "Malformed JSON"},
		{"{\"name\":\"\xff\"}", 400, "Malformed JSON"}, // not UTF-8: Glance refuses, Go would substitute U+FFFD
		{`{"name":"a\u0000b"}`, 400, "NUL"},            // PostgreSQL cannot store it: refused on every database
		{`{"k\u0000":"v"}`, 400, "NUL"},
		{`{"tags":["t\u0000"]}`, 400, "NUL"},
		{`{"name":"a\\u0000b"}`, 201, ""}, // an escaped backslash, not a NUL
		{`[1,2]`, 400, "Expected dict"},
		{``, 400, "Body expected"},
	}
	for _, c := range cases {
		r := e.do("POST", "/v2/images", strings.NewReader(c.body), "Accept", "application/json")
		if r.status != c.status {
			t.Errorf("create %.60s: %d %s, want %d", c.body, r.status, r.body, c.status)
			continue
		}
		if c.status >= 400 {
			m := r.json(t)
			if m["code"] != fmt.Sprintf("%d %s", c.status, statusText(c.status)) || !strings.Contains(m["message"].(string), c.msg) {
				t.Errorf("create %.60s: error body %s, want message containing %q", c.body, r.body, c.msg)
			}
		}
	}
}

func statusText(s int) string {
	return map[int]string{400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict", 413: "Request Entity Too Large", 415: "Unsupported Media Type"}[s]
}

func TestPatch(t *testing.T) { eachDB(t, testPatch) }

func testPatch(t *testing.T, dbURL string) {
	e := newEnv(t, opts{dbURL: dbURL})
	id := e.create(`{"name":"p","foo":"bar","disk_format":"raw","container_format":"bare"}`)
	cases := []struct {
		ctype, body string
		status      int
		check       func(map[string]any) bool
	}{
		{patch21, `[{"op":"replace","path":"/name","value":"q"}]`, 200, func(m map[string]any) bool { return m["name"] == "q" }},
		{patch21, `[{"op":"add","path":"/foo","value":"baz"}]`, 200, func(m map[string]any) bool { return m["foo"] == "baz" }},
		{patch20, `[{"add":"/foo","value":"x"}]`, 409, nil},
		{patch20, `[{"add":"/new20","value":"x"}]`, 200, func(m map[string]any) bool { return m["new20"] == "x" }},
		{patch20, `[{"add":"/name","value":"x"}]`, 409, nil},
		{patch21, `[{"op":"add","path":"/foo","value":"😀"}]`, 400, nil},
		{patch21, `[{"op":"replace","path":"/nope","value":"x"}]`, 409, nil},
		{patch21, `[{"op":"remove","path":"/nope"}]`, 409, nil},
		{patch21, `[{"op":"remove","path":"/foo"}]`, 200, func(m map[string]any) bool { _, ok := m["foo"]; return !ok }},
		{patch21, `[{"op":"remove","path":"/name"}]`, 403, nil},
		{patch21, `[{"op":"replace","path":"/status","value":"active"}]`, 403, nil},
		{patch21, `[{"op":"replace","path":"/id","value":"x"}]`, 403, nil},
		{patch21, `[{"op":"add","path":"/os_glance_x","value":"x"}]`, 403, nil},
		{patch21, `[{"op":"add","path":"/tags/-","value":"x"}]`, 400, nil},
		{patch21, `[{"op":"test","path":"/name","value":"x"}]`, 400, nil},
		{patch21, `[{"op":"replace","path":"/min_ram","value":-5}]`, 400, nil},
		{patch21, `[{"op":"replace","path":"/visibility","value":"nope"}]`, 400, nil},
		{patch21, `[{"op":"replace","path":"/visibility","value":"public"}]`, 403, nil},
		{patch21, `[{"op":"replace","path":"/visibility","value":"community"}]`, 200, func(m map[string]any) bool { return m["visibility"] == "community" }},
		{patch21, `[{"op":"replace","path":"/tags","value":["a","b","a"]}]`, 200, func(m map[string]any) bool { return fmt.Sprint(m["tags"]) == "[a b]" }},
		{patch21, `[{"op":"add","path":"/k","value":5}]`, 400, nil},
		{patch21, `[{"op":"replace","path":"/name","value":"all"},{"op":"replace","path":"/nope","value":"x"}]`, 409, nil},
		{"application/json", `[]`, 415, nil},
		{patch21, `{"op":"add"}`, 400, nil},
		{patch21, `not json`, 400, nil},
		{patch21, `[{"op":"add","path":"/foo","value":"x\u0000"}]`, 400, nil},
		{patch21, "[{\"op\":\"add\",\"path\":\"/foo\",\"value\":\"\xc3\"}]", 400, nil},
	}
	for _, c := range cases {
		r := e.do("PATCH", "/v2/images/"+id, strings.NewReader(c.body), "Content-Type", c.ctype)
		if r.status != c.status {
			t.Errorf("PATCH %s: %d %s, want %d", c.body, r.status, r.body, c.status)
			continue
		}
		if c.status == 415 && r.header.Get("Accept-Patch") == "" {
			t.Errorf("415 without Accept-Patch")
		}
		if c.check != nil && !c.check(r.json(t)) {
			t.Errorf("PATCH %s: unexpected result %s", c.body, r.body)
		}
	}
	// The failed multi-op patch changed nothing.
	if e.show(id)["name"] != "q" {
		t.Errorf("a failed patch was partly applied")
	}
	// Formats are fixed once data is in.
	if r := e.do("PUT", "/v2/images/"+id+"/file", strings.NewReader("d"), "Content-Type", "application/octet-stream"); r.status != 204 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	r := e.do("PATCH", "/v2/images/"+id, strings.NewReader(`[{"op":"replace","path":"/disk_format","value":"qcow2"}]`), "Content-Type", patch21)
	if r.status != 403 {
		t.Errorf("disk_format change on an active image: %d, want 403", r.status)
	}
}

func TestTagsActionsDelete(t *testing.T) { eachDB(t, testTagsActionsDelete) }

func testTagsActionsDelete(t *testing.T, dbURL string) {
	e := newEnv(t, opts{dbURL: dbURL})
	id := e.create(rawBare)
	steps := []struct {
		method, path string
		status       int
	}{
		{"PUT", "/tags/a%2Fb%20c", 204},
		{"PUT", "/tags/a%2Fb%20c", 204},
		{"PUT", "/tags/" + strings.Repeat("t", 256), 400},
		{"DELETE", "/tags/absent", 404},
		{"DELETE", "/tags/a%2Fb%20c", 204},
		{"POST", "/actions/deactivate", 403}, // queued
		{"POST", "/actions/reactivate", 403},
	}
	for _, s := range steps {
		if r := e.do(s.method, "/v2/images/"+id+s.path, nil); r.status != s.status {
			t.Errorf("%s %s: %d %s, want %d", s.method, s.path, r.status, r.body, s.status)
		}
	}
	e.do("PUT", "/v2/images/"+id+"/file", strings.NewReader("data"), "Content-Type", "application/octet-stream")
	for _, s := range []struct {
		action, status string
	}{{"deactivate", "deactivated"}, {"deactivate", "deactivated"}, {"reactivate", "active"}, {"reactivate", "active"}} {
		if r := e.do("POST", "/v2/images/"+id+"/actions/"+s.action, nil); r.status != 204 {
			t.Errorf("%s: %d", s.action, r.status)
		}
		if got := e.show(id)["status"]; got != s.status {
			t.Errorf("after %s: %v", s.action, got)
		}
	}
	e.do("PATCH", "/v2/images/"+id, strings.NewReader(`[{"op":"replace","path":"/protected","value":true}]`), "Content-Type", patch21)
	if r := e.do("DELETE", "/v2/images/"+id, nil); r.status != 403 {
		t.Errorf("delete protected: %d", r.status)
	}
	e.do("PATCH", "/v2/images/"+id, strings.NewReader(`[{"op":"replace","path":"/protected","value":false}]`), "Content-Type", patch21)
	if r := e.do("DELETE", "/v2/images/"+id, nil); r.status != 204 {
		t.Errorf("delete: %d", r.status)
	}
	for _, m := range []string{"GET", "DELETE"} {
		if r := e.do(m, "/v2/images/"+id, nil); r.status != 404 {
			t.Errorf("%s deleted image: %d", m, r.status)
		}
	}
}

func TestRoutingAndErrors(t *testing.T) { eachDB(t, testRoutingAndErrors) }

func testRoutingAndErrors(t *testing.T, dbURL string) {
	e := newEnv(t, opts{dbURL: dbURL})
	cases := []struct {
		method, path string
		body         string
		hdr          []string
		status       int
		header       string // "Name: value" expected
	}{
		{"GET", "/", "", nil, 300, ""},
		{"GET", "/versions", "", nil, 200, ""},
		{"GET", "/v3/images", "", nil, 300, ""},
		{"GET", "/v2.9/images", "", nil, 200, ""},
		{"GET", "/v2.15/schemas/image", "", nil, 200, ""},
		{"GET", "/images", "", []string{"Accept", "application/vnd.openstack.images-v2.1"}, 200, ""},
		{"GET", "/v2", "", nil, 302, ""},
		{"PUT", "/v2/images", "", nil, 405, "Allow: GET, POST"},
		{"POST", "/v2/images/x", "", nil, 405, "Allow: GET, PATCH, DELETE"},
		{"HEAD", "/v2/images", "", nil, 405, "Allow: GET, POST"},
		{"FOO", "/v2/images", "", nil, 405, "Allow: GET, POST"},
		{"FOO", "/v2/nothing", "", nil, 501, ""},
		{"GET", "/v2/images/nope", "", nil, 404, ""},
		{"GET", "/v2/images", "{}", nil, 200, ""},
		{"GET", "/v2/images/x", "{}", nil, 400, ""},
		{"DELETE", "/v2/images/x", "{}", nil, 400, ""},
		{"GET", "/v2/nothing", "", nil, 404, ""},
		{"OPTIONS", "/v2/images", "", nil, 200, ""},
		{"GET", "/v2/images", "", []string{"X-Huge", strings.Repeat("h", 40000)}, 431, ""},
		{"GET", "/healthcheck", "", nil, 200, ""},
		{"GET", "/v2/info/import", "", nil, 200, ""},
	}
	for _, c := range cases {
		var body *strings.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		var r resp
		if body != nil {
			r = e.do(c.method, c.path, body, c.hdr...)
		} else {
			r = e.do(c.method, c.path, nil, c.hdr...)
		}
		if r.status != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, r.status, r.body, c.status)
			continue
		}
		if c.header != "" {
			k, v, _ := strings.Cut(c.header, ": ")
			if got := r.header.Get(k); got != v {
				t.Errorf("%s %s: %s = %q, want %q", c.method, c.path, k, got, v)
			}
		}
		// Glance's root app, health check and CORS answer without a request id.
		apiPath := strings.HasPrefix(c.path, "/v2/") || strings.HasPrefix(c.path, "/v2.") || c.path == "/images"
		if apiPath && c.status != 431 && c.method != "OPTIONS" && c.status != 300 &&
			!strings.HasPrefix(r.header.Get("X-Openstack-Request-Id"), "req-") {
			t.Errorf("%s %s: no request id", c.method, c.path)
		}
	}
	// Error bodies follow Accept as WebOb does.
	for accept, ctype := range map[string]string{"": "text/plain", "application/json": "application/json", "*/*": "text/html"} {
		r := e.do("GET", "/v2/images/nope", nil, "Accept", accept)
		if !strings.HasPrefix(r.header.Get("Content-Type"), ctype) {
			t.Errorf("Accept %q: error Content-Type %q, want %s", accept, r.header.Get("Content-Type"), ctype)
		}
	}
}

func TestListFiltersAndPaging(t *testing.T) { eachDB(t, testListFiltersAndPaging) }

func testListFiltersAndPaging(t *testing.T, dbURL string) {
	e := newEnv(t, opts{dbURL: dbURL})
	ids := map[string]string{}
	for i, spec := range []string{
		`{"name":"alpha","disk_format":"raw","container_format":"bare","os_distro":"ubuntu","tags":["x","y"]}`,
		`{"name":"beta","disk_format":"qcow2","container_format":"bare","os_distro":"debian","tags":["x"]}`,
		`{"name":"gamma,delta","disk_format":"qcow2","container_format":"ovf","protected":true}`,
		`{"name":"hidden","os_hidden":true}`,
		`{"name":"comm","visibility":"community"}`,
		`{"name":"priv","visibility":"private"}`,
	} {
		id := e.create(spec)
		ids[strings.Split(strings.Split(spec, `"name":"`)[1], `"`)[0]] = id
		_ = i
	}
	e.do("PUT", "/v2/images/"+ids["alpha"]+"/file", strings.NewReader("12345"), "Content-Type", "application/octet-stream")

	names := func(query string) (string, resp) {
		r := e.do("GET", "/v2/images?"+query, nil)
		if r.status != 200 {
			return "", r
		}
		var out []string
		for _, img := range r.json(t)["images"].([]any) {
			out = append(out, img.(map[string]any)["name"].(string))
		}
		return strings.Join(out, " "), resp{}
	}
	cases := []struct{ query, want string }{
		{"sort=name:asc", "alpha beta gamma,delta priv"},
		{"sort_key=name&sort_dir=desc", "priv gamma,delta beta alpha"},
		{"sort=name", "priv gamma,delta beta alpha"},
		{"name=beta", "beta"},
		{"name=" + url.QueryEscape(`in:"gamma,delta",beta`) + "&sort=name:asc", "beta gamma,delta"},
		{"disk_format=qcow2&sort=name:asc", "beta gamma,delta"},
		{"disk_format=in:raw,qcow2&sort=name:asc", "alpha beta gamma,delta"},
		{"tag=x&sort=name:asc", "alpha beta"},
		{"tag=x&tag=y", "alpha"},
		{"os_distro=debian", "beta"},
		{"protected=true", "gamma,delta"},
		{"os_hidden=true", "hidden"},
		{"visibility=community", "comm"},
		{"visibility=private", "priv"},
		{"visibility=all&sort=name:asc", "alpha beta comm gamma,delta priv"},
		{"status=active", "alpha"},
		{"size_min=5&size_max=5", "alpha"},
		{"size_min=6", ""},
		{"size=5", "alpha"},
		{"size=6", ""},
		{"min_disk=0&min_ram=0&name=in:alpha,beta&sort=name:asc", "alpha beta"},
		{"min_ram=1", ""},
		{"min_disk_max=0&min_disk_min=0&name=beta", "beta"},
		{"virtual_size=5", "alpha"},
		{"virtual_size_min=6", ""},
		{"container_format=ovf", "gamma,delta"},
		{"created_at=lte:2999-01-01T00:00:00Z&sort=name:asc&name=in:alpha,beta", "alpha beta"},
		{"created_at=gt:2999-01-01T00:00:00Z", ""},
	}
	for _, c := range cases {
		got, r := names(c.query)
		if r.status != 0 {
			t.Errorf("?%s: %d %s", c.query, r.status, r.body)
		} else if got != c.want {
			t.Errorf("?%s = %q, want %q", c.query, got, c.want)
		}
	}
	for _, q := range []string{"limit=x", "limit=-1", "sort_key=owner", "sort_dir=up", "sort=name&sort_key=name",
		"visibility=everyone", "os_hidden=yes", "protected=1", "changes-since=2020-01-01", "marker=nope",
		"name=" + url.QueryEscape(`in:"a,b`), "name=like:x", "size_min=big", "size=big", "min_ram=1.5", "created_at=gt:yesterday",
		"sort_key=name&sort_key=id&sort_dir=asc&sort_dir=desc&sort_dir=asc", "member_status=maybe"} {
		if _, r := names(q); r.status != 400 {
			t.Errorf("?%s: status %d, want 400", q, r.status)
		}
	}

	// Paging through everything with limit=1 visits each image once, in order.
	var seen []string
	next := "/v2/images?limit=1&sort=name:asc"
	for next != "" && len(seen) < 20 {
		r := e.do("GET", next, nil)
		m := r.json(t)
		for _, img := range m["images"].([]any) {
			seen = append(seen, img.(map[string]any)["name"].(string))
		}
		next, _ = m["next"].(string)
		if m["first"] != "/v2/images?limit=1&sort=name%3Aasc" {
			t.Errorf("first = %v", m["first"])
		}
	}
	if got := strings.Join(seen, " "); got != "alpha beta gamma,delta priv" {
		t.Errorf("paged = %q", got)
	}
}

// TestNULInRequestLine: a NUL in a path or a query would reach the
// database as a tag, a member or a filter, which PostgreSQL cannot hold; the
// answer is the same 400 on every database.
func TestNULInRequestLine(t *testing.T) { eachDB(t, testNULInRequestLine) }

func testNULInRequestLine(t *testing.T, dbURL string) {
	e := newEnv(t, opts{dbURL: dbURL})
	id := e.create(`{"name":"n"}`)
	for _, c := range []struct{ method, path string }{
		{"PUT", "/v2/images/" + id + "/tags/a%00b"},
		{"DELETE", "/v2/images/" + id + "/tags/a%00b"},
		{"GET", "/v2/images?name=a%00b"},
		{"GET", "/v2/images?tag=%00"},
		{"GET", "/v2/images?marker=" + id + "%00"},
		{"GET", "/v2/images/" + id + "%00"},
		{"GET", "/v2/images/" + id + "/members/p%00"},
		{"GET", "/v2/metadefs/namespaces/x%00"},
	} {
		r := e.do(c.method, c.path, nil)
		if r.status != 400 || !strings.Contains(string(r.body), "NUL") {
			t.Errorf("%s %s: %d %s, want 400 naming NUL", c.method, c.path, r.status, r.body)
		}
	}
	r := e.do("POST", "/v2/images/"+id+"/members", strings.NewReader(`{"member":"p\u0000"}`))
	if r.status != 400 {
		t.Errorf("member with NUL: %d %s, want 400", r.status, r.body)
	}
	if r := e.do("GET", "/v2/images/"+id, nil); r.status != 200 {
		t.Errorf("image after refusals: %d", r.status)
	}
}
