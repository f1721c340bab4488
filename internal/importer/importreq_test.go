package importer

import (
	"testing"
)

var allMethods = []string{MethodGlanceDirect, MethodWebDownload, MethodCopyImage}

func TestParseImportRequest(t *testing.T) {
	for _, c := range []struct {
		body, err string
		want      Request
	}{
		{`{"method":{"name":"glance-direct"}}`, "", Request{Method: "glance-direct", AllStoresMustSucceed: true}},
		{`{"method":{"name":"web-download","uri":"http://x/y"},"all_stores":true,"all_stores_must_succeed":false,"stores":["a","b"]}`, "",
			Request{Method: "web-download", URI: "http://x/y", AllStores: true, Stores: []string{"a", "b"}}},
		{`{"method":"glance-direct"}`, "'method' must be an object", Request{}},
		{`{"method":{"name":3}}`, "Unknown import method name '3'.", Request{}},
		{`{"method":{"name":"glance-download"}}`, "Unknown import method name 'glance-download'.", Request{}},
		{`{"method":{"name":"copy-image"},"stores":"a"}`, "'stores' must be a list", Request{}},
		{`{"method":{"name":"copy-image"},"stores":[1]}`, "'stores' must be a list", Request{}},
		{`null`, "Unexpected body type", Request{}},
	} {
		got, err := ParseRequest([]byte(c.body), allMethods)
		if c.err != "" {
			if err == nil || !contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.body, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.body, err)
			continue
		}
		if got.Method != c.want.Method || got.URI != c.want.URI || got.AllStores != c.want.AllStores ||
			got.AllStoresMustSucceed != c.want.AllStoresMustSucceed || len(got.Stores) != len(c.want.Stores) {
			t.Errorf("%s: got %+v, want %+v", c.body, got, c.want)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// FuzzParseImportRequest: import bodies come from any caller; parsing must
// never panic, and an accepted request names an enabled method.
func FuzzParseImportRequest(f *testing.F) {
	for _, s := range []string{
		`{"method":{"name":"glance-direct"}}`,
		`{"method":{"name":"web-download","uri":"http://example.com/a"},"stores":["x"],"all_stores":false}`,
		`{"method":{"name":"copy-image"},"all_stores":true,"all_stores_must_succeed":false}`,
		`{"method":[]}`, `[]`, `"x"`, `{"method":{"name":null}}`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := ParseRequest(b, allMethods)
		if err != nil {
			return
		}
		if req.Method != MethodGlanceDirect && req.Method != MethodWebDownload && req.Method != MethodCopyImage {
			t.Fatalf("accepted method %q", req.Method)
		}
		if req.Raw == nil {
			t.Fatal("no raw body kept")
		}
	})
}
