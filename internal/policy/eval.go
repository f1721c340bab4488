package policy

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"glint/internal/errs"
)

// maxRuleDepth bounds how deeply rule: references may nest while
// evaluating. oslo has no guard and dies with a RecursionError (a 500 in
// Glance) on a cycle; real chains are two or three deep.
const maxRuleDepth = 64

// Credentials describe the caller, as oslo.context's to_policy_values does.
// Empty strings stand for Python's None, which matters: a check such as
// project_id:%(owner)s compares str(None) == "None" on both sides, so a
// caller without a project matches a target without an owner, as in Glance.
type Credentials struct {
	UserID          string
	UserDomainID    string
	ProjectID       string
	ProjectDomainID string
	DomainID        string
	// SystemScope is "all" for a system-scoped token.
	SystemScope string
	Roles       []string
	// IsAdmin adds "is_admin": True to the credentials so that
	// is_admin:True checks can hold. Glance's own credentials never carry
	// is_admin (oslo.context leaves it out of to_policy_values), so leave
	// it false to evaluate exactly as Glance does.
	IsAdmin bool
	// Extra holds further keys for generic checks (is_admin_project,
	// service_roles, ...). It cannot replace the keys above.
	Extra map[string]any
}

// Map returns the credentials as the dict oslo.policy evaluates generic
// checks against, including the "system" alias oslo adds for system_scope.
func (c Credentials) Map() map[string]any {
	m := make(map[string]any, len(c.Extra)+10)
	for k, v := range c.Extra {
		m[k] = v
	}
	opt := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	m["user_id"] = opt(c.UserID)
	m["user_domain_id"] = opt(c.UserDomainID)
	m["project_id"] = opt(c.ProjectID)
	m["project_domain_id"] = opt(c.ProjectDomainID)
	m["domain_id"] = opt(c.DomainID)
	m["system_scope"] = opt(c.SystemScope)
	roles := make([]any, len(c.Roles))
	for i, r := range c.Roles {
		roles[i] = r
	}
	m["roles"] = roles
	if c.IsAdmin {
		m["is_admin"] = true
	}
	if c.SystemScope != "" {
		m["system"] = c.SystemScope
	}
	return m
}

// tokenScope is the scope oslo infers from the credentials when comparing
// with a rule's scope_types.
func (c Credentials) tokenScope() string {
	switch {
	case c.SystemScope != "":
		return "system"
	case c.DomainID != "":
		return "domain"
	}
	return "project"
}

// evaluator evaluates one expression; rules resolves rule: references.
type evaluator struct {
	rules       map[string]Expr
	defaultRule string // "" when undefined references simply fail
	creds       map[string]any
	roles       []string // lower-cased
	target      map[string]any
	depth       int
}

func newEvaluator(rules map[string]Expr, defaultRule string, c Credentials, target map[string]any) *evaluator {
	roles := make([]string, len(c.Roles))
	for i, r := range c.Roles {
		roles[i] = strings.ToLower(r)
	}
	return &evaluator{rules: rules, defaultRule: defaultRule, creds: c.Map(), roles: roles, target: target}
}

func (ev *evaluator) eval(e Expr) (bool, error) {
	switch e := e.(type) {
	case Always:
		return true, nil
	case Never:
		return false, nil
	case Not:
		ok, err := ev.eval(e.X)
		return !ok, err
	case And:
		for _, t := range e.Terms {
			if ok, err := ev.eval(t); !ok || err != nil {
				return false, err
			}
		}
		return true, nil
	case Or:
		for _, t := range e.Terms {
			if ok, err := ev.eval(t); ok || err != nil {
				return ok, err
			}
		}
		return false, nil
	case Check:
		return ev.check(e)
	}
	return false, errs.Errorf("policy.Eval", errs.Internal, "unknown policy expression %T", e)
}

func (ev *evaluator) check(c Check) (bool, error) {
	switch c.Kind {
	case "rule":
		sub, ok := ev.rules[c.Match]
		if !ok {
			// oslo's Rules dict answers a missing key with the
			// default rule when one is defined.
			if sub, ok = ev.rules[ev.defaultRule]; !ok || ev.defaultRule == "" {
				return false, nil
			}
		}
		if ev.depth >= maxRuleDepth {
			return false, errs.Errorf("policy.Eval", errs.Internal,
				"policy rule references nest deeper than %d at rule:%s (a cycle?)", maxRuleDepth, c.Match)
		}
		ev.depth++
		ok, err := ev.eval(sub)
		ev.depth--
		return ok, err
	case "role":
		match, ok := interpolate(c.Match, ev.target)
		if !ok {
			return false, nil
		}
		match = strings.ToLower(match)
		for _, r := range ev.roles {
			if r == match {
				return true, nil
			}
		}
		return false, nil
	}
	match, ok := interpolate(c.Match, ev.target)
	if !ok {
		return false, nil
	}
	if lit, ok := pyLiteral(c.Kind); ok {
		return match == lit, nil
	}
	return findInDict(ev.creds, strings.Split(c.Kind, "."), match), nil
}

