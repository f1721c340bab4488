package importer

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"glint/internal/auth"
	"glint/internal/errs"
	"glint/internal/urlfilter"
)

// CreateLegacyTask creates and queues a task of the legacy tasks API
// (POST /v2/tasks). Only the import type is runnable: it creates an image
// from input.image_properties and fills it from input.import_from, a URL
// filtered exactly as web-download's.
func (im *Importer) CreateLegacyTask(ctx context.Context, typ string, input map[string]any) (*Task, error) {
	const op errs.Op = "importer.CreateLegacyTask"
	if err := im.s.AuthorizeAction(ctx, "add_task", nil); err != nil {
		return nil, errs.E(op, err)
	}
	if typ != TaskTypeImport {
		return nil, errs.Errorf(op, errs.Invalid, "Task type %s cannot be created through the tasks API", typ)
	}
	a := auth.From(ctx)
	now := im.now().UTC()
	t := &Task{
		ID: uuid.NewString(), Type: typ, Status: TaskPending, Owner: taskOwner(ctx), CreatedAt: now, UpdatedAt: now,
		RequestID: optRef(a.RequestID), UserID: optRef(a.UserID), Input: input,
	}
	if id, ok := input["image_id"].(string); ok {
		t.ImageID = &id
	}
	if err := im.tasks.CreateTask(ctx, t); err != nil {
		return nil, errs.E(op, err)
	}
	im.notifyTask(ctx, "task.create", t)
	// Glance sends task.run when its executor has the task: here, as it
	// is queued (before the worker owns t).
	im.notifyTask(ctx, "task.run", t)
	// The worker owns t from now on; the caller gets the task as created.
	created := *t
	im.enqueue(&job{task: t, req: &Request{Method: "legacy-import", Raw: map[string]any{}}, caller: a})
	return &created, nil
}

// runLegacy is the legacy import task: create the image, download its data.
func (im *Importer) runLegacy(ctx context.Context, j *job) error {
	in := j.task.Input
	from, _ := in["import_from"].(string)
	if from == "" {
		return errs.E(errs.Op("importer.runLegacy"), errs.Invalid, "Input does not contain 'import_from' field")
	}
	if f, _ := in["import_from_format"].(string); f == "" {
		return errs.E(errs.Op("importer.runLegacy"), errs.Invalid, "Input does not contain 'import_from_format' field")
	}
	props, ok := in["image_properties"].(map[string]any)
	if !ok {
		return errs.E(errs.Op("importer.runLegacy"), errs.Invalid, "Input does not contain 'image_properties' field")
	}
	if err := im.opts.Filter.Check(from); err != nil {
		return err
	}
	img, err := im.s.Create(ctx, props)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		if derr := im.s.Delete(context.WithoutCancel(ctx), img.ID); derr != nil {
			im.log.WarnContext(ctx, "could not delete the image of a failed legacy import", "image_id", img.ID, "err", derr)
		}
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, im.opts.DownloadTimeout)
	defer cancel()
	resp, err := im.opts.Filter.Get(dctx, im.opts.Filter.Client(urlfilter.ClientOptions{}), from)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fail(fmt.Errorf("download of %s failed: HTTP %s", redact(from), resp.Status))
	}
	if err := im.s.Upload(dctx, img.ID, im.stores.Default(), resp.Body, resp.ContentLength); err != nil {
		return fail(err)
	}
	return im.finishTask(ctx, j.task, TaskSuccess, map[string]any{"image_id": img.ID}, "")
}
