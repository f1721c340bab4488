package policy

import "strings"

// Expr is a parsed policy rule. Its String method prints the rule the way
// oslo.policy prints its check trees (every "and"/"or" group wrapped in
// parentheses), and that text parses back to an equal Expr.
type Expr interface {
	String() string
	isExpr()
}

// Always allows: "@", and the empty rule "".
type Always struct{}

// Never denies: "!".
type Never struct{}

// Check is one "kind:match" check. Kind "rule" references another rule,
// kind "role" tests the caller's roles; any other kind is a generic check
// comparing a credential (or a Python literal such as 'public' or True) with
// Match after %(name)s substitution from the target.
type Check struct {
	Kind  string
	Match string
}

// Not inverts X.
type Not struct{ X Expr }

// And holds when all its terms hold; evaluation stops at the first false.
type And struct{ Terms []Expr }

// Or holds when one of its terms holds; evaluation stops at the first true.
type Or struct{ Terms []Expr }

func (Always) isExpr() {}
func (Never) isExpr()  {}
func (Check) isExpr()  {}
func (Not) isExpr()    {}
func (And) isExpr()    {}
func (Or) isExpr()     {}

func (Always) String() string  { return "@" }
func (Never) String() string   { return "!" }
func (c Check) String() string { return c.Kind + ":" + c.Match }
func (n Not) String() string   { return "not " + n.X.String() }
func (a And) String() string   { return joinTerms(a.Terms, " and ") }
func (o Or) String() string    { return joinTerms(o.Terms, " or ") }

func joinTerms(terms []Expr, sep string) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, t := range terms {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(t.String())
	}
	b.WriteByte(')')
	return b.String()
}

// walkChecks calls f for every Check in e.
func walkChecks(e Expr, f func(Check)) {
	switch e := e.(type) {
	case Check:
		f(e)
	case Not:
		walkChecks(e.X, f)
	case And:
		for _, t := range e.Terms {
			walkChecks(t, f)
		}
	case Or:
		for _, t := range e.Terms {
			walkChecks(t, f)
		}
	}
}
