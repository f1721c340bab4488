package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"glint/internal/errs"
	"glint/internal/metadef"
)

// metadefSchemaNames are the ten documents under /v2/schemas/metadefs/.
var metadefSchemaNames = []string{"namespace", "namespaces", "resource_type", "resource_types",
	"property", "properties", "object", "objects", "tag", "tags"}

// metadefSchemas are the compiled schemas request bodies are checked
// against, by name; "property-noname" is the property schema without
// the required name, for the definitions inside an object.
type metadefSchemas map[string]*jsonschema.Schema

func loadMetadefSchemas(docs map[string][]byte) (metadefSchemas, error) {
	out := metadefSchemas{}
	for _, name := range metadefSchemaNames {
		b, err := schemaFiles.ReadFile("schemas/metadefs-" + name + ".json")
		if err != nil {
			return nil, err
		}
		docs["metadefs/"+name] = bytes.TrimRight(b, "\n")
	}
	compile := func(name string, doc []byte) error {
		c := jsonschema.NewCompiler()
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
		if err != nil {
			return err
		}
		if err := c.AddResource("glint:"+name, v); err != nil {
			return err
		}
		out[name], err = c.Compile("glint:" + name)
		return err
	}
	for _, name := range []string{"namespace", "resource_type", "property", "object", "tag"} {
		if err := compile(name, docs["metadefs/"+name]); err != nil {
			return nil, fmt.Errorf("metadefs/%s schema: %w", name, err)
		}
	}
	// The body of a bulk tag creation is not the served collection
	// schema: Glance checks it against a list of bare names.
	tagList := map[string]any{"name": "tags", "additionalProperties": false, "properties": map[string]any{
		"tags": map[string]any{"type": "array", "items": map[string]any{"type": "object",
			"properties": map[string]any{"name": map[string]any{"type": "string"}}, "required": []any{"name"}, "additionalProperties": false}},
	}}
	if err := compile("tags", mustJSON(tagList)); err != nil {
		return nil, err
	}
	var prop map[string]any
	if err := json.Unmarshal(docs["metadefs/property"], &prop); err != nil {
		return nil, err
	}
	prop["required"] = []any{"title", "type"}
	if err := compile("property-noname", mustJSON(prop)); err != nil {
		return nil, fmt.Errorf("metadefs/property schema: %w", err)
	}
	return out, nil
}

// validate checks body against schema name, worded as Glance words it.
func (m metadefSchemas) validate(name string, body any) error {
	const op errs.Op = "api.metadefs.validate"
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(mustJSON(body)))
	if err != nil {
		return errs.E(op, errs.Invalid, "Malformed JSON in request body.")
	}
	if err := m[name].Validate(inst); err != nil {
		shown := strings.TrimSuffix(name, "-noname")
		if shown == "resource_type" {
			shown = "resource_type_association"
		}
		return errs.E(op, errs.Invalid, "Provided object does not match schema '"+shown+"': "+schemaDetail(err))
	}
	return nil
}

func (s *Server) metadefRoutes() {
	if s.metadefs == nil {
		return
	}
	for _, name := range metadefSchemaNames {
		s.route("/v2/schemas/metadefs/"+name, methods{"GET": s.getSchema("metadefs/" + name)}, "GET")
	}
	const ns = "/v2/metadefs/namespaces/{ns}"
	s.route("/v2/metadefs/resource_types", methods{"GET": s.listResourceTypes}, "GET")
	s.route("/v2/metadefs/namespaces", methods{"GET": s.listNamespaces, "POST": s.createNamespace})
	s.route(ns, methods{"GET": s.showNamespace, "PUT": s.updateNamespace, "DELETE": s.deleteNamespace}, "GET", "DELETE")
	s.route(ns+"/resource_types", methods{"GET": s.listAssociations, "POST": s.createAssociation}, "GET")
	s.route(ns+"/resource_types/{rt}", methods{"DELETE": s.deleteAssociation}, "DELETE")
	for _, k := range []metadef.Kind{metadef.Objects, metadef.Properties, metadef.Tags} {
		coll := map[metadef.Kind]string{metadef.Objects: "objects", metadef.Properties: "properties", metadef.Tags: "tags"}[k]
		m := methods{"GET": s.listItems(k), "DELETE": s.deleteItems(k)}
		one := methods{"GET": s.showItem(k), "PUT": s.updateItem(k), "DELETE": s.deleteItem(k)}
		noBody := []string{"GET", "DELETE"}
		if k == metadef.Tags {
			m["POST"] = s.createTags
			one["POST"] = s.createTag
			noBody = append(noBody, "POST")
		} else {
			m["POST"] = s.createItem(k)
		}
		s.route(ns+"/"+coll, m, "GET", "DELETE")
		s.route(ns+"/"+coll+"/{name}", one, noBody...)
	}
}

