package keystone

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"glint/internal/auth"
)

// token is the part of a Keystone v3 token body ({"token": {...}}) that
// Glint uses.
type token struct {
	ExpiresAt string `json:"expires_at"`
	User      struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Domain struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"domain"`
	} `json:"user"`
	Project *struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Domain struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"domain"`
	} `json:"project"`
	Domain *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"domain"`
	System map[string]any `json:"system"`
	Roles  []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"roles"`

	// What Keystone's revocation events are matched against (revoke.go).
	IssuedAt string   `json:"issued_at"`
	AuditIDs []string `json:"audit_ids"` // the token's own, then its parent's when rescoped
	Trust    *struct {
		ID          string `json:"id"`
		TrustorUser struct {
			ID string `json:"id"`
		} `json:"trustor_user"`
		TrusteeUser struct {
			ID string `json:"id"`
		} `json:"trustee_user"`
	} `json:"OS-TRUST:trust"`
	OAuth1 *struct {
		ConsumerID string `json:"consumer_id"`
	} `json:"OS-OAUTH1"`

	expires time.Time
	issued  time.Time // zero when Keystone sent none: then every event's issued_before covers it
}

// parseToken decodes a validation response body. A body without a user or
// an expiry is not a token Glint can trust.
func parseToken(body []byte) (*token, error) {
	var doc struct {
		Token *token `json:"token"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decoding token: %w", err)
	}
	t := doc.Token
	if t == nil {
		return nil, errors.New("no token in the response")
	}
	if t.User.ID == "" {
		return nil, errors.New("token has no user")
	}
	exp, err := time.Parse(time.RFC3339Nano, t.ExpiresAt)
	if err != nil {
		return nil, fmt.Errorf("token expires_at: %w", err)
	}
	t.expires = exp
	// A token without a readable issued_at is still usable; revocation
	// events then match it whatever their issued_before, which at worst
	// sends it back to Keystone once more.
	t.issued, _ = parseTime(t.IssuedAt)
	return t, nil
}

// roleNames returns the token's role names lower-cased, as Glance's
// context middleware hands them to policy.
func (t *token) roleNames() []string {
	roles := make([]string, 0, len(t.Roles))
	for _, r := range t.Roles {
		if n := strings.ToLower(strings.TrimSpace(r.Name)); n != "" {
			roles = append(roles, n)
		}
	}
	return roles
}

// context builds the request identity from the token. Glance's default
// policy makes an admin of whoever holds the admin role
// (context_is_admin = role:admin), whatever the token's scope.
func (t *token) context() *auth.Context {
	c := &auth.Context{
		UserID:       t.User.ID,
		UserName:     t.User.Name,
		UserDomainID: t.User.Domain.ID,
		Roles:        t.roleNames(),
	}
	if p := t.Project; p != nil {
		c.ProjectID, c.ProjectName, c.ProjectDomain = p.ID, p.Name, p.Domain.ID
	}
	if d := t.Domain; d != nil {
		c.DomainID = d.ID
	}
	if all, _ := t.System["all"].(bool); all {
		c.SystemScope = "all"
	}
	c.IsAdmin = c.HasRole("admin")
	return c
}

// service describes the token as a service token: keystonemiddleware's
// X-Service-* headers.
func (t *token) service() *auth.Service {
	s := &auth.Service{UserID: t.User.ID, UserName: t.User.Name, UserDomainID: t.User.Domain.ID}
	if p := t.Project; p != nil {
		s.ProjectID, s.ProjectName, s.ProjectDomain = p.ID, p.Name, p.Domain.ID
	}
	for _, r := range t.Roles {
		if n := strings.TrimSpace(r.Name); n != "" {
			s.Roles = append(s.Roles, n)
		}
	}
	return s
}

// hasAnyRole reports whether the token holds one of roles (compared
// case-insensitively).
func (t *token) hasAnyRole(roles []string) bool {
	for _, have := range t.roleNames() {
		for _, want := range roles {
			if strings.EqualFold(have, want) {
				return true
			}
		}
	}
	return false
}
