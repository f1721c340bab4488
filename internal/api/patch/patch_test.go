package patch

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"glint/internal/errs"
)

// Glance's messages, spelled once so the table stays readable.
const (
	msgMalformed = "Malformed JSON in request body."
	msgNoBody    = "Body expected in request."
	msgNotArray  = "Request body must be a JSON array of operation objects."
	msgNotObject = "Operations must be JSON objects."
	msgNoOp      = "Unable to find `op` in JSON Schema change. It must be one of the following: add, remove, replace."
	msgNoPath    = "Unable to find 'path' in JSON Schema change"
	msgExactly   = `Operation objects must contain exactly one member named "add", "remove", or "replace".`
	msgOnlyOne   = `Operation objects must contain only one member named "add", "remove", or "replace".`
)

func msgBadOp(op string) string {
	return "Invalid operation: `" + op + "`. It must be one of the following: add, remove, replace."
}

func msgPointer(p string) string { return "Invalid JSON pointer for this resource: '" + p + "'" }

func msgValue(op string) string { return `Operation "` + op + `" requires a member named "value".` }

type parseCase struct {
	name    string
	dialect string
	body    string
	want    []Op   // checked when err is ""
	err     string // exact errs.Message
}

func op(name string, value string, path ...string) Op {
	o := Op{Op: name, Path: path}
	if value != "" {
		o.Value = json.RawMessage(value)
	}
	return o
}

