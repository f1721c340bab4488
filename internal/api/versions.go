package api

import (
	"net/http"
)

// Glance 25.1 with the cache and multi-store off advertises these; with
// enabled_backends, multiStoreVersions stand in for v2.9. The cache's
// versions come with the cache.
var apiVersions = []struct{ id, status string }{
	{"v2.15", "CURRENT"}, {"v2.9", "SUPPORTED"}, {"v2.7", "SUPPORTED"}, {"v2.6", "SUPPORTED"},
	{"v2.5", "SUPPORTED"}, {"v2.4", "SUPPORTED"}, {"v2.3", "SUPPORTED"}, {"v2.2", "SUPPORTED"},
	{"v2.1", "SUPPORTED"}, {"v2.0", "SUPPORTED"},
}

// multiStoreVersions replace v2.9 when enabled_backends is set, as in Glance.
var multiStoreVersions = []struct{ id, status string }{
	{"v2.13", "SUPPORTED"}, {"v2.12", "SUPPORTED"}, {"v2.11", "SUPPORTED"}, {"v2.10", "SUPPORTED"},
	{"v2.9", "SUPPORTED"}, {"v2.8", "SUPPORTED"},
}

// cacheVersions replace v2.15 when the node has an image cache
// (image_cache_dir), as in Glance.
var cacheVersions = []struct{ id, status string }{
	{"v2.16", "CURRENT"}, {"v2.15", "SUPPORTED"}, {"v2.14", "SUPPORTED"},
}

// versionList is what this node advertises.
func (s *Server) versionList() []struct{ id, status string } {
	base := apiVersions
	if s.cfg.Cache != nil {
		base = append(append([]struct{ id, status string }{}, cacheVersions...), apiVersions[1:]...)
	}
	if !s.multiStore() {
		return base
	}
	var out []struct{ id, status string }
	for _, v := range base {
		if v.id == "v2.9" {
			out = append(out, multiStoreVersions...)
			continue
		}
		out = append(out, v)
	}
	return out
}

// allowedVersion reports whether a /v2.N path prefix is one this node serves.
func (s *Server) allowedVersion(seg string) bool {
	if seg == "v2" {
		return true
	}
	for _, v := range s.versionList() {
		if v.id == seg {
			return true
		}
	}
	return false
}

func (s *Server) versionsDoc(r *http.Request) map[string]any {
	self := s.absURL(r, "/v2/")
	vs := s.versionList()
	list := make([]map[string]any, 0, len(vs))
	for _, v := range vs {
		list = append(list, map[string]any{
			"id": v.id, "status": v.status,
			"links": []map[string]string{{"rel": "self", "href": self}},
		})
	}
	return map[string]any{"versions": list}
}

// versions answers GET /versions (200) and anything outside /v2 (300).
func (s *Server) versions(status int) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return writeJSON(w, status, s.versionsDoc(r))
	}
}
