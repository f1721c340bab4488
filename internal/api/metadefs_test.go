package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"glint/internal/app"
	"glint/internal/app/apptest"
	"glint/internal/auth"
	"glint/internal/config"
	"glint/internal/db"
	"glint/internal/metadef"
)

// headerAuth is a test-only Authenticator: X-Test-Project and X-Test-Roles
// name the caller; without them the caller is noauth's.
type headerAuth struct{}

func (headerAuth) Authenticate(ctx context.Context, r *http.Request) (*auth.Context, error) {
	p, roles := r.Header.Get("X-Test-Project"), r.Header.Get("X-Test-Roles")
	if p == "" && roles == "" {
		return auth.NoAuth(""), nil
	}
	c := &auth.Context{ProjectID: p, UserID: "u-" + p}
	if roles != "" {
		c.Roles = strings.Split(roles, ",")
	}
	c.IsAdmin = c.HasRole("admin")
	return c, nil
}

func (headerAuth) Challenge() string { return "" }

func newMetadefEnv(t *testing.T, dbURL string) *env {
	t.Helper()
	e, _ := newMetadefEnvDB(t, dbURL)
	return e
}

func newMetadefEnvDB(t *testing.T, dbURL string) (*env, *db.DB) {
	t.Helper()
	g := apptest.New(t, func(c *config.Config) {
		if dbURL != "" {
			c.DatabaseConnection = dbURL
		}
	}, app.WithAuthenticator(headerAuth{}))
	return &env{t: t, url: g.URL, srv: g.Server}, g.DB()
}

var (
	asAdmin  = []string{"X-Test-Project", "p-admin", "X-Test-Roles", "admin,member,reader"}
	asMember = []string{"X-Test-Project", "p1", "X-Test-Roles", "member,reader"}
	asOther  = []string{"X-Test-Project", "p2", "X-Test-Roles", "member,reader"}
)

func TestMetadefsAPI(t *testing.T) { eachDB(t, testMetadefsAPI) }

