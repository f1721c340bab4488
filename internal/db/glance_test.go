package db_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"glint/internal/db"
	"glint/internal/db/dbtest"
	"glint/internal/image"
)

// glanceRows writes and reads images through Glance 25.1's own database
// layer (glance.db.sqlalchemy.api), so that rows are exactly what Glance
// writes on each database.
const glanceRows = `
import datetime, json, sys
from oslo_config import cfg
from glance.common import config  # noqa: registers Glance's options
from glance.db.sqlalchemy import api
import glance.context

cfg.CONF(['--config-file', sys.argv[1]], project='glance')
ctx = glance.context.RequestContext(is_admin=True)
cmd, image_id = sys.argv[2], sys.argv[3]
if cmd == 'create':
    api.image_create(ctx, {
        'id': image_id, 'name': 'from-glance', 'size': 3, 'status': 'active',
        'disk_format': 'raw', 'container_format': 'bare', 'checksum': 'abc',
        'owner': 'p1', 'min_disk': 0, 'min_ram': 0, 'protected': False,
        'visibility': 'shared', 'os_hidden': False,
        'created_at': datetime.datetime(2026, 11, 1, 10, 0, 0, 123456),
        'properties': {'os_distro': 'cirros'},
        'locations': [{'url': 'file:///var/lib/glance/images/' + image_id,
                       'metadata': {'store': 'file'}, 'status': 'active'}],
    })
    api.image_tag_create(ctx, image_id, 'glance-tag')
else:
    img = api.image_get(ctx, image_id)
    print(json.dumps({
        'name': img['name'], 'status': img['status'], 'protected': img['protected'],
        'properties': {p['name']: p['value'] for p in img['properties'] if not p['deleted']},
        'tags': sorted(api.image_tag_get_all(ctx, image_id)),
        'locations': [l['url'] for l in img['locations']],
    }))
`

// glance runs Glance's tools on the database of c.
type glance struct {
	t          *testing.T
	manage     string
	conf, rows string
}

func newGlance(t *testing.T, c dbtest.Conn) *glance {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: runs Glance's Python tools (glance-manage)")
	}
	gm, err := exec.LookPath("glance-manage")
	if err != nil {
		if os.Getenv("GLINT_SKIP_GLANCE") == "1" {
			t.Skip("glance-manage not installed and GLINT_SKIP_GLANCE=1")
		}
		t.Fatal("glance-manage (Debian package glance-common) is needed; scripts/test installs it")
	}
	dir := t.TempDir()
	g := &glance{t: t, manage: gm, conf: filepath.Join(dir, "glance.conf"), rows: filepath.Join(dir, "glance_rows.py")}
	if err := os.WriteFile(g.conf, []byte("[database]\nconnection = "+c.URL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(g.rows, []byte(glanceRows), 0o600); err != nil {
		t.Fatal(err)
	}
	return g
}

// run runs a Python program of Glance's and returns its standard output.
func (g *glance) run(ctx context.Context, args ...string) (string, error) {
	g.t.Helper()
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%v: %v\n%s", args, err, errOut.String())
	}
	return out.String(), err
}

func (g *glance) dbManage(ctx context.Context, args ...string) (string, error) {
	return g.run(ctx, append([]string{g.manage, "--config-file", g.conf}, args...)...)
}

