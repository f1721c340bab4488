package api

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"glint/internal/errs"
	"glint/internal/image"
)

// Filters that take Glance's "in:" and "eq:" operators on a core column.
var opColumns = map[string]bool{"name": true, "id": true, "status": true, "container_format": true, "disk_format": true}

// Filters that compare a core column literally.
var plainColumns = map[string]bool{"owner": true, "checksum": true, "os_hash_value": true, "os_hash_algo": true}

// Integer columns: Glance compares any image column a query names by
// equality (not only the documented filters), and takes KEY_min and
// KEY_max as bounds on it; only the other keys are custom properties.
var intColumns = map[string]bool{"size": true, "virtual_size": true, "min_disk": true, "min_ram": true}

// parseListQuery turns GET /v2/images parameters into a ListQuery with
// Glance's 400s for what it refuses.
func parseListQuery(raw string, defLimit, maxLimit int) (image.ListQuery, error) {
	const op errs.Op = "api.parseListQuery"
	bad := func(format string, a ...any) (image.ListQuery, error) {
		return image.ListQuery{}, errs.Errorf(op, errs.Invalid, format, a...)
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return bad("Invalid query string")
	}
	q := image.ListQuery{Limit: defLimit, MemberStatus: "accepted"}
	last := func(k string) string { v := vals[k]; return v[len(v)-1] }

	if _, ok := vals["limit"]; ok {
		n, err := strconv.Atoi(last("limit"))
		if err != nil {
			return bad("limit param must be an integer")
		}
		if n < 0 {
			return bad("limit param must be positive")
		}
		q.Limit = n
	}
	if q.Limit > maxLimit {
		q.Limit = maxLimit
	}
	if _, ok := vals["marker"]; ok {
		q.Marker = last("marker")
	}

	// Sorting: sort_key/sort_dir (repeatable) or the newer sort=k:dir,…
	_, hasSort := vals["sort"]
	keys, dirs := vals["sort_key"], vals["sort_dir"]
	if hasSort && (len(keys) > 0 || len(dirs) > 0) {
		return bad("Old and new sorting syntax cannot be combined")
	}
	checkKey := func(k string) error {
		if !slices.Contains(image.SortKeys, k) {
			return errs.Errorf(op, errs.Invalid, "Invalid sort key: %s. It must be one of the following: %s.", k, strings.Join(image.SortKeys, ", "))
		}
		return nil
	}
	parseDir := func(d string) (bool, error) {
		switch d {
		case "asc":
			return false, nil
		case "desc":
			return true, nil
		}
		return false, errs.Errorf(op, errs.Invalid, "Invalid sort direction: %s", d)
	}
	if hasSort {
		for _, term := range strings.Split(last("sort"), ",") {
			term = strings.TrimSpace(term)
			k, d, hasDir := strings.Cut(term, ":")
			if err := checkKey(k); err != nil {
				return image.ListQuery{}, err
			}
			desc := true
			if hasDir {
				if desc, err = parseDir(d); err != nil {
					return image.ListQuery{}, err
				}
			}
			q.Sort = append(q.Sort, image.SortKey{Key: k, Desc: desc})
		}
	} else {
		if len(dirs) > 1 && len(dirs) != len(keys) {
			return bad("Number of sort dirs does not match the number of sort keys")
		}
		for i, k := range keys {
			if err := checkKey(k); err != nil {
				return image.ListQuery{}, err
			}
			desc := true
			if len(dirs) > 0 {
				d := dirs[0]
				if len(dirs) > 1 {
					d = dirs[i]
				}
				if desc, err = parseDir(d); err != nil {
					return image.ListQuery{}, err
				}
			}
			q.Sort = append(q.Sort, image.SortKey{Key: k, Desc: desc})
		}
		if len(keys) == 0 && len(dirs) > 0 {
			desc, err := parseDir(dirs[0])
			if err != nil {
				return image.ListQuery{}, err
			}
			q.Sort = []image.SortKey{{Key: "created_at", Desc: desc}}
		}
	}

	for k, vs := range vals {
		v := vs[len(vs)-1]
		switch {
		case k == "limit", k == "marker", k == "sort", k == "sort_key", k == "sort_dir":
		case k == "changes-since":
			return bad(`The "changes-since" filter is no longer available on v2.`)
		case k == "visibility":
			if !slices.Contains([]string{"public", "private", "shared", "community", "all"}, v) {
				return bad("Invalid visibility value: %s", v)
			}
			q.Visibility = v
		case k == "member_status":
			if !slices.Contains([]string{"accepted", "pending", "rejected", "all"}, v) {
				return bad("Invalid status: %s", v)
			}
			q.MemberStatus = v
		case k == "os_hidden" || k == "protected":
			if k == "os_hidden" {
				v = strings.ToLower(v) // Glance lower-cases this one only
			}
			if v != "true" && v != "false" {
				return bad("Invalid value '%s' for '%s' filter. Valid values are 'true' or 'false'.", v, k)
			}
			if k == "os_hidden" {
				q.OSHidden = v == "true"
			} else {
				q.Filters = append(q.Filters, image.Filter{Field: k, Op: image.OpEq, Values: []string{v}})
			}
		case k == "tag":
			q.Tags = append(q.Tags, vs...)
		case (strings.HasSuffix(k, "_min") || strings.HasSuffix(k, "_max")) && intColumns[k[:len(k)-4]]:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return bad("Unable to filter on a range with a non-numeric value.")
			}
			o := image.OpGte
			if strings.HasSuffix(k, "_max") {
				o = image.OpLte
			}
			q.Filters = append(q.Filters, image.Filter{Field: k[:len(k)-4], Op: o, Int: n})
		case intColumns[k]:
			// Glance leaves a non-number to the database (no match on
			// SQLite, an error on PostgreSQL); a clear 400 instead.
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return bad("Invalid value '%s' for '%s' filter: it must be an integer.", v, k)
			}
			q.Filters = append(q.Filters, image.Filter{Field: k, Op: image.OpEq, Int: n})
		case k == "created_at" || k == "updated_at":
			o, ts := image.OpEq, v
			if before, after, ok := strings.Cut(v, ":"); ok && isTimeOp(before) {
				o, ts = before, after
			} else if ok && isWord(before) {
				return bad("Unable to filter on a unknown operator.")
			}
			t, err := parseISOTime(ts)
			if err != nil {
				return bad(`Bad "%s" query filter format. Use ISO 8601 DateTime notation.`, k)
			}
			q.Filters = append(q.Filters, image.Filter{Field: k, Op: o, Time: t})
		case opColumns[k]:
			f, err := parseOpFilter(k, v)
			if err != nil {
				return image.ListQuery{}, err
			}
			q.Filters = append(q.Filters, f)
		case plainColumns[k]:
			q.Filters = append(q.Filters, image.Filter{Field: k, Op: image.OpEq, Values: []string{v}})
		default:
			q.Filters = append(q.Filters, image.Filter{Field: k, Property: true, Op: image.OpEq, Values: []string{v}})
		}
	}
	// Map iteration order is random; a stable filter order keeps SQL cacheable.
	slices.SortFunc(q.Filters, func(a, b image.Filter) int { return strings.Compare(a.Field+a.Op, b.Field+b.Op) })
	return q, nil
}

