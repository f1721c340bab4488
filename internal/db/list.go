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
	// The generation is taken before the snapshot's first read: every
	// commit the snapshot misses is then recorded after it, and the
	// images read may be cached as of it.
	gen, cached := r.db.images.generation(ctx)
	// A page larger than a quarter of the cache (paging through every
	// image, say) is not kept: it would push out what is read often, and
	// copying it costs memory that is not used again.
	cacheable := cached && q.Limit <= maxCachedImages/4
	var key string
	if cacheable {
		// The same listing again, with nothing committed since: the
		// same page. (Horizon, Nova and scripts ask the same first
		// pages over and over.)
		key = pageKey(q, v)
		if imgs := r.db.images.page(key, gen); imgs != nil {
			return imgs, nil
		}
	}
	c, end, err := r.db.snapshot(ctx)
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer end()
	from, args, err := r.listSQL(ctx, c, q, v)
	if err != nil {
		return nil, err
	}
	if cacheable {
		imgs, err := r.listCached(ctx, c, from, args, gen)
		if err != nil {
			return nil, dbErr(op, err)
		}
		if now, ok := r.db.images.generation(ctx); ok && now == gen {
			r.db.images.putPage(key, imgs, gen)
		}
		return imgs, nil
	}
	if c.d == dPostgres {
		imgs, err := scanAll(scanWithChildren)(c.queryPlanned(ctx, listWithChildrenSQL+from, args...))
		if err != nil {
			return nil, dbErr(op, err)
		}
		return imgs, nil
	}
	imgs, err := scanAll(scanImage)(c.queryPlanned(ctx, "SELECT "+prefixed("i.", imageCols)+from, args...))
	if err != nil {
		return nil, dbErr(op, err)
	}
	if err := loadChildren(ctx, c, imgs); err != nil {
		return nil, dbErr(op, err)
	}
	return imgs, nil
}

// listWithChildrenSQL selects a page's images with their properties, tags
// and locations as JSON columns (children), on PostgreSQL: one statement
// and one round trip for the page instead of two. With churn (issue 32:
// create, upload, list 50 of 200,000 images, delete) Glint's CPU per
// cycle went from 10.5–11.2 ms to 8.8–9.4 ms, measured back to back.
var listWithChildrenSQL = "SELECT " + prefixed("i.", imageCols) + ", " + children(dPostgres)

// scanWithChildren scans a row of listWithChildrenSQL.
func scanWithChildren(r rowScanner) (*image.Image, error) {
	var props, tags, locs string
	img, err := scanImage(extraScanner{r, []any{&props, &tags, &locs}})
	if err != nil {
		return nil, err
	}
	return img, setChildren(img, props, tags, locs)
}

// pageKey names a listing for the image cache: everything that decides
// its answer, strings quoted (%#v), so that no two listings share a key.
func pageKey(q image.ListQuery, v image.Viewer) string {
	return fmt.Sprintf("%#v %#v", q, v)
}

