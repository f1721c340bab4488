// Package testserver starts the real storage servers the store drivers'
// conformance tests run against, on 127.0.0.1, installing them first when
// they are missing (built servers are cached under $HOME/.cache/glint).
package testserver

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
}

// StartS3 starts versitygw with a posix backend in a temporary directory
// for the duration of the test.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	bin := versitygwBinary(t)
	dir := t.TempDir()
	s := &S3{AccessKey: "glintaccess", Secret: "glintsecret/with+chars", Dir: filepath.Join(dir, "data")}
	os.MkdirAll(s.Dir, 0o755)
	addr := "127.0.0.1:" + strconv.Itoa(FreePort(t))
	s.Endpoint = "http://" + addr
	log := filepath.Join(dir, "versitygw.log")
	lf, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--access", s.AccessKey, "--secret", s.Secret, "--port", addr, "posix", s.Dir)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait()
	t.Cleanup(func() {
		cmd.Process.Kill()
		lf.Close()
	})
	WaitPort(t, addr, cmd, log)
	return s
}

// String describes the server for logs.
func (s *S3) String() string { return fmt.Sprintf("versitygw at %s", s.Endpoint) }
