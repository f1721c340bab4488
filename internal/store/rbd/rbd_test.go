//go:build rbd

package rbd_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ceph/go-ceph/rados"
	rbdlib "github.com/ceph/go-ceph/rbd"

	"glint/internal/errs"
	"glint/internal/store"
	"glint/internal/store/rbd"
	"glint/internal/store/storetest"
	"glint/internal/store/storetest/testserver"
)

// One Ceph for the package: starting it takes a while.
func TestRBD(t *testing.T) {
	c := testserver.StartCeph(t)
	conn, err := rados.NewConnWithUser("admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.ReadConfigFile(c.Conf); err != nil {
		t.Fatal(err)
	}
	if err := conn.Connect(); err != nil {
		t.Fatal(err)
	}
	defer conn.Shutdown()
	admin = conn
	t.Run("Conformance", func(t *testing.T) { conformance(t, c, false) })
	t.Run("ConformanceThin", func(t *testing.T) { conformance(t, c, true) })
	t.Run("Clones", func(t *testing.T) { clones(t, c) })
	t.Run("HalfDeleted", func(t *testing.T) { halfDeleted(t, c) })
	t.Run("Layout", func(t *testing.T) { layout(t, c) })
	t.Run("Thin", func(t *testing.T) { thin(t, c) })
	t.Run("OldLocation", func(t *testing.T) { oldLocation(t, c) })
	t.Run("MissingPool", func(t *testing.T) { missingPool(t, c) })
}

var (
	pools atomic.Int64
	admin *rados.Conn // client.admin, for the tests' own checks
)

func monCommand(t *testing.T, cmd map[string]any) {
	t.Helper()
	b, _ := json.Marshal(cmd)
	if _, info, err := admin.MonCommand(b); err != nil {
		t.Fatalf("%s: %v (%s)", b, err, info)
	}
}

// newPool makes an empty rbd pool, removed at the end of the test. (Through
// librados: the command-line tools take seconds each on a loaded machine.)
func newPool(t *testing.T, c *testserver.Ceph) string {
	t.Helper()
	name := fmt.Sprintf("glint%d", pools.Add(1))
	monCommand(t, map[string]any{"prefix": "osd pool create", "pool": name, "pg_num": 4, "pgp_num": 4})
	monCommand(t, map[string]any{"prefix": "osd pool application enable", "pool": name, "app": "rbd"})
	ioc, err := admin.OpenIOContext(name)
	if err != nil {
		t.Fatal(err)
	}
	defer ioc.Destroy()
	if err := rbdlib.PoolInit(ioc, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := admin.DeletePool(name); err != nil {
			t.Errorf("removing pool %s: %v", name, err)
		}
	})
	return name
}

