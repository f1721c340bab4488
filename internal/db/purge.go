package db

import (
	"context"
	"math"
	"strings"
	"time"

	"glint/internal/errs"
)

// PurgeBatch is how many rows one purge transaction removes at most: small
// enough that a serving database is never locked for long, as rows are
// removed while Glint (or Glance) keeps writing beside the purge.
const PurgeBatch = 1000

// MaxPurgeRows is the largest --max_rows Glance accepts (a 4-byte INT).
const MaxPurgeRows = math.MaxInt32

// Purged is what a purge removed from one table.
type Purged struct {
	Table string
	Rows  int64
	// Kept counts rows old enough to purge that were left in place: deleted
	// images that still have child rows (purge_images_table only).
	Kept int64
}

// purgeSpec says how to find and remove one table's purgeable rows.
type purgeSpec struct {
	table  string
	intKey bool   // the key is an integer (else a string)
	key    string // the key column, as the select names it
	from   string // FROM clause of the select
	where  string // the rows to purge; one ? for the cut-off time
	order  string // the deleted_at column the oldest rows are picked by
	// del removes the rows of keys still matching where, in tx.
	del func(ctx context.Context, tx conn, in string, args []any) (int64, error)
}

// childTables are the tables whose rows belong to an image (a foreign key
// on image_id), in the order Glance's purge visits them.
var childTables = []string{"image_properties", "image_tags", "image_locations", "image_members"}

