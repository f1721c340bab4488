package rbac_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"glint/internal/app/apptest"
	"glint/internal/config"
	"glint/internal/db"
	"glint/internal/db/dbtest"
	"glint/internal/keystone/keystonetest"
)

// limitsCase is the suite's Keystone set up as a cloud that moved its
// image quotas to Keystone: registered limits for an image service of
// this test's own (image_size_total 1000 MiB, image_stage_total 1000,
// image_count_total 100, image_count_uploading 100), a project limit of 2
// images for alpha, and the glance service user with the reader role on
// the system scope, which [oslo_limit] authenticates as.
type limitsCase struct {
	ks         *keystonetest.Keystone
	svc        *keystonetest.LimitsService
	user, pass string
	token      string // alpha-member's
	alpha      string
}

func newLimitsCase(t *testing.T) *limitsCase {
	ks := keystonetest.Start(t)
	lc := &limitsCase{ks: ks, alpha: ks.ProjectID("alpha"), token: ks.Token(t, "alpha-member")}
	lc.user, lc.pass = ks.GlanceUser(t)
	lc.svc = ks.NewLimitsService(t, "glint-limits-"+uuid.NewString()[:8], "http://127.0.0.1:9292")
	for _, r := range []struct {
		name string
		n    int64
	}{{"image_size_total", 1000}, {"image_stage_total", 1000}, {"image_count_total", 100}, {"image_count_uploading", 100}} {
		lc.svc.Register(t, r.name, r.n)
	}
	lc.svc.SetProjectLimit(t, lc.alpha, "image_count_total", 2)
	return lc
}

// glint is a Glint node behind Keystone with unified limits from it, on
// database dbURL ("" for its own SQLite).
func (lc *limitsCase) glint(t *testing.T, dbURL string) string {
	ks := lc.ks
	g := apptest.New(t, func(c *config.Config) {
		if dbURL != "" {
			c.DatabaseConnection = dbURL
		}
		c.Flavor = "keystone"
		c.AuthtokenAuthURL, c.AuthtokenUsername, c.AuthtokenPassword = ks.URL, "glint", ks.Password("glint")
		c.AuthtokenProjectName, c.AuthtokenUserDomainName, c.AuthtokenProjectDomainName = "service", "Default", "Default"
		c.UseKeystoneLimits = true
		c.OsloLimit.AuthURL, c.OsloLimit.AuthType = ks.URL, "password"
		c.OsloLimit.Username, c.OsloLimit.Password, c.OsloLimit.UserDomainName = lc.user, lc.pass, "Default"
		c.OsloLimit.SystemScope, c.OsloLimit.EndpointID = "all", lc.svc.EndpointID
		c.OsloLimit.CacheTime = 2
	})
	return g.URL
}

// glance is Debian's Glance 25.1 with the same settings.
func (lc *limitsCase) glance(t *testing.T) string {
	ks := lc.ks
	g := startGlance(t, "paste_deploy.flavor=keystone",
		"keystone_authtoken.www_authenticate_uri="+ks.URL, "keystone_authtoken.auth_url="+ks.URL,
		"keystone_authtoken.auth_type=password", "keystone_authtoken.username=glint",
		"keystone_authtoken.password="+ks.Password("glint"), "keystone_authtoken.project_name=service",
		"keystone_authtoken.user_domain_name=Default", "keystone_authtoken.project_domain_name=Default",
		"DEFAULT.use_keystone_limits=true",
		"oslo_limit.auth_url="+ks.URL, "oslo_limit.auth_type=password",
		"oslo_limit.username="+lc.user, "oslo_limit.password="+lc.pass, "oslo_limit.user_domain_name=Default",
		"oslo_limit.system_scope=all", "oslo_limit.endpoint_id="+lc.svc.EndpointID)
	return g.url
}

