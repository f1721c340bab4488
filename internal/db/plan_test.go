package db

import (
	"context"
	"strings"
	"testing"

	"glint/internal/image"
)

// On SQLite a listing reads its filters' child rows and a page's
// properties and tags from covering indexes (migration 5): every page it
// touches costs a trip through SQLite's one shared page cache mutex. A
// caller who sees many images walks the sort order; one who sees few
// finds them through the indexes.
func TestSQLiteListPlans(t *testing.T) {
	ctx := context.Background()
	d := openSQLite(t)
	// 3,000 images: each tag-N and distro-N is on 300 (common), "rare" on one.
	if err := d.BulkInsertForBench(ctx, 3000); err != nil {
		t.Fatal(err)
	}
	explain := func(t *testing.T, query string, args ...any) []string {
		t.Helper()
		rows, err := d.reader().query(ctx, "EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return plan
	}
	// Every step on a child table answers from an index alone.
	covered := func(t *testing.T, plan []string) {
		t.Helper()
		for _, step := range plan {
			for _, table := range []string{"image_properties", "image_tags"} {
				if strings.Contains(step, table) && !strings.Contains(step, "COVERING INDEX") {
					t.Errorf("%s is read beyond an index: %q in\n%s", table, step, strings.Join(plan, "\n"))
				}
			}
		}
	}
	distro := func(v string) []image.Filter {
		return []image.Filter{{Field: "os_distro", Property: true, Op: image.OpEq, Values: []string{v}}}
	}
	cases := []struct {
		name string
		q    image.ListQuery
	}{
		{"default", image.ListQuery{}},
		{"common tag", image.ListQuery{Tags: []string{"tag-3"}}},
		{"rare tag", image.ListQuery{Tags: []string{"rare"}}},
		{"common property", image.ListQuery{Filters: distro("distro-3")}},
		{"rare property", image.ListQuery{Filters: distro("distro-none")}},
	}
	viewers := map[string]image.Viewer{"admin": {Admin: true}, "project": {Project: "p1"}}
	for _, c := range cases {
		for vname, v := range viewers {
			t.Run(c.name+"/"+vname, func(t *testing.T) {
				c.q.Limit, c.q.MemberStatus = 20, "accepted"
				from, args, err := d.Images().listSQL(ctx, d.reader(), c.q, v)
				if err != nil {
					t.Fatal(err)
				}
				plan := explain(t, "SELECT "+prefixed("i.", imageCols)+from, args...)
				covered(t, plan)
				if len(c.q.Tags)+len(c.q.Filters) == 0 && !strings.Contains(plan[0], "glint_images_created_live") {
					t.Errorf("the default sort does not walk glint_images_created_live:\n%s", strings.Join(plan, "\n"))
				}
				// The IDs alone (listCached): an admin's page of the
				// default listing reads no table row.
				plan = explain(t, "SELECT i.id"+from, args...)
				covered(t, plan)
				if v.Admin && len(c.q.Tags)+len(c.q.Filters) == 0 && !strings.Contains(plan[0], "COVERING INDEX glint_images_created_live") {
					t.Errorf("the IDs of the default listing are not read from glint_images_created_live alone:\n%s", strings.Join(plan, "\n"))
				}
			})
		}
	}
	// A project seeing few images finds them through the indexes; a rare
	// visibility too. (3,000 images: project-7 owns 30, none is community.)
	for _, c := range []struct {
		name string
		q    image.ListQuery
		v    image.Viewer
	}{
		{"own private images", image.ListQuery{Visibility: "private"}, image.Viewer{Project: "project-7"}},
		{"community", image.ListQuery{Visibility: "community"}, image.Viewer{Admin: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.q.Limit, c.q.MemberStatus = 20, "accepted"
			from, args, err := d.Images().listSQL(ctx, d.reader(), c.q, c.v)
			if err != nil {
				t.Fatal(err)
			}
			if plan := explain(t, "SELECT "+prefixed("i.", imageCols)+from, args...); strings.Contains(plan[0], "SCAN i") {
				t.Errorf("walks every image instead of looking them up:\n%s", strings.Join(plan, "\n"))
			}
		})
	}
	// The probes that count an owner's or a visibility's images up to 200
	// read live images first (migration 7): in Glance's (owner) and
	// (visibility) indexes a project's deleted images come before the
	// images it created after them.
	for col, index := range map[string]string{"owner": "glint_images_owner_live", "visibility": "glint_images_visibility_live"} {
		plan := explain(t, "SELECT 1 FROM images i WHERE "+dSQLite.notDeleted("i.deleted")+" AND i."+col+" = ? LIMIT 200", "x")
		if !strings.Contains(plan[0], "COVERING INDEX "+index) {
			t.Errorf("%s probe does not read %s alone:\n%s", col, index, strings.Join(plan, "\n"))
		}
	}
	t.Run("children", func(t *testing.T) {
		id1, id2 := "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"
		covered(t, explain(t, childSQL(dSQLite, 2), id1, id2, id1, id2, id1, id2))
	})
}
