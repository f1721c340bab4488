package importer

import (
	"context"

	"glint/internal/image"
)

// taskPayload is Glance's notification payload of a task: never its
// input (it may hold credentials) nor its result or message.
func taskPayload(t *Task) map[string]any {
	var exp = image.IsoTime(t.UpdatedAt) // Glance's isotime(None) is "now": the task's last change
	if t.ExpiresAt != nil {
		exp = image.IsoTime(*t.ExpiresAt)
	}
	var owner any
	if t.Owner != nil {
		owner = *t.Owner
	}
	return map[string]any{
		"id":         t.ID,
		"type":       t.Type,
		"status":     string(t.Status),
		"result":     nil,
		"owner":      owner,
		"message":    nil,
		"expires_at": exp,
		"created_at": image.IsoTime(t.CreatedAt),
		"updated_at": image.IsoTime(t.UpdatedAt),
		"deleted":    false,
		"deleted_at": nil,
	}
}

// notifyTask sends a task event (task.create, task.run, task.processing,
// task.success, task.failure) with the task as it is now.
func (im *Importer) notifyTask(ctx context.Context, eventType string, t *Task) {
	n := im.opts.Notifier
	if n == nil || !n.Enabled(eventType) {
		return
	}
	n.Notify(ctx, image.PriorityInfo, eventType, taskPayload(t))
}

// saveLocked is modifyLocked for a step in which Glance saves the image
// (a plugin's change, a failed store recorded, a revert): an
// image.update.
func (im *Importer) saveLocked(ctx context.Context, t *Task, fn func(*image.Image) error) (*image.Image, error) {
	img, err := im.modifyLocked(ctx, t, fn)
	if err == nil {
		im.s.NotifyImage(ctx, "image.update", img, nil)
	}
	return img, err
}
