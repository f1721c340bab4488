package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	sqlite3 "modernc.org/sqlite/lib"

	"glint/internal/errs"
	"glint/internal/image"
)

func TestSQLiteCodeName(t *testing.T) {
	for code, want := range map[int]string{
		8714:                        "SQLITE_IOERR_IN_PAGE", // issue 29's "disk I/O error (8714)": 10 | 34<<8
		5:                           "SQLITE_BUSY",
		sqlite3.SQLITE_IOERR_SHMMAP: "SQLITE_IOERR_SHMMAP",
		2067:                        "SQLITE_CONSTRAINT_UNIQUE",
		10 | 99<<8:                  "SQLITE_IOERR (extended code 25354)",
	} {
		if got := sqliteCodeName(code); got != want {
			t.Errorf("sqliteCodeName(%d) = %q, want %q", code, got, want)
		}
	}
}

func TestQueryPurpose(t *testing.T) {
	for q, want := range map[string]string{
		"INSERT INTO images (id, name) VALUES (?, ?)":          "insert into images",
		"INSERT INTO image_tags(image_id, value) VALUES (?,?)": "insert into image_tags",
		"UPDATE images SET name=? WHERE id=?":                  "update images",
		"DELETE FROM image_members WHERE id = ?":               "delete from image_members",
		"SELECT i.id, (SELECT COALESCE(x, '[]') FROM image_properties p WHERE p.image_id = i.id) FROM images i WHERE i.id = ?": "select from images",
		"SELECT COUNT(*) FROM image_locations l JOIN images i ON i.id = l.image_id":                                            "select from image_locations",
		"PRAGMA data_version":   "pragma data_version",
		"SAVEPOINT glint_group": "savepoint",
	} {
		if got := queryPurpose(q); got != want {
			t.Errorf("queryPurpose(%q) = %q, want %q", q, got, want)
		}
	}
}

func TestDBKind(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want errs.Kind
	}{
		{&pgconn.PgError{Code: "42P01"}, errs.Internal},     // undefined table
		{&pgconn.PgError{Code: "22001"}, errs.Internal},     // value too long
		{&pgconn.PgError{Code: "08006"}, errs.Unavailable},  // connection failure
		{&pgconn.PgError{Code: "53100"}, errs.Unavailable},  // disk full
		{&pgconn.PgError{Code: "57P01"}, errs.Unavailable},  // admin shutdown
		{&mysql.MySQLError{Number: 1064}, errs.Internal},    // syntax
		{&mysql.MySQLError{Number: 1040}, errs.Unavailable}, // too many connections
		{fmt.Errorf("x: %w", context.DeadlineExceeded), errs.Unavailable},
		{errors.New(`sql: Scan error on column index 2, name "size": converting`), errs.Internal},
		{errs.E(errs.Op("x"), errs.Conflict, "taken"), errs.Conflict},
	} {
		if got := dbKind(tc.err); got != tc.want {
			t.Errorf("dbKind(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// newTestImage returns an image for Create.
func newTestImage(n int) *image.Image {
	now := time.Now().UTC().Truncate(time.Second)
	name := fmt.Sprintf("img-%d", n)
	return &image.Image{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", n), Name: &name, Status: image.Queued,
		Visibility: image.Shared, CreatedAt: now, UpdatedAt: now, Properties: map[string]string{"p": "v"}, Tags: []string{"t"}}
}

// A write that finds the database locked by another connection waits for
// it; one whose request runs out of time first is Unavailable and leaves
// nothing behind.
func TestBusyWaitsThenUnavailable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "glint.db")
	d := openSQLite(t, "sqlite:///"+path)
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	hold := func(t *testing.T) *sql.Tx {
		t.Helper()
		tx, err := other.Begin()
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}

	t.Run("waits", func(t *testing.T) {
		tx := hold(t)
		time.AfterFunc(300*time.Millisecond, func() { tx.Rollback() })
		start := time.Now()
		if err := d.Images().Create(ctx, newTestImage(1)); err != nil {
			t.Fatalf("create while another connection held the lock for 300ms: %v", err)
		}
		if el := time.Since(start); el < 250*time.Millisecond {
			t.Errorf("create returned after %v, before the lock was released", el)
		}
	})
	t.Run("out of time", func(t *testing.T) {
		tx := hold(t)
		defer tx.Rollback()
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		err := d.Images().Create(cctx, newTestImage(2))
		// The driver's busy handler gives up when the context ends:
		// the error is then the context's rather than SQLITE_BUSY.
		if !errs.Is(errs.Unavailable, err) || !strings.Contains(err.Error(), "SQLITE_BUSY") && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("create with the database locked past the request's deadline: %v, want unavailable, busy or out of time", err)
		}
		tx.Rollback()
		if _, err := d.Images().Get(ctx, newTestImage(2).ID); !errs.Is(errs.NotFound, err) {
			t.Errorf("the image of the failed create: %v, want not found", err)
		}
	})
	t.Run("retryBusy", func(t *testing.T) {
		tx := hold(t)
		_, busy := other.Exec("BEGIN IMMEDIATE") // a second connection of the pool: busy at once
		tx.Rollback()
		if !isBusy(busy) {
			t.Fatalf("no busy error to retry: %v", busy)
		}
		n := 0
		err := retryBusy(ctx, time.Now(), func() error {
			if n++; n < 3 {
				return busy
			}
			return nil
		})
		if err != nil || n != 3 {
			t.Errorf("retryBusy: %v after %d runs, want nil after 3", err, n)
		}
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		n = 0
		err = retryBusy(cctx, time.Now(), func() error { n++; return busy })
		if !isBusy(err) || n < 2 {
			t.Errorf("retryBusy past the deadline: %v after %d runs, want busy after several", err, n)
		}
	})
}

