// Package keystonetest runs a real Keystone for tests: Debian's keystone
// under uwsgi, started by scripts/keystone.sh once per test binary (and
// once more for each other set of Options a test asks for) and stopped by
// Main. Outside CI a Keystone that cannot start (not root, no Debian
// packages) skips the tests that need it; with CI=true it fails them.
// Under go test -short it is never started: they are skipped.
package keystonetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Keystone is a running Keystone with the accounts scripts/keystone.sh
// creates: admin, glint (service), alpha-member, alpha-reader and
// beta-member, in projects admin, service, alpha and beta.
type Keystone struct {
	URL      string // http://127.0.0.1:PORT, without /v3
	Dir      string
	opt      Options
	port     int
	accounts map[string]string // accounts.env
}

// Options select a Keystone configured differently from the default one.
// The zero value is the default Keystone that Start returns.
type Options struct {
	// TokenExpiration is Keystone's [token] expiration in seconds: how
	// long the tokens it issues live. 0 means scripts/keystone.sh's
	// default, one hour.
	TokenExpiration int
}

// The Keystones of this test binary, one per Options: starting one takes
// seconds, so the tests of a binary share them (package state, because
// TestMain must stop them after all of them).
var (
	mu        sync.Mutex
	instances = map[Options]*instance{}
	tmpDir    string
	script    string
)

type instance struct {
	ks  *Keystone
	err error
}

// Main runs the tests and stops the Keystones they started; call it from
// TestMain: os.Exit(keystonetest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	for _, in := range instances {
		if in.ks == nil {
			continue
		}
		if out, err := exec.Command("bash", script, "stop", in.ks.Dir).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "keystonetest: stopping Keystone: %v\n%s", err, out)
		}
	}
	if tmpDir != "" {
		os.RemoveAll(tmpDir)
	}
	return code
}

// Start returns this binary's default Keystone, starting it on first use;
// under -short it skips t.
func Start(t testing.TB) *Keystone {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith returns this binary's Keystone configured as o, starting it
// on first use, on a port and in a directory of its own (with a copy of
// the same accounts); under -short it skips t.
func StartWith(t testing.TB, o Options) *Keystone {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: needs a Keystone (scripts/keystone.sh)")
	}
	mu.Lock()
	defer mu.Unlock()
	in := instances[o]
	if in == nil {
		in = &instance{}
		in.ks, in.err = start(o)
		instances[o] = in
	}
	if in.err != nil {
		if os.Getenv("CI") != "true" {
			t.Skipf("no Keystone (CI=true makes this a failure): %v", in.err)
		}
		t.Fatalf("starting Keystone: %v", in.err)
	}
	return in.ks
}

// args are the options of scripts/keystone.sh start for o.
func (o Options) args() []string {
	if o.TokenExpiration > 0 {
		return []string{"--token-expiration", strconv.Itoa(o.TokenExpiration)}
	}
	return nil
}

// name is o's directory under tmpDir.
func (o Options) name() string {
	if o.TokenExpiration > 0 {
		return "expiration-" + strconv.Itoa(o.TokenExpiration)
	}
	return "default"
}

func start(o Options) (*Keystone, error) {
	if tmpDir == "" {
		root, err := moduleRoot()
		if err != nil {
			return nil, err
		}
		script = filepath.Join(root, "scripts", "keystone.sh")
		if tmpDir, err = os.MkdirTemp("", "glint-keystone-"); err != nil {
			return nil, err
		}
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(tmpDir, o.name(), strconv.Itoa(attempt))
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute) // a first run installs packages
		cmd := exec.CommandContext(ctx, "bash", append([]string{script, "start", dir, "--port", strconv.Itoa(port)}, o.args()...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		cancel()
		if err != nil {
			lastErr = fmt.Errorf("%s start: %v\n%s", script, err, stderr.String())
			exec.Command("bash", script, "stop", dir).Run()
			continue
		}
		k := &Keystone{Dir: dir, opt: o, port: port, accounts: map[string]string{}}
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, "URL="); ok {
				k.URL = v
			}
		}
		if err := k.readAccounts(filepath.Join(dir, "accounts.env")); err != nil {
			return nil, err
		}
		return k, nil
	}
	return nil, lastErr
}

func (k *Keystone) readAccounts(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, val, ok := strings.Cut(sc.Text(), "="); ok {
			k.accounts[name] = val
		}
	}
	return sc.Err()
}

func envName(s string) string { return strings.ToUpper(strings.ReplaceAll(s, "-", "_")) }

// ProjectID returns the id of project name (admin, service, alpha, beta).
func (k *Keystone) ProjectID(name string) string { return k.accounts[envName(name)+"_PROJECT_ID"] }

// UserID returns the id of user name.
func (k *Keystone) UserID(name string) string { return k.accounts[envName(name)+"_USER_ID"] }

