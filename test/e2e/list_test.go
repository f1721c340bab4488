package e2e

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestImageList checks the CLIs' listing options on a server of its own,
// holding exactly the images the test creates.
func TestImageList(t *testing.T) {
	t.Parallel()
	requireCLI(t)
	s := startServer(t)

	// Created in this order (b, a, c) so that name order and creation
	// order differ. Images without data are created over HTTP.
	ids := map[string]string{}
	for _, x := range []string{"b", "a", "c"} {
		ids[x] = s.createImage(t, map[string]any{
			"name":             "list-" + x,
			"disk_format":      "raw",
			"container_format": "bare",
			"e2e_group":        "g-" + x,
			"tags":             []string{"t-" + x, "common"},
		})
	}
	all := []string{ids["a"], ids["b"], ids["c"]}
	byName := []string{"list-a", "list-b", "list-c"}
	newest := s.listIDs(t, "limit=1") // the API's default order: created_at desc

	osList := func(t *testing.T, args ...string) (ids, names []string) {
		t.Helper()
		r := must(t, s.openstack(t, append([]string{"image", "list", "-f", "json"}, args...)...))
		for _, row := range jsonOut[[]map[string]any](t, r) {
			ids = append(ids, fmt.Sprint(row["ID"]))
			names = append(names, fmt.Sprint(row["Name"]))
		}
		return ids, names
	}
	glanceList := func(t *testing.T, args ...string) (ids, names []string) {
		t.Helper()
		r := must(t, s.glance(t, append([]string{"image-list"}, args...)...))
		for _, row := range glanceTable(t, r.stdout) {
			ids = append(ids, row["ID"])
			names = append(names, row["Name"])
		}
		return ids, names
	}
	type lister func(t *testing.T, args ...string) (ids, names []string)

	cases := []struct {
		name      string
		list      lister
		args      []string
		wantIDs   []string // exact, in order; nil to skip
		wantNames []string // exact, in order; nil to skip
		wantCount int      // when > 0, the number of images
	}{
		{name: "openstack/all", list: osList, wantCount: 3},
		{name: "openstack/property", list: osList, args: []string{"--property", "e2e_group=g-c"}, wantIDs: []string{ids["c"]}},
		{name: "openstack/tag", list: osList, args: []string{"--tag", "t-a"}, wantIDs: []string{ids["a"]}},
		{name: "openstack/tag-common", list: osList, args: []string{"--tag", "common"}, wantCount: 3},
		{name: "openstack/sort-name-asc", list: osList, args: []string{"--sort", "name:asc"}, wantNames: byName},
		{name: "openstack/limit", list: osList, args: []string{"--limit", "1"}, wantIDs: newest},
		{name: "glance/property-filter", list: glanceList, args: []string{"--property-filter", "e2e_group=g-c"}, wantIDs: []string{ids["c"]}},
		{name: "glance/tag", list: glanceList, args: []string{"--tag", "t-a"}, wantIDs: []string{ids["a"]}},
		{name: "glance/sort-name-asc", list: glanceList, args: []string{"--sort", "name:asc"}, wantNames: byName},
		// glanceclient sorts by name:asc unless told otherwise.
		{name: "glance/limit", list: glanceList, args: []string{"--limit", "1"}, wantIDs: []string{ids["a"]}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gotIDs, gotNames := tc.list(t, tc.args...)
			if tc.wantIDs != nil && !slices.Equal(gotIDs, tc.wantIDs) {
				t.Errorf("ids %v, want %v (names %v)", gotIDs, tc.wantIDs, gotNames)
			}
			if tc.wantNames != nil && !slices.Equal(gotNames, tc.wantNames) {
				t.Errorf("names %v, want %v", gotNames, tc.wantNames)
			}
			if tc.wantCount > 0 {
				if len(gotIDs) != tc.wantCount {
					t.Errorf("%d images %v, want %d", len(gotIDs), gotIDs, tc.wantCount)
				}
				for _, id := range all {
					if !slices.Contains(gotIDs, id) {
						t.Errorf("image %s missing from %v", id, gotIDs)
					}
				}
			}
		})
	}

	// glance pages through every image one at a time, following the API's
	// "next" links (limit=1&marker=…), in glanceclient's default order
	// (name:asc) and in the API's (created_at:desc, the keyset Glint
	// builds from DATETIME columns). A bounded timeout: a server whose next
	// link repeated a page would keep the client looping forever.
	for _, sort := range []string{"", "created_at:desc", "name:desc"} {
		name := "glance/page-size"
		args := []string{"--debug", "image-list", "--page-size", "1"}
		if sort != "" {
			name += "-" + sort
			args = append(args, "--sort", sort)
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := must(t, s.glanceTimeout(t, 30*time.Second, args...))
			var got []string
			for _, row := range glanceTable(t, r.stdout) {
				got = append(got, row["ID"])
			}
			want := slices.Clone(all)
			slices.Sort(want)
			if sorted := slices.Sorted(slices.Values(got)); !slices.Equal(sorted, want) {
				t.Errorf("paged listing %v, want each of %v once", got, want)
			}
			switch sort {
			case "created_at:desc":
				if len(got) > 0 && got[0] != newest[0] {
					t.Errorf("paged listing %v does not start with the newest image %s", got, newest[0])
				}
			case "name:desc":
				if want := []string{ids["c"], ids["b"], ids["a"]}; !slices.Equal(got, want) {
					t.Errorf("paged listing %v, want %v (name:desc)", got, want)
				}
			}
			// --debug logs each request as a curl command line; one
			// request per page, plus the empty last page.
			n := 0
			for _, line := range strings.Split(r.stderr, "\n") {
				if strings.Contains(line, "curl") && strings.Contains(line, "/v2/images?") &&
					strings.Contains(line, "limit=1") {
					n++
				}
			}
			if n < len(all) {
				t.Errorf("glance made %d list requests with limit=1, want at least %d (one per image)", n, len(all))
			}
		})
	}
}

// TestCreatePublicForbidden: in noauth mode the request context is admin
// but has no roles, and Glance 25.1's publicize_image rule is
// "role:admin", so creating a public image is refused with 403.
func TestCreatePublicForbidden(t *testing.T) {
	t.Parallel()
	requireCLI(t)
	s := startServer(t)
	p := writePayload(t, s.tmp, 1024)

	cases := []struct {
		name string
		run  func(t *testing.T, name string) cliResult
	}{
		{"openstack", func(t *testing.T, name string) cliResult {
			return s.openstack(t, "image", "create", "--public", "--disk-format", "raw", "--container-format", "bare",
				"--file", p.path, name, "-f", "json")
		}},
		{"glance", func(t *testing.T, name string) cliResult {
			return s.glance(t, "image-create", "--visibility", "public", "--name", name, "--disk-format", "raw",
				"--container-format", "bare", "--file", p.path)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			name := "e2e-public-" + tc.name
			r := mustFail(t, tc.run(t, name))
			out := r.stdout + r.stderr
			if !strings.Contains(out, "403") || !strings.Contains(out, "publicize_image") {
				t.Errorf("want a 403 naming publicize_image:\n%s", r)
			}
			if !s.logHas("method=POST", "path=/v2/images ", "status=403") {
				t.Errorf("server log has no POST /v2/images answered 403")
			}
			if ids := s.listIDs(t, "name="+url.QueryEscape(name)+"&visibility=all"); len(ids) != 0 {
				t.Errorf("a refused create left images %v", ids)
			}
		})
	}
}
