package protection

import (
	"context"
	"slices"
	"strings"
	"testing"

	"glint/internal/auth"
)

func ctxWith(roles ...string) context.Context {
	return auth.With(context.Background(), &auth.Context{Roles: roles})
}

func TestRoles(t *testing.T) {
	r, err := Parse([]byte(`
[^x_billing_.*]
create = admin, Billing
read = @
update = admin,billing
delete =

[x_]
create = @
read = @
update = @
delete = !
`), "roles", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		prop, op string
		roles    []string
		want     bool
	}{
		{"x_billing_code", "create", []string{"billing"}, true}, // roles compare lower-cased
		{"x_billing_code", "create", []string{"member"}, false},
		{"x_billing_code", "read", nil, true},
		{"x_billing_code", "delete", []string{"admin"}, false}, // empty: nobody
		{"a_x_b", "create", nil, true},                         // search, not match: "x_" anywhere
		{"a_x_b", "delete", []string{"admin"}, false},
		{"unmatched", "read", []string{"admin"}, false}, // no section: refused
		{"x_billing_code", "bogus", []string{"admin"}, false},
	} {
		if got := r.Allowed(ctxWith(c.roles...), c.prop, c.op); got != c.want {
			t.Errorf("%s %s as %v = %v, want %v", c.op, c.prop, c.roles, got, c.want)
		}
	}
	var none *Rules
	if !none.Allowed(ctxWith(), "anything", "delete") {
		t.Error("no rules must allow everything")
	}
}

type checker map[string]bool

func (c checker) CheckRule(_ context.Context, rule string) bool { return c[rule] }

func TestPolicies(t *testing.T) {
	r, err := Parse([]byte("[.*]\ncreate = glance_creator\nread = @\nupdate = !\ndelete = glance_creator\n"), "policies", checker{"glance_creator": true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxWith()
	if !r.Allowed(ctx, "p", "create") || !r.Allowed(ctx, "p", "read") || r.Allowed(ctx, "p", "update") {
		t.Error("policies format evaluated wrongly")
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ name, data, format, want string }{
		{"missing op", "[a]\ncreate = @\nread = @\nupdate = @\n", "roles", "delete"},
		{"bad regexp", "[a(]\ncreate = @\nread = @\nupdate = @\ndelete = @\n", "roles", "malformed"},
		{"@ and !", "[a]\ncreate = @,!\nread = @\nupdate = @\ndelete = @\n", "roles", "mutually exclusive"},
		{"two policies", "[a]\ncreate = p1,p2\nread = @\nupdate = @\ndelete = @\n", "policies", "one policy"},
		{"bad format", "", "acl", "roles or policies"},
		{"outside section", "create = @\n", "roles", "outside a section"},
	} {
		_, err := Parse([]byte(c.data), c.format, checker{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("[^x_.*]\ncreate = admin\nread = @\nupdate = !\ndelete = admin,member\n"), "x_a", "read")
	f.Add([]byte("[.*]\ncreate=\nread=\nupdate=\ndelete=\n"), "", "create")
	f.Fuzz(func(t *testing.T, data []byte, prop, op string) {
		r, err := Parse(data, "roles", nil)
		if err != nil {
			return
		}
		r.Allowed(ctxWith("admin", "member"), prop, op) // must not panic
	})
}

// Glance counts the roles of a valid service token (X-Service-Roles) with
// the user's in the roles format.
func TestServiceRoles(t *testing.T) {
	r, err := Parse([]byte("[^x_nova_.*]\ncreate = nova-service\nread = @\nupdate = nova-service\ndelete = !\n"), "roles", nil)
	if err != nil {
		t.Fatal(err)
	}
	user := &auth.Context{Roles: []string{"member"}}
	if r.Allowed(auth.With(context.Background(), user), "x_nova_snapshot", "create") {
		t.Error("the user alone may create a property only the service's role may")
	}
	withSvc := *user
	withSvc.Service = &auth.Service{UserID: "nova", Roles: []string{"Nova-Service"}}
	if !r.Allowed(auth.With(context.Background(), &withSvc), "x_nova_snapshot", "create") {
		t.Error("the service token's role does not count")
	}
	if slices.Contains(withSvc.Roles, "nova-service") || len(user.Roles) != 1 {
		t.Error("the check changed the request's roles (Glance's side effect, not copied)")
	}
}
