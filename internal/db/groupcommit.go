package db

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
)

// commitGroup runs the write transactions that queue for SQLite's one
// writer connection as one transaction, each inside a savepoint of its
// own (group commit). SQLite writes every page a transaction changed to
// the WAL at commit; concurrent creates and updates change many of the
// same pages (the last leaf of the images table and of the indexes on
// creation and update time, status, owner), so committing them together
// writes those pages once instead of once per request, and pays the
// commit's own work (the WAL header, the wal-index, the locks) once.
//
// A transaction that fails rolls back to its savepoint and only its
// caller sees the error; the others still commit. If the commit itself
// fails, every member of the group gets that error (none of them is
// committed), as a single transaction's caller would.
//
// The first caller to find no transaction running leads: it takes what
// is queued, itself first, runs it, commits, and hands the lead to the
// next waiter, if any, so no caller waits for more than the group ahead
// of it and its own.
type commitGroup struct {
	mu      sync.Mutex
	queue   []*groupTx
	leading bool
}

type groupTx struct {
	ctx  context.Context
	fn   func(conn) error
	err  error
	lead bool          // woken to lead the next group rather than with a result
	done chan struct{} // closed once: with a result, or to lead
}

// maxGroup bounds a group: a commit of more adds latency for the first
// member and saves little more.
const maxGroup = 64

// run runs fn in the next group and returns its outcome.
func (g *commitGroup) run(ctx context.Context, d *DB, fn func(conn) error) error {
	t := &groupTx{ctx: ctx, fn: fn, done: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, t)
	if g.leading {
		g.mu.Unlock()
		<-t.done
		if !t.lead {
			return t.err
		}
	} else {
		g.leading = true
		g.mu.Unlock()
	}

	// Lead: t is first in the queue.
	g.mu.Lock()
	n := min(len(g.queue), maxGroup)
	batch := make([]*groupTx, n)
	copy(batch, g.queue)
	g.queue = append(g.queue[:0], g.queue[n:]...)
	g.mu.Unlock()

	d.commitBatch(batch)

	g.mu.Lock()
	if len(g.queue) > 0 {
		next := g.queue[0]
		next.lead = true
		close(next.done)
	} else {
		g.leading = false
	}
	g.mu.Unlock()
	for _, m := range batch[1:] {
		close(m.done)
	}
	return t.err
}

// commitBatch runs the members of batch in one transaction and sets each
// member's err. Once started, a member runs to its end even if its
// context is cancelled: SQLite answers an interrupted write by rolling
// back the whole transaction, the other members' work with it. A member
// whose context is already done when its turn comes is not run.
func (d *DB) commitBatch(batch []*groupTx) {
	if len(batch) == 1 {
		batch[0].err = d.runTx(batch[0].ctx, batch[0].fn)
		return
	}
	ctx := context.WithoutCancel(batch[0].ctx)
	fail := func(err error) {
		for _, m := range batch {
			if m.err == nil {
				m.err = err
			}
		}
	}
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		fail(purposeErr(fmt.Sprintf("begin a group of %d transactions", len(batch)), err))
		return
	}
	abort := func(err error) {
		tx.Rollback()
		fail(err)
	}
	var missed []string
	ok := 0
	var changed touchSet
	for _, m := range batch {
		if err := m.ctx.Err(); err != nil {
			m.err = err
			continue
		}
		mctx := context.WithoutCancel(m.ctx)
		if _, err := tx.ExecContext(mctx, "SAVEPOINT glint_group"); err != nil {
			abort(purposeErr("savepoint of a grouped transaction", err))
			return
		}
		touch := &touchSet{}
		c := conn{r: tx, d: d.d, cache: d.wstmts, tx: tx, missed: &missed, trace: d.trace, touch: touch}
		if err := runMember(m.fn, c); err != nil {
			m.err = err
			// A statement that failed has left the transaction open
			// (constraint errors abort only the statement); if SQLite has
			// rolled it back (an I/O error, a full disk), this fails and
			// so does every member.
			if _, rerr := tx.ExecContext(mctx, "ROLLBACK TO glint_group"); rerr != nil {
				abort(fmt.Errorf("%w (and the group's transaction was lost: %v)", err, rerr))
				return
			}
		} else {
			ok++
			changed.add(touch)
		}
		if _, err := tx.ExecContext(mctx, "RELEASE glint_group"); err != nil {
			abort(purposeErr("release of a grouped transaction", err))
			return
		}
	}
	if ok == 0 {
		tx.Rollback()
		return
	}
	if err := d.images.commit(&changed, tx.Commit); err != nil {
		// The driver rolls back what the COMMIT left open: none of
		// the group is committed.
		fail(purposeErr(fmt.Sprintf("commit a group of %d transactions", ok), err))
		return
	}
	d.prepareMissed(ctx, missed)
}

// runMember runs fn, turning a panic into its error: the leader runs
// other callers' transactions, and a panic would leave them waiting for
// ever.
func runMember(fn func(conn) error, c conn) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("write transaction panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return fn(c)
}

// runTx runs fn alone in a write transaction.
func (d *DB) runTx(ctx context.Context, fn func(conn) error) error {
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return purposeErr("begin a write transaction", err)
	}
	c := conn{r: tx, d: d.d, trace: d.trace}
	var missed []string
	if d.wstmts != nil {
		c.cache, c.tx, c.missed = d.wstmts, tx, &missed
	}
	var changed touchSet
	if d.images != nil {
		c.touch = &changed
	}
	if err := fn(c); err != nil {
		tx.Rollback()
		return err
	}
	if err := d.images.commit(&changed, tx.Commit); err != nil {
		return purposeErr("commit", err)
	}
	d.prepareMissed(ctx, missed)
	return nil
}

// prepareMissed prepares, on the writer, the statements a transaction ran
// unprepared (preparing needs the connection the transaction held).
func (d *DB) prepareMissed(ctx context.Context, missed []string) {
	for _, q := range missed {
		d.wstmts.get(ctx, q)
	}
}
