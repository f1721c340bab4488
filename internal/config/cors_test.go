package config

import (
	"reflect"
	"strings"
	"testing"
)

// The [cors] options and the [cors.<name>] sections, read as
// oslo.middleware reads them in Glance.
func TestCORSOptions(t *testing.T) {
	def := Default().CORS
	with := func(fn func(*CORS)) CORS { c := def; fn(&c); return c }
	cases := []struct {
		name     string
		files    []string
		main     CORS
		sections []CORS
		ignored  []string
		err      string
	}{
		{name: "not configured", files: []string{"[DEFAULT]\n"}, main: def},
		{name: "one origin, Glance's defaults for the rest",
			files: []string{"[cors]\nallowed_origin = http://horizon.example:8080\n"},
			main:  with(func(c *CORS) { c.AllowedOrigin = []string{"http://horizon.example:8080"} })},
		{name: "every option",
			files: []string{"[CORS]\nallowed_origin = [https://a.example, https://b.example]\nallow_credentials = false\n" +
				"expose_headers = X-A\nmax_age = 0\nallow_methods = GET,PUT\nallow_headers =\n"},
			main: CORS{AllowedOrigin: []string{"https://a.example", "https://b.example"}, ExposeHeaders: []string{"X-A"},
				AllowMethods: []string{"GET", "PUT"}, AllowHeaders: []string{}}},
		{name: "sections take [cors]'s values as defaults, not its origins, sorted by name",
			files: []string{"[cors]\nallowed_origin = https://main.example\nmax_age = 5\n" +
				"[cors.zz]\nallowed_origin = *\nallow_methods = GET\n" +
				"[cors.b]\nallowed_origin = https://b.example\nallow_credentials = no\nunknown = 1\n" +
				"[cors.empty]\n"},
			main: with(func(c *CORS) { c.AllowedOrigin, c.MaxAge = []string{"https://main.example"}, 5 }),
			sections: []CORS{
				with(func(c *CORS) {
					c.Section, c.AllowedOrigin, c.MaxAge, c.AllowCredentials = "cors.b", []string{"https://b.example"}, 5, false
				}),
				with(func(c *CORS) { c.Section, c.AllowedOrigin, c.MaxAge = "cors.empty", nil, 5 }),
				with(func(c *CORS) {
					c.Section, c.AllowedOrigin, c.MaxAge, c.AllowMethods = "cors.zz", []string{"*"}, 5, []string{"GET"}
				}),
			},
			ignored: []string{"cors.b.unknown"}},
		{name: "a later file and substitution",
			files: []string{"[DEFAULT]\nhorizon = https://h.example\n[cors.h]\nallowed_origin = x\nmax_age = 1\n",
				"[cors.h]\nallowed_origin = $horizon\n"},
			main:     def,
			sections: []CORS{with(func(c *CORS) { c.Section, c.AllowedOrigin, c.MaxAge = "cors.h", []string{"https://h.example"}, 1 })},
			ignored:  []string{"DEFAULT.horizon"}},
		{name: "only sections spelt cors. count, each name once",
			files: []string{"[CORS.upper]\nallowed_origin = https://u.example\n[cors.Mixed]\nallowed_origin = https://m.example\n",
				"[cors.mixed]\nmax_age = 7\n"},
			main: def,
			sections: []CORS{with(func(c *CORS) {
				c.Section, c.AllowedOrigin, c.MaxAge = "cors.Mixed", []string{"https://m.example"}, 7
			})},
			ignored: []string{"cors.upper.allowed_origin"}},
		{name: "a bad value in a section",
			files: []string{"[cors.x]\nmax_age = soon\n"},
			err:   "cors.x.max_age: invalid integer value"},
		{name: "a bad value in [cors]",
			files: []string{"[cors]\nallow_credentials = maybe\n"},
			err:   "cors.allow_credentials: invalid boolean value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var paths []string
			for _, f := range tc.files {
				paths = append(paths, writeConf(t, f))
			}
			c, err := Load(paths, nil)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.CORS, tc.main) {
				t.Errorf("[cors] = %+v\nwant %+v", c.CORS, tc.main)
			}
			if !reflect.DeepEqual(c.CORSSections, tc.sections) {
				t.Errorf("sections = %+v\nwant %+v", c.CORSSections, tc.sections)
			}
			if !reflect.DeepEqual(c.Ignored, tc.ignored) && (len(c.Ignored) > 0 || len(tc.ignored) > 0) {
				t.Errorf("Ignored = %q, want %q", c.Ignored, tc.ignored)
			}
		})
	}
}