// listCached answers a listing through the image cache (SQLite): the
// page's query selects only the images' IDs, which the sort and filter
// indexes hold, so SQLite reads no table row and hands over one column
// instead of twenty (reading the rows' columns through database/sql was
// half of a list's CPU); the images the cache holds come from it, the
// others are read, with their child rows, in the same snapshot c and
// cached. With churn (issue 32: create, upload, list 50 of 200,000
// images, delete) every listing follows commits, and only the images
// those commits changed are read again.
//
// The cached images were read at generation gen or later and none has
// been changed since: the check after the IDs are read (generation, then
// unchangedSince) makes sure that no commit the snapshot holds changed
// one of them in between; those it did are read from the snapshot too.
func (r *Images) listCached(ctx context.Context, c conn, from string, args []any, gen uint64) ([]*image.Image, error) {
	rows, err := c.queryPlanned(ctx, "SELECT i.id"+from, args...)
	if err != nil {
		return nil, err
	}
	var (
		imgs   []*image.Image
		hits   []string
		missed []string
	)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		img := r.db.images.get(id)
		if img == nil {
			img = &image.Image{ID: id}
			missed = append(missed, id)
		} else {
			hits = append(hits, id)
		}
		imgs = append(imgs, img)
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	if len(hits) > 0 {
		if _, ok := r.db.images.generation(ctx); !ok || !r.db.images.unchangedSince(hits, gen) {
			// A commit changed one of them meanwhile: read them all.
			missed = append(missed, hits...)
		}
	}
	if len(missed) == 0 {
		return imgs, nil
	}
	read := make(map[string]*image.Image, len(missed))
	err = inBatches(missed, func(ids []string) error {
		got, err := scanAll(scanImage)(c.query(ctx, "SELECT "+imageCols+" FROM images WHERE id IN ("+placeholders(len(ids))+")", strs(ids)...))
		if err != nil {
			return err
		}
		if err := loadChildBatch(ctx, c, got); err != nil {
			return err
		}
		for _, img := range got {
			read[img.ID] = img
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, id := range missed {
		img := read[id]
		if img == nil {
			// Listed and gone in one snapshot: cannot be.
			return nil, fmt.Errorf("image %s listed but not read", id)
		}
		r.db.images.put(img, gen)
	}
	for i, img := range imgs {
		if got := read[img.ID]; got != nil {
			imgs[i] = got
		}
	}
	return imgs, nil
}

// listSQL is the query List runs for q and v from its FROM clause on (the
// caller chooses the columns of images i), and its arguments. Choosing
// between the query shapes for a tag or property filter reads the database.
func (r *Images) listSQL(ctx context.Context, c conn, q image.ListQuery, v image.Viewer) (string, []any, error) {
	const op errs.Op = "db.Images.List"
	d := c.d
	var (
		where []string
		args  []any
	)
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	walked := false // MySQL: the visibility condition is checked image by image in the sort order
	looked := false // a rare tag or property value's images drive the query
	// These conditions match nearly every row: they are checked row by row
	// (d.unindexed), while the sort and filter indexes drive the query.
	// Live images only, through indexes that hold deleted before the
	// sort columns (migration 8): the walk never passes a deleted image.
	// MariaDB, offered the live sort index, walked it even for a
	// project's few private images: on MySQL deleted is checked image by
	// image, unless the query walks the sort order (below).
	if d == dMySQL {
		add(d.notDeleted("i.deleted"))
	} else {
		add(d.live("i.deleted"))
	}
	add(d.unindexed("i.status") + " <> 'killed'")

	// Who may see what (Glance's _select_images_query): public and
	// community images, one's own, and shared ones one is a member of (in
	// the asked member status). col wraps the visibility and owner
	// columns. Glance shows a caller without a project every shared image
	// that has a member; Glint shows it none: an absent project is no
	// one's member.
	// A project asking for private images sees its own only: the
	// visibility and owner conditions below say so, and this one would
	// only add work (on MySQL, a walk past every image the project sees).
	ownPrivate := q.Visibility == "private" && v.Project != ""
	if !v.Admin && !ownPrivate {
		visible := func(col func(string) string) string {
			if v.Project == "" {
				return "(" + col("i.visibility") + " IN ('public','community'))"
			}
			shared := "(" + col("i.visibility") + " = 'shared' AND EXISTS (SELECT 1 FROM image_members m WHERE m.image_id = i.id AND " +
				d.notDeleted("m.deleted")
			shared += " AND m.member = ?"
			if q.MemberStatus != "all" {
				shared += " AND m.status = ?"
			}
			return "(" + col("i.visibility") + " IN ('public','community') OR " + col("i.owner") + " = ? OR " + shared + ")))"
		}
		var vargs []any
		if v.Project != "" {
			vargs = append(vargs, v.Project, v.Project)
			if q.MemberStatus != "all" {
				vargs = append(vargs, q.MemberStatus)
			}
		}
		// A caller who sees many images (the public ones, say) is best
		// served by walking the sort order and checking each image; one
		// who sees few by finding them through the owner and visibility
		// indexes and sorting them (100,000 images: 100 ms for a
		// project's page of 20, found among 10,000 public images through
		// the visibility index and sorted).
		var cond string
		var err error
		if d == dMySQL {
			cond, walked, err = r.visibleMySQL(ctx, c, v, q.MemberStatus, visible)
		} else {
			cond, err = r.fewerOrWalk(ctx, c, visible, vargs)
		}
		if err != nil {
			return "", nil, dbErr(op, err)
		}
		add(cond, vargs...)
	}
	switch q.Visibility {
	case "":
		// Matches nearly every image: checked row by row.
		if v.Project != "" {
			add("("+d.unindexed("i.visibility")+" <> 'community' OR "+d.unindexed("i.owner")+" = ?)", v.Project)
		} else {
			add(d.unindexed("i.visibility") + " <> 'community'")
		}
	case "all":
	default:
		// Community or shared images may be few, private or public ones
		// most of them. The private images a project sees are its own:
		// few of them are better found through the owner index.
		col, val := "i.visibility", q.Visibility
		if q.Visibility == "private" && !v.Admin && v.Project != "" {
			add(d.unindexed("i.visibility")+" = ?", q.Visibility)
			col, val = "i.owner", v.Project
		}
		cond, err := r.fewerOrWalk(ctx, c, func(wrap func(string) string) string { return wrap(col) + " = ?" }, []any{val})
		if err != nil {
			return "", nil, dbErr(op, err)
		}
		add(cond, val)
	}
	add(d.unindexedBool("i.os_hidden")+" = ?", q.OSHidden)
	for _, t := range q.Tags {
		// A rare tag is best found through its index and then sorted; a
		// common one by walking the sort order and probing the index.
		rare, err := r.fewer(ctx, c, "SELECT 1 FROM image_tags WHERE value = ? AND "+d.live("deleted"), t)
		if err != nil {
			return "", nil, dbErr(op, err)
		}
		if rare {
			looked = true
			add("i.id IN (SELECT t.image_id FROM image_tags t WHERE t.value = ? AND "+d.live("t.deleted")+")", t)
		} else {
			add(d.exists("SELECT 1 FROM image_tags t WHERE t.image_id = i.id AND t.value = ? AND "+d.live("t.deleted")), t)
		}
	}
	for _, f := range q.Filters {
		rare := true
		if f.Property && f.Op == image.OpEq {
			var err error
			if rare, err = r.fewer(ctx, c, "SELECT 1 FROM image_properties WHERE name = ? AND value = ? AND "+d.live("deleted"), f.Field, f.Values[0]); err != nil {
				return "", nil, dbErr(op, err)
			}
		}
		looked = looked || (f.Property && rare)
		cond, a, err := filterSQL(d, f, rare)
		if err != nil {
			return "", nil, errs.E(op, errs.Invalid, err.Error())
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
			return "", nil, errs.E(op, errs.Invalid, fmt.Sprintf("Invalid sort key: %s", s.Key))
		}
	}

	if q.Marker != "" {
		cond, a, err := r.markerSQL(ctx, c, q.Marker, sortKeys)
		if err != nil {
			return "", nil, err
		}
		add(cond, a...)
	}

	var order []string
	for _, s := range sortKeys {
		// NULL first ascending, as markerSQL assumes.
		order = append(order, d.orderBy(d.sortExpr("i."+s.Key), s.Desc, !notNull[s.Key]))
	}
	// MariaDB walks the default order through Glance's created_at index and
	// reads each image's row to check the walked visibility condition; the
	// covering index (migration 6) answers it from the index alone.
	table := "images i"
	// So does an admin's listing of every image, unfiltered (MariaDB
	// chose that index for it too, and checked deleted in it).
	adminWalk := d == dMySQL && v.Admin && (q.Visibility == "" || q.Visibility == "all") && len(q.Tags) == 0 && len(q.Filters) == 0
	// Not when a rare tag's or value's few images drive the query: held to
	// one index, MariaDB joined them to every image (a block nested loop).
	if (walked || adminWalk) && !looked && sortKeys[0].Key == "created_at" {
		table = d.forceIndex(table, "glint_images_created_live")
		// The index leads with deleted (MySQL's migration 9): walked
		// from deleted = false on, it never passes a deleted image.
		where[0] = d.live("i.deleted")
	}
	from := " FROM " + table + " WHERE " + strings.Join(where, " AND ") + " ORDER BY " + strings.Join(order, ", ") + " LIMIT ?"
	return from, append(args, q.Limit), nil
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
const rareLimit = 200

// fewer reports whether query (a SELECT 1 …) matches fewer than rareLimit
// rows. Where the planner makes that choice itself (d.picksSemiJoin), it
// reports false, for the EXISTS form.
func (r *Images) fewer(ctx context.Context, c conn, query string, args ...any) (bool, error) {
	if r.db.d.picksSemiJoin() {
		return false, nil
	}
	var n int
	err := c.queryRow(ctx, "SELECT COUNT(*) FROM ("+query+" LIMIT "+fmt.Sprint(rareLimit)+") AS x", args...).Scan(&n)
	return n < rareLimit, err
}

// visibleMySQL is fewerOrWalk for the visibility condition on MySQL,
// counting the images the caller sees by each way of seeing them, each
// through its own index. Counted as one condition, MariaDB merged the
// visibility and owner indexes and collected every match before the
// LIMIT stopped it: 7 ms at 100,000 images of which 10,000 public. The
// parts may overlap (one's own public image): an estimate is enough.
// walk reports the second form, checked image by image in the sort order.
func (r *Images) visibleMySQL(ctx context.Context, c conn, v image.Viewer, memberStatus string, visible func(func(string) string) string) (cond string, walk bool, err error) {
	d := r.db.d
	limit := " LIMIT " + fmt.Sprint(rareLimit)
	parts := []string{"SELECT 1 FROM images i WHERE " + d.live("i.deleted") + " AND i.visibility IN ('public','community')" + limit}
	var args []any
	if v.Project != "" {
		parts = append(parts, "SELECT 1 FROM images i WHERE "+d.live("i.deleted")+" AND i.owner = ?"+limit)
		member := "SELECT 1 FROM image_members m WHERE m.member = ? AND " + d.live("m.deleted")
		args = append(args, v.Project, v.Project)
		if memberStatus != "all" {
			member += " AND m.status = ?"
			args = append(args, memberStatus)
		}
		parts = append(parts, member+limit)
	}
	var n int
	if err := c.queryRow(ctx, "SELECT COUNT(*) FROM (("+strings.Join(parts, ") UNION ALL (")+")) AS x", args...).Scan(&n); err != nil {
		return "", false, err
	}
	if n < rareLimit {
		return visible(func(col string) string { return col }), false, nil
	}
	// Walked: the columns hidden from the planner, which otherwise merges
	// the visibility and owner indexes again and sorts every image the
	// caller sees. CONCAT of one string (or ENUM) is the same string, in
	// its collation.
	return visible(func(col string) string { return "CONCAT(" + col + ")" }), true, nil
}

// fewerOrWalk returns cond(col) for a condition on images i: with col
// the column itself where the images matching it are fewer than rareLimit,
// so that the planner finds them through its indexes; else with col
// hidden from the planner (d.unindexed), so that it walks the sort order.
// Where the planner weighs that itself both are the same, and nothing is
// counted.
func (r *Images) fewerOrWalk(ctx context.Context, c conn, cond func(col func(string) string) string, args []any) (string, error) {
	d := r.db.d
	walk, lookup := cond(d.unindexed), cond(func(col string) string { return col })
	if walk == lookup {
		return walk, nil
	}
	few, err := r.fewer(ctx, c, "SELECT 1 FROM images i WHERE "+d.live("i.deleted")+" AND "+lookup, args...)
	if few {
		return lookup, err
	}
	return walk, err
}

func filterSQL(d dialect, f image.Filter, rare bool) (string, []any, error) {
	if f.Property {
		base := "i.id IN (SELECT p.image_id FROM image_properties p WHERE " + d.live("p.deleted") + " AND p.name = ? AND "
		if !rare && f.Op == image.OpEq {
			// SQLite would probe the unique (image_id, name) index and then
			// read the row; this one answers from the index alone.
			props := d.indexedBy("image_properties p", "glint_image_properties_name_value_live")
			return d.exists("SELECT 1 FROM " + props + " WHERE p.image_id = i.id AND p.name = ? AND p.value = ? AND " + d.live("p.deleted")),
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
		return col + " " + op + " ?", []any{d.tsCmp(f.Time)}, nil
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

// valueRows repeats row, a VALUES tuple, n times for a multi-row INSERT.
func valueRows(row string, n int) string { return strings.TrimSuffix(strings.Repeat(row+",", n), ",") }

func strs(v []string) []any {
	out := make([]any, len(v))
	for i, s := range v {
		out[i] = s
	}
	return out
}

// markerSQL builds the keyset condition "rows after the marker" over the
// sort keys, treating NULL as the smallest value as SQLite's ORDER BY does.
func (r *Images) markerSQL(ctx context.Context, c conn, marker string, keys []image.SortKey) (string, []any, error) {
	const op errs.Op = "db.Images.List"
	d := c.d
	cols := make([]string, len(keys))
	exprs := make([]string, len(keys))
	for i, k := range keys {
		cols[i] = d.sortExpr(k.Key)
		exprs[i] = d.sortExpr("i." + k.Key)
	}
	vals := make([]any, len(keys))
	ptrs := make([]any, len(keys))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	err := c.queryRow(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM images WHERE id = ? AND "+d.notDeleted("deleted"), marker).Scan(ptrs...)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, errs.E(op, errs.Invalid, fmt.Sprintf("No image found with ID %s", marker))
	}
	if err != nil {
		return "", nil, dbErr(op, err)
	}
	for i, v := range vals {
		switch v := v.(type) {
		case time.Time:
			// Compare in the stored form (SQLite: SQLAlchemy's text).
			vals[i] = d.ts(v)
		case []byte:
			// MySQL hands text over as bytes, which would compare as a
			// binary string instead of in the column's collation.
			vals[i] = string(v)
		}
	}
	var ors []string
	var args []any
	for i, k := range keys {
		ac, a := afterSQL(exprs[i], vals[i], k.Desc)
		if ac == "" {
			continue
		}
		var ands []string
		for j := 0; j < i; j++ {
			ec, ea := eqSQL(exprs[j], vals[j])
			ands = append(ands, ec)
			args = append(args, ea...)
		}
		ands = append(ands, ac)
		args = append(args, a...)
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	if len(ors) == 0 {
		return "1 = 0", nil, nil
	}
	cond := "(" + strings.Join(ors, " OR ") + ")"
	// SQLite cannot turn the OR above into an index range; this implied
	// bound on the first key lets it start the scan at the marker.
	if k := keys[0]; vals[0] != nil && (!k.Desc || notNull[k.Key]) {
		if k.Desc {
			cond = exprs[0] + " <= ? AND " + cond
		} else {
			cond = exprs[0] + " >= ? AND " + cond
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
