package image

import (
	"context"
	"io"

	"glint/internal/auth"
	"glint/internal/errs"
	"glint/internal/store"
)

// DataCache is the node's image cache, as downloads see it: it serves
// img's data from offset, from its own copy or through fromStore (and
// may keep what it reads). imagecache.Cache is one.
type DataCache interface {
	Open(ctx context.Context, img *Image, offset int64, fromStore func(context.Context, int64) (io.ReadCloser, error)) (io.ReadCloser, error)
}

// Open returns a reader of the image's data from offset for a download:
// through the node's image cache when it serves downloads, otherwise
// from the first location that answers.
func (s *Service) Open(ctx context.Context, img *Image, offset int64) (io.ReadCloser, error) {
	if s.opts.Cache != nil {
		return s.opts.Cache.Open(ctx, img, offset, func(ctx context.Context, offset int64) (io.ReadCloser, error) {
			return s.OpenStore(ctx, img, offset)
		})
	}
	return s.OpenStore(ctx, img, offset)
}

// OpenStore returns a reader of the image's data from offset, from the
// first location that answers, past any cache.
func (s *Service) OpenStore(ctx context.Context, img *Image, offset int64) (io.ReadCloser, error) {
	const op errs.Op = "image.Open"
	var last error = errs.E(op, errs.NotFound, "Image has no data")
	for _, l := range img.ActiveLocations() {
		st, err := s.stores.For(l.URL)
		if err != nil {
			last = err
			continue
		}
		rc, err := st.Open(ctx, l.URL, offset)
		if err == nil {
			return rc, nil
		}
		s.log.WarnContext(ctx, "image location failed", "image_id", img.ID, "location", store.Redact(l.URL), "err", err)
		last = err
	}
	if errs.Is(errs.NotFound, last) {
		return nil, errs.E(op, errs.NotFound, "Image data not found", last)
	}
	return nil, errs.E(op, errs.Unavailable, "Image data is not available from any store", last)
}

// ForDownload returns an image whose data the caller may download.
func (s *Service) ForDownload(ctx context.Context, id string) (*Image, error) {
	const op errs.Op = "image.ForDownload"
	img, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, "download_image", img); err != nil {
		return nil, errs.E(op, err)
	}
	if img.Status == Deactivated && !auth.From(ctx).IsAdmin {
		return nil, errs.E(op, errs.Forbidden, "The requested image has been deactivated. Image data download is prohibited.")
	}
	return img, nil
}
