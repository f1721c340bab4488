package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect is what differs between the three databases, kept to a few
// small functions rather than an ORM. Queries are written once, in the
// common subset of SQL, with ? placeholders and the literals true and
// false (which SQLite ≥ 3.23, PostgreSQL and MySQL all accept); the
// dialect supplies the rest:
//
//   - bind: placeholders ($1, $2, … on PostgreSQL)
//   - ts: the value a timestamp column takes (SQLAlchemy's text on SQLite,
//     time.Time elsewhere, whole seconds on MySQL, whose DATETIME has none)
//   - notDeleted, unindexed, unindexedBool: a predicate the planner should
//     not drive from an index (SQLite's unary +, MySQL's col+0)
//   - live: deleted = false in a form that bounds an index range
//   - exists, picksSemiJoin: a correlated subquery probed row by row
//   - orderBy: NULL first ascending and last descending everywhere, as
//     SQLite and MySQL do and as markerSQL assumes
//   - sortExpr: an ENUM column sorted and compared as text
//   - upsert: ON CONFLICT … DO UPDATE or ON DUPLICATE KEY UPDATE
//   - conn.insertID: RETURNING id or LastInsertId
//   - conn.queryPlanned: a listing planned for its own arguments (PostgreSQL)
//   - forUpdate: row locks where the server has them
//   - isDuplicate, isRetryable: error classification
type dialect int

const (
	dSQLite dialect = iota
	dPostgres
	dMySQL
)

func dialectOf(name string) dialect {
	switch name {
	case Postgres:
		return dPostgres
	case MySQL:
		return dMySQL
	}
	return dSQLite
}