func execCount(ctx context.Context, tx conn, q string, args []any) (int64, error) {
	res, err := tx.exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func plainSpec(table, extra string) purgeSpec {
	where := table + ".deleted_at < ?" + extra
	return purgeSpec{
		table: table, intKey: table != "tasks" && table != "images", key: table + ".id", from: table,
		where: where, order: table + ".deleted_at",
		del: func(ctx context.Context, tx conn, in string, args []any) (int64, error) {
			return execCount(ctx, tx, "DELETE FROM "+table+" WHERE id IN ("+in+") AND "+where, args)
		},
	}
}

// purgeSpecs are the tables glance-manage db purge covers, children before
// parents: the information of tasks deleted before the cut-off (which has
// no deleted column of its own), each table of Glance's with a deleted
// column except images (OSSN-0075: a purged image's ID could be reused),
// and tasks last.
func purgeSpecs() []purgeSpec {
	specs := []purgeSpec{{
		table: "task_info", key: "task_info.task_id",
		from:  "task_info JOIN tasks ON tasks.id = task_info.task_id",
		where: "tasks.deleted_at < ?", order: "tasks.deleted_at",
		del: func(ctx context.Context, tx conn, in string, args []any) (int64, error) {
			return execCount(ctx, tx, "DELETE FROM task_info WHERE task_id IN ("+in+") AND task_id IN (SELECT id FROM tasks WHERE deleted_at < ?)", args)
		},
	}}
	for _, t := range childTables {
		specs = append(specs, plainSpec(t, ""))
	}
	tasks := plainSpec("tasks", "")
	del := tasks.del
	// A task's information goes with it, so that a limit that stopped the
	// task_info pass short cannot make the task's delete break the key.
	tasks.del = func(ctx context.Context, tx conn, in string, args []any) (int64, error) {
		if _, err := tx.exec(ctx, "DELETE FROM task_info WHERE task_id IN (SELECT id FROM tasks WHERE id IN ("+in+") AND deleted_at < ?)", args...); err != nil {
			return 0, err
		}
		return del(ctx, tx, in, args)
	}
	return append(specs, tasks)
}

// imagesSpec is the images table, for purge_images_table: only images no
// child row refers to any more (glint db purge removes those first), so
// that no foreign key breaks and no row is left pointing at nothing.
func imagesSpec() purgeSpec {
	var extra strings.Builder
	for _, t := range childTables {
		extra.WriteString(" AND NOT EXISTS (SELECT 1 FROM " + t + " WHERE " + t + ".image_id = images.id)")
	}
	return plainSpec("images", extra.String())
}

// Purge removes the rows that were marked deleted before before from every
// table glance-manage db purge covers, as it does: in each table at most
// maxRows rows, the oldest first (-1: all of them). Each table's count is
// passed to report as soon as the table is done.
func (d *DB) Purge(ctx context.Context, before time.Time, maxRows int64, report func(Purged)) error {
	for _, s := range purgeSpecs() {
		n, err := d.purge(ctx, s, before, maxRows)
		if err != nil {
			return err
		}
		report(Purged{Table: s.table, Rows: n})
	}
	return nil
}

// PurgeImages removes the images marked deleted before before, at most
// maxRows of them (-1: all), as glance-manage db purge_images_table does,
// except that images that still have child rows are kept and counted.
func (d *DB) PurgeImages(ctx context.Context, before time.Time, maxRows int64) (Purged, error) {
	s := imagesSpec()
	n, err := d.purge(ctx, s, before, maxRows)
	if err != nil {
		return Purged{}, err
	}
	p := Purged{Table: "images", Rows: n}
	var q strings.Builder
	q.WriteString("SELECT COUNT(*) FROM images WHERE images.deleted_at < ? AND (")
	for i, t := range childTables {
		if i > 0 {
			q.WriteString(" OR ")
		}
		q.WriteString("EXISTS (SELECT 1 FROM " + t + " WHERE " + t + ".image_id = images.id)")
	}
	q.WriteString(")")
	if err := d.reader().queryRow(ctx, q.String(), d.d.tsCmp(before)).Scan(&p.Kept); err != nil {
		return Purged{}, dbErr("db.PurgeImages", err)
	}
	return p, nil
}

// purge removes the rows of one table in batches of PurgeBatch, each in a
// transaction of its own. With a limit it takes the oldest rows first, as
// Glance does; without, it walks the primary key, so that the work is one
// pass over the table however many rows go (there is no index on
// deleted_at to find the oldest by).
func (d *DB) purge(ctx context.Context, s purgeSpec, before time.Time, maxRows int64) (int64, error) {
	op := errs.Op("db.Purge " + s.table)
	if maxRows < -1 || maxRows > MaxPurgeRows {
		return 0, errs.Errorf(op, errs.Invalid, "max_rows must be between -1 and %d, not %d", MaxPurgeRows, maxRows)
	}
	cut := d.d.tsCmp(before)
	var cursor any = ""
	if s.intKey {
		cursor = int64(math.MinInt32) // the ids are INTEGER (int4 on PostgreSQL)
	}
	keyset := "SELECT " + s.key + " FROM " + s.from + " WHERE " + s.where + " AND " + s.key + " > ? ORDER BY " + s.key + " LIMIT ?"
	oldest := "SELECT " + s.key + " FROM " + s.from + " WHERE " + s.where + " ORDER BY " + s.order + ", " + s.key + " LIMIT ?"
	var total int64
	for maxRows == -1 || total < maxRows {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		limit := int64(PurgeBatch)
		if maxRows != -1 {
			limit = min(limit, maxRows-total)
		}
		var keys []any
		var err error
		if maxRows == -1 {
			keys, err = d.purgeKeys(ctx, s.intKey, keyset, cut, cursor, limit)
		} else {
			keys, err = d.purgeKeys(ctx, s.intKey, oldest, cut, limit)
		}
		if err != nil {
			return total, dbErr(op, err)
		}
		if len(keys) == 0 {
			break
		}
		cursor = keys[len(keys)-1]
		in := strings.TrimSuffix(strings.Repeat("?,", len(keys)), ",")
		var n int64
		err = d.inTx(ctx, op, func(tx conn) error {
			n, err = s.del(ctx, tx, in, append(keys, cut))
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
		// A row found but not removed was brought back meanwhile (glint
		// scrub --restore); when nothing goes, the oldest rows left are
		// such, and the limited walk would find them again.
		if int64(len(keys)) < limit || (n == 0 && maxRows != -1) {
			break
		}
	}
	return total, nil
}

func (d *DB) purgeKeys(ctx context.Context, intKey bool, q string, args ...any) ([]any, error) {
	rows, err := d.reader().query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []any
	for rows.Next() {
		if intKey {
			var k int64
			if err := rows.Scan(&k); err != nil {
				return nil, err
			}
			keys = append(keys, k)
		} else {
			var k string
			if err := rows.Scan(&k); err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
	}
	return keys, rows.Err()
}
