package policy

import (
	"sort"
	"strings"
	"testing"
)

// The typical callers of Glance's matrix tests. Keystone's implied roles
// put reader under member and member under admin in the token.
const ownerProject = "p-owner"

type persona struct {
	name  string
	creds Credentials
}

func glancePersonas() []persona {
	return []persona{
		{"admin", Credentials{UserID: "u-admin", ProjectID: "p-admin", Roles: []string{"admin", "member", "reader"}}},
		{"owner-member", Credentials{UserID: "u-om", ProjectID: ownerProject, Roles: []string{"member", "reader"}}},
		{"other-member", Credentials{UserID: "u-xm", ProjectID: "p-other", Roles: []string{"member", "reader"}}},
		{"owner-reader", Credentials{UserID: "u-or", ProjectID: ownerProject, Roles: []string{"reader"}}},
		{"other-reader", Credentials{UserID: "u-xr", ProjectID: "p-other", Roles: []string{"reader"}}},
		{"no-roles", Credentials{UserID: "u-n", ProjectID: ownerProject}},
	}
}

var visibilities = [4]string{"private", "shared", "public", "community"}

// imageTarget is the target Glance's ImageTarget presents for an image of
// ownerProject: project_id aliases owner, and member_id is the caller's
// project when the image is shared and the caller is not the owner (the
// database only returns such an image to its members), else None.
func imageTarget(visibility string, caller Credentials) map[string]any {
	var member any
	if visibility == "shared" && caller.ProjectID != ownerProject {
		member = caller.ProjectID
	}
	return map[string]any{
		"id": "img-1", "image_id": "img-1", "name": "cirros",
		"project_id": ownerProject, "owner": ownerProject,
		"member_id": member, "visibility": visibility,
		"status": "active", "protected": false, "os_hidden": false,
		"min_disk": 0, "min_ram": 0, "tags": []any{},
	}
}

// glanceExpected is, for Glance 25.1 with enforce_new_defaults=True
// (secure RBAC), the answer of every rule for each persona of
// glancePersonas (in order) on a private, shared, public and community
// image target. Derived from the check strings by hand; oslo_test.go checks
// the whole table against the real oslo.policy when it is installed.
var glanceExpected = []struct {
	rules []string
	want  [6]string // per persona: one Y/n per visibility
}{
	{ // role:admin or (role:member and project_id:%(project_id)s)
		[]string{"add_image", "delete_image", "modify_image", "communitize_image", "upload_image",
			"set_image_location", "add_member", "delete_member", "deactivate", "reactivate"},
		[6]string{"YYYY", "YYYY", "nnnn", "nnnn", "nnnn", "nnnn"},
	},
	{ // role:admin or (role:reader and (owner or member or community/public/shared))
		[]string{"get_image"},
		[6]string{"YYYY", "YYYY", "nYYY", "YYYY", "nYYY", "nnnn"},
	},
	{ // as get_image with role:member
		[]string{"download_image"},
		[6]string{"YYYY", "YYYY", "nYYY", "nnnn", "nnnn", "nnnn"},
	},
	{ // role:admin or (role:reader and project_id:%(project_id)s)
		[]string{"get_images", "get_image_location", "get_metadef_namespaces"},
		[6]string{"YYYY", "YYYY", "nnnn", "YYYY", "nnnn", "nnnn"},
	},
	{ // role:admin or role:reader and (owner or member)
		[]string{"get_member", "get_members"},
		[6]string{"YYYY", "YYYY", "nYnn", "YYYY", "nYnn", "nnnn"},
	},
	{ // role:admin or (role:member and project_id:%(member_id)s)
		[]string{"modify_member"},
		[6]string{"YYYY", "nnnn", "nYnn", "nnnn", "nnnn", "nnnn"},
	},
	{ // role:admin (directly or through rule:metadef_admin)
		[]string{"context_is_admin", "publicize_image", "delete_image_location", "manage_image_cache",
			"copy_image", "tasks_api_access", "cache_image", "cache_list", "cache_delete",
			"stores_info_detail", "metadef_admin",
			"add_metadef_namespace", "modify_metadef_namespace", "delete_metadef_namespace",
			"add_metadef_object", "modify_metadef_object", "delete_metadef_object",
			"add_metadef_resource_type_association", "remove_metadef_resource_type_association",
			"add_metadef_property", "modify_metadef_property", "remove_metadef_property",
			"add_metadef_tag", "add_metadef_tags", "modify_metadef_tag", "delete_metadef_tag",
			"delete_metadef_tags"},
		[6]string{"YYYY", "nnnn", "nnnn", "nnnn", "nnnn", "nnnn"},
	},
	{ // "" directly or through rule:default
		[]string{"default", "metadef_default", "get_task", "get_tasks", "add_task", "modify_task"},
		[6]string{"YYYY", "YYYY", "YYYY", "YYYY", "YYYY", "YYYY"},
	},
	{ // role:admin or (role:reader and (owner or public))
		[]string{"get_metadef_namespace", "get_metadef_object", "get_metadef_objects",
			"list_metadef_resource_types", "get_metadef_resource_type", "get_metadef_property",
			"get_metadef_properties", "get_metadef_tag", "get_metadef_tags"},
		[6]string{"YYYY", "YYYY", "nnYn", "YYYY", "nnYn", "nnnn"},
	},
}

