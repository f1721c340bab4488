package imagetest

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"

	"glint/internal/errs"
	"glint/internal/image"
)

// An image is stored whole and read back as it was stored: every
// attribute, set or not, its properties, its tags as a sorted set, and its
// locations with their metadata, in the order they were added, each given
// an ID in the image passed to Create. A taken ID is a Conflict, an
// unknown one NotFound.
func testCreateGet(t *testing.T, r image.Repo) {
	full := newImage(1, "full", "p1")
	full.Status, full.Visibility = image.Active, image.Public
	full.Protected, full.OSHidden = true, true
	full.Checksum, full.OSHashAlgo, full.OSHashValue = ptr("0123abcd"), ptr("sha512"), ptr("89efcdab")
	full.Size, full.VirtualSize = ptr(int64(3)), ptr(int64(1)<<40)
	full.DiskFormat, full.ContainerFormat = ptr("raw"), ptr("bare")
	full.MinDisk, full.MinRAM = 1, 2147483647
	full.UpdatedAt = at(100)
	full.Properties = map[string]string{"os_distro": "debian", "empty": ""}
	full.Tags = []string{"b", "a", "b"}
	full.Locations = []image.Location{
		{URL: "file:///a", Metadata: map[string]any{"store": "file", "nested": map[string]any{"k": []any{"v", "w"}}}},
		{URL: "http://h/b", Status: "active"},
	}
	for _, tc := range []struct {
		name string
		img  *image.Image
	}{
		{"every attribute set", full},
		{"every optional attribute unset", newImage(2, "", "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.img.Clone()
			create(t, r, tc.img)
			got := get(t, r, tc.img.ID)
			for _, d := range diff(want, got) {
				t.Error(d)
			}
			seen := map[int64]bool{}
			for i, l := range tc.img.Locations {
				if l.ID == 0 || seen[l.ID] || i >= len(got.Locations) || got.Locations[i].ID != l.ID {
					t.Errorf("location %d: ID %d in the created image, %+v read", i, l.ID, got.Locations)
				}
				seen[l.ID] = true
			}
		})
	}
	wantKind(t, "create with a taken ID", r.Create(t.Context(), newImage(1, "again", "p1")), errs.Conflict)
	_, err := r.Get(t.Context(), id(9))
	wantKind(t, "get of an unknown ID", err, errs.NotFound)
}

// Images handed to and by the repository are copies: changing their
// properties, tags or location metadata afterwards changes nothing
// stored. (Their pointer attributes, Name and the like, are shared values
// that no one writes through; Image.Clone shares them too.)
func testCopies(t *testing.T, r image.Repo) {
	ctx := t.Context()
	img := newImage(1, "a", "p1")
	img.Properties["k"] = "v"
	img.Tags = []string{"t"}
	img.Locations = []image.Location{{URL: "http://h/a", Metadata: map[string]any{"m": "v", "l": []any{"x"}}}}
	create(t, r, img)
	want := get(t, r, img.ID)
	check := func(after string) {
		t.Helper()
		for _, d := range diff(want, get(t, r, img.ID)) {
			t.Errorf("after %s: %s", after, d)
		}
	}
	scribble := func(img *image.Image) {
		img.Properties["k"] = "changed"
		img.Properties["new"] = "changed"
		img.Tags[0] = "changed"
		img.Locations[0].Metadata["m"] = "changed"
		img.Locations[0].Metadata["l"].([]any)[0] = "changed"
		img.Locations[0].URL = "changed"
	}
	scribble(img)
	check("changing the created image")
	scribble(get(t, r, img.ID))
	check("changing an image read")
	list, err := r.List(ctx, image.ListQuery{Limit: 10, Visibility: "all", MemberStatus: "all"}, image.Viewer{Admin: true})
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %d images, %v", len(list), err)
	}
	scribble(list[0])
	check("changing an image listed")
	_, err = r.Modify(ctx, img.ID, func(old *image.Image) (*image.Image, error) {
		scribble(old)
		return nil, errs.E(errs.Forbidden, "no")
	})
	wantKind(t, "a failing Modify", err, errs.Forbidden)
	check("a failing Modify changed the image it was given")
	got, err := r.Modify(ctx, img.ID, func(old *image.Image) (*image.Image, error) { return old, nil })
	if err != nil {
		t.Fatal(err)
	}
	scribble(got)
	check("changing the image Modify returned")
}

