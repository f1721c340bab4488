package image_test

import (
	"context"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"glint/internal/auth"
	"glint/internal/errs"
	"glint/internal/image"
	"glint/internal/store"
)

// rawImage is an image of p1 ready for data.
func rawImage(e *env, attrs ...string) *image.Image {
	a := map[string]any{"name": "data", "disk_format": "raw", "container_format": "bare"}
	for i := 0; i+1 < len(attrs); i += 2 {
		a[attrs[i]] = attrs[i+1]
	}
	return e.create(member("p1"), a)
}

// upload sends data as p1 and fails the test if it is refused.
func (e *env) upload(id, data string) {
	e.t.Helper()
	if err := e.svc.Upload(e.as(member("p1")), id, nil, strings.NewReader(data), int64(len(data))); err != nil {
		e.t.Fatalf("upload to %s: %v", id, err)
	}
}

// Upload takes a queued image through saving to active with its size,
// checksums and location; on any failure the data is removed and the
// image is queued again, as in Glance.
func TestUpload(t *testing.T) {
	md := md5.Sum([]byte("hello"))
	sha := sha512.Sum512([]byte("hello"))
	cases := []struct {
		name    string
		opts    func(*image.Options)
		attrs   []string                       // of the image, besides raw and bare
		prepare func(e *env, img *image.Image) // before the upload
		by      *auth.Context                  // p1 if nil
		body    string
		size    int64 // announced; -1 for unknown
		want    errs.Kind
		status  image.Status // afterwards
		files   int          // in the store afterwards
	}{
		{name: "queued to active", body: "hello", size: 5, status: image.Active, files: 1},
		{name: "of unknown length", body: "hello", size: -1, status: image.Active, files: 1},
		{name: "not queued", prepare: func(e *env, img *image.Image) { e.upload(img.ID, "first") },
			body: "hello", size: 5, want: errs.Conflict, status: image.Active, files: 1},
		{name: "without formats", prepare: func(e *env, img *image.Image) {
			e.set(img.ID, func(img *image.Image) { img.DiskFormat, img.ContainerFormat = nil, nil })
		}, body: "hello", size: 5, want: errs.Invalid, status: image.Queued},
		{name: "shorter than announced", body: "hello", size: 10, want: errs.Invalid, status: image.Queued},
		{name: "longer than announced", body: "hello", size: 3, want: errs.Invalid, status: image.Queued},
		{name: "past image_size_cap", opts: func(o *image.Options) { o.ImageSizeCap = 4 }, body: "hello", size: -1,
			want: errs.TooLarge, status: image.Queued},
		{name: "announced past image_size_cap", opts: func(o *image.Options) { o.ImageSizeCap = 4 }, body: "hello", size: 5,
			want: errs.TooLarge, status: image.Queued},
		{name: "past user_storage_quota", opts: func(o *image.Options) { o.StorageQuota = 8 },
			prepare: func(e *env, _ *image.Image) { e.upload(rawImage(e).ID, "12345") },
			body:    "hello", size: -1, want: errs.TooLarge, status: image.Queued, files: 1},
		{name: "within user_storage_quota", opts: func(o *image.Options) { o.StorageQuota = 10 },
			prepare: func(e *env, _ *image.Image) { e.upload(rawImage(e).ID, "12345") },
			body:    "hello", size: -1, status: image.Active, files: 2},
		{name: "content not of its disk format", attrs: []string{"disk_format", "qcow2"}, body: "hello", size: 5,
			want: errs.BadFormat, status: image.Queued},
		{name: "by another project", by: member("p2"), body: "hello", size: 5, want: errs.NotFound, status: image.Queued},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil, tc.opts)
			img := rawImage(e, tc.attrs...)
			if tc.prepare != nil {
				tc.prepare(e, img)
			}
			by := tc.by
			if by == nil {
				by = member("p1")
			}
			err := e.svc.Upload(e.as(by), img.ID, nil, strings.NewReader(tc.body), tc.size)
			checkErr(t, "upload", err, tc.want)
			got := e.stored(img.ID)
			if got.Status != tc.status || len(e.files()) != tc.files {
				t.Errorf("afterwards: %s with %d files in the store, want %s with %d", got.Status, len(e.files()), tc.status, tc.files)
			}
			if tc.want != errs.Other || tc.prepare != nil {
				return
			}
			if got.Size == nil || *got.Size != 5 || str(got.Checksum) != hex.EncodeToString(md[:]) ||
				str(got.OSHashAlgo) != "sha512" || str(got.OSHashValue) != hex.EncodeToString(sha[:]) || len(got.Locations) != 1 {
				t.Errorf("uploaded image %+v", got)
			}
			rc, err := e.svc.Open(e.as(member("p1")), got, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if b, err := io.ReadAll(rc); err != nil || string(b) != "ello" {
				t.Errorf("read from offset 1: %q, %v", b, err)
			}
		})
	}
}

