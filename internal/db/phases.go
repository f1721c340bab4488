package db

// Rolling upgrades, as Glance's glance-manage db expand / migrate /
// contract: every migration of Glint's own says which phase it belongs
// to, in a header line of its file:
//
//	-- glint:phase expand    adds only (tables, columns, indexes): the
//	                         release before keeps working beside it
//	-- glint:phase migrate   moves data; runs while the release before
//	                         still serves, so it is idempotent and may be
//	                         run again: a migrate file may say
//	                         "-- glint:pending <query>", a query that finds
//	                         a row while rows still wait to be migrated
//	                         (written by an older node after the last run)
//	                         until the contract after it has run
//	-- glint:phase contract  removes what only the release before used;
//	                         runs once no node of it serves any more
//
// goose records applied versions in goose_db_version as before (so a
// Glint of an earlier release, whose goose runner ignores versions it does
// not know, still starts on an expanded database), and from version 9 on
// glint_migration_phases records the phase of each applied version, so that
// a later release's binary that meets a version it does not know can tell
// whether a newer release only expanded the database (it may serve beside
// it) or contracted it (it must not). Glance's alembic_version is never
// written after the first migration: it stays what Glance's glance-manage
// expects.

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/pressly/goose/v3"

	"glint/internal/errs"
)

// Phase is the phase of a rolling upgrade a migration belongs to.
type Phase int

// The phases, in the order an upgrade runs them.
const (
	Expand Phase = iota + 1
	Migrate
	Contract
)

func (p Phase) String() string {
	switch p {
	case Expand:
		return "expand"
	case Migrate:
		return "migrate"
	case Contract:
		return "contract"
	}
	return "phase(" + strconv.Itoa(int(p)) + ")"
}

func parsePhase(s string) (Phase, bool) {
	for _, p := range []Phase{Expand, Migrate, Contract} {
		if s == p.String() {
			return p, true
		}
	}
	return 0, false
}

// phaseTableVersion is the migration that creates glint_migration_phases;
// versions from it on record their phase there.
const phaseTableVersion = 9

// migration is one of Glint's migration files.
type migration struct {
	version int64
	name    string
	phase   Phase
	pending string   // migrate only: a query returning a row while rows wait
	up      []string // migrate only: the statements, which Glint runs itself
}

// plan reads the migration files of the database's dialect, with their
// phase headers.
func (d *DB) plan() ([]migration, error) {
	fsys, err := d.migrationFS()
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, name := range names {
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: no version number", name)
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		m, err := parseMigration(name, string(data))
		if err != nil {
			return nil, err
		}
		m.version = v
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b migration) int { return int(a.version - b.version) })
	return out, nil
}

// parseMigration reads a migration's headers and, for a data migration,
// its statements: one or more lines each, the last ending in ";".
func parseMigration(name, text string) (migration, error) {
	m := migration{name: name}
	section := ""
	var stmt strings.Builder
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "-- glint:phase "):
			p, ok := parsePhase(strings.TrimSpace(strings.TrimPrefix(line, "-- glint:phase ")))
			if !ok || m.phase != 0 {
				return m, fmt.Errorf("migration %s: bad or repeated phase header %q", name, line)
			}
			m.phase = p
		case strings.HasPrefix(line, "-- glint:pending "):
			m.pending = strings.TrimSpace(strings.TrimPrefix(line, "-- glint:pending "))
		case strings.HasPrefix(line, "-- +goose Up"):
			section = "up"
		case strings.HasPrefix(line, "-- +goose Down"):
			section = "down"
		case strings.HasPrefix(line, "-- +goose"):
			if m.phase == Migrate {
				return m, fmt.Errorf("migration %s: a data migration is plain statements, without %q", name, line)
			}
		case line == "" || strings.HasPrefix(line, "--"):
		case section == "up":
			stmt.WriteString(line)
			if strings.HasSuffix(line, ";") {
				m.up = append(m.up, strings.TrimSuffix(stmt.String(), ";"))
				stmt.Reset()
			} else {
				stmt.WriteByte('\n')
			}
		}
	}
	if m.phase == 0 {
		return m, fmt.Errorf("migration %s: no \"-- glint:phase expand|migrate|contract\" header", name)
	}
	if m.phase != Migrate {
		m.up, m.pending = nil, ""
	} else if stmt.Len() > 0 {
		return m, fmt.Errorf("migration %s: statement without a final ';'", name)
	}
	return m, nil
}

