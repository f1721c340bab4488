// Package tempest runs Tempest's image suite (Debian's tempest package,
// tempest.api.image) against the real glint binary behind the suite's
// real Keystone, configured as a cloud deploys Glance: keystone auth with
// the cachemanagement flavor, three stores (two file, one http), every
// import method, multiple locations shown, the import filter naming the
// local test servers, legacy policy defaults. Two glint nodes share one
// PostgreSQL database and store, so that Tempest's remote tests (stage
// on one node, import or delete through the other) run too.
//
// TestTempestImage holds the result to expected.txt: every test Tempest
// runs is listed there with what it must do (pass, or fail or be skipped
// for a reason written next to it). A test that should pass and does not
// fails the Go test, with Tempest's traceback in the output; so does a
// test listed as failing that passes (the list must be updated, so the
// next regression shows). GLINT_TEMPEST_REGEX=<stestr regex> runs only
// the matching tests (the list is then checked for those alone);
// GLINT_TEMPEST_SUBUNIT=<file> keeps Tempest's subunit stream there.
//
// It is opt-in (make test-tempest sets GLINT_TEMPEST=1): the run takes
// many minutes, most of them in Keystone. Under go test -short nothing
// runs. Without the tempest package, or without PostgreSQL or Keystone,
// the test is skipped, except under CI=true, where it fails.
package tempest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"glint/internal/db/dbtest"
	"glint/internal/keystone/keystonetest"
)

const (
	tempestPkg = "/usr/lib/python3/dist-packages/tempest"
	stestrBin  = "/usr/bin/stestr"
	// Glance's catalog, from Debian's glance-common.
	metadefsDir = "/etc/glance/metadefs"
)

var glintBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() || os.Getenv("GLINT_TEMPEST") != "1" {
		os.Exit(m.Run()) // nothing to build: the test skips itself
	}
	tmp, err := os.MkdirTemp("", "glint-tempest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tempest:", err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(tmp)
		if glintBin = os.Getenv("GLINT_E2E_BINARY"); glintBin == "" {
			glintBin = filepath.Join(tmp, "glint")
			build := exec.Command("go", "build", "-o", glintBin, "./cmd/glint")
			build.Dir = filepath.Join("..", "..")
			if out, err := build.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "tempest: go build ./cmd/glint: %v\n%s", err, out)
				return 1
			}
		}
		return keystonetest.Main(m)
	}()
	os.Exit(code)
}

// need skips t (fails it under CI=true) when what the harness needs is
// missing.
func need(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: runs Tempest against the glint binary")
	}
	if os.Getenv("GLINT_TEMPEST") != "1" {
		t.Skip("opt-in, it takes many minutes: make test-tempest (GLINT_TEMPEST=1)")
	}
	for _, p := range []string{tempestPkg, stestrBin, "/usr/bin/subunit2csv", "/usr/bin/subunit-trace", metadefsDir} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s missing (apt-get install tempest): %v", p, err)
			}
			t.Skipf("%s missing (apt-get install tempest glance-common; CI=true makes this a failure)", p)
		}
	}
}

func TestTempestImage(t *testing.T) {
	need(t)
	ks := keystonetest.Start(t)
	pg := dbtest.New(t, "postgres")
	dir := t.TempDir()

	web := startWebServer(t)
	portA, portB := freePort(t), freePort(t)
	conf := glanceConf(ks, pg.URL, dir, web.port, portA, portB)
	a := startNode(t, filepath.Join(dir, "a"), portA, conf)
	b := startNode(t, filepath.Join(dir, "b"), portB, conf)
	// A deployment loads Glance's metadata definitions catalog
	// (glance-manage db load_metadefs); Tempest's metadefs tests use it.
	if out, err := exec.Command(glintBin, "metadefs", "load", "--config-file", filepath.Join(dir, "a", "glance-api.conf"), metadefsDir).CombinedOutput(); err != nil {
		t.Fatalf("glint metadefs load %s: %v\n%s", metadefsDir, err, out)
	}
	ks.SetImageEndpoint(t, a.url)
	adm := newKSAdmin(t, ks)
	adm.setEndpoint("image_remote", b.url)
	accounts := adm.accounts()

	features := advertised(t, ks, a.url)
	t.Logf("[image-feature-enabled] from the server: %v", features)
	ws := filepath.Join(dir, "tempest")
	writeTempestConf(t, ws, ks, accounts, web.url+"/cirros.img", features)

	regex := `^tempest\.api\.image\.`
	if r := os.Getenv("GLINT_TEMPEST_REGEX"); r != "" {
		regex = r
	}
	start := time.Now()
	stream := runTempest(t, ws, regex)
	t.Logf("Tempest ran in %s", time.Since(start).Round(time.Second))
	if p := os.Getenv("GLINT_TEMPEST_SUBUNIT"); p != "" {
		if err := os.WriteFile(p, stream, 0o644); err != nil {
			t.Error(err)
		}
	}

	results := parseResults(t, stream)
	expected := readExpected(t, "expected.txt")
	failed := check(t, results, expected, os.Getenv("GLINT_TEMPEST_REGEX") == "")
	if failed {
		t.Logf("Tempest's failures (subunit-trace):\n%s", trace(t, stream))
		t.Logf("glint node a log (tail):\n%s", tail(a.log(), 60))
	}
}

