// Package importer is Glance's interoperable image import and its tasks:
// staging (PUT /v2/images/{id}/stage), the import methods (glance-direct,
// web-download, copy-image) and their plugins, run as tasks on a bounded
// pool of workers, and the legacy tasks API. It works on images through
// image.Service's exported methods, which keep every image rule (who may
// do what, status changes, quotas); its own are the staging area, the
// tasks (TaskRepo, which internal/db implements) and the import lock.
package importer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"glint/internal/auth"
	"glint/internal/errs"
	"glint/internal/image"
	"glint/internal/imageformat"
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

// stagingPath is where an image's staged data lives on this node.
func (im *Importer) stagingPath(id string) string { return im.staging.Path(id) }

// unstage removes an image's staged data, if any.
func (im *Importer) unstage(ctx context.Context, id string) { im.staging.Drop(ctx, id) }

// Stage streams data to the staging area: queued → uploading (PUT
// /v2/images/{id}/stage). The data is inspected as it arrives: an unsafe
// image (qcow2 with a backing or data file, VMDK with extents, two formats
// at once…) or one whose content contradicts a disk_format already set is
// refused with 415 and nothing is kept, the image back to queued.
func (im *Importer) Stage(ctx context.Context, id string, body io.Reader, size int64) error {
	const op errs.Op = "importer.Stage"
	if !slices.Contains(im.opts.Methods, MethodGlanceDirect) {
		return errs.E(op, errs.NotFound, "The resource could not be found.")
	}
	img, body, err := im.s.BeginStage(ctx, id, body, size)
	if err != nil {
		return err
	}
	fail := func(cause error) error {
		im.unstage(ctx, id)
		if err := im.s.AbandonStage(ctx, id); err != nil && !errs.Is(errs.NotFound, err) {
			im.log.ErrorContext(ctx, "could not return image to queued after a failed stage", "image_id", id, "err", err)
		}
		if errs.KindOf(cause) == errs.Other {
			return errs.E(op, errs.Unavailable, "Error writing to the staging area.", cause)
		}
		return errs.E(op, cause)
	}
	dst := im.stagingPath(id)
	if _, err := os.Stat(dst); err == nil {
		// Left behind by a crash between writing and recording; the image
		// is queued, so it is stale.
		os.Remove(dst)
	}
	insp := imageformat.New()
	written, err := writeFile(dst, io.TeeReader(body, insp))
	if err == nil && size >= 0 && written != size {
		err = errs.Errorf(op, errs.Invalid, "Image size mismatch: %d bytes announced, %d received", size, written)
	}
	if err != nil {
		return fail(err)
	}
	if cerr := checkStaged(insp.Result(), img); cerr != nil {
		return fail(errs.E(op, errs.BadFormat, errs.Message(cerr), cerr))
	}
	err = im.s.EndStage(ctx, img, written, im.opts.StageHost)
	if errs.Is(errs.TooLarge, err) {
		return fail(err)
	}
	if err != nil {
		im.unstage(ctx, id)
		if errs.Is(errs.NotFound, err) {
			return errs.E(op, errs.Gone, "Image was deleted while its data was being staged", err)
		}
		return errs.E(op, err)
	}
	return nil
}

// checkStaged inspects staged data: always for safety, and against the
// declared disk_format when one is set on a bare image.
func checkStaged(r imageformat.Result, img *image.Image) error {
	if img.ContainerFormat != nil && *img.ContainerFormat != "bare" {
		return nil
	}
	df := r.Format
	if df == "" {
		df = "raw"
	}
	if img.DiskFormat != nil {
		df = *img.DiskFormat
	}
	return imageformat.Check(r, df)
}

// writeFile writes r to path through a temporary file, so that a reader
// of path never sees partial data; on error nothing is left.
func writeFile(path string, r io.Reader) (int64, error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return n, err
	}
	return n, nil
}

// job is an import waiting for or holding a worker.
type job struct {
	task   *Task
	req    *Request
	caller *auth.Context
	stores []string // the stores to write to; "" is the default store without enabled_backends
}