// Password returns user name's password.
func (k *Keystone) Password(name string) string { return k.accounts[envName(name)+"_PASSWORD"] }

// AuthtokenConf is the [keystone_authtoken] section of a glance-api.conf
// that validates tokens with k as the service user glint, ending in a
// newline; extra lines (such as "token_cache_time = 300") are appended to
// the section.
func (k *Keystone) AuthtokenConf(extra ...string) string {
	s := fmt.Sprintf(`[keystone_authtoken]
www_authenticate_uri = %[1]s
auth_url = %[1]s
auth_type = password
username = glint
password = %[2]s
project_name = service
user_domain_name = Default
project_domain_name = Default
`, k.URL, k.Password("glint"))
	for _, l := range extra {
		s += l + "\n"
	}
	return s
}

// ProjectOf is the project each test user has its role on.
func ProjectOf(user string) string {
	switch user {
	case "admin":
		return "admin"
	case "glint":
		return "service"
	case "alpha-member", "alpha-reader":
		return "alpha"
	case "beta-member":
		return "beta"
	}
	return ""
}

// Token returns a new project-scoped token for user (on ProjectOf(user)).
func (k *Keystone) Token(t testing.TB, user string) string {
	t.Helper()
	scope := map[string]any{"project": map[string]any{"name": ProjectOf(user), "domain": map[string]string{"id": "default"}}}
	return k.TokenScoped(t, user, scope)
}

// TokenScoped returns a new token for user with the given Keystone v3 scope
// object (nil: unscoped), e.g. {"system": {"all": true}}.
func (k *Keystone) TokenScoped(t testing.TB, user string, scope map[string]any) string {
	t.Helper()
	tok, _ := k.issue(t, user, scope)
	return tok
}

// TokenExpiring returns a new project-scoped token for user, as Token
// does, and when Keystone says it expires.
func (k *Keystone) TokenExpiring(t testing.TB, user string) (string, time.Time) {
	t.Helper()
	return k.issue(t, user, map[string]any{"project": map[string]any{"name": ProjectOf(user), "domain": map[string]string{"id": "default"}}})
}

