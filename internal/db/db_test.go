package db_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"glint/internal/db"
	"glint/internal/db/dbtest"
	"glint/internal/errs"
	"glint/internal/image"
)

// eachDB runs fn as a subtest on a fresh database of every dialect.
func eachDB(t *testing.T, fn func(t *testing.T, c dbtest.Conn)) {
	for _, c := range dbtest.Connections(t) {
		t.Run(c.Name, func(t *testing.T) { fn(t, c) })
	}
}

// openDB opens and migrates the database of c.
func openDB(t *testing.T, c dbtest.Conn) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), c.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestParseConnection(t *testing.T) {
	cases := []struct {
		in, dialect, dsn string
	}{
		{"sqlite:///glint-data/glint.db", db.SQLite, "glint-data/glint.db"},
		{"sqlite:////var/lib/glance/glance.sqlite", db.SQLite, "/var/lib/glance/glance.sqlite"},
		{"sqlite:////tmp/x.db?timeout=5", db.SQLite, "/tmp/x.db"},
		{"postgresql://glance:secret@db.example/glance", db.Postgres, "postgres://glance:secret@db.example/glance"},
		{"postgresql+psycopg2://glance:s%40cret@db.example:5433/glance?sslmode=require", db.Postgres,
			"postgres://glance:s%40cret@db.example:5433/glance?sslmode=require"},
		{"postgres://glance@/glance?host=/run/postgresql", db.Postgres, "postgres://glance@/glance?host=/run/postgresql"},
		{"mysql+pymysql://glance:s%40cret@db.example/glance?charset=utf8", db.MySQL,
			"glance:s@cret@tcp(db.example:3306)/glance?clientFoundRows=true&interpolateParams=true&parseTime=true&sql_mode=%27TRADITIONAL%27"},
		{"mysql://root@127.0.0.1:3307/g?charset=utf8mb4&connect_timeout=5", db.MySQL,
			"root@tcp(127.0.0.1:3307)/g?clientFoundRows=true&interpolateParams=true&parseTime=true&timeout=5s&sql_mode=%27TRADITIONAL%27"},
		{"mysql+pymysql://glance:pw@/glance?unix_socket=/run/mysqld/mysqld.sock", db.MySQL,
			"glance:pw@unix(/run/mysqld/mysqld.sock)/glance?clientFoundRows=true&interpolateParams=true&parseTime=true&sql_mode=%27TRADITIONAL%27"},
		{"sqlite://", "", ""},
		{"postgresql://db.example/", "", ""},
		{"mysql://db.example", "", ""},
		{"mysql+pymysql://glance:topsecret@db.example/glance?charset=latin1", "", ""},
		{"mysql+pymysql://glance:topsecret@db.example/glance?read_default_file=/etc/my.cnf", "", ""},
		{"mysql://glance:topsecret@db.example/gl%zz", "", ""},
		{"mongodb://x", "", ""},
		{"::", "", ""},
	}
	for _, c := range cases {
		dialect, dsn, err := db.ParseConnection(c.in)
		if (err == nil) != (c.dialect != "") || dialect != c.dialect || dsn != c.dsn {
			t.Errorf("ParseConnection(%q) = %q, %q, %v; want %q, %q", c.in, dialect, dsn, err, c.dialect, c.dsn)
		}
		if err != nil && strings.Contains(err.Error(), "topsecret") {
			t.Errorf("ParseConnection(%q): the error shows the password: %v", c.in, err)
		}
	}
}

func TestSyncIsIdempotent(t *testing.T) {
	eachDB(t, func(t *testing.T, c dbtest.Conn) {
		d := openDB(t, c)
		ctx := context.Background()
		applied, err := d.Sync(ctx)
		if err != nil || len(applied) != 0 {
			t.Fatalf("second sync applied %v, %v", applied, err)
		}
		v, err := d.Version(ctx)
		if err != nil || v.Current != v.Latest || v.Current < 2 || v.Alembic != "wallaby_contract01" {
			t.Fatalf("version %+v, %v", v, err)
		}
	})
}