func (lc *limitsCase) call(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Auth-Token", lc.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// usage is GET /v2/info/usage: limit and usage by resource.
func (lc *limitsCase) usage(t *testing.T, url string) map[string][2]int64 {
	t.Helper()
	st, body := lc.call(t, "GET", url+"/v2/info/usage", "")
	if st != 200 {
		t.Fatalf("usage: %d %s", st, body)
	}
	var doc struct {
		Usage map[string]struct{ Limit, Usage int64 }
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string][2]int64{}
	for k, v := range doc.Usage {
		out[k] = [2]int64{v.Limit, v.Usage}
	}
	return out
}

// answer is a request's status and body, the project id made neutral.
type answer struct {
	status int
	body   string
}

// thirdImage creates alpha's images on the nodes in turn until one is
// refused, and returns that answer and the usage seen then.
func (lc *limitsCase) thirdImage(t *testing.T, nodes ...string) (answer, map[string][2]int64) {
	for i := range 2 {
		if st, body := lc.call(t, "POST", nodes[i%len(nodes)]+"/v2/images", `{"name": "q", "disk_format": "raw", "container_format": "bare"}`); st != 201 {
			t.Fatalf("image %d: %d %s", i+1, st, body)
		}
	}
	last := nodes[len(nodes)-1]
	st, body := lc.call(t, "POST", last+"/v2/images", `{"name": "q", "disk_format": "raw", "container_format": "bare"}`)
	return answer{st, body}, lc.usage(t, nodes[0])
}

// TestKeystoneLimits: with the same limits in Keystone, Glint refuses
// what Glance 25.1 refuses, with the same status and message, and shows
// the same usage; on two Glint nodes sharing a database the project's
// images are counted once, and a limit changed in Keystone is in force on
// both within [glint] keystone_limits_cache_time.
func TestKeystoneLimits(t *testing.T) {
	lc := newLimitsCase(t)
	wantMsg := fmt.Sprintf("Project %s is over a limit for [Resource image_count_total is over limit of 2 due to current usage 2 and delta 1]", lc.alpha)
	wantUsage := map[string][2]int64{"image_size_total": {1000, 0}, "image_stage_total": {1000, 0},
		"image_count_total": {2, 2}, "image_count_uploading": {100, 0}}

	var glance answer
	t.Run("glance", func(t *testing.T) {
		var u map[string][2]int64
		glance, u = lc.thirdImage(t, lc.glance(t))
		if glance.status != 413 || !strings.Contains(glance.body, wantMsg) {
			t.Errorf("Glance's third image: %d %s", glance.status, glance.body)
		}
		if fmt.Sprint(u) != fmt.Sprint(wantUsage) {
			t.Errorf("Glance's usage %v, want %v", u, wantUsage)
		}
	})
	check := func(t *testing.T, got answer, u map[string][2]int64) {
		t.Helper()
		if got.status != 413 || !strings.Contains(got.body, wantMsg) {
			t.Errorf("Glint's third image: %d %s", got.status, got.body)
		}
		if glance.status != 0 && got != glance {
			t.Errorf("Glint answered\n%d %q\nGlance\n%d %q", got.status, got.body, glance.status, glance.body)
		}
		if fmt.Sprint(u) != fmt.Sprint(wantUsage) {
			t.Errorf("Glint's usage %v, want %v", u, wantUsage)
		}
	}
	t.Run("glint", func(t *testing.T) {
		got, u := lc.thirdImage(t, lc.glint(t, ""))
		check(t, got, u)
	})
	t.Run("glint two nodes", func(t *testing.T) {
		dbURL := dbtest.New(t, db.Postgres).URL
		a, b := lc.glint(t, dbURL), lc.glint(t, dbURL)
		got, u := lc.thirdImage(t, a, b)
		check(t, got, u)

		// Keystone now lets alpha have 3 images: both nodes see it
		// within the cache time (2 s here), without a restart.
		lc.svc.SetProjectLimit(t, lc.alpha, "image_count_total", 3)
		for _, node := range []string{a, b} {
			deadline := time.Now().Add(2*time.Second + 30*time.Second) // cache time + a generous margin for a busy machine
			for lc.usage(t, node)["image_count_total"][0] != 3 {
				if time.Now().After(deadline) {
					t.Fatalf("node %s still shows limit %v", node, lc.usage(t, node)["image_count_total"])
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
		if st, body := lc.call(t, "POST", b+"/v2/images", `{}`); st != 201 {
			t.Fatalf("third image under the raised limit: %d %s", st, body)
		}
		st, body := lc.call(t, "POST", a+"/v2/images", `{}`)
		if st != 413 || !strings.Contains(body, "[Resource image_count_total is over limit of 3 due to current usage 3 and delta 1]") {
			t.Errorf("fourth image: %d %s", st, body)
		}
	})
}
