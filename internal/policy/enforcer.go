package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"glint/internal/errs"
)

// Options mirror the [oslo_policy] options of glance-api.conf.
type Options struct {
	// EnforceNewDefaults drops the deprecated defaults. When false (Zed's
	// default) a rule with a deprecated default is "new OR deprecated".
	// Glance 25.1 refuses to start unless [DEFAULT] enforce_secure_rbac
	// has the same value.
	EnforceNewDefaults bool
	// EnforceScope refuses tokens whose scope (system, domain, project)
	// is not among the rule's scope types; when false the mismatch is
	// ignored, as oslo then only logs it.
	EnforceScope bool
	// PolicyFile is the policy.yaml (or legacy policy.json) to load; a
	// missing file is ignored, as oslo does (Check reports it). Relative
	// paths are taken as given; finding them in the configuration
	// directories is the caller's job.
	PolicyFile string
	// PolicyDirs are loaded after PolicyFile, each directory's files in
	// name order, skipping dot files; later files override earlier ones.
	// Missing directories are ignored.
	PolicyDirs []string
	// DefaultRule names the rule that stands in for undefined rule:
	// references ([oslo_policy] policy_default_rule); "" means "default".
	DefaultRule string
	// MissingRulesDeny makes a reference to an undefined rule deny instead
	// of evaluating the default rule. oslo falls back, and Glance's default
	// rule allows everyone, so a misspelt rule: in a policy file opens the
	// action to all; this option closes that hole.
	MissingRulesDeny bool
}

// Enforcer holds the effective rules: registered defaults (with their
// deprecated aliases) merged with the rules of the policy files.
type Enforcer struct {
	opts     Options
	defaults []RuleDefault // registration order
	byName   map[string]*registered
	// fileRules are the rules read from files, by name; fileOrder keeps
	// their first appearance, as a Python dict would.
	fileRules map[string]fileRule
	fileOrder []string
	sources   []string // files read, in order
	missing   string   // PolicyFile, if it was configured but absent
	rules     map[string]Expr
}

type registered struct {
	def        RuleDefault
	check      Expr
	deprecated Expr // nil without a deprecated rule
}

type fileRule struct {
	text   string // check string as written (or the parsed list rule)
	expr   Expr
	source string
}

// NewGlance builds an Enforcer with Glance 25.1's default rules.
func NewGlance(opts Options) (*Enforcer, error) { return New(GlanceDefaults(), opts) }

// New registers defaults, reads the policy files named in opts and computes
// the effective rules. Syntax errors in defaults or files are errs.Invalid.
func New(defaults []RuleDefault, opts Options) (*Enforcer, error) {
	const op errs.Op = "policy.New"
	if opts.DefaultRule == "" {
		opts.DefaultRule = "default"
	}
	e := &Enforcer{
		opts:      opts,
		byName:    make(map[string]*registered, len(defaults)),
		fileRules: make(map[string]fileRule),
	}
	for _, d := range defaults {
		if _, dup := e.byName[d.Name]; dup {
			return nil, errs.E(op, errs.Invalid, fmt.Sprintf("policy %s is already registered", d.Name))
		}
		d = d.clone() // the caller keeps its copy; ours must not change
		r := &registered{def: d}
		var err error
		if r.check, err = ParseRule(d.Name, d.CheckStr); err != nil {
			return nil, errs.E(op, err)
		}
		if d.DeprecatedRule != nil {
			if r.deprecated, err = ParseRule(d.DeprecatedRule.Name, d.DeprecatedRule.CheckStr); err != nil {
				return nil, errs.E(op, err)
			}
		}
		e.byName[d.Name] = r
		e.defaults = append(e.defaults, d)
	}
	if opts.PolicyFile != "" {
		if _, err := os.Stat(opts.PolicyFile); os.IsNotExist(err) {
			e.missing = opts.PolicyFile
		} else if err := e.loadFile(opts.PolicyFile); err != nil {
			return nil, errs.E(op, err)
		}
	}
	for _, dir := range opts.PolicyDirs {
		if err := e.loadDir(dir); err != nil {
			return nil, errs.E(op, err)
		}
	}
	e.rules = e.effectiveRules()
	return e, nil
}

