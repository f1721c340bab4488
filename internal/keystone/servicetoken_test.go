package keystone

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"glint/internal/auth"
	"glint/internal/errs"
)

// The stub's side of issue 33: a user token that expired, sent with a
// service token, as Nova and Cinder send it at the end of a long upload.
// These run without a Keystone (also under -short); servicetoken_keystone_test.go
// runs the same cases against a real one.

// The stub's tokens; "tok-" marks them in the logs, where none may be.
const (
	userTok    = "tok-user"     // ann's, expired a minute ago
	novaTok    = "tok-nova"     // a service token with the service role, as Nova's [service_user] sends it
	otherTok   = "tok-other"    // a valid token without the service role
	novaOldTok = "tok-nova-old" // an expired service token
)

// expiredStub returns a stub with the tokens above.
func expiredStub(t *testing.T) *stubKeystone {
	s := newStub(t)
	now := time.Now().Truncate(time.Second)
	s.add(userTok, stubToken{user: "ann", userDomain: "default", project: "p1", pDomain: "default", roles: []string{"member", "reader"},
		issued: now.Add(-time.Hour), expires: now.Add(-time.Minute)})
	s.add(novaTok, stubToken{user: "nova", userDomain: "default", project: "service", pDomain: "default", roles: []string{"service"}})
	s.add(otherTok, stubToken{user: "bob", project: "p2", roles: []string{"member"}})
	s.add(novaOldTok, stubToken{user: "nova", project: "service", roles: []string{"service"},
		issued: now.Add(-time.Hour), expires: now.Add(-time.Second)})
	return s
}

// call authenticates a request with these headers and a request id.
func (a *Authenticator) call(headers ...string) (*auth.Context, error) {
	ctx := auth.With(context.Background(), &auth.Context{RequestID: "req-test", ReadOnly: true})
	return a.Authenticate(ctx, request(headers...))
}

func TestExpiredUserTokenStub(t *testing.T) {
	for _, delay := range []bool{true, false} {
		for _, required := range []bool{false, true} {
			t.Run(fmt.Sprintf("delay=%v/required=%v", delay, required), func(t *testing.T) {
				s := expiredStub(t)
				var logs logBuffer
				a := newStubAuth(t, s, &logs, func(o *Options) {
					o.DelayAuthDecision, o.ServiceTokenRolesRequired = delay, required
				})
				for _, tc := range []struct {
					name    string
					headers []string
					ok      bool
				}{
					{"alone", []string{"X-Auth-Token", userTok}, false},
					{"with a service token", []string{"X-Auth-Token", userTok, "X-Service-Token", novaTok}, true},
					{"as X-Storage-Token", []string{"X-Storage-Token", userTok, "X-Service-Token", novaTok}, true},
					// keystonemiddleware lets an expired token through only
					// on a service token with the roles, required or not.
					{"service token without the roles", []string{"X-Auth-Token", userTok, "X-Service-Token", otherTok}, false},
					{"expired service token", []string{"X-Auth-Token", userTok, "X-Service-Token", novaOldTok}, false},
					{"invalid service token", []string{"X-Auth-Token", userTok, "X-Service-Token", "nope"}, false},
					{"service token alone", []string{"X-Service-Token", novaTok}, false},
				} {
					c, err := a.call(tc.headers...)
					if !tc.ok {
						if errs.KindOf(err) != errs.Unauthorized {
							t.Errorf("%s: got %+v, %v; want unauthorized", tc.name, c, err)
						}
						// Without delay_auth_decision, keystonemiddleware's own body.
						if resp := new(auth.Response); err != nil && errors.As(err, &resp) == delay {
							t.Errorf("%s: keystonemiddleware's body %v, want %v", tc.name, !delay, !delay)
						}
						continue
					}
					if err != nil {
						t.Errorf("%s: %v", tc.name, err)
						continue
					}
					// The request runs as the user; the service is who vouched.
					if c.UserID != "ann" || c.ProjectID != "p1" || !slices.Equal(c.Roles, []string{"member", "reader"}) || c.AuthToken != userTok {
						t.Errorf("%s: identity %+v, want the user's", tc.name, c)
					}
					if sv := c.Service; sv == nil || sv.UserID != "nova" || sv.UserName != "nova" || sv.UserDomainID != "default" ||
						sv.ProjectID != "service" || sv.ProjectDomain != "default" || !slices.Equal(sv.Roles, []string{"service"}) {
						t.Errorf("%s: service %+v, want nova's", tc.name, c.Service)
					}
				}
				out := logs.b.String()
				if n := logs.count("accepted an expired user token on a valid service token"); n != 2 {
					t.Errorf("%d acceptances logged, want 2:\n%s", n, out)
				}
				for _, want := range []string{"request_id=req-test", "user_id=ann", "service_user_id=nova", "service_user_name=nova", "expired_for="} {
					if !strings.Contains(out, want) {
						t.Errorf("the log lacks %s:\n%s", want, out)
					}
				}
				if strings.Contains(out, "tok-") {
					t.Errorf("a token is in the log:\n%s", out)
				}
			})
		}
	}
}

