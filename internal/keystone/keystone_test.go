package keystone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"glint/internal/auth"
	"glint/internal/errs"
	"glint/internal/keystone/keystonetest"
)

func TestMain(m *testing.M) { os.Exit(keystonetest.Main(m)) }

// counter is a RoundTripper that counts Keystone calls by kind and can hold
// validations until released.
type counter struct {
	validations atomic.Int64  // GET /v3/auth/tokens
	logins      atomic.Int64  // POST /v3/auth/tokens
	hold        chan struct{} // when not nil, validations wait for it to close
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/auth/tokens") {
		switch r.Method {
		case http.MethodGet:
			c.validations.Add(1)
			if c.hold != nil {
				<-c.hold
			}
		case http.MethodPost:
			c.logins.Add(1)
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newAuth(t *testing.T, ks *keystonetest.Keystone, mod func(*Options)) (*Authenticator, *counter, *clock) {
	t.Helper()
	cnt := &counter{}
	clk := &clock{now: time.Now()}
	o := Options{
		AuthURL: ks.URL, Username: "glint", Password: ks.Password("glint"),
		UserDomainName: "Default", ProjectName: "service", ProjectDomainName: "Default",
		ServiceTokenRoles: []string{"service"}, Transport: cnt, Now: clk.Now,
	}
	if mod != nil {
		mod(&o)
	}
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a, cnt, clk
}

func request(headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/v2/images", nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	return r
}

func TestIdentityFromToken(t *testing.T) {
	ks := keystonetest.Start(t)
	a, _, _ := newAuth(t, ks, nil)
	for _, tc := range []struct {
		user, project string
		role          string
		admin         bool
	}{
		{"admin", "admin", "admin", true},
		{"alpha-member", "alpha", "member", false},
		{"alpha-reader", "alpha", "reader", false},
		{"beta-member", "beta", "member", false},
	} {
		t.Run(tc.user, func(t *testing.T) {
			tok := ks.Token(t, tc.user)
			c, err := a.Authenticate(context.Background(), request("X-Auth-Token", tok))
			if err != nil {
				t.Fatal(err)
			}
			if c.UserID != ks.UserID(tc.user) || c.UserName != tc.user || c.UserDomainID != "default" {
				t.Errorf("user = %q %q %q, want %q %q default", c.UserID, c.UserName, c.UserDomainID, ks.UserID(tc.user), tc.user)
			}
			if c.ProjectID != ks.ProjectID(tc.project) || c.ProjectName != tc.project || c.ProjectDomain != "default" {
				t.Errorf("project = %q %q %q, want %q %q default", c.ProjectID, c.ProjectName, c.ProjectDomain, ks.ProjectID(tc.project), tc.project)
			}
			if !slices.Contains(c.Roles, tc.role) || c.IsAdmin != tc.admin || c.SystemScope != "" || c.DomainID != "" {
				t.Errorf("roles %v admin %v system %q domain %q; want role %s admin %v", c.Roles, c.IsAdmin, c.SystemScope, c.DomainID, tc.role, tc.admin)
			}
			// Keystone's implied roles: member implies reader.
			if tc.role == "member" && !slices.Contains(c.Roles, "reader") {
				t.Errorf("roles %v lack the implied reader", c.Roles)
			}
			if c.AuthToken != tok {
				t.Errorf("AuthToken not carried")
			}
		})
	}
	t.Run("system scope", func(t *testing.T) {
		tok := ks.TokenScoped(t, "admin", map[string]any{"system": map[string]any{"all": true}})
		c, err := a.Authenticate(context.Background(), request("X-Auth-Token", tok))
		if err != nil {
			t.Fatal(err)
		}
		if c.SystemScope != "all" || c.ProjectID != "" || !c.IsAdmin {
			t.Errorf("system token: scope %q project %q admin %v", c.SystemScope, c.ProjectID, c.IsAdmin)
		}
	})
	t.Run("domain scope", func(t *testing.T) {
		tok := ks.TokenScoped(t, "admin", map[string]any{"domain": map[string]any{"id": "default"}})
		c, err := a.Authenticate(context.Background(), request("X-Auth-Token", tok))
		if err != nil {
			t.Fatal(err)
		}
		if c.DomainID != "default" || c.ProjectID != "" {
			t.Errorf("domain token: domain %q project %q", c.DomainID, c.ProjectID)
		}
	})
}

func TestRejected(t *testing.T) {
	ks := keystonetest.Start(t)
	good := ks.Token(t, "alpha-member")
	for _, delay := range []bool{false, true} {
		a, _, _ := newAuth(t, ks, func(o *Options) { o.DelayAuthDecision = delay })
		for _, tc := range []struct {
			name    string
			headers []string
			okDelay bool // accepted with delay_auth_decision (Glance ignores the service token)
		}{
			{"no token", nil, false},
			{"empty token", []string{"X-Auth-Token", " "}, false},
			{"garbage token", []string{"X-Auth-Token", "not-a-token"}, false},
			{"fernet-looking token", []string{"X-Auth-Token", "gAAAAABnotreallyafernettoken0000000000000000000000000000000"}, false},
			{"bad service token", []string{"X-Auth-Token", good, "X-Service-Token", "nope"}, true},
		} {
			t.Run(fmt.Sprintf("%s/delay=%v", tc.name, delay), func(t *testing.T) {
				_, err := a.Authenticate(context.Background(), request(tc.headers...))
				if delay && tc.okDelay {
					if err != nil {
						t.Fatalf("err = %v, want accepted", err)
					}
					return
				}
				if errs.KindOf(err) != errs.Unauthorized {
					t.Fatalf("err = %v (kind %v), want unauthorized", err, errs.KindOf(err))
				}
				// Without delay the middleware's own JSON body; with it,
				// Glance's error page.
				var resp *auth.Response
				if got := errors.As(err, &resp); got == delay {
					t.Errorf("keystonemiddleware body: %v, want %v", got, !delay)
				}
			})
		}
		if got, want := a.Challenge(), `Keystone uri="`+ks.URL+`"`; got != want {
			t.Errorf("Challenge() = %q, want %q", got, want)
		}
	}
}

func TestServiceToken(t *testing.T) {
	ks := keystonetest.Start(t)
	user := ks.Token(t, "alpha-member")
	svc := ks.Token(t, "glint") // holds the service role
	t.Run("valid", func(t *testing.T) {
		a, _, _ := newAuth(t, ks, func(o *Options) { o.ServiceTokenRolesRequired = true })
		c, err := a.Authenticate(context.Background(), request("X-Auth-Token", user, "X-Service-Token", svc))
		if err != nil || c.ProjectID != ks.ProjectID("alpha") {
			t.Fatalf("got %+v, %v", c, err)
		}
	})
	t.Run("without the roles", func(t *testing.T) {
		other := ks.Token(t, "beta-member")
		a, _, _ := newAuth(t, ks, nil)
		if _, err := a.Authenticate(context.Background(), request("X-Auth-Token", user, "X-Service-Token", other)); err != nil {
			t.Errorf("roles not required: %v", err)
		}
		a, _, _ = newAuth(t, ks, func(o *Options) { o.ServiceTokenRolesRequired = true })
		if _, err := a.Authenticate(context.Background(), request("X-Auth-Token", user, "X-Service-Token", other)); errs.KindOf(err) != errs.Unauthorized {
			t.Errorf("roles required: err = %v, want unauthorized", err)
		}
	})
}

func TestCache(t *testing.T) {
	ks := keystonetest.Start(t)
	a, cnt, clk := newAuth(t, ks, func(o *Options) { o.CacheTime = time.Minute })
	tok := ks.Token(t, "alpha-member")
	for range 3 {
		if _, err := a.Authenticate(context.Background(), request("X-Auth-Token", tok)); err != nil {
			t.Fatal(err)
		}
	}
	if n := cnt.validations.Load(); n != 1 {
		t.Fatalf("3 requests made %d validations, want 1 (cached)", n)
	}
	if n := cnt.logins.Load(); n != 1 {
		t.Fatalf("%d service logins, want 1", n)
	}
	clk.Add(time.Minute)
	if _, err := a.Authenticate(context.Background(), request("X-Auth-Token", tok)); err != nil {
		t.Fatal(err)
	}
	if n := cnt.validations.Load(); n != 2 {
		t.Fatalf("after the cache time: %d validations, want 2", n)
	}

	t.Run("disabled", func(t *testing.T) {
		a, cnt, _ := newAuth(t, ks, func(o *Options) { o.CacheTime = TokenCacheTime(-1); o.RevocationInterval = time.Millisecond })
		for range 2 {
			if _, err := a.Authenticate(context.Background(), request("X-Auth-Token", tok)); err != nil {
				t.Fatal(err)
			}
		}
		if n := cnt.validations.Load(); n != 2 {
			t.Fatalf("%d validations with token_cache_time -1, want 2", n)
		}
		// Nothing is cached, so there is nothing to revoke.
		if a.rev != nil || a.polling.Load() {
			t.Error("revocation events are followed without a cache")
		}
	})
	t.Run("until expiry", func(t *testing.T) {
		// token_cache_time = 0, read as keystonemiddleware reads it.
		a, cnt, clk := newAuth(t, ks, func(o *Options) { o.CacheTime = TokenCacheTime(0) })
		tok := ks.Token(t, "alpha-reader")
		for _, d := range []time.Duration{0, time.Minute, 58 * time.Minute} {
			clk.Add(d)
			if _, err := a.Authenticate(context.Background(), request("X-Auth-Token", tok)); err != nil {
				t.Fatal(err)
			}
		}
		if n := cnt.validations.Load(); n != 1 {
			t.Fatalf("%d validations within the token's hour, want 1", n)
		}
		clk.Add(2 * time.Minute) // keystone.sh issues one-hour tokens
		if _, err := a.Authenticate(context.Background(), request("X-Auth-Token", tok)); errs.KindOf(err) != errs.Unauthorized {
			t.Fatalf("after the token's expiry: err = %v, want unauthorized", err)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		a, cnt, _ := newAuth(t, ks, func(o *Options) { o.CacheSize = 2 })
		toks := []string{ks.Token(t, "alpha-member"), ks.Token(t, "alpha-reader"), ks.Token(t, "beta-member")}
		for _, tk := range append(toks, toks[2], toks[0]) {
			if _, err := a.Authenticate(context.Background(), request("X-Auth-Token", tk)); err != nil {
				t.Fatal(err)
			}
		}
		// toks[2] was cached, toks[0] had been evicted by the third.
		if n, l := cnt.validations.Load(), a.cache.len(); n != 4 || l != 2 {
			t.Fatalf("%d validations and %d cached, want 4 and 2", n, l)
		}
	})
}

// A token past its expiry is refused even while cached.
func TestExpiry(t *testing.T) {
	ks := keystonetest.Start(t)
	a, cnt, clk := newAuth(t, ks, func(o *Options) { o.CacheTime = 24 * time.Hour })
	tok := ks.Token(t, "alpha-member")
	if _, err := a.Authenticate(context.Background(), request("X-Auth-Token", tok)); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour + time.Second) // keystone.sh issues one-hour tokens
	_, err := a.Authenticate(context.Background(), request("X-Auth-Token", tok))
	if errs.KindOf(err) != errs.Unauthorized {
		t.Fatalf("expired token: err = %v, want unauthorized", err)
	}
	// The service token expired too, so Glint logged in again.
	if n := cnt.logins.Load(); n != 2 {
		t.Errorf("%d service logins, want 2", n)
	}
}

// A cached token revoked in Keystone (DELETE /v3/auth/tokens) is refused
// within a few revocation intervals, while the other cached tokens stay
// cached.
func TestRevocation(t *testing.T) {
	ks := keystonetest.Start(t)
	const interval = time.Second
	a, cnt, _ := newAuth(t, ks, func(o *Options) { o.CacheTime = 5 * time.Minute; o.RevocationInterval = interval })
	tok, other := ks.Token(t, "beta-member"), ks.Token(t, "alpha-member")
	for _, tk := range []string{tok, other, tok} {
		if _, err := a.Authenticate(context.Background(), request("X-Auth-Token", tk)); err != nil {
			t.Fatal(err)
		}
	}
	if n := cnt.validations.Load(); n != 2 {
		t.Fatalf("%d validations, want 2 (the tokens are cached)", n)
	}
	ks.Revoke(t, tok)
	revoked := time.Now()
	// The clock of the cache stands still, so only the revocation events
	// can end the entry. The bound is wide because the suite's Keystone
	// (one uwsgi worker) takes seconds per request on a loaded machine;
	// the time it took is logged.
	for {
		_, err := a.Authenticate(context.Background(), request("X-Auth-Token", tok))
		if err == nil {
			if time.Since(revoked) > 30*interval {
				t.Fatalf("the revoked token is still accepted %v after its revocation (revocation interval %v)", time.Since(revoked), interval)
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if errs.KindOf(err) != errs.Unauthorized {
			t.Fatalf("revoked token: err = %v, want unauthorized", err)
		}
		t.Logf("revoked token refused %v after its revocation (revocation interval %v)", time.Since(revoked).Round(time.Millisecond), interval)
		break
	}
	n := cnt.validations.Load()
	if _, err := a.Authenticate(context.Background(), request("X-Auth-Token", other)); err != nil {
		t.Fatal(err)
	}
	if m := cnt.validations.Load(); m != n {
		t.Errorf("the token that was not revoked went back to Keystone (%d validations, want %d)", m, n)
	}
}

// Without the revocation check, or when Glint's user may not read the
// revocation events, a revoked token keeps working until its cache entry
// ends, as with keystonemiddleware: token_cache_time bounds it.
func TestRevocationCacheTime(t *testing.T) {
	ks := keystonetest.Start(t)
	for _, tc := range []struct {
		name string
		mod  func(*Options)
		warn bool // a warning says the events cannot be read
	}{
		{"check off", func(o *Options) {}, false},
		// A member may not list revocation events (403), but may validate
		// its own tokens, so it can stand in for Glint's user.
		{"403 on the events", func(o *Options) {
			o.RevocationInterval = 50 * time.Millisecond
			o.Username, o.Password, o.ProjectName = "beta-member", ks.Password("beta-member"), "beta"
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuffer
			a, _, clk := newAuth(t, ks, func(o *Options) {
				o.CacheTime = 5 * time.Minute
				o.Log = slog.New(slog.NewTextHandler(&logs, nil))
				tc.mod(o)
			})
			tok := ks.Token(t, "beta-member")
			if _, err := a.Authenticate(context.Background(), request("X-Auth-Token", tok)); err != nil {
				t.Fatal(err)
			}
			ks.Revoke(t, tok)
			if tc.warn {
				waitFor(t, func() bool { return logs.count("cannot fetch Keystone's revocation events") > 0 })
				time.Sleep(200 * time.Millisecond) // a few more failed fetches
				if n := logs.count("cannot fetch Keystone's revocation events"); n != 1 {
					t.Errorf("the outage was logged %d times, want once", n)
				}
			}
			if _, err := a.Authenticate(context.Background(), request("X-Auth-Token", tok)); err != nil {
				t.Fatalf("within the cache time the cached answer stands: %v", err)
			}
			clk.Add(5 * time.Minute)
			if _, err := a.Authenticate(context.Background(), request("X-Auth-Token", tok)); errs.KindOf(err) != errs.Unauthorized {
				t.Fatalf("revoked token after the cache time: err = %v, want unauthorized", err)
			}
		})
	}
}

// Glint logs in again when Keystone rejects its service token.
func TestServiceTokenRenewal(t *testing.T) {
	ks := keystonetest.Start(t)
	a, cnt, _ := newAuth(t, ks, func(o *Options) { o.CacheTime = -1 })
	tok := ks.Token(t, "alpha-reader")
	if _, err := a.Authenticate(context.Background(), request("X-Auth-Token", tok)); err != nil {
		t.Fatal(err)
	}
	ks.Revoke(t, a.svcToken) // as if it had been revoked or its key rotated away
	if _, err := a.Authenticate(context.Background(), request("X-Auth-Token", tok)); err != nil {
		t.Fatalf("after the service token was revoked: %v", err)
	}
	if l, v := cnt.logins.Load(), cnt.validations.Load(); l != 2 || v != 3 {
		t.Errorf("%d logins and %d validations, want 2 and 3", l, v)
	}
}

func TestKeystoneDown(t *testing.T) {
	ks := keystonetest.Start(t)
	tok := ks.Token(t, "alpha-member")
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	a, _, _ := newAuth(t, ks, func(o *Options) { o.AuthURL = url; o.MaxRetries = 1 })
	_, err := a.Authenticate(context.Background(), request("X-Auth-Token", tok))
	if errs.KindOf(err) != errs.Unavailable {
		t.Fatalf("err = %v (kind %v), want unavailable (503)", err, errs.KindOf(err))
	}
	// Glance, with delay_auth_decision, answers 401 instead.
	a, _, _ = newAuth(t, ks, func(o *Options) { o.AuthURL = url; o.DelayAuthDecision = true })
	_, err = a.Authenticate(context.Background(), request("X-Auth-Token", tok))
	if errs.KindOf(err) != errs.Unauthorized {
		t.Fatalf("delay_auth_decision: err = %v (kind %v), want unauthorized", err, errs.KindOf(err))
	}
	t.Run("bad service credentials", func(t *testing.T) {
		a, _, _ := newAuth(t, ks, func(o *Options) { o.Password = "wrong" })
		_, err := a.Authenticate(context.Background(), request("X-Auth-Token", tok))
		if errs.KindOf(err) != errs.Unavailable {
			t.Fatalf("err = %v, want unavailable (503)", err)
		}
		if a.Check(context.Background()) == nil {
			t.Error("Check accepted wrong credentials")
		}
	})
}

// Concurrent requests with one new token make one validation.
func TestSingleflight(t *testing.T) {
	ks := keystonetest.Start(t)
	a, cnt, _ := newAuth(t, ks, nil)
	if err := a.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	tok := ks.Token(t, "alpha-member")
	cnt.hold = make(chan struct{})
	const n = 8
	var wg sync.WaitGroup
	errc := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := a.Authenticate(context.Background(), request("X-Auth-Token", tok))
			errc <- err
		})
	}
	// Release when the callers could all have made their own call (then
	// the count shows it at once) or after a while; either way a caller
	// that arrives after the release finds the token cached.
	deadline := time.After(2 * time.Second)
	for cnt.validations.Load() < n {
		select {
		case <-deadline:
		case <-time.After(10 * time.Millisecond):
			continue
		}
		break
	}
	close(cnt.hold)
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	if v := cnt.validations.Load(); v != 1 {
		t.Fatalf("%d concurrent requests made %d validations, want 1", n, v)
	}
}
