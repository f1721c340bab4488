package db_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"glint/internal/db"
	"glint/internal/db/dbtest"
	"glint/internal/image"
)

// seedPurge writes the same rows into a database on every call: live and
// deleted images with their children and tasks with their information,
// each deleted row at an age of its own (in days, with a distinct minute
// so that "the oldest first" picks the same rows everywhere).
func seedPurge(t *testing.T, c dbtest.Conn, now time.Time) {
	t.Helper()
	raw := rawOpen(t, c)
	minute := 0
	at := func(days int) any {
		if days < 0 {
			return nil
		}
		minute++
		tm := now.Add(-time.Duration(days)*24*time.Hour - time.Duration(minute)*time.Minute).UTC()
		if c.Name == db.SQLite {
			return tm.Format("2006-01-02 15:04:05.000000")
		}
		return tm.Format("2006-01-02 15:04:05")
	}
	bind := func(q string) string {
		if c.Name != db.Postgres {
			return q
		}
		for i := 1; strings.Contains(q, "?"); i++ {
			q = strings.Replace(q, "?", fmt.Sprintf("$%d", i), 1)
		}
		return q
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := raw.Exec(bind(q), args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	created := at(400)
	// Image ages: -1 is live. Children carry their image's deletion age,
	// except on the live image, whose single rows were deleted alone.
	images := []int{-1, 100, 10, 50, 200, 35, 31, 29}
	id := 0
	for i, age := range images {
		img := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		deleted := age >= 0
		exec("INSERT INTO images (id, name, status, created_at, deleted_at, deleted, min_disk, min_ram) VALUES (?, 'i', ?, ?, ?, ?, 0, 0)",
			img, map[bool]string{true: "deleted", false: "active"}[deleted], created, at(age), deleted)
		for j := 0; j < 3; j++ {
			cage := age
			if !deleted && j > 0 {
				cage = 40 + 10*j
			}
			id++
			exec("INSERT INTO image_properties (id, image_id, name, value, created_at, deleted_at, deleted) VALUES (?, ?, ?, 'v', ?, ?, ?)",
				id, img, fmt.Sprintf("p%d", j), created, at(cage), cage >= 0)
			exec("INSERT INTO image_tags (id, image_id, value, created_at, deleted_at, deleted) VALUES (?, ?, ?, ?, ?, ?)",
				id, img, fmt.Sprintf("t%d", j), created, at(cage), cage >= 0)
			exec("INSERT INTO image_locations (id, image_id, value, created_at, deleted_at, deleted, status) VALUES (?, ?, ?, ?, ?, ?, 'deleted')",
				id, img, fmt.Sprintf("file:///x/%d", id), created, at(cage), cage >= 0)
			exec("INSERT INTO image_members (id, image_id, member, can_share, created_at, deleted_at, deleted, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'accepted')",
				id, img, fmt.Sprintf("m%d", j), false, created, at(cage), cage >= 0)
		}
	}
	// Task ages, and whether the task has its information row.
	for i, tk := range []struct {
		age  int
		info bool
	}{{60, true}, {40, true}, {-1, true}, {5, true}, {90, false}, {45, true}, {33, true}} {
		task := fmt.Sprintf("10000000-0000-4000-8000-%012d", i)
		exec("INSERT INTO tasks (id, type, status, owner, created_at, deleted_at, deleted) VALUES (?, 'import', 'success', 'p', ?, ?, ?)",
			task, created, at(tk.age), tk.age >= 0)
		if tk.info {
			exec("INSERT INTO task_info (task_id, input, result, message) VALUES (?, '{}', '{}', '')", task)
		}
	}
}

// purgeState lists the keys of every row of the tables a purge touches.
func purgeState(t *testing.T, c dbtest.Conn) map[string][]string {
	t.Helper()
	raw := rawOpen(t, c)
	out := map[string][]string{}
	for _, tk := range [][2]string{{"images", "id"}, {"image_properties", "id"}, {"image_tags", "id"}, {"image_locations", "id"},
		{"image_members", "id"}, {"tasks", "id"}, {"task_info", "task_id"}} {
		rows, err := raw.Query("SELECT " + tk[1] + " FROM " + tk[0])
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for rows.Next() {
			var k sql.NullString
			if err := rows.Scan(&k); err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k.String)
		}
		rows.Close()
		slices.Sort(keys)
		out[tk[0]] = keys
	}
	return out
}

// The same rows purged by Glance 25.1's glance-manage db purge and
// purge_images_table and by Glint's purge leave the same rows, step by
// step: a limited purge (the oldest rows of each table first), an
// unlimited one, then the images table.
func TestPurgeMatchesGlance(t *testing.T) {
	t.Parallel() // Glance's Python tools take seconds to start
	eachDB(t, func(t *testing.T, byGlance dbtest.Conn) {
		t.Parallel()
		g := newGlance(t, byGlance)
		byGlint := dbtest.New(t, byGlance.Name)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		now := time.Now()
		openDB(t, byGlance)
		d := openDB(t, byGlint)
		seedPurge(t, byGlance, now)
		seedPurge(t, byGlint, now)
		if a, b := purgeState(t, byGlance), purgeState(t, byGlint); fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("seeds differ:\n%v\n%v", a, b)
		}
		before := now.Add(-30 * 24 * time.Hour)
		for _, step := range []struct {
			cmd     string
			maxRows int64
		}{{"purge", 3}, {"purge", -1}, {"purge_images_table", 2}, {"purge_images_table", -1}} {
			if out, err := g.dbManage(ctx, "db", step.cmd, "--age_in_days", "30", "--max_rows", fmt.Sprint(step.maxRows)); err != nil {
				t.Fatalf("glance-manage db %s: %v\n%s", step.cmd, err, out)
			}
			counts := map[string]int64{}
			if step.cmd == "purge" {
				if err := d.Purge(ctx, before, step.maxRows, func(p db.Purged) { counts[p.Table] = p.Rows }); err != nil {
					t.Fatal(err)
				}
			} else {
				p, err := d.PurgeImages(ctx, before, step.maxRows)
				if err != nil || p.Kept != 0 {
					t.Fatalf("PurgeImages: %+v %v", p, err)
				}
				counts[p.Table] = p.Rows
			}
			want, got := purgeState(t, byGlance), purgeState(t, byGlint)
			for table, keys := range want {
				if !slices.Equal(keys, got[table]) {
					t.Errorf("after db %s --max_rows %d, %s: Glance left %v, Glint %v", step.cmd, step.maxRows, table, keys, got[table])
				}
			}
			t.Logf("db %s --max_rows %d: Glint removed %v", step.cmd, step.maxRows, counts)
		}
		// What is left: the live image, the images deleted less than 30
		// days ago, and their rows.
		if got := purgeState(t, byGlint); len(got["images"]) != 3 || len(got["tasks"]) != 2 || len(got["task_info"]) != 2 {
			t.Errorf("left after purging: %v", got)
		}
	})
}

