package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"glint/internal/errs"
	"glint/internal/imagecache"
)

// CacheFile is the image cache's index in a SQLite file of the node's
// own (image_cache_driver = sqlite), with the table Glance's sqlite cache
// driver keeps, times as float seconds since the epoch: a cache directory
// moves between Glance and Glint.
type CacheFile struct{ db *sql.DB }

var _ imagecache.Index = (*CacheFile)(nil)

// OpenCacheFile opens (creating it if needed) the cache index at path.
func OpenCacheFile(ctx context.Context, path string) (*CacheFile, error) {
	const op errs.Op = "db.OpenCacheFile"
	p, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(30000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, errs.E(op, errs.Unavailable, err)
	}
	// One connection: the file is this node's, its writes are few.
	p.SetMaxOpenConns(1)
	_, err = p.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS cached_images (
		image_id TEXT PRIMARY KEY,
		last_accessed REAL DEFAULT 0.0,
		last_modified REAL DEFAULT 0.0,
		size INTEGER DEFAULT 0,
		hits INTEGER DEFAULT 0,
		checksum TEXT)`)
	if err != nil {
		p.Close()
		return nil, errs.E(op, errs.Unavailable, fmt.Sprintf("cannot open the image cache's database %s", path), err)
	}
	return &CacheFile{db: p}, nil
}

// Close closes the file.
func (f *CacheFile) Close() error { return f.db.Close() }

func epoch(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }

func fromEpoch(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

func scanCacheFile(r rowScanner) (imagecache.Record, error) {
	var (
		rec      imagecache.Record
		acc, mod sql.NullFloat64
		sum      sql.NullString
		sz, hits sql.NullInt64
	)
	if err := r.Scan(&rec.ImageID, &acc, &mod, &sz, &hits, &sum); err != nil {
		return rec, err
	}
	rec.LastAccessed, rec.LastModified = fromEpoch(acc.Float64), fromEpoch(mod.Float64)
	rec.Size, rec.Hits, rec.Checksum = sz.Int64, hits.Int64, sum.String
	return rec, nil
}

// List returns the records by image ID.
func (f *CacheFile) List(ctx context.Context) ([]imagecache.Record, error) {
	const op errs.Op = "db.CacheFile.List"
	rows, err := f.db.QueryContext(ctx, "SELECT "+cachedCols+" FROM cached_images ORDER BY image_id")
	if err != nil {
		return nil, errs.E(op, errs.Unavailable, err)
	}
	defer rows.Close()
	var out []imagecache.Record
	for rows.Next() {
		rec, err := scanCacheFile(rows)
		if err != nil {
			return nil, errs.E(op, errs.Unavailable, err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, errs.E(op, errs.Unavailable, err)
	}
	return out, nil
}

// Get returns the record of id.
func (f *CacheFile) Get(ctx context.Context, id string) (imagecache.Record, bool, error) {
	rec, err := scanCacheFile(f.db.QueryRowContext(ctx, "SELECT "+cachedCols+" FROM cached_images WHERE image_id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, errs.E(errs.Op("db.CacheFile.Get"), errs.Unavailable, err)
	}
	return rec, true, nil
}

// Put records a file just written.
func (f *CacheFile) Put(ctx context.Context, r imagecache.Record) error {
	_, err := f.db.ExecContext(ctx, "INSERT OR REPLACE INTO cached_images ("+cachedCols+") VALUES (?, ?, ?, ?, ?, ?)",
		r.ImageID, epoch(r.LastAccessed), epoch(r.LastModified), r.Size, r.Hits, r.Checksum)
	if err != nil {
		return errs.E(errs.Op("db.CacheFile.Put"), errs.Unavailable, err)
	}
	return nil
}

// Touch adds hits and sets the last access of id's record.
func (f *CacheFile) Touch(ctx context.Context, id string, hits int64, at time.Time) error {
	_, err := f.db.ExecContext(ctx, "UPDATE cached_images SET hits = hits + ?, last_accessed = ? WHERE image_id = ?", hits, epoch(at), id)
	if err != nil {
		return errs.E(errs.Op("db.CacheFile.Touch"), errs.Unavailable, err)
	}
	return nil
}

// Delete drops the record of id.
func (f *CacheFile) Delete(ctx context.Context, id string) error {
	if _, err := f.db.ExecContext(ctx, "DELETE FROM cached_images WHERE image_id = ?", id); err != nil {
		return errs.E(errs.Op("db.CacheFile.Delete"), errs.Unavailable, err)
	}
	return nil
}

// Nodes is refused: the file knows only this node.
func (f *CacheFile) Nodes(context.Context, string) ([]string, error) {
	return nil, errs.E(errs.Op("db.CacheFile.Nodes"), errs.Conflict,
		"Listing the nodes that cache an image needs image_cache_driver = centralized_db.")
}
