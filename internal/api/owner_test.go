package api_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"glint/internal/image"
	"glint/internal/policy"
)

// caller is one identity of the ownership matrix, as roleAuth reads it.
type caller struct {
	name    string
	roles   string
	project string
}

func (c caller) hdr(h ...string) []string {
	return append([]string{"X-Roles", c.roles, "X-Project-Id", c.project}, h...)
}

var (
	ownerAdmin     = caller{"admin", "admin,member", "adm"}
	ownerMember    = caller{"owner's member", "member,reader", "p1"}
	ownerOther     = caller{"other project", "member,reader", "p2"}
	ownerNoProject = caller{"no project", "member,reader", ""}
)

// TestOwnership is the one ownership rule (auth.Context.MayChange) seen
// through every mutating image action: an admin may change any image, a
// project only its own, and an image without an owner is changeable by
// admins only. A refused action leaves the image as it was.
func TestOwnership(t *testing.T) {
	for _, mode := range []struct {
		name  string
		authz func(t *testing.T) image.Authorizer
	}{
		{"legacy defaults", func(*testing.T) image.Authorizer { return nil }},
		{"secure RBAC", func(t *testing.T) image.Authorizer {
			en, err := policy.NewGlance(policy.Options{EnforceNewDefaults: true})
			if err != nil {
				t.Fatal(err)
			}
			return policy.Authorizer{Enforcer: en}
		}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			e := newImportEnv(t, importOpts{authz: mode.authz(t), svc: func(o *image.Options) {
				o.SecureRBAC = mode.name == "secure RBAC"
				o.MemberQuota = 128
			}})
			testOwnership(t, e)
		})
	}
}

func testOwnership(t *testing.T, e *importEnv) {
	patch := "application/openstack-images-v2.1-json-patch"
	type setup int
	const (
		queued setup = iota
		tagged
		staged
		active
		deactivated
	)
	actions := []struct {
		name   string
		setup  setup
		shared bool // the image is shared, not community
		do     func(c caller, id string) resp
		ok     int
	}{
		{"patch", queued, false, func(c caller, id string) resp {
			return e.do("PATCH", "/v2/images/"+id, strings.NewReader(`[{"op":"replace","path":"/name","value":"changed"}]`),
				c.hdr("Content-Type", patch)...)
		}, 200},
		{"add property", queued, false, func(c caller, id string) resp {
			return e.do("PATCH", "/v2/images/"+id, strings.NewReader(`[{"op":"add","path":"/x_prop","value":"v"}]`),
				c.hdr("Content-Type", patch)...)
		}, 200},
		{"add tag", queued, false, func(c caller, id string) resp {
			return e.do("PUT", "/v2/images/"+id+"/tags/t2", nil, c.hdr()...)
		}, 204},
		{"delete tag", tagged, false, func(c caller, id string) resp {
			return e.do("DELETE", "/v2/images/"+id+"/tags/t1", nil, c.hdr()...)
		}, 204},
		{"upload", queued, false, func(c caller, id string) resp {
			return e.do("PUT", "/v2/images/"+id+"/file", strings.NewReader("data"), c.hdr("Content-Type", "application/octet-stream")...)
		}, 204},
		{"stage", queued, false, func(c caller, id string) resp {
			return e.do("PUT", "/v2/images/"+id+"/stage", strings.NewReader("data"), c.hdr("Content-Type", "application/octet-stream")...)
		}, 204},
		{"import", staged, false, func(c caller, id string) resp {
			return e.do("POST", "/v2/images/"+id+"/import", strings.NewReader(`{"method":{"name":"glance-direct"}}`), c.hdr()...)
		}, 202},
		{"deactivate", active, false, func(c caller, id string) resp {
			return e.do("POST", "/v2/images/"+id+"/actions/deactivate", nil, c.hdr()...)
		}, 204},
		{"reactivate", deactivated, false, func(c caller, id string) resp {
			return e.do("POST", "/v2/images/"+id+"/actions/reactivate", nil, c.hdr()...)
		}, 204},
		{"delete", queued, false, func(c caller, id string) resp {
			return e.do("DELETE", "/v2/images/"+id, nil, c.hdr()...)
		}, 204},
		{"add member", queued, true, func(c caller, id string) resp {
			return e.do("POST", "/v2/images/"+id+"/members", strings.NewReader(`{"member":"p3"}`), c.hdr()...)
		}, 200},
	}
	owners := []struct {
		name  string
		owner string // JSON value
		owned func(c caller) bool
	}{
		{"owned by p1", `"p1"`, func(c caller) bool { return c == ownerAdmin || c == ownerMember }},
		{"no owner", `null`, func(c caller) bool { return c == ownerAdmin }},
	}
	for _, o := range owners {
		for _, a := range actions {
			for _, c := range []caller{ownerAdmin, ownerMember, ownerOther, ownerNoProject} {
				t.Run(fmt.Sprintf("%s/%s/%s", o.name, a.name, c.name), func(t *testing.T) {
					vis := "community"
					if a.shared {
						vis = "shared"
					}
					r := e.do("POST", "/v2/images", strings.NewReader(fmt.Sprintf(
						`{"name":"x","disk_format":"raw","container_format":"bare","visibility":%q,"owner":%s}`, vis, o.owner)),
						ownerAdmin.hdr()...)
					if r.status != 201 {
						t.Fatalf("create: %d %s", r.status, r.body)
					}
					id := r.json(t)["id"].(string)
					e.prepare(t, id, int(a.setup))
					before := e.do("GET", "/v2/images/"+id, nil, ownerAdmin.hdr()...)
					got := a.do(c, id)
					if o.owned(c) {
						if got.status != a.ok {
							t.Fatalf("%s by %s: %d %s, want %d", a.name, c.name, got.status, got.body, a.ok)
						}
						return
					}
					if got.status != 403 && got.status != 404 {
						t.Fatalf("%s by %s: %d %s, want 403 or 404", a.name, c.name, got.status, got.body)
					}
					time.Sleep(10 * time.Millisecond) // an import that was wrongly accepted would run now
					after := e.do("GET", "/v2/images/"+id, nil, ownerAdmin.hdr()...)
					if !bytes.Equal(before.body, after.body) {
						t.Errorf("a refused %s changed the image:\n%s\n%s", a.name, before.body, after.body)
					}
				})
			}
		}
	}
}