// Import validates an import request and queues its task (POST
// /v2/images/{id}/import); the work happens in the background.
func (im *Importer) Import(ctx context.Context, id string, req *Request) error {
	const op errs.Op = "importer.Import"
	img, err := im.s.Fetch(ctx, id)
	if err != nil {
		return errs.E(op, err)
	}
	method := req.Method
	switch {
	case img.Status == image.Active && method != MethodCopyImage:
		return errs.E(op, errs.Conflict, "Image with status active cannot be target for import")
	case img.Status != image.Active && method == MethodCopyImage:
		return errs.E(op, errs.Conflict, "Only images with status active can be targeted for copying")
	case img.Status != image.Queued && (method == MethodWebDownload || method == MethodGlanceDownload):
		return errs.Errorf(op, errs.Conflict, "Image needs to be in 'queued' state to use '%s' method", method)
	case method == MethodGlanceDirect && (img.Status != image.Uploading || img.Size == nil):
		// Glint: an image whose staging is still streaming (uploading, no
		// size yet) is not staged either.
		return errs.E(op, errs.Conflict, "Image needs to be staged before 'glance-direct' method can be used")
	case img.ContainerFormat == nil || *img.ContainerFormat == "":
		return errs.E(op, errs.Conflict, "'container_format' needs to be set before import")
	case img.DiskFormat == nil || *img.DiskFormat == "":
		return errs.E(op, errs.Conflict, "'disk_format' needs to be set before import")
	}
	if method == MethodGlanceDownload {
		return errs.E(op, errs.Invalid, "The glance-download import method needs Keystone and is not available in this version of Glint")
	}
	if method == MethodCopyImage {
		if err := im.s.Authorize(ctx, "copy_image", img); err != nil {
			return errs.E(op, err)
		}
	} else if err := im.s.AuthorizeOwner(ctx, "modify_image", img); err != nil {
		return errs.E(op, err)
	}
	var stolen *Task
	if holder, ok := img.Properties[image.PropImportTask]; ok {
		if stolen, err = im.enforceLock(ctx, img, holder); err != nil {
			return errs.E(op, err)
		}
	}
	stores, err := im.importStores(img, req)
	if err != nil {
		return errs.E(op, err)
	}
	if method == MethodCopyImage && len(stores) == 0 {
		// all_stores and the image is in every store already: Glance
		// answers 202 and does nothing.
		return nil
	}
	if !req.AllStoresMustSucceed && !im.opts.MultiStore {
		return errs.Errorf(op, errs.Invalid, "All_stores_must_succeed can only be set with enabled_backends %s", noneIfEmpty(req.URI))
	}
	if method == MethodWebDownload {
		if err := im.opts.Filter.Check(req.URI); err != nil {
			return errs.E(op, err)
		}
	}

	a := auth.From(ctx)
	now := im.now().UTC()
	t := &Task{
		ID: uuid.NewString(), Type: TaskTypeImageImport, Status: TaskPending, Owner: taskOwner(ctx),
		CreatedAt: now, UpdatedAt: now, ImageID: &id, RequestID: optRef(a.RequestID), UserID: optRef(a.UserID),
		Input: map[string]any{"image_id": id, "import_req": req.Raw, "backend": backendInput(stores), "glint_node": im.opts.Node},
	}
	if err := im.tasks.CreateTask(ctx, t); err != nil {
		return errs.E(op, err)
	}
	// Take the lock and mark the image importing in one step, so that a
	// client polling the image never sees the task running on a queued image.
	take := func(cur *image.Image) (*image.Image, error) {
		if h, ok := cur.Properties[image.PropImportTask]; ok && (stolen == nil || h != stolen.ID) {
			return nil, errs.Errorf(op, errs.Conflict, "New operation on image '%s' is not permitted as prior operation is still in progress", id)
		}
		if cur.Status != img.Status {
			return nil, errs.Errorf(op, errs.Conflict, "Image status transition from %s to importing is not allowed", cur.Status)
		}
		n := cur.Clone()
		n.Properties[image.PropImportTask] = t.ID
		if method != MethodCopyImage {
			n.Status = image.Importing
		}
		// Glance adds the stores to the importing list and takes them off
		// the failed one; with one store both stay empty.
		n.Properties[image.PropImportingStores] = mergeStores(n.Properties[image.PropImportingStores], stores, nil)
		n.Properties[image.PropFailedImport] = mergeStores(n.Properties[image.PropFailedImport], nil, stores)
		if stolen != nil || !im.opts.MultiStore {
			// What a broken lock's import left is stale.
			n.Properties[image.PropImportingStores] = mergeStores("", stores, nil)
		}
		delete(n.Properties, image.PropStageHost)
		n.UpdatedAt = im.now().UTC()
		return n, nil
	}
	if err := im.s.StartImport(ctx, img, importCharge(method, len(stores)), take); err != nil {
		im.finishTask(ctx, t, TaskFailure, nil, errs.Message(err))
		return errs.E(op, err)
	}
	im.enqueue(&job{task: t, req: req, caller: a, stores: stores})
	return nil
}