// A deleted image that rows still refer to stays in the images table, on
// every database, and is counted; once its rows are purged it goes.
func TestPurgeImagesKeepsReferencedImages(t *testing.T) {
	eachDB(t, func(t *testing.T, c dbtest.Conn) {
		ctx := context.Background()
		now := time.Now()
		d := openDB(t, c)
		seedPurge(t, c, now)
		// Image 4, deleted 200 days ago, gets a live tag back.
		raw := rawOpen(t, c)
		q := "INSERT INTO image_tags (id, image_id, value, created_at, deleted) VALUES (1000, '00000000-0000-4000-8000-000000000004', 'x', '2026-01-01 00:00:00', ?)"
		if c.Name == db.Postgres {
			q = strings.Replace(q, "?", "$1", 1)
		}
		if _, err := raw.Exec(q, false); err != nil {
			t.Fatal(err)
		}
		before := now.Add(-30 * 24 * time.Hour)
		p, err := d.PurgeImages(ctx, before, -1)
		if err != nil || p.Rows != 0 || p.Kept != 5 {
			t.Fatalf("images table purged before its children: %+v %v", p, err)
		}
		var counts []db.Purged
		if err := d.Purge(ctx, before, -1, func(p db.Purged) { counts = append(counts, p) }); err != nil {
			t.Fatal(err)
		}
		// 5 old deleted images with 3 rows each, and 2 old deleted rows of
		// the live image, in each child table; tasks: 5 old, 4 with info.
		want := []db.Purged{{"task_info", 4, 0}, {"image_properties", 17, 0}, {"image_tags", 17, 0},
			{"image_locations", 17, 0}, {"image_members", 17, 0}, {"tasks", 5, 0}}
		if !slices.Equal(counts, want) {
			t.Errorf("purge removed %v, want %v", counts, want)
		}
		p, err = d.PurgeImages(ctx, before, -1)
		if err != nil || p.Rows != 4 || p.Kept != 1 {
			t.Fatalf("images purged: %+v %v", p, err)
		}
		if _, err := d.PurgeImages(ctx, before, -2); err == nil {
			t.Error("max_rows -2 accepted")
		}
	})
}

