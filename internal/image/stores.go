package image

import (
	"context"

	"glint/internal/errs"
)

// DeleteFromStore removes an image's data from one of its stores
// (DELETE /v2/stores/{store_id}/{image_id}), keeping the image and its
// other copies, with Glance's rules: the image must be active and have
// data elsewhere too.
func (s *Service) DeleteFromStore(ctx context.Context, storeName, id string) error {
	const op errs.Op = "image.DeleteFromStore"
	if _, err := s.stores.Named(storeName); err != nil {
		return errs.Errorf(op, errs.Conflict, "The selected store %s is not available on this node.", storeName)
	}
	img, err := s.getOwned(ctx, id, "delete_image_location")
	if err != nil {
		return errs.E(op, err)
	}
	if img.Status != Active {
		return errs.E(op, errs.Conflict, "It's not allowed to remove image data from store if image status is not 'active'")
	}
	locs := img.ActiveLocations()
	if len(locs) == 1 {
		return errs.E(op, errs.Forbidden, "Cannot delete image data from the only store containing it. Consider deleting the image instead.")
	}
	updated := img.Clone()
	removed := ""
	updated.Locations = updated.Locations[:0]
	for _, l := range img.Locations {
		inStore := l.Metadata["store"] == storeName || (l.Metadata["store"] == nil && s.stores.NameFor(l.URL) == storeName)
		if removed == "" && (l.Status == "" || l.Status == "active") && inStore {
			removed = l.URL
			continue
		}
		updated.Locations = append(updated.Locations, l)
	}
	if removed == "" {
		return errs.Errorf(op, errs.NotFound, "Image %s is not stored in store %s.", id, storeName)
	}
	updated.UpdatedAt = s.now().UTC()
	if err := s.save(ctx, updated, Active); err != nil {
		return errs.E(op, err)
	}
	s.deleteData(ctx, id, removed)
	return nil
}
