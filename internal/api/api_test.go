package api_test

import (
	"bytes"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"glint/internal/app"
	"glint/internal/app/apptest"
	"glint/internal/auth"
	"glint/internal/config"
	"glint/internal/db"
	"glint/internal/db/dbtest"
	"glint/internal/image"
	"glint/internal/store"
)

type env struct {
	t      *testing.T
	url    string
	images string // filesystem store dir
	srv    *httptest.Server
	svc    *image.Service
	db     *db.DB
}

type opts struct {
	sizeCap int64
	dbURL   string               // database connection URL; empty: SQLite in a temporary directory
	svc     func(*image.Options) // adjusts the service's options
	store   string               // filesystem store directory; empty: a temporary one
	authn   auth.Authenticator   // nil: noauth
	stores  []store.Driver       // more stores beside the filesystem one, named after their schemes
	cfg     func(*config.Config) // adjusts the configuration
	authz   image.Authorizer     // nil: Glance's legacy policy defaults
}

// eachDB runs test once per database (SQLite, PostgreSQL, MySQL/MariaDB:
// see dbtest), as subtests named after the dialect, each given a fresh
// database to pass to newEnv.
func eachDB(t *testing.T, test func(t *testing.T, dbURL string)) {
	for _, c := range dbtest.Connections(t) {
		t.Run(c.Name, func(t *testing.T) { test(t, c.URL) })
	}
}

// newEnv serves a Glint built by app.New (through apptest) on the
// embedded default configuration, with the filesystem store as default.
func newEnv(t *testing.T, o opts) *env {
	t.Helper()
	var aopts []app.Option
	stores := []string{"file"}
	for _, d := range o.stores {
		stores = append(stores, d.Scheme())
		aopts = append(aopts, app.WithStore(&store.Store{Name: d.Scheme(), Type: d.Scheme(), Driver: d}))
	}
	if o.authn != nil {
		aopts = append(aopts, app.WithAuthenticator(o.authn))
	}
	if o.authz != nil {
		aopts = append(aopts, app.WithAuthorizer(o.authz))
	}
	aopts = append(aopts, app.WithImageOptions(o.svc))
	g := apptest.New(t, func(c *config.Config) {
		c.Stores = stores
		if o.dbURL != "" {
			c.DatabaseConnection = o.dbURL
		}
		if o.store != "" {
			c.FilesystemStoreDatadir = o.store
		}
		if o.sizeCap != 0 {
			c.ImageSizeCap = o.sizeCap
		}
		if o.cfg != nil {
			o.cfg(c)
		}
	}, aopts...)
	return &env{t: t, url: g.URL, images: g.Config.FilesystemStoreDatadir, srv: g.Server, svc: g.Service(), db: g.DB()}
}

// noRedirect shows redirects to the test instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("bad JSON %q: %v", r.body, err)
	}
	return m
}

func (e *env) do(method, path string, body io.Reader, hdr ...string) resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := noRedirect.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

func (e *env) create(attrs string) string {
	e.t.Helper()
	r := e.do("POST", "/v2/images", strings.NewReader(attrs))
	if r.status != 201 {
		e.t.Fatalf("create %s: %d %s", attrs, r.status, r.body)
	}
	return r.json(e.t)["id"].(string)
}

func (e *env) show(id string) map[string]any {
	e.t.Helper()
	r := e.do("GET", "/v2/images/"+id, nil)
	if r.status != 200 {
		e.t.Fatalf("show %s: %d %s", id, r.status, r.body)
	}
	return r.json(e.t)
}

// storeFiles lists what the filesystem store holds, temporary files included.
func (e *env) storeFiles() []string {
	e.t.Helper()
	ents, err := os.ReadDir(e.images)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, d := range ents {
		out = append(out, d.Name())
	}
	return out
}

const rawBare = `{"name":"x","disk_format":"raw","container_format":"bare"}`

func TestUploadDownload(t *testing.T) { eachDB(t, testUploadDownload) }

