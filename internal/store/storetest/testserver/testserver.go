// Package testserver starts the real storage servers the store drivers'
// conformance tests run against, on 127.0.0.1, installing them first when
// they are missing (built servers are cached under $HOME/.cache/glint).
// Under go test -short they are not started: the tests are skipped.
package testserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// CacheDir is where built servers are kept between runs.
func CacheDir() string {
	if d := os.Getenv("GLINT_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "glint-cache")
	}
	return filepath.Join(home, ".cache", "glint")
}

// FreePort returns a loopback port nobody listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitPort polls until something accepts on addr, or fails the test
// after a generous deadline (a start-up, not a pass/fail timing).
func WaitPort(t testing.TB, addr string, cmd *exec.Cmd, log string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		if cmd != nil && cmd.ProcessState != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, _ := os.ReadFile(log)
	t.Fatalf("server did not come up on %s; its log:\n%s", addr, b)
}

// VersityGW is the version of the S3 server the S3 driver is tested against.
const VersityGW = "v1.8.0"

var installMu sync.Mutex

// versitygwBinary returns the path of a versitygw binary, building it with
// the Go module proxy when it is not cached (a few minutes, once).
func versitygwBinary(t testing.TB) string {
	t.Helper()
	installMu.Lock()
	defer installMu.Unlock()
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	bin := filepath.Join(CacheDir(), "bin")
	p := filepath.Join(bin, "versitygw")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	t.Logf("building versitygw %s into %s (once)", VersityGW, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", "github.com/versity/versitygw/cmd/versitygw@"+VersityGW)
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=-mod=mod")
	cmd.Dir = os.TempDir() // outside our module
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install versitygw: %v\n%s", err, out)
	}
	return p
}

// S3 is a running S3 server.
type S3 struct {
	Endpoint          string // http://127.0.0.1:port
	AccessKey, Secret string
	Dir               string

	t    testing.TB
	addr string
	log  string
	mu   sync.Mutex
	cmd  *exec.Cmd // nil while stopped
}

// StartS3 starts versitygw with a posix backend in a temporary directory
// for the duration of the test; under -short it skips t.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: needs an S3 server (versitygw)")
	}
	dir := t.TempDir()
	s := &S3{AccessKey: "glintaccess", Secret: "glintsecret/with+chars", Dir: filepath.Join(dir, "data"),
		t: t, addr: "127.0.0.1:" + strconv.Itoa(FreePort(t)), log: filepath.Join(dir, "versitygw.log")}
	os.MkdirAll(s.Dir, 0o755)
	s.Endpoint = "http://" + s.addr
	t.Cleanup(s.Stop)
	s.Start()
	return s
}

// Start starts the server (again, after Stop: same port, same data) and
// waits until it accepts connections.
func (s *S3) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	bin := versitygwBinary(s.t)
	lf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(bin, "--access", s.AccessKey, "--secret", s.Secret, "--port", s.addr, "posix", s.Dir)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() { cmd.Wait(); lf.Close() }()
	s.cmd = cmd
	WaitPort(s.t, s.addr, cmd, s.log)
}

// Stop kills the server, as an outage would.
func (s *S3) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.cmd.Process.Kill()
		s.cmd = nil
	}
}

// String describes the server for logs.
func (s *S3) String() string { return fmt.Sprintf("versitygw at %s", s.Endpoint) }

// Swift is a running single-node Swift (Debian's swift packages) with
// tempauth, on loopback.
type Swift struct {
	AuthURL string // tempauth v1: http://127.0.0.1:port/auth/v1.0
	Proxy   string // http://127.0.0.1:port
	// Users are "account:user" → key; each account is its own tenant.
	Users map[string]string
}

