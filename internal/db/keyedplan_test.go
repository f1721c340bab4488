package db_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"glint/internal/db"
	"glint/internal/db/dbtest"
	"glint/internal/image"
	"glint/internal/importer"
)

// The tables whose rows pile up with churn: a statement keyed by
// something (an ID, a URL, a tag, a value, an owner, a status) must reach
// their rows through an index, never by reading the table.
var churnTables = []string{"images", "image_locations", "image_properties", "image_tags", "image_members", "tasks"}

// Every statement that the hot operations run (create, get, list, update,
// members, upload's counted save, delete and its "is this data still used"
// check, the scrubber's, the tasks') is collected as it runs on a
// database holding 2,000 deleted and 2,000 live images (a tenth of them
// the project p1's), and its plan is
// checked on each database, without timing anything:
//
//   - no full scan of images, image_locations, image_properties,
//     image_tags, image_members or tasks; a listing (ORDER BY … LIMIT)
//     may walk an index in its sort order, never a table;
//   - "is this URL live elsewhere" is a lookup through
//     glint_image_locations_value_live;
//   - the default listing walks live images only
//     (glint_images_created_live, keyed or partial on deleted; on
//     MySQL led by deleted since its migration 9).
//
// On PostgreSQL the plans are made with enable_seqscan off: tables of a
// few thousand rows are cheaper to read whole, and the question asked is
// whether an index can serve the statement. On MariaDB the tables are
// analyzed after the seed (SeedChurn), so its statistics see them.
func TestKeyedPlans(t *testing.T) {
	eachDB(t, func(t *testing.T, c dbtest.Conn) {
		ctx := context.Background()
		d := openDB(t, c)
		// p1 is one project among others: a tenth of the images.
		if err := d.SeedChurn(ctx, db.Churn{Deleted: 1800, Live: 1800, Owner: "p2"}); err != nil {
			t.Fatal(err)
		}
		if err := d.SeedChurn(ctx, db.Churn{Deleted: 200, Live: 200, Owner: "p1", IDPrefix: "5eed0001"}); err != nil {
			t.Fatal(err)
		}
		type stmt struct {
			q    string
			args []any
		}
		var (
			mu   sync.Mutex
			seen = map[string]bool{}
			all  []stmt
		)
		d.TraceForTest(func(q string, args []any) {
			mu.Lock()
			defer mu.Unlock()
			if !seen[q] {
				seen[q] = true
				all = append(all, stmt{q, slices.Clone(args)})
			}
		})
		runHotOperations(t, ctx, d)
		d.TraceForTest(nil)

		var inUse, defaultList []string
		checked := 0
		for _, s := range all {
			verb := strings.ToUpper(strings.Fields(s.q)[0])
			if verb != "SELECT" && verb != "UPDATE" && verb != "DELETE" {
				continue // INSERT, SAVEPOINT: nothing to look up
			}
			plan, err := d.ExplainForTest(ctx, s.q, s.args)
			if err != nil {
				t.Fatalf("explaining %s: %v", s.q, err)
			}
			checked++
			for _, bad := range fullScans(c.Name, s.q, plan) {
				t.Errorf("%s\nreads %s whole:\n  %s", s.q, bad, strings.Join(plan, "\n  "))
			}
			switch {
			case strings.Contains(s.q, "FROM image_locations l JOIN images i"):
				inUse = plan
			case strings.HasPrefix(s.q, "SELECT i.") && strings.Contains(s.q, "ORDER BY i.created_at DESC") && plainArgs(s.args) == 2:
				// An admin's default listing: os_hidden and the limit.
				defaultList = plan
			}
		}
		t.Logf("%d statements, %d explained", len(all), checked)
		if !strings.Contains(strings.Join(inUse, "\n"), "glint_image_locations_value_live") {
			t.Errorf("LocationInUse does not look the URL up in glint_image_locations_value_live:\n  %s", strings.Join(inUse, "\n  "))
		}
		// MySQL's admin listing walks the index led by deleted
		// (its migration 9), from deleted = false on.
		want := map[string]string{
			db.SQLite:   "glint_images_created_live (deleted=?)",
			db.Postgres: "glint_images_created_live",
			db.MySQL:    "type=ref key=glint_images_created_live",
		}[c.Name]
		if want != "" && (defaultList == nil || !strings.Contains(strings.Join(defaultList, "\n"), want)) {
			t.Errorf("the default listing does not walk %s:\n  %s", want, strings.Join(defaultList, "\n  "))
		}
	})
}

