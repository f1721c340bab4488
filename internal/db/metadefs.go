package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"glint/internal/errs"
	"glint/internal/metadef"
)

// Metadefs is the metadata definitions repository, in Glance's metadef_*
// tables. The catalog is small (Glance ships 33 namespaces), so listings
// read every matching row and sort and page in Go.
type Metadefs struct{ db *DB }

// Metadefs returns the metadefs repository of d.
func (d *DB) Metadefs() *Metadefs { return &Metadefs{db: d} }

var _ metadef.Repo = (*Metadefs)(nil)

const nsCols = "id, namespace, display_name, description, visibility, protected, owner, created_at, updated_at"

func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullTS stores a zero time as NULL: glance-manage leaves updated_at
// unset on what it loads, and the API then leaves it out.
func nullTS(d dialect, t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return d.ts(t)
}

func scanNamespace(r rowScanner) (int64, *metadef.Namespace, error) {
	var id int64
	var ns metadef.Namespace
	var display, desc, vis sql.NullString
	var prot sql.NullBool
	var created, updated dbTime
	if err := r.Scan(&id, &ns.Namespace, &display, &desc, &vis, &prot, &ns.Owner, &created, &updated); err != nil {
		return 0, nil, err
	}
	ns.DisplayName, ns.Description, ns.Visibility, ns.Protected = display.String, desc.String, vis.String, prot.Bool
	ns.CreatedAt, ns.UpdatedAt = created.Time, updated.Time
	return id, &ns, nil
}

func nsNotFound(op errs.Op, name string) error {
	return errs.E(op, errs.NotFound, fmt.Sprintf("Metadata definition namespace=%s was not found.", name))
}

// namespaceID finds a namespace's row id, locked in a write transaction.
func namespaceID(ctx context.Context, c conn, op errs.Op, name string, lock bool) (int64, error) {
	q := "SELECT id FROM metadef_namespaces WHERE namespace = ?"
	if lock {
		q += c.d.forUpdate()
	}
	var id int64
	err := c.queryRow(ctx, q, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nsNotFound(op, name)
	}
	return id, err
}

// ListNamespaces lists namespaces in the query's order, from after its
// marker, up to its limit.
func (m *Metadefs) ListNamespaces(ctx context.Context, q metadef.NamespaceQuery) ([]*metadef.Namespace, error) {
	const op errs.Op = "db.Metadefs.ListNamespaces"
	c := m.db.reader()
	where, args := []string{"1=1"}, []any{}
	if !q.AllVisible {
		where = append(where, "(visibility = 'public' OR owner = ?)")
		args = append(args, q.Owner)
	}
	if q.Visibility != "" {
		where = append(where, "visibility = ?")
		args = append(args, q.Visibility)
	}
	if len(q.ResourceTypes) > 0 {
		where = append(where, "id IN (SELECT a.namespace_id FROM metadef_namespace_resource_types a "+
			"JOIN metadef_resource_types r ON r.id = a.resource_type_id WHERE r.name IN (?"+strings.Repeat(",?", len(q.ResourceTypes)-1)+"))")
		for _, rt := range q.ResourceTypes {
			args = append(args, rt)
		}
	}
	rows, err := c.query(ctx, "SELECT "+nsCols+" FROM metadef_namespaces WHERE "+strings.Join(where, " AND ")+" ORDER BY id", args...)
	if err != nil {
		return nil, dbErr(op, err)
	}
	var all []*metadef.Namespace
	for rows.Next() {
		_, ns, err := scanNamespace(rows)
		if err != nil {
			rows.Close()
			return nil, dbErr(op, err)
		}
		all = append(all, ns)
	}
	if err := closeRows(rows); err != nil {
		return nil, dbErr(op, err)
	}
	key := func(ns *metadef.Namespace) (string, time.Time) {
		switch q.SortKey {
		case "namespace":
			return ns.Namespace, time.Time{}
		case "updated_at":
			return "", ns.UpdatedAt
		}
		return "", ns.CreatedAt
	}
	if q.SortDesc {
		slices.Reverse(all) // ties in descending id order, as Glance's pagination
	}
	slices.SortStableFunc(all, func(a, b *metadef.Namespace) int {
		as, at := key(a)
		bs, bt := key(b)
		r := strings.Compare(as, bs)
		if r == 0 {
			r = at.Compare(bt)
		}
		if q.SortDesc {
			r = -r
		}
		return r
	})
	return page(all, func(ns *metadef.Namespace) string { return ns.Namespace }, q.Marker, q.Limit), nil
}

