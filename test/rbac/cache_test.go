package rbac_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"glint/internal/config"
	"glint/internal/keystone/keystonetest"
)

// TestKeystoneCache holds Glint's image cache API to Glance 25.1's, both
// with flavor = keystone+cachemanagement behind the same Keystone: the
// same callers get the same statuses, and the bodies have the same shape.
func TestKeystoneCache(t *testing.T) {
	ks := keystonetest.Start(t)
	t.Run("glint", func(t *testing.T) {
		dir := t.TempDir()
		tg := withTokens(t, ks, startGlint(t, false, func(c *config.Config) {
			c.Flavor = "keystone+cachemanagement"
			c.ImageCacheDir = dir
			c.AuthtokenAuthURL, c.AuthtokenUsername, c.AuthtokenPassword = ks.URL, "glint", ks.Password("glint")
			c.AuthtokenProjectName, c.AuthtokenUserDomainName, c.AuthtokenProjectDomainName = "service", "Default", "Default"
		}))
		runCache(t, tg)
	})
	t.Run("glance", func(t *testing.T) {
		g := startGlance(t, "paste_deploy.flavor=keystone+cachemanagement", "DEFAULT.image_cache_dir="+t.TempDir(),
			"keystone_authtoken.www_authenticate_uri="+ks.URL, "keystone_authtoken.auth_url="+ks.URL,
			"keystone_authtoken.auth_type=password", "keystone_authtoken.username=glint",
			"keystone_authtoken.password="+ks.Password("glint"), "keystone_authtoken.project_name=service",
			"keystone_authtoken.user_domain_name=Default", "keystone_authtoken.project_domain_name=Default")
		runCache(t, withTokens(t, ks, g))
	})
}

type cacheState struct {
	Cached []map[string]any `json:"cached_images"`
	Queued []string         `json:"queued_images"`
}

func (tg *target) cacheState() cacheState {
	tg.t.Helper()
	var s cacheState
	if err := json.Unmarshal(tg.must(admin, 200, "GET", "/v2/cache", nil), &s); err != nil || s.Cached == nil || s.Queued == nil {
		tg.t.Fatalf("GET /v2/cache: %v %+v", err, s)
	}
	return s
}

func (tg *target) waitCached(id string) cacheState {
	tg.t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		s := tg.cacheState()
		for _, c := range s.Cached {
			if c["image_id"] == id {
				return s
			}
		}
	}
	tg.t.Fatalf("image %s never cached", id)
	return cacheState{}
}

func runCache(t *testing.T, tg *target) {
	tg.t = t
	ids := tg.fixtures("cache")
	var img map[string]any
	json.Unmarshal(tg.must(alphaMem, 201, "POST", "/v2/images", map[string]any{"name": "no-data"}), &img)
	queued := img["id"].(string)

	// The versions document advertises the cache's versions.
	_, vb := tg.do(admin, "GET", "/versions", nil)
	if !strings.Contains(string(vb), `"v2.16"`) {
		t.Errorf("versions: %s", vb)
	}
	const missing = "6f0c4b3e-9d1a-4e55-8a61-0123456789ab"
	for _, c := range []struct {
		who          caller
		method, path string
		hdr          string // x-image-cache-clear-target
		want         int
	}{
		{anonymous, "GET", "/v2/cache", "", 401},
		{alphaMem, "GET", "/v2/cache", "", 403},
		{alphaRead, "GET", "/v2/cache", "", 403},
		{betaMem, "GET", "/v2/cache", "", 403},
		{alphaMem, "PUT", "/v2/cache/" + ids["private"], "", 403},
		{betaMem, "PUT", "/v2/cache/" + ids["private"], "", 404},
		{betaMem, "PUT", "/v2/cache/" + ids["public"], "", 403},
		{admin, "PUT", "/v2/cache/" + missing, "", 404},
		{admin, "PUT", "/v2/cache/" + queued, "", 400},
		{admin, "DELETE", "/v2/cache/" + missing, "", 404},
		{alphaMem, "DELETE", "/v2/cache/" + ids["private"], "", 403},
		{alphaMem, "DELETE", "/v2/cache", "", 403},
		{admin, "DELETE", "/v2/cache", "both", 400},
		{alphaMem, "GET", "/v2/cached_images", "", 403},
		{alphaMem, "GET", "/v2/queued_images", "", 403},
	} {
		st, b := tg.doCache(c.who, c.method, c.path, c.hdr)
		if st != c.want {
			t.Errorf("%s %s %s (target %q): %d %s, want %d", c.who.name, c.method, c.path, c.hdr, st, b, c.want)
		}
	}

	if s := tg.cacheState(); len(s.Cached) != 0 || len(s.Queued) != 0 {
		t.Fatalf("cache before anything was queued: %+v", s)
	}
	if st, b := tg.doCache(admin, "PUT", "/v2/cache/"+ids["private"], ""); st != 202 {
		t.Fatalf("queue: %d %s", st, b)
	}
	s := tg.waitCached(ids["private"])
	var keys []string
	for k := range s.Cached[0] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"hits", "image_id", "last_accessed", "last_modified", "size"}; !slices.Equal(keys, want) {
		t.Errorf("cached image record keys %v, want %v", keys, want)
	}
	if s.Cached[0]["size"] != float64(16) {
		t.Errorf("cached size %v", s.Cached[0]["size"])
	}
	// The owner still downloads it, now from the cache.
	if st, b := tg.do(alphaMem, "GET", "/v2/images/"+ids["private"]+"/file", nil); st != 200 || string(b) != "0123456789abcdef" {
		t.Errorf("download of a cached image: %d %q", st, b)
	}
	if st, b := tg.doCache(admin, "DELETE", "/v2/cache/"+ids["private"], ""); st != 204 {
		t.Errorf("delete entry: %d %s", st, b)
	}
	// The legacy routes of glance-cache-manage.
	if st, b := tg.doCache(admin, "PUT", "/v2/queued_images/"+ids["public"], ""); st != 200 || string(b) != "null" {
		t.Errorf("legacy queue: %d %q", st, b)
	}
	st, b := tg.doCache(admin, "GET", "/v2/queued_images", "")
	if st != 200 || !strings.Contains(string(b), ids["public"]) {
		t.Errorf("legacy queued list: %d %s", st, b)
	}
	st, b = tg.doCache(admin, "DELETE", "/v2/queued_images", "")
	if st != 200 || string(b) != `{"num_deleted": 1}` && string(b) != `{"num_deleted":1}` {
		t.Errorf("legacy clear queue: %d %s", st, b)
	}
	if st, b := tg.doCache(admin, "DELETE", "/v2/cache", ""); st != 204 || len(b) != 0 {
		t.Errorf("clear: %d %q", st, b)
	}
	if s := tg.cacheState(); len(s.Cached) != 0 || len(s.Queued) != 0 {
		t.Errorf("cache after clearing: %+v", s)
	}
}

// doCache is do with an x-image-cache-clear-target header.
func (tg *target) doCache(c caller, method, path, target string) (int, []byte) {
	tg.t.Helper()
	if target == "" {
		return tg.do(c, method, path, nil)
	}
	old := tg.clearTarget
	tg.clearTarget = target
	defer func() { tg.clearTarget = old }()
	return tg.do(c, method, path, nil)
}
