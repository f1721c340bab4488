package image

import (
	"context"

	"glint/internal/errs"
	"glint/internal/store"
)

// Delete removes an image and its data.
func (s *Service) Delete(ctx context.Context, id string) error {
	const op errs.Op = "image.Delete"
	img, err := s.getOwned(ctx, id, "delete_image")
	if err != nil {
		return errs.E(op, err)
	}
	if img.Protected {
		return errs.Errorf(op, errs.Forbidden, "Image %s is protected and cannot be deleted.", id)
	}
	if s.opts.DelayedDelete && len(img.ActiveLocations()) > 0 {
		// The data stays until the scrubber's scrub_time has passed.
		if _, err := s.repo.DeletePending(ctx, id); err != nil {
			return err
		}
		s.dropStaged(ctx, id)
		gone := img.Clone()
		gone.Status = PendingDelete
		s.notifyDeleted(ctx, gone)
		return nil
	}
	// Data cloned outside Glint (an RBD snapshot Nova or Cinder uses)
	// cannot go: refuse before the record does, as Glance does.
	if err := s.refuseInUse(ctx, op, id, img.ActiveLocations(), "Image %s could not be deleted because it is in use: %s"); err != nil {
		return err
	}
	deleted, err := s.repo.Delete(ctx, id)
	if err != nil {
		return err
	}
	s.dropStaged(ctx, id)
	gone := deleted.Clone()
	gone.Status = Deleted
	s.notifyDeleted(ctx, gone)
	// The row is gone first: an upload racing this delete then fails its
	// final compare-and-set and removes its own data.
	for _, l := range deleted.Locations {
		s.deleteRemovedLocation(ctx, id, l)
	}
	return nil
}

// refuseInUse is a Conflict, worded by format (the image's ID and
// glance_store's words), when the data of one of locs is in use outside
// Glint; a store that cannot tell is an error too, so that nothing is
// changed that the store might then refuse.
func (s *Service) refuseInUse(ctx context.Context, op errs.Op, id string, locs []Location, format string) error {
	for _, l := range locs {
		st, err := s.stores.For(l.URL)
		if err != nil {
			continue // no store of this node serves it: nothing to delete
		}
		used, err := st.InUse(ctx, l.URL)
		switch {
		case errs.Is(errs.NotFound, err):
		case err != nil:
			return errs.E(op, err)
		case used:
			return errs.Errorf(op, errs.Conflict, format, id, store.InUseMessage)
		}
	}
	return nil
}

// dropStaged removes what the node's staging area holds for a deleted
// image. (Staged data on another node is that node's sweep's to remove.)
func (s *Service) dropStaged(ctx context.Context, id string) {
	if s.opts.Staging != nil {
		s.opts.Staging.Drop(context.WithoutCancel(ctx), id)
	}
}

// DeleteData removes one location's data of image id from its store, as
// deleting the image would; failures are logged.
func (s *Service) DeleteData(ctx context.Context, id, loc string) { s.deleteData(ctx, id, loc) }

// deleteData removes one location's data from its store. Failures are
// logged: the data is then orphaned, the image already without it.
func (s *Service) deleteData(ctx context.Context, id, loc string) {
	ctx = context.WithoutCancel(ctx)
	st, err := s.stores.For(loc)
	if err == nil && st.ReadOnly() {
		return // a read-only store's data (an http location) is not Glint's to delete
	}
	if err == nil {
		err = st.Delete(ctx, loc)
	}
	if err != nil && !errs.Is(errs.NotFound, err) {
		s.log.ErrorContext(ctx, "could not delete image data; it is orphaned", "image_id", id, "location", store.Redact(loc), "err", err)
	}
}
