package metadef

import (
	"encoding/json"
	"testing"
	"time"

	"glint/internal/errs"
)

// FuzzParseFile: any catalog file is refused as bad input or survives
// Split and Join with its namespace, properties, objects and tags.
func FuzzParseFile(f *testing.F) {
	for _, s := range []string{
		`{"namespace":"OS::X","protected":true,"properties":{"a":{"title":"A","type":"string"}},"objects":[{"name":"o","properties":{}}],"tags":[{"name":"t"}]}`,
		`{"namespace":""}`, `{"namespace":"x","objects":[{}]}`, `{"namespace":"x","properties":{"a":1}}`, `[]`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseFile(data)
		if err != nil {
			if errs.KindOf(err) != errs.Invalid {
				t.Fatalf("%q: kind %v", data, errs.KindOf(err))
			}
			return
		}
		ns, c := file.Split(time.Unix(0, 0))
		back, err := Join(ns, c)
		if err != nil {
			// An object's properties that are not a JSON object.
			return
		}
		if back.Namespace != file.Namespace || len(back.Properties) != len(file.Properties) ||
			len(back.Objects) != len(file.Objects) || len(back.Tags) != len(file.Tags) {
			t.Fatalf("%q: round trip gave %+v", data, back)
		}
		if _, err := json.Marshal(back); err != nil {
			t.Fatalf("%q: %v", data, err)
		}
	})
}
