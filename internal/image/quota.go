package image

import (
	"context"
	"io"

	"glint/internal/errs"
)

// Usage is what a project's images count against its quotas, counted as
// Glance counts it.
type Usage struct {
	StoredBytes int64 // Σ size × live locations of live images
	StagedBytes int64 // Σ size of images being staged, imported or copied
	Images      int64 // live images
	Uploading   int64 // images being uploaded, imported or copied
}

// Limits are one project's unified limits ([DEFAULT] use_keystone_limits);
// a negative value is unlimited. Sizes are in MiB, as Glance has them.
type Limits struct {
	ImageSizeTotal      int64
	ImageStageTotal     int64
	ImageCountTotal     int64
	ImageCountUploading int64
}

// LimitSource gives a project's unified limits: Keystone's (registered
// limits, overridden by the project's own), or the same ones for every
// project. A source that cannot tell (Keystone unreachable with nothing
// cached) returns an error of kind Unavailable: the request that would
// add usage is then refused, never let through unlimited.
type LimitSource interface {
	ProjectLimits(ctx context.Context, project string) (Limits, error)
}

// ProjectLimits makes fixed Limits a LimitSource: the same for every
// project ([glint_limits]).
func (l *Limits) ProjectLimits(context.Context, string) (Limits, error) { return *l, nil }

const mib = 1 << 20

// UsageRepo is what quotas need from the database. The counted variants
// decide under a per-owner lock, so concurrent requests of one project,
// on any node, cannot together overshoot a quota.
type UsageRepo interface {
	// Usage counts owner's live images ("" is the images without an
	// owner): killed and deleted ones count for nothing.
	Usage(ctx context.Context, owner string) (Usage, error)
	// ModifyCounted is Repo.Modify under owner's lock, fn also given
	// owner's usage by its images other than id.
	ModifyCounted(ctx context.Context, id, owner string, fn func(old *Image, others Usage) (*Image, error)) (*Image, error)
	// CreateCounted is Repo.Create under the image owner's lock, if
	// check, given that owner's usage, returns nil; else its error.
	CreateCounted(ctx context.Context, img *Image, check func(Usage) error) error
}

func ownerKey(img *Image) string {
	if img.Owner == nil {
		return ""
	}
	return *img.Owner
}

// overLimit is the error oslo.limit raises, as Glance passes it on.
func overLimit(op errs.Op, project, resource string, limit, usage, delta int64) error {
	return errs.Errorf(op, errs.TooLarge, "The request returned a 413 Request Entity Too Large. This generally means that rate "+
		"limiting or a quota threshold was breached.\n\nThe response body:\nProject %s is over a limit for "+
		"[Resource %s is over limit of %d due to current usage %d and delta %d]", project, resource, limit, usage, delta)
}

// storageFull is Glance's user_storage_quota refusal.
func storageFull(op errs.Op, size any, remaining int64) error {
	return errs.Errorf(op, errs.TooLarge, "Image exceeds the storage quota: The size of the data %v will exceed the limit. %d bytes remaining.", size, remaining)
}

// quota is what one owner's new usage is checked against: the unified
// limits of that project when they are on, else user_storage_quota.
type quota struct {
	unified *Limits // nil without use_keystone_limits
	storage int64   // user_storage_quota in bytes; 0 is unlimited
}

// quotaFor resolves the quotas of img's owner. With unified limits this
// asks the limit source, which may fail (Unavailable): the caller then
// refuses the new usage.
func (s *Service) quotaFor(ctx context.Context, op errs.Op, img *Image) (quota, error) {
	q := quota{storage: s.opts.StorageQuota}
	if s.opts.Limits == nil {
		return q, nil
	}
	l, err := s.opts.Limits.ProjectLimits(ctx, ownerKey(img))
	if err != nil {
		return q, errs.E(op, err)
	}
	q.unified = &l
	return q, nil
}

// storageLimit returns the bytes the owner may store in all, or -1.
func (q quota) storageLimit() int64 {
	switch {
	case q.unified != nil:
		if q.unified.ImageSizeTotal < 0 {
			return -1
		}
		return q.unified.ImageSizeTotal * mib
	case q.storage > 0:
		return q.storage
	}
	return -1
}

// checkStored refuses data of size bytes (-1: not yet known) that would
// take the owner's stored bytes over its quota.
func (q quota) checkStored(op errs.Op, img *Image, others Usage, size int64) error {
	limit := q.storageLimit()
	if limit < 0 {
		return nil
	}
	remaining := limit - others.StoredBytes
	if size < 0 && remaining > 0 || size >= 0 && size <= remaining {
		return nil
	}
	if q.unified != nil {
		delta := max(size, 0) / mib
		return overLimit(op, ownerKey(img), "image_size_total", q.unified.ImageSizeTotal, others.StoredBytes/mib, delta)
	}
	var sz any = size
	if size < 0 {
		sz = "None"
	}
	return storageFull(op, sz, remaining)
}

// stageLimit returns the bytes the owner may have staged in all, or -1.
func (q quota) stageLimit() int64 {
	if l := q.unified; l != nil && l.ImageStageTotal >= 0 {
		return l.ImageStageTotal * mib
	}
	return -1
}

// checkStagedBytes refuses staging size bytes (-1: not yet known) past
// image_stage_total.
func (q quota) checkStagedBytes(op errs.Op, img *Image, others Usage, size int64) error {
	limit := q.stageLimit()
	if limit < 0 {
		return nil
	}
	remaining := limit - others.StagedBytes
	if size < 0 && remaining > 0 || size >= 0 && size <= remaining {
		return nil
	}
	return overLimit(op, ownerKey(img), "image_stage_total", q.unified.ImageStageTotal, others.StagedBytes/mib, max(size, 0)/mib)
}

