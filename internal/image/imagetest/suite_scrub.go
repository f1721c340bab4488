package imagetest

import (
	"slices"
	"testing"
	"time"

	"glint/internal/errs"
	"glint/internal/image"
)

func ids(imgs []*image.Image) []string {
	out := []string{}
	for _, img := range imgs {
		out = append(out, img.ID)
	}
	return out
}

// Under delayed delete, DeletePending hides an image and leaves it,
// with its locations pending, in the scrub queue (oldest deletion first),
// until the scrubber records each location's data gone and then the
// image; images not pending are left alone.
func testScrubQueue(t *testing.T, r image.Repo) {
	ctx := t.Context()
	a := usageImage(1, "p1", image.Active, 10, 2)
	a.Properties["k"] = "v"
	a.Tags = []string{"t"}
	create(t, r, a, usageImage(2, "p1", image.Active, 10, 1), usageImage(3, "p1", image.Active, 10, 1))
	want := get(t, r, id(1))
	start := time.Now()
	was, err := r.DeletePending(ctx, id(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diff(want, was) {
		t.Errorf("DeletePending returned: %s", d)
	}
	if _, err := r.DeletePending(ctx, id(2)); err != nil {
		t.Fatal(err)
	}
	_, err = r.Get(ctx, id(1))
	wantKind(t, "get of a pending_delete image", err, errs.NotFound)
	_, err = r.DeletePending(ctx, id(1))
	wantKind(t, "a second DeletePending", err, errs.NotFound)
	_, err = r.DeletePending(ctx, id(9))
	wantKind(t, "DeletePending of an unknown image", err, errs.NotFound)

	later := time.Now().Add(time.Hour)
	queue := func(before time.Time, limit int) []*image.Image {
		t.Helper()
		q, err := r.ScrubQueue(ctx, before, limit)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	q := queue(later, 10)
	if got := ids(q); !slices.Equal(got, []string{id(1), id(2)}) {
		t.Fatalf("scrub queue %v", got)
	}
	if q[0].Status != image.PendingDelete || len(q[0].Locations) != 2 {
		t.Fatalf("queued image %s with locations %+v", q[0].Status, q[0].Locations)
	}
	for i, l := range q[0].Locations {
		if w := want.Locations[i]; l.ID != w.ID || l.URL != w.URL || l.Status != string(image.PendingDelete) {
			t.Errorf("queued location %+v, want %+v pending", l, w)
		}
	}
	if got := ids(queue(later, 1)); !slices.Equal(got, []string{id(1)}) {
		t.Errorf("a queue of one: %v", got)
	}
	if got := ids(queue(start.Add(-time.Hour), 10)); len(got) != 0 {
		t.Errorf("deleted before an hour ago: %v", got)
	}

	first := want.Locations[0].ID
	for range 2 {
		if err := r.LocationScrubbed(ctx, first); err != nil {
			t.Fatal(err)
		}
	}
	if q := queue(later, 10); len(q[0].Locations) != 1 || q[0].Locations[0].ID != want.Locations[1].ID {
		t.Errorf("after one location is scrubbed: %+v", q[0].Locations)
	}
	if err := r.Scrubbed(ctx, id(1)); err != nil {
		t.Fatal(err)
	}
	if got := ids(queue(later, 10)); !slices.Equal(got, []string{id(2)}) {
		t.Errorf("after an image is scrubbed: %v", got)
	}
	wantKind(t, "restore of a scrubbed image", r.Restore(ctx, id(1)), errs.Conflict)
	if err := r.Scrubbed(ctx, id(3)); err != nil {
		t.Fatal(err)
	}
	if got := get(t, r, id(3)); got.Status != image.Active {
		t.Errorf("Scrubbed of an active image made it %s", got.Status)
	}
}

// Restore brings a pending_delete image back as it was when deleted:
// active, with its properties, tags, memberships and pending locations,
// but not the properties and locations removed before the delete. Only a
// pending_delete image can be restored. (A membership deleted just before
// the image is left out: on MySQL, whose times are whole seconds, one
// deleted in the same second comes back with the image.)
func testRestore(t *testing.T, r image.Repo) {
	ctx := t.Context()
	a := usageImage(1, "p1", image.Active, 10, 2)
	a.Properties = map[string]string{"k": "v", "gone": "x"}
	a.Tags = []string{"t"}
	create(t, r, a, usageImage(2, "p1", image.Active, 10, 1))
	if err := r.AddMember(ctx, member(id(1), "p2", image.MemberAccepted, 1), -1); err != nil {
		t.Fatal(err)
	}
	want, err := r.Modify(ctx, id(1), func(old *image.Image) (*image.Image, error) {
		delete(old.Properties, "gone")
		old.Locations = old.Locations[:1]
		old.UpdatedAt = at(5)
		return old, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.DeletePending(ctx, id(1)); err != nil {
		t.Fatal(err)
	}
	if err := r.Restore(ctx, id(1)); err != nil {
		t.Fatal(err)
	}
	got := get(t, r, id(1))
	want.UpdatedAt = got.UpdatedAt // the restore's time
	for _, d := range diff(want, got) {
		t.Errorf("restored: %s", d)
	}
	if _, err := r.Member(ctx, id(1), "p2"); err != nil {
		t.Errorf("the membership deleted with the image: %v", err)
	}
	if q, err := r.ScrubQueue(ctx, time.Now().Add(time.Hour), 10); err != nil || len(q) != 0 {
		t.Errorf("scrub queue after the restore: %v, %v", ids(q), err)
	}
	wantKind(t, "restore of an active image", r.Restore(ctx, id(1)), errs.Conflict)
	if _, err := r.Delete(ctx, id(2)); err != nil {
		t.Fatal(err)
	}
	wantKind(t, "restore of a deleted image", r.Restore(ctx, id(2)), errs.Conflict)
	wantKind(t, "restore of an unknown image", r.Restore(ctx, id(9)), errs.NotFound)
}

// StaleUploads finds the live images left saving with no sign of life
// since a time, least recently touched first; Touch is that sign, for an
// image still in the status given.
func testStaleUploads(t *testing.T, r image.Repo) {
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	upload := func(i int, status image.Status, updated time.Time) *image.Image {
		img := usageImage(i, "p1", status, -1, 0)
		img.UpdatedAt = updated
		return img
	}
	create(t, r,
		upload(1, image.Saving, now.Add(-2*time.Hour)),
		upload(2, image.Saving, now.Add(-3*time.Hour)),
		upload(3, image.Queued, now.Add(-2*time.Hour)),
		upload(4, image.Saving, now),
		upload(5, image.Saving, now.Add(-2*time.Hour)),
	)
	if _, err := r.Delete(ctx, id(5)); err != nil {
		t.Fatal(err)
	}
	stale := func() []string {
		t.Helper()
		imgs, err := r.StaleUploads(ctx, now.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return ids(imgs)
	}
	if got := stale(); !slices.Equal(got, []string{id(2), id(1)}) {
		t.Errorf("stale uploads %v, want %v", got, []string{id(2), id(1)})
	}
	if err := r.Touch(ctx, id(1), image.Queued); err != nil {
		t.Fatal(err)
	}
	if got := stale(); len(got) != 2 {
		t.Errorf("a touch in another status was taken: %v", got)
	}
	if err := r.Touch(ctx, id(1), image.Saving); err != nil {
		t.Fatal(err)
	}
	if got := stale(); !slices.Equal(got, []string{id(2)}) {
		t.Errorf("after a touch: %v", got)
	}
	if u := get(t, r, id(1)).UpdatedAt; u.Before(now.Add(-time.Minute)) {
		t.Errorf("touched at %v, before %v", u, now)
	}
}

// LocationInUse tells whether another live image still has a live
// location at a URL: that data must outlive one image letting go of it.
func testLocationInUse(t *testing.T, r image.Repo) {
	ctx := t.Context()
	withLocations := func(i int, urls ...string) *image.Image {
		img := usageImage(i, "p1", image.Active, 10, 0)
		for _, u := range urls {
			img.Locations = append(img.Locations, image.Location{URL: u, Metadata: map[string]any{}})
		}
		return img
	}
	create(t, r, withLocations(1, "http://h/u", "http://h/v"), withLocations(2, "http://h/u"),
		withLocations(3, "http://h/deleted"), withLocations(4, "http://h/removed", "http://h/kept"),
		withLocations(5, "http://h/pending"))
	if _, err := r.Delete(ctx, id(3)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Modify(ctx, id(4), func(old *image.Image) (*image.Image, error) {
		old.Locations = old.Locations[1:]
		return old, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.DeletePending(ctx, id(5)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		url, except string
		want        bool
	}{
		{"http://h/u", id(1), true},
		{"http://h/u", id(2), true},
		{"http://h/u", "", true},
		{"http://h/v", id(1), false},
		{"http://h/v", id(2), true},
		{"http://h/deleted", "", false},
		{"http://h/removed", "", false},
		{"http://h/kept", id(1), true},
		{"http://h/pending", "", false},
		{"http://h/nowhere", "", false},
	}
	for _, tc := range cases {
		if got, err := r.LocationInUse(ctx, tc.url, tc.except); err != nil || got != tc.want {
			t.Errorf("LocationInUse(%s, except %q) = %v, %v; want %v", tc.url, tc.except, got, err, tc.want)
		}
	}
}
