package image

import (
	"context"
	"fmt"

	"glint/internal/auth"
	"glint/internal/errs"
)

// allowedProp applies the property protections to one custom property.
func (s *Service) allowedProp(ctx context.Context, prop, op string) bool {
	return s.opts.Protections == nil || s.opts.Protections.Allowed(ctx, prop, op)
}

// readable returns img as the caller may read it: properties that the
// protections hide from it are left out (of a copy; img is unchanged).
func (s *Service) readable(ctx context.Context, img *Image) *Image {
	img = s.withStores(img)
	if s.opts.Protections == nil {
		return img
	}
	out := img
	for k := range img.Properties {
		if !s.allowedProp(ctx, k, "read") {
			if out == img {
				out = img.Clone()
			}
			delete(out.Properties, k)
		}
	}
	return out
}

// checkVisible hides, as NotFound, an image the caller may not see.
func (s *Service) checkVisible(ctx context.Context, img *Image) error {
	const op errs.Op = "image.checkVisible"
	m := s.membership(ctx, img) // one lookup serves both checks
	if !visible(auth.From(ctx), img, m) {
		return errs.E(op, errs.NotFound, fmt.Sprintf("No image found with ID %s", img.ID))
	}
	if err := s.authz.Authorize(ctx, "get_image", imageTarget(img, m)); err != nil {
		return errs.E(op, errs.NotFound, fmt.Sprintf("No image found with ID %s", img.ID), err)
	}
	return nil
}

// visible is Glance's single-image visibility rule: a shared image is
// visible to its members (m, the caller's membership) whatever their
// membership status.
func visible(a *auth.Context, img *Image, m *Member) bool {
	switch {
	case a.IsAdmin, img.Owner == nil, img.Visibility == Public, img.Visibility == Community:
		return true
	case a.ProjectID != "" && *img.Owner == a.ProjectID:
		return true
	}
	return img.Visibility == Shared && m != nil
}

// target is imageTarget for the caller in ctx.
func (s *Service) target(ctx context.Context, img *Image) map[string]any {
	return imageTarget(img, s.membership(ctx, img))
}

// imageTarget is the dict Glance's ImageTarget gives oslo.policy for img:
// its attributes and custom properties, with project_id for the owner and
// member_id for the caller's membership m, if any.
func imageTarget(img *Image, m *Member) map[string]any {
	t := make(map[string]any, len(img.Properties)+16)
	for k, v := range img.Properties {
		t[k] = v
	}
	opt := func(p *string) any {
		if p == nil {
			return nil
		}
		return *p
	}
	t["id"], t["name"], t["status"], t["visibility"] = img.ID, opt(img.Name), string(img.Status), img.Visibility
	t["owner"], t["project_id"] = opt(img.Owner), opt(img.Owner)
	t["protected"], t["os_hidden"] = img.Protected, img.OSHidden
	t["disk_format"], t["container_format"] = opt(img.DiskFormat), opt(img.ContainerFormat)
	t["member_id"] = nil
	if m != nil {
		t["member_id"] = m.MemberID
	}
	return t
}

// authorize enforces a policy action on an image. As Glance does, a
// refusal on an image the caller may not even read is a 404, so that the
// answer does not reveal that the image exists.
func (s *Service) authorize(ctx context.Context, action string, img *Image) error {
	t := s.target(ctx, img)
	err := s.authz.Authorize(ctx, action, t)
	if err == nil || action == "get_image" {
		return err
	}
	if s.authz.Authorize(ctx, "get_image", t) != nil {
		return errs.E(errs.Op("image.authorize"), errs.NotFound, fmt.Sprintf("No image found with ID %s", img.ID), err)
	}
	return err
}

func (s *Service) checkVisibilityPolicy(ctx context.Context, img *Image, old string) error {
	if img.Visibility == old {
		return nil
	}
	switch img.Visibility {
	case Public:
		return s.authorize(ctx, "publicize_image", img)
	case Community:
		return s.authorize(ctx, "communitize_image", img)
	}
	return nil
}

// Fetch returns an image the caller may see with every property, for
// the domain's own work (the importer's); others are NotFound. What it
// returns is not for the caller to read: Get is.
func (s *Service) Fetch(ctx context.Context, id string) (*Image, error) { return s.get(ctx, id) }

// Authorize enforces a policy action on an image; refused on an image
// the caller may not even read, it is NotFound.
func (s *Service) Authorize(ctx context.Context, action string, img *Image) error {
	return s.authorize(ctx, action, img)
}

// AuthorizeOwner is Authorize plus the ownership check Glance hard-codes
// when new RBAC defaults are off.
func (s *Service) AuthorizeOwner(ctx context.Context, action string, img *Image) error {
	return s.authorizeOwner(ctx, action, img)
}

// AuthorizeAction enforces a policy action on a target that is no image
// (the tasks API's).
func (s *Service) AuthorizeAction(ctx context.Context, action string, target map[string]any) error {
	return s.authz.Authorize(ctx, action, target)
}

// getOwned returns an image the caller may change with action.
func (s *Service) getOwned(ctx context.Context, id, action string) (*Image, error) {
	img, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeOwner(ctx, action, img); err != nil {
		return nil, err
	}
	return img, nil
}

// checkOwned is getOwned's checks on an image already read, such as the
// locked row inside Modify: visible to the caller, and theirs to change.
func (s *Service) checkOwned(ctx context.Context, img *Image, action string) error {
	if err := s.checkVisible(ctx, img); err != nil {
		return err
	}
	return s.authorizeOwner(ctx, action, img)
}

// authorizeOwner applies a policy action plus the ownership check Glance
// hard-codes when new RBAC defaults are off: only the owner or an admin.
func (s *Service) authorizeOwner(ctx context.Context, action string, img *Image) error {
	const op errs.Op = "image.authorizeOwner"
	if err := s.authorize(ctx, action, img); err != nil {
		return err
	}
	a := auth.From(ctx)
	if a.ReadOnly {
		return errs.E(op, errs.Forbidden, "Read-only access")
	}
	if !a.MayChangeRef(img.Owner) {
		return errs.E(op, errs.Forbidden, "You do not own this image")
	}
	return nil
}
