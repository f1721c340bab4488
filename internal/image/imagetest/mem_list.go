package imagetest

import (
	"cmp"
	"context"
	"slices"
	"time"

	"glint/internal/errs"
	"glint/internal/image"
)

// List returns one page of the images v may see, as the SQL
// repositories' listing selects, sorts and pages them.
func (r *MemRepo) List(ctx context.Context, q image.ListQuery, v image.Viewer) ([]*image.Image, error) {
	const op errs.Op = "imagetest.List"
	keys := append([]image.SortKey(nil), q.Sort...)
	if len(keys) == 0 {
		keys = []image.SortKey{{Key: "created_at", Desc: true}}
	}
	// created_at and id break ties, in the first key's direction, so
	// that pages never skip or repeat an image.
	for _, k := range []string{"created_at", "id"} {
		if !slices.ContainsFunc(keys, func(s image.SortKey) bool { return s.Key == k }) {
			keys = append(keys, image.SortKey{Key: k, Desc: keys[0].Desc})
		}
	}

	// A filter's error does not depend on the image: any one tells.
	for _, f := range q.Filters {
		if _, err := matches(&image.Image{Properties: map[string]string{}}, f); err != nil {
			return nil, errs.E(op, err)
		}
	}
	for _, k := range keys {
		if _, ok := columns[k.Key]; !ok {
			return nil, errs.Errorf(op, errs.Invalid, "Invalid sort key: %s", k.Key)
		}
	}
	order := func(a, b *image.Image) int {
		for _, k := range keys {
			c := compareColumn(a, b, k.Key)
			if k.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var page []*memImage
	for _, e := range r.images {
		if selected(e, q, v) {
			page = append(page, e)
		}
	}
	if q.Marker != "" {
		m := r.live(q.Marker)
		if m == nil {
			return nil, errs.Errorf(op, errs.Invalid, "No image found with ID %s", q.Marker)
		}
		page = slices.DeleteFunc(page, func(e *memImage) bool { return order(e.img, m.img) <= 0 })
	}
	slices.SortFunc(page, func(a, b *memImage) int { return order(a.img, b.img) })
	out := make([]*image.Image, 0, min(len(page), max(q.Limit, 0)))
	for _, e := range page[:min(len(page), max(q.Limit, 0))] {
		out = append(out, e.view())
	}
	return out, nil
}

// selected reports whether e is in the listing q for v, before paging;
// its filters are valid.
func selected(e *memImage, q image.ListQuery, v image.Viewer) bool {
	img := e.img
	if img.Deleted || img.Status == image.Killed || img.OSHidden != q.OSHidden {
		return false
	}
	own := v.Project != "" && img.Owner != nil && *img.Owner == v.Project
	// Who may see what (Glance's _select_images_query): public and
	// community images, one's own, and shared ones one is a member of in
	// the asked status; without a project, no shared ones (Glance would
	// show those with any member).
	if !v.Admin && !(q.Visibility == image.Private && v.Project != "") {
		visible := img.Visibility == image.Public || img.Visibility == image.Community || own
		if !visible && img.Visibility == image.Shared {
			for _, m := range e.members {
				if !m.deleted && v.Project != "" && m.m.MemberID == v.Project && (q.MemberStatus == "all" || m.m.Status == q.MemberStatus) {
					visible = true
				}
			}
		}
		if !visible {
			return false
		}
	}
	switch q.Visibility {
	case "":
		// Community images only when they are one's own.
		if img.Visibility == image.Community && !own {
			return false
		}
	case "all":
	default:
		if img.Visibility != q.Visibility || q.Visibility == image.Private && !v.Admin && v.Project != "" && !own {
			return false
		}
	}
	for _, t := range q.Tags {
		if !slices.Contains(img.Tags, t) {
			return false
		}
	}
	for _, f := range q.Filters {
		if ok, _ := matches(img, f); !ok {
			return false
		}
	}
	return true
}

// columnKind is how a listing compares a column.
type columnKind int

const (
	text columnKind = iota
	integer
	boolean
	timestamp
)

// columns are the columns a listing may filter and sort on.
var columns = map[string]columnKind{
	"id": text, "name": text, "status": text, "container_format": text, "disk_format": text, "owner": text,
	"checksum": text, "os_hash_value": text, "os_hash_algo": text, "visibility": text,
	"size": integer, "virtual_size": integer, "min_disk": integer, "min_ram": integer,
	"protected": boolean, "created_at": timestamp, "updated_at": timestamp,
}

// value is one column of an image; null for SQL's NULL.
type value struct {
	null bool
	s    string
	n    int64
	t    time.Time
}

func column(img *image.Image, key string) value {
	str := func(p *string) value {
		if p == nil {
			return value{null: true}
		}
		return value{s: *p}
	}
	num := func(p *int64) value {
		if p == nil {
			return value{null: true}
		}
		return value{n: *p}
	}
	switch key {
	case "id":
		return value{s: img.ID}
	case "name":
		return str(img.Name)
	case "status":
		return value{s: string(img.Status)}
	case "container_format":
		return str(img.ContainerFormat)
	case "disk_format":
		return str(img.DiskFormat)
	case "owner":
		return str(img.Owner)
	case "checksum":
		return str(img.Checksum)
	case "os_hash_value":
		return str(img.OSHashValue)
	case "os_hash_algo":
		return str(img.OSHashAlgo)
	case "visibility":
		return value{s: img.Visibility}
	case "size":
		return num(img.Size)
	case "virtual_size":
		return num(img.VirtualSize)
	case "min_disk":
		return value{n: int64(img.MinDisk)}
	case "min_ram":
		return value{n: int64(img.MinRAM)}
	case "protected":
		if img.Protected {
			return value{n: 1}
		}
		return value{}
	case "created_at":
		return value{t: img.CreatedAt}
	case "updated_at":
		return value{t: img.UpdatedAt}
	}
	panic("imagetest: unknown column " + key)
}

// compareColumn orders two images by one column.
func compareColumn(a, b *image.Image, key string) int {
	return compareValues(column(a, key), column(b, key))
}

// compareValues orders two values of a column, NULL first.
func compareValues(x, y value) int {
	switch {
	case x.null || y.null:
		if x.null == y.null {
			return 0
		}
		if x.null {
			return -1
		}
		return 1
	}
	return cmp.Or(cmp.Compare(x.s, y.s), cmp.Compare(x.n, y.n), x.t.Compare(y.t))
}

// matches applies one filter as SQL does: NULL matches no comparison.
func matches(img *image.Image, f image.Filter) (bool, error) {
	if f.Property {
		v, ok := img.Properties[f.Field]
		switch f.Op {
		case image.OpIn:
			return ok && slices.Contains(f.Values, v), nil
		case image.OpEq:
			return ok && v == f.Values[0], nil
		}
		return false, errs.Errorf("", errs.Invalid, "unsupported operator %s for property %s", f.Op, f.Field)
	}
	kind, ok := columns[f.Field]
	if !ok {
		return false, errs.Errorf("", errs.Invalid, "cannot filter on %s", f.Field)
	}
	v := column(img, f.Field)
	unsupported := errs.Errorf("", errs.Invalid, "unsupported operator %s for %s", f.Op, f.Field)
	switch kind {
	case timestamp, integer:
		var c int
		if kind == timestamp {
			c = v.t.Compare(f.Time)
		} else {
			c = cmp.Compare(v.n, f.Int)
		}
		var ok bool
		switch f.Op {
		case image.OpEq:
			ok = c == 0
		case image.OpNeq:
			ok = c != 0
		case image.OpGt:
			ok = c > 0
		case image.OpGte:
			ok = c >= 0
		case image.OpLt:
			ok = c < 0
		case image.OpLte:
			ok = c <= 0
		default:
			return false, unsupported
		}
		return ok && !v.null, nil
	case boolean:
		return (v.n == 1) == (f.Values[0] == "true"), nil
	}
	switch f.Op {
	case image.OpIn:
		return !v.null && slices.Contains(f.Values, v.s), nil
	case image.OpEq:
		return !v.null && v.s == f.Values[0], nil
	}
	return false, unsupported
}
