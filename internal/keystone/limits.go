package keystone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"glint/internal/errs"
)

// LimitsOptions configure a Limits reader; they mirror oslo.limit's
// [oslo_limit] section: keystoneauth's password or application credential
// options, and the endpoint whose limits apply.
type LimitsOptions struct {
	// AuthURL is Keystone's identity endpoint, with or without /v3.
	AuthURL string
	// AuthType is keystoneauth's plugin name: password, v3password or
	// v3applicationcredential.
	AuthType string

	// Password authentication: the user by id, or by name in a domain.
	UserID, Username, Password   string
	UserDomainID, UserDomainName string
	// Application credential authentication: by id, or by name with
	// the user (UserID, or Username and its domain).
	ApplicationCredentialID, ApplicationCredentialName, ApplicationCredentialSecret string

	// Scope of the token (password authentication only; an application
	// credential carries its own): SystemScope ("all") or a project, by
	// id or by name in a domain, or a domain. None: unscoped.
	SystemScope                        string
	ProjectID, ProjectName             string
	ProjectDomainID, ProjectDomainName string
	DomainID, DomainName               string
	// DefaultDomainID and DefaultDomainName stand for the user's and the
	// project's domain when those are not given, as in keystoneauth.
	DefaultDomainID, DefaultDomainName string

	// The endpoint whose service and region the limits are read for:
	// EndpointID, or else the one endpoint of the service of type
	// EndpointServiceType (and/or name EndpointServiceName) in region
	// EndpointRegionName (any region when empty) on EndpointInterface
	// (public when empty).
	EndpointID          string
	EndpointServiceType string
	EndpointServiceName string
	EndpointRegionName  string
	EndpointInterface   string

	// CacheTime is how long limits read from Keystone are used before
	// they are read again: a limit changed in Keystone is in force
	// within this time (plus one answer of Keystone). 0 means 30 s.
	CacheTime time.Duration

	// Timeout bounds one request to Keystone; 0 means 30 seconds.
	Timeout time.Duration
	// MaxRetries is how often a request that could not reach Keystone is
	// retried.
	MaxRetries int
	// Transport carries requests to Keystone; nil means
	// http.DefaultTransport.
	Transport http.RoundTripper
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// DefaultLimitsCacheTime is LimitsOptions.CacheTime's default.
const DefaultLimitsCacheTime = 30 * time.Second

// maxLimitProjects bounds the projects whose limits are kept.
const maxLimitProjects = 10000

// Limits reads unified limits from Keystone the way oslo.limit's flat
// enforcement model does: a project's limit for a resource is its
// project limit (GET /v3/limits) if it has one, else the registered
// limit (GET /v3/registered_limits), both for the configured endpoint's
// service and region. Answers are kept for CacheTime; when Keystone
// cannot be asked again, the last answer is used, and with no answer at
// all the lookup fails (errs.Unavailable): the caller refuses the new
// usage rather than take it for unlimited.
type Limits struct {
	opt    LimitsOptions
	client *Authenticator // reuses its request and retry logic
	now    func() time.Time
	log    *slog.Logger
	flight singleflight.Group

	tokMu    sync.Mutex
	token    string
	tokRenew time.Time

	mu      sync.Mutex
	target  *limitTarget
	entries map[string]*limitEntry // by project; "": the registered limits
}

// limitTarget is the service and region whose limits apply.
type limitTarget struct{ serviceID, regionID string }

// limitEntry is one answer of Keystone: resource name → limit.
type limitEntry struct {
	limits  map[string]int64
	fetched time.Time // when Keystone answered
	retry   time.Time // after a failed refresh: not before this
}

// UnavailableLimitsMsg is the API's answer when a project's limits
// cannot be read from Keystone and none are known.
const UnavailableLimitsMsg = "Keystone is unavailable: the project's unified limits could not be read from it, " +
	"so no image or image data that would count against them is accepted. Try again later."

// NewLimits returns a Limits reader. It does not contact Keystone: the
// first lookup does (and CheckLimits, for a message at start).
func NewLimits(o LimitsOptions) (*Limits, error) {
	if o.AuthURL == "" {
		return nil, errors.New("oslo_limit.auth_url is required with use_keystone_limits")
	}
	switch o.AuthType {
	case "", "password", "v3password":
		o.AuthType = "password"
		if o.Password == "" || o.UserID == "" && o.Username == "" {
			return nil, errors.New("oslo_limit: password authentication needs username (or user_id) and password")
		}
	case "v3applicationcredential":
		if o.ApplicationCredentialSecret == "" {
			return nil, errors.New("oslo_limit: application_credential_secret is required with auth_type v3applicationcredential")
		}
		if o.ApplicationCredentialID == "" && (o.ApplicationCredentialName == "" || o.UserID == "" && o.Username == "") {
			return nil, errors.New("oslo_limit: application_credential_id, or application_credential_name with the user, is required with auth_type v3applicationcredential")
		}
	default:
		return nil, fmt.Errorf("oslo_limit.auth_type %s is not supported: use password, v3password or v3applicationcredential", o.AuthType)
	}
	if o.EndpointID == "" && o.EndpointServiceType == "" && o.EndpointServiceName == "" {
		return nil, errors.New("oslo_limit: endpoint_id, or endpoint_service_type or endpoint_service_name, is required with use_keystone_limits")
	}
	switch strings.TrimSuffix(o.EndpointInterface, "URL") {
	case "":
		o.EndpointInterface = "public"
	case "public", "internal", "admin":
		o.EndpointInterface = strings.TrimSuffix(o.EndpointInterface, "URL")
	default:
		return nil, fmt.Errorf("oslo_limit.endpoint_interface %s: must be public, internal or admin", o.EndpointInterface)
	}
	if o.CacheTime <= 0 {
		o.CacheTime = DefaultLimitsCacheTime
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	base := strings.TrimRight(o.AuthURL, "/")
	if !strings.HasSuffix(base, "/v3") {
		base += "/v3"
	}
	l := &Limits{opt: o, now: o.Now, log: o.Log, entries: map[string]*limitEntry{}}
	if l.now == nil {
		l.now = time.Now
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	l.client = &Authenticator{opt: Options{MaxRetries: o.MaxRetries}, base: base,
		client: &http.Client{Transport: o.Transport, Timeout: o.Timeout}, now: l.now, log: l.log}
	return l, nil
}

// CacheTime is how long an answer of Keystone is used.
func (l *Limits) CacheTime() time.Duration { return l.opt.CacheTime }

// Check authenticates and finds the endpoint, for a message at start.
func (l *Limits) Check(ctx context.Context) error {
	_, err := l.resolveTarget(ctx)
	return err
}

// Get returns project's limits by resource name: its project limits over
// the registered limits. project "" has only the registered ones. A
// resource with neither is absent (oslo.limit then counts it as 0).
func (l *Limits) Get(ctx context.Context, project string) (map[string]int64, error) {
	const op errs.Op = "keystone.Limits"
	reg, err := l.entry(ctx, "")
	if err != nil {
		return nil, errs.E(op, errs.Unavailable, UnavailableLimitsMsg, err)
	}
	out := make(map[string]int64, len(reg))
	for k, v := range reg {
		out[k] = v
	}
	if project == "" {
		return out, nil
	}
	pl, err := l.entry(ctx, project)
	if err != nil {
		return nil, errs.E(op, errs.Unavailable, UnavailableLimitsMsg, err)
	}
	for k, v := range pl {
		out[k] = v
	}
	return out, nil
}

// entry returns the limits of project ("": the registered limits) from
// cur while it is fresh, else from Keystone; when Keystone cannot be
// asked, from cur however old, retrying no more than once a second.
func (l *Limits) entry(ctx context.Context, project string) (map[string]int64, error) {
	now := l.now()
	l.mu.Lock()
	cur := l.entries[project]
	if cur != nil && (now.Sub(cur.fetched) < l.opt.CacheTime || now.Before(cur.retry)) {
		m := cur.limits
		l.mu.Unlock()
		return m, nil
	}
	l.mu.Unlock()
	v, err, _ := l.flight.Do("limits/"+project, func() (any, error) {
		m, err := l.fetch(context.WithoutCancel(ctx), project)
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		l.store(project, &limitEntry{limits: m, fetched: l.now()})
		l.mu.Unlock()
		return m, nil
	})
	if err == nil {
		return v.(map[string]int64), nil
	}
	if cur == nil {
		l.log.ErrorContext(ctx, "cannot read unified limits from Keystone; refusing new usage", "project", project, "err", err)
		return nil, err
	}
	l.mu.Lock()
	cur.retry = l.now().Add(time.Second)
	age := l.now().Sub(cur.fetched)
	l.mu.Unlock()
	l.log.WarnContext(ctx, "cannot refresh unified limits from Keystone; using the last ones read", "project", project,
		"age", age.Round(time.Second), "err", err)
	return cur.limits, nil
}

// store caches an answer (l.mu held), making room when full: stale
// entries go first, then any but the registered limits.
func (l *Limits) store(project string, e *limitEntry) {
	if _, ok := l.entries[project]; !ok && len(l.entries) > maxLimitProjects {
		now := l.now()
		for k, v := range l.entries {
			if k != "" && now.Sub(v.fetched) >= l.opt.CacheTime {
				delete(l.entries, k)
			}
		}
		for k := range l.entries {
			if len(l.entries) <= maxLimitProjects {
				break
			}
			if k != "" {
				delete(l.entries, k)
			}
		}
	}
	l.entries[project] = e
}

// fetch reads the registered limits (project "") or project's limits.
func (l *Limits) fetch(ctx context.Context, project string) (map[string]int64, error) {
	t, err := l.resolveTarget(ctx)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("service_id", t.serviceID)
	if t.regionID != "" {
		q.Set("region_id", t.regionID)
	}
	kind, field := "registered_limits", "default_limit"
	if project != "" {
		q.Set("project_id", project)
		kind, field = "limits", "resource_limit"
	}
	var doc map[string]json.RawMessage
	if err := l.getJSON(ctx, "/"+kind+"?"+q.Encode(), &doc); err != nil {
		return nil, err
	}
	var items []map[string]any
	if err := json.Unmarshal(doc[kind], &items); err != nil {
		return nil, fmt.Errorf("keystone: GET /%s: %w", kind, err)
	}
	out := map[string]int64{}
	for _, it := range items {
		name, _ := it["resource_name"].(string)
		if pid, _ := it["project_id"].(string); project != "" && pid != "" && pid != project {
			continue // a Keystone that ignored the filter
		}
		n, ok := it[field].(float64)
		if name == "" || !ok {
			return nil, fmt.Errorf("keystone: %s entry without resource_name or %s", kind, field)
		}
		if _, dup := out[name]; !dup {
			out[name] = int64(n)
		}
	}
	return out, nil
}

// resolveTarget finds, once, the service and region of the configured
// endpoint, and checks Keystone's enforcement model, as oslo.limit does
// when an Enforcer is made.
func (l *Limits) resolveTarget(ctx context.Context) (*limitTarget, error) {
	l.mu.Lock()
	t := l.target
	l.mu.Unlock()
	if t != nil {
		return t, nil
	}
	v, err, _ := l.flight.Do("target", func() (any, error) {
		t, err := l.findTarget(ctx)
		if err != nil {
			return nil, err
		}
		var model struct {
			Model struct {
				Name string `json:"name"`
			} `json:"model"`
		}
		if err := l.getJSON(ctx, "/limits/model", &model); err != nil {
			return nil, err
		}
		if model.Model.Name != "flat" {
			return nil, fmt.Errorf("keystone's unified limits enforcement model is %q; only flat is supported (as by oslo.limit)", model.Model.Name)
		}
		l.mu.Lock()
		l.target = t
		l.mu.Unlock()
		l.log.InfoContext(ctx, "reading unified limits from Keystone", "service_id", t.serviceID, "region_id", t.regionID,
			"cache_time", l.opt.CacheTime)
		return t, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*limitTarget), nil
}

func (l *Limits) findTarget(ctx context.Context) (*limitTarget, error) {
	type endpoint struct {
		ID        string `json:"id"`
		ServiceID string `json:"service_id"`
		RegionID  string `json:"region_id"`
	}
	if id := l.opt.EndpointID; id != "" {
		var doc struct {
			Endpoint endpoint `json:"endpoint"`
		}
		if err := l.getJSON(ctx, "/endpoints/"+url.PathEscape(id), &doc); err != nil {
			return nil, fmt.Errorf("oslo_limit.endpoint_id %s: %w", id, err)
		}
		return &limitTarget{doc.Endpoint.ServiceID, doc.Endpoint.RegionID}, nil
	}
	q := url.Values{}
	if l.opt.EndpointServiceType != "" {
		q.Set("type", l.opt.EndpointServiceType)
	}
	if l.opt.EndpointServiceName != "" {
		q.Set("name", l.opt.EndpointServiceName)
	}
	var svcs struct {
		Services []struct {
			ID   string `json:"id"`
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"services"`
	}
	if err := l.getJSON(ctx, "/services?"+q.Encode(), &svcs); err != nil {
		return nil, err
	}
	var ids []string
	for _, s := range svcs.Services {
		if (l.opt.EndpointServiceType == "" || s.Type == l.opt.EndpointServiceType) &&
			(l.opt.EndpointServiceName == "" || s.Name == l.opt.EndpointServiceName) {
			ids = append(ids, s.ID)
		}
	}
	what := fmt.Sprintf("service type %q name %q", l.opt.EndpointServiceType, l.opt.EndpointServiceName)
	switch len(ids) {
	case 0:
		return nil, fmt.Errorf("oslo_limit: Keystone has no %s", what)
	case 1:
	default:
		return nil, fmt.Errorf("oslo_limit: Keystone has %d services of %s; set endpoint_id", len(ids), what)
	}
	region := ""
	if r := l.opt.EndpointRegionName; r != "" {
		var doc struct {
			Region struct {
				ID string `json:"id"`
			} `json:"region"`
		}
		if err := l.getJSON(ctx, "/regions/"+url.PathEscape(r), &doc); err != nil {
			return nil, fmt.Errorf("oslo_limit.endpoint_region_name %s: %w", r, err)
		}
		region = doc.Region.ID
	}
	q = url.Values{"service_id": {ids[0]}, "interface": {l.opt.EndpointInterface}}
	if region != "" {
		q.Set("region_id", region)
	}
	var eps struct {
		Endpoints []endpoint `json:"endpoints"`
	}
	if err := l.getJSON(ctx, "/endpoints?"+q.Encode(), &eps); err != nil {
		return nil, err
	}
	switch len(eps.Endpoints) {
	case 0:
		return nil, fmt.Errorf("oslo_limit: no %s endpoint of %s in region %q", l.opt.EndpointInterface, what, region)
	case 1:
	default:
		return nil, fmt.Errorf("oslo_limit: %d %s endpoints of %s in region %q; set endpoint_id or endpoint_region_name",
			len(eps.Endpoints), l.opt.EndpointInterface, what, region)
	}
	return &limitTarget{eps.Endpoints[0].ServiceID, eps.Endpoints[0].RegionID}, nil
}

// errKeystoneAnswer is a Keystone answer other than 200.
type errKeystoneAnswer struct {
	status int
	body   string
}

func (e *errKeystoneAnswer) Error() string {
	return fmt.Sprintf("keystone answered %d: %s", e.status, e.body)
}

// getJSON GETs path with Glint's [oslo_limit] token and decodes a 200.
// A 401 renews the token once.
func (l *Limits) getJSON(ctx context.Context, path string, v any) error {
	for attempt := 0; ; attempt++ {
		tok, err := l.serviceToken(ctx, attempt > 0)
		if err != nil {
			return err
		}
		resp, body, err := l.client.do(ctx, http.MethodGet, path, nil, map[string]string{"X-Auth-Token": tok})
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return &errKeystoneAnswer{resp.StatusCode, snippet(body)}
		}
		if err := json.Unmarshal(body, v); err != nil {
			return fmt.Errorf("keystone: GET %s: %w", path, err)
		}
		return nil
	}
}

// serviceToken returns the [oslo_limit] user's token, authenticating
// when there is none, it is about to expire, or renew is set.
func (l *Limits) serviceToken(ctx context.Context, renew bool) (string, error) {
	l.tokMu.Lock()
	defer l.tokMu.Unlock()
	if !renew && l.token != "" && l.now().Before(l.tokRenew) {
		return l.token, nil
	}
	l.token = ""
	resp, body, err := l.client.do(ctx, http.MethodPost, "/auth/tokens?nocatalog", l.authBody(), nil)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("authenticating with [oslo_limit]'s credentials: %w", &errKeystoneAnswer{resp.StatusCode, snippet(body)})
	}
	t, err := parseToken(body)
	tokID := resp.Header.Get("X-Subject-Token")
	if err != nil || tokID == "" {
		return "", fmt.Errorf("authenticating with [oslo_limit]'s credentials: bad token (%v)", err)
	}
	left := max(t.expires.Sub(l.now()), 0)
	l.token, l.tokRenew = tokID, t.expires.Add(-min(2*time.Minute, left/4))
	return tokID, nil
}

// authBody is the POST /v3/auth/tokens request for the configured
// credentials and scope.
func (l *Limits) authBody() []byte {
	o := l.opt
	userDomain := domainRef(first(o.UserDomainID, o.DefaultDomainID), first(o.UserDomainName, o.DefaultDomainName))
	user := map[string]any{}
	if o.UserID != "" {
		user["id"] = o.UserID
	} else {
		user["name"], user["domain"] = o.Username, userDomain
	}
	var identity map[string]any
	if o.AuthType == "v3applicationcredential" {
		cred := map[string]any{"secret": o.ApplicationCredentialSecret}
		if o.ApplicationCredentialID != "" {
			cred["id"] = o.ApplicationCredentialID
		} else {
			cred["name"], cred["user"] = o.ApplicationCredentialName, user
		}
		identity = map[string]any{"methods": []string{"application_credential"}, "application_credential": cred}
	} else {
		user["password"] = o.Password
		identity = map[string]any{"methods": []string{"password"}, "password": map[string]any{"user": user}}
	}
	a := map[string]any{"identity": identity}
	if o.AuthType != "v3applicationcredential" {
		switch {
		case o.SystemScope != "":
			a["scope"] = map[string]any{"system": map[string]any{o.SystemScope: true}}
		case o.ProjectID != "":
			a["scope"] = map[string]any{"project": map[string]any{"id": o.ProjectID}}
		case o.ProjectName != "":
			a["scope"] = map[string]any{"project": map[string]any{"name": o.ProjectName,
				"domain": domainRef(first(o.ProjectDomainID, o.DefaultDomainID), first(o.ProjectDomainName, o.DefaultDomainName))}}
		case o.DomainID != "":
			a["scope"] = map[string]any{"domain": map[string]any{"id": o.DomainID}}
		case o.DomainName != "":
			a["scope"] = map[string]any{"domain": map[string]any{"name": o.DomainName}}
		}
	}
	b, _ := json.Marshal(map[string]any{"auth": a})
	return b
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
