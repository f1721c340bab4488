package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"

	"glint/internal/errs"
)

// BackupResult describes a finished backup.
type BackupResult struct {
	Source, Dest string
	Pages        int   // database pages copied
	Bytes        int64 // size of the copy
	Images       int64 // rows in the images table of the copy, deleted ones included
	Took         time.Duration
}

// ErrNotEmbedded is returned by Backup for PostgreSQL and MySQL, whose own
// tools make consistent copies; the error's message names the tool.
var ErrNotEmbedded = errors.New("not the embedded SQLite database")

// Backup copies the SQLite database that conn names to the file dest,
// consistently, while other processes (glint serve, glint scrub) keep
// reading and writing it. It uses SQLite's online backup API in one step:
// one read transaction copies every page of one state of the database, so
// writers are never blocked and never force the copy to start over. The
// copy is written beside dest, checked (PRAGMA quick_check), switched from
// WAL to a rollback journal so that it is a single self-contained file,
// flushed, and only then renamed to dest: a failed or interrupted backup
// leaves no dest behind. dest must not exist unless replace is set.
//
// The live database is only ever opened through SQLite, never as a plain
// file: closing a descriptor of it would drop the locks that SQLite holds
// in this process (see walIndex).
func Backup(ctx context.Context, conn, dest string, replace bool) (BackupResult, error) {
	const op errs.Op = "db.Backup"
	start := time.Now()
	dialect, path, err := ParseConnection(conn)
	if err != nil {
		return BackupResult{}, err
	}
	if dialect != SQLite {
		return BackupResult{}, errs.E(op, errs.Invalid, ErrNotEmbedded, dumpAdvice(dialect, conn))
	}
	res := BackupResult{Source: path, Dest: dest}
	if strings.ContainsAny(dest, "?#") {
		return res, errs.E(op, errs.Invalid, fmt.Sprintf("backup destination %q: ? and # are not allowed in the file name", dest))
	}
	if _, err := os.Stat(path); err != nil {
		return res, errs.E(op, errs.Invalid, fmt.Sprintf("no database at %s", path), err)
	}
	if same, _ := sameFile(path, dest); same {
		return res, errs.E(op, errs.Invalid, fmt.Sprintf("%s is the database itself", dest))
	}
	if _, err := os.Lstat(dest); err == nil && !replace {
		return res, errs.E(op, errs.Conflict, fmt.Sprintf("%s exists (replace it with --force)", dest))
	}

	// A connection of its own, as any other process would open the
	// database; query_only keeps it from writing.
	src, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(30000)&_pragma=query_only(1)")
	if err != nil {
		return res, errs.E(op, errs.Unavailable, err)
	}
	defer src.Close()
	src.SetMaxOpenConns(1)

	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".tmp-*")
	if err != nil {
		return res, errs.E(op, errs.Unavailable, err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	done := false
	defer func() {
		if !done {
			for _, suffix := range []string{"", "-journal", "-wal", "-shm"} {
				os.Remove(tmpPath + suffix)
			}
		}
	}()

	c, err := src.Conn(ctx)
	if err != nil {
		return res, dbErr(op, purposeErr("open the database", err))
	}
	err = c.Raw(func(dc any) error {
		b, ok := dc.(interface {
			NewBackup(string) (*sqlite.Backup, error)
		})
		if !ok {
			return fmt.Errorf("the SQLite driver has no backup API (%T)", dc)
		}
		bk, err := b.NewBackup("file:" + tmpPath)
		if err != nil {
			return err
		}
		// All pages in one step; retried while the source is busy (a
		// process holding an exclusive lock, or recovering the WAL).
		err = retryBusy(ctx, time.Now(), func() error {
			more, err := bk.Step(-1)
			if err == nil && more {
				err = errors.New("the backup did not finish in one step")
			}
			return err
		})
		res.Pages = bk.PageCount()
		if ferr := bk.Finish(); err == nil {
			err = ferr
		}
		return err
	})
	c.Close()
	if err != nil {
		return res, dbErr(op, purposeErr("copy the database", err))
	}

	// The copy: one file, checked, on disk.
	dst, err := sql.Open("sqlite", "file:"+tmpPath)
	if err != nil {
		return res, errs.E(op, errs.Unavailable, err)
	}
	var mode, check string
	err = dst.QueryRowContext(ctx, "PRAGMA journal_mode=DELETE").Scan(&mode)
	if err == nil {
		err = dst.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&check)
	}
	if err == nil && check != "ok" {
		err = fmt.Errorf("quick_check of the copy: %s", check)
	}
	if err == nil {
		err = dst.QueryRowContext(ctx, "SELECT count(*) FROM images").Scan(&res.Images)
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return res, errs.E(op, errs.Internal, "the copy is not sound", err)
	}
	if err := syncFile(tmpPath); err != nil {
		return res, errs.E(op, errs.Unavailable, err)
	}
	if err := os.Rename(tmpPath, dest); err != nil {
		return res, errs.E(op, errs.Unavailable, err)
	}
	done = true
	if err := syncFile(filepath.Dir(dest)); err != nil {
		return res, errs.E(op, errs.Unavailable, err)
	}
	if st, err := os.Stat(dest); err == nil {
		res.Bytes = st.Size()
	}
	res.Took = time.Since(start)
	return res, nil
}

// dumpAdvice names the tool that backs up a PostgreSQL or MySQL database,
// with the command for the database conn names (its password left out).
func dumpAdvice(dialect, conn string) string {
	host, port, user, name := "HOST", "", "USER", "DBNAME"
	if u, err := url.Parse(conn); err == nil {
		if u.Hostname() != "" {
			host = u.Hostname()
		}
		port = u.Port()
		if u.User != nil && u.User.Username() != "" {
			user = u.User.Username()
		}
		if n := strings.Trim(u.Path, "/"); n != "" {
			name = n
		}
	}
	if dialect == Postgres {
		if port == "" {
			port = "5432"
		}
		return fmt.Sprintf("the database is PostgreSQL: glint db backup copies only the embedded SQLite database; "+
			"back this one up with pg_dump (pg_dump -Fc -h %s -p %s -U %s -f glint.dump %s) and restore it with pg_restore",
			host, port, user, name)
	}
	if port == "" {
		port = "3306"
	}
	return fmt.Sprintf("the database is MySQL/MariaDB: glint db backup copies only the embedded SQLite database; "+
		"back this one up with mariadb-dump or mysqldump (mariadb-dump --single-transaction --routines -h %s -P %s -u %s %s > glint.sql) "+
		"and restore it with mariadb (mariadb -h %s -P %s -u %s %s < glint.sql)", host, port, user, name, host, port, user, name)
}

// syncFile flushes a file or directory to disk. Never call it on the live
// database (see Backup).
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// sameFile reports whether a and b are the same file.
func sameFile(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(sa, sb), nil
}
