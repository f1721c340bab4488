package image_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"glint/internal/errs"
	"glint/internal/image"
	"glint/internal/image/imagetest"
	"glint/internal/store"
	"glint/internal/store/filesystem"
)

// cloned is a filesystem store whose data can be "in use outside Glint",
// as an RBD snapshot with clones is.
type cloned struct {
	*filesystem.Driver
	used atomic.Bool
}

func (c *cloned) InUse(context.Context, string) (bool, error) { return c.used.Load(), nil }

// Data in use outside Glint: deleting the image is refused with Glance's
// 409 and its words, and the image and its data stay; once released the
// delete goes through.
func TestDeleteInUse(t *testing.T) {
	fs, err := filesystem.New(t.TempDir(), 0o640)
	if err != nil {
		t.Fatal(err)
	}
	d := &cloned{Driver: fs}
	repo := imagetest.NewMemRepo()
	e := &env{t: t, repo: repo, svc: image.NewService(repo, store.NewSet(d), nil, image.Options{
		ImageSizeCap: 1 << 30, HashingAlgorithm: "sha512",
		PropertyQuota: -1, TagQuota: -1, MemberQuota: -1, LocationQuota: -1,
		DiskFormats: image.DefaultDiskFormats, ContainerFormats: image.DefaultContainerFormats,
	}, slog.New(slog.DiscardHandler))}
	img := rawImage(e)
	e.upload(img.ID, "hello")
	d.used.Store(true)
	err = e.svc.Delete(e.as(member("p1")), img.ID)
	checkErr(t, "delete of an image in use", err, errs.Conflict)
	if m := errs.Message(err); !strings.HasPrefix(m, "Image "+img.ID+" could not be deleted because it is in use: ") || !strings.HasSuffix(m, store.InUseMessage) {
		t.Errorf("message %q", m)
	}
	got := e.stored(img.ID)
	if got.Status != image.Active || len(got.ActiveLocations()) != 1 {
		t.Fatalf("after a refused delete: %s with %d locations", got.Status, len(got.ActiveLocations()))
	}
	if _, err := fs.Size(t.Context(), got.Locations[0].URL); err != nil {
		t.Fatalf("data gone after a refused delete: %v", err)
	}
	d.used.Store(false)
	if err := e.svc.Delete(e.as(member("p1")), img.ID); err != nil {
		t.Fatalf("delete once released: %v", err)
	}
}
