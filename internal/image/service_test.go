package image_test

// The domain's rules, tested on image.Service itself over the in-memory
// repository (imagetest.MemRepo, which passes the repository suite the
// SQL repositories pass) and a filesystem store in a temporary
// directory: no server, no HTTP, milliseconds. What these tests leave
// to the API's tests is the wire: JSON shapes, status codes, headers.

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"glint/internal/auth"
	"glint/internal/errs"
	"glint/internal/image"
	"glint/internal/image/imagetest"
	"glint/internal/store"
	"glint/internal/store/filesystem"
)

// env is a service on a fresh repository and store.
type env struct {
	t    *testing.T
	svc  *image.Service
	repo *imagetest.MemRepo
	dir  string // the filesystem store's directory
}

// newEnv builds a service with Glint's usual options, changed by adjust,
// and Glance's legacy policy defaults unless authz is given.
func newEnv(t *testing.T, authz image.Authorizer, adjust ...func(*image.Options)) *env {
	t.Helper()
	dir := t.TempDir()
	fs, err := filesystem.New(dir, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	o := image.Options{
		ImageSizeCap: 1 << 30, HashingAlgorithm: "sha512",
		PropertyQuota: -1, TagQuota: -1, MemberQuota: -1, LocationQuota: -1,
		DiskFormats: image.DefaultDiskFormats, ContainerFormats: image.DefaultContainerFormats,
	}
	for _, a := range adjust {
		if a != nil {
			a(&o)
		}
	}
	repo := imagetest.NewMemRepo()
	return &env{t: t, repo: repo, dir: dir,
		svc: image.NewService(repo, store.NewSet(fs), authz, o, slog.New(slog.DiscardHandler))}
}

// The callers of these tests, as the identity layer makes them.
func admin() *auth.Context {
	return &auth.Context{UserID: "u-adm", ProjectID: "adm", Roles: []string{"admin", "member", "reader"}, IsAdmin: true}
}

// member is a member of project ("" for a token without a project).
func member(project string) *auth.Context {
	return &auth.Context{UserID: "u-" + project, ProjectID: project, Roles: []string{"member", "reader"}}
}

func (e *env) as(c *auth.Context) context.Context { return auth.With(e.t.Context(), c) }

// create makes an image as c, failing the test if it cannot.
func (e *env) create(c *auth.Context, attrs map[string]any) *image.Image {
	e.t.Helper()
	img, err := e.svc.Create(e.as(c), attrs)
	if err != nil {
		e.t.Fatalf("create %v as %s: %v", attrs, c.ProjectID, err)
	}
	return img
}

// stored is the image as the repository holds it, whoever may see it.
func (e *env) stored(id string) *image.Image {
	e.t.Helper()
	img, err := e.repo.Get(e.t.Context(), id)
	if err != nil {
		e.t.Fatalf("stored %s: %v", id, err)
	}
	return img
}

// set changes a stored image behind the service's back: the state a
// test starts from.
func (e *env) set(id string, change func(img *image.Image)) {
	e.t.Helper()
	if _, err := e.repo.Modify(e.t.Context(), id, func(old *image.Image) (*image.Image, error) {
		change(old)
		return old, nil
	}); err != nil {
		e.t.Fatal(err)
	}
}

// files lists the image files in the store (not the partial ones).
func (e *env) files() []string {
	e.t.Helper()
	ents, err := os.ReadDir(e.dir)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, d := range ents {
		if !strings.HasPrefix(d.Name(), ".") {
			out = append(out, d.Name())
		}
	}
	return out
}

// checkErr fails t unless err is nil (want errs.Other) or of kind want.
func checkErr(t *testing.T, what string, err error, want errs.Kind) {
	t.Helper()
	switch {
	case want == errs.Other && err != nil:
		t.Errorf("%s: %v", what, err)
	case want != errs.Other && !errs.Is(want, err):
		t.Errorf("%s: %v (kind %v), want kind %v", what, err, errs.KindOf(err), want)
	}
}

// refused reports whether err is a refusal: Forbidden, or NotFound for
// an image the caller may not even see.
func refused(err error) bool { return errs.Is(errs.Forbidden, err) || errs.Is(errs.NotFound, err) }

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// Create: the caller's project owns the image, which starts queued and
// shared; attributes are checked against Glance's rules (reserved,
// read-only, formats, visibility policy, 4-byte characters) and quotas
// before anything is stored.
func TestCreate(t *testing.T) {
	cases := []struct {
		name  string
		by    *auth.Context
		attrs map[string]any
		opts  func(*image.Options)
		want  errs.Kind // errs.Other: created
		check func(t *testing.T, img *image.Image)
	}{
		{"a member's image is its project's, queued, shared", member("p1"), map[string]any{"name": "a", "os_distro": "debian"}, nil, errs.Other,
			func(t *testing.T, img *image.Image) {
				if str(img.Owner) != "p1" || img.Status != image.Queued || img.Visibility != image.Shared || str(img.Name) != "a" ||
					img.Properties["os_distro"] != "debian" || img.CreatedAt.IsZero() || !img.CreatedAt.Equal(img.UpdatedAt) {
					t.Errorf("created %+v", img)
				}
			}},
		{"its own project named", member("p1"), map[string]any{"owner": "p1"}, nil, errs.Other, nil},
		{"another project named", member("p1"), map[string]any{"owner": "p2"}, nil, errs.Forbidden, nil},
		{"no owner asked by a member", member("p1"), map[string]any{"owner": nil}, nil, errs.Forbidden, nil},
		{"no project", member(""), map[string]any{"name": "a"}, nil, errs.Forbidden, nil},
		{"an admin's, for another project", admin(), map[string]any{"owner": "p9"}, nil, errs.Other,
			func(t *testing.T, img *image.Image) {
				if str(img.Owner) != "p9" {
					t.Errorf("owner %s", str(img.Owner))
				}
			}},
		{"an admin's, without owner", admin(), map[string]any{"owner": nil}, nil, errs.Other,
			func(t *testing.T, img *image.Image) {
				if img.Owner != nil {
					t.Errorf("owner %s", str(img.Owner))
				}
			}},
		{"an ID chosen", member("p1"), map[string]any{"id": "6b3a1f4e-8a5b-4c8e-9f27-0c7b7c1d2e3f"}, nil, errs.Other,
			func(t *testing.T, img *image.Image) {
				if img.ID != "6b3a1f4e-8a5b-4c8e-9f27-0c7b7c1d2e3f" {
					t.Errorf("id %s", img.ID)
				}
			}},
		{"a bad ID", member("p1"), map[string]any{"id": "nope"}, nil, errs.Invalid, nil},
		{"reserved: locations", member("p1"), map[string]any{"locations": []any{}}, nil, errs.Forbidden, nil},
		{"reserved: deleted", member("p1"), map[string]any{"deleted": true}, nil, errs.Forbidden, nil},
		{"reserved: os_glance_*", member("p1"), map[string]any{"os_glance_import_task": "x"}, nil, errs.Forbidden, nil},
		{"read-only: status", member("p1"), map[string]any{"status": "active"}, nil, errs.Forbidden, nil},
		{"read-only: size", member("p1"), map[string]any{"size": float64(1)}, nil, errs.Forbidden, nil},
		{"read-only: checksum", member("p1"), map[string]any{"checksum": "abc"}, nil, errs.Forbidden, nil},
		{"hash attributes taken and dropped", member("p1"), map[string]any{"os_hash_algo": "md5", "os_hash_value": "x"}, nil, errs.Other,
			func(t *testing.T, img *image.Image) {
				if img.OSHashAlgo != nil || img.OSHashValue != nil {
					t.Errorf("kept %s %s", str(img.OSHashAlgo), str(img.OSHashValue))
				}
			}},
		{"public, by a member", member("p1"), map[string]any{"visibility": "public"}, nil, errs.Forbidden, nil},
		{"public, by an admin", admin(), map[string]any{"visibility": "public"}, nil, errs.Other, nil},
		{"community, by a member", member("p1"), map[string]any{"visibility": "community"}, nil, errs.Other, nil},
		{"no such visibility", member("p1"), map[string]any{"visibility": "everyone"}, nil, errs.Invalid, nil},
		{"a disk format not configured", member("p1"), map[string]any{"disk_format": "xyz"}, nil, errs.Invalid, nil},
		{"a disk format configured", member("p1"), map[string]any{"disk_format": "qcow2", "container_format": "bare"}, nil, errs.Other, nil},
		{"min_ram below zero", member("p1"), map[string]any{"min_ram": float64(-1)}, nil, errs.Invalid, nil},
		{"min_disk not whole", member("p1"), map[string]any{"min_disk": 1.5}, nil, errs.Invalid, nil},
		{"a property not a string", member("p1"), map[string]any{"x": float64(1)}, nil, errs.Invalid, nil},
		{"a 4-byte character", member("p1"), map[string]any{"name": "smile 😀"}, nil, errs.Invalid, nil},
		{"tags sorted, once each", member("p1"), map[string]any{"tags": []any{"b", "a", "b"}}, nil, errs.Other,
			func(t *testing.T, img *image.Image) {
				if !slices.Equal(img.Tags, []string{"a", "b"}) {
					t.Errorf("tags %v", img.Tags)
				}
			}},
		{"past the property quota", member("p1"), map[string]any{"a": "1", "b": "2"},
			func(o *image.Options) { o.PropertyQuota = 1 }, errs.TooLarge, nil},
		{"at the property quota", member("p1"), map[string]any{"a": "1"},
			func(o *image.Options) { o.PropertyQuota = 1 }, errs.Other, nil},
		{"past the tag quota", member("p1"), map[string]any{"tags": []any{"a", "b"}},
			func(o *image.Options) { o.TagQuota = 1 }, errs.TooLarge, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil, tc.opts)
			img, err := e.svc.Create(e.as(tc.by), tc.attrs)
			checkErr(t, "create", err, tc.want)
			if err != nil {
				if l, _ := e.repo.List(t.Context(), image.ListQuery{Limit: 10, Visibility: "all", MemberStatus: "all"}, image.Viewer{Admin: true}); len(l) != 0 {
					t.Errorf("a refused create stored %d images", len(l))
				}
				return
			}
			if got := e.stored(img.ID); !reflect.DeepEqual(got.Properties, img.Properties) || got.Status != img.Status {
				t.Errorf("stored %+v, returned %+v", got, img)
			}
			if tc.check != nil {
				tc.check(t, img)
			}
		})
	}
}