func (e *Enforcer) loadDir(dir string) error {
	st, err := os.Stat(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return errs.E(errs.Invalid, err)
	}
	if !st.IsDir() {
		return errs.E(errs.Invalid, fmt.Sprintf("policy dir %s is not a directory", dir))
	}
	ents, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return errs.E(errs.Invalid, err)
	}
	for _, ent := range ents {
		path := filepath.Join(dir, ent.Name())
		if strings.HasPrefix(ent.Name(), ".") {
			continue
		}
		if st, err := os.Stat(path); err == nil && st.IsDir() { // also through symlinks
			continue
		}
		if err := e.loadFile(path); err != nil {
			return err
		}
	}
	return nil
}

func (e *Enforcer) loadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return errs.E(errs.Invalid, err)
	}
	rules, err := ParseFile(data)
	if err != nil {
		return errs.E(errs.Invalid, fmt.Sprintf("policy file %s: %s", path, errs.Message(err)))
	}
	for _, r := range rules {
		if _, seen := e.fileRules[r.Name]; !seen {
			e.fileOrder = append(e.fileOrder, r.Name)
		}
		e.fileRules[r.Name] = fileRule{text: r.CheckStr, expr: r.Expr, source: path}
	}
	e.sources = append(e.sources, path)
	return nil
}

// FileRule is one rule read from a policy file.
type FileRule struct {
	Name string
	// CheckStr is the rule as written; for a legacy list rule, its
	// parsed form.
	CheckStr string
	Expr     Expr
}

// ParseFile parses the contents of a policy file: a YAML (or JSON) mapping
// from rule name to check string. Like oslo it also accepts the legacy
// list-of-lists form, and a null value (which oslo treats as "always").
// Rules come back in file order; a repeated name keeps its first position
// and its last value, as with PyYAML and Python's json.
func ParseFile(data []byte) ([]FileRule, error) {
	const op errs.Op = "policy.ParseFile"
	// Like oslo, try JSON first: YAML is not quite a superset of it
	// (tab indentation, the \/ escape).
	if json.Valid(data) {
		return parseJSONFile(data)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, errs.E(op, errs.Invalid, "not valid YAML or JSON: "+err.Error())
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil // empty or comments only
	}
	top := doc.Content[0]
	if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
		return nil, nil
	}
	if top.Kind != yaml.MappingNode {
		return nil, errs.E(op, errs.Invalid, "the top level must map rule names to rules")
	}
	var out []FileRule
	index := map[string]int{}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, errs.E(op, errs.Invalid, fmt.Sprintf("line %d: rule names must be strings", k.Line))
		}
		fr, err := parseFileValue(k.Value, v)
		if err != nil {
			return nil, errs.E(op, errs.Invalid, fmt.Sprintf("line %d: %s", v.Line, errs.Message(err)))
		}
		if j, seen := index[fr.Name]; seen {
			out[j] = fr
			continue
		}
		index[fr.Name] = len(out)
		out = append(out, fr)
	}
	return out, nil
}

func parseJSONFile(data []byte) ([]FileRule, error) {
	const op errs.Op = "policy.ParseFile"
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		if err == nil && tok == nil { // a bare null, as an empty YAML file
			return nil, nil
		}
		return nil, errs.E(op, errs.Invalid, "the top level must map rule names to rules")
	}
	var out []FileRule
	index := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errs.E(op, errs.Invalid, err)
		}
		name, _ := tok.(string) // object keys are always strings
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, errs.E(op, errs.Invalid, err)
		}
		var fr FileRule
		switch v := v.(type) {
		case nil:
			fr = FileRule{Name: name, Expr: Always{}}
		case string:
			e, err := ParseRule(name, v)
			if err != nil {
				return nil, errs.E(op, errs.Invalid, errs.Message(err))
			}
			fr = FileRule{Name: name, CheckStr: v, Expr: e}
		case []any:
			e, err := ParseList(name, v)
			if err != nil {
				return nil, errs.E(op, errs.Invalid, errs.Message(err))
			}
			fr = FileRule{Name: name, CheckStr: e.String(), Expr: e}
		default:
			return nil, errs.E(op, errs.Invalid, fmt.Sprintf("policy rule %q must be a string", name))
		}
		if j, seen := index[name]; seen {
			out[j] = fr
			continue
		}
		index[name] = len(out)
		out = append(out, fr)
	}
	return out, nil
}