// Update saves an image whole (attributes, properties, tags, locations)
// only while the stored status is still from; created_at never changes.
// A location keeps its ID while it stays, and a new one gets its ID in
// the image passed; a property removed can come back.
func testUpdate(t *testing.T, r image.Repo) {
	ctx := t.Context()
	img := newImage(1, "a", "p1")
	img.Properties = map[string]string{"a": "1", "b": "2"}
	img.Tags = []string{"t1", "t2"}
	img.Locations = []image.Location{{URL: "http://h/1", Metadata: map[string]any{"k": "v"}}}
	create(t, r, img)
	stored := get(t, r, img.ID)
	l1 := stored.Locations[0].ID

	up := stored.Clone()
	up.Status, up.Protected, up.Name, up.Size = image.Active, true, ptr("b"), ptr(int64(7))
	up.Properties = map[string]string{"b": "3", "c": "4"}
	up.Tags = []string{"t3", "t2"}
	up.Locations[0].Metadata = map[string]any{"k": "w"}
	up.Locations = append(up.Locations, image.Location{URL: "http://h/2", Metadata: map[string]any{}})
	up.CreatedAt, up.UpdatedAt = at(99), at(50)

	wantKind(t, "update from a status the image is not in", r.Update(ctx, up, image.Saving), errs.Conflict)
	for _, d := range diff(stored, get(t, r, img.ID)) {
		t.Errorf("after a refused update: %s", d)
	}
	if err := r.Update(ctx, up, image.Queued); err != nil {
		t.Fatal(err)
	}
	want := up.Clone()
	want.CreatedAt = at(1)
	got := get(t, r, img.ID)
	for _, d := range diff(want, got) {
		t.Error(d)
	}
	if l2 := up.Locations[1].ID; l2 == 0 || l2 == l1 || up.Locations[0].ID != l1 {
		t.Errorf("location IDs %d and %d after the update, the first was %d", up.Locations[0].ID, l2, l1)
	}

	again := got.Clone()
	again.Properties["a"] = "back"
	again.Locations = again.Locations[1:]
	if err := r.Update(ctx, again, image.Active); err != nil {
		t.Fatal(err)
	}
	got = get(t, r, img.ID)
	if got.Properties["a"] != "back" || len(got.Locations) != 1 || got.Locations[0].ID != up.Locations[1].ID {
		t.Errorf("after re-adding a property and removing a location: %v, %+v", got.Properties, got.Locations)
	}
	wantKind(t, "update of an unknown image", r.Update(ctx, newImage(9, "x", ""), image.Queued), errs.NotFound)
}

// Of updates racing from one status, one wins and the others see the
// status gone (the compare-and-set that keeps two uploads from both
// starting).
func testUpdateRace(t *testing.T, r image.Repo) {
	ctx := t.Context()
	img := newImage(1, "a", "p1")
	create(t, r, img)
	const n = 8
	errc := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			up := img.Clone()
			up.Status = image.Saving
			up.Properties["winner"] = strconv.Itoa(i)
			errc[i] = r.Update(ctx, up, image.Queued)
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errc {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("updates %d and %d both won", winner, i)
		case err == nil:
			winner = i
		default:
			wantKind(t, fmt.Sprintf("losing update %d", i), err, errs.Conflict)
		}
	}
	if got := get(t, r, img.ID); got.Status != image.Saving || got.Properties["winner"] != strconv.Itoa(winner) {
		t.Errorf("stored %s with winner %q, want winner %d", got.Status, got.Properties["winner"], winner)
	}
}