func newDriver(t *testing.T, c *testserver.Ceph, pool string, thin bool) *rbd.Driver {
	t.Helper()
	d, err := rbd.New(rbd.Options{Pool: pool, User: "admin", ConfFile: c.Conf, ChunkSize: 4 << 20,
		ThinProvisioning: thin, ConnectTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

// leftovers lists the RBD images and the RADOS objects of a pool.
func leftovers(t *testing.T, c *testserver.Ceph, pool string) []string {
	ioc, err := admin.OpenIOContext(pool)
	if err != nil {
		t.Fatal(err)
	}
	defer ioc.Destroy()
	var left []string
	imgs, err := rbdlib.GetImageNames(ioc)
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range imgs {
		left = append(left, "image:"+img)
	}
	err = ioc.ListObjects(func(obj string) {
		// The pool's own objects stay: rbd pool init's and the image directory's.
		if obj != "rbd_directory" && obj != "rbd_info" && obj != "rbd_trash" && !strings.HasPrefix(obj, "rbd_children") {
			left = append(left, "object:"+obj)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return left
}

func conformance(t *testing.T, c *testserver.Ceph, thin bool) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) store.Driver {
			d := newDriver(t, c, newPool(t, c), thin)
			if err := d.Check(t.Context()); err != nil {
				t.Fatal(err)
			}
			return d
		},
		Leftovers: func(t *testing.T, d store.Driver) []string {
			return leftovers(t, c, d.(*rbd.Driver).Options().Pool)
		},
		BadCredentials: func(t *testing.T) store.Driver {
			// client.glance with a key the cluster does not know.
			dir := t.TempDir()
			kr := filepath.Join(dir, "keyring")
			os.WriteFile(kr, []byte("[client.glance]\n\tkey = AQBtcHJlAAAAABAAtUYzs0Rz8/PEPXD2d2qvOg==\n"), 0o600)
			conf, _ := os.ReadFile(c.Conf)
			s := strings.Replace(string(conf), "[client.glance]\nkeyring = ", "[client.glance]\nkeyring = "+kr+"\n#", 1)
			cf := filepath.Join(dir, "ceph.conf")
			os.WriteFile(cf, []byte(s), 0o600)
			d, err := rbd.New(rbd.Options{Pool: c.Pool, User: "glance", ConfFile: cf, ConnectTimeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(d.Close)
			return d
		},
		// Around the object size (4 MiB), and the unknown-size growth steps.
		SmallSizes: []int64{4 << 20, 4<<20 + 1, 8<<20 - 1, 13<<20 + 3},
		BigSize:    1 << 30,
		Secrets:    []string{"AQBtcHJlAAAAABAAtUYzs0Rz8/PEPXD2d2qvOg=="},
		// A clone of the snapshot, as Nova or Cinder makes.
		UseOutside: func(t *testing.T, d store.Driver, loc string) func() {
			l, err := rbd.ParseLocation(loc)
			if err != nil {
				t.Fatal(err)
			}
			ioc, err := admin.OpenIOContext(l.Pool)
			if err != nil {
				t.Fatal(err)
			}
			opts := rbdlib.NewRbdImageOptions()
			defer opts.Destroy()
			opts.SetUint64(rbdlib.ImageOptionFeatures, rbdlib.FeatureLayering)
			clone := "volume-of-" + l.Image
			if err := rbdlib.CloneImage(ioc, l.Image, l.Snapshot, ioc, clone, opts); err != nil {
				t.Fatal(err)
			}
			return func() {
				defer ioc.Destroy()
				if err := rbdlib.RemoveImage(ioc, clone); err != nil {
					t.Fatal(err)
				}
			}
		},
		Allocated: func(t *testing.T, d store.Driver, loc string) int64 {
			l, _ := rbd.ParseLocation(loc)
			var du struct {
				Images []struct {
					Snapshot string `json:"snapshot"`
					Used     int64  `json:"used_size"`
				} `json:"images"`
			}
			out := c.Run(t, "rbd", "du", "--format", "json", l.Pool+"/"+l.Image+"@"+l.Snapshot)
			if err := json.Unmarshal([]byte(out), &du); err != nil || len(du.Images) == 0 {
				t.Fatalf("rbd du: %v: %s", err, out)
			}
			return du.Images[0].Used
		},
		Thin:      thin,
		ThinChunk: 4 << 20,
	})
}

// clones: a clone of the snapshot made outside Glint makes the data in
// use: the delete is refused (Conflict, glance_store's words) and the
// data is kept; once the clone is flattened and removed the delete
// succeeds and nothing is left.
func clones(t *testing.T, c *testserver.Ceph) {
	pool := newPool(t, c)
	st := &store.Store{Name: "ceph", Type: "rbd", Driver: newDriver(t, c, pool, false)}
	data := bytes.Repeat([]byte("glint"), 3<<20)
	w, err := st.Write(t.Context(), "cloned", bytes.NewReader(data), -1, "sha512")
	if err != nil {
		t.Fatal(err)
	}
	if used, err := st.InUse(t.Context(), w.Location); err != nil || used {
		t.Fatalf("InUse before a clone = %v, %v", used, err)
	}
	c.Run(t, "rbd", "clone", pool+"/cloned@snap", pool+"/vm-disk")
	if used, err := st.InUse(t.Context(), w.Location); err != nil || !used {
		t.Fatalf("InUse with a clone = %v, %v", used, err)
	}
	err = st.Delete(t.Context(), w.Location)
	if !errs.Is(errs.Conflict, err) || errs.Message(err) != rbd.InUseMessage {
		t.Fatalf("Delete of a cloned image: %v (message %q), want a conflict saying it is in use", err, errs.Message(err))
	}
	rc, err := st.Open(t.Context(), w.Location, 0)
	if err != nil {
		t.Fatalf("Open after a refused delete: %v", err)
	}
	var got bytes.Buffer
	got.ReadFrom(rc)
	rc.Close()
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatal("data changed by a refused delete")
	}
	if out := c.Run(t, "rbd", "snap", "ls", pool+"/cloned"); !strings.Contains(out, "snap") {
		t.Fatalf("the snapshot went with a refused delete: %s", out)
	}
	c.Run(t, "rbd", "flatten", pool+"/vm-disk")
	// A snapshot someone else took keeps the image too.
	c.Run(t, "rbd", "snap", "create", pool+"/cloned@backup")
	if used, err := st.InUse(t.Context(), w.Location); err != nil || !used {
		t.Fatalf("InUse with another snapshot = %v, %v", used, err)
	}
	c.Run(t, "rbd", "snap", "rm", pool+"/cloned@backup")
	if err := st.Delete(t.Context(), w.Location); err != nil {
		t.Fatalf("Delete once the clone is flattened: %v", err)
	}
	c.Run(t, "rbd", "rm", pool+"/vm-disk")
	if left := leftovers(t, c, pool); len(left) > 0 {
		t.Errorf("left behind: %q", left)
	}
}

// halfDeleted: an image whose snapshot is gone (a delete that stopped
// half-way) is finished by the next delete.
func halfDeleted(t *testing.T, c *testserver.Ceph) {
	pool := newPool(t, c)
	st := &store.Store{Name: "ceph", Type: "rbd", Driver: newDriver(t, c, pool, false)}
	w, err := st.Write(t.Context(), "half", strings.NewReader("half deleted"), 12, "sha512")
	if err != nil {
		t.Fatal(err)
	}
	c.Run(t, "rbd", "snap", "unprotect", pool+"/half@snap")
	c.Run(t, "rbd", "snap", "rm", pool+"/half@snap")
	if err := st.Delete(t.Context(), w.Location); err != nil {
		t.Fatalf("Delete of a half-deleted image: %v", err)
	}
	if left := leftovers(t, c, pool); len(left) > 0 {
		t.Errorf("left behind: %q", left)
	}
}

// layout: the location is Glance's, the image has layering, the object
// size is the chunk size, and the snapshot is protected.
func layout(t *testing.T, c *testserver.Ceph) {
	pool := newPool(t, c)
	st := &store.Store{Name: "ceph", Type: "rbd", Driver: newDriver(t, c, pool, false)}
	w, err := st.Write(t.Context(), "0b3c5a6e-1a2b-4c3d-9e8f-001122334455", bytes.NewReader(make([]byte, 5<<20)), 5<<20, "sha512")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("rbd://%s/%s/0b3c5a6e-1a2b-4c3d-9e8f-001122334455/snap", c.FSID, pool); w.Location != want {
		t.Errorf("location %s, want %s", w.Location, want)
	}
	info := c.Run(t, "rbd", "info", pool+"/0b3c5a6e-1a2b-4c3d-9e8f-001122334455")
	for _, want := range []string{"size 5 MiB", "order 22", "layering"} {
		if !strings.Contains(info, want) {
			t.Errorf("rbd info lacks %q:\n%s", want, info)
		}
	}
	snaps := c.Run(t, "rbd", "snap", "ls", "--format", "json", pool+"/0b3c5a6e-1a2b-4c3d-9e8f-001122334455")
	if !strings.Contains(snaps, `"name":"snap"`) || !strings.Contains(snaps, `"protected":"true"`) {
		t.Errorf("snapshot not created and protected: %s", snaps)
	}
	st.Delete(t.Context(), w.Location)
}

// thin: with rbd_thin_provisioning runs of zeros take no space; without,
// they are written as Glance writes them.
func thin(t *testing.T, c *testserver.Ceph) {
	for _, thin := range []bool{false, true} {
		pool := newPool(t, c)
		st := &store.Store{Name: "ceph", Type: "rbd", Driver: newDriver(t, c, pool, thin)}
		// 8 chunks of 4 MiB, only the third holding data.
		data := make([]byte, 32<<20)
		copy(data[8<<20:], bytes.Repeat([]byte{7}, 4<<20))
		w, err := st.Write(t.Context(), "sparse", bytes.NewReader(data), -1, "sha512")
		if err != nil {
			t.Fatal(err)
		}
		du := c.Run(t, "rbd", "du", "--format", "json", pool+"/sparse@snap")
		used := strings.Contains(du, `"used_size":4194304`)
		if thin != used {
			t.Errorf("thin=%v: rbd du %s", thin, du)
		}
		rc, err := st.Open(t.Context(), w.Location, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		got.ReadFrom(rc)
		rc.Close()
		if !bytes.Equal(got.Bytes(), data) {
			t.Errorf("thin=%v: read back differs", thin)
		}
		st.Delete(t.Context(), w.Location)
	}
}

// oldLocation: Glance's old rbd://<image> form reads the image's head in
// the store's pool.
func oldLocation(t *testing.T, c *testserver.Ceph) {
	pool := newPool(t, c)
	st := &store.Store{Name: "ceph", Type: "rbd", Driver: newDriver(t, c, pool, false)}
	src := filepath.Join(t.TempDir(), "old")
	os.WriteFile(src, []byte("an old Glance image"), 0o644)
	c.Run(t, "rbd", "import", src, pool+"/old-image")
	if n, err := st.Size(t.Context(), "rbd://old-image"); err != nil || n != 19 {
		t.Fatalf("Size of rbd://old-image = %d, %v", n, err)
	}
	rc, err := st.Open(t.Context(), "rbd://old-image", 3)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	got.ReadFrom(rc)
	rc.Close()
	if got.String() != "old Glance image" {
		t.Errorf("read %q", got.String())
	}
	if err := st.Delete(t.Context(), "rbd://old-image"); err != nil {
		t.Fatal(err)
	}
	_, err = st.Size(t.Context(), fmt.Sprintf("rbd://%s/%s/x/snap", "another-fsid", pool))
	if !errs.Is(errs.Invalid, err) {
		t.Errorf("a location of another cluster: %v", err)
	}
}

func missingPool(t *testing.T, c *testserver.Ceph) {
	d := newDriver(t, c, "no-such-pool", false)
	err := (&store.Store{Name: "ceph", Driver: d}).Check(t.Context())
	if err == nil || !strings.Contains(err.Error(), "rbd_store_pool") {
		t.Errorf("Check of a missing pool: %v", err)
	}
}
