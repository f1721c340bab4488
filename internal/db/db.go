// Package db keeps image metadata in SQL, in Glance 25.1's own tables, so
// that Glint and Glance can share a database.
package db

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // the embedded default database

	"glint/internal/errs"
)

//go:embed migrations
var migrations embed.FS

// DB is an open Glint database. On SQLite it holds two pools: one
// connection for every write (SQLite has one writer; queueing writes in Go
// instead of in SQLite's busy loop is what keeps "database is locked" away)
// and a pool of readers that WAL mode lets run beside it.
type DB struct {
	Dialect string // "sqlite"
	write   *sql.DB
	read    *sql.DB
	path    string
}

// ParseConnection turns a Glance-style [database] connection URL into a
// dialect and a driver DSN. sqlite:///rel/path and sqlite:////abs/path are
// SQLAlchemy's forms.
func ParseConnection(conn string) (dialect, path string, err error) {
	const op errs.Op = "db.ParseConnection"
	u, err := url.Parse(conn)
	if err != nil {
		return "", "", errs.E(op, errs.Invalid, fmt.Sprintf("bad database connection %q", conn), err)
	}
	switch strings.SplitN(u.Scheme, "+", 2)[0] {
	case "sqlite", "sqlite3":
		p := strings.TrimPrefix(conn[len(u.Scheme)+1:], "//")
		p = strings.TrimPrefix(p, "/") // sqlite:///x → x (relative); sqlite:////x → /x
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		if p == "" {
			return "", "", errs.E(op, errs.Invalid, fmt.Sprintf("database connection %q names no file", conn))
		}
		return "sqlite", p, nil
	case "postgresql", "postgres", "mysql":
		return "", "", errs.E(op, errs.Invalid, fmt.Sprintf("database connection %q: %s is not supported yet; use sqlite", conn, u.Scheme))
	}
	return "", "", errs.E(op, errs.Invalid, fmt.Sprintf("database connection %q: unknown scheme %q", conn, u.Scheme))
}

// Open opens the database named by a connection URL. It does not migrate.
func Open(ctx context.Context, conn string) (*DB, error) {
	const op errs.Op = "db.Open"
	dialect, path, err := ParseConnection(conn)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, errs.E(op, errs.Unavailable, err)
	}
	common := "_pragma=busy_timeout(30000)&_pragma=foreign_keys(0)"
	w, err := sql.Open("sqlite", "file:"+path+"?"+common+"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		return nil, errs.E(op, errs.Unavailable, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	// The writer sets WAL first, so readers open an already-WAL file.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, errs.E(op, errs.Unavailable, fmt.Sprintf("cannot open database %s", path), err)
	}
	r, err := sql.Open("sqlite", "file:"+path+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, errs.E(op, errs.Unavailable, err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	return &DB{Dialect: dialect, write: w, read: r, path: path}, nil
}

// Close closes both pools.
func (d *DB) Close() error {
	return errorsJoin(d.read.Close(), d.write.Close())
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	return d.read.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

func (d *DB) provider() (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations/"+d.Dialect)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectSQLite3, d.write, sub)
}

// Sync applies every pending migration. On a database that Glance created,
// the first migration only adds what is missing.
func (d *DB) Sync(ctx context.Context) (applied []int64, err error) {
	const op errs.Op = "db.Sync"
	p, err := d.provider()
	if err != nil {
		return nil, errs.E(op, errs.Internal, err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return nil, errs.E(op, errs.Unavailable, "database migration failed", err)
	}
	for _, r := range res {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}

// Version reports the current and the latest known schema versions, and
// Glance's alembic revision if the database has one.
type Version struct {
	Current, Latest int64
	Alembic         string
}

// Version returns the schema versions.
func (d *DB) Version(ctx context.Context) (Version, error) {
	const op errs.Op = "db.Version"
	p, err := d.provider()
	if err != nil {
		return Version{}, errs.E(op, errs.Internal, err)
	}
	var v Version
	if v.Current, err = p.GetDBVersion(ctx); err != nil {
		return v, errs.E(op, errs.Unavailable, err)
	}
	srcs := p.ListSources()
	if len(srcs) > 0 {
		v.Latest = srcs[len(srcs)-1].Version
	}
	_ = d.read.QueryRowContext(ctx, "SELECT version_num FROM alembic_version").Scan(&v.Alembic)
	return v, nil
}
