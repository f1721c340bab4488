package db

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"glint/internal/errs"
	"glint/internal/image"
)

// timeFormat is how SQLAlchemy stores DATETIME on SQLite; Glance reads it back.
const timeFormat = "2006-01-02 15:04:05.000000"

func fmtTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) (time.Time, error) {
	for _, f := range []string{timeFormat, "2006-01-02 15:04:05", time.RFC3339Nano} {
		if t, err := time.ParseInLocation(f, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad timestamp %q", s)
}

// Images is the image repository.
type Images struct{ db *DB }

// Images returns the image repository of d.
func (d *DB) Images() *Images { return &Images{db: d} }

const imageCols = "id, name, size, status, created_at, updated_at, deleted_at, deleted, disk_format, container_format, " +
	"checksum, owner, min_disk, min_ram, protected, virtual_size, visibility, os_hidden, os_hash_algo, os_hash_value"

type rowScanner interface{ Scan(dest ...any) error }

func scanImage(r rowScanner) (*image.Image, error) {
	var (
		img                          image.Image
		name, disk, cont, sum, owner sql.NullString
		algo, hash                   sql.NullString
		size, vsize                  sql.NullInt64
		created, updated, deletedAt  dbTime
		deleted, protected, hidden   bool
		status                       string
	)
	err := r.Scan(&img.ID, &name, &size, &status, &created, &updated, &deletedAt, &deleted, &disk, &cont,
		&sum, &owner, &img.MinDisk, &img.MinRAM, &protected, &vsize, &img.Visibility, &hidden, &algo, &hash)
	if err != nil {
		return nil, err
	}
	img.Status = image.Status(status)
	img.Name, img.DiskFormat, img.ContainerFormat = strPtr(name), strPtr(disk), strPtr(cont)
	img.Checksum, img.Owner, img.OSHashAlgo, img.OSHashValue = strPtr(sum), strPtr(owner), strPtr(algo), strPtr(hash)
	img.Size, img.VirtualSize = intPtr(size), intPtr(vsize)
	img.Deleted, img.Protected, img.OSHidden = deleted, protected, hidden
	img.CreatedAt, img.UpdatedAt = created.Time, created.Time
	if updated.Valid {
		img.UpdatedAt = updated.Time
	}
	if deletedAt.Valid {
		t := deletedAt.Time
		img.DeletedAt = &t
	}
	img.Properties = map[string]string{}
	return &img, nil
}

func strPtr(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

func intPtr(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	return &n.Int64
}

func nullStr(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func nullInt(n *int64) any {
	if n == nil {
		return nil
	}
	return *n
}

// Create inserts a new image with its properties and tags.
func (r *Images) Create(ctx context.Context, img *image.Image) error {
	return r.create(ctx, img, nil)
}

// create is Create with, if not nil, a check run first in the same
// transaction.
func (r *Images) create(ctx context.Context, img *image.Image, before func(tx conn) error) error {
	const op errs.Op = "db.Images.Create"
	dup := errs.E(op, errs.Conflict, fmt.Sprintf("Image ID %s already exists!", img.ID))
	d := r.db.d
	var done func()
	err := r.db.inTx(ctx, op, func(tx conn) error {
		tx.touches(img.ID)
		if before != nil {
			if err := before(tx); err != nil {
				return err
			}
		}
		// A taken ID, of a live or a deleted image, fails the insert.
		_, err := tx.exec(ctx, "INSERT INTO images ("+imageCols+") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			img.ID, nullStr(img.Name), nullInt(img.Size), string(img.Status), d.ts(img.CreatedAt), d.ts(img.UpdatedAt),
			nil, false, nullStr(img.DiskFormat), nullStr(img.ContainerFormat), nullStr(img.Checksum), nullStr(img.Owner),
			img.MinDisk, img.MinRAM, img.Protected, nullInt(img.VirtualSize), img.Visibility, img.OSHidden,
			nullStr(img.OSHashAlgo), nullStr(img.OSHashValue))
		if isDuplicate(err) {
			return dup
		}
		if err != nil {
			return err
		}
		done, err = syncChildren(ctx, tx, img, nil)
		return err
	})
	if err == nil {
		done()
	}
	return err
}

// Get returns a live (not deleted) image.
func (r *Images) Get(ctx context.Context, id string) (*image.Image, error) {
	const op errs.Op = "db.Images.Get"
	c := r.db.reader()
	var (
		img *image.Image
		err error
	)
	if c.d == dSQLite {
		gen, cached := r.db.images.generation(ctx)
		if cached {
			if img := r.db.images.get(id); img != nil {
				return img, nil
			}
		}
		img, err = getWithChildren(ctx, c, id)
		if err == nil && cached {
			r.db.images.put(img, gen)
		}
	} else if c.d == dPostgres {
		img, err = getWithChildren(ctx, c, id)
	} else {
		img, err = getMySQL(ctx, c, id)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.E(op, errs.NotFound, fmt.Sprintf("No image found with ID %s", id))
	}
	if err != nil {
		return nil, dbErr(op, err)
	}
	return img, nil
}

// children are three columns holding an image's live properties, tags
// and locations as JSON arrays, for a query over images i, so that one
// statement reads an image whole: as of one moment (a statement reads one
// snapshot; separate queries let a concurrent update show through between
// them, TestGetOneState), and in one round trip to PostgreSQL. On SQLite
// it also costs a quarter less than a query per table
// (BenchmarkList100k/sqlite/get): every statement pays for its own read
// transaction and database/sql's bookkeeping. For a page of images on
// SQLite it is the other way round (the JSON costs more than the
// statements save), so SQLite's lists keep loadChildren; PostgreSQL's
// take the columns too (listWithChildrenSQL: a cycle listing 50 of
// 200,000 images spent a sixth less of Glint's CPU). MySQL has getMySQL.
// Order and duplicates are setChildren's business.
func children(d dialect) string {
	agg, arr := "json_group_array", "json_array"
	if d == dPostgres {
		agg, arr = "json_agg", "json_build_array"
	}
	sub := func(expr, from, where string) string {
		return "(SELECT COALESCE(" + agg + "(" + expr + "), '[]') FROM " + from + " WHERE " + where + ")"
	}
	return sub(arr+"(p.name, p.value)", "image_properties p", "p.image_id = i.id AND "+d.notDeleted("p.deleted")) + ", " +
		sub("t.value", "image_tags t", "t.image_id = i.id AND "+d.notDeleted("t.deleted")) + ", " +
		sub(arr+"(l.id, l.value, l.meta_data, l.status)", "image_locations l", "l.image_id = i.id AND "+d.notDeleted("l.deleted"))
}

// getMySQL reads an image and its child rows in one statement, a UNION
// ALL whose every row carries the image row (one primary-key lookup per
// branch) and one child row or none. MariaDB's JSON_ARRAYAGG (and
// GROUP_CONCAT) cost ~0.3 ms of server time for each subquery that
// aggregates, measured with mysqlslap on one image: children's three took
// 0.68 ms, four plain queries 0.33 ms (in four round trips, and not of
// one moment), this statement 0.26 ms.
func getMySQL(ctx context.Context, c conn, id string) (*image.Image, error) {
	rows, err := c.query(ctx, getMySQLSQL, id, id, id, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var img *image.Image
	for rows.Next() {
		var kind, a, b, cc sql.NullString
		var lid sql.NullInt64
		row, err := scanImage(extraScanner{rows, []any{&kind, &a, &b, &cc, &lid}})
		if err != nil {
			return nil, err
		}
		if img == nil {
			img = row
		}
		addChild(img, kind.String, a.String, b.String, cc.String, lid.Int64)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if img == nil {
		return nil, sql.ErrNoRows
	}
	orderChildren(img)
	return img, nil
}

var getMySQLSQL = func() string {
	cols, live := prefixed("i.", imageCols), dMySQL.notDeleted("i.deleted")
	branch := func(extra, join string) string {
		return "SELECT " + cols + ", " + extra + " FROM images i" + join + " WHERE i.id = ? AND " + live
	}
	on := func(table, alias string) string {
		return " JOIN " + table + " " + alias + " ON " + alias + ".image_id = i.id AND " + dMySQL.notDeleted(alias+".deleted")
	}
	return branch("NULL, NULL, NULL, NULL, NULL", "") +
		" UNION ALL " + branch("'p', p.name, p.value, NULL, NULL", on("image_properties", "p")) +
		" UNION ALL " + branch("'t', t.value, NULL, NULL, NULL", on("image_tags", "t")) +
		" UNION ALL " + branch("'l', l.value, l.meta_data, l.status, l.id", on("image_locations", "l"))
}()

// getSQL is getWithChildren's query on SQLite and PostgreSQL, built once.
var getSQL = func() (q [2]string) {
	for _, d := range []dialect{dSQLite, dPostgres} {
		q[d] = "SELECT " + prefixed("i.", imageCols) + ", " + children(d) +
			" FROM images i WHERE i.id = ? AND " + d.notDeleted("i.deleted")
	}
	return q
}()

func getWithChildren(ctx context.Context, c conn, id string) (*image.Image, error) {
	var props, tags, locs string
	img, err := scanImage(extraScanner{c.queryRow(ctx, getSQL[c.d], id), []any{&props, &tags, &locs}})
	if err != nil {
		return nil, err
	}
	return img, setChildren(img, props, tags, locs)
}

// extraScanner scans a row's leading columns as scanImage asks and the
// rest into more.
type extraScanner struct {
	r    rowScanner
	more []any
}

func (e extraScanner) Scan(dest ...any) error { return e.r.Scan(append(dest, e.more...)...) }

// setChildren fills img from the JSON arrays of children.
func setChildren(img *image.Image, props, tags, locs string) error {
	var pv [][2]*string
	if err := json.Unmarshal([]byte(props), &pv); err != nil {
		return fmt.Errorf("properties of image %s: %w", img.ID, err)
	}
	for _, p := range pv {
		if p[0] == nil {
			continue
		}
		v := ""
		if p[1] != nil {
			v = *p[1]
		}
		img.Properties[*p[0]] = v
	}
	if err := json.Unmarshal([]byte(tags), &img.Tags); err != nil {
		return fmt.Errorf("tags of image %s: %w", img.ID, err)
	}
	if len(img.Tags) == 0 {
		img.Tags = nil
	}
	var lv [][4]json.RawMessage
	if err := json.Unmarshal([]byte(locs), &lv); err != nil {
		return fmt.Errorf("locations of image %s: %w", img.ID, err)
	}
	for _, raw := range lv {
		var l image.Location
		var meta string // JSON null (no metadata) leaves it empty
		if err := errors.Join(json.Unmarshal(raw[0], &l.ID), json.Unmarshal(raw[1], &l.URL),
			json.Unmarshal(raw[2], &meta), json.Unmarshal(raw[3], &l.Status)); err != nil {
			return fmt.Errorf("locations of image %s: %w", img.ID, err)
		}
		l.Metadata = locationMetadata(meta)
		img.Locations = append(img.Locations, l)
	}
	orderChildren(img)
	return nil
}

// Update saves img over its stored row, properties, tags and locations, as
// long as the stored status still equals from (compare-and-set, so that two
// racing writers cannot both move an image out of one state: the row is
// locked from the read to the commit).
func (r *Images) Update(ctx context.Context, img *image.Image, from image.Status) error {
	_, err := r.modify(ctx, "db.Images.Update", img.ID, func(old *image.Image) (*image.Image, error) {
		if old.Status != from {
			return nil, errs.E(errs.Conflict, fmt.Sprintf("Image status transition from %s to %s is not allowed", old.Status, img.Status))
		}
		return img, nil
	})
	return err
}

// Modify reads an image with its row locked, lets fn compute the new
// version from it, and saves that in the same transaction, so concurrent
// changes on any number of nodes are applied one after the other and none
// is lost. fn may run more than once (a deadlock is retried) and must not
// have side effects; its error aborts the change and is returned as is.
func (r *Images) Modify(ctx context.Context, id string, fn func(old *image.Image) (*image.Image, error)) (*image.Image, error) {
	return r.modify(ctx, "db.Images.Modify", id, fn)
}

func (r *Images) modify(ctx context.Context, op errs.Op, id string, fn func(old *image.Image) (*image.Image, error)) (*image.Image, error) {
	return r.modifyWith(ctx, op, id, func(conn) (func(*image.Image) (*image.Image, error), error) { return fn, nil })
}

// modifyWith is modify where prepare, run first in the transaction (and
// again on a retry), supplies fn.
func (r *Images) modifyWith(ctx context.Context, op errs.Op, id string, prepare func(tx conn) (func(*image.Image) (*image.Image, error), error)) (*image.Image, error) {
	d := r.db.d
	var done func()
	var img *image.Image
	err := r.db.inTx(ctx, op, func(tx conn) error {
		tx.touches(id)
		fn, err := prepare(tx)
		if err != nil {
			return err
		}
		old, err := scanImage(tx.queryRow(ctx, "SELECT "+imageCols+" FROM images WHERE id = ? AND "+d.notDeleted("deleted")+d.forUpdate(), id))
		if errors.Is(err, sql.ErrNoRows) {
			return errs.E(op, errs.NotFound, fmt.Sprintf("No image found with ID %s", id))
		}
		if err != nil {
			return err
		}
		if err := loadChildren(ctx, tx, []*image.Image{old}); err != nil {
			return err
		}
		img, err = fn(old.Clone())
		if err != nil {
			return errs.E(op, err)
		}
		_, err = tx.exec(ctx, `UPDATE images SET name=?, size=?, status=?, updated_at=?, disk_format=?, container_format=?,
			checksum=?, owner=?, min_disk=?, min_ram=?, protected=?, virtual_size=?, visibility=?, os_hidden=?,
			os_hash_algo=?, os_hash_value=? WHERE id=?`,
			nullStr(img.Name), nullInt(img.Size), string(img.Status), d.ts(img.UpdatedAt), nullStr(img.DiskFormat),
			nullStr(img.ContainerFormat), nullStr(img.Checksum), nullStr(img.Owner), img.MinDisk, img.MinRAM,
			img.Protected, nullInt(img.VirtualSize), img.Visibility, img.OSHidden, nullStr(img.OSHashAlgo),
			nullStr(img.OSHashValue), old.ID)
		if err != nil {
			return err
		}
		done, err = syncChildren(ctx, tx, img, old)
		return err
	})
	if err != nil {
		return nil, err
	}
	done()
	return img, nil
}

// Delete soft-deletes an image and its children, as Glance does, and
// returns the image as it was so the caller can remove its data.
func (r *Images) Delete(ctx context.Context, id string) (*image.Image, error) {
	return r.delete(ctx, "db.Images.Delete", id, image.Deleted)
}

// DeletePending is Delete under delayed_delete: the image becomes
// pending_delete and its locations too, for the scrubber to remove later.
func (r *Images) DeletePending(ctx context.Context, id string) (*image.Image, error) {
	return r.delete(ctx, "db.Images.DeletePending", id, image.PendingDelete)
}

func (r *Images) delete(ctx context.Context, op errs.Op, id string, status image.Status) (*image.Image, error) {
	d := r.db.d
	var img *image.Image
	err := r.db.inTx(ctx, op, func(tx conn) error {
		tx.touches(id)
		var err error
		img, err = scanImage(tx.queryRow(ctx, "SELECT "+imageCols+" FROM images WHERE id = ? AND "+d.notDeleted("deleted")+d.forUpdate(), id))
		if errors.Is(err, sql.ErrNoRows) {
			return errs.E(op, errs.NotFound, fmt.Sprintf("No image found with ID %s", id))
		}
		if err != nil {
			return err
		}
		if err := loadChildren(ctx, tx, []*image.Image{img}); err != nil {
			return err
		}
		now := d.ts(time.Now())
		if _, err := tx.exec(ctx, "UPDATE images SET deleted=true, deleted_at=?, updated_at=?, status=? WHERE id=?", now, now, string(status), img.ID); err != nil {
			return err
		}
		for _, t := range []string{"image_properties", "image_tags", "image_members"} {
			if _, err := tx.exec(ctx, "UPDATE "+t+" SET deleted=true, deleted_at=?, updated_at=? WHERE image_id=? AND "+d.notDeleted("deleted"), now, now, img.ID); err != nil {
				return err
			}
		}
		_, err = tx.exec(ctx, "UPDATE image_locations SET deleted=true, deleted_at=?, updated_at=?, status=? WHERE image_id=? AND "+d.notDeleted("deleted"),
			now, now, string(status), img.ID)
		return err
	})
	return img, err
}

// maxAttempts bounds how often a transaction that lost a deadlock (or a
// lock wait) on PostgreSQL or MySQL is run again, as oslo.db's
// wrap_db_retry does for Glance.
const maxAttempts = 5

// inTx runs fn in a write transaction and classifies its error (dbErr).
// fn may run more than once, so it must not keep state from a failed
// attempt: on SQLite while the database is busy or locked and the
// request's budget lasts (retryBusy), elsewhere after a deadlock or a
// lock wait timeout.
func (d *DB) inTx(ctx context.Context, op errs.Op, fn func(conn) error) error {
	if d.d == dSQLite {
		return dbErr(op, retryBusy(ctx, time.Now(), func() error { return d.tryTx(ctx, fn) }))
	}
	var err error
	for attempt := 1; ; attempt++ {
		err = d.tryTx(ctx, fn)
		if err == nil || !isRetryable(err) || attempt == maxAttempts || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(attempt*attempt) * 5 * time.Millisecond)
	}
	return dbErr(op, err)
}

// tryTx runs fn once: on SQLite, in a group of the transactions queued
// for the writer (commitGroup); elsewhere in a transaction of its own.
func (d *DB) tryTx(ctx context.Context, fn func(conn) error) error {
	if d.group != nil {
		return d.group.run(ctx, d, fn)
	}
	return d.runTx(ctx, fn)
}

// loadChildren fills properties, tags and locations of imgs in one
// statement per batch of images, a UNION ALL of the three tables' rows:
// one round trip to PostgreSQL or MySQL instead of three, and on SQLite
// one statement's overhead instead of three's.
func loadChildren(ctx context.Context, c conn, imgs []*image.Image) error {
	return inBatches(imgs, func(imgs []*image.Image) error { return loadChildBatch(ctx, c, imgs) })
}

func loadChildBatch(ctx context.Context, c conn, imgs []*image.Image) error {
	byID := make(map[string]*image.Image, len(imgs))
	args := make([]any, 3*len(imgs))
	for i, img := range imgs {
		byID[img.ID] = img
		args[i], args[len(imgs)+i], args[2*len(imgs)+i] = img.ID, img.ID, img.ID
	}
	rows, err := c.query(ctx, childSQL(c.d, len(imgs)), args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var kind, id string
		var a, b, cc sql.NullString
		var lid sql.NullInt64
		if err := rows.Scan(&kind, &id, &a, &b, &cc, &lid); err != nil {
			rows.Close()
			return err
		}
		addChild(byID[id], kind, a.String, b.String, cc.String, lid.Int64)
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	for _, img := range imgs {
		orderChildren(img)
	}
	return nil
}

// childSQL is loadChildren's statement for n images. Its rows are kind
// ('l', 'p' or 't'), image_id and the columns addChild takes; the IDs are
// bound once per table.
func childSQL(d dialect, n int) string {
	in := " AND image_id IN (" + placeholders(n) + ")"
	live := d.notDeleted("deleted")
	// Locations first: PostgreSQL types a UNION's columns from left to
	// right, and a NULL in the first branch would be text, not id's integer.
	return "SELECT 'l', image_id, value, meta_data, status, id FROM image_locations WHERE " + live + in +
		" UNION ALL SELECT 'p', image_id, name, value, NULL, NULL FROM image_properties WHERE " + live + in +
		" UNION ALL SELECT 't', image_id, value, NULL, NULL, NULL FROM image_tags WHERE " + live + in
}

// addChild adds one child row to img: a property (a = name, b = value), a
// tag (a) or a location (a = URL, b = metadata, c = status, id).
func addChild(img *image.Image, kind, a, b, c string, id int64) {
	switch kind {
	case "p":
		img.Properties[a] = b
	case "t":
		img.Tags = append(img.Tags, a)
	case "l":
		img.Locations = append(img.Locations, image.Location{ID: id, URL: a, Metadata: locationMetadata(b), Status: c})
	}
}

// orderChildren sorts img's tags, once each, and its locations by ID:
// every way of reading an image gives them in the same order.
func orderChildren(img *image.Image) {
	slices.Sort(img.Tags)
	img.Tags = slices.Compact(img.Tags)
	slices.SortFunc(img.Locations, func(a, b image.Location) int { return cmp.Compare(a.ID, b.ID) })
}

// softDelete marks the live rows of a child table (image_properties or
// image_tags) of image id whose col is one of vals deleted, in one
// statement.
func softDelete(ctx context.Context, tx conn, table, col, id string, now any, vals []string) error {
	slices.Sort(vals)
	return inBatches(vals, func(vals []string) error {
		_, err := tx.exec(ctx, "UPDATE "+table+" SET deleted=true, deleted_at=?, updated_at=? WHERE image_id=? AND "+col+" IN ("+
			placeholders(len(vals))+") AND "+tx.d.notDeleted("deleted"), append([]any{now, now, id}, strs(vals)...)...)
		return err
	})
}

// maxBatch bounds the rows or IDs one statement carries. SQLite takes at
// most 32,766 bound values in a statement (an image may have as many
// properties as image_property_quota allows, unbounded at -1, and a page
// as many images as api_limit_max), and every count is a statement shape
// of its own for the statement caches.
const maxBatch = 500

// inBatches calls fn with consecutive parts of s, each of at most
// maxBatch elements; none for an empty s.
func inBatches[T any](s []T, fn func([]T) error) error {
	for len(s) > 0 {
		n := min(len(s), maxBatch)
		if err := fn(s[:n]); err != nil {
			return err
		}
		s = s[n:]
	}
	return nil
}

// locationMetadata reads image_locations.meta_data. Glance writes JSON
// there; a row it cannot parse keeps empty metadata.
func locationMetadata(meta string) map[string]any {
	m := map[string]any{}
	if meta != "" {
		_ = json.Unmarshal([]byte(meta), &m)
	}
	return m
}

// scanAll returns a function that scans every row of a query's result
// with scan, written around the query: scanAll(scanImage)(c.query(...)).
func scanAll[T any](scan func(rowScanner) (T, error)) func(*sql.Rows, error) ([]T, error) {
	return func(rows *sql.Rows, err error) ([]T, error) {
		if err != nil {
			return nil, err
		}
		var out []T
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, v)
		}
		return out, closeRows(rows)
	}
}

func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncChildren writes the differences between old (nil for a new image)
// and img in properties, tags and locations. It leaves img as it is, so
// that a transaction run again starts from the same image, and returns
// done, which gives img its new location ids once the transaction has
// committed.
func syncChildren(ctx context.Context, tx conn, img, old *image.Image) (done func(), err error) {
	d := tx.d
	now := d.ts(img.UpdatedAt)
	oldProps := map[string]string{}
	var oldTags []string
	var oldLocs []image.Location
	if old != nil {
		oldProps, oldTags, oldLocs = old.Properties, old.Tags, old.Locations
	}
	// Properties: the unique (image_id, name) key covers soft-deleted rows
	// too, so a re-added property revives its old row. One statement for
	// those set and one for those removed, as for the tags below: on
	// PostgreSQL and MySQL every statement is a round trip, and Glance's
	// images carry a dozen properties or more. Keys in order, so that two
	// writers lock rows in the same order.
	var set, gone []string
	for k, v := range img.Properties {
		if ov, ok := oldProps[k]; !ok || ov != v {
			set = append(set, k)
		}
	}
	for k := range oldProps {
		if _, ok := img.Properties[k]; !ok {
			gone = append(gone, k)
		}
	}
	slices.Sort(set)
	if err := inBatches(set, func(set []string) error {
		args := make([]any, 0, 5*len(set))
		for _, k := range set {
			args = append(args, img.ID, k, img.Properties[k], now, now)
		}
		_, err := tx.exec(ctx, "INSERT INTO image_properties (image_id, name, value, created_at, updated_at, deleted) VALUES "+
			valueRows("(?,?,?,?,?,false)", len(set))+
			d.upsert("image_id, name", []string{"value", "updated_at"}, "deleted = false, deleted_at = NULL"), args...)
		return err
	}); err != nil {
		return nil, err
	}
	if err := softDelete(ctx, tx, "image_properties", "name", img.ID, now, gone); err != nil {
		return nil, err
	}
	// Tags.
	have := map[string]bool{}
	for _, t := range oldTags {
		have[t] = true
	}
	want := map[string]bool{}
	var added, dropped []string
	for _, t := range img.Tags {
		if !want[t] && !have[t] {
			added = append(added, t)
		}
		want[t] = true
	}
	for t := range have {
		if !want[t] {
			dropped = append(dropped, t)
		}
	}
	slices.Sort(added)
	if err := inBatches(added, func(added []string) error {
		args := make([]any, 0, 4*len(added))
		for _, t := range added {
			args = append(args, img.ID, t, now, now)
		}
		_, err := tx.exec(ctx, "INSERT INTO image_tags (image_id, value, created_at, updated_at, deleted) VALUES "+
			valueRows("(?,?,?,?,false)", len(added)), args...)
		return err
	}); err != nil {
		return nil, err
	}
	if err := softDelete(ctx, tx, "image_tags", "value", img.ID, now, dropped); err != nil {
		return nil, err
	}
	// Locations: new ones have ID 0; known ones may change status or metadata.
	kept := map[int64]bool{}
	newIDs := map[int]int64{}
	for i := range img.Locations {
		l := &img.Locations[i]
		meta, err := json.Marshal(l.Metadata)
		if err != nil {
			return nil, err
		}
		if l.Metadata == nil {
			meta = []byte("{}")
		}
		status := l.Status
		if status == "" {
			status = "active"
		}
		if l.ID == 0 {
			id, err := tx.insertID(ctx, `INSERT INTO image_locations (image_id, value, created_at, updated_at, deleted, meta_data, status)
				VALUES (?,?,?,?,false,?,?)`, img.ID, l.URL, now, now, string(meta), status)
			if err != nil {
				return nil, err
			}
			newIDs[i] = id
			kept[id] = true
			continue
		}
		kept[l.ID] = true
		if _, err := tx.exec(ctx, "UPDATE image_locations SET value=?, meta_data=?, status=?, updated_at=? WHERE id=?",
			l.URL, string(meta), status, now, l.ID); err != nil {
			return nil, err
		}
	}
	for _, l := range oldLocs {
		if !kept[l.ID] {
			if _, err := tx.exec(ctx, "UPDATE image_locations SET deleted=true, deleted_at=?, updated_at=?, status='deleted' WHERE id=?",
				now, now, l.ID); err != nil {
				return nil, err
			}
		}
	}
	return func() {
		for i, id := range newIDs {
			img.Locations[i].ID = id
			if img.Locations[i].Status == "" {
				img.Locations[i].Status = "active"
			}
		}
		sort.Strings(img.Tags)
	}, nil
}
