package filesystem

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// RemovePartial removes the temporary files of interrupted writes of
// imageID (".<id>.part-*"), which a killed process leaves behind.
func (d *Driver) RemovePartial(ctx context.Context, imageID string) error {
	for _, dd := range d.dirs {
		matches, err := filepath.Glob(filepath.Join(dd.Path, "."+filepath.Base(imageID)+".part-*"))
		if err != nil {
			return err
		}
		for _, m := range matches {
			if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}
