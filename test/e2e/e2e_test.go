// Package e2e runs the real OpenStack command-line clients (Debian's
// python3-openstackclient and python3-glanceclient) against the real glint
// binary, each test on a server of its own.
//
// The CLIs must be installed; set GLINT_E2E_SKIP_CLI=1 to skip these tests
// where they are not (CI installs them through .ci/run). TestMain builds
// ./cmd/glint once; GLINT_E2E_BINARY=/path/to/glint tests that binary
// instead. Under go test -short nothing is built or started and every
// test here is skipped.
package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"glint/internal/keystone/keystonetest"
)

const (
	python       = "/usr/bin/python3" // Debian's, with the client libraries
	openstackBin = "/usr/bin/openstack"
	glanceBin    = "/usr/bin/glance"

	cliTimeout = 60 * time.Second
)

var (
	glintBin string // built once by TestMain
	cliErr   error  // why the CLIs cannot run, or nil
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "glint-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	flag.Parse() // for testing.Short
	if testing.Short() {
		return m.Run() // each test skips itself (skipShort)
	}
	if glintBin = os.Getenv("GLINT_E2E_BINARY"); glintBin == "" {
		glintBin = filepath.Join(tmp, "glint")
		if err := buildGlint(glintBin); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
	}
	cliErr = checkCLIs()
	return keystonetest.Main(m) // m.Run, then stop the Keystone the tests started
}

// buildGlint builds ./cmd/glint of the module two directories up.
// glintBuildTags are the build tags of the glint the tests build: the
// tests of a tagged driver (rbd_test.go) set their own.
var glintBuildTags string

func buildGlint(out string) error {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return fmt.Errorf("module root not found at ../..: %w", err)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	args := []string{"build", "-o", out}
	if glintBuildTags != "" {
		args = append(args, "-tags", glintBuildTags)
	}
	build := exec.Command(goTool, append(args, "./cmd/glint")...)
	build.Dir = root
	if b, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/glint: %v\n%s", err, b)
	}
	return nil
}

// checkCLIs reports whether both clients are installed and importable.
func checkCLIs() error {
	for _, p := range []string{python, openstackBin, glanceBin} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s is missing (install python3-openstackclient and python3-glanceclient): %w", p, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-c", "import openstackclient.shell, glanceclient.shell")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s cannot import the clients: %v\n%s", python, err, out)
	}
	return nil
}

// skipShort skips t under -short: every test here runs the glint binary
// (and the CLIs, a reference Glance or a Keystone).
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: end-to-end, runs the glint binary")
	}
}

// requireCLI fails the test when the CLIs are missing, or skips it when
// GLINT_E2E_SKIP_CLI=1; under -short it skips it.
func requireCLI(t *testing.T) {
	t.Helper()
	skipShort(t)
	if cliErr == nil {
		return
	}
	if os.Getenv("GLINT_E2E_SKIP_CLI") == "1" {
		t.Skipf("GLINT_E2E_SKIP_CLI=1: %v", cliErr)
	}
	t.Fatalf("OpenStack CLIs unavailable (set GLINT_E2E_SKIP_CLI=1 to skip): %v", cliErr)
}

// server is one running "glint serve".
type server struct {
	URL     string // http://127.0.0.1:PORT
	logPath string
	tmp     string // scratch space for CLI homes and files
	conf    string // its glance-api.conf
	dataDir string // its --data-dir
}

// startServer runs glint serve on a free port with its own data directory
// and stops it (SIGTERM, wait) when t ends; its log is printed if t failed.
// extraConf is appended to its glance-api.conf.
func startServer(t *testing.T, extraConf ...string) *server {
	t.Helper()
	return startServerConf(t, strings.Join(extraConf, "\n"))
}

