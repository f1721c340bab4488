package policy

import (
	"reflect"
	"strings"
	"testing"

	"glint/internal/errs"
)

func ck(kind, match string) Check { return Check{Kind: kind, Match: match} }
func and(t ...Expr) And           { return And{Terms: t} }
func or(t ...Expr) Or             { return Or{Terms: t} }

func TestParse(t *testing.T) {
	a, b, c, d := ck("role", "a"), ck("role", "b"), ck("role", "c"), ck("role", "d")
	tests := []struct {
		rule string
		want Expr
		str  string // oslo's printed form
	}{
		{"", Always{}, "@"},
		{"@", Always{}, "@"},
		{"!", Never{}, "!"},
		{"role:admin", ck("role", "admin"), "role:admin"},
		{"rule:default", ck("rule", "default"), "rule:default"},
		{"is_admin:True", ck("is_admin", "True"), "is_admin:True"},
		{"project_id:%(project_id)s", ck("project_id", "%(project_id)s"), "project_id:%(project_id)s"},
		{"'public':%(visibility)s", ck("'public'", "%(visibility)s"), "'public':%(visibility)s"},
		{`"public":%(visibility)s`, ck(`"public"`, "%(visibility)s"), `"public":%(visibility)s`},
		{"role:compute:admin", ck("role", "compute:admin"), "role:compute:admin"},
		{"user.enabled:True", ck("user.enabled", "True"), "user.enabled:True"},
		// Precedence: not > and > or.
		{"role:a or role:b and role:c", or(a, and(b, c)), "(role:a or (role:b and role:c))"},
		{"role:a and role:b or role:c", or(and(a, b), c), "((role:a and role:b) or role:c)"},
		{"not role:a and role:b", and(Not{a}, b), "(not role:a and role:b)"},
		{"not role:a or role:b", or(Not{a}, b), "(not role:a or role:b)"},
		{"role:a or not role:b and role:c", or(a, and(Not{b}, c)), "(role:a or (not role:b and role:c))"},
		{"not not role:a", Not{Not{a}}, "not not role:a"},
		{"role:a and role:b and role:c", and(a, b, c), "(role:a and role:b and role:c)"},
		{"role:a or role:b or role:c", or(a, b, c), "(role:a or role:b or role:c)"},
		{"role:a or role:b and role:c or role:d", or(a, and(b, c), d), "(role:a or (role:b and role:c) or role:d)"},
		// Parentheses.
		{"(role:a or role:b) and role:c", and(or(a, b), c), "((role:a or role:b) and role:c)"},
		{"not (role:a and role:b)", Not{and(a, b)}, "not (role:a and role:b)"},
		{"((role:a))", a, "role:a"},
		{"(role:a and role:b) and role:c", and(and(a, b), c), "((role:a and role:b) and role:c)"},
		{"role:a and (role:b and role:c)", and(a, and(b, c)), "(role:a and (role:b and role:c))"},
		// oslo extends the trailing "and" group of an "or" chain.
		{"role:a or (role:b and role:c) and role:d", or(a, and(b, c, d)), "(role:a or (role:b and role:c and role:d))"},
		{"role:a or (role:b or role:c) and role:d", or(a, and(or(b, c), d)), "(role:a or ((role:b or role:c) and role:d))"},
		// Without spaces it is one word: only the outer parentheses peel.
		{"((role:a)or(role:b))", ck("role", "a)or(role:b"), "role:a)or(role:b"},
		// Whitespace and operator case.
		{"  role:a\tAND\n\trole:b  ", and(a, b), "(role:a and role:b)"},
		{"role:a Or role:b", or(a, b), "(role:a or role:b)"},
		{"NOT role:a", Not{a}, "not role:a"},
		{"role:a\u00a0and\u2003role:b", and(a, b), "(role:a and role:b)"},
		{"role:a\x1cand role:b", and(a, b), "(role:a and role:b)"},
		{"( role:a )", a, "role:a"},
		// Operators only count as whole words.
		{"AND:x", ck("AND", "x"), "AND:x"},
		{"role:and", ck("role", "and"), "role:and"},
		// Parentheses inside a word belong to the check.
		{"a:%(b(c))s", ck("a", "%(b(c))s"), "a:%(b(c))s"},
		{"@ or !", or(Always{}, Never{}), "(@ or !)"},
		{"role:", ck("role", ""), "role:"},
		{":x", ck("", "x"), ":x"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.rule)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.rule, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q) = %#v, want %#v", tt.rule, got, tt.want)
		}
		if s := got.String(); s != tt.str {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.rule, s, tt.str)
		}
		again, err := Parse(got.String())
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("reparse of %q = %#v, %v", got.String(), again, err)
		}
	}
}

