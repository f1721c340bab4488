// Package keystone authenticates API requests with OpenStack Keystone (the
// identity API v3), the way keystonemiddleware's auth_token does for
// Glance: every request's X-Auth-Token is validated with Keystone, using
// Glint's own service token, and the result is cached for a bounded time,
// or until Keystone's revocation events name the token (revoke.go).
//
// A request may also carry an X-Service-Token, the token of a service
// (Nova, Cinder) acting for the user. When it is valid and holds one of
// service_token_roles, the user's token is validated with Keystone's
// allow_expired, so a long snapshot or volume upload still succeeds after
// the user's token expired (within Keystone's allow_expired_window).
package keystone

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"glint/internal/auth"
	"glint/internal/errs"
)

// Options configure an Authenticator; they mirror [keystone_authtoken].
type Options struct {
	// AuthURL is Keystone's identity endpoint, with or without /v3.
	AuthURL string
	// WWWAuthenticateURI is sent to clients in a 401; empty means AuthURL.
	WWWAuthenticateURI string

	// Glint's own credentials (password authentication, project scope).
	Username, Password                 string
	UserDomainName, UserDomainID       string
	ProjectName                        string
	ProjectDomainName, ProjectDomainID string

	// CacheTime is how long a validated token is trusted without asking
	// Keystone again (never past its expiry). Negative disables the cache;
	// 0 means 5 minutes; CacheUntilExpiry keeps a token until it expires.
	// TokenCacheTime converts token_cache_time.
	CacheTime time.Duration
	// CacheSize bounds the number of cached tokens; 0 means 10000.
	CacheSize int
	// RevocationInterval, when positive and the cache is on, is how often
	// Keystone's revocation events are fetched so that a cached token
	// revoked in Keystone stops working within about this time rather
	// than CacheTime. 0 trusts a cached token for CacheTime, as
	// keystonemiddleware does. Call Close to stop the fetching.
	RevocationInterval time.Duration

	// DelayAuthDecision is keystonemiddleware's delay_auth_decision, which
	// Glance's paste pipeline sets: the middleware only reports what it
	// found and Glance's context middleware refuses requests without a
	// confirmed user token, so an unusable token or an unreachable Keystone
	// is Glance's plain 401, and a bad X-Service-Token is ignored. Without
	// it, the middleware answers itself: its JSON 401, 503 when Keystone
	// cannot be asked, and 401 for a bad service token.
	DelayAuthDecision bool

	// ServiceTokenRoles are the roles that make an X-Service-Token a
	// service token; with ServiceTokenRolesRequired, one without them is
	// rejected. Only a service token holding one of them lets an expired
	// user token through (keystonemiddleware's allow_expired), whether
	// or not they are required.
	ServiceTokenRoles         []string
	ServiceTokenRolesRequired bool

	// Timeout bounds one request to Keystone; 0 means 30 seconds.
	Timeout time.Duration
	// MaxRetries is how often a request that could not reach Keystone is
	// retried before the API answers 503.
	MaxRetries int

	// Transport carries requests to Keystone; nil means
	// http.DefaultTransport.
	Transport http.RoundTripper
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// Authenticator validates Keystone tokens; it implements
// auth.Authenticator.
type Authenticator struct {
	opt       Options
	base      string // identity v3 root, no trailing slash
	challenge string
	client    *http.Client
	now       func() time.Time
	log       *slog.Logger
	cache     *tokenCache  // nil when disabled
	rev       *revocations // nil without a cache or revocation checks
	flight    singleflight.Group

	polling  atomic.Bool // the revocation poller has started
	pollMu   sync.Mutex  // guards closed, stopPoll, pollDone
	closed   bool
	stopPoll context.CancelFunc
	pollDone chan struct{}

	mu       sync.Mutex // guards svcToken, svcRenew; held while authenticating
	svcToken string
	svcRenew time.Time // when to log in again
}

// Unavailable's message is keystonemiddleware's.
const unavailableMsg = "The Keystone service is temporarily unavailable."

// New returns an Authenticator. It does not contact Keystone: Glint, like
// Glance, starts while Keystone is down and answers 503 until it is back.
func New(o Options) (*Authenticator, error) {
	if o.AuthURL == "" {
		return nil, errors.New("keystone_authtoken.auth_url is required with paste_deploy.flavor keystone")
	}
	if o.Username == "" || o.Password == "" {
		return nil, errors.New("keystone_authtoken.username and password are required with paste_deploy.flavor keystone")
	}
	base := strings.TrimRight(o.AuthURL, "/")
	if !strings.HasSuffix(base, "/v3") {
		base += "/v3"
	}
	www := o.WWWAuthenticateURI
	if www == "" {
		www = o.AuthURL
	}
	if o.CacheTime == 0 {
		o.CacheTime = defaultCacheTime
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 10000
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	a := &Authenticator{opt: o, base: base, challenge: fmt.Sprintf("Keystone uri=%q", www),
		client: &http.Client{Transport: o.Transport, Timeout: o.Timeout}, now: o.Now, log: o.Log}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if o.CacheTime > 0 {
		a.cache = newTokenCache(o.CacheSize)
		if o.RevocationInterval > 0 {
			a.rev = newRevocations()
		}
	}
	return a, nil
}

// CacheUntilExpiry as Options.CacheTime keeps a validated token until it
// expires.
const CacheUntilExpiry time.Duration = math.MaxInt64

// defaultCacheTime is keystonemiddleware's token_cache_time default.
const defaultCacheTime = 5 * time.Minute

// TokenCacheTime converts [keystone_authtoken] token_cache_time (seconds)
// to Options.CacheTime the way keystonemiddleware's cache reads it: -1
// disables the cache (its entries expire at once), and 0 keeps a token
// until it expires (memcached's and its in-process cache's "no
// expiry").
func TokenCacheTime(seconds int) time.Duration {
	switch {
	case seconds < 0:
		return -1
	case seconds == 0:
		return CacheUntilExpiry
	}
	return time.Duration(seconds) * time.Second
}

// Challenge is the WWW-Authenticate value of a 401, as keystonemiddleware
// sends it.
func (a *Authenticator) Challenge() string { return a.challenge }

// Authenticate validates the request's X-Auth-Token (and X-Service-Token,
// when present) and returns the caller's identity.
//
// As keystonemiddleware does, a valid service token that holds one of
// ServiceTokenRoles lets the user's token be accepted after it expired:
// it is validated with Keystone's allow_expired, which accepts it within
// Keystone's [token] allow_expired_window (48 hours by default) unless it
// was revoked. The request then runs as the user, and Service says who
// vouched for it. Without a service token, or with one that is invalid,
// expired or without those roles, an expired user token is refused.
func (a *Authenticator) Authenticate(ctx context.Context, r *http.Request) (*auth.Context, error) {
	userTok := strings.TrimSpace(r.Header.Get("X-Auth-Token"))
	if userTok == "" {
		userTok = strings.TrimSpace(r.Header.Get("X-Storage-Token")) // Swift's spelling, also honoured by keystonemiddleware
	}
	var svc *token
	allowExpired := false
	if svcTok := strings.TrimSpace(r.Header.Get("X-Service-Token")); svcTok != "" {
		st, roles, err := a.checkServiceToken(ctx, svcTok)
		switch {
		case err == nil:
			svc, allowExpired = st, roles
		case a.opt.DelayAuthDecision:
			// keystonemiddleware marks it invalid and Glance looks only
			// at the user token.
			a.log.InfoContext(ctx, "ignoring an unusable X-Service-Token", "request_id", auth.From(ctx).RequestID, "err", err)
		default:
			return nil, a.reject(err)
		}
	}
	if userTok == "" {
		return nil, a.reject(errs.E(errs.Op("keystone.Authenticate"), errs.Unauthorized, "no X-Auth-Token"))
	}
	t, err := a.validate(ctx, userTok, allowExpired)
	if err != nil {
		return nil, a.reject(err)
	}
	c := t.context()
	c.AuthToken = userTok
	if svc != nil {
		c.Service = svc.service()
	}
	if now := a.now(); allowExpired && !now.Before(t.expires) {
		// Say who let the request in.
		a.log.InfoContext(ctx, "accepted an expired user token on a valid service token",
			"request_id", auth.From(ctx).RequestID,
			"user_id", t.User.ID, "user_name", t.User.Name, "project_id", c.ProjectID,
			"service_user_id", svc.User.ID, "service_user_name", svc.User.Name, "service_project_id", c.Service.ProjectID,
			"expired_for", now.Sub(t.expires).Round(time.Second))
	}
	return c, nil
}

// checkServiceToken validates an X-Service-Token (which must not have
// expired) and reports whether it holds one of ServiceTokenRoles, which
// an expired user token needs. Without them it is an error when they are
// required, and accepted with a warning otherwise.
func (a *Authenticator) checkServiceToken(ctx context.Context, tok string) (st *token, roles bool, err error) {
	st, err = a.validate(ctx, tok, false)
	if err != nil {
		return nil, false, err
	}
	if st.hasAnyRole(a.opt.ServiceTokenRoles) {
		return st, true, nil
	}
	if a.opt.ServiceTokenRolesRequired {
		return nil, false, errs.E(errs.Op("keystone.Authenticate"), errs.Unauthorized, "X-Service-Token holds none of service_token_roles")
	}
	a.log.WarnContext(ctx, "a valid token was sent as X-Service-Token but holds none of service_token_roles",
		"request_id", auth.From(ctx).RequestID, "user", st.User.ID)
	return st, false, nil
}

// keystoneUnauthorized is keystonemiddleware's own 401 body.
const keystoneUnauthorized = `{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}`

// reject turns a validation failure into the API's answer: see
// Options.DelayAuthDecision.
func (a *Authenticator) reject(err error) error {
	const op = errs.Op("keystone.Authenticate")
	if a.opt.DelayAuthDecision {
		// Glance's context middleware: WebOb's plain 401 (the API's
		// default explanation), whatever went wrong.
		return errs.E(op, errs.Unauthorized, errors.New(err.Error()))
	}
	if errs.KindOf(err) == errs.Unavailable {
		return err
	}
	return errs.E(op, errs.Unauthorized, &auth.Response{Status: http.StatusUnauthorized,
		ContentType: "application/json; charset=UTF-8", Body: keystoneUnauthorized})
}

// expiredSuffix marks the cache entries of tokens that had expired when
// Keystone accepted them with allow_expired: only a request with a valid
// service token looks them up.
const expiredSuffix = "/allow_expired"

// validate returns the token's data from the cache or from Keystone. With
// allowExpired it is asked with Keystone's allow_expired, and a token
// past its expiry is returned (as long as Keystone accepts it); without,
// an expired token is an error. Concurrent validations of one token in
// one mode share one call to Keystone.
//
// The cache keeps the two apart: a token still valid when Keystone
// answered is cached under its hash until it expires (or for CacheTime),
// whichever way it was asked, and a token accepted only with
// allow_expired is cached under another key, which requests without a
// valid service token never read. Both are dropped alike by revocation
// events.
func (a *Authenticator) validate(ctx context.Context, tok string, allowExpired bool) (*token, error) {
	sum := sha256.Sum256([]byte(tok))
	key := hex.EncodeToString(sum[:])
	if a.cache != nil {
		now := a.now()
		if t, ok := a.cache.get(key, now); ok {
			return t, nil // its entry ends by its expiry
		}
		if allowExpired {
			if t, ok := a.cache.get(key+expiredSuffix, now); ok {
				return t, nil
			}
		}
	}
	flightKey := key
	if allowExpired {
		flightKey = key + expiredSuffix
	}
	v, err, _ := a.flight.Do(flightKey, func() (any, error) {
		var start uint64
		if a.rev != nil {
			start = a.rev.begin()
			defer a.rev.end(start)
		}
		// The shared call outlives any one caller that gives up.
		t, err := a.fetch(context.WithoutCancel(ctx), tok, allowExpired)
		if err != nil {
			return nil, err
		}
		if a.cache != nil {
			ck, deadline := a.cacheEntry(key, t, allowExpired)
			if a.rev == nil {
				a.cache.put(ck, t, deadline)
			} else if a.rev.put(start, t, func() { a.cache.put(ck, t, deadline) }) {
				a.startPolling()
			} else {
				// Keystone's answer predates a revocation that arrived
				// meanwhile: this caller gets it, the next asks again.
				a.log.InfoContext(ctx, "not caching a token revoked while it was being validated")
			}
		}
		return t, nil
	})
	if err != nil {
		return nil, err
	}
	t := v.(*token)
	if !allowExpired && !a.now().Before(t.expires) {
		return nil, errs.E(errs.Op("keystone.validate"), errs.Unauthorized, "token expired")
	}
	return t, nil
}

// cacheEntry returns the key and deadline under which to cache t, whose
// hash is key. A token that has not expired is kept until it does, or for
// CacheTime. One that has, which Keystone accepted with allow_expired,
// goes under the key that only requests with a service token read, for
// CacheTime, or for the default 5 minutes when CacheTime is
// CacheUntilExpiry: its expiry has passed, and Glint does not know
// Keystone's allow_expired_window, so asking again now and then is what
// bounds it.
func (a *Authenticator) cacheEntry(key string, t *token, allowExpired bool) (string, time.Time) {
	now := a.now()
	if now.Before(t.expires) || !allowExpired {
		if t.expires.Sub(now) > a.opt.CacheTime {
			return key, now.Add(a.opt.CacheTime)
		}
		return key, t.expires
	}
	ttl := a.opt.CacheTime
	if ttl == CacheUntilExpiry {
		ttl = defaultCacheTime
	}
	return key + expiredSuffix, now.Add(ttl)
}

// fetch asks Keystone about tok: GET /v3/auth/tokens with Glint's own
// token, and allow_expired=true when allowExpired. 404 means invalid,
// expired (beyond allow_expired_window with allowExpired) or revoked; 401
// means Glint's token went stale, so it is renewed once.
func (a *Authenticator) fetch(ctx context.Context, tok string, allowExpired bool) (*token, error) {
	const op = errs.Op("keystone.validate")
	path := "/auth/tokens?nocatalog"
	if allowExpired {
		path += "&allow_expired=true"
	}
	for attempt := 0; ; attempt++ {
		svc, err := a.serviceToken(ctx, attempt > 0)
		if err != nil {
			return nil, err
		}
		resp, body, err := a.do(ctx, http.MethodGet, path, nil, map[string]string{
			"X-Auth-Token": svc, "X-Subject-Token": tok})
		if err != nil {
			a.log.ErrorContext(ctx, "cannot reach Keystone to validate a token", "err", err)
			return nil, errs.E(op, errs.Unavailable, unavailableMsg, err)
		}
		switch resp.StatusCode {
		case http.StatusOK:
			t, err := parseToken(body)
			if err != nil {
				a.log.WarnContext(ctx, "invalid token contents", "err", err)
				return nil, errs.E(op, errs.Unauthorized, "invalid token contents", err)
			}
			return t, nil
		case http.StatusNotFound:
			a.log.InfoContext(ctx, "Keystone rejected a token", "status", resp.StatusCode, "allow_expired", allowExpired)
			return nil, errs.E(op, errs.Unauthorized, "Keystone does not know the token (invalid, expired or revoked)")
		case http.StatusUnauthorized:
			if attempt == 0 {
				a.log.InfoContext(ctx, "Keystone rejected Glint's service token; authenticating again")
				continue
			}
		}
		a.log.ErrorContext(ctx, "bad answer from Keystone while validating a token", "status", resp.StatusCode, "body", snippet(body))
		return nil, errs.E(op, errs.Unavailable, unavailableMsg, fmt.Errorf("keystone answered %d", resp.StatusCode))
	}
}

// serviceToken returns Glint's own token, authenticating when there is
// none, it is about to expire, or renew is set (Keystone rejected it).
func (a *Authenticator) serviceToken(ctx context.Context, renew bool) (string, error) {
	const op = errs.Op("keystone.serviceToken")
	a.mu.Lock()
	defer a.mu.Unlock()
	if !renew && a.svcToken != "" && a.now().Before(a.svcRenew) {
		return a.svcToken, nil
	}
	a.svcToken = ""
	resp, body, err := a.do(ctx, http.MethodPost, "/auth/tokens?nocatalog", a.passwordAuth(), nil)
	if err != nil {
		a.log.ErrorContext(ctx, "cannot reach Keystone to authenticate Glint", "err", err)
		return "", errs.E(op, errs.Unavailable, unavailableMsg, err)
	}
	if resp.StatusCode != http.StatusCreated {
		a.log.ErrorContext(ctx, "Keystone refused Glint's service credentials ([keystone_authtoken])",
			"status", resp.StatusCode, "user", a.opt.Username, "body", snippet(body))
		return "", errs.E(op, errs.Unavailable, unavailableMsg, fmt.Errorf("authenticating as %s: keystone answered %d", a.opt.Username, resp.StatusCode))
	}
	t, err := parseToken(body)
	tokID := resp.Header.Get("X-Subject-Token")
	if err != nil || tokID == "" {
		return "", errs.E(op, errs.Unavailable, unavailableMsg, fmt.Errorf("authenticating as %s: bad token (%v)", a.opt.Username, err))
	}
	// Renew a little before expiry, as keystoneauth does (2 minutes), so
	// a token is never sent in its last moments; a token that lives less
	// than 8 minutes is renewed in its last quarter instead (with 2
	// minutes, a Keystone issuing tokens for under 2 minutes would get a
	// login before every validation, as keystoneauth gives it).
	left := max(t.expires.Sub(a.now()), 0)
	a.svcToken, a.svcRenew = tokID, t.expires.Add(-min(2*time.Minute, left/4))
	return tokID, nil
}

// Check authenticates Glint with its service credentials, for a warning at
// start when they do not work.
func (a *Authenticator) Check(ctx context.Context) error {
	_, err := a.serviceToken(ctx, true)
	return err
}

func (a *Authenticator) passwordAuth() []byte {
	user := map[string]any{"name": a.opt.Username, "password": a.opt.Password, "domain": domainRef(a.opt.UserDomainID, a.opt.UserDomainName)}
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{"user": user}},
	}}
	if a.opt.ProjectName != "" {
		body["auth"].(map[string]any)["scope"] = map[string]any{"project": map[string]any{
			"name": a.opt.ProjectName, "domain": domainRef(a.opt.ProjectDomainID, a.opt.ProjectDomainName)}}
	}
	b, _ := json.Marshal(body)
	return b
}