func testUploadDownload(t *testing.T, dbURL string) {
	e := newEnv(t, opts{dbURL: dbURL})
	data := bytes.Repeat([]byte("0123456789"), 100000) // 1,000,000 bytes
	id := e.create(rawBare)

	if r := e.do("GET", "/v2/images/"+id+"/file", nil); r.status != 204 || len(r.body) != 0 {
		t.Fatalf("download of a queued image: %d %q, want 204", r.status, r.body)
	}
	r := e.do("PUT", "/v2/images/"+id+"/file", bytes.NewReader(data), "Content-Type", "application/octet-stream")
	if r.status != 204 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	img := e.show(id)
	md := md5.Sum(data)
	sh := sha512.Sum512(data)
	want := map[string]any{"status": "active", "size": float64(len(data)), "virtual_size": float64(len(data)),
		"checksum": hex.EncodeToString(md[:]), "os_hash_algo": "sha512", "os_hash_value": hex.EncodeToString(sh[:])}
	for k, v := range want {
		if img[k] != v {
			t.Errorf("%s = %v, want %v", k, img[k], v)
		}
	}

	r = e.do("GET", "/v2/images/"+id+"/file", nil)
	if r.status != 200 || !bytes.Equal(r.body, data) {
		t.Fatalf("download: %d, %d bytes", r.status, len(r.body))
	}
	if got := r.header.Get("Content-MD5"); got != hex.EncodeToString(md[:]) {
		t.Errorf("Content-MD5 = %q", got)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type = %q", ct)
	}

	ranges := []struct {
		hdr, val     string
		status       int
		from, to     int
		contentRange string
	}{
		{"Range", "bytes=10-19", 206, 10, 20, "bytes 10-19/1000000"},
		{"Range", "bytes=999995-", 206, 999995, 1000000, "bytes 999995-999999/1000000"},
		{"Range", "bytes=-5", 206, 999995, 1000000, "bytes 999995-999999/1000000"},
		{"Range", "bytes=0-5000000", 206, 0, 1000000, "bytes 0-999999/1000000"},
		{"Content-Range", "bytes 1-2/*", 206, 1, 3, "bytes 1-2/1000000"},
		{"Range", "bytes=1-2,5-6", 400, 0, 0, ""},
		{"Range", "bytes=1000000-", 416, 0, 0, ""},
		{"Range", "bytes=9-3", 416, 0, 0, ""},
		{"Range", "lines=1-2", 416, 0, 0, ""},
	}
	for _, c := range ranges {
		r := e.do("GET", "/v2/images/"+id+"/file", nil, c.hdr, c.val)
		if r.status != c.status {
			t.Errorf("%s: %s → %d, want %d", c.hdr, c.val, r.status, c.status)
			continue
		}
		if c.status == 206 {
			if !bytes.Equal(r.body, data[c.from:c.to]) {
				t.Errorf("%s: %s → wrong bytes", c.hdr, c.val)
			}
			if got := r.header.Get("Content-Range"); got != c.contentRange {
				t.Errorf("%s: %s → Content-Range %q, want %q", c.hdr, c.val, got, c.contentRange)
			}
		}
	}

	// A second upload to an active image is a conflict and changes nothing.
	r = e.do("PUT", "/v2/images/"+id+"/file", strings.NewReader("other"), "Content-Type", "application/octet-stream")
	if r.status != 409 {
		t.Errorf("second upload: %d, want 409", r.status)
	}
	if got := e.show(id)["checksum"]; got != hex.EncodeToString(md[:]) {
		t.Errorf("checksum changed to %v", got)
	}

	// Delete removes the data file.
	if r := e.do("DELETE", "/v2/images/"+id, nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if files := e.storeFiles(); len(files) != 0 {
		t.Errorf("store still holds %v after delete", files)
	}
}

func TestUploadRefusals(t *testing.T) { eachDB(t, testUploadRefusals) }

func testUploadRefusals(t *testing.T, dbURL string) {
	e := newEnv(t, opts{dbURL: dbURL, sizeCap: 1000})
	noFormats := e.create(`{"name":"n"}`)
	cases := []struct {
		name   string
		id     string
		body   io.Reader
		hdr    []string
		status int
	}{
		{"wrong content type", "", strings.NewReader("abc"), []string{"Content-Type", "application/json"}, 415},
		{"no content type", "", strings.NewReader("abc"), nil, 415},
		{"formats unset", noFormats, strings.NewReader("abc"), []string{"Content-Type", "application/octet-stream"}, 400},
		{"announced size over the cap", "", io.MultiReader(strings.NewReader("abc")),
			[]string{"Content-Type", "application/octet-stream", "X-Openstack-Image-Size", "5000"}, 413},
		{"body over the cap", "", strings.NewReader(strings.Repeat("a", 2000)),
			[]string{"Content-Type", "application/octet-stream"}, 413},
		{"chunked body over the cap", "", io.MultiReader(strings.NewReader(strings.Repeat("a", 2000))),
			[]string{"Content-Type", "application/octet-stream"}, 413},
		{"bad size header", "", strings.NewReader("abc"),
			[]string{"Content-Type", "application/octet-stream", "X-Openstack-Image-Size", "ten"}, 400},
		{"size header smaller than body", "", io.MultiReader(strings.NewReader("abcdef")),
			[]string{"Content-Type", "application/octet-stream", "X-Openstack-Image-Size", "3"}, 400},
		{"size header larger than body", "", io.MultiReader(strings.NewReader("abc")),
			[]string{"Content-Type", "application/octet-stream", "X-Openstack-Image-Size", "6"}, 400},
		{"no such image", "7c2b6a3e-0000-4000-8000-000000000000", strings.NewReader("abc"),
			[]string{"Content-Type", "application/octet-stream"}, 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := c.id
			if id == "" {
				id = e.create(rawBare)
			}
			r := e.do("PUT", "/v2/images/"+id+"/file", c.body, c.hdr...)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			if c.status == 404 {
				return
			}
			img := e.show(id)
			if img["status"] != "queued" || img["size"] != nil || img["checksum"] != nil {
				t.Errorf("image after refused upload: status %v size %v checksum %v", img["status"], img["size"], img["checksum"])
			}
			if files := e.storeFiles(); len(files) != 0 {
				t.Errorf("store holds %v after a refused upload", files)
			}
		})
	}
}

