package db

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"time"

	"glint/internal/errs"
	"glint/internal/imagecache"
)

// CachedImages is the image cache's index in the main database
// (image_cache_driver = centralized_db): Glance's cached_images rows of
// one node, named in node_reference by its URL.
type CachedImages struct {
	db   *DB
	node int64
}

var _ imagecache.Index = (*CachedImages)(nil)

// CachedImages returns the cache index of the node called nodeURL (its
// worker_self_reference_url), registering the node on first use.
func (d *DB) CachedImages(ctx context.Context, nodeURL string) (*CachedImages, error) {
	const op errs.Op = "db.CachedImages"
	if nodeURL == "" || len(nodeURL) > 255 {
		return nil, errs.E(op, errs.Invalid, "the node's URL (worker_self_reference_url) must have 1 to 255 characters")
	}
	var id int64
	err := d.inTx(ctx, op, func(c conn) error {
		err := c.queryRow(ctx, "SELECT node_reference_id FROM node_reference WHERE node_reference_url = ?", nodeURL).Scan(&id)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err = c.exec(ctx, "INSERT INTO node_reference (node_reference_url) VALUES (?)", nodeURL)
		if err != nil {
			return err
		}
		return c.queryRow(ctx, "SELECT node_reference_id FROM node_reference WHERE node_reference_url = ?", nodeURL).Scan(&id)
	})
	if err != nil && isDuplicate(err) {
		// Another node process registered the same URL at the same moment.
		err = d.reader().queryRow(ctx, "SELECT node_reference_id FROM node_reference WHERE node_reference_url = ?", nodeURL).Scan(&id)
	}
	if err != nil {
		return nil, dbErr(op, err)
	}
	return &CachedImages{db: d, node: id}, nil
}

const cachedCols = "image_id, last_accessed, last_modified, size, hits, checksum"

func scanCached(r rowScanner) (imagecache.Record, error) {
	var (
		rec        imagecache.Record
		acc, mod   dbTime
		sum        sql.NullString
		hits, size sql.NullInt64
	)
	if err := r.Scan(&rec.ImageID, &acc, &mod, &size, &hits, &sum); err != nil {
		return rec, err
	}
	rec.LastAccessed, rec.LastModified = acc.Time, mod.Time
	rec.Size, rec.Hits, rec.Checksum = size.Int64, hits.Int64, sum.String
	return rec, nil
}

// List returns the node's records by image ID.
func (c *CachedImages) List(ctx context.Context) ([]imagecache.Record, error) {
	const op errs.Op = "db.CachedImages.List"
	rows, err := c.db.reader().query(ctx, "SELECT "+cachedCols+" FROM cached_images WHERE node_reference_id = ? ORDER BY image_id", c.node)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	var out []imagecache.Record
	for rows.Next() {
		rec, err := scanCached(rows)
		if err != nil {
			return nil, dbErr(op, err)
		}
		out = append(out, rec)
	}
	return out, dbErr(op, rows.Err())
}

// Get returns the node's record of id.
func (c *CachedImages) Get(ctx context.Context, id string) (imagecache.Record, bool, error) {
	const op errs.Op = "db.CachedImages.Get"
	rec, err := scanCached(c.db.reader().queryRow(ctx, "SELECT "+cachedCols+" FROM cached_images WHERE image_id = ? AND node_reference_id = ?", id, c.node))
	if errors.Is(err, sql.ErrNoRows) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, dbErr(op, err)
	}
	return rec, true, nil
}

// Put records a file just written.
func (c *CachedImages) Put(ctx context.Context, r imagecache.Record) error {
	const op errs.Op = "db.CachedImages.Put"
	d := c.db.d
	var sum any
	if r.Checksum != "" {
		sum = r.Checksum
	}
	return c.db.inTx(ctx, op, func(tx conn) error {
		_, err := tx.exec(ctx, "INSERT INTO cached_images (image_id, last_accessed, last_modified, size, hits, checksum, node_reference_id) VALUES (?, ?, ?, ?, ?, ?, ?)"+
			d.upsert("image_id, node_reference_id", []string{"last_accessed", "last_modified", "size", "hits", "checksum"}, ""),
			r.ImageID, d.ts(r.LastAccessed), d.ts(r.LastModified), r.Size, clampHits(r.Hits), sum, c.node)
		return err
	})
}

// Touch adds hits and sets the last access of id's record.
func (c *CachedImages) Touch(ctx context.Context, id string, hits int64, at time.Time) error {
	const op errs.Op = "db.CachedImages.Touch"
	return c.db.inTx(ctx, op, func(tx conn) error {
		_, err := tx.exec(ctx, "UPDATE cached_images SET hits = hits + ?, last_accessed = ? WHERE image_id = ? AND node_reference_id = ?",
			clampHits(hits), c.db.d.ts(at), id, c.node)
		return err
	})
}

// Delete drops the node's record of id.
func (c *CachedImages) Delete(ctx context.Context, id string) error {
	const op errs.Op = "db.CachedImages.Delete"
	return c.db.inTx(ctx, op, func(tx conn) error {
		_, err := tx.exec(ctx, "DELETE FROM cached_images WHERE image_id = ? AND node_reference_id = ?", id, c.node)
		return err
	})
}

// Nodes lists the URLs of every node that holds id, this one included.
func (c *CachedImages) Nodes(ctx context.Context, id string) ([]string, error) {
	const op errs.Op = "db.CachedImages.Nodes"
	rows, err := c.db.reader().query(ctx, "SELECT n.node_reference_url FROM cached_images c JOIN node_reference n ON n.node_reference_id = c.node_reference_id WHERE c.image_id = ? ORDER BY n.node_reference_url", id)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, dbErr(op, err)
		}
		out = append(out, u)
	}
	return out, dbErr(op, rows.Err())
}

// hits is an INTEGER column (32 bits on every dialect).
func clampHits(n int64) int64 { return min(n, math.MaxInt32) }
