package db

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps prepared statements of the SQLite reader pool. The
// modernc driver parses every query afresh, which was a quarter of the
// CPU of a GET /v2/images/{id}; database/sql re-prepares a cached *sql.Stmt
// only once per pooled connection. PostgreSQL's pgx caches on its own.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// stmtCacheMax bounds the cache: listing queries vary with their filters,
// and a rare shape is not worth keeping.
const stmtCacheMax = 256

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db, m: map[string]*sql.Stmt{}} }

// get returns a prepared statement for q, or nil when q should run unprepared.
func (c *stmtCache) get(ctx context.Context, q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[q]; ok {
		return s
	}
	if len(c.m) >= stmtCacheMax {
		return nil
	}
	s, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil // the unprepared run reports the error
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
