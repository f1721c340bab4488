package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
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
		created                      string
		updated, deletedAt           sql.NullString
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
	if img.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	img.UpdatedAt = img.CreatedAt
	if updated.Valid {
		if img.UpdatedAt, err = parseTime(updated.String); err != nil {
			return nil, err
		}
	}
	if deletedAt.Valid {
		t, err := parseTime(deletedAt.String)
		if err != nil {
			return nil, err
		}
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
	const op errs.Op = "db.Images.Create"
	return r.db.inTx(ctx, op, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM images WHERE id = ?", img.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errs.E(op, errs.Conflict, fmt.Sprintf("Image ID %s already exists!", img.ID))
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO images ("+imageCols+") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			img.ID, nullStr(img.Name), nullInt(img.Size), string(img.Status), fmtTime(img.CreatedAt), fmtTime(img.UpdatedAt),
			nil, false, nullStr(img.DiskFormat), nullStr(img.ContainerFormat), nullStr(img.Checksum), nullStr(img.Owner),
			img.MinDisk, img.MinRAM, img.Protected, nullInt(img.VirtualSize), img.Visibility, img.OSHidden,
			nullStr(img.OSHashAlgo), nullStr(img.OSHashValue))
		if err != nil {
			return err
		}
		return syncChildren(ctx, tx, img, nil)
	})
}

