// Package importer is Glance's interoperable image import and its tasks:
// staging (PUT /v2/images/{id}/stage), the import methods (glance-direct,
// web-download, copy-image, glance-download) and their plugins, run as
// tasks on a bounded pool of workers, and the legacy tasks API. It works
// on images through image.Service's exported methods, which keep every
// image rule (who may do what, status changes, quotas); its own are the
// staging area, the tasks (TaskRepo, which internal/db implements) and
// the import lock.
package importer

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"glint/internal/auth"
	"glint/internal/errs"
	"glint/internal/image"
	"glint/internal/store"
	"glint/internal/urlfilter"
)

const (
	lockExpiry           = 60 * time.Minute // Glance's stale import lock age (doubled while pending)
	progressEvery        = 10 * time.Second
	defaultDownloadLimit = 24 * time.Hour
	staleStaging         = time.Hour
)

// Options are the import settings, taken from configuration at start.
type Options struct {
	Methods        []string      // enabled_import_methods
	StagingDir     string        // node_staging_uri's directory
	Workers        int           // imports running at once on this node
	TaskTimeToLive time.Duration // [task] task_time_to_live
	Filter         urlfilter.Options
	// StageHost is recorded in os_glance_stage_host after staging
	// (worker_self_reference_url or public_endpoint).
	StageHost string
	// Node names this node in its tasks' input, so that after a crash it
	// knows which unfinished tasks were its own.
	Node    string
	Plugins []string // [image_import_opts] image_import_plugins
	Plugin  PluginOptions
	// DownloadTimeout bounds a whole web-download.
	DownloadTimeout time.Duration
	// MultiStore is Glance's enabled_backends mode: imports name their
	// stores (stores, all_stores, X-Image-Meta-Store) and copy-image
	// copies between them.
	MultiStore bool
	// Catalog reads the caller's service catalog, where glance-download
	// finds the remote Image API; nil (no Keystone) fails those imports.
	Catalog CatalogFunc
	// DownloadProperties is [glance_download_properties]
	// extra_properties: prefixes of the properties glance-download copies.
	DownloadProperties []string
	// Notifier sends the task notifications; nil sends none. (The image
	// notifications of an import go through the image service.)
	Notifier image.Notifier
}

// ImageRepo is what the importer needs from the image repository for
// its own bookkeeping on an image (its lock, the stores it writes to).
type ImageRepo interface {
	Get(ctx context.Context, id string) (*image.Image, error)
	Modify(ctx context.Context, id string, fn func(old *image.Image) (*image.Image, error)) (*image.Image, error)
}

// Importer runs interoperable imports (stage, import, tasks) on top of an
// image.Service, with a bounded pool of background workers. It asks the
// service for every check on the caller and every status change; it
// keeps its lock and progress on the image through repo.
type Importer struct {
	s       *image.Service
	repo    ImageRepo
	stores  *store.Set
	log     *slog.Logger
	now     func() time.Time
	tasks   TaskRepo
	opts    Options
	staging *Staging
	sem     chan struct{}

	mu      sync.Mutex
	running map[string]bool // task ids queued or running on this node
	wg      sync.WaitGroup
	ctx     context.Context // cancelled on Close
	cancel  context.CancelFunc
}

// New wires an Importer on the image service s, its repository,
// the task repository and the stores; Start must be called before
// imports run.
func New(s *image.Service, repo ImageRepo, tasks TaskRepo, stores *store.Set, o Options, log *slog.Logger) (*Importer, error) {
	if log == nil {
		log = slog.Default()
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.TaskTimeToLive <= 0 {
		o.TaskTimeToLive = 48 * time.Hour
	}
	if o.DownloadTimeout <= 0 {
		o.DownloadTimeout = defaultDownloadLimit
	}
	staging, err := NewStaging(o.StagingDir, log)
	if err != nil {
		return nil, err
	}
	if o.Node == "" {
		h, _ := os.Hostname()
		o.Node = h + ":" + o.StagingDir
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Importer{s: s, repo: repo, stores: stores, log: log, now: time.Now, tasks: tasks, opts: o, staging: staging, sem: make(chan struct{}, o.Workers),
		running: map[string]bool{}, ctx: ctx, cancel: cancel}, nil
}

// Methods returns the enabled import methods.
func (im *Importer) Methods() []string { return im.opts.Methods }

// Start fails the tasks this node left unfinished when it last stopped
// (Glance leaves them, and their images locked, until the lock expires an
// hour later) and starts the expiry loop.
func (im *Importer) Start(ctx context.Context) error {
	if err := im.recover(ctx); err != nil {
		return err
	}
	im.wg.Add(1)
	go func() {
		defer im.wg.Done()
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-im.ctx.Done():
				return
			case <-t.C:
				if _, err := im.tasks.ExpireTasks(im.ctx, im.now().UTC()); err != nil && im.ctx.Err() == nil {
					im.log.Warn("could not expire tasks", "err", err)
				}
				im.sweepStaging(im.ctx, staleStaging)
			}
		}
	}()
	return nil
}

