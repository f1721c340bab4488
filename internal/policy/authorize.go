package policy

import (
	"context"

	"glint/internal/auth"
)

// CredentialsFor turns the request's identity into the credentials oslo's
// to_policy_values gives Glance. is_admin stays out, as in Glance: under
// noauth the caller is admin for ownership checks but holds no roles, so
// role:admin rules still deny it.
func CredentialsFor(a *auth.Context) Credentials {
	return Credentials{
		UserID:          a.UserID,
		UserDomainID:    a.UserDomainID,
		ProjectID:       a.ProjectID,
		ProjectDomainID: a.ProjectDomain,
		DomainID:        a.DomainID,
		SystemScope:     a.SystemScope,
		Roles:           a.Roles,
	}
}

// Authorizer checks the caller found in a request's context against the
// enforcer's rules. Domain packages depend on their own one-method
// interface; this is the implementation the binary wires in.
type Authorizer struct{ Enforcer *Enforcer }

// Authorize returns nil when the caller in ctx may perform action on
// target, and an errs.Forbidden otherwise.
func (z Authorizer) Authorize(ctx context.Context, action string, target map[string]any) error {
	return z.Enforcer.Enforce(CredentialsFor(auth.From(ctx)), action, target)
}

// CheckRule evaluates the named rule for the caller in ctx against an
// empty target, as Glance's policy-format property protections do. An
// undefined name behaves as oslo's rule: check does.
func (z Authorizer) CheckRule(ctx context.Context, rule string) bool {
	ok, err := z.Enforcer.Evaluate(Check{Kind: "rule", Match: rule}, CredentialsFor(auth.From(ctx)), map[string]any{})
	return err == nil && ok
}
