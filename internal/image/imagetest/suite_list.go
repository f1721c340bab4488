package imagetest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"glint/internal/errs"
	"glint/internal/image"
)

// listNames lists q for v and returns the images' names, sorted, "-" for
// an image without a name, leaving out names that start with skip (if
// not "").
func listNames(t *testing.T, r image.Repo, q image.ListQuery, v image.Viewer, skip string) []string {
	t.Helper()
	imgs, err := r.List(t.Context(), q, v)
	if err != nil {
		t.Fatalf("list %+v for %+v: %v", q, v, err)
	}
	var names []string
	for _, img := range imgs {
		n := "-"
		if img.Name != nil {
			n = *img.Name
		}
		if skip == "" || !strings.HasPrefix(n, skip) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// Who sees what in a listing (Glance's _select_images_query): public
// images, one's own, shared ones one is a member of (in the asked member
// status; without a project, of any member), community ones only when
// owned or asked for; killed images never, hidden ones only when asked
// for. A private image without an owner is no one's but the admins'. The answers are the same whether the caller sees a few images or
// hundreds (a SQL repository may then find them another way).
func testListVisibility(t *testing.T, r image.Repo) {
	ctx := t.Context()
	imgs := []struct {
		name, visibility, owner string
		status                  image.Status
		hidden                  bool
	}{
		{"pub", image.Public, "p2", image.Active, false}, {"priv-own", image.Private, "p1", image.Active, false},
		{"priv-other", image.Private, "p2", image.Active, false},
		{"shared-accepted", image.Shared, "p2", image.Active, false}, {"shared-pending", image.Shared, "p2", image.Active, false},
		{"comm-other", image.Community, "p2", image.Active, false}, {"comm-own", image.Community, "p1", image.Active, false},
		{"killed", image.Public, "p1", image.Killed, false}, {"hidden", image.Public, "p2", image.Active, true},
		{"priv-none", image.Private, "", image.Active, false},
	}
	for i, m := range imgs {
		img := newImage(i+1, m.name, m.owner)
		img.Visibility, img.Status, img.OSHidden = m.visibility, m.status, m.hidden
		create(t, r, img)
		status := map[string]string{"shared-accepted": image.MemberAccepted, "shared-pending": image.MemberPending}[m.name]
		if status != "" {
			if err := r.AddMember(ctx, &image.Member{ImageID: img.ID, MemberID: "p1", Status: status, CreatedAt: at(i), UpdatedAt: at(i)}, -1); err != nil {
				t.Fatal(err)
			}
		}
	}
	p1, p3 := image.Viewer{Project: "p1"}, image.Viewer{Project: "p3"}
	admin, noauth := image.Viewer{Admin: true, Project: "adm"}, image.Viewer{Admin: true}
	cases := []struct {
		v                        image.Viewer
		visibility, memberStatus string
		hidden                   bool
		want                     []string
	}{
		{p1, "", "accepted", false, []string{"pub", "priv-own", "shared-accepted", "comm-own"}},
		{p1, "", "pending", false, []string{"pub", "priv-own", "shared-pending", "comm-own"}},
		{p1, "", "all", false, []string{"pub", "priv-own", "shared-accepted", "shared-pending", "comm-own"}},
		{p1, image.Community, "accepted", false, []string{"comm-other", "comm-own"}},
		{p1, image.Shared, "accepted", false, []string{"shared-accepted"}},
		{p1, image.Private, "accepted", false, []string{"priv-own"}},
		{p1, "all", "accepted", false, []string{"pub", "priv-own", "shared-accepted", "comm-other", "comm-own"}},
		{p1, "", "accepted", true, []string{"hidden"}},
		{p3, "", "accepted", false, []string{"pub"}},
		{p3, image.Private, "accepted", false, nil},
		// Without a project, no shared image: an absent project is no one's member.
		{image.Viewer{}, "", "accepted", false, []string{"pub"}},
		{image.Viewer{}, image.Private, "accepted", false, nil},
		{admin, "", "accepted", false, []string{"pub", "priv-own", "priv-other", "priv-none", "shared-accepted", "shared-pending"}},
		{admin, "all", "accepted", false, []string{"pub", "priv-own", "priv-other", "priv-none", "shared-accepted", "shared-pending", "comm-other", "comm-own"}},
		{admin, image.Private, "accepted", false, []string{"priv-own", "priv-other", "priv-none"}},
		{noauth, "", "accepted", false, []string{"pub", "priv-own", "priv-other", "priv-none", "shared-accepted", "shared-pending"}},
		{noauth, "all", "accepted", false, []string{"pub", "priv-own", "priv-other", "priv-none", "shared-accepted", "shared-pending", "comm-other", "comm-own"}},
		{noauth, image.Private, "accepted", false, []string{"priv-own", "priv-other", "priv-none"}},
	}
	check := func(pass string) {
		for _, tc := range cases {
			q := image.ListQuery{Limit: 1000, Visibility: tc.visibility, MemberStatus: tc.memberStatus, OSHidden: tc.hidden}
			got := listNames(t, r, q, tc.v, "filler")
			if want := slices.Sorted(slices.Values(tc.want)); !slices.Equal(got, want) {
				t.Errorf("%s: viewer %+v, visibility %q, member_status %s, hidden %v: %v, want %v",
					pass, tc.v, tc.visibility, tc.memberStatus, tc.hidden, got, want)
			}
		}
	}
	check("few images")
	for i := range 250 {
		img := newImage(100+i, fmt.Sprintf("filler-%d", i), "p1")
		img.Visibility = image.Public
		create(t, r, img)
	}
	check("hundreds of public images")
}

// Paging with a marker visits every image exactly once, in order, for
// every sort: ties broken by created_at and id in the first key's
// direction (created_at descending by default), NULL before any value.
func testListPaging(t *testing.T, r image.Repo) {
	ctx := t.Context()
	names := []string{"b", "a", "", "c", "a", "b", "", "d"}
	statuses := []image.Status{image.Queued, image.Active, image.Saving}
	visibilities := []string{image.Public, image.Private, image.Shared, image.Public}
	var all []*image.Image
	for i, n := range names {
		img := newImage(i, n, "p1")
		img.CreatedAt = at(i % 3)
		img.UpdatedAt = img.CreatedAt
		img.Size = ptr(int64(i % 2))
		img.Status, img.Visibility = statuses[i%3], visibilities[i%4]
		create(t, r, img)
		all = append(all, img)
	}
	sorts := [][]image.SortKey{
		nil,
		{{Key: "name"}},
		{{Key: "name", Desc: true}},
		{{Key: "size"}, {Key: "name", Desc: true}},
		{{Key: "created_at"}},
		{{Key: "id", Desc: true}},
		{{Key: "updated_at"}, {Key: "name"}},
		{{Key: "status"}},
		{{Key: "visibility", Desc: true}, {Key: "id"}},
		{{Key: "disk_format"}},
	}
	for _, s := range sorts {
		want := expectedOrder(all, s)
		for _, limit := range []int{1, 2, 3, 100} {
			var seen []string
			marker := ""
			for range len(all) + 1 {
				imgs, err := r.List(ctx, image.ListQuery{Limit: limit, Marker: marker, Sort: s, MemberStatus: "accepted"}, image.Viewer{Admin: true})
				if err != nil {
					t.Fatal(err)
				}
				for _, img := range imgs {
					seen = append(seen, img.ID)
				}
				if len(imgs) < limit {
					break
				}
				marker = imgs[len(imgs)-1].ID
			}
			if !slices.Equal(seen, want) {
				t.Errorf("sort %v limit %d: visited\n%v, want\n%v", s, limit, seen, want)
			}
		}
	}
}

// expectedOrder sorts imgs as a listing does, for the keys
// testListPaging uses.
func expectedOrder(imgs []*image.Image, keys []image.SortKey) []string {
	keys = slices.Clone(keys)
	if len(keys) == 0 {
		keys = []image.SortKey{{Key: "created_at", Desc: true}}
	}
	for _, k := range []string{"created_at", "id"} {
		if !slices.ContainsFunc(keys, func(s image.SortKey) bool { return s.Key == k }) {
			keys = append(keys, image.SortKey{Key: k, Desc: keys[0].Desc})
		}
	}
	sorted := slices.Clone(imgs)
	slices.SortFunc(sorted, func(a, b *image.Image) int {
		for _, k := range keys {
			var c int
			switch k.Key {
			case "name":
				c = cmpNullable(a.Name, b.Name)
			case "disk_format":
				c = cmpNullable(a.DiskFormat, b.DiskFormat)
			case "size":
				c = cmpNullable(a.Size, b.Size)
			case "status":
				c = cmp.Compare(a.Status, b.Status)
			case "visibility":
				c = cmp.Compare(a.Visibility, b.Visibility)
			case "created_at":
				c = a.CreatedAt.Compare(b.CreatedAt)
			case "updated_at":
				c = a.UpdatedAt.Compare(b.UpdatedAt)
			case "id":
				c = cmp.Compare(a.ID, b.ID)
			default:
				panic("expectedOrder: no key " + k.Key)
			}
			if k.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	ids := make([]string, len(sorted))
	for i, img := range sorted {
		ids[i] = img.ID
	}
	return ids
}

func cmpNullable[T cmp.Ordered](a, b *T) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return cmp.Compare(*a, *b)
}

// Filters are ANDed, and a NULL column matches no comparison; a property
// or tag matches only while the image has it.
func testListFilters(t *testing.T, r image.Repo) {
	ctx := t.Context()
	alpha := newImage(1, "alpha", "p1")
	alpha.Status, alpha.Protected = image.Active, true
	alpha.DiskFormat, alpha.ContainerFormat = ptr("raw"), ptr("bare")
	alpha.Size, alpha.VirtualSize, alpha.MinDisk, alpha.MinRAM = ptr(int64(10)), ptr(int64(100)), 1, 512
	alpha.Checksum, alpha.OSHashAlgo, alpha.OSHashValue = ptr("c1"), ptr("sha512"), ptr("h1")
	alpha.Properties = map[string]string{"os_distro": "debian", "arch": "x86"}
	alpha.Tags = []string{"a", "b"}
	beta := newImage(2, "beta", "p2")
	beta.DiskFormat, beta.Properties, beta.Tags = ptr("qcow2"), map[string]string{"os_distro": "ubuntu"}, []string{"a"}
	gamma := newImage(3, "gamma", "")
	gamma.Status, gamma.DiskFormat, gamma.Size = image.Saving, ptr("raw"), ptr(int64(30))
	gamma.Properties, gamma.Tags = map[string]string{"arch": "arm"}, []string{"b", "c"}
	unnamed := newImage(4, "", "p1")
	unnamed.Status, unnamed.Size = image.Active, ptr(int64(20))
	delta := newImage(5, "delta", "p1")
	delta.Status, delta.Properties, delta.Tags = image.Active, map[string]string{"removed": "x"}, []string{"gone"}
	for i, img := range []*image.Image{alpha, beta, gamma, unnamed, delta} {
		img.Visibility = image.Public
		img.UpdatedAt = at(11 + i)
	}
	create(t, r, alpha, beta, gamma, unnamed, delta)
	if _, err := r.Modify(ctx, delta.ID, func(old *image.Image) (*image.Image, error) {
		old.Properties, old.Tags = map[string]string{}, nil
		return old, nil
	}); err != nil {
		t.Fatal(err)
	}

	col := func(field, op string, values ...string) image.Filter {
		return image.Filter{Field: field, Op: op, Values: values}
	}
	num := func(field, op string, n int64) image.Filter {
		return image.Filter{Field: field, Op: op, Values: []string{fmt.Sprint(n)}, Int: n}
	}
	when := func(field, op string, t time.Time) image.Filter {
		return image.Filter{Field: field, Op: op, Values: []string{t.Format(time.RFC3339Nano)}, Time: t}
	}
	prop := func(name, op string, values ...string) image.Filter {
		return image.Filter{Field: name, Property: true, Op: op, Values: values}
	}
	everyone := []string{"-", "alpha", "beta", "delta", "gamma"}
	cases := []struct {
		name    string
		filters []image.Filter
		tags    []string
		want    []string
	}{
		{"name eq", []image.Filter{col("name", image.OpEq, "alpha")}, nil, []string{"alpha"}},
		{"name in", []image.Filter{col("name", image.OpIn, "alpha", "gamma", "zeta")}, nil, []string{"alpha", "gamma"}},
		{"status eq", []image.Filter{col("status", image.OpEq, "active")}, nil, []string{"-", "alpha", "delta"}},
		{"status in", []image.Filter{col("status", image.OpIn, "queued", "saving")}, nil, []string{"beta", "gamma"}},
		{"owner eq", []image.Filter{col("owner", image.OpEq, "p1")}, nil, []string{"-", "alpha", "delta"}},
		{"owner in", []image.Filter{col("owner", image.OpIn, "p2", "p3")}, nil, []string{"beta"}},
		{"id eq", []image.Filter{col("id", image.OpEq, id(3))}, nil, []string{"gamma"}},
		{"disk_format eq", []image.Filter{col("disk_format", image.OpEq, "raw")}, nil, []string{"alpha", "gamma"}},
		{"container_format eq", []image.Filter{col("container_format", image.OpEq, "bare")}, nil, []string{"alpha"}},
		{"checksum eq", []image.Filter{col("checksum", image.OpEq, "c1")}, nil, []string{"alpha"}},
		{"os_hash_value eq", []image.Filter{col("os_hash_value", image.OpEq, "h1")}, nil, []string{"alpha"}},
		{"os_hash_algo eq", []image.Filter{col("os_hash_algo", image.OpEq, "sha512")}, nil, []string{"alpha"}},
		{"visibility eq", []image.Filter{col("visibility", image.OpEq, "public")}, nil, everyone},
		{"size gt", []image.Filter{num("size", image.OpGt, 10)}, nil, []string{"-", "gamma"}},
		{"size gte", []image.Filter{num("size", image.OpGte, 10)}, nil, []string{"-", "alpha", "gamma"}},
		{"size lt", []image.Filter{num("size", image.OpLt, 20)}, nil, []string{"alpha"}},
		{"size lte", []image.Filter{num("size", image.OpLte, 20)}, nil, []string{"-", "alpha"}},
		{"size eq", []image.Filter{num("size", image.OpEq, 30)}, nil, []string{"gamma"}},
		{"size neq: not NULL", []image.Filter{num("size", image.OpNeq, 10)}, nil, []string{"-", "gamma"}},
		{"virtual_size gte", []image.Filter{num("virtual_size", image.OpGte, 100)}, nil, []string{"alpha"}},
		{"min_ram gte", []image.Filter{num("min_ram", image.OpGte, 512)}, nil, []string{"alpha"}},
		{"min_disk eq", []image.Filter{num("min_disk", image.OpEq, 0)}, nil, []string{"-", "beta", "delta", "gamma"}},
		{"protected", []image.Filter{col("protected", image.OpEq, "true")}, nil, []string{"alpha"}},
		{"not protected", []image.Filter{col("protected", image.OpEq, "false")}, nil, []string{"-", "beta", "delta", "gamma"}},
		{"created_at gt, between seconds", []image.Filter{when("created_at", image.OpGt, at(2).Add(500*time.Millisecond))}, nil, []string{"-", "delta", "gamma"}},
		{"created_at lte", []image.Filter{when("created_at", image.OpLte, at(2))}, nil, []string{"alpha", "beta"}},
		{"created_at eq", []image.Filter{when("created_at", image.OpEq, at(3))}, nil, []string{"gamma"}},
		{"created_at neq", []image.Filter{when("created_at", image.OpNeq, at(3))}, nil, []string{"-", "alpha", "beta", "delta"}},
		{"updated_at lt", []image.Filter{when("updated_at", image.OpLt, at(12))}, nil, []string{"alpha"}},
		{"created_at range", []image.Filter{when("created_at", image.OpGte, at(2)), when("created_at", image.OpLt, at(4))}, nil, []string{"beta", "gamma"}},
		{"property eq", []image.Filter{prop("os_distro", image.OpEq, "debian")}, nil, []string{"alpha"}},
		{"property in", []image.Filter{prop("os_distro", image.OpIn, "ubuntu", "arch")}, nil, []string{"beta"}},
		{"property removed", []image.Filter{prop("removed", image.OpEq, "x")}, nil, nil},
		{"property absent is not empty", []image.Filter{prop("arch", image.OpEq, "")}, nil, nil},
		{"one tag", nil, []string{"a"}, []string{"alpha", "beta"}},
		{"every tag", nil, []string{"a", "b"}, []string{"alpha"}},
		{"tag removed", nil, []string{"gone"}, nil},
		{"status and tag", []image.Filter{col("status", image.OpEq, "active")}, []string{"a"}, []string{"alpha"}},
		{"property and size", []image.Filter{prop("arch", image.OpEq, "x86"), num("size", image.OpGt, 5)}, nil, []string{"alpha"}},
		{"property and owner, no image", []image.Filter{prop("arch", image.OpEq, "arm"), col("owner", image.OpEq, "p1")}, nil, nil},
	}
	for _, tc := range cases {
		q := image.ListQuery{Limit: 100, Visibility: "all", MemberStatus: "all", Filters: tc.filters, Tags: tc.tags}
		if got := listNames(t, r, q, image.Viewer{Admin: true}, ""); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A listing it cannot run is Invalid: an unknown sort key or filter
// column, an operator the column does not take, a marker that is no
// live image.
func testListErrors(t *testing.T, r image.Repo) {
	create(t, r, newImage(1, "a", "p1"), newImage(2, "b", "p1"))
	if _, err := r.Delete(t.Context(), id(2)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		q    image.ListQuery
	}{
		{"sort key", image.ListQuery{Sort: []image.SortKey{{Key: "nope"}}}},
		{"filter column", image.ListQuery{Filters: []image.Filter{{Field: "nope", Op: image.OpEq, Values: []string{"x"}}}}},
		{"text column, gt", image.ListQuery{Filters: []image.Filter{{Field: "name", Op: image.OpGt, Values: []string{"x"}}}}},
		{"property, gt", image.ListQuery{Filters: []image.Filter{{Field: "p", Property: true, Op: image.OpGt, Values: []string{"x"}}}}},
		{"created_at, in", image.ListQuery{Filters: []image.Filter{{Field: "created_at", Op: image.OpIn, Values: []string{"x"}}}}},
		{"unknown marker", image.ListQuery{Marker: id(9)}},
		{"deleted marker", image.ListQuery{Marker: id(2)}},
	}
	for _, tc := range cases {
		tc.q.Limit, tc.q.MemberStatus = 10, "accepted"
		_, err := r.List(t.Context(), tc.q, image.Viewer{Admin: true})
		wantKind(t, tc.name, err, errs.Invalid)
	}
}
