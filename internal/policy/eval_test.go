package policy

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"glint/internal/errs"
)

// enforcerWith builds an enforcer whose only rules are the given helper
// rules, registered so that they can also be enforced.
func enforcerWith(t *testing.T, opts Options, rules map[string]string) *Enforcer {
	t.Helper()
	var defs []RuleDefault
	for n, r := range rules {
		defs = append(defs, RuleDefault{Name: n, CheckStr: r})
	}
	e, err := New(defs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEvalChecks(t *testing.T) {
	e := enforcerWith(t, Options{}, map[string]string{
		"admin_required": "role:admin",
		"owner":          "project_id:%(project_id)s",
	})
	creds := Credentials{
		UserID: "u1", ProjectID: "p1", ProjectDomainID: "default",
		Roles: []string{"Member", "reader"},
		Extra: map[string]any{
			"user":          map[string]any{"enabled": true, "name": "bob", "groups": []any{"g1", "g2"}},
			"service_roles": []string{"service"},
			"count":         3,
			"pctc":          "50%",
		},
	}
	target := map[string]any{
		"project_id": "p1", "owner": "p1", "visibility": "public",
		"member_id": nil, "role": "READER", "true": true, "num": 3,
		"float": 1.5, "pct": "50%", "tags": []any{"a", "b"},
		"user_id": "u1", "nested": map[string]any{"x": "y"},
	}
	tests := []struct {
		rule string
		want bool
	}{
		{"@", true},
		{"!", false},
		{"", true},
		{"role:member", true}, // roles compare case-insensitively
		{"role:MEMBER", true},
		{"role:admin", false},
		{"role:%(role)s", true}, // the role name may come from the target
		{"role:%(missing)s", false},
		{"project_id:%(project_id)s", true},
		{"project_id:%(owner)s", true},
		{"user_id:%(user_id)s", true},
		{"project_id:p1", true}, // a plain literal match
		{"project_id:p2", false},
		{"project_id:%(member_id)s", false}, // "p1" != str(None)
		{"domain_id:%(member_id)s", false},  // oslo: str(None) == str(None); an absent credential never matches here
		{"project_domain_id:default", true},
		{"'public':%(visibility)s", true},
		{`"public":%(visibility)s`, true},
		{"'shared':%(visibility)s", false},
		{"u'public':%(visibility)s", true},
		{"True:%(true)s", true},
		{"False:%(true)s", false},
		{"3:%(num)s", true},
		{"0x3:%(num)s", true},
		{"1.5:%(float)s", true},
		{"15e-1:%(float)s", true},
		{"None:%(member_id)s", true},
		{"count:%(num)s", true},
		{"user.enabled:True", true}, // dotted keys walk nested credentials
		{"user.name:bob", true},
		{"user.groups:g2", true}, // lists match any element
		{"user.groups:g3", false},
		{"user.missing:x", false},
		{"user.name.deeper:x", false},
		{"roles:Member", true}, // generic check on the roles list: exact case
		{"roles:member", false},
		{"service_roles:service", true},
		{"system_scope:%(member_id)s", false}, // absent credential
		{"is_admin:True", false},
		{"is_admin:False", false}, // absent, as in Glance
		{"nosuchcred:%(owner)s", false},
		{"project_id:%(nosuchkey)s", false},
		{"pctc:%(pct)s", true},
		{"p1:%(owner)s", false}, // p1 is not a literal but a (missing) credential
		{"x:100%%", false},
		{"project_id:p%%1", false},
		{"project_id:%(project_id)d", false}, // unsupported conversion
		{"project_id:%s", false},
		{"project_id:%", false},
		{"tags:%(tags)s", false},
		{"'50%':%(pct)s", true},
		{"pctc:50%%", true}, // %% is a literal %
		{"rule:admin_required", false},
		{"rule:owner", true},
		{"not rule:owner", false},
		{"rule:owner and role:reader", true},
		{"rule:owner and role:admin or role:member", true},
		{"rule:owner and (role:admin or not role:member)", false},
	}
	for _, tt := range tests {
		expr, err := Parse(tt.rule)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.rule, err)
			continue
		}
		got, err := e.Evaluate(expr, creds, target)
		if err != nil || got != tt.want {
			t.Errorf("Evaluate(%q) = %v, %v; want %v", tt.rule, got, err, tt.want)
		}
	}
}

func TestEvalIsAdmin(t *testing.T) {
	e := enforcerWith(t, Options{}, map[string]string{"x": "@"})
	expr, _ := Parse("is_admin:True")
	for _, admin := range []bool{false, true} {
		got, _ := e.Evaluate(expr, Credentials{IsAdmin: admin}, nil)
		if got != admin {
			t.Errorf("is_admin:True with IsAdmin=%v = %v", admin, got)
		}
	}
}

func TestEvalSystemAlias(t *testing.T) {
	e := enforcerWith(t, Options{}, map[string]string{"x": "@"})
	expr, _ := Parse("system:all")
	if ok, _ := e.Evaluate(expr, Credentials{SystemScope: "all"}, nil); !ok {
		t.Error("system:all does not match a system-scoped token")
	}
	if ok, _ := e.Evaluate(expr, Credentials{ProjectID: "p"}, nil); ok {
		t.Error("system:all matches a project-scoped token")
	}
}

