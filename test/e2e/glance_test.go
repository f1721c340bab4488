package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"glint/internal/db/dbtest"
)

// startGlance runs Debian's glance-api 25.1 (scripts/reference-glance.sh)
// with the given extra options, and stops it when t ends.
func startGlance(t *testing.T, dir string, sets ...string) string {
	t.Helper()
	return startGlanceArgs(t, dir, nil, sets...)
}

// startGlanceArgs is startGlance with further arguments to
// reference-glance.sh (--trusted-headers).
func startGlanceArgs(t *testing.T, dir string, extra []string, sets ...string) string {
	t.Helper()
	skipShort(t)
	if _, err := os.Stat("/usr/bin/glance-api"); err != nil && os.Getenv("CI") == "" && os.Getenv("GLINT_REQUIRE_GLANCE") == "" {
		t.Skip("glance-api is not installed (scripts/test installs it)")
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	script, _ := filepath.Abs("../../scripts/reference-glance.sh")
	args := append([]string{"start", dir, "--port", fmt.Sprint(port), "--no-schema-image"}, extra...)
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	out, err := exec.Command(script, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("reference-glance.sh start: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "glance-api.log"))
			t.Logf("glance-api log:\n%s", headTail(string(b), 20, 60))
		}
		exec.Command(script, "stop", dir).Run()
	})
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func patchJSON(t *testing.T, url, body string) int {
	t.Helper()
	req, _ := http.NewRequest("PATCH", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/openstack-images-v2.1-json-patch")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestSideBySideWithGlance runs Glint and Glance 25.1 at once on one
// PostgreSQL database and one filesystem store: each serves, changes and
// deletes what the other wrote.
func TestSideBySideWithGlance(t *testing.T) {
	pg := dbtest.New(t, "postgres")
	dir := t.TempDir()
	images := filepath.Join(dir, "images")
	// Glint creates the schema; Glance runs on it unchanged.
	lint := startNode(t, filepath.Join(dir, "glint"), fmt.Sprintf("[database]\nconnection = %s\n[glance_store]\nfilesystem_store_datadir = %s\n[glint]\ndata_dir = %s\n", pg.URL, images, filepath.Join(dir, "glint-data"))).URL
	glance := startGlance(t, filepath.Join(dir, "glance"), "database.connection="+pg.URL, "glance_store.filesystem_store_datadir="+images)

	// Glance writes: image, properties, tags, a member, data.
	st, img := call(t, "POST", glance+"/v2/images", strings.NewReader(`{"name": "from-glance", "disk_format": "raw", "container_format": "bare", "visibility": "shared", "os_distro": "cirros", "tags": ["g1", "g2"]}`))
	if st != 201 {
		t.Fatalf("Glance create: %d %v", st, img)
	}
	gid := img["id"].(string)
	if st, _ := call(t, "PUT", glance+"/v2/images/"+gid+"/file", strings.NewReader("data written by glance")); st != 204 {
		t.Fatalf("Glance upload: %d", st)
	}
	if st, _ := call(t, "POST", glance+"/v2/images/"+gid+"/members", strings.NewReader(`{"member": "proj-x"}`)); st != 200 {
		t.Fatalf("Glance add member: %d", st)
	}

	// Glint reads and serves it.
	_, seen := call(t, "GET", lint+"/v2/images/"+gid, nil)
	if seen["status"] != "active" || seen["os_distro"] != "cirros" || fmt.Sprint(seen["tags"]) != "[g1 g2]" || seen["size"] != float64(22) {
		t.Fatalf("Glint sees Glance's image as %v", seen)
	}
	if st, b := get(t, lint+"/v2/images/"+gid+"/file"); st != 200 || string(b) != "data written by glance" {
		t.Fatalf("Glint serving Glance's data: %d %q", st, b)
	}
	if st, b := get(t, lint+"/v2/images/"+gid+"/members"); st != 200 || !strings.Contains(string(b), `"proj-x"`) {
		t.Fatalf("Glint listing Glance's members: %d %s", st, b)
	}
	if st, b := get(t, lint+"/v2/images"); st != 200 || !strings.Contains(string(b), gid) {
		t.Fatalf("Glint's list lacks Glance's image: %d %s", st, b)
	}
	// Glint changes it; Glance sees the change.
	if st := patchJSON(t, lint+"/v2/images/"+gid, `[{"op": "add", "path": "/changed_by", "value": "glint"}, {"op": "replace", "path": "/name", "value": "renamed"}]`); st != 200 {
		t.Fatalf("Glint PATCH: %d", st)
	}
	_, seen = call(t, "GET", glance+"/v2/images/"+gid, nil)
	if seen["changed_by"] != "glint" || seen["name"] != "renamed" || seen["os_distro"] != "cirros" {
		t.Fatalf("Glance sees Glint's change as %v", seen)
	}

	// Glint writes; Glance serves, changes and deletes.
	st, img = call(t, "POST", lint+"/v2/images", strings.NewReader(`{"name": "from-glint", "disk_format": "qcow2", "container_format": "bare", "tags": ["l"]}`))
	if st != 201 {
		t.Fatalf("Glint create: %d", st)
	}
	lid := img["id"].(string)
	qcow := qcow2Image(t, dir)
	if st, _ := call(t, "PUT", lint+"/v2/images/"+lid+"/file", bytes.NewReader(qcow)); st != 204 {
		t.Fatalf("Glint upload: %d", st)
	}
	if st, b := get(t, glance+"/v2/images/"+lid+"/file"); st != 200 || !bytes.Equal(b, qcow) {
		t.Fatalf("Glance serving Glint's data: %d, %d bytes", st, len(b))
	}
	_, seen = call(t, "GET", glance+"/v2/images/"+lid, nil)
	if seen["status"] != "active" || seen["checksum"] == nil || seen["os_hash_value"] == nil || seen["virtual_size"] == nil || fmt.Sprint(seen["tags"]) != "[l]" {
		t.Fatalf("Glance sees Glint's image as %v", seen)
	}
	if st := patchJSON(t, glance+"/v2/images/"+lid, `[{"op": "add", "path": "/changed_by", "value": "glance"}]`); st != 200 {
		t.Fatalf("Glance PATCH: %d", st)
	}
	if _, seen = call(t, "GET", lint+"/v2/images/"+lid, nil); seen["changed_by"] != "glance" {
		t.Fatalf("Glint sees Glance's change as %v", seen)
	}

	// Each deletes the other's image, data included.
	if st, _ := call(t, "DELETE", glance+"/v2/images/"+lid, nil); st != 204 {
		t.Fatalf("Glance deleting Glint's image: %d", st)
	}
	if st, _ := call(t, "DELETE", lint+"/v2/images/"+gid, nil); st != 204 {
		t.Fatalf("Glint deleting Glance's image: %d", st)
	}
	for _, u := range []string{lint, glance} {
		for _, id := range []string{gid, lid} {
			if st, _ := get(t, u+"/v2/images/"+id); st != 404 {
				t.Errorf("%s still shows deleted image %s: %d", u, id, st)
			}
		}
	}
	if left, _ := filepath.Glob(filepath.Join(images, "*")); len(left) != 0 {
		t.Errorf("data left in the shared store: %v", left)
	}
}

// qcow2Image makes a small real qcow2 image with qemu-img.
func qcow2Image(t *testing.T, dir string) []byte {
	t.Helper()
	p := filepath.Join(dir, "small.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-f", "qcow2", p, "1M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v\n%s", err, out)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
