package db

import (
	"context"

	"glint/internal/errs"
	"glint/internal/image"
)

// lockOwner takes the owner's quota lock for the rest of tx: every
// counted change of one owner's images waits for the one before it.
func lockOwner(ctx context.Context, tx conn, owner string) error {
	var ins string
	switch tx.d {
	case dMySQL:
		// Not INSERT IGNORE: on an existing row it takes a shared lock,
		// and many transactions upgrading theirs to exclusive deadlock.
		ins = "INSERT INTO glint_quota_locks (owner) VALUES (?) ON DUPLICATE KEY UPDATE owner = owner"
	default:
		ins = "INSERT INTO glint_quota_locks (owner) VALUES (?) ON CONFLICT (owner) DO NOTHING"
	}
	if _, err := tx.exec(ctx, ins, owner); err != nil {
		return err
	}
	var o string
	return tx.queryRow(ctx, "SELECT owner FROM glint_quota_locks WHERE owner = ?"+tx.d.forUpdate(), owner).Scan(&o)
}

// ownerIs matches an image's owner; "" stands for no owner (noauth), which
// Glance also counts as one owner.
func ownerIs(owner string) (string, []any) {
	if owner == "" {
		return "i.owner IS NULL", nil
	}
	return "i.owner = ?", []any{owner}
}

// usage counts what owner's images hold against the quotas, as Glance
// counts it, leaving out the image except (if not empty).
func usage(ctx context.Context, c conn, owner, except string) (image.Usage, error) {
	var u image.Usage
	where, args := ownerIs(owner)
	if except != "" {
		where += " AND i.id <> ?"
		args = append(args, except)
	}
	// The owner's live images, through an (owner, deleted) index
	// (migration 8): not its deleted ones.
	live := c.d.live("i.deleted") + " AND i.status NOT IN ('killed', 'deleted')"
	copying := "EXISTS (SELECT 1 FROM image_properties p WHERE p.image_id = i.id AND p.name = 'os_glance_importing_to_stores' AND p.value <> '' AND " +
		c.d.notDeleted("p.deleted") + ")"
	q := `SELECT
		COALESCE(SUM(CASE WHEN i.size > 0 THEN i.size * (SELECT COUNT(*) FROM image_locations l
			WHERE l.image_id = i.id AND l.status <> 'deleted' AND ` + c.d.notDeleted("l.deleted") + `) ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN i.size > 0 AND (i.status IN ('uploading', 'importing') OR ` + copying + `) THEN i.size ELSE 0 END), 0),
		COUNT(*),
		COALESCE(SUM(CASE WHEN i.status IN ('saving', 'uploading', 'importing') OR ` + copying + ` THEN 1 ELSE 0 END), 0)
		FROM images i WHERE ` + where + " AND " + live
	err := c.queryRow(ctx, q, args...).Scan(&u.StoredBytes, &u.StagedBytes, &u.Images, &u.Uploading)
	return u, err
}

// Usage returns what owner's images count against the quotas now.
func (r *Images) Usage(ctx context.Context, owner string) (image.Usage, error) {
	u, err := usage(ctx, r.db.reader(), owner, "")
	if err != nil {
		return u, dbErr(errs.Op("db.Images.Usage"), err)
	}
	return u, nil
}

// ModifyCounted is Modify for a change a quota counts: under the owner's
// quota lock, fn also gets the owner's usage by its other images, so that
// its decision holds against every concurrent counted change.
func (r *Images) ModifyCounted(ctx context.Context, id, owner string, fn func(old *image.Image, others image.Usage) (*image.Image, error)) (*image.Image, error) {
	return r.modifyWith(ctx, "db.Images.ModifyCounted", id, func(tx conn) (func(*image.Image) (*image.Image, error), error) {
		if err := lockOwner(ctx, tx, owner); err != nil {
			return nil, err
		}
		u, err := usage(ctx, tx, owner, id)
		if err != nil {
			return nil, err
		}
		return func(old *image.Image) (*image.Image, error) { return fn(old, u) }, nil
	})
}

// CreateCounted is Create for an image a quota counts: check sees the
// owner's usage under the owner's quota lock and may refuse.
func (r *Images) CreateCounted(ctx context.Context, img *image.Image, check func(image.Usage) error) error {
	owner := ""
	if img.Owner != nil {
		owner = *img.Owner
	}
	return r.create(ctx, img, func(tx conn) error {
		if err := lockOwner(ctx, tx, owner); err != nil {
			return err
		}
		u, err := usage(ctx, tx, owner, "")
		if err != nil {
			return err
		}
		return check(u)
	})
}
