package metadef

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode"

	"glint/internal/errs"
)

// File is one catalog file in Glance's format (etc/metadefs/*.json), as
// glance-manage db_load_metadefs reads and db_export_metadefs writes it.
type File struct {
	Namespace                string                     `json:"namespace"`
	DisplayName              string                     `json:"display_name,omitempty"`
	Description              string                     `json:"description,omitempty"`
	Visibility               string                     `json:"visibility,omitempty"`
	Protected                *bool                      `json:"protected,omitempty"`
	Owner                    string                     `json:"owner,omitempty"`
	ResourceTypeAssociations []FileAssociation          `json:"resource_type_associations,omitempty"`
	Properties               map[string]json.RawMessage `json:"properties,omitempty"`
	Objects                  []FileObject               `json:"objects,omitempty"`
	Tags                     []FileTag                  `json:"tags,omitempty"`
}

// FileAssociation is a resource type association in a catalog file.
type FileAssociation struct {
	Name             string `json:"name"`
	Prefix           string `json:"prefix,omitempty"`
	PropertiesTarget string `json:"properties_target,omitempty"`
}

// FileObject is an object in a catalog file.
type FileObject struct {
	Name        string                     `json:"name"`
	Description string                     `json:"description,omitempty"`
	Required    []string                   `json:"required,omitempty"`
	Properties  map[string]json.RawMessage `json:"properties,omitempty"`
}

// FileTag is a tag in a catalog file.
type FileTag struct {
	Name string `json:"name"`
}

// ParseFile reads one catalog file; it checks the shape, not every
// property definition.
func ParseFile(data []byte) (*File, error) {
	const op errs.Op = "metadef.ParseFile"
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		return nil, errs.E(op, errs.Invalid, err)
	}
	if f.Namespace == "" {
		return nil, errs.E(op, errs.Invalid, "no namespace")
	}
	if len(f.Namespace) > 80 {
		return nil, errs.E(op, errs.Invalid, fmt.Sprintf("namespace %.80s… is longer than 80 characters", f.Namespace))
	}
	for _, o := range f.Objects {
		if o.Name == "" {
			return nil, errs.E(op, errs.Invalid, "an object has no name")
		}
	}
	for _, t := range f.Tags {
		if t.Name == "" {
			return nil, errs.E(op, errs.Invalid, "a tag has no name")
		}
	}
	for _, a := range f.ResourceTypeAssociations {
		if a.Name == "" {
			return nil, errs.E(op, errs.Invalid, "a resource type association has no name")
		}
	}
	return &f, nil
}

// compact re-encodes a JSON value without insignificant space.
func compact(m json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, m); err != nil {
		return m
	}
	return b.Bytes()
}

func schemaOf(props map[string]json.RawMessage) json.RawMessage {
	if props == nil {
		return json.RawMessage("{}")
	}
	b, err := json.Marshal(props)
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}

// Split turns a file into a namespace and its contents, stamped with now.
func (f *File) Split(now time.Time) (*Namespace, *Contents) {
	ns := &Namespace{Namespace: f.Namespace, DisplayName: f.DisplayName, Description: f.Description,
		Visibility: f.Visibility, Owner: f.Owner, CreatedAt: now}
	if ns.Visibility == "" {
		ns.Visibility = "private"
	}
	if f.Protected != nil {
		ns.Protected = *f.Protected
	}
	if ns.Owner == "" {
		ns.Owner = "admin" // as glance-manage does
	}
	c := &Contents{}
	for _, a := range f.ResourceTypeAssociations {
		c.Associations = append(c.Associations, Association{Name: a.Name, Prefix: a.Prefix, PropertiesTarget: a.PropertiesTarget, CreatedAt: now})
	}
	names := make([]string, 0, len(f.Properties))
	for n := range f.Properties {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c.Properties = append(c.Properties, Item{Name: n, Schema: compact(f.Properties[n]), CreatedAt: now})
	}
	for _, o := range f.Objects {
		c.Objects = append(c.Objects, Item{Name: o.Name, Description: o.Description, Required: o.Required,
			Schema: schemaOf(o.Properties), CreatedAt: now})
	}
	for _, t := range f.Tags {
		c.Tags = append(c.Tags, Item{Name: t.Name, CreatedAt: now})
	}
	return ns, c
}

