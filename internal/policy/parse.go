package policy

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"glint/internal/errs"
)

// maxNesting bounds parenthesis and "not" nesting so a hostile policy file
// cannot exhaust the stack; real rules nest two or three levels.
const maxNesting = 200

type tokKind uint8

const (
	tokLParen tokKind = iota
	tokRParen
	tokAnd
	tokOr
	tokNot
	tokCheck  // a kind:match check, "@" or "!"
	tokString // a fully quoted word, which oslo tokenizes but cannot reduce
	tokEOF
)

type token struct {
	kind tokKind
	text string
	pos  int // byte offset in the rule
}

// Parse parses a rule written in the oslo.policy language.
func Parse(rule string) (Expr, error) { return ParseRule("", rule) }

// ParseRule parses the rule text of the named rule; the name only serves
// error messages. Syntax errors are errs.Invalid and give the column.
//
// The grammar and tokenization follow oslo.policy: the rule is split on
// whitespace, leading "(" and trailing ")" are peeled off each word, the
// words and/or/not are operators in any letter case, and the precedence is
// not > and > or. Where oslo would log the error and silently fail closed
// (turn the rule, or the bad check, into "!"), Glint refuses the rule.
func ParseRule(name, rule string) (Expr, error) {
	if rule == "" {
		return Always{}, nil
	}
	p := &parser{name: name, rule: rule, toks: tokenize(rule)}
	if len(p.toks) == 1 { // only EOF: oslo fails closed on a blank rule
		return nil, p.errorf(0, "rule is blank")
	}
	e, err := p.parseOr(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		if t.kind == tokRParen {
			return nil, p.errorf(t.pos, "unmatched %q", ")")
		}
		return nil, p.errorf(t.pos, "expected \"and\" or \"or\" before %q", t.text)
	}
	return e, nil
}

// isPySpace reports whether Python's str.isspace (which drives oslo's
// \s+ split) holds for r: Go's unicode.IsSpace plus the ASCII information
// separators.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// tokenize splits the rule as oslo's _parse_tokenize does. Parentheses are
// only recognized at the start or end of a whitespace-separated word, so a
// match such as %(project_id)s keeps its own.
func tokenize(rule string) []token {
	var toks []token
	for i := 0; i < len(rule); {
		r, n := utf8.DecodeRuneInString(rule[i:])
		if isPySpace(r) {
			i += n
			continue
		}
		start := i
		for i < len(rule) {
			r, n := utf8.DecodeRuneInString(rule[i:])
			if isPySpace(r) {
				break
			}
			i += n
		}
		toks = appendWord(toks, rule[start:i], start)
	}
	return append(toks, token{kind: tokEOF, pos: len(rule)})
}

func appendWord(toks []token, word string, pos int) []token {
	lead := len(word) - len(strings.TrimLeft(word, "("))
	for k := 0; k < lead; k++ {
		toks = append(toks, token{kind: tokLParen, text: "(", pos: pos + k})
	}
	word, pos = word[lead:], pos+lead
	if word == "" {
		return toks
	}
	core := strings.TrimRight(word, ")")
	trail := len(word) - len(core)
	switch {
	case core == "":
	case strings.EqualFold(core, "and"):
		toks = append(toks, token{kind: tokAnd, text: core, pos: pos})
	case strings.EqualFold(core, "or"):
		toks = append(toks, token{kind: tokOr, text: core, pos: pos})
	case strings.EqualFold(core, "not"):
		toks = append(toks, token{kind: tokNot, text: core, pos: pos})
	case trail == 0 && len(core) >= 2 && (core[0] == '"' || core[0] == '\'') && core[len(core)-1] == core[0]:
		// oslo looks for the quotes before peeling the closing
		// parentheses, hence trail == 0.
		toks = append(toks, token{kind: tokString, text: core, pos: pos})
	default:
		toks = append(toks, token{kind: tokCheck, text: core, pos: pos})
	}
	for k := 0; k < trail; k++ {
		toks = append(toks, token{kind: tokRParen, text: ")", pos: pos + len(core) + k})
	}
	return toks
}

type parser struct {
	name string
	rule string
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) errorf(pos int, format string, args ...any) error {
	col := utf8.RuneCountInString(p.rule[:pos]) + 1
	what := "policy rule"
	if p.name != "" {
		what = fmt.Sprintf("policy rule %q", p.name)
	}
	return errs.E(errs.Op("policy.Parse"), errs.Invalid,
		fmt.Sprintf("%s: %s at column %d", what, fmt.Sprintf(format, args...), col))
}

// parseOr parses and-chains joined by "or".
func (p *parser) parseOr(depth int) (Expr, error) {
	first, err := p.parseAnd(depth, false)
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tokOr {
		return first, nil
	}
	terms := []Expr{first}
	for p.peek().kind == tokOr {
		p.next()
		t, err := p.parseAnd(depth, true)
		if err != nil {
			return nil, err
		}
		terms = append(terms, t)
	}
	return Or{Terms: terms}, nil
}

