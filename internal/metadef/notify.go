package metadef

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"time"
)

// Notifier sends Glance's notifications (internal/notify is one); it
// must not block.
type Notifier interface {
	Enabled(eventType string) bool
	Notify(ctx context.Context, priority, eventType string, payload any)
}

// isoTime is Glance's notification time: UTC, whole seconds, Z.
func isoTime(t time.Time) string {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// send sends one event at INFO with payload and the extra keys.
func (s *Service) send(ctx context.Context, eventType string, payload func() map[string]any, extra map[string]any) {
	n := s.notifier
	if n == nil || !n.Enabled(eventType) {
		return
	}
	p := payload()
	for k, v := range extra {
		p[k] = v
	}
	n.Notify(ctx, "INFO", eventType, p)
}

// deletedNow is the extra payload of a delete event.
func (s *Service) deletedNow() map[string]any {
	return map[string]any{"deleted": true, "deleted_at": isoTime(s.now())}
}

func namespacePayload(ns *Namespace) map[string]any {
	return map[string]any{
		"namespace":     ns.Namespace,
		"namespace_old": ns.Namespace,
		"display_name":  orNil(ns.DisplayName),
		"protected":     ns.Protected,
		"visibility":    ns.Visibility,
		"owner":         ns.Owner,
		"description":   orNil(ns.Description),
		"created_at":    isoTime(ns.CreatedAt),
		"updated_at":    isoTime(ns.UpdatedAt),
		"deleted":       false,
		"deleted_at":    nil,
	}
}

// schemaFields are the fields of a property definition a notification
// shows, in Glance's order.
var schemaFields = []string{"type", "title", "description", "default", "minimum", "maximum", "enum", "pattern",
	"minLength", "maxLength", "confidential", "items", "uniqueItems", "minItems", "maxItems", "additionalItems"}

func propertyPayload(ns string, it Item) map[string]any {
	var schema map[string]any
	_ = json.Unmarshal(it.Schema, &schema)
	p := map[string]any{"namespace": ns, "name": it.Name, "name_old": it.Name, "deleted": false, "deleted_at": nil}
	for _, f := range schemaFields {
		p[f] = schema[f] // nil when absent, as Glance's schema.get
	}
	return p
}

// falsy is Python's truthiness, which Glance's object payload applies to
// each property field ("x or None").
func falsy(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case float64:
		return v == 0
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

// pythonStr is Python's str() of a JSON value, for scalars.
func pythonStr(v any) any {
	switch v := v.(type) {
	case bool:
		if v {
			return "True"
		}
		return "False"
	case float64:
		if v == float64(int64(v)) {
			return strconv.FormatInt(int64(v), 10)
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return v
}

func objectPayload(ns string, it Item) map[string]any {
	var props map[string]map[string]any
	_ = json.Unmarshal(it.Schema, &props)
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	sort.Strings(names)
	list := make([]any, 0, len(names))
	for _, n := range names {
		op := map[string]any{"name": n}
		for _, f := range schemaFields {
			v := props[n][f]
			if f == "default" && v != nil {
				v = pythonStr(v) // Glance's object properties keep their default as text
			}
			if !falsy(v) {
				op[f] = v
			} else {
				op[f] = nil
			}
		}
		list = append(list, op)
	}
	var required any
	if it.Required != nil {
		required = it.Required
	}
	return map[string]any{
		"namespace":   ns,
		"name":        it.Name,
		"name_old":    it.Name,
		"properties":  list,
		"required":    required,
		"description": orNil(it.Description),
		"created_at":  isoTime(it.CreatedAt),
		"updated_at":  isoTime(it.UpdatedAt),
		"deleted":     false,
		"deleted_at":  nil,
	}
}

func tagPayload(ns string, it Item) map[string]any {
	return map[string]any{
		"namespace":  ns,
		"name":       it.Name,
		"name_old":   it.Name,
		"created_at": isoTime(it.CreatedAt),
		"updated_at": isoTime(it.UpdatedAt),
		"deleted":    false,
		"deleted_at": nil,
	}
}

func itemPayload(k Kind, ns string, it Item) map[string]any {
	switch k {
	case Objects:
		return objectPayload(ns, it)
	case Properties:
		return propertyPayload(ns, it)
	}
	return tagPayload(ns, it)
}

// itemEvent is the event type prefix of a kind: metadef_object, …
func itemEvent(k Kind) string { return "metadef_" + k.String() }

func associationPayload(ns string, a Association) map[string]any {
	return map[string]any{
		"namespace":         ns,
		"name":              a.Name,
		"name_old":          a.Name,
		"prefix":            orNil(a.Prefix),
		"properties_target": orNil(a.PropertiesTarget),
		"created_at":        isoTime(a.CreatedAt),
		"updated_at":        isoTime(a.UpdatedAt),
		"deleted":           false,
		"deleted_at":        nil,
	}
}
