package importer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"glint/internal/errs"
	"glint/internal/image"
)

// Staging is a node's staging area (node_staging_uri): the directory
// where glance-direct stages data and imports work on it, one file per
// image. It is the image service's image.StagedData.
type Staging struct {
	dir string
	log *slog.Logger
}

// NewStaging opens the staging area in dir, creating it if need be.
func NewStaging(dir string, log *slog.Logger) (*Staging, error) {
	if dir == "" {
		return nil, errors.New("import: no staging directory")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("import: staging directory: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	return &Staging{dir: dir, log: log}, nil
}

// Path is where an image's staged data lives on this node.
func (st *Staging) Path(id string) string { return filepath.Join(st.dir, id) }

// Drop removes an image's staged data, and the files an import was
// writing from it, if any.
func (st *Staging) Drop(ctx context.Context, id string) {
	p := st.Path(id)
	for _, f := range []string{p, p + ".tmp", p + ".work"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			st.log.WarnContext(ctx, "could not remove staged data", "image_id", id, "path", f, "err", err)
		}
	}
}

// stagingPath is where an image's staged data lives on this node.
func (im *Importer) stagingPath(id string) string { return im.staging.Path(id) }

// unstage removes an image's staged data, if any.
func (im *Importer) unstage(ctx context.Context, id string) { im.staging.Drop(ctx, id) }

// sweepStaging removes staged data whose image is gone or no longer
// waiting for an import: left behind when an image staged here was
// deleted through another node, or by a crash. Files younger than grace
// are left alone (a stage may be in flight).
func (im *Importer) sweepStaging(ctx context.Context, grace time.Duration) {
	ents, err := os.ReadDir(im.opts.StagingDir)
	if err != nil {
		return
	}
	for _, d := range ents {
		name := d.Name()
		id := strings.TrimSuffix(strings.TrimSuffix(name, ".tmp"), ".work")
		if _, err := uuid.Parse(id); err != nil {
			continue
		}
		info, err := d.Info()
		if err != nil || time.Since(info.ModTime()) < grace {
			continue
		}
		img, err := im.repo.Get(ctx, id)
		switch {
		case errs.Is(errs.NotFound, err):
		case err != nil:
			continue
		case img.Status == image.Uploading || img.Status == image.Importing:
			continue
		}
		im.log.InfoContext(ctx, "removing stale staged data", "image_id", id, "file", name)
		os.Remove(filepath.Join(im.opts.StagingDir, name))
	}
}

// recoverStaging cleans up stages this node was writing when it stopped:
// their partial files are removed and their images, still uploading
// without a size, are queued again (Glance leaves them uploading).
func (im *Importer) recoverStaging(ctx context.Context) {
	ents, err := os.ReadDir(im.opts.StagingDir)
	if err != nil {
		return
	}
	for _, d := range ents {
		id, ok := strings.CutSuffix(d.Name(), ".tmp")
		if !ok {
			continue
		}
		os.Remove(filepath.Join(im.opts.StagingDir, d.Name()))
		if _, err := uuid.Parse(id); err != nil {
			continue
		}
		_, err := im.repo.Modify(ctx, id, func(cur *image.Image) (*image.Image, error) {
			if cur.Status != image.Uploading || cur.Size != nil {
				return nil, errs.E(errs.Conflict, "not an interrupted stage")
			}
			n := cur.Clone()
			n.Status = image.Queued
			n.UpdatedAt = im.now().UTC()
			return n, nil
		})
		if err == nil {
			im.log.WarnContext(ctx, "staging interrupted by a stop of this node; image queued again", "image_id", id)
		}
	}
}