// parseAnd parses operands joined by "and". After an "or", oslo's reducer
// extends an "and" group that is already the last term instead of nesting
// a new one ("a or (b and c) and d" gives (a or (b and c and d))); the
// result is the same, and mirroring it keeps String identical to oslo's.
func (p *parser) parseAnd(depth int, afterOr bool) (Expr, error) {
	first, err := p.parseNot(depth)
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tokAnd {
		return first, nil
	}
	var terms []Expr
	if a, ok := first.(And); ok && afterOr {
		terms = append(terms, a.Terms...)
	} else {
		terms = []Expr{first}
	}
	for p.peek().kind == tokAnd {
		p.next()
		t, err := p.parseNot(depth)
		if err != nil {
			return nil, err
		}
		terms = append(terms, t)
	}
	return And{Terms: terms}, nil
}

func (p *parser) parseNot(depth int) (Expr, error) {
	if depth > maxNesting {
		return nil, p.errorf(p.peek().pos, "rule nested too deeply")
	}
	if p.peek().kind == tokNot {
		p.next()
		x, err := p.parseNot(depth + 1)
		if err != nil {
			return nil, err
		}
		return Not{X: x}, nil
	}
	return p.parseOperand(depth)
}

func (p *parser) parseOperand(depth int) (Expr, error) {
	t := p.next()
	switch t.kind {
	case tokLParen:
		e, err := p.parseOr(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.peek(); c.kind != tokRParen {
			if c.kind == tokEOF {
				return nil, p.errorf(t.pos, "unclosed %q", "(")
			}
			return nil, p.errorf(c.pos, "expected \"and\", \"or\" or \")\" before %q", c.text)
		}
		p.next()
		return e, nil
	case tokCheck:
		e, msg := parseCheck(t.text)
		if msg != "" {
			return nil, p.errorf(t.pos, "%s", msg)
		}
		return e, nil
	case tokString:
		return nil, p.errorf(t.pos, "quoted string %s is not a check (want '<literal>':%%(<key>)s)", t.text)
	case tokEOF:
		return nil, p.errorf(t.pos, "expected a check, found end of rule")
	default:
		return nil, p.errorf(t.pos, "expected a check, found %q", t.text)
	}
}

// parseCheck turns one word into a check, as oslo's _parse_check does; it
// returns a message instead of an Expr for words oslo would fail closed on.
func parseCheck(word string) (Expr, string) {
	switch word {
	case "@":
		return Always{}, ""
	case "!":
		return Never{}, ""
	}
	kind, match, ok := strings.Cut(word, ":")
	if !ok {
		return nil, fmt.Sprintf("check %q has no \":\" (want kind:match, @ or !)", word)
	}
	if kind == "http" || kind == "https" {
		// oslo's remote checks POST the credentials to a URL; Glint does
		// not call out of process to decide policy.
		return nil, fmt.Sprintf("remote %s: checks are not supported", kind)
	}
	return Check{Kind: kind, Match: match}, ""
}

// ParseList parses the legacy list-of-lists form (JSON policy files before
// the policy language existed): the outer list is OR'ed, each inner list
// (or bare string) AND'ed, and each string is a single check. An empty list
// always allows; a list of only empty lists never does.
func ParseList(name string, rule []any) (Expr, error) {
	bad := func(format string, args ...any) error {
		return errs.E(errs.Op("policy.ParseList"), errs.Invalid,
			fmt.Sprintf("policy rule %q: %s", name, fmt.Sprintf(format, args...)))
	}
	if len(rule) == 0 {
		return Always{}, nil
	}
	var ors []Expr
	for i, inner := range rule {
		var items []any
		switch v := inner.(type) {
		case string:
			if v == "" {
				continue
			}
			items = []any{v}
		case []any:
			items = v
		default:
			return nil, bad("item %d is a %T, want a list of checks", i, inner)
		}
		if len(items) == 0 {
			continue
		}
		var ands []Expr
		for j, it := range items {
			s, ok := it.(string)
			if !ok {
				return nil, bad("item %d.%d is a %T, want a check string", i, j, it)
			}
			e, msg := parseCheck(s)
			if msg != "" {
				return nil, bad("item %d.%d: %s", i, j, msg)
			}
			ands = append(ands, e)
		}
		if len(ands) == 1 {
			ors = append(ors, ands[0])
		} else {
			ors = append(ors, And{Terms: ands})
		}
	}
	switch len(ors) {
	case 0:
		return Never{}, nil
	case 1:
		return ors[0], nil
	}
	return Or{Terms: ors}, nil
}