// An upload to a read-only store (Glance's http store) is refused before
// the image changes.
func TestUploadReadOnlyStore(t *testing.T) {
	e := newEnv(t, nil)
	img := rawImage(e)
	web := &store.Store{Name: "web", Type: "http", Driver: struct{ store.Driver }{}}
	err := e.svc.Upload(e.as(member("p1")), img.ID, web, strings.NewReader("hello"), 5)
	checkErr(t, "upload", err, errs.Invalid)
	if got := e.stored(img.ID); got.Status != image.Queued {
		t.Errorf("afterwards %s, want queued", got.Status)
	}
}

// Deactivation and reactivation: only between active and deactivated
// (asking for the status an image is in changes nothing), by its owner
// or an admin; only an admin downloads a deactivated image.
func TestActivation(t *testing.T) {
	cases := []struct {
		name   string
		from   image.Status
		active bool // reactivate, or deactivate
		by     *auth.Context
		want   errs.Kind
		status image.Status
	}{
		{"deactivate", image.Active, false, member("p1"), errs.Other, image.Deactivated},
		{"deactivate again", image.Deactivated, false, member("p1"), errs.Other, image.Deactivated},
		{"deactivate a queued image", image.Queued, false, member("p1"), errs.Forbidden, image.Queued},
		{"reactivate", image.Deactivated, true, member("p1"), errs.Other, image.Active},
		{"reactivate an active image", image.Active, true, member("p1"), errs.Other, image.Active},
		{"reactivate a queued image", image.Queued, true, member("p1"), errs.Forbidden, image.Queued},
		{"deactivate, by an admin", image.Active, false, admin(), errs.Other, image.Deactivated},
		{"deactivate, by another project", image.Active, false, member("p2"), errs.Forbidden, image.Active},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			img := e.create(member("p1"), map[string]any{"name": "a", "visibility": "community"})
			e.set(img.ID, func(img *image.Image) { img.Status = tc.from })
			checkErr(t, "set active", e.svc.SetActive(e.as(tc.by), img.ID, tc.active), tc.want)
			if got := e.stored(img.ID).Status; got != tc.status {
				t.Errorf("status %s, want %s", got, tc.status)
			}
		})
	}
	t.Run("download", func(t *testing.T) {
		e := newEnv(t, nil)
		img := rawImage(e, "visibility", "community")
		e.upload(img.ID, "hello")
		if err := e.svc.SetActive(e.as(member("p1")), img.ID, false); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			by   *auth.Context
			want errs.Kind
		}{{member("p1"), errs.Forbidden}, {member("p2"), errs.Forbidden}, {admin(), errs.Other}} {
			_, err := e.svc.ForDownload(e.as(c.by), img.ID)
			checkErr(t, "download of a deactivated image by "+c.by.ProjectID, err, c.want)
		}
	})
}

// Delete: a protected image stays; another's is refused; an image's data
// goes with it, at once or, under delayed_delete, when the scrubber
// passes; data another image still uses stays.
func TestDelete(t *testing.T) {
	t.Run("protected", func(t *testing.T) {
		e := newEnv(t, nil)
		img := e.create(member("p1"), map[string]any{"protected": true})
		checkErr(t, "delete", e.svc.Delete(e.as(member("p1")), img.ID), errs.Forbidden)
		e.stored(img.ID)
		if _, err := e.svc.Update(e.as(member("p1")), img.ID, []image.Change{{Op: "replace", Path: []string{"protected"}, Value: false}}, false); err != nil {
			t.Fatal(err)
		}
		checkErr(t, "delete once unprotected", e.svc.Delete(e.as(member("p1")), img.ID), errs.Other)
	})
	t.Run("another project's", func(t *testing.T) {
		e := newEnv(t, nil)
		img := e.create(member("p1"), map[string]any{"visibility": "community"})
		checkErr(t, "delete", e.svc.Delete(e.as(member("p2")), img.ID), errs.Forbidden)
		e.stored(img.ID)
	})
	t.Run("with its data", func(t *testing.T) {
		e := newEnv(t, nil)
		img := rawImage(e)
		e.upload(img.ID, "hello")
		checkErr(t, "delete", e.svc.Delete(e.as(member("p1")), img.ID), errs.Other)
		_, err := e.svc.Get(e.as(member("p1")), img.ID)
		checkErr(t, "get after delete", err, errs.NotFound)
		if f := e.files(); len(f) != 0 {
			t.Errorf("data left: %v", f)
		}
	})
	t.Run("delayed", func(t *testing.T) {
		e := newEnv(t, nil, func(o *image.Options) { o.DelayedDelete = true })
		img := rawImage(e)
		e.upload(img.ID, "hello")
		checkErr(t, "delete", e.svc.Delete(e.as(member("p1")), img.ID), errs.Other)
		_, err := e.svc.Get(e.as(member("p1")), img.ID)
		checkErr(t, "get after delete", err, errs.NotFound)
		if len(e.files()) != 1 {
			t.Fatal("the data went before the scrubber came")
		}
		rep, err := e.svc.Scrub(t.Context(), 0, 0)
		if err != nil || rep.Scrubbed != 1 || len(e.files()) != 0 {
			t.Errorf("scrub: %+v, %v, files %v", rep, err, e.files())
		}
	})
	for _, delayed := range []bool{false, true} {
		name := "staged data"
		if delayed {
			name += ", delayed"
		}
		t.Run(name, func(t *testing.T) {
			staged := &stagedData{}
			e := newEnv(t, nil, func(o *image.Options) { o.DelayedDelete, o.Staging = delayed, staged })
			kept := e.create(member("p1"), map[string]any{"protected": true})
			checkErr(t, "delete protected", e.svc.Delete(e.as(member("p1")), kept.ID), errs.Forbidden)
			img := rawImage(e)
			e.upload(img.ID, "hello")
			checkErr(t, "delete", e.svc.Delete(e.as(member("p1")), img.ID), errs.Other)
			if !slices.Equal(staged.dropped, []string{img.ID}) {
				t.Errorf("staged data dropped for %v, want only the deleted image %s", staged.dropped, img.ID)
			}
		})
	}
	for _, delayed := range []bool{false, true} {
		name := "shared data"
		if delayed {
			name += ", delayed"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil, func(o *image.Options) { o.DelayedDelete = delayed })
			a := rawImage(e)
			e.upload(a.ID, "hello")
			// b has a's data as its location, as a copy Glance made, or
			// an image registered with another's location, would.
			b := rawImage(e)
			e.set(b.ID, func(img *image.Image) {
				img.Status, img.Size, img.Locations = image.Active, e.stored(a.ID).Size, e.stored(a.ID).Locations
				img.Locations[0].ID = 0
			})
			for i, id := range []string{a.ID, b.ID} {
				if err := e.svc.Delete(e.as(member("p1")), id); err != nil {
					t.Fatal(err)
				}
				if _, err := e.svc.Scrub(t.Context(), 0, 0); err != nil {
					t.Fatal(err)
				}
				if want := 1 - i; len(e.files()) != want {
					t.Errorf("after deleting image %d: %d files, want %d", i+1, len(e.files()), want)
				}
			}
		})
	}
}

