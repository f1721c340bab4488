package keystone

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"glint/internal/api"
	"glint/internal/auth"
	"glint/internal/db/dbtest"
	"glint/internal/errs"
	"glint/internal/image"
	"glint/internal/keystone/keystonetest"
	"glint/internal/policy"
	"glint/internal/store"
	"glint/internal/store/filesystem"
)

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// tokenLife is the [token] expiration of the Keystone these tests start
// beside the suite's: the lifetime issue 33's reference run used.
const tokenLife = 40

// startGlint serves the Image API in-process behind authn, on SQLite and
// the filesystem store, as test/rbac's Glint does.
func startGlint(t *testing.T, authn auth.Authenticator) string {
	t.Helper()
	dir := t.TempDir()
	database := dbtest.Open(t, "sqlite:///"+filepath.Join(dir, "glint.db"))
	fs, err := filesystem.New(filepath.Join(dir, "images"), 0)
	if err != nil {
		t.Fatal(err)
	}
	e, err := policy.NewGlance(policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	o := image.Options{ImageSizeCap: 1 << 30, HashingAlgorithm: "sha512", PropertyQuota: 128, TagQuota: 128, MemberQuota: 128,
		DiskFormats: image.DefaultDiskFormats, ContainerFormats: image.DefaultContainerFormats}
	svc := image.NewService(database.Images(), store.NewSet(fs), policy.Authorizer{Enforcer: e}, o, log)
	h, err := api.New(svc, api.Config{LimitParamDefault: 25, APILimitMax: 1000, Authenticator: authn,
		DiskFormats: image.DefaultDiskFormats, ContainerFormats: image.DefaultContainerFormats},
		func(*http.Request) error { return nil }, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// glintClient sends requests to a Glint with the given token headers.
type glintClient struct {
	url string
	c   *http.Client
}

func (g glintClient) do(t *testing.T, method, path string, body io.Reader, headers ...string) (int, []byte) {
	t.Helper()
	code, b, err := g.send(method, path, body, headers...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return code, b
}

func (g glintClient) send(method, path string, body io.Reader, headers ...string) (int, []byte, error) {
	req, err := http.NewRequest(method, g.url+path, body)
	if err != nil {
		return 0, nil, err
	}
	switch method {
	case http.MethodPut:
		req.Header.Set("Content-Type", "application/octet-stream")
	case http.MethodPost:
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := g.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (g glintClient) create(t *testing.T, name string, headers ...string) string {
	t.Helper()
	code, body := g.do(t, http.MethodPost, "/v2/images", strings.NewReader(`{"name": "`+name+`", "disk_format": "raw", "container_format": "bare"}`), headers...)
	if code != http.StatusCreated {
		t.Fatalf("creating %s: %d %s", name, code, body)
	}
	var img struct{ ID string }
	json.Unmarshal(body, &img)
	return img.ID
}

// show returns an image's status and size, failing t unless it answers 200.
func (g glintClient) show(t *testing.T, id string, headers ...string) (string, int64) {
	t.Helper()
	code, body := g.do(t, http.MethodGet, "/v2/images/"+id, nil, headers...)
	if code != http.StatusOK {
		t.Fatalf("show %s: %d %s", id, code, body)
	}
	var img struct {
		ID     string
		Status string
		Size   *int64
	}
	json.Unmarshal(body, &img)
	if img.ID != id {
		t.Fatalf("show %s: got %s", id, body)
	}
	if img.Size == nil {
		return img.Status, -1
	}
	return img.Status, *img.Size
}

// slowBody is an upload that sends up to 64 KiB every tick until a
// deadline, as a snapshot upload that outlives the user's token does.
type slowBody struct {
	until   time.Time
	tick    time.Duration
	sent    atomic.Int64
	started bool
}

var chunk = bytes.Repeat([]byte{'g'}, 64<<10)

func (b *slowBody) Read(p []byte) (int, error) {
	if b.started {
		time.Sleep(b.tick)
	}
	b.started = true
	if time.Now().After(b.until) {
		return 0, io.EOF
	}
	n := copy(p, chunk)
	b.sent.Add(int64(n))
	return n, nil
}

// waitExpired sleeps until Keystone's expiry of a token has passed (and a
// second more: Keystone and Glint compare to the microsecond, the clocks
// are the machine's). The wait is bounded by the token's lifetime.
func waitExpired(t *testing.T, expires time.Time) {
	t.Helper()
	d := time.Until(expires) + time.Second
	if d > (tokenLife+5)*time.Second {
		t.Fatalf("the token expires in %v, beyond the Keystone's %d-second lifetime", d, tokenLife)
	}
	time.Sleep(d)
}

// cacheKey is the token cache's key of tok.
func cacheKey(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// fresh runs try with new tokens, which try asks for by user name. On a
// loaded machine one step can outlast a 40-second token, and then its
// answer (a 401 from Glint, or a 401 that would have come anyway) says
// nothing: a try during which one of its tokens expired is repeated
// with new ones, up to 3 times. Otherwise try's error fails t.
func fresh(t *testing.T, ks *keystonetest.Keystone, try func(tok func(user string) string) error) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		var first time.Time // the earliest expiry of this try's tokens
		err := try(func(user string) string {
			tok, exp := ks.TokenExpiring(t, user)
			if first.IsZero() || exp.Before(first) {
				first = exp
			}
			return tok
		})
		if first.IsZero() || time.Now().Before(first) {
			if err != nil {
				t.Fatal(err)
			}
			return
		}
		if attempt == 3 {
			t.Fatalf("three tries outlasted their tokens (the machine is too loaded for %d-second tokens); the last: %v", tokenLife, err)
		}
		t.Logf("try %d outlasted its tokens; again with new ones (its result: %v)", attempt, err)
	}
}

// Issue 33 against a real Keystone whose tokens live 40 seconds: Nova and
// Cinder send the user's token with their own service token, and the
// user's token may have expired by the time they send it (or during a
// long upload). As with Glance 25.1 behind keystonemiddleware: the
// expired token alone is refused; with a valid service token holding the
// service role it is accepted (show 200, upload 204), and a long upload
// begun before the expiry completes; an expired service token, or one
// without the role (required or not), does not help; and a cached
// "expired but allowed" answer is never used without a service token,
// and is dropped when Keystone revokes the token.
func TestExpiredUserToken(t *testing.T) {
	ks := keystonetest.StartWith(t, keystonetest.Options{TokenExpiration: tokenLife})
	var logs logBuffer
	// Glint as Glance configures keystonemiddleware (delay_auth_decision),
	// following revocation events, on the real clock.
	a, cnt, _ := newAuth(t, ks, func(o *Options) {
		o.DelayAuthDecision, o.CacheTime, o.RevocationInterval = true, 5*time.Minute, time.Second
		o.Now, o.Log = nil, slog.New(slog.NewTextHandler(&logs, nil))
	})
	g := glintClient{url: startGlint(t, a), c: &http.Client{Timeout: 3 * time.Minute}}
	var tokens []string // none may be logged
	expect := func(t *testing.T, want int, method, path string, body io.Reader, headers ...string) error {
		t.Helper()
		for i := 1; i < len(headers); i += 2 {
			tokens = append(tokens, headers[i])
		}
		if code, resp := g.do(t, method, path, body, headers...); code != want {
			return fmt.Errorf("%s %s: %d %s, want %d", method, path, code, resp, want)
		}
		return nil
	}

	// The long upload first: begun with valid tokens, as Nova begins a
	// snapshot upload, and sending until both have expired.
	user, userExp := ks.TokenExpiring(t, "alpha-member")
	long := g.create(t, "long", "X-Auth-Token", user)
	oldSvc, oldSvcExp := ks.TokenExpiring(t, "glint")
	body := &slowBody{until: oldSvcExp.Add(2 * time.Second), tick: 250 * time.Millisecond}
	type result struct {
		code int
		resp []byte
		end  time.Time
	}
	longDone := make(chan result, 1)
	go func() {
		code, resp, err := g.send(http.MethodPut, "/v2/images/"+long+"/file", body, "X-Auth-Token", user, "X-Service-Token", oldSvc)
		if err != nil {
			resp = []byte(err.Error())
		}
		longDone <- result{code, resp, time.Now()}
	}()
	reader, readerExp := ks.TokenExpiring(t, "alpha-reader")
	shown := g.create(t, "shown", "X-Auth-Token", user)
	uploaded := g.create(t, "uploaded", "X-Auth-Token", user)
	tokens = append(tokens, user, oldSvc, reader)
	for _, exp := range []time.Time{userExp, oldSvcExp, readerExp} {
		waitExpired(t, exp)
	}

	t.Run("expired alone", func(t *testing.T) {
		if err := expect(t, http.StatusUnauthorized, http.MethodGet, "/v2/images/"+shown, nil, "X-Auth-Token", user); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("expired with a service token", func(t *testing.T) {
		fresh(t, ks, func(tok func(string) string) error {
			return expect(t, http.StatusOK, http.MethodGet, "/v2/images/"+shown, nil, "X-Auth-Token", user, "X-Service-Token", tok("glint"))
		})
		fresh(t, ks, func(tok func(string) string) error {
			return expect(t, http.StatusNoContent, http.MethodPut, "/v2/images/"+uploaded+"/file", strings.NewReader("snapshot"),
				"X-Auth-Token", user, "X-Service-Token", tok("glint"))
		})
		fresh(t, ks, func(tok func(string) string) error {
			if status, size := g.show(t, uploaded, "X-Auth-Token", user, "X-Service-Token", tok("glint")); status != "active" || size != 8 {
				t.Errorf("after the upload: %s, %d bytes; want active, 8", status, size)
			}
			return nil
		})
	})
	t.Run("cached apart", func(t *testing.T) {
		// The answer accepted with allow_expired is cached, and not used
		// for the token alone, which goes back to Keystone.
		fresh(t, ks, func(tok func(string) string) error {
			h := []string{"X-Auth-Token", user, "X-Service-Token", tok("glint")}
			if err := expect(t, http.StatusOK, http.MethodGet, "/v2/images/"+shown, nil, h...); err != nil {
				return err // the new service token is cached now
			}
			v := cnt.validations.Load()
			if err := expect(t, http.StatusOK, http.MethodGet, "/v2/images/"+shown, nil, h...); err != nil {
				return err
			}
			if err := expect(t, http.StatusUnauthorized, http.MethodGet, "/v2/images/"+shown, nil, "X-Auth-Token", user); err != nil {
				return fmt.Errorf("the token alone after it was accepted with a service token: %v", err)
			}
			if n := cnt.validations.Load() - v; n != 1 {
				return fmt.Errorf("%d validations, want 1 (the token alone)", n)
			}
			return nil
		})
	})
	t.Run("expired service token", func(t *testing.T) {
		if err := expect(t, http.StatusUnauthorized, http.MethodGet, "/v2/images/"+shown, nil, "X-Auth-Token", user, "X-Service-Token", oldSvc); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("service token without the service role", func(t *testing.T) {
		fresh(t, ks, func(tok func(string) string) error {
			return expect(t, http.StatusUnauthorized, http.MethodGet, "/v2/images/"+shown, nil, "X-Auth-Token", user, "X-Service-Token", tok("beta-member"))
		})
	})
	t.Run("long upload", func(t *testing.T) {
		var r result
		select {
		case r = <-longDone:
		case <-time.After(3 * time.Minute):
			t.Fatal("the long upload did not end within 3 minutes")
		}
		if r.code != http.StatusNoContent {
			t.Fatalf("long upload: %d %s, want 204", r.code, r.resp)
		}
		if !r.end.After(userExp) || !r.end.After(oldSvcExp) {
			t.Fatalf("the upload ended at %v, before the tokens it began with expired (%v, %v)", r.end, userExp, oldSvcExp)
		}
		// Nova then looks at the image with the expired token.
		fresh(t, ks, func(tok func(string) string) error {
			if status, size := g.show(t, long, "X-Auth-Token", user, "X-Service-Token", tok("glint")); status != "active" || size != body.sent.Load() {
				t.Errorf("after the long upload: %s, %d bytes; want active, %d", status, size, body.sent.Load())
			}
			return nil
		})
		t.Logf("uploaded %d bytes, ending %v after the user's token expired", body.sent.Load(), r.end.Sub(userExp).Round(time.Millisecond))
	})
	t.Run("revoked", func(t *testing.T) {
		// alpha-reader's and alpha-member's expired tokens, cached as
		// accepted with allow_expired.
		fresh(t, ks, func(tok func(string) string) error {
			svc := tok("glint")
			for _, u := range []string{reader, user} {
				if err := expect(t, http.StatusOK, http.MethodGet, "/v2/images/"+shown, nil, "X-Auth-Token", u, "X-Service-Token", svc); err != nil {
					return err
				}
			}
			return nil
		})
		cached := func(tok string) bool {
			_, ok := a.cache.get(cacheKey(tok)+expiredSuffix, time.Now())
			return ok
		}
		if !cached(reader) || !cached(user) {
			t.Fatal("the expired tokens accepted with a service token are not cached")
		}
		ks.RevokeUser(t, "alpha-reader")
		revoked := time.Now()
		waitFor(t, func() bool { return !cached(reader) })
		t.Logf("revoked expired token dropped from the cache %v after the revocation (revocation interval 1 s)", time.Since(revoked).Round(time.Millisecond))
		if !cached(user) {
			t.Error("the revocation of another user's tokens dropped alpha-member's")
		}
		fresh(t, ks, func(tok func(string) string) error {
			return expect(t, http.StatusUnauthorized, http.MethodGet, "/v2/images/"+shown, nil, "X-Auth-Token", reader, "X-Service-Token", tok("glint"))
		})
	})
	t.Run("logged", func(t *testing.T) {
		out := logs.String()
		want := fmt.Sprintf("user_id=%s user_name=alpha-member project_id=%s service_user_id=%s service_user_name=glint service_project_id=%s",
			ks.UserID("alpha-member"), ks.ProjectID("alpha"), ks.UserID("glint"), ks.ProjectID("service"))
		if !strings.Contains(out, want) || !strings.Contains(out, `msg="accepted an expired user token on a valid service token" request_id=req-`) {
			t.Errorf("no acceptance logged with request id and %s:\n%s", want, out)
		}
		for _, tok := range tokens {
			if strings.Contains(out, tok) {
				t.Fatal("a token is in the log")
			}
		}
	})
	// The switches, at the authenticator: with or without
	// delay_auth_decision and service_token_roles_required, an expired
	// user token passes only with a service token holding
	// service_token_roles, and the request carries the service's identity
	// (keystonemiddleware's X-Service-* headers).
	t.Run("switches", func(t *testing.T) {
		for _, delay := range []bool{true, false} {
			for _, required := range []bool{false, true} {
				t.Run(fmt.Sprintf("delay=%v/required=%v", delay, required), func(t *testing.T) {
					a, _, _ := newAuth(t, ks, func(o *Options) {
						o.DelayAuthDecision, o.ServiceTokenRolesRequired, o.Now = delay, required, nil
					})
					fresh(t, ks, func(tok func(string) string) error {
						c, err := a.Authenticate(context.Background(), request("X-Auth-Token", user, "X-Service-Token", tok("glint")))
						if err != nil {
							return fmt.Errorf("expired token with the glint service token: %v", err)
						}
						if c.UserID != ks.UserID("alpha-member") || c.ProjectID != ks.ProjectID("alpha") || !c.HasRole("member") || c.IsAdmin {
							t.Errorf("identity %+v, want alpha-member's", c)
						}
						if sv := c.Service; sv == nil || sv.UserID != ks.UserID("glint") || sv.UserName != "glint" || sv.UserDomainID != "default" ||
							sv.ProjectID != ks.ProjectID("service") || sv.ProjectName != "service" || !slices.Contains(sv.Roles, "service") {
							t.Errorf("service %+v, want glint's", c.Service)
						}
						return nil
					})
					fresh(t, ks, func(tok func(string) string) error {
						_, err := a.Authenticate(context.Background(), request("X-Auth-Token", user, "X-Service-Token", tok("beta-member")))
						if errs.KindOf(err) != errs.Unauthorized {
							return fmt.Errorf("expired token with a service token without the role: %v, want unauthorized", err)
						}
						return nil
					})
				})
			}
		}
		t.Run("other service_token_roles", func(t *testing.T) {
			a, _, _ := newAuth(t, ks, func(o *Options) { o.ServiceTokenRoles, o.Now = []string{"nova-service"}, nil })
			fresh(t, ks, func(tok func(string) string) error {
				_, err := a.Authenticate(context.Background(), request("X-Auth-Token", user, "X-Service-Token", tok("glint")))
				if errs.KindOf(err) != errs.Unauthorized {
					return fmt.Errorf("a service token without the configured role: %v, want unauthorized", err)
				}
				return nil
			})
		})
	})
}
