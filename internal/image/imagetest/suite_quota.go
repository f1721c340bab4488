package imagetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"glint/internal/errs"
	"glint/internal/image"
)

func member(imageID, memberID, status string, created int) *image.Member {
	return &image.Member{ImageID: imageID, MemberID: memberID, Status: status, CreatedAt: at(created), UpdatedAt: at(created)}
}

// checkMember fails t unless the stored membership is m.
func checkMember(t *testing.T, r image.Repo, m *image.Member) {
	t.Helper()
	got, err := r.Member(t.Context(), m.ImageID, m.MemberID)
	if err != nil {
		t.Fatalf("member %s of %s: %v", m.MemberID, m.ImageID, err)
	}
	if got.ImageID != m.ImageID || got.MemberID != m.MemberID || got.Status != m.Status ||
		!got.CreatedAt.Equal(m.CreatedAt) || !got.UpdatedAt.Equal(m.UpdatedAt) {
		t.Errorf("member: got %+v, want %+v", got, m)
	}
}

// Memberships are added once (a second add is a Conflict), listed oldest
// first, changed and deleted; a deleted one can be added again. There
// are none to add to an unknown or deleted image.
func testMembers(t *testing.T, r image.Repo) {
	ctx := t.Context()
	create(t, r, newImage(1, "a", "p1"), newImage(2, "gone", "p1"))
	if _, err := r.Delete(ctx, id(2)); err != nil {
		t.Fatal(err)
	}
	img := id(1)
	p2, p3 := member(img, "p2", image.MemberPending, 5), member(img, "p3", image.MemberAccepted, 3)
	for _, m := range []*image.Member{p2, p3} {
		if err := r.AddMember(ctx, m, -1); err != nil {
			t.Fatal(err)
		}
	}
	wantKind(t, "a second add", r.AddMember(ctx, member(img, "p2", image.MemberPending, 6), -1), errs.Conflict)
	ms, err := r.Members(ctx, img)
	if err != nil || len(ms) != 2 || ms[0].MemberID != "p3" || ms[1].MemberID != "p2" {
		t.Fatalf("members, oldest first: %v, %v", ms, err)
	}
	checkMember(t, r, p2)
	checkMember(t, r, p3)
	for _, who := range [][2]string{{img, "p9"}, {id(9), "p2"}} {
		_, err := r.Member(ctx, who[0], who[1])
		wantKind(t, fmt.Sprintf("member %s of %s", who[1], who[0]), err, errs.NotFound)
	}

	up := *p2
	up.Status, up.UpdatedAt = image.MemberAccepted, at(20)
	if err := r.UpdateMember(ctx, &up); err != nil {
		t.Fatal(err)
	}
	checkMember(t, r, &up)
	wantKind(t, "update of no membership", r.UpdateMember(ctx, member(img, "p9", image.MemberAccepted, 1)), errs.NotFound)

	if err := r.DeleteMember(ctx, img, "p2"); err != nil {
		t.Fatal(err)
	}
	wantKind(t, "second delete", r.DeleteMember(ctx, img, "p2"), errs.NotFound)
	_, err = r.Member(ctx, img, "p2")
	wantKind(t, "member after delete", err, errs.NotFound)
	if ms, err := r.Members(ctx, img); err != nil || len(ms) != 1 || ms[0].MemberID != "p3" {
		t.Errorf("members after a delete: %v, %v", ms, err)
	}
	back := member(img, "p2", image.MemberPending, 30)
	if err := r.AddMember(ctx, back, -1); err != nil {
		t.Fatalf("adding a deleted membership again: %v", err)
	}
	checkMember(t, r, back)

	for _, missing := range []string{id(9), id(2)} {
		wantKind(t, "add to image "+missing, r.AddMember(ctx, member(missing, "p2", image.MemberPending, 1), -1), errs.NotFound)
	}
}

// AddMember refuses (TooLarge) a membership past the quota, which it
// checks before duplicates, as Glance does; a negative quota is none,
// and deleted memberships do not count.
func testMemberQuota(t *testing.T, r image.Repo) {
	ctx := t.Context()
	create(t, r, newImage(1, "a", "p1"))
	img := id(1)
	for _, m := range []string{"p1", "p2"} {
		if err := r.AddMember(ctx, member(img, m, image.MemberPending, 1), 2); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name   string
		member string
		quota  int
		want   errs.Kind // errs.Other: no error
	}{
		{"past the quota", "p3", 2, errs.TooLarge},
		{"a duplicate past the quota", "p1", 2, errs.TooLarge},
		{"a duplicate within the quota", "p1", 3, errs.Conflict},
		{"no quota at all", "p3", 0, errs.TooLarge},
		{"unlimited", "p3", -1, errs.Other},
		{"one more, unlimited", "p4", -1, errs.Other},
	}
	for _, tc := range cases {
		err := r.AddMember(ctx, member(img, tc.member, image.MemberPending, 2), tc.quota)
		if tc.want == errs.Other && err != nil {
			t.Errorf("%s: %v", tc.name, err)
		} else if tc.want != errs.Other {
			wantKind(t, tc.name, err, tc.want)
		}
	}
	for _, m := range []string{"p1", "p2", "p3"} {
		if err := r.DeleteMember(ctx, img, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.AddMember(ctx, member(img, "p5", image.MemberPending, 3), 2); err != nil {
		t.Errorf("with one live membership under a quota of 2: %v", err)
	}
}

// Memberships added at once to one image cannot together pass the
// quota: it is decided under the image's lock.
func testMemberQuotaConcurrent(t *testing.T, r image.Repo) {
	ctx := t.Context()
	create(t, r, newImage(1, "a", "p1"))
	const n, quota = 10, 3
	errc := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errc[i] = r.AddMember(ctx, member(id(1), fmt.Sprintf("m%d", i), image.MemberPending, 1), quota)
		})
	}
	wg.Wait()
	added := 0
	for i, err := range errc {
		if err == nil {
			added++
		} else {
			wantKind(t, fmt.Sprintf("member %d", i), err, errs.TooLarge)
		}
	}
	ms, err := r.Members(ctx, id(1))
	if added != quota || err != nil || len(ms) != quota {
		t.Errorf("%d added, %d stored (%v), want %d", added, len(ms), err, quota)
	}
}