// startWebServer serves the image Tempest's web-download and http
// location tests fetch (its [image] http_image), on loopback.
type webServer struct {
	url  string
	port int
}

func startWebServer(t *testing.T) webServer {
	t.Helper()
	data := make([]byte, 64*1024)
	rand.Read(data)
	mux := http.NewServeMux()
	mux.HandleFunc("/cirros.img", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "cirros.img", time.Time{}, bytes.NewReader(data))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	return webServer{url: fmt.Sprintf("http://127.0.0.1:%d", port), port: port}
}

// glanceConf is the glance-api.conf both nodes share (each adds its own
// port, staging directory and self reference).
func glanceConf(ks *keystonetest.Keystone, dbURL, dir string, webPort, portA, portB int) string {
	return fmt.Sprintf(`enabled_backends = fast:file, slow:file, web:http
enabled_import_methods = [glance-direct,web-download,copy-image,glance-download]
show_multiple_locations = true

[database]
connection = %[1]s

[paste_deploy]
flavor = keystone+cachemanagement

%[2]s
[glance_store]
default_backend = fast

[fast]
filesystem_store_datadir = %[3]s/fast

[slow]
filesystem_store_datadir = %[3]s/slow

[os_glance_staging_store]
filesystem_store_datadir = %[3]s/staging

[os_glance_tasks_store]
filesystem_store_datadir = %[3]s/tasks

[import_filtering_opts]
allowed_hosts = [127.0.0.1]
allowed_ports = [80,443,%[4]d,%[5]d,%[6]d]

[oslo_policy]
enforce_new_defaults = false
`, dbURL, ks.AuthtokenConf(), dir, webPort, portA, portB)
}

type node struct {
	url     string
	logPath string
}

func (n *node) log() string {
	b, _ := os.ReadFile(n.logPath)
	return string(b)
}