// A service token without the roles is accepted with a valid user token
// when the roles are not required, but never lets an expired one through.
func TestServiceTokenWithoutRolesStub(t *testing.T) {
	s := expiredStub(t)
	valid := s.add("valid", stubToken{user: "ann", project: "p1", roles: []string{"member"}})
	a := newStubAuth(t, s, nil, nil)
	c, err := a.call("X-Auth-Token", valid, "X-Service-Token", otherTok)
	if err != nil {
		t.Fatal(err)
	}
	// keystonemiddleware still marks it Confirmed and sets X-Service-*.
	if c.Service == nil || c.Service.UserID != "bob" {
		t.Errorf("service = %+v, want bob's", c.Service)
	}
	if n := s.expired.Load(); n != 0 {
		t.Errorf("%d validations with allow_expired, want 0 without the service roles", n)
	}
}

// The cache keeps the two answers apart: one accepted only with
// allow_expired is never used for a request without a service token,
// while a token still valid is one answer whichever way it was asked.
func TestExpiredCacheApartStub(t *testing.T) {
	s := expiredStub(t)
	a := newStubAuth(t, s, nil, nil)
	withSvc := []string{"X-Auth-Token", userTok, "X-Service-Token", novaTok}
	if _, err := a.call(withSvc...); err != nil {
		t.Fatal(err)
	}
	if n := s.expired.Load(); n != 1 {
		t.Fatalf("%d validations with allow_expired, want 1", n)
	}
	v := s.validate.Load()
	for range 2 {
		if _, err := a.call(withSvc...); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.validate.Load() - v; n != 0 {
		t.Errorf("%d validations for cached tokens, want 0", n)
	}
	for range 2 {
		if _, err := a.call("X-Auth-Token", userTok); errs.KindOf(err) != errs.Unauthorized {
			t.Fatalf("the expired token alone after it was accepted with a service token: %v, want unauthorized", err)
		}
	}
	// Each went to Keystone, without allow_expired, and got its 404.
	if n, e := s.validate.Load()-v, s.expired.Load(); n != 2 || e != 1 {
		t.Errorf("%d validations (%d with allow_expired in all), want 2 (1)", n, e)
	}

	// A token still valid, first seen with a service token, is cached as
	// any valid token: the request without one finds it.
	fresh := s.add("fresh", stubToken{user: "ann", project: "p1", roles: []string{"member"}})
	if _, err := a.call("X-Auth-Token", fresh, "X-Service-Token", novaTok); err != nil {
		t.Fatal(err)
	}
	v = s.validate.Load()
	if _, err := a.call("X-Auth-Token", fresh); err != nil {
		t.Fatal(err)
	}
	if n := s.validate.Load() - v; n != 0 {
		t.Errorf("%d validations of a valid cached token, want 0", n)
	}
}

// An expired token accepted with allow_expired is cached for the cache
// time, or 5 minutes when the cache keeps tokens until they expire.
func TestExpiredCacheTimeStub(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cache time.Duration
		lives time.Duration
	}{
		{"token_cache_time=60", TokenCacheTime(60), time.Minute},
		{"token_cache_time=0", TokenCacheTime(0), 5 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := expiredStub(t)
			clk := &clock{now: time.Now()}
			a := newStubAuth(t, s, nil, func(o *Options) { o.CacheTime, o.Now = tc.cache, clk.Now })
			withSvc := []string{"X-Auth-Token", userTok, "X-Service-Token", novaTok}
			if _, err := a.call(withSvc...); err != nil {
				t.Fatal(err)
			}
			clk.Add(tc.lives - time.Second)
			if _, err := a.call(withSvc...); err != nil {
				t.Fatal(err)
			}
			if n := s.expired.Load(); n != 1 {
				t.Fatalf("%d validations with allow_expired within %v, want 1", n, tc.lives)
			}
			clk.Add(time.Second)
			if _, err := a.call(withSvc...); err != nil {
				t.Fatal(err)
			}
			if n := s.expired.Load(); n != 2 {
				t.Fatalf("%d validations with allow_expired after %v, want 2", n, tc.lives)
			}
		})
	}
}

