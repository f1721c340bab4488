package rbac_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"glint/internal/keystone/keystonetest"
)

// TestKeystoneOwnerless probes ownerless images with real Keystone tokens
// (issue 27): an admin's community image without an owner can be changed
// by admins only, a member cannot create one, and a token without a
// project cannot create images at all.
func TestKeystoneOwnerless(t *testing.T) {
	ks := keystonetest.Start(t)
	tg := withTokens(t, ks, newKeystoneGlint(t, ks))
	tg.t = t
	// Keystone scopes a token asked without scope to the user's default
	// project; a user without one gets a truly unscoped token, and with a
	// role on the domain a domain-scoped one: both carry no project.
	user, password := projectlessUser(t, ks)
	unscoped, domain := caller{name: "unscoped"}, caller{name: "domain-member"}
	tg.tokens[unscoped.name] = tokenFor(t, ks, user, password, nil)
	tg.tokens[domain.name] = tokenFor(t, ks, user, password, map[string]any{"domain": map[string]any{"id": "default"}})

	b := tg.must(admin, 201, "POST", "/v2/images", map[string]any{"name": "ownerless", "visibility": "community",
		"owner": nil, "disk_format": "raw", "container_format": "bare"})
	var img struct {
		ID    string `json:"id"`
		Owner any    `json:"owner"`
	}
	if err := json.Unmarshal(b, &img); err != nil || img.Owner != nil {
		t.Fatalf("created %s (%v)", b, err)
	}
	p := "/v2/images/" + img.ID
	patch := []map[string]any{{"op": "replace", "path": "/name", "value": "taken"}}
	for _, c := range []caller{alphaMem, betaMem} {
		tg.must(c, 403, "PATCH", p, patch)
		tg.must(c, 403, "PUT", p+"/tags/mine", nil)
		tg.must(c, 403, "PUT", p+"/file", []byte("data"))
		tg.must(c, 403, "DELETE", p, nil)
	}
	tg.must(admin, 204, "PUT", p+"/file", []byte("data"))
	for _, c := range []caller{alphaMem, betaMem} {
		tg.must(c, 403, "POST", p+"/actions/deactivate", nil)
	}
	if b := tg.must(admin, 200, "GET", p, nil); !json.Valid(b) || string(b) == "" {
		t.Fatalf("show: %s", b)
	}
	var shown map[string]any
	_ = json.Unmarshal(tg.must(admin, 200, "GET", p, nil), &shown)
	if shown["name"] != "ownerless" || shown["status"] != "active" || len(shown["tags"].([]any)) != 0 {
		t.Errorf("the image changed: %v", shown)
	}

	// A member cannot make an ownerless image, nor one for another project.
	tg.must(betaMem, 403, "POST", "/v2/images", map[string]any{"name": "x", "owner": nil})
	tg.must(betaMem, 403, "POST", "/v2/images", map[string]any{"name": "x", "owner": tg.project(alphaMem)})
	// A token without a project makes no image at all (Glance makes an
	// ownerless one).
	for _, c := range []caller{unscoped, domain} {
		tg.must(c, 403, "POST", "/v2/images", map[string]any{"name": "x"})
		tg.must(c, 403, "PATCH", p, patch)
		tg.must(c, 403, "DELETE", p, nil)
	}
	tg.must(admin, 204, "DELETE", p, nil)
}

// projectlessUser creates a user without a default project that holds
// the member role on the Default domain.
func projectlessUser(t *testing.T, ks *keystonetest.Keystone) (id, password string) {
	t.Helper()
	tok := ks.Token(t, "admin")
	call := func(method, path string, body any) map[string]any {
		t.Helper()
		var rd *bytes.Reader
		if body != nil {
			j, _ := json.Marshal(body)
			rd = bytes.NewReader(j)
		} else {
			rd = bytes.NewReader(nil)
		}
		req, _ := http.NewRequest(method, ks.URL+"/v3"+path, rd)
		req.Header.Set("X-Auth-Token", tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: Keystone answered %s", method, path, resp.Status)
		}
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return out
	}
	password = "projectless-pass"
	name := fmt.Sprintf("projectless-%d", time.Now().UnixNano())
	u := call("POST", "/users", map[string]any{"user": map[string]any{"name": name, "domain_id": "default", "password": password}})
	id = u["user"].(map[string]any)["id"].(string)
	t.Cleanup(func() { call("DELETE", "/users/"+id, nil) })
	roles := call("GET", "/roles?name=member", nil)["roles"].([]any)
	role := roles[0].(map[string]any)["id"].(string)
	call("PUT", "/domains/default/users/"+id+"/roles/"+role, nil)
	return id, password
}

// tokenFor returns a token for the user with this id and the given scope
// (nil: none).
func tokenFor(t *testing.T, ks *keystonetest.Keystone, id, password string, scope map[string]any) string {
	t.Helper()
	a := map[string]any{"identity": map[string]any{"methods": []string{"password"},
		"password": map[string]any{"user": map[string]any{"id": id, "password": password}}}}
	if scope != nil {
		a["scope"] = scope
	}
	body, _ := json.Marshal(map[string]any{"auth": a})
	resp, err := http.Post(ks.URL+"/v3/auth/tokens?nocatalog", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("token: Keystone answered %s", resp.Status)
	}
	return resp.Header.Get("X-Subject-Token")
}