// Get returns a live (not deleted) image.
func (r *Images) Get(ctx context.Context, id string) (*image.Image, error) {
	const op errs.Op = "db.Images.Get"
	img, err := scanImage(r.db.read.QueryRowContext(ctx, "SELECT "+imageCols+" FROM images WHERE id = ? AND +deleted = 0", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.E(op, errs.NotFound, fmt.Sprintf("No image found with ID %s", id))
	}
	if err != nil {
		return nil, errs.E(op, errs.Unavailable, err)
	}
	if err := loadChildren(ctx, r.db.read, []*image.Image{img}); err != nil {
		return nil, errs.E(op, errs.Unavailable, err)
	}
	return img, nil
}

// Update saves img over its stored row, properties, tags and locations, as
// long as the stored status still equals from (compare-and-set, so that two
// racing writers cannot both move an image out of one state).
func (r *Images) Update(ctx context.Context, img *image.Image, from image.Status) error {
	const op errs.Op = "db.Images.Update"
	return r.db.inTx(ctx, op, func(tx *sql.Tx) error {
		old, err := scanImage(tx.QueryRowContext(ctx, "SELECT "+imageCols+" FROM images WHERE id = ? AND +deleted = 0", img.ID))
		if errors.Is(err, sql.ErrNoRows) {
			return errs.E(op, errs.NotFound, fmt.Sprintf("No image found with ID %s", img.ID))
		}
		if err != nil {
			return err
		}
		if old.Status != from {
			return errs.E(op, errs.Conflict, fmt.Sprintf("Image status transition from %s to %s is not allowed", old.Status, img.Status))
		}
		if err := loadChildrenTx(ctx, tx, old); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE images SET name=?, size=?, status=?, updated_at=?, disk_format=?, container_format=?,
			checksum=?, owner=?, min_disk=?, min_ram=?, protected=?, virtual_size=?, visibility=?, os_hidden=?,
			os_hash_algo=?, os_hash_value=? WHERE id=?`,
			nullStr(img.Name), nullInt(img.Size), string(img.Status), fmtTime(img.UpdatedAt), nullStr(img.DiskFormat),
			nullStr(img.ContainerFormat), nullStr(img.Checksum), nullStr(img.Owner), img.MinDisk, img.MinRAM,
			img.Protected, nullInt(img.VirtualSize), img.Visibility, img.OSHidden, nullStr(img.OSHashAlgo),
			nullStr(img.OSHashValue), img.ID)
		if err != nil {
			return err
		}
		return syncChildren(ctx, tx, img, old)
	})
}

// Delete soft-deletes an image and its children, as Glance does, and
// returns the image as it was so the caller can remove its data.
func (r *Images) Delete(ctx context.Context, id string) (*image.Image, error) {
	const op errs.Op = "db.Images.Delete"
	var img *image.Image
	err := r.db.inTx(ctx, op, func(tx *sql.Tx) error {
		var err error
		img, err = scanImage(tx.QueryRowContext(ctx, "SELECT "+imageCols+" FROM images WHERE id = ? AND +deleted = 0", id))
		if errors.Is(err, sql.ErrNoRows) {
			return errs.E(op, errs.NotFound, fmt.Sprintf("No image found with ID %s", id))
		}
		if err != nil {
			return err
		}
		if err := loadChildrenTx(ctx, tx, img); err != nil {
			return err
		}
		now := fmtTime(time.Now())
		if _, err := tx.ExecContext(ctx, "UPDATE images SET deleted=1, deleted_at=?, updated_at=?, status='deleted' WHERE id=?", now, now, id); err != nil {
			return err
		}
		for _, t := range []string{"image_properties", "image_tags", "image_members"} {
			if _, err := tx.ExecContext(ctx, "UPDATE "+t+" SET deleted=1, deleted_at=?, updated_at=? WHERE image_id=? AND +deleted=0", now, now, id); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, "UPDATE image_locations SET deleted=1, deleted_at=?, updated_at=?, status='deleted' WHERE image_id=? AND +deleted=0", now, now, id)
		return err
	})
	return img, err
}

// inTx runs fn in a write transaction and classifies its error.
func (d *DB) inTx(ctx context.Context, op errs.Op, fn func(*sql.Tx) error) error {
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return errs.E(op, errs.Unavailable, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		if errs.KindOf(err) != errs.Other {
			return err
		}
		return errs.E(op, errs.Unavailable, err)
	}
	if err := tx.Commit(); err != nil {
		return errs.E(op, errs.Unavailable, err)
	}
	return nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func loadChildrenTx(ctx context.Context, tx *sql.Tx, img *image.Image) error {
	return loadChildren(ctx, tx, []*image.Image{img})
}

// loadChildren fills properties, tags and locations of imgs with one query per table.
func loadChildren(ctx context.Context, q querier, imgs []*image.Image) error {
	if len(imgs) == 0 {
		return nil
	}
	byID := make(map[string]*image.Image, len(imgs))
	args := make([]any, len(imgs))
	for i, img := range imgs {
		byID[img.ID] = img
		args[i] = img.ID
	}
	in := "(" + strings.TrimSuffix(strings.Repeat("?,", len(imgs)), ",") + ")"

	rows, err := q.QueryContext(ctx, "SELECT image_id, name, value FROM image_properties WHERE +deleted = 0 AND image_id IN "+in, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id, name string
		var val sql.NullString
		if err := rows.Scan(&id, &name, &val); err != nil {
			rows.Close()
			return err
		}
		byID[id].Properties[name] = val.String
	}
	if err := closeRows(rows); err != nil {
		return err
	}

	rows, err = q.QueryContext(ctx, "SELECT image_id, value FROM image_tags WHERE +deleted = 0 AND image_id IN "+in+" ORDER BY value", args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id, val string
		if err := rows.Scan(&id, &val); err != nil {
			rows.Close()
			return err
		}
		img := byID[id]
		if n := len(img.Tags); n == 0 || img.Tags[n-1] != val {
			img.Tags = append(img.Tags, val)
		}
	}
	if err := closeRows(rows); err != nil {
		return err
	}

	rows, err = q.QueryContext(ctx, "SELECT id, image_id, value, meta_data, status FROM image_locations WHERE +deleted = 0 AND image_id IN "+in+" ORDER BY id", args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var l image.Location
		var id string
		var meta sql.NullString
		if err := rows.Scan(&l.ID, &id, &l.URL, &meta, &l.Status); err != nil {
			rows.Close()
			return err
		}
		l.Metadata = map[string]any{}
		if meta.Valid && meta.String != "" {
			// Glance writes JSON here; a row it cannot parse keeps empty metadata.
			_ = json.Unmarshal([]byte(meta.String), &l.Metadata)
		}
		byID[id].Locations = append(byID[id].Locations, l)
	}
	return closeRows(rows)
}

func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncChildren writes the differences between old (nil for a new image)
// and img in properties, tags and locations.
func syncChildren(ctx context.Context, tx *sql.Tx, img, old *image.Image) error {
	now := fmtTime(img.UpdatedAt)
	oldProps := map[string]string{}
	var oldTags []string
	var oldLocs []image.Location
	if old != nil {
		oldProps, oldTags, oldLocs = old.Properties, old.Tags, old.Locations
	}
	// Properties: the unique (image_id, name) key covers soft-deleted rows
	// too, so a re-added property revives its old row.
	for k, v := range img.Properties {
		if ov, ok := oldProps[k]; ok && ov == v {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO image_properties (image_id, name, value, created_at, updated_at, deleted)
			VALUES (?,?,?,?,?,0) ON CONFLICT (image_id, name) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at,
			deleted=0, deleted_at=NULL`, img.ID, k, v, now, now); err != nil {
			return err
		}
	}
	for k := range oldProps {
		if _, ok := img.Properties[k]; !ok {
			if _, err := tx.ExecContext(ctx, "UPDATE image_properties SET deleted=1, deleted_at=?, updated_at=? WHERE image_id=? AND name=? AND +deleted=0",
				now, now, img.ID, k); err != nil {
				return err
			}
		}
	}
	// Tags.
	have := map[string]bool{}
	for _, t := range oldTags {
		have[t] = true
	}
	want := map[string]bool{}
	for _, t := range img.Tags {
		want[t] = true
		if !have[t] {
			if _, err := tx.ExecContext(ctx, "INSERT INTO image_tags (image_id, value, created_at, updated_at, deleted) VALUES (?,?,?,?,0)",
				img.ID, t, now, now); err != nil {
				return err
			}
		}
	}
	for t := range have {
		if !want[t] {
			if _, err := tx.ExecContext(ctx, "UPDATE image_tags SET deleted=1, deleted_at=?, updated_at=? WHERE image_id=? AND value=? AND +deleted=0",
				now, now, img.ID, t); err != nil {
				return err
			}
		}
	}
	// Locations: new ones have ID 0; known ones may change status or metadata.
	kept := map[int64]bool{}
	for i := range img.Locations {
		l := &img.Locations[i]
		meta, err := json.Marshal(l.Metadata)
		if err != nil {
			return err
		}
		if l.Metadata == nil {
			meta = []byte("{}")
		}
		status := l.Status
		if status == "" {
			status = "active"
		}
		if l.ID == 0 {
			res, err := tx.ExecContext(ctx, `INSERT INTO image_locations (image_id, value, created_at, updated_at, deleted, meta_data, status)
				VALUES (?,?,?,?,0,?,?)`, img.ID, l.URL, now, now, string(meta), status)
			if err != nil {
				return err
			}
			if l.ID, err = res.LastInsertId(); err != nil {
				return err
			}
			l.Status = status
			kept[l.ID] = true
			continue
		}
		kept[l.ID] = true
		if _, err := tx.ExecContext(ctx, "UPDATE image_locations SET value=?, meta_data=?, status=?, updated_at=? WHERE id=?",
			l.URL, string(meta), status, now, l.ID); err != nil {
			return err
		}
	}
	for _, l := range oldLocs {
		if !kept[l.ID] {
			if _, err := tx.ExecContext(ctx, "UPDATE image_locations SET deleted=1, deleted_at=?, updated_at=?, status='deleted' WHERE id=?",
				now, now, l.ID); err != nil {
				return err
			}
		}
	}
	sort.Strings(img.Tags)
	return nil
}