// startServerConf is startServer with extraConf appended to the
// configuration file (after its [DEFAULT] section).
func startServerConf(t *testing.T, extraConf string) *server {
	t.Helper()
	skipShort(t)
	dir := t.TempDir()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := tryStart(t, dir, attempt, extraConf)
		if err == nil {
			return s
		}
		lastErr = err
		t.Logf("starting glint (attempt %d): %v", attempt+1, err)
	}
	t.Fatalf("glint serve did not start: %v", lastErr)
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func tryStart(t *testing.T, dir string, attempt int, extraConf string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	base := filepath.Join(dir, strconv.Itoa(attempt))
	dataDir := filepath.Join(base, "data")
	if err := os.MkdirAll(filepath.Join(base, "scratch"), 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(base, "glance-api.conf")
	confText := fmt.Sprintf("[DEFAULT]\nbind_host = 127.0.0.1\nbind_port = %d\ndebug = true\n", port) + extraConf
	if err := os.WriteFile(conf, []byte(confText), 0o644); err != nil {
		return nil, err
	}
	logPath := filepath.Join(base, "glint.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(glintBin, "serve", "--data-dir", dataDir, "--config-file", conf)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logFile.Close() }()

	s := &server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), logPath: logPath, tmp: filepath.Join(base, "scratch"),
		conf: conf, dataDir: dataDir}
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("glint exited before answering (%v); log:\n%s", err, s.log())
		default:
		}
		resp, err := client.Get(s.URL + "/versions")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return nil, fmt.Errorf("GET /versions did not answer 200 within 20s; log:\n%s", s.log())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The suite's configurations hold no typo: every option they set is
	// Glint's or Glance's (docs/configuration.md, "unknown options").
	for _, line := range strings.Split(s.log(), "\n") {
		if strings.Contains(line, "ignoring unknown configuration option") {
			t.Errorf("glint serve: %s", line)
		}
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("glint serve exited with %v after SIGTERM", err)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("glint serve did not stop within 30s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("glint serve log (%s):\n%s", logPath, headTail(s.log(), 50, 300))
		}
	})
	return s, nil
}

func (s *server) log() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	return string(b)
}

// ---- running the CLIs ----

type cliResult struct {
	cmdline        string
	stdout, stderr string
	err            error // nil on exit status 0
}

func (r cliResult) String() string {
	return fmt.Sprintf("$ %s\nerr: %v\nstdout:\n%s\nstderr:\n%s", r.cmdline, r.err, tail(r.stdout, 8<<10), tail(r.stderr, 8<<10))
}

// tail returns the last n bytes of s, marking what it left out.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("[… %d bytes left out …]\n", len(s)-n) + s[len(s)-n:]
}

// headTail keeps the first head and last tail lines of s.
func headTail(s string, head, tail int) string {
	lines := strings.Split(s, "\n")
	if len(lines) <= head+tail {
		return s
	}
	return strings.Join(lines[:head], "\n") + fmt.Sprintf("\n[… %d lines left out …]\n", len(lines)-head-tail) +
		strings.Join(lines[len(lines)-tail:], "\n")
}

// cappedBuffer keeps at most max bytes (a runaway client must not eat
// memory) and discards the rest.
type cappedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.buf.Len(); room > 0 {
		if len(p) > room {
			c.buf.Write(p[:room])
		} else {
			c.buf.Write(p)
		}
	}
	return len(p), nil
}

