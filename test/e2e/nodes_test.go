package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"glint/internal/db/dbtest"
)

// node is a glint serve process the test controls (signals included).
type node struct {
	bin    string // the glint binary it runs
	URL    string
	conf   string
	cmd    *exec.Cmd
	exited chan error
	log    string
}

// startNode runs glint serve with conf (a glance-api.conf body to which
// the port is added) and waits until it answers.
func startNode(t *testing.T, dir, conf string) *node {
	t.Helper()
	return startNodeOf(t, glintBin, dir, conf)
}

// startNodeOf is startNode with another glint binary.
func startNodeOf(t *testing.T, bin, dir, conf string) *node {
	t.Helper()
	skipShort(t)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	n := &node{bin: bin, URL: fmt.Sprintf("http://127.0.0.1:%d", port), conf: filepath.Join(dir, "glance-api.conf"),
		log: filepath.Join(dir, "glint.log"), exited: make(chan error, 1)}
	text := fmt.Sprintf("[DEFAULT]\nbind_host = 127.0.0.1\nbind_port = %d\n%s", port, conf)
	if err := os.WriteFile(n.conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	launch(t, n)
	return n
}

// launch starts n's glint serve (again, after it was killed: same
// configuration, port and data) and waits until it answers.
func launch(t *testing.T, n *node) {
	t.Helper()
	logFile, err := os.OpenFile(n.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	n.exited = make(chan error, 1)
	n.cmd = exec.Command(n.bin, "serve", "--config-file", n.conf)
	n.cmd.Stdout, n.cmd.Stderr = logFile, logFile
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.exited <- n.cmd.Wait(); logFile.Close() }()
	t.Cleanup(func() {
		n.cmd.Process.Kill()
		if t.Failed() {
			b, _ := os.ReadFile(n.log)
			t.Logf("log of %s:\n%s", n.URL, headTail(string(b), 40, 100))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(n.URL + "/healthcheck")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-n.exited:
			b, _ := os.ReadFile(n.log)
			t.Fatalf("glint exited (%v):\n%s", err, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("glint did not answer within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func call(t *testing.T, method, url string, body io.Reader) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	if body != nil && method == "PUT" {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(res.Body)
	json.Unmarshal(b, &m)
	return res.StatusCode, m
}

// slowBody yields n chunks of 64 KiB, one every tick, until closed.
type slowBody struct {
	n    int
	tick time.Duration
	stop chan struct{}
	sent int64
}

func (s *slowBody) Read(p []byte) (int, error) {
	if s.n == 0 {
		return 0, io.EOF
	}
	select {
	case <-time.After(s.tick):
	case <-s.stop:
		return 0, io.ErrUnexpectedEOF
	}
	s.n--
	m := min(len(p), 64<<10)
	clear(p[:m])
	s.sent += int64(m)
	return m, nil
}

func partials(t *testing.T, dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, ".*.part-*"))
	return m
}

// TestNodeKilledMidUpload: two nodes on one PostgreSQL database and one
// store; the node taking an upload is killed with SIGKILL and never comes
// back. The other node reports the image as saving, glint scrub leaves it
// alone while it is alive and, once it has gone silent for
// upload_stale_after, the other node's own sweep removes the partial data
// and returns the image to queued, after which it takes a new upload.
func TestNodeKilledMidUpload(t *testing.T) {
	pg := dbtest.New(t, "postgres")
	dir := t.TempDir()
	images := filepath.Join(dir, "images")
	conf := fmt.Sprintf("[database]\nconnection = %s\n[glance_store]\nfilesystem_store_datadir = %s\n[glint]\nupload_stale_after = 2\ndata_dir = %s\n", pg.URL, images, filepath.Join(dir, "data"))
	a := startNode(t, filepath.Join(dir, "a"), conf)
	b := startNode(t, filepath.Join(dir, "b"), conf)

	id, body := startSlowUpload(t, a.URL)
	defer close(body.stop)

	scrub := func() string {
		out, err := exec.Command(glintBin, "scrub", "--config-file", a.conf).CombinedOutput()
		if err != nil {
			t.Fatalf("glint scrub: %v\n%s", err, out)
		}
		return string(out)
	}
	// Alive: the upload's heartbeat keeps the scrubber away.
	time.Sleep(3 * time.Second)
	if _, m := call(t, "GET", b.URL+"/v2/images/"+id, nil); m["status"] != "saving" {
		t.Fatalf("status on the other node during the upload: %v", m["status"])
	}
	if out := scrub(); !strings.Contains(out, "0 abandoned uploads") {
		t.Fatalf("scrub during a live upload: %s", out)
	}
	if len(partials(t, images)) != 1 {
		t.Fatalf("partial files during the upload: %v", partials(t, images))
	}

	a.cmd.Process.Signal(syscall.SIGKILL)
	<-a.exited
	if _, m := call(t, "GET", b.URL+"/v2/images/"+id, nil); m["status"] != "saving" {
		t.Fatalf("status right after the kill: %v", m["status"])
	}
	// Past upload_stale_after, the other node's own sweep (no cron job,
	// no glint scrub) returns the image to queued.
	waitStatus(t, b.URL, id, "queued", 15*time.Second)
	if b, _ := os.ReadFile(b.log); !strings.Contains(string(b), "uploads abandoned by a node that stopped returned to queued") {
		t.Errorf("the other node's log does not say it recovered the upload")
	}
	if p := partials(t, images); len(p) != 0 {
		t.Errorf("partial data left: %v", p)
	}
	if st, _ := call(t, "PUT", b.URL+"/v2/images/"+id+"/file", strings.NewReader("a whole image")); st != 204 {
		t.Fatalf("upload on the other node: %d", st)
	}
	if _, m := call(t, "GET", b.URL+"/v2/images/"+id, nil); m["status"] != "active" || m["size"] != float64(13) {
		t.Errorf("image after the new upload: %v", m)
	}
}

// TestSIGTERMDrains: a node told to stop finishes the upload in flight,
// refuses new connections, and exits 0.
func TestSIGTERMDrains(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir, "[glint]\ndata_dir = "+filepath.Join(dir, "data")+"\n")
	_, img := call(t, "POST", n.URL+"/v2/images", strings.NewReader(`{"disk_format": "raw", "container_format": "bare"}`))
	id := img["id"].(string)
	body := &slowBody{n: 40, tick: 50 * time.Millisecond, stop: make(chan struct{})} // about 2 s
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequestWithContext(context.Background(), "PUT", n.URL+"/v2/images/"+id+"/file", body)
		req.Header.Set("Content-Type", "application/octet-stream")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- -1
			return
		}
		res.Body.Close()
		done <- res.StatusCode
	}()
	time.Sleep(500 * time.Millisecond)
	n.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	if _, err := http.Get(n.URL + "/versions"); err == nil {
		t.Error("a draining node still accepts new connections")
	}
	if st := <-done; st != 204 {
		t.Fatalf("upload in flight during SIGTERM: %d", st)
	}
	select {
	case err := <-n.exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("node did not exit after draining")
	}
	// The data landed: a new node on the same data folder serves it.
	m := startNode(t, filepath.Join(dir, "again"), "[glint]\ndata_dir = "+filepath.Join(dir, "data")+"\n")
	if _, img := call(t, "GET", m.URL+"/v2/images/"+id, nil); img["status"] != "active" || img["size"] != float64(body.sent) {
		t.Errorf("image after the drained upload: %v", img)
	}
}

// TestTwoNodes: an image created and uploaded on one node is listed,
// changed and downloaded on the other (one PostgreSQL, one store).
func TestTwoNodes(t *testing.T) {
	pg := dbtest.New(t, "postgres")
	dir := t.TempDir()
	conf := fmt.Sprintf("[database]\nconnection = %s\n[glance_store]\nfilesystem_store_datadir = %s\n[glint]\ndata_dir = %s\n", pg.URL, filepath.Join(dir, "images"), filepath.Join(dir, "data"))
	a := startNode(t, filepath.Join(dir, "a"), conf)
	b := startNode(t, filepath.Join(dir, "b"), conf)
	_, img := call(t, "POST", a.URL+"/v2/images", strings.NewReader(`{"name": "n1", "disk_format": "raw", "container_format": "bare"}`))
	id := img["id"].(string)
	if st, _ := call(t, "PUT", a.URL+"/v2/images/"+id+"/file", strings.NewReader("uploaded on a")); st != 204 {
		t.Fatalf("upload on a: %d", st)
	}
	if st, l := call(t, "GET", b.URL+"/v2/images?name=n1", nil); st != 200 || len(l["images"].([]any)) != 1 {
		t.Fatalf("list on b: %d %v", st, l)
	}
	res, err := http.Get(b.URL + "/v2/images/" + id + "/file")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(data) != "uploaded on a" {
		t.Fatalf("download on b: %q", data)
	}
	req, _ := http.NewRequest("PATCH", b.URL+"/v2/images/"+id, strings.NewReader(`[{"op": "add", "path": "/where", "value": "b"}]`))
	req.Header.Set("Content-Type", "application/openstack-images-v2.1-json-patch")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("PATCH on b: %v %v", res, err)
	}
	if _, img := call(t, "GET", a.URL+"/v2/images/"+id, nil); img["where"] != "b" {
		t.Fatalf("a sees %v", img)
	}
}