func testMetadefsAPI(t *testing.T, dbURL string) {
	e := newMetadefEnv(t, dbURL)
	const ns = "/v2/metadefs/namespaces/OS::Test"
	full := `{"namespace":"OS::Test","display_name":"Test","description":"d","visibility":"public","protected":true,
		"resource_type_associations":[{"name":"OS::Glance::Image","prefix":"t_"},{"name":"OS::Nova::Flavor","prefix":"t:"}],
		"properties":{"speed":{"title":"Speed","type":"integer","minimum":1}},
		"objects":[{"name":"obj","description":"o","required":["a"],"properties":{"a":{"title":"A","type":"string","enum":["x","y"]}}}],
		"tags":[{"name":"t1"},{"name":"t2"}]}`
	steps := []struct {
		method, path, body string
		hdr                []string
		status             int
		want               string // substring of the body
	}{
		// Writes are admin-only; noauth has no roles (as Glance).
		{"POST", "/v2/metadefs/namespaces", full, nil, 403, "add_metadef_namespace"},
		{"POST", "/v2/metadefs/namespaces", full, asMember, 403, "add_metadef_namespace"},
		{"POST", "/v2/metadefs/namespaces", full, asAdmin, 201, `"t_`[:1]},
		{"POST", "/v2/metadefs/namespaces", full, asAdmin, 409, "The metadata definition namespace=OS::Test already exists."},
		// Bad bodies.
		{"POST", "/v2/metadefs/namespaces", `{"namespace":"x","visibility":"shared"}`, asAdmin, 400, "does not match schema 'namespace'"},
		{"POST", "/v2/metadefs/namespaces", `{"display_name":"x"}`, asAdmin, 400, "does not match schema 'namespace'"},
		{"POST", "/v2/metadefs/namespaces", `{"namespace":""}`, asAdmin, 400, "Invalid namespace name"},
		{"POST", "/v2/metadefs/namespaces", `{"namespace":"x","bogus":1}`, asAdmin, 400, "does not match schema"},
		{"POST", "/v2/metadefs/namespaces", `{"namespace":"` + strings.Repeat("n", 81) + `"}`, asAdmin, 400, "does not match schema"},
		{"POST", "/v2/metadefs/namespaces", `{"namespace":"x","properties":{"p":{"type":"string"}}}`, asAdmin, 400, "does not match schema"},
		{"POST", "/v2/metadefs/namespaces", `{"namespace":"x","properties":{"p":{"title":"P","type":"float"}}}`, asAdmin, 400, "does not match schema"},
		{"POST", "/v2/metadefs/namespaces", `{"namespace":"x","created_at":"now"}`, asAdmin, 403, "Attribute 'created_at' is read-only."},
		{"POST", "/v2/metadefs/namespaces", `[1]`, asAdmin, 400, "Expected dict"},
		{"POST", "/v2/metadefs/namespaces", `{`, asAdmin, 400, "Malformed JSON"},
		{"POST", "/v2/metadefs/namespaces", ``, asAdmin, 400, "Body expected"},
		// Reads: public namespaces are for everyone.
		{"GET", ns, "", nil, 200, `"Speed"`},
		{"GET", ns, "", asOther, 200, `"objects"`},
		{"GET", ns + "?resource_type=OS::Nova::Flavor", "", asOther, 200, `"t:speed"`},
		{"GET", ns + "?resource_type=OS::Nova::Flavor", "", asOther, 200, `"required":["t:a"]`},
		{"GET", "/v2/metadefs/namespaces/nope", "", nil, 404, "Metadata definition namespace=nope was not found."},
		{"GET", "/v2/metadefs/namespaces", "", nil, 200, `"namespace":"OS::Test"`},
		{"GET", "/v2/metadefs/namespaces?visibility=public&resource_types=OS::Nova::Flavor", "", nil, 200, `"OS::Test"`},
		{"GET", "/v2/metadefs/namespaces?resource_types=OS::Cinder::Volume", "", nil, 200, `"namespaces":[]`},
		{"GET", "/v2/metadefs/namespaces?visibility=shared", "", nil, 400, "Invalid visibility value: shared"},
		{"GET", "/v2/metadefs/namespaces?sort_dir=up", "", nil, 400, "Invalid sort direction: up"},
		{"GET", "/v2/metadefs/namespaces?sort_key=owner", "", nil, 400, "Invalid sort key"},
		{"GET", "/v2/metadefs/namespaces?limit=x", "", nil, 400, "limit param must be an integer"},
		{"GET", "/v2/metadefs/namespaces?limit=-1", "", nil, 400, "limit param must be positive"},
		{"GET", "/v2/metadefs/namespaces?marker=nope", "", nil, 404, "nope"},
		{"GET", "/v2/metadefs/namespaces?limit=1", "", nil, 200, `"next":"/v2/metadefs/namespaces?limit=1&marker=OS%3A%3ATest"`},
		// Private namespaces are hidden from other projects.
		{"POST", "/v2/metadefs/namespaces", `{"namespace":"Priv","owner":"p1"}`, asAdmin, 201, `"visibility":"private"`},
		{"GET", "/v2/metadefs/namespaces/Priv", "", asMember, 200, `"owner":"p1"`},
		{"GET", "/v2/metadefs/namespaces/Priv", "", asOther, 404, ""},
		{"GET", "/v2/metadefs/namespaces/Priv/objects", "", asOther, 404, ""},
		{"DELETE", "/v2/metadefs/namespaces/Priv", "", asOther, 404, ""},
		{"DELETE", "/v2/metadefs/namespaces/Priv", "", asMember, 403, "delete_metadef_namespace"},
		{"GET", "/v2/metadefs/namespaces?visibility=private", "", asOther, 200, `"namespaces":[]`},
		{"GET", "/v2/metadefs/namespaces?visibility=private", "", asMember, 200, `"Priv"`},
		// Update replaces the namespace's own fields.
		{"PUT", "/v2/metadefs/namespaces/Priv", `{"namespace":"Priv2","description":"new","visibility":"public"}`, asAdmin, 200, `"description":"new"`},
		{"PUT", "/v2/metadefs/namespaces/Priv2", `{"namespace":"OS::Test"}`, asAdmin, 409, "already exists"},
		{"PUT", "/v2/metadefs/namespaces/Priv2", `{"namespace":"Priv2","protected":"yes"}`, asAdmin, 400, "does not match schema"},
		{"PUT", "/v2/metadefs/namespaces/nope", `{"namespace":"x"}`, asAdmin, 404, ""},
		{"PUT", "/v2/metadefs/namespaces/Priv2", `{"namespace":"Priv2"}`, asMember, 403, "modify_metadef_namespace"},
		{"DELETE", "/v2/metadefs/namespaces/Priv2", "", asAdmin, 204, ""},
		{"DELETE", "/v2/metadefs/namespaces/Priv2", "", asAdmin, 404, ""},
		// Protected namespaces and their contents cannot be deleted.
		{"DELETE", ns, "", asAdmin, 403, "Metadata definition namespace OS::Test is protected and cannot be deleted."},
		{"DELETE", ns + "/objects/obj", "", asAdmin, 403, "Metadata definition object obj is protected and cannot be deleted."},
		{"DELETE", ns + "/properties", "", asAdmin, 403, "is protected"},
		{"DELETE", ns + "/resource_types/OS::Glance::Image", "", asAdmin, 403, "is protected"},
		{"PUT", ns, `{"namespace":"OS::Test","visibility":"public","protected":false,"description":"d"}`, asAdmin, 200, `"protected":false`},

		// Objects.
		{"GET", ns + "/objects", "", nil, 200, `"schema":"v2/schemas/metadefs/objects"`},
		{"GET", ns + "/objects/obj", "", nil, 200, `"self":"/v2/metadefs/namespaces/OS::Test/objects/obj"`},
		{"GET", ns + "/objects/nope", "", nil, 404, "Could not find metadata object nope"},
		{"POST", ns + "/objects", `{"name":"obj2","properties":{"b":{"title":"B","type":"boolean"}}}`, asAdmin, 201, `"b":{`},
		{"POST", ns + "/objects", `{"name":"obj2"}`, asAdmin, 409, "A metadata definition object with name=obj2 already exists in namespace=OS::Test."},
		{"POST", ns + "/objects", `{"name":"obj3","properties":{"b":{"type":"boolean"}}}`, asAdmin, 400, "does not match schema 'object'"},
		{"POST", ns + "/objects", `{"description":"no name"}`, asAdmin, 400, "does not match schema 'object'"},
		{"POST", ns + "/objects", `{"name":"o","self":"x"}`, asAdmin, 403, "Attribute 'self' is read-only."},
		{"POST", ns + "/objects", `{"name":"o"}`, asMember, 403, "add_metadef_object"},
		{"POST", "/v2/metadefs/namespaces/nope/objects", `{"name":"o"}`, asAdmin, 404, ""},
		{"PUT", ns + "/objects/obj2", `{"name":"obj3","description":"renamed"}`, asAdmin, 200, `"name":"obj3"`},
		{"PUT", ns + "/objects/obj3", `{"name":"obj"}`, asAdmin, 409, "already exists"},
		{"PUT", ns + "/objects/nope", `{"name":"nope"}`, asAdmin, 404, ""},
		{"PUT", ns + "/objects/obj3", `{"name":"obj3","required":"a"}`, asAdmin, 400, "does not match schema 'object'"},
		{"DELETE", ns + "/objects/obj3", "", asAdmin, 204, ""},
		{"DELETE", ns + "/objects/obj3", "", asAdmin, 404, ""},
		{"GET", ns + "/objects?limit=0", "", nil, 400, "limit param must be positive"},
		{"GET", ns + "/objects?sort_dir=x", "", nil, 400, "Invalid sort direction"},

		// Properties.
		{"GET", ns + "/properties", "", nil, 200, `"properties":{"speed":{`},
		{"GET", ns + "/properties/speed", "", nil, 200, `"name":"speed"`},
		{"GET", ns + "/properties/t:speed?resource_type=OS::Nova::Flavor", "", nil, 200, `"name":"t:speed"`},
		{"GET", ns + "/properties/nope", "", nil, 404, "Could not find property nope"},
		{"POST", ns + "/properties", `{"name":"size","title":"Size","type":"string","pattern":"^[0-9]+$","maxLength":5}`, asAdmin, 201, `"pattern":"^[0-9]+$"`},
		{"POST", ns + "/properties", `{"name":"size","title":"Size","type":"string"}`, asAdmin, 409, "A metadata definition property with name=size already exists"},
		{"POST", ns + "/properties", `{"name":"x","title":"X"}`, asAdmin, 400, "does not match schema 'property'"},
		{"POST", ns + "/properties", `{"name":"x","title":"X","type":"string","maxLength":-1}`, asAdmin, 400, "does not match schema 'property'"},
		{"POST", ns + "/properties", `{"name":"x","title":"X","type":"string","minimum":"1"}`, asAdmin, 400, "does not match schema 'property'"},
		{"POST", ns + "/properties", `{"name":"x","title":"X","type":"string","enum":"a"}`, asAdmin, 400, "does not match schema 'property'"},
		{"POST", ns + "/properties", `{"name":"x","title":"X","type":"string","bogus":true}`, asAdmin, 400, "does not match schema 'property'"},
		{"POST", ns + "/properties", `{"name":"x","title":"X","type":"string"}`, asMember, 403, "add_metadef_property"},
		{"PUT", ns + "/properties/size", `{"name":"size2","title":"Size","type":"integer"}`, asAdmin, 200, `"type":"integer"`},
		{"PUT", ns + "/properties/size2", `{"name":"size2","title":"Size"}`, asAdmin, 400, "does not match schema 'property'"},
		{"PUT", ns + "/properties/nope", `{"name":"nope","title":"N","type":"string"}`, asAdmin, 404, ""},
		{"DELETE", ns + "/properties/size2", "", asAdmin, 204, ""},
		{"DELETE", ns + "/properties/size2", "", asAdmin, 404, ""},

		// Tags.
		{"GET", ns + "/tags?sort_key=name&sort_dir=asc", "", nil, 200, `"tags":[{"created_at"`},
		{"GET", ns + "/tags/t1", "", nil, 200, `"name":"t1"`},
		{"GET", ns + "/tags/nope", "", nil, 404, "Could not find metadata tag nope"},
		{"POST", ns + "/tags/t3", "", asAdmin, 201, `"name":"t3"`},
		{"POST", ns + "/tags/T3", "", asAdmin, 409, "(Please note that metadata tag names are case insensitive)."},
		{"POST", ns + "/tags/" + strings.Repeat("t", 81), "", asAdmin, 400, "does not match schema 'tag'"},
		{"POST", ns + "/tags", `{"tags":[{"name":"a1"},{"name":"a2"}]}`, asAdmin, 201, `{"tags":[{"name":"a1"},{"name":"a2"}]}`},
		{"GET", ns + "/tags?sort_key=name&sort_dir=asc", "", nil, 200, `"name":"a2"`},
		{"POST", ns + "/tags", `{"tags":[{"name":"a3"}]}`, append([]string{"X-Openstack-Append", "Yes"}, asAdmin...), 201, `"a3"`},
		{"GET", ns + "/tags?sort_key=name&sort_dir=asc&limit=1&marker=a1", "", nil, 200, `"name":"a2"`},
		{"POST", ns + "/tags", `{"tags":[{"name":"a1"}]}`, append([]string{"X-Openstack-Append", "true"}, asAdmin...), 409, "already exists"},
		{"POST", ns + "/tags", `{"tags":[{"name":"d"},{"name":"D"}]}`, asAdmin, 409, "Duplicate tag name D in request."},
		{"POST", ns + "/tags", `{"tags":[{"nam":"d"}]}`, asAdmin, 400, "does not match schema 'tags'"},
		{"POST", ns + "/tags", `{"tags":"d"}`, asAdmin, 400, "does not match schema 'tags'"},
		{"POST", ns + "/tags", `{"tags":[{"name":"` + strings.Repeat("x", 81) + `"}]}`, asAdmin, 400, "Invalid tag name"},
		{"POST", ns + "/objects", `{"name":"` + strings.Repeat("x", 81) + `"}`, asAdmin, 400, "does not match schema"},
		{"PUT", ns + "/tags/a1", `{"name":"b1"}`, asAdmin, 200, `"name":"b1"`},
		{"PUT", ns + "/tags/b1", `{"name":"a2"}`, asAdmin, 409, ""},
		{"PUT", ns + "/tags/b1", `{"name":1}`, asAdmin, 400, "does not match schema 'tag'"},
		{"PUT", ns + "/tags/b1", `{"name":"c","created_at":"x"}`, asAdmin, 403, "read-only"},
		{"DELETE", ns + "/tags/b1", "", asAdmin, 204, ""},
		{"DELETE", ns + "/tags/b1", "", asAdmin, 404, ""},
		{"DELETE", ns + "/tags", "", asMember, 403, ""},
		{"DELETE", ns + "/tags", "", asAdmin, 204, ""},
		{"GET", ns + "/tags", "", nil, 200, `{"tags":[]}`},

		// Resource types and associations.
		{"GET", "/v2/metadefs/resource_types", "", nil, 200, `"name":"OS::Nova::Flavor"`},
		{"GET", ns + "/resource_types", "", nil, 200, `"prefix":"t_"`},
		{"POST", ns + "/resource_types", `{"name":"OS::Cinder::Volume","prefix":"c_","properties_target":"image"}`, asAdmin, 201, `"properties_target":"image"`},
		{"POST", ns + "/resource_types", `{"name":"OS::Cinder::Volume"}`, asAdmin, 409, "already exists"},
		{"POST", ns + "/resource_types", `{"prefix":"x"}`, asAdmin, 400, "does not match schema 'resource_type_association'"},
		{"POST", ns + "/resource_types", `{"name":"X","created_at":"x"}`, asAdmin, 403, "read-only"},
		{"POST", ns + "/resource_types", `{"name":"X"}`, asMember, 403, "add_metadef_resource_type_association"},
		{"GET", "/v2/metadefs/namespaces?resource_types=OS::Cinder::Volume", "", nil, 200, `"OS::Test"`},
		{"DELETE", ns + "/resource_types/OS::Cinder::Volume", "", asAdmin, 204, ""},
		{"DELETE", ns + "/resource_types/OS::Cinder::Volume", "", asAdmin, 404, "Failed to find resource type OS::Cinder::Volume to delete"},
		{"DELETE", ns + "/resource_types/Nope", "", asAdmin, 404, ""},

		// Bulk deletes, then the namespace.
		{"DELETE", ns + "/objects", "", asAdmin, 204, ""},
		{"GET", ns + "/objects", "", nil, 200, `"objects":[]`},
		{"DELETE", ns + "/properties", "", asAdmin, 204, ""},
		{"GET", ns + "/properties", "", nil, 200, `{"properties":{}}`},
		{"DELETE", ns, "", asMember, 403, ""},
		{"DELETE", ns, "", asAdmin, 204, ""},
		{"GET", ns, "", nil, 404, ""},

		// Methods and bodies.
		{"PATCH", "/v2/metadefs/namespaces", "", nil, 405, ""},
		{"GET", "/v2/metadefs/namespaces/x", "{}", nil, 400, "A body is not expected with this request."},
	}
	for i, s := range steps {
		var body io.Reader
		if s.body != "" {
			body = strings.NewReader(s.body)
		}
		r := e.do(s.method, s.path, body, s.hdr...)
		if r.status != s.status || !strings.Contains(string(r.body), s.want) {
			t.Fatalf("step %d: %s %s %s: %d %s\nwant %d containing %q", i, s.method, s.path, s.body, r.status, r.body, s.status, s.want)
		}
	}
}

