// Package filesystem is the default store: image data as files in one or
// more directories, at locations file:///<dir>/<image id> as Glance writes
// them. Several directories carry priorities as Glance's
// filesystem_store_datadirs ("/path:priority"): new images go to the
// highest priority directory with room, and any of them is read.
package filesystem

import (
	"bytes"
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
	"slices"
	"strconv"
	"strings"
	"syscall"

	"glint/internal/errs"
	"glint/internal/store"
)

// DataDir is one directory of the store with its priority (higher first).
type DataDir struct {
	Path     string
	Priority int
}

// ParseDataDir reads Glance's "path[:priority]" syntax.
func ParseDataDir(s string) (DataDir, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return DataDir{}, errors.New("empty directory")
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		p, err := strconv.Atoi(strings.TrimSpace(s[i+1:]))
		if err != nil {
			return DataDir{}, fmt.Errorf("invalid priority %q in %q: want path:integer", s[i+1:], s)
		}
		return DataDir{Path: strings.TrimSpace(s[:i]), Priority: p}, nil
	}
	return DataDir{Path: s}, nil
}

// Options tune the driver.
type Options struct {
	FilePerm os.FileMode // 0 leaves the umask's choice
	// Sparse skips writing runs of zeros (glance_store's
	// filesystem_thin_provisioning), so they take no disk.
	Sparse bool
	// ChunkSize is the granularity of zero detection; 0 means 64 KiB.
	ChunkSize int
	// DirectIO writes image data with O_DIRECT, past the page cache (see
	// dataFile).
	DirectIO bool
}

// Driver stores images as files under Dirs.
type Driver struct {
	// Dir is the first directory of the highest priority, where new
	// images go when the store has one directory.
	Dir  string
	dirs []DataDir // sorted by priority, highest first
	opts Options
}

// New opens a store on one directory, making it if needed.
func New(dir string, perm os.FileMode) (*Driver, error) {
	return NewDirs([]DataDir{{Path: dir}}, Options{FilePerm: perm})
}

// NewDirs opens a store on several directories. Each is made if needed
// and checked writable, so that a broken store is a clear message at
// start, not a failure at the first upload.
func NewDirs(dirs []DataDir, opts Options) (*Driver, error) {
	const op errs.Op = "filesystem.New"
	if len(dirs) == 0 {
		return nil, errs.E(op, errs.Invalid, "no filesystem store directory configured")
	}
	d := &Driver{opts: opts}
	seen := map[string]bool{}
	for _, dd := range dirs {
		abs, err := filepath.Abs(dd.Path)
		if err != nil {
			return nil, errs.E(op, errs.Invalid, err)
		}
		if seen[abs] {
			return nil, errs.Errorf(op, errs.Invalid, "filesystem store directory %s is listed twice", abs)
		}
		seen[abs] = true
		if err := os.MkdirAll(abs, 0o750); err != nil {
			return nil, errs.E(op, errs.Unavailable, fmt.Sprintf("cannot create filesystem store directory %s", abs), err)
		}
		d.dirs = append(d.dirs, DataDir{Path: abs, Priority: dd.Priority})
	}
	slices.SortStableFunc(d.dirs, func(a, b DataDir) int { return b.Priority - a.Priority })
	d.Dir = d.dirs[0].Path
	if d.opts.ChunkSize <= 0 {
		d.opts.ChunkSize = 64 << 10
	}
	if err := d.Check(context.Background()); err != nil {
		return nil, err
	}
	return d, nil
}

var (
	_ store.Writable       = (*Driver)(nil)
	_ store.Owner          = (*Driver)(nil)
	_ store.PartialRemover = (*Driver)(nil)
)

// Dirs returns the directories, highest priority first.
func (d *Driver) Dirs() []DataDir { return slices.Clone(d.dirs) }

// Scheme implements store.Driver.
func (d *Driver) Scheme() string { return "file" }

// Check writes, syncs and removes a probe file in every directory.
func (d *Driver) Check(ctx context.Context) error {
	for _, dd := range d.dirs {
		fi, err := os.Stat(dd.Path)
		if err != nil {
			return fmt.Errorf("filesystem store directory %s is not accessible: %w", dd.Path, err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("filesystem store directory %s is not a directory", dd.Path)
		}
		probe, err := os.CreateTemp(dd.Path, ".glint-probe-*")
		if err != nil {
			return fmt.Errorf("filesystem store directory %s is not writable: %w", dd.Path, err)
		}
		_, err = probe.WriteString("probe")
		if err == nil {
			err = probe.Sync()
		}
		probe.Close()
		os.Remove(probe.Name())
		if err != nil {
			return fmt.Errorf("filesystem store directory %s is not writable: %w", dd.Path, err)
		}
	}
	return nil
}

// ErrorKind implements store.Driver.
func (d *Driver) ErrorKind(err error) errs.Kind {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, errOutside):
		return errs.NotFound
	case errors.Is(err, fs.ErrExist):
		return errs.Conflict
	case errors.Is(err, errBadLocation):
		return errs.Invalid
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT), errors.Is(err, errNoSpace):
		return errs.TooLarge
	}
	// Permission problems too: Glance answers them with 503
	// ("Insufficient permissions on image storage media").
	return errs.Unavailable
}