// migrationFS is the dialect's migration files, and those of
// extraMigrations (a test build's) beside them.
func (d *DB) migrationFS() (fs.FS, error) {
	sub, err := fs.Sub(migrations, "migrations/"+d.Dialect)
	if err != nil {
		return nil, err
	}
	extra := d.extraMigrations
	if extra == nil {
		extra = extraMigrations()
	}
	if extra != nil {
		x, err := fs.Sub(extra, d.Dialect)
		if err != nil {
			return nil, err
		}
		return unionFS{sub, x}, nil
	}
	return sub, nil
}

// Unknown is a migration applied to the database that this binary does
// not know: a newer Glint's.
type Unknown struct {
	Version int64
	Phase   string // "" when the newer release did not record it
}

// Schema is where the database stands in Glint's migrations and Glance's.
type Schema struct {
	Applied []int64           // Glint's versions applied, known or not
	Latest  int64             // the newest version this binary knows
	Pending map[Phase][]int64 // known versions still to run, by phase
	Unknown []Unknown         // applied versions this binary does not know
	Alembic []string          // Glance's alembic_version rows
}

// Next is the first phase with pending migrations, or 0 if none.
func (s Schema) Next() Phase {
	for _, p := range []Phase{Expand, Migrate, Contract} {
		if len(s.Pending[p]) > 0 {
			return p
		}
	}
	return 0
}

// Fresh reports that none of Glint's migrations has run: a new database,
// or one only Glance has used.
func (s Schema) Fresh() bool { return len(s.Applied) == 0 }

// NewerContracted lists the versions a newer Glint applied in its
// contract phase, or whose phase it did not record: this binary's code
// may need what they removed.
func (s Schema) NewerContracted() []int64 {
	var out []int64
	for _, u := range s.Unknown {
		if u.Phase != Expand.String() && u.Phase != Migrate.String() {
			out = append(out, u.Version)
		}
	}
	return out
}

// Glance's alembic revisions, as Glance 25.1 (Zed) knows them, oldest
// first. Glint's schema is that of the last one.
var glanceRevisions = []string{
	"liberty", "mitaka01", "mitaka02", "ocata_expand01", "ocata_contract01",
	"pike_expand01", "pike_contract01", "queens_expand01", "queens_contract01",
	"rocky_expand01", "rocky_expand02", "rocky_contract01", "rocky_contract02",
	"train_expand01", "train_contract01", "ussuri_expand01", "ussuri_contract01",
	"wallaby_expand01", "wallaby_contract01",
}

// GlanceExpandHead and GlanceContractHead are the heads of Glance 25.1's
// expand and contract branches: the revisions glance-manage db expand and
// db contract (or db sync) leave.
const (
	GlanceExpandHead   = "wallaby_expand01"
	GlanceContractHead = "wallaby_contract01"
)

// GlanceState says where Glance's own migrations stand, as Glint sees them.
type GlanceState int

// Glance's states.
const (
	GlanceAbsent   GlanceState = iota // no alembic_version: Glance never ran here
	GlanceCurrent                     // at Glance 25.1's contract head: Glint's schema
	GlanceExpanded                    // Glance 25.1's expand ran, its contract has not (its contract is empty: Glint serves)
	GlanceOlder                       // an older Glance's revision: tables Glint needs may lack columns
	GlanceNewer                       // a revision Glance 25.1 does not know: a newer Glance migrated
)

// Glance tells where Glance's migrations stand.
func (s Schema) Glance() GlanceState {
	if len(s.Alembic) == 0 {
		return GlanceAbsent
	}
	for _, r := range s.Alembic {
		if !slices.Contains(glanceRevisions, r) {
			return GlanceNewer
		}
	}
	switch {
	case slices.Contains(s.Alembic, GlanceContractHead):
		return GlanceCurrent
	case slices.Contains(s.Alembic, GlanceExpandHead):
		// Whatever older contraction is still pending only removes.
		return GlanceExpanded
	}
	return GlanceOlder
}

// GlanceNewerContract reports, of a database a newer Glance migrated
// (GlanceNewer), whether a revision it does not know is a contraction
// (Glance names them <release>_contractNN): that may have removed a
// column Glance 25.1, and so Glint, uses. Newer expansions only add.
func (s Schema) GlanceNewerContract() bool {
	for _, r := range s.Alembic {
		if !slices.Contains(glanceRevisions, r) && !strings.Contains(r, "_expand") {
			return true
		}
	}
	return false
}

// Schema reads where the database stands. On a database without goose's
// version table it creates that table (empty), as goose does.
func (d *DB) Schema(ctx context.Context) (Schema, error) {
	const op errs.Op = "db.Schema"
	unlock, err := d.lockMigrations(ctx)
	if err != nil {
		return Schema{}, errs.E(op, errs.Unavailable, "cannot take the migration lock", err)
	}
	defer unlock()
	s, _, err := d.schema(ctx)
	if err != nil {
		return s, errs.E(op, errs.Unavailable, err)
	}
	return s, nil
}

