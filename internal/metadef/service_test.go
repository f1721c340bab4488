package metadef

import (
	"context"
	"testing"

	"glint/internal/auth"
	"glint/internal/errs"
)

// allowAll is a policy that allows every action, so that only the
// ownership rule decides.
type allowAll struct{}

func (allowAll) Authorize(context.Context, string, map[string]any) error { return nil }

// oneNamespace is a repository holding one namespace; every change it
// is asked for is counted, not made.
type oneNamespace struct {
	Repo
	ns      Namespace
	changes int
}

func (r *oneNamespace) GetNamespace(_ context.Context, name string) (*Namespace, error) {
	if name != r.ns.Namespace {
		return nil, errs.E(errs.Op("test"), errs.NotFound)
	}
	ns := r.ns
	return &ns, nil
}
func (r *oneNamespace) GetItem(context.Context, Kind, string, string) (Item, error) {
	return Item{Name: "i"}, nil
}
func (r *oneNamespace) CreateNamespace(context.Context, *Namespace, *Contents) error {
	r.changes++
	return nil
}
func (r *oneNamespace) UpdateNamespace(context.Context, string, *Namespace) error {
	r.changes++
	return nil
}
func (r *oneNamespace) DeleteNamespace(context.Context, string) error { r.changes++; return nil }
func (r *oneNamespace) CreateItems(context.Context, Kind, string, []Item, bool) error {
	r.changes++
	return nil
}
func (r *oneNamespace) UpdateItem(context.Context, Kind, string, string, Item) error {
	r.changes++
	return nil
}
func (r *oneNamespace) DeleteItem(context.Context, Kind, string, string) error {
	r.changes++
	return nil
}
func (r *oneNamespace) DeleteItems(context.Context, Kind, string) error { r.changes++; return nil }
func (r *oneNamespace) CreateAssociation(context.Context, string, Association) error {
	r.changes++
	return nil
}
func (r *oneNamespace) DeleteAssociation(context.Context, string, string) error {
	r.changes++
	return nil
}

// TestNamespaceOwnership: even where the policy lets anyone change
// namespaces, a non-admin changes only its own project's; an ownerless
// namespace is the admins'.
func TestNamespaceOwnership(t *testing.T) {
	callers := []struct {
		name string
		a    *auth.Context
	}{
		{"admin", &auth.Context{ProjectID: "adm", Roles: []string{"admin"}, IsAdmin: true}},
		{"owner", &auth.Context{ProjectID: "p1", Roles: []string{"member"}}},
		{"other project", &auth.Context{ProjectID: "p2", Roles: []string{"member"}}},
		{"no project", &auth.Context{Roles: []string{"member"}}},
	}
	actions := []struct {
		name string
		do   func(ctx context.Context, s *Service) error
	}{
		{"update", func(ctx context.Context, s *Service) error {
			_, err := s.UpdateNamespace(ctx, "ns", &Namespace{Namespace: "ns", Owner: "p1"})
			return err
		}},
		{"delete", func(ctx context.Context, s *Service) error { return s.DeleteNamespace(ctx, "ns") }},
		{"add object", func(ctx context.Context, s *Service) error {
			_, err := s.CreateItem(ctx, Objects, "ns", Item{Name: "o"})
			return err
		}},
		{"add tags", func(ctx context.Context, s *Service) error {
			_, err := s.CreateTags(ctx, "ns", []string{"t"}, true)
			return err
		}},
		{"update property", func(ctx context.Context, s *Service) error {
			_, err := s.UpdateItem(ctx, Properties, "ns", "i", Item{Name: "i"})
			return err
		}},
		{"delete tag", func(ctx context.Context, s *Service) error { return s.DeleteItem(ctx, Tags, "ns", "i") }},
		{"delete all objects", func(ctx context.Context, s *Service) error { return s.DeleteItems(ctx, Objects, "ns") }},
		{"associate", func(ctx context.Context, s *Service) error {
			_, err := s.CreateAssociation(ctx, "ns", Association{Name: "OS::Glance::Image"})
			return err
		}},
		{"dissociate", func(ctx context.Context, s *Service) error {
			return s.DeleteAssociation(ctx, "ns", "OS::Glance::Image")
		}},
	}
	for _, owner := range []string{"p1", ""} {
		for _, act := range actions {
			for _, c := range callers {
				r := &oneNamespace{ns: Namespace{Namespace: "ns", Owner: owner, Visibility: "public"}}
				s := NewService(r, allowAll{}, nil)
				err := act.do(auth.With(context.Background(), c.a), s)
				mayChange := c.a.IsAdmin || owner != "" && owner == c.a.ProjectID
				switch {
				case mayChange && err != nil:
					t.Errorf("owner %q, %s by %s: %v", owner, act.name, c.name, err)
				case !mayChange && errs.KindOf(err) != errs.Forbidden:
					t.Errorf("owner %q, %s by %s: %v, want Forbidden", owner, act.name, c.name, err)
				case !mayChange && r.changes != 0:
					t.Errorf("owner %q, %s by %s: the repository was changed", owner, act.name, c.name)
				}
			}
		}
	}
}

// TestCreateNamespaceOwner: a non-admin creates namespaces for its own
// project only, and needs one.
func TestCreateNamespaceOwner(t *testing.T) {
	for _, tc := range []struct {
		a     *auth.Context
		owner string
		ok    bool
	}{
		{&auth.Context{ProjectID: "adm", IsAdmin: true}, "p9", true},
		{&auth.Context{ProjectID: "p1"}, "", true},
		{&auth.Context{ProjectID: "p1"}, "p1", true},
		{&auth.Context{ProjectID: "p1"}, "p2", false},
		{&auth.Context{}, "", false},
		{&auth.Context{}, "p2", false},
	} {
		r := &oneNamespace{}
		err := NewService(r, allowAll{}, nil).CreateNamespace(auth.With(context.Background(), tc.a),
			&Namespace{Namespace: "n", Owner: tc.owner}, &Contents{})
		if (err == nil) != tc.ok || !tc.ok && r.changes != 0 {
			t.Errorf("project %q creates for %q: %v (changes %d), want ok %v", tc.a.ProjectID, tc.owner, err, r.changes, tc.ok)
		}
	}
}