// StartSwift builds a one-replica ring for one device and starts
// memcached and the account, container, object and proxy servers; it
// installs Debian's swift and memcached packages if they are missing.
// Under -short it skips t.
func StartSwift(t testing.TB) *Swift {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: needs a Swift server")
	}
	need := []string{}
	if _, err := exec.LookPath("swift-proxy-server"); err != nil {
		need = append(need, "swift-proxy", "swift-account", "swift-container", "swift-object")
	}
	if _, err := exec.LookPath("memcached"); err != nil {
		need = append(need, "memcached")
	}
	if len(need) > 0 {
		AptInstall(t, need...)
	}
	dir := t.TempDir()
	devs := filepath.Join(dir, "srv")
	if err := os.MkdirAll(filepath.Join(devs, "d1"), 0o755); err != nil {
		t.Fatal(err)
	}
	ports := map[string]int{}
	for _, s := range []string{"proxy", "account", "container", "object", "memcached"} {
		ports[s] = FreePort(t)
	}
	for _, ring := range []string{"account", "container", "object"} {
		b := filepath.Join(dir, ring+".builder")
		for _, args := range [][]string{
			{b, "create", "6", "1", "1"},
			{b, "add", fmt.Sprintf("r1z1-127.0.0.1:%d/d1", ports[ring]), "1"},
			{b, "rebalance"},
		} {
			if out, err := exec.Command("swift-ring-builder", args...).CombinedOutput(); err != nil && !(args[1] == "rebalance" && cmdExit(err) == 1) {
				t.Fatalf("swift-ring-builder %v: %v\n%s", args, err, out)
			}
		}
	}
	user := "root"
	if u := os.Getenv("USER"); u != "" {
		user = u
	}
	common := fmt.Sprintf("[DEFAULT]\nbind_ip = 127.0.0.1\nworkers = 0\nuser = %s\nswift_dir = %s\ndevices = %s\nmount_check = false\nlog_name = glint-test\nlog_level = WARNING\n", user, dir, devs)
	confs := map[string]string{
		"account":   fmt.Sprintf("%sbind_port = %d\n[pipeline:main]\npipeline = account-server\n[app:account-server]\nuse = egg:swift#account\n", common, ports["account"]),
		"container": fmt.Sprintf("%sbind_port = %d\n[pipeline:main]\npipeline = container-server\n[app:container-server]\nuse = egg:swift#container\n", common, ports["container"]),
		"object":    fmt.Sprintf("%sbind_port = %d\n[pipeline:main]\npipeline = object-server\n[app:object-server]\nuse = egg:swift#object\n", common, ports["object"]),
		"proxy": fmt.Sprintf(`%sbind_port = %d
[pipeline:main]
pipeline = catch_errors gatekeeper proxy-logging cache listing_formats tempauth copy slo dlo proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
[filter:tempauth]
use = egg:swift#tempauth
user_glint_tester = testing .admin
user_other_tester = other .admin
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:%d
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
`, common, ports["proxy"], ports["memcached"]),
	}
	start := func(name string, args ...string) {
		log := filepath.Join(dir, name+".log")
		lf, err := os.Create(log)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdout, cmd.Stderr = lf, lf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go cmd.Wait()
		t.Cleanup(func() {
			cmd.Process.Kill()
			lf.Close()
		})
		WaitPort(t, fmt.Sprintf("127.0.0.1:%d", ports[name]), cmd, log)
	}
	memUser := []string{}
	if os.Geteuid() == 0 {
		memUser = []string{"-u", "root"}
	}
	start("memcached", append([]string{"memcached", "-l", "127.0.0.1", "-p", strconv.Itoa(ports["memcached"]), "-U", "0", "-m", "16"}, memUser...)...)
	for _, s := range []string{"account", "container", "object", "proxy"} {
		conf := filepath.Join(dir, s+"-server.conf")
		if err := os.WriteFile(conf, []byte(confs[s]), 0o644); err != nil {
			t.Fatal(err)
		}
		start(s, "swift-"+s+"-server", conf)
	}
	proxy := fmt.Sprintf("http://127.0.0.1:%d", ports["proxy"])
	return &Swift{AuthURL: proxy + "/auth/v1.0", Proxy: proxy,
		Users: map[string]string{"glint:tester": "testing", "other:tester": "other"}}
}

func cmdExit(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

var aptMu sync.Mutex

// AptInstall installs Debian packages, quietly, waiting for another apt
// to finish first.
func AptInstall(t testing.TB, pkgs ...string) {
	t.Helper()
	aptMu.Lock()
	defer aptMu.Unlock()
	sudo := []string{}
	if os.Geteuid() != 0 {
		sudo = []string{"sudo", "-n"}
	}
	t.Logf("installing %v", pkgs)
	args := append(append(sudo, "apt-get", "install", "-o", "DPkg::Lock::Timeout=600", "-y", "-qq", "--no-install-recommends"), pkgs...)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		upd := exec.Command(append(sudo, "apt-get", "update", "-qq")[0], append(sudo, "apt-get", "update", "-qq")[1:]...)
		upd.Run()
		cmd = exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out2, err2 := cmd.CombinedOutput(); err2 != nil {
			t.Fatalf("apt-get install %v: %v\n%s\n%s", pkgs, err2, out, out2)
		}
	}
}

// Ceph is a running single-node Ceph (scripts/ceph.sh): one monitor, one
// manager and one OSD on memstore, on 127.0.0.1, cephx on.
type Ceph struct {
	Dir      string
	Conf     string // ceph.conf, with the keyrings of client.admin and client.glance
	FSID     string
	Pool     string // an rbd pool of size 1
	User     string // a user with "profile rbd" on Pool
	AdminKey string // client.admin's keyring
}

// StartCeph starts a Ceph for the duration of the test with
// scripts/ceph.sh, installing Debian's ceph packages when they are
// missing; under -short it skips t.
func StartCeph(t testing.TB) *Ceph {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: needs a Ceph cluster")
	}
	if _, err := exec.LookPath("ceph-osd"); err != nil {
		AptInstall(t, "ceph-mon", "ceph-mgr", "ceph-osd", "ceph-common")
	}
	script := filepath.Join(moduleRoot(t), "scripts", "ceph.sh")
	dir, err := os.MkdirTemp("", "glint-ceph-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command(script, "stop", dir).Run()
		os.RemoveAll(dir)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, script, "start", dir, strconv.Itoa(FreePort(t))).CombinedOutput()
	if err != nil {
		logs, _ := exec.Command("sh", "-c", "tail -n 20 "+dir+"/log/*.log").CombinedOutput()
		t.Fatalf("scripts/ceph.sh start: %v\n%s\n%s", err, out, logs)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return &Ceph{Dir: dir, Conf: env["CEPH_CONF"], FSID: env["CEPH_FSID"], Pool: env["CEPH_POOL"],
		User: env["CEPH_USER"], AdminKey: env["CEPH_ADMIN_KEYRING"]}
}

// Run runs a ceph command-line tool (ceph, rbd, rados) as client.admin
// on the cluster and returns its standard output.
func (c *Ceph) Run(t testing.TB, tool string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tool, append([]string{"-c", c.Conf}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s%s", tool, args, err, out, stderr.String())
	}
	return string(out)
}

// moduleRoot is the directory of the go.mod above the working directory.
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}
