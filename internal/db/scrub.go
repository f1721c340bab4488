package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"glint/internal/errs"
	"glint/internal/image"
)

// ScrubQueue returns up to limit images in pending_delete that were
// deleted before before, each with its locations still pending deletion.
func (r *Images) ScrubQueue(ctx context.Context, before time.Time, limit int) ([]*image.Image, error) {
	const op errs.Op = "db.Images.ScrubQueue"
	c := r.db.reader()
	imgs, err := scanAll(scanImage)(c.query(ctx, "SELECT "+imageCols+" FROM images WHERE status = 'pending_delete' AND deleted_at <= ? ORDER BY deleted_at, id LIMIT ?",
		c.d.tsCmp(before), limit))
	if err != nil {
		return nil, dbErr(op, err)
	}
	scanLoc := func(r rowScanner) (image.Location, error) {
		var l image.Location
		err := r.Scan(&l.ID, &l.URL, &l.Status)
		return l, err
	}
	for _, img := range imgs {
		img.Locations, err = scanAll(scanLoc)(c.query(ctx, "SELECT id, value, status FROM image_locations WHERE image_id = ? AND status = 'pending_delete' ORDER BY id", img.ID))
		if err != nil {
			return nil, dbErr(op, err)
		}
	}
	return imgs, nil
}

// LocationScrubbed records that a pending location's data is gone.
func (r *Images) LocationScrubbed(ctx context.Context, locID int64) error {
	d := r.db.d
	return r.db.inTx(ctx, "db.Images.LocationScrubbed", func(tx conn) error {
		now := d.ts(time.Now())
		_, err := tx.exec(ctx, "UPDATE image_locations SET status = 'deleted', deleted = true, updated_at = ? WHERE id = ? AND status = 'pending_delete'", now, locID)
		return err
	})
}

// Scrubbed moves a pending_delete image whose data is all gone to deleted.
func (r *Images) Scrubbed(ctx context.Context, id string) error {
	d := r.db.d
	return r.db.inTx(ctx, "db.Images.Scrubbed", func(tx conn) error {
		tx.touches(id)
		_, err := tx.exec(ctx, "UPDATE images SET status = 'deleted', updated_at = ? WHERE id = ? AND status = 'pending_delete'", d.ts(time.Now()), id)
		return err
	})
}

// Restore brings a pending_delete image back to active with its pending
// locations, as glance-scrubber --restore does (and, unlike Glance, with
// its properties, tags and members, which were deleted with it).
func (r *Images) Restore(ctx context.Context, id string) error {
	const op errs.Op = "db.Images.Restore"
	d := r.db.d
	return r.db.inTx(ctx, op, func(tx conn) error {
		tx.touches(id)
		var status string
		var deletedAt dbTime
		err := tx.queryRow(ctx, "SELECT status, deleted_at FROM images WHERE id = ?"+d.forUpdate(), id).Scan(&status, &deletedAt)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.Errorf(op, errs.NotFound, "No image found with ID %s", id)
		}
		if err != nil {
			return err
		}
		if status != string(image.PendingDelete) {
			return errs.Errorf(op, errs.Conflict, "cannot restore the image from %s to active (wanted from_state=pending_delete)", status)
		}
		now := d.ts(time.Now())
		if _, err := tx.exec(ctx, "UPDATE images SET status = 'active', deleted = false, deleted_at = NULL, updated_at = ? WHERE id = ?", now, id); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, "UPDATE image_locations SET status = 'active', deleted = false, deleted_at = NULL, updated_at = ? WHERE image_id = ? AND status = 'pending_delete'", now, id); err != nil {
			return err
		}
		// The children deleted together with the image share its deleted_at.
		if deletedAt.Valid {
			for _, t := range []string{"image_properties", "image_tags", "image_members"} {
				if _, err := tx.exec(ctx, "UPDATE "+t+" SET deleted = false, deleted_at = NULL, updated_at = ? WHERE image_id = ? AND deleted_at = ?",
					now, id, d.ts(deletedAt.Time)); err != nil {
					return fmt.Errorf("restoring %s: %w", t, err)
				}
			}
		}
		return nil
	})
}

// StaleUploads returns images left in saving whose upload has not shown
// a sign of life since before: their node died mid-upload.
func (r *Images) StaleUploads(ctx context.Context, before time.Time) ([]*image.Image, error) {
	const op errs.Op = "db.Images.StaleUploads"
	c := r.db.reader()
	imgs, err := scanAll(scanImage)(c.query(ctx, "SELECT "+imageCols+" FROM images WHERE status = 'saving' AND "+c.d.notDeleted("deleted")+
		" AND updated_at < ? ORDER BY updated_at LIMIT 1000", c.d.tsCmp(before)))
	if err != nil {
		return nil, dbErr(op, err)
	}
	return imgs, nil
}

// Touch marks an upload as alive: it moves updated_at of an image still
// in status to now.
func (r *Images) Touch(ctx context.Context, id string, status image.Status) error {
	d := r.db.d
	return r.db.inTx(ctx, "db.Images.Touch", func(tx conn) error {
		tx.touches(id)
		_, err := tx.exec(ctx, "UPDATE images SET updated_at = ? WHERE id = ? AND status = ?", d.ts(time.Now()), id, string(status))
		return err
	})
}
