package image

import (
	"context"
	"time"

	"glint/internal/errs"
	"glint/internal/store"
)

// ScrubRepo is what delayed delete and the scrubber need from the database.
type ScrubRepo interface {
	// DeletePending is Repo.Delete under delayed_delete: the image and
	// its locations become pending_delete.
	DeletePending(ctx context.Context, id string) (*Image, error)
	// ScrubQueue returns up to limit pending_delete images deleted no
	// later than before, oldest deletion first, each with (only) its
	// pending locations' ID, URL and status.
	ScrubQueue(ctx context.Context, before time.Time, limit int) ([]*Image, error)
	// LocationScrubbed records that a pending location's data is gone.
	LocationScrubbed(ctx context.Context, locID int64) error
	// Scrubbed moves a pending_delete image to deleted; it leaves any
	// other image as it is.
	Scrubbed(ctx context.Context, id string) error
	// Restore makes a pending_delete image active again with what was
	// deleted with it; errs.Conflict for an image in any other status,
	// errs.NotFound for an unknown one.
	Restore(ctx context.Context, id string) error
	// StaleUploads returns the live images in saving whose updated_at is
	// before before, least recent first.
	StaleUploads(ctx context.Context, before time.Time) ([]*Image, error)
	// Touch sets an image's updated_at to now if it is still in status.
	Touch(ctx context.Context, id string, status Status) error
}

// ScrubReport says what one scrubber pass did.
type ScrubReport struct {
	Scrubbed  int // pending_delete images whose data is now gone
	Failed    int // images left pending_delete because a location failed
	Recovered int // uploads abandoned by a dead node, returned to queued
}

// Scrub is one pass of the scrubber (glance-scrubber): it removes the data
// of images deleted under delayed_delete at least scrubTime ago, and
// returns to queued the images whose upload stopped showing signs of
// life staleAfter ago (their node died), removing what they had written.
func (s *Service) Scrub(ctx context.Context, scrubTime, staleAfter time.Duration) (ScrubReport, error) {
	const op errs.Op = "image.Scrub"
	var rep ScrubReport
	now := s.now()
	for {
		imgs, err := s.repo.ScrubQueue(ctx, now.Add(-scrubTime), 200)
		if err != nil {
			return rep, errs.E(op, err)
		}
		progress := false
		for _, img := range imgs {
			if s.scrubImage(ctx, img) {
				rep.Scrubbed++
				progress = true
			} else {
				rep.Failed++
			}
		}
		// A page of failures would come back unchanged: stop there.
		if len(imgs) < 200 || !progress {
			break
		}
	}
	if staleAfter > 0 {
		n, err := s.RecoverStaleUploads(ctx, staleAfter)
		rep.Recovered += n
		if err != nil {
			return rep, errs.E(op, err)
		}
	}
	return rep, nil
}

func (s *Service) scrubImage(ctx context.Context, img *Image) bool {
	ok := true
	for _, l := range img.Locations {
		st, err := s.stores.For(l.URL)
		if err == nil && s.keepData(ctx, img.ID, l.URL, st) {
			st = nil // recorded as scrubbed, the data left in place
		}
		if err == nil && st != nil {
			err = st.Delete(ctx, l.URL)
		}
		if err != nil && !errs.Is(errs.NotFound, err) {
			s.log.WarnContext(ctx, "scrubber could not delete image data; will retry", "image_id", img.ID, "location", store.Redact(l.URL), "err", err)
			ok = false
			continue
		}
		if err := s.repo.LocationScrubbed(ctx, l.ID); err != nil {
			s.log.WarnContext(ctx, "scrubber could not record a deleted location", "image_id", img.ID, "err", err)
			ok = false
		}
	}
	if ok {
		if err := s.repo.Scrubbed(ctx, img.ID); err != nil {
			s.log.WarnContext(ctx, "scrubber could not mark the image deleted", "image_id", img.ID, "err", err)
			return false
		}
		s.log.InfoContext(ctx, "image scrubbed", "image_id", img.ID, "locations", len(img.Locations))
	}
	return ok
}

// recoverUpload removes what a dead upload wrote and returns its image
// to queued, if it is still saving without a sign of life since cutoff.
func (s *Service) recoverUpload(ctx context.Context, img *Image, cutoff time.Time) bool {
	// The partial data goes first: while the image is saving no other
	// upload can start and write there.
	for _, st := range s.stores.Stores() {
		if err := st.RemovePartial(ctx, img.ID); err != nil {
			s.log.WarnContext(ctx, "could not remove a dead upload's partial data", "image_id", img.ID, "store", st.Name, "err", err)
			return false
		}
	}
	_, err := s.repo.Modify(ctx, img.ID, func(old *Image) (*Image, error) {
		if old.Status != Saving || !old.UpdatedAt.Before(cutoff) {
			return nil, errs.E(errs.Conflict, "upload came back to life")
		}
		old.Status = Queued
		old.Size, old.VirtualSize, old.Checksum, old.OSHashAlgo, old.OSHashValue = nil, nil, nil, nil, nil
		old.UpdatedAt = s.now().UTC()
		return old, nil
	})
	if err != nil {
		return false
	}
	s.log.WarnContext(ctx, "upload abandoned by its node; image returned to queued", "image_id", img.ID)
	return true
}

// Restore brings an image deleted under delayed_delete back to active,
// before the scrubber has removed its data.
func (s *Service) Restore(ctx context.Context, id string) error {
	return s.repo.Restore(ctx, id)
}

// heartbeat keeps an upload's image visibly alive for the scrubber until
// stop is called.
// heartbeat marks an upload alive until stop is called: in this node's
// upload log at once, then every UploadHeartbeat in the database too (for
// the other nodes' stale-upload sweep) and in the log. stop ends both.
func (s *Service) heartbeat(ctx context.Context, id string) (stop func()) {
	if err := s.uploads.begin(id); err != nil {
		s.log.WarnContext(ctx, "could not record an upload in this node's upload log", "image_id", id, "err", err)
	}
	every := s.opts.UploadHeartbeat
	if every <= 0 {
		return func() { s.uploads.end(id) }
	}
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := s.repo.Touch(context.WithoutCancel(ctx), id, Saving); err != nil {
					s.log.WarnContext(ctx, "upload heartbeat failed", "image_id", id, "err", err)
				}
				s.uploads.alive(id)
			}
		}
	}()
	return func() {
		close(done)
		<-exited // a last alive() must not recreate the log's file
		s.uploads.end(id)
	}
}
