// Package db keeps image metadata in SQL, in Glance 25.1's own tables, so
// that Glint and Glance can share a database. SQLite, PostgreSQL and
// MySQL/MariaDB are supported; dialect.go holds what differs between them.
package db

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL, through database/sql as "pgx"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // the embedded default database

	"glint/internal/errs"
)

//go:embed migrations
var migrations embed.FS

// DB is an open Glint database. On SQLite it holds two pools: one
// connection for every write (SQLite has one writer; queueing writes in Go
// instead of in SQLite's busy loop is what keeps "database is locked" away)
// and a pool of readers that WAL mode lets run beside it. On PostgreSQL and
// MySQL both are the same pool: the server handles concurrent writers.
type DB struct {
	Dialect string // "sqlite", "postgres" or "mysql"
	d       dialect
	write   *sql.DB
	read    *sql.DB
	stmts   *stmtCache   // SQLite only: the readers'
	wstmts  *stmtCache   // SQLite only: the writer's
	images  *imageCache  // SQLite only
	group   *commitGroup // SQLite only: the writer's transactions
	// trace, if not nil, is told every statement the repositories run
	// (the plan tests collect them); set before the DB is used.
	trace func(q string, args []any)
	// extraMigrations, if not nil, holds migrations beside the embedded
	// ones, a directory per dialect (tests only).
	extraMigrations fs.FS
}

// Dialect names, as in DB.Dialect and as goose's migration directories.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
	MySQL    = "mysql"
)

// Pool sizes of the PostgreSQL and MySQL pool. oslo.db, which Glance uses,
// keeps 5 connections and lets 50 more open under load; Glint's requests
// hold a connection only for the duration of a query or a short
// transaction, so fewer suffice.
const (
	maxOpenConns    = 32
	maxIdleConns    = 8
	connMaxLifetime = time.Hour // oslo.db's connection_recycle_time
	connMaxIdleTime = 5 * time.Minute
)

// ParseConnection turns a Glance-style [database] connection URL (an
// SQLAlchemy URL) into a dialect and a DSN for its database/sql driver:
//
//	sqlite:///rel/path, sqlite:////abs/path          → a file name
//	postgresql[+driver]://user:pw@host:port/db?…    → a pgx URL
//	mysql[+driver]://user:pw@host:port/db?charset=… → a go-sql-driver/mysql DSN
//
// The +driver part (psycopg2, pymysql, mysqldb, …) names a Python driver
// and is ignored.
func ParseConnection(conn string) (dialect, dsn string, err error) {
	const op errs.Op = "db.ParseConnection"
	u, err := url.Parse(conn)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold a password
		}
		return "", "", errs.E(op, errs.Invalid, fmt.Sprintf("bad database connection %q", Redact(conn)), err)
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
		return SQLite, p, nil
	case "postgresql", "postgres":
		dsn, err := postgresDSN(u)
		if err != nil {
			return "", "", errs.E(op, errs.Invalid, fmt.Sprintf("database connection %q: %v", Redact(conn), err))
		}
		return Postgres, dsn, nil
	case "mysql", "mariadb":
		dsn, err := mysqlDSN(u)
		if err != nil {
			return "", "", errs.E(op, errs.Invalid, fmt.Sprintf("database connection %q: %v", Redact(conn), err))
		}
		return MySQL, dsn, nil
	}
	return "", "", errs.E(op, errs.Invalid, fmt.Sprintf("database connection %q: unknown scheme %q", Redact(conn), u.Scheme))
}

// Redact returns conn with its password, if any, replaced by xxxxx, for
// messages and logs.
func Redact(conn string) string {
	u, err := url.Parse(conn)
	if err != nil {
		if i, j := strings.Index(conn, "://"), strings.LastIndex(conn, "@"); i >= 0 && j > i {
			return conn[:i+3] + "xxxxx" + conn[j:]
		}
		return conn
	}
	if u.User == nil {
		return conn
	}
	if _, ok := u.User.Password(); !ok {
		return conn
	}
	return u.Redacted()
}

// postgresDSN keeps the URL as libpq (and so pgx) reads it: host, port,
// user, password, database, and query parameters such as sslmode,
// connect_timeout or host=/run/postgresql for a Unix socket.
func postgresDSN(u *url.URL) (string, error) {
	if strings.Trim(u.Path, "/") == "" {
		return "", fmt.Errorf("no database name")
	}
	v := &url.URL{Scheme: "postgres", User: u.User, Host: u.Host, Path: u.Path, RawQuery: u.RawQuery}
	return v.String(), nil
}

// mysqlTLS numbers the TLS configurations registered with the MySQL driver.
var mysqlTLS atomic.Int64

