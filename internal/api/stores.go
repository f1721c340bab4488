package api

import (
	"net/http"
	"strings"

	"glint/internal/errs"
	"glint/internal/image"
	"glint/internal/store"
)

// multiStore reports whether Glance's multi-store API is on: only with
// enabled_backends, as in Glance.
func (s *Server) multiStore() bool { return s.cfg.MultiStore && s.cfg.Stores != nil }

func (s *Server) storeList(detail bool) []map[string]any {
	var out []map[string]any
	for _, st := range s.cfg.Stores.Stores() {
		m := map[string]any{"id": st.Name}
		if st.Description != "" {
			m["description"] = st.Description
		}
		// Glance writes these flags as strings.
		if st.Name == s.cfg.Stores.DefaultName() {
			m["default"] = "true"
		}
		if st.ReadOnly() {
			m["read-only"] = "true"
		}
		if detail {
			m["type"] = st.Type
			props := st.Properties
			if props == nil {
				props = map[string]any{}
			}
			m["properties"] = props
		}
		out = append(out, m)
	}
	return out
}

func (s *Server) infoStores(w http.ResponseWriter, r *http.Request) error {
	if !s.multiStore() {
		return errs.E(errs.Op("api.infoStores"), errs.NotFound, "Multi backend is not supported at this site.")
	}
	return writeJSON(w, http.StatusOK, map[string]any{"stores": s.storeList(false)})
}

func (s *Server) infoStoresDetail(w http.ResponseWriter, r *http.Request) error {
	if !s.multiStore() {
		return errs.E(errs.Op("api.infoStoresDetail"), errs.NotFound, "Multi backend is not supported at this site.")
	}
	// Glance's stores_info_detail policy (admin only by default; operators
	// open it to the service role, as Glance master does).
	if err := s.images.AuthorizeAction(r.Context(), "stores_info_detail", map[string]any{}); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"stores": s.storeList(true)})
}

// uploadTarget reads X-Image-Meta-Store: the store an upload goes to, or
// nil for the default.
func (s *Server) uploadTarget(r *http.Request) (*store.Store, error) {
	const op errs.Op = "api.upload"
	name := strings.TrimSpace(r.Header.Get("X-Image-Meta-Store"))
	if name == "" || !s.multiStore() {
		return nil, nil
	}
	st, err := s.cfg.Stores.Named(name)
	if err != nil {
		return nil, errs.E(op, errs.Invalid, err)
	}
	return st, nil
}

// storeNames lists, comma-separated, the store of each of the image's
// locations, in their order: the image's "stores" field under
// multi-store, as Glance lists them (a store twice if it holds two of the
// image's locations).
func (s *Server) storeNames(img *image.Image) string {
	var names []string
	for _, l := range img.ActiveLocations() {
		if n := l.Store(s.cfg.Stores); n != "" {
			names = append(names, n)
		}
	}
	return strings.Join(names, ",")
}

// deleteFromStore is DELETE /v2/stores/{store_id}/{image_id}.
func (s *Server) deleteFromStore(w http.ResponseWriter, r *http.Request) error {
	if !s.multiStore() {
		return errs.E(errs.Op("api.deleteFromStore"), errs.NotFound)
	}
	if err := s.images.DeleteFromStore(r.Context(), r.PathValue("store"), r.PathValue("id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}