// runHotOperations runs what a busy cloud's requests run, through the
// repositories, on a database seeded by SeedChurn (owner p1).
func runHotOperations(t *testing.T, ctx context.Context, d *db.DB) {
	t.Helper()
	r := d.Images()
	now := time.Now().UTC().Truncate(time.Second)
	name, owner := "hot", "p1"
	id := "00000000-0000-4000-8000-00000000c0de"
	img := &image.Image{ID: id, Name: &name, Owner: &owner, Status: image.Queued, Visibility: image.Shared,
		CreatedAt: now, UpdatedAt: now, Properties: map[string]string{"os_distro": "distro-3", "k": "v"}, Tags: []string{"tag-3", "hot"}}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("create", r.CreateCounted(ctx, img, func(image.Usage) error { return nil }))
	_, err := r.Get(ctx, id)
	must("get", err)
	_, err = r.ModifyCounted(ctx, id, owner, func(old *image.Image, _ image.Usage) (*image.Image, error) {
		old.Status, old.UpdatedAt = image.Active, time.Now()
		size := int64(4096)
		old.Size = &size
		old.Properties["k"] = "w"
		delete(old.Properties, "os_distro")
		old.Tags = []string{"hot", "tag-4"}
		old.Locations = []image.Location{{URL: "file:///var/lib/glint/images/" + id, Metadata: map[string]any{"store": "file"}}}
		return old, nil
	})
	must("counted modify", err)
	_, err = r.Usage(ctx, owner)
	must("usage", err)
	_, err = r.Usage(ctx, "")
	must("usage without owner", err)
	must("touch", r.Touch(ctx, id, image.Active))

	admin, project := image.Viewer{Admin: true}, image.Viewer{Project: owner}
	distro := func(v string) []image.Filter {
		return []image.Filter{{Field: "os_distro", Property: true, Op: image.OpEq, Values: []string{v}}}
	}
	for _, l := range []struct {
		q image.ListQuery
		v image.Viewer
	}{
		{image.ListQuery{Limit: 50}, admin},
		{image.ListQuery{Limit: 50}, project},
		{image.ListQuery{Limit: 50}, image.Viewer{Project: "member-7"}},
		{image.ListQuery{Limit: 20, Tags: []string{"tag-3"}}, admin},
		{image.ListQuery{Limit: 20, Tags: []string{"hot"}}, project},
		{image.ListQuery{Limit: 20, Filters: distro("distro-3")}, admin},
		{image.ListQuery{Limit: 20, Filters: distro("none")}, project},
		{image.ListQuery{Limit: 20, Filters: []image.Filter{{Field: "name", Op: image.OpEq, Values: []string{"churn-7"}}}}, admin},
		{image.ListQuery{Limit: 20, Visibility: "private"}, project},
		{image.ListQuery{Limit: 20, Visibility: "community"}, admin},
		{image.ListQuery{Limit: 20, Sort: []image.SortKey{{Key: "name"}}}, admin},
		{image.ListQuery{Limit: 20, Marker: id}, admin},
	} {
		l.q.MemberStatus = "accepted"
		_, err := r.List(ctx, l.q, l.v)
		must(fmt.Sprintf("list %+v", l.q), err)
	}

	m := &image.Member{ImageID: id, MemberID: "member-3", Status: "pending", CreatedAt: now, UpdatedAt: now}
	must("add member", r.AddMember(ctx, m, 128))
	_, err = r.Members(ctx, id)
	must("members", err)
	_, err = r.Member(ctx, id, "member-3")
	must("member", err)
	m.Status = "accepted"
	must("update member", r.UpdateMember(ctx, m))
	must("delete member", r.DeleteMember(ctx, id, "member-3"))

	_, err = r.LocationInUse(ctx, "file:///var/lib/glint/images/"+id, id)
	must("location in use", err)
	_, err = r.Delete(ctx, id)
	must("delete", err)

	// Delayed delete and the scrubber.
	id2 := "00000000-0000-4000-8000-00000000c0df"
	img2 := img.Clone()
	img2.ID, img2.Locations = id2, []image.Location{{URL: "file:///var/lib/glint/images/" + id2}}
	must("create", r.Create(ctx, img2))
	_, err = r.DeletePending(ctx, id2)
	must("delete pending", err)
	q, err := r.ScrubQueue(ctx, time.Now().Add(time.Hour), 200)
	must("scrub queue", err)
	must("restore", r.Restore(ctx, id2))
	_, err = r.DeletePending(ctx, id2)
	must("delete pending", err)
	for _, img := range q {
		for _, l := range img.Locations {
			must("location scrubbed", r.LocationScrubbed(ctx, l.ID))
		}
		must("scrubbed", r.Scrubbed(ctx, img.ID))
	}
	_, err = r.StaleUploads(ctx, time.Now().Add(-time.Hour))
	must("stale uploads", err)

	// Tasks.
	tr := d.Tasks()
	tid := "00000000-0000-4000-9000-00000000c0de"
	expires := now.Add(time.Hour)
	task := &importer.Task{ID: tid, Type: importer.TaskTypeImageImport, Status: importer.TaskPending, Owner: &owner,
		CreatedAt: now, UpdatedAt: now, ImageID: &id, ExpiresAt: &expires, Input: map[string]any{"x": 1}}
	must("create task", tr.CreateTask(ctx, task))
	_, err = tr.GetTask(ctx, tid)
	must("get task", err)
	task.Status = importer.TaskProcessing
	must("save task", tr.SaveTask(ctx, task, importer.TaskPending))
	_, err = tr.ListTasks(ctx, importer.TaskQuery{Limit: 20})
	must("list tasks", err)
	_, err = tr.ListTasks(ctx, importer.TaskQuery{Limit: 20, Owner: &owner})
	must("list a project's tasks", err)
	_, err = tr.ListTasks(ctx, importer.TaskQuery{Limit: 20, Marker: tid})
	must("list tasks after a marker", err)
	_, err = tr.ImageTasks(ctx, id)
	must("image tasks", err)
	_, err = tr.TasksInStatus(ctx, importer.TaskTypeImageImport, importer.TaskProcessing)
	must("tasks in status", err)
	_, err = tr.ExpireTasks(ctx, now)
	must("expire tasks", err)
}

