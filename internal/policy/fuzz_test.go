package policy

import (
	"reflect"
	"testing"

	"glint/internal/errs"
)

// FuzzParse checks that parsing never panics, that errors are errs.Invalid,
// that a parsed rule's printed form parses back to the same tree, and that
// evaluating it neither panics nor fails.
func FuzzParse(f *testing.F) {
	for _, s := range parseSamples {
		f.Add(s)
	}
	for _, d := range GlanceDefaults() {
		f.Add(d.CheckStr)
	}
	e, err := NewGlance(Options{})
	if err != nil {
		f.Fatal(err)
	}
	creds := Credentials{ProjectID: "p1", Roles: []string{"member"}, Extra: map[string]any{"a": map[string]any{"b": []any{"c"}}}}
	target := map[string]any{"project_id": "p1", "visibility": "public", "member_id": nil, "n": 1.5}
	f.Fuzz(func(t *testing.T, rule string) {
		expr, err := Parse(rule)
		if err != nil {
			if !errs.Is(errs.Invalid, err) {
				t.Fatalf("Parse(%q): error kind %v: %v", rule, errs.KindOf(err), err)
			}
			return
		}
		printed := expr.String()
		again, err := Parse(printed)
		if err != nil {
			t.Fatalf("Parse(%q) = %s, which does not parse: %v", rule, printed, err)
		}
		if !reflect.DeepEqual(again, expr) {
			t.Fatalf("Parse(%q) = %#v; its printed form %q parses to %#v", rule, expr, printed, again)
		}
		if again.String() != printed {
			t.Fatalf("printing is not stable: %q then %q", printed, again.String())
		}
		// Glance's rules hold no cycle, so only a (recursion) error
		// from a reference chain could occur, and none can here.
		if _, err := e.Evaluate(expr, creds, target); err != nil {
			t.Fatalf("Evaluate(%s): %v", printed, err)
		}
	})
}

// FuzzParseFile checks that no policy file content makes the loader panic.
func FuzzParseFile(f *testing.F) {
	f.Add([]byte(`{"get_image": "role:admin", "x": [["role:a", "b:c"]], "y": null}`))
	f.Add([]byte("get_image: rule:admin_or_owner\nadmin_or_owner: role:admin or project_id:%(project_id)s\n"))
	f.Add([]byte("a: &x role:a\nb: *x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := ParseFile(data)
		if err != nil {
			if !errs.Is(errs.Invalid, err) {
				t.Fatalf("error kind %v: %v", errs.KindOf(err), err)
			}
			return
		}
		seen := map[string]bool{}
		for _, r := range rules {
			if seen[r.Name] || r.Expr == nil {
				t.Fatalf("bad rule list %#v", rules)
			}
			seen[r.Name] = true
		}
	})
}