func fmtT(t time.Time) string { return t.UTC().Format(timeLayout) }

func nsHref(name string) string { return "/v2/metadefs/namespaces/" + name }

// namespaceJSON renders a namespace as Glance does: unset fields left out.
func namespaceJSON(ns *metadef.Namespace, c *metadef.Contents, prefixFor string) map[string]any {
	m := map[string]any{
		"namespace":  ns.Namespace,
		"visibility": ns.Visibility,
		"protected":  ns.Protected,
		"owner":      ns.Owner,
		"created_at": fmtT(ns.CreatedAt),
		"schema":     "/v2/schemas/metadefs/namespace",
		"self":       nsHref(ns.Namespace),
	}
	setTime(m, "updated_at", ns.UpdatedAt)
	if ns.DisplayName != "" {
		m["display_name"] = ns.DisplayName
	}
	if ns.Description != "" {
		m["description"] = ns.Description
	}
	if c == nil {
		return m
	}
	prefix := ""
	if len(c.Associations) > 0 {
		var as []any
		for _, a := range c.Associations {
			as = append(as, associationJSON(a))
			if prefixFor != "" && a.Name == prefixFor {
				prefix = a.Prefix
			}
		}
		m["resource_type_associations"] = as
	}
	if len(c.Properties) > 0 {
		props := map[string]any{}
		for _, p := range c.Properties {
			props[prefix+p.Name] = shownProperty(p.Schema)
		}
		m["properties"] = props
	}
	if len(c.Objects) > 0 {
		var objs []any
		for _, o := range c.Objects {
			objs = append(objs, objectJSON(ns.Namespace, o, prefix))
		}
		m["objects"] = objs
	}
	if len(c.Tags) > 0 {
		var tags []any
		for _, t := range c.Tags {
			tags = append(tags, map[string]any{"name": t.Name})
		}
		m["tags"] = tags
	}
	return m
}

func associationJSON(a metadef.Association) map[string]any {
	m := map[string]any{"name": a.Name, "created_at": fmtT(a.CreatedAt)}
	setTime(m, "updated_at", a.UpdatedAt)
	if a.Prefix != "" {
		m["prefix"] = a.Prefix
	}
	if a.PropertiesTarget != "" {
		m["properties_target"] = a.PropertiesTarget
	}
	return m
}

func objectJSON(ns string, o metadef.Item, prefix string) map[string]any {
	m := map[string]any{
		"name":       o.Name,
		"created_at": fmtT(o.CreatedAt),
		"schema":     "/v2/schemas/metadefs/object",
		"self":       nsHref(ns) + "/objects/" + o.Name,
	}
	setTime(m, "updated_at", o.UpdatedAt)
	if o.Description != "" {
		m["description"] = o.Description
	}
	// Glance always shows an object's required list, empty or not.
	req := make([]string, len(o.Required))
	for i, r := range o.Required {
		req[i] = prefix + r
	}
	m["required"] = req
	var props map[string]json.RawMessage
	if len(o.Schema) > 0 && json.Unmarshal(o.Schema, &props) == nil && len(props) > 0 {
		out := make(map[string]any, len(props))
		for k, v := range props {
			out[prefix+k] = shownProperty(v)
		}
		m["properties"] = out
	}
	return m
}

func propertyJSON(p metadef.Item, name string) map[string]any {
	m := shownProperty(p.Schema)
	m["name"] = name
	return m
}

// propertyKeys are the keys of a property definition Glance's API shows;
// it leaves out any other a catalog file may carry.
var propertyKeys = map[string]bool{"type": true, "title": true, "description": true, "operators": true,
	"default": true, "readonly": true, "minimum": true, "maximum": true, "enum": true, "pattern": true,
	"minLength": true, "maxLength": true, "confidential": true, "items": true, "uniqueItems": true,
	"minItems": true, "maxItems": true, "additionalItems": true}

