package policy

import (
	"context"

	"glint/internal/auth"
)

// CredentialsFor turns the request's identity into the credentials oslo's
// to_policy_values gives Glance. is_admin stays out, as in Glance: under
// noauth the caller is admin for ownership checks but holds no roles, so
// role:admin rules still deny it. The service token's identity (a valid
// X-Service-Token) is there as service_user_id, service_user_domain_id,
// service_project_id, service_project_domain_id and service_roles, None
// and [] without one, as oslo.context fills them from keystonemiddleware's
// X-Service-* headers; role: checks look at the user's roles only.
func CredentialsFor(a *auth.Context) Credentials {
	svc := a.Service
	if svc == nil {
		svc = &auth.Service{}
	}
	opt := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	return Credentials{
		UserID:          a.UserID,
		UserDomainID:    a.UserDomainID,
		ProjectID:       a.ProjectID,
		ProjectDomainID: a.ProjectDomain,
		DomainID:        a.DomainID,
		SystemScope:     a.SystemScope,
		Roles:           a.Roles,
		Extra: map[string]any{
			"service_user_id":           opt(svc.UserID),
			"service_user_domain_id":    opt(svc.UserDomainID),
			"service_project_id":        opt(svc.ProjectID),
			"service_project_domain_id": opt(svc.ProjectDomain),
			"service_roles":             svc.Roles,
		},
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