var parseCases = []parseCase{
	// Whole-document shape, the same in both dialects.
	{name: "empty array", dialect: MediaV21, body: `[]`, want: []Op{}},
	{name: "empty array v20", dialect: MediaV20, body: " \n[ ]\t", want: []Op{}},
	{name: "no body", dialect: MediaV21, body: ``, err: msgNoBody},
	{name: "whitespace body", dialect: MediaV21, body: `   `, err: msgMalformed},
	{name: "malformed", dialect: MediaV21, body: `[{"op":`, err: msgMalformed},
	{name: "trailing garbage", dialect: MediaV21, body: `[] []`, err: msgMalformed},
	{name: "invalid utf8", dialect: MediaV21, body: "[{\"op\":\"add\",\"path\":\"/name\",\"value\":\"\xff\"}]", err: msgMalformed},
	{name: "bom", dialect: MediaV21, body: "\ufeff[]", err: msgMalformed},
	{name: "NaN", dialect: MediaV21, body: `[{"op":"add","path":"/x","value":NaN}]`, err: msgMalformed},
	{name: "object body", dialect: MediaV21, body: `{"op":"add","path":"/name","value":"x"}`, err: msgNotArray},
	{name: "string body", dialect: MediaV20, body: `"add"`, err: msgNotArray},
	{name: "null body", dialect: MediaV21, body: `null`, err: msgNotArray},
	{name: "number element", dialect: MediaV21, body: `[1]`, err: msgNotObject},
	{name: "array element", dialect: MediaV20, body: `[[]]`, err: msgNotObject},
	{name: "null element", dialect: MediaV21, body: `[null]`, err: msgNotObject},
	{name: "bad element after good", dialect: MediaV21, body: `[{"op":"remove","path":"/a"},"x"]`, err: msgNotObject},
	{name: "unknown dialect", dialect: "application/json-patch+json", body: `[]`, err: "Unrecognized JSON Schema draft version"},

	// v2.1 dialect.
	{name: "v21 add", dialect: MediaV21, body: `[{"op":"add","path":"/name","value":"cirros"}]`,
		want: []Op{op("add", `"cirros"`, "name")}},
	{name: "v21 replace object value", dialect: MediaV21, body: `[{"op":"replace","path":"/min_ram","value":{"a":[1,2]}}]`,
		want: []Op{op("replace", `{"a":[1,2]}`, "min_ram")}},
	{name: "v21 remove ignores value", dialect: MediaV21, body: `[{"op":"remove","path":"/foo","value":1}]`,
		want: []Op{op("remove", "", "foo")}},
	{name: "v21 null value", dialect: MediaV21, body: `[{"op":"add","path":"/foo","value":null}]`,
		want: []Op{op("add", `null`, "foo")}},
	{name: "v21 extra keys ignored", dialect: MediaV21, body: `[{"op":"add","path":"/foo","value":1,"from":"/x","junk":[]}]`,
		want: []Op{op("add", `1`, "foo")}},
	{name: "v21 several", dialect: MediaV21,
		body: `[{"op":"add","path":"/locations/-","value":{"url":"u","metadata":{}}},{"op":"remove","path":"/locations/0"},{"op":"replace","path":"/locations","value":[]},{"op":"add","path":"/locations/12","value":{}}]`,
		want: []Op{
			op("add", `{"url":"u","metadata":{}}`, "locations", "-"),
			op("remove", "", "locations", "0"),
			op("replace", `[]`, "locations"),
			op("add", `{}`, "locations", "12"),
		}},
	{name: "v21 remove last location", dialect: MediaV21, body: `[{"op":"remove","path":"/locations/-"}]`,
		want: []Op{op("remove", "", "locations", "-")}},
	{name: "v21 duplicate key last wins", dialect: MediaV21, body: `[{"op":"test","op":"add","path":"/a","value":1}]`,
		want: []Op{op("add", `1`, "a")}},
	{name: "v21 missing op", dialect: MediaV21, body: `[{"path":"/name","value":"x"}]`, err: msgNoOp},
	{name: "v21 null op", dialect: MediaV21, body: `[{"op":null,"path":"/name","value":"x"}]`, err: msgNoOp},
	{name: "v21 op move", dialect: MediaV21, body: `[{"op":"move","from":"/a","path":"/b"}]`, err: msgBadOp("move")},
	{name: "v21 op copy", dialect: MediaV21, body: `[{"op":"copy","from":"/a","path":"/b"}]`, err: msgBadOp("copy")},
	{name: "v21 op test", dialect: MediaV21, body: `[{"op":"test","path":"/a","value":1}]`, err: msgBadOp("test")},
	{name: "v21 op case", dialect: MediaV21, body: `[{"op":"Add","path":"/a","value":1}]`, err: msgBadOp("Add")},
	{name: "v21 op empty", dialect: MediaV21, body: `[{"op":"","path":"/a","value":1}]`, err: msgBadOp("")},
	{name: "v21 op number", dialect: MediaV21, body: `[{"op":5,"path":"/a","value":1}]`, err: msgBadOp("5")},
	{name: "v21 op array", dialect: MediaV21, body: `[{"op":[ "add" ],"path":"/a","value":1}]`, err: msgBadOp(`["add"]`)},
	{name: "v21 missing path", dialect: MediaV21, body: `[{"op":"add","value":1}]`, err: msgNoPath},
	{name: "v21 op checked before path", dialect: MediaV21, body: `[{"op":"move"}]`, err: msgBadOp("move")},
	{name: "v21 missing value add", dialect: MediaV21, body: `[{"op":"add","path":"/name"}]`, err: msgValue("add")},
	{name: "v21 missing value replace", dialect: MediaV21, body: `[{"op":"replace","path":"/name"}]`, err: msgValue("replace")},
	{name: "v21 pointer checked before value", dialect: MediaV21, body: `[{"op":"add","path":"name"}]`, err: msgPointer("name")},
	{name: "v21 v20 shape rejected", dialect: MediaV21, body: `[{"add":"/name","value":"x"}]`, err: msgNoOp},

	// v2.0 dialect.
	{name: "v20 add", dialect: MediaV20, body: `[{"add":"/name","value":"cirros"}]`,
		want: []Op{op("add", `"cirros"`, "name")}},
	{name: "v20 replace", dialect: MediaV20, body: `[{"replace":"/tags","value":["a","b"]}]`,
		want: []Op{op("replace", `["a","b"]`, "tags")}},
	{name: "v20 remove", dialect: MediaV20, body: `[{"remove":"/foo"}]`,
		want: []Op{op("remove", "", "foo")}},
	{name: "v20 locations", dialect: MediaV20, body: `[{"add":"/locations/1","value":{}},{"remove":"/locations/-"}]`,
		want: []Op{op("add", `{}`, "locations", "1"), op("remove", "", "locations", "-")}},
	{name: "v20 op and path keys ignored", dialect: MediaV20, body: `[{"op":"move","path":"/x","add":"/name","value":1}]`,
		want: []Op{op("add", `1`, "name")}},
	{name: "v20 no op key", dialect: MediaV20, body: `[{"op":"add","path":"/name","value":"x"}]`, err: msgExactly},
	{name: "v20 empty object", dialect: MediaV20, body: `[{}]`, err: msgExactly},
	{name: "v20 move key", dialect: MediaV20, body: `[{"move":"/name","from":"/x"}]`, err: msgExactly},
	{name: "v20 two op keys", dialect: MediaV20, body: `[{"add":"/name","replace":"/name","value":"x"}]`, err: msgOnlyOne},
	{name: "v20 three op keys", dialect: MediaV20, body: `[{"add":"/a","remove":"/a","replace":"/a"}]`, err: msgOnlyOne},
	{name: "v20 missing value", dialect: MediaV20, body: `[{"replace":"/name"}]`, err: msgValue("replace")},
	{name: "v20 path number", dialect: MediaV20, body: `[{"remove":1}]`, err: msgPointer("1")},
	{name: "v20 path null", dialect: MediaV20, body: `[{"remove":null}]`, err: msgPointer("null")},

	// JSON pointers.
	{name: "escape ~1", dialect: MediaV21, body: `[{"op":"add","path":"/a~1b","value":1}]`,
		want: []Op{op("add", `1`, "a/b")}},
	{name: "escape ~0", dialect: MediaV21, body: `[{"op":"add","path":"/a~0b","value":1}]`,
		want: []Op{op("add", `1`, "a~b")}},
	{name: "escape ~01 is ~1", dialect: MediaV21, body: `[{"op":"add","path":"/~01","value":1}]`,
		want: []Op{op("add", `1`, "~1")}},
	{name: "escape ~10", dialect: MediaV20, body: `[{"remove":"/~10~0"}]`,
		want: []Op{op("remove", "", "/0~")}},
	{name: "escaped slash keeps depth 1", dialect: MediaV21, body: `[{"op":"remove","path":"/locations~10"}]`,
		want: []Op{op("remove", "", "locations/0")}},
	{name: "json escapes decoded first", dialect: MediaV21, body: `[{"op":"add","path":"\/na\u006de","value":1}]`,
		want: []Op{op("add", `1`, "name")}},
	{name: "segment whitespace stripped", dialect: MediaV21, body: `[{"op":"add","path":"/ name\t","value":1}]`,
		want: []Op{op("add", `1`, "name")}},
	{name: "unicode segment", dialect: MediaV21, body: `[{"op":"add","path":"/ключ","value":1}]`,
		want: []Op{op("add", `1`, "ключ")}},
	{name: "bad escape ~2", dialect: MediaV21, body: `[{"op":"add","path":"/a~2b","value":1}]`, err: msgPointer("/a~2b")},
	{name: "bad escape ~~", dialect: MediaV21, body: `[{"op":"add","path":"/a~~1","value":1}]`, err: msgPointer("/a~~1")},
	{name: "trailing ~", dialect: MediaV21, body: `[{"op":"add","path":"/a~","value":1}]`, err: msgPointer("/a~")},
	{name: "no leading slash", dialect: MediaV21, body: `[{"op":"add","path":"name","value":1}]`, err: msgPointer("name")},
	{name: "empty path", dialect: MediaV21, body: `[{"op":"add","path":"","value":1}]`, err: msgPointer("")},
	{name: "root path", dialect: MediaV21, body: `[{"op":"replace","path":"/","value":{}}]`, err: msgPointer("/")},
	{name: "trailing slash", dialect: MediaV21, body: `[{"op":"add","path":"/name/","value":1}]`, err: msgPointer("/name/")},
	{name: "double slash", dialect: MediaV21, body: `[{"op":"add","path":"//name","value":1}]`, err: msgPointer("//name")},
	{name: "adjacent slashes", dialect: MediaV21, body: `[{"op":"add","path":"/locations//0","value":1}]`, err: msgPointer("/locations//0")},
	{name: "blank segment", dialect: MediaV21, body: `[{"op":"add","path":"/ ","value":1}]`, err: msgPointer("/ ")},
	{name: "path number", dialect: MediaV21, body: `[{"op":"add","path":7,"value":1}]`, err: msgPointer("7")},
	{name: "path null", dialect: MediaV21, body: `[{"op":"add","path":null,"value":1}]`, err: msgPointer("null")},
	{name: "path array", dialect: MediaV21, body: `[{"op":"add","path":["name"],"value":1}]`, err: msgPointer(`["name"]`)},

	// Path depth.
	{name: "tags append", dialect: MediaV21, body: `[{"op":"add","path":"/tags/-","value":"t"}]`, err: msgPointer("/tags/-")},
	{name: "nested property", dialect: MediaV21, body: `[{"op":"replace","path":"/name/x","value":1}]`, err: msgPointer("/name/x")},
	{name: "replace location element", dialect: MediaV21, body: `[{"op":"replace","path":"/locations/0","value":{}}]`, err: msgPointer("/locations/0")},
	{name: "add whole locations", dialect: MediaV21, body: `[{"op":"add","path":"/locations","value":[]}]`, err: msgPointer("/locations")},
	{name: "remove whole locations", dialect: MediaV20, body: `[{"remove":"/locations"}]`, err: msgPointer("/locations")},
	{name: "locations depth 3", dialect: MediaV21, body: `[{"op":"add","path":"/locations/0/url","value":"u"}]`, err: msgPointer("/locations/0/url")},
	{name: "locations leading zero", dialect: MediaV21, body: `[{"op":"add","path":"/locations/01","value":{}}]`, err: msgPointer("/locations/01")},
	{name: "locations negative", dialect: MediaV21, body: `[{"op":"remove","path":"/locations/-1"}]`, err: msgPointer("/locations/-1")},
	{name: "locations word", dialect: MediaV21, body: `[{"op":"remove","path":"/locations/first"}]`, err: msgPointer("/locations/first")},
	{name: "locations plus sign", dialect: MediaV21, body: `[{"op":"remove","path":"/locations/+1"}]`, err: msgPointer("/locations/+1")},
	{name: "locations case matters", dialect: MediaV21, body: `[{"op":"add","path":"/Locations/0","value":{}}]`, err: msgPointer("/Locations/0")},
	{name: "depth checked before value", dialect: MediaV21, body: `[{"op":"add","path":"/tags/-"}]`, err: msgPointer("/tags/-")},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.dialect, []byte(tc.body))
			if tc.err != "" {
				if err == nil {
					t.Fatalf("Parse(%s) = %+v, want error %q", tc.body, got, tc.err)
				}
				if k := errs.KindOf(err); k != errs.Invalid {
					t.Errorf("kind = %v, want %v", k, errs.Invalid)
				}
				if m := errs.Message(err); m != tc.err {
					t.Errorf("message = %q\n          want %q", m, tc.err)
				}
				if got != nil {
					t.Errorf("ops = %+v, want nil on error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%s): %v", tc.body, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse(%s)\n got %s\nwant %s", tc.body, show(got), show(tc.want))
			}
		})
	}
}

