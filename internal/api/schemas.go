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

// loadSchemas builds the served schema documents. custom is the content of
// Glance's schema-image.json (operator-defined image properties); nil
// means the file Glance ships.
func loadSchemas(diskFormats, containerFormats []string, custom []byte) (*schemas, error) {
	s := &schemas{docs: map[string][]byte{}}
	raw, err := schemaFiles.ReadFile("schemas/image.json")
	if err != nil {
		return nil, err
	}
	var img map[string]any
	if err := json.Unmarshal(raw, &img); err != nil {
		return nil, fmt.Errorf("image schema: %w", err)
	}
	props := img["properties"].(map[string]any)
	setEnum(props, "disk_format", diskFormats)
	setEnum(props, "container_format", containerFormats)
	if custom == nil {
		if custom, err = schemaFiles.ReadFile("schemas/image-custom.json"); err != nil {
			return nil, err
		}
	}
	var extra map[string]any
	if err := json.Unmarshal(custom, &extra); err != nil {
		return nil, fmt.Errorf("schema-image.json: %w", err)
	}
	// Glance's newer format nests the properties under "properties".
	if p, ok := extra["properties"].(map[string]any); ok {
		extra = p
	}
	for k, v := range extra {
		def, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("schema-image.json: property %s is not an object", k)
		}
		if _, base := props[k]; base {
			continue // custom properties never override core ones
		}
		def["is_base"] = false
		props[k] = def
	}
	images := map[string]any{
		"name": "images",
		"properties": map[string]any{
			"images": map[string]any{"type": "array", "items": img},
			"schema": map[string]any{"type": "string"},
			"first":  map[string]any{"type": "string"},
			"next":   map[string]any{"type": "string"},
		},
		"links": []any{
			map[string]any{"rel": "first", "href": "{first}"},
			map[string]any{"rel": "next", "href": "{next}"},
			map[string]any{"rel": "describedby", "href": "{schema}"},
		},
	}
	for name, doc := range map[string]any{"image": img, "images": images} {
		if s.docs[name], err = marshalNoEscape(doc); err != nil {
			return nil, err
		}
	}
	for _, name := range []string{"member", "members"} {
		if s.docs[name], err = schemaFiles.ReadFile("schemas/" + name + ".json"); err != nil {
			return nil, err
		}
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
		return nil, fmt.Errorf("image schema: %w", err)
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
	return strings.ReplaceAll(last, "<nil>", "None") // JSON null, as Glance (Python) prints it
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // v came from json.Unmarshal
	}
	return b
}

func (s *Server) getSchema(name string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		w.Write(s.schemas.docs[name])
		return nil
	}
}
