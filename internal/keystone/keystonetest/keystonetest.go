// Package keystonetest runs a real Keystone for tests: Debian's keystone
// under uwsgi, started by scripts/keystone.sh once per test binary and
// stopped by Main. Outside CI a Keystone that cannot start (not root, no
// Debian packages) skips the tests that need it; with CI=true it fails
// them. Under go test -short it is never started: they are skipped.
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
	port     int
	accounts map[string]string // accounts.env
}

// The one Keystone of this test binary: starting one takes seconds, so
// the tests of a binary share it (package state, because TestMain must
// stop it after all of them).
var (
	mu       sync.Mutex
	shared   *Keystone
	startErr error
	tmpDir   string
	script   string
)

// Main runs the tests and stops the Keystone they started; call it from
// TestMain: os.Exit(keystonetest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		if out, err := exec.Command("bash", script, "stop", shared.Dir).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "keystonetest: stopping Keystone: %v\n%s", err, out)
		}
	}
	if tmpDir != "" {
		os.RemoveAll(tmpDir)
	}
	return code
}

// Start returns this binary's Keystone, starting it on first use; under
// -short it skips t.
func Start(t testing.TB) *Keystone {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: needs a Keystone (scripts/keystone.sh)")
	}
	mu.Lock()
	defer mu.Unlock()
	if shared == nil && startErr == nil {
		shared, startErr = start()
	}
	if startErr != nil {
		if os.Getenv("CI") != "true" {
			t.Skipf("no Keystone (CI=true makes this a failure): %v", startErr)
		}
		t.Fatalf("starting Keystone: %v", startErr)
	}
	return shared
}

func start() (*Keystone, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	script = filepath.Join(root, "scripts", "keystone.sh")
	if tmpDir, err = os.MkdirTemp("", "glint-keystone-"); err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(tmpDir, strconv.Itoa(attempt))
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute) // a first run installs packages
		cmd := exec.CommandContext(ctx, "bash", script, "start", dir, "--port", strconv.Itoa(port))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		cancel()
		if err != nil {
			lastErr = fmt.Errorf("%s start: %v\n%s", script, err, stderr.String())
			exec.Command("bash", script, "stop", dir).Run()
			continue
		}
		k := &Keystone{Dir: dir, port: port, accounts: map[string]string{}}
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
	return resp.Header.Get("X-Subject-Token")
}

// SetImageEndpoint points the catalog's image service (all three
// interfaces) at url, so clients find Glint through Keystone.
func (k *Keystone) SetImageEndpoint(t testing.TB, url string) {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	out, err := exec.Command("bash", script, "start", k.Dir, "--port", strconv.Itoa(k.port), "--image-url", url).CombinedOutput()
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
