// Package filesystem is the default store: image data as files in a
// directory, at locations file:///<dir>/<image id> as Glance writes them.
package filesystem

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"glint/internal/errs"
)

// Driver stores images as files under Dir.
type Driver struct {
	Dir      string
	FilePerm os.FileMode // 0 leaves the umask's choice
}

// New makes dir if needed and checks that it is writable, so that a broken
// store is a clear message at start, not a failure at the first upload.
func New(dir string, perm os.FileMode) (*Driver, error) {
	const op errs.Op = "filesystem.New"
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, errs.E(op, errs.Invalid, err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, errs.E(op, errs.Unavailable, fmt.Sprintf("cannot create filesystem store directory %s", abs), err)
	}
	probe, err := os.CreateTemp(abs, ".glint-probe-*")
	if err != nil {
		return nil, errs.E(op, errs.Unavailable, fmt.Sprintf("filesystem store directory %s is not writable", abs), err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return &Driver{Dir: abs, FilePerm: perm}, nil
}

// Scheme implements store.Driver.
func (d *Driver) Scheme() string { return "file" }

// Add writes to a temporary name, fsyncs, then renames into place, so a
// failed or cancelled write never leaves a file under the image's name.
func (d *Driver) Add(ctx context.Context, imageID string, r io.Reader, size int64) (string, int64, error) {
	const op errs.Op = "filesystem.Add"
	if imageID == "" || strings.ContainsAny(imageID, `/\`) || imageID == "." || imageID == ".." {
		return "", 0, errs.Errorf(op, errs.Invalid, "bad image id %q", imageID)
	}
	final := filepath.Join(d.Dir, imageID)
	if _, err := os.Lstat(final); err == nil {
		return "", 0, errs.Errorf(op, errs.Conflict, "Image file %s already exists!", final)
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := filepath.Join(d.Dir, "."+imageID+".part-"+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return "", 0, storageErr(op, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// ctxReader's WriteTo, not f's ReadFrom, drives the copy: the source
	// may hand over whole chunks.
	n, err := ctxReader{ctx, r}.WriteTo(f)
	if err != nil {
		return "", n, storageErr(op, err)
	}
	if err := f.Sync(); err != nil {
		return "", n, storageErr(op, err)
	}
	if err := f.Close(); err != nil {
		return "", n, storageErr(op, err)
	}
	if d.FilePerm != 0 {
		if err := os.Chmod(tmp, d.FilePerm); err != nil {
			return "", n, storageErr(op, err)
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", n, storageErr(op, err)
	}
	ok = true
	syncDir(d.Dir)
	return (&url.URL{Scheme: "file", Path: final}).String(), n, nil
}

// syncDir makes a rename durable; a failure here is not worth failing the upload for.
func syncDir(dir string) {
	if df, err := os.Open(dir); err == nil {
		df.Sync()
		df.Close()
	}
}

func storageErr(op errs.Op, err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errs.E(op, errs.Invalid, "upload interrupted", err)
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return errs.E(op, errs.TooLarge, "Image storage media is full", err)
	case errors.Is(err, fs.ErrPermission):
		return errs.E(op, errs.Unavailable, "Insufficient permissions on image storage media", err)
	}
	var ke *errs.Error
	if errors.As(err, &ke) {
		return err // the reader's own classified error (size cap, client gone)
	}
	return errs.E(op, errs.Unavailable, err)
}

// path maps a location back to a file inside Dir; locations pointing
// elsewhere are refused, so a crafted location cannot read /etc/passwd.
func (d *Driver) path(loc string) (string, error) {
	const op errs.Op = "filesystem.path"
	u, err := url.Parse(loc)
	if err != nil || (u.Scheme != "file" && u.Scheme != "filesystem") {
		return "", errs.Errorf(op, errs.Invalid, "bad filesystem location %q", loc)
	}
	p := filepath.Clean(u.Path)
	if filepath.Dir(p) != d.Dir {
		return "", errs.Errorf(op, errs.NotFound, "location %q is outside the store directory", loc)
	}
	return p, nil
}

// Get returns the *os.File itself, positioned at offset.
func (d *Driver) Get(ctx context.Context, loc string, offset int64) (io.ReadCloser, error) {
	const op errs.Op = "filesystem.Get"
	p, err := d.path(loc)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errs.E(op, errs.NotFound, "Image data not found in the store", err)
	}
	if err != nil {
		return nil, storageErr(op, err)
	}
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, storageErr(op, err)
		}
	}
	return f, nil
}

// Size implements store.Driver.
func (d *Driver) Size(ctx context.Context, loc string) (int64, error) {
	const op errs.Op = "filesystem.Size"
	p, err := d.path(loc)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, errs.E(op, errs.NotFound, err)
	}
	if err != nil {
		return 0, storageErr(op, err)
	}
	return fi.Size(), nil
}

// Delete implements store.Driver.
func (d *Driver) Delete(ctx context.Context, loc string) error {
	const op errs.Op = "filesystem.Delete"
	p, err := d.path(loc)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errs.E(op, errs.NotFound, err)
		}
		return storageErr(op, err)
	}
	return nil
}

// ctxReader stops a copy as soon as ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// WriteTo lets a source that writes in large chunks keep doing so, still
// checking ctx between writes.
func (c ctxReader) WriteTo(w io.Writer) (int64, error) {
	wt, ok := c.r.(io.WriterTo)
	if !ok {
		return io.Copy(w, struct{ io.Reader }{c})
	}
	return wt.WriteTo(ctxWriter{c.ctx, w})
}

type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
