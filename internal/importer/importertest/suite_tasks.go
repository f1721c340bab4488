package importertest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"glint/internal/errs"
	"glint/internal/importer"
)

// TestTaskRepo is the conformance suite of importer.TaskRepo, run as
// imagetest.TestRepo is.
func TestTaskRepo(t *testing.T, open func(t *testing.T) importer.TaskRepo) {
	tests := []struct {
		name string
		fn   func(t *testing.T, r importer.TaskRepo)
	}{
		{"CreateGet", testTaskCreateGet},
		{"Save", testTaskSave},
		{"List", testTaskList},
		{"Queries", testTaskQueries},
		{"Expire", testTaskExpire},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// at is the suite's clock: task i's times are at(i).
func at(seconds int) time.Time {
	return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(seconds) * time.Second)
}

func ptr[T any](v T) *T { return &v }

// wantKind fails t unless err is of kind k.
func wantKind(t *testing.T, what string, err error, k errs.Kind) {
	t.Helper()
	if !errs.Is(k, err) {
		t.Errorf("%s: %v (kind %v), want kind %v", what, err, errs.KindOf(err), k)
	}
}

// taskImage is the image the suite's tasks import into.
const taskImage = "11111111-2222-4333-8444-555555555555"

// newTask is task i: pending, created at(i), for taskImage, without an
// owner.
func newTask(i int, typ string) *importer.Task {
	return &importer.Task{ID: fmt.Sprintf("00000000-0000-4000-9000-%012d", i), Type: typ, Status: importer.TaskPending,
		CreatedAt: at(i), UpdatedAt: at(i), ImageID: ptr(taskImage), Input: map[string]any{"image_id": taskImage, "n": float64(i)}}
}

func createTasks(t *testing.T, r importer.TaskRepo, tasks ...*importer.Task) {
	t.Helper()
	for _, tk := range tasks {
		if err := r.CreateTask(t.Context(), tk); err != nil {
			t.Fatalf("create task %s: %v", tk.ID, err)
		}
	}
}

func taskIDs(tasks []*importer.Task) []string {
	out := []string{}
	for _, tk := range tasks {
		out = append(out, tk.ID)
	}
	return out
}

// A task is stored with its task_info and read back as it was; no owner
// (noauth) reads back as none, whether nil or "". Tasks read are copies.
// A taken ID is a Conflict, an unknown one NotFound.
func testTaskCreateGet(t *testing.T, r importer.TaskRepo) {
	ctx := t.Context()
	full := newTask(1, importer.TaskTypeImageImport)
	full.Owner, full.RequestID, full.UserID = ptr("p1"), ptr("req-1"), ptr("u1")
	full.Input["nested"] = map[string]any{"l": []any{"a", true}}
	empty := newTask(2, importer.TaskTypeImport)
	empty.Owner, empty.ImageID, empty.Input = ptr(""), nil, nil
	createTasks(t, r, full, empty)
	wantKind(t, "a taken ID", r.CreateTask(ctx, newTask(1, importer.TaskTypeImport)), errs.Conflict)

	got, err := r.GetTask(ctx, full.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Type != full.Type || got.Status != importer.TaskPending || got.Owner == nil || *got.Owner != "p1" ||
		got.ImageID == nil || *got.ImageID != taskImage || *got.RequestID != "req-1" || *got.UserID != "u1" ||
		!got.CreatedAt.Equal(at(1)) || !got.UpdatedAt.Equal(at(1)) || got.ExpiresAt != nil || got.Deleted ||
		got.Input["n"] != float64(1) || fmt.Sprint(got.Input["nested"]) != "map[l:[a true]]" || got.Result != nil || got.Message != "" {
		t.Errorf("read %+v", got)
	}
	got.Input["n"] = "changed"
	if again, _ := r.GetTask(ctx, full.ID); again.Input["n"] != float64(1) {
		t.Errorf("a change to a task read was stored: %v", again.Input)
	}
	got, err = r.GetTask(ctx, empty.ID)
	if err != nil || got.Owner != nil || got.ImageID != nil || len(got.Input) != 0 {
		t.Errorf("a task without owner, image or input: %+v, %v", got, err)
	}
	_, err = r.GetTask(ctx, newTask(9, "import").ID)
	wantKind(t, "an unknown task", err, errs.NotFound)
}

// SaveTask stores status, expiry, result and message only while the
// stored status is still from (a task that one node failed cannot then
// be finished by another).
func testTaskSave(t *testing.T, r importer.TaskRepo) {
	ctx := t.Context()
	tk := newTask(1, importer.TaskTypeImageImport)
	createTasks(t, r, tk)
	done := *tk
	done.Status, done.Message, done.Result = importer.TaskSuccess, "done", map[string]any{"image_id": taskImage}
	done.ExpiresAt, done.UpdatedAt = ptr(at(3600)), at(60)
	if err := r.SaveTask(ctx, &done, importer.TaskPending); err != nil {
		t.Fatal(err)
	}
	failed := done
	failed.Status, failed.Message = importer.TaskFailure, "too late"
	wantKind(t, "a save from a status gone", r.SaveTask(ctx, &failed, importer.TaskPending), errs.Conflict)
	got, err := r.GetTask(ctx, tk.ID)
	if err != nil || got.Status != importer.TaskSuccess || got.Message != "done" || got.Result["image_id"] != taskImage ||
		got.ExpiresAt == nil || !got.ExpiresAt.Equal(at(3600)) || !got.UpdatedAt.Equal(at(60)) || !got.CreatedAt.Equal(at(1)) {
		t.Errorf("after the save: %+v, %v", got, err)
	}
}

// ListTasks pages through live tasks in the order asked (created_at
// descending by default), ties broken by ID, filtered by status, type
// and owner.
func testTaskList(t *testing.T, r importer.TaskRepo) {
	ctx := t.Context()
	var all []*importer.Task
	for i := range 4 {
		tk := newTask(i, importer.TaskTypeImageImport)
		if i == 2 {
			tk.Owner, tk.Type = ptr("p1"), importer.TaskTypeImport
		}
		if i == 3 {
			tk.CreatedAt = at(1) // a tie with task 1
		}
		all = append(all, tk)
	}
	createTasks(t, r, all...)
	done := *all[0]
	done.Status = importer.TaskSuccess
	if err := r.SaveTask(ctx, &done, importer.TaskPending); err != nil {
		t.Fatal(err)
	}
	list := func(q importer.TaskQuery) []string {
		t.Helper()
		tasks, err := r.ListTasks(ctx, q)
		if err != nil {
			t.Fatalf("list %+v: %v", q, err)
		}
		return taskIDs(tasks)
	}
	tid := func(is ...int) []string {
		out := []string{}
		for _, i := range is {
			out = append(out, all[i].ID)
		}
		return out
	}
	cases := []struct {
		name string
		q    importer.TaskQuery
		want []string
	}{
		{"newest first", importer.TaskQuery{}, tid(2, 3, 1, 0)},
		{"oldest first", importer.TaskQuery{SortDir: "asc"}, tid(0, 1, 3, 2)},
		{"a page", importer.TaskQuery{SortDir: "asc", Limit: 2}, tid(0, 1)},
		{"the next page", importer.TaskQuery{SortDir: "asc", Limit: 2, Marker: all[1].ID}, tid(3, 2)},
		{"the next page, newest first", importer.TaskQuery{Limit: 2, Marker: all[3].ID}, tid(1, 0)},
		{"by id", importer.TaskQuery{SortKey: "id", SortDir: "asc"}, tid(0, 1, 2, 3)},
		{"by status", importer.TaskQuery{SortKey: "status", SortDir: "asc"}, tid(1, 2, 3, 0)},
		{"by type", importer.TaskQuery{SortKey: "type", SortDir: "asc"}, tid(0, 1, 3, 2)},
		{"status", importer.TaskQuery{Status: "pending"}, tid(2, 3, 1)},
		{"type", importer.TaskQuery{Type: importer.TaskTypeImport}, tid(2)},
		{"owner", importer.TaskQuery{Owner: ptr("p1")}, tid(2)},
		{"another owner", importer.TaskQuery{Owner: ptr("p2")}, nil},
	}
	for _, tc := range cases {
		if got := list(tc.q); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	_, err := r.ListTasks(ctx, importer.TaskQuery{SortKey: "nope"})
	wantKind(t, "an unknown sort key", err, errs.Invalid)
}

// TasksInStatus and ImageTasks list live tasks oldest first.
func testTaskQueries(t *testing.T, r importer.TaskRepo) {
	ctx := t.Context()
	a, b, c := newTask(3, importer.TaskTypeImageImport), newTask(1, importer.TaskTypeImageImport), newTask(2, importer.TaskTypeImport)
	c.ImageID = ptr("other")
	createTasks(t, r, a, b, c)
	done := *b
	done.Status = importer.TaskProcessing
	if err := r.SaveTask(ctx, &done, importer.TaskPending); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		list func() ([]*importer.Task, error)
		want []string
	}{
		{"pending imports", func() ([]*importer.Task, error) {
			return r.TasksInStatus(ctx, importer.TaskTypeImageImport, importer.TaskPending)
		}, []string{a.ID}},
		{"processing imports", func() ([]*importer.Task, error) {
			return r.TasksInStatus(ctx, importer.TaskTypeImageImport, importer.TaskProcessing)
		}, []string{b.ID}},
		{"the image's", func() ([]*importer.Task, error) { return r.ImageTasks(ctx, taskImage) }, []string{b.ID, a.ID}},
		{"another image's", func() ([]*importer.Task, error) { return r.ImageTasks(ctx, "other") }, []string{c.ID}},
		{"no image's", func() ([]*importer.Task, error) { return r.ImageTasks(ctx, "none") }, []string{}},
	} {
		got, err := tc.list()
		if err != nil || !slices.Equal(taskIDs(got), tc.want) {
			t.Errorf("%s: %v, %v; want %v", tc.name, taskIDs(got), err, tc.want)
		}
	}
}

// ExpireTasks deletes the tasks whose expiry has come, which then no
// query returns.
func testTaskExpire(t *testing.T, r importer.TaskRepo) {
	ctx := t.Context()
	var tasks []*importer.Task
	for i, exp := range []int{100, 200, 300, -1} {
		tk := newTask(i, importer.TaskTypeImageImport)
		if exp >= 0 {
			tk.ExpiresAt = ptr(at(exp))
		}
		tasks = append(tasks, tk)
	}
	createTasks(t, r, tasks...)
	n, err := r.ExpireTasks(ctx, at(200))
	if err != nil || n != 2 {
		t.Fatalf("expired %d tasks, %v; want 2", n, err)
	}
	if n, err := r.ExpireTasks(ctx, at(200)); err != nil || n != 0 {
		t.Errorf("expired %d more, %v", n, err)
	}
	for i, tk := range tasks {
		_, err := r.GetTask(ctx, tk.ID)
		if i < 2 {
			wantKind(t, fmt.Sprintf("expired task %d", i), err, errs.NotFound)
		} else if err != nil {
			t.Errorf("task %d: %v", i, err)
		}
	}
	want := []string{tasks[2].ID, tasks[3].ID}
	if l, err := r.ListTasks(ctx, importer.TaskQuery{SortDir: "asc"}); err != nil || !slices.Equal(taskIDs(l), want) {
		t.Errorf("listed after expiry: %v, %v", taskIDs(l), err)
	}
	if l, err := r.ImageTasks(ctx, taskImage); err != nil || !slices.Equal(taskIDs(l), want) {
		t.Errorf("the image's after expiry: %v, %v", taskIDs(l), err)
	}
	wantKind(t, "a taken ID, expired", r.CreateTask(ctx, newTask(0, importer.TaskTypeImport)), errs.Conflict)
}
