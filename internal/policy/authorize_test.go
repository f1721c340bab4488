package policy

import (
	"testing"

	"glint/internal/auth"
)

// The credentials carry a valid service token's identity as oslo.context's
// to_policy_values does (from keystonemiddleware's X-Service-* headers);
// role: checks still look at the user's roles only.
func TestCredentialsService(t *testing.T) {
	e, err := NewGlance(Options{})
	if err != nil {
		t.Fatal(err)
	}
	user := &auth.Context{UserID: "u1", ProjectID: "p1", Roles: []string{"member"}}
	withSvc := *user
	withSvc.Service = &auth.Service{UserID: "nova", UserDomainID: "default", ProjectID: "service", ProjectDomain: "default",
		Roles: []string{"service", "admin"}}
	for _, tc := range []struct {
		rule      string
		user, svc bool
	}{
		{"service_roles:service", false, true},
		{"service_user_id:nova", false, true},
		{"service_user_domain_id:default", false, true},
		{"service_project_id:service", false, true},
		{"service_project_domain_id:default", false, true},
		{"service_user_id:%(owner)s", false, false},
		{"role:admin", false, false}, // the service's admin role is not the user's
		{"role:member", true, true},
	} {
		expr, err := Parse(tc.rule)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			ac   *auth.Context
			want bool
		}{{user, tc.user}, {&withSvc, tc.svc}} {
			got, err := e.Evaluate(expr, CredentialsFor(c.ac), map[string]any{"owner": "p1"})
			if err != nil || got != c.want {
				t.Errorf("%s with service %v: %v, %v; want %v", tc.rule, c.ac.Service != nil, got, err, c.want)
			}
		}
	}
}