// TestParseValueIsCopy guards against ops aliasing the request buffer, which
// the caller may reuse.
func TestParseValueIsCopy(t *testing.T) {
	body := []byte(`[{"op":"add","path":"/name","value":"abc"}]`)
	ops, err := Parse(MediaV21, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = ' '
	}
	if string(ops[0].Value) != `"abc"` {
		t.Errorf("value = %s after body overwritten", ops[0].Value)
	}
}

func show(ops []Op) string {
	var b strings.Builder
	for _, o := range ops {
		b.WriteString(o.Op + " " + strings.Join(o.Path, "|") + " " + string(o.Value) + "; ")
	}
	return "[" + b.String() + "]"
}

func TestDialect(t *testing.T) {
	tests := []struct {
		ct   string
		want string // "" means 415
	}{
		{MediaV21, MediaV21},
		{MediaV20, MediaV20},
		{"application/openstack-images-v2.1-json-patch; charset=UTF-8", MediaV21},
		{"application/openstack-images-v2.0-json-patch;charset=utf-8", MediaV20},
		{"Application/OpenStack-Images-V2.1-JSON-Patch", MediaV21},
		{"APPLICATION/OPENSTACK-IMAGES-V2.0-JSON-PATCH ; Charset=\"utf-8\"", MediaV20},
		{"  application/openstack-images-v2.1-json-patch  ", MediaV21},
		{"application/openstack-images-v2.1-json-patch;", MediaV21},
		{"", ""},
		{"application/json", ""},
		{"application/json-patch+json", ""},
		{"application/merge-patch+json", ""},
		{"application/openstack-images-v2.2-json-patch", ""},
		{"application/openstack-images-v2.1-json-patch+json", ""},
		{"text/plain; application/openstack-images-v2.1-json-patch", ""},
		{"application/openstack-images-v2.1-json-patch, application/json", ""},
	}
	for _, tc := range tests {
		got, err := Dialect(tc.ct)
		if tc.want != "" {
			if err != nil || got != tc.want {
				t.Errorf("Dialect(%q) = %q, %v; want %q", tc.ct, got, err, tc.want)
			}
			continue
		}
		if err == nil {
			t.Errorf("Dialect(%q) = %q, want 415", tc.ct, got)
			continue
		}
		if k := errs.KindOf(err); k != errs.BadFormat {
			t.Errorf("Dialect(%q) kind = %v, want %v", tc.ct, k, errs.BadFormat)
		}
		want := "The request media type " + tc.ct + " is not supported by this server."
		if m := errs.Message(err); m != want {
			t.Errorf("Dialect(%q) message = %q, want %q", tc.ct, m, want)
		}
	}
}