func TestParseTrailingParenInsideWord(t *testing.T) {
	// "role:a)and" is one word ending in "d": no parenthesis is peeled.
	got, err := Parse("role:a)and")
	if err != nil || !reflect.DeepEqual(got, ck("role", "a)and")) {
		t.Fatalf("got %#v, %v", got, err)
	}
	// A match ending in ")" loses it to the tokenizer, as in oslo.
	if _, err := Parse("a:%(b)"); err == nil {
		t.Fatal("a:%(b) parsed; oslo reads it as a:%(b followed by an unmatched )")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		rule string
		msg  string // substring of the message
	}{
		{" ", "rule is blank at column 1"},
		{"(role:a", `unclosed "(" at column 1`},
		{"role:a)", `unmatched ")" at column 7`},
		{"role:a and", "expected a check, found end of rule at column 11"},
		{"and role:a", `expected a check, found "and" at column 1`},
		{"role:a or or role:b", `expected a check, found "or" at column 11`},
		{"role:a role:b", `expected "and" or "or" before "role:b" at column 8`},
		{"()", `expected a check, found ")" at column 2`},
		{"not", "expected a check, found end of rule at column 4"},
		{"nocolon", `check "nocolon" has no ":"`},
		{"role:a or admin", `check "admin" has no ":" (want kind:match, @ or !) at column 11`},
		{"'public'", "quoted string 'public' is not a check"},
		{"http://example.com/check", "remote http: checks are not supported"},
		{"(role:a or role:b", `unclosed "(" at column 1`},
		{"((role:a) role:b)", `expected "and", "or" or ")" before "role:b" at column 11`},
		{"rôle:a rôle:b", "at column 8"}, // columns count characters
		{strings.Repeat("(", 300) + "@" + strings.Repeat(")", 300), "nested too deeply"},
		{strings.Repeat("not ", 300) + "@", "nested too deeply"},
	}
	for _, tt := range tests {
		_, err := ParseRule("get_image", tt.rule)
		if err == nil {
			t.Errorf("ParseRule(%q) succeeded", tt.rule)
			continue
		}
		if !errs.Is(errs.Invalid, err) {
			t.Errorf("ParseRule(%q): kind %v, want invalid", tt.rule, errs.KindOf(err))
		}
		msg := errs.Message(err)
		if !strings.HasPrefix(msg, `policy rule "get_image": `) || !strings.Contains(msg, tt.msg) {
			t.Errorf("ParseRule(%q) message %q, want it to name the rule and contain %q", tt.rule, msg, tt.msg)
		}
	}
}

func TestParseList(t *testing.T) {
	tests := []struct {
		in   []any
		want Expr
	}{
		{[]any{}, Always{}},
		{[]any{[]any{}}, Never{}},
		{[]any{[]any{"role:a"}}, ck("role", "a")},
		{[]any{"role:a"}, ck("role", "a")},
		{[]any{[]any{"role:a", "project_id:%(project_id)s"}, []any{"role:admin"}},
			or(and(ck("role", "a"), ck("project_id", "%(project_id)s")), ck("role", "admin"))},
		{[]any{[]any{}, "", []any{"@"}}, Always{}},
		// Each string is one check; words are not operators here.
		{[]any{[]any{"role:a and b"}}, ck("role", "a and b")},
	}
	for _, tt := range tests {
		got, err := ParseList("r", tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseList(%v) = %#v, %v; want %#v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range [][]any{{[]any{"nocolon"}}, {[]any{1}}, {3}} {
		if _, err := ParseList("r", bad); !errs.Is(errs.Invalid, err) {
			t.Errorf("ParseList(%v) error %v, want invalid", bad, err)
		}
	}
}
