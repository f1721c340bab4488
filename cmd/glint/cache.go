package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"glint/internal/app"
)

const cacheHelp = "glint cache <prefetch|prune|clean|list|queue ID|delete ID>: the image cache's\n" +
	"periodic work for operators who run it from cron (Glance's glance-cache-prefetcher,\n" +
	"glance-cache-pruner, glance-cache-cleaner), and a look at the cache.\n\n" +
	"  prefetch   cache every queued image\n" +
	"  prune      remove least recently used files down to image_cache_max_size\n" +
	"  clean      remove stalled incomplete files, invalid files, and files of deleted images\n" +
	"  list       print the cached and the queued images\n" +
	"  queue ID   queue an image for the next prefetch\n" +
	"  delete ID  remove an image from the cache and the queue\n\n" +
	"glint serve does the same work every cache_prefetcher_interval seconds; both may run."

func cacheCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, c := newFlagSet("cache", cacheHelp, stderr)
	// The subcommand may come before the flags or after them.
	var sub string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	rest := fs.Args()
	if sub == "" && len(rest) > 0 {
		sub, rest = rest[0], rest[1:]
	}
	want := map[string]int{"prefetch": 0, "prune": 0, "clean": 0, "list": 0, "queue": 1, "delete": 1}
	n, ok := want[sub]
	if !ok || len(rest) != n {
		fmt.Fprintf(stderr, "glint cache: want one of prefetch, prune, clean, list, queue ID, delete ID\n")
		return 2
	}
	cfg, log, closeLog, ok := c.loadLogged(stderr)
	if !ok {
		return 1
	}
	defer closeLog()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := func() error {
		database, svc, err := openImages(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer database.Close()
		cache, closeCache, err := app.OpenCache(ctx, cfg, database, svc, log)
		if err != nil {
			return err
		}
		if cache == nil {
			return fmt.Errorf("this configuration has no image cache: set image_cache_dir, or a caching [paste_deploy] flavor")
		}
		defer closeCache()
		defer cache.Close()
		switch sub {
		case "prefetch":
			n, err := cache.Prefetch(ctx)
			fmt.Fprintf(stdout, "prefetched %d images\n", n)
			return err
		case "prune":
			files, bytes, err := cache.Prune(ctx)
			fmt.Fprintf(stdout, "pruned %d files, %d bytes\n", files, bytes)
			return err
		case "clean":
			n, err := cache.Clean(ctx)
			fmt.Fprintf(stdout, "cleaned %d files\n", n)
			return err
		case "queue":
			return cache.Queue(rest[0])
		case "delete":
			if err := cache.Delete(ctx, rest[0]); err != nil {
				return err
			}
			return cache.Dequeue(rest[0])
		}
		recs, err := cache.Cached(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%-36s  %12s  %6s  %s\n", "cached image", "size", "hits", "last accessed")
		for _, r := range recs {
			fmt.Fprintf(stdout, "%-36s  %12d  %6d  %s\n", r.ImageID, r.Size, r.Hits, r.LastAccessed.UTC().Format(time.RFC3339))
		}
		q, err := cache.Queued()
		if err != nil {
			return err
		}
		for _, id := range q {
			fmt.Fprintf(stdout, "%-36s  queued\n", id)
		}
		return nil
	}()
	if err != nil {
		fmt.Fprintln(stderr, "glint:", err)
		return 1
	}
	return 0
}
