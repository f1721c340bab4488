package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"glint/internal/errs"
	"glint/internal/image"
)

// listColumns are the image columns a listing may filter or sort on directly.
var listColumns = map[string]bool{
	"id": true, "name": true, "status": true, "container_format": true, "disk_format": true, "owner": true,
	"checksum": true, "os_hash_value": true, "os_hash_algo": true, "size": true, "virtual_size": true,
	"min_disk": true, "min_ram": true, "protected": true, "visibility": true, "created_at": true, "updated_at": true,
}

// notNull are the sortable columns that never hold NULL.
var notNull = map[string]bool{"id": true, "created_at": true, "status": true}

var sqlOps = map[string]string{
	image.OpEq: "=", image.OpNeq: "<>", image.OpGt: ">", image.OpGte: ">=", image.OpLt: "<", image.OpLte: "<=",
}

// List returns one page of the images v may see, filtered and sorted as q asks.
func (r *Images) List(ctx context.Context, q image.ListQuery, v image.Viewer) ([]*image.Image, error) {
	const op errs.Op = "db.Images.List"
	var (
		where []string
		args  []any
	)
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	// The unary + keeps SQLite from using the indexes on these columns,
	// which match nearly every row; the sort and filter indexes serve better.
	add("+i.deleted = 0")
	add("+i.status <> 'killed'")

	// Who may see what (Glance's _select_images_query).
	if !v.Admin {
		memberCond := "i.visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members m WHERE m.image_id = i.id AND +m.deleted = 0"
		if v.Project != "" {
			memberCond += " AND m.member = ?"
			margs := []any{v.Project}
			if q.MemberStatus != "all" {
				memberCond += " AND m.status = ?"
				margs = append(margs, q.MemberStatus)
			}
			add("(i.visibility IN ('public','community') OR i.owner = ? OR ("+memberCond+"))",
				append([]any{v.Project}, margs...)...)
		} else {
			add("(i.visibility IN ('public','community') OR (" + memberCond + "))")
		}
	}
	switch q.Visibility {
	case "":
		if v.Project != "" {
			add("(+i.visibility <> 'community' OR i.owner = ?)", v.Project)
		} else {
			add("+i.visibility <> 'community'")
		}
	case "all":
	default:
		add("i.visibility = ?", q.Visibility)
	}
	add("+i.os_hidden = ?", q.OSHidden)
	for _, t := range q.Tags {
		// A rare tag is best found through its index and then sorted; a
		// common one by walking the sort order and probing the index.
		rare, err := r.fewer(ctx, "SELECT 1 FROM image_tags WHERE value = ? AND +deleted = 0", t)
		if err != nil {
			return nil, errs.E(op, errs.Unavailable, err)
		}
		if rare {
			add("i.id IN (SELECT t.image_id FROM image_tags t WHERE t.value = ? AND +t.deleted = 0)", t)
		} else {
			add("EXISTS (SELECT 1 FROM image_tags t WHERE t.image_id = i.id AND t.value = ? AND +t.deleted = 0)", t)
		}
	}
	for _, f := range q.Filters {
		rare := true
		if f.Property && f.Op == image.OpEq {
			var err error
			if rare, err = r.fewer(ctx, "SELECT 1 FROM image_properties WHERE name = ? AND value = ? AND +deleted = 0", f.Field, f.Values[0]); err != nil {
				return nil, errs.E(op, errs.Unavailable, err)
			}
		}
		cond, a, err := filterSQL(f, rare)
		if err != nil {
			return nil, errs.E(op, errs.Invalid, err.Error())
		}
		add(cond, a...)
	}

	sortKeys := append([]image.SortKey(nil), q.Sort...)
	hasKey := func(k string) bool {
		for _, s := range sortKeys {
			if s.Key == k {
				return true
			}
		}
		return false
	}
	if len(sortKeys) == 0 {
		sortKeys = append(sortKeys, image.SortKey{Key: "created_at", Desc: true})
	}
	// created_at and id break ties, in the direction of the first key, so
	// that pages never skip or repeat an image.
	for _, k := range []string{"created_at", "id"} {
		if !hasKey(k) {
			sortKeys = append(sortKeys, image.SortKey{Key: k, Desc: sortKeys[0].Desc})
		}
	}
	for _, s := range sortKeys {
		if !listColumns[s.Key] {
			return nil, errs.E(op, errs.Invalid, fmt.Sprintf("Invalid sort key: %s", s.Key))
		}
	}

	if q.Marker != "" {
		cond, a, err := r.markerSQL(ctx, q.Marker, sortKeys)
		if err != nil {
			return nil, err
		}
		add(cond, a...)
	}

	var order []string
	for _, s := range sortKeys {
		// SQLite orders NULL first ascending; markerSQL assumes the same.
		if s.Desc {
			order = append(order, "i."+s.Key+" DESC")
		} else {
			order = append(order, "i."+s.Key+" ASC")
		}
	}
	query := "SELECT " + prefixed("i.", imageCols) + " FROM images i WHERE " + strings.Join(where, " AND ") +
		" ORDER BY " + strings.Join(order, ", ") + " LIMIT ?"
	args = append(args, q.Limit)

	rows, err := r.db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, errs.E(op, errs.Unavailable, err)
	}
	var imgs []*image.Image
	for rows.Next() {
		img, err := scanImage(rows)
		if err != nil {
			rows.Close()
			return nil, errs.E(op, errs.Unavailable, err)
		}
		imgs = append(imgs, img)
	}
	if err := closeRows(rows); err != nil {
		return nil, errs.E(op, errs.Unavailable, err)
	}
	if err := loadChildren(ctx, r.db.read, imgs); err != nil {
		return nil, errs.E(op, errs.Unavailable, err)
	}
	return imgs, nil
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}