func parseFileValue(name string, v *yaml.Node) (FileRule, error) {
	switch {
	case v.Kind == yaml.AliasNode:
		return parseFileValue(name, v.Alias)
	case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
		return FileRule{Name: name, Expr: Always{}}, nil
	case v.Kind == yaml.ScalarNode && v.Tag == "!!str":
		e, err := ParseRule(name, v.Value)
		return FileRule{Name: name, CheckStr: v.Value, Expr: e}, err
	case v.Kind == yaml.SequenceNode:
		var list []any
		if err := v.Decode(&list); err != nil {
			return FileRule{}, errs.E(errs.Invalid, err)
		}
		e, err := ParseList(name, list)
		if err != nil {
			return FileRule{}, err
		}
		return FileRule{Name: name, CheckStr: e.String(), Expr: e}, nil
	}
	return FileRule{}, errs.E(errs.Invalid, fmt.Sprintf("policy rule %q must be a string", name))
}

// effectiveRules merges file rules and registered defaults the way oslo's
// load_rules does: a rule in a file wins outright; otherwise the registered
// default is used, OR'ed with its deprecated default while
// enforce_new_defaults is off, or replaced by a file rule still written
// under the deprecated name.
func (e *Enforcer) effectiveRules() map[string]Expr {
	rules := make(map[string]Expr, len(e.fileRules)+len(e.defaults))
	for name, fr := range e.fileRules {
		rules[name] = fr.expr
	}
	for _, d := range e.defaults {
		if _, inFile := e.fileRules[d.Name]; inFile {
			continue
		}
		r := e.byName[d.Name]
		rules[d.Name] = r.check
		dep := d.DeprecatedRule
		if dep == nil {
			continue
		}
		if old, ok := e.fileRules[dep.Name]; ok && dep.Name != d.Name && old.expr.String() != "rule:"+d.Name {
			rules[d.Name] = old.expr
			continue
		}
		if !e.opts.EnforceNewDefaults && dep.CheckStr != d.CheckStr {
			rules[d.Name] = Or{Terms: []Expr{r.check, r.deprecated}}
		}
	}
	return rules
}

// Enforce returns nil when creds may perform action on target, and an
// errs.Forbidden worded as Glance words it otherwise. An action that is not
// a registered rule is an errs.Internal (Glance raises PolicyNotRegistered),
// as is a rule reference chain too deep to be anything but a cycle.
func (e *Enforcer) Enforce(creds Credentials, action string, target map[string]any) error {
	ok, err := e.Allowed(creds, action, target)
	if err != nil {
		return err
	}
	if !ok {
		return errs.E(errs.Op("policy.Enforce"), errs.Forbidden,
			fmt.Sprintf("You are not authorized to complete %s action.", action))
	}
	return nil
}

// Allowed is Enforce reporting a denial as false rather than an error.
func (e *Enforcer) Allowed(creds Credentials, action string, target map[string]any) (bool, error) {
	r, ok := e.byName[action]
	if !ok {
		return false, errs.E(errs.Op("policy.Enforce"), errs.Internal,
			fmt.Sprintf("Policy %s has not been registered", action))
	}
	if e.opts.EnforceScope && len(r.def.ScopeTypes) > 0 && !contains(r.def.ScopeTypes, creds.tokenScope()) {
		// Glance turns oslo's InvalidScope into the same Forbidden.
		return false, nil
	}
	return e.Evaluate(e.rules[action], creds, target)
}

// Evaluate evaluates expr against creds and target, resolving rule:
// references in the effective rules. It applies no scope check; Glance's
// policy-based property protections evaluate rules this way (with an empty
// target).
func (e *Enforcer) Evaluate(expr Expr, creds Credentials, target map[string]any) (bool, error) {
	def := e.opts.DefaultRule
	if e.opts.MissingRulesDeny {
		def = ""
	}
	if target == nil {
		target = map[string]any{}
	}
	return newEvaluator(e.rules, def, creds, target).eval(expr)
}

// Registered reports whether action is a registered rule.
func (e *Enforcer) Registered(action string) bool {
	_, ok := e.byName[action]
	return ok
}

// Sources lists the policy files that were read, in order.
func (e *Enforcer) Sources() []string { return append([]string(nil), e.sources...) }

// RuleInfo describes one effective rule for listings.
type RuleInfo struct {
	Name string
	// CheckStr is the rule as written in the policy file, or the
	// registered default.
	CheckStr string
	// Effective is what is evaluated, in oslo's printed form; it shows the
	// deprecated default OR'ed in.
	Effective string
	// Source is the policy file the rule came from; "" for a default.
	Source     string
	Registered bool
	ScopeTypes []string
	// Description of a registered rule.
	Description string
}