// Close stops the workers, failing the imports they were running, and
// waits for them.
func (im *Importer) Close() {
	im.cancel()
	im.wg.Wait()
}

func (im *Importer) recover(ctx context.Context) error {
	im.recoverStaging(ctx)
	for _, st := range []TaskStatus{TaskPending, TaskProcessing} {
		ts, err := im.tasks.TasksInStatus(ctx, TaskTypeImageImport, st)
		if err != nil {
			return fmt.Errorf("import recovery: %w", err)
		}
		for _, t := range ts {
			if node, _ := t.Input["glint_node"].(string); node != im.opts.Node {
				continue
			}
			im.log.Warn("failing an import left unfinished by a previous run of this node", "task_id", t.ID, "image_id", deref(t.ImageID))
			method := ""
			if req, ok := t.Input["import_req"].(map[string]any); ok {
				if m, ok := req["method"].(map[string]any); ok {
					method, _ = m["name"].(string)
				}
			}
			im.failImport(ctx, t, method, errs.E(errs.Unavailable, "Import was interrupted: the Glint node running it stopped"))
		}
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (im *Importer) enqueue(j *job) {
	im.mu.Lock()
	im.running[j.task.ID] = true
	im.mu.Unlock()
	im.wg.Add(1)
	go func() {
		defer im.wg.Done()
		defer func() {
			im.mu.Lock()
			delete(im.running, j.task.ID)
			im.mu.Unlock()
		}()
		select {
		case im.sem <- struct{}{}:
		case <-im.ctx.Done():
			im.failImport(context.Background(), j.task, j.req.Method, errs.E(errs.Unavailable, "Import was interrupted: the Glint node shut down"))
			return
		}
		defer func() { <-im.sem }()
		im.run(j)
	}()
}

// InFlight counts the imports and tasks of this node waiting for a
// worker (queued) and being run (running).
func (im *Importer) InFlight() (queued, running int) {
	im.mu.Lock()
	n := len(im.running)
	im.mu.Unlock()
	running = min(len(im.sem), n)
	return n - running, running
}

// Wait blocks until no import is queued or running on this node (tests).
func (im *Importer) Wait() {
	for {
		im.mu.Lock()
		n := len(im.running)
		im.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// run executes one import task on a worker.
func (im *Importer) run(j *job) {
	t := j.task
	ctx := auth.With(im.ctx, j.caller)
	log := im.log.With("task_id", t.ID, "image_id", deref(t.ImageID), "method", j.req.Method)
	now := im.now().UTC()
	t.Status, t.UpdatedAt = TaskProcessing, now
	if err := im.tasks.SaveTask(ctx, t, TaskPending); err != nil {
		log.Error("could not start import task", "err", err)
		return
	}
	t.Status = TaskProcessing
	im.notifyTask(ctx, "task.processing", t)
	if j.task.Type == TaskTypeImport {
		if err := im.runLegacy(ctx, j); err != nil {
			log.Warn("legacy import task failed", "err", err)
			msg := errs.Message(err)
			if msg == "" {
				msg = err.Error()
			}
			im.finishTask(context.Background(), t, TaskFailure, nil, msg)
		}
		return
	}
	err := im.runImport(ctx, j, log)
	if err != nil {
		if im.ctx.Err() != nil {
			err = errs.E(errs.Unavailable, "Import was interrupted: the Glint node shut down", err)
		}
		log.Warn("import failed", "err", err)
		im.failImport(context.Background(), t, j.req.Method, err)
		return
	}
	log.Info("import done")
}
