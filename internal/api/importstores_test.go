package api_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"glint/internal/image"
	"glint/internal/store"
	"glint/internal/store/filesystem"
	"glint/internal/store/httpstore"
	"glint/internal/store/s3"
	"glint/internal/store/storetest/testserver"
	"glint/internal/urlfilter"
)

// faultyStore is a filesystem store whose writes fail while fail is set
// and, when gate is not nil, wait for it (after saying so on entered).
type faultyStore struct {
	*filesystem.Driver
	fail    atomic.Bool
	entered chan struct{}
	gate    chan struct{}
}

func (f *faultyStore) Add(ctx context.Context, id string, r io.Reader, size int64) (string, int64, error) {
	if f.gate != nil {
		f.entered <- struct{}{}
		<-f.gate
	}
	if f.fail.Load() {
		io.CopyN(io.Discard, r, 1000)
		return "", 0, errors.New("disk on fire")
	}
	return f.Driver.Add(ctx, id, r, size)
}

// storesEnv is an import node with enabled_backends: filesystem stores
// a (the default) and b, bad (a filesystem store whose writes fail until
// told otherwise) and the read-only HTTP store web.
type storesEnv struct {
	*importEnv
	dirs map[string]string
	bad  *faultyStore
}

// newStoresEnv makes the node; gated, when not nil, is added as the
// filesystem store "slow".
func newStoresEnv(t *testing.T, o importOpts, gated *faultyStore) *storesEnv {
	se := &storesEnv{dirs: map[string]string{}}
	o.stores = func(dir string) []*store.Store {
		fs := func(name string) *filesystem.Driver {
			se.dirs[name] = filepath.Join(dir, name)
			d, err := filesystem.New(se.dirs[name], 0)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		a, b := fs("a"), fs("b")
		se.bad = &faultyStore{Driver: fs("bad")}
		se.bad.fail.Store(true)
		web, _ := httpstore.New(httpstore.Options{})
		out := []*store.Store{
			{Name: "a", Type: "file", Driver: a}, {Name: "b", Type: "file", Driver: b},
			{Name: "bad", Type: "file", Driver: se.bad}, {Name: "web", Type: "http", Driver: web},
		}
		if gated != nil {
			gated.Driver = fs("slow")
			out = append(out, &store.Store{Name: "slow", Type: "file", Driver: gated})
		}
		return out
	}
	se.importEnv = newImportEnv(t, o)
	return se
}

func (e *storesEnv) has(storeName, id string) bool {
	_, err := os.Stat(filepath.Join(e.dirs[storeName], id))
	return err == nil
}

// check compares image fields with want.
func (e *storesEnv) check(what, id string, want map[string]any) map[string]any {
	e.t.Helper()
	img := e.show(id)
	for k, v := range want {
		if img[k] != v {
			e.t.Errorf("%s: %s = %v, want %v", what, k, img[k], v)
		}
	}
	return img
}

// run makes an import request that must be accepted, waits for the
// import and returns its task (told apart from older ones by id: MySQL's
// timestamps do not order tasks made within a second).
func (e *storesEnv) run(what, id, body string, hdr ...string) map[string]any {
	e.t.Helper()
	seen := map[string]bool{}
	for _, tk := range e.tasks(id) {
		seen[tk["id"].(string)] = true
	}
	wantStatus(e.t, what, e.do("POST", "/v2/images/"+id+"/import", strings.NewReader(body), hdr...), 202, "")
	e.im.Wait()
	for _, tk := range e.tasks(id) {
		if !seen[tk["id"].(string)] {
			return tk
		}
	}
	e.t.Fatalf("%s: no new task", what)
	return nil
}

func TestImportToSeveralStores(t *testing.T) { eachDB(t, testImportToSeveralStores) }

func testImportToSeveralStores(t *testing.T, dbURL string) {
	data := bytes.Repeat([]byte("multi"), 100000)
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(data) }))
	defer src.Close()
	u, _ := url.Parse(src.URL)
	port, _ := strconv.Atoi(u.Port())
	e := newStoresEnv(t, importOpts{dbURL: dbURL, filter: &urlfilter.Options{
		AllowedSchemes: []string{"http"}, AllowedPorts: []int{port}, AllowPrivate: true}}, nil)
	sum := md5.Sum(data)
	checksum := hex.EncodeToString(sum[:])
	staged := func() string {
		t.Helper()
		id := e.create(rawBare)
		wantStatus(t, "stage", e.stage(id, data), 204, "")
		return id
	}
	admin := []string{"X-Roles", "admin"}
	download := func(what, id string) {
		t.Helper()
		if r := e.do("GET", "/v2/images/"+id+"/file", nil); r.status != 200 || !bytes.Equal(r.body, data) {
			t.Errorf("%s: download %d, %d bytes", what, r.status, len(r.body))
		}
	}

	// glance-direct into two stores: the data is written to each.
	two := staged()
	tk := e.run("import to a and b", two, `{"method":{"name":"glance-direct"},"stores":["a","b"]}`)
	e.check("imported to a and b", two, map[string]any{"status": "active", "stores": "a,b", "checksum": checksum,
		"os_glance_importing_to_stores": "", "os_glance_failed_import": ""})
	if !e.has("a", two) || !e.has("b", two) {
		t.Errorf("data in a: %v, in b: %v", e.has("a", two), e.has("b", two))
	}
	download("two stores", two)
	if in, _ := tk["input"].(map[string]any); tk["status"] != "success" || strings.Join(strs(in["backend"]), ",") != "a,b" {
		t.Errorf("task: %v", tk)
	}
	for _, f := range e.stagingFiles() {
		if strings.HasPrefix(f, two) {
			t.Errorf("staged data kept: %s", f)
		}
	}

	// Which stores: Glance's checks and answers.
	id := staged()
	for _, c := range []struct {
		body   string
		hdr    []string
		status int
		msg    string
	}{
		{`{"method":{"name":"glance-direct"},"stores":["nosuch"]}`, nil, 409, "Store for identifier nosuch not found"},
		{`{"method":{"name":"glance-direct"},"stores":["a","web"]}`, nil, 400, "Store web is read-only"},
		{`{"method":{"name":"glance-direct"},"all_stores":true,"stores":["a"]}`, nil, 400,
			"All_stores parameter can't be used with x-image-meta-store header or stores parameter"},
		{`{"method":{"name":"glance-direct"},"all_stores":true}`, []string{"X-Image-Meta-Store", "a"}, 400, "All_stores parameter can't be used"},
		{`{"method":{"name":"glance-direct"},"stores":["a"]}`, []string{"X-Image-Meta-Store", "b"}, 400,
			"Stores parameter and x-image-meta-store header can't be both specified"},
		{`{"method":{"name":"glance-direct"}}`, []string{"X-Image-Meta-Store", "nosuch"}, 409, "Store for identifier nosuch not found"},
		{`{"method":{"name":"glance-direct"},"stores":[]}`, nil, 400, "'stores' must name at least one store"},
		{`{"method":{"name":"glance-direct"},"stores":"a"}`, nil, 400, "'stores' must be a list"},
	} {
		wantStatus(t, c.body+" "+strings.Join(c.hdr, ":"), e.do("POST", "/v2/images/"+id+"/import", strings.NewReader(c.body), c.hdr...), c.status, c.msg)
	}
	e.check("after refused imports", id, map[string]any{"status": "uploading"})
	// X-Image-Meta-Store alone names the store.
	wantStatus(t, "import to the header's store", e.do("POST", "/v2/images/"+id+"/import",
		strings.NewReader(`{"method":{"name":"glance-direct"}}`), "X-Image-Meta-Store", "b"), 202, "")
	e.im.Wait()
	e.check("imported to b", id, map[string]any{"status": "active", "stores": "b"})
	if e.has("a", id) {
		t.Error("data in the default store too")
	}

	// A store fails and all stores must succeed (the default): the import
	// fails and the copy already written is removed, as Glance reverts.
	failing := staged()
	tk = e.run("import to a, bad, b", failing, `{"method":{"name":"glance-direct"},"stores":["a","bad","b"]}`)
	img := e.check("failed import", failing, map[string]any{"status": "queued", "os_glance_importing_to_stores": "",
		"os_glance_failed_import": "bad", "size": nil, "checksum": nil})
	if _, ok := img["stores"]; ok && img["stores"] != "" {
		t.Errorf("stores after a failed import: %v", img["stores"])
	}
	for _, s := range []string{"a", "b", "bad"} {
		if e.has(s, failing) {
			t.Errorf("data left in %s", s)
		}
	}
	if tk["status"] != "failure" || !strings.Contains(tk["message"].(string), "Import to store bad failed") ||
		!strings.Contains(tk["message"].(string), "disk on fire") {
		t.Errorf("task: %v", tk)
	}
	for _, f := range e.stagingFiles() {
		if strings.HasPrefix(f, failing) {
			t.Errorf("staged data kept: %s", f)
		}
	}

	// all_stores_must_succeed false: active with the stores that worked.
	partial := staged()
	tk = e.run("import to a and bad", partial, `{"method":{"name":"glance-direct"},"stores":["a","bad"],"all_stores_must_succeed":false}`)
	e.check("partial import", partial, map[string]any{"status": "active", "stores": "a", "checksum": checksum,
		"os_glance_importing_to_stores": "", "os_glance_failed_import": "bad"})
	download("partial import", partial)
	if tk["status"] != "success" {
		t.Errorf("task: %v", tk)
	}

	// ... and when every store fails, the import fails.
	none := staged()
	tk = e.run("import to bad", none, `{"method":{"name":"glance-direct"},"stores":["bad"],"all_stores_must_succeed":false}`)
	e.check("no store worked", none, map[string]any{"status": "queued", "os_glance_failed_import": "bad"})
	if tk["status"] != "failure" || tk["message"] != "None of the uploads finished!" {
		t.Errorf("task: %v", tk)
	}

	// web-download to all stores (the read-only HTTP store is left out).
	web := e.create(rawBare)
	tk = e.run("web-download to all stores", web,
		`{"method":{"name":"web-download","uri":"`+src.URL+`/img"},"all_stores":true,"all_stores_must_succeed":false}`)
	e.check("web-download to all stores", web, map[string]any{"status": "active", "stores": "a,b",
		"os_glance_importing_to_stores": "", "os_glance_failed_import": "bad"})
	if strings.Join(strs(tk["input"].(map[string]any)["backend"]), ",") != "a,b,bad" {
		t.Errorf("task input: %v", tk["input"])
	}

	// copy-image: admins only; the image stays active; streamed from a
	// store to the other.
	wantStatus(t, "copy-image by the owner", e.importReq(partial, `{"method":{"name":"copy-image"},"stores":["b"]}`), 403, "copy_image")
	wantStatus(t, "copy-image to a store holding the image", e.do("POST", "/v2/images/"+partial+"/import",
		strings.NewReader(`{"method":{"name":"copy-image"},"stores":["a"]}`), admin...), 400, "Image is already present at store 'a'")
	tk = e.run("copy-image to b", partial, `{"method":{"name":"copy-image"},"stores":["b"]}`, admin...)
	// The earlier failure of bad is still listed: Glance only clears the
	// stores an import targets.
	e.check("copied to b", partial, map[string]any{"status": "active", "stores": "a,b", "checksum": checksum,
		"os_glance_importing_to_stores": "", "os_glance_failed_import": "bad"})
	if !e.has("b", partial) {
		t.Error("no data in b after copy")
	}
	if tk["status"] != "success" {
		t.Errorf("copy task: %v", tk)
	}
	// Either copy serves the image alone.
	if r := e.do("DELETE", "/v2/stores/a/"+partial, nil, admin...); r.status != 204 {
		t.Fatalf("DELETE from a: %d %s", r.status, r.body)
	}
	e.check("after removing a's copy", partial, map[string]any{"stores": "b"})
	download("from b alone", partial)

	// A failing target: the copy fails, the image keeps its copies.
	tk = e.run("copy-image to all stores", two, `{"method":{"name":"copy-image"},"all_stores":true}`, admin...)
	e.check("failed copy", two, map[string]any{"status": "active", "stores": "a,b", "os_glance_importing_to_stores": "",
		"os_glance_failed_import": "bad"})
	if tk["status"] != "failure" || !strings.Contains(tk["message"].(string), "Import to store bad failed") {
		t.Errorf("copy task: %v", tk)
	}
	download("after a failed copy", two)
	// Once bad works, all_stores copies to it alone, then has nothing
	// left to do (202, no task).
	e.bad.fail.Store(false)
	tk = e.run("copy-image to all stores, again", two, `{"method":{"name":"copy-image"},"all_stores":true}`, admin...)
	if tk["status"] != "success" || strings.Join(strs(tk["input"].(map[string]any)["backend"]), ",") != "bad" {
		t.Errorf("copy task: %v", tk)
	}
	e.check("copied to bad", two, map[string]any{"stores": "a,b,bad", "os_glance_failed_import": ""})
	n := len(e.tasks(two))
	wantStatus(t, "copy-image with nothing to copy", e.do("POST", "/v2/images/"+two+"/import",
		strings.NewReader(`{"method":{"name":"copy-image"},"all_stores":true}`), admin...), 202, "")
	if len(e.tasks(two)) != n {
		t.Error("a copy with nothing to copy made a task")
	}

	// The data is gone behind Glint's back: nothing to copy from.
	os.Remove(filepath.Join(e.dirs["b"], id))
	tk = e.run("copy-image of lost data", id, `{"method":{"name":"copy-image"},"stores":["a"]}`, admin...)
	e.check("copy of lost data", id, map[string]any{"status": "active", "stores": "b", "os_glance_importing_to_stores": ""})
	if tk["status"] != "failure" || !strings.Contains(tk["message"].(string), "Image not found in any configured store") {
		t.Errorf("copy task: %v", tk)
	}
	if e.has("a", id) {
		t.Error("a copy of nothing was kept")
	}
}

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// While a copy runs, os_glance_importing_to_stores lists the stores still
// to write, and the image counts against image_count_uploading.
func TestCopyImageProgressAndQuota(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		gated := &faultyStore{entered: make(chan struct{}), gate: make(chan struct{})}
		e := newStoresEnv(t, importOpts{dbURL: dbURL, svc: func(o *image.Options) {
			o.Limits = &image.Limits{ImageSizeTotal: -1, ImageStageTotal: -1, ImageCountTotal: -1, ImageCountUploading: 1}
		}}, gated)
		member := []string{"X-Roles", "member", "X-Project-Id", "p1"}
		admin := []string{"X-Roles", "admin", "X-Project-Id", "p1"}
		usage := func() float64 {
			t.Helper()
			r := e.do("GET", "/v2/info/usage", nil, member...)
			u, _ := r.json(t)["usage"].(map[string]any)["image_count_uploading"].(map[string]any)
			return u["usage"].(float64)
		}
		data := bytes.Repeat([]byte("q"), 3<<20)
		create := func() string {
			r := e.do("POST", "/v2/images", strings.NewReader(rawBare), member...)
			id, _ := r.json(t)["id"].(string)
			return id
		}
		id := create()
		if r := e.do("PUT", "/v2/images/"+id+"/file", bytes.NewReader(data), append([]string{"Content-Type", "application/octet-stream"}, member...)...); r.status != 204 {
			t.Fatalf("upload: %d %s", r.status, r.body)
		}
		wantStatus(t, "copy to b and slow", e.do("POST", "/v2/images/"+id+"/import",
			strings.NewReader(`{"method":{"name":"copy-image"},"stores":["b","slow"]}`), admin...), 202, "")
		<-gated.entered // b is done, slow is being written
		e.check("copying to slow", id, map[string]any{"status": "active", "stores": "a,b", "os_glance_importing_to_stores": "slow"})
		if u := usage(); u != 1 {
			t.Errorf("image_count_uploading during the copy: %v", u)
		}
		other := create()
		wantStatus(t, "stage during the copy", e.do("PUT", "/v2/images/"+other+"/stage", bytes.NewReader([]byte("x")),
			append([]string{"Content-Type", "application/octet-stream"}, member...)...), 413, "image_count_uploading")
		close(gated.gate)
		e.im.Wait()
		e.check("copied", id, map[string]any{"status": "active", "stores": "a,b,slow", "os_glance_importing_to_stores": ""})
		if u := usage(); u != 0 {
			t.Errorf("image_count_uploading after the copy: %v", u)
		}
		wantStatus(t, "stage after the copy", e.do("PUT", "/v2/images/"+other+"/stage", bytes.NewReader([]byte("x")),
			append([]string{"Content-Type", "application/octet-stream"}, member...)...), 204, "")
		// A copy while another image is staged is over the limit: 413 at once.
		wantStatus(t, "copy while another image is staged", e.do("POST", "/v2/images/"+id+"/import",
			strings.NewReader(`{"method":{"name":"copy-image"},"all_stores":true}`), admin...), 413, "image_count_uploading")
		e.check("after a refused copy", id, map[string]any{"os_glance_importing_to_stores": ""})
		if _, locked := e.show(id)["os_glance_import_task"]; locked {
			t.Error("a refused copy left the import lock")
		}
	})
}