func isWord(s string) bool {
	for _, c := range s {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return s != ""
}

func isTimeOp(s string) bool {
	switch s {
	case image.OpGt, image.OpGte, image.OpLt, image.OpLte, image.OpEq, image.OpNeq:
		return true
	}
	return false
}

// parseOpFilter reads "value", "eq:value" or `in:"a,b",c`.
func parseOpFilter(field, v string) (image.Filter, error) {
	const op errs.Op = "api.parseOpFilter"
	before, after, ok := strings.Cut(v, ":")
	if !ok {
		return image.Filter{Field: field, Op: image.OpEq, Values: []string{v}}, nil
	}
	switch before {
	case "eq":
		return image.Filter{Field: field, Op: image.OpEq, Values: []string{after}}, nil
	case "in":
		values, err := splitInList(after)
		if err != nil {
			return image.Filter{}, err
		}
		return image.Filter{Field: field, Op: image.OpIn, Values: values}, nil
	}
	return image.Filter{}, errs.Errorf(op, errs.Invalid, "Unable to filter by unknown operator '%s'.", before)
}

// splitInList splits a comma list where double-quoted items may hold commas.
func splitInList(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	quoted, wasQuoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			if !quoted && cur.Len() > 0 {
				return nil, errs.Errorf("api.splitInList", errs.Invalid, "Invalid filter value %s. The quote is not closed.", s)
			}
			quoted = !quoted
			wasQuoted = true
		case c == ',' && !quoted:
			out = append(out, cur.String())
			cur.Reset()
			wasQuoted = false
		default:
			if wasQuoted && !quoted {
				return nil, errs.Errorf("api.splitInList", errs.Invalid, "Invalid filter value %s. There is no comma after closing quotation mark.", s)
			}
			cur.WriteByte(c)
		}
	}
	if quoted {
		return nil, errs.Errorf("api.splitInList", errs.Invalid, "Invalid filter value %s. The quote is not closed.", s)
	}
	return append(out, cur.String()), nil
}

// parseISOTime accepts the ISO 8601 forms oslo's parse_isotime does in practice.
func parseISOTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999",
		"2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time %q", s)
}
