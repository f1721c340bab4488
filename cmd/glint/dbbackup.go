package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"glint/internal/db"
	"glint/internal/errs"
)

const dbBackupHelp = "glint db backup [--force] DEST: copy the embedded SQLite database to the file DEST,\n" +
	"consistently, while glint serve keeps serving (SQLite's online backup API).\n\n" +
	"The copy is a single self-contained file, checked before it is renamed to DEST.\n" +
	"To restore it: stop glint, remove the database with its -wal and -shm files,\n" +
	"put the copy in its place, start glint (docs/operations.md).\n" +
	"PostgreSQL and MySQL/MariaDB are backed up with their own tools (pg_dump,\n" +
	"mariadb-dump); for them this command says so and exits with status 1."

func dbBackupCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, c := newFlagSet("db backup", dbBackupHelp, stderr)
	force := fs.Bool("force", false, "replace DEST if it exists")
	// DEST may come before or after the flags.
	var dest []string
	for {
		if err := fs.Parse(args); err != nil {
			return flagExit(err)
		}
		if fs.NArg() == 0 {
			break
		}
		dest = append(dest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(dest) != 1 {
		fmt.Fprintf(stderr, "glint db backup: name one destination file (got %d)\n\n%s\n", len(dest), dbBackupHelp)
		return 2
	}
	cfg, err := c.load()
	if err != nil {
		fmt.Fprintln(stderr, "glint:", err)
		return 1
	}
	res, err := db.Backup(ctx, cfg.DatabaseConnection, dest[0], *force)
	if err != nil {
		if errors.Is(err, db.ErrNotEmbedded) {
			fmt.Fprintln(stderr, "glint db backup:", errs.Message(err))
		} else {
			fmt.Fprintln(stderr, "glint:", err)
		}
		return 1
	}
	fmt.Fprintf(stdout, "Backed up %s to %s: %d pages, %d bytes, %d image rows, in %s; quick_check ok.\n",
		res.Source, res.Dest, res.Pages, res.Bytes, res.Images, res.Took.Round(1e6))
	return 0
}