// prepare brings a new image into the state an action needs, as its admin.
func (e *importEnv) prepare(t *testing.T, id string, state int) {
	t.Helper()
	h := ownerAdmin.hdr("Content-Type", "application/octet-stream")
	switch state {
	case 1: // tagged
		if r := e.do("PUT", "/v2/images/"+id+"/tags/t1", nil, ownerAdmin.hdr()...); r.status != 204 {
			t.Fatalf("tag: %d %s", r.status, r.body)
		}
	case 2: // staged
		if r := e.do("PUT", "/v2/images/"+id+"/stage", strings.NewReader("data"), h...); r.status != 204 {
			t.Fatalf("stage: %d %s", r.status, r.body)
		}
	case 3, 4: // active, deactivated
		if r := e.do("PUT", "/v2/images/"+id+"/file", strings.NewReader("data"), h...); r.status != 204 {
			t.Fatalf("upload: %d %s", r.status, r.body)
		}
		if state == 4 {
			if r := e.do("POST", "/v2/images/"+id+"/actions/deactivate", nil, ownerAdmin.hdr()...); r.status != 204 {
				t.Fatalf("deactivate: %d %s", r.status, r.body)
			}
		}
	}
}

// TestCreateOwner: only an admin makes an image without an owner or for
// another project; a caller without a project makes none (Glance would
// make it ownerless: docs/api.md).
func TestCreateOwner(t *testing.T) {
	e := newImportEnv(t, importOpts{})
	for _, tc := range []struct {
		c      caller
		owner  string // JSON value, "" to leave it out
		want   int
		owner2 any // the owner of the created image
	}{
		{ownerAdmin, `null`, 201, nil},
		{ownerAdmin, `"p9"`, 201, "p9"},
		{ownerAdmin, ``, 201, "adm"},
		{ownerMember, ``, 201, "p1"},
		{ownerMember, `"p1"`, 201, "p1"},
		{ownerMember, `null`, 403, nil},
		{ownerMember, `"p2"`, 403, nil},
		{ownerMember, `""`, 403, nil},
		{ownerNoProject, ``, 403, nil},
		{ownerNoProject, `null`, 403, nil},
	} {
		body := `{"name":"x"`
		if tc.owner != "" {
			body += `,"owner":` + tc.owner
		}
		body += `}`
		r := e.do("POST", "/v2/images", strings.NewReader(body), tc.c.hdr()...)
		if r.status != tc.want {
			t.Errorf("%s creates %s: %d %s, want %d", tc.c.name, body, r.status, r.body, tc.want)
			continue
		}
		if r.status == 201 {
			if got := r.json(t)["owner"]; got != tc.owner2 {
				t.Errorf("%s creates %s: owner %v, want %v", tc.c.name, body, got, tc.owner2)
			}
		} else if !strings.Contains(string(r.body), "You are not permitted to create images") {
			t.Errorf("%s creates %s: %s", tc.c.name, body, r.body)
		}
	}
	// The noauth mode, where every caller is an admin without a project,
	// still makes ownerless images, as Glance does.
	r := e.do("POST", "/v2/images", strings.NewReader(`{"name":"x"}`))
	if r.status != 201 || r.json(t)["owner"] != nil {
		t.Errorf("noauth create: %d %s", r.status, r.body)
	}
}

