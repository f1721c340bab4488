package image

import (
	"context"
	"sort"
	"strings"
	"time"

	"glint/internal/auth"
)

// Notifier sends Glance's notifications (internal/notify is one). Notify
// must not block: the request never waits for, nor fails with, a
// notification.
type Notifier interface {
	Enabled(eventType string) bool
	Notify(ctx context.Context, priority, eventType string, payload any)
}

// Priorities of notifications.
const (
	PriorityInfo  = "INFO"
	PriorityError = "ERROR"
)

// IsoTime is a time as Glance writes it in notifications: UTC, whole
// seconds, with a Z. The zero time is Glance's isotime(None): now.
func IsoTime(t time.Time) string {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// Payload is Glance's notification payload of an image: never its
// locations (they may hold credentials).
func Payload(img *Image) map[string]any {
	props := make(map[string]any, len(img.Properties))
	for k, v := range img.Properties {
		props[k] = v
	}
	tags := append([]string{}, img.Tags...)
	sort.Strings(tags)
	return map[string]any{
		"id":               img.ID,
		"name":             img.Name,
		"status":           string(img.Status),
		"created_at":       IsoTime(img.CreatedAt),
		"updated_at":       IsoTime(img.UpdatedAt),
		"min_disk":         img.MinDisk,
		"min_ram":          img.MinRAM,
		"protected":        img.Protected,
		"checksum":         img.Checksum,
		"owner":            img.Owner,
		"disk_format":      img.DiskFormat,
		"container_format": img.ContainerFormat,
		"size":             img.Size,
		"virtual_size":     img.VirtualSize,
		"is_public":        img.Visibility == Public,
		"visibility":       img.Visibility,
		"properties":       props,
		"tags":             tags,
		"deleted":          false,
		"deleted_at":       nil,
	}
}

// ImportPayload is Payload with what image.prepare and image.upload add:
// the stores an import still writes to and those that failed, as lists,
// and the store written to when one was named.
func ImportPayload(img *Image, backend string) map[string]any {
	p := Payload(img)
	p["os_glance_importing_to_stores"] = splitList(img.Properties["os_glance_importing_to_stores"])
	p["os_glance_failed_import"] = splitList(img.Properties["os_glance_failed_import"])
	if backend != "" {
		p["backend"] = backend
	}
	return p
}

func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// notify sends an image event with the image's payload, and extra keys.
func (s *Service) notify(ctx context.Context, eventType string, img *Image, extra map[string]any) {
	n := s.opts.Notifier
	if n == nil || !n.Enabled(eventType) {
		return
	}
	p := Payload(img)
	for k, v := range extra {
		p[k] = v
	}
	n.Notify(ctx, PriorityInfo, eventType, p)
}

// NotifyImage sends eventType (image.update, image.prepare, …) about img
// at INFO, for the importer's steps; extra keys are added to the
// image's payload.
func (s *Service) NotifyImage(ctx context.Context, eventType string, img *Image, extra map[string]any) {
	s.notify(ctx, eventType, img, extra)
}

// notifyImport sends image.prepare or image.upload with the import
// lists.
func (s *Service) notifyImport(ctx context.Context, eventType string, img *Image, backend string) {
	n := s.opts.Notifier
	if n == nil || !n.Enabled(eventType) {
		return
	}
	n.Notify(ctx, PriorityInfo, eventType, ImportPayload(img, backend))
}

// NotifyImport is notifyImport for the importer.
func (s *Service) NotifyImport(ctx context.Context, eventType string, img *Image, backend string) {
	s.notifyImport(ctx, eventType, img, backend)
}

// notifyUploadFailed sends Glance's image.upload error: its payload is
// the message alone.
func (s *Service) notifyUploadFailed(ctx context.Context, msg string) {
	if n := s.opts.Notifier; n != nil && n.Enabled("image.upload") {
		n.Notify(ctx, PriorityError, "image.upload", msg)
	}
}

// notifyDeleted sends image.delete: the image as it was, marked deleted.
func (s *Service) notifyDeleted(ctx context.Context, img *Image) {
	s.notify(ctx, "image.delete", img, map[string]any{"deleted": true, "deleted_at": IsoTime(s.now())})
}

// Sent records a download of img: sent bytes of the want asked for, as
// Glance's image.send (at ERROR when the data stopped short).
func (s *Service) Sent(ctx context.Context, img *Image, sent, want int64) {
	n := s.opts.Notifier
	if n == nil || !n.Enabled("image.send") {
		return
	}
	a := auth.From(ctx)
	prio := PriorityInfo
	if sent != want {
		prio = PriorityError
	}
	n.Notify(ctx, prio, "image.send", map[string]any{
		"bytes_sent":         sent,
		"image_id":           img.ID,
		"owner_id":           img.Owner,
		"receiver_tenant_id": nilIfEmpty(a.ProjectID),
		"receiver_user_id":   nilIfEmpty(a.UserID),
	})
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// memberPayload is Glance's payload of an image member.
func memberPayload(m *Member) map[string]any {
	return map[string]any{
		"image_id":   m.ImageID,
		"member_id":  m.MemberID,
		"status":     m.Status,
		"created_at": IsoTime(m.CreatedAt),
		"updated_at": IsoTime(m.UpdatedAt),
		"deleted":    false,
		"deleted_at": nil,
	}
}

func (s *Service) notifyMember(ctx context.Context, eventType string, m *Member, deleted bool) {
	n := s.opts.Notifier
	if n == nil || !n.Enabled(eventType) {
		return
	}
	p := memberPayload(m)
	if deleted {
		p["deleted"], p["deleted_at"] = true, IsoTime(s.now())
	}
	n.Notify(ctx, PriorityInfo, eventType, p)
}