// Nodes that start together migrate one database once: the others wait
// for the migration lock and then find nothing to do.
func TestConcurrentSync(t *testing.T) {
	eachDB(t, func(t *testing.T, c dbtest.Conn) {
		if c.Name == db.SQLite {
			t.Skip("SQLite serves one node")
		}
		ctx := context.Background()
		const nodes = 4
		errc := make(chan error, nodes)
		applied := make(chan int, nodes)
		for range nodes {
			go func() {
				d, err := db.Open(ctx, c.URL)
				if err != nil {
					errc <- err
					return
				}
				defer d.Close()
				a, err := d.Sync(ctx)
				applied <- len(a)
				errc <- err
			}()
		}
		total := 0
		for range nodes {
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}
		close(applied)
		for n := range applied {
			total += n
		}
		d := openDB(t, c)
		v, err := d.Version(ctx)
		if err != nil || v.Current != v.Latest || total != int(v.Latest) {
			t.Fatalf("after concurrent syncs: %+v %v, %d migrations applied in all", v, err, total)
		}
	})
}

func newImage(name string, created time.Time) *image.Image {
	n := name
	return &image.Image{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", created.UnixNano()%1e12), Name: &n,
		Status: image.Queued, Visibility: image.Shared, CreatedAt: created, UpdatedAt: created,
		Properties: map[string]string{}}
}

// precision is how finely a dialect stores timestamps: Glance's MySQL
// columns are DATETIME, without fractions of a second.
func precision(dialect string) time.Duration {
	if dialect == db.MySQL {
		return time.Second
	}
	return time.Microsecond
}

func TestRepository(t *testing.T) {
	eachDB(t, func(t *testing.T, c dbtest.Conn) {
		d := openDB(t, c)
		ctx := context.Background()
		r := d.Images()
		now := time.Now().UTC().Truncate(time.Microsecond)
		img := newImage("a", now)
		img.Properties["os_distro"] = "debian"
		img.Tags = []string{"t1", "t2"}
		if err := r.Create(ctx, img); err != nil {
			t.Fatal(err)
		}
		if err := r.Create(ctx, img); !errs.Is(errs.Conflict, err) {
			t.Fatalf("duplicate create: %v", err)
		}
		got, err := r.Get(ctx, img.ID)
		if err != nil || *got.Name != "a" || got.Properties["os_distro"] != "debian" || !slices.Equal(got.Tags, []string{"t1", "t2"}) ||
			!got.CreatedAt.Equal(now.Truncate(precision(c.Name))) || got.Visibility != image.Shared || got.Deleted || got.Protected {
			t.Fatalf("get: %+v, %v", got, err)
		}

		// Update replaces properties, tags and adds a location, under a status compare-and-set.
		up := got.Clone()
		delete(up.Properties, "os_distro")
		up.Properties["k"] = "v"
		up.Tags = []string{"t2", "t3"}
		up.Status = image.Active
		up.Protected = true
		up.Locations = []image.Location{{URL: "file:///x/" + img.ID, Metadata: map[string]any{"store": "file"}}}
		if err := r.Update(ctx, up, image.Saving); !errs.Is(errs.Conflict, err) {
			t.Fatalf("update with a stale status: %v", err)
		}
		if err := r.Update(ctx, up, image.Queued); err != nil {
			t.Fatal(err)
		}
		got, _ = r.Get(ctx, img.ID)
		if _, ok := got.Properties["os_distro"]; ok || got.Properties["k"] != "v" || !slices.Equal(got.Tags, []string{"t2", "t3"}) ||
			len(got.Locations) != 1 || got.Locations[0].Metadata["store"] != "file" || got.Status != image.Active || !got.Protected {
			t.Fatalf("after update: %+v", got)
		}
		if up.Locations[0].ID == 0 || up.Locations[0].ID != got.Locations[0].ID || got.Locations[0].Status != "active" {
			t.Fatalf("new location id %d, stored %+v", up.Locations[0].ID, got.Locations[0])
		}
		// A removed property can come back (the unique key covers deleted rows).
		again := got.Clone()
		again.Properties["os_distro"] = "ubuntu"
		if err := r.Update(ctx, again, image.Active); err != nil {
			t.Fatal(err)
		}
		if got, _ = r.Get(ctx, img.ID); got.Properties["os_distro"] != "ubuntu" {
			t.Fatalf("re-added property: %+v", got.Properties)
		}

		del, err := r.Delete(ctx, img.ID)
		if err != nil || len(del.Locations) != 1 {
			t.Fatalf("delete: %+v %v", del, err)
		}
		if _, err := r.Get(ctx, img.ID); !errs.Is(errs.NotFound, err) {
			t.Fatalf("get after delete: %v", err)
		}
		if _, err := r.Delete(ctx, img.ID); !errs.Is(errs.NotFound, err) {
			t.Fatalf("second delete: %v", err)
		}
		// A deleted image's ID stays taken, as in Glance.
		if err := r.Create(ctx, img); !errs.Is(errs.Conflict, err) {
			t.Fatalf("create with a deleted image's ID: %v", err)
		}

		// A character outside the BMP (which the image layer refuses before
		// the database) is stored intact, or refused on MySQL's utf8 (utf8mb3)
		// tables: never stored mangled.
		four := newImage("smile 😀", now.Add(time.Second))
		err = r.Create(ctx, four)
		if c.Name == db.MySQL {
			if err == nil {
				got, _ := r.Get(ctx, four.ID)
				t.Fatalf("MySQL stored a 4-byte character: %+v", got)
			}
		} else if got, gerr := r.Get(ctx, four.ID); err != nil || gerr != nil || *got.Name != "smile 😀" {
			t.Fatalf("4-byte name: %v %v", err, gerr)
		}
	})
}

