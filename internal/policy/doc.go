// Package policy is Glint's oslo.policy-compatible rule engine: the policy
// language (role:, rule:, generic kind:%(key)s checks, @, !, and/or/not,
// parentheses), Glance 25.1 (Zed)'s default rules with their deprecated
// aliases, overrides from policy.yaml/policy.json files and policy
// directories, enforcement with oslo's enforce_new_defaults and
// enforce_scope semantics, and the renderings of
// oslopolicy-sample-generator and oslopolicy-policy-generator.
//
// It reproduces oslo.policy 4.0's behaviour, not its code. Where oslo logs a
// broken rule and silently turns it into "deny", Glint refuses it with an
// errs.Invalid when the rules are loaded; questionable but valid policies
// (references to undefined rules, which oslo evaluates as the default rule;
// cycles; unregistered or redundant overrides) are listed by
// Enforcer.Check.
//
// Typical use:
//
//	enf, err := policy.NewGlance(policy.Options{PolicyFile: "/etc/glint/policy.yaml"})
//	...
//	err = enf.Enforce(creds, "get_image", target) // nil, errs.Forbidden or errs.Internal
//
// The caller builds the target as Glance does. For an image that is the
// image's attributes and extra properties plus the aliases project_id (the
// owner) and member_id (the caller's project when the image is shared and
// the caller is not its owner, else nil); for a create, project_id, owner
// and visibility of the proposed image; for metadefs, the namespace's
// owner as project_id and its visibility. nil stands for Python's None and
// compares as "None", which some of Glance's checks rely on.
//
// An Enforcer is immutable once built and safe for concurrent use; reload a
// policy file by building a new one.
package policy
