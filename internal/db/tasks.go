package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"glint/internal/errs"
	"glint/internal/importer"
)

// Tasks is the task repository: Glance's tasks and task_info tables.
type Tasks struct{ db *DB }

// Tasks returns the task repository of d.
func (d *DB) Tasks() *Tasks { return &Tasks{db: d} }

const taskCols = "t.id, t.type, t.status, t.owner, t.expires_at, t.created_at, t.updated_at, t.deleted_at, t.deleted, " +
	"t.image_id, t.request_id, t.user_id, i.input, i.result, i.message"

const taskFrom = " FROM tasks t LEFT JOIN task_info i ON i.task_id = t.id"

func scanTask(r rowScanner) (*importer.Task, error) {
	var (
		t                                  importer.Task
		owner, imageID, reqID, userID      sql.NullString
		input, result, message             sql.NullString
		expires, created, updated, deleted dbTime
		status                             string
	)
	err := r.Scan(&t.ID, &t.Type, &status, &owner, &expires, &created, &updated, &deleted, &t.Deleted,
		&imageID, &reqID, &userID, &input, &result, &message)
	if err != nil {
		return nil, err
	}
	t.Status = importer.TaskStatus(status)
	// Glint writes "" for a task made without a project (noauth): the
	// column is NOT NULL in Glance's schema.
	if owner.Valid && owner.String != "" {
		t.Owner = &owner.String
	}
	t.ImageID, t.RequestID, t.UserID = strPtr(imageID), strPtr(reqID), strPtr(userID)
	t.CreatedAt, t.UpdatedAt = created.Time, created.Time
	if updated.Valid {
		t.UpdatedAt = updated.Time
	}
	if expires.Valid {
		e := expires.Time
		t.ExpiresAt = &e
	}
	if deleted.Valid {
		d := deleted.Time
		t.DeletedAt = &d
	}
	for _, c := range []struct {
		s   sql.NullString
		dst *map[string]any
	}{{input, &t.Input}, {result, &t.Result}} {
		if c.s.Valid && c.s.String != "" && c.s.String != "null" {
			if err := json.Unmarshal([]byte(c.s.String), c.dst); err != nil {
				return nil, fmt.Errorf("task %s: bad JSON in task_info: %w", t.ID, err)
			}
		}
	}
	t.Message = message.String
	return &t, nil
}