// Update (JSON patch): changes apply in order and are saved together or
// not at all, by the owner or an admin, under Glance's rules for each
// attribute and the quotas.
func TestUpdate(t *testing.T) {
	replace := func(path string, v any) image.Change {
		return image.Change{Op: "replace", Path: []string{path}, Value: v}
	}
	add := func(path string, v any) image.Change { return image.Change{Op: "add", Path: []string{path}, Value: v} }
	remove := func(path string) image.Change { return image.Change{Op: "remove", Path: []string{path}} }
	ro := member("p1")
	ro.ReadOnly = true
	active := func(img *image.Image) { img.Status = image.Active }
	threeProps := func(img *image.Image) { img.Properties["q"], img.Properties["r"] = "2", "3" }
	cases := []struct {
		name      string
		by        *auth.Context
		changes   []image.Change
		strictAdd bool // the v2.0 patch dialect
		opts      func(*image.Options)
		prepare   func(img *image.Image) // the stored image, before
		want      errs.Kind
		check     func(t *testing.T, img *image.Image)
	}{
		{"a name", member("p1"), []image.Change{replace("name", "b")}, false, nil, nil, errs.Other,
			func(t *testing.T, img *image.Image) {
				if str(img.Name) != "b" {
					t.Errorf("name %s", str(img.Name))
				}
			}},
		{"a new property", member("p1"), []image.Change{add("x", "1")}, false, nil, nil, errs.Other,
			func(t *testing.T, img *image.Image) {
				if img.Properties["x"] != "1" {
					t.Errorf("properties %v", img.Properties)
				}
			}},
		{"add over a property", member("p1"), []image.Change{add("p", "2")}, false, nil, nil, errs.Other,
			func(t *testing.T, img *image.Image) {
				if img.Properties["p"] != "2" {
					t.Errorf("properties %v", img.Properties)
				}
			}},
		{"add over a property, v2.0", member("p1"), []image.Change{add("p", "2")}, true, nil, nil, errs.Conflict, nil},
		{"replace a property not there", member("p1"), []image.Change{replace("x", "1")}, false, nil, nil, errs.Conflict, nil},
		{"remove a property not there", member("p1"), []image.Change{remove("x")}, false, nil, nil, errs.Conflict, nil},
		{"remove a property", member("p1"), []image.Change{remove("p")}, false, nil, nil, errs.Other,
			func(t *testing.T, img *image.Image) {
				if _, ok := img.Properties["p"]; ok {
					t.Errorf("properties %v", img.Properties)
				}
			}},
		{"remove a core attribute", member("p1"), []image.Change{remove("name")}, false, nil, nil, errs.Forbidden, nil},
		{"a read-only attribute", member("p1"), []image.Change{replace("status", "active")}, false, nil, nil, errs.Forbidden, nil},
		{"a reserved attribute", member("p1"), []image.Change{add("os_glance_x", "1")}, false, nil, nil, errs.Forbidden, nil},
		{"locations, hidden", member("p1"), []image.Change{{Op: "add", Path: []string{"locations", "-"},
			Value: map[string]any{"url": "http://h/a", "metadata": map[string]any{}}}}, false, nil, nil, errs.Forbidden, nil},
		{"the owner, by its member", member("p1"), []image.Change{replace("owner", "p2")}, false, nil, nil, errs.Forbidden, nil},
		{"the owner, by an admin", admin(), []image.Change{replace("owner", "p9")}, false, nil, nil, errs.Other,
			func(t *testing.T, img *image.Image) {
				if str(img.Owner) != "p9" {
					t.Errorf("owner %s", str(img.Owner))
				}
			}},
		{"by another project", member("p2"), []image.Change{replace("name", "b")}, false, nil, nil, errs.Forbidden, nil},
		{"by a caller without project", member(""), []image.Change{replace("name", "b")}, false, nil, nil, errs.Forbidden, nil},
		{"by a read-only caller", ro, []image.Change{replace("name", "b")}, false, nil, nil, errs.Forbidden, nil},
		{"public, by its member", member("p1"), []image.Change{replace("visibility", "public")}, false, nil, nil, errs.Forbidden, nil},
		{"the disk format of a queued image", member("p1"), []image.Change{replace("disk_format", "qcow2")}, false, nil, nil, errs.Other, nil},
		{"the disk format of an active image", member("p1"), []image.Change{replace("disk_format", "qcow2")}, false, nil, active, errs.Forbidden, nil},
		{"all or nothing", member("p1"), []image.Change{replace("name", "b"), replace("status", "active")}, false, nil, nil, errs.Forbidden, nil},
		{"past the property quota", member("p1"), []image.Change{add("x", "1")}, false,
			func(o *image.Options) { o.PropertyQuota = 1 }, nil, errs.TooLarge, nil},
		{"a removal while past the quota", member("p1"), []image.Change{remove("p")}, false,
			func(o *image.Options) { o.PropertyQuota = 1 }, threeProps, errs.Other, nil},
		{"a change while past the quota", member("p1"), []image.Change{replace("q", "changed")}, false,
			func(o *image.Options) { o.PropertyQuota = 1 }, threeProps, errs.Other, nil},
		{"past the tag quota", member("p1"), []image.Change{replace("tags", []any{"t", "u"})}, false,
			func(o *image.Options) { o.TagQuota = 1 }, nil, errs.TooLarge, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil, tc.opts)
			// Community: every caller sees it, so a refusal is a 403.
			img := e.create(admin(), map[string]any{"owner": "p1", "visibility": "community", "name": "a",
				"disk_format": "raw", "container_format": "bare", "p": "1", "tags": []any{"t"}})
			if tc.prepare != nil {
				e.set(img.ID, tc.prepare)
			}
			before := e.stored(img.ID)
			got, err := e.svc.Update(e.as(tc.by), img.ID, tc.changes, tc.strictAdd)
			checkErr(t, "update", err, tc.want)
			after := e.stored(img.ID)
			if err != nil {
				if !reflect.DeepEqual(before, after) {
					t.Errorf("a refused update changed the image:\n%+v\n%+v", before, after)
				}
				return
			}
			if !reflect.DeepEqual(got.Properties, after.Properties) || str(got.Name) != str(after.Name) || !slices.Equal(got.Tags, after.Tags) {
				t.Errorf("returned %+v, stored %+v", got, after)
			}
			if tc.check != nil {
				tc.check(t, after)
			}
		})
	}
}

// Tags added at once are all kept: each change applies to the image as
// it is when its turn comes.
func TestConcurrentTags(t *testing.T) {
	e := newEnv(t, nil)
	img := e.create(member("p1"), map[string]any{"name": "a"})
	const n = 20
	errc := make(chan error, n)
	for i := range n {
		go func() { errc <- e.svc.AddTag(e.as(member("p1")), img.ID, string(rune('a'+i))) }()
	}
	var all []error
	for range n {
		all = append(all, <-errc)
	}
	if err := errors.Join(all...); err != nil {
		t.Fatal(err)
	}
	if tags := e.stored(img.ID).Tags; len(tags) != n {
		t.Errorf("%d tags kept of %d added: %v", len(tags), n, tags)
	}
}
