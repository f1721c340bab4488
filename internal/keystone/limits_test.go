package keystone

import (
	"context"
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"glint/internal/errs"
	"glint/internal/keystone/keystonetest"
)

// limitsFixture is a service of the test's own in the real Keystone with
// the registered limits of the issue (image_size_total 1000 MiB,
// image_stage_total 1000, image_count_total 100, image_count_uploading
// 100) and a project limit of 2 images for alpha.
func limitsFixture(t *testing.T) (*keystonetest.Keystone, *keystonetest.LimitsService) {
	ks := keystonetest.Start(t)
	svc := ks.NewLimitsService(t, "glint-limits-"+uuid.NewString()[:8], "http://127.0.0.1:9292")
	for res, n := range map[string]int64{"image_size_total": 1000, "image_stage_total": 1000, "image_count_total": 100, "image_count_uploading": 100} {
		svc.Register(t, res, n)
	}
	svc.SetProjectLimit(t, ks.ProjectID("alpha"), "image_count_total", 2)
	return ks, svc
}

func TestLimitsFromKeystone(t *testing.T) {
	ks, svc := limitsFixture(t)
	user, pass := ks.GlanceUser(t)
	want := map[string]int64{"image_size_total": 1000, "image_stage_total": 1000, "image_count_total": 100, "image_count_uploading": 100}
	wantAlpha := maps.Clone(want)
	wantAlpha["image_count_total"] = 2

	for _, tc := range []struct {
		name string
		o    LimitsOptions
	}{
		{"password, system scope, endpoint_id", LimitsOptions{AuthURL: ks.URL, Username: user, Password: pass,
			UserDomainName: "Default", SystemScope: "all", EndpointID: svc.EndpointID}},
		{"v3password, user_id, endpoint lookup by service name and region", LimitsOptions{AuthURL: ks.URL + "/v3/", AuthType: "v3password",
			UserID: ks.UserID("admin"), Password: ks.Password("admin"), SystemScope: "all",
			EndpointServiceType: "image", EndpointServiceName: svc.Name, EndpointRegionName: "RegionOne", EndpointInterface: "internalURL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := NewLimits(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Check(context.Background()); err != nil {
				t.Fatal(err)
			}
			for project, w := range map[string]map[string]int64{"": want, ks.ProjectID("beta"): want, ks.ProjectID("alpha"): wantAlpha} {
				got, err := l.Get(context.Background(), project)
				if err != nil || !maps.Equal(got, w) {
					t.Errorf("limits of %q = %v, %v; want %v", project, got, err, w)
				}
			}
		})
	}

	// An application credential is scoped to its project, and Keystone
	// shows a project-scoped token the limits of that project only:
	// other projects get the registered limits (docs/configuration.md).
	t.Run("application credential", func(t *testing.T) {
		svc.SetProjectLimit(t, ks.ProjectID("admin"), "image_count_total", 7)
		// The admin's own credential (Keystone's legacy policy, which the
		// suite's Keystone runs, lets only an admin read an endpoint).
		tok := ks.TokenScoped(t, "admin", map[string]any{"project": map[string]any{"name": "admin", "domain": map[string]string{"id": "default"}}})
		body := `{"application_credential": {"name": "limits-` + uuid.NewString()[:8] + `"}}`
		req, _ := http.NewRequest(http.MethodPost, ks.URL+"/v3/users/"+ks.UserID("admin")+"/application_credentials", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Auth-Token", tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("creating an application credential: %s", resp.Status)
		}
		var ac struct {
			Cred struct{ ID, Secret string } `json:"application_credential"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&ac); err != nil {
			t.Fatal(err)
		}
		l, err := NewLimits(LimitsOptions{AuthURL: ks.URL, AuthType: "v3applicationcredential",
			ApplicationCredentialID: ac.Cred.ID, ApplicationCredentialSecret: ac.Cred.Secret, EndpointID: svc.EndpointID})
		if err != nil {
			t.Fatal(err)
		}
		wantAdmin := maps.Clone(want)
		wantAdmin["image_count_total"] = 7
		if got, err := l.Get(context.Background(), ks.ProjectID("admin")); err != nil || !maps.Equal(got, wantAdmin) {
			t.Errorf("limits = %v, %v; want %v", got, err, wantAdmin)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		l, _ := NewLimits(LimitsOptions{AuthURL: ks.URL, Username: user, Password: "wrong", SystemScope: "all", EndpointID: svc.EndpointID})
		if _, err := l.Get(context.Background(), ks.ProjectID("alpha")); !errs.Is(errs.Unavailable, err) || !strings.Contains(errs.Message(err), "Keystone") {
			t.Errorf("err = %v, want Unavailable naming Keystone", err)
		}
	})
}

// TestLimitsRefreshAndOutage: a limit changed in Keystone is read again
// after CacheTime; while Keystone cannot be reached the last limits read
// stay in force, and with none read yet the lookup fails (Unavailable).
// Keystone is the real one, behind a proxy the test can cut.
func TestLimitsRefreshAndOutage(t *testing.T) {
	ks, svc := limitsFixture(t)
	user, pass := ks.GlanceUser(t)
	target, _ := url.Parse(ks.URL)
	var down atomic.Bool
	proxy := httputil.NewSingleHostReverseProxy(target)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			// Like a Keystone that is gone: no answer at all.
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
		}
		proxy.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	l, err := NewLimits(LimitsOptions{AuthURL: "http://" + ln.Addr().String(), Username: user, Password: pass, SystemScope: "all",
		EndpointID: svc.EndpointID, CacheTime: 10 * time.Second, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	alpha, beta := ks.ProjectID("alpha"), ks.ProjectID("beta")
	count := func(project string) int64 {
		t.Helper()
		m, err := l.Get(context.Background(), project)
		if err != nil {
			t.Fatalf("limits of %s: %v", project, err)
		}
		return m["image_count_total"]
	}
	if n := count(alpha); n != 2 {
		t.Fatalf("alpha's image_count_total = %d, want 2", n)
	}
	svc.SetProjectLimit(t, alpha, "image_count_total", 5)
	if n := count(alpha); n != 2 {
		t.Errorf("within the cache time: %d, want the cached 2", n)
	}
	now.Add(int64(11 * time.Second))
	if n := count(alpha); n != 5 {
		t.Errorf("after the cache time: %d, want 5", n)
	}

	down.Store(true)
	now.Add(int64(11 * time.Second))
	if n := count(alpha); n != 5 {
		t.Errorf("Keystone down, limits read before: %d, want 5 (the last read)", n)
	}
	if _, err := l.Get(context.Background(), beta); !errs.Is(errs.Unavailable, err) {
		t.Errorf("Keystone down, beta never read: %v, want Unavailable", err)
	}
	down.Store(false)
	now.Add(int64(2 * time.Second))
	if n := count(beta); n != 100 {
		t.Errorf("Keystone back: beta's image_count_total = %d, want 100", n)
	}
}

func TestNewLimitsRefusesIncompleteOptions(t *testing.T) {
	for _, o := range []LimitsOptions{
		{},
		{AuthURL: "http://ks", Username: "u", EndpointID: "e"},
		{AuthURL: "http://ks", Username: "u", Password: "p"},
		{AuthURL: "http://ks", AuthType: "v3token", Username: "u", Password: "p", EndpointID: "e"},
		{AuthURL: "http://ks", AuthType: "v3applicationcredential", ApplicationCredentialID: "x", EndpointID: "e"},
		{AuthURL: "http://ks", Username: "u", Password: "p", EndpointID: "e", EndpointInterface: "private"},
	} {
		if _, err := NewLimits(o); err == nil {
			t.Errorf("NewLimits(%+v) accepted", o)
		}
	}
}
