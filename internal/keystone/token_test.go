package keystone

import (
	"slices"
	"testing"
)

func TestParseToken(t *testing.T) {
	body := `{"token": {"expires_at": "2026-11-22T11:00:00.000000Z", "methods": ["password"],
		"user": {"id": "u1", "name": "Alice", "domain": {"id": "default", "name": "Default"}},
		"project": {"id": "p1", "name": "alpha", "domain": {"id": "default", "name": "Default"}},
		"roles": [{"id": "r1", "name": "Member"}, {"id": "r2", "name": "reader"}, {"id": "r3", "name": "Admin"}]}}`
	tok, err := parseToken([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	c := tok.context()
	if c.UserID != "u1" || c.ProjectID != "p1" || !c.IsAdmin || !slices.Equal(c.Roles, []string{"member", "reader", "admin"}) {
		t.Errorf("context = %+v", c)
	}
	for _, bad := range []string{``, `{}`, `{"token": null}`, `{"token": {"expires_at": "2026-11-22T11:00:00Z"}}`,
		`{"token": {"user": {"id": "u"}}}`, `{"token": {"user": {"id": "u"}, "expires_at": "tomorrow"}}`} {
		if _, err := parseToken([]byte(bad)); err == nil {
			t.Errorf("parseToken(%q) accepted it", bad)
		}
	}
}

func FuzzParseToken(f *testing.F) {
	f.Add([]byte(`{"token": {"expires_at": "2026-11-22T11:00:00.000000Z", "user": {"id": "u"}, "system": {"all": true}, "roles": [{"name": "x"}]}}`))
	f.Add([]byte(`{"token": {"expires_at": "2026-11-22T11:00:00Z", "user": {"id": "u"}, "domain": {"id": "d"}, "project": null}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := parseToken(b)
		if err != nil {
			return
		}
		c := tok.context()
		if c.UserID == "" {
			t.Fatal("accepted a token without a user")
		}
		if c.IsAdmin != slices.Contains(c.Roles, "admin") {
			t.Fatal("IsAdmin disagrees with the roles")
		}
	})
}
