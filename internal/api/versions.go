package api

import (
	"net/http"
)

// Glance 25.1 with the cache and multi-store off advertises these; the
// later issues that add those features add their versions.
var apiVersions = []struct{ id, status string }{
	{"v2.15", "CURRENT"}, {"v2.9", "SUPPORTED"}, {"v2.7", "SUPPORTED"}, {"v2.6", "SUPPORTED"},
	{"v2.5", "SUPPORTED"}, {"v2.4", "SUPPORTED"}, {"v2.3", "SUPPORTED"}, {"v2.2", "SUPPORTED"},
	{"v2.1", "SUPPORTED"}, {"v2.0", "SUPPORTED"},
}

// allowedVersion reports whether a /v2.N path prefix is one this node serves.
func allowedVersion(seg string) bool {
	if seg == "v2" {
		return true
	}
	for _, v := range apiVersions {
		if v.id == seg {
			return true
		}
	}
	return false
}

func (s *Server) versionsDoc(r *http.Request) map[string]any {
	self := s.absURL(r, "/v2/")
	list := make([]map[string]any, 0, len(apiVersions))
	for _, v := range apiVersions {
		list = append(list, map[string]any{
			"id": v.id, "status": v.status,
			"links": []map[string]string{{"rel": "self", "href": self}},
		})
	}
	return map[string]any{"versions": list}
}

// versions answers GET /versions (200) and anything outside /v2 (300).
func (s *Server) versions(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, status, s.versionsDoc(r))
	}
}
