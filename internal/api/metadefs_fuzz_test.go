package api

import (
	"encoding/json"
	"testing"

	"glint/internal/errs"
)

// FuzzMetadefBodies: any body is either refused by the metadef schemas
// as bad input, or becomes a namespace, contents and an object whose
// stored definitions are JSON objects, never a panic.
func FuzzMetadefBodies(f *testing.F) {
	for _, s := range []string{
		`{"namespace":"n"}`,
		`{"namespace":"n","visibility":"public","protected":true,"properties":{"p":{"title":"P","type":"string","enum":["a"]}},` +
			`"objects":[{"name":"o","required":["p"],"properties":{"p":{"title":"P","type":"integer","minimum":0}}}],` +
			`"tags":[{"name":"t"}],"resource_type_associations":[{"name":"OS::Glance::Image","prefix":"x_"}]}`,
		`{"namespace":"n","properties":{"p":{"title":"P","type":null,"items":{"type":"string"}}}}`,
		`{"namespace":1}`, `[]`, `{"name":"o","properties":{"a":{"title":"A","type":"array","minItems":1}}}`,
	} {
		f.Add(s)
	}
	docs := map[string][]byte{}
	sch, err := loadMetadefSchemas(docs)
	if err != nil {
		f.Fatal(err)
	}
	s := &Server{metadefSchemas: sch}
	f.Fuzz(func(t *testing.T, raw string) {
		var v any
		if json.Unmarshal([]byte(raw), &v) != nil {
			return
		}
		if _, ok := v.(map[string]any); !ok {
			return // readJSON refuses anything but an object first
		}
		for _, name := range []string{"namespace", "object", "property", "tag", "tags", "resource_type", "property-noname"} {
			if err := sch.validate(name, v); err != nil {
				if errs.KindOf(err) != errs.Invalid {
					t.Fatalf("%s %q: kind %v", name, raw, errs.KindOf(err))
				}
				continue
			}
			body, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%s accepted a non-object %q", name, raw)
			}
			switch name {
			case "namespace":
				ns := namespaceOf(body)
				c, err := s.contentsOf(body)
				if err != nil {
					t.Fatalf("%q: %v", raw, err)
				}
				if n := len([]rune(ns.Namespace)); n > 80 {
					t.Fatalf("%q: namespace name of %d characters", raw, n)
				}
				for _, p := range c.Properties {
					var def map[string]any
					if json.Unmarshal(p.Schema, &def) != nil {
						t.Fatalf("%q: property %s stored as %s", raw, p.Name, p.Schema)
					}
				}
			case "object":
				it, err := s.objectItem(body, true)
				if err != nil && errs.KindOf(err) != errs.Invalid {
					t.Fatalf("%q: %v", raw, err)
				}
				var props map[string]any
				if err == nil && json.Unmarshal(it.Schema, &props) != nil {
					t.Fatalf("%q: object stored as %s", raw, it.Schema)
				}
			}
		}
	})
}
