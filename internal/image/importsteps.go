package image

import (
	"context"
	"io"

	"glint/internal/errs"
)

// The image service's side of an interoperable import: the status
// changes and quota checks the importer asks for. The importer drives
// them; the rules stay here.

// Image properties Glance keeps during an import.
const (
	PropImportTask      = "os_glance_import_task"
	PropImportingStores = "os_glance_importing_to_stores"
	PropFailedImport    = "os_glance_failed_import"
	PropStageHost       = "os_glance_stage_host"
)

// StagedData is what the service needs from the node's staging area:
// the data staged for an image goes with the image.
type StagedData interface {
	// Drop removes whatever is staged for image id; failures are logged.
	Drop(ctx context.Context, id string)
}

// BeginStage moves an image the caller may modify from queued to
// uploading, as PUT /v2/images/{id}/stage starts; size is the announced
// length, or -1. It returns the image as it was and body bounded by
// image_size_cap, the announced size and the staging quota.
func (s *Service) BeginStage(ctx context.Context, id string, body io.Reader, size int64) (*Image, io.Reader, error) {
	const op errs.Op = "image.Stage"
	img, err := s.getOwned(ctx, id, "modify_image")
	if err != nil {
		return nil, nil, errs.E(op, err)
	}
	if img.Status != Queued {
		return nil, nil, errs.Errorf(op, errs.Conflict, "Image status transition from %s to uploading is not allowed", img.Status)
	}
	limit := s.opts.ImageSizeCap
	if size > limit {
		return nil, nil, errs.Errorf(op, errs.TooLarge, "The incoming image is too large: %d bytes, and the limit is %d.", size, limit)
	}
	if size >= 0 && size < limit {
		limit = size
	}
	q, err := s.quotaFor(ctx, op, img)
	if err != nil {
		return nil, nil, err
	}
	uploading, body, err := s.beginTransfer(ctx, op, img, Uploading, size,
		q.staged(), &capReader{r: body, n: limit, announced: size, cap: s.opts.ImageSizeCap})
	if err != nil {
		return nil, nil, errs.E(op, err)
	}
	s.notify(ctx, "image.update", uploading, nil)
	return img, body, nil
}

// EndStage records the written bytes staged for img (as BeginStage
// returned it), and host, the node holding them, unless "". It is
// decided under the owner's quota lock when staging is counted, so that
// stages racing each other cannot together pass image_stage_total.
func (s *Service) EndStage(ctx context.Context, img *Image, written int64, host string) error {
	const op errs.Op = "image.Stage"
	q, err := s.quotaFor(ctx, op, img)
	if err != nil {
		return err
	}
	staged, err := s.repo.ModifyCounted(context.WithoutCancel(ctx), img.ID, ownerKey(img), func(cur *Image, o Usage) (*Image, error) {
		if cur.Status != Uploading {
			return nil, errs.Errorf(op, errs.Conflict, "Image status transition from %s to uploading is not allowed", cur.Status)
		}
		if err := q.checkStagedBytes(op, img, o, written); err != nil {
			return nil, err
		}
		done := cur.Clone()
		done.Size = &written
		if host != "" {
			done.Properties[PropStageHost] = host
		}
		done.UpdatedAt = s.now().UTC()
		return done, nil
	})
	if err != nil {
		return err
	}
	s.notify(ctx, "image.update", staged, nil)
	return nil
}

// AbandonStage puts an image whose stage failed back to queued.
func (s *Service) AbandonStage(ctx context.Context, id string) error {
	const op errs.Op = "image.Stage"
	back, err := s.repo.Modify(context.WithoutCancel(ctx), id, func(cur *Image) (*Image, error) {
		if cur.Status != Uploading {
			return nil, errs.Errorf(op, errs.Conflict, "image is %s", cur.Status)
		}
		back := cur.Clone()
		back.Status, back.Size, back.VirtualSize = Queued, nil, nil
		back.UpdatedAt = s.now().UTC()
		return back, nil
	})
	if err != nil {
		return err
	}
	s.notify(ctx, "image.update", back, nil)
	return nil
}

// ImportCharge is what an import counts against its owner's quotas as it
// starts (Glance's checks): glance-direct adds the staged size to
// image_size_total (Glint: once per target store, as each copy counts);
// web-download and copy-image use staging space (image_stage_total) and
// count as uploading (image_count_uploading).
type ImportCharge struct {
	// StoredCopies is how many times the image's size counts against
	// the stored bytes; 0: not at all.
	StoredCopies int
	// Staged counts the image's size against image_stage_total and one
	// more upload against image_count_uploading.
	Staged bool
}

// StartImport applies take to the image with its row locked as an import
// of img starts. When quotas count, it is decided under the owner's quota
// lock, charge checked first: the image starts to count as uploading
// (os_glance_importing_to_stores for a copy).
func (s *Service) StartImport(ctx context.Context, img *Image, charge ImportCharge, take func(cur *Image) (*Image, error)) error {
	const op errs.Op = "image.Import"
	q, err := s.quotaFor(ctx, op, img)
	if err != nil {
		return err
	}
	if q.counting() || q.stageLimit() >= 0 {
		taken, err := s.repo.ModifyCounted(ctx, img.ID, ownerKey(img), func(cur *Image, o Usage) (*Image, error) {
			if err := q.checkImportCharge(op, cur, charge, o); err != nil {
				return nil, err
			}
			return take(cur)
		})
		if err == nil {
			s.notify(ctx, "image.update", taken, nil)
		}
		return err
	}
	taken, err := s.repo.Modify(ctx, img.ID, take)
	if err == nil {
		s.notify(ctx, "image.update", taken, nil)
	}
	return err
}

func (q quota) checkImportCharge(op errs.Op, img *Image, c ImportCharge, o Usage) error {
	var size int64
	if img.Size != nil {
		size = *img.Size
	}
	switch {
	case c.StoredCopies > 0:
		return q.checkStored(op, img, o, size*int64(c.StoredCopies))
	case c.Staged:
		if err := q.checkStagedBytes(op, img, o, size); err != nil {
			return err
		}
		return q.checkUploading(op, img, o)
	}
	return nil
}
