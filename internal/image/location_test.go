package image

import (
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"glint/internal/errs"
)

func TestCheckLocationMetadata(t *testing.T) {
	cases := []struct {
		meta string
		err  string
	}{
		{`{}`, ""},
		{`{"a":"b","c":{"d":["e",{"f":"g"}]}}`, ""},
		{`{"n":1}`, "The image metadata key n has an invalid type of <class 'int'>."},
		{`{"l":["x",true]}`, "The image metadata key l[1] has an invalid type of <class 'bool'>."},
		{`{"z":null}`, "The image metadata key z has an invalid type of <class 'NoneType'>."},
	}
	for _, c := range cases {
		var m map[string]any
		if err := json.Unmarshal([]byte(c.meta), &m); err != nil {
			t.Fatal(err)
		}
		err := checkLocationMetadata(m, "")
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(errs.Message(err), c.err)) {
			t.Errorf("%s: %v, want %q", c.meta, err, c.err)
		}
	}
}

func TestValidationData(t *testing.T) {
	s := &Service{opts: Options{HashingAlgorithm: "sha512"}}
	sha := strings.Repeat("ab", 64)
	md := strings.Repeat("cd", 16)
	loc := func(vd map[string]any) newLocation { return newLocation{url: "u", valData: vd} }
	queued := &Image{Status: Queued}
	cases := []struct {
		name string
		img  *Image
		locs []newLocation
		err  string
	}{
		{"none", queued, []newLocation{loc(nil)}, ""},
		{"all", queued, []newLocation{loc(map[string]any{"checksum": md, "os_hash_algo": "sha512", "os_hash_value": sha})}, ""},
		{"conflicting", queued, []newLocation{loc(map[string]any{"checksum": md}), loc(map[string]any{"checksum": strings.Repeat("0", 32)})}, "Conflicting values for checksum"},
		{"not queued", &Image{Status: Active}, []newLocation{loc(map[string]any{"os_hash_algo": "sha512", "os_hash_value": sha})}, "may only be provided when image status is 'queued'"},
		{"already set", &Image{Status: Active, OSHashValue: &md}, []newLocation{loc(map[string]any{"os_hash_value": sha})}, "os_hash_value is already set with a different value"},
		{"short checksum", queued, []newLocation{loc(map[string]any{"checksum": "abcd", "os_hash_algo": "sha512", "os_hash_value": sha})}, "is not the correct size for md5"},
		{"algorithm", queued, []newLocation{loc(map[string]any{"os_hash_algo": "md5", "os_hash_value": md})}, "os_hash_algo must be sha512, not md5"},
		{"short hash", queued, []newLocation{loc(map[string]any{"os_hash_algo": "sha512", "os_hash_value": md})}, "should be 64 bytes"},
		{"not hex", queued, []newLocation{loc(map[string]any{"os_hash_algo": "sha512", "os_hash_value": "zz"})}, "is not a valid hexadecimal value"},
	}
	for _, c := range cases {
		_, err := s.validationData(c.img, c.locs)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(errs.Message(err), c.err)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.err)
		}
	}
}

// FuzzLocationChange: any JSON value as a location patch's value is
// refused or applied, never a panic, and never leaves an active image
// without a location.
func FuzzLocationChange(f *testing.F) {
	for _, s := range []string{`{"url":"http://h/a","metadata":{}}`, `[{"url":"http://h/a","metadata":{"k":["v"]}}]`, `null`, `[]`, `{"url":1}`,
		`{"url":"http://h/a","metadata":{},"validation_data":{"checksum":"x"}}`} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(1))
	}
	s := &Service{opts: Options{ShowLocations: true, LocationQuota: 3, HashingAlgorithm: "sha512"}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	f.Fuzz(func(t *testing.T, value string, op uint8) {
		var v any
		if json.Unmarshal([]byte(value), &v) != nil {
			return
		}
		raw, bare := "raw", "bare"
		img := &Image{Status: Queued, DiskFormat: &raw, ContainerFormat: &bare}
		c := Change{Op: "add", Path: []string{"locations", "-"}, Value: v}
		if op%2 == 1 {
			c = Change{Op: "replace", Path: []string{"locations"}, Value: v}
		}
		probes := map[string]probe{"http://h/a": {size: 10}}
		var removed []Location
		err := s.locationChange(img, c, probes, &removed)
		if err == nil && (img.Status != Active || len(img.ActiveLocations()) == 0) {
			t.Fatalf("applied %s but image is %s with %d locations", value, img.Status, len(img.ActiveLocations()))
		}
	})
}