// shownProperty is a stored property definition as Glance's API renders
// it: known keys only, items with their type and enum, and the default
// as a string (Glance's property type holds it as bytes: 8 becomes "8").
func shownProperty(raw json.RawMessage) map[string]any {
	var def map[string]any
	_ = json.Unmarshal(raw, &def)
	out := make(map[string]any, len(def))
	for k, v := range def {
		if !propertyKeys[k] || v == nil {
			continue
		}
		switch k {
		case "default":
			v = pythonStr(v)
		case "items":
			if it, ok := v.(map[string]any); ok {
				items := map[string]any{}
				for _, ik := range []string{"type", "enum"} {
					if x, ok := it[ik]; ok && x != nil {
						items[ik] = x
					}
				}
				v = items
			}
		}
		out[k] = v
	}
	return out
}

// pythonStr is how Python's str() prints a JSON scalar.
func pythonStr(v any) any {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		if v {
			return "True"
		}
		return "False"
	case float64:
		if v == float64(int64(v)) && v < 1e15 && v > -1e15 {
			return strconv.FormatInt(int64(v), 10)
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return v
}

func tagJSON(t metadef.Item) map[string]any {
	m := map[string]any{"name": t.Name, "created_at": fmtT(t.CreatedAt)}
	setTime(m, "updated_at", t.UpdatedAt)
	return m
}

// setTime sets m[k] to t, unless t was never set (glance-manage leaves
// updated_at empty).
func setTime(m map[string]any, k string, t time.Time) {
	if !t.IsZero() {
		m[k] = fmtT(t)
	}
}

// readOnlyIn refuses a body naming any of keys, as Glance's
// deserializers do, with a 403.
func readOnlyIn(body map[string]any, keys ...string) error {
	for _, k := range keys {
		if _, ok := body[k]; ok {
			return errs.Errorf(errs.Op("api.metadefs"), errs.Forbidden, "Attribute '%s' is read-only.", k)
		}
	}
	return nil
}

// metadefBody reads a JSON object body, refuses read-only keys and checks
// it against schema.
func (s *Server) metadefBody(r *http.Request, schema string, readOnly ...string) (map[string]any, error) {
	body, err := readJSON(r)
	if err != nil {
		return nil, err
	}
	if err := readOnlyIn(body, readOnly...); err != nil {
		return nil, err
	}
	if err := s.metadefSchemas.validate(schema, body); err != nil {
		return nil, err
	}
	return body, nil
}

func str(m map[string]any, k string) string {
	v, _ := m[k].(string)
	return v
}

func strList(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// propertyDef is a property definition as stored: the body without name.
func propertyDef(v map[string]any) json.RawMessage {
	d := make(map[string]any, len(v))
	for k, x := range v {
		if k != "name" {
			d[k] = x
		}
	}
	return mustJSON(d)
}

// objectItem turns an object body into an item, checking each of its
// property definitions.
func (s *Server) objectItem(body map[string]any, checkProps bool) (metadef.Item, error) {
	it := metadef.Item{Name: str(body, "name"), Description: str(body, "description"), Required: strList(body["required"])}
	props, _ := body["properties"].(map[string]any)
	out := map[string]any{}
	for name, def := range props {
		if checkProps {
			if err := s.metadefSchemas.validate("property-noname", def); err != nil {
				return it, err
			}
		}
		d, _ := def.(map[string]any)
		out[name] = json.RawMessage(propertyDef(d))
	}
	it.Schema = mustJSON(out)
	return it, nil
}

func (s *Server) listNamespaces(w http.ResponseWriter, r *http.Request) error {
	const op errs.Op = "api.listNamespaces"
	q := r.URL.Query()
	nq := metadef.NamespaceQuery{Marker: q.Get("marker"), SortKey: "created_at", SortDesc: true}
	if v := q.Get("sort_key"); v != "" {
		if !slices.Contains([]string{"namespace", "created_at", "updated_at"}, v) {
			return errs.Errorf(op, errs.Invalid, "Invalid sort key: %s. It must be one of the following: namespace, created_at, updated_at.", v)
		}
		nq.SortKey = v
	}
	switch v := q.Get("sort_dir"); v {
	case "", "desc":
	case "asc":
		nq.SortDesc = false
	default:
		return errs.Errorf(op, errs.Invalid, "Invalid sort direction: %s", v)
	}
	if v := q.Get("visibility"); v != "" {
		if v != "public" && v != "private" {
			return errs.Errorf(op, errs.Invalid, "Invalid visibility value: %s", v)
		}
		nq.Visibility = v
	}
	if v := q.Get("resource_types"); v != "" {
		nq.ResourceTypes = strings.Split(v, ",")
	}
	limit := s.cfg.LimitParamDefault
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errs.E(op, errs.Invalid, "limit param must be an integer")
		}
		if n < 0 {
			return errs.E(op, errs.Invalid, "limit param must be positive")
		}
		limit = n
	}
	if s.cfg.APILimitMax > 0 && limit > s.cfg.APILimitMax {
		limit = s.cfg.APILimitMax
	}
	nq.Limit = limit
	if limit == 0 {
		nq.Limit = -1 // Glance: a zero limit is an empty page
	}
	ctx := r.Context()
	list, err := s.metadefs.ListNamespaces(ctx, nq)
	if err != nil {
		return err
	}
	if limit == 0 {
		list = nil
	}
	out := []any{}
	for _, ns := range list {
		var c *metadef.Contents
		if as, err := s.metadefs.ListAssociations(ctx, ns.Namespace); err == nil && len(as) > 0 {
			c = &metadef.Contents{Associations: as}
		}
		out = append(out, namespaceJSON(ns, c, ""))
	}
	params := r.URL.Query()
	params.Del("marker")
	first := "/v2/metadefs/namespaces"
	if enc := params.Encode(); enc != "" {
		first += "?" + enc
	}
	resp := map[string]any{"namespaces": out, "first": first, "schema": "/v2/schemas/metadefs/namespaces"}
	if len(list) > 0 && len(list) == limit {
		params.Set("marker", list[len(list)-1].Namespace)
		resp["next"] = "/v2/metadefs/namespaces?" + params.Encode()
	}
	return writeJSON(w, http.StatusOK, resp)
}