// mysqlDSN builds a go-sql-driver/mysql DSN. Times are read and written in
// UTC, as Glance's naive datetimes are; the connection character set is
// utf8mb4, a superset of the utf8 (utf8mb3) that Glance's tables use.
// Besides charset, it understands PyMySQL's unix_socket, connect_timeout,
// read_timeout, write_timeout and ssl_ca/ssl_cert/ssl_key parameters.
func mysqlDSN(u *url.URL) (string, error) {
	c := mysql.NewConfig()
	c.DBName = strings.Trim(u.Path, "/")
	if c.DBName == "" {
		return "", fmt.Errorf("no database name")
	}
	if u.User != nil {
		c.User = u.User.Username()
		c.Passwd, _ = u.User.Password()
	}
	c.Net = "tcp"
	host, port := u.Hostname(), u.Port()
	if host == "" {
		host = "localhost"
	}
	if port == "" {
		port = "3306"
	}
	c.Addr = net.JoinHostPort(host, port)
	c.ParseTime = true
	c.Loc = time.UTC
	// One round trip a query instead of prepare, execute and close: the
	// driver escapes arguments itself (and refuses charsets where that
	// would be unsafe).
	c.InterpolateParams = true
	// RowsAffected counts rows matched, as on the other databases, so an
	// update that happens to change nothing is not taken for a missing row.
	c.ClientFoundRows = true
	// As oslo.db sets it for Glance (mysql_sql_mode): refuse what does not
	// fit a column instead of truncating it.
	c.Params = map[string]string{"sql_mode": "'TRADITIONAL'"}
	var caFile, certFile, keyFile string
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		dur := func() (time.Duration, error) {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("bad %s %q", k, v)
			}
			return time.Duration(n * float64(time.Second)), nil
		}
		var err error
		switch k {
		case "charset":
			// Go strings are UTF-8; utf8mb4 reads utf8 (utf8mb3) columns
			// losslessly, and the server refuses to store a 4-byte
			// character in them rather than mangling it.
			switch strings.ToLower(v) {
			case "utf8", "utf8mb3", "utf8mb4":
			default:
				return "", fmt.Errorf("charset %s is not supported: Glint talks utf8mb4 to MySQL", v)
			}
		case "unix_socket":
			c.Net, c.Addr = "unix", v
		case "connect_timeout":
			c.Timeout, err = dur()
		case "read_timeout":
			c.ReadTimeout, err = dur()
		case "write_timeout":
			c.WriteTimeout, err = dur()
		case "ssl_ca":
			caFile = v
		case "ssl_cert":
			certFile = v
		case "ssl_key":
			keyFile = v
		default:
			return "", fmt.Errorf("unknown MySQL connection parameter %q", k)
		}
		if err != nil {
			return "", err
		}
	}
	if caFile != "" || certFile != "" {
		tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if caFile != "" {
			pem, err := os.ReadFile(caFile)
			if err != nil {
				return "", fmt.Errorf("ssl_ca: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return "", fmt.Errorf("ssl_ca %s holds no PEM certificate", caFile)
			}
		}
		if certFile != "" {
			if keyFile == "" {
				keyFile = certFile
			}
			cert, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return "", fmt.Errorf("ssl_cert: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		name := fmt.Sprintf("glint%d", mysqlTLS.Add(1))
		if err := mysql.RegisterTLSConfig(name, tc); err != nil {
			return "", err
		}
		c.TLSConfig = name
	}
	return c.FormatDSN(), nil
}

// Open opens the database named by a connection URL. It does not migrate.
func Open(ctx context.Context, conn string) (*DB, error) {
	const op errs.Op = "db.Open"
	dialect, dsn, err := ParseConnection(conn)
	if err != nil {
		return nil, err
	}
	if dialect != SQLite {
		p, err := sql.Open(driverName(dialect), dsn)
		if err != nil {
			return nil, errs.E(op, errs.Unavailable, err)
		}
		p.SetMaxOpenConns(maxOpenConns)
		p.SetMaxIdleConns(maxIdleConns)
		p.SetConnMaxLifetime(connMaxLifetime)
		p.SetConnMaxIdleTime(connMaxIdleTime)
		if err := p.PingContext(ctx); err != nil {
			p.Close()
			return nil, errs.E(op, errs.Unavailable, fmt.Sprintf("cannot open database %s", Redact(conn)), err)
		}
		return &DB{Dialect: dialect, d: dialectOf(dialect), write: p, read: p}, nil
	}
	path := dsn
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, errs.E(op, errs.Unavailable, err)
	}
	common := "_pragma=busy_timeout(30000)&_pragma=foreign_keys(0)"
	// temp_store(2): the savepoints of grouped commits (commitGroup) keep
	// their page copies in memory; in a temporary file, writing them was
	// a fifth of a grouped create's CPU.
	w, err := sql.Open("sqlite", "file:"+path+"?"+common+"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=temp_store(2)&_txlock=immediate")
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
	r.SetMaxOpenConns(readers())
	r.SetMaxIdleConns(readers())
	return &DB{Dialect: dialect, d: dialectOf(dialect), write: w, read: r, stmts: newStmtCache(r), wstmts: newStmtCache(w),
		images: newImageCache(r, path+"-shm", maxCachedImages), group: &commitGroup{}}, nil
}

// readers is the size of the SQLite reader pool. Reads run on the CPU
// (the database file sits in the page cache), so connections beyond a few
// per core only add memory: each keeps its own page cache and prepared
// statements. Measured on two cores with 16 concurrent lists, 4 readers
// served as many requests as 8 with 17 MiB less RSS. At least 4, so that
// a long listing does not hold up short requests; one of them is the image
// cache's (imageCache), the others serve queries.
func readers() int { return min(max(4, 2*runtime.GOMAXPROCS(0)), 16) }

// driverName is the database/sql driver of a dialect.
func driverName(dialect string) string {
	switch dialect {
	case Postgres:
		return "pgx"
	case MySQL:
		return "mysql"
	}
	return "sqlite"
}

// Close closes the pools.
func (d *DB) Close() error {
	if d.stmts != nil {
		d.stmts.close()
		d.wstmts.close()
	}
	if d.read == d.write {
		return d.write.Close()
	}
	err := errorsJoin(d.images.close(), d.read.Close(), d.write.Close())
	// Only now that SQLite has let go of the file (walIndex).
	d.images.release()
	return err
}

// errorsJoin returns the first of errs that is not nil.
func errorsJoin(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Pools are the connection pools by role, for their statistics: "main"
// for PostgreSQL and MySQL, "read" and "write" for SQLite.
func (d *DB) Pools() map[string]*sql.DB {
	if d.read == d.write {
		return map[string]*sql.DB{"main": d.write}
	}
	return map[string]*sql.DB{"read": d.read, "write": d.write}
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	return d.read.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

func (d *DB) provider() (*goose.Provider, error) {
	sub, err := d.migrationFS()
	if err != nil {
		return nil, err
	}
	gd := goose.DialectSQLite3
	switch d.Dialect {
	case Postgres:
		gd = goose.DialectPostgres
	case MySQL:
		gd = goose.DialectMySQL
	}
	// Phases apply versions out of their numeric order (an expand after
	// a contract that waits for db contract).
	return goose.NewProvider(gd, d.write, sub, goose.WithAllowOutofOrder(true))
}

// lockMigrations keeps other processes from migrating the database, or
// creating goose's version table, until unlock is called: nodes that start
// together run Sync one after the other. It holds a session lock on a
// connection of its own for the whole of goose's work (goose's own session
// locker leaves out the first look at the version table, and on MySQL,
// where CREATE TABLE commits at once, another node can see that table
// empty). SQLite serves one process and needs none.
func (d *DB) lockMigrations(ctx context.Context) (unlock func(), err error) {
	var lock, release string
	switch d.Dialect {
	case Postgres:
		// Advisory locks are per database: nodes of one deployment wait
		// for each other and for nothing else.
		lock = "SELECT 1 FROM pg_advisory_lock(7426830416135402)"
		release = "SELECT CASE WHEN pg_advisory_unlock(7426830416135402) THEN 1 ELSE 0 END"
	case MySQL:
		// GET_LOCK names are server-wide: qualify by the database.
		lock = "SELECT COALESCE(GET_LOCK(CONCAT('glint-migrate.', DATABASE()), 600), 0)"
		release = "SELECT COALESCE(RELEASE_LOCK(CONCAT('glint-migrate.', DATABASE())), 0)"
	default:
		return func() {}, nil
	}
	c, err := d.write.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var ok int
	if err := c.QueryRowContext(ctx, lock).Scan(&ok); err != nil || ok != 1 {
		c.Close()
		if err == nil {
			err = fmt.Errorf("another process held the migration lock for 10 minutes")
		}
		return nil, err
	}
	return func() {
		if err := c.QueryRowContext(context.WithoutCancel(ctx), release).Scan(&ok); err != nil {
			// Closing the session releases its locks; a pooled
			// connection would keep holding this one.
			c.Raw(func(any) error { return driver.ErrBadConn })
		}
		c.Close()
	}, nil
}

// Version reports the current and the latest known schema versions, and
// Glance's alembic revision if the database has one.
type Version struct {
	Current, Latest int64
	Alembic         string
}

// Version returns the schema versions.
func (d *DB) Version(ctx context.Context) (Version, error) {
	s, err := d.Schema(ctx)
	if err != nil {
		return Version{}, err
	}
	v := Version{Latest: s.Latest}
	if len(s.Applied) > 0 {
		v.Current = s.Applied[len(s.Applied)-1]
	}
	if len(s.Alembic) > 0 {
		v.Alembic = s.Alembic[len(s.Alembic)-1]
	}
	return v, nil
}
