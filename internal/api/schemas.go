package api

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"glint/internal/errs"
)

//go:embed schemas/*.json
var schemaFiles embed.FS

// schemas holds the documents served under /v2/schemas and the compiled
// image schema that every create and patch is validated against.
type schemas struct {
	docs  map[string][]byte // name → JSON served as is
	image *jsonschema.Schema
}

func loadSchemas(diskFormats, containerFormats []string) (*schemas, error) {
	s := &schemas{docs: map[string][]byte{}}
	for _, name := range []string{"image", "images", "member", "members"} {
		raw, err := schemaFiles.ReadFile("schemas/" + name + ".json")
		if err != nil {
			return nil, err
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
		// The format enums come from [image_format]; Glance lists null first.
		var props map[string]any
		switch name {
		case "image":
			props, _ = doc["properties"].(map[string]any)
		case "images":
			items, _ := doc["properties"].(map[string]any)["images"].(map[string]any)["items"].(map[string]any)
			props, _ = items["properties"].(map[string]any)
		}
		if props != nil {
			setEnum(props, "disk_format", diskFormats)
			setEnum(props, "container_format", containerFormats)
		}
		out, err := marshalNoEscape(doc)
		if err != nil {
			return nil, err
		}
		s.docs[name] = out
	}
	c := jsonschema.NewCompiler()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(s.docs["image"]))
	if err != nil {
		return nil, err
	}
	if err := c.AddResource("glint:image", doc); err != nil {
		return nil, err
	}
	if s.image, err = c.Compile("glint:image"); err != nil {
		return nil, err
	}
	return s, nil
}

func setEnum(props map[string]any, key string, values []string) {
	p, ok := props[key].(map[string]any)
	if !ok {
		return
	}
	enum := []any{nil}
	for _, v := range values {
		enum = append(enum, v)
	}
	p["enum"] = enum
}

// validateImage checks a create body, or one patched attribute, against
// the image schema: a 400 naming what is wrong, as Glance words it.
func (s *schemas) validateImage(v map[string]any) error {
	const op errs.Op = "api.validateImage"
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(mustJSON(v)))
	if err != nil {
		return errs.E(op, errs.Invalid, "Malformed JSON in request body.")
	}
	if err := s.image.Validate(inst); err != nil {
		return errs.E(op, errs.Invalid, "Provided object does not match schema 'image': "+schemaDetail(err))
	}
	return nil
}

// schemaDetail reduces the validator's report to its most specific line.
func schemaDetail(err error) string {
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	last = strings.TrimPrefix(last, "- ")
	return last
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // v came from json.Unmarshal
	}
	return b
}

func (s *Server) getSchema(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.Write(s.schemas.docs[name])
	}
}
