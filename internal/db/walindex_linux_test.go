//go:build linux

package db

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"glint/internal/errs"
	"glint/internal/image"
)

// SQLite holds a shared lock on byte 128 of the -shm file (the "dead man
// switch") while it has the wal-index open; without it, another process
// opening the database truncates and rebuilds the wal-index under this
// one (issue 29). Mapping the wal-index for the image cache, and closing a
// second DB on the same file, must leave it held.
func TestWALIndexKeepsSQLiteLocks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	url := "sqlite:///" + filepath.Join(dir, "glint.db")
	shm := filepath.Join(dir, "glint.db-shm")
	use := func(t *testing.T, d *DB) {
		t.Helper()
		for range 3 { // the first check maps the wal-index, the next ones read it
			if _, err := d.Images().Get(ctx, "00000000-0000-4000-8000-000000000000"); !errs.Is(errs.NotFound, err) {
				t.Fatalf("get: %v", err)
			}
			if _, err := d.Images().List(ctx, image.ListQuery{Limit: 20}, image.Viewer{Admin: true}); err != nil {
				t.Fatalf("list: %v", err)
			}
		}
	}

	d := openSQLite(t, url)
	use(t, d)
	if d.images.shm == nil {
		t.Fatal("the image cache did not map the wal-index")
	}
	if !dmsLocked(t, shm) {
		t.Fatal("after the image cache mapped the wal-index, this process no longer holds SQLite's lock on it")
	}

	other, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	use(t, other)
	if other.images.shm != d.images.shm {
		t.Error("a second DB on the same file mapped the wal-index again")
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	if !dmsLocked(t, shm) {
		t.Fatal("closing a second DB on the same file dropped the first one's lock on the wal-index")
	}
	use(t, d)

	w := d.images.shm
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	walIndexes.mu.Lock()
	left := walIndexes.m[w.key]
	walIndexes.mu.Unlock()
	if left != nil {
		t.Error("the wal-index is still registered after every DB on it closed")
	}
}

// dmsLocked reports whether this process holds a lock on byte 128 of
// path, as /proc/locks lists it (looking through a descriptor of its own
// would drop the locks when it is closed).
func dmsLocked(t *testing.T, path string) bool {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/locks")
	if err != nil {
		t.Skipf("no /proc/locks: %v", err)
	}
	pid, ino := strconv.Itoa(os.Getpid()), ":"+strconv.FormatUint(st.Ino, 10)
	for _, line := range strings.Split(string(b), "\n") {
		// 4: POSIX  ADVISORY  READ 11715 fe:00:9978257 128 128
		f := strings.Fields(line)
		if len(f) == 8 && f[1] == "POSIX" && f[4] == pid && strings.HasSuffix(f[5], ino) && f[6] == "128" {
			return true
		}
	}
	return false
}

// A backup taken in the same process as a server (here, beside a DB) does
// not drop the server's locks either.
func TestBackupKeepsSQLiteLocks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	url := "sqlite:///" + filepath.Join(dir, "glint.db")
	d := openSQLite(t, url)
	if _, err := d.Images().Get(ctx, "00000000-0000-4000-8000-000000000000"); !errs.Is(errs.NotFound, err) {
		t.Fatal(err)
	}
	if _, err := Backup(ctx, url, filepath.Join(dir, "copy.db"), false); err != nil {
		t.Fatal(err)
	}
	if !dmsLocked(t, filepath.Join(dir, "glint.db-shm")) {
		t.Fatal("a backup dropped this process's lock on the wal-index")
	}
}
