package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"glint/internal/api/patch"
	"glint/internal/errs"
	"glint/internal/framing"
	"glint/internal/image"
)

const timeLayout = "2006-01-02T15:04:05Z"

// readJSON decodes a metadata body as Glance does: any Content-Type, a
// JSON object required.
func readJSON(r *http.Request) (map[string]any, error) {
	const op errs.Op = "api.readJSON"
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, errs.E(op, errs.Invalid, "Body expected in request.")
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, errs.E(op, errs.Invalid, "Malformed JSON in request body.")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errs.E(op, errs.Invalid, "Unexpected body type. Expected dict.")
	}
	return m, nil
}

// clientReadOnly are attributes the API itself refuses on create, before
// the schema is consulted (Glance's deserializer).
var clientReadOnly = []string{"direct_url", "self", "file", "schema", "stores"}

func (s *Server) createImage(w http.ResponseWriter, r *http.Request) error {
	const op errs.Op = "api.createImage"
	body, err := readJSON(r)
	if err != nil {
		return err
	}
	for _, k := range clientReadOnly {
		if _, ok := body[k]; ok {
			return errs.Errorf(op, errs.Forbidden, "Attribute '%s' is read-only.", k)
		}
	}
	for k := range body {
		if image.IsReserved(k) {
			return errs.Errorf(op, errs.Forbidden, "Attribute '%s' is reserved.", k)
		}
		if len(k) > 255 {
			return errs.E(op, errs.Invalid, "Property names are limited to 255 characters.")
		}
	}
	if err := s.schemas.validateImage(body); err != nil {
		return err
	}
	img, err := s.images.Create(r.Context(), body)
	if err != nil {
		return err
	}
	w.Header().Set("Location", s.absURL(r, "/v2/images/"+img.ID))
	if len(s.cfg.EnabledImportMethods) > 0 {
		w.Header().Set("OpenStack-image-import-methods", strings.Join(s.cfg.EnabledImportMethods, ","))
	}
	s.writeImage(w, http.StatusCreated, img)
	return nil
}

func (s *Server) absURL(r *http.Request, path string) string {
	if s.cfg.PublicEndpoint != "" {
		return strings.TrimSuffix(s.cfg.PublicEndpoint, "/") + path
	}
	scheme := "http"
	if r.TLS != nil || framing.TLS(r.Context()) != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + path
}

func (s *Server) showImage(w http.ResponseWriter, r *http.Request) error {
	img, err := s.images.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	s.writeImage(w, http.StatusOK, img)
	return nil
}

