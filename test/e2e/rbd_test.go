//go:build rbd

package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"glint/internal/db/dbtest"
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

// TestSideBySideWithGlanceRBD runs Glint and Debian's glance-api 25.1 at
// once on one PostgreSQL database and one RBD pool: each serves and
// deletes what the other wrote, and the pool ends empty.
func TestSideBySideWithGlanceRBD(t *testing.T) {
	skipShort(t)
	c := testserver.StartCeph(t)
	pg := dbtest.New(t, "postgres")
	dir := t.TempDir()
	rbdConf := fmt.Sprintf("rbd_store_pool = %s\nrbd_store_user = %s\nrbd_store_ceph_conf = %s\n", c.Pool, c.User, c.Conf)
	lint := startNode(t, filepath.Join(dir, "glint"), fmt.Sprintf("[database]\nconnection = %s\n[glance_store]\nstores = file, rbd\ndefault_store = rbd\n%s[glint]\ndata_dir = %s\n",
		pg.URL, rbdConf, filepath.Join(dir, "glint-data"))).URL
	glance := startGlance(t, filepath.Join(dir, "glance"), "database.connection="+pg.URL,
		"glance_store.stores=file,http,rbd", "glance_store.default_store=rbd",
		"glance_store.rbd_store_pool="+c.Pool, "glance_store.rbd_store_user="+c.User, "glance_store.rbd_store_ceph_conf="+c.Conf)

	upload := func(base, name string, data []byte) string {
		t.Helper()
		st, img := call(t, "POST", base+"/v2/images", strings.NewReader(`{"name": "`+name+`", "disk_format": "raw", "container_format": "bare"}`))
		if st != 201 {
			t.Fatalf("%s create: %d %v", base, st, img)
		}
		id := img["id"].(string)
		if st, _ := call(t, "PUT", base+"/v2/images/"+id+"/file", bytes.NewReader(data)); st != 204 {
			t.Fatalf("%s upload: %d", base, st)
		}
		return id
	}
	fromGlance := bytes.Repeat([]byte("written by glance "), 1<<18)
	fromGlint := bytes.Repeat([]byte("written by glint "), 1<<18)
	gid := upload(glance, "from-glance", fromGlance)
	lid := upload(lint, "from-glint", fromGlint)

	// Both images are in the pool, each with its protected snapshot.
	for _, id := range []string{gid, lid} {
		if out := c.Run(t, "rbd", "snap", "ls", "--format", "json", c.Pool+"/"+id); !strings.Contains(out, `"protected":"true"`) {
			t.Errorf("image %s has no protected snapshot: %s", id, out)
		}
	}
	if st, b := get(t, lint+"/v2/images/"+gid+"/file"); st != 200 || !bytes.Equal(b, fromGlance) {
		t.Fatalf("Glint serving Glance's RBD image: %d, %d bytes", st, len(b))
	}
	if st, b := get(t, glance+"/v2/images/"+lid+"/file"); st != 200 || !bytes.Equal(b, fromGlint) {
		t.Fatalf("Glance serving Glint's RBD image: %d, %d bytes", st, len(b))
	}
	_, g := call(t, "GET", lint+"/v2/images/"+gid, nil)
	_, l := call(t, "GET", glance+"/v2/images/"+lid, nil)
	if g["checksum"] == nil || l["checksum"] == nil || g["status"] != "active" || l["status"] != "active" {
		t.Errorf("images seen across: %v / %v", g, l)
	}

	// Each deletes the other's image, data included.
	if st, _ := call(t, "DELETE", glance+"/v2/images/"+lid, nil); st != 204 {
		t.Fatalf("Glance deleting Glint's image: %d", st)
	}
	if st, _ := call(t, "DELETE", lint+"/v2/images/"+gid, nil); st != 204 {
		t.Fatalf("Glint deleting Glance's image: %d", st)
	}
	if left := strings.TrimSpace(c.Run(t, "rbd", "ls", c.Pool)); left != "" {
		t.Errorf("left in the pool: %s", left)
	}
}

// TestRBDMultiStore: an RBD store next to a filesystem store under
// enabled_backends: copy-image copies an image into it, stores/detail
// shows its pool and chunk size, the RBD copy serves the image alone, and
// deleting the image empties the pool.
func TestRBDMultiStore(t *testing.T) {
	skipShort(t)
	c := testserver.StartCeph(t)
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	os.WriteFile(policy, []byte("\"copy_image\": \"\"\n\"delete_image_location\": \"\"\n\"stores_info_detail\": \"\"\n"), 0o644)
	s := startServerConf(t, fmt.Sprintf("enabled_backends = fast:file, ceph:rbd\n[oslo_policy]\npolicy_file = %s\n"+
		"[glance_store]\ndefault_backend = fast\n[fast]\nfilesystem_store_datadir = %s\n"+
		"[ceph]\nrbd_store_pool = %s\nrbd_store_user = %s\nrbd_store_ceph_conf = %s\nstore_description = Ceph\n",
		policy, filepath.Join(dir, "fast"), c.Pool, c.User, c.Conf))

	st, detail := call(t, "GET", s.URL+"/v2/info/stores/detail", nil)
	if b := fmt.Sprint(detail); st != 200 || !strings.Contains(b, "pool:"+c.Pool) || !strings.Contains(b, "chunk_size:8.388608e+06") || !strings.Contains(b, "type:rbd") {
		t.Errorf("stores/detail: %d %s", st, b)
	}
	st, img := call(t, "POST", s.URL+"/v2/images", strings.NewReader(`{"name": "copied", "disk_format": "raw", "container_format": "bare"}`))
	if st != 201 {
		t.Fatalf("create: %d %v", st, img)
	}
	id := img["id"].(string)
	data := bytes.Repeat([]byte("copy me to ceph "), 1<<17)
	if st, _ := call(t, "PUT", s.URL+"/v2/images/"+id+"/file", bytes.NewReader(data)); st != 204 {
		t.Fatalf("upload: %d", st)
	}
	if st, b := call(t, "POST", s.URL+"/v2/images/"+id+"/import", strings.NewReader(`{"method": {"name": "copy-image"}, "stores": ["ceph"]}`)); st != 202 {
		t.Fatalf("copy-image: %d %v", st, b)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for img = s.mustGetImage(t, id); img["stores"] != "fast,ceph"; img = s.mustGetImage(t, id) {
		if time.Now().After(deadline) {
			t.Fatalf("copy-image to ceph: stores %v, failed %v", img["stores"], img["os_glance_failed_import"])
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st, _ := call(t, "DELETE", s.URL+"/v2/stores/fast/"+id, nil); st != 204 {
		t.Fatalf("removing the fast copy: %d", st)
	}
	if st, b := get(t, s.URL+"/v2/images/"+id+"/file"); st != 200 || !bytes.Equal(b, data) {
		t.Fatalf("download from the RBD copy: %d, %d bytes", st, len(b))
	}
	if st, _ := call(t, "DELETE", s.URL+"/v2/images/"+id, nil); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if left := strings.TrimSpace(c.Run(t, "rbd", "ls", c.Pool)); left != "" {
		t.Errorf("left in the pool: %s", left)
	}
}
