package config

import (
	"sort"
	"strings"
)

// CORS is one section of oslo.middleware's cors filter: [cors], or a
// [cors.<name>] section.
type CORS struct {
	Section          string   // "" for [cors], else "cors.<name>" as written
	AllowedOrigin    []string // allowed_origin, default []
	AllowCredentials bool     // allow_credentials, default true
	ExposeHeaders    []string // expose_headers, default corsExposeHeaders
	MaxAge           int      // max_age, default 3600 (0: no Access-Control-Max-Age)
	AllowMethods     []string // allow_methods, default [GET, PUT, POST, DELETE, PATCH]
	AllowHeaders     []string // allow_headers, default corsAllowHeaders
}

// The header lists Glance gives oslo.middleware as the defaults of
// expose_headers and allow_headers: its request id, token and image
// checksum headers, and the identity headers keystonemiddleware sets.
var (
	corsExposeHeaders = []string{"X-Image-Meta-Checksum", "X-Auth-Token", "X-Subject-Token",
		"X-Service-Token", "X-OpenStack-Request-ID"}
	corsAllowHeaders = []string{"Content-MD5", "X-Image-Meta-Checksum", "X-Storage-Token",
		"Accept-Encoding", "X-Auth-Token", "X-Identity-Status", "X-Roles", "X-Service-Catalog",
		"X-User-Id", "X-Tenant-Id", "X-OpenStack-Request-ID"}
)

// loadCORSSections reads the [cors.<name>] sections as oslo.middleware
// does: every section of any file whose name, as written, starts with
// "cors." (in sorted order, each name once however it is spelled), with
// the [cors] options, whose defaults there are [cors]'s values except
// allowed_origin's.
func loadCORSSections(c *Config, r *resolver) []error {
	var names []string
	for _, f := range r.files {
		for _, n := range f.raw {
			if strings.HasPrefix(n, "cors.") {
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	var errs []error
	seen := map[string]bool{}
	for _, name := range names {
		sec := normSection(name)
		if seen[sec] {
			continue
		}
		seen[sec] = true
		if r.corsSections == nil {
			r.corsSections = map[string]bool{}
		}
		r.corsSections[sec] = true
		scratch := Config{CORS: c.CORS}
		scratch.CORS.Section, scratch.CORS.AllowedOrigin = name, nil
		errs = append(errs, r.applySection(&scratch, sec, "cors")...)
		c.CORSSections = append(c.CORSSections, scratch.CORS)
	}
	return errs
}