// A listing never mixes states of the database: while another pool
// keeps moving a property between two values, every image a filtered
// listing returns shows the value it was selected by. (A listing's
// statements, and on SQLite the image cache's entries, each saw their
// own moment: this failed within a few listings.)
func TestListOneState(t *testing.T) {
	eachDB(t, func(t *testing.T, c dbtest.Conn) {
		ctx := context.Background()
		d, other := openDB(t, c), openDB(t, c)
		now := time.Now().UTC().Truncate(time.Second)
		const n = 8
		id := func(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i%n) }
		for i := range n {
			name := "img"
			img := &image.Image{ID: id(i), Name: &name, Status: image.Queued, Visibility: image.Shared,
				CreatedAt: now, UpdatedAt: now, Properties: map[string]string{"p": "a"}}
			if err := d.Images().Create(ctx, img); err != nil {
				t.Fatal(err)
			}
		}
		stop := keepModifying(ctx, other, id, func(img *image.Image) {
			img.Properties["p"] = map[string]string{"a": "b", "b": "a"}[img.Properties["p"]]
		})
		deadline := time.Now().Add(2 * time.Second)
		lists, bad := 0, 0
		for time.Now().Before(deadline) && bad == 0 {
			for _, want := range []string{"a", "b"} {
				q := image.ListQuery{Limit: 20, MemberStatus: "accepted",
					Filters: []image.Filter{{Field: "p", Property: true, Op: image.OpEq, Values: []string{want}}}}
				imgs, err := d.Images().List(ctx, q, image.Viewer{Admin: true})
				if err != nil {
					t.Fatal(err)
				}
				lists++
				for _, img := range imgs {
					if img.Properties["p"] != want {
						bad++
						t.Errorf("listing p=%s returned %s with p=%s", want, img.ID, img.Properties["p"])
					}
				}
			}
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d listings", lists)
	})
}

// keepModifying applies change to image id(0), id(1), … in turn through
// d, on a goroutine of its own, until the returned stop is called; stop
// reports the first error.
func keepModifying(ctx context.Context, d *db.DB, id func(int) string, change func(*image.Image)) (stop func() error) {
	quit, done := make(chan struct{}), make(chan error, 1)
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-quit:
				return
			default:
			}
			if _, err := d.Images().Modify(ctx, id(i), func(old *image.Image) (*image.Image, error) {
				change(old)
				return old, nil
			}); err != nil {
				done <- err
				return
			}
		}
	}()
	return func() error { close(quit); return <-done }
}

