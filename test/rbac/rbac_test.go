// Package rbac_test runs every image action as every kind of caller
// against every visibility, and checks the status Glance gives (and, for
// listings, which images each caller sees).
//
// It runs against Glint in-process, with a test authenticator that reads
// the same identity headers keystonemiddleware hands Glance
// (X-Identity-Status, X-Project-Id, X-Roles, X-User-Id), and TestGlanceAgrees
// runs the same tests against Debian's glance-api 25.1 started in that
// trusted-header mode (scripts/reference-glance.sh start DIR
// --trusted-headers), so the expectations are checked against the real thing.
package rbac_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"glint/internal/app"
	"glint/internal/app/apptest"
	"glint/internal/auth"
	"glint/internal/config"
	"glint/internal/errs"
	"glint/internal/image"
)

// headerAuth is keystonemiddleware's output taken on trust: test only.
type headerAuth struct{}

func (headerAuth) Authenticate(ctx context.Context, r *http.Request) (*auth.Context, error) {
	if r.Header.Get("X-Identity-Status") != "Confirmed" {
		return nil, errs.E(errs.Op("test.auth"), errs.Unauthorized, "The request you have made requires authentication.")
	}
	var roles []string
	for _, x := range strings.Split(r.Header.Get("X-Roles"), ",") {
		if x = strings.ToLower(strings.TrimSpace(x)); x != "" {
			roles = append(roles, x)
		}
	}
	return &auth.Context{UserID: r.Header.Get("X-User-Id"), ProjectID: r.Header.Get("X-Project-Id"),
		Roles: roles, IsAdmin: slices.Contains(roles, "admin")}, nil
}

func (headerAuth) Challenge() string { return `Keystone uri="http://127.0.0.1:5000"` }

// caller is one identity of the matrix.
type caller struct {
	name, project, roles string
}

var (
	admin      = caller{"admin", "proj-admin", "admin,member,reader"}
	alphaMem   = caller{"alpha-member", "proj-alpha", "member,reader"}
	alphaRead  = caller{"alpha-reader", "proj-alpha", "reader"}
	betaMem    = caller{"beta-member", "proj-beta", "member,reader"}
	anonymous  = caller{name: "anonymous"}
	callers    = []caller{admin, alphaMem, alphaRead, betaMem, anonymous}
	fixtureSet = []string{"public", "private", "shared-beta", "shared-other", "community"}
)

type target struct {
	t      *testing.T
	url    string
	secure bool
	glance bool // the reference Glance, not Glint
	// tokens, when set, are Keystone tokens by caller name: requests carry
	// X-Auth-Token instead of trusted identity headers, and projects holds
	// the callers' real project ids.
	tokens, projects map[string]string
	// clearTarget, when set, is sent as x-image-cache-clear-target.
	clearTarget string
}

// project is the id of a caller's project on this target.
func (tg *target) project(c caller) string {
	if p, ok := tg.projects[c.name]; ok {
		return p
	}
	return c.project
}

func newGlint(t *testing.T, secure bool) *target { return newGlintWith(t, secure, nil) }

func newGlintWith(t *testing.T, secure bool, adjust func(*image.Options)) *target {
	return startGlint(t, secure, nil, app.WithAuthenticator(headerAuth{}), app.WithImageOptions(adjust))
}

// startGlint is Glint in-process (apptest), with Glance's default policy
// (secure RBAC or legacy); conf, when not nil, adjusts its configuration.
func startGlint(t *testing.T, secure bool, conf func(*config.Config), opts ...app.Option) *target {
	g := apptest.New(t, func(c *config.Config) {
		c.EnforceSecureRBAC, c.EnforceNewDefaults = secure, secure
		if conf != nil {
			conf(c)
		}
	}, opts...)
	return &target{t: t, url: g.URL, secure: secure}
}

