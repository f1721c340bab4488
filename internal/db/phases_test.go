package db_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"glint/internal/db"
	"glint/internal/db/dbtest"
	"glint/internal/errs"
	"glint/internal/image"
)

// probeMigrations are test-only migrations, one of each phase, that
// change Glance's images table (testdata/rollingprobe; the rolling-upgrade
// test builds them into a glint binary).
func probeMigrations() *os.Root {
	r, err := os.OpenRoot("testdata/rollingprobe")
	if err != nil {
		panic(err)
	}
	return r
}

// openProbe opens c as a release whose newest migrations are the probe's.
func openProbe(t *testing.T, c dbtest.Conn) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), c.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	d.SetExtraMigrationsForTest(probeMigrations().FS())
	return d
}

// Every migration of every dialect declares its phase, and the dialects
// agree on versions and phases.
func TestMigrationPhases(t *testing.T) {
	var want string
	for _, dialect := range dbtest.Dialects {
		got, err := db.PhasesForTest(dialect)
		if err != nil {
			t.Fatal(err)
		}
		if want == "" {
			want = got
		} else if got != want {
			t.Errorf("%s: phases %s, sqlite's %s", dialect, got, want)
		}
	}
	if !strings.HasPrefix(want, "1:expand 2:expand") || !strings.Contains(want, "9:expand") {
		t.Errorf("phases %s", want)
	}
}

func phaseErr(err error) bool {
	return errors.Is(err, db.ErrPhaseOrder) && errs.KindOf(err) == errs.Conflict
}