func TestAcceptPatch(t *testing.T) {
	// Glance sends the sorted list of both media types.
	if want := MediaV20 + ", " + MediaV21; AcceptPatch != want {
		t.Errorf("AcceptPatch = %q, want %q", AcceptPatch, want)
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.dialect == MediaV20, []byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, v20 bool, body []byte) {
		dialect := MediaV21
		if v20 {
			dialect = MediaV20
		}
		ops, err := Parse(dialect, body)
		if err != nil {
			if errs.KindOf(err) != errs.Invalid || errs.Message(err) == "" {
				t.Fatalf("error %v is not an Invalid error with a message", err)
			}
			if ops != nil {
				t.Fatalf("ops %v returned with error", ops)
			}
			return
		}
		for _, o := range ops {
			checkOp(t, o)
		}
	})
}

// checkOp asserts the guarantees callers rely on.
func checkOp(t *testing.T, o Op) {
	t.Helper()
	switch o.Op {
	case "add", "replace":
		if !json.Valid(o.Value) {
			t.Fatalf("%s value %q is not JSON", o.Op, o.Value)
		}
	case "remove":
		if o.Value != nil {
			t.Fatalf("remove has value %q", o.Value)
		}
	default:
		t.Fatalf("bad op %q", o.Op)
	}
	switch len(o.Path) {
	case 1:
		if o.Path[0] == "locations" && o.Op != "replace" {
			t.Fatalf("%s on whole locations list", o.Op)
		}
	case 2:
		if o.Path[0] != "locations" || o.Op == "replace" {
			t.Fatalf("depth-2 path %q for %s", o.Path, o.Op)
		}
		if !isIndex(o.Path[1]) {
			t.Fatalf("bad location index %q", o.Path[1])
		}
	default:
		t.Fatalf("path %q has %d segments", o.Path, len(o.Path))
	}
	for _, s := range o.Path {
		if s == "" || strings.TrimFunc(s, isPySpace) != s {
			t.Fatalf("path segment %q is empty or unstripped", s)
		}
	}
}

