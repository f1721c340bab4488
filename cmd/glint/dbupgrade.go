package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"glint/internal/db"
)

const dbHelp = "glint db sync|expand|migrate|contract|check|version|purge|purge_images_table|backup:\n" +
	"manage the database (Glance's glance-manage db).\n\n" +
	"  sync      apply every pending migration at once (expand, migrate, contract); a database\n" +
	"            Glance created is adopted. For an upgrade with every node stopped.\n" +
	"  expand    add what the new release needs; nodes of the release before keep serving\n" +
	"  migrate   move data into what expand added (run again if rows are still pending)\n" +
	"  contract  remove what only the release before used: once none of its nodes serves\n" +
	"  check     say which phase is pending: exit 0 none, 3 expand, 4 migrate, 5 contract\n" +
	"            (as glance-manage db check)\n" +
	"  version   print the schema version and Glance's alembic revision\n" +
	"  purge     remove rows deleted --age_in_days ago, the images table aside (glance-manage db purge)\n" +
	"  purge_images_table\n" +
	"            remove images deleted --age_in_days ago (glance-manage db purge_images_table)\n" +
	"  backup    copy the embedded SQLite database online to a file\n\n" +
	"docs/operations.md describes a rolling upgrade of several nodes."

var nouns = map[db.Phase]string{db.Expand: "expansion", db.Migrate: "migration", db.Contract: "contraction"}

// dbSchemaCmd runs db sync, expand, migrate, contract, check or version.
// Messages and exit statuses follow glance-manage's: a phase that cannot
// run yet is exit 1 with the reason on standard error.
func dbSchemaCmd(ctx context.Context, d *db.DB, sub string, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintln(stderr, "glint:", err)
		return 1
	}
	s, err := d.Schema(ctx)
	if err != nil {
		return fail(err)
	}
	upToDate := s.Next() == 0
	switch sub {
	case "version":
		cur := int64(0)
		if len(s.Applied) > 0 {
			cur = s.Applied[len(s.Applied)-1]
		}
		fmt.Fprintf(stdout, "glint schema version: %d (latest %d)\n", cur, s.Latest)
		for _, p := range []db.Phase{db.Expand, db.Migrate, db.Contract} {
			if v := s.Pending[p]; len(v) > 0 {
				fmt.Fprintf(stdout, "pending %s: %s\n", p, versions(v))
			}
		}
		if len(s.Alembic) > 0 {
			fmt.Fprintf(stdout, "glance alembic revision: %s\n", strings.Join(s.Alembic, ", "))
		}
		printForeign(stdout, s)
		return 0
	case "check":
		return dbCheck(stdout, stderr, s)
	case "sync":
		if upToDate {
			fmt.Fprintln(stdout, "Database is up to date. No migrations needed.")
			return 0
		}
		applied, err := d.Sync(ctx)
		if err != nil {
			fmt.Fprintln(stderr, "Failed to sync database: ERROR:", err)
			return 1
		}
		fmt.Fprintf(stdout, "Database is synced successfully (%d migrations applied).\n", len(applied))
		return 0
	}
	phase := map[string]db.Phase{"expand": db.Expand, "migrate": db.Migrate, "contract": db.Contract}[sub]
	if upToDate {
		fmt.Fprintln(stdout, "Database is up to date. No migrations needed.")
		return 0
	}
	if len(s.Pending[phase]) == 0 && (phase == db.Expand || s.Next() > phase) {
		fmt.Fprintf(stdout, "Database %s is up to date. No %[1]s needed.\n", nouns[phase])
		return 0
	}
	r, err := d.RunPhase(ctx, phase)
	if errors.Is(err, db.ErrPhaseOrder) {
		fmt.Fprintf(stderr, "Database %s did not run: it cannot run before %s is complete. Run \"glint db %s\" first.\n",
			nouns[phase], s.Next(), s.Next())
		return 1
	}
	if err != nil {
		return fail(err)
	}
	switch phase {
	case db.Migrate:
		fmt.Fprintf(stdout, "Migrated %d rows\n", r.Rows)
	default:
		fmt.Fprintf(stdout, "Database %s complete: applied %s.\n", nouns[phase], versions(r.Applied))
	}
	if after, err := d.Schema(ctx); err == nil && after.Next() != 0 {
		fmt.Fprintf(stdout, "Next: glint db %s%s.\n", after.Next(), map[db.Phase]string{
			db.Contract: ", once no node of the release before serves this database"}[after.Next()])
	}
	return 0
}

// dbCheck is glance-manage db check's exit status, for Glint's
// migrations: 0 up to date, 3 expand, 4 migrate, 5 contract pending; 1
// when a newer Glint contracted the database, which this release must not
// serve. Glance's own state is told beside it.
func dbCheck(stdout, stderr io.Writer, s db.Schema) int {
	printForeign(stdout, s)
	if c := s.NewerContracted(); len(c) > 0 {
		fmt.Fprintf(stderr, "A newer Glint has contracted this database (versions %s): this release (up to version %d) cannot serve it.\n",
			versions(c), s.Latest)
		return 1
	}
	code := 0
	switch s.Next() {
	case db.Expand:
		fmt.Fprintln(stdout, "Your database is not up to date. Your first step is to run `glint db expand`.")
		code = 3
	case db.Migrate:
		fmt.Fprintln(stdout, "Your database is not up to date. Your next step is to run `glint db migrate`.")
		code = 4
	case db.Contract:
		fmt.Fprintln(stdout, "Your database is not up to date. Your next step is to run `glint db contract`.")
		code = 5
	}
	if s.Glance() == db.GlanceOlder {
		fmt.Fprintln(stdout, "Glance's tables are older than Glance 25.1's, which Glint needs: run Glance 25.1's `glance-manage db expand` "+
			"(or db sync) first.")
		code = 3
	}
	if code == 0 {
		fmt.Fprintln(stdout, "Database is up to date. No upgrades needed.")
	}
	return code
}

// printForeign tells what another release did to the database: a newer
// Glint's migrations, and Glance's revision when it is not Glance 25.1's
// last.
func printForeign(w io.Writer, s db.Schema) {
	if len(s.Unknown) > 0 {
		var parts []string
		for _, u := range s.Unknown {
			p := u.Phase
			if p == "" {
				p = "phase not recorded"
			}
			parts = append(parts, fmt.Sprintf("%d (%s)", u.Version, p))
		}
		fmt.Fprintf(w, "A newer Glint has migrated this database: %s.\n", strings.Join(parts, ", "))
	}
	rev := strings.Join(s.Alembic, ", ")
	switch s.Glance() {
	case db.GlanceExpanded:
		fmt.Fprintf(w, "Glance's own migrations are at %s: Glance's contract is pending (glance-manage db contract); "+
			"Glint serves meanwhile.\n", rev)
	case db.GlanceOlder:
		fmt.Fprintf(w, "Glance's own migrations are at %s, older than %s.\n", rev, db.GlanceContractHead)
	case db.GlanceNewer:
		what := "only expanded it (additions, which Glint does not read)"
		if s.GlanceNewerContract() {
			what = "contracted it, which may have removed what Glance 25.1, and so Glint, uses: check that release's notes " +
				"before serving it with Glint"
		}
		fmt.Fprintf(w, "Glance's own migrations are at %s, which Glance 25.1 does not know: a newer Glance has %s. "+
			"Glint's schema is Glance 25.1's (%s).\n", rev, what, db.GlanceContractHead)
	}
}

func versions(vs []int64) string {
	var parts []string
	for _, v := range vs {
		parts = append(parts, fmt.Sprint(v))
	}
	return strings.Join(parts, ", ")
}
