package keystone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"glint/internal/errs"
)

// Revocation events. keystonemiddleware trusts a cached token for
// token_cache_time even after Keystone revoked it (its old revocation-list
// check is gone). Glint follows Keystone's revocation events
// (GET /v3/OS-REVOKE/events) instead: every RevocationInterval it fetches
// the new ones and drops the cached tokens they name, which then go back
// to Keystone and get its 404.

// sinceOverlap is how far before the latest revoked_at seen Glint asks for
// events again. Keystone stores revoked_at to the second and answers only
// events strictly after since, so an event revoked later in the same
// second as the last one seen would otherwise be missed; the overlap also
// covers a write committed a little after a later one. Events seen twice
// are recognised and skipped.
const sinceOverlap = 10 * time.Second

// revokeEvent is one revocation event. Each field it sets narrows the
// tokens it revokes; a token matches when it agrees with every one of them
// and was issued no later than IssuedBefore.
type revokeEvent struct {
	UserID        string `json:"user_id"`
	ProjectID     string `json:"project_id"`
	RoleID        string `json:"role_id"`
	DomainID      string `json:"domain_id"`       // the user's domain or the token's scope
	DomainScopeID string `json:"domain_scope_id"` // a domain-scoped token (Keystone sends it with expires_at)
	AuditID       string `json:"audit_id"`
	AuditChainID  string `json:"audit_chain_id"`
	TrustID       string `json:"OS-TRUST:trust_id"`
	ConsumerID    string `json:"OS-OAUTH1:consumer_id"`
	// Keystone's own matcher ignores the access token id, so Glint does
	// too: matching on it would keep tokens Keystone refuses.
	AccessTokenID string `json:"OS-OAUTH1:access_token_id"`
	ExpiresAt     string `json:"expires_at"`
	IssuedBefore  string `json:"issued_before"`
	RevokedAt     string `json:"revoked_at"`

	expires      time.Time // zero: any expiry
	issuedBefore time.Time // zero: any issue time
	revokedAt    time.Time // zero when unreadable: then it does not move since
	key          string    // the event's identity, to skip one seen twice
}