// plainArgs counts args without pgx's query modes.
func plainArgs(args []any) int {
	n := 0
	for _, a := range args {
		if _, ok := a.(pgx.QueryExecMode); !ok {
			n++
		}
	}
	return n
}

// fromAlias finds "FROM table alias" and "JOIN table alias" in a statement.
var fromAlias = regexp.MustCompile(`(?i)\b(?:FROM|JOIN|UPDATE)\s+(\w+)(?:\s+(?:AS\s+)?(\w+))?`)

// fullScans returns the tables of churnTables that plan reads whole: a
// table scan, or on a statement that is not a listing (ORDER BY … LIMIT)
// a walk of a whole index.
func fullScans(dialect, q string, plan []string) []string {
	tables := map[string]string{} // alias or name → table
	for _, m := range fromAlias.FindAllStringSubmatch(q, -1) {
		if !slices.Contains(churnTables, m[1]) {
			continue
		}
		tables[m[1]] = m[1]
		if a := strings.ToUpper(m[2]); m[2] != "" && !slices.Contains([]string{"WHERE", "SET", "JOIN", "LEFT", "ON", "ORDER", "LIMIT", "INDEXED", "FORCE", "UNION", "GROUP"}, a) {
			tables[m[2]] = m[1]
		}
	}
	walk := strings.Contains(q, " ORDER BY ") && strings.Contains(q, " LIMIT ")
	var bad []string
	for _, step := range plan {
		switch dialect {
		case db.SQLite:
			f := strings.Fields(strings.TrimLeft(step, "|`- "))
			if len(f) < 2 || f[0] != "SCAN" {
				continue
			}
			if t, ok := tables[f[1]]; ok && (!strings.Contains(step, " INDEX ") || !walk) {
				bad = append(bad, t+" ("+step+")")
			}
		case db.Postgres:
			if i := strings.Index(step, "Seq Scan on "); i >= 0 {
				if t := strings.Fields(step[i+len("Seq Scan on "):])[0]; slices.Contains(churnTables, t) {
					bad = append(bad, t+" ("+strings.TrimSpace(step)+")")
				}
			}
		default:
			var table, typ string
			for _, kv := range strings.Fields(step) {
				if v, ok := strings.CutPrefix(kv, "table="); ok {
					table = v
				}
				if v, ok := strings.CutPrefix(kv, "type="); ok {
					typ = v
				}
			}
			if t, ok := tables[table]; ok && (typ == "ALL" || (typ == "index" && !walk)) {
				bad = append(bad, t+" ("+step+")")
			}
		}
	}
	return bad
}
