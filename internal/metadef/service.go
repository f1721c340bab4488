package metadef

import (
	"context"
	"fmt"
	"strings"
	"time"

	"glint/internal/auth"
	"glint/internal/errs"
)

// Authorizer checks a policy rule for the caller found in ctx; a denial
// is an errs.Forbidden.
type Authorizer interface {
	Authorize(ctx context.Context, action string, target map[string]any) error
}

// Service is the catalog as callers see it: visibility, ownership and
// policy on top of the repository.
type Service struct {
	repo     Repo
	authz    Authorizer
	notifier Notifier
	now      func() time.Time
}

// NewService returns a Service over repo; authz decides every action;
// n, unless nil, is sent Glance's notifications of every change.
func NewService(repo Repo, authz Authorizer, n Notifier) *Service {
	return &Service{repo: repo, authz: authz, notifier: n, now: func() time.Time { return time.Now().UTC() }}
}

// target is what Glance's policy rules see of a namespace.
func target(ns *Namespace) map[string]any {
	return map[string]any{"project_id": ns.Owner, "visibility": ns.Visibility}
}

// callerTarget is the target of a check that concerns no namespace yet.
func callerTarget(ctx context.Context) map[string]any {
	return map[string]any{"project_id": auth.From(ctx).ProjectID}
}

// visible reports whether the caller may see ns at all: admins see
// everything, others public namespaces and their own project's.
func visible(ctx context.Context, ns *Namespace) bool {
	a := auth.From(ctx)
	return a.IsAdmin || ns.Visibility == "public" || (a.ProjectID != "" && ns.Owner == a.ProjectID)
}

// missing is the 404 for a namespace that does not exist, or that the
// caller cannot see, worded as Glance's route for action words it.
func missing(op errs.Op, action, name string, exists bool) error {
	switch {
	case action == "get_metadef_namespace" && exists:
		return errs.E(op, errs.NotFound) // Glance's bare 404
	case action == "get_metadef_namespace" || (!exists && strings.HasSuffix(action, "_metadef_object")) ||
		(!exists && action == "get_metadef_objects"):
		return errs.E(op, errs.NotFound, fmt.Sprintf("Metadata definition namespace=%s was not found.", name))
	}
	return errs.E(op, errs.NotFound, fmt.Sprintf("Namespace %s not found", name))
}

// namespace loads a namespace the caller can see and may perform action
// on. A caller that cannot see it, or may not read it, gets a 404 as if it
// did not exist.
func (s *Service) namespace(ctx context.Context, op errs.Op, name, action string) (*Namespace, error) {
	ns, err := s.repo.GetNamespace(ctx, name)
	if errs.KindOf(err) == errs.NotFound {
		return nil, missing(op, action, name, false)
	}
	if err != nil {
		return nil, err
	}
	if !visible(ctx, ns) {
		return nil, missing(op, action, name, true)
	}
	t := target(ns)
	if err := s.authz.Authorize(ctx, action, t); err != nil {
		if errs.KindOf(err) != errs.Forbidden {
			return nil, err
		}
		if action == "get_metadef_namespace" || s.authz.Authorize(ctx, "get_metadef_namespace", t) != nil {
			return nil, errs.E(op, errs.NotFound) // Glance's bare 404
		}
		return nil, err
	}
	if mutating(action) && !auth.From(ctx).MayChange(ns.Owner) {
		return nil, errs.E(op, errs.Forbidden, fmt.Sprintf("You are not permitted to change the namespace %s of another project.", name))
	}
	return ns, nil
}

// mutating reports whether a policy action changes a namespace or what it
// holds; those need ownership (Glance's is_namespace_mutable) beyond the
// policy rule.
func mutating(action string) bool {
	for _, p := range []string{"add_", "modify_", "delete_", "remove_"} {
		if strings.HasPrefix(action, p) {
			return true
		}
	}
	return false
}