func TestEvalRuleReferences(t *testing.T) {
	rules := map[string]string{
		"default": "role:fallback",
		"a":       "rule:b",
		"b":       "role:x",
		"typo":    "rule:nosuch",
	}
	fallback := Credentials{Roles: []string{"fallback"}}
	x := Credentials{Roles: []string{"x"}}

	e := enforcerWith(t, Options{}, rules)
	check := func(e *Enforcer, rule string, c Credentials, want bool) {
		t.Helper()
		got, err := e.Allowed(c, rule, nil)
		if err != nil || got != want {
			t.Errorf("Allowed(%s, roles %v) = %v, %v; want %v", rule, c.Roles, got, err, want)
		}
	}
	check(e, "a", x, true)
	check(e, "a", fallback, false)
	// oslo evaluates an undefined rule as the default rule ...
	check(e, "typo", fallback, true)
	check(e, "typo", x, false)
	// ... unless told otherwise,
	strict := enforcerWith(t, Options{MissingRulesDeny: true}, rules)
	check(strict, "typo", fallback, false)
	// ... or when the default rule is itself undefined.
	delete(rules, "default")
	check(enforcerWith(t, Options{}, rules), "typo", fallback, false)
	// policy_default_rule may name another rule.
	rules["other"] = "role:x"
	check(enforcerWith(t, Options{DefaultRule: "other"}, rules), "typo", x, true)
}

func TestEvalCyclesTerminate(t *testing.T) {
	tests := []map[string]string{
		{"a": "rule:a"},
		{"a": "rule:b", "b": "rule:c", "c": "rule:a"},
		{"a": "role:x or rule:b", "b": "not rule:a"},
		// A cycle through the default-rule fallback.
		{"default": "rule:nosuch", "a": "rule:default"},
	}
	for _, rules := range tests {
		e := enforcerWith(t, Options{}, rules)
		done := make(chan error, 1)
		go func() {
			_, err := e.Allowed(Credentials{}, "a", nil)
			done <- err
		}()
		select {
		case err := <-done:
			if !errs.Is(errs.Internal, err) || !strings.Contains(err.Error(), "cycle") {
				t.Errorf("%v: error %v, want an internal error about a cycle", rules, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%v: evaluation does not terminate", rules)
		}
		if err := e.Enforce(Credentials{}, "a", nil); errs.Is(errs.Forbidden, err) {
			t.Errorf("%v: a cycle is reported as forbidden, not as an error", rules)
		}
		var cyc bool
		for _, p := range e.Check() {
			cyc = cyc || (p.Kind == "cycle" && p.Rule == "a")
		}
		if !cyc {
			t.Errorf("%v: Check does not report the cycle: %v", rules, e.Check())
		}
	}
	// A short-circuited branch is never evaluated, as in oslo.
	e := enforcerWith(t, Options{}, map[string]string{"a": "@ or rule:b", "b": "rule:b"})
	if ok, err := e.Allowed(Credentials{}, "a", nil); !ok || err != nil {
		t.Errorf("short-circuit: %v, %v", ok, err)
	}
	// Deep but finite chains are fine.
	chain := map[string]string{"r0": "@"}
	for i := 1; i < maxRuleDepth; i++ {
		chain["r"+itoa(i)] = "rule:r" + itoa(i-1)
	}
	e = enforcerWith(t, Options{}, chain)
	if ok, err := e.Allowed(Credentials{}, "r"+itoa(maxRuleDepth-1), nil); !ok || err != nil {
		t.Errorf("chain of %d: %v, %v", maxRuleDepth, ok, err)
	}
}

func itoa(i int) string { return pyStr(i) }

func TestPyStr(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{nil, "None"}, {true, "True"}, {false, "False"}, {"s", "s"},
		{0, "0"}, {int64(-7), "-7"}, {uint8(9), "9"},
		{1.0, "1.0"}, {1.5, "1.5"}, {0.1, "0.1"}, {-2.0, "-2.0"},
		{1e16, "1e+16"}, {1e15, "1000000000000000.0"}, {1.25e-5, "1.25e-05"},
		{0.0001, "0.0001"}, {123456789.125, "123456789.125"},
		{math.Inf(1), "inf"}, {math.NaN(), "nan"},
		{json.Number("42"), "42"}, {json.Number("4.0"), "4.0"},
		{[]any{"a", 1, nil}, "['a', 1, None]"},
		{[]string{"it's"}, `["it's"]`},
		{[]any{"a'b\"c\n"}, `['a\'b"c\n']`},
		{map[string]any{"b": 1, "a": "x"}, "{'a': 'x', 'b': 1}"},
	}
	for _, tt := range tests {
		if got := pyStr(tt.v); got != tt.want {
			t.Errorf("pyStr(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestPyLiteral(t *testing.T) {
	tests := []struct {
		kind string
		want string
		ok   bool
	}{
		{"True", "True", true}, {"None", "None", true},
		{"'a'", "a", true}, {`"a"`, "a", true}, {`'a\'b'`, "a'b", true},
		{`'\x41\u00e9'`, "Aé", true}, {`r'\n'`, `\n`, true}, {`'\q'`, `\q`, true},
		{"'a", "", false}, {"'a'b'", "", false}, {"'''a'''", "", false},
		{"1", "1", true}, {"-1", "-1", true}, {"+1", "1", true}, {"1_000", "1000", true},
		{"0", "0", true}, {"00", "0", true}, {"01", "", false}, {"1__0", "", false},
		{"0x1F", "31", true}, {"0o17", "15", true}, {"0b101", "5", true},
		{"1.", "1.0", true}, {".5", "0.5", true}, {"1e3", "1000.0", true},
		{"1e400", "inf", true}, {"1.5e", "", false},
		{"123456789012345678901234567890", "123456789012345678901234567890", true},
		{"project_id", "", false}, {"is_admin", "", false}, {"1a", "", false},
		{"", "", false}, {"-", "", false}, {"inf", "", false},
	}
	for _, tt := range tests {
		got, ok := pyLiteral(tt.kind)
		if ok != tt.ok || got != tt.want {
			t.Errorf("pyLiteral(%q) = %q, %v; want %q, %v", tt.kind, got, ok, tt.want, tt.ok)
		}
	}
}
