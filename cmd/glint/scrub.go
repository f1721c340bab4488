package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"glint/internal/app"
	"glint/internal/config"
	"glint/internal/db"
	"glint/internal/image"
)

const scrubHelp = "glint scrub [--daemon] [--restore IMAGE_ID]: Glance's glance-scrubber.\n\n" +
	"One pass removes the data of images deleted under delayed_delete at least scrub_time\n" +
	"seconds ago, and returns to queued the images whose upload stopped showing signs of\n" +
	"life upload_stale_after seconds ago (their node was killed), removing what they wrote.\n" +
	"Safe to run on several nodes at once."

func scrubCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, c := newFlagSet("scrub", scrubHelp, stderr)
	daemon := fs.Bool("daemon", false, "keep running, one pass every wakeup_time seconds, until SIGTERM")
	restore := fs.String("restore", "", "bring this pending_delete image back to active instead of scrubbing")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "glint scrub: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, log, closeLog, ok := c.loadLogged(stderr)
	if !ok {
		return 1
	}
	defer closeLog()
	if err := scrubWith(ctx, cfg, log, *daemon, *restore, stdout); err != nil {
		fmt.Fprintln(stderr, "glint:", err)
		return 1
	}
	return 0
}

func scrubWith(ctx context.Context, cfg *config.Config, log *slog.Logger, daemon bool, restore string, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	database, svc, err := openImages(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer database.Close()
	if restore != "" {
		if err := svc.Restore(ctx, restore); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Image %s restored to active.\n", restore)
		return nil
	}
	for {
		rep, err := svc.Scrub(ctx, time.Duration(cfg.ScrubTime)*time.Second, time.Duration(cfg.UploadStaleAfter)*time.Second)
		if err != nil {
			if !daemon {
				return err
			}
			log.Error("scrubber pass failed", "err", err)
		} else {
			fmt.Fprintf(stdout, "scrubbed %d images, %d left for a later pass, %d abandoned uploads returned to queued\n",
				rep.Scrubbed, rep.Failed, rep.Recovered)
		}
		if !daemon {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Duration(max(cfg.WakeupTime, 1)) * time.Second):
		}
	}
}

// openImages opens the configured database and stores and an image
// service over them with the default policy, for the subcommands that act
// on images outside a serving node (scrub, cache). Close the database when
// done.
func openImages(ctx context.Context, cfg *config.Config, log *slog.Logger) (*db.DB, *image.Service, error) {
	database, err := db.Open(ctx, cfg.DatabaseConnection)
	if err != nil {
		return nil, nil, err
	}
	stores, err := app.OpenStores(ctx, cfg, log)
	if err != nil {
		database.Close()
		return nil, nil, err
	}
	return database, image.NewService(database.Images(), stores, nil, image.Options{}, log), nil
}
