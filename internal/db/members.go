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

const memberCols = "image_id, member, status, created_at, updated_at"

func scanMember(r rowScanner) (*image.Member, error) {
	var m image.Member
	var created, updated dbTime
	if err := r.Scan(&m.ImageID, &m.MemberID, &m.Status, &created, &updated); err != nil {
		return nil, err
	}
	m.CreatedAt, m.UpdatedAt = created.Time, created.Time
	if updated.Valid {
		m.UpdatedAt = updated.Time
	}
	return &m, nil
}

// Members lists an image's live memberships, oldest first.
func (r *Images) Members(ctx context.Context, imageID string) ([]*image.Member, error) {
	const op errs.Op = "db.Images.Members"
	c := r.db.reader()
	out, err := scanAll(scanMember)(c.query(ctx, "SELECT "+memberCols+" FROM image_members WHERE image_id = ? AND "+c.d.notDeleted("deleted")+
		" ORDER BY created_at, id", imageID))
	if err != nil {
		return nil, dbErr(op, err)
	}
	return out, nil
}

// Member returns one live membership.
func (r *Images) Member(ctx context.Context, imageID, memberID string) (*image.Member, error) {
	const op errs.Op = "db.Images.Member"
	c := r.db.reader()
	m, err := scanMember(c.queryRow(ctx, "SELECT "+memberCols+" FROM image_members WHERE image_id = ? AND member = ? AND "+
		c.d.notDeleted("deleted"), imageID, memberID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.Errorf(op, errs.NotFound, "Member %s not found", memberID)
	}
	if err != nil {
		return nil, dbErr(op, err)
	}
	return m, nil
}

// AddMember inserts a membership. The image row is locked first, so two
// nodes adding members at once count each other's and the quota holds.
func (r *Images) AddMember(ctx context.Context, m *image.Member, quota int) error {
	const op errs.Op = "db.Images.AddMember"
	d := r.db.d
	return r.db.inTx(ctx, op, func(tx conn) error {
		tx.touches(m.ImageID)
		var id string
		err := tx.queryRow(ctx, "SELECT id FROM images WHERE id = ? AND "+d.notDeleted("deleted")+d.forUpdate(), m.ImageID).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.Errorf(op, errs.NotFound, "No image found with ID %s", m.ImageID)
		}
		if err != nil {
			return err
		}
		var n, dup int
		err = tx.queryRow(ctx, "SELECT COUNT(*), COALESCE(SUM(CASE WHEN member = ? THEN 1 ELSE 0 END), 0) FROM image_members WHERE image_id = ? AND "+
			d.notDeleted("deleted"), m.MemberID, m.ImageID).Scan(&n, &dup)
		if err != nil {
			return err
		}
		// Glance checks the quota before it looks for a duplicate.
		if quota >= 0 && n+1 > quota {
			return errs.Errorf(op, errs.TooLarge, "The limit has been exceeded on the number of allowed image members for this image. Attempted: %d, Maximum: %d", n+1, quota)
		}
		if dup > 0 {
			return errs.Errorf(op, errs.Conflict, "Member %s is duplicated for image %s", m.MemberID, m.ImageID)
		}
		// As Glance does, a membership that was deleted is brought back
		// rather than a second row added.
		res, err := tx.exec(ctx, "UPDATE image_members SET deleted = false, deleted_at = NULL, status = ?, created_at = ?, updated_at = ?, can_share = ? "+
			"WHERE id = (SELECT MAX(id) FROM (SELECT id FROM image_members WHERE image_id = ? AND member = ?) AS prior)",
			m.Status, d.ts(m.CreatedAt), d.ts(m.UpdatedAt), false, m.ImageID, m.MemberID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		_, err = tx.exec(ctx, "INSERT INTO image_members (image_id, member, can_share, status, created_at, updated_at, deleted) VALUES (?,?,?,?,?,?,?)",
			m.ImageID, m.MemberID, false, m.Status, d.ts(m.CreatedAt), d.ts(m.UpdatedAt), false)
		if isDuplicate(err) {
			return errs.Errorf(op, errs.Conflict, "Member %s is duplicated for image %s", m.MemberID, m.ImageID)
		}
		return err
	})
}

// UpdateMember saves a membership's status.
func (r *Images) UpdateMember(ctx context.Context, m *image.Member) error {
	const op errs.Op = "db.Images.UpdateMember"
	d := r.db.d
	return r.db.inTx(ctx, op, func(tx conn) error {
		tx.touches(m.ImageID)
		res, err := tx.exec(ctx, "UPDATE image_members SET status = ?, updated_at = ? WHERE image_id = ? AND member = ? AND "+d.notDeleted("deleted"),
			m.Status, d.ts(m.UpdatedAt), m.ImageID, m.MemberID)
		if err != nil {
			return err
		}
		return affectedOne(res, errs.Errorf(op, errs.NotFound, "Member %s not found", m.MemberID))
	})
}

// DeleteMember soft-deletes a membership, as Glance does; the row's
// deleted_at keeps it out of the (image_id, member, deleted_at) unique key.
func (r *Images) DeleteMember(ctx context.Context, imageID, memberID string) error {
	const op errs.Op = "db.Images.DeleteMember"
	d := r.db.d
	return r.db.inTx(ctx, op, func(tx conn) error {
		tx.touches(imageID)
		now := d.ts(time.Now())
		res, err := tx.exec(ctx, "UPDATE image_members SET deleted = true, deleted_at = ?, updated_at = ? WHERE image_id = ? AND member = ? AND "+
			d.notDeleted("deleted"), now, now, imageID, memberID)
		if err != nil {
			return err
		}
		return affectedOne(res, errs.Errorf(op, errs.NotFound, "Member %s not found", memberID))
	})
}

// affectedOne returns notFound when an UPDATE matched no row.
func affectedOne(res sql.Result, notFound error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("rows affected: %w", err)
	}
	if n == 0 {
		return notFound
	}
	return nil
}