// rareLimit is the match count below which a tag or property filter
// drives the query instead of the sort order.
const rareLimit = 2000

// fewer reports whether query (a SELECT 1 …) matches fewer than rareLimit rows.
func (r *Images) fewer(ctx context.Context, query string, args ...any) (bool, error) {
	var n int
	err := r.db.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM ("+query+" LIMIT "+fmt.Sprint(rareLimit)+")", args...).Scan(&n)
	return n < rareLimit, err
}

func filterSQL(f image.Filter, rare bool) (string, []any, error) {
	if f.Property {
		base := "i.id IN (SELECT p.image_id FROM image_properties p WHERE +p.deleted = 0 AND p.name = ? AND "
		if !rare && f.Op == image.OpEq {
			return "EXISTS (SELECT 1 FROM image_properties p WHERE p.image_id = i.id AND p.name = ? AND p.value = ? AND +p.deleted = 0)",
				[]any{f.Field, f.Values[0]}, nil
		}
		switch f.Op {
		case image.OpIn:
			return base + "p.value IN (" + placeholders(len(f.Values)) + "))", append([]any{f.Field}, strs(f.Values)...), nil
		case image.OpEq:
			return base + "p.value = ?)", []any{f.Field, f.Values[0]}, nil
		}
		return "", nil, fmt.Errorf("unsupported operator %s for property %s", f.Op, f.Field)
	}
	if !listColumns[f.Field] {
		return "", nil, fmt.Errorf("cannot filter on %s", f.Field)
	}
	col := "i." + f.Field
	switch f.Field {
	case "created_at", "updated_at":
		op, ok := sqlOps[f.Op]
		if !ok {
			return "", nil, fmt.Errorf("unsupported operator %s for %s", f.Op, f.Field)
		}
		return col + " " + op + " ?", []any{fmtTime(f.Time)}, nil
	case "size", "virtual_size", "min_disk", "min_ram":
		op, ok := sqlOps[f.Op]
		if !ok {
			return "", nil, fmt.Errorf("unsupported operator %s for %s", f.Op, f.Field)
		}
		return col + " " + op + " ?", []any{f.Int}, nil
	case "protected":
		return col + " = ?", []any{f.Values[0] == "true"}, nil
	}
	switch f.Op {
	case image.OpIn:
		return col + " IN (" + placeholders(len(f.Values)) + ")", strs(f.Values), nil
	case image.OpEq:
		return col + " = ?", []any{f.Values[0]}, nil
	}
	return "", nil, fmt.Errorf("unsupported operator %s for %s", f.Op, f.Field)
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

func strs(v []string) []any {
	out := make([]any, len(v))
	for i, s := range v {
		out[i] = s
	}
	return out
}

// markerSQL builds the keyset condition "rows after the marker" over the
// sort keys, treating NULL as the smallest value as SQLite's ORDER BY does.
func (r *Images) markerSQL(ctx context.Context, marker string, keys []image.SortKey) (string, []any, error) {
	const op errs.Op = "db.Images.List"
	cols := make([]string, len(keys))
	for i, k := range keys {
		cols[i] = k.Key
	}
	vals := make([]any, len(keys))
	ptrs := make([]any, len(keys))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	err := r.db.read.QueryRowContext(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM images WHERE id = ? AND +deleted = 0", marker).Scan(ptrs...)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, errs.E(op, errs.Invalid, fmt.Sprintf("No image found with ID %s", marker))
	}
	if err != nil {
		return "", nil, errs.E(op, errs.Unavailable, err)
	}
	for i, v := range vals {
		// The driver hands DATETIME columns back as time.Time; compare
		// them in the stored text form.
		if t, ok := v.(time.Time); ok {
			vals[i] = fmtTime(t)
		}
	}
	var ors []string
	var args []any
	for i, k := range keys {
		c, a := afterSQL("i."+k.Key, vals[i], k.Desc)
		if c == "" {
			continue
		}
		var ands []string
		for j := 0; j < i; j++ {
			ec, ea := eqSQL("i."+keys[j].Key, vals[j])
			ands = append(ands, ec)
			args = append(args, ea...)
		}
		ands = append(ands, c)
		args = append(args, a...)
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	if len(ors) == 0 {
		return "0", nil, nil
	}
	cond := "(" + strings.Join(ors, " OR ") + ")"
	// SQLite cannot turn the OR above into an index range; this implied
	// bound on the first key lets it start the scan at the marker.
	if k := keys[0]; vals[0] != nil && (!k.Desc || notNull[k.Key]) {
		if k.Desc {
			cond = "i." + k.Key + " <= ? AND " + cond
		} else {
			cond = "i." + k.Key + " >= ? AND " + cond
		}
		args = append([]any{vals[0]}, args...)
	}
	return cond, args, nil
}

func eqSQL(col string, v any) (string, []any) {
	if v == nil {
		return col + " IS NULL", nil
	}
	return col + " = ?", []any{v}
}

// afterSQL is the condition for col coming strictly after v in the sort order.
func afterSQL(col string, v any, desc bool) (string, []any) {
	switch {
	case !desc && v == nil:
		return col + " IS NOT NULL", nil
	case !desc:
		return col + " > ?", []any{v}
	case v == nil:
		return "", nil // nothing sorts below NULL
	default:
		return "(" + col + " < ? OR " + col + " IS NULL)", []any{v}
	}
}