// legacyExpected: with enforce_new_defaults=False (Zed's default) every rule
// with a deprecated alias of rule:default or rule:metadef_default allows
// everyone; the rules without one, and the cache rules whose alias is
// rule:manage_image_cache, stay admin-only.
func legacyExpected(rule string, d RuleDefault) bool {
	if d.DeprecatedRule != nil && d.DeprecatedRule.CheckStr != "rule:manage_image_cache" {
		return true
	}
	switch rule {
	case "metadef_default", "get_task", "get_tasks", "add_task", "modify_task":
		return true
	}
	return false
}

func TestGlanceMatrix(t *testing.T) {
	defs := map[string]RuleDefault{}
	for _, d := range GlanceDefaults() {
		defs[d.Name] = d
	}
	covered := map[string]bool{}
	secure := mustGlance(t, Options{EnforceNewDefaults: true, EnforceScope: true})
	legacy := mustGlance(t, Options{})
	for _, group := range glanceExpected {
		for _, rule := range group.rules {
			if covered[rule] {
				t.Errorf("%s listed twice", rule)
			}
			covered[rule] = true
			for pi, p := range glancePersonas() {
				for vi, vis := range visibilities {
					target := imageTarget(vis, p.creds)
					want := group.want[pi][vi] == 'Y'
					got, err := secure.Allowed(p.creds, rule, target)
					if err != nil || got != want {
						t.Errorf("secure %s as %s on %s image = %v, %v; want %v", rule, p.name, vis, got, err, want)
					}
					want = want || legacyExpected(rule, defs[rule])
					got, err = legacy.Allowed(p.creds, rule, target)
					if err != nil || got != want {
						t.Errorf("legacy %s as %s on %s image = %v, %v; want %v", rule, p.name, vis, got, err, want)
					}
				}
			}
		}
	}
	var missing []string
	for name := range defs {
		if !covered[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("rules missing from the matrix: %s", strings.Join(missing, ", "))
	}
}

// TestGlanceCreateImage covers add_image's create-time target, which
// Glance builds from the request: owner defaults to the caller's project.
func TestGlanceCreateImage(t *testing.T) {
	e := mustGlance(t, Options{EnforceNewDefaults: true})
	create := func(owner string) map[string]any {
		return map[string]any{"project_id": owner, "owner": owner, "visibility": "private"}
	}
	for _, tt := range []struct {
		who   string
		owner string
		want  bool
	}{
		{"admin", "p-other", true},
		{"owner-member", ownerProject, true},
		{"owner-member", "p-other", false}, // cannot create for another project
		{"owner-reader", ownerProject, false},
		{"no-roles", ownerProject, false},
	} {
		var c Credentials
		for _, p := range glancePersonas() {
			if p.name == tt.who {
				c = p.creds
			}
		}
		if got, _ := e.Allowed(c, "add_image", create(tt.owner)); got != tt.want {
			t.Errorf("add_image by %s for %s = %v, want %v", tt.who, tt.owner, got, tt.want)
		}
	}
	// oslo lets a project-less caller match an owner-less image (str(None)
	// on both sides); Glint does not: an absent project is never an owner.
	anon := Credentials{Roles: []string{"member"}}
	if got, _ := e.Allowed(anon, "add_image", map[string]any{"project_id": nil, "owner": nil}); got {
		t.Error("a project-less caller matched an owner-less image")
	}
}