// Rules lists the effective rules: registered ones in registration order,
// then rules only defined in policy files, in file order.
func (e *Enforcer) Rules() []RuleInfo {
	var out []RuleInfo
	add := func(name string) {
		ri := RuleInfo{Name: name, Effective: e.rules[name].String()}
		if r, ok := e.byName[name]; ok {
			ri.Registered = true
			ri.CheckStr = r.def.CheckStr
			ri.ScopeTypes = append([]string(nil), r.def.ScopeTypes...)
			ri.Description = r.def.Description
		}
		if fr, ok := e.fileRules[name]; ok {
			ri.CheckStr, ri.Source = fr.text, fr.source
		}
		out = append(out, ri)
	}
	for _, d := range e.defaults {
		add(d.Name)
	}
	for _, name := range e.fileOrder {
		if _, ok := e.byName[name]; !ok {
			add(name)
		}
	}
	return out
}

// Problem is one finding of Check.
type Problem struct {
	Rule string
	// Kind is one of "missing-file", "undefined", "cycle",
	// "unregistered", "redundant" and "deprecated".
	Kind string
	Msg  string
}

func (p Problem) String() string { return p.Rule + ": " + p.Msg }

// Check lints the effective rules as oslo's check_rules and
// oslopolicy-checker do: references to undefined rules (which oslo
// evaluates as the default rule), reference cycles, file rules that are
// not registered (fine for helper rules, fatal for typos), file rules equal
// to the default, and overrides of rules deprecated for removal.
func (e *Enforcer) Check() []Problem {
	var out []Problem
	if e.missing != "" {
		out = append(out, Problem{Rule: e.missing, Kind: "missing-file", Msg: "policy file not found"})
	}
	names := make([]string, 0, len(e.rules))
	for n := range e.rules {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		seen := map[string]bool{}
		walkChecks(e.rules[n], func(c Check) {
			if c.Kind != "rule" || seen[c.Match] {
				return
			}
			seen[c.Match] = true
			if _, ok := e.rules[c.Match]; ok {
				return
			}
			msg := fmt.Sprintf("references undefined rule %q, which denies", c.Match)
			if _, ok := e.rules[e.opts.DefaultRule]; ok && !e.opts.MissingRulesDeny {
				msg = fmt.Sprintf("references undefined rule %q, which evaluates as rule %q", c.Match, e.opts.DefaultRule)
			}
			out = append(out, Problem{Rule: n, Kind: "undefined", Msg: msg})
		})
	}
	for _, n := range e.cyclic(names) {
		out = append(out, Problem{Rule: n, Kind: "cycle", Msg: "is part of, or leads to, a cycle of rule: references"})
	}
	for _, n := range e.fileOrder {
		fr := e.fileRules[n]
		r, ok := e.byName[n]
		switch {
		case !ok:
			out = append(out, Problem{Rule: n, Kind: "unregistered",
				Msg: fmt.Sprintf("is not a registered rule (defined in %s)", fr.source)})
		case fr.expr.String() == r.check.String():
			out = append(out, Problem{Rule: n, Kind: "redundant",
				Msg: fmt.Sprintf("in %s is the same as the default and can be removed", fr.source)})
		case r.def.DeprecatedForRemoval:
			out = append(out, Problem{Rule: n, Kind: "deprecated",
				Msg: fmt.Sprintf("was deprecated for removal in %s; its value may be ignored in the future", r.def.DeprecatedSince)})
		}
	}
	return out
}

// cyclic returns the rules from which following rule: references (with
// the default-rule fallback for undefined ones) comes back to a rule
// already on the path, i.e. the rules whose evaluation can recurse forever.
func (e *Enforcer) cyclic(names []string) []string {
	const (
		unvisited = iota
		onPath
		clean
		loops
	)
	state := make(map[string]int, len(names))
	var visit func(n string) bool
	visit = func(n string) bool {
		switch state[n] {
		case onPath, loops:
			return true
		case clean:
			return false
		}
		state[n] = onPath
		found := false
		walkChecks(e.rules[n], func(c Check) {
			if c.Kind != "rule" {
				return
			}
			ref := c.Match
			if _, ok := e.rules[ref]; !ok {
				if e.opts.MissingRulesDeny {
					return
				}
				if _, ok := e.rules[e.opts.DefaultRule]; !ok {
					return
				}
				ref = e.opts.DefaultRule
			}
			if visit(ref) {
				found = true
			}
		})
		if found {
			state[n] = loops
		} else {
			state[n] = clean
		}
		return found
	}
	var out []string
	for _, n := range names {
		if visit(n) {
			out = append(out, n)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// jsonQuote renders s as a double-quoted YAML scalar; JSON's escaping is
// valid YAML.
func jsonQuote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}
