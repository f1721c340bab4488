package rbac_test

import (
	"encoding/json"
	"strings"
	"testing"

	"glint/internal/image"
	"glint/internal/protection"
)

// TestPropertyProtections runs against Glint with
// testdata/property-protections-roles.conf (and, in TestGlanceAgrees,
// against a Glance started with that file).
func TestPropertyProtections(t *testing.T) {
	rules, err := protection.Load("testdata/property-protections-roles.conf", "roles", nil)
	if err != nil {
		t.Fatal(err)
	}
	runProtections(t, newGlintWith(t, false, func(o *image.Options) { o.Protections = rules }))
}

func runProtections(t *testing.T, tg *target) {
	patch := func(op, path string, v any) []map[string]any {
		p := map[string]any{"op": op, "path": path}
		if op != "remove" {
			p["value"] = v
		}
		return []map[string]any{p}
	}
	props := func(c caller, id string) map[string]any {
		var m map[string]any
		json.Unmarshal(tg.must(c, 200, "GET", "/v2/images/"+id, nil), &m)
		return m
	}

	// Create: a protected property the caller may not create is refused.
	st, b := tg.do(alphaMem, "POST", "/v2/images", map[string]any{"name": "p", "x_secret": "s"})
	if st != 403 || !strings.Contains(string(b), "x_secret") {
		t.Errorf("member creating x_secret: %d %s", st, b)
	}
	var img map[string]any
	json.Unmarshal(tg.must(alphaMem, 201, "POST", "/v2/images", map[string]any{"name": "p", "x_owner_a": "1", "x_frozen": "ice", "free": "f"}), &img)
	id := img["id"].(string)
	p := "/v2/images/" + id
	tg.must(admin, 200, "PATCH", p, patch("add", "/x_secret", "hidden"))

	// Read: what a caller may not read is not there for it.
	if _, ok := props(alphaMem, id)["x_secret"]; ok {
		t.Error("member reads x_secret")
	}
	if v := props(admin, id)["x_secret"]; v != "hidden" {
		t.Errorf("admin reads x_secret = %v", v)
	}
	var l struct{ Images []map[string]any }
	json.Unmarshal(tg.must(alphaMem, 200, "GET", "/v2/images?limit=1000", nil), &l)
	for _, im := range l.Images {
		if _, ok := im["x_secret"]; ok {
			t.Error("member's listing shows x_secret")
		}
	}

	steps := []struct {
		who  caller
		body []map[string]any
		want int
	}{
		{alphaMem, patch("replace", "/x_owner_a", "2"), 403}, // update: admin only
		{alphaMem, patch("remove", "/x_owner_a", nil), 403},  // delete: admin only
		{alphaMem, patch("add", "/x_owner_b", "new"), 200},   // create: member
		{alphaRead, patch("add", "/x_owner_c", "new"), 403},  // create: not reader
		{alphaMem, patch("replace", "/x_frozen", "melt"), 403},
		{admin, patch("replace", "/x_frozen", "melt"), 403}, // '!': nobody
		{alphaMem, patch("add", "/x_secret", "mine"), 403},  // unreadable, so a create: admin only
		{alphaMem, patch("remove", "/x_secret", nil), 409},  // unreadable: does not exist for the caller
		{alphaMem, patch("replace", "/free", "g"), 200},
		{alphaMem, patch("remove", "/free", nil), 200},
		{admin, patch("replace", "/x_owner_a", "3"), 200},
		{admin, patch("remove", "/x_owner_b", nil), 200},
	}
	for _, s := range steps {
		if st, b := tg.do(s.who, "PATCH", p, s.body); st != s.want {
			t.Errorf("%s %v: %d %s, want %d", s.who.name, s.body, st, b, s.want)
		}
	}
	// A member's own changes keep what it cannot see. A deliberate
	// difference: Glance 25.1 drops the property it hid from the member
	// when the member's change is saved.
	if v := props(admin, id)["x_secret"]; v != "hidden" && !tg.glance {
		t.Errorf("x_secret after the member's changes = %v", v)
	}
	if v := props(alphaMem, id)["x_owner_a"]; v != "3" {
		t.Errorf("x_owner_a = %v", v)
	}
}