func (tg *target) do(c caller, method, path string, body any) (int, []byte) {
	tg.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, tg.url+path, rd)
	if err != nil {
		tg.t.Fatal(err)
	}
	switch body.(type) {
	case []byte:
		req.Header.Set("Content-Type", "application/octet-stream")
	case []map[string]any:
		req.Header.Set("Content-Type", "application/openstack-images-v2.1-json-patch")
	default:
		req.Header.Set("Content-Type", "application/json")
	}
	if tg.clearTarget != "" {
		req.Header.Set("X-Image-Cache-Clear-Target", tg.clearTarget)
	}
	if tg.tokens != nil {
		if tok := tg.tokens[c.name]; tok != "" {
			req.Header.Set("X-Auth-Token", tok)
		}
	} else if c.name != "anonymous" {
		req.Header.Set("X-Identity-Status", "Confirmed")
		req.Header.Set("X-Project-Id", c.project)
		req.Header.Set("X-User-Id", "user-"+c.name)
		req.Header.Set("X-Roles", c.roles)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tg.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (tg *target) must(c caller, want int, method, path string, body any) []byte {
	tg.t.Helper()
	st, b := tg.do(c, method, path, body)
	if st != want {
		tg.t.Fatalf("%s %s %s: %d %s (want %d)", c.name, method, path, st, b, want)
	}
	return b
}

// fixtures makes one image of each visibility, owned by project alpha,
// active, and shares shared-beta with beta (accepted). It returns the ids
// by fixture name.
func (tg *target) fixtures(tag string) map[string]string {
	ids := map[string]string{}
	for _, f := range fixtureSet {
		vis := f
		if strings.HasPrefix(f, "shared") {
			vis = "shared"
		}
		creator := alphaMem
		body := map[string]any{"name": tag + "-" + f, "visibility": vis, "disk_format": "raw", "container_format": "bare"}
		if vis == "public" {
			creator = admin // publicize_image is admin-only
			body["owner"] = tg.project(alphaMem)
		}
		var img map[string]any
		json.Unmarshal(tg.must(creator, 201, "POST", "/v2/images", body), &img)
		id := img["id"].(string)
		tg.must(admin, 204, "PUT", "/v2/images/"+id+"/file", []byte("0123456789abcdef"))
		ids[f] = id
	}
	tg.must(alphaMem, 200, "POST", "/v2/images/"+ids["shared-beta"]+"/members", map[string]any{"member": tg.project(betaMem)})
	tg.must(betaMem, 200, "PUT", "/v2/images/"+ids["shared-beta"]+"/members/"+tg.project(betaMem), map[string]any{"status": "accepted"})
	tg.must(alphaMem, 200, "POST", "/v2/images/"+ids["shared-other"]+"/members", map[string]any{"member": "proj-gamma"})
	return ids
}

// visible is what a caller may see of each fixture.
func visible(c caller, f string) bool {
	switch c {
	case admin, alphaMem, alphaRead:
		return true
	case betaMem:
		return f == "public" || f == "community" || f == "shared-beta"
	}
	return false
}

// expect is the status Glance 25.1 answers.
func expect(c caller, f, action string, secure bool) int {
	if c == anonymous {
		return 401
	}
	vis := visible(c, f)
	hidden := func(ok int) int {
		if !vis {
			return 404
		}
		return ok
	}
	owner := c == admin || c == alphaMem || c == alphaRead
	mayWrite := owner && !(secure && c == alphaRead)
	switch action {
	case "show":
		return hidden(200)
	case "download":
		if secure && c == alphaRead {
			return hidden(403)
		}
		return hidden(200)
	case "patch", "tag", "deactivate", "delete":
		ok := map[string]int{"patch": 200, "tag": 204, "deactivate": 204, "delete": 204}[action]
		if mayWrite {
			return ok
		}
		return hidden(403)
	case "members":
		if !strings.HasPrefix(f, "shared") {
			return hidden(403)
		}
		return hidden(200)
	case "add-member":
		if !strings.HasPrefix(f, "shared") {
			return hidden(403)
		}
		if mayWrite {
			return 200
		}
		return hidden(403)
	}
	panic("unknown action " + action)
}

// expectList is which fixtures a caller's default listing shows.
func expectList(c caller) []string {
	var out []string
	for _, f := range fixtureSet {
		switch {
		case c == anonymous:
		case f == "community" && c != alphaMem && c != alphaRead:
			// Community images are listed only for their owner unless asked for.
		case visible(c, f):
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

var actions = []string{"show", "download", "members", "add-member", "patch", "tag", "deactivate", "delete"}

func (tg *target) run(c caller, f, id, action string) int {
	tg.t.Helper()
	p := "/v2/images/" + id
	var st int
	var b []byte
	switch action {
	case "show":
		st, b = tg.do(c, "GET", p, nil)
	case "download":
		st, b = tg.do(c, "GET", p+"/file", nil)
	case "members":
		st, b = tg.do(c, "GET", p+"/members", nil)
		if st == 200 && c == betaMem {
			// A consumer sees only its own membership.
			var m struct{ Members []map[string]any }
			json.Unmarshal(b, &m)
			for _, x := range m.Members {
				if x["member_id"] != tg.project(betaMem) {
					tg.t.Errorf("%s sees member %v of %s", c.name, x["member_id"], f)
				}
			}
		}
	case "add-member":
		st, b = tg.do(c, "POST", p+"/members", map[string]any{"member": "proj-delta"})
		if st == 200 {
			tg.must(admin, 204, "DELETE", p+"/members/proj-delta", nil)
		}
	case "patch":
		st, b = tg.do(c, "PATCH", p, []map[string]any{{"op": "replace", "path": "/name", "value": "renamed"}})
	case "tag":
		st, b = tg.do(c, "PUT", p+"/tags/t1", nil)
	case "deactivate":
		st, b = tg.do(c, "POST", p+"/actions/deactivate", nil)
		if st == 204 {
			tg.must(admin, 204, "POST", p+"/actions/reactivate", nil)
		}
	case "delete":
		st, b = tg.do(c, "DELETE", p, nil)
	}
	_ = b
	return st
}

func runMatrix(t *testing.T, tg *target) {
	for _, c := range callers {
		ids := tg.fixtures(c.name)
		names := map[string]string{}
		for f, id := range ids {
			names[id] = f
		}
		for _, f := range fixtureSet {
			for _, a := range actions {
				got := tg.run(c, f, ids[f], a)
				if want := expect(c, f, a, tg.secure); got != want {
					t.Errorf("%-12s %-6s %-12s: status %d, want %d", c.name, a, f, got, want)
				}
			}
		}
		// Listing, with fresh fixtures (the ones above are deleted now).
		ids = tg.fixtures(c.name + "-list")
		names = map[string]string{}
		for f, id := range ids {
			names[id] = f
		}
		st, b := tg.do(c, "GET", "/v2/images?limit=1000", nil)
		if c == anonymous {
			if st != 401 {
				t.Errorf("anonymous list: %d, want 401", st)
			}
			continue
		}
		var l struct{ Images []map[string]any }
		if err := json.Unmarshal(b, &l); err != nil || st != 200 {
			t.Fatalf("%s list: %d %s", c.name, st, b)
		}
		var seen []string
		for _, img := range l.Images {
			if f, ok := names[img["id"].(string)]; ok {
				seen = append(seen, f)
			}
		}
		sort.Strings(seen)
		if want := expectList(c); !slices.Equal(seen, want) {
			t.Errorf("%s lists %v, want %v", c.name, seen, want)
		}
	}
}

func TestMatrix(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("secure_rbac=%v", secure), func(t *testing.T) {
			runMatrix(t, newGlint(t, secure))
		})
	}
}
