package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"glint/internal/app"
	"glint/internal/config"
	"glint/internal/db"
)

const statusHelp = "glint status upgrade check [--json]: check that this node is ready for an upgrade,\n" +
	"as glance-status upgrade check does: Glance's checks, then Glint's own (the configuration\n" +
	"loads and sets no option that no longer exists, the policy files parse, no migration is\n" +
	"pending, the database is at a Glance revision Glint knows).\n\n" +
	"Prints a table of results (or JSON with --json); the exit status is the worst result:\n" +
	"0 success, 1 warning (look, the upgrade may be fine), 2 failure (fix it first)."

// Result codes, as oslo.upgradecheck's.
const (
	checkSuccess = 0
	checkWarning = 1
	checkFailure = 2
)

var checkWords = map[int]string{checkSuccess: "Success", checkWarning: "Warning", checkFailure: "Failure"}

type checkResult struct {
	name    string
	code    int
	details string // "" is None
}

// glanceAlembicHead is the revision Glance 25.1's glance-manage db sync
// leaves, which Glint's schema matches.
const glanceAlembicHead = db.GlanceContractHead

func statusCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(stdout, statusHelp)
		return 0
	}
	if len(args) < 2 || args[0] != "upgrade" || args[1] != "check" {
		fmt.Fprintf(stderr, "glint status: the command is \"glint status upgrade check\"\n\n%s\n", statusHelp)
		return 2
	}
	fs, c := newFlagSet("status upgrade check", statusHelp, stderr)
	asJSON := fs.Bool("json", false, "print the results as JSON rather than a table")
	if err := fs.Parse(args[2:]); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "glint status upgrade check: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	raw, err := config.ReadRaw(c.files, c.dirs)
	if err != nil {
		fmt.Fprintln(stderr, "glint:", err)
		return 1
	}
	results := upgradeChecks(ctx, c, raw)
	worst := checkSuccess
	for _, r := range results {
		worst = max(worst, r.code)
	}
	if *asJSON {
		fmt.Fprintln(stdout, checksJSON(results))
	} else {
		fmt.Fprint(stdout, checksTable(results))
	}
	return worst
}

func upgradeChecks(ctx context.Context, c *common, raw *config.RawFiles) []checkResult {
	out := []checkResult{sheepdogCheck(raw)}
	cfg, cfgErr := c.load()
	out = append(out, policyJSONCheck(cfg, raw, c), ownerIsTenantCheck(raw))

	// Glint's own.
	conf := checkResult{name: "Glint configuration"}
	switch {
	case cfgErr != nil:
		conf.code, conf.details = checkFailure, "The configuration does not load: "+cfgErr.Error()
	case len(cfg.Ignored) > 0:
		conf.code, conf.details = checkWarning, "These options are set but neither Glint nor Glance 25.1 knows them "+
			"(removed, renamed or misspelt); they are ignored: "+strings.Join(cfg.Ignored, ", ")+"."
	}
	out = append(out, conf)
	pol := checkResult{name: "Glint policy files"}
	dbc := checkResult{name: "Glint database schema"}
	if cfgErr != nil {
		pol.code, pol.details = checkFailure, "Not checked: the configuration does not load."
		dbc.code, dbc.details = checkFailure, "Not checked: the configuration does not load."
		return append(out, pol, dbc)
	}
	if a, err := app.NewAuthorization(cfg); err != nil {
		pol.code, pol.details = checkFailure, "The policy does not load: "+err.Error()
	} else {
		var problems []string
		for _, p := range a.Enforcer.Check() {
			if p.Kind != "missing-file" && p.Kind != "redundant" {
				problems = append(problems, p.String())
			}
		}
		if len(problems) > 0 {
			pol.code, pol.details = checkWarning, fmt.Sprintf("%d problem(s) in the policy files (glint policy check lists them): %s",
				len(problems), strings.Join(problems[:min(3, len(problems))], "; "))
		}
	}
	out = append(out, pol)
	return append(out, schemaCheck(ctx, cfg, dbc))
}

func sheepdogCheck(raw *config.RawFiles) checkResult {
	r := checkResult{name: "Sheepdog Driver Removal"}
	present := false
	for _, b := range raw.List("DEFAULT", "enabled_backends") {
		name, _, _ := strings.Cut(b, ":")
		present = present || strings.TrimSpace(name) == "sheepdog"
	}
	for _, s := range raw.List("glance_store", "stores") {
		present = present || s == "sheepdog"
	}
	if present {
		r.code, r.details = checkFailure, `The "sheepdog" backend store driver has been removed, but current settings have it configured.`
	}
	return r
}