// waitStatus waits until the image has status on the node at url.
func waitStatus(t *testing.T, url, id, status string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		_, m := call(t, "GET", url+"/v2/images/"+id, nil)
		if m["status"] == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("image %s is %v after %s, want %s", id, m["status"], within, status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRestartRecoversOwnUpload: one node on the embedded default is killed
// with SIGKILL in the middle of an upload and started again. It puts the
// image back to queued as it starts (not after upload_stale_after, which is
// left at its default of ten minutes), with no partial data left, and the
// image takes a new upload.
func TestRestartRecoversOwnUpload(t *testing.T) {
	dir := t.TempDir()
	images := filepath.Join(dir, "data", "images")
	a := startNode(t, filepath.Join(dir, "a"), fmt.Sprintf("[glint]\ndata_dir = %s\n", filepath.Join(dir, "data")))
	id, body := startSlowUpload(t, a.URL)
	defer close(body.stop)
	waitStatus(t, a.URL, id, "saving", 10*time.Second)
	for deadline := time.Now().Add(10 * time.Second); len(partials(t, images)) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no partial data during the upload")
		}
	}

	a.cmd.Process.Signal(syscall.SIGKILL)
	<-a.exited
	launch(t, a)
	// launch returned once the node answered: the recovery ran before.
	_, m := call(t, "GET", a.URL+"/v2/images/"+id, nil)
	if m["status"] != "queued" || m["size"] != nil {
		t.Fatalf("image after the restart: status %v size %v, want queued without a size", m["status"], m["size"])
	}
	if p := partials(t, images); len(p) != 0 {
		t.Errorf("partial data left: %v", p)
	}
	if b, _ := os.ReadFile(a.log); !strings.Contains(string(b), "uploads interrupted by the last stop of this node returned to queued") {
		t.Errorf("the log does not say the upload was recovered")
	}
	if st, _ := call(t, "PUT", a.URL+"/v2/images/"+id+"/file", strings.NewReader("a whole image")); st != 204 {
		t.Fatalf("upload after the restart: %d", st)
	}
	if _, m := call(t, "GET", a.URL+"/v2/images/"+id, nil); m["status"] != "active" || m["size"] != float64(13) {
		t.Errorf("image after the new upload: %v", m)
	}
}

// startSlowUpload creates an image on the node at url and starts an upload
// to it that sends 64 KiB every 20 ms until its body's stop is closed.
func startSlowUpload(t *testing.T, url string) (string, *slowBody) {
	t.Helper()
	st, img := call(t, "POST", url+"/v2/images", strings.NewReader(`{"disk_format": "raw", "container_format": "bare"}`))
	if st != 201 {
		t.Fatalf("create: %d", st)
	}
	id := img["id"].(string)
	body := &slowBody{n: 1000, tick: 20 * time.Millisecond, stop: make(chan struct{})}
	go func() {
		req, _ := http.NewRequest("PUT", url+"/v2/images/"+id+"/file", body)
		req.Header.Set("Content-Type", "application/octet-stream")
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	return id, body
}
