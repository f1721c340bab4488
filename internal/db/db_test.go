package db_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"glint/internal/db"
	"glint/internal/db/dbtest"
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

// What the databases store differently, which the repository suite
// (imagetest.TestRepo, run by TestRepo) leaves out by storing whole
// seconds and ASCII: times keep microseconds, or whole seconds on MySQL;
// a character outside the BMP (which the image layer refuses before the
// database) is stored intact, or refused on MySQL's utf8 (utf8mb3)
// tables, never stored mangled.
func TestStoredForms(t *testing.T) {
	eachDB(t, func(t *testing.T, c dbtest.Conn) {
		ctx := context.Background()
		r := openDB(t, c).Images()
		now := time.Now().UTC().Truncate(time.Microsecond)
		img := newImage("a", now)
		if err := r.Create(ctx, img); err != nil {
			t.Fatal(err)
		}
		got, err := r.Get(ctx, img.ID)
		if err != nil || !got.CreatedAt.Equal(now.Truncate(precision(c.Name))) {
			t.Fatalf("created at %v, read %+v, %v", now, got, err)
		}
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