// An image with more properties and tags than one statement can carry
// (SQLite binds at most 32,766 values; image_property_quota = -1 allows
// any number) is written, read, listed and stripped whole.
func TestManyChildren(t *testing.T) {
	eachDB(t, func(t *testing.T, c dbtest.Conn) {
		ctx := context.Background()
		r := openDB(t, c).Images()
		img := newImage("many", time.Now().UTC().Truncate(time.Second))
		const props, tags = 7000, 1200
		for i := range props {
			img.Properties[fmt.Sprintf("p%04d", i)] = "v"
		}
		for i := range tags {
			img.Tags = append(img.Tags, fmt.Sprintf("t%04d", i))
		}
		if err := r.Create(ctx, img); err != nil {
			t.Fatal(err)
		}
		got, err := r.Get(ctx, img.ID)
		if err != nil || len(got.Properties) != props || len(got.Tags) != tags || !slices.IsSorted(got.Tags) {
			t.Fatalf("get: %d properties, %d tags, %v", len(got.Properties), len(got.Tags), err)
		}
		list, err := r.List(ctx, image.ListQuery{Limit: 10, MemberStatus: "accepted"}, image.Viewer{Admin: true})
		if err != nil || len(list) != 1 || len(list[0].Properties) != props || len(list[0].Tags) != tags {
			t.Fatalf("list: %d images, %v", len(list), err)
		}
		bare := got.Clone()
		bare.Properties, bare.Tags = map[string]string{}, nil
		if err := r.Update(ctx, bare, got.Status); err != nil {
			t.Fatal(err)
		}
		if got, err = r.Get(ctx, img.ID); err != nil || len(got.Properties) != 0 || len(got.Tags) != 0 {
			t.Fatalf("after removing them: %d properties, %d tags, %v", len(got.Properties), len(got.Tags), err)
		}
	})
}