// schema reads the state under the migration lock.
func (d *DB) schema(ctx context.Context) (Schema, []migration, error) {
	plan, err := d.plan()
	if err != nil {
		return Schema{}, nil, err
	}
	p, err := d.provider()
	if err != nil {
		return Schema{}, nil, err
	}
	// Creates goose's table if missing.
	if _, err := p.GetDBVersion(ctx); err != nil {
		return Schema{}, nil, err
	}
	s := Schema{Pending: map[Phase][]int64{}}
	if len(plan) > 0 {
		s.Latest = plan[len(plan)-1].version
	}
	applied := map[int64]bool{}
	rows, err := d.write.QueryContext(ctx, "SELECT version_id FROM goose_db_version WHERE version_id > 0 AND is_applied")
	if err != nil {
		return s, nil, err
	}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return s, nil, err
		}
		if !applied[v] {
			applied[v] = true
			s.Applied = append(s.Applied, v)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s, nil, err
	}
	slices.Sort(s.Applied)
	known := map[int64]bool{}
	// The last contract still to run: a data migration before it may
	// have rows to move again; after its contract, it is done for good
	// (and its query may name what the contract removed).
	var lastContract int64
	for _, m := range plan {
		if m.phase == Contract && !applied[m.version] {
			lastContract = m.version
		}
	}
	for _, m := range plan {
		known[m.version] = true
		switch {
		case !applied[m.version]:
			s.Pending[m.phase] = append(s.Pending[m.phase], m.version)
		case m.phase == Migrate && m.pending != "" && m.version < lastContract:
			// Rows an older node wrote since the data migration ran.
			var one int
			err := d.write.QueryRowContext(ctx, m.pending).Scan(&one)
			if err == nil {
				s.Pending[Migrate] = append(s.Pending[Migrate], m.version)
			} else if !errors.Is(err, sql.ErrNoRows) {
				return s, nil, fmt.Errorf("migration %s: pending query: %w", m.name, err)
			}
		}
	}
	for _, v := range s.Applied {
		if known[v] {
			continue
		}
		u := Unknown{Version: v}
		// Absent before version 9: then the phase stays unknown.
		_ = d.write.QueryRowContext(ctx, "SELECT phase FROM glint_migration_phases WHERE version = "+strconv.FormatInt(v, 10)).Scan(&u.Phase)
		s.Unknown = append(s.Unknown, u)
	}
	if rows, err := d.write.QueryContext(ctx, "SELECT version_num FROM alembic_version"); err == nil {
		for rows.Next() {
			var r string
			if rows.Scan(&r) == nil {
				s.Alembic = append(s.Alembic, r)
			}
		}
		rows.Close()
		slices.Sort(s.Alembic)
	}
	return s, plan, nil
}

// PhaseResult is what running a phase did.
type PhaseResult struct {
	Applied []int64 // versions applied
	Rows    int64   // rows the data migrations changed
}

// ErrPhaseOrder is the kind of error RunPhase returns when an earlier
// phase is still pending.
var ErrPhaseOrder = errors.New("an earlier phase is pending")

// RunPhase runs the pending migrations of one phase, in version order.
// migrate refuses while expand is pending, and contract while expand or
// migrate is (ErrPhaseOrder), as glance-manage does; it takes the
// migration lock, so nodes may run it together.
func (d *DB) RunPhase(ctx context.Context, phase Phase) (PhaseResult, error) {
	op := errs.Op("db." + phase.String())
	unlock, err := d.lockMigrations(ctx)
	if err != nil {
		return PhaseResult{}, errs.E(op, errs.Unavailable, "cannot take the migration lock", err)
	}
	defer unlock()
	return d.runPhase(ctx, op, phase)
}