// Join is Split's inverse: the file for a namespace and its contents.
func Join(ns *Namespace, c *Contents) (*File, error) {
	f := &File{Namespace: ns.Namespace, DisplayName: ns.DisplayName, Description: ns.Description,
		Visibility: ns.Visibility, Owner: ns.Owner}
	prot := ns.Protected
	f.Protected = &prot
	for _, a := range c.Associations {
		f.ResourceTypeAssociations = append(f.ResourceTypeAssociations, FileAssociation{Name: a.Name, Prefix: a.Prefix, PropertiesTarget: a.PropertiesTarget})
	}
	if len(c.Properties) > 0 {
		f.Properties = map[string]json.RawMessage{}
		for _, p := range c.Properties {
			f.Properties[p.Name] = p.Schema
		}
	}
	for _, o := range c.Objects {
		fo := FileObject{Name: o.Name, Description: o.Description, Required: o.Required}
		if len(o.Schema) > 0 {
			if err := json.Unmarshal(o.Schema, &fo.Properties); err != nil {
				return nil, fmt.Errorf("object %s: %w", o.Name, err)
			}
			if len(fo.Properties) == 0 {
				fo.Properties = nil
			}
		}
		f.Objects = append(f.Objects, fo)
	}
	for _, t := range c.Tags {
		f.Tags = append(f.Tags, FileTag{Name: t.Name})
	}
	return f, nil
}

// LoadMode says what loading does with a namespace that already exists.
type LoadMode int

// Load modes, as glance-manage db_load_metadefs's flags.
const (
	// Skip leaves an existing namespace alone (the default).
	Skip LoadMode = iota
	// Merge adds what the file has and the database lacks; existing
	// objects, properties and tags are kept.
	Merge
	// PreferNew merges, and the file's version of an existing object,
	// property, tag or of the namespace itself wins.
	PreferNew
	// Overwrite replaces the namespace's contents with the file's.
	Overwrite
)

// LoadResult counts what a load did.
type LoadResult struct {
	Created, Merged, Skipped []string
}

// LoadDir loads every *.json file of dir, in name order, into repo.
// Loading is idempotent: loading the same directory twice changes nothing.
func LoadDir(ctx context.Context, repo Repo, dir string, mode LoadMode) (LoadResult, error) {
	var res LoadResult
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return res, err
	}
	if len(paths) == 0 {
		if _, err := os.Stat(dir); err != nil {
			return res, err
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return res, err
		}
		f, err := ParseFile(data)
		if err != nil {
			return res, fmt.Errorf("%s: %w", p, err)
		}
		created, err := LoadFile(ctx, repo, f, mode, time.Now().UTC())
		if err != nil {
			return res, fmt.Errorf("%s: %w", p, err)
		}
		switch {
		case created:
			res.Created = append(res.Created, f.Namespace)
		case mode == Skip:
			res.Skipped = append(res.Skipped, f.Namespace)
		default:
			res.Merged = append(res.Merged, f.Namespace)
		}
	}
	return res, nil
}

