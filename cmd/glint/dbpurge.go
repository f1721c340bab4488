package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"glint/internal/db"
)

const dbPurgeHelp = "glint db purge [--age_in_days N] [--max_rows M]: remove for good the rows that were\n" +
	"marked deleted more than N days ago (default 30), as glance-manage db purge does: task\n" +
	"information, image properties, tags, locations, members and tasks, children first.\n" +
	"The images table is left alone (OSSN-0075: a purged image's ID could be given to a\n" +
	"new image); glint db purge_images_table purges it.\n\n" +
	"At most M rows go from each table, the oldest first (default 100; -1: all of them),\n" +
	"in transactions of at most 1000 rows, so Glint and Glance keep serving meanwhile.\n" +
	"Run glint scrub first when delayed delete is on: a pending_delete location purged\n" +
	"leaves its data in the store (docs/operations.md)."

const dbPurgeImagesHelp = "glint db purge_images_table [--age_in_days N] [--max_rows M]: remove for good the\n" +
	"images marked deleted more than N days ago (default 180), as glance-manage db\n" +
	"purge_images_table does. A purged image's ID may be reused by a new image (OSSN-0075).\n" +
	"Images that child rows still refer to are kept and counted: run glint db purge first.\n\n" +
	"At most M images go, the oldest first (default 100; -1: all of them), in transactions\n" +
	"of at most 1000 rows."

// decimal is an integer flag read as Glance's argparse reads one: base 10
// only (Go's flag would take 010 as octal and 0x10 as hex).
type decimal struct {
	v   int64
	set bool
}

func (d *decimal) String() string { return strconv.FormatInt(d.v, 10) }
func (d *decimal) Set(s string) error {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("invalid int value: %q", s)
	}
	d.v, d.set = v, true
	return nil
}

// purgeArgs checks --age_in_days and --max_rows as glance-manage does, and
// returns the cut-off time, or the message that rejects them.
func purgeArgs(now time.Time, age, maxRows int64) (time.Time, string) {
	switch {
	case age < 0:
		return time.Time{}, "Must supply a non-negative value for age."
	case age >= now.Unix()/86400:
		return time.Time{}, "Maximal age is count of days since epoch."
	case maxRows < -1:
		return time.Time{}, "Minimal rows limit is -1."
	case maxRows > db.MaxPurgeRows:
		return time.Time{}, fmt.Sprintf("'max_rows' value out of range, must not exceed %d.", db.MaxPurgeRows)
	}
	return now.Add(-time.Duration(age) * 24 * time.Hour), ""
}

func dbPurgeCmd(ctx context.Context, images bool, args []string, stdout, stderr io.Writer) int {
	name, help, age := "db purge", dbPurgeHelp, int64(30)
	if images {
		name, help, age = "db purge_images_table", dbPurgeImagesHelp, 180
	}
	fs, c := newFlagSet(name, help, stderr)
	ageFlag, rowsFlag := &decimal{v: age}, &decimal{v: 100}
	fs.Var(ageFlag, "age_in_days", "purge rows deleted more than this many days ago")
	fs.Var(rowsFlag, "max_rows", "remove at most this many rows from each table, the oldest first; -1: all")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "glint %s: unexpected argument %q\n\n%s\n", name, fs.Arg(0), help)
		return 2
	}
	before, msg := purgeArgs(time.Now(), ageFlag.v, rowsFlag.v)
	if msg != "" {
		fmt.Fprintf(stderr, "glint %s: %s\n", name, msg)
		return 2
	}
	database, err := c.openDB(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "glint:", err)
		return 1
	}
	defer database.Close()
	fmt.Fprintf(stdout, "Purging rows deleted before %s (%d day(s) ago), %s:\n",
		before.UTC().Format("2006-01-02 15:04:05"), ageFlag.v, limitText(rowsFlag.v))
	var total int64
	report := func(p db.Purged) {
		total += p.Rows
		fmt.Fprintf(stdout, "  %-17s %d row(s) removed\n", p.Table, p.Rows)
	}
	if images {
		p, err := database.PurgeImages(ctx, before, rowsFlag.v)
		if err != nil {
			fmt.Fprintln(stderr, "glint:", err)
			return 1
		}
		report(p)
		if p.Kept > 0 {
			fmt.Fprintf(stdout, "  %d deleted image(s) old enough were kept: rows of other tables still refer to them (run glint db purge first).\n", p.Kept)
		}
	} else if err := database.Purge(ctx, before, rowsFlag.v, report); err != nil {
		fmt.Fprintln(stderr, "glint:", err)
		return 1
	}
	fmt.Fprintf(stdout, "Purged %d row(s).\n", total)
	return 0
}

func limitText(maxRows int64) string {
	if maxRows == -1 {
		return "all of them"
	}
	return "at most " + strconv.FormatInt(maxRows, 10) + " row(s) per table"
}
