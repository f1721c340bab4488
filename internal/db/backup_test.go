package db

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"glint/internal/errs"
	"glint/internal/image"
)

// Backup copies the database while it is written to: each copy is a
// sound database holding at least the images committed before it began
// and at most those committed by its end.
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	url := "sqlite:///" + filepath.Join(dir, "glint.db")
	d := openSQLite(t, url)
	var created atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := d.Images().Create(ctx, newTestImage(1_000_000*(w+1)+i)); err != nil {
					t.Errorf("create during backup: %v", err)
					return
				}
				created.Add(1)
			}
		})
	}
	for created.Load() < 50 && !t.Failed() {
		time.Sleep(10 * time.Millisecond)
	}
	for i := range 3 {
		dest := filepath.Join(dir, fmt.Sprintf("backup-%d.db", i))
		before := created.Load()
		res, err := Backup(ctx, url, dest, false)
		after := created.Load()
		if err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}
		if res.Images < before || res.Images > after+4 {
			t.Errorf("backup %d holds %d images; %d were created before it began, %d by its end", i, res.Images, before, after)
		}
		b, err := Open(ctx, "sqlite:///"+dest)
		if err != nil {
			t.Fatal(err)
		}
		imgs, err := b.Images().List(ctx, image.ListQuery{Limit: 100000}, image.Viewer{Admin: true})
		if err != nil || int64(len(imgs)) != res.Images {
			t.Errorf("backup %d: listing its images: %v, %d (backup says %d)", i, err, len(imgs), res.Images)
		}
		var check string
		if err := b.read.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
			t.Errorf("backup %d: integrity_check: %v %s", i, err, check)
		}
		b.Close()
	}
	close(stop)
	wg.Wait()

	// No clobbering, no half-written copy.
	dest := filepath.Join(dir, "backup-0.db")
	if _, err := Backup(ctx, url, dest, false); !errs.Is(errs.Conflict, err) {
		t.Errorf("backup over an existing file: %v, want conflict", err)
	}
	if _, err := Backup(ctx, url, dest, true); err != nil {
		t.Errorf("backup replacing a file: %v", err)
	}
	if _, err := Backup(ctx, url, filepath.Join(dir, "glint.db"), true); !errs.Is(errs.Invalid, err) {
		t.Errorf("backup onto the database itself: %v, want invalid", err)
	}
	if _, err := Backup(ctx, url, filepath.Join(dir, "no", "such", "dir.db"), false); err == nil {
		t.Error("backup into a missing directory succeeded")
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestBackupNotEmbedded(t *testing.T) {
	for _, conn := range []string{
		"postgresql+psycopg2://glance:secret@db.example:5433/glance",
		"mysql+pymysql://glance:secret@db.example/glance?charset=utf8",
	} {
		_, err := Backup(context.Background(), conn, filepath.Join(t.TempDir(), "x"), false)
		if !errors.Is(err, ErrNotEmbedded) {
			t.Fatalf("%s: %v, want ErrNotEmbedded", conn, err)
		}
		msg := errs.Message(err)
		for _, want := range []string{"glance", "db.example"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: %q does not name %q", conn, msg, want)
			}
		}
		if strings.Contains(msg, "secret") {
			t.Errorf("%s: the advice shows the password: %q", conn, msg)
		}
	}
}