// The three phases on each database: what runs while the release before
// (here: the same repository code on the migrations without the probe's)
// reads and writes, the order glance-manage enforces, data migrations run
// again for rows written after them, and what a release that does not
// know the newer migrations makes of them.
func TestRollingPhases(t *testing.T) {
	eachDB(t, func(t *testing.T, c dbtest.Conn) {
		ctx := context.Background()
		old := openDB(t, c) // the release before: migrated, serving
		d := openProbe(t, c)
		s, err := d.Schema(ctx)
		if err != nil || s.Next() != db.Expand || !slices.Equal(s.Pending[db.Expand], []int64{90001}) ||
			!slices.Equal(s.Pending[db.Contract], []int64{90003}) || s.Latest != 90003 {
			t.Fatalf("before expand: %+v %v", s, err)
		}
		for _, p := range []db.Phase{db.Migrate, db.Contract} {
			if _, err := d.RunPhase(ctx, p); !phaseErr(err) {
				t.Fatalf("%s before expand: %v", p, err)
			}
		}
		create := func(r *db.DB, name string) {
			t.Helper()
			img := newImage(name, time.Now())
			if err := r.Images().Create(ctx, img); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		create(old, "before-expand")

		// A serving node of the new release expands, and only expands.
		applied, s, err := d.Prepare(ctx)
		if err != nil || !slices.Equal(applied, []int64{90001}) || s.Next() != db.Migrate {
			t.Fatalf("prepare: %v %+v %v", applied, s, err)
		}
		create(old, "after-expand")
		if _, err := d.RunPhase(ctx, db.Contract); !phaseErr(err) {
			t.Fatalf("contract before migrate: %v", err)
		}
		r, err := d.RunPhase(ctx, db.Migrate)
		if err != nil || r.Rows != 2 || !slices.Equal(r.Applied, []int64{90002}) {
			t.Fatalf("migrate: %+v %v", r, err)
		}
		// The release before writes on: the data migration is pending again.
		create(old, "after-migrate")
		create(d, "by-new")
		if s, err := d.Schema(ctx); err != nil || s.Next() != db.Migrate {
			t.Fatalf("rows written after migrate: %+v %v", s, err)
		}
		if _, err := d.RunPhase(ctx, db.Contract); !phaseErr(err) {
			t.Fatalf("contract with rows to migrate: %v", err)
		}
		if r, err := d.RunPhase(ctx, db.Migrate); err != nil || r.Rows != 2 || len(r.Applied) != 1 {
			t.Fatalf("migrate again: %+v %v", r, err)
		}

		// A release that knows none of the probe's migrations sees that a
		// newer one expanded: it may serve.
		if _, s, err := old.Prepare(ctx); err != nil || len(s.Unknown) != 2 || s.Unknown[0].Phase != "expand" ||
			s.Unknown[1].Phase != "migrate" || len(s.NewerContracted()) != 0 {
			t.Fatalf("the release before, after expand: %+v %v", s, err)
		}

		if r, err := d.RunPhase(ctx, db.Contract); err != nil || !slices.Equal(r.Applied, []int64{90003}) {
			t.Fatalf("contract: %+v %v", r, err)
		}
		if s, err := d.Schema(ctx); err != nil || s.Next() != 0 || len(s.Applied) != allVersions(t) {
			t.Fatalf("after contract: %+v %v", s, err)
		}
		create(d, "after-contract")
		imgs, err := d.Images().List(ctx, image.ListQuery{Limit: 10}, image.Viewer{Admin: true})
		if err != nil || len(imgs) != 5 {
			t.Fatalf("list after contract: %d %v", len(imgs), err)
		}
		for _, p := range []db.Phase{db.Expand, db.Migrate, db.Contract} {
			if r, err := d.RunPhase(ctx, p); err != nil || len(r.Applied) != 0 {
				t.Fatalf("%s again: %+v %v", p, r, err)
			}
		}

		// Now it must not: a contract it does not know may have removed
		// what it reads.
		_, s, err = old.Prepare(ctx)
		if errs.KindOf(err) != errs.Conflict || !slices.Equal(s.NewerContracted(), []int64{90003}) {
			t.Fatalf("the release before, after contract: %+v %v", s, err)
		}
	})
}

// db sync on a database a release before left runs the three phases at
// once; on a fresh database Prepare does too.
func TestSyncRunsAllPhases(t *testing.T) {
	eachDB(t, func(t *testing.T, c dbtest.Conn) {
		ctx := context.Background()
		d := openProbe(t, c)
		applied, s, err := d.Prepare(ctx)
		if err != nil || len(applied) != allVersions(t) || s.Next() != 0 {
			t.Fatalf("prepare on a fresh database: %v %+v %v", applied, s, err)
		}
	})
}

// manageCode runs glance-manage and returns its exit status and output.
func (g *glance) manageCode(ctx context.Context, args ...string) (int, string) {
	g.t.Helper()
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", append([]string{g.manage, "--config-file", g.conf}, args...)...)
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		g.t.Fatalf("glance-manage %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// Glance 25.1's glance-manage and Glint's phases on one database, each
// after the other (on SQLite and MariaDB: glance-manage refuses rolling
// upgrades on PostgreSQL): Glance finds its own schema up to date while
// Glint is between expand and contract, writes an image that Glint's data
// migration then carries; and a database Glance only expanded is served
// by Glint, then contracted by Glance.
func TestGlanceManageBesideGlintPhases(t *testing.T) {
	t.Parallel()
	for _, c := range dbtest.Connections(t) {
		if c.Name == db.Postgres {
			continue
		}
		t.Run(c.Name+"/glint-first", func(t *testing.T) {
			t.Parallel()
			g := newGlance(t, c)
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
			defer cancel()
			openDB(t, c) // the release before
			d := openProbe(t, c)
			if _, err := d.RunPhase(ctx, db.Expand); err != nil {
				t.Fatal(err)
			}
			if code, out := g.manageCode(ctx, "db", "check"); code != 0 || !strings.Contains(out, "Database is up to date") {
				t.Fatalf("glance-manage db check on a database Glint expanded: %d\n%s", code, out)
			}
			for _, sub := range []string{"expand", "contract"} {
				if code, out := g.manageCode(ctx, "db", sub); code != 0 || !strings.Contains(out, "up to date") {
					t.Fatalf("glance-manage db %s on a database Glint expanded: %d\n%s", sub, code, out)
				}
			}
			const id = "21111111-2222-4333-8444-555555555555"
			if _, err := g.run(ctx, g.rows, g.conf, "create", id); err != nil {
				t.Fatalf("Glance writing an image beside Glint's new column: %v", err)
			}
			if r, err := d.RunPhase(ctx, db.Migrate); err != nil || r.Rows != 1 {
				t.Fatalf("migrate Glance's image: %+v %v", r, err)
			}
			if r, err := d.RunPhase(ctx, db.Contract); err != nil || len(r.Applied) != 1 {
				t.Fatalf("contract: %+v %v", r, err)
			}
			if out, err := g.run(ctx, g.rows, g.conf, "show", id); err != nil || !strings.Contains(out, "from-glance") {
				t.Fatalf("Glance reading its image after Glint's contract: %v %s", err, out)
			}
			if code, out := g.manageCode(ctx, "db", "check"); code != 0 {
				t.Fatalf("glance-manage db check after Glint's contract: %d\n%s", code, out)
			}
		})
		t.Run(c.Name+"/glance-first", func(t *testing.T) {
			t.Parallel()
			c := dbtest.New(t, c.Name) // a database of its own
			g := newGlance(t, c)
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
			defer cancel()
			if code, out := g.manageCode(ctx, "db", "expand"); code != 0 {
				t.Fatalf("glance-manage db expand: %d\n%s", code, out)
			}
			d := openProbe(t, c)
			applied, s, err := d.Prepare(ctx)
			if err != nil || len(applied) != allVersions(t) || s.Glance() != db.GlanceExpanded {
				t.Fatalf("Glint on a database Glance expanded: %v %+v %v", applied, s, err)
			}
			if err := d.Images().Create(ctx, newImage("glint-on-expanded", time.Now())); err != nil {
				t.Fatal(err)
			}
			if code, out := g.manageCode(ctx, "db", "check"); code != 5 {
				t.Fatalf("glance-manage db check after Glint's sync: %d, want 5 (contract)\n%s", code, out)
			}
			if code, out := g.manageCode(ctx, "db", "contract"); code != 0 {
				t.Fatalf("glance-manage db contract: %d\n%s", code, out)
			}
			if s, err := d.Schema(ctx); err != nil || s.Glance() != db.GlanceCurrent || s.Next() != 0 {
				t.Fatalf("after Glance's contract: %+v %v", s, err)
			}
		})
	}
}

// allVersions is how many migrations the probe's database ends with:
// Glint's own (one file per version in each dialect's folder) and the
// probe's three.
func allVersions(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents) + 3
}
