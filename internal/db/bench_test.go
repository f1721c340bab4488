package db_test

import (
	"context"
	"fmt"
	"testing"

	"glint/internal/db"
	"glint/internal/db/dbtest"
	"glint/internal/image"
)

// BenchmarkList100k measures getting one image and listing queries over 100,000 images, each
// with two properties and a tag, on every database
// (go test -run '^$' -bench List100k ./internal/db/).
func BenchmarkList100k(b *testing.B) {
	for _, c := range dbtest.Connections(b) {
		b.Run(c.Name, func(b *testing.B) { benchList100k(b, c) })
	}
}

func benchList100k(b *testing.B, c dbtest.Conn) {
	ctx := context.Background()
	d, err := db.Open(ctx, c.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	const n = 100000
	if err := d.BulkInsertForBench(ctx, n); err != nil {
		b.Fatal(err)
	}
	if err := d.Analyze(ctx); err != nil {
		b.Fatal(err)
	}
	r := d.Images()
	admin, project := image.Viewer{Admin: true}, image.Viewer{Project: "project-7"}
	cases := []struct {
		name string
		q    image.ListQuery
		v    image.Viewer
	}{
		{"default-20", image.ListQuery{Limit: 20}, admin},
		{"default-200", image.ListQuery{Limit: 200}, admin},
		{"sort-name-20", image.ListQuery{Limit: 20, Sort: []image.SortKey{{Key: "name"}}}, admin},
		{"tag-20", image.ListQuery{Limit: 20, Tags: []string{"tag-7"}}, admin},
		{"rare-tag-20", image.ListQuery{Limit: 20, Tags: []string{"rare"}}, admin},
		{"property-20", image.ListQuery{Limit: 20, Filters: []image.Filter{{Field: "os_distro", Property: true, Op: image.OpEq, Values: []string{"distro-3"}}}}, admin},
		{"name-eq", image.ListQuery{Limit: 20, Filters: []image.Filter{{Field: "name", Op: image.OpEq, Values: []string{"image-4242"}}}}, admin},
		{"marker-deep", image.ListQuery{Limit: 20, Marker: fmt.Sprintf("00000000-0000-4000-8000-%012d", n/2)}, admin},
		// A project sees its own 1,000 images and the 10,000 public ones.
		{"project-20", image.ListQuery{Limit: 20}, project},
		{"project-tag-20", image.ListQuery{Limit: 20, Tags: []string{"tag-7"}}, project},
		// The 1,000 images of project-7 are private: it is the only one to see them.
		{"project-own-20", image.ListQuery{Limit: 20, Visibility: "private"}, project},
	}
	b.Run("get", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := r.Get(ctx, fmt.Sprintf("00000000-0000-4000-8000-%012d", i%n)); err != nil {
				b.Fatal(err)
			}
			i += 7919
		}
	})
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			c.q.MemberStatus = "accepted"
			for b.Loop() {
				if _, err := r.List(ctx, c.q, c.v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
