package image

import (
	"fmt"
	"testing"
)

func TestCanTransition(t *testing.T) {
	allowed := map[[2]Status]bool{}
	for from, tos := range transitions {
		for _, to := range tos {
			allowed[[2]Status{from, to}] = true
		}
	}
	// Glance's status machine, spelled out once more as the test's oracle.
	want := []string{
		"queued>saving", "queued>uploading", "queued>importing", "queued>active", "queued>deleted",
		"saving>active", "saving>killed", "saving>deleted", "saving>queued",
		"uploading>importing", "uploading>queued", "uploading>deleted",
		"importing>active", "importing>deleted", "importing>queued",
		"active>pending_delete", "active>deleted", "active>deactivated",
		"killed>deleted", "pending_delete>deleted", "pending_delete>active",
		"deactivated>active", "deactivated>deleted",
	}
	wantSet := map[string]bool{}
	for _, w := range want {
		wantSet[w] = true
	}
	for _, from := range Statuses {
		for _, to := range Statuses {
			key := string(from) + ">" + string(to)
			if got := CanTransition(from, to); got != wantSet[key] {
				t.Errorf("CanTransition(%s, %s) = %v", from, to, got)
			}
		}
	}
}

func TestAttributeClasses(t *testing.T) {
	cases := []struct {
		name                     string
		readOnly, reserved, core bool
	}{
		{"status", true, false, true},
		{"size", true, false, true},
		{"self", true, false, true},
		{"locations", false, true, true},
		{"deleted", false, true, false},
		{"os_glance_import_task", false, true, false},
		{"name", false, false, true},
		{"tags", false, false, true},
		{"os_distro", false, false, false},
		{"os_glanc", false, false, false},
	}
	for _, c := range cases {
		if IsReadOnly(c.name) != c.readOnly || IsReserved(c.name) != c.reserved || IsCore(c.name) != c.core {
			t.Errorf("%s: readOnly %v reserved %v core %v", c.name, IsReadOnly(c.name), IsReserved(c.name), IsCore(c.name))
		}
	}
}

// A clone's location metadata is its own at every depth: the SQLite
// image cache hands out clones, and a caller changing a list inside one
// changed it for every later reader.
func TestCloneMetadata(t *testing.T) {
	img := &Image{Properties: map[string]string{"k": "v"}, Tags: []string{"t"}, Locations: []Location{
		{URL: "u", Metadata: map[string]any{"s": "v", "l": []any{"a", map[string]any{"m": "n"}}, "o": map[string]any{"p": []any{"q"}}}},
		{URL: "w"},
	}}
	c := img.Clone()
	c.Properties["k"], c.Tags[0] = "changed", "changed"
	meta := c.Locations[0].Metadata
	meta["s"] = "changed"
	meta["l"].([]any)[0] = "changed"
	meta["l"].([]any)[1].(map[string]any)["m"] = "changed"
	meta["o"].(map[string]any)["p"].([]any)[0] = "changed"
	want := `map[l:[a map[m:n]] o:map[p:[q]] s:v]`
	if got := fmt.Sprint(img.Locations[0].Metadata); got != want || img.Properties["k"] != "v" || img.Tags[0] != "t" {
		t.Errorf("the original changed with its clone: %s, %v, %v", got, img.Properties, img.Tags)
	}
	if c.Locations[1].Metadata != nil {
		t.Errorf("nil metadata cloned as %v", c.Locations[1].Metadata)
	}
}
