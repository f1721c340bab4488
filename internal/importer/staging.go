package importer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
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
