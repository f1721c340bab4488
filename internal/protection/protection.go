// Package protection implements Glance's property protections: a file of
// sections, each a regular expression over custom property names, saying
// which roles (or which policy rule) may create, read, update and delete
// the properties it matches.
package protection

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/ini.v1"

	"glint/internal/auth"
)

// Operations, in the order a section must define them.
const (
	Create = "create"
	Read   = "read"
	Update = "update"
	Delete = "delete"
)

var operations = []string{Create, Read, Update, Delete}

// RuleChecker evaluates a named policy rule for the caller in ctx; it is
// what the "policies" format needs from the policy engine.
type RuleChecker interface {
	CheckRule(ctx context.Context, rule string) bool
}

// Rules are the loaded protections. The zero value protects nothing.
type Rules struct {
	sections []section
	policies RuleChecker // nil in the roles format
}

type section struct {
	expr *regexp.Regexp
	// allowed maps an operation to its roles (lower-cased), or to one
	// policy rule name; "@" is everyone and "!" nobody; empty is nobody.
	allowed map[string][]string
}

// Load reads a property protection file. format is "roles" or
// "policies"; the latter needs checker. As in Glance, every section must
// name all four operations, and a malformed file is an error: protections
// that silently fail to load would open every property.
func Load(path, format string, checker RuleChecker) (*Rules, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("property protection file: %w", err)
	}
	return Parse(b, format, checker)
}

// Parse is Load on the file's content.
func Parse(data []byte, format string, checker RuleChecker) (*Rules, error) {
	if format != "roles" && format != "policies" {
		return nil, fmt.Errorf("property_protection_rule_format %q: must be roles or policies", format)
	}
	if format == "policies" && checker == nil {
		return nil, fmt.Errorf("property protections in the policies format need the policy engine")
	}
	f, err := ini.LoadSources(ini.LoadOptions{
		// Section names are regular expressions: keep them as written.
		Insensitive: false, InsensitiveSections: false, IgnoreInlineComment: true,
		// Python's configparser reads keys case-insensitively.
		InsensitiveKeys: true,
	}, data)
	if err != nil {
		return nil, fmt.Errorf("property protection file: %w", err)
	}
	r := &Rules{}
	if format == "policies" {
		r.policies = checker
	}
	for _, s := range f.Sections() {
		name := s.Name()
		if name == ini.DefaultSection {
			if len(s.Keys()) > 0 {
				return nil, fmt.Errorf("property protection file: options outside a section")
			}
			continue
		}
		re, err := regexp.Compile(name)
		if err != nil {
			return nil, fmt.Errorf("property protection file: malformed rule [%s]: %v", name, err)
		}
		sec := section{expr: re, allowed: map[string][]string{}}
		for _, op := range operations {
			if !s.HasKey(op) {
				return nil, fmt.Errorf("property protection file: [%s] does not say who may %s", name, op)
			}
			v := strings.TrimSpace(s.Key(op).String())
			if v == "" {
				continue // nobody
			}
			if format == "policies" {
				if strings.Contains(v, ",") {
					return nil, fmt.Errorf("property protection file: [%s] %s = %s: one policy per operation (combine them in the policy file)", name, op, v)
				}
				sec.allowed[op] = []string{v}
				continue
			}
			var roles []string
			for _, p := range strings.Split(v, ",") {
				roles = append(roles, strings.ToLower(strings.TrimSpace(p)))
			}
			if slices.Contains(roles, "@") && slices.Contains(roles, "!") {
				return nil, fmt.Errorf("property protection file: [%s] %s = %s: '@' and '!' are mutually exclusive", name, op, v)
			}
			sec.allowed[op] = roles
		}
		r.sections = append(r.sections, sec)
	}
	return r, nil
}

// Allowed reports whether the caller in ctx may perform op on the custom
// property prop. The first section whose expression matches anywhere in
// the name decides; a property no section matches is refused.
func (r *Rules) Allowed(ctx context.Context, prop, op string) bool {
	if r == nil || len(r.sections) == 0 {
		return true
	}
	i := slices.IndexFunc(r.sections, func(s section) bool { return s.expr.MatchString(prop) })
	if i < 0 {
		return false
	}
	allowed := r.sections[i].allowed[op]
	switch {
	case len(allowed) == 0, slices.Contains(allowed, "!"):
		return false
	case slices.Contains(allowed, "@"):
		return true
	case r.policies != nil:
		return r.policies.CheckRule(ctx, allowed[0])
	}
	// Glance counts the roles of a valid service token too.
	a := auth.From(ctx)
	roles := a.Roles
	if a.Service != nil {
		roles = slices.Concat(roles, a.Service.Roles)
	}
	for _, role := range roles {
		if slices.Contains(allowed, strings.ToLower(role)) {
			return true
		}
	}
	return false
}