// ListNamespaces lists the namespaces the caller may see.
func (s *Service) ListNamespaces(ctx context.Context, q NamespaceQuery) ([]*Namespace, error) {
	a := auth.From(ctx)
	if err := s.authz.Authorize(ctx, "get_metadef_namespaces", callerTarget(ctx)); err != nil {
		return nil, err
	}
	// The listing carries each namespace's associations.
	if err := s.authz.Authorize(ctx, "list_metadef_resource_types", callerTarget(ctx)); err != nil {
		return nil, err
	}
	q.AllVisible, q.Owner = a.IsAdmin, a.ProjectID
	if q.Marker != "" {
		// An unknown or invisible marker is a 404, as in Glance.
		if _, err := s.namespace(ctx, "metadef.ListNamespaces", q.Marker, "get_metadef_namespace"); err != nil {
			return nil, err
		}
	}
	all, err := s.repo.ListNamespaces(ctx, q)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, ns := range all {
		if s.authz.Authorize(ctx, "get_metadef_namespace", target(ns)) == nil {
			out = append(out, ns)
		}
	}
	return out, nil
}

// GetNamespace returns a namespace and its contents.
func (s *Service) GetNamespace(ctx context.Context, name string) (*Namespace, *Contents, error) {
	const op errs.Op = "metadef.GetNamespace"
	ns, err := s.namespace(ctx, op, name, "get_metadef_namespace")
	if err != nil {
		return nil, nil, err
	}
	for _, action := range []string{"list_metadef_resource_types", "get_metadef_objects", "get_metadef_properties", "get_metadef_tags"} {
		if err := s.authz.Authorize(ctx, action, target(ns)); err != nil {
			return nil, nil, err
		}
	}
	c, err := s.repo.Contents(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	return ns, c, nil
}

// CreateNamespace creates ns with its embedded contents. The owner
// defaults to the caller's project.
func (s *Service) CreateNamespace(ctx context.Context, ns *Namespace, c *Contents) error {
	a := auth.From(ctx)
	if ns.Owner == "" {
		ns.Owner = a.ProjectID
	}
	if !a.MayChange(ns.Owner) {
		const op errs.Op = "metadef.CreateNamespace"
		return errs.E(op, errs.Forbidden, fmt.Sprintf("You are not permitted to create namespace owned by '%s'", ns.Owner))
	}
	if ns.Visibility == "" {
		ns.Visibility = "private"
	}
	t := callerTarget(ctx)
	if err := s.authz.Authorize(ctx, "add_metadef_namespace", t); err != nil {
		return err
	}
	const op errs.Op = "metadef.CreateNamespace"
	// Glance takes an empty name, which no URL can then address.
	if err := checkName(op, "namespace", ns.Namespace); err != nil {
		return err
	}
	for _, l := range []struct {
		what  string
		items []Item
	}{{"object", c.Objects}, {"property", c.Properties}, {"tag", c.Tags}} {
		for _, it := range l.items {
			if err := checkName(op, l.what, it.Name); err != nil {
				return err
			}
		}
	}
	for _, a := range c.Associations {
		if err := checkName(op, "resource type", a.Name); err != nil {
			return err
		}
	}
	for action, n := range map[string]int{"add_metadef_object": len(c.Objects), "add_metadef_property": len(c.Properties),
		"add_metadef_tag": len(c.Tags), "add_metadef_resource_type_association": len(c.Associations)} {
		if n == 0 {
			continue
		}
		if err := s.authz.Authorize(ctx, action, t); err != nil {
			return err
		}
	}
	if ns.Owner == "" {
		// Glance's column is NOT NULL; Glance itself fails with a 500.
		return errs.E(op, errs.Invalid, "A namespace needs an owner: give one, or authenticate with a project.")
	}
	now := s.now()
	ns.CreatedAt, ns.UpdatedAt = now, now
	stamp(c, now)
	if err := s.repo.CreateNamespace(ctx, ns, c); err != nil {
		return err
	}
	// Glance's order: the namespace, its resource types, objects, tags,
	// properties.
	s.send(ctx, "metadef_namespace.create", func() map[string]any { return namespacePayload(ns) }, nil)
	for _, a := range c.Associations {
		s.send(ctx, "metadef_resource_type.create", func() map[string]any { return associationPayload(ns.Namespace, a) }, nil)
	}
	for _, k := range []Kind{Objects, Tags, Properties} {
		items := map[Kind][]Item{Objects: c.Objects, Tags: c.Tags, Properties: c.Properties}[k]
		for _, it := range items {
			s.send(ctx, itemEvent(k)+".create", func() map[string]any { return itemPayload(k, ns.Namespace, it) }, nil)
		}
	}
	return nil
}

func stamp(c *Contents, now time.Time) {
	for _, l := range [][]Item{c.Objects, c.Properties, c.Tags} {
		for i := range l {
			l[i].CreatedAt, l[i].UpdatedAt = now, now
		}
	}
	for i := range c.Associations {
		c.Associations[i].CreatedAt, c.Associations[i].UpdatedAt = now, now
	}
}

// UpdateNamespace replaces the namespace's own fields with those of upd
// (its name may change).
func (s *Service) UpdateNamespace(ctx context.Context, name string, upd *Namespace) (*Namespace, error) {
	const op errs.Op = "metadef.UpdateNamespace"
	ns, err := s.namespace(ctx, op, name, "modify_metadef_namespace")
	if err != nil {
		return nil, err
	}
	// A PUT replaces every field, with Glance's defaults for those left
	// out; the owner defaults to the caller's project.
	if err := checkName(op, "namespace", upd.Namespace); err != nil {
		return nil, err
	}
	if upd.Owner == "" {
		upd.Owner = auth.From(ctx).ProjectID
	}
	if upd.Owner == "" {
		upd.Owner = ns.Owner
	}
	if upd.Owner != ns.Owner && !auth.From(ctx).MayChange(upd.Owner) {
		return nil, errs.E(op, errs.Forbidden, fmt.Sprintf("You are not permitted to give namespace %s to '%s'.", name, upd.Owner))
	}
	if upd.Visibility == "" {
		upd.Visibility = "private"
	}
	upd.CreatedAt, upd.UpdatedAt = ns.CreatedAt, s.now()
	if err := s.repo.UpdateNamespace(ctx, name, upd); err != nil {
		return nil, err
	}
	s.send(ctx, "metadef_namespace.update", func() map[string]any { return namespacePayload(upd) },
		map[string]any{"namespace_old": name})
	return upd, nil
}

// DeleteNamespace deletes an unprotected namespace and all it holds.
func (s *Service) DeleteNamespace(ctx context.Context, name string) error {
	const op errs.Op = "metadef.DeleteNamespace"
	ns, err := s.namespace(ctx, op, name, "delete_metadef_namespace")
	if err != nil {
		return err
	}
	if ns.Protected {
		return errs.E(op, errs.Forbidden, fmt.Sprintf("Metadata definition namespace %s is protected and cannot be deleted.", name))
	}
	if err := s.repo.DeleteNamespace(ctx, name); err != nil {
		return err
	}
	s.send(ctx, "metadef_namespace.delete", func() map[string]any { return namespacePayload(ns) }, s.deletedNow())
	return nil
}

// itemActions are the policy rules of each kind: list, get, add, modify,
// delete.
var itemActions = map[Kind][5]string{
	Objects:    {"get_metadef_objects", "get_metadef_object", "add_metadef_object", "modify_metadef_object", "delete_metadef_object"},
	Properties: {"get_metadef_properties", "get_metadef_property", "add_metadef_property", "modify_metadef_property", "remove_metadef_property"},
	Tags:       {"get_metadef_tags", "get_metadef_tag", "add_metadef_tag", "modify_metadef_tag", "delete_metadef_tag"},
}

// ListItems lists a namespace's objects, properties or tags.
func (s *Service) ListItems(ctx context.Context, k Kind, ns string, q TagQuery) ([]Item, error) {
	if _, err := s.namespace(ctx, "metadef.ListItems", ns, itemActions[k][0]); err != nil {
		return nil, err
	}
	return s.repo.ListItems(ctx, k, ns, q)
}

// GetItem returns one object, property or tag.
func (s *Service) GetItem(ctx context.Context, k Kind, ns, name string) (Item, error) {
	if _, err := s.namespace(ctx, "metadef.GetItem", ns, itemActions[k][1]); err != nil {
		return Item{}, err
	}
	return s.repo.GetItem(ctx, k, ns, name)
}

// checkName refuses names the database columns cannot hold.
func checkName(op errs.Op, what, name string) error {
	if name == "" || len(name) > 80 {
		return errs.E(op, errs.Invalid, fmt.Sprintf("Invalid %s name: it must have 1 to 80 characters.", what))
	}
	return nil
}

// CreateItem adds one object, property or tag.
func (s *Service) CreateItem(ctx context.Context, k Kind, ns string, it Item) (Item, error) {
	if err := checkName("metadef.CreateItem", k.String(), it.Name); err != nil {
		return Item{}, err
	}
	if _, err := s.namespace(ctx, "metadef.CreateItem", ns, itemActions[k][2]); err != nil {
		return Item{}, err
	}
	it.CreatedAt = s.now()
	it.UpdatedAt = it.CreatedAt
	if err := s.repo.CreateItems(ctx, k, ns, []Item{it}, false); err != nil {
		return Item{}, err
	}
	s.send(ctx, itemEvent(k)+".create", func() map[string]any { return itemPayload(k, ns, it) }, nil)
	return it, nil
}

// CreateTags adds tags in one go; unless appending, they replace every
// tag the namespace had.
func (s *Service) CreateTags(ctx context.Context, ns string, names []string, appendTags bool) ([]Item, error) {
	const op errs.Op = "metadef.CreateTags"
	if _, err := s.namespace(ctx, op, ns, "add_metadef_tags"); err != nil {
		return nil, err
	}
	now := s.now()
	seen := map[string]bool{}
	items := make([]Item, 0, len(names))
	for _, name := range names {
		if err := checkName(op, "tag", name); err != nil {
			return nil, err
		}
		key := foldTag(name)
		if seen[key] {
			return nil, errs.E(op, errs.Conflict, fmt.Sprintf("Duplicate tag name %s in request.", name))
		}
		seen[key] = true
		items = append(items, Item{Name: name, CreatedAt: now, UpdatedAt: now})
	}
	if err := s.repo.CreateItems(ctx, Tags, ns, items, !appendTags); err != nil {
		return nil, err
	}
	for _, it := range items {
		s.send(ctx, "metadef_tag.create", func() map[string]any { return tagPayload(ns, it) }, nil)
	}
	return items, nil
}

// UpdateItem replaces an object, property or tag (its name may change).
func (s *Service) UpdateItem(ctx context.Context, k Kind, ns, name string, it Item) (Item, error) {
	if err := checkName("metadef.UpdateItem", k.String(), it.Name); err != nil {
		return Item{}, err
	}
	if _, err := s.namespace(ctx, "metadef.UpdateItem", ns, itemActions[k][3]); err != nil {
		return Item{}, err
	}
	old, err := s.repo.GetItem(ctx, k, ns, name)
	if err != nil {
		return Item{}, err
	}
	it.CreatedAt, it.UpdatedAt = old.CreatedAt, s.now()
	if err := s.repo.UpdateItem(ctx, k, ns, name, it); err != nil {
		return Item{}, err
	}
	s.send(ctx, itemEvent(k)+".update", func() map[string]any { return itemPayload(k, ns, it) },
		map[string]any{"name_old": name})
	return it, nil
}

// DeleteItem removes one object, property or tag of an unprotected
// namespace.
func (s *Service) DeleteItem(ctx context.Context, k Kind, ns, name string) error {
	const op errs.Op = "metadef.DeleteItem"
	n, err := s.namespace(ctx, op, ns, itemActions[k][4])
	if err != nil {
		return err
	}
	old, err := s.repo.GetItem(ctx, k, ns, name)
	if err != nil {
		return err
	}
	if n.Protected {
		return errs.E(op, errs.Forbidden, fmt.Sprintf("Metadata definition %s %s is protected and cannot be deleted.", k, name))
	}
	if err := s.repo.DeleteItem(ctx, k, ns, name); err != nil {
		return err
	}
	if k == Objects && old.Required == nil {
		old.Required = []string{} // Glance reads it back from its database as a list
	}
	s.send(ctx, itemEvent(k)+".delete", func() map[string]any { return itemPayload(k, ns, old) }, s.deletedNow())
	return nil
}

// DeleteItems removes every object, property or tag of an unprotected
// namespace.
func (s *Service) DeleteItems(ctx context.Context, k Kind, ns string) error {
	const op errs.Op = "metadef.DeleteItems"
	n, err := s.namespace(ctx, op, ns, "delete_metadef_namespace")
	if err != nil {
		return err
	}
	if k == Tags {
		if err := s.authz.Authorize(ctx, "delete_metadef_tags", target(n)); err != nil {
			return err
		}
	}
	if n.Protected {
		return errs.E(op, errs.Forbidden, fmt.Sprintf("Metadata definition namespace %s is protected and cannot be deleted.", ns))
	}
	if err := s.repo.DeleteItems(ctx, k, ns); err != nil {
		return err
	}
	ev := map[Kind]string{Objects: "delete_objects", Properties: "delete_properties", Tags: "delete_tags"}[k]
	s.send(ctx, "metadef_namespace."+ev, func() map[string]any { return namespacePayload(n) }, nil)
	return nil
}

// ListResourceTypes lists every resource type.
func (s *Service) ListResourceTypes(ctx context.Context) ([]ResourceType, error) {
	if err := s.authz.Authorize(ctx, "list_metadef_resource_types", callerTarget(ctx)); err != nil {
		return nil, err
	}
	return s.repo.ListResourceTypes(ctx)
}

// ListAssociations lists the resource types a namespace applies to.
func (s *Service) ListAssociations(ctx context.Context, ns string) ([]Association, error) {
	if _, err := s.namespace(ctx, "metadef.ListAssociations", ns, "get_metadef_resource_type"); err != nil {
		return nil, err
	}
	c, err := s.repo.Contents(ctx, ns)
	if err != nil {
		return nil, err
	}
	return c.Associations, nil
}

// CreateAssociation applies a namespace to a resource type.
func (s *Service) CreateAssociation(ctx context.Context, ns string, a Association) (Association, error) {
	if err := checkName("metadef.CreateAssociation", "resource type", a.Name); err != nil {
		return Association{}, err
	}
	if _, err := s.namespace(ctx, "metadef.CreateAssociation", ns, "add_metadef_resource_type_association"); err != nil {
		return Association{}, err
	}
	a.CreatedAt = s.now()
	a.UpdatedAt = a.CreatedAt
	if err := s.repo.CreateAssociation(ctx, ns, a); err != nil {
		return Association{}, err
	}
	s.send(ctx, "metadef_resource_type.create", func() map[string]any { return associationPayload(ns, a) }, nil)
	return a, nil
}

// DeleteAssociation removes a namespace's association with a resource
// type.
func (s *Service) DeleteAssociation(ctx context.Context, ns, rt string) error {
	const op errs.Op = "metadef.DeleteAssociation"
	n, err := s.namespace(ctx, op, ns, "remove_metadef_resource_type_association")
	if err != nil {
		return err
	}
	if n.Protected {
		return errs.E(op, errs.Forbidden, fmt.Sprintf("Metadata definition resource-type-association %s is protected and cannot be deleted.", rt))
	}
	old := Association{Name: rt}
	if s.notifier != nil && s.notifier.Enabled("metadef_resource_type.delete") {
		if c, err := s.repo.Contents(ctx, ns); err == nil {
			for _, a := range c.Associations {
				if a.Name == rt {
					old = a
				}
			}
		}
	}
	if err := s.repo.DeleteAssociation(ctx, ns, rt); err != nil {
		return err
	}
	s.send(ctx, "metadef_resource_type.delete", func() map[string]any { return associationPayload(ns, old) }, s.deletedNow())
	return nil
}

// foldTag is the form in which two tag names clash: Glance's message
// calls tag names case insensitive (MySQL's collation makes them so).
func foldTag(name string) string { return strings.ToLower(name) }
