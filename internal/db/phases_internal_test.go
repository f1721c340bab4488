package db

import (
	"slices"
	"testing"
)

func TestParseMigration(t *testing.T) {
	cases := []struct {
		name, text string
		phase      Phase
		pending    string
		up         []string
		bad        bool
	}{
		{"expand", "-- glint:phase expand\n-- +goose Up\nCREATE INDEX x ON t (a);\n-- +goose Down\nDROP INDEX x;\n", Expand, "", nil, false},
		{"data", "-- glint:phase migrate\n-- glint:pending SELECT 1 FROM t WHERE b IS NULL\n-- about it\n-- +goose Up\nUPDATE t\n\tSET b = a\n\tWHERE b IS NULL;\nUPDATE u SET c = 1;\n-- +goose Down\nUPDATE t SET b = NULL;\n",
			Migrate, "SELECT 1 FROM t WHERE b IS NULL", []string{"UPDATE t\nSET b = a\nWHERE b IS NULL", "UPDATE u SET c = 1"}, false},
		{"contract", "-- glint:phase contract\n-- +goose Up\nDROP TABLE t;\n", Contract, "", nil, false},
		{"no header", "-- +goose Up\nCREATE TABLE t (a INT);\n", 0, "", nil, true},
		{"unknown phase", "-- glint:phase shrink\n", 0, "", nil, true},
		{"two phases", "-- glint:phase expand\n-- glint:phase contract\n", 0, "", nil, true},
		{"data without ;", "-- glint:phase migrate\n-- +goose Up\nUPDATE t SET b = a\n", 0, "", nil, true},
		{"data with a block", "-- glint:phase migrate\n-- +goose Up\n-- +goose StatementBegin\nUPDATE t SET b = a;\n-- +goose StatementEnd\n", 0, "", nil, true},
	}
	for _, c := range cases {
		m, err := parseMigration(c.name+".sql", c.text)
		if (err != nil) != c.bad {
			t.Errorf("%s: error %v", c.name, err)
			continue
		}
		if !c.bad && (m.phase != c.phase || m.pending != c.pending || !slices.Equal(m.up, c.up)) {
			t.Errorf("%s: %+v", c.name, m)
		}
	}
}

// Glance's revisions as Glint reads alembic_version.
func TestGlanceState(t *testing.T) {
	cases := []struct {
		rows []string
		want GlanceState
	}{
		{nil, GlanceAbsent},
		{[]string{"wallaby_contract01"}, GlanceCurrent},
		{[]string{"wallaby_expand01"}, GlanceExpanded},
		{[]string{"ussuri_contract01", "wallaby_expand01"}, GlanceExpanded},
		{[]string{"train_contract01"}, GlanceOlder},
		{[]string{"2024_1_expand01"}, GlanceNewer},
		{[]string{"2024_1_expand01", "wallaby_contract01"}, GlanceNewer},
	}
	for _, c := range cases {
		if got := (Schema{Alembic: c.rows}).Glance(); got != c.want {
			t.Errorf("%v: %d, want %d", c.rows, got, c.want)
		}
	}
}