// findInDict follows the dotted credential path; a list along the way
// matches when any element does, as in oslo's GenericCheck.
func findInDict(v any, path []string, match string) bool {
	if len(path) == 0 {
		// oslo compares str(None) == "None", so a token without a project
		// would match project_id:%(project_id)s on an ownerless image. An
		// absent credential never matches here.
		return v != nil && match == pyStr(v)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	next, ok := m[path[0]]
	if !ok {
		return false
	}
	if list, ok := asList(next); ok {
		for _, el := range list {
			if findInDict(el, path[1:], match) {
				return true
			}
		}
		return false
	}
	return findInDict(next, path[1:], match)
}

func asList(v any) ([]any, bool) {
	switch l := v.(type) {
	case []any:
		return l, true
	case []string:
		out := make([]any, len(l))
		for i, s := range l {
			out[i] = s
		}
		return out, true
	}
	return nil, false
}

// interpolate applies Python's "match % target": %(key)s is replaced by
// str(target[key]) and %% by %. ok is false when a key is missing (oslo
// then fails the check) and for format specs other than %(key)s, on which
// Python either raises or formats the whole target; both deny here.
func interpolate(format string, target map[string]any) (string, bool) {
	if !strings.Contains(format, "%") {
		return format, true
	}
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(format) {
			return "", false
		}
		switch format[i] {
		case '%':
			b.WriteByte('%')
			continue
		case '(':
		default:
			return "", false
		}
		// Python allows nested parentheses inside the key.
		depth, start := 1, i+1
		for i++; i < len(format) && depth > 0; i++ {
			switch format[i] {
			case '(':
				depth++
			case ')':
				depth--
			}
		}
		if depth > 0 || i >= len(format) || format[i] != 's' {
			return "", false
		}
		v, ok := target[format[start:i-1]]
		if !ok {
			return "", false
		}
		b.WriteString(pyStr(v))
	}
	return b.String(), true
}

// pyLiteral reports whether ast.literal_eval accepts kind as a string,
// number, boolean or None, and returns str() of the value.
func pyLiteral(kind string) (string, bool) {
	switch kind {
	case "True", "False", "None":
		return kind, true
	case "":
		return "", false
	}
	if s, ok := pyStringLiteral(kind); ok {
		return s, true
	}
	return pyNumberLiteral(kind)
}