// A client that disconnects mid-upload leaves no data and no image stuck
// in saving.
func TestUploadClientDisconnect(t *testing.T) { eachDB(t, testUploadClientDisconnect) }

func testUploadClientDisconnect(t *testing.T, dbURL string) {
	e := newEnv(t, opts{dbURL: dbURL})
	id := e.create(rawBare)
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT /v2/images/%s/file HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 10000000\r\n\r\n", id)
	conn.Write(bytes.Repeat([]byte("z"), 1<<20))
	deadline := time.Now().Add(10 * time.Second)
	for e.show(id)["status"] != "saving" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	conn.Close()
	for time.Now().Before(deadline) {
		if e.show(id)["status"] == "queued" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := e.show(id)["status"]; st != "queued" {
		t.Fatalf("status after disconnect = %v, want queued", st)
	}
	if files := e.storeFiles(); len(files) != 0 {
		t.Errorf("store holds %v after a disconnect", files)
	}
	// And the image can be uploaded again.
	r := e.do("PUT", "/v2/images/"+id+"/file", strings.NewReader("fine"), "Content-Type", "application/octet-stream")
	if r.status != 204 || e.show(id)["status"] != "active" {
		t.Fatalf("retry upload: %d %s", r.status, r.body)
	}
}

// Deleting an image while its data is uploading ends the upload with 410
// and leaves no data behind.
func TestDeleteDuringUpload(t *testing.T) { eachDB(t, testDeleteDuringUpload) }

func testDeleteDuringUpload(t *testing.T, dbURL string) {
	e := newEnv(t, opts{dbURL: dbURL})
	id := e.create(rawBare)
	pr, pw := io.Pipe()
	done := make(chan resp)
	go func() {
		done <- e.do("PUT", "/v2/images/"+id+"/file", pr, "Content-Type", "application/octet-stream")
	}()
	pw.Write(bytes.Repeat([]byte("q"), 1<<16))
	for e.show(id)["status"] != "saving" {
		time.Sleep(5 * time.Millisecond)
	}
	if r := e.do("DELETE", "/v2/images/"+id, nil); r.status != 204 {
		t.Fatalf("delete during upload: %d %s", r.status, r.body)
	}
	pw.Write([]byte("tail"))
	pw.Close()
	r := <-done
	if r.status != 410 {
		t.Errorf("upload after delete: %d %s, want 410", r.status, r.body)
	}
	if files := e.storeFiles(); len(files) != 0 {
		t.Errorf("store holds %v", files)
	}
}

// Concurrent writers never get a server error: no "database is locked" on
// SQLite, no deadlock left unretried on PostgreSQL or MySQL.
func TestConcurrentWritesNoErrors(t *testing.T) { eachDB(t, testConcurrentWritesNoErrors) }

func testConcurrentWritesNoErrors(t *testing.T, dbURL string) {
	e := newEnv(t, opts{dbURL: dbURL})
	var ids []string
	for i := 0; i < 16; i++ {
		ids = append(ids, e.create(fmt.Sprintf(`{"name":"c%d"}`, i)))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				id := ids[(w+i)%len(ids)]
				var r resp
				switch i % 4 {
				case 0, 1:
					r = e.do("PATCH", "/v2/images/"+id, strings.NewReader(fmt.Sprintf(`[{"op":"add","path":"/k%d","value":"v"}]`, w)),
						"Content-Type", "application/openstack-images-v2.1-json-patch")
				case 2:
					r = e.do("POST", "/v2/images", strings.NewReader(`{"name":"new"}`))
				case 3:
					r = e.do("GET", "/v2/images?limit=5", nil)
				}
				if r.status >= 500 {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("%d %s", r.status, r.body))
					mu.Unlock()
				}
			}
		}(w)
	}
	wg.Wait()
	for _, id := range ids[:8] {
		if r := e.do("DELETE", "/v2/images/"+id, nil); r.status >= 500 {
			bad = append(bad, string(r.body))
		}
	}
	if len(bad) > 0 {
		t.Fatalf("%d server errors, first: %s", len(bad), bad[0])
	}
}