// contentsOf reads the embedded parts of a namespace body.
func (s *Server) contentsOf(body map[string]any) (*metadef.Contents, error) {
	c := &metadef.Contents{}
	for _, v := range asList(body["resource_type_associations"]) {
		a, _ := v.(map[string]any)
		c.Associations = append(c.Associations, metadef.Association{Name: str(a, "name"), Prefix: str(a, "prefix"), PropertiesTarget: str(a, "properties_target")})
	}
	if props, ok := body["properties"].(map[string]any); ok {
		for name, def := range props {
			d, _ := def.(map[string]any)
			c.Properties = append(c.Properties, metadef.Item{Name: name, Schema: propertyDef(d)})
		}
		slices.SortFunc(c.Properties, func(a, b metadef.Item) int { return strings.Compare(a.Name, b.Name) })
	}
	for _, v := range asList(body["objects"]) {
		o, _ := v.(map[string]any)
		it, err := s.objectItem(o, false)
		if err != nil {
			return nil, err
		}
		c.Objects = append(c.Objects, it)
	}
	for _, v := range asList(body["tags"]) {
		t, _ := v.(map[string]any)
		c.Tags = append(c.Tags, metadef.Item{Name: str(t, "name")})
	}
	return c, nil
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func namespaceOf(body map[string]any) *metadef.Namespace {
	ns := &metadef.Namespace{Namespace: str(body, "namespace"), DisplayName: str(body, "display_name"),
		Description: str(body, "description"), Visibility: str(body, "visibility"), Owner: str(body, "owner")}
	ns.Protected, _ = body["protected"].(bool)
	return ns
}

var nsReadOnly = []string{"self", "schema", "created_at", "updated_at"}

func (s *Server) createNamespace(w http.ResponseWriter, r *http.Request) error {
	body, err := s.metadefBody(r, "namespace", nsReadOnly...)
	if err != nil {
		return err
	}
	ns := namespaceOf(body)
	c, err := s.contentsOf(body)
	if err != nil {
		return err
	}
	if err := s.metadefs.CreateNamespace(r.Context(), ns, c); err != nil {
		return err
	}
	w.Header().Set("Location", nsHref(ns.Namespace))
	return writeJSON(w, http.StatusCreated, namespaceJSON(ns, c, ""))
}

func (s *Server) showNamespace(w http.ResponseWriter, r *http.Request) error {
	ns, c, err := s.metadefs.GetNamespace(r.Context(), r.PathValue("ns"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, namespaceJSON(ns, c, r.URL.Query().Get("resource_type")))
}

func (s *Server) updateNamespace(w http.ResponseWriter, r *http.Request) error {
	body, err := s.metadefBody(r, "namespace", nsReadOnly...)
	if err != nil {
		return err
	}
	ns, err := s.metadefs.UpdateNamespace(r.Context(), r.PathValue("ns"), namespaceOf(body))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, namespaceJSON(ns, nil, ""))
}

func (s *Server) deleteNamespace(w http.ResponseWriter, r *http.Request) error {
	if err := s.metadefs.DeleteNamespace(r.Context(), r.PathValue("ns")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (s *Server) listResourceTypes(w http.ResponseWriter, r *http.Request) error {
	rts, err := s.metadefs.ListResourceTypes(r.Context())
	if err != nil {
		return err
	}
	out := []any{}
	for _, rt := range rts {
		m := map[string]any{"name": rt.Name, "created_at": fmtT(rt.CreatedAt)}
		setTime(m, "updated_at", rt.UpdatedAt)
		out = append(out, m)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"resource_types": out})
}

func (s *Server) listAssociations(w http.ResponseWriter, r *http.Request) error {
	as, err := s.metadefs.ListAssociations(r.Context(), r.PathValue("ns"))
	if err != nil {
		return err
	}
	out := []any{}
	for _, a := range as {
		out = append(out, associationJSON(a))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"resource_type_associations": out})
}

func (s *Server) createAssociation(w http.ResponseWriter, r *http.Request) error {
	body, err := s.metadefBody(r, "resource_type", "created_at", "updated_at")
	if err != nil {
		return err
	}
	a, err := s.metadefs.CreateAssociation(r.Context(), r.PathValue("ns"),
		metadef.Association{Name: str(body, "name"), Prefix: str(body, "prefix"), PropertiesTarget: str(body, "properties_target")})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, associationJSON(a))
}