// parseEvents decodes Keystone's answer, {"events": [...], "links": ...}.
func parseEvents(body []byte) ([]revokeEvent, error) {
	var doc struct {
		Events *[]revokeEvent `json:"events"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decoding revocation events: %w", err)
	}
	if doc.Events == nil {
		return nil, errors.New("no events in the response")
	}
	evs := *doc.Events
	for i := range evs {
		e := &evs[i]
		k, _ := json.Marshal(e)
		e.key = string(k)
		// Keystone always sends issued_before and revoked_at. Where a time
		// cannot be read it stays zero and the event is taken in its
		// widest sense: a token dropped by mistake only goes back to
		// Keystone once, a token kept by mistake stays usable.
		e.revokedAt, _ = parseTime(e.RevokedAt)
		e.issuedBefore, _ = parseTime(e.IssuedBefore)
		e.expires, _ = parseTime(e.ExpiresAt)
	}
	return evs, nil
}

// parseTime reads Keystone's timestamps: 2026-11-22T10:00:00.000000Z, with
// or without the fraction, and without a zone meaning UTC.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("no time")
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02T15:04:05.999999999", s)
}

// matches applies Keystone's own rules (keystone/models/revoke_model.py
// and the revoke SQL backend's query, Keystone 22), so a token is dropped
// exactly when Keystone would now refuse it. One rule is wider: Keystone
// matches domain_id against the user's domain and a domain scope only, and
// Glint also against a project scope's domain; at worst that sends a valid
// token back to Keystone once.
func (e *revokeEvent) matches(t *token) bool {
	if !e.issuedBefore.IsZero() && e.issuedBefore.Before(t.issued) {
		return false // issued after the event: a new token, not revoked
	}
	if e.UserID != "" && e.UserID != t.User.ID && (t.Trust == nil ||
		(e.UserID != t.Trust.TrustorUser.ID && e.UserID != t.Trust.TrusteeUser.ID)) {
		return false
	}
	if e.ProjectID != "" && (t.Project == nil || e.ProjectID != t.Project.ID) {
		return false
	}
	if e.AuditID != "" && e.AuditID != t.auditID() {
		return false
	}
	if e.AuditChainID != "" && e.AuditChainID != t.parentAuditID() {
		return false
	}
	if e.DomainID != "" && e.DomainID != t.User.Domain.ID && e.DomainID != t.scopeDomainID() &&
		(t.Project == nil || e.DomainID != t.Project.Domain.ID) {
		return false
	}
	if e.DomainScopeID != "" && e.DomainScopeID != t.scopeDomainID() {
		return false
	}
	// Keystone compares expiries to the second: MySQL keeps no more.
	if !e.expires.IsZero() && !e.expires.Truncate(time.Second).Equal(t.expires.Truncate(time.Second)) {
		return false
	}
	if e.RoleID != "" && !t.hasRoleID(e.RoleID) {
		return false
	}
	if e.TrustID != "" && (t.Trust == nil || e.TrustID != t.Trust.ID) {
		return false
	}
	if e.ConsumerID != "" && (t.OAuth1 == nil || e.ConsumerID != t.OAuth1.ConsumerID) {
		return false
	}
	return true
}

func (t *token) auditID() string {
	if len(t.AuditIDs) > 0 {
		return t.AuditIDs[0]
	}
	return ""
}

// parentAuditID is the audit id of the token this one was rescoped from,
// which Keystone's audit_chain_id names.
func (t *token) parentAuditID() string {
	if len(t.AuditIDs) > 1 {
		return t.AuditIDs[1]
	}
	return ""
}

func (t *token) hasRoleID(id string) bool {
	for _, r := range t.Roles {
		if r.ID == id {
			return true
		}
	}
	return false
}

func (t *token) scopeDomainID() string {
	if t.Domain != nil {
		return t.Domain.ID
	}
	return ""
}

// eventSet indexes new events for a sweep over the cache: most events
// revoke one token by its audit id, so those are looked up, and the few
// others are tried in turn.
type eventSet struct {
	byAudit map[string][]*revokeEvent
	other   []*revokeEvent
}

func newEventSet(evs []*revokeEvent) eventSet {
	s := eventSet{byAudit: map[string][]*revokeEvent{}}
	for _, e := range evs {
		if e.AuditID != "" {
			s.byAudit[e.AuditID] = append(s.byAudit[e.AuditID], e)
		} else {
			s.other = append(s.other, e)
		}
	}
	return s
}

func (s eventSet) matches(t *token) bool {
	for _, e := range s.byAudit[t.auditID()] {
		if e.matches(t) {
			return true
		}
	}
	for _, e := range s.other {
		if e.matches(t) {
			return true
		}
	}
	return false
}

// revocations applies revocation events to the token cache.
//
// Every event is applied once, when it arrives: the cached tokens it
// matches are dropped. A validation that was already on its way to
// Keystone may bring back an answer Keystone gave before the revocation,
// so a validation notes the event count (seq) when it starts, and its
// token is cached only if no event applied since matches it. Events are
// kept only while such a validation is in flight; after that no cached
// entry can need them, whatever the cache time, so nothing older than the
// longest validation is held.
type revocations struct {
	fetch sync.Mutex // one fetch at a time

	mu       sync.Mutex // guards the rest; taken before the cache's lock
	seq      uint64     // events applied so far
	held     []heldEvent
	inflight map[uint64]int       // validations in flight, by the seq they started at
	latest   time.Time            // latest revoked_at seen (Keystone's clock)
	seen     map[string]time.Time // events within sinceOverlap of latest, by key
	failing  bool                 // the last fetch failed
	failedAt time.Time            // when the current outage began
}

type heldEvent struct {
	seq uint64
	ev  *revokeEvent
}

func newRevocations() *revocations {
	return &revocations{inflight: map[uint64]int{}, seen: map[string]time.Time{}}
}

// begin records a validation about to ask Keystone.
func (r *revocations) begin() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inflight[r.seq]++
	return r.seq
}

// end records that the validation begun at start is over.
func (r *revocations) end(start uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inflight[start]--; r.inflight[start] <= 0 {
		delete(r.inflight, start)
	}
	r.release()
}

// release forgets the held events that no validation in flight predates.
func (r *revocations) release() {
	oldest := r.seq
	for s := range r.inflight {
		oldest = min(oldest, s)
	}
	r.held = slices.DeleteFunc(r.held, func(h heldEvent) bool { return h.seq <= oldest })
}

// put caches t with store unless an event applied since its validation
// began matches it, and reports whether it did.
func (r *revocations) put(start uint64, t *token, store func()) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range r.held {
		if h.seq > start && h.ev.matches(t) {
			return false
		}
	}
	store()
	return true
}

// since is the since parameter of the next fetch; zero means all events.
func (r *revocations) since() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.latest.IsZero() {
		return time.Time{}
	}
	return r.latest.Add(-sinceOverlap)
}

// apply drops the cached tokens that the events not seen before match. It
// returns how many events were new and how many tokens were dropped.
func (r *revocations) apply(evs []revokeEvent, c *tokenCache) (fresh, dropped int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var add []*revokeEvent
	for i := range evs {
		e := &evs[i]
		if _, ok := r.seen[e.key]; ok {
			continue
		}
		r.seen[e.key] = e.revokedAt
		if e.revokedAt.After(r.latest) {
			r.latest = e.revokedAt
		}
		add = append(add, e)
	}
	for k, at := range r.seen {
		if at.Before(r.latest.Add(-sinceOverlap)) {
			delete(r.seen, k)
		}
	}
	if len(add) == 0 {
		return 0, 0
	}
	for _, e := range add {
		r.seq++
		if len(r.inflight) > 0 {
			r.held = append(r.held, heldEvent{seq: r.seq, ev: e})
		}
	}
	set := newEventSet(add)
	return len(add), c.drop(set.matches)
}

// failed records a failed fetch at now and reports whether it is the first
// of an outage.
func (r *revocations) failed(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failing {
		return false
	}
	r.failing, r.failedAt = true, now
	return true
}

// recovered records a successful fetch and reports whether it ends an
// outage, and when that began.
func (r *revocations) recovered() (bool, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	was := r.failing
	r.failing = false
	return was, r.failedAt
}

// refreshRevocations fetches the events Keystone recorded since the last
// fetch and drops the cached tokens they revoke. When Keystone cannot
// answer, cached tokens keep their normal lifetime; the first failure of
// an outage is logged, and its end.
func (a *Authenticator) refreshRevocations(ctx context.Context) error {
	r := a.rev
	r.fetch.Lock()
	defer r.fetch.Unlock()
	evs, err := a.fetchEvents(ctx, r.since())
	if err != nil {
		if ctx.Err() != nil {
			return err // closing, not an outage
		}
		if r.failed(a.now()) {
			a.log.WarnContext(ctx, "cannot fetch Keystone's revocation events; cached tokens stay trusted for token_cache_time until it works again",
				"err", err)
		}
		return err
	}
	if ended, began := r.recovered(); ended {
		a.log.InfoContext(ctx, "fetching Keystone's revocation events again", "failing_for", a.now().Sub(began).Round(time.Second))
	}
	fresh, dropped := r.apply(evs, a.cache)
	if dropped > 0 {
		a.log.InfoContext(ctx, "dropped cached tokens that Keystone revoked", "tokens", dropped, "new_events", fresh)
	}
	return nil
}

// fetchEvents asks Keystone for its revocation events, all of them or
// those revoked after since. The call needs the admin or service role
// (policy identity:list_revoke_events), which Glint's service user has
// when set up as Glance's is.
func (a *Authenticator) fetchEvents(ctx context.Context, since time.Time) ([]revokeEvent, error) {
	const op = errs.Op("keystone.revocationEvents")
	path := "/OS-REVOKE/events"
	if !since.IsZero() {
		path += "?since=" + url.QueryEscape(since.UTC().Format("2006-01-02T15:04:05.000000Z"))
	}
	for attempt := 0; ; attempt++ {
		svc, err := a.serviceToken(ctx, attempt > 0)
		if err != nil {
			return nil, err
		}
		// The next fetch is seconds away, when servers have usually closed
		// an idle connection, and one held open ties up a worker of a
		// Keystone that serves one connection at a time (uwsgi with
		// keep-alive): the poller would starve the validations.
		resp, body, err := a.do(ctx, http.MethodGet, path, nil, map[string]string{"X-Auth-Token": svc, "Connection": "close"})
		if err != nil {
			return nil, errs.E(op, errs.Unavailable, err)
		}
		switch resp.StatusCode {
		case http.StatusOK:
			evs, err := parseEvents(body)
			if err != nil {
				return nil, errs.E(op, errs.Unavailable, err)
			}
			return evs, nil
		case http.StatusUnauthorized:
			if attempt == 0 {
				continue // Glint's token went stale: log in again
			}
		case http.StatusForbidden:
			return nil, errs.E(op, errs.Forbidden, fmt.Errorf("keystone answered 403: user %s lacks the admin or service role that listing revocation events needs", a.opt.Username))
		}
		return nil, errs.E(op, errs.Unavailable, fmt.Errorf("keystone answered %d: %s", resp.StatusCode, snippet(body)))
	}
}

// startPolling starts the goroutine that follows revocation events, once,
// when the first token is cached: until then there is nothing to revoke.
func (a *Authenticator) startPolling() {
	if a.polling.Load() {
		return
	}
	a.pollMu.Lock()
	defer a.pollMu.Unlock()
	if a.polling.Load() || a.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.stopPoll, a.pollDone = cancel, make(chan struct{})
	a.polling.Store(true)
	go a.poll(ctx)
}

// poll fetches revocation events at once and then RevocationInterval
// after each fetch ends (not on a ticker, which would fetch back to back
// from a Keystone slower than the interval), skipping the fetch while the
// cache is empty: the next one asks for everything since the last, so
// nothing is missed.
func (a *Authenticator) poll(ctx context.Context) {
	defer close(a.pollDone)
	wait := time.NewTimer(0)
	defer wait.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wait.C:
		}
		if a.cache.len() > 0 {
			_ = a.refreshRevocations(ctx) // logged there; the cache stands
		}
		wait.Reset(a.opt.RevocationInterval)
	}
}

// Close stops following revocation events and waits for the goroutine
// that does it. The Authenticator still validates tokens afterwards, with
// keystonemiddleware's cache behaviour.
func (a *Authenticator) Close() {
	a.pollMu.Lock()
	a.closed = true
	stop, done := a.stopPoll, a.pollDone
	a.pollMu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}