// usageImage is an image of owner in status with size bytes (-1: none)
// and locations at n URLs.
func usageImage(i int, owner string, status image.Status, size int64, n int) *image.Image {
	img := newImage(i, fmt.Sprint("u", i), owner)
	img.Status = status
	if size >= 0 {
		img.Size = &size
	}
	for j := range n {
		img.Locations = append(img.Locations, image.Location{URL: fmt.Sprintf("http://h/%d/%d", i, j), Metadata: map[string]any{}})
	}
	return img
}

// Usage counts an owner's images as Glance counts them: stored bytes are
// size × live locations, staged bytes the size of images being uploaded
// to staging, imported or copied to stores, uploads those and the images
// saving; killed and deleted images count for nothing. The owner "" is
// the images without one.
func testUsage(t *testing.T, r image.Repo) {
	ctx := t.Context()
	copying := usageImage(6, "p1", image.Active, 4, 1)
	copying.Properties["os_glance_importing_to_stores"] = "s2"
	notCopying := usageImage(12, "p1", image.Active, 6, 1)
	notCopying.Properties["os_glance_importing_to_stores"] = ""
	create(t, r,
		usageImage(1, "p1", image.Active, 10, 2),
		usageImage(2, "p1", image.Active, 10, 2), // one location removed below
		usageImage(3, "p1", image.Saving, 5, 0),
		usageImage(4, "p1", image.Uploading, 7, 0),
		usageImage(5, "p1", image.Importing, 3, 1),
		copying,
		usageImage(7, "p1", image.Killed, 100, 1),
		usageImage(8, "p1", image.Active, 100, 1), // deleted below
		usageImage(9, "p1", image.Active, 100, 1), // pending_delete below
		usageImage(10, "p1", image.Queued, -1, 0),
		usageImage(11, "p1", image.Active, 0, 1),
		notCopying,
		usageImage(13, "p2", image.Active, 1000, 1),
		usageImage(14, "", image.Active, 50, 1),
		usageImage(15, "", image.Saving, 8, 0),
	)
	if _, err := r.Modify(ctx, id(2), func(old *image.Image) (*image.Image, error) {
		old.Locations = old.Locations[:1]
		return old, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Delete(ctx, id(8)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.DeletePending(ctx, id(9)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		owner string
		want  image.Usage
	}{
		{"p1", image.Usage{StoredBytes: 20 + 10 + 3 + 4 + 6, StagedBytes: 7 + 3 + 4, Images: 9, Uploading: 4}},
		{"p2", image.Usage{StoredBytes: 1000, Images: 1}},
		{"", image.Usage{StoredBytes: 50, Images: 2, Uploading: 1}},
		{"p3", image.Usage{}},
	} {
		if got, err := r.Usage(ctx, tc.owner); err != nil || got != tc.want {
			t.Errorf("usage of %q: %+v, %v; want %+v", tc.owner, got, err, tc.want)
		}
	}
}

// ModifyCounted is Modify with, for fn, the owner's usage by its other
// images.
func testModifyCounted(t *testing.T, r image.Repo) {
	ctx := t.Context()
	create(t, r, usageImage(1, "p1", image.Active, 10, 1), usageImage(2, "p1", image.Queued, 5, 0),
		usageImage(3, "", image.Active, 7, 1), usageImage(4, "", image.Queued, 1, 0))
	activate := func(want image.Usage) func(old *image.Image, others image.Usage) (*image.Image, error) {
		return func(old *image.Image, others image.Usage) (*image.Image, error) {
			if others != want {
				t.Errorf("%s: others %+v, want %+v", old.ID, others, want)
			}
			old.Status = image.Active
			old.Locations = append(old.Locations, image.Location{URL: "http://h/" + old.ID, Metadata: map[string]any{}})
			return old, nil
		}
	}
	got, err := r.ModifyCounted(ctx, id(2), "p1", activate(image.Usage{StoredBytes: 10, Images: 1}))
	if err != nil || got.Status != image.Active || len(got.Locations) != 1 || got.Locations[0].ID == 0 {
		t.Fatalf("ModifyCounted returned %+v, %v", got, err)
	}
	if u, _ := r.Usage(ctx, "p1"); u.StoredBytes != 15 {
		t.Errorf("stored bytes after: %d, want 15", u.StoredBytes)
	}
	if _, err := r.ModifyCounted(ctx, id(4), "", activate(image.Usage{StoredBytes: 7, Images: 1})); err != nil {
		t.Fatal(err)
	}
	_, err = r.ModifyCounted(ctx, id(1), "p1", func(old *image.Image, _ image.Usage) (*image.Image, error) {
		old.Status = image.Deactivated
		return nil, errs.E(errs.TooLarge, "over quota")
	})
	wantKind(t, "fn's refusal", err, errs.TooLarge)
	if get(t, r, id(1)).Status != image.Active {
		t.Error("a refused change was saved")
	}
	_, err = r.ModifyCounted(ctx, id(9), "p1", activate(image.Usage{}))
	wantKind(t, "an unknown image", err, errs.NotFound)
}

// Counted changes of one owner's images racing each other cannot
// together pass a quota: each decides on the usage the others left.
func testModifyCountedConcurrent(t *testing.T, r image.Repo) {
	ctx := t.Context()
	const n, size, limit = 8, 10, 30
	for i := range n {
		create(t, r, usageImage(i+1, "p1", image.Queued, size, 0))
	}
	errc := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errc[i] = r.ModifyCounted(ctx, id(i+1), "p1", func(old *image.Image, others image.Usage) (*image.Image, error) {
				if others.StoredBytes+size > limit {
					return nil, errs.E(errs.TooLarge, "over quota")
				}
				time.Sleep(time.Millisecond) // while the others decide, if they can
				old.Status = image.Active
				old.Locations = append(old.Locations, image.Location{URL: "http://h/" + old.ID, Metadata: map[string]any{}})
				return old, nil
			})
		})
	}
	wg.Wait()
	done := 0
	for i, err := range errc {
		if err == nil {
			done++
		} else {
			wantKind(t, fmt.Sprintf("change %d", i), err, errs.TooLarge)
		}
	}
	u, err := r.Usage(ctx, "p1")
	if done != limit/size || err != nil || u.StoredBytes != limit {
		t.Errorf("%d changes made, %d bytes stored (%v); want %d and %d", done, u.StoredBytes, err, limit/size, limit)
	}
}

