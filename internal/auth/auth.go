// Package auth carries who is asking through a request: the request context
// built by the identity layer (noauth today, Keystone later).
package auth

import "context"

// Context is the caller's identity and roles.
type Context struct {
	UserID    string
	ProjectID string // empty when the caller has no project (noauth)
	Roles     []string
	IsAdmin   bool
	ReadOnly  bool
	RequestID string
}

// HasRole reports whether the caller holds role r.
func (c *Context) HasRole(r string) bool {
	for _, x := range c.Roles {
		if x == r {
			return true
		}
	}
	return false
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
