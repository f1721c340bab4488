//go:build glance

package glance_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// TestMetadefsVsGlance walks every read route of the metadata definitions
// catalog that the reference Glance serves (namespaces, their objects,
// properties, tags and associations, each property and object, each
// namespace prefixed by each of its resource types) and compares Glint's
// answers with timestamps left out. Load the same catalog into both first:
//
//	glance-manage --config-file DIR/glance-api.conf db load_metadefs --path /etc/glance/metadefs
//	glint metadefs load --config-file … /etc/glance/metadefs
func TestMetadefsVsGlance(t *testing.T) {
	gURL, lURL := os.Getenv("GLANCE_URL"), os.Getenv("GLINT_URL")
	if gURL == "" || lURL == "" {
		t.Skip("set GLANCE_URL and GLINT_URL (see README.md)")
	}
	get := func(base, path string) (int, any) {
		t.Helper()
		u := base + (&url.URL{Path: path}).EscapedPath()
		if i := strings.IndexByte(path, '?'); i >= 0 {
			u = base + (&url.URL{Path: path[:i]}).EscapedPath() + "?" + path[i+1:]
		}
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var v any
		if json.Unmarshal(b, &v) != nil {
			return res.StatusCode, nil // error bodies: the status is compared
		}
		return res.StatusCode, metadefNorm(v)
	}
	_, list := get(gURL, "/v2/metadefs/namespaces?limit=1000")
	nss, _ := list.(map[string]any)["namespaces"].([]any)
	if len(nss) == 0 {
		t.Skip("the reference Glance has no namespaces: load the catalog into both servers")
	}
	paths := []string{"/v2/metadefs/namespaces?limit=1000", "/v2/metadefs/resource_types",
		"/v2/metadefs/namespaces/nope", "/v2/metadefs/namespaces/nope/objects"}
	for _, n := range nss {
		name := n.(map[string]any)["namespace"].(string)
		base := "/v2/metadefs/namespaces/" + name
		paths = append(paths, base, base+"/objects", base+"/properties", base+"/tags", base+"/resource_types",
			base+"/objects/nope", base+"/properties/nope", base+"/tags/nope")
		_, v := get(gURL, base)
		ns := v.(map[string]any)
		for _, o := range asList(ns["objects"]) {
			paths = append(paths, base+"/objects/"+o.(map[string]any)["name"].(string))
		}
		for p := range asMap(ns["properties"]) {
			paths = append(paths, base+"/properties/"+p)
		}
		for _, tg := range asList(ns["tags"]) {
			paths = append(paths, base+"/tags/"+tg.(map[string]any)["name"].(string))
		}
		for _, a := range asList(ns["resource_type_associations"]) {
			paths = append(paths, base+"?resource_type="+url.QueryEscape(a.(map[string]any)["name"].(string)))
		}
	}
	for _, p := range paths {
		gs, gv := get(gURL, p)
		ls, lv := get(lURL, p)
		if gs != ls || !reflect.DeepEqual(gv, lv) {
			ga, _ := json.Marshal(gv)
			la, _ := json.Marshal(lv)
			t.Errorf("GET %s:\n glance %d %.400s\n glint  %d %.400s", p, gs, ga, ls, la)
		}
	}
	t.Logf("%d metadef routes compared", len(paths))
}

// metadefNorm drops timestamps and puts lists in a stable order (Glance
// lists associations in row order, Glint in resource type order).
func metadefNorm(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			if k != "created_at" && k != "updated_at" && k != "first" && k != "next" {
				out[k] = metadefNorm(x)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = metadefNorm(x)
		}
		sort.Slice(out, func(i, j int) bool {
			a, _ := json.Marshal(out[i])
			b, _ := json.Marshal(out[j])
			return string(a) < string(b)
		})
		return out
	}
	return v
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
