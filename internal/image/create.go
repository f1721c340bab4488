package image

import (
	"context"

	"github.com/google/uuid"

	"glint/internal/auth"
	"glint/internal/errs"
)

// Create makes a new queued image from attributes already validated
// against the image schema (JSON-decoded values).
func (s *Service) Create(ctx context.Context, attrs map[string]any) (*Image, error) {
	const op errs.Op = "image.Create"
	a := auth.From(ctx)
	now := s.now().UTC()
	img := &Image{
		ID:         uuid.NewString(),
		Status:     Queued,
		Visibility: Shared,
		CreatedAt:  now,
		UpdatedAt:  now,
		Properties: map[string]string{},
	}
	if !a.IsAdmin && a.ProjectID == "" {
		// Glance would make an ownerless image that no one but an admin
		// could then change; Glint refuses (docs/api.md).
		return nil, errs.E(op, errs.Forbidden, "You are not permitted to create images without a project.")
	}
	if a.ProjectID != "" {
		p := a.ProjectID
		img.Owner = &p
	}
	for k, v := range attrs {
		switch {
		case IsReserved(k):
			return nil, errs.Errorf(op, errs.Forbidden, "Attribute '%s' is reserved.", k)
		case k == "os_hash_algo" || k == "os_hash_value":
			// Glance 25.1 accepts these on create and drops them.
		case k == "id":
			id, _ := v.(string)
			if _, err := uuid.Parse(id); err != nil {
				return nil, errs.Errorf(op, errs.Invalid, "Invalid image id %q", id)
			}
			img.ID = id
		case IsReadOnly(k):
			return nil, errs.Errorf(op, errs.Forbidden, "Attribute '%s' is read-only.", k)
		case k == "owner":
			o, ok := v.(string)
			if !ok {
				o = "None" // Glance prints the missing owner as Python's None
			}
			if !a.IsAdmin && (!ok || o != a.ProjectID) {
				return nil, errs.Errorf(op, errs.Forbidden, "You are not permitted to create images owned by '%s'.", o)
			}
			img.Owner = optString(v)
		default:
			if err := s.set(img, k, v, true); err != nil {
				return nil, errs.E(op, err)
			}
		}
	}
	if err := check4ByteUnicode(img); err != nil {
		return nil, errs.E(op, err)
	}
	for k := range img.Properties {
		if !s.allowedProp(ctx, k, "create") {
			return nil, errs.Errorf(op, errs.Forbidden, "Attribute '%s' is reserved.", k)
		}
	}
	if err := s.checkVisibilityPolicy(ctx, img, ""); err != nil {
		return nil, errs.E(op, err)
	}
	if err := s.authz.Authorize(ctx, "add_image", s.target(ctx, img)); err != nil {
		return nil, errs.E(op, err)
	}
	if err := s.checkQuotas(img, nil); err != nil {
		return nil, errs.E(op, err)
	}
	q, err := s.quotaFor(ctx, op, img)
	if err != nil {
		return nil, err
	}
	if q.countsImages() {
		err := s.repo.CreateCounted(ctx, img, func(u Usage) error { return q.checkCount(op, img, u) })
		if err != nil {
			return nil, err
		}
	} else if err := s.repo.Create(ctx, img); err != nil {
		return nil, err
	}
	s.notify(ctx, "image.create", img, nil)
	return s.readable(ctx, img), nil
}
