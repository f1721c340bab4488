package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// glanceStdin runs the glance CLI like runCLI, but with stdin from a file
// (data for glance-direct) or closed (path ""): glanceclient takes any
// non-terminal stdin, /dev/null included, as image data, which it refuses
// for web-download and next to --file.
func (s *server) glanceStdin(t *testing.T, stdinPath string, args ...string) cliResult {
	t.Helper()
	home, err := os.MkdirTemp(s.tmp, "home-")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*cliTimeout)
	defer cancel()
	redirect := "<&-"
	if stdinPath != "" {
		redirect = `<"$GLINT_STDIN"`
	}
	full := append([]string{glanceBin, "--os-image-url", s.URL, "--os-auth-token", "noauth"}, args...)
	cmd := exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", `exec "$0" "$@" ` + redirect, python}, full...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + home, "LANG=C.UTF-8", "TMPDIR=" + home,
		"COLUMNS=200", "GLINT_STDIN=" + stdinPath}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	r := cliResult{cmdline: "glance " + strings.Join(args, " "), stdout: stdout.String(), stderr: stderr.String(), err: err}
	t.Logf("$ %s (err=%v)", r.cmdline, err)
	return r
}

// The real glance and openstack clients import images end to end:
// glance-direct (stage, then import) and web-download from an HTTP server
// the test starts on loopback, which the server is configured to allow.
func TestImportCLIs(t *testing.T) {
	requireCLI(t)
	data := bytes.Repeat([]byte("glint import e2e "), 60000)
	sum := md5.Sum(data)
	want := hex.EncodeToString(sum[:])

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	src := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(data)
	})}}
	src.Start()
	defer src.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	s := startServer(t, fmt.Sprintf("[import_filtering_opts]\nallowed_ports = %d\n[glint]\nimport_allow_private_networks = true\n", port))
	file := filepath.Join(s.tmp, "data.raw")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}

	must(t, s.glance(t, "import-info"))

	r := must(t, s.glanceStdin(t, file, "image-create-via-import", "--disk-format", "raw", "--container-format", "bare",
		"--name", "direct", "--import-method", "glance-direct"))
	id := glanceProps(t, r)["id"]
	if img := s.waitStatus(t, id, "active"); img["checksum"] != want {
		t.Errorf("glance-direct: checksum %v, want %s", img["checksum"], want)
	}

	r = must(t, s.glanceStdin(t, "", "image-create-via-import", "--disk-format", "raw", "--container-format", "bare",
		"--name", "web", "--import-method", "web-download", "--uri", src.URL+"/data.raw"))
	id = glanceProps(t, r)["id"]
	if img := s.waitStatus(t, id, "active"); img["checksum"] != want {
		t.Errorf("web-download: checksum %v, want %s", img["checksum"], want)
	}
	// The task that did it is visible to the user. (glance image-tasks
	// refuses to ask: like single-store Glance 25.1, Glint does not list
	// v2.12 in its versions, which the client checks for.)
	if code, b := s.do(t, "GET", "/v2/images/"+id+"/tasks", nil); code != 200 || !strings.Contains(string(b), `"success"`) {
		t.Errorf("tasks of the web-download image: %d %s", code, b)
	}

	// A web-download the filter refuses fails at once with the reason.
	id = s.createImage(t, map[string]any{"name": "refused", "disk_format": "raw", "container_format": "bare"})
	r = mustFail(t, s.glanceStdin(t, "", "image-import", id, "--import-method", "web-download", "--uri", "http://127.0.0.1:1/x"))
	if !strings.Contains(r.stdout+r.stderr, "does not pass filtering") {
		t.Errorf("refused web-download:\n%s", r)
	}

	r = must(t, s.openstack(t, "image", "create", "--import", "--disk-format", "raw", "--container-format", "bare",
		"--file", file, "osc-import", "-f", "json"))
	img := jsonOut[map[string]any](t, r)
	oid, _ := img["id"].(string)
	if got := s.waitStatus(t, oid, "active"); got["checksum"] != want {
		t.Errorf("openstack image create --import: checksum %v, want %s", got["checksum"], want)
	}
	code, b := s.do(t, "GET", "/v2/images/"+oid+"/tasks", nil)
	if code != 200 || !strings.Contains(string(b), `"glance-direct"`) {
		t.Errorf("openstack --import did not go through glance-direct: %d %s", code, b)
	}
}

// Two glint serve processes share a database but not a staging area: the
// glance CLI stages on one and imports through the other, which forwards
// the import to the first (its URL is in os_glance_stage_host).
func TestImportTwoProcesses(t *testing.T) {
	requireCLI(t)
	shared := filepath.Join(t.TempDir(), "shared.db")
	conf := "[database]\nconnection = sqlite:///" + shared + "\n"
	a := startServer(t, conf)
	b := startServer(t, conf)
	data := bytes.Repeat([]byte("two processes "), 50000)
	sum := md5.Sum(data)
	file := filepath.Join(a.tmp, "data.raw")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	id := a.createImage(t, map[string]any{"name": "two", "disk_format": "raw", "container_format": "bare"})
	must(t, a.glanceStdin(t, file, "image-stage", id))
	a.waitStatus(t, id, "uploading")
	must(t, b.glanceStdin(t, "", "image-import", id, "--import-method", "glance-direct"))
	img := b.waitStatus(t, id, "active")
	if img["checksum"] != hex.EncodeToString(sum[:]) {
		t.Errorf("checksum %v", img["checksum"])
	}
	if l := b.log(); !strings.Contains(l, "forwarding a request to the node holding the staged data") || !strings.Contains(l, "method=POST") {
		t.Errorf("b did not forward the import; its log:\n%s", b.log())
	}
}
