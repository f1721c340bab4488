package importer

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"glint/internal/auth"
	"glint/internal/errs"
	"glint/internal/image"
	"glint/internal/urlfilter"
)

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
		if err := checkGlanceDownload(req); err != nil {
			return errs.E(op, err)
		}
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
		// As Glance: what the filter refuses, the unresolvable host
		// included, is a 400 here; what fails later fails the task.
		if err := im.opts.Filter.CheckResolve(ctx, req.URI); err != nil {
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
	im.notifyTask(ctx, "task.create", t)
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
	im.notifyTask(ctx, "task.run", t)
	im.enqueue(&job{task: t, req: req, caller: a, stores: stores})
	return nil
}

// checkGlanceDownload refuses a glance-download request as Glance's API
// does, before any task: the region and the remote image's id are
// required, and the id must read as a UUID.
func checkGlanceDownload(req *Request) error {
	const op errs.Op = "importer.checkGlanceDownload"
	if !req.HasGlanceRegion {
		return errs.E(op, errs.Invalid, "'glance_region' needs to be set for glance-download import method")
	}
	if !req.HasGlanceImageID {
		return errs.E(op, errs.Invalid, "'glance_image_id' needs to be set for glance-download import method")
	}
	if s, ok := req.GlanceImageID.(string); !ok || uuid.Validate(s) != nil {
		return errs.Errorf(op, errs.Invalid, "Remote image id does not look like a UUID: %v", req.GlanceImageID)
	}
	// As Glance, the interface defaults to public, in the task's input too.
	if m, ok := req.Raw["method"].(map[string]any); ok {
		if _, set := m["glance_service_interface"]; !set {
			m["glance_service_interface"] = "public"
		}
	}
	return nil
}

// importCharge is what an import by method to nStores counts against
// its owner's quotas as it starts (see image.ImportCharge).
func importCharge(method string, nStores int) image.ImportCharge {
	switch method {
	case MethodGlanceDirect:
		return image.ImportCharge{StoredCopies: max(nStores, 1)}
	case MethodWebDownload, MethodCopyImage, MethodGlanceDownload:
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
	case MethodGlanceDownload:
		restore, err := im.glanceDownload(ctx, j, staged)
		if err == nil {
			err = im.importStaged(ctx, j, staged)
		}
		if err != nil && restore != nil {
			// Glance's revert: the image keeps the formats and
			// properties it had before the import.
			restore(context.WithoutCancel(ctx))
		}
		return err
	default:
		return errs.Errorf("importer.runImport", errs.Invalid, "import method %s is not supported", j.req.Method)
	}
	return im.importStaged(ctx, j, staged)
}

// importStaged runs the plugins on the staged data and imports it to the
// job's stores.
func (im *Importer) importStaged(ctx context.Context, j *job, staged string) error {
	if err := im.runPlugins(ctx, j, staged); err != nil {
		return err
	}
	if err := im.importToStores(ctx, j, im.openStaged(staged)); err != nil {
		return err
	}
	im.unstage(ctx, deref(j.task.ImageID))
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
	// The task fails last, as Glance's revert releases the image before
	// the task is marked: a client that sees the failure sees the image
	// queued again.
	defer func() {
		if t.Status == TaskPending || t.Status == TaskProcessing {
			if err := im.finishTask(ctx, t, TaskFailure, nil, msg); err != nil {
				im.log.WarnContext(ctx, "could not fail import task", "task_id", t.ID, "err", err)
			}
		}
	}()
	id := deref(t.ImageID)
	if id == "" {
		return
	}
	var orphans []image.Location
	released, err := im.modifyLocked(ctx, t, func(n *image.Image) error {
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
	if err == nil {
		im.s.NotifyImage(ctx, "image.update", released, nil)
	}
	if method != MethodCopyImage {
		im.unstage(ctx, id)
	}
}