func (c *cappedBuffer) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// runCLI runs one client with a clean environment: a fresh HOME, no OS_*
// variables, no proxies, stdin from /dev/null.
//
// A fresh HOME for every call matters for glance: glanceclient 4.1.0 caches
// /v2/schemas/image in ~/.glanceclient and, on the next run, turns every
// schema property into a command-line option; the "stores" property that
// Glance 25.1 (and Glint) publish collides with image-create-via-import's
// own --stores, and argparse aborts every command with "argument --stores:
// conflicting option string". Without a cache the client parses with its
// built-in schema, as on a first run.
func (s *server) runCLI(t *testing.T, timeout time.Duration, bin string, args ...string) cliResult {
	t.Helper()
	home, err := os.MkdirTemp(s.tmp, "home-")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, append([]string{bin}, args...)...)
	cmd.Env = []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + home,
		"LANG=C.UTF-8",
		"TMPDIR=" + home,
		"COLUMNS=200",
	}
	cmd.Stdin = nil // /dev/null
	cmd.WaitDelay = 5 * time.Second
	stdout := &cappedBuffer{max: 4 << 20}
	stderr := &cappedBuffer{max: 4 << 20}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	start := time.Now()
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", timeout, err)
	}
	r := cliResult{cmdline: filepath.Base(bin) + " " + strings.Join(args, " "), stdout: stdout.String(),
		stderr: stderr.String(), err: err}
	t.Logf("$ %s  (%.1fs, err=%v)", r.cmdline, time.Since(start).Seconds(), err)
	return r
}

// openstack runs "openstack --os-auth-type none --os-endpoint URL args…".
func (s *server) openstack(t *testing.T, args ...string) cliResult {
	t.Helper()
	return s.runCLI(t, cliTimeout, openstackBin,
		append([]string{"--os-auth-type", "none", "--os-endpoint", s.URL}, args...)...)
}

// glance runs "glance --os-image-url URL --os-auth-token noauth args…":
// glanceclient talks to an endpoint without Keystone only when given a
// token, which Glance's (and Glint's) noauth pipeline ignores.
func (s *server) glance(t *testing.T, args ...string) cliResult {
	t.Helper()
	return s.glanceTimeout(t, cliTimeout, args...)
}

func (s *server) glanceTimeout(t *testing.T, timeout time.Duration, args ...string) cliResult {
	t.Helper()
	return s.runCLI(t, timeout, glanceBin,
		append([]string{"--os-image-url", s.URL, "--os-auth-token", "noauth"}, args...)...)
}

func must(t *testing.T, r cliResult) cliResult {
	t.Helper()
	if r.err != nil {
		t.Fatalf("CLI failed:\n%s", r)
	}
	return r
}

func mustFail(t *testing.T, r cliResult) cliResult {
	t.Helper()
	if r.err == nil {
		t.Fatalf("CLI succeeded, want failure:\n%s", r)
	}
	return r
}

func jsonOut[T any](t *testing.T, r cliResult) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("CLI output is not the JSON expected (%v):\n%s", err, r)
	}
	return v
}

// glanceTable parses glanceclient's prettytable output into rows keyed by
// the header. A row whose first cell is empty continues the previous row
// (glanceclient wraps long values such as os_hash_value).
func glanceTable(t *testing.T, out string) []map[string]string {
	t.Helper()
	var header []string
	var rows []map[string]string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if header == nil {
			header = cells
			continue
		}
		if len(cells) != len(header) {
			t.Fatalf("glance table row %q does not match header %q", line, header)
		}
		if cells[0] == "" && len(rows) > 0 {
			prev := rows[len(rows)-1]
			for i, c := range cells[1:] {
				prev[header[i+1]] += c
			}
			continue
		}
		row := map[string]string{}
		for i, c := range cells {
			row[header[i]] = c
		}
		rows = append(rows, row)
	}
	return rows
}

// glanceProps parses a glance Property/Value table (image-show,
// image-create, image-update) into a map.
func glanceProps(t *testing.T, r cliResult) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, row := range glanceTable(t, r.stdout) {
		m[row["Property"]] = row["Value"]
	}
	if len(m) == 0 {
		t.Fatalf("no Property/Value table in glance output:\n%s", r)
	}
	return m
}

// ---- the API over HTTP, for setup and assertions ----

var httpClient = &http.Client{Timeout: 30 * time.Second}

func (s *server) do(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp.StatusCode, b
}