// A database created by Glance 25.1's own glance-manage is adopted: Glint
// migrates it without re-creating anything, reads what Glance wrote, and
// Glance reads what Glint wrote.
func TestAdoptGlanceDatabase(t *testing.T) {
	t.Parallel() // Glance's Python tools take seconds to start
	eachDB(t, func(t *testing.T, c dbtest.Conn) {
		t.Parallel()
		g := newGlance(t, c)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if _, err := g.dbManage(ctx, "db_sync"); err != nil {
			t.Fatalf("glance-manage db_sync: %v", err)
		}
		const id = "11111111-2222-4333-8444-555555555555"
		if _, err := g.run(ctx, g.rows, g.conf, "create", id); err != nil {
			t.Fatalf("Glance writing an image: %v", err)
		}

		d, err := db.Open(ctx, c.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		applied, err := d.Sync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) == 0 {
			t.Fatal("no Glint migrations recorded on a Glance database")
		}
		img, err := d.Images().Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		created := time.Date(2026, 11, 1, 10, 0, 0, 123456000, time.UTC).Truncate(precision(c.Name))
		if *img.Name != "from-glance" || img.Properties["os_distro"] != "cirros" || len(img.Locations) != 1 ||
			img.Locations[0].Metadata["store"] != "file" || !slices.Equal(img.Tags, []string{"glance-tag"}) ||
			!img.CreatedAt.Equal(created) || img.Visibility != image.Shared || img.Status != image.Active || img.Protected {
			t.Fatalf("Glance's image read back as %+v", img)
		}
		imgs, err := d.Images().List(ctx, image.ListQuery{Limit: 10, MemberStatus: "accepted"}, image.Viewer{Project: "p1"})
		if err != nil || len(imgs) != 1 || imgs[0].ID != id {
			t.Fatalf("Glance's image listed as %v, %v", imgs, err)
		}
		v, err := d.Version(ctx)
		if err != nil || v.Alembic != "wallaby_contract01" {
			t.Fatalf("version after adoption: %+v %v", v, err)
		}

		// Glint writes; Glance reads.
		up := img.Clone()
		up.Properties["from_glint"] = "yes"
		up.Tags = append(up.Tags, "glint-tag")
		up.Protected = true
		up.UpdatedAt = time.Now()
		if err := d.Images().Update(ctx, up, image.Active); err != nil {
			t.Fatal(err)
		}
		out, err := g.run(ctx, g.rows, g.conf, "show", id)
		if err != nil {
			t.Fatalf("Glance reading Glint's update: %v", err)
		}
		var seen struct {
			Name       string
			Protected  bool
			Properties map[string]string
			Tags       []string
			Locations  []string
		}
		if err := json.Unmarshal([]byte(out), &seen); err != nil || seen.Name != "from-glance" || !seen.Protected ||
			seen.Properties["from_glint"] != "yes" || seen.Properties["os_distro"] != "cirros" ||
			!slices.Equal(seen.Tags, []string{"glance-tag", "glint-tag"}) || len(seen.Locations) != 1 {
			t.Fatalf("Glance sees Glint's update as %s (%v)", out, err)
		}

		// Glance still sees its own schema at its head revision.
		out, err = g.dbManage(ctx, "db_version")
		if err != nil || !strings.Contains(out, "wallaby_contract01") {
			t.Fatalf("glance-manage db_version after Glint's sync: %v\n%s", err, out)
		}
	})
}

// A database that Glint creates has Glance's schema: the same tables,
// columns, types, defaults, keys and indexes as one glance-manage db_sync
// creates on the same server (Glint's own indexes, goose's version table
// and the image cache's tables of newer Glances aside), and Glance finds
// nothing to upgrade in it.
func TestSchemaMatchesGlance(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, byGlance dbtest.Conn) {
		t.Parallel()
		g := newGlance(t, byGlance)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if _, err := g.dbManage(ctx, "db_sync"); err != nil {
			t.Fatalf("glance-manage db_sync: %v", err)
		}
		byGlint := dbtest.New(t, byGlance.Name)
		d, err := db.Open(ctx, byGlint.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if _, err := d.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		want, got := schemaOf(t, byGlance), schemaOf(t, byGlint)
		for _, l := range want {
			if !slices.Contains(got, l) {
				t.Errorf("Glint's schema lacks %s", l)
			}
		}
		for _, l := range got {
			if !slices.Contains(want, l) {
				t.Errorf("Glint's schema has %s", l)
			}
		}
		if byGlint.Name == db.Postgres {
			return // glance-manage db check supports MySQL and SQLite only
		}
		gg := newGlance(t, byGlint)
		if out, err := gg.dbManage(ctx, "db", "check"); err != nil || !strings.Contains(out, "up to date") {
			t.Fatalf("glance-manage db check on Glint's database: %v\n%s", err, out)
		}
	})
}

