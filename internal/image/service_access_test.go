package image_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"glint/internal/auth"
	"glint/internal/errs"
	"glint/internal/image"
	"glint/internal/policy"
)

// Who sees which image, by Get and in a listing: an admin every one; a
// project its own, the public and community ones, and the shared ones it
// is a member of (by Get whatever its membership's status, listed only
// when accepted, by default); community images are listed only for their
// owner. As in Glance, an image without owner is visible to anyone who
// asks for it by ID, and listed for admins only.
func TestVisibility(t *testing.T) {
	e := newEnv(t, nil)
	ids := map[string]string{}
	for _, m := range []struct {
		name, visibility string
		owner            any
	}{
		{"private", "private", "p1"}, {"shared", "shared", "p1"}, {"public", "public", "p1"},
		{"community", "community", "p1"}, {"other-community", "community", "p9"}, {"ownerless", "private", nil},
	} {
		ids[m.name] = e.create(admin(), map[string]any{"name": m.name, "visibility": m.visibility, "owner": m.owner}).ID
	}
	for project, status := range map[string]string{"p2": image.MemberAccepted, "p3": image.MemberPending} {
		if _, err := e.svc.AddMember(e.as(member("p1")), ids["shared"], project); err != nil {
			t.Fatal(err)
		}
		if status != image.MemberPending {
			if _, err := e.svc.UpdateMember(e.as(member(project)), ids["shared"], project, status); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		by          *auth.Context
		get, listed []string
	}{
		{admin(), []string{"community", "other-community", "ownerless", "private", "public", "shared"},
			[]string{"ownerless", "private", "public", "shared"}},
		{member("p1"), []string{"community", "other-community", "ownerless", "private", "public", "shared"},
			[]string{"community", "private", "public", "shared"}},
		{member("p2"), []string{"community", "other-community", "ownerless", "public", "shared"}, []string{"public", "shared"}},
		{member("p3"), []string{"community", "other-community", "ownerless", "public", "shared"}, []string{"public"}},
		{member("p4"), []string{"community", "other-community", "ownerless", "public"}, []string{"public"}},
	}
	for _, tc := range cases {
		ctx := e.as(tc.by)
		var got []string
		for name, id := range ids {
			img, err := e.svc.Get(ctx, id)
			switch {
			case err == nil && str(img.Name) == name:
				got = append(got, name)
			case err != nil && !errs.Is(errs.NotFound, err):
				t.Errorf("%s gets %s: %v, want the image or NotFound", tc.by.ProjectID, name, err)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.get) {
			t.Errorf("%s gets %v, want %v", tc.by.ProjectID, got, tc.get)
		}
		list, err := e.svc.List(ctx, image.ListQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, img := range list {
			names = append(names, str(img.Name))
		}
		slices.Sort(names)
		if !slices.Equal(names, tc.listed) {
			t.Errorf("%s lists %v, want %v", tc.by.ProjectID, names, tc.listed)
		}
	}
	// A marker is an image the caller may see: another's is no marker.
	_, err := e.svc.List(e.as(member("p2")), image.ListQuery{Limit: 10, Marker: ids["private"]})
	checkErr(t, "p2 listing after p1's private image", err, errs.Invalid)
	_, err = e.svc.List(e.as(member("p1")), image.ListQuery{Limit: 10, Marker: ids["private"]})
	checkErr(t, "p1 listing after its own image", err, errs.Other)
}

// The one ownership rule (auth.Context.MayChange) through every action
// that changes an image: an admin may change any image, a project only
// its own, and an image without an owner only an admin. A refused
// action (403, or 404 when the caller may not see the image) leaves the
// image as it was. Under Glance's legacy policy defaults and under
// secure RBAC alike.
func TestOwnership(t *testing.T) {
	secure, err := policy.NewGlance(policy.Options{EnforceNewDefaults: true})
	if err != nil {
		t.Fatal(err)
	}
	modes := []struct {
		name  string
		authz image.Authorizer
		opts  func(*image.Options)
	}{
		{"legacy defaults", nil, nil},
		{"secure RBAC", policy.Authorizer{Enforcer: secure}, func(o *image.Options) { o.SecureRBAC = true }},
	}
	actions := []struct {
		name    string
		shared  bool                           // the image is shared (not community) with p3
		prepare func(e *env, img *image.Image) // the state the action needs
		do      func(e *env, by *auth.Context, id string) error
	}{
		{"patch", false, nil, func(e *env, by *auth.Context, id string) error {
			_, err := e.svc.Update(e.as(by), id, []image.Change{{Op: "replace", Path: []string{"name"}, Value: "changed"}}, false)
			return err
		}},
		{"add tag", false, nil, func(e *env, by *auth.Context, id string) error { return e.svc.AddTag(e.as(by), id, "new") }},
		{"delete tag", false, nil, func(e *env, by *auth.Context, id string) error { return e.svc.DeleteTag(e.as(by), id, "t") }},
		{"upload", false, nil, func(e *env, by *auth.Context, id string) error {
			return e.svc.Upload(e.as(by), id, nil, strings.NewReader("data"), 4)
		}},
		{"deactivate", false, func(e *env, img *image.Image) { e.set(img.ID, func(img *image.Image) { img.Status = image.Active }) },
			func(e *env, by *auth.Context, id string) error { return e.svc.SetActive(e.as(by), id, false) }},
		{"reactivate", false, func(e *env, img *image.Image) {
			e.set(img.ID, func(img *image.Image) { img.Status = image.Deactivated })
		},
			func(e *env, by *auth.Context, id string) error { return e.svc.SetActive(e.as(by), id, true) }},
		{"delete", false, nil, func(e *env, by *auth.Context, id string) error { return e.svc.Delete(e.as(by), id) }},
		{"add member", true, nil, func(e *env, by *auth.Context, id string) error {
			_, err := e.svc.AddMember(e.as(by), id, "p4")
			return err
		}},
		{"delete member", true, nil, func(e *env, by *auth.Context, id string) error {
			return e.svc.DeleteMember(e.as(by), id, "p3")
		}},
	}
	owners := []struct {
		name  string
		owner any // JSON value
		may   func(by *auth.Context) bool
	}{
		{"owned by p1", "p1", func(by *auth.Context) bool { return by.IsAdmin || by.ProjectID == "p1" }},
		{"no owner", nil, func(by *auth.Context) bool { return by.IsAdmin }},
	}
	callers := []*auth.Context{admin(), member("p1"), member("p2"), member("p3"), member("")}
	for _, mode := range modes {
		for _, o := range owners {
			for _, a := range actions {
				// One service for the callers, each acting on an image of
				// its own: a filesystem store costs 9 ms to set up.
				e := newEnv(t, mode.authz, mode.opts)
				for _, by := range callers {
					name := fmt.Sprintf("%s/%s/%s/%s", mode.name, o.name, a.name, cmpOr(by.ProjectID, "no project"))
					t.Run(name, func(t *testing.T) {
						e.t = t // the helpers fail this subtest
						vis := "community"
						if a.shared {
							vis = "shared"
						}
						img := e.create(admin(), map[string]any{"name": "x", "owner": o.owner, "visibility": vis,
							"disk_format": "raw", "container_format": "bare", "tags": []any{"t"}})
						if a.shared {
							if err := e.repo.AddMember(t.Context(), &image.Member{ImageID: img.ID, MemberID: "p3", Status: image.MemberAccepted}, -1); err != nil {
								t.Fatal(err)
							}
						}
						if a.prepare != nil {
							a.prepare(e, img)
						}
						before := e.stored(img.ID)
						membersBefore, _ := e.repo.Members(t.Context(), img.ID)
						err := a.do(e, by, img.ID)
						if o.may(by) {
							if err != nil {
								t.Fatalf("refused: %v", err)
							}
							return
						}
						if !refused(err) {
							t.Fatalf("%v, want a refusal (Forbidden or NotFound)", err)
						}
						after, gerr := e.repo.Get(t.Context(), img.ID)
						membersAfter, _ := e.repo.Members(t.Context(), img.ID)
						if gerr != nil || !reflect.DeepEqual(before, after) || !reflect.DeepEqual(membersBefore, membersAfter) || slices.Contains(e.files(), img.ID) {
							t.Errorf("a refused %s changed the image or stored data:\n%+v\n%+v (%v)", a.name, before, after, gerr)
						}
					})
				}
			}
		}
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Sharing: the owner adds members, which start pending; only a member
// itself accepts or rejects (the owner cannot on its behalf); a member
// sees its own membership only; duplicates and the member quota are
// refused; only shared images have members.
func TestMembers(t *testing.T) {
	e := newEnv(t, nil, func(o *image.Options) { o.MemberQuota = 2 })
	owner, p2, p3, p4 := member("p1"), member("p2"), member("p3"), member("p4")
	img := e.create(owner, map[string]any{"name": "a"})
	private := e.create(owner, map[string]any{"name": "b", "visibility": "private"})
	steps := []struct {
		name string
		do   func() error
		want errs.Kind
	}{
		{"the owner adds p2", func() error {
			m, err := e.svc.AddMember(e.as(owner), img.ID, "p2")
			if err == nil && m.Status != image.MemberPending {
				return fmt.Errorf("new membership %s", m.Status)
			}
			return err
		}, errs.Other},
		{"the owner adds p2 again", func() error { _, err := e.svc.AddMember(e.as(owner), img.ID, "p2"); return err }, errs.Conflict},
		{"p2, a member, adds p3", func() error { _, err := e.svc.AddMember(e.as(p2), img.ID, "p3"); return err }, errs.Forbidden},
		{"p4, no member, adds p3", func() error { _, err := e.svc.AddMember(e.as(p4), img.ID, "p3"); return err }, errs.NotFound},
		{"the owner accepts for p2", func() error {
			_, err := e.svc.UpdateMember(e.as(owner), img.ID, "p2", image.MemberAccepted)
			return err
		}, errs.Forbidden},
		{"p2 accepts", func() error { _, err := e.svc.UpdateMember(e.as(p2), img.ID, "p2", image.MemberAccepted); return err }, errs.Other},
		{"p2 asks for no status", func() error { _, err := e.svc.UpdateMember(e.as(p2), img.ID, "p2", "maybe"); return err }, errs.Invalid},
		{"the owner adds p3", func() error { _, err := e.svc.AddMember(e.as(owner), img.ID, "p3"); return err }, errs.Other},
		{"the owner adds p4, past the quota", func() error { _, err := e.svc.AddMember(e.as(owner), img.ID, "p4"); return err }, errs.TooLarge},
		{"p2 sees itself only", func() error {
			ms, err := e.svc.Members(e.as(p2), img.ID)
			if err == nil && (len(ms) != 1 || ms[0].MemberID != "p2" || ms[0].Status != image.MemberAccepted) {
				return fmt.Errorf("p2 sees %v", ms)
			}
			return err
		}, errs.Other},
		{"the owner sees all", func() error {
			ms, err := e.svc.Members(e.as(owner), img.ID)
			if err == nil && len(ms) != 2 {
				return fmt.Errorf("the owner sees %v", ms)
			}
			return err
		}, errs.Other},
		{"p3 looks up p2's membership", func() error { _, err := e.svc.Member(e.as(p3), img.ID, "p2"); return err }, errs.NotFound},
		{"p2 deletes p3", func() error { return e.svc.DeleteMember(e.as(p2), img.ID, "p3") }, errs.Forbidden},
		{"the owner deletes p3", func() error { return e.svc.DeleteMember(e.as(owner), img.ID, "p3") }, errs.Other},
		{"p3 looks up its membership", func() error { _, err := e.svc.Member(e.as(p3), img.ID, "p3"); return err }, errs.NotFound},
		{"a private image shared", func() error { _, err := e.svc.AddMember(e.as(owner), private.ID, "p2"); return err }, errs.Forbidden},
	}
	for _, s := range steps {
		checkErr(t, s.name, s.do(), s.want)
	}
}
