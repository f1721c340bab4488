package policy

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// sampleWidth is the column oslo wraps comments at.
const sampleWidth = 70

// RenderSample writes defaults as the commented YAML sample that
// `oslopolicy-sample-generator --namespace glance` writes: each rule's
// description, operations and intended scopes, the rule commented out, and
// the deprecation notes (left out with excludeDeprecated, like the
// generator's --exclude-deprecated). For GlanceDefaults() the output is
// byte for byte the one of Glance 25.1.
func RenderSample(w io.Writer, defaults []RuleDefault, excludeDeprecated bool) error {
	var b strings.Builder
	for _, d := range defaults {
		b.WriteString(formatRuleDefault(d, !excludeDeprecated))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// RenderEffective writes the rules in force as oslopolicy-policy-generator
// does: the rules from the policy files in file order, then the registered
// defaults they do not override, one `"name": "check string"` line each.
// (Like oslo, this shows a default's own check string, not the deprecated
// default it is OR'ed with; Rules has both.)
func (e *Enforcer) RenderEffective(w io.Writer) error {
	var b strings.Builder
	line := func(name, check string) {
		fmt.Fprintf(&b, "%s: %s\n", jsonQuote(name), jsonQuote(check))
	}
	for _, n := range e.fileOrder {
		line(n, e.fileRules[n].text)
	}
	for _, d := range e.defaults {
		if _, ok := e.fileRules[d.Name]; !ok {
			line(d.Name, d.CheckStr)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// formatRuleDefault is one rule's section of the sample. The check strings
// are quoted as oslo quotes them, without escaping; Glance's contain no
// double quotes.
func formatRuleDefault(d RuleDefault, withDeprecated bool) string {
	var op strings.Builder
	for _, o := range d.Operations {
		if o.Method != "" && o.Path != "" {
			fmt.Fprintf(&op, "# %s  %s\n", o.Method, o.Path)
		}
	}
	scope := ""
	if len(d.ScopeTypes) > 0 {
		scope = "# Intended scope(s): " + strings.Join(d.ScopeTypes, ", ") + "\n"
	}
	text := fmt.Sprintf("%s%s#\"%s\": \"%s\"\n\n", op.String(), scope, d.Name, d.CheckStr)
	if d.Description != "" {
		text = formatHelpText(d.Description) + "\n" + text
	}
	if !withDeprecated {
		return text
	}
	if d.DeprecatedForRemoval {
		return fmt.Sprintf("# DEPRECATED\n# \"%s\" has been deprecated since %s.\n%s\n%s",
			d.Name, pyNone(d.DeprecatedSince), formatHelpText(d.DeprecatedReason), text)
	}
	dep := d.DeprecatedRule
	if dep == nil {
		return text
	}
	reason := dep.Reason
	if reason == "" {
		reason = d.DeprecatedReason
	}
	since := dep.Since
	if since == "" {
		since = d.DeprecatedSince
	}
	depText := fmt.Sprintf("\"%s\":\"%s\" has been deprecated since %s in favor of \"%s\":\"%s\".",
		dep.Name, dep.CheckStr, pyNone(since), d.Name, d.CheckStr)
	text += "# DEPRECATED\n" + formatHelpText(depText) + "\n" + formatHelpText(reason) + "\n"
	if d.Name != dep.Name {
		text += "# WARNING: A rule name change has been identified.\n" +
			"#          This may be an artifact of new rules being\n" +
			"#          included which require legacy fallback\n" +
			"#          rules to ensure proper policy behavior.\n" +
			"#          Alternatively, this may just be an alias.\n" +
			"#          Please evaluate on a case by case basis\n" +
			"#          keeping in mind the format for aliased\n" +
			"#          rules is:\n" +
			"#          \"old_rule_name\": \"new_rule_name\".\n"
		text += fmt.Sprintf("# \"%s\": \"rule:%s\"\n", dep.Name, d.Name)
	}
	return text + "\n"
}

func pyNone(s string) string {
	if s == "" {
		return "None"
	}
	return s
}

// formatHelpText turns a description into comment lines: paragraphs
// (separated by blank lines) are re-wrapped at 70 columns, indented lines
// are kept as literal blocks.
func formatHelpText(desc string) string {
	if desc == "" {
		return "#"
	}
	var out, para []string
	flush := func() {
		out = append(out, wrapText(strings.Join(para, " "), sampleWidth, "# ")...)
		para = nil
	}
	for _, line := range pySplitLines(strings.TrimFunc(desc, unicode.IsSpace)) {
		switch {
		case strings.TrimFunc(line, unicode.IsSpace) == "":
			flush()
			out = append(out, "#")
		case line == strings.TrimLeftFunc(line, unicode.IsSpace):
			para = append(para, strings.TrimRightFunc(line, unicode.IsSpace))
		default:
			if len(para) > 0 {
				flush()
				out = append(out, "#")
			}
			out = append(out, "# "+strings.TrimRightFunc(line, unicode.IsSpace))
		}
	}
	if len(para) > 0 {
		flush()
	}
	return strings.Join(out, "\n")
}

// pySplitLines splits as Python's str.splitlines.
func pySplitLines(s string) []string {
	var lines []string
	start := 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '\r':
			lines = append(lines, s[start:i])
			if i+1 < len(s) && s[i+1] == '\n' {
				n = 2
			}
			start = i + n
		case '\n', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			lines = append(lines, s[start:i])
			start = i + n
		}
		i += n
	}
	if start < len(s) {
		lines = append(lines, s[start:])
	}
	return lines
}

// wrapText is Python's textwrap.wrap(text, width, initial_indent=indent,
// subsequent_indent=indent) with its default options (tabs expanded,
// whitespace collapsed to spaces, breaks after hyphens in words, long words
// broken). Widths count code points, as Python's len does.
func wrapText(text string, width int, indent string) []string {
	chunks := splitChunks(mungeWhitespace(text))
	rlen := utf8.RuneCountInString
	var lines []string
	for len(chunks) > 0 {
		var cur []string
		curLen := 0
		avail := width - rlen(indent)
		if len(lines) > 0 && strings.TrimSpace(chunks[0]) == "" {
			chunks = chunks[1:]
		}
		for len(chunks) > 0 {
			l := rlen(chunks[0])
			if curLen+l > avail {
				break
			}
			cur = append(cur, chunks[0])
			curLen += l
			chunks = chunks[1:]
		}
		if len(chunks) > 0 && rlen(chunks[0]) > avail {
			// Break the long word, after a hyphen when there is one.
			spaceLeft := avail - curLen
			if avail < 1 {
				spaceLeft = 1
			}
			chunk := []rune(chunks[0])
			end := spaceLeft
			if len(chunk) > spaceLeft {
				if h := lastIndexRune(chunk[:spaceLeft], '-'); h > 0 && strings.Trim(string(chunk[:h]), "-") != "" {
					end = h + 1
				}
			}
			cur = append(cur, string(chunk[:end]))
			chunks[0] = string(chunk[end:])
		}
		if n := len(cur); n > 0 && strings.TrimSpace(cur[n-1]) == "" {
			cur = cur[:n-1]
		}
		if len(cur) > 0 {
			lines = append(lines, indent+strings.Join(cur, ""))
		}
	}
	return lines
}

func lastIndexRune(rs []rune, r rune) int {
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i] == r {
			return i
		}
	}
	return -1
}

// mungeWhitespace expands tabs (to 8 columns) and turns each ASCII
// whitespace character into a space, as textwrap does before splitting.
func mungeWhitespace(s string) string {
	var b strings.Builder
	col := 0
	for _, r := range s {
		switch r {
		case '\t':
			n := 8 - col%8
			b.WriteString(strings.Repeat(" ", n))
			col += n
		case '\n', '\r':
			b.WriteByte(' ')
			col = 0
		case '\v', '\f':
			b.WriteByte(' ')
			col++
		default:
			b.WriteRune(r)
			col++
		}
	}
	return b.String()
}

// splitChunks splits text into runs of spaces and words the way textwrap's
// wordsep_re does, including its breaks after a hyphen inside a word
// ("case-by-case" splits after each hyphen) and around em-dashes ("--").
func splitChunks(s string) []string {
	rs := []rune(s)
	n := len(rs)
	at := func(i int) rune {
		if i < 0 || i >= n {
			return 0
		}
		return rs[i]
	}
	isWS := func(r rune) bool { return r == ' ' }
	isWord := func(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }
	isLetter := func(r rune) bool { return isWord(r) && !unicode.IsDigit(r) }
	isWP := func(r rune) bool { return isWord(r) || strings.ContainsRune("!\"'&.,?", r) }
	// emDashAt: two or more hyphens at i followed by a word character.
	emDashAt := func(i int) int {
		j := i
		for j < n && rs[j] == '-' {
			j++
		}
		if j-i >= 2 && j < n && isWord(rs[j]) {
			return j
		}
		return -1
	}
	var chunks []string
	for i := 0; i < n; {
		if isWS(rs[i]) {
			j := i
			for j < n && isWS(rs[j]) {
				j++
			}
			chunks = append(chunks, string(rs[i:j]))
			i = j
			continue
		}
		if i > 0 && isWP(rs[i-1]) {
			if j := emDashAt(i); j > 0 {
				chunks = append(chunks, string(rs[i:j]))
				i = j
				continue
			}
		}
		// A word: the shortest run of non-spaces followed by a break.
		j := i + 1
		for ; j <= n; j++ {
			k := j // position after the chunk so far
			if at(k) == '-' && j < n {
				behind := (isLetter(at(k-2)) && isLetter(at(k-1))) ||
					(isLetter(at(k-3)) && at(k-2) == '-' && isLetter(at(k-1)))
				ahead := isLetter(at(k+1)) && (isLetter(at(k+2)) || at(k+2) == '-' && isLetter(at(k+3)))
				if behind && ahead {
					j = k + 1
					break
				}
			}
			if k == n || isWS(at(k)) {
				break
			}
			if isWP(at(k-1)) && emDashAt(k) > 0 {
				break
			}
		}
		chunks = append(chunks, string(rs[i:j]))
		i = j
	}
	return chunks
}
