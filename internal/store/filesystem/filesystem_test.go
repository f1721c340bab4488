package filesystem_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"glint/internal/errs"
	"glint/internal/store"
	"glint/internal/store/filesystem"
	"glint/internal/store/storetest"
)

func TestRoundTrip(t *testing.T) {
	d, err := filesystem.New(t.TempDir(), 0o640)
	if err != nil {
		t.Fatal(err)
	}
	st := &store.Store{Name: "file", Driver: d}
	ctx := context.Background()
	for _, size := range []int{0, 1, 65536, 3<<20 + 7} {
		data := bytes.Repeat([]byte{7}, size)
		id := "img-" + strings.Repeat("x", size%5)
		w, err := st.Write(ctx, id, bytes.NewReader(data), int64(size), "sha512")
		loc := w.Location
		if err != nil || w.Size != int64(size) || !strings.HasPrefix(loc, "file:///") {
			t.Fatalf("Write(%d): %q %d %v", size, loc, w.Size, err)
		}
		if got, err := st.Size(ctx, loc); err != nil || got != int64(size) {
			t.Fatalf("Size: %d %v", got, err)
		}
		rc, err := st.Open(ctx, loc, int64(size/2))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := rc.(*os.File); !ok {
			t.Errorf("Open returned %T, want *os.File for sendfile", rc)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, data[size/2:]) {
			t.Fatalf("Open from %d: wrong bytes", size/2)
		}
		if fi, _ := os.Stat(strings.TrimPrefix(loc, "file://")); fi.Mode().Perm() != 0o640 {
			t.Errorf("mode %v", fi.Mode())
		}
		if _, err := st.Write(ctx, id, strings.NewReader("again"), -1, "sha512"); !errs.Is(errs.Conflict, err) {
			t.Errorf("Write over existing data: %v", err)
		}
		if err := st.Delete(ctx, loc); err != nil {
			t.Fatal(err)
		}
		if err := st.Delete(ctx, loc); !errs.Is(errs.NotFound, err) {
			t.Errorf("second Delete: %v", err)
		}
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("boom")
	}
	m := min(len(p), f.n)
	f.n -= m
	return m, nil
}

