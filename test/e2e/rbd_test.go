//go:build rbd

package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"glint/internal/store/storetest/testserver"
)

// The glint under test has the RBD store (go-ceph's tag for Debian 12's
// Ceph 16.2).
func init() { glintBuildTags = "rbd,pacific" }

// TestRBDWithOpenstackCLI: the openstack CLI uploads to and downloads from
// an RBD store on a real Ceph; an image cloned outside Glint (as Nova or
// Cinder clone it) cannot be deleted (409, image and data kept) until the
// clone is flattened; then nothing is left in the pool. /healthcheck
// follows the cluster going away and coming back.
func TestRBDWithOpenstackCLI(t *testing.T) {
	requireCLI(t)
	skipShort(t)
	c := testserver.StartCeph(t)
	s := startServerConf(t, fmt.Sprintf("show_image_direct_url = true\n[glance_store]\nstores = file, rbd\ndefault_store = rbd\n"+
		"rbd_store_pool = %s\nrbd_store_user = %s\nrbd_store_ceph_conf = %s\nrbd_store_chunk_size = 4\nrados_connect_timeout = 20\n",
		c.Pool, c.User, c.Conf))

	p := writePayload(t, s.tmp, 12<<20+5)
	id := openstackClient.create(t, s, "img-rbd", p.path)
	img := s.waitStatus(t, id, "active")
	if want := fmt.Sprintf("rbd://%s/%s/%s/snap", c.FSID, c.Pool, id); img["direct_url"] != want {
		t.Errorf("direct_url %v, want %s", img["direct_url"], want)
	}
	out := filepath.Join(s.tmp, "download.bin")
	openstackClient.download(t, s, id, out)
	checkDownload(t, out, p, img)

	// A ranged read, which Glance 25.1's rbd store refuses.
	req, _ := http.NewRequest("GET", s.URL+"/v2/images/"+id+"/file", nil)
	req.Header.Set("Range", "bytes=5000000-5000009")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusPartialContent {
		t.Errorf("ranged download: %v %v", res, err)
	} else {
		res.Body.Close()
	}

	// A clone of the image's snapshot, made outside Glint.
	c.Run(t, "rbd", "clone", c.Pool+"/"+id+"@snap", c.Pool+"/vm-disk")
	r := openstackClient.delete(t, s, id)
	if r.err == nil || !strings.Contains(r.stderr, "409") || !strings.Contains(r.stderr, "is in use") {
		t.Fatalf("delete of a cloned image: want a 409 saying it is in use:\n%s", r)
	}
	img = s.waitStatus(t, id, "active")
	out2 := filepath.Join(s.tmp, "download2.bin")
	openstackClient.download(t, s, id, out2)
	checkDownload(t, out2, p, img)

	c.Run(t, "rbd", "flatten", c.Pool+"/vm-disk")
	if r := openstackClient.delete(t, s, id); r.err != nil {
		t.Fatalf("delete once the clone is flattened: %s", r)
	}
	c.Run(t, "rbd", "rm", c.Pool+"/vm-disk")
	if left := strings.TrimSpace(c.Run(t, "rbd", "ls", c.Pool)); left != "" {
		t.Errorf("left in the pool: %s", left)
	}

	// The cluster goes away (its daemons stopped) and comes back.
	health := func() int {
		res, err := http.Get(s.URL + "/healthcheck")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	waitHealth := func(want int) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Minute)
		for time.Now().Before(deadline) {
			if health() == want {
				return
			}
			time.Sleep(2 * time.Second)
		}
		t.Fatalf("/healthcheck never answered %d", want)
	}
	waitHealth(200)
	signalCeph(t, c, syscall.SIGSTOP)
	stopped := true
	defer func() {
		if stopped {
			signalCeph(t, c, syscall.SIGCONT)
		}
	}()
	waitHealth(503)
	signalCeph(t, c, syscall.SIGCONT)
	stopped = false
	waitHealth(200)
}

// signalCeph sends sig to the cluster's monitor and OSD.
func signalCeph(t *testing.T, c *testserver.Ceph, sig syscall.Signal) {
	t.Helper()
	for _, d := range []string{"mon.a", "osd.0"} {
		b, err := os.ReadFile(filepath.Join(c.Dir, "run", d+".pid"))
		if err != nil {
			t.Fatal(err)
		}
		var pid int
		fmt.Sscan(string(b), &pid)
		if err := syscall.Kill(pid, sig); err != nil {
			t.Fatalf("kill -%v %s: %v", sig, d, err)
		}
	}
}
