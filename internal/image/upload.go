package image

import (
	"context"
	"errors"
	"fmt"
	"io"

	"glint/internal/errs"
	"glint/internal/imageformat"
	"glint/internal/store"
)

// Upload streams data into target, or into the default store when target
// is nil: queued → saving → active, hashing and inspecting as it writes.
// size is the announced length, or -1; a read-only target is Invalid. On
// any failure the data is removed and the image returns to queued, as
// Glance does.
func (s *Service) Upload(ctx context.Context, id string, target *store.Store, body io.Reader, size int64) error {
	const op errs.Op = "image.Upload"
	if target == nil {
		target = s.stores.Default()
	} else if target.ReadOnly() {
		return errs.Errorf(op, errs.Invalid, "Store %s is read-only", target.Name)
	}
	img, err := s.getOwned(ctx, id, "upload_image")
	if err != nil {
		return errs.E(op, err)
	}
	if img.Status != Queued {
		return errs.Errorf(op, errs.Conflict, "Image status transition from %s to saving is not allowed", img.Status)
	}
	if img.DiskFormat == nil || img.ContainerFormat == nil {
		return errs.E(op, errs.Invalid, "Properties disk_format, container_format must be set prior to saving data.")
	}
	limit := s.opts.ImageSizeCap
	if size > limit {
		return errs.Errorf(op, errs.TooLarge, "The incoming image is too large: %d bytes, and the limit is %d.", size, limit)
	}
	if size >= 0 && size < limit {
		limit = size
	}

	q, err := s.quotaFor(ctx, op, img)
	if err != nil {
		return err
	}
	saving, src, err := s.beginTransfer(ctx, op, img, Saving, size,
		q.stored(), &capReader{r: body, n: limit, announced: size, cap: s.opts.ImageSizeCap})
	if err != nil {
		return err
	}
	s.notify(ctx, "image.update", saving, nil)
	backend := ""
	if s.opts.MultiStore {
		backend = target.Name
	}
	s.notifyImport(ctx, "image.prepare", saving, backend)
	defer s.heartbeat(ctx, id)()

	w, err := target.Write(ctx, id, src, size, s.opts.HashingAlgorithm)
	if err != nil {
		return s.failUpload(ctx, saving, err)
	}
	// As Glance does, only bare images are inspected: a container's content
	// is not a disk.
	inspected := *img.ContainerFormat == "bare"
	if inspected {
		if cerr := imageformat.Check(w.Format, *img.DiskFormat); cerr != nil {
			s.deleteWritten(ctx, id, target, w.Location)
			// Glance answers a format or safety failure with 415.
			return s.failUpload(ctx, saving, errs.E(op, errs.BadFormat, errs.Message(cerr), cerr))
		}
	}

	done := saving.Clone()
	done.Status = Active
	done.Size = &w.Size
	done.Checksum, done.OSHashAlgo, done.OSHashValue = &w.Checksum, &w.HashAlgo, &w.HashValue
	if vs := w.Format.VirtualSizeFor(*done.DiskFormat); inspected && vs > 0 {
		done.VirtualSize = &vs
	}
	done.Locations = append(done.Locations, Location{URL: w.Location, Metadata: s.storeMetadata(target.Name), Status: "active"})
	done.UpdatedAt = s.now().UTC()
	if q.counting() {
		// Decided under the owner's quota lock: uploads racing each other
		// cannot together take the project past its quota.
		err = s.saveCounted(context.WithoutCancel(ctx), done, Saving, func(o Usage) error { return q.checkStored(op, img, o, w.Size) })
	} else {
		err = s.save(context.WithoutCancel(ctx), done, Saving)
	}
	if err != nil {
		s.deleteWritten(ctx, id, target, w.Location)
		if errs.Is(errs.TooLarge, err) {
			return s.failUpload(ctx, saving, err)
		}
		if errs.Is(errs.NotFound, err) || errs.Is(errs.Conflict, err) {
			return errs.E(op, errs.Gone, "Image was deleted or changed while its data was being uploaded", err)
		}
		return s.failUpload(ctx, saving, err)
	}
	s.notifyImport(ctx, "image.upload", done, "")
	s.notify(ctx, "image.activate", done, nil)
	s.notify(ctx, "image.update", done, nil)
	return nil
}

// SizeCap is image_size_cap: no image's data may be larger.
func (s *Service) SizeCap() int64 { return s.opts.ImageSizeCap }

// HashingAlgorithm is hashing_algorithm: how image data is hashed.
func (s *Service) HashingAlgorithm() string { return s.opts.HashingAlgorithm }

// CapReader fails reading r past image_size_cap (TooLarge).
func (s *Service) CapReader(r io.Reader) io.Reader {
	return &capReader{r: r, n: s.opts.ImageSizeCap, announced: -1, cap: s.opts.ImageSizeCap}
}

// deleteWritten removes data just written to st that no image will have.
func (s *Service) deleteWritten(ctx context.Context, id string, st *store.Store, loc string) {
	if err := st.Delete(context.WithoutCancel(ctx), loc); err != nil {
		s.log.ErrorContext(ctx, "could not delete image data; it is orphaned", "image_id", id, "location", store.Redact(loc), "err", err)
	}
}

// failUpload puts a saving image back to queued and explains the failure.
func (s *Service) failUpload(ctx context.Context, saving *Image, cause error) error {
	const op errs.Op = "image.Upload"
	ctx = context.WithoutCancel(ctx)
	back := saving.Clone()
	back.Status = Queued
	back.Size, back.VirtualSize = nil, nil
	back.UpdatedAt = s.now().UTC()
	s.notifyUploadFailed(ctx, fmt.Sprintf("Failed to upload image data for image %s: %s", saving.ID, errs.Message(cause)))
	if err := s.save(ctx, back, Saving); err != nil {
		if errs.Is(errs.NotFound, err) {
			return errs.E(op, errs.Gone, "Image was deleted while its data was being uploaded", cause)
		}
		s.log.ErrorContext(ctx, "could not return image to queued after a failed upload", "image_id", saving.ID, "err", err)
	} else {
		s.notify(ctx, "image.update", back, nil)
	}
	s.log.WarnContext(ctx, "upload failed; image returned to queued", "image_id", saving.ID, "err", cause)
	if errs.KindOf(cause) == errs.Other {
		return errs.E(op, errs.Unavailable, "Error in store configuration. Adding images to store is disabled.", cause)
	}
	return errs.E(op, cause)
}

// capReader enforces the announced size and image_size_cap while streaming.
type capReader struct {
	r         io.Reader
	n         int64 // bytes still allowed
	announced int64
	cap       int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		// One byte more tells an over-long body from an exact one.
		var one [1]byte
		m, err := c.r.Read(one[:])
		if m > 0 {
			if c.announced >= 0 && c.announced < c.cap {
				return 0, errs.Errorf("image.Upload", errs.Invalid, "Image size mismatch: more than the %d bytes announced", c.announced)
			}
			return 0, errs.Errorf("image.Upload", errs.TooLarge, "The incoming image is too large: the limit is %d bytes", c.cap)
		}
		return 0, err
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	m, err := c.r.Read(p)
	c.n -= int64(m)
	if err != nil && !errors.Is(err, io.EOF) {
		return m, errs.E(errs.Op("image.Upload"), errs.Invalid, "The client stopped sending image data", err)
	}
	return m, err
}
