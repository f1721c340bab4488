package api_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"glint/internal/image"
)

func TestDelayedDeleteAndScrub(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, opts{dbURL: dbURL, svc: func(o *image.Options) { o.DelayedDelete = true }})
		ctx := context.Background()
		upload := func() string {
			id := e.create(`{"disk_format": "raw", "container_format": "bare", "tags": ["t"], "p": "v"}`)
			if r := e.do("PUT", "/v2/images/"+id+"/file", strings.NewReader("some data"), "Content-Type", "application/octet-stream"); r.status != 204 {
				t.Fatalf("upload: %d %s", r.status, r.body)
			}
			return id
		}
		a, b := upload(), upload()
		empty := e.create(`{"name": "no data"}`)
		for _, id := range []string{a, b, empty} {
			if r := e.do("DELETE", "/v2/images/"+id, nil); r.status != 204 {
				t.Fatalf("delete: %d %s", r.status, r.body)
			}
			if r := e.do("GET", "/v2/images/"+id, nil); r.status != 404 {
				t.Fatalf("deleted image answers %d", r.status)
			}
		}
		if n := len(e.storeFiles()); n != 2 {
			t.Fatalf("%d files after delayed deletes, want 2 (data kept)", n)
		}
		// Not yet old enough.
		rep, err := e.svc.Scrub(ctx, time.Hour, 0)
		if err != nil || rep.Scrubbed != 0 || len(e.storeFiles()) != 2 {
			t.Fatalf("early scrub: %+v %v, %d files", rep, err, len(e.storeFiles()))
		}
		// Restored by mistake-correction: active again, with its tags and properties.
		if err := e.svc.Restore(ctx, b); err != nil {
			t.Fatal(err)
		}
		img := e.show(b)
		if img["status"] != "active" || img["p"] != "v" || len(img["tags"].([]any)) != 1 {
			t.Errorf("restored image: %v", img)
		}
		if r := e.do("GET", "/v2/images/"+b+"/file", nil); r.status != 200 || string(r.body) != "some data" {
			t.Errorf("restored image data: %d %q", r.status, r.body)
		}
		if err := e.svc.Restore(ctx, b); err == nil {
			t.Error("restoring an active image must fail")
		}
		rep, err = e.svc.Scrub(ctx, 0, 0)
		if err != nil || rep.Scrubbed != 1 || rep.Failed != 0 {
			t.Fatalf("scrub: %+v %v", rep, err)
		}
		if files := e.storeFiles(); len(files) != 1 || !strings.Contains(files[0], b) {
			t.Errorf("store after scrub: %v, want only %s", files, b)
		}
		// A second pass finds nothing; a scrubbed image cannot be restored.
		if rep, _ := e.svc.Scrub(ctx, 0, 0); rep.Scrubbed != 0 {
			t.Errorf("second pass scrubbed %d", rep.Scrubbed)
		}
		if err := e.svc.Restore(ctx, a); err == nil {
			t.Error("restoring a scrubbed image must fail")
		}
	})
}

// An upload whose node was killed leaves its image saving and a partial
// file; once it has been silent long enough, the scrubber cleans up.
func TestScrubAbandonedUpload(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, opts{dbURL: dbURL})
		ctx := context.Background()
		id := e.create(`{"disk_format": "raw", "container_format": "bare"}`)
		// What a SIGKILL mid-upload leaves: status saving, a partial file.
		img, err := e.db.Images().Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		img.Status = image.Saving
		img.UpdatedAt = time.Now().Add(-time.Hour)
		if err := e.db.Images().Update(ctx, img, image.Queued); err != nil {
			t.Fatal(err)
		}
		part := filepath.Join(e.images, "."+id+".part-0123456789abcdef")
		if err := os.WriteFile(part, []byte("half an image"), 0o600); err != nil {
			t.Fatal(err)
		}
		if rep, err := e.svc.Scrub(ctx, 0, 2*time.Hour); err != nil || rep.Recovered != 0 {
			t.Fatalf("scrub before the upload is stale: %+v %v", rep, err)
		}
		if rep, err := e.svc.Scrub(ctx, 0, 10*time.Minute); err != nil || rep.Recovered != 1 {
			t.Fatalf("scrub: %+v %v", rep, err)
		}
		if st := e.show(id)["status"]; st != "queued" {
			t.Errorf("status %v, want queued", st)
		}
		if _, err := os.Stat(part); !os.IsNotExist(err) {
			t.Errorf("partial file still there: %v", err)
		}
		// And the image takes a new upload.
		if r := e.do("PUT", "/v2/images/"+id+"/file", strings.NewReader("whole"), "Content-Type", "application/octet-stream"); r.status != 204 {
			t.Errorf("upload after recovery: %d %s", r.status, r.body)
		}
	})
}