// Modify hands fn the stored image and saves what fn returns, which it
// also returns, new locations with their IDs; fn's error comes back with
// its kind and nothing is saved. There is nothing to modify of an unknown
// or deleted image.
func testModify(t *testing.T, r image.Repo) {
	ctx := t.Context()
	img := newImage(1, "a", "p1")
	img.Properties["p"] = "1"
	create(t, r, img, newImage(2, "gone", "p1"))
	if _, err := r.Delete(ctx, id(2)); err != nil {
		t.Fatal(err)
	}
	stored := get(t, r, img.ID)

	ret, err := r.Modify(ctx, img.ID, func(old *image.Image) (*image.Image, error) {
		for _, d := range diff(stored, old) {
			t.Errorf("fn was given: %s", d)
		}
		old.Properties["p"] = "2"
		old.Locations = append(old.Locations, image.Location{URL: "http://h/a", Metadata: map[string]any{}})
		old.UpdatedAt = at(10)
		return old, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ret.Locations) != 1 || ret.Locations[0].ID == 0 {
		t.Errorf("Modify returned locations %+v, want one with an ID", ret.Locations)
	}
	for _, d := range diff(ret, get(t, r, img.ID)) {
		t.Errorf("stored, against what Modify returned: %s", d)
	}

	before := get(t, r, img.ID)
	_, err = r.Modify(ctx, img.ID, func(old *image.Image) (*image.Image, error) {
		old.Properties["p"] = "3"
		return nil, errs.E(errs.Forbidden, "refused")
	})
	wantKind(t, "fn's error", err, errs.Forbidden)
	for _, d := range diff(before, get(t, r, img.ID)) {
		t.Errorf("after fn failed: %s", d)
	}

	for _, missing := range []string{id(9), id(2)} {
		called := false
		_, err := r.Modify(ctx, missing, func(old *image.Image) (*image.Image, error) { called = true; return old, nil })
		wantKind(t, "modify of "+missing, err, errs.NotFound)
		if called {
			t.Errorf("fn was called for %s", missing)
		}
	}
}

// Concurrent read-modify-writes of one image are applied one after the
// other: none is lost, whether it changes a property or adds a tag.
func testModifyConcurrent(t *testing.T, r image.Repo) {
	ctx := t.Context()
	img := newImage(1, "a", "p1")
	img.Properties["n"] = "0"
	create(t, r, img)
	const workers, each = 8, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				_, err := r.Modify(ctx, img.ID, func(old *image.Image) (*image.Image, error) {
					n, _ := strconv.Atoi(old.Properties["n"])
					runtime.Gosched() // let another writer read n now, if it can
					old.Properties["n"] = strconv.Itoa(n + 1)
					old.Tags = append(old.Tags, fmt.Sprintf("w%d-%d", w, i))
					return old, nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got := get(t, r, img.ID)
	if got.Properties["n"] != strconv.Itoa(workers*each) || len(got.Tags) != workers*each || !slices.IsSorted(got.Tags) {
		t.Errorf("after %d increments: n=%s, %d tags", workers*each, got.Properties["n"], len(got.Tags))
	}
}

// Delete returns the image as it was, with its locations (the service
// removes their data); the image is then gone for every method, its
// memberships with it, while its ID stays taken, as in Glance.
func testDelete(t *testing.T, r image.Repo) {
	ctx := t.Context()
	img := newImage(1, "a", "p1")
	img.Properties["k"] = "v"
	img.Tags = []string{"t"}
	img.Locations = []image.Location{{URL: "http://h/1", Metadata: map[string]any{}}, {URL: "http://h/2", Metadata: map[string]any{}}}
	create(t, r, img, newImage(2, "other", "p1"))
	if err := r.AddMember(ctx, &image.Member{ImageID: img.ID, MemberID: "p2", Status: image.MemberAccepted, CreatedAt: at(1), UpdatedAt: at(1)}, -1); err != nil {
		t.Fatal(err)
	}
	want := get(t, r, img.ID)
	del, err := r.Delete(ctx, img.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diff(want, del) {
		t.Errorf("the deleted image returned: %s", d)
	}
	_, err = r.Get(ctx, img.ID)
	wantKind(t, "get after delete", err, errs.NotFound)
	_, err = r.Delete(ctx, img.ID)
	wantKind(t, "second delete", err, errs.NotFound)
	wantKind(t, "update after delete", r.Update(ctx, want, want.Status), errs.NotFound)
	wantKind(t, "create with a deleted image's ID", r.Create(ctx, newImage(1, "again", "p1")), errs.Conflict)
	_, err = r.Member(ctx, img.ID, "p2")
	wantKind(t, "membership of a deleted image", err, errs.NotFound)
	if ms, err := r.Members(ctx, img.ID); err != nil || len(ms) != 0 {
		t.Errorf("members of a deleted image: %v, %v", ms, err)
	}
	list, err := r.List(ctx, image.ListQuery{Limit: 10, Visibility: "all", MemberStatus: "all"}, image.Viewer{Admin: true})
	if err != nil || len(list) != 1 || list[0].ID != id(2) {
		t.Errorf("listed after the delete: %v, %v", list, err)
	}
	_, err = r.Delete(ctx, id(9))
	wantKind(t, "delete of an unknown image", err, errs.NotFound)
}