func FuzzDialect(f *testing.F) {
	for _, s := range []string{
		MediaV21, MediaV20, "", "application/json",
		"application/openstack-images-v2.1-json-patch; charset=UTF-8",
		"APPLICATION/OPENSTACK-IMAGES-V2.0-JSON-PATCH",
		"application/openstack-images-v2.1-json-patch;;;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ct string) {
		got, err := Dialect(ct)
		if err != nil {
			if got != "" {
				t.Fatalf("Dialect(%q) = %q with error", ct, got)
			}
			if errs.KindOf(err) != errs.BadFormat {
				t.Fatalf("Dialect(%q) error kind %v", ct, errs.KindOf(err))
			}
			if !strings.Contains(errs.Message(err), ct) {
				t.Fatalf("Dialect(%q) message %q does not quote the header", ct, errs.Message(err))
			}
			return
		}
		if got != MediaV21 && got != MediaV20 {
			t.Fatalf("Dialect(%q) = %q", ct, got)
		}
		// Whatever was accepted must name that media type before any parameter.
		mt, _, _ := strings.Cut(ct, ";")
		if !strings.EqualFold(strings.TrimSpace(mt), got) {
			t.Fatalf("Dialect(%q) = %q", ct, got)
		}
		// Parameters never change the answer.
		if again, err := Dialect(mt + "; q=1"); err != nil || again != got {
			t.Fatalf("Dialect(%q) = %q, %v; want %q", mt+"; q=1", again, err, got)
		}
	})
}