func (d *DB) runPhase(ctx context.Context, op errs.Op, phase Phase) (PhaseResult, error) {
	var res PhaseResult
	s, plan, err := d.schema(ctx)
	if err != nil {
		return res, errs.E(op, errs.Unavailable, err)
	}
	for _, earlier := range []Phase{Expand, Migrate} {
		if earlier < phase && len(s.Pending[earlier]) > 0 {
			return res, errs.E(op, errs.Conflict, fmt.Sprintf("%s cannot run before %s: run glint db %s first", phase, earlier, earlier), ErrPhaseOrder)
		}
	}
	p, err := d.provider()
	if err != nil {
		return res, errs.E(op, errs.Internal, err)
	}
	applied := map[int64]bool{}
	for _, v := range s.Applied {
		applied[v] = true
	}
	for _, m := range plan {
		if m.phase != phase || !slices.Contains(s.Pending[phase], m.version) {
			continue
		}
		if m.phase == Migrate {
			n, err := d.runData(ctx, m, !applied[m.version])
			if err != nil {
				return res, errs.E(op, errs.Unavailable, fmt.Sprintf("data migration %s failed", m.name), err)
			}
			res.Rows += n
		} else if _, err := p.ApplyVersion(ctx, m.version, true); errors.Is(err, goose.ErrAlreadyApplied) {
			// Another process on the same SQLite file (which takes no
			// migration lock) got there first.
			continue
		} else if err != nil {
			return res, errs.E(op, errs.Unavailable, fmt.Sprintf("migration %s failed", m.name), err)
		}
		if m.version >= phaseTableVersion && !applied[m.version] {
			if _, err := d.write.ExecContext(ctx, fmt.Sprintf("INSERT INTO glint_migration_phases (version, phase) VALUES (%d, '%s')", m.version, m.phase)); err != nil {
				return res, errs.E(op, errs.Unavailable, err)
			}
		}
		res.Applied = append(res.Applied, m.version)
	}
	return res, nil
}

// runData runs a data migration's statements in one transaction and, the
// first time, records the version as goose would.
func (d *DB) runData(ctx context.Context, m migration, record bool) (int64, error) {
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var n int64
	for _, q := range m.up {
		r, err := tx.ExecContext(ctx, q)
		if err != nil {
			return 0, err
		}
		if k, err := r.RowsAffected(); err == nil {
			n += k
		}
	}
	if record {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("INSERT INTO goose_db_version (version_id, is_applied) VALUES (%d, true)", m.version)); err != nil {
			return 0, err
		}
	}
	return n, tx.Commit()
}

// Sync applies every pending migration: expand, migrate and contract, one
// after the other, as glance-manage db sync does. Only for a database no
// older release serves: see Prepare.
func (d *DB) Sync(ctx context.Context) (applied []int64, err error) {
	const op errs.Op = "db.Sync"
	unlock, err := d.lockMigrations(ctx)
	if err != nil {
		return nil, errs.E(op, errs.Unavailable, "cannot take the migration lock", err)
	}
	defer unlock()
	for _, phase := range []Phase{Expand, Migrate, Contract} {
		r, err := d.runPhase(ctx, op, phase)
		if err != nil {
			return applied, err
		}
		applied = append(applied, r.Applied...)
	}
	return applied, nil
}

// Prepare is what a serving process (glint serve, and the commands that
// write) applies on start: on a database none of Glint's migrations has
// touched, all of them (Sync); on any other, only the pending expand
// migrations, which the release before keeps working beside. Data
// migrations and contractions are left to glint db migrate and contract,
// which the operator runs once it is safe; s says what is still pending.
func (d *DB) Prepare(ctx context.Context) (applied []int64, s Schema, err error) {
	const op errs.Op = "db.Prepare"
	unlock, err := d.lockMigrations(ctx)
	if err != nil {
		return nil, s, errs.E(op, errs.Unavailable, "cannot take the migration lock", err)
	}
	defer unlock()
	if s, _, err = d.schema(ctx); err != nil {
		return nil, s, errs.E(op, errs.Unavailable, err)
	}
	phases := []Phase{Expand}
	if s.Fresh() {
		phases = []Phase{Expand, Migrate, Contract}
	}
	for _, phase := range phases {
		r, err := d.runPhase(ctx, op, phase)
		if err != nil {
			return applied, s, err
		}
		applied = append(applied, r.Applied...)
	}
	if len(applied) > 0 {
		s, _, err = d.schema(ctx)
		if err != nil {
			return applied, s, errs.E(op, errs.Unavailable, err)
		}
	}
	if c := s.NewerContracted(); len(c) > 0 {
		return applied, s, errs.E(op, errs.Conflict, fmt.Sprintf("a newer Glint has contracted this database (versions %v, this release knows up to %d): "+
			"this release may need what that removed; run the newer release", c, s.Latest))
	}
	return applied, s, nil
}

// unionFS shows the files of several file systems as one directory tree
// (the first holding a name wins).
type unionFS []fs.FS

func (u unionFS) Open(name string) (fs.File, error) {
	for _, f := range u {
		if file, err := f.Open(name); err == nil {
			return file, nil
		}
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

func (u unionFS) ReadDir(name string) ([]fs.DirEntry, error) {
	var out []fs.DirEntry
	seen := map[string]bool{}
	found := false
	for _, f := range u {
		es, err := fs.ReadDir(f, name)
		if err != nil {
			continue
		}
		found = true
		for _, e := range es {
			if !seen[e.Name()] {
				seen[e.Name()] = true
				out = append(out, e)
			}
		}
	}
	if !found {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}
