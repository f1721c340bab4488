package api

import (
	"encoding/json"
	"testing"
	"time"

	"glint/internal/image"
)

// appendString must agree with encoding/json (HTML escaping off) byte for byte.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"uote\\", "ctl\x00\x01\x1f\n\t\r\b\f", "<&>", "\u2028\u2029", "bad\xff\xfeutf8", "é😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := marshalNoEscape(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); string(got) != string(want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}

func TestAppendImage(t *testing.T) {
	name, sum, owner := "n\"x", "abc", "p1"
	size := int64(42)
	img := &image.Image{ID: "id-1", Name: &name, Status: image.Active, Visibility: "shared", Checksum: &sum, Owner: &owner,
		Size: &size, MinRAM: 5, CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), UpdatedAt: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC),
		Tags: []string{"a", "b"}, Properties: map[string]string{"os_distro": "x", "os_glance_stage_host": "hidden"},
		Locations: []image.Location{{URL: "file:///d/id-1", Metadata: map[string]any{"store": "file"}}}}
	for _, show := range []bool{false, true} {
		s := &Server{cfg: Config{ShowImageDirectURL: show, ShowMultipleLocations: show}}
		var m map[string]any
		if err := json.Unmarshal(s.appendImage(nil, img), &m); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"id": "id-1", "name": "n\"x", "status": "active", "visibility": "shared", "checksum": "abc",
			"owner": "p1", "size": 42.0, "virtual_size": nil, "min_ram": 5.0, "min_disk": 0.0, "protected": false, "os_hidden": false,
			"disk_format": nil, "container_format": nil, "os_hash_algo": nil, "os_hash_value": nil,
			"created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:06Z", "os_distro": "x",
			"self": "/v2/images/id-1", "file": "/v2/images/id-1/file", "schema": "/v2/schemas/image"}
		if show {
			want["direct_url"] = "file:///d/id-1"
		}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("show=%v: %s = %#v, want %#v", show, k, m[k], v)
			}
		}
		if _, ok := m["os_glance_stage_host"]; ok {
			t.Error("os_glance_stage_host shown")
		}
		if _, ok := m["locations"]; ok != show {
			t.Errorf("show=%v: locations present = %v", show, ok)
		}
		if len(m) != len(want)+2 { // + tags + locations/none
			if !(len(m) == len(want)+1 && !show) {
				t.Errorf("show=%v: %d keys: %v", show, len(m), m)
			}
		}
	}
}
