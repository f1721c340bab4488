package db

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"glint/internal/errs"
	"glint/internal/image"
)

func groupImage(i int) *image.Image {
	now := time.Now().UTC().Truncate(time.Second)
	name := fmt.Sprintf("image-%d", i)
	return &image.Image{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Name: &name, Status: image.Queued,
		Visibility: image.Shared, CreatedAt: now, UpdatedAt: now,
		Properties: map[string]string{"n": strconv.Itoa(i)}, Tags: []string{"t"}}
}

// In a group, a member that fails is rolled back alone: what it wrote
// before failing is gone, the members before and after it commit, and a
// member whose context is done when its turn comes is not run.
func TestCommitBatchIsolatesMembers(t *testing.T) {
	ctx := context.Background()
	d := openSQLite(t)
	imgs := d.Images()
	insert := func(i int) func(conn) error {
		return func(c conn) error {
			img := groupImage(i)
			_, err := c.exec(ctx, "INSERT INTO images ("+imageCols+") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
				img.ID, nullStr(img.Name), nil, string(img.Status), d.d.ts(img.CreatedAt), d.d.ts(img.UpdatedAt),
				nil, false, nil, nil, nil, nil, 0, 0, false, nil, img.Visibility, false, nil, nil)
			return err
		}
	}
	boom := errors.New("boom")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	batch := []*groupTx{
		{ctx: ctx, fn: insert(1)},
		{ctx: ctx, fn: func(c conn) error {
			if err := insert(2)(c); err != nil {
				return err
			}
			return boom // after writing: the write must be undone
		}},
		{ctx: ctx, fn: insert(1)}, // a duplicate key: fails in SQLite
		{ctx: cancelled, fn: func(conn) error { ran = true; return nil }},
		{ctx: ctx, fn: insert(3)},
	}
	d.commitBatch(batch)
	if batch[0].err != nil || batch[4].err != nil {
		t.Errorf("members that succeeded got %v, %v", batch[0].err, batch[4].err)
	}
	if !errors.Is(batch[1].err, boom) {
		t.Errorf("failing member got %v, want its own error", batch[1].err)
	}
	if batch[2].err == nil {
		t.Error("duplicate insert: no error")
	}
	if !errors.Is(batch[3].err, context.Canceled) || ran {
		t.Errorf("cancelled member: err %v, ran %v", batch[3].err, ran)
	}
	for i, want := range map[int]bool{1: true, 2: false, 3: true} {
		_, err := imgs.Get(ctx, groupImage(i).ID)
		if got := err == nil; got != want {
			t.Errorf("image %d stored: %v, want %v (%v)", i, got, want, err)
		}
	}
}

// Concurrent writers through the public API, grouped or not: every
// read-modify-write of one image is applied (none lost to a neighbour in
// its group), creates of a taken ID fail alone, the others are stored.
func TestCommitGroupConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	d := openSQLite(t)
	imgs := d.Images()
	if err := imgs.Create(ctx, groupImage(0)); err != nil {
		t.Fatal(err)
	}
	const workers, each = 16, 25
	var wg sync.WaitGroup
	errc := make(chan error, workers*each*2)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				_, err := imgs.Modify(ctx, groupImage(0).ID, func(old *image.Image) (*image.Image, error) {
					n, _ := strconv.Atoi(old.Properties["n"])
					old.Properties["n"] = strconv.Itoa(n + 1)
					return old, nil
				})
				if err != nil {
					errc <- err
				}
				// Even workers create new images; odd ones retry image 0,
				// which exists.
				i := 1 + w*each + j
				if w%2 == 1 {
					i = 0
				}
				err = imgs.Create(ctx, groupImage(i))
				if (i == 0) != (errs.KindOf(err) == errs.Conflict) {
					errc <- fmt.Errorf("create %d: %v", i, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	got, err := imgs.Get(ctx, groupImage(0).ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Properties["n"] != strconv.Itoa(workers*each) {
		t.Errorf("counter %s after %d increments", got.Properties["n"], workers*each)
	}
	all, err := imgs.List(ctx, image.ListQuery{Limit: 1000}, image.Viewer{Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + workers/2*each; len(all) != want {
		t.Errorf("%d images stored, want %d", len(all), want)
	}
}

// A member that panics fails alone; the leader carries on.
func TestCommitBatchPanic(t *testing.T) {
	ctx := context.Background()
	d := openSQLite(t)
	batch := []*groupTx{
		{ctx: ctx, fn: func(conn) error { panic("bug") }},
		{ctx: ctx, fn: func(c conn) error { return c.r.QueryRowContext(ctx, "SELECT 1").Err() }},
	}
	d.commitBatch(batch)
	if batch[0].err == nil || !strings.Contains(batch[0].err.Error(), "bug") || batch[1].err != nil {
		t.Errorf("errors %v, %v", batch[0].err, batch[1].err)
	}
}