// policyJSONCheck fails on a policy file written in JSON, which
// oslo.policy no longer reads by default.
func policyJSONCheck(cfg *config.Config, raw *config.RawFiles, c *common) checkResult {
	r := checkResult{name: "Policy File JSON to YAML Migration"}
	name := "policy.yaml"
	if cfg != nil {
		name = cfg.PolicyFile
	} else if v, ok := raw.Value("oslo_policy", "policy_file"); ok {
		name = strings.TrimSpace(v)
	}
	path := ""
	if filepath.IsAbs(name) {
		path = name
	} else {
		// Beside the configuration files, as oslo.config's find_file.
		var dirs []string
		dirs = append(dirs, c.dirs...)
		for _, f := range c.files {
			dirs = append(dirs, filepath.Dir(f))
		}
		for _, d := range dirs {
			if _, err := os.Stat(filepath.Join(d, name)); err == nil {
				path = filepath.Join(d, name)
				break
			}
		}
	}
	if path == "" {
		return r
	}
	data, err := os.ReadFile(path)
	if err == nil && json.Valid(data) {
		r.code, r.details = checkFailure, "Your policy file is JSON-formatted which is deprecated. You need to switch to YAML-formatted file. "+
			"Use the ``oslopolicy-convert-json-to-yaml`` tool to convert the existing JSON-formatted files to YAML in a "+
			"backwards-compatible manner: https://docs.openstack.org/oslo.policy/latest/cli/oslopolicy-convert-json-to-yaml.html."
	}
	return r
}

func ownerIsTenantCheck(raw *config.RawFiles) checkResult {
	r := checkResult{name: "Config option owner_is_tenant removal"}
	if v, ok := raw.Bool("DEFAULT", "owner_is_tenant"); ok && !v {
		r.code, r.details = checkFailure, `The "owner_is_tenant" option has been removed and there is no upgrade path for installations that had this option set to False.`
	}
	return r
}

func schemaCheck(ctx context.Context, cfg *config.Config, r checkResult) checkResult {
	// A check changes nothing: opening a missing SQLite file would create it.
	if dialect, path, err := db.ParseConnection(cfg.DatabaseConnection); err == nil && dialect == db.SQLite {
		if _, err := os.Stat(path); os.IsNotExist(err) {
			r.code, r.details = checkWarning, "The database "+path+" does not exist yet: glint db sync creates it."
			return r
		}
	}
	d, err := db.Open(ctx, cfg.DatabaseConnection)
	if err != nil {
		r.code, r.details = checkFailure, "The database does not open: "+err.Error()
		return r
	}
	defer d.Close()
	v, err := d.Schema(ctx)
	rev := strings.Join(v.Alembic, ", ")
	switch {
	case err != nil:
		r.code, r.details = checkFailure, "The schema version does not read: "+err.Error()
	case len(v.NewerContracted()) > 0:
		r.code, r.details = checkFailure, fmt.Sprintf("A newer Glint has contracted this database (versions %s): this release cannot serve it.",
			versions(v.NewerContracted()))
	case v.Glance() == db.GlanceOlder:
		r.code, r.details = checkFailure, fmt.Sprintf("Glance's migrations are at %s, older than Glance 25.1's %s, which Glint needs: "+
			"run Glance 25.1's glance-manage db sync (or expand) first.", rev, glanceAlembicHead)
	case v.Next() != 0:
		n := 0
		for _, p := range v.Pending {
			n += len(p)
		}
		r.code, r.details = checkWarning, fmt.Sprintf("%d of Glint's migrations are pending, the next phase is %s: run glint db %s "+
			"(or glint db sync with every node stopped).", n, v.Next(), v.Next())
	case v.Glance() == db.GlanceNewer:
		what := "expanded this database (additions only)"
		if v.GlanceNewerContract() {
			what = "contracted this database and may have removed what Glint uses: read that release's notes"
		}
		r.code, r.details = checkWarning, fmt.Sprintf("Glance's migrations left revision %s, which Glint does not know (it knows %s): "+
			"a newer Glance has %s.", rev, glanceAlembicHead, what)
	case v.Glance() == db.GlanceExpanded:
		r.code, r.details = checkWarning, fmt.Sprintf("Glance's migrations are at %s: Glance's own contract is pending "+
			"(glance-manage db contract).", rev)
	}
	return r
}

