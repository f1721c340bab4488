package keystone

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"glint/internal/errs"
)

// stubToken is a Keystone token body with the fields revocation events
// are matched against.
type stubToken struct {
	user, userDomain  string
	project, pDomain  string // project scope
	domain            string // domain scope
	roles             []string
	audit             []string
	issued, expires   time.Time
	trustor, trustee  string // trust scope when trust is set
	trust, consumerID string
}

func (s stubToken) body() string {
	tok := map[string]any{
		"user":       map[string]any{"id": s.user, "name": s.user, "domain": map[string]string{"id": s.userDomain}},
		"audit_ids":  s.audit,
		"issued_at":  s.issued.UTC().Format("2006-01-02T15:04:05.000000Z"),
		"expires_at": s.expires.UTC().Format("2006-01-02T15:04:05.000000Z"),
	}
	if s.project != "" {
		tok["project"] = map[string]any{"id": s.project, "name": s.project, "domain": map[string]string{"id": s.pDomain}}
	}
	if s.domain != "" {
		tok["domain"] = map[string]string{"id": s.domain, "name": s.domain}
	}
	var roles []map[string]string
	for _, r := range s.roles {
		roles = append(roles, map[string]string{"id": "id-" + r, "name": r})
	}
	tok["roles"] = roles
	if s.trust != "" {
		tok["OS-TRUST:trust"] = map[string]any{"id": s.trust, "impersonation": false,
			"trustor_user": map[string]string{"id": s.trustor}, "trustee_user": map[string]string{"id": s.trustee}}
	}
	if s.consumerID != "" {
		tok["OS-OAUTH1"] = map[string]string{"consumer_id": s.consumerID, "access_token_id": "at"}
	}
	b, _ := json.Marshal(map[string]any{"token": tok})
	return string(b)
}

