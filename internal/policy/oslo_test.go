package policy

// Differential tests against the real oslo.policy and Glance rules
// (Debian's glance-api 25.1, oslo.policy 4.0.0), through
// testdata/oslo_ref.py. They skip when /usr/bin/python3 cannot import
// them.

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const osloPython = "/usr/bin/python3"

func runOslo(t *testing.T, req, resp any) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs oslo.policy in Python")
	}
	if _, err := os.Stat(osloPython); err != nil {
		t.Skip("no " + osloPython)
	}
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(osloPython, "testdata/oslo_ref.py")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 3 {
		t.Skip(strings.TrimSpace(stderr.String()))
	}
	if err != nil {
		t.Fatalf("oslo_ref.py: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(out, resp); err != nil {
		t.Fatalf("oslo_ref.py answer: %v\n%s", err, out)
	}
}

// parseSamples are rules whose parse (or refusal) is compared with oslo.
var parseSamples = []string{
	"", "@", "!", "role:admin", "rule:default", "is_admin:True",
	"project_id:%(project_id)s", "'public':%(visibility)s", `"public":%(visibility)s`,
	"role:compute:admin", "user.enabled:True",
	"role:a or role:b and role:c", "role:a and role:b or role:c",
	"not role:a and role:b", "not role:a or role:b", "not not role:a",
	"role:a or not role:b and role:c", "role:a and role:b and role:c",
	"role:a or role:b or role:c", "role:a or role:b and role:c or role:d",
	"(role:a or role:b) and role:c", "not (role:a and role:b)", "((role:a))",
	"(role:a and role:b) and role:c", "role:a and (role:b and role:c)",
	"role:a or (role:b and role:c) and role:d", "role:a or (role:b or role:c) and role:d",
	"role:a or (role:b and role:c) and role:d and role:e or role:f",
	"x:1 or (y:2 and z:3) and (w:4 and v:5)", "(a:1 and b:2) or (c:3 and d:4) and e:5",
	"not (a:1 or b:2) and c:3 or not d:4", "a:1 and not (b:2 or not c:3)",
	"((role:a)or(role:b))", "  role:a\tAND\n\trole:b  ", "role:a Or role:b", "NOT role:a",
	"role:a\u00a0and\u2003role:b", "role:a\x1cand role:b", "( role:a )", "AND:x", "role:and",
	"role:a)and", "a:%(b(c))s", "@ or !", "role:", ":x", "a:%(b)",
	" ", "(role:a", "role:a)", "role:a and", "and role:a", "role:a or or role:b",
	"role:a role:b", "()", "not", "nocolon", "role:a or admin", "'public'",
	"(role:a or role:b", "((role:a) role:b)", "rôle:a rôle:b", "not not", "(not)",
	"'a' and role:b", "role:a and 'b'", "((role:a) or (role:b)) and (not role:c)",
	"role:admin or (role:member and project_id:%(project_id)s and project_id:%(owner)s)",
	adminOrProjectReaderGetImage, adminOrProjectReaderOrSharedMember,
}

func TestOsloParse(t *testing.T) {
	var resp []struct {
		OK  bool   `json:"ok"`
		Str string `json:"str"`
	}
	runOslo(t, map[string]any{"mode": "parse", "rules": parseSamples}, &resp)
	for i, rule := range parseSamples {
		got, err := Parse(rule)
		switch {
		case err == nil && !resp[i].OK:
			t.Errorf("%q: Glint parses %s, oslo fails (%s)", rule, got, resp[i].Str)
		case err == nil && got.String() != resp[i].Str:
			t.Errorf("%q: Glint %s, oslo %s", rule, got, resp[i].Str)
		case err != nil && resp[i].OK:
			t.Errorf("%q: Glint refuses (%v), oslo parses %s", rule, err, resp[i].Str)
		}
	}
}

// evalCase is one expression evaluated with a credentials dict.
type evalCase struct {
	Expr      string         `json:"expr"`
	Rule      string         `json:"rule"`
	CredsDict map[string]any `json:"creds_dict"`
	Target    map[string]any `json:"target"`
}