// page cuts list after the element named marker and to limit (0: all).
func page[T any](list []T, name func(T) string, marker string, limit int) []T {
	if marker != "" {
		for i, v := range list {
			if name(v) == marker {
				list = list[i+1:]
				break
			}
		}
	}
	if limit > 0 && len(list) > limit {
		list = list[:limit]
	}
	return list
}

// GetNamespace returns one namespace, without its contents.
func (m *Metadefs) GetNamespace(ctx context.Context, name string) (*metadef.Namespace, error) {
	const op errs.Op = "db.Metadefs.GetNamespace"
	_, ns, err := scanNamespace(m.db.reader().queryRow(ctx, "SELECT "+nsCols+" FROM metadef_namespaces WHERE namespace = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nsNotFound(op, name)
	}
	if err != nil {
		return nil, dbErr(op, err)
	}
	return ns, nil
}

func nsDuplicate(op errs.Op, name string) error {
	return errs.E(op, errs.Conflict, fmt.Sprintf("The metadata definition namespace=%s already exists.", name))
}

// CreateNamespace stores a namespace and its contents in one transaction.
func (m *Metadefs) CreateNamespace(ctx context.Context, ns *metadef.Namespace, c *metadef.Contents) error {
	const op errs.Op = "db.Metadefs.CreateNamespace"
	d := m.db.d
	return m.db.inTx(ctx, op, func(tx conn) error {
		tx.touchesNoImage()
		var n int
		if err := tx.queryRow(ctx, "SELECT COUNT(*) FROM metadef_namespaces WHERE namespace = ?", ns.Namespace).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nsDuplicate(op, ns.Namespace)
		}
		id, err := tx.insertID(ctx, "INSERT INTO metadef_namespaces (namespace, display_name, description, visibility, protected, owner, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)",
			ns.Namespace, nullText(ns.DisplayName), nullText(ns.Description), ns.Visibility, ns.Protected, ns.Owner, d.ts(ns.CreatedAt), nullTS(d, ns.UpdatedAt))
		if isDuplicate(err) {
			return nsDuplicate(op, ns.Namespace)
		}
		if err != nil {
			return err
		}
		if c == nil {
			return nil
		}
		for k, items := range map[metadef.Kind][]metadef.Item{metadef.Objects: c.Objects, metadef.Properties: c.Properties, metadef.Tags: c.Tags} {
			if err := insertItems(ctx, tx, op, k, id, ns.Namespace, items); err != nil {
				return err
			}
		}
		for _, a := range c.Associations {
			if err := insertAssociation(ctx, tx, op, id, ns.Namespace, a); err != nil {
				return err
			}
		}
		return nil
	})
}

// UpdateNamespace saves a namespace's own fields, and its new name.
func (m *Metadefs) UpdateNamespace(ctx context.Context, name string, ns *metadef.Namespace) error {
	const op errs.Op = "db.Metadefs.UpdateNamespace"
	d := m.db.d
	return m.db.inTx(ctx, op, func(tx conn) error {
		tx.touchesNoImage()
		id, err := namespaceID(ctx, tx, op, name, true)
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, "UPDATE metadef_namespaces SET namespace = ?, display_name = ?, description = ?, visibility = ?, protected = ?, owner = ?, updated_at = ? WHERE id = ?",
			ns.Namespace, nullText(ns.DisplayName), nullText(ns.Description), ns.Visibility, ns.Protected, ns.Owner, nullTS(d, ns.UpdatedAt), id)
		if isDuplicate(err) {
			return nsDuplicate(op, ns.Namespace)
		}
		return err
	})
}

