package rbac_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"glint/internal/api"
	"glint/internal/db"
	"glint/internal/image"
	"glint/internal/keystone"
	"glint/internal/keystone/keystonetest"
	"glint/internal/policy"
	"glint/internal/store"
	"glint/internal/store/filesystem"
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

// newKeystoneGlint is Glint in-process behind its Keystone authenticator.
func newKeystoneGlint(t *testing.T, ks *keystonetest.Keystone) *target {
	dir := t.TempDir()
	ctx := context.Background()
	database, err := db.Open(ctx, "sqlite:///"+filepath.Join(dir, "glint.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { database.Close() })
	if _, err := database.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	fs, err := filesystem.New(filepath.Join(dir, "images"), 0)
	if err != nil {
		t.Fatal(err)
	}
	e, err := policy.NewGlance(policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	authn, err := keystone.New(keystone.Options{
		AuthURL: ks.URL, Username: "glint", Password: ks.Password("glint"), ProjectName: "service",
		UserDomainName: "Default", ProjectDomainName: "Default", CacheTime: 5 * time.Minute, CacheSize: 1000,
		DelayAuthDecision: true, Log: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	svc := image.NewService(database.Images(), store.NewSet(fs), policy.Authorizer{Enforcer: e}, image.Options{
		ImageSizeCap: 1 << 30, HashingAlgorithm: "sha512", PropertyQuota: 128, TagQuota: 128, MemberQuota: 128,
		DiskFormats: image.DefaultDiskFormats, ContainerFormats: image.DefaultContainerFormats,
	}, log)
	h, err := api.New(svc, api.Config{LimitParamDefault: 25, APILimitMax: 1000, Authenticator: authn,
		DiskFormats: image.DefaultDiskFormats, ContainerFormats: image.DefaultContainerFormats},
		func(r *http.Request) error { return nil }, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &target{t: t, url: srv.URL}
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