func (s *Server) deleteAssociation(w http.ResponseWriter, r *http.Request) error {
	if err := s.metadefs.DeleteAssociation(r.Context(), r.PathValue("ns"), r.PathValue("rt")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// itemQuery reads the paging parameters of an object or tag listing.
func itemQuery(q url.Values, k metadef.Kind) (metadef.TagQuery, error) {
	const op errs.Op = "api.itemQuery"
	tq := metadef.TagQuery{Marker: q.Get("marker"), SortKey: "created_at", SortDesc: true}
	if v := q.Get("sort_key"); v != "" && k == metadef.Tags {
		tq.SortKey = v
		if !slices.Contains([]string{"name", "created_at", "updated_at"}, v) {
			return tq, errs.Errorf(op, errs.Invalid, "Invalid sort key: %s. It must be one of the following: name, created_at, updated_at.", v)
		}
	}
	switch v := q.Get("sort_dir"); v {
	case "", "desc":
	case "asc":
		tq.SortDesc = false
	default:
		return tq, errs.Errorf(op, errs.Invalid, "Invalid sort direction: %s", v)
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return tq, errs.E(op, errs.Invalid, "limit param must be an integer")
		}
		switch {
		case n < 0 || (n == 0 && k == metadef.Objects):
			return tq, errs.E(op, errs.Invalid, "limit param must be positive")
		case n == 0:
			// Glance's tag listing takes 0 as no limit.
		}
		tq.Limit = n
	}
	return tq, nil
}

func (s *Server) listItems(k metadef.Kind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ns := r.PathValue("ns")
		q := metadef.TagQuery{SortKey: "name"}
		if k != metadef.Properties {
			var err error
			if q, err = itemQuery(r.URL.Query(), k); err != nil {
				return err
			}
		}
		if k == metadef.Objects {
			// Glance checks an object listing's parameters, then
			// lists every object in the order stored.
			q = metadef.TagQuery{}
		}
		items, err := s.metadefs.ListItems(r.Context(), k, ns, q)
		if err != nil {
			return err
		}
		switch k {
		case metadef.Objects:
			out := []any{}
			for _, o := range items {
				out = append(out, objectJSON(ns, o, ""))
			}
			return writeJSON(w, http.StatusOK, map[string]any{"objects": out, "schema": "v2/schemas/metadefs/objects"})
		case metadef.Properties:
			out := map[string]any{}
			for _, p := range items {
				out[p.Name] = shownProperty(p.Schema)
			}
			return writeJSON(w, http.StatusOK, map[string]any{"properties": out})
		default:
			out := []any{}
			for _, t := range items {
				out = append(out, tagJSON(t))
			}
			return writeJSON(w, http.StatusOK, map[string]any{"tags": out})
		}
	}
}

