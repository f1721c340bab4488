package importer

import (
	"context"
	"time"

	"glint/internal/auth"
	"glint/internal/errs"
)

// TaskStatus is a task's lifecycle state (Glance's task status enum).
type TaskStatus string

const (
	TaskPending    TaskStatus = "pending"
	TaskProcessing TaskStatus = "processing"
	TaskSuccess    TaskStatus = "success"
	TaskFailure    TaskStatus = "failure"
)

// Task types: api_image_import is what POST /v2/images/{id}/import makes;
// import is the legacy tasks API's.
const (
	TaskTypeImageImport = "api_image_import"
	TaskTypeImport      = "import"
)

// Task is one row of Glance's tasks table joined with its task_info.
type Task struct {
	ID        string
	Type      string
	Status    TaskStatus
	Owner     *string // nil in noauth mode (stored as "", see docs/import.md)
	ExpiresAt *time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
	DeletedAt *time.Time
	Deleted   bool
	ImageID   *string
	RequestID *string
	UserID    *string

	Input   map[string]any
	Result  map[string]any
	Message string
}

// TaskQuery selects tasks for the legacy list API.
type TaskQuery struct {
	Limit   int
	Marker  string
	SortKey string // created_at (default), updated_at, id, status, type, expires_at, owner
	SortDir string // asc, desc (default)
	Status  string
	Type    string
	Owner   *string // restrict to this owner; nil: all (admin or noauth)
}

// TaskRepo is what the import machinery needs from the database. Every
// task repository must pass importertest.TestTaskRepo; importertest.MemTasks is
// one in memory.
type TaskRepo interface {
	// CreateTask stores a new task; a taken ID, even an expired task's,
	// is errs.Conflict. An owner of "" reads back as nil.
	CreateTask(ctx context.Context, t *Task) error
	// GetTask returns a live task; deleted and unknown ids are NotFound.
	GetTask(ctx context.Context, id string) (*Task, error)
	// SaveTask stores t's status, expiry, result and message; it
	// refuses (Conflict) to change a task whose stored status is
	// no longer from.
	SaveTask(ctx context.Context, t *Task, from TaskStatus) error
	// ListTasks returns one page of live tasks in q's order, ties broken
	// by ID; an unknown sort key is errs.Invalid.
	ListTasks(ctx context.Context, q TaskQuery) ([]*Task, error)
	// ImageTasks lists an image's live tasks, oldest first.
	ImageTasks(ctx context.Context, imageID string) ([]*Task, error)
	// TasksInStatus lists live tasks of a type in a status, oldest first.
	TasksInStatus(ctx context.Context, typ string, status TaskStatus) ([]*Task, error)
	// ExpireTasks soft-deletes tasks whose expires_at has passed.
	ExpireTasks(ctx context.Context, now time.Time) (int64, error)
}

// taskOwner is the owner Glance records for a task: the caller's project.
func taskOwner(ctx context.Context) *string {
	a := auth.From(ctx)
	if a.ProjectID == "" {
		return nil
	}
	p := a.ProjectID
	return &p
}

func optRef(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// taskVisible is Glance's rule: admins (and so noauth) see every task,
// others only their own project's. A caller without a project sees none.
func taskVisible(ctx context.Context, t *Task) bool {
	return auth.From(ctx).MayChangeRef(t.Owner)
}

// ImageTasks returns the tasks of an image the caller may see
// (GET /v2/images/{id}/tasks); an invisible image is NotFound.
func (im *Importer) ImageTasks(ctx context.Context, id string) ([]*Task, error) {
	const op errs.Op = "importer.ImageTasks"
	if _, err := im.s.Fetch(ctx, id); err != nil {
		return nil, errs.E(op, errs.NotFound, errs.Message(err), err)
	}
	if _, err := im.tasks.ExpireTasks(ctx, im.now().UTC()); err != nil {
		im.log.WarnContext(ctx, "could not expire tasks", "err", err)
	}
	all, err := im.tasks.ImageTasks(ctx, id)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, t := range all {
		if taskVisible(ctx, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// authorizeTasksAPI is the legacy tasks API's gate: Glance's
// tasks_api_access rule (role:admin by default).
func (im *Importer) authorizeTasksAPI(ctx context.Context, action string) error {
	if err := im.s.AuthorizeAction(ctx, "tasks_api_access", map[string]any{}); err != nil {
		return err
	}
	return im.s.AuthorizeAction(ctx, action, map[string]any{})
}

// GetTask returns one task (GET /v2/tasks/{id}).
func (im *Importer) GetTask(ctx context.Context, id string) (*Task, error) {
	const op errs.Op = "importer.GetTask"
	if err := im.authorizeTasksAPI(ctx, "get_task"); err != nil {
		return nil, errs.E(op, err)
	}
	t, err := im.tasks.GetTask(ctx, id)
	if err != nil {
		return nil, err
	}
	if !taskVisible(ctx, t) {
		return nil, errs.Errorf(op, errs.NotFound, "Could not find task %s", id)
	}
	return t, nil
}

// ListTasks lists tasks (GET /v2/tasks), expiring old ones first as
// Glance does on every list.
func (im *Importer) ListTasks(ctx context.Context, q TaskQuery) ([]*Task, error) {
	const op errs.Op = "importer.ListTasks"
	if err := im.authorizeTasksAPI(ctx, "get_tasks"); err != nil {
		return nil, errs.E(op, err)
	}
	if _, err := im.tasks.ExpireTasks(ctx, im.now().UTC()); err != nil {
		im.log.WarnContext(ctx, "could not expire tasks", "err", err)
	}
	a := auth.From(ctx)
	if !a.IsAdmin {
		if a.ProjectID == "" {
			return nil, nil // no project owns nothing, and sees nothing
		}
		p := a.ProjectID
		q.Owner = &p
	}
	if q.Marker != "" {
		t, err := im.tasks.GetTask(ctx, q.Marker)
		if err != nil || !taskVisible(ctx, t) {
			return nil, errs.Errorf(op, errs.Invalid, "Could not find task %s", q.Marker)
		}
	}
	return im.tasks.ListTasks(ctx, q)
}

// finishTask moves a task to a terminal status and starts its expiry clock.
func (im *Importer) finishTask(ctx context.Context, t *Task, status TaskStatus, result map[string]any, msg string) error {
	from := t.Status
	now := im.now().UTC()
	exp := now.Add(im.opts.TaskTimeToLive)
	t.Status, t.Result, t.Message, t.UpdatedAt, t.ExpiresAt = status, result, msg, now, &exp
	if err := im.tasks.SaveTask(context.WithoutCancel(ctx), t, from); err != nil {
		return err
	}
	ev := "task.success"
	if status == TaskFailure {
		ev = "task.failure"
	}
	im.notifyTask(ctx, ev, t)
	return nil
}

// AuthorizeTasksAPI applies tasks_api_access, the gate of every legacy
// tasks API call.
func (im *Importer) AuthorizeTasksAPI(ctx context.Context) error {
	return im.s.AuthorizeAction(ctx, "tasks_api_access", map[string]any{})
}
