package rbac_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestMembers walks the sharing workflow and its refusals; like the
// matrix, it runs against Glance too (RBAC_GLANCE_URL).
func TestMembers(t *testing.T) { runMembers(t, newGlint(t, false)) }

func runMembers(t *testing.T, tg *target) {
	ids := tg.fixtures("members")
	shared, private := ids["shared-beta"], ids["private"]
	m := "/v2/images/" + shared + "/members"

	listed := func(c caller, query string) bool {
		t.Helper()
		b := tg.must(c, 200, "GET", "/v2/images?limit=1000"+query, nil)
		return strings.Contains(string(b), shared)
	}
	steps := []struct {
		who          caller
		method, path string
		body         any
		want         int
		msg          string // substring of the error body
		// glintOnly marks a deliberate difference: Glance 25.1 stores a
		// non-string member id (and echoes it back as a number).
		glintOnly bool
	}{
		{alphaMem, "POST", m, map[string]any{}, 400, "Member to be added not specified", false},
		{alphaMem, "POST", m, map[string]any{"member": ""}, 400, "Member can't be empty", false},
		{alphaMem, "POST", m, map[string]any{"member": 7}, 400, "Expected a member in the form", true},
		{alphaMem, "POST", m, []byte("not json"), 400, "", false},
		{alphaMem, "POST", m, map[string]any{"member": tg.project(betaMem)}, 409, "is duplicated for image", false},
		{alphaMem, "POST", "/v2/images/" + private + "/members", map[string]any{"member": tg.project(betaMem)}, 403, "Not allowed to create members", false},
		{alphaMem, "GET", "/v2/images/" + private + "/members", nil, 403, "Only shared images have members.", false},
		{alphaMem, "GET", "/v2/images/" + private + "/members/" + tg.project(betaMem), nil, 404, "Only shared images have members.", false},
		{betaMem, "POST", m, map[string]any{"member": "proj-epsilon"}, 403, "Not allowed to create members", false},
		{betaMem, "DELETE", m + "/" + tg.project(betaMem), nil, 403, "Not allowed to delete members", false},
		{betaMem, "GET", m + "/proj-gamma", nil, 404, "not found in the member list", false},
		{alphaMem, "PUT", m + "/" + tg.project(betaMem), map[string]any{"status": "rejected"}, 403, "Not allowed to update members", false},
		{betaMem, "PUT", m + "/" + tg.project(betaMem), map[string]any{}, 400, "Status not specified", false},
		{betaMem, "PUT", m + "/" + tg.project(betaMem), map[string]any{"status": "bogus"}, 400, "Status must be", false},
		{betaMem, "PUT", m + "/" + tg.project(betaMem), map[string]any{"status": 1}, 400, "", false},
		{alphaMem, "GET", "/v2/images/00000000-0000-0000-0000-000000000000/members", nil, 404, "not found", false},
		{alphaMem, "DELETE", m + "/proj-nobody", nil, 404, "not found in the member list", false},
		{alphaMem, "GET", m + "/" + tg.project(betaMem), nil, 200, "", false},
		{betaMem, "GET", m + "/" + tg.project(betaMem), nil, 200, "", false},
	}
	for _, s := range steps {
		if s.glintOnly && tg.glance {
			continue
		}
		st, b := tg.do(s.who, s.method, s.path, s.body)
		if st != s.want || !strings.Contains(string(b), s.msg) {
			t.Errorf("%s %s %s %v: %d %s, want %d with %q", s.who.name, s.method, s.path, s.body, st, b, s.want, s.msg)
		}
	}

	// Accepted: listed for the consumer; pending or rejected: only when asked.
	if !listed(betaMem, "") {
		t.Error("accepted shared image not in the consumer's list")
	}
	tg.must(betaMem, 200, "PUT", m+"/"+tg.project(betaMem), map[string]any{"status": "rejected"})
	if listed(betaMem, "") || !listed(betaMem, "&member_status=rejected") || !listed(betaMem, "&member_status=all") {
		t.Error("rejected shared image: listing wrong")
	}
	// Still visible by id in any status.
	tg.must(betaMem, 200, "GET", "/v2/images/"+shared, nil)
	tg.must(betaMem, 200, "PUT", m+"/"+tg.project(betaMem), map[string]any{"status": "pending"})
	if listed(betaMem, "") || !listed(betaMem, "&member_status=pending") {
		t.Error("pending shared image: listing wrong")
	}

	// The owner lists every member; the consumer only itself.
	var l struct{ Members []map[string]any }
	json.Unmarshal(tg.must(alphaMem, 200, "GET", m, nil), &l)
	if len(l.Members) != 1 || l.Members[0]["member_id"] != tg.project(betaMem) || l.Members[0]["status"] != "pending" ||
		l.Members[0]["schema"] != "/v2/schemas/member" {
		t.Errorf("owner's member list: %v", l.Members)
	}

	// Removing the member hides the image; adding it again makes a new
	// pending membership.
	tg.must(alphaMem, 204, "DELETE", m+"/"+tg.project(betaMem), nil)
	tg.must(betaMem, 404, "GET", "/v2/images/"+shared, nil)
	var mem map[string]any
	json.Unmarshal(tg.must(alphaMem, 200, "POST", m, map[string]any{"member": tg.project(betaMem)}), &mem)
	if mem["status"] != "pending" || mem["image_id"] != shared {
		t.Errorf("re-added member: %v", mem)
	}
	tg.must(betaMem, 200, "GET", "/v2/images/"+shared, nil)

	// Making the image private keeps the membership but it stops granting access.
	tg.must(alphaMem, 200, "PATCH", "/v2/images/"+shared, []map[string]any{{"op": "replace", "path": "/visibility", "value": "private"}})
	tg.must(betaMem, 404, "GET", "/v2/images/"+shared, nil)
	tg.must(alphaMem, 200, "PATCH", "/v2/images/"+shared, []map[string]any{{"op": "replace", "path": "/visibility", "value": "shared"}})
	tg.must(betaMem, 200, "GET", "/v2/images/"+shared, nil)
}
