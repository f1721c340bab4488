package db_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"glint/internal/db/dbtest"
	"glint/internal/errs"
	"glint/internal/metadef"
)

// catalogDir is Glance's shipped catalog: $GLINT_METADEFS_DIR, else where
// Debian's glance-common installs it (scripts/test installs that).
func catalogDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GLINT_METADEFS_DIR")
	if dir == "" {
		dir = "/etc/glance/metadefs"
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(m) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no catalog in %s: install glance-common", dir)
		}
		t.Skipf("no catalog in %s (install glance-common or set GLINT_METADEFS_DIR)", dir)
	}
	return dir
}

func TestMetadefsRepo(t *testing.T) {
	eachDB(t, func(t *testing.T, c dbtest.Conn) {
		ctx := context.Background()
		r := openDB(t, c).Metadefs()
		now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
		ns := &metadef.Namespace{Namespace: "OS::Test", DisplayName: "Test", Description: "d", Visibility: "private",
			Owner: "p1", CreatedAt: now, UpdatedAt: now}
		contents := &metadef.Contents{
			Associations: []metadef.Association{{Name: "OS::Glance::Image", Prefix: "t_", CreatedAt: now, UpdatedAt: now}},
			Properties:   []metadef.Item{{Name: "p", Schema: json.RawMessage(`{"type":"string","title":"P"}`), CreatedAt: now, UpdatedAt: now}},
			Objects: []metadef.Item{{Name: "o", Description: "obj", Required: []string{"x"},
				Schema: json.RawMessage(`{"x":{"type":"integer","title":"X"}}`), CreatedAt: now, UpdatedAt: now}},
			Tags: []metadef.Item{{Name: "Tag1", CreatedAt: now, UpdatedAt: now}},
		}
		if err := r.CreateNamespace(ctx, ns, contents); err != nil {
			t.Fatal(err)
		}
		if err := r.CreateNamespace(ctx, ns, nil); errs.KindOf(err) != errs.Conflict {
			t.Fatalf("duplicate namespace: %v", err)
		}
		got, err := r.GetNamespace(ctx, "OS::Test")
		if err != nil || !reflect.DeepEqual(got, ns) {
			t.Fatalf("GetNamespace = %+v, %v; want %+v", got, err, ns)
		}
		back, err := r.Contents(ctx, "OS::Test")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, contents) {
			t.Fatalf("Contents = %+v\nwant %+v", back, contents)
		}
		if _, err := r.GetNamespace(ctx, "nope"); errs.KindOf(err) != errs.NotFound {
			t.Fatalf("missing namespace: %v", err)
		}

		// Tags: case-insensitive duplicates, replace, paging.
		if err := r.CreateItems(ctx, metadef.Tags, "OS::Test", []metadef.Item{{Name: "tag1", CreatedAt: now, UpdatedAt: now}}, false); errs.KindOf(err) != errs.Conflict {
			t.Fatalf("duplicate tag: %v", err)
		}
		var tags []metadef.Item
		for _, n := range []string{"c", "a", "b"} {
			tags = append(tags, metadef.Item{Name: n, CreatedAt: now, UpdatedAt: now})
		}
		if err := r.CreateItems(ctx, metadef.Tags, "OS::Test", tags, true); err != nil {
			t.Fatal(err)
		}
		l, err := r.ListItems(ctx, metadef.Tags, "OS::Test", metadef.TagQuery{SortKey: "name", Marker: "a", Limit: 1})
		if err != nil || len(l) != 1 || l[0].Name != "b" {
			t.Fatalf("tags page = %+v, %v", l, err)
		}
		l, _ = r.ListItems(ctx, metadef.Tags, "OS::Test", metadef.TagQuery{SortKey: "name", SortDesc: true})
		if names(l) != "c,b,a" {
			t.Fatalf("tags desc = %s", names(l))
		}

		// Update and rename an object; rename onto another is a conflict.
		later := now.Add(time.Hour)
		upd := metadef.Item{Name: "o2", Description: "new", Schema: json.RawMessage(`{}`), CreatedAt: now, UpdatedAt: later}
		if err := r.UpdateItem(ctx, metadef.Objects, "OS::Test", "o", upd); err != nil {
			t.Fatal(err)
		}
		if it, err := r.GetItem(ctx, metadef.Objects, "OS::Test", "o2"); err != nil || it.Description != "new" || !it.UpdatedAt.Equal(later) {
			t.Fatalf("updated object = %+v, %v", it, err)
		}
		if err := r.UpdateItem(ctx, metadef.Objects, "OS::Test", "o", upd); errs.KindOf(err) != errs.NotFound {
			t.Fatalf("update missing object: %v", err)
		}
		if err := r.UpdateItem(ctx, metadef.Properties, "OS::Test", "p", metadef.Item{Name: "p", Schema: json.RawMessage(`{"type":"string","title":"P"}`), UpdatedAt: later}); err != nil {
			t.Fatalf("update unchanged property: %v", err)
		}
		if err := r.DeleteItem(ctx, metadef.Properties, "OS::Test", "p"); err != nil {
			t.Fatal(err)
		}
		if err := r.DeleteItem(ctx, metadef.Properties, "OS::Test", "p"); errs.KindOf(err) != errs.NotFound {
			t.Fatalf("delete missing property: %v", err)
		}

		// Associations and resource types.
		if err := r.CreateAssociation(ctx, "OS::Test", metadef.Association{Name: "OS::Glance::Image", CreatedAt: now, UpdatedAt: now}); errs.KindOf(err) != errs.Conflict {
			t.Fatalf("duplicate association: %v", err)
		}
		if err := r.CreateAssociation(ctx, "OS::Test", metadef.Association{Name: "OS::Nova::Flavor", Prefix: "t:", CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		rts, err := r.ListResourceTypes(ctx)
		if err != nil || len(rts) != 2 || rts[0].Name != "OS::Glance::Image" || rts[1].Name != "OS::Nova::Flavor" {
			t.Fatalf("resource types = %+v, %v", rts, err)
		}
		if err := r.DeleteAssociation(ctx, "OS::Test", "OS::Nova::Flavor"); err != nil {
			t.Fatal(err)
		}
		if err := r.DeleteAssociation(ctx, "OS::Test", "OS::Nova::Flavor"); errs.KindOf(err) != errs.NotFound {
			t.Fatalf("delete missing association: %v", err)
		}

		// Listing: visibility, resource type filter, sort, marker.
		for i, n := range []string{"B", "A", "C"} {
			vis := "public"
			if n == "C" {
				vis = "private"
			}
			ts := now.Add(time.Duration(i) * time.Minute)
			if err := r.CreateNamespace(ctx, &metadef.Namespace{Namespace: n, Visibility: vis, Owner: "p2", CreatedAt: ts, UpdatedAt: ts}, nil); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			q    metadef.NamespaceQuery
			want string
		}{
			{metadef.NamespaceQuery{AllVisible: true, SortKey: "namespace"}, "A,B,C,OS::Test"},
			{metadef.NamespaceQuery{Owner: "p1", SortKey: "namespace"}, "A,B,OS::Test"},
			{metadef.NamespaceQuery{Owner: "p3"}, "B,A"},
			{metadef.NamespaceQuery{AllVisible: true, SortDesc: true}, "C,A,B,OS::Test"},
			{metadef.NamespaceQuery{AllVisible: true, Visibility: "private", SortKey: "namespace"}, "C,OS::Test"},
			{metadef.NamespaceQuery{AllVisible: true, ResourceTypes: []string{"OS::Glance::Image", "x"}}, "OS::Test"},
			{metadef.NamespaceQuery{AllVisible: true, SortKey: "namespace", Marker: "A", Limit: 2}, "B,C"},
		} {
			l, err := r.ListNamespaces(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ns := range l {
				got = append(got, ns.Namespace)
			}
			if s := join(got); s != tc.want {
				t.Errorf("ListNamespaces(%+v) = %s, want %s", tc.q, s, tc.want)
			}
		}

		// Rename a namespace; delete it with everything in it.
		ns.Namespace, ns.Protected, ns.UpdatedAt = "OS::Test2", true, later
		if err := r.UpdateNamespace(ctx, "OS::Test", ns); err != nil {
			t.Fatal(err)
		}
		if err := r.UpdateNamespace(ctx, "OS::Test2", &metadef.Namespace{Namespace: "A", Visibility: "public", Owner: "x", UpdatedAt: later}); errs.KindOf(err) != errs.Conflict {
			t.Fatalf("rename onto another: %v", err)
		}
		if err := r.DeleteNamespace(ctx, "OS::Test2"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Contents(ctx, "OS::Test2"); errs.KindOf(err) != errs.NotFound {
			t.Fatalf("contents of deleted namespace: %v", err)
		}
	})
}

func names(l []metadef.Item) string {
	var s []string
	for _, it := range l {
		s = append(s, it.Name)
	}
	return join(s)
}

func join(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}

// TestCatalogRoundTrip loads Glance's shipped catalog, checks every
// namespace, object, property, tag and association against its file field
// by field, exports it, and loads the export into a second database.
func TestCatalogRoundTrip(t *testing.T) {
	dir := catalogDir(t)
	files := map[string]*metadef.File{}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := metadef.ParseFile(data)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		files[f.Namespace] = f
	}
	eachDB(t, func(t *testing.T, c dbtest.Conn) {
		ctx := context.Background()
		r := openDB(t, c).Metadefs()
		res, err := metadef.LoadDir(ctx, r, dir, metadef.Skip)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Created) != len(files) {
			t.Fatalf("created %d namespaces, want %d", len(res.Created), len(files))
		}
		check := func(t *testing.T) {
			t.Helper()
			all, err := r.ListNamespaces(ctx, metadef.NamespaceQuery{AllVisible: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != len(files) {
				t.Fatalf("%d namespaces listed, want %d", len(all), len(files))
			}
			for _, ns := range all {
				f := files[ns.Namespace]
				if f == nil {
					t.Fatalf("unexpected namespace %s", ns.Namespace)
				}
				co, err := r.Contents(ctx, ns.Namespace)
				if err != nil {
					t.Fatal(err)
				}
				compareFile(t, f, ns, co)
			}
		}
		check(t)
		// Loading again, in every mode, changes nothing.
		for _, mode := range []metadef.LoadMode{metadef.Skip, metadef.Merge, metadef.PreferNew, metadef.Overwrite} {
			if _, err := metadef.LoadDir(ctx, r, dir, mode); err != nil {
				t.Fatal(err)
			}
			check(t)
		}
		out := t.TempDir()
		written, err := metadef.ExportDir(ctx, r, out)
		if err != nil || len(written) != len(files) {
			t.Fatalf("export wrote %d files, %v", len(written), err)
		}
		if n, err := metadef.Unload(ctx, r); err != nil || n != len(files) {
			t.Fatalf("unload = %d, %v", n, err)
		}
		if all, _ := r.ListNamespaces(ctx, metadef.NamespaceQuery{AllVisible: true}); len(all) != 0 {
			t.Fatalf("%d namespaces left after unload", len(all))
		}
		if _, err := metadef.LoadDir(ctx, r, out, metadef.Skip); err != nil {
			t.Fatal(err)
		}
		check(t)
	})
}

// compareFile checks a stored namespace against the file it came from.
func compareFile(t *testing.T, f *metadef.File, ns *metadef.Namespace, c *metadef.Contents) {
	t.Helper()
	want, wantC := f.Split(time.Time{})
	ns2 := *ns
	ns2.CreatedAt, ns2.UpdatedAt = time.Time{}, time.Time{}
	if ns2 != *want {
		t.Errorf("namespace %s = %+v, want %+v", f.Namespace, ns2, *want)
	}
	for _, kl := range []struct {
		what      string
		got, want []metadef.Item
	}{{"objects", c.Objects, wantC.Objects}, {"properties", c.Properties, wantC.Properties}, {"tags", c.Tags, wantC.Tags}} {
		sort.Slice(kl.want, func(i, j int) bool { return kl.want[i].Name < kl.want[j].Name })
		if len(kl.got) != len(kl.want) {
			t.Errorf("%s: %d %s, want %d", f.Namespace, len(kl.got), kl.what, len(kl.want))
			continue
		}
		for i := range kl.got {
			g, w := kl.got[i], kl.want[i]
			if g.Name != w.Name || g.Description != w.Description || !reflect.DeepEqual(g.Required, w.Required) || !sameJSON(g.Schema, w.Schema) {
				t.Errorf("%s %s %s:\n got %s %q %v %s\nwant %s %q %v %s", f.Namespace, kl.what, w.Name,
					g.Name, g.Description, g.Required, g.Schema, w.Name, w.Description, w.Required, w.Schema)
			}
		}
	}
	if len(c.Associations) != len(wantC.Associations) {
		t.Errorf("%s: %d associations, want %d", f.Namespace, len(c.Associations), len(wantC.Associations))
		return
	}
	sort.Slice(wantC.Associations, func(i, j int) bool { return wantC.Associations[i].Name < wantC.Associations[j].Name })
	for i, a := range c.Associations {
		w := wantC.Associations[i]
		if a.Name != w.Name || a.Prefix != w.Prefix || a.PropertiesTarget != w.PropertiesTarget {
			t.Errorf("%s: association %+v, want %+v", f.Namespace, a, w)
		}
	}
}

func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// TestCatalogLoadModes: an existing namespace is skipped, merged into
// (what is missing is added), merged with the file winning, or replaced.
func TestCatalogLoadModes(t *testing.T) {
	eachDB(t, func(t *testing.T, c dbtest.Conn) {
		ctx := context.Background()
		r := openDB(t, c).Metadefs()
		dir := t.TempDir()
		write := func(s string) {
			if err := os.WriteFile(filepath.Join(dir, "ns.json"), []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		prop := func(name string) string {
			it, err := r.GetItem(ctx, metadef.Properties, "NS", name)
			if err != nil {
				return ""
			}
			return string(it.Schema)
		}
		write(`{"namespace":"NS","display_name":"One","properties":{"a":{"title":"A","type":"string"}},"tags":[{"name":"t1"}]}`)
		if _, err := metadef.LoadDir(ctx, r, dir, metadef.Skip); err != nil {
			t.Fatal(err)
		}
		write(`{"namespace":"NS","display_name":"Two","properties":{"a":{"title":"A2","type":"string"},"b":{"title":"B","type":"integer"}},"tags":[{"name":"t2"}]}`)
		res, err := metadef.LoadDir(ctx, r, dir, metadef.Skip)
		if err != nil || len(res.Skipped) != 1 || prop("b") != "" {
			t.Fatalf("skip: %+v %v, b=%s", res, err, prop("b"))
		}
		if _, err := metadef.LoadDir(ctx, r, dir, metadef.Merge); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(prop("a"), `"A"`) || prop("b") == "" {
			t.Fatalf("merge: a=%s b=%s", prop("a"), prop("b"))
		}
		if ns, _ := r.GetNamespace(ctx, "NS"); ns.DisplayName != "One" {
			t.Fatalf("merge changed the namespace: %+v", ns)
		}
		if tags, _ := r.ListItems(ctx, metadef.Tags, "NS", metadef.TagQuery{SortKey: "name"}); names(tags) != "t1,t2" {
			t.Fatalf("merge: tags %s", names(tags))
		}
		if _, err := metadef.LoadDir(ctx, r, dir, metadef.PreferNew); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(prop("a"), `"A2"`) {
			t.Fatalf("prefer-new: a=%s", prop("a"))
		}
		if ns, _ := r.GetNamespace(ctx, "NS"); ns.DisplayName != "Two" {
			t.Fatalf("prefer-new kept the namespace: %+v", ns)
		}
		if _, err := metadef.LoadDir(ctx, r, dir, metadef.Overwrite); err != nil {
			t.Fatal(err)
		}
		if tags, _ := r.ListItems(ctx, metadef.Tags, "NS", metadef.TagQuery{SortKey: "name"}); names(tags) != "t2" {
			t.Fatalf("overwrite: tags %s", names(tags))
		}
		write(`{"namespace":"NS","objects":[{"description":"no name"}]}`)
		if _, err := metadef.LoadDir(ctx, r, dir, metadef.Merge); err == nil {
			t.Fatal("a file with a nameless object loaded")
		}
	})
}
