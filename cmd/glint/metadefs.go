package main

import (
	"context"
	"fmt"
	"io"

	"glint/internal/metadef"
)

const metadefsHelp = `glint metadefs load|export|unload: manage the metadata definitions catalog
(glance-manage db load_metadefs, export_metadefs, unload_metadefs).

  load DIR     load every *.json catalog file of DIR (Glance's format; Debian's
               glance-common installs Glance's under /etc/glance/metadefs).
               A namespace that already exists is skipped, unless:
                 --merge       add the objects, properties, tags and resource
                               type associations it lacks
                 --prefer-new  with --merge: the file's versions also replace
                               the stored ones
                 --overwrite   replace the namespace with the file's
  export DIR   write every namespace to DIR, one file each
  unload       delete every namespace and what it holds`

func metadefsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	sub, code, ok := subcommand(args, "metadefs", metadefsHelp, stderr, "load", "export", "unload")
	if !ok {
		return code
	}
	fs, c := newFlagSet("metadefs "+sub, metadefsHelp, stderr)
	var merge, preferNew, overwrite bool
	if sub == "load" {
		fs.BoolVar(&merge, "merge", false, "merge into namespaces that already exist")
		fs.BoolVar(&preferNew, "prefer-new", false, "with --merge, the file's definitions win")
		fs.BoolVar(&overwrite, "overwrite", false, "replace namespaces that already exist")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return flagExit(err)
	}
	wantDir := sub != "unload"
	if (wantDir && fs.NArg() != 1) || (!wantDir && fs.NArg() != 0) {
		fmt.Fprintf(stderr, "glint metadefs %s: wrong arguments\n\n%s\n", sub, metadefsHelp)
		return 2
	}
	if preferNew && !merge {
		fmt.Fprintln(stderr, "glint metadefs load: --prefer-new needs --merge")
		return 2
	}
	database, err := c.openDB(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "glint:", err)
		return 1
	}
	defer database.Close()
	if _, _, err := database.Prepare(ctx); err != nil {
		fmt.Fprintln(stderr, "glint:", err)
		return 1
	}
	repo := database.Metadefs()
	switch sub {
	case "load":
		mode := metadef.Skip
		switch {
		case overwrite:
			mode = metadef.Overwrite
		case preferNew:
			mode = metadef.PreferNew
		case merge:
			mode = metadef.Merge
		}
		res, err := metadef.LoadDir(ctx, repo, fs.Arg(0), mode)
		if err != nil {
			fmt.Fprintln(stderr, "glint:", err)
			return 1
		}
		for _, n := range res.Skipped {
			fmt.Fprintf(stdout, "Skipping namespace %s. It already exists in the database.\n", n)
		}
		fmt.Fprintf(stdout, "Metadata loading finished: %d namespaces created, %d merged, %d skipped.\n",
			len(res.Created), len(res.Merged), len(res.Skipped))
	case "export":
		files, err := metadef.ExportDir(ctx, repo, fs.Arg(0))
		if err != nil {
			fmt.Fprintln(stderr, "glint:", err)
			return 1
		}
		fmt.Fprintf(stdout, "Exported %d namespaces to %s.\n", len(files), fs.Arg(0))
	case "unload":
		n, err := metadef.Unload(ctx, repo)
		if err != nil {
			fmt.Fprintln(stderr, "glint:", err)
			return 1
		}
		fmt.Fprintf(stdout, "Unloaded %d namespaces.\n", n)
	}
	return 0
}