func (s stubToken) parsed(t *testing.T) *token {
	t.Helper()
	tok, err := parseToken([]byte(s.body()))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

var (
	issued  = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	expires = issued.Add(time.Hour)
)

// Keystone's rules: every field an event sets must agree with the token,
// and the token must have been issued no later than issued_before.
func TestRevokeEventMatches(t *testing.T) {
	base := stubToken{user: "u1", userDomain: "d-user", project: "p1", pDomain: "d-proj", roles: []string{"member", "reader"},
		audit: []string{"a1"}, issued: issued, expires: expires}
	rescoped := base
	rescoped.audit = []string{"a2", "a1"}
	domainScoped := base
	domainScoped.project, domainScoped.domain = "", "d-scope"
	trust := base
	trust.user, trust.trust, trust.trustor, trust.trustee = "u3", "t1", "u1", "u3"
	oauth := base
	oauth.consumerID = "c1"
	at := func(d time.Duration) string { return issued.Add(d).Format("2006-01-02T15:04:05.000000Z") }
	for _, tc := range []struct {
		name  string
		event string // JSON fields, without issued_before unless given
		tok   stubToken
		want  bool
	}{
		{"audit id", `"audit_id": "a1"`, base, true},
		{"another audit id", `"audit_id": "a9"`, base, false},
		{"audit id of the parent", `"audit_id": "a1"`, rescoped, false},
		{"issued before the event", `"audit_id": "a1", "issued_before": "` + at(time.Second) + `"`, base, true},
		{"issued in the event's second", `"audit_id": "a1", "issued_before": "` + at(0) + `"`, base, true},
		{"issued after the event", `"user_id": "u1", "issued_before": "` + at(-time.Second) + `"`, base, false},
		{"audit chain", `"audit_chain_id": "a1"`, rescoped, true},
		{"audit chain of an original token", `"audit_chain_id": "a1"`, base, false},
		{"user", `"user_id": "u1"`, base, true},
		{"another user", `"user_id": "u2"`, base, false},
		{"user as trustor", `"user_id": "u1"`, trust, true},
		{"user as trustee", `"user_id": "u3"`, trust, true},
		{"project", `"project_id": "p1"`, base, true},
		{"another project", `"project_id": "p2"`, base, false},
		{"project of an unscoped token", `"project_id": "p1"`, domainScoped, false},
		{"user and project", `"user_id": "u1", "project_id": "p1"`, base, true},
		{"user and another project", `"user_id": "u1", "project_id": "p2"`, base, false},
		{"role", `"role_id": "id-reader"`, base, true},
		{"role not held", `"role_id": "id-admin"`, base, false},
		{"user's domain", `"domain_id": "d-user"`, base, true},
		{"project's domain", `"domain_id": "d-proj"`, base, true},
		{"domain scope as domain", `"domain_id": "d-scope"`, domainScoped, true},
		{"another domain", `"domain_id": "d-other"`, base, false},
		{"domain-scoped token", `"domain_scope_id": "d-scope", "expires_at": "` + expires.Format(time.RFC3339) + `"`, domainScoped, true},
		{"domain-scoped token, other expiry", `"domain_scope_id": "d-scope", "expires_at": "` + expires.Add(time.Second).Format(time.RFC3339) + `"`, domainScoped, false},
		{"domain scope of a project token", `"domain_scope_id": "d-proj"`, base, false},
		{"trust", `"OS-TRUST:trust_id": "t1"`, trust, true},
		{"trust of a token without one", `"OS-TRUST:trust_id": "t1"`, base, false},
		{"oauth consumer", `"OS-OAUTH1:consumer_id": "c1"`, oauth, true},
		{"oauth consumer of a token without one", `"OS-OAUTH1:consumer_id": "c1"`, base, false},
		// Keystone ignores the access token id; so does Glint.
		{"oauth access token", `"OS-OAUTH1:consumer_id": "c1", "OS-OAUTH1:access_token_id": "other"`, oauth, true},
		// Unreadable times are read in the event's widest sense.
		{"unreadable issued_before", `"audit_id": "a1", "issued_before": "yesterday"`, base, true},
		{"unreadable expires_at", `"domain_scope_id": "d-scope", "expires_at": "soon"`, domainScoped, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.event
			if !strings.Contains(ev, "issued_before") {
				ev += `, "issued_before": "` + at(time.Minute) + `"`
			}
			evs, err := parseEvents([]byte(`{"events": [{` + ev + `, "revoked_at": "` + at(time.Minute) + `"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			if got := evs[0].matches(tc.tok.parsed(t)); got != tc.want {
				t.Errorf("matches = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseEvents(t *testing.T) {
	// As Keystone 22 answers.
	body := `{"events": [{"audit_id": "SDmjlztpQsCDzp0ha0wK6g", "issued_before": "2026-12-07T11:04:33.000000Z", "revoked_at": "2026-12-07T11:04:33.000000Z"}],
		"links": {"next": null, "self": "http://127.0.0.1:5000/v3/OS-REVOKE/events", "previous": null}}`
	evs, err := parseEvents([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 12, 7, 11, 4, 33, 0, time.UTC)
	if len(evs) != 1 || evs[0].AuditID != "SDmjlztpQsCDzp0ha0wK6g" || !evs[0].revokedAt.Equal(want) || !evs[0].issuedBefore.Equal(want) {
		t.Errorf("events = %+v", evs)
	}
	if evs, err := parseEvents([]byte(`{"events": []}`)); err != nil || len(evs) != 0 {
		t.Errorf("empty list: %v, %v", evs, err)
	}
	for _, bad := range []string{``, `{}`, `{"events": null}`, `{"events": {}}`, `[]`, `<html>`} {
		if _, err := parseEvents([]byte(bad)); err == nil {
			t.Errorf("parseEvents(%q) accepted it", bad)
		}
	}
}

func TestTokenCacheTime(t *testing.T) {
	for _, tc := range []struct {
		seconds int
		want    time.Duration
	}{
		{-1, -1},
		{0, CacheUntilExpiry},
		{1, time.Second},
		{300, 5 * time.Minute},
	} {
		if got := TokenCacheTime(tc.seconds); got != tc.want {
			t.Errorf("TokenCacheTime(%d) = %v, want %v", tc.seconds, got, tc.want)
		}
	}
}

// stubKeystone answers Glint's login, token validations and revocation
// events from what a test set.
type stubKeystone struct {
	srv *httptest.Server

	mu       sync.Mutex
	tokens   map[string]stubToken // by token
	revoked  map[string]bool
	events   []string // JSON objects
	status   int      // events answer when not 0
	body     string   // events body when not ""
	down     bool     // the events cannot be reached at all
	sinces   []string
	holdTok  string        // validations of this token wait for release
	release  chan struct{} // closed to let them go
	reached  chan struct{} // gets a value when one waits
	eventsN  atomic.Int64
	validate atomic.Int64
	expired  atomic.Int64 // validations with allow_expired=true
	logins   atomic.Int64
	svcLife  time.Duration // of Glint's own tokens; 0 means an hour
}

// stubWindow is the stub's allow_expired_window, Keystone's default.
const stubWindow = 48 * time.Hour

func newStub(t *testing.T) *stubKeystone {
	s := &stubKeystone{tokens: map[string]stubToken{}, revoked: map[string]bool{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *stubKeystone) serve(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	switch {
	case r.URL.Path == "/v3/auth/tokens" && r.Method == http.MethodPost:
		s.logins.Add(1)
		life := s.svcLife
		if life == 0 {
			life = time.Hour
		}
		w.Header().Set("X-Subject-Token", "svc")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, stubToken{user: "glint", audit: []string{"svc"}, issued: now, expires: now.Add(life)}.body())
	case r.URL.Path == "/v3/auth/tokens" && r.Method == http.MethodGet:
		s.validate.Add(1)
		allowExpired := r.URL.Query().Get("allow_expired") == "true"
		if allowExpired {
			s.expired.Add(1)
		}
		if r.Header.Get("X-Auth-Token") != "svc" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		subject := r.Header.Get("X-Subject-Token")
		s.mu.Lock()
		hold, release, reached := s.holdTok == subject, s.release, s.reached
		s.mu.Unlock()
		if hold {
			reached <- struct{}{}
			<-release
		}
		s.mu.Lock()
		tok, ok := s.tokens[subject]
		if hold { // answer as Keystone did before the revocation
			ok = true
		} else if s.revoked[subject] {
			ok = false
		}
		// Keystone refuses an expired token, unless asked with
		// allow_expired within its window.
		window := time.Duration(0)
		if allowExpired {
			window = stubWindow
		}
		if ok && !now.Before(tok.expires.Add(window)) {
			ok = false
		}
		s.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		fmt.Fprint(w, tok.body())
	case r.URL.Path == "/v3/OS-REVOKE/events":
		s.eventsN.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.sinces = append(s.sinces, r.URL.Query().Get("since"))
		if r.Header.Get("X-Auth-Token") != "svc" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if s.status != 0 {
			w.WriteHeader(s.status)
		}
		if s.body != "" {
			fmt.Fprint(w, s.body)
			return
		}
		// Keystone answers every event, or those revoked after since; the
		// stub's events are all "revoked" now, so it ignores since.
		fmt.Fprintf(w, `{"events": [%s], "links": {}}`, strings.Join(s.events, ", "))
	default:
		http.NotFound(w, r)
	}
}

// RoundTrip refuses the connection for events while down is set.
func (s *stubKeystone) RoundTrip(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down && strings.Contains(r.URL.Path, "OS-REVOKE") {
		return nil, errors.New("connection refused")
	}
	return http.DefaultTransport.RoundTrip(r)
}

// add registers a token issued now (unless st says when) for an hour
// (unless st says until when) and returns it.
func (s *stubKeystone) add(name string, st stubToken) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.issued.IsZero() {
		st.issued = time.Now().Truncate(time.Second)
	}
	if st.expires.IsZero() {
		st.expires = st.issued.Add(time.Hour)
	}
	if st.audit == nil {
		st.audit = []string{"audit-" + name}
	}
	s.tokens[name] = st
	return name
}

// revoke revokes a token as DELETE /v3/auth/tokens does: Keystone refuses
// it and records an event with its audit id.
func (s *stubKeystone) revoke(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[name] = true
	at := time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
	s.events = append(s.events, fmt.Sprintf(`{"audit_id": %q, "issued_before": %q, "revoked_at": %q}`, s.tokens[name].audit[0], at, at))
}

// revokeUser records an event for all of a user's tokens issued so far
// (a disabled user or a changed password) and refuses them.
func (s *stubKeystone) revokeUser(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, tok := range s.tokens {
		if tok.user == user {
			s.revoked[name] = true
		}
	}
	at := time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
	s.events = append(s.events, fmt.Sprintf(`{"user_id": %q, "issued_before": %q, "revoked_at": %q}`, user, at, at))
}

func (s *stubKeystone) set(f func(s *stubKeystone)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// logBuffer collects log output written from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// waitFor polls cond for up to a minute: a bound for a stalled machine
// (the suite's Keystone, one uwsgi worker, can keep a request waiting
// for seconds), not a timing assertion.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in a minute")
		}
	}
}

// newStubAuth returns an Authenticator on stub whose poller fetches once,
// when the first token is cached, and then only when the test calls
// refreshRevocations: the interval is an hour.
func newStubAuth(t *testing.T, s *stubKeystone, logs *logBuffer, mod func(*Options)) *Authenticator {
	t.Helper()
	o := Options{AuthURL: s.srv.URL, Username: "glint", Password: "pw", CacheTime: 5 * time.Minute,
		RevocationInterval: time.Hour, ServiceTokenRoles: []string{"service"}, Transport: s, Log: slog.New(slog.DiscardHandler)}
	if logs != nil {
		o.Log = slog.New(slog.NewTextHandler(logs, nil))
	}
	if mod != nil {
		mod(&o)
	}
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

func (a *Authenticator) try(tok string) error {
	_, err := a.Authenticate(context.Background(), request("X-Auth-Token", tok))
	return err
}

// The events drop exactly the cached tokens they match, which Keystone
// then refuses; the others stay cached.
func TestRevocationEvents(t *testing.T) {
	s := newStub(t)
	a := newStubAuth(t, s, nil, nil)
	ann1 := s.add("ann-1", stubToken{user: "ann", project: "p1"})
	ann2 := s.add("ann-2", stubToken{user: "ann", project: "p2"})
	bob1 := s.add("bob-1", stubToken{user: "bob", project: "p1"})
	bob2 := s.add("bob-2", stubToken{user: "bob", project: "p1"})
	for _, tok := range []string{ann1, ann2, bob1, bob2} {
		if err := a.try(tok); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return s.eventsN.Load() > 0 }) // the poller's first fetch, when the first token was cached
	s.revoke(bob1)
	s.revokeUser("ann")
	if err := a.refreshRevocations(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := a.cache.len(); n != 1 {
		t.Errorf("%d tokens cached after the events, want 1 (bob-2)", n)
	}
	v := s.validate.Load()
	for _, tc := range []struct {
		tok string
		ok  bool
	}{{ann1, false}, {ann2, false}, {bob1, false}, {bob2, true}} {
		if err := a.try(tc.tok); (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want accepted %v", tc.tok, err, tc.ok)
		} else if err != nil && errs.KindOf(err) != errs.Unauthorized {
			t.Errorf("%s: err = %v, want unauthorized", tc.tok, err)
		}
	}
	if n := s.validate.Load() - v; n != 3 {
		t.Errorf("%d validations after the events, want 3 (the revoked tokens)", n)
	}

	// A token issued after the user's event is not touched by it.
	ann3 := s.add("ann-3", stubToken{user: "ann", project: "p1", issued: time.Now().Truncate(time.Second).Add(time.Second)})
	if err := a.try(ann3); err != nil {
		t.Fatal(err)
	}
	// The next fetch asks only for recent events (and gets the old ones
	// again from the stub, which it must skip).
	if err := a.refreshRevocations(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := a.try(ann3); err != nil {
		t.Fatal(err)
	}
	if n := s.validate.Load() - v; n != 4 {
		t.Errorf("%d validations, want 4: the new token was sent back to Keystone", n)
	}
	s.mu.Lock()
	sinces := append([]string(nil), s.sinces...)
	s.mu.Unlock()
	last := sinces[len(sinces)-1]
	since, err := time.Parse(time.RFC3339Nano, last)
	if sinces[0] != "" || err != nil || time.Since(since) < sinceOverlap-time.Second || time.Since(since) > sinceOverlap+time.Minute {
		t.Errorf("since parameters %q: want none first, then about %v before the last event", sinces, sinceOverlap)
	}
}

// When Keystone cannot give the events, cached tokens keep their normal
// lifetime, the outage is logged once, and the first fetch that works
// catches up with what was revoked meanwhile.
func TestRevocationOutage(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(s *stubKeystone)
	}{
		{"403", func(s *stubKeystone) { s.status = http.StatusForbidden; s.body = `{"error": {"code": 403}}` }},
		{"500", func(s *stubKeystone) { s.status = http.StatusInternalServerError; s.body = `oops` }},
		{"404", func(s *stubKeystone) { s.status = http.StatusNotFound; s.body = `{"error": {"code": 404}}` }},
		{"not JSON", func(s *stubKeystone) { s.body = `<html>proxy error</html>` }},
		{"unreachable", func(s *stubKeystone) { s.down = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStub(t)
			var logs logBuffer
			a := newStubAuth(t, s, &logs, func(o *Options) { o.MaxRetries = 0 })
			tok := s.add("tok", stubToken{user: "ann", project: "p1"})
			if err := a.try(tok); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { return s.eventsN.Load() > 0 })
			s.set(tc.fail)
			s.revoke(tok)
			for range 3 {
				if err := a.refreshRevocations(context.Background()); err == nil {
					t.Fatal("refreshRevocations succeeded during the outage")
				}
				if err := a.try(tok); err != nil {
					t.Fatalf("cached token during the outage: %v", err)
				}
			}
			if n := logs.count("cannot fetch Keystone's revocation events"); n != 1 {
				t.Errorf("the outage was logged %d times, want once:\n%s", n, logs.b.String())
			}
			s.set(func(s *stubKeystone) { s.status, s.body, s.down = 0, "", false })
			if err := a.refreshRevocations(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := a.try(tok); errs.KindOf(err) != errs.Unauthorized {
				t.Fatalf("after the outage: err = %v, want unauthorized", err)
			}
			if n := logs.count("fetching Keystone's revocation events again"); n != 1 {
				t.Errorf("the recovery was logged %d times, want once", n)
			}
			// A later outage is logged again.
			s.set(tc.fail)
			a.refreshRevocations(context.Background())
			if n := logs.count("cannot fetch Keystone's revocation events"); n != 2 {
				t.Errorf("two outages logged %d times, want twice", n)
			}
		})
	}
}

// Keystone's answer to a validation that was under way when the token was
// revoked is not cached, even if the event arrives before the answer.
func TestRevokedWhileValidating(t *testing.T) {
	s := newStub(t)
	a := newStubAuth(t, s, nil, nil)
	first := s.add("first", stubToken{user: "bob", project: "p1"})
	if err := a.try(first); err != nil { // starts the poller
		t.Fatal(err)
	}
	waitFor(t, func() bool { return s.eventsN.Load() > 0 })
	tok := s.add("tok", stubToken{user: "ann", project: "p1"})
	s.set(func(s *stubKeystone) {
		s.holdTok, s.release, s.reached = tok, make(chan struct{}), make(chan struct{}, 1)
	})
	errc := make(chan error, 1)
	go func() { errc <- a.try(tok) }()
	<-s.reached
	s.revoke(tok)
	if err := a.refreshRevocations(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.set(func(s *stubKeystone) { s.holdTok = "" })
	close(s.release)
	if err := <-errc; err != nil {
		t.Fatalf("the validation under way: %v (Keystone said valid)", err)
	}
	if err := a.try(tok); errs.KindOf(err) != errs.Unauthorized {
		t.Fatalf("next request: err = %v, want unauthorized (the answer must not have been cached)", err)
	}
	if err := a.try(first); err != nil {
		t.Fatal(err)
	}
	a.rev.mu.Lock()
	held, inflight := len(a.rev.held), len(a.rev.inflight)
	a.rev.mu.Unlock()
	if held != 0 || inflight != 0 {
		t.Errorf("%d events held and %d validations in flight after all ended, want 0 and 0", held, inflight)
	}
}

// The poller follows the events on its own every interval, and Close
// stops it.
func TestRevocationPoller(t *testing.T) {
	s := newStub(t)
	a := newStubAuth(t, s, nil, func(o *Options) { o.RevocationInterval = 20 * time.Millisecond })
	if a.polling.Load() {
		t.Fatal("the poller started before anything was cached")
	}
	keep := s.add("keep", stubToken{user: "bob", project: "p1"})
	tok := s.add("tok", stubToken{user: "ann", project: "p1"})
	for _, tk := range []string{keep, tok} {
		if err := a.try(tk); err != nil {
			t.Fatal(err)
		}
	}
	s.revoke(tok)
	waitFor(t, func() bool { return errs.KindOf(a.try(tok)) == errs.Unauthorized })
	n := s.eventsN.Load()
	waitFor(t, func() bool { return s.eventsN.Load() >= n+2 }) // and it goes on
	a.Close()
	n = s.eventsN.Load()
	time.Sleep(100 * time.Millisecond)
	if m := s.eventsN.Load(); m != n {
		t.Errorf("%d fetches after Close", m-n)
	}
	a.Close() // twice is fine
	if err := a.try(keep); err != nil {
		t.Errorf("after Close the cache still answers: %v", err)
	}
}

// An event fetched again (the since parameter overlaps the last fetch) is
// applied once.
func TestApplySkipsSeenEvents(t *testing.T) {
	r, c := newRevocations(), newTokenCache(10)
	at := issued.Add(time.Minute).Format(time.RFC3339)
	evs := func() []revokeEvent {
		evs, err := parseEvents([]byte(`{"events": [{"domain_id": "d-proj", "issued_before": "` + at + `", "revoked_at": "` + at + `"},
			{"audit_id": "a9", "issued_before": "` + at + `", "revoked_at": "` + at + `"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	tok := stubToken{user: "u1", project: "p1", pDomain: "d-proj", audit: []string{"a1"}, issued: issued, expires: expires}
	c.put("k", tok.parsed(t), expires)
	if fresh, dropped := r.apply(evs(), c); fresh != 2 || dropped != 1 {
		t.Fatalf("first time: %d new events and %d dropped, want 2 and 1", fresh, dropped)
	}
	c.put("k", tok.parsed(t), expires) // validated again by Keystone
	if fresh, dropped := r.apply(evs(), c); fresh != 0 || dropped != 0 {
		t.Fatalf("second time: %d new events and %d dropped, want 0 and 0", fresh, dropped)
	}
	if got, want := r.since(), issued.Add(time.Minute-sinceOverlap); !got.Equal(want) {
		t.Errorf("since = %v, want %v", got, want)
	}
}
