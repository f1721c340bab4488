package api_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glint/internal/app"
	"glint/internal/app/apptest"
	"glint/internal/config"
	"glint/internal/policy"
	"glint/internal/store"
	"glint/internal/store/filesystem"
)

// TestStoresDetailPolicy: /v2/info/stores/detail answers to the
// stores_info_detail rule, not to a hard-coded admin check, so an operator
// can open it to the service role as Glance master does.
func TestStoresDetailPolicy(t *testing.T) {
	dir := t.TempDir()
	pf := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pf, []byte(`stores_info_detail: "role:admin or role:service"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, policyFile, roles string
		want                    int
	}{
		{"admin by default", "", "admin", 200},
		{"member by default", "", "member", 403},
		{"service by default", "", "service", 403},
		{"service opened", pf, "service", 200},
		{"member opened", pf, "member", 403},
		{"reader opened", pf, "reader", 403},
		// noauth's caller has no role, so role:admin does not hold for it,
		// as in Glance without Keystone.
		{"noauth", "", "", 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			en, err := policy.NewGlance(policy.Options{PolicyFile: c.policyFile})
			if err != nil {
				t.Fatal(err)
			}
			fast, _ := filesystem.New(filepath.Join(t.TempDir(), "fast"), 0)
			g := apptest.New(t, func(cfg *config.Config) {
				cfg.EnabledBackends, cfg.DefaultBackend = []string{"fast:file"}, "fast"
			}, app.WithAuthenticator(headerAuth{}), app.WithAuthorizer(policy.Authorizer{Enforcer: en}),
				app.WithStore(&store.Store{Name: "fast", Type: "file", Driver: fast}))
			e := &env{t: t, url: g.URL, srv: g.Server}
			var hdr []string
			if c.roles != "" {
				hdr = []string{"X-Test-Project", "p1", "X-Test-Roles", c.roles}
			}
			r := e.do("GET", "/v2/info/stores/detail", nil, hdr...)
			if r.status != c.want {
				t.Fatalf("roles %s: %d %s, want %d", c.roles, r.status, r.body, c.want)
			}
			if c.want == 403 && !strings.Contains(string(r.body), "You are not authorized to complete stores_info_detail action.") {
				t.Errorf("403 body: %s", r.body)
			}
		})
	}
}