// An import into S3 and a filesystem store, then a copy out of S3 (the
// default store, so the copy reads from it) into another filesystem store.
func TestImportAndCopyWithS3(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts an S3 server")
	}
	srv := testserver.StartS3(t)
	e := newImportEnv(t, importOpts{stores: func(dir string) []*store.Store {
		obj, err := s3.New(s3.Options{Host: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.Secret, Bucket: "glance", CreateBucket: true})
		if err == nil {
			err = obj.Check(context.Background()) // creates the bucket, as at start
		}
		if err != nil {
			t.Fatal(err)
		}
		a, _ := filesystem.New(filepath.Join(dir, "a"), 0)
		b, _ := filesystem.New(filepath.Join(dir, "b"), 0)
		return []*store.Store{{Name: "obj", Type: "s3", Driver: obj}, {Name: "a", Type: "file", Driver: a}, {Name: "b", Type: "file", Driver: b}}
	}})
	se := &storesEnv{importEnv: e}
	data := bytes.Repeat([]byte("s3 import "), 700000) // 7 MB: a multipart upload
	id := e.create(rawBare)
	wantStatus(t, "stage", e.stage(id, data), 204, "")
	if tk := se.run("import to obj and a", id, `{"method":{"name":"glance-direct"},"stores":["obj","a"]}`); tk["status"] != "success" {
		t.Fatalf("import task: %v", tk)
	}
	se.check("imported", id, map[string]any{"status": "active", "stores": "obj,a"})
	admin := []string{"X-Roles", "admin"}
	if tk := se.run("copy to b", id, `{"method":{"name":"copy-image"},"stores":["b"]}`, admin...); tk["status"] != "success" {
		t.Fatalf("copy task: %v", tk)
	}
	se.check("copied", id, map[string]any{"status": "active", "stores": "obj,a,b"})
	for _, gone := range []string{"obj", "a"} {
		if r := e.do("DELETE", "/v2/stores/"+gone+"/"+id, nil, admin...); r.status != 204 {
			t.Fatalf("DELETE from %s: %d %s", gone, r.status, r.body)
		}
		if r := e.do("GET", "/v2/images/"+id+"/file", nil); r.status != 200 || !bytes.Equal(r.body, data) {
			t.Errorf("download without %s: %d, %d bytes", gone, r.status, len(r.body))
		}
	}
	se.check("one copy left", id, map[string]any{"stores": "b"})
}