func (k *Keystone) issue(t testing.TB, user string, scope map[string]any) (string, time.Time) {
	t.Helper()
	a := map[string]any{"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
		"user": map[string]any{"name": user, "domain": map[string]string{"id": "default"}, "password": k.Password(user)}}}}
	if scope != nil {
		a["scope"] = scope
	}
	body, _ := json.Marshal(map[string]any{"auth": a})
	resp, err := http.Post(k.URL+"/v3/auth/tokens?nocatalog", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("token for %s: Keystone answered %s", user, resp.Status)
	}
	var doc struct {
		Token struct {
			ExpiresAt time.Time `json:"expires_at"`
		} `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatalf("token for %s: %v", user, err)
	}
	return resp.Header.Get("X-Subject-Token"), doc.Token.ExpiresAt
}

// SetImageEndpoint points the catalog's image service (all three
// interfaces) at url, so clients find Glint through Keystone.
func (k *Keystone) SetImageEndpoint(t testing.TB, url string) {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	args := append([]string{script, "start", k.Dir, "--port", strconv.Itoa(k.port), "--image-url", url}, k.opt.args()...)
	out, err := exec.Command("bash", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("setting the image endpoint: %v\n%s", err, out)
	}
}

// Revoke revokes tok (DELETE /v3/auth/tokens), as a logout does.
func (k *Keystone) Revoke(t testing.TB, tok string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, k.URL+"/v3/auth/tokens", nil)
	req.Header.Set("X-Auth-Token", tok)
	req.Header.Set("X-Subject-Token", tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoking a token: Keystone answered %s", resp.Status)
	}
}

// RevokeUser makes Keystone revoke every token of user issued so far, as
// a password change does (it sets the same password again): Keystone
// refuses them and records a revocation event naming the user. Keystone
// compares issue times to the second, so a token issued in the same
// second is revoked too.
func (k *Keystone) RevokeUser(t testing.TB, user string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"user": map[string]string{"password": k.Password(user)}})
	req, _ := http.NewRequest(http.MethodPatch, k.URL+"/v3/users/"+k.UserID(user), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Auth-Token", k.Token(t, "admin"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoking %s's tokens: Keystone answered %s", user, resp.Status)
	}
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// API sends an admin request (a system-scoped admin token) to Keystone's
// v3 API and returns the status and the decoded JSON answer (nil when
// empty).
func (k *Keystone) API(t testing.TB, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, k.URL+"/v3"+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Auth-Token", k.TokenScoped(t, "admin", map[string]any{"system": map[string]any{"all": true}}))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	json.NewDecoder(resp.Body).Decode(&doc) // an empty answer leaves it nil
	return resp.StatusCode, doc
}

func (k *Keystone) mustAPI(t testing.TB, want int, method, path string, body any) map[string]any {
	t.Helper()
	st, doc := k.API(t, method, path, body)
	if st != want {
		t.Fatalf("keystone %s %s: %d %v (want %d)", method, path, st, doc, want)
	}
	return doc
}

// LimitsService is an image service of one test's own in Keystone, with a
// public, internal and admin endpoint in RegionOne: unified limits
// registered for it concern no other test. NewLimitsService removes it,
// with its limits, when the test ends.
type LimitsService struct {
	k          *Keystone
	ServiceID  string
	EndpointID string // its public endpoint
	Name       string
	limits     []string // project limit ids, deleted first
	registered []string
}

// NewLimitsService registers an image service named name (unique per
// test) at url.
func (k *Keystone) NewLimitsService(t testing.TB, name, url string) *LimitsService {
	t.Helper()
	doc := k.mustAPI(t, http.StatusCreated, http.MethodPost, "/services",
		map[string]any{"service": map[string]any{"type": "image", "name": name, "description": "limits test " + name}})
	s := &LimitsService{k: k, ServiceID: doc["service"].(map[string]any)["id"].(string), Name: name}
	for _, iface := range []string{"public", "internal", "admin"} {
		doc := k.mustAPI(t, http.StatusCreated, http.MethodPost, "/endpoints", map[string]any{"endpoint": map[string]any{
			"service_id": s.ServiceID, "interface": iface, "url": url, "region_id": "RegionOne"}})
		if iface == "public" {
			s.EndpointID = doc["endpoint"].(map[string]any)["id"].(string)
		}
	}
	t.Cleanup(func() {
		for _, id := range s.limits {
			k.API(t, http.MethodDelete, "/limits/"+id, nil)
		}
		for _, id := range s.registered {
			k.API(t, http.MethodDelete, "/registered_limits/"+id, nil)
		}
		// Deleting the service deletes its endpoints.
		k.API(t, http.MethodDelete, "/services/"+s.ServiceID, nil)
	})
	return s
}

// Register registers a default limit of the service in RegionOne.
func (s *LimitsService) Register(t testing.TB, resource string, limit int64) {
	t.Helper()
	doc := s.k.mustAPI(t, http.StatusCreated, http.MethodPost, "/registered_limits", map[string]any{"registered_limits": []any{
		map[string]any{"service_id": s.ServiceID, "region_id": "RegionOne", "resource_name": resource, "default_limit": limit}}})
	s.registered = append(s.registered, doc["registered_limits"].([]any)[0].(map[string]any)["id"].(string))
}

// SetProjectLimit gives project (an id) its own limit of resource, or
// changes it.
func (s *LimitsService) SetProjectLimit(t testing.TB, project, resource string, limit int64) {
	t.Helper()
	_, doc := s.k.API(t, http.MethodGet, "/limits?service_id="+s.ServiceID+"&project_id="+project+"&resource_name="+resource, nil)
	if items, _ := doc["limits"].([]any); len(items) > 0 {
		id := items[0].(map[string]any)["id"].(string)
		s.k.mustAPI(t, http.StatusOK, http.MethodPatch, "/limits/"+id, map[string]any{"limit": map[string]any{"resource_limit": limit}})
		return
	}
	doc = s.k.mustAPI(t, http.StatusCreated, http.MethodPost, "/limits", map[string]any{"limits": []any{
		map[string]any{"service_id": s.ServiceID, "region_id": "RegionOne", "project_id": project,
			"resource_name": resource, "resource_limit": limit}}})
	s.limits = append(s.limits, doc["limits"].([]any)[0].(map[string]any)["id"].(string))
}

// GlanceUser makes sure Keystone has the user oslo.limit's documentation
// asks for: "glance" (password glance-pass) with the reader role on the
// system scope. It returns the name and the password.
func (k *Keystone) GlanceUser(t testing.TB) (string, string) {
	t.Helper()
	const name, password = "glance", "glance-pass"
	mu.Lock()
	defer mu.Unlock()
	_, doc := k.API(t, http.MethodGet, "/users?name="+name, nil)
	var uid string
	if items, _ := doc["users"].([]any); len(items) > 0 {
		uid = items[0].(map[string]any)["id"].(string)
	} else {
		doc := k.mustAPI(t, http.StatusCreated, http.MethodPost, "/users",
			map[string]any{"user": map[string]any{"name": name, "domain_id": "default", "password": password}})
		uid = doc["user"].(map[string]any)["id"].(string)
	}
	_, roles := k.API(t, http.MethodGet, "/roles?name=reader", nil)
	rid := roles["roles"].([]any)[0].(map[string]any)["id"].(string)
	k.mustAPI(t, http.StatusNoContent, http.MethodPut, "/system/users/"+uid+"/roles/"+rid, nil)
	return name, password
}
