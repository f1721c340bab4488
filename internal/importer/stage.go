package importer

import (
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"

	"glint/internal/errs"
	"glint/internal/image"
	"glint/internal/imageformat"
)

// Stage streams data to the staging area: queued → uploading (PUT
// /v2/images/{id}/stage). The data is inspected as it arrives: an unsafe
// image (qcow2 with a backing or data file, VMDK with extents, two formats
// at once…) or one whose content contradicts a disk_format already set is
// refused with 415 and nothing is kept, the image back to queued.
func (im *Importer) Stage(ctx context.Context, id string, body io.Reader, size int64) error {
	const op errs.Op = "importer.Stage"
	if !slices.Contains(im.opts.Methods, MethodGlanceDirect) {
		return errs.E(op, errs.NotFound, "The resource could not be found.")
	}
	img, body, err := im.s.BeginStage(ctx, id, body, size)
	if err != nil {
		return err
	}
	fail := func(cause error) error {
		im.unstage(ctx, id)
		if err := im.s.AbandonStage(ctx, id); err != nil && !errs.Is(errs.NotFound, err) {
			im.log.ErrorContext(ctx, "could not return image to queued after a failed stage", "image_id", id, "err", err)
		}
		if errors.Is(cause, syscall.ENOSPC) || errors.Is(cause, syscall.EDQUOT) {
			// Glance's staging area is a filesystem store: a full disk is
			// its StorageFull, 413.
			return errs.E(op, errs.TooLarge, "Image storage media is full: the staging area has no space left.", cause)
		}
		if errs.KindOf(cause) == errs.Other {
			return errs.E(op, errs.Unavailable, "Error writing to the staging area.", cause)
		}
		return errs.E(op, cause)
	}
	dst := im.stagingPath(id)
	if _, err := os.Stat(dst); err == nil {
		// Left behind by a crash between writing and recording; the image
		// is queued, so it is stale.
		os.Remove(dst)
	}
	insp := imageformat.New()
	written, err := writeFile(dst, io.TeeReader(body, insp))
	if err == nil && size >= 0 && written != size {
		err = errs.Errorf(op, errs.Invalid, "Image size mismatch: %d bytes announced, %d received", size, written)
	}
	if err != nil {
		return fail(err)
	}
	if cerr := checkStaged(insp.Result(), img); cerr != nil {
		return fail(errs.E(op, errs.BadFormat, errs.Message(cerr), cerr))
	}
	err = im.s.EndStage(ctx, img, written, im.opts.StageHost)
	if errs.Is(errs.TooLarge, err) {
		return fail(err)
	}
	if err != nil {
		im.unstage(ctx, id)
		if errs.Is(errs.NotFound, err) {
			return errs.E(op, errs.Gone, "Image was deleted while its data was being staged", err)
		}
		return errs.E(op, err)
	}
	return nil
}

// checkStaged inspects staged data: always for safety, and against the
// declared disk_format when one is set on a bare image.
func checkStaged(r imageformat.Result, img *image.Image) error {
	if img.ContainerFormat != nil && *img.ContainerFormat != "bare" {
		return nil
	}
	df := r.Format
	if df == "" {
		df = "raw"
	}
	if img.DiskFormat != nil {
		df = *img.DiskFormat
	}
	return imageformat.Check(r, df)
}

// writeFile writes r to path through a temporary file, so that a reader
// of path never sees partial data; on error nothing is left.
func writeFile(path string, r io.Reader) (int64, error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return n, err
	}
	return n, nil
}

// StagedElsewhere returns the URL of the node holding an image's staged
// data when that is another node and this one has no copy (Glance's
// os_glance_stage_host rule); "" otherwise.
func (im *Importer) StagedElsewhere(ctx context.Context, id string) string {
	img, err := im.s.Fetch(ctx, id)
	if err != nil || img.Status != image.Uploading {
		return ""
	}
	host := img.Properties[image.PropStageHost]
	if host == "" || strings.TrimSuffix(host, "/") == strings.TrimSuffix(im.opts.StageHost, "/") {
		return ""
	}
	if _, err := os.Stat(im.stagingPath(id)); err == nil {
		return ""
	}
	return host
}