// TestMetadefSchemas checks the ten schema documents are served as the
// live Glance 25.1 serves them (fetched with scripts/reference-glance.sh).
func TestMetadefSchemas(t *testing.T) {
	e := newMetadefEnv(t, "")
	for _, name := range []string{"namespace", "namespaces", "resource_type", "resource_types",
		"property", "properties", "object", "objects", "tag", "tags"} {
		want, err := os.ReadFile("schemas/metadefs-" + name + ".json")
		if err != nil {
			t.Fatal(err)
		}
		r := e.do("GET", "/v2/schemas/metadefs/"+name, nil)
		if r.status != 200 || string(r.body) != strings.TrimRight(string(want), "\n") {
			t.Errorf("%s: %d %.200s", name, r.status, r.body)
		}
		var v map[string]any
		if err := json.Unmarshal(r.body, &v); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestCatalogThroughAPI loads Glance's shipped catalog and lists it back
// through the API: every namespace, object, property, tag and association
// as its file has it, field by field.
func TestCatalogThroughAPI(t *testing.T) { eachDB(t, testCatalogThroughAPI) }

func testCatalogThroughAPI(t *testing.T, dbURL string) {
	dir := os.Getenv("GLINT_METADEFS_DIR")
	if dir == "" {
		dir = "/etc/glance/metadefs"
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(paths) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no catalog in %s: install glance-common", dir)
		}
		t.Skipf("no catalog in %s (install glance-common or set GLINT_METADEFS_DIR)", dir)
	}
	e, database := newMetadefEnvDB(t, dbURL)
	if _, err := metadef.LoadDir(context.Background(), database.Metadefs(), dir, metadef.Skip); err != nil {
		t.Fatal(err)
	}
	list := e.do("GET", "/v2/metadefs/namespaces?limit=1000", nil).json(t)["namespaces"].([]any)
	if len(list) != len(paths) {
		t.Fatalf("%d namespaces listed, want %d", len(list), len(paths))
	}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var want map[string]any
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		// glance-manage stores what a file leaves out as NULL, which
		// Glance shows as private and unprotected.
		if _, ok := want["visibility"]; !ok {
			want["visibility"] = "private"
		}
		if _, ok := want["protected"]; !ok {
			want["protected"] = false
		}
		// Glance's API shows a default as a string and always an
		// object's required list.
		shown(want["properties"])
		for _, o := range asSlice(want["objects"]) {
			o := o.(map[string]any)
			shown(o["properties"])
			if _, ok := o["required"]; !ok {
				o["required"] = []any{}
			}
		}
		name := want["namespace"].(string)
		got := e.do("GET", "/v2/metadefs/namespaces/"+name, nil).json(t)
		for _, k := range []string{"namespace", "display_name", "description", "visibility", "protected"} {
			if !reflect.DeepEqual(got[k], want[k]) {
				t.Errorf("%s: %s = %v, want %v", name, k, got[k], want[k])
			}
		}
		if got["owner"] != "admin" {
			t.Errorf("%s: owner %v", name, got["owner"])
		}
		if !reflect.DeepEqual(got["properties"], want["properties"]) {
			t.Errorf("%s: properties differ:\n got %v\nwant %v", name, got["properties"], want["properties"])
		}
		props := e.do("GET", "/v2/metadefs/namespaces/"+name+"/properties", nil).json(t)["properties"]
		if wp, _ := want["properties"].(map[string]any); len(wp) > 0 || len(props.(map[string]any)) > 0 {
			if !reflect.DeepEqual(props, want["properties"]) {
				t.Errorf("%s: property list differs", name)
			}
		}
		byName := func(l any, keys ...string) map[string]map[string]any {
			out := map[string]map[string]any{}
			for _, v := range asSlice(l) {
				m := v.(map[string]any)
				kept := map[string]any{}
				for _, k := range keys {
					if x, ok := m[k]; ok {
						kept[k] = x
					}
				}
				out[m["name"].(string)] = kept
			}
			return out
		}
		objs := e.do("GET", "/v2/metadefs/namespaces/"+name+"/objects?limit=1000", nil).json(t)["objects"]
		if g, w := byName(objs, "name", "description", "required", "properties"), byName(want["objects"], "name", "description", "required", "properties"); !reflect.DeepEqual(g, w) {
			t.Errorf("%s: objects differ:\n got %v\nwant %v", name, g, w)
		}
		tags := e.do("GET", "/v2/metadefs/namespaces/"+name+"/tags?limit=1000", nil).json(t)["tags"]
		if g, w := byName(tags, "name"), byName(want["tags"], "name"); !reflect.DeepEqual(g, w) {
			t.Errorf("%s: tags differ:\n got %v\nwant %v", name, g, w)
		}
		as := e.do("GET", "/v2/metadefs/namespaces/"+name+"/resource_types", nil).json(t)["resource_type_associations"]
		if g, w := byName(as, "name", "prefix", "properties_target"), byName(want["resource_type_associations"], "name", "prefix", "properties_target"); !reflect.DeepEqual(g, w) {
			t.Errorf("%s: associations differ:\n got %v\nwant %v", name, g, w)
		}
	}
}

func asSlice(v any) []any {
	l, _ := v.([]any)
	return l
}

// shown turns the defaults of a catalog file's property definitions into
// the strings Glance's API shows.
func shown(props any) {
	m, _ := props.(map[string]any)
	for _, def := range m {
		d := def.(map[string]any)
		switch v := d["default"].(type) {
		case float64:
			d["default"] = strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			d["default"] = map[bool]string{true: "True", false: "False"}[v]
		}
	}
}
