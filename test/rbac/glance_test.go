package rbac_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// startGlance runs Debian's glance-api 25.1, in trusted-header mode unless
// sets choose a paste flavor.
func startGlance(t *testing.T, sets ...string) *target {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: needs the reference Glance (scripts/reference-glance.sh)")
	}
	if _, err := os.Stat("/usr/bin/glance-api"); err != nil && os.Getenv("CI") == "" && os.Getenv("GLINT_REQUIRE_GLANCE") == "" {
		t.Skip("glance-api is not installed (scripts/test installs it)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	script, _ := filepath.Abs("../../scripts/reference-glance.sh")
	args := []string{"start", dir, "--port", fmt.Sprint(port), "--no-schema-image"}
	if !slices.ContainsFunc(sets, func(s string) bool { return strings.HasPrefix(s, "paste_deploy.flavor=") }) {
		args = append(args, "--trusted-headers")
	}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	if out, err := exec.Command(script, args...).CombinedOutput(); err != nil {
		t.Fatalf("reference-glance.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(script, "stop", dir).Run() })
	return &target{t: t, url: fmt.Sprintf("http://127.0.0.1:%d", port), glance: true}
}

// TestGlanceAgrees runs the matrix, the sharing workflow and the property
// protections against the real Glance 25.1: every expectation the Glint
// tests hold Glint to is Glance's answer.
func TestGlanceAgrees(t *testing.T) {
	t.Run("legacy", func(t *testing.T) {
		t.Parallel()
		prot, _ := filepath.Abs("testdata/property-protections-roles.conf")
		g := startGlance(t, "DEFAULT.property_protection_file="+prot)
		t.Run("matrix", func(t *testing.T) { g.t = t; runMatrix(t, g) })
		t.Run("members", func(t *testing.T) { g.t = t; runMembers(t, g) })
		t.Run("protections", func(t *testing.T) { g.t = t; runProtections(t, g) })
	})
	t.Run("secure_rbac", func(t *testing.T) {
		t.Parallel()
		g := startGlance(t, "DEFAULT.enforce_secure_rbac=true", "oslo_policy.enforce_new_defaults=true")
		g.secure = true
		runMatrix(t, g)
	})
}