// domainRef names a domain by id, else by name, else the default domain.
func domainRef(id, name string) map[string]string {
	switch {
	case id != "":
		return map[string]string{"id": id}
	case name != "":
		return map[string]string{"name": name}
	}
	return map[string]string{"id": "default"}
}

// do sends one request to Keystone, retrying up to MaxRetries times when it
// cannot connect. The body is read fully (and bounded).
func (a *Authenticator) do(ctx context.Context, method, path string, body []byte, hdr map[string]string) (*http.Response, []byte, error) {
	var lastErr error
	for try := 0; try <= a.opt.MaxRetries; try++ {
		if try > 0 {
			select {
			case <-time.After(time.Duration(try) * 200 * time.Millisecond):
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			}
		}
		req, err := http.NewRequestWithContext(ctx, method, a.base+path, bytes.NewReader(body))
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("User-Agent", "glint keystone authenticator")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		// "Connection: close" asks for a connection of this request's
		// own; Go's client honours only Close, not the header.
		req.Close = strings.EqualFold(req.Header.Get("Connection"), "close")
		resp, err := a.client.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if err != nil {
			lastErr = err
			continue
		}
		return resp, b, nil
	}
	return nil, nil, lastErr
}

func snippet(b []byte) string {
	if len(b) > 300 {
		b = b[:300]
	}
	return string(b)
}