func TestOsloEval(t *testing.T) {
	creds := Credentials{
		UserID: "u1", ProjectID: "p1", ProjectDomainID: "default",
		Roles: []string{"Member", "reader"}, IsAdmin: true,
		Extra: map[string]any{
			"user":  map[string]any{"enabled": true, "name": "bob", "groups": []any{"g1", "g2"}},
			"count": 3, "pct": "50%", "ratio": 0.5,
		},
	}
	target := map[string]any{
		"project_id": "p1", "visibility": "public", "member_id": nil, "role": "READER",
		"true": true, "num": 3, "float": 1.5, "pct": "50%", "tags": []any{"a", "b"},
		"big": 1e21, "small": 0.0001, "nested": map[string]any{"x": "y"},
		"user_id": "u1",
	}
	exprs := []string{
		"role:member", "role:MEMBER", "role:admin", "role:%(role)s", "role:%(missing)s",
		"project_id:%(project_id)s", "project_id:p1", "project_id:%(member_id)s",
		"domain_id:%(member_id)s", "system_scope:%(member_id)s", "project_domain_id:default",
		"'public':%(visibility)s", `"public":%(visibility)s`, "u'public':%(visibility)s",
		"'shared':%(visibility)s", "True:%(true)s", "False:%(true)s", "3:%(num)s", "0x3:%(num)s",
		"00:0", "1.5:%(float)s", "15e-1:%(float)s", "1e21:%(big)s", "0.0001:%(small)s",
		"None:%(member_id)s", "count:%(num)s", "ratio:0.5",
		"user.enabled:True", "user.name:bob", "user.groups:g2", "user.groups:g3", "user.missing:x",
		"roles:Member", "roles:member", "is_admin:True", "is_admin:true", "system:all",
		"nosuchcred:%(project_id)s", "project_id:%(nosuchkey)s", "pct:%(pct)s", "pct:50%%",
		"'50%':%(pct)s", "tags:%(tags)s", "user_id:%(user_id)s and role:reader",
		"'a\\'b':x", "r'a':a", "-1:-1", "+1:1", "1_0:10", "0b11:3", "0o7:7", "1.:1.0", ".5:0.5",
		"'\\x41':A", "'\\u00e9':é", "'\\q':\\q",
		"project_id:%(project_id)s%%", "a:%(nested)s",
		"rule:default", "rule:nosuch", "not rule:nosuch", "rule:context_is_admin",
	}
	var cases []evalCase
	credsMap := creds.Map()
	for _, x := range exprs {
		cases = append(cases, evalCase{Expr: x, CredsDict: credsMap, Target: target})
	}
	var resp []any
	runOslo(t, map[string]any{"mode": "enforce", "cases": cases}, &resp)
	e := mustGlance(t, Options{})
	for i, x := range exprs {
		expr, err := Parse(x)
		if err != nil {
			t.Errorf("%q: %v", x, err)
			continue
		}
		got, err := e.Evaluate(expr, creds, target)
		if err != nil {
			t.Errorf("%q: %v", x, err)
			continue
		}
		want := resp[i]
		if absentCredential[x] {
			// oslo matches str(None) == "None"; Glint fails closed.
			want = false
		}
		if want != got {
			t.Errorf("%q: Glint %v, oslo %v", x, got, resp[i])
		}
	}
}

// absentCredential are the expressions where oslo matches an absent
// credential (None) with an absent target value and Glint does not, on
// purpose: a token without a project must never match an ownerless image.
var absentCredential = map[string]bool{
	"domain_id:%(member_id)s":    true,
	"system_scope:%(member_id)s": true,
}

// glanceCase is one Glance enforcement compared with oslo.
type glanceCase struct {
	Rule        string         `json:"rule"`
	Creds       map[string]any `json:"creds"`
	Target      map[string]any `json:"target"`
	NewDefaults bool           `json:"new_defaults"`
	Scope       bool           `json:"scope"`
	PolicyFile  string         `json:"policy_file,omitempty"`
	PolicyDirs  []string       `json:"policy_dirs,omitempty"`
}

