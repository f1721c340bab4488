package db_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"glint/internal/db/dbtest"
	"glint/internal/errs"
	"glint/internal/image"
)

func TestTasks(t *testing.T) {
	eachDB(t, func(t *testing.T, c dbtest.Conn) {
		ctx := context.Background()
		d := openDB(t, c)
		r := d.Tasks()
		base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		owner := "p1"
		img := "11111111-2222-3333-4444-555555555555"
		for i := 0; i < 3; i++ {
			tk := &image.Task{ID: fmt.Sprintf("00000000-0000-0000-0000-00000000000%d", i), Type: image.TaskTypeImageImport,
				Status: image.TaskPending, CreatedAt: base.Add(time.Duration(i) * time.Second), UpdatedAt: base, ImageID: &img,
				Input: map[string]any{"image_id": img, "n": float64(i)}}
			if i == 2 {
				tk.Owner = &owner
			}
			if err := r.CreateTask(ctx, tk); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.CreateTask(ctx, &image.Task{ID: "00000000-0000-0000-0000-000000000000", Type: "import", Status: image.TaskPending,
			CreatedAt: base, UpdatedAt: base}); !errs.Is(errs.Conflict, err) {
			t.Errorf("duplicate: %v", err)
		}
		got, err := r.GetTask(ctx, "00000000-0000-0000-0000-000000000001")
		if err != nil || got.Owner != nil || got.Input["n"] != float64(1) || *got.ImageID != img || !got.CreatedAt.Equal(base.Add(time.Second)) {
			t.Fatalf("get: %+v %v", got, err)
		}
		// Compare-and-set on the status.
		got.Status, got.Message, got.Result = image.TaskSuccess, "done", map[string]any{"image_id": img}
		exp := base.Add(time.Hour)
		got.ExpiresAt = &exp
		if err := r.SaveTask(ctx, got, image.TaskPending); err != nil {
			t.Fatal(err)
		}
		if err := r.SaveTask(ctx, got, image.TaskPending); !errs.Is(errs.Conflict, err) {
			t.Errorf("second save from pending: %v", err)
		}
		again, _ := r.GetTask(ctx, got.ID)
		if again.Status != image.TaskSuccess || again.Message != "done" || again.Result["image_id"] != img || !again.ExpiresAt.Equal(exp) {
			t.Errorf("after save: %+v", again)
		}
		// Paging in created_at order, both directions.
		page, err := r.ListTasks(ctx, image.TaskQuery{Limit: 2, SortDir: "asc"})
		if err != nil || len(page) != 2 || page[0].ID[35] != '0' || page[1].ID[35] != '1' {
			t.Fatalf("page 1: %v %v", page, err)
		}
		page, err = r.ListTasks(ctx, image.TaskQuery{Limit: 2, SortDir: "asc", Marker: page[1].ID})
		if err != nil || len(page) != 1 || page[0].ID[35] != '2' {
			t.Fatalf("page 2: %v %v", page, err)
		}
		page, _ = r.ListTasks(ctx, image.TaskQuery{Owner: &owner})
		if len(page) != 1 || page[0].Owner == nil || *page[0].Owner != owner {
			t.Errorf("by owner: %v", page)
		}
		page, _ = r.ListTasks(ctx, image.TaskQuery{Status: "pending"})
		if len(page) != 2 || page[0].ID[35] != '2' {
			t.Errorf("pending, newest first: %v", page)
		}
		if _, err := r.ListTasks(ctx, image.TaskQuery{SortKey: "nope"}); !errs.Is(errs.Invalid, err) {
			t.Errorf("bad sort key: %v", err)
		}
		if l, _ := r.TasksInStatus(ctx, image.TaskTypeImageImport, image.TaskPending); len(l) != 2 {
			t.Errorf("in status: %v", l)
		}
		if l, _ := r.ImageTasks(ctx, img); len(l) != 3 {
			t.Errorf("image tasks: %v", l)
		}
		// Expiry soft-deletes.
		n, err := r.ExpireTasks(ctx, base.Add(2*time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("expire: %d %v", n, err)
		}
		if _, err := r.GetTask(ctx, got.ID); !errs.Is(errs.NotFound, err) {
			t.Errorf("expired task: %v", err)
		}
		if l, _ := r.ImageTasks(ctx, img); len(l) != 2 {
			t.Errorf("image tasks after expiry: %v", l)
		}
	})
}