// A writer that fails half-way leaves nothing behind.
func TestFailedAddLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	d, err := filesystem.New(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Add(context.Background(), "a", &failingReader{n: 1 << 20}, -1); err == nil {
		t.Fatal("Add of a failing reader succeeded")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
}

func TestRefusesOutsideLocations(t *testing.T) {
	d, _ := filesystem.New(t.TempDir(), 0)
	os.WriteFile(filepath.Join(d.Dir, ".hidden"), []byte("x"), 0o600)
	for _, loc := range []string{"file:///etc/passwd", "file:///" + d.Dir + "/../x", "file://" + d.Dir + "/.hidden", "s3://b/k", "%%"} {
		if _, err := d.Get(context.Background(), loc, 0); err == nil {
			t.Errorf("Get(%q) succeeded", loc)
		}
		if d.Owns(loc) {
			t.Errorf("Owns(%q)", loc)
		}
	}
	for loc, want := range map[string]errs.Kind{"file:///etc/passwd": errs.NotFound, "s3://b/k": errs.Invalid, "file://" + d.Dir + "/nothere": errs.NotFound} {
		_, err := d.Get(context.Background(), loc, 0)
		if k := d.ErrorKind(err); k != want {
			t.Errorf("Get(%q): %v, classified %v, want %v", loc, err, k, want)
		}
	}
}

func TestErrorKind(t *testing.T) {
	d, _ := filesystem.New(t.TempDir(), 0)
	for _, c := range []struct {
		err  error
		want errs.Kind
	}{
		{&fs.PathError{Op: "open", Path: "/x", Err: syscall.ENOENT}, errs.NotFound},
		{&os.LinkError{Op: "link", Old: "/a", New: "/b", Err: syscall.EEXIST}, errs.Conflict},
		{&fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}, errs.TooLarge},
		{&fs.PathError{Op: "write", Path: "/x", Err: syscall.EDQUOT}, errs.TooLarge},
		{&fs.PathError{Op: "open", Path: "/x", Err: syscall.EACCES}, errs.Unavailable},
		{&fs.PathError{Op: "write", Path: "/x", Err: syscall.EIO}, errs.Unavailable},
	} {
		if got := d.ErrorKind(c.err); got != c.want {
			t.Errorf("ErrorKind(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestUnwritableDirIsAClearError(t *testing.T) {
	if os.Geteuid() == 0 {
		// root writes anywhere; use a path under a regular file instead.
		f, _ := os.CreateTemp(t.TempDir(), "file")
		f.Close()
		if _, err := filesystem.New(f.Name()+"/images", 0); err == nil || !strings.Contains(err.Error(), "cannot create") {
			t.Fatalf("New under a file: %v", err)
		}
		return
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o500)
	if _, err := filesystem.New(dir, 0); err == nil || !strings.Contains(err.Error(), "not writable") {
		t.Fatalf("New on a read-only dir: %v", err)
	}
}

func TestConformance(t *testing.T) {
	for _, opts := range []filesystem.Options{{}, {DirectIO: true}, {Sparse: true}} {
		sparse := opts.Sparse
		t.Run(fmt.Sprintf("sparse=%v,direct=%v", opts.Sparse, opts.DirectIO), func(t *testing.T) {
			big := int64(0)
			if !sparse {
				big = 256 << 20 // the 2 GiB stream runs once, sparse
			}
			storetest.Run(t, storetest.Harness{
				New: func(t *testing.T) store.Driver {
					a, b := t.TempDir(), t.TempDir()
					d, err := filesystem.NewDirs([]filesystem.DataDir{{Path: a, Priority: 100}, {Path: b, Priority: 200}},
						opts)
					if err != nil {
						t.Fatal(err)
					}
					return d
				},
				Leftovers: func(t *testing.T, d store.Driver) []string {
					var left []string
					for _, dd := range d.(*filesystem.Driver).Dirs() {
						ents, _ := os.ReadDir(dd.Path)
						for _, e := range ents {
							left = append(left, filepath.Join(dd.Path, e.Name()))
						}
					}
					return left
				},
				BigSize: big,
			})
		})
	}
}

// An image that is mostly zeros takes only its data's worth of disk.
func TestSparse(t *testing.T) {
	for _, sparse := range []bool{false, true} {
		d, err := filesystem.NewDirs([]filesystem.DataDir{{Path: t.TempDir()}}, filesystem.Options{Sparse: sparse})
		if err != nil {
			t.Fatal(err)
		}
		// 64 MiB with 1 MiB of data in the middle and zeros at the end.
		const size = 64 << 20
		data := make([]byte, size)
		copy(data[20<<20:], bytes.Repeat([]byte{0xAB}, 1<<20))
		loc, _, err := d.Add(context.Background(), "sparse", bytes.NewReader(data), size)
		if err != nil {
			t.Fatal(err)
		}
		p := strings.TrimPrefix(loc, "file://")
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		used := st.Blocks * 512
		if fi, _ := os.Stat(p); fi.Size() != size {
			t.Fatalf("sparse=%v: size %d, want %d", sparse, fi.Size(), size)
		}
		if sparse && used > 2<<20 {
			t.Errorf("sparse: %d KiB on disk for 1 MiB of data", used>>10)
		}
		if !sparse && used < size {
			// Some filesystems (tmpfs with compression, say) may still
			// store less; only the sparse case is a requirement.
			t.Logf("non-sparse: %d KiB on disk", used>>10)
		}
		got, _ := os.ReadFile(p)
		if !bytes.Equal(got, data) {
			t.Fatalf("sparse=%v: data differs", sparse)
		}
	}
}

func TestParseDataDir(t *testing.T) {
	for _, c := range []struct {
		in   string
		want filesystem.DataDir
		bad  bool
	}{
		{"/a", filesystem.DataDir{Path: "/a"}, false},
		{"/a:200", filesystem.DataDir{Path: "/a", Priority: 200}, false},
		{" /a/b : 7 ", filesystem.DataDir{Path: "/a/b", Priority: 7}, false},
		{"/a:x", filesystem.DataDir{}, true},
		{"", filesystem.DataDir{}, true},
	} {
		got, err := filesystem.ParseDataDir(c.in)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("ParseDataDir(%q) = %+v, %v", c.in, got, err)
		}
	}
}

// New images go to the highest priority directory; all are read.
func TestPriorities(t *testing.T) {
	lo, hi := t.TempDir(), t.TempDir()
	d, err := filesystem.NewDirs([]filesystem.DataDir{{Path: lo, Priority: 100}, {Path: hi, Priority: 200}}, filesystem.Options{})
	if err != nil {
		t.Fatal(err)
	}
	loc, _, err := d.Add(context.Background(), "img", strings.NewReader("data"), 4)
	if err != nil {
		t.Fatal(err)
	}
	if want := "file://" + filepath.Join(hi, "img"); loc != want {
		t.Errorf("location %s, want %s", loc, want)
	}
	// An image already in the low priority directory is still served.
	os.WriteFile(filepath.Join(lo, "old"), []byte("old"), 0o600)
	rc, err := d.Get(context.Background(), "file://"+filepath.Join(lo, "old"), 0)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	// And an id present in any directory is a duplicate.
	if _, _, err := d.Add(context.Background(), "old", strings.NewReader("x"), 1); d.ErrorKind(err) != errs.Conflict {
		t.Errorf("Add of an id in the other directory: %v", err)
	}
}
