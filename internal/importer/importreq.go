package importer

import (
	"encoding/json"
	"fmt"
	"slices"

	"glint/internal/errs"
)

// Import method names.
const (
	MethodGlanceDirect   = "glance-direct"
	MethodWebDownload    = "web-download"
	MethodCopyImage      = "copy-image"
	MethodGlanceDownload = "glance-download"
)

// Request is the body of POST /v2/images/{id}/import.
type Request struct {
	Method string
	URI    string // web-download
	// glance-download: the image to copy and where its Image API is. Set
	// tells whether the body named each.
	GlanceRegion, GlanceImageID       any
	HasGlanceRegion, HasGlanceImageID bool
	Stores                            []string
	AllStores                         bool
	AllStoresMustSucceed              bool
	// HeaderStore is the request's X-Image-Meta-Store header, which
	// names the store of an import when the body names none.
	HeaderStore string
	// Raw is the body as sent, kept in the task's input (import_req) as
	// Glance keeps it.
	Raw map[string]any
}

// ParseRequest decodes and checks an import body the way Glance's
// request deserializer does, with the same messages; enabled is
// enabled_import_methods. It never panics on any input (fuzzed).
func ParseRequest(body []byte, enabled []string) (*Request, error) {
	const op errs.Op = "importer.ParseRequest"
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, errs.E(op, errs.Invalid, "Malformed JSON in request body.")
	}
	raw, ok := v.(map[string]any)
	if !ok {
		return nil, errs.E(op, errs.Invalid, "Unexpected body type. Expected list/dict.")
	}
	mv, ok := raw["method"]
	if !ok {
		return nil, errs.E(op, errs.Invalid, "Import request requires a 'method' field.")
	}
	method, ok := mv.(map[string]any)
	if !ok {
		// Glance fails with a 500 here (it indexes a non-dict); a 400 says why.
		return nil, errs.E(op, errs.Invalid, "Import request 'method' must be an object.")
	}
	nv, ok := method["name"]
	if !ok {
		return nil, errs.E(op, errs.Invalid, "Import request requires a 'name' field.")
	}
	name, _ := nv.(string)
	if !slices.Contains(enabled, name) {
		return nil, errs.Errorf(op, errs.Invalid, "Unknown import method name '%s'.", fmt.Sprint(nv))
	}
	req := &Request{Method: name, AllStoresMustSucceed: true, Raw: raw}
	if b, ok := raw["all_stores_must_succeed"]; ok {
		v, isBool := b.(bool)
		if !isBool {
			return nil, errs.E(op, errs.Invalid, "'all_stores_must_succeed' must be boolean value only")
		}
		req.AllStoresMustSucceed = v
	}
	if b, ok := raw["all_stores"]; ok {
		v, isBool := b.(bool)
		if !isBool {
			return nil, errs.E(op, errs.Invalid, "'all_stores' must be boolean value only")
		}
		req.AllStores = v
	}
	if s, ok := raw["stores"]; ok && s != nil {
		list, ok := s.([]any)
		if !ok {
			return nil, errs.E(op, errs.Invalid, "'stores' must be a list of store identifiers")
		}
		for _, x := range list {
			id, ok := x.(string)
			if !ok {
				return nil, errs.E(op, errs.Invalid, "'stores' must be a list of store identifiers")
			}
			req.Stores = append(req.Stores, id)
		}
	}
	if u, ok := method["uri"]; ok {
		req.URI, _ = u.(string)
	}
	req.GlanceRegion, req.HasGlanceRegion = method["glance_region"]
	req.GlanceImageID, req.HasGlanceImageID = method["glance_image_id"]
	return req, nil
}