// LoadFile loads one parsed file and reports whether it created the
// namespace.
func LoadFile(ctx context.Context, repo Repo, f *File, mode LoadMode, now time.Time) (bool, error) {
	ns, c := f.Split(now)
	old, err := repo.GetNamespace(ctx, ns.Namespace)
	switch {
	case errs.KindOf(err) == errs.NotFound:
		return true, repo.CreateNamespace(ctx, ns, c)
	case err != nil:
		return false, err
	case mode == Skip:
		return false, nil
	}
	if mode == Overwrite {
		// As glance-manage: the namespace is cleared and loaded afresh.
		if err := repo.DeleteNamespace(ctx, ns.Namespace); err != nil {
			return false, err
		}
		return true, repo.CreateNamespace(ctx, ns, c)
	}
	if mode == PreferNew && !sameNamespace(old, ns) {
		ns.CreatedAt = old.CreatedAt
		if err := repo.UpdateNamespace(ctx, ns.Namespace, ns); err != nil {
			return false, err
		}
	}
	have, err := repo.Contents(ctx, ns.Namespace)
	if err != nil {
		return false, err
	}
	for _, a := range c.Associations {
		old, ok := findAssociation(have.Associations, a.Name)
		if ok && (mode != PreferNew || (old.Prefix == a.Prefix && old.PropertiesTarget == a.PropertiesTarget)) {
			continue
		}
		if ok {
			if err := repo.DeleteAssociation(ctx, ns.Namespace, a.Name); err != nil {
				return false, err
			}
		}
		if err := repo.CreateAssociation(ctx, ns.Namespace, a); err != nil {
			return false, err
		}
	}
	for _, kl := range []struct {
		k         Kind
		want, got []Item
	}{{Objects, c.Objects, have.Objects}, {Properties, c.Properties, have.Properties}, {Tags, c.Tags, have.Tags}} {
		for _, it := range kl.want {
			old, ok := findItem(kl.got, it.Name)
			switch {
			case !ok:
				if err := repo.CreateItems(ctx, kl.k, ns.Namespace, []Item{it}, false); err != nil {
					return false, err
				}
			case mode == PreferNew && !sameItem(old, it):
				if err := repo.UpdateItem(ctx, kl.k, ns.Namespace, it.Name, it); err != nil {
					return false, err
				}
			}
		}
	}
	return false, nil
}

func sameNamespace(a, b *Namespace) bool {
	return a.DisplayName == b.DisplayName && a.Description == b.Description && a.Visibility == b.Visibility &&
		a.Protected == b.Protected && a.Owner == b.Owner
}

func findAssociation(l []Association, name string) (Association, bool) {
	for _, a := range l {
		if a.Name == name {
			return a, true
		}
	}
	return Association{}, false
}

func findItem(l []Item, name string) (Item, bool) {
	for _, it := range l {
		if it.Name == name {
			return it, true
		}
	}
	return Item{}, false
}

func sameItem(a, b Item) bool {
	if a.Description != b.Description || strings.Join(a.Required, "\x00") != strings.Join(b.Required, "\x00") {
		return false
	}
	return jsonEqual(a.Schema, b.Schema)
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}

// ExportDir writes every namespace to dir, one file each, named as
// glance-manage names them.
func ExportDir(ctx context.Context, repo Repo, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	all, err := repo.ListNamespaces(ctx, NamespaceQuery{AllVisible: true, SortKey: "namespace"})
	if err != nil {
		return nil, err
	}
	var written []string
	used := map[string]bool{}
	for _, ns := range all {
		c, err := repo.Contents(ctx, ns.Namespace)
		if err != nil {
			return nil, err
		}
		f, err := Join(ns, c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ns.Namespace, err)
		}
		b, err := json.MarshalIndent(f, "", "    ")
		if err != nil {
			return nil, err
		}
		name := FileName(ns)
		for i := 2; used[name]; i++ {
			// Two display names that differ only in punctuation.
			name = fmt.Sprintf("%s-%d.json", strings.TrimSuffix(FileName(ns), ".json"), i)
		}
		used[name] = true
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
			return nil, err
		}
		written = append(written, p)
	}
	return written, nil
}

// FileName is the export file of a namespace: as glance-manage names it,
// its display name without anything but letters and digits (the
// namespace's name when that leaves nothing).
func FileName(ns *Namespace) string {
	keep := func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				return r
			}
			return -1
		}, s)
	}
	name := keep(ns.DisplayName)
	if name == "" {
		name = keep(ns.Namespace)
	}
	if name == "" {
		name = "namespace"
	}
	return name + ".json"
}

// Unload deletes every namespace and what it holds.
func Unload(ctx context.Context, repo Repo) (int, error) {
	all, err := repo.ListNamespaces(ctx, NamespaceQuery{AllVisible: true})
	if err != nil {
		return 0, err
	}
	for _, ns := range all {
		if err := repo.DeleteNamespace(ctx, ns.Namespace); err != nil {
			return 0, err
		}
	}
	return len(all), nil
}