// Two API nodes on one database: concurrent PATCHes and tag changes on
// the same image, half through each node, lose no update.
func TestTwoNodesLoseNoUpdate(t *testing.T) { eachDB(t, testTwoNodesLoseNoUpdate) }

func testTwoNodesLoseNoUpdate(t *testing.T, dbURL string) {
	if dbURL == "" {
		dbURL = "sqlite:///" + filepath.Join(t.TempDir(), "shared.db")
	}
	a := newEnv(t, opts{dbURL: dbURL})
	b := newEnv(t, opts{dbURL: dbURL})
	id := a.create(`{"name":"shared"}`)
	const perNode = 12
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	for n, node := range []*env{a, b} {
		for i := 0; i < perNode; i++ {
			wg.Add(1)
			go func(n, i int, e *env) {
				defer wg.Done()
				var r resp
				if i%3 == 0 {
					r = e.do("PUT", fmt.Sprintf("/v2/images/%s/tags/t%d-%d", id, n, i), nil)
				} else {
					r = e.do("PATCH", "/v2/images/"+id, strings.NewReader(fmt.Sprintf(`[{"op":"add","path":"/p%d_%d","value":"v"}]`, n, i)),
						"Content-Type", "application/openstack-images-v2.1-json-patch")
				}
				if r.status >= 300 {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("%d %s", r.status, r.body))
					mu.Unlock()
				}
			}(n, i, node)
		}
	}
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("%d failed requests, first: %s", len(bad), bad[0])
	}
	img := b.show(id)
	tags := fmt.Sprint(img["tags"])
	for n := 0; n < 2; n++ {
		for i := 0; i < perNode; i++ {
			if i%3 == 0 {
				if !strings.Contains(tags, fmt.Sprintf("t%d-%d", n, i)) {
					t.Errorf("tag t%d-%d lost: %s", n, i, tags)
				}
			} else if img[fmt.Sprintf("p%d_%d", n, i)] != "v" {
				t.Errorf("property p%d_%d lost", n, i)
			}
		}
	}
}