// Unified limits count a project's images as they are created.
func TestImageCountLimit(t *testing.T) {
	e := newEnv(t, nil, func(o *image.Options) {
		o.Limits = &image.Limits{ImageSizeTotal: -1, ImageStageTotal: -1, ImageCountTotal: 2, ImageCountUploading: -1}
	})
	for i, want := range []errs.Kind{errs.Other, errs.Other, errs.TooLarge} {
		_, err := e.svc.Create(e.as(member("p1")), map[string]any{"name": "a"})
		checkErr(t, "create "+string(rune('1'+i)), err, want)
	}
	_, err := e.svc.Create(e.as(member("p2")), map[string]any{"name": "a"})
	checkErr(t, "another project's", err, errs.Other)
	u, err := e.svc.Usage(e.as(member("p1")), "p1")
	if err != nil || u["image_count_total"] != (image.UsageEntry{Limit: 2, Usage: 2}) {
		t.Errorf("usage %v, %v", u, err)
	}
}

// stagedData records what the service drops from the staging area.
type stagedData struct {
	mu      sync.Mutex
	dropped []string
}

func (s *stagedData) Drop(_ context.Context, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropped = append(s.dropped, id)
}

// flakyLimits is a limit source that can be told it cannot answer, as
// Keystone's when it is unreachable and nothing is cached.
type flakyLimits struct {
	mu   sync.Mutex
	down bool
}

func (f *flakyLimits) ProjectLimits(context.Context, string) (image.Limits, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return image.Limits{}, errs.E(errs.Op("test.Limits"), errs.Unavailable, "Keystone is unavailable")
	}
	return image.Limits{ImageSizeTotal: -1, ImageStageTotal: -1, ImageCountTotal: -1, ImageCountUploading: -1}, nil
}

// When the limits cannot be read, everything that adds usage is refused
// (Unavailable) and leaves the image as it was; nothing is unlimited.
func TestLimitsUnavailable(t *testing.T) {
	src := &flakyLimits{}
	e := newEnv(t, nil, func(o *image.Options) { o.Limits = src })
	img := rawImage(e)
	src.mu.Lock()
	src.down = true
	src.mu.Unlock()
	_, err := e.svc.Create(e.as(member("p1")), map[string]any{"name": "b"})
	checkErr(t, "create", err, errs.Unavailable)
	err = e.svc.Upload(e.as(member("p1")), img.ID, nil, strings.NewReader("hello"), 5)
	checkErr(t, "upload", err, errs.Unavailable)
	_, _, err = e.svc.BeginStage(e.as(member("p1")), img.ID, strings.NewReader("hello"), 5)
	checkErr(t, "stage", err, errs.Unavailable)
	_, err = e.svc.Usage(e.as(member("p1")), "p1")
	checkErr(t, "usage", err, errs.Unavailable)
	if st := e.stored(img.ID).Status; st != image.Queued || len(e.files()) != 0 {
		t.Errorf("after refusals: %s, %d files", st, len(e.files()))
	}
	if _, err := e.svc.Get(e.as(member("p1")), img.ID); err != nil {
		t.Errorf("reading the image: %v", err)
	}
}
