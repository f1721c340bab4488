package imagecache

import (
	"context"
	"time"
)

// Record is what the cache knows of one cached image file, as Glance's
// cache drivers keep it.
type Record struct {
	ImageID      string
	LastAccessed time.Time
	LastModified time.Time // when the file was written
	Size         int64
	Hits         int64
	Checksum     string // MD5 of the file, hex; "" if unknown
}

// Index keeps the cache's records: a per-node SQLite file (driver sqlite,
// as Glance's) or the main database (centralized_db, where every node's
// records are visible). internal/db implements both.
type Index interface {
	// List returns this node's records, by image ID.
	List(ctx context.Context) ([]Record, error)
	// Get returns this node's record of id; false if there is none.
	Get(ctx context.Context, id string) (Record, bool, error)
	// Put records a file written now, replacing an older record.
	Put(ctx context.Context, r Record) error
	// Touch adds hits to id's record and sets its last access.
	Touch(ctx context.Context, id string, hits int64, at time.Time) error
	// Delete drops id's record on this node; none is not an error.
	Delete(ctx context.Context, id string) error
	// Nodes lists the nodes (their worker_self_reference_url) that hold
	// id; an index that only knows this node fails with errs.Conflict.
	Nodes(ctx context.Context, id string) ([]string, error)
}
