package db_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"glint/internal/db"
	"glint/internal/errs"
	"glint/internal/image"
)

func openDB(t *testing.T) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), "sqlite:///"+filepath.Join(t.TempDir(), "g.db"))
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
		in, path string
		ok       bool
	}{
		{"sqlite:///glint-data/glint.db", "glint-data/glint.db", true},
		{"sqlite:////var/lib/glance/glance.sqlite", "/var/lib/glance/glance.sqlite", true},
		{"sqlite:////tmp/x.db?timeout=5", "/tmp/x.db", true},
		{"sqlite://", "", false},
		{"mongodb://x", "", false},
		{"::", "", false},
	}
	for _, c := range cases {
		_, p, err := db.ParseConnection(c.in)
		if (err == nil) != c.ok || p != c.path {
			t.Errorf("ParseConnection(%q) = %q, %v", c.in, p, err)
		}
	}
}

func TestSyncIsIdempotent(t *testing.T) {
	d := openDB(t)
	ctx := context.Background()
	applied, err := d.Sync(ctx)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second sync applied %v, %v", applied, err)
	}
	v, err := d.Version(ctx)
	if err != nil || v.Current != v.Latest || v.Current < 2 || v.Alembic != "wallaby_contract01" {
		t.Fatalf("version %+v, %v", v, err)
	}
}

func newImage(name string, created time.Time) *image.Image {
	n := name
	return &image.Image{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", created.UnixNano()%1e12), Name: &n,
		Status: image.Queued, Visibility: image.Shared, CreatedAt: created, UpdatedAt: created,
		Properties: map[string]string{}}
}

func TestRepository(t *testing.T) {
	d := openDB(t)
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
		!got.CreatedAt.Equal(now) {
		t.Fatalf("get: %+v, %v", got, err)
	}

	// Update replaces properties, tags and adds a location, under a status compare-and-set.
	up := got.Clone()
	delete(up.Properties, "os_distro")
	up.Properties["k"] = "v"
	up.Tags = []string{"t2", "t3"}
	up.Status = image.Active
	up.Locations = []image.Location{{URL: "file:///x/" + img.ID, Metadata: map[string]any{"store": "file"}}}
	if err := r.Update(ctx, up, image.Saving); !errs.Is(errs.Conflict, err) {
		t.Fatalf("update with a stale status: %v", err)
	}
	if err := r.Update(ctx, up, image.Queued); err != nil {
		t.Fatal(err)
	}
	got, _ = r.Get(ctx, img.ID)
	if _, ok := got.Properties["os_distro"]; ok || got.Properties["k"] != "v" || !slices.Equal(got.Tags, []string{"t2", "t3"}) ||
		len(got.Locations) != 1 || got.Locations[0].Metadata["store"] != "file" || got.Status != image.Active {
		t.Fatalf("after update: %+v", got)
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
}

// Paging with a marker visits every image exactly once for every sort,
// including NULL values and ties.
func TestListPaging(t *testing.T) {
	d := openDB(t)
	ctx := context.Background()
	r := d.Images()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	names := []string{"b", "a", "", "c", "a", "b", "", "d"}
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
	}
	sorts := [][]image.SortKey{
		nil,
		{{Key: "name"}},
		{{Key: "name", Desc: true}},
		{{Key: "size"}, {Key: "name", Desc: true}},
		{{Key: "created_at"}},
		{{Key: "id", Desc: true}},
	}
	for _, s := range sorts {
		for _, limit := range []int{1, 2, 3, 100} {
			var all []string
			marker := ""
			for page := 0; page < 20; page++ {
				imgs, err := r.List(ctx, image.ListQuery{Limit: limit, Marker: marker, Sort: s, MemberStatus: "accepted"}, image.Viewer{Admin: true})
				if err != nil {
					t.Fatal(err)
				}
				for _, img := range imgs {
					all = append(all, img.ID)
				}
				if len(imgs) < limit {
					break
				}
				marker = imgs[len(imgs)-1].ID
			}
			slices.Sort(all)
			if len(all) != len(names) || len(slices.Compact(all)) != len(names) {
				t.Errorf("sort %v limit %d: visited %d images, want each of %d once", s, limit, len(all), len(names))
			}
		}
	}
}

// A database created by Glance 25.1's own glance-manage is adopted: Glint
// migrates it without re-creating anything, and reads what Glance wrote.
func TestAdoptGlanceDatabase(t *testing.T) {
	gm, err := exec.LookPath("glance-manage")
	if err != nil {
		if os.Getenv("GLINT_SKIP_GLANCE") == "1" {
			t.Skip("glance-manage not installed and GLINT_SKIP_GLANCE=1")
		}
		t.Fatal("glance-manage (Debian package glance-common) is needed; scripts/test installs it")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "glance.sqlite")
	conf := filepath.Join(dir, "glance.conf")
	os.WriteFile(conf, []byte("[database]\nconnection = sqlite:///"+path+"\n"), 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "/usr/bin/python3", gm, "--config-file", conf, "db_sync").CombinedOutput(); err != nil {
		t.Fatalf("glance-manage db_sync: %v\n%s", err, out)
	}
	// A row as Glance's SQLAlchemy layer writes it.
	d, err := db.Open(ctx, "sqlite:///"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	raw, err := sqlOpen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_, err = raw.Exec(`INSERT INTO images (id, name, size, status, created_at, updated_at, deleted, disk_format, container_format,
		checksum, owner, min_disk, min_ram, protected, visibility, os_hidden) VALUES
		('11111111-2222-4333-8444-555555555555', 'from-glance', 3, 'active', '2026-11-01 10:00:00.123456', '2026-11-01 10:00:01.000000', 0,
		'raw', 'bare', 'abc', 'p1', 0, 0, 0, 'shared', 0)`)
	if err != nil {
		t.Fatal(err)
	}
	raw.Exec(`INSERT INTO image_properties (image_id, name, value, created_at, deleted) VALUES ('11111111-2222-4333-8444-555555555555', 'os_distro', 'cirros', '2026-11-01 10:00:00.123456', 0)`)
	raw.Exec(`INSERT INTO image_locations (image_id, value, created_at, deleted, meta_data, status) VALUES ('11111111-2222-4333-8444-555555555555', 'file:///var/lib/glance/images/11111111-2222-4333-8444-555555555555', '2026-11-01 10:00:00.123456', 0, '{}', 'active')`)

	applied, err := d.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) == 0 {
		t.Fatal("no Glint migrations recorded on a Glance database")
	}
	img, err := d.Images().Get(ctx, "11111111-2222-4333-8444-555555555555")
	if err != nil {
		t.Fatal(err)
	}
	if *img.Name != "from-glance" || img.Properties["os_distro"] != "cirros" || len(img.Locations) != 1 ||
		img.CreatedAt != time.Date(2026, 11, 1, 10, 0, 0, 123456000, time.UTC) {
		t.Fatalf("Glance's image read back as %+v", img)
	}
	v, err := d.Version(ctx)
	if err != nil || v.Alembic != "wallaby_contract01" {
		t.Fatalf("version after adoption: %+v %v", v, err)
	}
	// Glance still sees its own schema at its head revision.
	out, err := exec.CommandContext(ctx, "/usr/bin/python3", gm, "--config-file", conf, "db_version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "wallaby_contract01") {
		t.Fatalf("glance-manage db_version after Glint's sync: %v\n%s", err, out)
	}
}
