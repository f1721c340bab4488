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
	if err := s.save(ctx, nimg, from); err != nil {
		return err
	}
	// Glance 25.1 sends no image.deactivate or image.reactivate: the
	// status change is an image.update.
	s.notify(ctx, "image.update", nimg, nil)
	return nil
}
