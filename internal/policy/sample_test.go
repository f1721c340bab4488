package policy

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// debianSample is the sample Debian's glance-api 25.1 package generated
// with oslopolicy-sample-generator at build time.
const debianSample = "/etc/glance/policy.d/00_default_policy.yaml"

func TestSampleMatchesDebian(t *testing.T) {
	want, err := os.ReadFile(debianSample)
	if err != nil {
		t.Skip(err)
	}
	var b strings.Builder
	if err := RenderSample(&b, GlanceDefaults(), false); err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("sample differs from %s\n%s", debianSample, firstDiff(b.String(), string(want)))
	}
	// The sample is all comments: loading it changes nothing.
	e, err := NewGlance(Options{PolicyFile: debianSample})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.fileRules) != 0 {
		t.Errorf("the sample defines rules: %v", e.fileOrder)
	}
}

func TestSampleSections(t *testing.T) {
	render := func(d RuleDefault, excl bool) string {
		var b strings.Builder
		if err := RenderSample(&b, []RuleDefault{d}, excl); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	defs := map[string]RuleDefault{}
	for _, d := range GlanceDefaults() {
		defs[d.Name] = d
	}
	tests := []struct {
		rule string
		excl bool
		want string
	}{
		{"metadef_admin", false, "#\"metadef_admin\": \"role:admin\"\n\n"},
		{"copy_image", false, `# Copy existing image to other stores
# POST  /v2/images/{image_id}/import
# Intended scope(s): project
#"copy_image": "role:admin"

`},
		{"delete_image", true, `# Deletes the image
# DELETE  /v2/images/{image_id}
# Intended scope(s): project
#"delete_image": "role:admin or (role:member and project_id:%(project_id)s)"

`},
		{"delete_image", false, `# Deletes the image
# DELETE  /v2/images/{image_id}
# Intended scope(s): project
#"delete_image": "role:admin or (role:member and project_id:%(project_id)s)"

# DEPRECATED
# "delete_image":"rule:default" has been deprecated since W in favor
# of "delete_image":"role:admin or (role:member and
# project_id:%(project_id)s)".
# The image API now supports roles.

`},
		{"modify_task", false, `# DEPRECATED
# "modify_task" has been deprecated since W.
# This policy check has never been honored by the API. It will be
# removed in a future release.
# This policy is not used.
# DELETE  /v2/tasks/{task_id}
# Intended scope(s): project
#"modify_task": "rule:default"

`},
	}
	for _, tt := range tests {
		if got := render(defs[tt.rule], tt.excl); got != tt.want {
			t.Errorf("%s (exclude deprecated %v):\n%s\nwant:\n%s", tt.rule, tt.excl, got, tt.want)
		}
	}
	// A renamed rule gets oslo's alias warning.
	got := render(RuleDefault{Name: "new", CheckStr: "role:a", DeprecatedRule: &DeprecatedRule{Name: "old", CheckStr: "role:b"}}, false)
	if !strings.Contains(got, "# WARNING: A rule name change has been identified.\n") ||
		!strings.HasSuffix(got, "# \"old\": \"rule:new\"\n\n") ||
		!strings.Contains(got, "# \"old\":\"role:b\" has been deprecated since None in favor of\n") {
		t.Errorf("renamed rule:\n%s", got)
	}
}

func TestWrapText(t *testing.T) {
	// Expected values from Python's textwrap.wrap(text, 70, "# ", "# ").
	tests := []struct {
		text string
		want []string
	}{
		{"", nil},
		{"a b", []string{"# a b"}},
		{strings.Repeat("abcd ", 14) + "x", []string{"# " + strings.Repeat("abcd ", 12) + "abcd", "# abcd x"}},
		{"The quick case-by-case brown fox jumps over the lazy dog again and again",
			[]string{"# The quick case-by-case brown fox jumps over the lazy dog again and", "# again"}},
		{"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx well-known words",
			[]string{"# xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx well-", "# known words"}},
		{strings.Repeat("y", 75), []string{"# " + strings.Repeat("y", 68), "# yyyyyyy"}},
	}
	for _, tt := range tests {
		if got := wrapText(tt.text, 70, "# "); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("wrapText(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
	chunks := splitChunks("a--b well-known re-re-read x-y ab-12 --")
	want := []string{"a", "--", "b", " ", "well-", "known", " ", "re-", "re-", "read", " ", "x-y", " ", "ab-12", " ", "--"}
	if !reflect.DeepEqual(chunks, want) {
		t.Errorf("splitChunks = %q, want %q", chunks, want)
	}
}
