package filesystem_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"glint/internal/errs"
	"glint/internal/store/filesystem"
)

func TestRoundTrip(t *testing.T) {
	d, err := filesystem.New(t.TempDir(), 0o640)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, size := range []int{0, 1, 65536, 3<<20 + 7} {
		data := bytes.Repeat([]byte{7}, size)
		id := "img-" + strings.Repeat("x", size%5)
		loc, n, err := d.Add(ctx, id, bytes.NewReader(data), int64(size))
		if err != nil || n != int64(size) || !strings.HasPrefix(loc, "file:///") {
			t.Fatalf("Add(%d): %q %d %v", size, loc, n, err)
		}
		if got, err := d.Size(ctx, loc); err != nil || got != int64(size) {
			t.Fatalf("Size: %d %v", got, err)
		}
		rc, err := d.Get(ctx, loc, int64(size/2))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := rc.(*os.File); !ok {
			t.Errorf("Get returned %T, want *os.File for sendfile", rc)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, data[size/2:]) {
			t.Fatalf("Get from %d: wrong bytes", size/2)
		}
		if fi, _ := os.Stat(strings.TrimPrefix(loc, "file://")); fi.Mode().Perm() != 0o640 {
			t.Errorf("mode %v", fi.Mode())
		}
		if _, _, err := d.Add(ctx, id, strings.NewReader("again"), -1); !errs.Is(errs.Conflict, err) {
			t.Errorf("Add over existing data: %v", err)
		}
		if err := d.Delete(ctx, loc); err != nil {
			t.Fatal(err)
		}
		if err := d.Delete(ctx, loc); !errs.Is(errs.NotFound, err) {
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

// A writer that fails half-way, or a cancelled context, leaves nothing behind.
func TestFailedAddLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	d, err := filesystem.New(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Add(context.Background(), "a", &failingReader{n: 1 << 20}, -1); err == nil {
		t.Fatal("Add of a failing reader succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := d.Add(ctx, "b", strings.NewReader("data"), 4); err == nil {
		t.Fatal("Add with a cancelled context succeeded")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
}

func TestRefusesOutsideLocations(t *testing.T) {
	d, _ := filesystem.New(t.TempDir(), 0)
	for _, loc := range []string{"file:///etc/passwd", "file:///" + d.Dir + "/../x", "s3://b/k", "%%"} {
		if _, err := d.Get(context.Background(), loc, 0); err == nil {
			t.Errorf("Get(%q) succeeded", loc)
		}
	}
	for _, id := range []string{"", "../x", "a/b", ".."} {
		if _, _, err := d.Add(context.Background(), id, strings.NewReader("x"), 1); !errs.Is(errs.Invalid, err) {
			t.Errorf("Add(%q): %v", id, err)
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
