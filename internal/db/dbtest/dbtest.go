// Package dbtest gives tests a fresh, empty database on each dialect Glint
// supports: SQLite in a temporary directory, and a uniquely named database
// on the PostgreSQL and MySQL/MariaDB test servers, dropped when the test
// ends.
//
// The servers are found through GLINT_TEST_POSTGRES (default
// postgresql://postgres@127.0.0.1:5432/postgres) and GLINT_TEST_MYSQL
// (default mysql+pymysql://root@127.0.0.1:3306/mysql), as connection URLs
// of a user that may create databases. A server that does not answer
// fails the test when CI=true or GLINT_REQUIRE_DBS=1, and is otherwise
// left out with a log line. GLINT_TEST_DBS=sqlite,postgres limits the
// dialects tests run on. Under go test -short only SQLite runs: the
// servers are not dialed, and not required even under CI=true.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"glint/internal/db"
)

// Conn is a fresh database.
type Conn struct {
	Name string // the dialect: db.SQLite, db.Postgres or db.MySQL
	URL  string // its connection URL, in the form Glance's [database] connection takes
}

// Dialects are the dialects, in the order tests run on them.
var Dialects = []string{db.SQLite, db.Postgres, db.MySQL}

type server struct {
	env, def string
	once     sync.Once
	admin    *sql.DB
	base     *url.URL
	err      error
}

var servers = map[string]*server{
	db.Postgres: {env: "GLINT_TEST_POSTGRES", def: "postgresql://postgres@127.0.0.1:5432/postgres"},
	db.MySQL:    {env: "GLINT_TEST_MYSQL", def: "mysql+pymysql://root@127.0.0.1:3306/mysql"},
}

func (s *server) open() {
	conn := os.Getenv(s.env)
	if conn == "" {
		conn = s.def
	}
	if s.base, s.err = url.Parse(conn); s.err != nil {
		return
	}
	dialect, dsn, err := db.ParseConnection(conn)
	if err != nil {
		s.err = err
		return
	}
	driver := map[string]string{db.Postgres: "pgx", db.MySQL: "mysql"}[dialect]
	if s.admin, s.err = sql.Open(driver, dsn); s.err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.admin.PingContext(ctx); err != nil {
		s.admin.Close()
		s.err = fmt.Errorf("%s (%s): %w", db.Redact(conn), s.env, err)
	}
}

// required reports whether a missing server fails the test.
func required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("GLINT_REQUIRE_DBS") == "1"
}

func wanted(dialect string) bool {
	only := os.Getenv("GLINT_TEST_DBS")
	return only == "" || slices.Contains(strings.Split(only, ","), dialect)
}

// Connections returns a fresh, empty database on every dialect whose
// server answers (see the package comment), SQLite first; only SQLite
// under -short.
func Connections(t testing.TB) []Conn {
	t.Helper()
	var out []Conn
	for _, d := range Dialects {
		if c, ok := create(t, d); ok {
			out = append(out, c)
		}
	}
	return out
}

// New returns a fresh, empty database of one dialect, and skips t when
// that dialect's server does not answer (fails it when servers are
// required) or, for a server dialect, under -short.
func New(t testing.TB, dialect string) Conn {
	t.Helper()
	if dialect != db.SQLite && testing.Short() {
		t.Skipf("-short: needs a %s server", dialect)
	}
	c, ok := create(t, dialect)
	if !ok {
		t.Skipf("no %s server for this test", dialect)
	}
	return c
}

func create(t testing.TB, dialect string) (Conn, bool) {
	t.Helper()
	if !wanted(dialect) {
		return Conn{}, false
	}
	if dialect == db.SQLite {
		return Conn{Name: db.SQLite, URL: "sqlite:///" + filepath.Join(t.TempDir(), "glint.db")}, true
	}
	if testing.Short() {
		return Conn{}, false // no servers under -short, and none required
	}
	s := servers[dialect]
	if s == nil {
		t.Fatalf("dbtest: unknown dialect %q", dialect)
	}
	s.once.Do(s.open)
	if s.err != nil {
		if required() {
			t.Fatalf("dbtest: %s server needed (CI=true or GLINT_REQUIRE_DBS=1): %v", dialect, s.err)
		}
		t.Logf("dbtest: skipping %s, no server: %v", dialect, s.err)
		return Conn{}, false
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	name := "glint_test_" + hex.EncodeToString(rnd[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	quoted := "`" + name + "`"
	drop := "DROP DATABASE IF EXISTS " + quoted
	if dialect == db.Postgres {
		quoted = `"` + name + `"`
		drop = "DROP DATABASE IF EXISTS " + quoted + " WITH (FORCE)"
	}
	if _, err := s.admin.ExecContext(ctx, "CREATE DATABASE "+quoted); err != nil {
		t.Fatalf("dbtest: create %s database: %v", dialect, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := s.admin.ExecContext(ctx, drop); err != nil {
			t.Errorf("dbtest: drop %s database %s: %v", dialect, name, err)
		}
	})
	u := *s.base
	u.Path = "/" + name
	return Conn{Name: dialect, URL: u.String()}, true
}

// Open opens the database at url with its schema migrated; it is closed
// when the test ends.
func Open(t testing.TB, url string) *db.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}
