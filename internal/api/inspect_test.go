package api_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// qemuImage makes an image file with qemu-img.
func qemuImage(t *testing.T, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		if os.Getenv("GLINT_SKIP_QEMU") == "1" {
			t.Skip("qemu-img missing and GLINT_SKIP_QEMU=1")
		}
		t.Fatal("qemu-img (Debian package qemu-utils) is needed; scripts/test installs it")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "img")
	cmd := exec.Command("qemu-img", append(append([]string{"create", "-q"}, args...), out)...)
	cmd.Dir = dir
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("qemu-img %v: %v\n%s", args, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every upload of a bare image is inspected: unsafe or mislabelled data is
// refused with Glance's 415, and nothing of it is kept.
func TestUploadInspection(t *testing.T) {
	e := newEnv(t, opts{})
	good := qemuImage(t, "-f", "qcow2", "-o", "size=64M")
	backing := qemuImage(t, "-f", "qcow2", "-o", "size=64M,backing_file=/etc/hostname,backing_fmt=raw")
	dataFile := qemuImage(t, "-f", "qcow2", "-o", "size=64M,data_file=external.raw")
	cases := []struct {
		name, disk, container string
		data                  []byte
		status                int
		virtualSize           float64
	}{
		{"qcow2 as qcow2", "qcow2", "bare", good, 204, 64 << 20},
		{"qcow2 declared raw", "raw", "bare", good, 415, 0},
		{"qcow2 with a backing file", "qcow2", "bare", backing, 415, 0},
		{"qcow2 with an external data file", "qcow2", "bare", dataFile, 415, 0},
		{"raw declared qcow2", "qcow2", "bare", make([]byte, 4096), 415, 0},
		{"qcow2 inside ovf is not inspected", "qcow2", "ovf", backing, 204, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := e.create(`{"name":"i","disk_format":"` + c.disk + `","container_format":"` + c.container + `"}`)
			r := e.do("PUT", "/v2/images/"+id+"/file", bytes.NewReader(c.data), "Content-Type", "application/octet-stream")
			if r.status != c.status {
				t.Fatalf("upload: %d %s, want %d", r.status, r.body, c.status)
			}
			img := e.show(id)
			if c.status != 204 {
				if img["status"] != "queued" || len(e.storeFiles()) != 0 {
					t.Fatalf("refused upload left status %v and files %v", img["status"], e.storeFiles())
				}
				return
			}
			if img["status"] != "active" {
				t.Fatalf("status %v", img["status"])
			}
			if c.virtualSize == 0 {
				if img["virtual_size"] != nil {
					t.Errorf("virtual_size %v, want null", img["virtual_size"])
				}
			} else if img["virtual_size"] != c.virtualSize {
				t.Errorf("virtual_size %v, want %v", img["virtual_size"], c.virtualSize)
			}
			e.do("DELETE", "/v2/images/"+id, nil)
		})
	}
}
