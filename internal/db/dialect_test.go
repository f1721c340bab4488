package db

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestDialect(t *testing.T) {
	q := "SELECT a FROM t WHERE b = ? AND c = '?' AND d IN (?,?)"
	if got := dPostgres.bind(q); got != "SELECT a FROM t WHERE b = $1 AND c = '?' AND d IN ($2,$3)" {
		t.Errorf("postgres bind: %s", got)
	}
	if dSQLite.bind(q) != q || dMySQL.bind(q) != q {
		t.Error("bind changed a ? query")
	}

	ts := time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.FixedZone("x", 3600))
	if got := dSQLite.ts(ts); got != "2026-01-02 02:04:05.678901" {
		t.Errorf("sqlite ts: %v", got)
	}
	if got := dMySQL.ts(ts).(time.Time); !got.Equal(time.Date(2026, 1, 2, 2, 4, 5, 0, time.UTC)) || got.Location() != time.UTC {
		t.Errorf("mysql ts: %v", got)
	}
	if got := dPostgres.ts(ts).(time.Time); !got.Equal(ts) || got.Location() != time.UTC {
		t.Errorf("postgres ts: %v", got)
	}

	for _, c := range []struct {
		d    dialect
		want string
	}{
		{dSQLite, "+i.deleted = false"}, {dPostgres, "i.deleted = false"}, {dMySQL, "i.deleted+0 = false"},
	} {
		if got := c.d.notDeleted("i.deleted"); got != c.want {
			t.Errorf("notDeleted: %s, want %s", got, c.want)
		}
	}

	order := func(d dialect) string {
		return fmt.Sprint(d.orderBy("i.name", false, true), ", ", d.orderBy("i.name", true, true), ", ", d.orderBy("i.id", true, false))
	}
	if got := order(dPostgres); got != "i.name ASC NULLS FIRST, i.name DESC NULLS LAST, i.id DESC" {
		t.Errorf("postgres order: %s", got)
	}
	if got := order(dMySQL); got != "i.name ASC, i.name DESC, i.id DESC" {
		t.Errorf("mysql order: %s", got)
	}

	if got := dMySQL.upsert("k", []string{"v"}, "deleted = false"); got != " ON DUPLICATE KEY UPDATE v = VALUES(v), deleted = false" {
		t.Errorf("mysql upsert: %s", got)
	}
	if got := dPostgres.upsert("k", []string{"v"}, ""); got != " ON CONFLICT (k) DO UPDATE SET v = excluded.v" {
		t.Errorf("postgres upsert: %s", got)
	}
	if got := dMySQL.exists("SELECT 1 FROM t"); got != "(SELECT 1 FROM t LIMIT 1) IS NOT NULL" {
		t.Errorf("mysql exists: %s", got)
	}
	if got := dPostgres.sortExpr("i.visibility"); got != "i.visibility::text" || dMySQL.sortExpr("visibility") != "CAST(visibility AS CHAR)" {
		t.Errorf("visibility sort: %s", got)
	}
}

func TestErrorClasses(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("in tx: %w", err) }
	for _, c := range []struct {
		err            error
		dup, retryable bool
	}{
		{wrap(&pgconn.PgError{Code: "23505"}), true, false},
		{wrap(&pgconn.PgError{Code: "40P01"}), false, true},
		{wrap(&pgconn.PgError{Code: "40001"}), false, true},
		{wrap(&mysql.MySQLError{Number: 1062}), true, false},
		{wrap(&mysql.MySQLError{Number: 1213}), false, true},
		{wrap(&mysql.MySQLError{Number: 1205}), false, true},
		{errors.New("other"), false, false},
	} {
		if isDuplicate(c.err) != c.dup || isRetryable(c.err) != c.retryable {
			t.Errorf("%v: duplicate %v, retryable %v", c.err, isDuplicate(c.err), isRetryable(c.err))
		}
	}
}
