package image

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
)

// uploadLog is this node's own record of the uploads it is writing: an
// empty file per image in a directory only this node uses, whose mtime is
// the upload's last sign of life. After the node is killed, its next start
// reads the directory (RecoverOwnUploads) and puts those images back at
// once, instead of leaving them saving until the stale-upload sweep of
// some node (upload_stale_after) notices them.
type uploadLog struct{ dir string }

func (l *uploadLog) path(id string) string { return filepath.Join(l.dir, id) }

func (l *uploadLog) begin(id string) error {
	if l == nil {
		return nil
	}
	return os.WriteFile(l.path(id), nil, 0o600)
}

func (l *uploadLog) alive(id string) {
	if l != nil {
		now := time.Now()
		os.Chtimes(l.path(id), now, now)
	}
}

func (l *uploadLog) end(id string) {
	if l != nil {
		os.Remove(l.path(id))
	}
}

// held returns the uploads the log holds, with their last sign of life.
func (l *uploadLog) held() (map[string]time.Time, error) {
	ents, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, err
	}
	out := make(map[string]time.Time, len(ents))
	for _, e := range ents {
		if _, err := uuid.Parse(e.Name()); err != nil {
			continue
		}
		if fi, err := e.Info(); err == nil {
			out[e.Name()] = fi.ModTime()
		}
	}
	return out, nil
}

// RecoverOwnUploads puts back the uploads this node was writing when it
// last stopped without finishing them (killed, or its machine lost): their
// partial data is removed and their images, if still saving with no sign
// of life since this node's last heartbeat, are queued again. An image some
// other node has since recovered or taken a new upload for is left alone.
// Call it before serving; it returns how many images it queued again.
func (s *Service) RecoverOwnUploads(ctx context.Context) (int, error) {
	if s.uploads == nil {
		return 0, nil
	}
	held, err := s.uploads.held()
	if err != nil {
		return 0, err
	}
	n := 0
	for id, lastAlive := range held {
		img, err := s.repo.Get(ctx, id)
		if err == nil && img.Status == Saving && !img.UpdatedAt.After(lastAlive.Add(time.Second)) {
			// Within a second of the heartbeat: the heartbeat stamps
			// updated_at just before the file; anything later was
			// another node.
			if s.recoverUpload(ctx, img, lastAlive.Add(time.Second+time.Nanosecond)) {
				n++
			}
		}
		s.uploads.end(id)
	}
	return n, nil
}

// RecoverStaleUploads returns to queued the images whose upload showed no
// sign of life for staleAfter (their node died and did not come back),
// removing what they had written. Every node runs it periodically; the
// status change is conditional, so two nodes never both act on one image.
func (s *Service) RecoverStaleUploads(ctx context.Context, staleAfter time.Duration) (int, error) {
	stale, err := s.repo.StaleUploads(ctx, s.now().Add(-staleAfter))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, img := range stale {
		if s.recoverUpload(ctx, img, s.now().Add(-staleAfter)) {
			n++
		}
	}
	return n, nil
}