// SQLITE_IOERR_IN_PAGE (issue 29's "disk I/O error (8714)") is a fault in
// the wal-index mapping, which only a broken locking protocol causes: it
// is Internal, never Unavailable, named, and a write it stops leaves
// nothing behind. modernc's fault injector raises it at each place in
// turn that a create and a read reach.
func TestIOErrInPage(t *testing.T) {
	ctx := context.Background()
	d := openSQLite(t)
	if err := d.Images().Create(ctx, newTestImage(0)); err != nil {
		t.Fatal(err)
	}
	faults := 0
	for n := int32(1); n < 200; n++ {
		img := newTestImage(int(n))
		sqlite3.SehInject(n)
		err := d.Images().Create(ctx, img)
		pending := sqlite3.SehPending()
		sqlite3.SehInject(0)
		_, gerr := d.Images().Get(ctx, img.ID)
		if pending > 0 {
			if faults == 0 {
				t.Skip("no fault site reached: this modernc.org/sqlite has no SEH emulation")
			}
			break
		}
		if err == nil {
			// The fault hit after the commit (preparing a statement
			// again, say): the image must be there.
			if gerr != nil {
				t.Errorf("site %d: create succeeded, get: %v", n, gerr)
			}
			continue
		}
		if faults++; faults == 1 {
			t.Logf("site %d: %v", n, err)
		}
		if !errs.Is(errs.Internal, err) || !strings.Contains(err.Error(), "SQLITE_IOERR_IN_PAGE") {
			t.Errorf("site %d: %v, want internal naming SQLITE_IOERR_IN_PAGE", n, err)
		}
		if !errs.Is(errs.NotFound, gerr) {
			t.Errorf("site %d: create failed (%v) but get says %v, want not found", n, err, gerr)
		}
	}
	if faults == 0 {
		t.Fatal("no create failed")
	}
	t.Logf("%d fault sites on a create", faults)

	sqlite3.SehInject(1)
	_, err := d.Images().List(ctx, image.ListQuery{Limit: 2000}, image.Viewer{Admin: true})
	sqlite3.SehInject(0)
	t.Logf("list: %v", err)
	if !errs.Is(errs.Internal, err) || !strings.Contains(err.Error(), "SQLITE_IOERR_IN_PAGE") || !strings.Contains(err.Error(), "db.Images.List") {
		t.Errorf("list with a fault: %v, want internal naming SQLITE_IOERR_IN_PAGE", err)
	}
}