// rawOpen opens the database of c with its plain driver.
func rawOpen(t *testing.T, c dbtest.Conn) *sql.DB {
	t.Helper()
	dialect, dsn, err := db.ParseConnection(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	driver := map[string]string{db.SQLite: "sqlite", db.Postgres: "pgx", db.MySQL: "mysql"}[dialect]
	if dialect == db.SQLite {
		dsn = "file:" + dsn
	}
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

// schemaOf describes the schema of c, one line per table, column, index
// and constraint, leaving out goose's table and Glint's own indexes.
func schemaOf(t *testing.T, c dbtest.Conn) []string {
	t.Helper()
	raw := rawOpen(t, c)
	var queries []string
	switch c.Name {
	case db.Postgres:
		queries = []string{
			// Positions are counted, not read: Glance's images table keeps
			// the slot of a column its migrations dropped.
			`SELECT 'column ' || table_name || '.' || column_name || ' ' ||
				row_number() OVER (PARTITION BY table_name ORDER BY ordinal_position) || ' ' || udt_name || ' ' ||
				COALESCE(character_maximum_length::text, '') || ' ' || is_nullable || ' ' || COALESCE(column_default, '')
				FROM information_schema.columns WHERE table_schema = current_schema()`,
			`SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = current_schema()`,
			`SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
				FROM pg_constraint WHERE connamespace = current_schema()::regnamespace`,
			`SELECT 'sequence ' || sequence_name || ' ' || data_type FROM information_schema.sequences WHERE sequence_schema = current_schema()`,
			`SELECT 'type ' || t.typname || ' ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
				FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname`,
		}
	case db.MySQL:
		queries = []string{
			`SELECT CONCAT('table ', table_name, ' ', engine, ' ', table_collation) FROM information_schema.tables WHERE table_schema = DATABASE()`,
			`SELECT CONCAT('column ', table_name, '.', column_name, ' ', ordinal_position, ' ', column_type, ' ', is_nullable, ' ',
				COALESCE(column_default, ''), ' ', COALESCE(collation_name, ''), ' ', extra) FROM information_schema.columns WHERE table_schema = DATABASE()`,
			`SELECT CONCAT('index ', table_name, '.', index_name, ' ', non_unique, ' ', seq_in_index, ' ', column_name, ' ', COALESCE(sub_part, ''))
				FROM information_schema.statistics WHERE table_schema = DATABASE()`,
			`SELECT CONCAT('constraint ', table_name, '.', constraint_name, ' ', constraint_type)
				FROM information_schema.table_constraints WHERE constraint_schema = DATABASE()`,
			`SELECT CONCAT('check ', table_name, '.', constraint_name, ' ', check_clause)
				FROM information_schema.check_constraints WHERE constraint_schema = DATABASE()`,
			`SELECT CONCAT('foreign key ', table_name, '.', constraint_name, ' ', column_name, ' ', referenced_table_name, '.', referenced_column_name)
				FROM information_schema.key_column_usage WHERE table_schema = DATABASE() AND referenced_table_name IS NOT NULL`,
		}
	default:
		queries = []string{
			`SELECT 'column ' || m.name || '.' || p.name || ' ' || p.cid || ' ' || p.type || ' ' || p."notnull" || ' ' ||
				COALESCE(p.dflt_value, '') || ' ' || p.pk FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table'`,
			`SELECT 'index ' || m.name || '.' || il.name || ' ' || il."unique" || ' ' || ii.seqno || ' ' || COALESCE(ii.name, '')
				FROM sqlite_master m, pragma_index_list(m.name) il, pragma_index_info(il.name) ii WHERE m.type = 'table'`,
			`SELECT 'foreign key ' || m.name || '.' || f."from" || ' ' || f."table" || '.' || f."to"
				FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table'`,
		}
	}
	var out []string
	for _, q := range queries {
		rows, err := raw.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				t.Fatal(err)
			}
			// goose_db_version uses AUTOINCREMENT, hence SQLite's sqlite_sequence.
			// cached_images and node_reference are the image cache's
			// tables of Glance 2024.1 (Glint migration 10), which 25.1 lacks.
			if !strings.Contains(l, "goose_db_version") && !strings.Contains(l, "glint_") && !strings.Contains(l, "sqlite_sequence") &&
				!strings.Contains(l, "cached_images") && !strings.Contains(l, "node_reference") {
				out = append(out, l)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	slices.Sort(out)
	return out
}