// DeleteNamespace deletes a namespace and everything in it.
func (m *Metadefs) DeleteNamespace(ctx context.Context, name string) error {
	const op errs.Op = "db.Metadefs.DeleteNamespace"
	return m.db.inTx(ctx, op, func(tx conn) error {
		tx.touchesNoImage()
		id, err := namespaceID(ctx, tx, op, name, true)
		if err != nil {
			return err
		}
		for _, t := range []string{"metadef_objects", "metadef_properties", "metadef_tags", "metadef_namespace_resource_types"} {
			if _, err := tx.exec(ctx, "DELETE FROM "+t+" WHERE namespace_id = ?", id); err != nil {
				return err
			}
		}
		_, err = tx.exec(ctx, "DELETE FROM metadef_namespaces WHERE id = ?", id)
		return err
	})
}

// Contents returns everything a namespace holds, each kind by name.
func (m *Metadefs) Contents(ctx context.Context, name string) (*metadef.Contents, error) {
	const op errs.Op = "db.Metadefs.Contents"
	c := m.db.reader()
	id, err := namespaceID(ctx, c, op, name, false)
	if err != nil {
		return nil, errs.E(op, kindOr(err), err)
	}
	var out metadef.Contents
	for _, k := range []metadef.Kind{metadef.Objects, metadef.Properties, metadef.Tags} {
		items, err := listItems(ctx, c, k, id)
		if err != nil {
			return nil, dbErr(op, err)
		}
		slices.SortStableFunc(items, func(a, b metadef.Item) int { return strings.Compare(a.Name, b.Name) })
		switch k {
		case metadef.Objects:
			out.Objects = items
		case metadef.Properties:
			out.Properties = items
		case metadef.Tags:
			out.Tags = items
		}
	}
	if out.Associations, err = listAssociations(ctx, c, id); err != nil {
		return nil, dbErr(op, err)
	}
	return &out, nil
}

// kindOr keeps a classified error's kind; others are the database's.
func kindOr(err error) errs.Kind { return dbKind(err) }

func listAssociations(ctx context.Context, c conn, nsID int64) ([]metadef.Association, error) {
	rows, err := c.query(ctx, "SELECT r.name, a.prefix, a.properties_target, a.created_at, a.updated_at FROM metadef_namespace_resource_types a "+
		"JOIN metadef_resource_types r ON r.id = a.resource_type_id WHERE a.namespace_id = ? ORDER BY a.created_at, r.id", nsID)
	if err != nil {
		return nil, err
	}
	out := []metadef.Association{}
	for rows.Next() {
		var a metadef.Association
		var prefix, target sql.NullString
		var created, updated dbTime
		if err := rows.Scan(&a.Name, &prefix, &target, &created, &updated); err != nil {
			rows.Close()
			return nil, err
		}
		a.Prefix, a.PropertiesTarget, a.CreatedAt, a.UpdatedAt = prefix.String, target.String, created.Time, updated.Time
		out = append(out, a)
	}
	return out, closeRows(rows)
}

// itemTable is where each kind of item lives and its extra columns.
func itemTable(k metadef.Kind) (table, cols string) {
	switch k {
	case metadef.Objects:
		return "metadef_objects", "description, required, json_schema"
	case metadef.Properties:
		return "metadef_properties", "json_schema"
	}
	return "metadef_tags", ""
}

func itemArgs(k metadef.Kind, it metadef.Item) []any {
	schema := string(it.Schema)
	switch k {
	case metadef.Objects:
		if schema == "" {
			schema = "{}"
		}
		var req any
		if len(it.Required) > 0 {
			b, _ := json.Marshal(it.Required)
			req = string(b)
		}
		return []any{nullText(it.Description), req, schema}
	case metadef.Properties:
		if schema == "" {
			schema = "{}"
		}
		return []any{schema}
	}
	return nil
}

func listItems(ctx context.Context, c conn, k metadef.Kind, nsID int64) ([]metadef.Item, error) {
	table, cols := itemTable(k)
	if cols != "" {
		cols = ", " + cols
	}
	rows, err := c.query(ctx, "SELECT name, created_at, updated_at"+cols+" FROM "+table+" WHERE namespace_id = ? ORDER BY id", nsID)
	if err != nil {
		return nil, err
	}
	out := []metadef.Item{}
	for rows.Next() {
		it, err := scanItem(rows, k)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, it)
	}
	return out, closeRows(rows)
}

