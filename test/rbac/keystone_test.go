package rbac_test

import (
	"os"
	"testing"

	"glint/internal/config"
	"glint/internal/keystone/keystonetest"
)

func TestMain(m *testing.M) { os.Exit(keystonetest.Main(m)) }

// keystoneCallers maps the matrix's callers to the test Keystone's users.
var keystoneCallers = map[string]string{
	admin.name: "admin", alphaMem.name: "alpha-member", alphaRead.name: "alpha-reader", betaMem.name: "beta-member",
}

// withTokens points tg at Keystone: one project-scoped token per caller.
func withTokens(t *testing.T, ks *keystonetest.Keystone, tg *target) *target {
	tg.tokens, tg.projects = map[string]string{}, map[string]string{}
	for name, user := range keystoneCallers {
		tg.tokens[name] = ks.Token(t, user)
		tg.projects[name] = ks.ProjectID(keystonetest.ProjectOf(user))
	}
	return tg
}

// newKeystoneGlint is Glint in-process behind its Keystone authenticator,
// configured as an operator would ([paste_deploy] and [keystone_authtoken]).
func newKeystoneGlint(t *testing.T, ks *keystonetest.Keystone) *target {
	return startGlint(t, false, func(c *config.Config) {
		c.Flavor = "keystone"
		c.AuthtokenAuthURL, c.AuthtokenUsername, c.AuthtokenPassword = ks.URL, "glint", ks.Password("glint")
		c.AuthtokenProjectName, c.AuthtokenUserDomainName, c.AuthtokenProjectDomainName = "service", "Default", "Default"
	})
}

// TestKeystoneMatrix runs the matrix and the sharing workflow with real
// Keystone tokens, against Glint and against Glance 25.1 behind the same
// Keystone (keystonemiddleware), so both see the same users, projects and
// roles.
func TestKeystoneMatrix(t *testing.T) {
	ks := keystonetest.Start(t)
	t.Run("glint", func(t *testing.T) {
		tg := withTokens(t, ks, newKeystoneGlint(t, ks))
		t.Run("matrix", func(t *testing.T) { tg.t = t; runMatrix(t, tg) })
		t.Run("members", func(t *testing.T) { tg.t = t; runMembers(t, tg) })
	})
	t.Run("glance", func(t *testing.T) {
		g := startGlance(t, "paste_deploy.flavor=keystone",
			"keystone_authtoken.www_authenticate_uri="+ks.URL, "keystone_authtoken.auth_url="+ks.URL,
			"keystone_authtoken.auth_type=password", "keystone_authtoken.username=glint",
			"keystone_authtoken.password="+ks.Password("glint"), "keystone_authtoken.project_name=service",
			"keystone_authtoken.user_domain_name=Default", "keystone_authtoken.project_domain_name=Default")
		tg := withTokens(t, ks, g)
		t.Run("matrix", func(t *testing.T) { tg.t = t; runMatrix(t, tg) })
		t.Run("members", func(t *testing.T) { tg.t = t; runMembers(t, tg) })
	})
}