// CreateCounted creates an image only if check, given the owner's usage,
// agrees; a taken ID is still a Conflict.
func testCreateCounted(t *testing.T, r image.Repo) {
	ctx := t.Context()
	create(t, r, usageImage(1, "p1", image.Active, 10, 1), usageImage(2, "", image.Active, 3, 2))
	for _, tc := range []struct {
		img  *image.Image
		want image.Usage
	}{
		{usageImage(3, "p1", image.Queued, -1, 0), image.Usage{StoredBytes: 10, Images: 1}},
		{usageImage(4, "", image.Queued, -1, 0), image.Usage{StoredBytes: 6, Images: 1}},
	} {
		var seen image.Usage
		if err := r.CreateCounted(ctx, tc.img, func(u image.Usage) error { seen = u; return nil }); err != nil {
			t.Fatal(err)
		}
		if seen != tc.want {
			t.Errorf("check of %s saw %+v, want %+v", tc.img.ID, seen, tc.want)
		}
		get(t, r, tc.img.ID)
	}
	err := r.CreateCounted(ctx, usageImage(5, "p1", image.Queued, -1, 0), func(image.Usage) error { return errs.E(errs.TooLarge, "no") })
	wantKind(t, "a refused create", err, errs.TooLarge)
	_, err = r.Get(ctx, id(5))
	wantKind(t, "the refused image", err, errs.NotFound)
	err = r.CreateCounted(ctx, usageImage(1, "p1", image.Queued, -1, 0), func(image.Usage) error { return nil })
	wantKind(t, "a taken ID", err, errs.Conflict)
}

// Counted creates racing each other cannot together pass a quota.
func testCreateCountedConcurrent(t *testing.T, r image.Repo) {
	ctx := t.Context()
	const n, limit = 8, 3
	errc := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errc[i] = r.CreateCounted(ctx, usageImage(i+1, "p1", image.Queued, -1, 0), func(u image.Usage) error {
				if u.Images+1 > limit {
					return errs.E(errs.TooLarge, "over quota")
				}
				time.Sleep(time.Millisecond) // while the others decide, if they can
				return nil
			})
		})
	}
	wg.Wait()
	made := 0
	for i, err := range errc {
		if err == nil {
			made++
		} else {
			wantKind(t, fmt.Sprintf("create %d", i), err, errs.TooLarge)
		}
	}
	u, err := r.Usage(ctx, "p1")
	if made != limit || err != nil || u.Images != limit {
		t.Errorf("%d created, usage %+v (%v); want %d", made, u, err, limit)
	}
}