func (s *Server) showItem(k metadef.Kind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ns, name := r.PathValue("ns"), r.PathValue("name")
		shown := name
		if rt := r.URL.Query().Get("resource_type"); k == metadef.Properties && rt != "" {
			// The name may carry the association's prefix.
			as, err := s.metadefs.ListAssociations(r.Context(), ns)
			if err != nil {
				return err
			}
			for _, a := range as {
				if a.Name == rt && a.Prefix != "" && strings.HasPrefix(name, a.Prefix) {
					name = name[len(a.Prefix):]
				}
			}
		}
		it, err := s.metadefs.GetItem(r.Context(), k, ns, name)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, itemJSON(k, ns, it, shown))
	}
}

func itemJSON(k metadef.Kind, ns string, it metadef.Item, name string) map[string]any {
	switch k {
	case metadef.Objects:
		return objectJSON(ns, it, "")
	case metadef.Properties:
		return propertyJSON(it, name)
	}
	return tagJSON(it)
}

// itemFromBody reads and checks the body of an object, property or tag.
func (s *Server) itemFromBody(r *http.Request, k metadef.Kind, create bool) (metadef.Item, error) {
	switch k {
	case metadef.Objects:
		body, err := s.metadefBody(r, "object", nsReadOnly...)
		if err != nil {
			return metadef.Item{}, err
		}
		return s.objectItem(body, create)
	case metadef.Properties:
		body, err := s.metadefBody(r, "property")
		if err != nil {
			return metadef.Item{}, err
		}
		return metadef.Item{Name: str(body, "name"), Schema: propertyDef(body)}, nil
	}
	body, err := s.metadefBody(r, "tag", "created_at", "updated_at")
	if err != nil {
		return metadef.Item{}, err
	}
	return metadef.Item{Name: str(body, "name")}, nil
}

func (s *Server) createItem(k metadef.Kind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		it, err := s.itemFromBody(r, k, true)
		if err != nil {
			return err
		}
		ns := r.PathValue("ns")
		it, err = s.metadefs.CreateItem(r.Context(), k, ns, it)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusCreated, itemJSON(k, ns, it, it.Name))
	}
}

func (s *Server) updateItem(k metadef.Kind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		it, err := s.itemFromBody(r, k, false)
		if err != nil {
			return err
		}
		ns := r.PathValue("ns")
		it, err = s.metadefs.UpdateItem(r.Context(), k, ns, r.PathValue("name"), it)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, itemJSON(k, ns, it, it.Name))
	}
}

func (s *Server) deleteItem(k metadef.Kind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := s.metadefs.DeleteItem(r.Context(), k, r.PathValue("ns"), r.PathValue("name")); err != nil {
			return err
		}
		noContent(w)
		return nil
	}
}

func (s *Server) deleteItems(k metadef.Kind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := s.metadefs.DeleteItems(r.Context(), k, r.PathValue("ns")); err != nil {
			return err
		}
		noContent(w)
		return nil
	}
}

func (s *Server) createTag(w http.ResponseWriter, r *http.Request) error {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	if err := s.metadefSchemas.validate("tag", map[string]any{"name": name}); err != nil {
		return err
	}
	it, err := s.metadefs.CreateItem(r.Context(), metadef.Tags, ns, metadef.Item{Name: name})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, tagJSON(it))
}

func (s *Server) createTags(w http.ResponseWriter, r *http.Request) error {
	body, err := s.metadefBody(r, "tags", "created_at", "updated_at")
	if err != nil {
		return err
	}
	var names []string
	for _, v := range asList(body["tags"]) {
		t, _ := v.(map[string]any)
		names = append(names, str(t, "name"))
	}
	// oslo's bool_from_string, as Glance reads the header.
	appendTags := false
	switch strings.ToLower(strings.TrimSpace(r.Header.Get("X-Openstack-Append"))) {
	case "1", "t", "true", "on", "y", "yes":
		appendTags = true
	}
	items, err := s.metadefs.CreateTags(r.Context(), r.PathValue("ns"), names, appendTags)
	if err != nil {
		return err
	}
	out := []any{}
	for _, t := range items {
		out = append(out, map[string]any{"name": t.Name})
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"tags": out})
}
