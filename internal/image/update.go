package image

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strings"

	"glint/internal/auth"
	"glint/internal/errs"
	"glint/internal/store"
)

// Change is one JSON-patch operation, already parsed and schema-checked.
type Change struct {
	Op    string // add, remove, replace
	Path  []string
	Value any
}

// Update applies changes in order and saves once: all or nothing. strictAdd
// is the v2.0 dialect, where add of an existing property is a conflict.
func (s *Service) Update(ctx context.Context, id string, changes []Change, strictAdd bool) (*Image, error) {
	var probes map[string]probe
	counted := false
	owner := ""
	if hasLocationChanges(changes) {
		// Who may change the image is settled before any store is asked
		// about a location: a caller who may not cannot make Glint fetch.
		cur, err := s.get(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := s.authorizeChanges(ctx, cur, changes); err != nil {
			return nil, err
		}
		changes = unredactLocations(cur, changes)
		if s.opts.ShowLocations {
			probes = s.probeLocations(ctx, changes)
		}
		counted = s.opts.Limits == nil && s.opts.StorageQuota > 0
		owner = ownerKey(cur)
	}
	var removed []Location
	apply := func(old *Image, others *Usage) (*Image, error) {
		removed = removed[:0]
		if err := s.checkVisible(ctx, old); err != nil {
			return nil, err
		}
		if err := s.authorizeChanges(ctx, old, changes); err != nil {
			return nil, err
		}
		img, err := s.applyChanges(ctx, old, changes, strictAdd, probes, &removed)
		if err != nil {
			return nil, err
		}
		if others != nil {
			if err := s.checkLocationStorage(old, img, *others); err != nil {
				return nil, err
			}
		}
		return img, nil
	}
	// The changes apply to the row as it is when locked, so concurrent
	// patches, on this node or another, are all kept.
	var img *Image
	var err error
	if counted {
		img, err = s.repo.ModifyCounted(ctx, id, owner, func(old *Image, others Usage) (*Image, error) { return apply(old, &others) })
	} else {
		img, err = s.repo.Modify(ctx, id, func(old *Image) (*Image, error) { return apply(old, nil) })
	}
	if err != nil {
		return nil, err
	}
	s.notify(ctx, "image.update", img, nil)
	for _, l := range removed {
		s.deleteRemovedLocation(ctx, id, l)
	}
	return s.readable(ctx, img), nil
}

// applyChanges computes the image that changes make of old.
func (s *Service) applyChanges(ctx context.Context, old *Image, changes []Change, strictAdd bool, probes map[string]probe, removed *[]Location) (*Image, error) {
	const op errs.Op = "image.Update"
	img := old.Clone()
	a := auth.From(ctx)
	for _, c := range changes {
		k := c.Path[0]
		switch {
		case k == "locations":
			if len(c.Path) == 1 && c.Op != "replace" || len(c.Path) == 2 && c.Op == "replace" {
				return nil, errs.Errorf(op, errs.Invalid, "Invalid JSON pointer for this resource: '/%s'", strings.Join(c.Path, "/"))
			}
			if err := s.locationChange(img, c, probes, removed); err != nil {
				return nil, err
			}
			continue
		case IsReadOnly(k):
			return nil, errs.Errorf(op, errs.Forbidden, "Attribute '%s' is read-only.", k)
		case IsReserved(k):
			return nil, errs.Errorf(op, errs.Forbidden, "Attribute '%s' is reserved.", k)
		}
		// A property the caller may not read does not exist for it.
		_, isProp := img.Properties[k]
		isProp = isProp && s.allowedProp(ctx, k, "read")
		switch c.Op {
		case "remove":
			if IsCore(k) {
				return nil, errs.Errorf(op, errs.Forbidden, "Properties %s may not be removed.", k)
			}
			if !isProp {
				return nil, errs.Errorf(op, errs.Conflict, "Property %s does not exist.", k)
			}
			if !s.allowedProp(ctx, k, "delete") {
				return nil, errs.Errorf(op, errs.Forbidden, "Attribute '%s' is reserved.", k)
			}
			delete(img.Properties, k)
		case "add", "replace":
			if c.Op == "replace" && !isProp && !IsCore(k) {
				return nil, errs.Errorf(op, errs.Conflict, "Property %s does not exist.", k)
			}
			// The v2.0 dialect's add never overwrites, and core attributes always exist.
			if c.Op == "add" && strictAdd && (isProp || IsCore(k)) {
				return nil, errs.Errorf(op, errs.Conflict, "Property %s already present.", k)
			}
			if k == "owner" {
				if !a.IsAdmin {
					return nil, errs.E(op, errs.Forbidden, "Owner can't be updated by non admin.")
				}
				img.Owner = optString(c.Value)
				continue
			}
			if !IsCore(k) {
				action := "create"
				if isProp {
					action = "update"
				}
				if !s.allowedProp(ctx, k, action) {
					return nil, errs.Errorf(op, errs.Forbidden, "Attribute '%s' is reserved.", k)
				}
			}
			if err := s.set(img, k, c.Value, false); err != nil {
				return nil, errs.E(op, err)
			}
		default:
			return nil, errs.Errorf(op, errs.Invalid, "Invalid operation: `%s`", c.Op)
		}
	}
	if err := check4ByteUnicode(img); err != nil {
		return nil, errs.E(op, err)
	}
	if err := s.checkVisibilityPolicy(ctx, img, old.Visibility); err != nil {
		return nil, errs.E(op, err)
	}
	if err := s.checkQuotas(img, old); err != nil {
		return nil, errs.E(op, err)
	}
	img.UpdatedAt = s.now().UTC()
	return img, nil
}

// AddTag adds one tag; adding a present tag is a no-op.
func (s *Service) AddTag(ctx context.Context, id, tag string) error {
	const op errs.Op = "image.AddTag"
	if len(tag) > 255 || tag == "" {
		return errs.Errorf(op, errs.Invalid, "Invalid tag %q: tags are 1 to 255 characters", tag)
	}
	img, err := s.repo.Modify(ctx, id, func(img *Image) (*Image, error) {
		if err := s.checkOwned(ctx, img, "modify_image"); err != nil {
			return nil, err
		}
		if slices.Contains(img.Tags, tag) {
			return img, nil
		}
		nimg := img.Clone()
		nimg.Tags = append(nimg.Tags, tag)
		sort.Strings(nimg.Tags)
		if err := s.checkQuotas(nimg, img); err != nil {
			return nil, err
		}
		nimg.UpdatedAt = s.now().UTC()
		return nimg, nil
	})
	if err != nil {
		return errs.E(op, err)
	}
	s.notify(ctx, "image.update", img, nil)
	return nil
}

// DeleteTag removes one tag; an absent tag is NotFound.
func (s *Service) DeleteTag(ctx context.Context, id, tag string) error {
	const op errs.Op = "image.DeleteTag"
	img, err := s.repo.Modify(ctx, id, func(img *Image) (*Image, error) {
		if err := s.checkOwned(ctx, img, "modify_image"); err != nil {
			return nil, err
		}
		i := slices.Index(img.Tags, tag)
		if i < 0 {
			return nil, errs.Errorf(op, errs.NotFound, "Tag %s not found", tag)
		}
		img.Tags = slices.Delete(img.Tags, i, i+1)
		img.UpdatedAt = s.now().UTC()
		return img, nil
	})
	if err != nil {
		return errs.E(op, err)
	}
	s.notify(ctx, "image.update", img, nil)
	return nil
}

// unredactLocations puts back the stored URL wherever a location change
// names an image's location in the form the API shows it (credentials
// hidden, store.Redact), so that a client can send back the list it read.
func unredactLocations(img *Image, changes []Change) []Change {
	shown := map[string]string{}
	for _, l := range img.Locations {
		if r := store.Redact(l.URL); r != l.URL {
			shown[r] = l.URL
		}
	}
	if len(shown) == 0 {
		return changes
	}
	fix := func(v any) any {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		u, _ := m["url"].(string)
		if stored, ok := shown[u]; ok {
			m = maps.Clone(m)
			m["url"] = stored
		}
		return m
	}
	out := slices.Clone(changes)
	for i, c := range out {
		if c.Path[0] != "locations" {
			continue
		}
		if list, ok := c.Value.([]any); ok && c.Op == "replace" {
			l2 := make([]any, len(list))
			for j, v := range list {
				l2[j] = fix(v)
			}
			out[i].Value = l2
		} else {
			out[i].Value = fix(c.Value)
		}
	}
	return out
}