// checksJSON is the JSON glance-status upgrade check --json prints
// (Python's json.dumps: ", " and ": " between items).
func checksJSON(results []checkResult) string {
	str := func(s string) string {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(s)
		return strings.TrimSuffix(b.String(), "\n")
	}
	var items []string
	for _, r := range results {
		details := "null"
		if r.details != "" {
			details = str(r.details)
		}
		items = append(items, fmt.Sprintf(`{"check": %s, "result": %d, "details": %s}`, str(r.name), r.code, details))
	}
	return `{"name": "Upgrade Check Results", "checks": [` + strings.Join(items, ", ") + "]}"
}

// checksTable is the table glance-status upgrade check prints: one cell
// per check, details wrapped at 60 columns.
func checksTable(results []checkResult) string {
	cells := [][]string{{"Upgrade Check Results"}}
	for _, r := range results {
		details := "None"
		if r.details != "" {
			details = strings.Join(wrapText(r.details, 60, "  "), "\n")
		}
		cells = append(cells, strings.Split("Check: "+r.name+"\nResult: "+checkWords[r.code]+"\nDetails: "+details, "\n"))
	}
	width := 0
	for _, c := range cells {
		for _, l := range c {
			width = max(width, len([]rune(l)))
		}
	}
	rule := "+" + strings.Repeat("-", width+2) + "+\n"
	var b strings.Builder
	b.WriteString(rule)
	for _, c := range cells {
		for _, l := range c {
			b.WriteString("| " + l + strings.Repeat(" ", width-len([]rune(l))) + " |\n")
		}
		b.WriteString(rule)
	}
	return b.String()
}

// wrapText wraps s as Python's textwrap.wrap(s, width,
// subsequent_indent=indent) does: words are broken after the hyphens of
// hyphenated words, and a word longer than a line fills the rest of it.
func wrapText(s string, width int, indent string) []string {
	var chunks []string
	for i, w := range strings.Fields(s) {
		if i > 0 {
			chunks = append(chunks, " ")
		}
		chunks = append(chunks, hyphenChunks(w)...)
	}
	var lines []string
	for len(chunks) > 0 {
		ind := ""
		if len(lines) > 0 {
			ind = indent
		}
		w := width - len(ind)
		if chunks[0] == " " && len(lines) > 0 {
			chunks = chunks[1:]
		}
		var cur []string
		n := 0
		for len(chunks) > 0 && n+len(chunks[0]) <= w {
			cur, n = append(cur, chunks[0]), n+len(chunks[0])
			chunks = chunks[1:]
		}
		if len(chunks) > 0 && len(chunks[0]) > w {
			end := w - n
			if w < 1 {
				end = 1
			}
			ch := chunks[0]
			if h := strings.LastIndex(ch[:min(end, len(ch))], "-"); h > 0 && strings.Trim(ch[:h], "-") != "" {
				end = h + 1
			}
			cur, chunks[0] = append(cur, ch[:end]), ch[end:]
		}
		if len(cur) > 0 && cur[len(cur)-1] == " " {
			cur = cur[:len(cur)-1]
		}
		if len(cur) > 0 {
			lines = append(lines, ind+strings.Join(cur, ""))
		}
	}
	return lines
}

// hyphenChunks splits a word after each hyphen that joins two words of
// letters, as textwrap's break_on_hyphens does.
func hyphenChunks(w string) []string {
	r := []rune(w)
	letter := func(i int) bool { return i >= 0 && i < len(r) && (unicode.IsLetter(r[i]) || r[i] == '_') }
	var out []string
	start := 0
	for i := range r {
		if r[i] != '-' {
			continue
		}
		before := (letter(i-1) && letter(i-2)) || (letter(i-1) && i >= 3 && r[i-2] == '-' && letter(i-3))
		after := letter(i+1) && (letter(i+2) || (i+3 < len(r) && r[i+2] == '-' && letter(i+3)))
		if before && after {
			out = append(out, string(r[start:i+1]))
			start = i + 1
		}
	}
	return append(out, string(r[start:]))
}