// startNode runs glint serve on port with conf plus what is the node's
// own, and waits until it answers.
func startNode(t *testing.T, dir string, port int, conf string) *node {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	text := fmt.Sprintf("[DEFAULT]\nbind_host = 127.0.0.1\nbind_port = %d\nworker_self_reference_url = %s\nnode_staging_uri = file://%s\n%s\n[glint]\ndata_dir = %s\n",
		port, url, filepath.Join(dir, "staging"), conf, filepath.Join(dir, "data"))
	confPath := filepath.Join(dir, "glance-api.conf")
	if err := os.WriteFile(confPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	n := &node{url: url, logPath: filepath.Join(dir, "glint.log")}
	logFile, err := os.Create(n.logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(glintBin, "serve", "--config-file", confPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logFile.Close(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	for deadline := time.Now().Add(60 * time.Second); ; {
		resp, err := http.Get(url + "/healthcheck")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n
			}
		}
		select {
		case <-exited:
			t.Fatalf("glint serve exited:\n%s", n.log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("glint serve did not answer on %s:\n%s", url, n.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ksAdmin calls Keystone's v3 API with an admin token.
type ksAdmin struct {
	t   *testing.T
	url string
	tok string
}

func newKSAdmin(t *testing.T, ks *keystonetest.Keystone) *ksAdmin {
	return &ksAdmin{t: t, url: ks.URL + "/v3", tok: ks.Token(t, "admin")}
}

func (k *ksAdmin) call(method, path string, body any) map[string]any {
	k.t.Helper()
	return callJSON(k.t, method, k.url+path, k.tok, body, true)
}

// callJSON sends body (nil: none) as JSON with token and decodes the JSON
// answer; with strict, an answer that is not a success fails t.
func callJSON(t *testing.T, method, url, token string, body any, strict bool) map[string]any {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, r)
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if strict && resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %s %s", method, url, resp.Status, b)
	}
	json.Unmarshal(b, &out)
	return out
}

// id returns the id of the object named name in collection kind
// (projects, users, roles), creating it with extra when it is missing.
func (k *ksAdmin) id(kind, name string, extra map[string]any) string {
	k.t.Helper()
	if list, _ := k.call("GET", "/"+kind+"?name="+name, nil)[kind].([]any); len(list) > 0 {
		return list[0].(map[string]any)["id"].(string)
	}
	obj := map[string]any{"name": name}
	for key, v := range extra {
		obj[key] = v
	}
	one := strings.TrimSuffix(kind, "s")
	return k.call("POST", "/"+kind, map[string]any{one: obj})[one].(map[string]any)["id"].(string)
}

// setEndpoint registers url as the public, internal and admin endpoint of
// a service of type typ in RegionOne (Tempest's alternate_image_endpoint
// names the image_remote type).
func (k *ksAdmin) setEndpoint(typ, url string) {
	k.t.Helper()
	svcs := k.call("GET", "/services?type="+typ, nil)["services"].([]any)
	var sid string
	if len(svcs) > 0 {
		sid = svcs[0].(map[string]any)["id"].(string)
	} else {
		sid = k.call("POST", "/services", map[string]any{"service": map[string]any{"type": typ, "name": typ}})["service"].(map[string]any)["id"].(string)
	}
	for _, ep := range k.call("GET", "/endpoints?service_id="+sid, nil)["endpoints"].([]any) {
		k.call("DELETE", "/endpoints/"+ep.(map[string]any)["id"].(string), nil)
	}
	for _, iface := range []string{"public", "internal", "admin"} {
		k.call("POST", "/endpoints", map[string]any{"endpoint": map[string]any{"service_id": sid, "interface": iface, "url": url, "region_id": "RegionOne"}})
	}
}

// account is one of Tempest's pre-provisioned credentials.
type account struct {
	user, project, password, role string
}

// accounts creates (once per Keystone) the users Tempest runs as, each
// in a project of its own: Tempest's dynamic credentials would create and
// delete a project and users for every test class, hundreds of Keystone
// calls that take most of the run on a busy machine. Two runners each
// need a primary and an alt user and, for the admin tests, an admin.
func (k *ksAdmin) accounts() []account {
	k.t.Helper()
	roles := map[string]string{}
	for _, r := range []string{"member", "admin"} {
		roles[r] = k.id("roles", r, nil)
	}
	var out []account
	for i, role := range []string{"member", "member", "member", "member", "admin", "admin"} {
		a := account{user: fmt.Sprintf("tempest-%s-%d", role, i), project: fmt.Sprintf("tempest-%s-%d", role, i), password: fmt.Sprintf("tempest-pass-%d", i), role: role}
		pid := k.id("projects", a.project, map[string]any{"domain_id": "default"})
		uid := k.id("users", a.user, map[string]any{"domain_id": "default", "password": a.password, "default_project_id": pid})
		k.call("PUT", "/projects/"+pid+"/users/"+uid+"/roles/"+roles[role], nil)
		out = append(out, a)
	}
	return out
}

// advertised reads the [image-feature-enabled] settings from what the
// server says of itself: import_image when /v2/info/import lists a
// method, manage_locations when an image shows its locations and an http
// store is enabled, os_glance_reserved when /versions lists 2.11 or later
// (Wallaby's reservation of os_glance_*).
func advertised(t *testing.T, ks *keystonetest.Keystone, url string) map[string]bool {
	t.Helper()
	tok := ks.Token(t, "admin")
	get := func(method, path string, body any) map[string]any {
		t.Helper()
		return callJSON(t, method, url+path, tok, body, false)
	}
	f := map[string]bool{}
	if m, ok := get("GET", "/v2/info/import", nil)["import-methods"].(map[string]any); ok {
		v, _ := m["value"].([]any)
		f["import_image"] = len(v) > 0
	}
	httpStore := false
	if stores, ok := get("GET", "/v2/info/stores/detail", nil)["stores"].([]any); ok {
		for _, s := range stores {
			if s.(map[string]any)["type"] == "http" {
				httpStore = true
			}
		}
	}
	img := get("POST", "/v2/images", map[string]any{"name": "tempest-probe", "disk_format": "raw", "container_format": "bare"})
	_, shows := img["locations"]
	f["manage_locations"] = shows && httpStore
	if id, ok := img["id"].(string); ok {
		get("DELETE", "/v2/images/"+id, nil)
	}
	if vs, ok := get("GET", "/versions", nil)["versions"].([]any); ok {
		for _, v := range vs {
			var major, minor int
			fmt.Sscanf(fmt.Sprint(v.(map[string]any)["id"]), "v%d.%d", &major, &minor)
			if major == 2 && minor >= 11 {
				f["os_glance_reserved"] = true
			}
		}
	}
	return f
}

func writeTempestConf(t *testing.T, ws string, ks *keystonetest.Keystone, accounts []account, httpImage string, f map[string]bool) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(ws, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	var yaml strings.Builder
	for _, a := range accounts {
		fmt.Fprintf(&yaml, "- username: '%s'\n  project_name: '%s'\n  password: '%s'\n  domain_name: 'Default'\n  roles: ['%s']\n", a.user, a.project, a.password, a.role)
	}
	accountsFile := filepath.Join(ws, "etc", "accounts.yaml")
	if err := os.WriteFile(accountsFile, []byte(yaml.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`[DEFAULT]
log_file = %[1]s/tempest.log
use_stderr = false

[oslo_concurrency]
lock_path = %[1]s/locks

[auth]
use_dynamic_credentials = false
test_accounts_file = %[8]s
default_credentials_domain_name = Default

[identity]
uri_v3 = %[3]s/v3
auth_version = v3
region = RegionOne

[identity-feature-enabled]
api_v2 = false

[service_available]
glance = true
nova = false
cinder = false
neutron = false
swift = false
horizon = false

[image]
http_image = %[4]s
image_caching_enabled = true
alternate_image_endpoint = image_remote
build_timeout = 60

[image-feature-enabled]
api_v2 = true
api_v1 = false
import_image = %[5]t
manage_locations = %[6]t
os_glance_reserved = %[7]t
`, ws, "", ks.URL, httpImage, f["import_image"], f["manage_locations"], f["os_glance_reserved"], accountsFile)
	if err := os.WriteFile(filepath.Join(ws, "etc", "tempest.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	stestrConf := fmt.Sprintf("[DEFAULT]\ntest_path=%s/test_discover\ntop_dir=%s\ngroup_regex=([^\\.]*\\.)*\n", tempestPkg, filepath.Dir(tempestPkg))
	if err := os.WriteFile(filepath.Join(ws, ".stestr.conf"), []byte(stestrConf), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runTempest runs the tests matching regex with stestr in ws, two at a
// time, and returns the subunit v2 stream.
func runTempest(t *testing.T, ws, regex string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, stestrBin, "run", "--subunit", "--concurrency", "2", regex)
	cmd.Dir = ws
	cmd.Env = append(os.Environ(), "TEMPEST_CONFIG_DIR="+filepath.Join(ws, "etc"), "TEMPEST_CONFIG=tempest.conf",
		"OS_LOG_CAPTURE=1", "PYTHONDONTWRITEBYTECODE=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	// stestr exits 1 when a test failed; that is judged from the stream.
	if err != nil && len(out) == 0 {
		t.Fatalf("stestr run: %v\n%s", err, stderr.String())
	}
	if ctx.Err() != nil {
		t.Fatalf("stestr run timed out\n%s", stderr.String())
	}
	return out
}

var idSuffix = regexp.MustCompile(`\[[^\]]*\]$`)

// parseResults maps each test id (without its [id-…,tags] suffix) to its
// subunit status: success, failure, skip, xfail, uxsuccess.
func parseResults(t *testing.T, stream []byte) map[string]string {
	t.Helper()
	cmd := exec.Command("/usr/bin/subunit2csv")
	cmd.Stdin = bytes.NewReader(stream)
	out, err := cmd.Output()
	if err != nil && len(out) == 0 { // it exits 1 when a test failed
		t.Fatalf("subunit2csv: %v", err)
	}
	rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("subunit2csv output: %v", err)
	}
	res := map[string]string{}
	for i, row := range rows {
		if i == 0 || len(row) < 2 {
			continue // the header
		}
		res[idSuffix.ReplaceAllString(row[0], "")] = row[1]
	}
	return res
}

// expectation is one line of expected.txt: a test and what it must do.
type expectation struct {
	status string // pass, fail or skip
	reason string
}

// readExpected reads lines "STATUS TEST-ID [# reason]"; blank lines and
// lines starting with # are comments. fail and skip need a reason.
func readExpected(t *testing.T, path string) map[string]expectation {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exp := map[string]expectation{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		body, reason, _ := strings.Cut(line, "#")
		// A class's setUpClass is reported as "setUpClass (module.Class)".
		status, id, _ := strings.Cut(strings.TrimSpace(body), " ")
		id = strings.TrimSpace(id)
		if id == "" || !slices.Contains([]string{"pass", "fail", "skip"}, status) {
			t.Fatalf("%s:%d: want STATUS TEST-ID [# reason], STATUS pass, fail or skip: %q", path, n, line)
		}
		if status != "pass" && strings.TrimSpace(reason) == "" {
			t.Fatalf("%s:%d: an expected %s needs a reason", path, n, status)
		}
		if _, dup := exp[id]; dup {
			t.Fatalf("%s:%d: %s listed twice", path, n, id)
		}
		exp[id] = expectation{status, strings.TrimSpace(reason)}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return exp
}

// check compares the results with the expectations and reports every
// difference; whole says the full suite ran, so that a listed test that
// did not run is a difference too. It returns whether a test that should
// pass did not.
func check(t *testing.T, results map[string]string, exp map[string]expectation, whole bool) bool {
	t.Helper()
	var ids []string
	for id := range results {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	counts := map[string]int{}
	failed := false
	for _, id := range ids {
		got := results[id]
		counts[got]++
		e, ok := exp[id]
		switch {
		case !ok:
			t.Errorf("%s: %s, and not in expected.txt (add it)", id, got)
			failed = failed || got == "failure"
		case e.status == "pass" && got != "success":
			t.Errorf("%s: %s, want pass", id, got)
			failed = true
		case e.status == "fail" && got == "success":
			t.Errorf("%s: passes now, but expected.txt lists it as failing (%s): make it pass there", id, e.reason)
		case e.status == "fail" && got != "failure":
			t.Errorf("%s: %s, expected.txt lists it as failing (%s)", id, got, e.reason)
		case e.status == "skip" && got != "skip":
			t.Errorf("%s: %s, expected.txt lists it as skipped (%s)", id, got, e.reason)
			failed = failed || got == "failure"
		case e.status == "fail":
			t.Logf("%s: fails as expected: %s", id, e.reason)
		}
	}
	if whole {
		for id, e := range exp {
			if _, ran := results[id]; !ran {
				t.Errorf("%s: listed as %s in expected.txt but Tempest did not run it", id, e.status)
			}
		}
	}
	t.Logf("Tempest results: %v", counts)
	return failed
}

// trace renders the stream's failures as subunit-trace does.
func trace(t *testing.T, stream []byte) string {
	t.Helper()
	cmd := exec.Command("/usr/bin/subunit-trace", "--no-summary", "--fails")
	cmd.Stdin = bytes.NewReader(stream)
	out, _ := cmd.CombinedOutput()
	// Only the failures: subunit-trace prints a line for every test too.
	var b strings.Builder
	keep := false
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "{") && strings.Contains(line, "... ") {
			keep = strings.Contains(line, "... FAILED")
		}
		if strings.HasPrefix(line, "==============================") {
			keep = true
		}
		if keep {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
