package image

import (
	"context"

	"glint/internal/errs"
	"glint/internal/store"
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
		inStore := l.Store(s.stores) == storeName
		if removed == "" && (l.Status == "" || l.Status == "active") && inStore {
			removed = l.URL
			continue
		}
		updated.Locations = append(updated.Locations, l)
	}
	if removed == "" {
		return errs.Errorf(op, errs.NotFound, "Image %s is not stored in store %s.", id, storeName)
	}
	if err := s.refuseInUse(ctx, op, id, []Location{{URL: removed}}, "The data for Image %s could not be deleted because it is in use: %s"); err != nil {
		return err
	}
	updated.UpdatedAt = s.now().UTC()
	if err := s.save(ctx, updated, Active); err != nil {
		return errs.E(op, err)
	}
	s.notify(ctx, "image.update", updated, nil) // Glance saves the image: an image.update
	s.deleteData(ctx, id, removed)
	return nil
}

// Store is the name of the store the location is in, as Glance's
// multi-store sees it: the metadata's "store" when it names one of
// stores, else the store its URL belongs to (Glance fills that in, for
// locations an older release or an operator wrote), else what the
// metadata says, or "".
func (l Location) Store(stores *store.Set) string {
	md, _ := l.Metadata["store"].(string)
	if md != "" && stores.Has(md) {
		return md
	}
	if n := stores.NameFor(l.URL); n != "" {
		return n
	}
	return md
}

// storeMetadata is the metadata of a location the service writes to the
// named store: {"store": name} under multi-store, as glance_store's
// drivers record it, and empty otherwise.
func (s *Service) storeMetadata(name string) map[string]any {
	if !s.opts.MultiStore {
		return map[string]any{}
	}
	return map[string]any{"store": name}
}

// withStores returns img, or under multi-store a copy of it, with every
// location's "store" filled in from its URL where it is missing or names
// no store of this node, as Glance's image repository does when it reads
// an image (Glance also writes the repair back; Glint fills it in on
// every read instead).
func (s *Service) withStores(img *Image) *Image {
	if !s.opts.MultiStore {
		return img
	}
	out := img
	for i, l := range img.Locations {
		md, _ := l.Metadata["store"].(string)
		if md != "" && s.stores.Has(md) {
			continue
		}
		n := s.stores.NameFor(l.URL)
		if n == "" {
			continue
		}
		if out == img {
			out = img.Clone()
		}
		if out.Locations[i].Metadata == nil {
			out.Locations[i].Metadata = map[string]any{}
		}
		out.Locations[i].Metadata["store"] = n
	}
	return out
}