// TestTasksOfNoProject: a caller without a project sees no task, where it
// used to see every project's, through the image's tasks and through the
// legacy tasks API (opened to every caller here, so that only the
// ownership rule decides).
func TestTasksOfNoProject(t *testing.T) {
	dir := t.TempDir()
	pf := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pf, []byte("tasks_api_access: \"\"\nget_tasks: \"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	en, err := policy.NewGlance(policy.Options{PolicyFile: pf})
	if err != nil {
		t.Fatal(err)
	}
	e := newImportEnv(t, importOpts{authz: policy.Authorizer{Enforcer: en}})
	r := e.do("POST", "/v2/images", strings.NewReader(`{"name":"x","disk_format":"raw","container_format":"bare","visibility":"community"}`),
		ownerMember.hdr()...)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	h := ownerMember.hdr("Content-Type", "application/octet-stream")
	if r := e.do("PUT", "/v2/images/"+id+"/stage", strings.NewReader("data"), h...); r.status != 204 {
		t.Fatalf("stage: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v2/images/"+id+"/import", strings.NewReader(`{"method":{"name":"glance-direct"}}`), ownerMember.hdr()...); r.status != 202 {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	// A task made in noauth mode has no owner (stored as ""): a caller
	// without a project must not match it either.
	noauth := caller{name: "noauth"}
	r = e.do("POST", "/v2/images", strings.NewReader(`{"name":"n","disk_format":"raw","container_format":"bare"}`), noauth.hdr()...)
	if r.status != 201 {
		t.Fatalf("noauth create: %d %s", r.status, r.body)
	}
	nid := r.json(t)["id"].(string)
	if r := e.do("PUT", "/v2/images/"+nid+"/stage", strings.NewReader("data"), noauth.hdr("Content-Type", "application/octet-stream")...); r.status != 204 {
		t.Fatalf("noauth stage: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/v2/images/"+nid+"/import", strings.NewReader(`{"method":{"name":"glance-direct"}}`), noauth.hdr()...); r.status != 202 {
		t.Fatalf("noauth import: %d %s", r.status, r.body)
	}
	count := func(c caller) int {
		r := e.do("GET", "/v2/images/"+id+"/tasks", nil, c.hdr()...)
		if r.status != 200 {
			t.Fatalf("tasks as %s: %d %s", c.name, r.status, r.body)
		}
		return len(r.json(t)["tasks"].([]any))
	}
	for _, tc := range []struct {
		c    caller
		want int
	}{{ownerMember, 1}, {ownerAdmin, 1}, {ownerOther, 0}, {ownerNoProject, 0}} {
		if got := count(tc.c); got != tc.want {
			t.Errorf("%s sees %d tasks, want %d", tc.c.name, got, tc.want)
		}
		r := e.do("GET", "/v2/tasks", nil, tc.c.hdr()...)
		if r.status != 200 {
			t.Fatalf("/v2/tasks as %s: %d %s", tc.c.name, r.status, r.body)
		}
		want := tc.want
		if tc.c == ownerAdmin {
			want = 2 // and the noauth one
		}
		if got := len(r.json(t)["tasks"].([]any)); got != want {
			t.Errorf("%s lists %d tasks, want %d", tc.c.name, got, want)
		}
	}
}