func (s *Server) deleteImage(w http.ResponseWriter, r *http.Request) error {
	// As Glance: an image staged on another node is deleted through that
	// node, which removes the staged data with it. When that node cannot
	// be asked, or fails, this one deletes the image and the data stays
	// there until that node's staging sweep.
	if im := s.cfg.Importer; im != nil && r.Header.Get(proxiedHeader) == "" {
		if host := im.StagedElsewhere(r.Context(), r.PathValue("id")); host != "" {
			a, err := s.forward(r, host, http.MethodDelete, "", nil)
			if err == nil && a.status < 500 {
				a.relay(w)
				return nil
			}
			s.log.WarnContext(r.Context(), "the stage host did not delete the image; deleting it here", "image_id", r.PathValue("id"),
				"stage_host", host, "status", a.status, "err", err)
		}
	}
	if err := s.images.Delete(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (s *Server) patchImage(w http.ResponseWriter, r *http.Request) error {
	const op errs.Op = "api.patchImage"
	dialect, err := patch.Dialect(r.Header.Get("Content-Type"))
	if err != nil {
		return withHeader(err, "Accept-Patch", patch.AcceptPatch)
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	ops, err := patch.Parse(dialect, body)
	if err != nil {
		return err
	}
	changes := make([]image.Change, 0, len(ops))
	for _, o := range ops {
		k := o.Path[0]
		// Glance's deserializer order: read-only, reserved, then the schema.
		if image.IsReadOnly(k) {
			return errs.Errorf(op, errs.Forbidden, "Attribute '%s' is read-only.", k)
		}
		if image.IsReserved(k) && k != "locations" {
			return errs.Errorf(op, errs.Forbidden, "Attribute '%s' is reserved.", k)
		}
		c := image.Change{Op: o.Op, Path: o.Path}
		if o.Op != "remove" {
			if err := json.Unmarshal(o.Value, &c.Value); err != nil {
				return errs.E(op, errs.Invalid, "Malformed JSON in request body.")
			}
			if k == "locations" {
				// Glance validates an element added at /locations/N as a
				// one-element list.
				v := c.Value
				if len(o.Path) == 2 {
					v = []any{c.Value}
				}
				if err := s.schemas.validateImage(map[string]any{k: v}); err != nil {
					return err
				}
			} else {
				if len(k) > 255 {
					return errs.E(op, errs.Invalid, "Property names are limited to 255 characters.")
				}
				if err := s.schemas.validateImage(map[string]any{k: c.Value}); err != nil {
					return err
				}
			}
		}
		changes = append(changes, c)
	}
	img, err := s.images.Update(r.Context(), r.PathValue("id"), changes, dialect == patch.MediaV20)
	if err != nil {
		return err
	}
	s.writeImage(w, http.StatusOK, img)
	return nil
}

func (s *Server) addTag(w http.ResponseWriter, r *http.Request) error {
	if err := s.images.AddTag(r.Context(), r.PathValue("id"), r.PathValue("tag")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (s *Server) deleteTag(w http.ResponseWriter, r *http.Request) error {
	if err := s.images.DeleteTag(r.Context(), r.PathValue("id"), r.PathValue("tag")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (s *Server) action(active bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := s.images.SetActive(r.Context(), r.PathValue("id"), active); err != nil {
			return err
		}
		noContent(w)
		return nil
	}
}

func (s *Server) listImages(w http.ResponseWriter, r *http.Request) error {
	q, err := parseListQuery(r.URL.RawQuery, s.cfg.LimitParamDefault, s.cfg.APILimitMax)
	if err != nil {
		return err
	}
	imgs, err := s.images.List(r.Context(), q)
	if err != nil {
		return err
	}
	buf := s.bufs.get()
	defer s.bufs.put(buf)
	if need := 256 + 1536*len(imgs); cap(*buf) < need {
		// Grown by appends, a page of 1000 was copied ten times over.
		*buf = make([]byte, 0, need)
	}
	b := append(*buf, `{"images":[`...)
	for i, img := range imgs {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.appendImage(b, img)
	}
	params := pageParams(r.URL.RawQuery)
	b = appendString(append(b, `],"first":`...), "/v2/images"+encodeParams(params, ""))
	if len(imgs) > 0 && len(imgs) == q.Limit {
		b = appendString(append(b, `,"next":`...), "/v2/images"+encodeParams(params, imgs[len(imgs)-1].ID))
	}
	b = append(b, `,"schema":"/v2/schemas/images"}`...)
	writeRawJSON(w, http.StatusOK, b)
	*buf = b
	return nil
}

type kv struct{ k, v string }

// pageParams is the query without marker, each name once with its last
// value, in first-seen order, as Glance rebuilds its links.
func pageParams(raw string) []kv {
	var out []kv
	idx := map[string]int{}
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, _ = url.QueryUnescape(k)
		v, _ = url.QueryUnescape(v)
		if k == "marker" {
			continue
		}
		if i, ok := idx[k]; ok {
			out[i].v = v
			continue
		}
		idx[k] = len(out)
		out = append(out, kv{k, v})
	}
	return out
}

func encodeParams(params []kv, marker string) string {
	var parts []string
	for _, p := range params {
		parts = append(parts, url.QueryEscape(p.k)+"="+url.QueryEscape(p.v))
	}
	if marker != "" {
		parts = append(parts, "marker="+url.QueryEscape(marker))
	}
	if len(parts) == 0 {
		return ""
	}
	return "?" + strings.Join(parts, "&")
}