func jsonText(m map[string]any) (any, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func nullTime(d dialect, t *time.Time) any {
	if t == nil {
		return nil
	}
	return d.ts(*t)
}

// CreateTask inserts a task and its task_info row.
func (r *Tasks) CreateTask(ctx context.Context, t *importer.Task) error {
	const op errs.Op = "db.Tasks.Create"
	d := r.db.d
	input, err := jsonText(t.Input)
	if err != nil {
		return errs.E(op, errs.Invalid, err)
	}
	result, err := jsonText(t.Result)
	if err != nil {
		return errs.E(op, errs.Invalid, err)
	}
	owner := ""
	if t.Owner != nil {
		owner = *t.Owner
	}
	return r.db.inTx(ctx, op, func(tx conn) error {
		tx.touchesNoImage()
		_, err := tx.exec(ctx, `INSERT INTO tasks (id, type, status, owner, expires_at, created_at, updated_at, deleted_at,
			deleted, image_id, request_id, user_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
			t.ID, t.Type, string(t.Status), owner, nullTime(d, t.ExpiresAt), d.ts(t.CreatedAt), d.ts(t.UpdatedAt), nil,
			false, nullStr(t.ImageID), nullStr(t.RequestID), nullStr(t.UserID))
		if isDuplicate(err) {
			return errs.Errorf(op, errs.Conflict, "Task %s already exists", t.ID)
		}
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, "INSERT INTO task_info (task_id, input, result, message) VALUES (?,?,?,?)",
			t.ID, input, result, t.Message)
		return err
	})
}

// GetTask returns a live task.
func (r *Tasks) GetTask(ctx context.Context, id string) (*importer.Task, error) {
	const op errs.Op = "db.Tasks.Get"
	c := r.db.reader()
	t, err := scanTask(c.queryRow(ctx, "SELECT "+taskCols+taskFrom+" WHERE t.id = ? AND "+c.d.notDeleted("t.deleted"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.Errorf(op, errs.NotFound, "Could not find task %s", id)
	}
	if err != nil {
		return nil, dbErr(op, err)
	}
	return t, nil
}

// SaveTask updates a task's status, expiry, result and message as long as
// its stored status is still from (compare-and-set, so a task failed by
// recovery on one node cannot be marked successful by another).
func (r *Tasks) SaveTask(ctx context.Context, t *importer.Task, from importer.TaskStatus) error {
	const op errs.Op = "db.Tasks.Save"
	d := r.db.d
	result, err := jsonText(t.Result)
	if err != nil {
		return errs.E(op, errs.Invalid, err)
	}
	return r.db.inTx(ctx, op, func(tx conn) error {
		tx.touchesNoImage()
		res, err := tx.exec(ctx, "UPDATE tasks SET status=?, expires_at=?, updated_at=? WHERE id=? AND status=? AND "+d.notDeleted("deleted"),
			string(t.Status), nullTime(d, t.ExpiresAt), d.ts(t.UpdatedAt), t.ID, string(from))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return errs.Errorf(op, errs.Conflict, "Task %s is no longer %s", t.ID, from)
		}
		_, err = tx.exec(ctx, "UPDATE task_info SET result=?, message=? WHERE task_id=?", result, t.Message, t.ID)
		return err
	})
}

var taskSortKeys = map[string]string{
	"created_at": "t.created_at", "updated_at": "t.updated_at", "id": "t.id", "status": "t.status",
	"type": "t.type", "expires_at": "t.expires_at", "owner": "t.owner",
}

// ListTasks returns one page of live tasks.
func (r *Tasks) ListTasks(ctx context.Context, q importer.TaskQuery) ([]*importer.Task, error) {
	const op errs.Op = "db.Tasks.List"
	c := r.db.reader()
	key := taskSortKeys[q.SortKey]
	if q.SortKey == "" {
		key = "t.created_at"
	}
	if key == "" {
		return nil, errs.Errorf(op, errs.Invalid, "Unsupported sort_key %s", q.SortKey)
	}
	desc := q.SortDir != "asc"
	where := []string{c.d.live("t.deleted")}
	var args []any
	if q.Status != "" {
		where, args = append(where, "t.status = ?"), append(args, q.Status)
	}
	if q.Type != "" {
		where, args = append(where, "t.type = ?"), append(args, q.Type)
	}
	if q.Owner != nil {
		where, args = append(where, "t.owner = ?"), append(args, *q.Owner)
	}
	cmp := "<"
	if !desc {
		cmp = ">"
	}
	if q.Marker != "" {
		// Rows after the marker in (key, id) order.
		where = append(where, fmt.Sprintf("(%s %s (SELECT %s FROM tasks t WHERE t.id = ?) OR (%s = (SELECT %s FROM tasks t WHERE t.id = ?) AND t.id %s ?))",
			key, cmp, key, key, key, cmp))
		args = append(args, q.Marker, q.Marker, q.Marker)
	}
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	query := "SELECT " + taskCols + taskFrom + " WHERE " + strings.Join(where, " AND ") +
		" ORDER BY " + key + dir + ", t.id" + dir
	if q.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	return r.queryTasks(ctx, op, c, query, args...)
}

func (r *Tasks) queryTasks(ctx context.Context, op errs.Op, c conn, query string, args ...any) ([]*importer.Task, error) {
	c.traced(query, args)
	rows, err := c.r.QueryContext(ctx, c.d.bind(query), args...)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	var out []*importer.Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, dbErr(op, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(op, err)
	}
	return out, nil
}

// ImageTasks returns an image's live tasks, oldest first.
func (r *Tasks) ImageTasks(ctx context.Context, imageID string) ([]*importer.Task, error) {
	c := r.db.reader()
	return r.queryTasks(ctx, "db.Tasks.ImageTasks", c, "SELECT "+taskCols+taskFrom+" WHERE t.image_id = ? AND "+
		c.d.notDeleted("t.deleted")+" ORDER BY t.created_at, t.id", imageID)
}

// TasksInStatus lists live tasks of a type in a status, oldest first.
func (r *Tasks) TasksInStatus(ctx context.Context, typ string, status importer.TaskStatus) ([]*importer.Task, error) {
	c := r.db.reader()
	return r.queryTasks(ctx, "db.Tasks.InStatus", c, "SELECT "+taskCols+taskFrom+" WHERE t.type = ? AND t.status = ? AND "+
		c.d.notDeleted("t.deleted")+" ORDER BY t.created_at, t.id", typ, string(status))
}

// ExpireTasks soft-deletes the tasks whose expires_at has passed.
func (r *Tasks) ExpireTasks(ctx context.Context, now time.Time) (int64, error) {
	const op errs.Op = "db.Tasks.Expire"
	d := r.db.d
	var n int64
	err := r.db.inTx(ctx, op, func(tx conn) error {
		tx.touchesNoImage()
		res, err := tx.exec(ctx, "UPDATE tasks SET deleted=true, deleted_at=? WHERE "+d.live("deleted")+
			" AND expires_at IS NOT NULL AND expires_at <= ?", d.ts(now), d.tsCmp(now))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
