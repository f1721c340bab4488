package importertest

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"glint/internal/errs"
	"glint/internal/importer"
)

// MemTasks is an importer.TaskRepo in memory, keeping the SQL task
// repository's contract: expired tasks stay, deleted and hidden; input
// and result go through JSON, as the task_info columns take them.
type MemTasks struct {
	mu    sync.Mutex
	tasks map[string]*importer.Task
}

// NewMemTasks returns an empty task repository.
func NewMemTasks() *MemTasks { return &MemTasks{tasks: map[string]*importer.Task{}} }

var _ importer.TaskRepo = (*MemTasks)(nil)

// jsonCopy is m as read back from a JSON column.
func jsonCopy(m map[string]any) (map[string]any, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(b, &out)
}

func ref[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// copyTask is a deep copy of t, whose maps are JSON copies already.
func copyTask(t *importer.Task) *importer.Task {
	c := *t
	c.Owner, c.ExpiresAt, c.DeletedAt = ref(t.Owner), ref(t.ExpiresAt), ref(t.DeletedAt)
	c.ImageID, c.RequestID, c.UserID = ref(t.ImageID), ref(t.RequestID), ref(t.UserID)
	c.Input, _ = jsonCopy(t.Input)
	c.Result, _ = jsonCopy(t.Result)
	return &c
}

// CreateTask stores a new task; a taken ID, even an expired task's, is a
// Conflict.
func (r *MemTasks) CreateTask(ctx context.Context, t *importer.Task) error {
	const op errs.Op = "imagetest.CreateTask"
	input, err := jsonCopy(t.Input)
	if err != nil {
		return errs.E(op, errs.Invalid, err)
	}
	result, err := jsonCopy(t.Result)
	if err != nil {
		return errs.E(op, errs.Invalid, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tasks[t.ID] != nil {
		return errs.Errorf(op, errs.Conflict, "Task %s already exists", t.ID)
	}
	c := copyTask(t)
	c.Input, c.Result, c.Deleted, c.DeletedAt = input, result, false, nil
	// The owner column holds "" for no owner (noauth), which reads as nil.
	if c.Owner != nil && *c.Owner == "" {
		c.Owner = nil
	}
	r.tasks[t.ID] = c
	return nil
}

// GetTask returns a live task.
func (r *MemTasks) GetTask(ctx context.Context, id string) (*importer.Task, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.tasks[id]
	if t == nil || t.Deleted {
		return nil, errs.Errorf("imagetest.GetTask", errs.NotFound, "Could not find task %s", id)
	}
	return copyTask(t), nil
}

// SaveTask stores t's status, expiry, result and message if its stored
// status is still from.
func (r *MemTasks) SaveTask(ctx context.Context, t *importer.Task, from importer.TaskStatus) error {
	const op errs.Op = "imagetest.SaveTask"
	result, err := jsonCopy(t.Result)
	if err != nil {
		return errs.E(op, errs.Invalid, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.tasks[t.ID]
	if s == nil || s.Deleted || s.Status != from {
		return errs.Errorf(op, errs.Conflict, "Task %s is no longer %s", t.ID, from)
	}
	s.Status, s.ExpiresAt, s.UpdatedAt, s.Result, s.Message = t.Status, ref(t.ExpiresAt), t.UpdatedAt, result, t.Message
	return nil
}

// taskKey is a task's sort column.
func taskKey(t *importer.Task, key string) value {
	switch key {
	case "created_at":
		return value{t: t.CreatedAt}
	case "updated_at":
		return value{t: t.UpdatedAt}
	case "id":
		return value{s: t.ID}
	case "status":
		return value{s: string(t.Status)}
	case "type":
		return value{s: t.Type}
	case "owner":
		return value{s: ownerOfTask(t)}
	case "expires_at":
		if t.ExpiresAt == nil {
			return value{null: true}
		}
		return value{t: *t.ExpiresAt}
	}
	panic("importertest: unknown task sort key " + key)
}

func ownerOfTask(t *importer.Task) string {
	if t.Owner == nil {
		return ""
	}
	return *t.Owner
}

// ListTasks returns one page of live tasks, sorted by q.SortKey and id.
func (r *MemTasks) ListTasks(ctx context.Context, q importer.TaskQuery) ([]*importer.Task, error) {
	key := cmp.Or(q.SortKey, "created_at")
	switch key {
	case "created_at", "updated_at", "id", "status", "type", "expires_at", "owner":
	default:
		return nil, errs.Errorf("importertest.ListTasks", errs.Invalid, "Unsupported sort_key %s", q.SortKey)
	}
	dir := -1 // descending unless asked otherwise
	if q.SortDir == "asc" {
		dir = 1
	}
	order := func(a, b *importer.Task) int {
		return dir * cmp.Or(compareValues(taskKey(a, key), taskKey(b, key)), cmp.Compare(a.ID, b.ID))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var marker *importer.Task
	if q.Marker != "" {
		if marker = r.tasks[q.Marker]; marker == nil {
			return nil, nil // no row comes after a marker that is not there
		}
	}
	var out []*importer.Task
	for _, t := range r.tasks {
		if t.Deleted || q.Status != "" && string(t.Status) != q.Status || q.Type != "" && t.Type != q.Type ||
			q.Owner != nil && ownerOfTask(t) != *q.Owner {
			continue
		}
		// As in SQL, nothing compares with a NULL key: such rows are
		// not after a marker, nor is anything after such a marker.
		if marker != nil && (taskKey(t, key).null || taskKey(marker, key).null || order(t, marker) <= 0) {
			continue
		}
		out = append(out, t)
	}
	slices.SortFunc(out, order)
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	for i, t := range out {
		out[i] = copyTask(t)
	}
	return out, nil
}

// oldestFirst returns copies of the live tasks keep selects, by creation.
func (r *MemTasks) oldestFirst(keep func(*importer.Task) bool) []*importer.Task {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*importer.Task
	for _, t := range r.tasks {
		if !t.Deleted && keep(t) {
			out = append(out, copyTask(t))
		}
	}
	slices.SortFunc(out, func(a, b *importer.Task) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// ImageTasks returns an image's live tasks, oldest first.
func (r *MemTasks) ImageTasks(ctx context.Context, imageID string) ([]*importer.Task, error) {
	return r.oldestFirst(func(t *importer.Task) bool { return t.ImageID != nil && *t.ImageID == imageID }), nil
}

// TasksInStatus lists live tasks of a type in a status, oldest first.
func (r *MemTasks) TasksInStatus(ctx context.Context, typ string, status importer.TaskStatus) ([]*importer.Task, error) {
	return r.oldestFirst(func(t *importer.Task) bool { return t.Type == typ && t.Status == status }), nil
}

// ExpireTasks soft-deletes the live tasks whose expires_at has passed.
func (r *MemTasks) ExpireTasks(ctx context.Context, now time.Time) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for _, t := range r.tasks {
		if !t.Deleted && t.ExpiresAt != nil && !t.ExpiresAt.After(now) {
			d := now
			t.Deleted, t.DeletedAt = true, &d
			n++
		}
	}
	return n, nil
}

// value is one sort column of a task; null for SQL's NULL.
type value struct {
	null bool
	s    string
	t    time.Time
}

// compareValues orders two values of a column, NULL first.
func compareValues(x, y value) int {
	switch {
	case x.null || y.null:
		if x.null == y.null {
			return 0
		}
		if x.null {
			return -1
		}
		return 1
	}
	return cmp.Or(cmp.Compare(x.s, y.s), x.t.Compare(y.t))
}