// Beyond Keystone's allow_expired_window even a service token does not
// help: Keystone answers 404.
func TestExpiredBeyondWindowStub(t *testing.T) {
	s := expiredStub(t)
	now := time.Now()
	old := s.add("old", stubToken{user: "ann", project: "p1", issued: now.Add(-stubWindow - 2*time.Hour), expires: now.Add(-stubWindow - time.Hour)})
	a := newStubAuth(t, s, nil, nil)
	if _, err := a.call("X-Auth-Token", old, "X-Service-Token", novaTok); errs.KindOf(err) != errs.Unauthorized {
		t.Fatalf("err = %v, want unauthorized", err)
	}
}

// Keystone's revocation events drop an expired token accepted with
// allow_expired from the cache as they drop any other: Keystone then
// refuses it even with allow_expired.
func TestExpiredRevokedStub(t *testing.T) {
	s := expiredStub(t)
	a := newStubAuth(t, s, nil, nil)
	keep := s.add("keep", stubToken{user: "bob", project: "p1", issued: time.Now().Add(-time.Hour), expires: time.Now().Add(-time.Minute)})
	for _, tok := range []string{userTok, keep} {
		if _, err := a.call("X-Auth-Token", tok, "X-Service-Token", novaTok); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return s.eventsN.Load() > 0 }) // the poller's first fetch
	s.revokeUser("ann")
	if err := a.refreshRevocations(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := s.expired.Load()
	if _, err := a.call("X-Auth-Token", userTok, "X-Service-Token", novaTok); errs.KindOf(err) != errs.Unauthorized {
		t.Fatalf("revoked expired token: err = %v, want unauthorized", err)
	}
	if _, err := a.call("X-Auth-Token", keep, "X-Service-Token", novaTok); err != nil {
		t.Fatal(err)
	}
	if n := s.expired.Load() - e; n != 1 {
		t.Errorf("%d validations with allow_expired, want 1 (the revoked token; the other stays cached)", n)
	}
}

// An allow_expired validation under way when the token is revoked is not
// cached, as for any other validation.
func TestExpiredRevokedWhileValidatingStub(t *testing.T) {
	s := expiredStub(t)
	a := newStubAuth(t, s, nil, nil)
	if err := a.try(s.add("first", stubToken{user: "bob", project: "p1"})); err != nil { // starts the poller
		t.Fatal(err)
	}
	waitFor(t, func() bool { return s.eventsN.Load() > 0 })
	if _, err := a.validate(context.Background(), novaTok, false); err != nil { // the service token is cached
		t.Fatal(err)
	}
	s.set(func(s *stubKeystone) {
		s.holdTok, s.release, s.reached = userTok, make(chan struct{}), make(chan struct{}, 1)
	})
	errc := make(chan error, 1)
	go func() {
		_, err := a.call("X-Auth-Token", userTok, "X-Service-Token", novaTok)
		errc <- err
	}()
	<-s.reached
	s.revokeUser("ann")
	if err := a.refreshRevocations(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.set(func(s *stubKeystone) { s.holdTok = "" })
	close(s.release)
	if err := <-errc; err != nil {
		t.Fatalf("the validation under way: %v (Keystone said valid)", err)
	}
	if _, err := a.call("X-Auth-Token", userTok, "X-Service-Token", novaTok); errs.KindOf(err) != errs.Unauthorized {
		t.Fatalf("next request: err = %v, want unauthorized (the answer must not have been cached)", err)
	}
}

// Glint renews its own token 2 minutes before it expires, or in its last
// quarter when it lives less than 8 minutes (a Keystone with short-lived
// tokens, as the tests of expired tokens run): not before every call.
func TestServiceTokenRenewalTime(t *testing.T) {
	for _, tc := range []struct {
		life, renew time.Duration
	}{
		{time.Hour, 58 * time.Minute},
		{40 * time.Second, 30 * time.Second},
	} {
		t.Run(tc.life.String(), func(t *testing.T) {
			s := newStub(t)
			s.svcLife = tc.life
			clk := &clock{now: time.Now()}
			a := newStubAuth(t, s, nil, func(o *Options) { o.CacheTime, o.Now = -1, clk.Now })
			tok := s.add("tok", stubToken{user: "ann", project: "p1"})
			// The stub's clock runs a little ahead of the test's: the
			// steps keep 2 seconds off the renewal time.
			elapsed := time.Duration(0)
			for _, step := range []struct {
				d      time.Duration
				logins int64
			}{{0, 1}, {tc.renew - 2*time.Second, 1}, {4 * time.Second, 2}, {time.Second, 2}} {
				clk.Add(step.d)
				elapsed += step.d
				if err := a.try(tok); err != nil {
					t.Fatal(err)
				}
				if n := s.logins.Load(); n != step.logins {
					t.Fatalf("%d logins after %v, want %d", n, elapsed, step.logins)
				}
			}
		})
	}
}