// createImage creates an image without data over HTTP (the CLIs would read
// /dev/null as empty image data).
func (s *server) createImage(t *testing.T, body map[string]any) string {
	t.Helper()
	code, b := s.do(t, http.MethodPost, "/v2/images", body)
	if code != http.StatusCreated {
		t.Fatalf("POST /v2/images: %d %s", code, b)
	}
	var img map[string]any
	if err := json.Unmarshal(b, &img); err != nil {
		t.Fatal(err)
	}
	return img["id"].(string)
}

// getImage returns GET /v2/images/ID's status and decoded body.
func (s *server) getImage(t *testing.T, id string) (int, map[string]any) {
	t.Helper()
	code, b := s.do(t, http.MethodGet, "/v2/images/"+id, nil)
	var img map[string]any
	if code == http.StatusOK {
		if err := json.Unmarshal(b, &img); err != nil {
			t.Fatalf("GET /v2/images/%s: %v: %s", id, err, b)
		}
	}
	return code, img
}

func (s *server) mustGetImage(t *testing.T, id string) map[string]any {
	t.Helper()
	code, img := s.getImage(t, id)
	if code != http.StatusOK {
		t.Fatalf("GET /v2/images/%s: status %d, want 200", id, code)
	}
	return img
}

// listIDs returns the ids GET /v2/images?query answers, in order.
func (s *server) listIDs(t *testing.T, query string) []string {
	t.Helper()
	code, b := s.do(t, http.MethodGet, "/v2/images?"+query, nil)
	if code != http.StatusOK {
		t.Fatalf("GET /v2/images?%s: %d %s", query, code, b)
	}
	var body struct {
		Images []struct {
			ID string `json:"id"`
		} `json:"images"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, img := range body.Images {
		ids = append(ids, img.ID)
	}
	return ids
}

// waitStatus polls the image until it has status want (the CLIs may
// return while the image is still queued or saving).
func (s *server) waitStatus(t *testing.T, id, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		img := s.mustGetImage(t, id)
		if img["status"] == want {
			return img
		}
		if time.Now().After(deadline) {
			t.Fatalf("image %s: status %v after 30s, want %s", id, img["status"], want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ---- files ----

type payload struct {
	path   string
	data   []byte
	md5    string
	sha512 string
}

func writePayload(t *testing.T, dir string, size int) payload {
	t.Helper()
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(dir, "image-*.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	m, s := md5.Sum(data), sha512.Sum512(data)
	return payload{path: f.Name(), data: data, md5: hex.EncodeToString(m[:]), sha512: hex.EncodeToString(s[:])}
}

// checkDownload compares a downloaded file with the payload and with the
// checksums the API reports for the image.
func checkDownload(t *testing.T, path string, want payload, img map[string]any) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("downloaded file: %v", err)
	}
	if !bytes.Equal(got, want.data) {
		t.Fatalf("downloaded %d bytes differ from the %d bytes uploaded", len(got), len(want.data))
	}
	m, s := md5.Sum(got), sha512.Sum512(got)
	if h := hex.EncodeToString(m[:]); h != img["checksum"] {
		t.Errorf("md5 of download %s, image checksum %v", h, img["checksum"])
	}
	if h := hex.EncodeToString(s[:]); h != img["os_hash_value"] {
		t.Errorf("sha512 of download %s, image os_hash_value %v", h, img["os_hash_value"])
	}
}

// logHas reports whether the server log has a line with every one of parts.
func (s *server) logHas(parts ...string) bool {
	for _, line := range strings.Split(s.log(), "\n") {
		ok := true
		for _, p := range parts {
			if !strings.Contains(line, p) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

var errNotFound = errors.New("not found")

// field reads key from an "openstack … -f json" image, where
// openstackclient moves non-core attributes (os_hash_algo, os_hash_value,
// user properties) under "properties".
func field(img map[string]any, key string) (any, error) {
	if v, ok := img[key]; ok {
		return v, nil
	}
	if props, ok := img["properties"].(map[string]any); ok {
		if v, ok := props[key]; ok {
			return v, nil
		}
	}
	return nil, errNotFound
}
