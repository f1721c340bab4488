package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"glint/internal/keystone/keystonetest"
)

// keystoneServer is a glint serve with [paste_deploy] flavor = keystone,
// validating tokens with ks as the service user glint.
func keystoneServer(t *testing.T, ks *keystonetest.Keystone) *server {
	t.Helper()
	return startServerConf(t, `
[paste_deploy]
flavor = keystone

`+ks.AuthtokenConf("token_cache_time = 300"))
}

// asUser runs the openstack CLI authenticated against Keystone as user,
// on the project the user has its role on; the image endpoint comes from
// Keystone's catalog.
func (s *server) asUser(t *testing.T, ks *keystonetest.Keystone, user string, args ...string) cliResult {
	t.Helper()
	return s.runCLI(t, cliTimeout, openstackBin, append([]string{
		"--os-auth-type", "password", "--os-auth-url", ks.URL + "/v3", "--os-identity-api-version", "3",
		"--os-username", user, "--os-password", ks.Password(user),
		"--os-project-name", keystonetest.ProjectOf(user), "--os-user-domain-name", "Default",
		"--os-project-domain-name", "Default", "--os-region-name", "RegionOne", "--os-interface", "public",
	}, args...)...)
}

func TestKeystoneCLI(t *testing.T) {
	requireCLI(t)
	ks := keystonetest.Start(t)
	s := keystoneServer(t, ks)
	ks.SetImageEndpoint(t, s.URL)

	file := filepath.Join(s.tmp, "data.raw")
	if err := os.WriteFile(file, []byte(strings.Repeat("glint", 1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	create := func(user, name, visibility string, withFile bool) map[string]any {
		t.Helper()
		args := []string{"image", "create", "--disk-format", "raw", "--container-format", "bare", "--" + visibility}
		if withFile {
			args = append(args, "--file", file)
		}
		img := jsonOut[map[string]any](t, must(t, s.asUser(t, ks, user, append(args, name, "-f", "json")...)))
		if img["id"] == nil {
			t.Fatalf("no id in image create output: %v", img)
		}
		return img
	}
	list := func(user string) []string {
		t.Helper()
		var names []string
		for _, row := range jsonOut[[]map[string]any](t, must(t, s.asUser(t, ks, user, "image", "list", "-f", "json"))) {
			names = append(names, fmt.Sprint(row["Name"]))
		}
		slices.Sort(names)
		return names
	}

	alphaImg := create("alpha-member", "alpha-private", "private", true)
	if got, want := alphaImg["owner"], ks.ProjectID("alpha"); got != want {
		t.Errorf("owner of alpha-member's image = %v, want project alpha %s", got, want)
	}
	shown := jsonOut[map[string]any](t, must(t, s.asUser(t, ks, "alpha-member", "image", "show", fmt.Sprint(alphaImg["id"]), "-f", "json")))
	if shown["status"] != "active" || shown["owner"] != ks.ProjectID("alpha") {
		t.Errorf("alpha-member's image after upload: status %v owner %v, want active and alpha", shown["status"], shown["owner"])
	}
	betaImg := create("beta-member", "beta-private", "private", false)
	if got, want := betaImg["owner"], ks.ProjectID("beta"); got != want {
		t.Errorf("owner of beta-member's image = %v, want project beta %s", got, want)
	}
	adminImg := create("admin", "admin-public", "public", false)
	if got, want := adminImg["owner"], ks.ProjectID("admin"); got != want {
		t.Errorf("owner of admin's image = %v, want project admin %s", got, want)
	}

	for _, tc := range []struct {
		user string
		want []string
	}{
		{"admin", []string{"admin-public", "alpha-private", "beta-private"}},
		{"alpha-member", []string{"admin-public", "alpha-private"}},
		{"alpha-reader", []string{"admin-public", "alpha-private"}},
		{"beta-member", []string{"admin-public", "beta-private"}},
	} {
		if got := list(tc.user); !slices.Equal(got, tc.want) {
			t.Errorf("image list as %s = %v, want %v", tc.user, got, tc.want)
		}
	}

	// A private image of project alpha does not exist for project beta.
	r := mustFail(t, s.asUser(t, ks, "beta-member", "image", "show", fmt.Sprint(alphaImg["id"])))
	if !strings.Contains(r.stderr, "No Image found") && !strings.Contains(r.stderr, "Could not find") {
		t.Errorf("beta-member showing alpha's image: want not found, got:\n%s", r)
	}
	// The reader of alpha reads alpha's image data.
	out := filepath.Join(s.tmp, "back.raw")
	must(t, s.asUser(t, ks, "alpha-reader", "image", "save", "--file", out, fmt.Sprint(alphaImg["id"])))
	if b, err := os.ReadFile(out); err != nil || string(b) != strings.Repeat("glint", 1000) {
		t.Errorf("alpha-reader downloaded %d bytes (%v), want the uploaded data", len(b), err)
	}
}

// A request without a valid token gets Glance's 401: with the
// delay_auth_decision its paste pipeline sets, WebOb's error page from
// Glance's context middleware, plus keystonemiddleware's WWW-Authenticate.
func TestKeystoneUnauthorized(t *testing.T) {
	ks := keystonetest.Start(t)
	s := keystoneServer(t, ks)
	for _, tc := range []struct{ name, token string }{{"no token", ""}, {"bad token", "bogus"}} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, s.URL+"/v2/images", nil)
			req.Header.Set("Accept", "application/json")
			if tc.token != "" {
				req.Header.Set("X-Auth-Token", tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", resp.StatusCode, body)
			}
			if got, want := resp.Header.Get("WWW-Authenticate"), `Keystone uri="`+ks.URL+`"`; got != want {
				t.Errorf("WWW-Authenticate = %q, want %q", got, want)
			}
			if rid := resp.Header.Get("X-Openstack-Request-Id"); rid != "" {
				t.Errorf("X-Openstack-Request-Id %q on a 401; Glance gives none", rid)
			}
			var doc struct{ Code, Title, Message string }
			if err := json.Unmarshal(body, &doc); err != nil || doc.Code != "401 Unauthorized" || doc.Title != "Unauthorized" ||
				!strings.HasPrefix(doc.Message, "This server could not verify that you are authorized") {
				t.Errorf("body %s (%v), want WebOb's JSON 401", body, err)
			}
		})
	}
	// Version discovery and health need no token, as in Glance.
	for _, p := range []string{"/versions", "/healthcheck"} {
		resp, err := http.Get(s.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s without a token: %d, want 200", p, resp.StatusCode)
		}
	}
	// With a token the request goes through.
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/v2/images", nil)
	req.Header.Set("X-Auth-Token", ks.Token(t, "alpha-reader"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v2/images with a token: %d, want 200", resp.StatusCode)
	}
}
