package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mountSmall mounts a tmpfs of size bytes at dir for the test, so that the
// test fills a real file system: the store's and the staging area's
// writes then fail with ENOSPC from the kernel, as on a full disk.
func mountSmall(t *testing.T, dir string, size int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		// Only root (or a user namespace) mounts; docs/operations.md says
		// how to run this where the suite cannot.
		t.Skipf("cannot mount a small file system here (%v: %s): the disk-full test needs root", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
}

// TestDiskFull: the filesystem store and the staging area each on a small
// file system of their own. An upload or a stage that does not fit gets
// Glance's 413, leaves no partial file, and the image goes back to
// queued; once space is freed the same image takes its data.
func TestDiskFull(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	images, staging := filepath.Join(dir, "images"), filepath.Join(dir, "staging")
	mountSmall(t, images, 1<<20)
	mountSmall(t, staging, 1<<20)
	n := startNode(t, filepath.Join(dir, "node"), fmt.Sprintf(
		"enabled_import_methods = glance-direct\nnode_staging_uri = file://%s\n[glance_store]\nfilesystem_store_datadir = %s\n[glint]\ndata_dir = %s\n",
		staging, images, filepath.Join(dir, "data")))

	put := func(path string, size int) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("PUT", n.URL+path, bytes.NewReader(make([]byte, size)))
		req.Header.Set("Content-Type", "application/octet-stream")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("PUT %s: %v", path, err)
		}
		defer res.Body.Close()
		var b strings.Builder
		fmt.Fprint(&b, res.Header.Get("Content-Type"), " ")
		buf := make([]byte, 4096)
		k, _ := res.Body.Read(buf)
		b.Write(buf[:k])
		return res.StatusCode, b.String()
	}
	create := func() string {
		st, m := call(t, "POST", n.URL+"/v2/images", strings.NewReader(`{"disk_format": "raw", "container_format": "bare"}`))
		if st != 201 {
			t.Fatalf("create: %d", st)
		}
		return m["id"].(string)
	}
	empty := func(what, dir string) {
		t.Helper()
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.Name() != "filler" && e.Name() != "lost+found" {
				t.Errorf("%s holds %s after a refused write", what, e.Name())
			}
		}
	}

	for _, c := range []struct{ route, dir string }{{"file", images}, {"stage", staging}} {
		id := create()
		if st, body := put("/v2/images/"+id+"/"+c.route, 2<<20); st != 413 || !strings.Contains(body, "full") {
			t.Errorf("%s of 2 MiB on a 1 MiB file system: %d %s, want 413 naming the full storage", c.route, st, body)
		}
		if _, m := call(t, "GET", n.URL+"/v2/images/"+id, nil); m["status"] != "queued" {
			t.Errorf("after the refused %s: status %v, want queued", c.route, m["status"])
		}
		empty(c.route, c.dir)

		// Full because something else took the space; freed, it works.
		filler := filepath.Join(c.dir, "filler")
		if err := os.WriteFile(filler, make([]byte, 900<<10), 0o600); err != nil {
			t.Fatal(err)
		}
		if st, body := put("/v2/images/"+id+"/"+c.route, 300<<10); st != 413 {
			t.Errorf("%s of 300 KiB beside 900 KiB of filler: %d %s, want 413", c.route, st, body)
		}
		empty(c.route, c.dir)
		os.Remove(filler)
		if st, body := put("/v2/images/"+id+"/"+c.route, 300<<10); st != 204 {
			t.Errorf("%s once space is freed: %d %s, want 204", c.route, st, body)
		}
		want := map[string]string{"file": "active", "stage": "uploading"}[c.route]
		if _, m := call(t, "GET", n.URL+"/v2/images/"+id, nil); m["status"] != want {
			t.Errorf("after the %s: status %v, want %s", c.route, m["status"], want)
		}
	}
}