// A read of one image sees its row and its properties, tags and locations
// as of one moment, while another pool rewrites them together.
func TestGetOneState(t *testing.T) {
	eachDB(t, func(t *testing.T, c dbtest.Conn) {
		ctx := context.Background()
		d, other := openDB(t, c), openDB(t, c)
		now := time.Now().UTC().Truncate(time.Second)
		const id = "00000000-0000-4000-8000-000000000001"
		name := "a"
		img := &image.Image{ID: id, Name: &name, Status: image.Queued, Visibility: image.Shared,
			CreatedAt: now, UpdatedAt: now, Properties: map[string]string{"p": "a"}, Tags: []string{"a"}}
		if err := d.Images().Create(ctx, img); err != nil {
			t.Fatal(err)
		}
		flip := map[string]string{"a": "b", "b": "a"}
		stop := keepModifying(ctx, other, func(int) string { return id }, func(img *image.Image) {
			v := flip[*img.Name]
			img.Name, img.Properties["p"], img.Tags = &v, v, []string{v}
		})
		deadline := time.Now().Add(time.Second)
		reads := 0
		for time.Now().Before(deadline) {
			got, err := d.Images().Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			reads++
			if n := *got.Name; got.Properties["p"] != n || len(got.Tags) != 1 || got.Tags[0] != n {
				t.Errorf("read %d: name %s with p=%s, tags %v", reads, n, got.Properties["p"], got.Tags)
				break
			}
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d reads", reads)
	})
}

// Paging with a marker visits every image exactly once for every sort,
// including NULL values and ties, in the same order on every database
// (NULL first ascending).
func TestListPaging(t *testing.T) {
	eachDB(t, func(t *testing.T, c dbtest.Conn) {
		d := openDB(t, c)
		ctx := context.Background()
		r := d.Images()
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		names := []string{"b", "a", "", "c", "a", "b", "", "d"}
		var all []*image.Image
		for i, n := range names {
			img := newImage(n, base.Add(time.Duration(i%3)*time.Second))
			img.ID = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
			if n == "" {
				img.Name = nil
			}
			size := int64(i % 2)
			img.Size = &size
			if err := r.Create(ctx, img); err != nil {
				t.Fatal(err)
			}
			all = append(all, img)
		}
		sorts := [][]image.SortKey{
			nil,
			{{Key: "name"}},
			{{Key: "name", Desc: true}},
			{{Key: "size"}, {Key: "name", Desc: true}},
			{{Key: "created_at"}},
			{{Key: "id", Desc: true}},
			{{Key: "updated_at"}, {Key: "name"}},
		}
		for _, s := range sorts {
			want := expectedOrder(all, s)
			for _, limit := range []int{1, 2, 3, 100} {
				var seen []string
				marker := ""
				for page := 0; page < 20; page++ {
					imgs, err := r.List(ctx, image.ListQuery{Limit: limit, Marker: marker, Sort: s, MemberStatus: "accepted"}, image.Viewer{Admin: true})
					if err != nil {
						t.Fatal(err)
					}
					for _, img := range imgs {
						seen = append(seen, img.ID)
					}
					if len(imgs) < limit {
						break
					}
					marker = imgs[len(imgs)-1].ID
				}
				if !slices.Equal(seen, want) {
					t.Errorf("sort %v limit %d: visited\n%v, want\n%v", s, limit, seen, want)
				}
			}
		}
	})
}

// expectedOrder sorts imgs as List does: by keys, then created_at and id
// in the direction of the first key (created_at descending by default),
// NULL before any value.
func expectedOrder(imgs []*image.Image, keys []image.SortKey) []string {
	keys = slices.Clone(keys)
	if len(keys) == 0 {
		keys = []image.SortKey{{Key: "created_at", Desc: true}}
	}
	for _, k := range []string{"created_at", "id"} {
		if !slices.ContainsFunc(keys, func(s image.SortKey) bool { return s.Key == k }) {
			keys = append(keys, image.SortKey{Key: k, Desc: keys[0].Desc})
		}
	}
	sorted := slices.Clone(imgs)
	slices.SortFunc(sorted, func(a, b *image.Image) int {
		for _, k := range keys {
			var c int
			switch k.Key {
			case "name":
				c = cmpNullable(a.Name, b.Name)
			case "size":
				c = cmpNullable(a.Size, b.Size)
			case "created_at":
				c = a.CreatedAt.Compare(b.CreatedAt)
			case "updated_at":
				c = a.UpdatedAt.Compare(b.UpdatedAt)
			case "id":
				c = strings.Compare(a.ID, b.ID)
			}
			if k.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	ids := make([]string, len(sorted))
	for i, img := range sorted {
		ids[i] = img.ID
	}
	return ids
}

func cmpNullable[T cmp.Ordered](a, b *T) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return cmp.Compare(*a, *b)
}

// Who sees what in a listing (Glance's _select_images_query): public
// images, one's own, shared ones one is a member of (in the asked member
// status), and community ones only when owned or asked for.
func TestListVisibility(t *testing.T) {
	eachDB(t, func(t *testing.T, c dbtest.Conn) {
		d := openDB(t, c)
		ctx := context.Background()
		r := d.Images()
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		imgs := []struct{ name, visibility, owner string }{
			{"pub", image.Public, "p2"}, {"priv-own", image.Private, "p1"}, {"priv-other", image.Private, "p2"},
			{"shared-accepted", image.Shared, "p2"}, {"shared-pending", image.Shared, "p2"},
			{"comm-other", image.Community, "p2"}, {"comm-own", image.Community, "p1"},
		}
		ids := map[string]string{}
		for i, m := range imgs {
			img := newImage(m.name, base.Add(time.Duration(i)*time.Second))
			img.Visibility, img.Owner = m.visibility, &m.owner
			if err := r.Create(ctx, img); err != nil {
				t.Fatal(err)
			}
			ids[img.ID] = m.name
		}
		raw := rawOpen(t, c)
		for _, m := range []struct{ image, status string }{{"shared-accepted", "accepted"}, {"shared-pending", "pending"}} {
			var id string
			for k, v := range ids {
				if v == m.image {
					id = k
				}
			}
			if _, err := raw.Exec(`INSERT INTO image_members (image_id, member, can_share, created_at, deleted, status)
				VALUES ('` + id + `', 'p1', false, '2026-01-01 00:00:00', false, '` + m.status + `')`); err != nil {
				t.Fatal(err)
			}
		}
		cases := []struct {
			v                        image.Viewer
			visibility, memberStatus string
			want                     []string
		}{
			{image.Viewer{Project: "p1"}, "", "accepted", []string{"pub", "priv-own", "shared-accepted", "comm-own"}},
			{image.Viewer{Project: "p1"}, "", "pending", []string{"pub", "priv-own", "shared-pending", "comm-own"}},
			{image.Viewer{Project: "p1"}, "", "all", []string{"pub", "priv-own", "shared-accepted", "shared-pending", "comm-own"}},
			{image.Viewer{Project: "p1"}, image.Community, "accepted", []string{"comm-other", "comm-own"}},
			{image.Viewer{Project: "p1"}, image.Shared, "accepted", []string{"shared-accepted"}},
			{image.Viewer{Project: "p3"}, "", "accepted", []string{"pub"}},
			{image.Viewer{}, "", "accepted", []string{"pub", "shared-accepted", "shared-pending"}},
			{image.Viewer{Admin: true}, "all", "accepted", []string{"pub", "priv-own", "priv-other", "shared-accepted", "shared-pending", "comm-other", "comm-own"}},
			{image.Viewer{Project: "p1"}, image.Private, "accepted", []string{"priv-own"}},
			{image.Viewer{Project: "p3"}, image.Private, "accepted", nil},
			{image.Viewer{Admin: true}, image.Private, "accepted", []string{"priv-own", "priv-other"}},
		}
		check := func(pass string) {
			for _, tc := range cases {
				got, err := r.List(ctx, image.ListQuery{Limit: 1000, Visibility: tc.visibility, MemberStatus: tc.memberStatus}, tc.v)
				if err != nil {
					t.Fatalf("%+v: %v", tc, err)
				}
				var names []string
				for _, img := range got {
					if !strings.HasPrefix(*img.Name, "filler") {
						names = append(names, *img.Name)
					}
				}
				slices.Sort(names)
				want := slices.Sorted(slices.Values(tc.want))
				if !slices.Equal(names, want) {
					t.Errorf("%s: viewer %+v, visibility %q, member_status %s: %v, want %v", pass, tc.v, tc.visibility, tc.memberStatus, names, want)
				}
			}
		}
		// Few visible images: found through the owner and visibility indexes.
		check("few images")
		// Hundreds of public images of p1: on SQLite every viewer's list
		// and p1's private images are then found by walking the sort
		// order (Images.fewerOrWalk); the answers must not change.
		for i := range 250 {
			img := newImage(fmt.Sprintf("filler-%d", i), base.Add(time.Hour+time.Duration(i)*time.Second))
			owner := "p1"
			img.Visibility, img.Owner = image.Public, &owner
			if err := r.Create(ctx, img); err != nil {
				t.Fatal(err)
			}
		}
		check("many images")
	})
}

// On MySQL a project that sees many images walks the sort order through
// the covering index (migration 6) instead of merging the visibility and
// owner indexes and sorting everything it sees (40 ms for a page of 20 at
// 100,000 images, 10,000 of them public).
func TestMySQLProjectListPlan(t *testing.T) {
	c := dbtest.New(t, db.MySQL)
	d := openDB(t, c)
	ctx := context.Background()
	if err := d.BulkInsertForBench(ctx, 3000); err != nil {
		t.Fatal(err)
	}
	for _, tags := range [][]string{nil, {"tag-7"}} {
		q := image.ListQuery{Limit: 20, MemberStatus: "accepted", Tags: tags}
		plan, err := d.ListPlanForTest(ctx, q, image.Viewer{Project: "project-7"})
		if err != nil {
			t.Fatal(err)
		}
		all := strings.Join(plan, "\n")
		if !strings.Contains(plan[0], "key=glint_images_created_live") || strings.Contains(all, "index_merge") || strings.Contains(all, "filesort") {
			t.Errorf("tags %v: the project's listing does not walk glint_images_created_live:\n%s", tags, all)
		}
	}
	// Images that are few are looked up, not walked to: no community
	// image at all, and the 30 of project-7.
	for _, c := range []struct {
		q image.ListQuery
		v image.Viewer
	}{
		{image.ListQuery{Limit: 20, Visibility: "community"}, image.Viewer{Admin: true}},
		{image.ListQuery{Limit: 20, Visibility: "private", MemberStatus: "accepted"}, image.Viewer{Project: "project-7"}},
	} {
		plan, err := d.ListPlanForTest(ctx, c.q, c.v)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(plan[0], "key=glint_images_created_live") {
			t.Errorf("visibility=%s: walks the sort order for a few images:\n%s", c.q.Visibility, strings.Join(plan, "\n"))
		}
	}
}
