package policy

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"glint/internal/errs"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustGlance(t *testing.T, opts Options) *Enforcer {
	t.Helper()
	e, err := NewGlance(opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func ruleInfo(t *testing.T, e *Enforcer, name string) RuleInfo {
	t.Helper()
	for _, r := range e.Rules() {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no rule %s", name)
	return RuleInfo{}
}

func TestGlanceDefaultsRegistered(t *testing.T) {
	defs := GlanceDefaults()
	if len(defs) != 60 {
		t.Errorf("%d Glance rules, want 60", len(defs))
	}
	e := mustGlance(t, Options{})
	for _, d := range defs {
		if !e.Registered(d.Name) {
			t.Errorf("%s not registered", d.Name)
		}
	}
	// The table is copied on each call.
	defs[0].Name = "changed"
	if GlanceDefaults()[0].Name != "default" {
		t.Error("GlanceDefaults shares its table")
	}
	if p := e.Check(); len(p) != 0 {
		t.Errorf("Glance defaults do not lint clean: %v", p)
	}
}

func TestEnforceErrors(t *testing.T) {
	e := mustGlance(t, Options{EnforceNewDefaults: true})
	reader := Credentials{ProjectID: "p1", Roles: []string{"reader"}}
	err := e.Enforce(reader, "delete_image", map[string]any{"project_id": "p1"})
	if !errs.Is(errs.Forbidden, err) || errs.Message(err) != "You are not authorized to complete delete_image action." {
		t.Errorf("Enforce = %v", err)
	}
	if err := e.Enforce(reader, "get_image", map[string]any{"project_id": "p1", "member_id": nil, "visibility": "private"}); err != nil {
		t.Errorf("Enforce(get_image) = %v", err)
	}
	err = e.Enforce(reader, "no_such_action", nil)
	if !errs.Is(errs.Internal, err) || !strings.Contains(err.Error(), "Policy no_such_action has not been registered") {
		t.Errorf("unknown action: %v", err)
	}
	if ok, err := e.Allowed(reader, "no_such_action", nil); ok || err == nil {
		t.Errorf("Allowed(unknown) = %v, %v", ok, err)
	}
}

func TestDeprecatedDefaults(t *testing.T) {
	legacy := mustGlance(t, Options{})
	secure := mustGlance(t, Options{EnforceNewDefaults: true})
	if got, want := ruleInfo(t, legacy, "get_images").Effective,
		"((role:admin or (role:reader and project_id:%(project_id)s)) or rule:default)"; got != want {
		t.Errorf("legacy get_images = %s, want %s", got, want)
	}
	if got := ruleInfo(t, legacy, "default").Effective; got != "(@ or role:admin)" {
		t.Errorf("legacy default = %s", got)
	}
	if got := ruleInfo(t, legacy, "cache_list").Effective; got != "(role:admin or rule:manage_image_cache)" {
		t.Errorf("legacy cache_list = %s", got)
	}
	// Same old and new check string: nothing is OR'ed.
	if got := ruleInfo(t, legacy, "get_task").Effective; got != "rule:default" {
		t.Errorf("legacy get_task = %s", got)
	}
	if got := ruleInfo(t, secure, "get_images").Effective; got != "(role:admin or (role:reader and project_id:%(project_id)s))" {
		t.Errorf("secure get_images = %s", got)
	}
	// Legacy mode allows anyone: protection then comes from Glance's
	// hard-coded owner checks, not from policy.
	nobody := Credentials{ProjectID: "p2"}
	target := map[string]any{"project_id": "p1", "member_id": nil, "visibility": "private"}
	if ok, _ := legacy.Allowed(nobody, "delete_image", target); !ok {
		t.Error("legacy delete_image denies a stranger")
	}
	if ok, _ := secure.Allowed(nobody, "delete_image", target); ok {
		t.Error("secure delete_image allows a stranger")
	}
	if ok, _ := legacy.Allowed(nobody, "publicize_image", target); ok {
		t.Error("publicize_image has no deprecated alias and must stay admin-only")
	}
}

func TestEnforceScope(t *testing.T) {
	system := Credentials{UserID: "u", SystemScope: "all", Roles: []string{"admin", "member", "reader"}}
	domain := Credentials{UserID: "u", DomainID: "d", Roles: []string{"admin"}}
	project := Credentials{UserID: "u", ProjectID: "p", Roles: []string{"admin"}}
	for _, tt := range []struct {
		scope bool
		creds Credentials
		want  bool
	}{
		{false, system, true}, {false, domain, true}, {false, project, true},
		{true, system, false}, {true, domain, false}, {true, project, true},
	} {
		e := mustGlance(t, Options{EnforceNewDefaults: true, EnforceScope: tt.scope})
		ok, err := e.Allowed(tt.creds, "publicize_image", map[string]any{})
		if err != nil || ok != tt.want {
			t.Errorf("scope=%v %s-scoped: %v, %v; want %v", tt.scope, tt.creds.tokenScope(), ok, err, tt.want)
		}
		// Rules without scope types are not scope-checked.
		if ok, _ := e.Allowed(tt.creds, "context_is_admin", nil); !ok {
			t.Errorf("scope=%v %s-scoped: context_is_admin denied", tt.scope, tt.creds.tokenScope())
		}
	}
}

func TestPolicyFileOverrides(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "policy.yaml", `
# Operators' overrides.
"get_image": "rule:admin_or_owner"
admin_or_owner: "role:admin or project_id:%(project_id)s"
publicize_image: role:admin or role:image_publisher
"default": "role:admin"
"cache_image": "role:admin"
"modify_task": "!"
`)
	e, err := NewGlance(Options{PolicyFile: file})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Sources(); !reflect.DeepEqual(got, []string{file}) {
		t.Errorf("Sources = %v", got)
	}
	stranger := Credentials{ProjectID: "p2", Roles: []string{"member"}}
	owner := Credentials{ProjectID: "p1"}
	priv := map[string]any{"project_id": "p1", "member_id": nil, "visibility": "private"}
	// An overridden rule is used as is: no deprecated alias OR'ed in.
	if ok, _ := e.Allowed(stranger, "get_image", priv); ok {
		t.Error("overridden get_image allows a stranger")
	}
	if ok, _ := e.Allowed(owner, "get_image", priv); !ok {
		t.Error("overridden get_image denies the owner")
	}
	if ok, _ := e.Allowed(Credentials{Roles: []string{"Image_Publisher"}}, "publicize_image", priv); !ok {
		t.Error("publicize_image override not applied")
	}
	// Rules not in the file keep "new OR deprecated"; rule:default now
	// means admin, so a stranger loses legacy access.
	if ok, _ := e.Allowed(stranger, "delete_image", priv); ok {
		t.Error("delete_image allows a stranger although default is role:admin")
	}
	if ok, _ := e.Allowed(Credentials{ProjectID: "p1", Roles: []string{"member"}}, "delete_image", priv); !ok {
		t.Error("delete_image denies the owner's member")
	}
	ri := ruleInfo(t, e, "admin_or_owner")
	if ri.Registered || ri.Source != file || ri.CheckStr != "role:admin or project_id:%(project_id)s" {
		t.Errorf("admin_or_owner info = %+v", ri)
	}
	kinds := map[string]string{}
	for _, p := range e.Check() {
		kinds[p.Rule] = p.Kind
	}
	want := map[string]string{"admin_or_owner": "unregistered", "cache_image": "redundant", "modify_task": "deprecated"}
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("Check = %v, want %v", e.Check(), want)
	}

	var b strings.Builder
	if err := e.RenderEffective(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.HasPrefix(out, `"get_image": "rule:admin_or_owner"`+"\n"+`"admin_or_owner": "role:admin or project_id:%(project_id)s"`+"\n") {
		t.Errorf("RenderEffective does not start with the file rules:\n%s", out)
	}
	if !strings.Contains(out, "\n"+`"add_image": "role:admin or (role:member and project_id:%(project_id)s and project_id:%(owner)s)"`+"\n") {
		t.Errorf("RenderEffective lacks the add_image default:\n%s", out)
	}
	if strings.Count(out, "\n") != 60+1 { // 60 Glance rules + admin_or_owner
		t.Errorf("RenderEffective has %d lines", strings.Count(out, "\n"))
	}
}

func TestPolicyFileFormats(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content string
		rule          string
		want          string // effective rule
	}{
		{"json", `{"get_image": "role:admin", "get_images": "role:a"}`, "get_image", "role:admin"},
		{"list", `{"get_image": [["role:admin"], ["role:member", "project_id:%(project_id)s"]]}`, "get_image",
			"(role:admin or (role:member and project_id:%(project_id)s))"},
		{"empty-list", `{"get_image": []}`, "get_image", "@"},
		{"null", "get_image:\n", "get_image", "@"},
		{"empty-string", `get_image: ""`, "get_image", "@"},
		{"duplicate", "get_image: role:a\nget_image: role:b\n", "get_image", "role:b"},
		{"anchors", "x: &r role:a\nget_image: *r\n", "get_image", "role:a"},
		{"json-tabs", "{\n\t\"get_image\": \"role:a\\/b\"\n}", "get_image", "role:a/b"},
		{"json-dup", `{"get_image": "role:a", "get_image": "role:b"}`, "get_image", "role:b"},
		{"json-null-rule", `{"get_image": null}`, "get_image", "@"},
		{"json-null", "null", "publicize_image", "role:admin"},
		{"empty", "", "publicize_image", "role:admin"},
		{"comments", "# nothing\n", "publicize_image", "role:admin"},
	}
	for _, tt := range tests {
		f := writeFile(t, dir, tt.name+".yaml", tt.content)
		e, err := NewGlance(Options{PolicyFile: f, EnforceNewDefaults: true})
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := ruleInfo(t, e, tt.rule).Effective; got != tt.want {
			t.Errorf("%s: %s = %s, want %s", tt.name, tt.rule, got, tt.want)
		}
	}
	bad := []struct{ name, content, msg string }{
		{"syntax", "get_image: role:a or\n", `line 1: policy rule "get_image": expected a check, found end of rule at column 10`},
		{"number", "get_image: 3\n", `policy rule "get_image" must be a string`},
		{"bool", "get_image: true\n", "must be a string"},
		{"map", "get_image: {a: b}\n", "must be a string"},
		{"toplist", "- a\n", "the top level must map rule names to rules"},
		{"yaml", "a: [\n", "not valid YAML or JSON"},
		{"list-item", `{"get_image": [["nocolon"]]}`, `has no ":"`},
		{"json-number", `{"get_image": 3}`, `policy rule "get_image" must be a string`},
		{"json-syntax", `{"get_image": "role:a or"}`, `policy rule "get_image": expected a check`},
		{"json-array", `["get_image"]`, "the top level must map rule names to rules"},
	}
	for _, tt := range bad {
		f := writeFile(t, dir, "bad-"+tt.name+".yaml", tt.content)
		_, err := NewGlance(Options{PolicyFile: f})
		if !errs.Is(errs.Invalid, err) || !strings.Contains(errs.Message(err), tt.msg) || !strings.Contains(errs.Message(err), f) {
			t.Errorf("%s: error %v, want invalid naming the file and containing %q", tt.name, err, tt.msg)
		}
	}
}

func TestPolicyDirs(t *testing.T) {
	dir := t.TempDir()
	pd := filepath.Join(dir, "policy.d")
	if err := os.Mkdir(pd, 0o755); err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, dir, "policy.yaml", "get_image: role:one\nget_images: role:one\n")
	writeFile(t, pd, "20-b.yaml", "get_image: role:three\n")
	writeFile(t, pd, "10-a.yaml", "get_image: role:two\nadd_image: role:two\n")
	writeFile(t, pd, ".hidden.yaml", "get_image: '!'\n")
	if err := os.Mkdir(filepath.Join(pd, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	e, err := NewGlance(Options{PolicyFile: file, PolicyDirs: []string{pd, filepath.Join(dir, "absent")}})
	if err != nil {
		t.Fatal(err)
	}
	for rule, want := range map[string]string{"get_image": "role:three", "get_images": "role:one", "add_image": "role:two"} {
		if got := ruleInfo(t, e, rule).Effective; got != want {
			t.Errorf("%s = %s, want %s", rule, got, want)
		}
	}
	wantSrc := []string{file, filepath.Join(pd, "10-a.yaml"), filepath.Join(pd, "20-b.yaml")}
	if got := e.Sources(); !reflect.DeepEqual(got, wantSrc) {
		t.Errorf("Sources = %v, want %v", got, wantSrc)
	}
	if got := ruleInfo(t, e, "get_image").Source; got != wantSrc[2] {
		t.Errorf("get_image source %s", got)
	}
	// Policy dirs are read even without a policy file (as oslo 4.0 does).
	e, err = NewGlance(Options{PolicyFile: filepath.Join(dir, "missing.yaml"), PolicyDirs: []string{pd}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ruleInfo(t, e, "get_image").Effective; got != "role:three" {
		t.Errorf("get_image = %s", got)
	}
	var missing bool
	for _, p := range e.Check() {
		missing = missing || p.Kind == "missing-file"
	}
	if !missing {
		t.Errorf("Check does not report the missing policy file: %v", e.Check())
	}
	if _, err := NewGlance(Options{PolicyDirs: []string{file}}); !errs.Is(errs.Invalid, err) {
		t.Errorf("a file as policy dir: %v", err)
	}
}

func TestCheckUndefined(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, dir, "p.yaml", `get_image: "rule:admin_requried or rule:admin_requried"`)
	e, err := NewGlance(Options{PolicyFile: f, EnforceNewDefaults: true})
	if err != nil {
		t.Fatal(err)
	}
	p := e.Check()
	if len(p) != 1 || p[0].Kind != "undefined" || p[0].Rule != "get_image" ||
		p[0].Msg != `references undefined rule "admin_requried", which evaluates as rule "default"` {
		t.Fatalf("Check = %v", p)
	}
	// This is oslo's behaviour: the typo falls back to "default", which
	// allows everyone.
	if ok, _ := e.Allowed(Credentials{}, "get_image", map[string]any{}); !ok {
		t.Error("undefined rule does not fall back to the default rule")
	}
	e, _ = NewGlance(Options{PolicyFile: f, EnforceNewDefaults: true, MissingRulesDeny: true})
	if ok, _ := e.Allowed(Credentials{}, "get_image", map[string]any{}); ok {
		t.Error("MissingRulesDeny: undefined rule allows")
	}
	if p := e.Check(); len(p) != 1 || !strings.HasSuffix(p[0].Msg, "which denies") {
		t.Errorf("Check = %v", p)
	}
}

func TestNewRejectsBadDefaults(t *testing.T) {
	if _, err := New([]RuleDefault{{Name: "a"}, {Name: "a"}}, Options{}); !errs.Is(errs.Invalid, err) {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := New([]RuleDefault{{Name: "a", CheckStr: "role:a or"}}, Options{}); !errs.Is(errs.Invalid, err) {
		t.Errorf("bad check: %v", err)
	}
	if _, err := New([]RuleDefault{{Name: "a", DeprecatedRule: &DeprecatedRule{Name: "a", CheckStr: "("}}}, Options{}); !errs.Is(errs.Invalid, err) {
		t.Errorf("bad deprecated check: %v", err)
	}
}

func TestRenamedDeprecatedRule(t *testing.T) {
	defs := []RuleDefault{
		{Name: "new_name", CheckStr: "role:new", DeprecatedRule: &DeprecatedRule{Name: "old_name", CheckStr: "role:old"}},
	}
	dir := t.TempDir()
	check := func(content, want string) {
		t.Helper()
		f := writeFile(t, dir, "p.yaml", content)
		e, err := New(defs, Options{PolicyFile: f})
		if err != nil {
			t.Fatal(err)
		}
		if got := ruleInfo(t, e, "new_name").Effective; got != want {
			t.Errorf("%q: new_name = %s, want %s", content, got, want)
		}
	}
	// An override still written under the old name carries over.
	check("old_name: role:custom\n", "role:custom")
	// ... unless it merely points at the new rule.
	check("old_name: rule:new_name\n", "(role:new or role:old)")
	check("other: '@'\n", "(role:new or role:old)")
}