// pyStringLiteral decodes a single- or double-quoted Python string with an
// optional u or r prefix. Other forms (bytes, triple quotes, implicit
// concatenation) are not recognised and fall through to a credential
// lookup, which fails.
func pyStringLiteral(s string) (string, bool) {
	raw := false
	switch {
	case strings.HasPrefix(s, "u"), strings.HasPrefix(s, "U"):
		s = s[1:]
	case strings.HasPrefix(s, "r"), strings.HasPrefix(s, "R"):
		s, raw = s[1:], true
	}
	if len(s) < 2 || (s[0] != '\'' && s[0] != '"') || s[len(s)-1] != s[0] {
		return "", false
	}
	q, body := s[0], s[1:len(s)-1]
	if len(body) >= 2 && body[0] == q && body[1] == q { // a triple quote
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c == q || c == '\n' {
			return "", false
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(body) {
			return "", false // the backslash escapes the closing quote
		}
		i++
		e := body[i]
		if raw {
			b.WriteByte('\\')
			b.WriteByte(e)
			continue
		}
		switch e {
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if i+1+n > len(body) {
				return "", false
			}
			r, err := strconv.ParseUint(body[i+1:i+1+n], 16, 32)
			if err != nil || r > unicode.MaxRune {
				return "", false
			}
			b.WriteRune(rune(r))
			i += n
		default:
			if e >= '0' && e <= '7' {
				j := i
				for j < len(body) && j < i+3 && body[j] >= '0' && body[j] <= '7' {
					j++
				}
				r, _ := strconv.ParseUint(body[i:j], 8, 32)
				b.WriteRune(rune(r))
				i = j - 1
				continue
			}
			// Python keeps unknown escapes verbatim.
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	return b.String(), true
}

// pyNumberLiteral recognises Python int and float literals, with an
// optional sign, and returns str() of the value.
func pyNumberLiteral(s string) (string, bool) {
	neg := false
	body := s
	if body != "" && (body[0] == '-' || body[0] == '+') {
		neg = body[0] == '-'
		body = body[1:]
	}
	if body == "" || (body[0] < '0' || body[0] > '9') && body[0] != '.' {
		return "", false
	}
	if !validUnderscores(body) {
		return "", false
	}
	clean := strings.ReplaceAll(body, "_", "")
	if n, ok := pyInt(clean); ok {
		if neg {
			n.Neg(n)
		}
		return n.String(), true
	}
	if !isPyFloat(clean) {
		return "", false
	}
	f, err := strconv.ParseFloat(clean, 64)
	if err != nil && !isRangeErr(err) {
		return "", false
	}
	if neg {
		f = -f
	}
	return pyFloat(f), true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// validUnderscores: Python allows single underscores between digits (and
// after a base prefix).
func validUnderscores(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '_' {
			continue
		}
		if i == 0 || i == len(s)-1 || s[i+1] == '_' || !isAlnum(s[i-1]) || !isAlnum(s[i+1]) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func pyInt(s string) (*big.Int, bool) {
	base := 10
	digits := s
	if len(s) > 2 && s[0] == '0' {
		switch s[1] {
		case 'x', 'X':
			base, digits = 16, s[2:]
		case 'o', 'O':
			base, digits = 8, s[2:]
		case 'b', 'B':
			base, digits = 2, s[2:]
		}
	}
	if base == 10 {
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return nil, false
			}
		}
		// Python 3 rejects leading zeros in decimal literals, except 0.
		if len(s) > 1 && s[0] == '0' && strings.Trim(s, "0") != "" {
			return nil, false
		}
	}
	if digits == "" || digits[0] == '+' || digits[0] == '-' {
		return nil, false
	}
	n, ok := new(big.Int).SetString(digits, base)
	return n, ok
}

// isPyFloat checks the shape digits[.digits][e[sign]digits] (or .digits).
func isPyFloat(s string) bool {
	i, n := 0, len(s)
	digits := func() int {
		st := i
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - st
	}
	intPart := digits()
	frac := 0
	dot := false
	if i < n && s[i] == '.' {
		dot = true
		i++
		frac = digits()
	}
	if intPart == 0 && frac == 0 {
		return false
	}
	exp := false
	if i < n && (s[i] == 'e' || s[i] == 'E') {
		exp = true
		i++
		if i < n && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == n && (dot || exp)
}

// pyFloat formats f as Python's repr/str does: the shortest round-trip
// digits, fixed notation for exponents -4..15, always with a fraction.
func pyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // e.g. -1.2345e+06
	sign := ""
	if e[0] == '-' {
		sign, e = "-", e[1:]
	}
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)
	if exp < -4 || exp >= 16 {
		m := digits[:1]
		if len(digits) > 1 {
			m += "." + digits[1:]
		}
		es := "+"
		if exp < 0 {
			es, exp = "-", -exp
		}
		return fmt.Sprintf("%s%se%s%02d", sign, m, es, exp)
	}
	if exp < 0 {
		return sign + "0." + strings.Repeat("0", -exp-1) + digits
	}
	if len(digits) <= exp+1 {
		return sign + digits + strings.Repeat("0", exp+1-len(digits)) + ".0"
	}
	return sign + digits[:exp+1] + "." + digits[exp+1:]
}

// pyStr renders a target or credential value as Python's str() would
// render the equivalent Python value.
func pyStr(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case string:
		return v
	case bool:
		if v {
			return "True"
		}
		return "False"
	case int:
		return strconv.FormatInt(int64(v), 10)
	case int8:
		return strconv.FormatInt(int64(v), 10)
	case int16:
		return strconv.FormatInt(int64(v), 10)
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case int64:
		return strconv.FormatInt(v, 10)
	case uint:
		return strconv.FormatUint(uint64(v), 10)
	case uint8:
		return strconv.FormatUint(uint64(v), 10)
	case uint16:
		return strconv.FormatUint(uint64(v), 10)
	case uint32:
		return strconv.FormatUint(uint64(v), 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case float32:
		return pyFloat(float64(v))
	case float64:
		return pyFloat(v)
	case json.Number:
		if n, ok := new(big.Int).SetString(string(v), 10); ok {
			return n.String()
		}
		if f, err := v.Float64(); err == nil {
			return pyFloat(f)
		}
		return string(v)
	case []string, []any:
		l, _ := asList(v)
		parts := make([]string, len(l))
		for i, el := range l {
			parts[i] = pyRepr(el)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = pyRepr(k) + ": " + pyRepr(v[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprint(v)
}

// pyRepr is Python's repr() for strings and str() for everything else,
// which is how containers print their elements.
func pyRepr(v any) string {
	s, ok := v.(string)
	if !ok {
		return pyStr(v)
	}
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case !unicode.IsPrint(r):
			switch {
			case r < 0x100:
				fmt.Fprintf(&b, `\x%02x`, r)
			case r < 0x10000:
				fmt.Fprintf(&b, `\u%04x`, r)
			default:
				fmt.Fprintf(&b, `\U%08x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}
