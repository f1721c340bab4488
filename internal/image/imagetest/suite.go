package imagetest

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"glint/internal/errs"
	"glint/internal/image"
)

// TestRepo is the conformance suite of image.Repo: every repository must
// pass it. open returns an empty repository; it is called once for each
// subtest, and the subtests run one after another, so a harness may hand
// out the same database emptied each time.
//
// Times the suite stores are whole seconds, which every database keeps
// (Glance's MySQL columns hold no fractions). Text is lower-case ASCII,
// which every database's collation orders alike.
func TestRepo(t *testing.T, open func(t *testing.T) image.Repo) {
	tests := []struct {
		name string
		fn   func(t *testing.T, r image.Repo)
	}{
		{"CreateGet", testCreateGet},
		{"Copies", testCopies},
		{"Update", testUpdate},
		{"UpdateRace", testUpdateRace},
		{"Modify", testModify},
		{"ModifyConcurrent", testModifyConcurrent},
		{"Delete", testDelete},
		{"ListVisibility", testListVisibility},
		{"ListPaging", testListPaging},
		{"ListFilters", testListFilters},
		{"ListErrors", testListErrors},
		{"Members", testMembers},
		{"MemberQuota", testMemberQuota},
		{"MemberQuotaConcurrent", testMemberQuotaConcurrent},
		{"Usage", testUsage},
		{"ModifyCounted", testModifyCounted},
		{"ModifyCountedConcurrent", testModifyCountedConcurrent},
		{"CreateCounted", testCreateCounted},
		{"CreateCountedConcurrent", testCreateCountedConcurrent},
		{"ScrubQueue", testScrubQueue},
		{"Restore", testRestore},
		{"StaleUploads", testStaleUploads},
		{"LocationInUse", testLocationInUse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// at is the suite's clock: image i's times are at(i).
func at(seconds int) time.Time {
	return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(seconds) * time.Second)
}

// id is the i-th image's ID.
func id(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

func ptr[T any](v T) *T { return &v }

// newImage is a queued shared image, created at(i), named name ("" for
// no name), owned by owner ("" for no owner).
func newImage(i int, name, owner string) *image.Image {
	img := &image.Image{ID: id(i), Status: image.Queued, Visibility: image.Shared,
		CreatedAt: at(i), UpdatedAt: at(i), Properties: map[string]string{}}
	if name != "" {
		img.Name = &name
	}
	if owner != "" {
		img.Owner = &owner
	}
	return img
}

func create(t *testing.T, r image.Repo, imgs ...*image.Image) {
	t.Helper()
	for _, img := range imgs {
		if err := r.Create(t.Context(), img); err != nil {
			t.Fatalf("create %s: %v", img.ID, err)
		}
	}
}

func get(t *testing.T, r image.Repo, id string) *image.Image {
	t.Helper()
	img, err := r.Get(t.Context(), id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return img
}

// wantKind fails t unless err is of kind k.
func wantKind(t *testing.T, what string, err error, k errs.Kind) {
	t.Helper()
	if !errs.Is(k, err) {
		t.Errorf("%s: %v (kind %v), want kind %v", what, err, errs.KindOf(err), k)
	}
}

// diff lists how got differs from want, as a repository stores images:
// tags as a sorted set, locations in the order given with the status
// "active" when none is given, location IDs compared only when want has
// them, empty and nil alike.
func diff(want, got *image.Image) []string {
	var out []string
	add := func(field string, w, g any) {
		if !reflect.DeepEqual(w, g) {
			out = append(out, fmt.Sprintf("%s: got %v, want %v", field, g, w))
		}
	}
	str := func(p *string) any {
		if p == nil {
			return nil
		}
		return *p
	}
	num := func(p *int64) any {
		if p == nil {
			return nil
		}
		return *p
	}
	add("id", want.ID, got.ID)
	add("name", str(want.Name), str(got.Name))
	add("status", want.Status, got.Status)
	add("visibility", want.Visibility, got.Visibility)
	add("protected", want.Protected, got.Protected)
	add("os_hidden", want.OSHidden, got.OSHidden)
	add("checksum", str(want.Checksum), str(got.Checksum))
	add("os_hash_algo", str(want.OSHashAlgo), str(got.OSHashAlgo))
	add("os_hash_value", str(want.OSHashValue), str(got.OSHashValue))
	add("owner", str(want.Owner), str(got.Owner))
	add("size", num(want.Size), num(got.Size))
	add("virtual_size", num(want.VirtualSize), num(got.VirtualSize))
	add("disk_format", str(want.DiskFormat), str(got.DiskFormat))
	add("container_format", str(want.ContainerFormat), str(got.ContainerFormat))
	add("min_disk", want.MinDisk, got.MinDisk)
	add("min_ram", want.MinRAM, got.MinRAM)
	if !want.CreatedAt.Equal(got.CreatedAt) {
		out = append(out, fmt.Sprintf("created_at: got %v, want %v", got.CreatedAt, want.CreatedAt))
	}
	if !want.UpdatedAt.Equal(got.UpdatedAt) {
		out = append(out, fmt.Sprintf("updated_at: got %v, want %v", got.UpdatedAt, want.UpdatedAt))
	}
	add("deleted", want.Deleted, got.Deleted)
	wantTags := slices.Compact(slices.Sorted(slices.Values(want.Tags)))
	add("tags", strings.Join(wantTags, ","), strings.Join(got.Tags, ","))
	props := func(m map[string]string) map[string]string {
		if m == nil {
			return map[string]string{}
		}
		return m
	}
	add("properties", props(want.Properties), props(got.Properties))
	if len(want.Locations) != len(got.Locations) {
		out = append(out, fmt.Sprintf("locations: got %+v, want %+v", got.Locations, want.Locations))
		return out
	}
	for i, w := range want.Locations {
		g := got.Locations[i]
		w.Status = cmp.Or(w.Status, "active")
		if w.Metadata == nil {
			w.Metadata = map[string]any{}
		}
		if w.ID == 0 {
			g.ID = 0
		}
		add(fmt.Sprintf("location %d", i), w, g)
	}
	return out
}
