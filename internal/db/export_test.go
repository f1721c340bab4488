package db

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"strings"

	"github.com/jackc/pgx/v5"
)

// EmptyForTest deletes every image, membership and task, children
// first (MySQL enforces the foreign keys), leaving the schema: a test
// that wants an empty repository many times gets it in milliseconds
// instead of the seconds a new database takes on PostgreSQL or MariaDB.
func (d *DB) EmptyForTest(ctx context.Context) error {
	return d.inTx(ctx, "db.EmptyForTest", func(tx conn) error {
		for _, table := range []string{"image_members", "image_locations", "image_properties", "image_tags", "images",
			"glint_quota_locks", "task_info", "tasks"} {
			if _, err := tx.exec(ctx, "DELETE FROM "+table); err != nil {
				return err
			}
		}
		return nil
	})
}

// TraceForTest has fn told every statement the repositories run from
// now on (nil stops it); set it while no statement runs.
func (d *DB) TraceForTest(fn func(q string, args []any)) { d.trace = fn }

// ExplainForTest returns the database's plan of statement q (written with
// ? placeholders, as the repositories run it) for args, one line per
// step: SQLite's EXPLAIN QUERY PLAN details; PostgreSQL's EXPLAIN lines,
// planned with enable_seqscan off (so the question is whether an index
// can serve the statement, whatever the table's size and statistics);
// MySQL's EXPLAIN rows as "table=… type=… key=…".
func (d *DB) ExplainForTest(ctx context.Context, q string, args []any) ([]string, error) {
	var plain []any
	for _, a := range args {
		if _, ok := a.(pgx.QueryExecMode); !ok {
			plain = append(plain, a)
		}
	}
	c, err := d.read.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	prefix := "EXPLAIN "
	switch d.d {
	case dSQLite:
		prefix = "EXPLAIN QUERY PLAN "
	case dPostgres:
		if _, err := c.ExecContext(ctx, "SET enable_seqscan = off"); err != nil {
			return nil, err
		}
		defer c.ExecContext(context.WithoutCancel(ctx), "RESET enable_seqscan")
		// Planned for these values, as a statement's first runs are.
		plain = append([]any{pgx.QueryExecModeSimpleProtocol}, plain...)
	}
	rows, err := c.QueryContext(ctx, prefix+d.d.bind(q), plain...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var plan []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		switch d.d {
		case dSQLite:
			plan = append(plan, vals[len(vals)-1].String)
		case dPostgres:
			plan = append(plan, vals[0].String)
		default:
			var b strings.Builder
			for i, c := range cols {
				if c == "table" || c == "type" || c == "key" || c == "Extra" {
					fmt.Fprintf(&b, "%s=%s ", c, vals[i].String)
				}
			}
			plan = append(plan, strings.TrimSpace(b.String()))
		}
	}
	return plan, rows.Err()
}

// SetExtraMigrationsForTest adds the migrations of fsys (a directory per
// dialect) to the embedded ones; set it before the DB migrates.
func (d *DB) SetExtraMigrationsForTest(fsys fs.FS) { d.extraMigrations = fsys }

// PhasesForTest lists a dialect's migrations as "version:phase", space
// separated.
func PhasesForTest(dialect string) (string, error) {
	plan, err := (&DB{Dialect: dialect}).plan()
	var parts []string
	for _, m := range plan {
		parts = append(parts, fmt.Sprintf("%d:%s", m.version, m.phase))
	}
	return strings.Join(parts, " "), err
}