func scanItem(r rowScanner, k metadef.Kind) (metadef.Item, error) {
	var it metadef.Item
	var created, updated dbTime
	var desc, req sql.NullString
	var schema string
	dest := []any{&it.Name, &created, &updated}
	switch k {
	case metadef.Objects:
		dest = append(dest, &desc, &req, &schema)
	case metadef.Properties:
		dest = append(dest, &schema)
	}
	if err := r.Scan(dest...); err != nil {
		return it, err
	}
	it.CreatedAt, it.UpdatedAt = created.Time, updated.Time
	it.Description = desc.String
	if req.Valid && req.String != "" {
		if err := json.Unmarshal([]byte(req.String), &it.Required); err != nil {
			return it, fmt.Errorf("object %s: required: %w", it.Name, err)
		}
	}
	if schema != "" {
		it.Schema = json.RawMessage(schema)
	}
	return it, nil
}

func itemNotFound(op errs.Op, k metadef.Kind, ns, name string) error {
	what := map[metadef.Kind]string{metadef.Objects: "metadata object", metadef.Properties: "property", metadef.Tags: "metadata tag"}[k]
	return errs.E(op, errs.NotFound, fmt.Sprintf("Could not find %s %s", what, name))
}

func itemDuplicate(op errs.Op, k metadef.Kind, ns, name string) error {
	if k == metadef.Tags {
		return errs.E(op, errs.Conflict, fmt.Sprintf("A metadata tag with name=%s already exists in namespace=%s. "+
			"(Please note that metadata tag names are case insensitive).", name, ns))
	}
	return errs.E(op, errs.Conflict, fmt.Sprintf("A metadata definition %s with name=%s already exists in namespace=%s.", k, name, ns))
}

// ListItems lists a namespace's items of kind k; tags are paged by q.
func (m *Metadefs) ListItems(ctx context.Context, k metadef.Kind, ns string, q metadef.TagQuery) ([]metadef.Item, error) {
	const op errs.Op = "db.Metadefs.ListItems"
	c := m.db.reader()
	id, err := namespaceID(ctx, c, op, ns, false)
	if err != nil {
		return nil, errs.E(op, kindOr(err), err)
	}
	items, err := listItems(ctx, c, k, id)
	if err != nil {
		return nil, dbErr(op, err)
	}
	slices.SortStableFunc(items, func(a, b metadef.Item) int {
		var r int
		switch q.SortKey {
		case "created_at":
			r = a.CreatedAt.Compare(b.CreatedAt)
		case "updated_at":
			r = a.UpdatedAt.Compare(b.UpdatedAt)
		case "":
			r = 0 // as stored
		default:
			r = strings.Compare(a.Name, b.Name)
		}
		if q.SortDesc {
			r = -r
		}
		return r
	})
	return page(items, func(it metadef.Item) string { return it.Name }, q.Marker, q.Limit), nil
}

// GetItem returns one item.
func (m *Metadefs) GetItem(ctx context.Context, k metadef.Kind, ns, name string) (metadef.Item, error) {
	const op errs.Op = "db.Metadefs.GetItem"
	c := m.db.reader()
	id, err := namespaceID(ctx, c, op, ns, false)
	if err != nil {
		return metadef.Item{}, errs.E(op, kindOr(err), err)
	}
	table, cols := itemTable(k)
	if cols != "" {
		cols = ", " + cols
	}
	it, err := scanItem(c.queryRow(ctx, "SELECT name, created_at, updated_at"+cols+" FROM "+table+" WHERE namespace_id = ? AND name = ?", id, name), k)
	if errors.Is(err, sql.ErrNoRows) {
		return it, itemNotFound(op, k, ns, name)
	}
	if err != nil {
		return it, dbErr(op, err)
	}
	return it, nil
}