var (
	errBadLocation = errors.New("not a filesystem location")
	errOutside     = errors.New("location is outside the store directories")
	errNoSpace     = errors.New("there is not enough disk space left on the image storage media")
)

// freeSpace is the space available to us in dir, or -1 if unknown.
func freeSpace(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// chooseDir picks, as Glance does, the directory with the most free space
// among those of the highest priority that can hold size bytes.
func (d *Driver) chooseDir(size int64) (string, error) {
	if len(d.dirs) == 1 {
		return d.dirs[0].Path, nil
	}
	for i := 0; i < len(d.dirs); {
		j := i
		best, bestFree := "", int64(-2)
		for ; j < len(d.dirs) && d.dirs[j].Priority == d.dirs[i].Priority; j++ {
			if f := freeSpace(d.dirs[j].Path); f > bestFree {
				best, bestFree = d.dirs[j].Path, f
			}
		}
		if bestFree < 0 || bestFree > max(size, 0) {
			return best, nil
		}
		i = j
	}
	return "", errNoSpace
}

func (d *Driver) exists(id string) string {
	for _, dd := range d.dirs {
		p := filepath.Join(dd.Path, id)
		if _, err := os.Lstat(p); err == nil {
			return p
		}
	}
	return ""
}

// Add writes to a temporary name, fsyncs, then links it into place, so a
// failed or cancelled write never leaves a file under the image's name and
// of two concurrent writers of one id only one wins.
func (d *Driver) Add(ctx context.Context, imageID string, r io.Reader, size int64) (string, int64, error) {
	if p := d.exists(imageID); p != "" {
		return "", 0, fmt.Errorf("image file %s already exists: %w", p, fs.ErrExist)
	}
	dir, err := d.chooseDir(size)
	if err != nil {
		return "", 0, err
	}
	final := filepath.Join(dir, imageID)
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := filepath.Join(dir, "."+imageID+".part-"+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return "", 0, err
	}
	defer func() {
		f.Close()
		os.Remove(tmp)
	}()
	df := newDataFile(f, d.opts.DirectIO)
	defer df.Abort()
	var w io.Writer = df
	if d.opts.Sparse {
		w = &sparseWriter{df: df, chunk: d.opts.ChunkSize, zero: make([]byte, d.opts.ChunkSize)}
	}
	// The reader's WriteTo, not f's ReadFrom, drives the copy (io.Copy
	// prefers it): the Store's pipe hands over whole chunks, which then go
	// to the disk uncopied.
	n, err := io.Copy(w, r)
	if err == nil {
		err = df.Finish()
	}
	if err == nil {
		err = f.Close()
	}
	if err == nil && d.opts.FilePerm != 0 {
		err = os.Chmod(tmp, d.opts.FilePerm)
	}
	if err == nil {
		// Link fails if the name exists, unlike rename.
		err = os.Link(tmp, final)
	}
	if err != nil {
		return "", n, err
	}
	syncDir(dir)
	return (&url.URL{Scheme: "file", Path: final}).String(), n, nil
}

// sparseWriter writes only the chunks that are not all zeros and leaves
// holes for the rest (dataFile sets the full length at the end).
type sparseWriter struct {
	df    *dataFile
	off   int64
	chunk int
	zero  []byte
}

func (s *sparseWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		// Align pieces to the chunk grid of the file, so holes line up
		// with filesystem blocks whatever sizes the source writes in.
		m := min(len(p), s.chunk-int(s.off%int64(s.chunk)))
		var err error
		if bytes.Equal(p[:m], s.zero[:m]) {
			err = s.df.Skip(int64(m))
		} else {
			_, err = s.df.Write(p[:m])
		}
		if err != nil {
			return total - len(p), err
		}
		s.off += int64(m)
		p = p[m:]
	}
	return total, nil
}

// syncDir makes a link durable; a failure here is not worth failing the upload for.
func syncDir(dir string) {
	if df, err := os.Open(dir); err == nil {
		df.Sync()
		df.Close()
	}
}

// path maps a location back to a file inside one of the directories;
// locations pointing elsewhere are refused, so a crafted location cannot
// read /etc/passwd.
func (d *Driver) path(loc string) (string, error) {
	u, err := url.Parse(loc)
	if err != nil || (u.Scheme != "file" && u.Scheme != "filesystem") {
		return "", errBadLocation
	}
	p := filepath.Clean(u.Path)
	for _, dd := range d.dirs {
		// Names starting with '.' are the driver's own (temporary files).
		if name := filepath.Base(p); filepath.Dir(p) == dd.Path && name != "" && name[0] != '.' {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %s", errOutside, u.Path)
}

// Owns implements store.Owner.
func (d *Driver) Owns(loc string) bool {
	_, err := d.path(loc)
	return err == nil
}

// Get returns the *os.File itself, positioned at offset.
func (d *Driver) Get(ctx context.Context, loc string, offset int64) (io.ReadCloser, error) {
	p, err := d.path(loc)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// Size implements store.Driver.
func (d *Driver) Size(ctx context.Context, loc string) (int64, error) {
	p, err := d.path(loc)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Delete implements store.Writable.
func (d *Driver) Delete(ctx context.Context, loc string) error {
	p, err := d.path(loc)
	if err != nil {
		return err
	}
	return os.Remove(p)
}
