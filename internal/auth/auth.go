// Package auth carries who is asking through a request: the request context
// built by the identity layer (noauth, or a Keystone token) and read by the
// domain layer's policy checks.
package auth

import (
	"context"
	"fmt"
	"net/http"
	"slices"
)

// Context is the caller's identity, scope and roles, as keystonemiddleware
// hands them to Glance.
type Context struct {
	UserID        string
	UserName      string
	UserDomainID  string
	ProjectID     string // empty when the caller has no project (noauth, system scope)
	ProjectName   string
	ProjectDomain string
	DomainID      string // set for a domain-scoped token
	SystemScope   string // "all" for a system-scoped token
	Roles         []string
	IsAdmin       bool
	ReadOnly      bool
	RequestID     string
	// AuthToken is the caller's own token, for calls made on its behalf
	// (for example to another service); empty under noauth.
	AuthToken string
	// Service is the service (Nova, Cinder, ...) that sent a valid
	// X-Service-Token along with the user's token, as keystonemiddleware's
	// X-Service-* headers describe it to Glance; nil without one. The
	// request still runs as the user: the fields above are the user's.
	Service *Service
}

// Service is the identity of a valid service token (keystonemiddleware's
// X-Service-User-Id, X-Service-Project-Id, X-Service-Roles, ...).
type Service struct {
	UserID        string
	UserName      string
	UserDomainID  string
	ProjectID     string
	ProjectName   string
	ProjectDomain string
	Roles         []string // as Keystone names them (Glance lower-cases only the user's)
}

// Endpoint is one endpoint of the caller's Keystone service catalog.
type Endpoint struct {
	ServiceType string // image, identity, ...
	Region      string // the region's id; empty when the endpoint has none
	Interface   string // public, internal or admin
	URL         string
}

// HasRole reports whether the caller holds role r.
func (c *Context) HasRole(r string) bool { return slices.Contains(c.Roles, r) }

// Anonymous reports whether the request carried no identity at all.
func (c *Context) Anonymous() bool {
	return c.UserID == "" && c.ProjectID == "" && !c.IsAdmin && len(c.Roles) == 0
}

// MayChange is the one ownership rule every mutation goes through (Glance's
// is_image_mutable): an admin may change anything; anyone else only what
// their own project owns. An absent owner or an absent project never
// matches, so an ownerless image is changeable by admins only.
func (c *Context) MayChange(owner string) bool {
	if c.IsAdmin {
		return true
	}
	return owner != "" && c.ProjectID != "" && owner == c.ProjectID
}

// MayChangeRef is MayChange for an optional owner; nil is no owner.
func (c *Context) MayChangeRef(owner *string) bool {
	if owner == nil {
		return c.MayChange("")
	}
	return c.MayChange(*owner)
}

type key struct{}

// With returns ctx carrying c.
func With(ctx context.Context, c *Context) context.Context { return context.WithValue(ctx, key{}, c) }

// From returns the request's auth context; a request without one is treated
// as an anonymous, read-only caller.
func From(ctx context.Context) *Context {
	if c, ok := ctx.Value(key{}).(*Context); ok {
		return c
	}
	return &Context{ReadOnly: true}
}

// NoAuth is the context Glance gives every request when it runs without
// Keystone: admin, but with no user, no project and no roles.
func NoAuth(requestID string) *Context {
	return &Context{IsAdmin: true, RequestID: requestID}
}

// Authenticator turns a request's credentials into a Context. An
// implementation returns an error of kind errs.Unauthorized for a missing,
// invalid or expired token; the API maps it to 401 with its Challenge.
type Authenticator interface {
	Authenticate(ctx context.Context, r *http.Request) (*Context, error)
	// Challenge is the WWW-Authenticate header value for a 401, or "".
	Challenge() string
}

// NoAuthenticator is the standalone mode: every caller is NoAuth's admin.
type NoAuthenticator struct{}

// Authenticate returns NoAuth's context.
func (NoAuthenticator) Authenticate(ctx context.Context, r *http.Request) (*Context, error) {
	return NoAuth(""), nil
}

// Challenge is empty: noauth never answers 401.
func (NoAuthenticator) Challenge() string { return "" }

// Response is an error an Authenticator returns to answer with exactly this
// status and body instead of Glance's error page: keystonemiddleware's own
// JSON 401 when it decides alone (delay_auth_decision = false).
type Response struct {
	Status      int
	ContentType string
	Body        string
}

func (r *Response) Error() string { return fmt.Sprintf("%d: %s", r.Status, r.Body) }