// importCharge is what an import by method to nStores counts against
// its owner's quotas as it starts (see image.ImportCharge).
func importCharge(method string, nStores int) image.ImportCharge {
	switch method {
	case MethodGlanceDirect:
		return image.ImportCharge{StoredCopies: max(nStores, 1)}
	case MethodWebDownload, MethodCopyImage:
		return image.ImportCharge{Staged: true}
	}
	return image.ImportCharge{}
}

func noneIfEmpty(s string) string {
	if s == "" {
		return "None"
	}
	return s
}

// enforceLock is Glance's import lock rule: a lock held by a live task is
// a 409; one whose task is gone, or finished or silent for an hour (two
// while pending), is broken and that task failed.
func (im *Importer) enforceLock(ctx context.Context, img *image.Image, holder string) (*Task, error) {
	const op errs.Op = "importer.Import"
	t, err := im.tasks.GetTask(ctx, holder)
	if err != nil && !errs.Is(errs.NotFound, err) {
		return nil, err
	}
	if t != nil {
		expiry := lockExpiry
		if t.Status == TaskPending {
			expiry *= 2
		}
		if im.now().Sub(t.UpdatedAt) < expiry {
			return nil, errs.E(op, errs.Conflict, "Image has active task")
		}
		if t.Status == TaskPending || t.Status == TaskProcessing {
			im.finishTask(ctx, t, TaskFailure, nil, "Expired lock preempted")
		}
	}
	im.log.WarnContext(ctx, "breaking a stale import lock", "image_id", img.ID, "task_id", holder)
	if t == nil {
		t = &Task{ID: holder}
	}
	return t, nil
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

func (im *Importer) runImport(ctx context.Context, j *job, log interface {
	Info(string, ...any)
}) error {
	id := deref(j.task.ImageID)
	staged := im.stagingPath(id)
	switch j.req.Method {
	case MethodWebDownload:
		if err := im.download(ctx, j, staged); err != nil {
			return err
		}
	case MethodGlanceDirect:
		if _, err := os.Stat(staged); err != nil {
			return errs.E(errs.NotFound, "Staged image data not found on this node", err)
		}
	case MethodCopyImage:
		return im.copyImage(ctx, j)
	default:
		return errs.Errorf("importer.runImport", errs.Invalid, "import method %s is not supported", j.req.Method)
	}
	if err := im.runPlugins(ctx, j, staged); err != nil {
		return err
	}
	if err := im.importToStores(ctx, j, im.openStaged(staged)); err != nil {
		return err
	}
	im.unstage(ctx, id)
	return nil
}

// download fetches a web-download URI into the staging area, through the
// import filter (checked again on every redirect and every connection).
func (im *Importer) download(ctx context.Context, j *job, dst string) error {
	const op errs.Op = "importer.webDownload"
	ctx, cancel := context.WithTimeout(ctx, im.opts.DownloadTimeout)
	defer cancel()
	resp, err := im.opts.Filter.Get(ctx, im.opts.Filter.Client(urlfilter.ClientOptions{}), j.req.URI)
	if err != nil {
		return errs.E(op, errs.Invalid, fmt.Sprintf("web-download of %s failed: %v", redact(j.req.URI), err), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return errs.Errorf(op, errs.Invalid, "web-download of %s failed: HTTP %s", redact(j.req.URI), resp.Status)
	}
	capN := im.s.SizeCap()
	if resp.ContentLength > capN {
		return errs.Errorf(op, errs.TooLarge, "The incoming image is too large: %d bytes, and the limit is %d.", resp.ContentLength, capN)
	}
	r := im.s.CapReader(resp.Body)
	pr := &progressReader{r: r, every: progressEvery, report: func(n int64) { im.progress(ctx, j.task, n) }}
	_, err = writeFile(dst, pr)
	return err
}

func redact(raw string) string {
	if i := strings.Index(raw, "@"); i >= 0 {
		if j := strings.Index(raw, "://"); j >= 0 && j < i {
			return raw[:j+3] + "***" + raw[i:]
		}
	}
	return raw
}

// progress records how far a task got, as Glance's "Copied N MiB"; the
// save also keeps the task's updated_at fresh, so its lock is not broken.
// It saves a copy: the reader calling it may still run on the pipe's
// goroutine while the worker finishes the task after a failure.
func (im *Importer) progress(ctx context.Context, t *Task, n int64) {
	c := *t
	c.Message = fmt.Sprintf("Copied %d MiB", n>>20)
	c.UpdatedAt = im.now().UTC()
	if err := im.tasks.SaveTask(ctx, &c, TaskProcessing); err != nil {
		im.log.WarnContext(ctx, "could not record import progress", "task_id", t.ID, "err", err)
	}
}

type progressReader struct {
	r      io.Reader
	n      int64
	last   time.Time
	every  time.Duration
	report func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if now := time.Now(); now.Sub(p.last) >= p.every {
		if !p.last.IsZero() {
			p.report(p.n)
		}
		p.last = now
	}
	return n, err
}

// modifyLocked changes the image as long as this task still holds its lock.
func (im *Importer) modifyLocked(ctx context.Context, t *Task, fn func(*image.Image) error) (*image.Image, error) {
	return im.repo.Modify(context.WithoutCancel(ctx), deref(t.ImageID), func(cur *image.Image) (*image.Image, error) {
		if cur.Properties[image.PropImportTask] != t.ID {
			return nil, errs.Errorf("importer.modifyLocked", errs.Conflict, "Image %s is no longer locked by import task %s", cur.ID, t.ID)
		}
		n := cur.Clone()
		if err := fn(n); err != nil {
			return nil, err
		}
		n.UpdatedAt = im.now().UTC()
		return n, nil
	})
}

// failImport fails a task and releases its image: back to queued (unless
// copy-image), progress properties cleared, lock dropped, staged data
// removed.
func (im *Importer) failImport(ctx context.Context, t *Task, method string, cause error) {
	msg := errs.Message(cause)
	if msg == "" {
		msg = cause.Error()
	}
	if t.Status == TaskPending || t.Status == TaskProcessing {
		if err := im.finishTask(ctx, t, TaskFailure, nil, msg); err != nil {
			im.log.WarnContext(ctx, "could not fail import task", "task_id", t.ID, "err", err)
		}
	}
	id := deref(t.ImageID)
	if id == "" {
		return
	}
	var orphans []image.Location
	_, err := im.modifyLocked(ctx, t, func(n *image.Image) error {
		if method != MethodCopyImage && (n.Status == image.Importing || n.Status == image.Uploading) {
			// An image being imported had no data before: the copies an
			// interrupted import wrote go too. (With
			// all_stores_must_succeed false an image already active keeps
			// the copies that were made.)
			orphans = n.Locations
			n.Locations = nil
			n.Status = image.Queued
			n.Size, n.VirtualSize = nil, nil
			n.Checksum, n.OSHashAlgo, n.OSHashValue = nil, nil, nil
		}
		// Glint: the stores still listed as importing are not: the import
		// is over (Glance leaves them, and the image counts as uploading
		// against the quotas for good). The failed stores stay listed.
		n.Properties[image.PropImportingStores] = ""
		if !im.opts.MultiStore {
			n.Properties[image.PropFailedImport] = ""
		}
		delete(n.Properties, image.PropImportTask)
		delete(n.Properties, image.PropStageHost)
		return nil
	})
	for _, l := range orphans {
		im.s.DeleteData(ctx, id, l.URL)
	}
	if err != nil && !errs.Is(errs.NotFound, err) {
		im.log.WarnContext(ctx, "could not release image after failed import", "image_id", id, "task_id", t.ID, "err", err)
	}
	if method != MethodCopyImage {
		im.unstage(ctx, id)
	}
}

// StagedElsewhere returns the URL of the node holding an image's staged
// data when that is another node and this one has no copy (Glance's
// os_glance_stage_host rule); "" otherwise.
func (im *Importer) StagedElsewhere(ctx context.Context, id string) string {
	img, err := im.s.Fetch(ctx, id)
	if err != nil || img.Status != image.Uploading {
		return ""
	}
	host := img.Properties[image.PropStageHost]
	if host == "" || strings.TrimSuffix(host, "/") == strings.TrimSuffix(im.opts.StageHost, "/") {
		return ""
	}
	if _, err := os.Stat(im.stagingPath(id)); err == nil {
		return ""
	}
	return host
}

// sweepStaging removes staged data whose image is gone or no longer
// waiting for an import: left behind when an image staged here was
// deleted through another node, or by a crash. Files younger than grace
// are left alone (a stage may be in flight).
func (im *Importer) sweepStaging(ctx context.Context, grace time.Duration) {
	ents, err := os.ReadDir(im.opts.StagingDir)
	if err != nil {
		return
	}
	for _, d := range ents {
		name := d.Name()
		id := strings.TrimSuffix(strings.TrimSuffix(name, ".tmp"), ".work")
		if _, err := uuid.Parse(id); err != nil {
			continue
		}
		info, err := d.Info()
		if err != nil || time.Since(info.ModTime()) < grace {
			continue
		}
		img, err := im.repo.Get(ctx, id)
		switch {
		case errs.Is(errs.NotFound, err):
		case err != nil:
			continue
		case img.Status == image.Uploading || img.Status == image.Importing:
			continue
		}
		im.log.InfoContext(ctx, "removing stale staged data", "image_id", id, "file", name)
		os.Remove(filepath.Join(im.opts.StagingDir, name))
	}
}

// recoverStaging cleans up stages this node was writing when it stopped:
// their partial files are removed and their images, still uploading
// without a size, are queued again (Glance leaves them uploading).
func (im *Importer) recoverStaging(ctx context.Context) {
	ents, err := os.ReadDir(im.opts.StagingDir)
	if err != nil {
		return
	}
	for _, d := range ents {
		id, ok := strings.CutSuffix(d.Name(), ".tmp")
		if !ok {
			continue
		}
		os.Remove(filepath.Join(im.opts.StagingDir, d.Name()))
		if _, err := uuid.Parse(id); err != nil {
			continue
		}
		_, err := im.repo.Modify(ctx, id, func(cur *image.Image) (*image.Image, error) {
			if cur.Status != image.Uploading || cur.Size != nil {
				return nil, errs.E(errs.Conflict, "not an interrupted stage")
			}
			n := cur.Clone()
			n.Status = image.Queued
			n.UpdatedAt = im.now().UTC()
			return n, nil
		})
		if err == nil {
			im.log.WarnContext(ctx, "staging interrupted by a stop of this node; image queued again", "image_id", id)
		}
	}
}