// More rows than one batch go in several transactions, the limit counted
// across them, while another connection pool (a serving Glint) keeps
// creating images in the same database without an error.
func TestPurgeBatchesBesideWriters(t *testing.T) {
	eachDB(t, func(t *testing.T, c dbtest.Conn) {
		ctx := context.Background()
		d := openDB(t, c)
		const n = 2*db.PurgeBatch + 500
		raw := rawOpen(t, c)
		old := time.Now().Add(-40 * 24 * time.Hour).UTC().Format("2006-01-02 15:04:05")
		if _, err := raw.Exec("INSERT INTO images (id, status, created_at, deleted_at, deleted, min_disk, min_ram) VALUES ('00000000-0000-4000-8000-000000000000', 'deleted', '" + old + "', '" + old + "', true, 0, 0)"); err != nil {
			t.Fatal(err)
		}
		var vals []string
		for i := 1; i <= n; i++ {
			vals = append(vals, fmt.Sprintf("('00000000-0000-4000-8000-000000000000', 't%d', '%s', '%s', true)", i, old, old))
		}
		// No ids given: the writer's rows take theirs from the same sequence.
		if _, err := raw.Exec("INSERT INTO image_tags (image_id, value, created_at, deleted_at, deleted) VALUES " + strings.Join(vals, ",")); err != nil {
			t.Fatal(err)
		}
		server, err := db.Open(ctx, c.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer server.Close()
		stop, done := make(chan struct{}), make(chan error)
		go func() {
			for i := 1; ; i++ {
				select {
				case <-stop:
					done <- nil
					return
				default:
				}
				if err := server.Images().Create(ctx, writerImage(i)); err != nil {
					done <- err
					return
				}
			}
		}()
		before := time.Now().Add(-30 * 24 * time.Hour)
		tags := func(maxRows int64) int64 {
			var got int64
			if err := d.Purge(ctx, before, maxRows, func(p db.Purged) {
				if p.Table == "image_tags" {
					got = p.Rows
				}
			}); err != nil {
				t.Fatal(err)
			}
			return got
		}
		if got := tags(db.PurgeBatch + 200); got != db.PurgeBatch+200 {
			t.Errorf("--max_rows %d removed %d tags", db.PurgeBatch+200, got)
		}
		if got := tags(-1); got != n-db.PurgeBatch-200 {
			t.Errorf("--max_rows -1 removed %d tags, want %d", got, n-db.PurgeBatch-200)
		}
		close(stop)
		if err := <-done; err != nil {
			t.Fatalf("a writer beside the purge: %v", err)
		}
		var live int
		if err := raw.QueryRow("SELECT COUNT(*) FROM image_tags WHERE deleted = false").Scan(&live); err != nil || live == 0 {
			t.Fatalf("the writer's tags: %d %v", live, err)
		}
	})
}

func writerImage(n int) *image.Image {
	now := time.Now().UTC().Truncate(time.Second)
	name := fmt.Sprintf("img-%d", n)
	return &image.Image{ID: fmt.Sprintf("20000000-0000-4000-8000-%012d", n), Name: &name, Status: image.Queued,
		Visibility: image.Shared, CreatedAt: now, UpdatedAt: now, Properties: map[string]string{"p": "v"}, Tags: []string{"t"}}
}