// countsImages reports whether image_count_total applies.
func (q quota) countsImages() bool { return q.unified != nil && q.unified.ImageCountTotal >= 0 }

// checkCount refuses a new image past image_count_total.
func (q quota) checkCount(op errs.Op, img *Image, u Usage) error {
	if l := q.unified; l != nil && l.ImageCountTotal >= 0 && u.Images+1 > l.ImageCountTotal {
		return overLimit(op, ownerKey(img), "image_count_total", l.ImageCountTotal, u.Images, 1)
	}
	return nil
}

// countsUploads reports whether image_count_uploading applies.
func (q quota) countsUploads() bool { return q.unified != nil && q.unified.ImageCountUploading >= 0 }

// checkUploading refuses one more upload past image_count_uploading.
func (q quota) checkUploading(op errs.Op, img *Image, others Usage) error {
	if l := q.unified; l != nil && l.ImageCountUploading >= 0 && others.Uploading+1 > l.ImageCountUploading {
		return overLimit(op, ownerKey(img), "image_count_uploading", l.ImageCountUploading, others.Uploading+1, 0)
	}
	return nil
}

// counting reports whether uploads are counted against any quota.
func (q quota) counting() bool { return q.storageLimit() >= 0 || q.countsUploads() }

// byteQuota is the byte quota a transfer counts against: the stored
// bytes for an upload, the staged bytes for a stage.
type byteQuota struct {
	quota
	limit int64 // bytes, or -1
	used  func(Usage) int64
	check func(op errs.Op, img *Image, others Usage, size int64) error
}

func (q quota) stored() byteQuota {
	return byteQuota{q, q.storageLimit(), func(u Usage) int64 { return u.StoredBytes }, q.checkStored}
}

func (q quota) staged() byteQuota {
	return byteQuota{q, q.stageLimit(), func(u Usage) int64 { return u.StagedBytes }, q.checkStagedBytes}
}

// beginTransfer moves img from queued to status to (saving or uploading)
// and returns the new version and body bounded by the remaining quota.
// When q or image_count_uploading applies, the move is decided under the
// owner's quota lock, refusing a known size past q and one upload too many.
func (s *Service) beginTransfer(ctx context.Context, op errs.Op, img *Image, to Status, size int64, q byteQuota, body io.Reader) (*Image, io.Reader, error) {
	next := img.Clone()
	next.Status = to
	next.UpdatedAt = s.now().UTC()
	if q.limit < 0 && !q.countsUploads() {
		return next, body, s.save(ctx, next, Queued)
	}
	var others Usage // the owner's usage by its other images
	err := s.saveCounted(ctx, next, Queued, func(o Usage) error {
		if err := q.check(op, img, o, size); err != nil {
			return err
		}
		others = o
		return q.checkUploading(op, img, o)
	})
	if err != nil || q.limit < 0 {
		return next, body, err
	}
	remaining := q.limit - q.used(others)
	return next, &quotaReader{r: body, remaining: remaining, fail: func() error { return q.check(op, img, others, remaining+1) }}, nil
}

// saveCounted is save with check deciding under the owner's quota lock.
func (s *Service) saveCounted(ctx context.Context, img *Image, from Status, check func(others Usage) error) error {
	_, err := s.repo.ModifyCounted(ctx, img.ID, ownerKey(img), func(old *Image, others Usage) (*Image, error) {
		if old.Status != from {
			return nil, errs.Errorf("image.save", errs.Conflict, "Image status transition from %s to %s is not allowed", old.Status, img.Status)
		}
		if err := check(others); err != nil {
			return nil, err
		}
		return img, nil
	})
	return err
}

// UsageEntry is one quota's usage and limit, as /v2/info/usage shows it.
type UsageEntry struct {
	Limit, Usage int64
}

// Usage reports the caller's project's usage against the unified limits;
// empty when they are not in use, as in Glance.
func (s *Service) Usage(ctx context.Context, project string) (map[string]UsageEntry, error) {
	const op errs.Op = "image.Usage"
	out := map[string]UsageEntry{}
	if s.opts.Limits == nil {
		return out, nil
	}
	l, err := s.opts.Limits.ProjectLimits(ctx, project)
	if err != nil {
		return nil, errs.E(op, err)
	}
	u, err := s.repo.Usage(ctx, project)
	if err != nil {
		return nil, errs.E(op, err)
	}
	out["image_size_total"] = UsageEntry{l.ImageSizeTotal, u.StoredBytes / mib}
	out["image_stage_total"] = UsageEntry{l.ImageStageTotal, u.StagedBytes / mib}
	out["image_count_total"] = UsageEntry{l.ImageCountTotal, u.Images}
	out["image_count_uploading"] = UsageEntry{l.ImageCountUploading, u.Uploading}
	return out, nil
}

// quotaReader stops an upload once it passes the owner's remaining quota,
// so an oversized upload of unknown length fails early instead of after
// all of it is written.
type quotaReader struct {
	r         io.Reader
	remaining int64
	fail      func() error
}

func (q *quotaReader) Read(p []byte) (int, error) {
	n, err := q.r.Read(p)
	q.remaining -= int64(n)
	if q.remaining < 0 {
		return n, q.fail()
	}
	return n, err
}