// bind rewrites the ? placeholders of q for the driver. Question marks in
// quoted literals and identifiers are left alone.
func (d dialect) bind(q string) string {
	if d != dPostgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// ts is the value stored in a timestamp column for t. Glance's columns
// hold naive UTC times: SQLite stores SQLAlchemy's text form, PostgreSQL a
// timestamp without time zone (microseconds), MySQL a DATETIME without
// fractional seconds, which Glint truncates itself (MariaDB would
// truncate, MySQL would round).
func (d dialect) ts(t time.Time) any {
	switch d {
	case dSQLite:
		return fmtTime(t)
	case dMySQL:
		return t.UTC().Truncate(time.Second)
	}
	return t.UTC()
}

// tsCmp is the value a timestamp column is compared with in a filter: as
// given, so that gt:10:00:00.5 still excludes a stored 10:00:00.
func (d dialect) tsCmp(t time.Time) any {
	if d == dSQLite {
		return fmtTime(t)
	}
	return t.UTC()
}

// unindexed is col in a condition that the planner should check row by
// row rather than look up through an index on col: the conditions that
// match nearly every row (status <> 'killed', visibility <> 'community').
// SQLite's planner prefers any usable index, and a unary + hides the
// column from it; PostgreSQL's and MySQL's planners weigh the index
// statistics and skip such an index themselves.
func (d dialect) unindexed(col string) string {
	if d == dSQLite {
		return "+" + col
	}
	return col
}

// forceIndex names the index a MySQL query is to walk table with (a table
// expression with its alias). Elsewhere the planner is left to choose.
func (d dialect) forceIndex(table, index string) string {
	if d == dMySQL {
		return table + " FORCE INDEX (" + index + ")"
	}
	return table
}

// unindexedBool is unindexed for a boolean column (deleted, os_hidden).
// MariaDB intersects the indexes on two such columns (index_merge) rather
// than walk the sort order, which makes a 20-image page 400 times slower
// at 100,000 images; col+0 is no longer an indexed column. PostgreSQL
// keeps the plain column: it estimates its selectivity from statistics.
func (d dialect) unindexedBool(col string) string {
	switch d {
	case dSQLite:
		return "+" + col
	case dMySQL:
		return col + "+0"
	}
	return col
}

// notDeleted is the condition that the row of col (a deleted column) is
// live, checked row by row on SQLite and MySQL: for statements keyed by
// an image's ID, whose rows are few whatever the deleted ones.
func (d dialect) notDeleted(col string) string {
	return d.unindexedBool(col) + " = false"
}

// live is the condition that the row of col (a deleted column) is live,
// for a statement that is to seek past deleted rows through an index
// holding deleted right after the columns it compares for equality
// (migration 8): clouds keep deleted rows for years, and a statement
// keyed by a location's URL, a tag, a property value, an owner or the sort
// order must not read them. On PostgreSQL the indexes are partial (WHERE
// deleted = false), which this condition, as written, lets the planner
// use. SQLite's planner, without statistics, takes any equality on an
// index's first column for a selective one and would pick Glance's
// (deleted) indexes over the one a statement is keyed by; likelihood()
// tells it that nearly every row matches, and the condition still bounds
// the index range. MariaDB weighs the index statistics itself.
func (d dialect) live(col string) string {
	if d == dSQLite {
		return "likelihood(" + col + " = false, 0.9375)"
	}
	return col + " = false"
}

// indexedBy names the index a SQLite query is to use for table (a table
// name and alias), where SQLite's planner would pick a worse one; other
// databases get the table as it is.
func (d dialect) indexedBy(table, index string) string {
	if d == dSQLite {
		return table + " INDEXED BY " + index
	}
	return table
}

// picksSemiJoin reports whether the planner, given EXISTS (…) for a tag
// or property filter, itself chooses between probing it row by row in the
// sort order (a common value) and starting from the value's matches (a
// rare one), from its statistics and the value at hand. PostgreSQL does
// (listings are planned for their arguments: conn.queryPlanned); on SQLite
// and MySQL Glint counts the matches and writes the query in the shape
// that fits.
func (d dialect) picksSemiJoin() bool { return d == dPostgres }

// exists is EXISTS (sub), for a subquery that is to be probed once per row
// of the outer query, in the sort order, until a page is full. MySQL and
// MariaDB turn an EXISTS into a semi-join that first collects every match
// (tens of thousands for a common tag); a scalar subquery with a LIMIT
// keeps them probing.
func (d dialect) exists(sub string) string {
	if d == dMySQL {
		return "(" + sub + " LIMIT 1) IS NOT NULL"
	}
	return "EXISTS (" + sub + ")"
}

// sortExpr is the expression a listing sorts and pages by for col. An
// ENUM (images.visibility on PostgreSQL and MySQL) sorts in declaration
// order, and on MySQL compares with a string as text: a text cast keeps
// the sort and the marker comparison in one order, the same everywhere.
func (d dialect) sortExpr(col string) string {
	if col == "visibility" || strings.HasSuffix(col, ".visibility") {
		switch d {
		case dPostgres:
			return col + "::text"
		case dMySQL:
			return "CAST(" + col + " AS CHAR)"
		}
	}
	return col
}

// orderBy is one ORDER BY term in which NULL sorts before every value, as
// SQLite and MySQL do and PostgreSQL does not by default. The NULLS clause
// is given only for nullable columns, so that the (created_at, id) index
// still matches the default sort on PostgreSQL.
func (d dialect) orderBy(expr string, desc, nullable bool) string {
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	if d == dPostgres && nullable {
		if desc {
			return expr + dir + " NULLS LAST"
		}
		return expr + dir + " NULLS FIRST"
	}
	return expr + dir
}

// upsert is the tail of an INSERT that, when a row with the same unique
// key exists (key lists its columns, for the dialects that need them),
// updates that row instead: the columns in copy take the inserted values
// and set is a further assignment list.
func (d dialect) upsert(key string, copy []string, set string) string {
	var as []string
	for _, c := range copy {
		if d == dMySQL {
			as = append(as, c+" = VALUES("+c+")")
		} else {
			as = append(as, c+" = excluded."+c)
		}
	}
	if set != "" {
		as = append(as, set)
	}
	if d == dMySQL {
		return " ON DUPLICATE KEY UPDATE " + strings.Join(as, ", ")
	}
	return " ON CONFLICT (" + key + ") DO UPDATE SET " + strings.Join(as, ", ")
}

// forUpdate locks the rows a SELECT in a transaction reads until the
// transaction ends. SQLite has one writer at a time and no row locks.
func (d dialect) forUpdate() string {
	if d == dSQLite {
		return ""
	}
	return " FOR UPDATE"
}

// isDuplicate reports whether err is a unique or primary key violation.
func isDuplicate(err error) bool {
	var se *sqlite.Error
	var pe *pgconn.PgError
	var me *mysql.MySQLError
	switch {
	case errors.As(err, &se):
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
	case errors.As(err, &pe):
		return pe.Code == "23505"
	case errors.As(err, &me):
		return me.Number == 1062
	}
	return false
}

// isRetryable reports whether err ended a transaction that may simply be
// run again: a deadlock, a serialization failure or a lock wait timeout.
func isRetryable(err error) bool {
	var pe *pgconn.PgError
	var me *mysql.MySQLError
	switch {
	case errors.As(err, &pe):
		return pe.Code == "40001" || pe.Code == "40P01"
	case errors.As(err, &me):
		return me.Number == 1213 || me.Number == 1205
	}
	return false
}

// runner is a pool or a transaction.
type runner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn runs queries written with ? placeholders on a pool or a transaction.
// Its errors name what the statement was for (stmtErr).
type conn struct {
	r     runner
	d     dialect
	cache *stmtCache // nil: run statements unprepared
	// In an SQLite write transaction: the transaction, and the statements
	// it ran unprepared, which tryTx prepares once the transaction is over
	// (preparing needs the writer connection the transaction holds).
	tx     *sql.Tx
	missed *[]string
	// retry: a statement that finds the database busy or locked may run
	// again (retryBusy): outside a transaction, or in a read-only one,
	// which has taken no snapshot when its statement fails so. A write
	// transaction is run again whole (DB.inTx).
	retry bool
	// trace, if not nil, is told every statement before it runs (DB.trace).
	trace func(q string, args []any)
	// touch, in an SQLite write transaction, collects what it changed
	// for the image cache (imageCache.commit).
	touch *touchSet
}

// touches says that the write transaction changes image id (its row or
// its properties, tags, locations or members): the image cache drops
// only the images so named when it commits. A transaction that changes
// rows and names nothing makes the cache drop every image.
func (c conn) touches(id string) {
	if c.touch != nil {
		c.touch.ids = append(c.touch.ids, id)
		c.touch.named = true
	}
}

// touchesNoImage says that the write transaction changes no image (tasks,
// metadata definitions).
func (c conn) touchesNoImage() {
	if c.touch != nil {
		c.touch.named = true
	}
}

// stmt returns the prepared statement to run q with, or nil.
func (c conn) stmt(ctx context.Context, q string) *sql.Stmt {
	switch {
	case c.cache == nil:
		return nil
	case c.tx == nil:
		return c.cache.get(ctx, q)
	}
	if st := c.cache.lookup(q); st != nil {
		// Prepared on the pool's one connection, which the transaction
		// holds: database/sql reuses it.
		return c.tx.StmtContext(ctx, st)
	}
	*c.missed = append(*c.missed, q)
	return nil
}

// run runs fn, again while the database is busy if c may (retry).
func (c conn) run(ctx context.Context, fn func() error) error {
	if !c.retry {
		return fn()
	}
	return retryBusy(ctx, time.Time{}, fn)
}

func (c conn) exec(ctx context.Context, q string, args ...any) (res sql.Result, err error) {
	c.traced(q, args)
	err = c.run(ctx, func() error {
		if st := c.stmt(ctx, q); st != nil {
			res, err = st.ExecContext(ctx, args...)
		} else {
			res, err = c.r.ExecContext(ctx, c.d.bind(q), args...)
		}
		return err
	})
	if err == nil && c.touch != nil {
		if n, nerr := res.RowsAffected(); nerr == nil {
			c.touch.rows += n
		}
	}
	return res, stmtErr(q, err)
}

func (c conn) query(ctx context.Context, q string, args ...any) (rows *sql.Rows, err error) {
	c.traced(q, args)
	err = c.run(ctx, func() error {
		if st := c.stmt(ctx, q); st != nil {
			rows, err = st.QueryContext(ctx, args...)
		} else {
			rows, err = c.r.QueryContext(ctx, c.d.bind(q), args...)
		}
		return err
	})
	return rows, stmtErr(q, err)
}

// queryRow is QueryRowContext: the statement runs when the row is scanned.
func (c conn) queryRow(ctx context.Context, q string, args ...any) row {
	return row{ctx: ctx, c: c, q: q, args: args}
}

// row is a *sql.Row, with conn's naming of errors and retries.
type row struct {
	ctx  context.Context
	c    conn
	q    string
	args []any
}

func (r row) Scan(dest ...any) error {
	r.c.traced(r.q, r.args)
	err := r.c.run(r.ctx, func() error {
		if st := r.c.stmt(r.ctx, r.q); st != nil {
			return st.QueryRowContext(r.ctx, r.args...).Scan(dest...)
		}
		return r.c.r.QueryRowContext(r.ctx, r.c.d.bind(r.q), r.args...).Scan(dest...)
	})
	return stmtErr(r.q, err)
}

// queryPlanned runs a query that is planned for its own arguments each
// time. pgx otherwise prepares and caches every statement, and after five
// runs PostgreSQL may settle on a generic plan, blind to whether a tag or
// property value is rare or common; listings are also too varied to be
// worth caching.
func (c conn) queryPlanned(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if c.d == dPostgres {
		args = append([]any{pgx.QueryExecModeDescribeExec}, args...)
	}
	return c.query(ctx, q, args...)
}

// insertID runs an INSERT into a table with an integer id column and
// returns the new row's id.
func (c conn) insertID(ctx context.Context, q string, args ...any) (int64, error) {
	if c.d == dPostgres {
		var id int64
		err := c.queryRow(ctx, q+" RETURNING id", args...).Scan(&id)
		return id, err
	}
	res, err := c.exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// traced tells c.trace, if any, of a statement about to run.
func (c conn) traced(q string, args []any) {
	if c.trace != nil {
		c.trace(q, args)
	}
}

// reader is the pool for queries outside a transaction.
func (d *DB) reader() conn {
	return conn{r: d.read, d: d.d, cache: d.stmts, retry: true, trace: d.trace}
}

// snapshot returns a reader whose statements all see one state of the
// database, and the function that ends it: a listing's statements (the
// selectivity probes, the page, its properties and tags) otherwise each
// saw the state of their own moment, and under concurrent writes a page
// filtered on a property could come back with another value of it
// (TestListOneState). On SQLite that is a read transaction on one
// connection; on PostgreSQL and MySQL a read-only REPEATABLE READ one,
// whose snapshot is taken at its first read.
func (d *DB) snapshot(ctx context.Context) (conn, func(), error) {
	if d.d != dSQLite {
		tx, err := d.read.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
		if err != nil {
			return conn{}, nil, err
		}
		return conn{r: tx, d: d.d, trace: d.trace}, func() { tx.Rollback() }, nil
	}
	tx, err := d.read.BeginTx(ctx, nil)
	if err != nil {
		return conn{}, nil, purposeErr("begin a read transaction", err)
	}
	var missed []string
	c := conn{r: tx, d: d.d, cache: d.stmts, tx: tx, missed: &missed, retry: true, trace: d.trace}
	return c, func() {
		tx.Rollback()
		// Prepared on the pool, outside the transaction, as tryTx does
		// for the writer's.
		for _, q := range missed {
			d.stmts.get(ctx, q)
		}
	}, nil
}

// dbTime scans a timestamp column whichever way the driver hands it over:
// time.Time (PostgreSQL, MySQL with parseTime) or text (SQLite).
type dbTime struct {
	Time  time.Time
	Valid bool
}

func (t *dbTime) Scan(v any) error {
	var err error
	switch v := v.(type) {
	case nil:
		*t = dbTime{}
		return nil
	case time.Time:
		t.Time = v.UTC()
	case string:
		t.Time, err = parseTime(v)
	case []byte:
		t.Time, err = parseTime(string(v))
	default:
		err = fmt.Errorf("cannot scan %T into a timestamp", v)
	}
	t.Valid = err == nil
	return err
}
