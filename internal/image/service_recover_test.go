package image_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"glint/internal/image"
)

// TestRecoverOwnUploads: what a node finds in its upload log when it starts
// again after being killed, and what it does with each image.
func TestRecoverOwnUploads(t *testing.T) {
	killedAt := time.Now().Add(-time.Minute).Truncate(time.Second)
	cases := []struct {
		name      string
		status    image.Status
		updatedAt time.Time // of the image when the node starts again
		want      image.Status
		partial   bool // the partial data is still there afterwards
	}{
		{"killed mid-upload", image.Saving, killedAt, image.Queued, false},
		{"heartbeat stamped the row just before the log", image.Saving, killedAt.Add(-300 * time.Millisecond), image.Queued, false},
		{"another node recovered it and took a new upload", image.Saving, killedAt.Add(10 * time.Minute), image.Saving, true},
		{"another node recovered it", image.Queued, killedAt.Add(10 * time.Minute), image.Queued, true},
		{"finished before the kill", image.Active, killedAt, image.Active, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			logDir := filepath.Join(t.TempDir(), "uploads")
			e := newEnv(t, nil, func(o *image.Options) { o.UploadLogDir = logDir })
			img := rawImage(e)
			e.set(img.ID, func(i *image.Image) { i.Status, i.UpdatedAt = c.status, c.updatedAt })
			part := filepath.Join(e.dir, "."+img.ID+".part-0123456789abcdef")
			if err := os.WriteFile(part, []byte("half"), 0o600); err != nil {
				t.Fatal(err)
			}
			entry := filepath.Join(logDir, img.ID)
			if err := os.WriteFile(entry, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(entry, killedAt, killedAt); err != nil {
				t.Fatal(err)
			}
			n, err := e.svc.RecoverOwnUploads(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if got := e.stored(img.ID).Status; got != c.want {
				t.Errorf("status %s, want %s", got, c.want)
			}
			if want := c.want == image.Queued && c.status == image.Saving; (n == 1) != want {
				t.Errorf("recovered %d", n)
			}
			if _, err := os.Stat(part); (err == nil) != c.partial {
				t.Errorf("partial data there: %v, want %v", err == nil, c.partial)
			}
			if _, err := os.Stat(entry); !os.IsNotExist(err) {
				t.Errorf("log entry left: %v", err)
			}
		})
	}
}

// TestUploadLog: an upload is in the log while it runs, and leaves it
// whether it succeeds or fails.
func TestUploadLog(t *testing.T) {
	logDir := filepath.Join(t.TempDir(), "uploads")
	e := newEnv(t, nil, func(o *image.Options) { o.UploadLogDir, o.UploadHeartbeat = logDir, 10*time.Millisecond })
	for _, fail := range []bool{false, true} {
		img := rawImage(e)
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() { done <- e.svc.Upload(e.as(member("p1")), img.ID, nil, pr, -1) }()
		pw.Write([]byte("some data"))
		time.Sleep(30 * time.Millisecond) // a few heartbeats
		if _, err := os.Stat(filepath.Join(logDir, img.ID)); err != nil {
			t.Errorf("upload not in the log while it runs: %v", err)
		}
		if fail {
			pw.CloseWithError(io.ErrUnexpectedEOF)
		} else {
			pw.Close()
		}
		if err := <-done; (err != nil) != fail {
			t.Errorf("upload (fail=%v): %v", fail, err)
		}
		if ents, _ := os.ReadDir(logDir); len(ents) != 0 {
			t.Errorf("log after the upload (fail=%v): %v", fail, ents)
		}
	}
}
