package image

import (
	"context"

	"glint/internal/errs"
)

// SetActive deactivates (active=false) or reactivates an image.
func (s *Service) SetActive(ctx context.Context, id string, active bool) error {
	const op errs.Op = "image.SetActive"
	img, err := s.get(ctx, id)
	if err != nil {
		return err
	}
	action, want, from := "deactivate", Deactivated, Active
	if active {
		action, want, from = "reactivate", Active, Deactivated
	}
	if err := s.authorizeOwner(ctx, action, img); err != nil {
		return errs.E(op, err)
	}
	switch img.Status {
	case want:
		return nil
	case from:
	default:
		return errs.Errorf(op, errs.Forbidden, "Not allowed to %s image in status '%s'", action, img.Status)
	}
	nimg := img.Clone()
	nimg.Status = want
	nimg.UpdatedAt = s.now().UTC()
	return s.save(ctx, nimg, from)
}
