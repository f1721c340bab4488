package db

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps prepared statements of an SQLite pool. The modernc
// driver parses every query afresh, which was a quarter of the CPU of a
// GET /v2/images/{id} and a sixth of a PATCH; database/sql re-prepares a
// cached *sql.Stmt only once per pooled connection. PostgreSQL's pgx
// caches on its own.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// stmtCacheMax bounds the cache: listing queries vary with their filters,
// and a rare shape is not worth keeping.
const stmtCacheMax = 256

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db, m: map[string]*sql.Stmt{}} }

// lookup returns the prepared statement for q, or nil.
func (c *stmtCache) lookup(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[q]
}

// get returns a prepared statement for q, preparing it if needed, or nil
// when q should run unprepared. It prepares without holding the lock:
// preparing waits for a free connection of the pool, and the goroutine
// holding one may be about to look a statement up.
func (c *stmtCache) get(ctx context.Context, q string) *sql.Stmt {
	c.mu.Lock()
	s, full := c.m[q], len(c.m) >= stmtCacheMax || c.m == nil
	c.mu.Unlock()
	if s != nil || full {
		return s
	}
	s, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil // the unprepared run reports the error
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[q]; ok {
		s.Close()
		return old
	}
	if c.m == nil || len(c.m) >= stmtCacheMax {
		s.Close()
		return nil
	}
	c.m[q] = s
	return s
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.m {
		s.Close()
	}
	c.m = nil
}