func insertItems(ctx context.Context, tx conn, op errs.Op, k metadef.Kind, nsID int64, ns string, items []metadef.Item) error {
	table, cols := itemTable(k)
	for _, it := range items {
		var n int
		// MySQL's collation compares names case-insensitively; the
		// explicit check gives every database the same answer for tags.
		q := "SELECT COUNT(*) FROM " + table + " WHERE namespace_id = ? AND name = ?"
		name := it.Name
		if k == metadef.Tags {
			q = "SELECT COUNT(*) FROM " + table + " WHERE namespace_id = ? AND LOWER(name) = ?"
			name = strings.ToLower(name)
		}
		if err := tx.queryRow(ctx, q, nsID, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return itemDuplicate(op, k, ns, it.Name)
		}
		args := append([]any{nsID, it.Name, tx.d.ts(it.CreatedAt), nullTS(tx.d, it.UpdatedAt)}, itemArgs(k, it)...)
		c := "namespace_id, name, created_at, updated_at"
		if cols != "" {
			c += ", " + cols
		}
		_, err := tx.exec(ctx, "INSERT INTO "+table+" ("+c+") VALUES (?"+strings.Repeat(",?", len(args)-1)+")", args...)
		if isDuplicate(err) {
			return itemDuplicate(op, k, ns, it.Name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// CreateItems adds items to a namespace; replace first removes every
// item of the kind.
func (m *Metadefs) CreateItems(ctx context.Context, k metadef.Kind, ns string, items []metadef.Item, replace bool) error {
	const op errs.Op = "db.Metadefs.CreateItems"
	return m.db.inTx(ctx, op, func(tx conn) error {
		tx.touchesNoImage()
		id, err := namespaceID(ctx, tx, op, ns, true)
		if err != nil {
			return err
		}
		if replace {
			table, _ := itemTable(k)
			if _, err := tx.exec(ctx, "DELETE FROM "+table+" WHERE namespace_id = ?", id); err != nil {
				return err
			}
		}
		return insertItems(ctx, tx, op, k, id, ns, items)
	})
}

// UpdateItem replaces an item, possibly renaming it.
func (m *Metadefs) UpdateItem(ctx context.Context, k metadef.Kind, ns, name string, it metadef.Item) error {
	const op errs.Op = "db.Metadefs.UpdateItem"
	return m.db.inTx(ctx, op, func(tx conn) error {
		tx.touchesNoImage()
		id, err := namespaceID(ctx, tx, op, ns, true)
		if err != nil {
			return err
		}
		table, cols := itemTable(k)
		set := "name = ?, updated_at = ?"
		for _, c := range strings.Split(cols, ", ") {
			if c != "" {
				set += ", " + c + " = ?"
			}
		}
		var n int
		if err := tx.queryRow(ctx, "SELECT COUNT(*) FROM "+table+" WHERE namespace_id = ? AND name = ?", id, name).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return itemNotFound(op, k, ns, name)
		}
		if it.Name != name {
			if err := tx.queryRow(ctx, "SELECT COUNT(*) FROM "+table+" WHERE namespace_id = ? AND name = ?", id, it.Name).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return itemDuplicate(op, k, ns, it.Name)
			}
		}
		args := append([]any{it.Name, nullTS(tx.d, it.UpdatedAt)}, itemArgs(k, it)...)
		args = append(args, id, name)
		_, err = tx.exec(ctx, "UPDATE "+table+" SET "+set+" WHERE namespace_id = ? AND name = ?", args...)
		if isDuplicate(err) {
			return itemDuplicate(op, k, ns, it.Name)
		}
		return err
	})
}

// DeleteItem removes one item.
func (m *Metadefs) DeleteItem(ctx context.Context, k metadef.Kind, ns, name string) error {
	const op errs.Op = "db.Metadefs.DeleteItem"
	return m.db.inTx(ctx, op, func(tx conn) error {
		tx.touchesNoImage()
		id, err := namespaceID(ctx, tx, op, ns, true)
		if err != nil {
			return err
		}
		table, _ := itemTable(k)
		res, err := tx.exec(ctx, "DELETE FROM "+table+" WHERE namespace_id = ? AND name = ?", id, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return itemNotFound(op, k, ns, name)
		}
		return nil
	})
}

// DeleteItems removes every item of kind k from a namespace.
func (m *Metadefs) DeleteItems(ctx context.Context, k metadef.Kind, ns string) error {
	const op errs.Op = "db.Metadefs.DeleteItems"
	return m.db.inTx(ctx, op, func(tx conn) error {
		tx.touchesNoImage()
		id, err := namespaceID(ctx, tx, op, ns, true)
		if err != nil {
			return err
		}
		table, _ := itemTable(k)
		_, err = tx.exec(ctx, "DELETE FROM "+table+" WHERE namespace_id = ?", id)
		return err
	})
}

// ListResourceTypes lists every resource type by name.
func (m *Metadefs) ListResourceTypes(ctx context.Context) ([]metadef.ResourceType, error) {
	const op errs.Op = "db.Metadefs.ListResourceTypes"
	rows, err := m.db.reader().query(ctx, "SELECT name, protected, created_at, updated_at FROM metadef_resource_types ORDER BY id")
	if err != nil {
		return nil, dbErr(op, err)
	}
	out := []metadef.ResourceType{}
	for rows.Next() {
		var rt metadef.ResourceType
		var created, updated dbTime
		if err := rows.Scan(&rt.Name, &rt.Protected, &created, &updated); err != nil {
			rows.Close()
			return nil, dbErr(op, err)
		}
		rt.CreatedAt, rt.UpdatedAt = created.Time, updated.Time
		out = append(out, rt)
	}
	if err := closeRows(rows); err != nil {
		return nil, dbErr(op, err)
	}
	return out, nil
}

func insertAssociation(ctx context.Context, tx conn, op errs.Op, nsID int64, ns string, a metadef.Association) error {
	var rtID int64
	err := tx.queryRow(ctx, "SELECT id FROM metadef_resource_types WHERE name = ?", a.Name).Scan(&rtID)
	if errors.Is(err, sql.ErrNoRows) {
		rtID, err = tx.insertID(ctx, "INSERT INTO metadef_resource_types (name, protected, created_at, updated_at) VALUES (?,?,?,?)",
			a.Name, false, tx.d.ts(a.CreatedAt), nullTS(tx.d, a.UpdatedAt))
	}
	if err != nil {
		return err
	}
	dup := errs.E(op, errs.Conflict, fmt.Sprintf("The metadata definition resource-type association of resource-type=%s to namespace=%s already exists.", a.Name, ns))
	var n int
	if err := tx.queryRow(ctx, "SELECT COUNT(*) FROM metadef_namespace_resource_types WHERE namespace_id = ? AND resource_type_id = ?", nsID, rtID).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return dup
	}
	_, err = tx.exec(ctx, "INSERT INTO metadef_namespace_resource_types (resource_type_id, namespace_id, properties_target, prefix, created_at, updated_at) VALUES (?,?,?,?,?,?)",
		rtID, nsID, nullText(a.PropertiesTarget), nullText(a.Prefix), tx.d.ts(a.CreatedAt), nullTS(tx.d, a.UpdatedAt))
	if isDuplicate(err) {
		return dup
	}
	return err
}

// CreateAssociation applies a namespace to a resource type, adding the
// resource type when it is new.
func (m *Metadefs) CreateAssociation(ctx context.Context, ns string, a metadef.Association) error {
	const op errs.Op = "db.Metadefs.CreateAssociation"
	return m.db.inTx(ctx, op, func(tx conn) error {
		tx.touchesNoImage()
		id, err := namespaceID(ctx, tx, op, ns, true)
		if err != nil {
			return err
		}
		return insertAssociation(ctx, tx, op, id, ns, a)
	})
}

// DeleteAssociation removes a namespace's association with a resource type.
func (m *Metadefs) DeleteAssociation(ctx context.Context, ns, rt string) error {
	const op errs.Op = "db.Metadefs.DeleteAssociation"
	return m.db.inTx(ctx, op, func(tx conn) error {
		tx.touchesNoImage()
		id, err := namespaceID(ctx, tx, op, ns, true)
		if err != nil {
			return err
		}
		var rtID int64
		err = tx.queryRow(ctx, "SELECT id FROM metadef_resource_types WHERE name = ?", rt).Scan(&rtID)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.E(op, errs.NotFound, fmt.Sprintf("Failed to find resource type %s to delete", rt))
		}
		if err != nil {
			return err
		}
		res, err := tx.exec(ctx, "DELETE FROM metadef_namespace_resource_types WHERE namespace_id = ? AND resource_type_id = ?", id, rtID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.E(op, errs.NotFound, fmt.Sprintf("Failed to find resource type %s to delete", rt))
		}
		return nil
	})
}