func credsJSON(c Credentials) map[string]any {
	m := map[string]any{"roles": c.Roles}
	for k, v := range map[string]string{"user_id": c.UserID, "project_id": c.ProjectID,
		"domain_id": c.DomainID, "system_scope": c.SystemScope} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

// TestOsloGlanceMatrix compares every Glance rule, for every persona and
// visibility, in legacy, secure-RBAC and scope-enforcing configurations
// and with a policy file and directory, with oslo.policy loading Glance's
// own rule definitions.
func TestOsloGlanceMatrix(t *testing.T) {
	dir := t.TempDir()
	policyFile := writeFile(t, dir, "policy.yaml", `
"get_image": "rule:admin_or_owner"
"admin_or_owner": "role:admin or project_id:%(project_id)s"
"publicize_image": "role:admin or role:image_publisher"
"download_image": "rule:admin_requried"
"delete_image": [["role:admin"], ["role:member", "project_id:%(project_id)s", "'private':%(visibility)s"]]
"modify_image":
"default": "role:admin"
`)
	pd := filepath.Join(dir, "policy.d")
	if err := os.Mkdir(pd, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, pd, "10-a.yaml", "get_images: role:member\nadd_member: '!'\n")
	writeFile(t, pd, "20-b.json", `{"get_images": "role:reader and not role:admin"}`)

	personas := glancePersonas()
	personas = append(personas,
		persona{"system-admin", Credentials{UserID: "u-s", SystemScope: "all", Roles: []string{"admin", "member", "reader"}}},
		persona{"domain-admin", Credentials{UserID: "u-d", DomainID: "d1", Roles: []string{"admin"}}},
		persona{"publisher", Credentials{UserID: "u-p", ProjectID: "p-other", Roles: []string{"Image_Publisher"}}},
	)
	configs := []Options{
		{},
		{EnforceNewDefaults: true},
		{EnforceNewDefaults: true, EnforceScope: true},
		{EnforceScope: true},
		{PolicyFile: policyFile},
		{PolicyFile: policyFile, EnforceNewDefaults: true, PolicyDirs: []string{pd}},
	}
	var cases []glanceCase
	type goCase struct {
		e      *Enforcer
		creds  Credentials
		rule   string
		target map[string]any
		desc   string
	}
	var goCases []goCase
	rules := []string{}
	for _, d := range GlanceDefaults() {
		rules = append(rules, d.Name)
	}
	rules = append(rules, "admin_or_owner", "no_such_rule")
	for _, opts := range configs {
		e := mustGlance(t, opts)
		for _, rule := range rules {
			for _, p := range personas {
				targets := map[string]map[string]any{}
				for _, vis := range visibilities {
					targets[vis] = imageTarget(vis, p.creds)
				}
				targets["create-foreign"] = map[string]any{"project_id": "p-other", "owner": "p-other", "visibility": "private"}
				targets["empty"] = map[string]any{}
				for name, target := range targets {
					cases = append(cases, glanceCase{Rule: rule, Creds: credsJSON(p.creds), Target: target,
						NewDefaults: opts.EnforceNewDefaults, Scope: opts.EnforceScope,
						PolicyFile: opts.PolicyFile, PolicyDirs: opts.PolicyDirs})
					goCases = append(goCases, goCase{e, p.creds, rule, target,
						rule + " as " + p.name + " on " + name})
				}
			}
		}
	}
	var resp []any
	runOslo(t, map[string]any{"mode": "enforce", "cases": cases}, &resp)
	if len(resp) != len(goCases) {
		t.Fatalf("%d answers for %d cases", len(resp), len(goCases))
	}
	mismatches := 0
	for i, c := range goCases {
		got, err := c.e.Allowed(c.creds, c.rule, c.target)
		var g any = got
		if err != nil {
			g = "unregistered"
		}
		if g != resp[i] {
			mismatches++
			if mismatches <= 20 {
				t.Errorf("%s %+v: Glint %v, oslo %v", c.desc, cases[i], g, resp[i])
			}
		}
	}
	if mismatches > 0 {
		t.Errorf("%d of %d cases differ", mismatches, len(goCases))
	} else {
		t.Logf("%d cases agree with oslo.policy", len(goCases))
	}
}

func TestOsloWrap(t *testing.T) {
	texts := []string{
		"",
		"short",
		strings.Repeat("word ", 40),
		`"get_image":"rule:default" has been deprecated since W in favor of "get_image":"role:admin or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s))".`,
		"A case-by-case evaluation of well-known hyphenated-words in a long enough sentence to wrap around the margin twice over.",
		"Em-dashes--like this--and double--dashes -- standalone, with a-b x-y-z re-re-read and-- trailing.",
		"Averyveryveryveryveryveryveryveryveryveryveryveryveryveryveryverylongwordthatexceedsthewidth and more",
		"A-very-very-very-very-very-very-very-very-very-very-long-hyphenated-word-exceeding-the-line-width end",
		"tabs\there\tand\tthere and  double  spaces   inside",
		"trailing spaces at a break point                                                               x",
		"numbers 12-34 ab-12 12-ab a1-b2 __-__ é-ü ñé-ça long enough to wrap the line somewhere after column seventy",
		"---- leading hyphens and ---trailing--- hyphens--",
		"x" + strings.Repeat("-", 80) + "y",
	}
	var resp [][]string
	runOslo(t, map[string]any{"mode": "wrap", "texts": texts}, &resp)
	for i, text := range texts {
		got := wrapText(text, sampleWidth, "# ")
		if strings.Join(got, "\n") != strings.Join(resp[i], "\n") {
			t.Errorf("wrap(%q):\nGlint %q\noslo  %q", text, got, resp[i])
		}
	}
	descs := []string{
		"", "One line.", "\nLeading and trailing newlines.\n",
		"Paragraph one\ncontinues here.\n\nParagraph two.\n\n\nAfter two blank lines.",
		"Intro:\n\n    literal block\n    kept as is\n\nOutro.",
		"Intro runs\n    into a literal without a blank line.",
		descTask, reasonTasksXena, descTasksAPIAccess, reasonDefaultRule,
	}
	var resp2 []string
	runOslo(t, map[string]any{"mode": "helptext", "texts": descs}, &resp2)
	for i, d := range descs {
		if got := formatHelpText(d); got != resp2[i] {
			t.Errorf("helptext(%q):\nGlint %q\noslo  %q", d, got, resp2[i])
		}
	}
}

func TestOsloSample(t *testing.T) {
	for _, excl := range []bool{false, true} {
		var want string
		runOslo(t, map[string]any{"mode": "sample", "exclude_deprecated": excl}, &want)
		var b strings.Builder
		if err := RenderSample(&b, GlanceDefaults(), excl); err != nil {
			t.Fatal(err)
		}
		if b.String() != want {
			t.Errorf("exclude_deprecated=%v: sample differs from oslopolicy-sample-generator's\n%s", excl, firstDiff(b.String(), want))
		}
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return "line " + itoa(i+1) + ":\nGlint: " + al[i] + "\noslo:  " + bl[i]
		}
	}
	return "lengths differ: " + itoa(len(al)) + " vs " + itoa(len(bl)) + " lines"
}
