package api_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"glint/internal/app"
	"glint/internal/app/apptest"
	"glint/internal/auth"
	"glint/internal/config"
	"glint/internal/db"
	"glint/internal/image"
	"glint/internal/importer"
	"glint/internal/store"
	"glint/internal/urlfilter"
)

type importEnv struct {
	*env
	im      *importer.Importer
	db      *db.DB
	staging string
	svc     *image.Service
}

type importOpts struct {
	dbURL   string
	filter  *urlfilter.Options // nil: the configuration's ([import_filtering_opts] defaults)
	plugins []string
	plugin  importer.PluginOptions // with plugins
	methods []string
	node    string
	dir     string               // data_dir; empty: a temporary one
	svc     func(*image.Options) // adjusts the service's options
	// stores, when set, makes the node multi-store (enabled_backends)
	// with these stores; the first is the default.
	stores func(dir string) []*store.Store
	authz  image.Authorizer // nil: Glance's legacy policy defaults
	// catalog is the callers' service catalog (glance-download's).
	catalog importer.CatalogFunc
}

// roleAuth is a test Authenticator: the X-Roles header lists the roles;
// the admin role makes the caller an admin, as Keystone would.
type roleAuth struct{}

func (roleAuth) Authenticate(ctx context.Context, r *http.Request) (*auth.Context, error) {
	roles := r.Header.Get("X-Roles")
	if roles == "" {
		c := auth.NoAuth("")
		c.AuthToken = r.Header.Get("X-Auth-Token")
		return c, nil
	}
	c := &auth.Context{Roles: strings.Split(roles, ","), ProjectID: r.Header.Get("X-Project-Id"), UserID: "u1",
		AuthToken: r.Header.Get("X-Auth-Token")}
	c.IsAdmin = c.HasRole("admin")
	return c, nil
}

func (roleAuth) Challenge() string { return "" }

// newImportEnv serves a Glint built by app.New (through apptest), whose
// callers roleAuth names. Like glint serve bound to one address, the node
// records its URL as the stage host of what it stages.
func newImportEnv(t *testing.T, o importOpts) *importEnv {
	t.Helper()
	dir := o.dir
	if dir == "" {
		dir = t.TempDir()
	}
	if o.methods == nil {
		o.methods = []string{"glance-direct", "web-download", "copy-image"}
	}
	aopts := []app.Option{app.WithAuthenticator(roleAuth{}), app.WithImageOptions(o.svc),
		app.WithImportOptions(func(im *importer.Options) {
			if o.filter != nil {
				im.Filter = *o.filter
			}
			if o.plugins != nil {
				im.Plugins, im.Plugin = o.plugins, o.plugin
			}
			if o.node != "" {
				im.Node = o.node
			}
			if o.catalog != nil {
				im.Catalog = o.catalog
			}
		})}
	if o.authz != nil {
		aopts = append(aopts, app.WithAuthorizer(o.authz))
	}
	var backends []string
	if o.stores != nil {
		for _, st := range o.stores(dir) {
			backends = append(backends, st.Name+":"+st.Type)
			aopts = append(aopts, app.WithStore(st))
		}
	}
	g := apptest.New(t, func(c *config.Config) {
		c.DataDir = dir
		if o.dbURL != "" {
			c.DatabaseConnection = o.dbURL
		}
		c.Stores = []string{"file"}
		if backends != nil {
			c.EnabledBackends = backends
			c.DefaultBackend, _, _ = strings.Cut(backends[0], ":")
		}
		c.EnabledImportMethods = o.methods
		c.TaskPoolThreads = 2
	}, aopts...)
	return &importEnv{env: &env{t: t, url: g.URL, images: g.Config.FilesystemStoreDatadir, srv: g.Server},
		im: g.Importer(), db: g.DB(), staging: strings.TrimPrefix(g.Config.NodeStagingURI, "file://"), svc: g.Service()}
}

func (e *importEnv) stage(id string, data []byte) resp {
	e.t.Helper()
	return e.do("PUT", "/v2/images/"+id+"/stage", bytes.NewReader(data), "Content-Type", "application/octet-stream")
}

func (e *importEnv) importReq(id, body string) resp {
	e.t.Helper()
	return e.do("POST", "/v2/images/"+id+"/import", strings.NewReader(body))
}

func (e *importEnv) tasks(id string) []map[string]any {
	e.t.Helper()
	r := e.do("GET", "/v2/images/"+id+"/tasks", nil)
	if r.status != 200 {
		e.t.Fatalf("tasks of %s: %d %s", id, r.status, r.body)
	}
	var out []map[string]any
	for _, t := range r.json(e.t)["tasks"].([]any) {
		out = append(out, t.(map[string]any))
	}
	return out
}

func (e *importEnv) stagingFiles() []string {
	e.t.Helper()
	ents, _ := os.ReadDir(e.staging)
	var out []string
	for _, d := range ents {
		out = append(out, d.Name())
	}
	return out
}

func wantStatus(t *testing.T, what string, r resp, status int, msg string) {
	t.Helper()
	if r.status != status || !strings.Contains(string(r.body), msg) {
		t.Fatalf("%s: %d %s, want %d with %q", what, r.status, r.body, status, msg)
	}
}

func TestImportGlanceDirect(t *testing.T) { eachDB(t, testImportGlanceDirect) }

func testImportGlanceDirect(t *testing.T, dbURL string) {
	e := newImportEnv(t, importOpts{dbURL: dbURL})
	data := bytes.Repeat([]byte("glint"), 200000)

	// Import before staging, without formats, with bad bodies.
	noFormats := e.create(`{"name":"n"}`)
	wantStatus(t, "import of a queued image by glance-direct", e.importReq(noFormats, `{"method":{"name":"glance-direct"}}`),
		409, "Image needs to be staged before 'glance-direct' method can be used")
	wantStatus(t, "stage without formats", e.stage(noFormats, []byte("abc")), 204, "")
	wantStatus(t, "import without container_format", e.importReq(noFormats, `{"method":{"name":"glance-direct"}}`),
		409, "'container_format' needs to be set before import")

	id := e.create(rawBare)
	for _, c := range []struct{ body, msg string }{
		{`{}`, "Import request requires a 'method' field."},
		{`{"method":{}}`, "Import request requires a 'name' field."},
		{`{"method":{"name":"nope"}}`, "Unknown import method name 'nope'."},
		{`{"method":{"name":"glance-direct"},"all_stores":"yes"}`, "'all_stores' must be boolean value only"},
		{`{"method":{"name":"glance-direct"},"all_stores_must_succeed":1}`, "'all_stores_must_succeed' must be boolean value only"},
		{`[1]`, "Unexpected body type"},
		{`{`, "Malformed JSON in request body."},
	} {
		wantStatus(t, "import "+c.body, e.importReq(id, c.body), 400, c.msg)
	}
	wantStatus(t, "stage with a wrong content type", e.do("PUT", "/v2/images/"+id+"/stage", strings.NewReader("x"),
		"Content-Type", "application/json"), 415, "")

	wantStatus(t, "stage", e.stage(id, data), 204, "")
	img := e.show(id)
	if img["status"] != "uploading" || img["size"] != float64(len(data)) {
		t.Fatalf("after stage: status %v size %v", img["status"], img["size"])
	}
	wantStatus(t, "second stage", e.stage(id, data), 409, "Image status transition from uploading to uploading is not allowed")
	wantStatus(t, "web-download on a staged image", e.importReq(id, `{"method":{"name":"web-download","uri":"http://example.com/x"}}`),
		409, "Image needs to be in 'queued' state to use 'web-download' method")
	wantStatus(t, "copy-image of a staged image", e.importReq(id, `{"method":{"name":"copy-image"}}`),
		409, "Only images with status active can be targeted for copying")
	wantStatus(t, "all_stores_must_succeed=false with one store", e.importReq(id, `{"method":{"name":"glance-direct"},"all_stores_must_succeed":false}`),
		400, "All_stores_must_succeed can only be set with enabled_backends")

	r := e.importReq(id, `{"method":{"name":"glance-direct"}}`)
	wantStatus(t, "import", r, 202, "")
	e.im.Wait()
	img = e.show(id)
	sum := md5.Sum(data)
	if img["status"] != "active" || img["checksum"] != hex.EncodeToString(sum[:]) || img["size"] != float64(len(data)) {
		t.Fatalf("after import: %v", img)
	}
	if _, ok := img["os_glance_import_task"]; ok {
		t.Errorf("import lock still held: %v", img)
	}
	if img["os_glance_importing_to_stores"] != "" || img["os_glance_failed_import"] != "" {
		t.Errorf("progress properties: %v / %v", img["os_glance_importing_to_stores"], img["os_glance_failed_import"])
	}
	if got := e.do("GET", "/v2/images/"+id+"/file", nil); !bytes.Equal(got.body, data) {
		t.Fatalf("downloaded data differs")
	}
	if f := e.stagingFiles(); len(f) != 1 { // only noFormats' staged data is left
		t.Errorf("staging area holds %v", f)
	}
	tasks := e.tasks(id)
	if len(tasks) != 1 {
		t.Fatalf("tasks: %v", tasks)
	}
	tk := tasks[0]
	if tk["status"] != "success" || tk["type"] != "api_image_import" || tk["image_id"] != id || tk["expires_at"] == nil ||
		tk["owner"] != nil || tk["deleted"] != false {
		t.Errorf("task: %v", tk)
	}
	if res, _ := tk["result"].(map[string]any); res["image_id"] != id {
		t.Errorf("task result: %v", tk["result"])
	}
	if in, _ := tk["input"].(map[string]any); in["image_id"] != id || in["glint_node"] != nil {
		t.Errorf("task input: %v", tk["input"])
	}
	wantStatus(t, "import of an active image", e.importReq(id, `{"method":{"name":"glance-direct"}}`),
		409, "Image with status active cannot be target for import")
	// One store: the image is already there.
	wantStatus(t, "copy-image", e.importReq(id, `{"method":{"name":"copy-image"}}`), 403, "copy_image")
	wantStatus(t, "copy-image as admin", e.do("POST", "/v2/images/"+id+"/import", strings.NewReader(`{"method":{"name":"copy-image"}}`),
		"X-Roles", "admin"), 400, "Image is already present at store 'file'")
	wantStatus(t, "copy-image to all stores as admin", e.do("POST", "/v2/images/"+id+"/import",
		strings.NewReader(`{"method":{"name":"copy-image"},"all_stores":true}`), "X-Roles", "admin"), 202, "")

	// Deleting a staged image removes its staged data.
	if r := e.do("DELETE", "/v2/images/"+noFormats, nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if f := e.stagingFiles(); len(f) != 0 {
		t.Errorf("staging area after delete holds %v", f)
	}
	wantStatus(t, "tasks of a deleted image", e.do("GET", "/v2/images/"+noFormats+"/tasks", nil), 404, "")
}

// Stage inspects the data: unsafe images are refused with 415 and nothing
// is kept; the image is queued again.
func TestStageInspection(t *testing.T) {
	e := newImportEnv(t, importOpts{})
	good := qemuImage(t, "-f", "qcow2", "-o", "size=64M")
	backing := qemuImage(t, "-f", "qcow2", "-o", "size=64M,backing_file=/etc/hostname,backing_fmt=raw")
	dataFile := qemuImage(t, "-f", "qcow2", "-o", "size=64M,data_file=external.raw")
	for _, c := range []struct {
		name, attrs string
		data        []byte
		status      int
	}{
		{"qcow2", `{"disk_format":"qcow2","container_format":"bare"}`, good, 204},
		{"qcow2 declared raw", `{"disk_format":"raw","container_format":"bare"}`, good, 415},
		{"backing file, no format set", `{}`, backing, 415},
		{"data file", `{"disk_format":"qcow2","container_format":"bare"}`, dataFile, 415},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := e.create(c.attrs)
			r := e.stage(id, c.data)
			if r.status != c.status {
				t.Fatalf("stage: %d %s, want %d", r.status, r.body, c.status)
			}
			img := e.show(id)
			if c.status != 204 {
				if img["status"] != "queued" || img["size"] != nil {
					t.Errorf("after a refused stage: %v", img)
				}
				for _, f := range e.stagingFiles() {
					if strings.HasPrefix(f, id) {
						t.Errorf("staged data kept: %s", f)
					}
				}
			}
		})
	}
}

func TestImportWebDownload(t *testing.T) { eachDB(t, testImportWebDownload) }

func testImportWebDownload(t *testing.T, dbURL string) {
	data := bytes.Repeat([]byte{1, 2, 3, 4}, 300000)
	release := make(chan struct{})
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/img":
			w.Write(data)
		case "/slow":
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Write(data[:1000])
			w.(http.Flusher).Flush()
			<-release
			w.Write(data[1000:])
		default:
			http.NotFound(w, r)
		}
	}))
	defer src.Close()
	u, _ := url.Parse(src.URL)
	port, _ := strconv.Atoi(u.Port())
	e := newImportEnv(t, importOpts{dbURL: dbURL, filter: &urlfilter.Options{
		AllowedSchemes: []string{"http"}, AllowedPorts: []int{port}, AllowPrivate: true}})

	id := e.create(rawBare)
	wantStatus(t, "web-download without uri", e.importReq(id, `{"method":{"name":"web-download"}}`), 400, "does not pass filtering")
	wantStatus(t, "web-download on another port", e.importReq(id, `{"method":{"name":"web-download","uri":"http://127.0.0.1:1/img"}}`),
		400, "URI for web-download does not pass filtering: http://127.0.0.1:1/img")
	wantStatus(t, "web-download", e.importReq(id, `{"method":{"name":"web-download","uri":"`+src.URL+`/img"}}`), 202, "")
	e.im.Wait()
	img := e.show(id)
	if img["status"] != "active" || img["size"] != float64(len(data)) {
		t.Fatalf("after web-download: %v", img)
	}
	if got := e.do("GET", "/v2/images/"+id+"/file", nil); !bytes.Equal(got.body, data) {
		t.Fatal("downloaded data differs")
	}

	// A failed download fails the task and returns the image to queued.
	id2 := e.create(rawBare)
	wantStatus(t, "web-download of a 404", e.importReq(id2, `{"method":{"name":"web-download","uri":"`+src.URL+`/missing"}}`), 202, "")
	e.im.Wait()
	img = e.show(id2)
	if img["status"] != "queued" || img["os_glance_import_task"] != nil {
		t.Fatalf("after a failed web-download: %v", img)
	}
	tk := e.tasks(id2)[0]
	if tk["status"] != "failure" || !strings.Contains(tk["message"].(string), "404") {
		t.Errorf("failed task: %v", tk)
	}
	if f := e.stagingFiles(); len(f) != 0 {
		t.Errorf("staging area holds %v", f)
	}

	// While an import runs, the image is importing and locked, and the
	// task is processing.
	id3 := e.create(rawBare)
	wantStatus(t, "slow web-download", e.importReq(id3, `{"method":{"name":"web-download","uri":"`+src.URL+`/slow"}}`), 202, "")
	img = e.show(id3)
	if img["status"] != "importing" || img["os_glance_import_task"] == nil {
		t.Errorf("during import: %v", img)
	}
	wantStatus(t, "second import while importing", e.importReq(id3, `{"method":{"name":"web-download","uri":"`+src.URL+`/img"}}`),
		409, "Image needs to be in 'queued' state")
	close(release)
	e.im.Wait()
	if img = e.show(id3); img["status"] != "active" {
		t.Errorf("after slow import: %v", img)
	}
}

// Glint refuses loopback and private addresses by default, both when the
// URI names one and when a host name resolves to one at connect time;
// redirects are filtered too.
func TestWebDownloadFiltering(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secret")) }))
	defer target.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/x", http.StatusFound)
	}))
	defer redirector.Close()

	def := newImportEnv(t, importOpts{})
	id := def.create(rawBare)
	for _, uri := range []string{
		"http://127.0.0.1/img", "http://[::1]/img", "http://10.0.0.1/img", "http://169.254.169.254/latest/meta-data",
		"http://[::ffff:127.0.0.1]/x", "ftp://example.com/img", "http://example.com:8080/img", "file:///etc/passwd", "http:///x",
	} {
		wantStatus(t, "web-download of "+uri, def.importReq(id, `{"method":{"name":"web-download","uri":"`+uri+`"}}`),
			400, "does not pass filtering")
	}
	// Names are resolved at the API, as Glance does since its SSRF
	// hardening: one that resolves only to loopback, or not at all
	// (Tempest's bad-URL test), is refused with 400 too. A name that
	// resolves differently at connect time is caught by the dialler
	// (internal/urlfilter's TestClientFirstHop).
	for _, uri := range []string{"http://localhost/img", "http://does-not.exist/no/possible/way"} {
		wantStatus(t, "web-download of "+uri, def.importReq(id, `{"method":{"name":"web-download","uri":"`+uri+`"}}`),
			400, "URI for web-download does not pass filtering: "+uri)
	}
	if img := def.show(id); img["status"] != "queued" || len(def.tasks(id)) != 0 {
		t.Errorf("refused imports: image %v, %d tasks, want queued and none", img["status"], len(def.tasks(id)))
	}

	// Private addresses allowed, but only the redirector's port: the
	// redirect to the target's port is refused.
	ru, _ := url.Parse(redirector.URL)
	rport, _ := strconv.Atoi(ru.Port())
	e := newImportEnv(t, importOpts{filter: &urlfilter.Options{AllowedPorts: []int{rport}, AllowPrivate: true}})
	id = e.create(rawBare)
	wantStatus(t, "redirected web-download", e.importReq(id, `{"method":{"name":"web-download","uri":"`+redirector.URL+`/r"}}`), 202, "")
	e.im.Wait()
	tk := e.tasks(id)[0]
	if tk["status"] != "failure" || !strings.Contains(tk["message"].(string), "redirect") {
		t.Errorf("redirect: task %v", tk)
	}
}

// The image_conversion plugin turns a qcow2 import into raw with qemu-img,
// after checking it; inject_image_metadata adds the configured properties.
func TestImportConversion(t *testing.T) {
	e := newImportEnv(t, importOpts{plugins: []string{"inject_image_metadata", "image_conversion"},
		plugin: importer.PluginOptions{ConversionFormat: "raw", InjectProperties: map[string]string{"injected": "yes", "os_glance_x": "no"},
			InjectIgnoreRoles: []string{"admin"}, QemuMemory: 2 << 30, QemuCPU: 30}})
	q := qemuImage(t, "-f", "qcow2", "-o", "size=16M")
	id := e.create(`{"name":"c","disk_format":"qcow2","container_format":"bare"}`)
	wantStatus(t, "stage", e.stage(id, q), 204, "")
	wantStatus(t, "import", e.importReq(id, `{"method":{"name":"glance-direct"}}`), 202, "")
	e.im.Wait()
	img := e.show(id)
	if img["status"] != "active" || img["disk_format"] != "raw" || img["size"] != float64(16<<20) ||
		img["virtual_size"] != float64(16<<20) || img["injected"] != "yes" || img["os_glance_x"] != nil {
		t.Fatalf("after conversion: %v", img)
	}

	for _, f := range []string{"vmdk", "vhdx", "vdi", "vpc"} {
		disk := map[string]string{"vpc": "vhd"}[f]
		if disk == "" {
			disk = f
		}
		id := e.create(`{"name":"c","disk_format":"` + disk + `","container_format":"bare"}`)
		wantStatus(t, "stage "+f, e.stage(id, qemuImage(t, "-f", f, "-o", "size=8M")), 204, "")
		wantStatus(t, "import "+f, e.importReq(id, `{"method":{"name":"glance-direct"}}`), 202, "")
		e.im.Wait()
		if img := e.show(id); img["status"] != "active" || img["disk_format"] != "raw" || img["size"].(float64) < 8<<20 {
			t.Errorf("%s converted: %v (task %v)", f, img, e.tasks(id)[0]["message"])
		}
	}

	// A VMDK that names a host file (CVE-2022-47951) never reaches qemu-img.
	desc := "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n\n" +
		"RW 2048 FLAT \"/etc/passwd\" 0\n"
	id = e.create(`{"name":"v","disk_format":"vmdk","container_format":"bare"}`)
	if r := e.stage(id, []byte(desc)); r.status != 415 {
		t.Fatalf("stage of a flat VMDK descriptor: %d %s", r.status, r.body)
	}
}

func TestTasksAPI(t *testing.T) { eachDB(t, testTasksAPI) }

func testTasksAPI(t *testing.T, dbURL string) {
	data := bytes.Repeat([]byte("legacy"), 1000)
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(data) }))
	defer src.Close()
	u, _ := url.Parse(src.URL)
	port, _ := strconv.Atoi(u.Port())
	e := newImportEnv(t, importOpts{dbURL: dbURL, filter: &urlfilter.Options{AllowedPorts: []int{port}, AllowPrivate: true}})
	admin := []string{"X-Roles", "admin", "X-Project-Id", "p1"}

	wantStatus(t, "list without the admin role", e.do("GET", "/v2/tasks", nil), 403, "tasks_api_access")
	wantStatus(t, "create without the admin role", e.do("POST", "/v2/tasks", strings.NewReader(`{}`)), 403, "")
	wantStatus(t, "create without input", e.do("POST", "/v2/tasks", strings.NewReader(`{"type":"import"}`), admin...), 400, "Task 'input' is required")
	wantStatus(t, "create with an unknown field", e.do("POST", "/v2/tasks",
		strings.NewReader(`{"type":"import","input":{},"x":1}`), admin...), 400, "")
	wantStatus(t, "create of a bad type", e.do("POST", "/v2/tasks", strings.NewReader(`{"type":"nope","input":{}}`), admin...), 400, "")

	body := fmt.Sprintf(`{"type":"import","input":{"import_from":"%s/img","import_from_format":"raw",
		"image_properties":{"name":"legacy","disk_format":"raw","container_format":"bare"}}}`, src.URL)
	r := e.do("POST", "/v2/tasks", strings.NewReader(body), admin...)
	wantStatus(t, "create", r, 201, "")
	created := r.json(t)
	tid := created["id"].(string)
	if r.header.Get("Location") != "/v2/tasks/"+tid || created["status"] != "pending" || created["owner"] != "p1" {
		t.Errorf("created task: %v %v", r.header, created)
	}
	e.im.Wait()
	r = e.do("GET", "/v2/tasks/"+tid, nil, admin...)
	wantStatus(t, "show", r, 200, "")
	tk := r.json(t)
	res, _ := tk["result"].(map[string]any)
	if tk["status"] != "success" || res == nil || tk["expires_at"] == nil || tk["schema"] != "/v2/schemas/task" {
		t.Fatalf("legacy task: %v", tk)
	}
	img := e.do("GET", "/v2/images/"+res["image_id"].(string), nil, admin...).json(t)
	if img["status"] != "active" || img["name"] != "legacy" || img["size"] != float64(len(data)) {
		t.Errorf("legacy task's image: %v", img)
	}

	// A failing task: import_from refused by the filter.
	r = e.do("POST", "/v2/tasks", strings.NewReader(`{"type":"import","input":{"import_from":"http://10.1.1.1/x",
		"import_from_format":"raw","image_properties":{}}}`), admin...)
	wantStatus(t, "create of a failing task", r, 201, "")
	e.im.Wait()

	r = e.do("GET", "/v2/tasks?sort_dir=asc", nil, admin...)
	wantStatus(t, "list", r, 200, "")
	list := r.json(t)
	items := list["tasks"].([]any)
	if len(items) != 2 || list["first"] != "/v2/tasks?sort_dir=asc" || list["schema"] != "/v2/schemas/tasks" {
		t.Fatalf("list: %s", r.body)
	}
	// MySQL keeps whole seconds: both may share created_at, so look by id.
	for _, it := range items {
		stub := it.(map[string]any)
		want := "failure"
		if stub["id"] == tid {
			want = "success"
		}
		if stub["status"] != want || stub["input"] != nil || stub["message"] != nil {
			t.Errorf("stub: %v", stub)
		}
	}
	r = e.do("GET", "/v2/tasks?limit=1&status=success", nil, admin...)
	if l := r.json(t); len(l["tasks"].([]any)) != 1 || !strings.Contains(fmt.Sprint(l["next"]), "marker="+tid) {
		t.Errorf("page: %s", r.body)
	}
	wantStatus(t, "list with a bad status", e.do("GET", "/v2/tasks?status=x", nil, admin...), 400, "Invalid status value: x")
	wantStatus(t, "list with a bad marker", e.do("GET", "/v2/tasks?marker=x", nil, admin...), 400, "Invalid marker format")
	wantStatus(t, "other project's view", e.do("GET", "/v2/tasks/"+tid, nil, "X-Roles", "admin,member", "X-Project-Id", "p1"), 200, "")
	r = e.do("DELETE", "/v2/tasks/"+tid, nil, admin...)
	if r.status != 405 || r.header.Get("Allow") != "GET" {
		t.Errorf("delete: %d %v", r.status, r.header)
	}
	wantStatus(t, "unknown task", e.do("GET", "/v2/tasks/00000000-0000-0000-0000-000000000000", nil, admin...), 404, "")
	for _, s := range []string{"task", "tasks"} {
		if r := e.do("GET", "/v2/schemas/"+s, nil); r.status != 200 || r.json(t)["name"] != s {
			t.Errorf("schema %s: %d %s", s, r.status, r.body)
		}
	}

	// Expiry: a task whose expires_at has passed disappears.
	past := time.Now().Add(-time.Hour)
	t2, err := e.db.Tasks().GetTask(context.Background(), tid)
	if err != nil {
		t.Fatal(err)
	}
	t2.ExpiresAt = &past
	if err := e.db.Tasks().SaveTask(context.Background(), t2, t2.Status); err != nil {
		t.Fatal(err)
	}
	if l := e.do("GET", "/v2/tasks", nil, admin...).json(t); len(l["tasks"].([]any)) != 1 {
		t.Errorf("after expiry: %v", l)
	}
	wantStatus(t, "expired task", e.do("GET", "/v2/tasks/"+tid, nil, admin...), 404, "")
}

// A node that restarts fails the imports it left unfinished and releases
// their images (Glance leaves them locked for an hour).
func TestImportRecovery(t *testing.T) {
	dir := t.TempDir()
	first := newImportEnv(t, importOpts{dir: dir, node: "node-a"})
	id := first.create(rawBare)
	wantStatus(t, "stage", first.stage(id, []byte("data")), 204, "")
	// Simulate a crash in the middle of the import: the task is processing
	// and the image importing and locked, with no worker left.
	ctx := context.Background()
	now := time.Now().UTC()
	tk := &importer.Task{ID: "11111111-1111-1111-1111-111111111111", Type: importer.TaskTypeImageImport, Status: importer.TaskProcessing,
		CreatedAt: now, UpdatedAt: now, ImageID: &id,
		Input: map[string]any{"image_id": id, "glint_node": "node-a",
			"import_req": map[string]any{"method": map[string]any{"name": "glance-direct"}}}}
	if err := first.db.Tasks().CreateTask(ctx, tk); err != nil {
		t.Fatal(err)
	}
	if _, err := first.db.Images().Modify(ctx, id, func(img *image.Image) (*image.Image, error) {
		img.Status = image.Importing
		img.Properties["os_glance_import_task"] = tk.ID
		return img, nil
	}); err != nil {
		t.Fatal(err)
	}
	// Another node's task is left alone.
	other := *tk
	other.ID, other.Input = "22222222-2222-2222-2222-222222222222", map[string]any{"glint_node": "node-b"}
	other.ImageID = nil
	if err := first.db.Tasks().CreateTask(ctx, &other); err != nil {
		t.Fatal(err)
	}

	// And a stage cut short: a partial file, the image uploading without a size.
	cut := first.create(rawBare)
	if _, err := first.db.Images().Modify(ctx, cut, func(img *image.Image) (*image.Image, error) {
		img.Status = image.Uploading
		return img, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(first.staging, cut+".tmp"), []byte("part"), 0o640); err != nil {
		t.Fatal(err)
	}

	second := newImportEnv(t, importOpts{dir: dir, node: "node-a"})
	if img := second.show(cut); img["status"] != "queued" {
		t.Errorf("interrupted stage: %v", img["status"])
	}
	img := second.show(id)
	if img["status"] != "queued" || img["os_glance_import_task"] != nil {
		t.Errorf("after restart: %v", img)
	}
	tasks := second.tasks(id)
	if len(tasks) != 1 || tasks[0]["status"] != "failure" || !strings.Contains(tasks[0]["message"].(string), "interrupted") {
		t.Errorf("recovered task: %v", tasks)
	}
	if o, err := second.db.Tasks().GetTask(ctx, other.ID); err != nil || o.Status != importer.TaskProcessing {
		t.Errorf("other node's task: %v %v", o, err)
	}
	if f := second.stagingFiles(); len(f) != 0 {
		t.Errorf("staging area holds %v", f)
	}
}

// With glance-direct disabled, stage is 404 and the method is refused.
func TestImportMethodsDisabled(t *testing.T) {
	e := newImportEnv(t, importOpts{methods: []string{"web-download"}})
	id := e.create(rawBare)
	wantStatus(t, "stage", e.stage(id, []byte("x")), 404, "")
	wantStatus(t, "glance-direct", e.importReq(id, `{"method":{"name":"glance-direct"}}`), 400, "Unknown import method name 'glance-direct'.")
	r := e.do("GET", "/v2/info/import", nil)
	if !strings.Contains(string(r.body), `"value":["web-download"]`) {
		t.Errorf("info/import: %s", r.body)
	}
}

// TestGlanceDownloadRequest: Glance's API refuses a glance-download
// request without a region or a remote image id, or with an id that is
// not a UUID (Tempest's test_image_glance_download_import_bad_uuid);
// past those checks the task fails.
func TestGlanceDownloadRequest(t *testing.T) {
	e := newImportEnv(t, importOpts{methods: []string{"glance-direct", "glance-download"}})
	id := e.create(rawBare)
	for _, c := range []struct{ body, want string }{
		{`{"method":{"name":"glance-download","glance_image_id":"` + id + `"}}`, "'glance_region' needs to be set for glance-download import method"},
		{`{"method":{"name":"glance-download","glance_region":"RegionOne"}}`, "'glance_image_id' needs to be set for glance-download import method"},
		{`{"method":{"name":"glance-download","glance_region":"RegionOne","glance_image_id":"not-a-uuid"}}`, "Remote image id does not look like a UUID: not-a-uuid"},
		{`{"method":{"name":"glance-download","glance_region":"RegionOne","glance_image_id":7}}`, "Remote image id does not look like a UUID: 7"},
	} {
		wantStatus(t, c.body, e.importReq(id, c.body), 400, c.want)
	}
	if img := e.show(id); img["status"] != "queued" {
		t.Errorf("status %v after refused imports, want queued", img["status"])
	}
	// Past those checks the import is accepted; without a Keystone token
	// and catalog its task fails, as Glance's does without a catalog.
	body := `{"method":{"name":"glance-download","glance_region":"RegionOne","glance_image_id":"` + id + `"}}`
	wantStatus(t, body, e.importReq(id, body), 202, "")
	e.im.Wait()
	if img := e.show(id); img["status"] != "queued" {
		t.Errorf("status %v after a failed glance-download, want queued", img["status"])
	}
	ts := e.tasks(id)
	if len(ts) != 1 || ts[0]["status"] != "failure" || !strings.Contains(fmt.Sprint(ts[0]["message"]), "service catalog") {
		t.Errorf("tasks %v, want one failed for want of a catalog", ts)
	}
}

// Two nodes share a database but not a staging area: an image staged on
// one is imported through the other, which forwards the request to the
// node holding the data (os_glance_stage_host).
func TestImportTwoNodes(t *testing.T) { eachDB(t, testImportTwoNodes) }

func testImportTwoNodes(t *testing.T, dbURL string) {
	a := newImportEnv(t, importOpts{dbURL: dbURL, node: "a"})
	b := newImportEnv(t, importOpts{dbURL: dbURL, node: "b"})
	data := bytes.Repeat([]byte("two nodes "), 10000)
	id := a.create(rawBare)
	wantStatus(t, "stage on a", a.stage(id, data), 204, "")
	if img := b.show(id); img["os_glance_stage_host"] != nil {
		t.Errorf("os_glance_stage_host is shown: %v", img)
	}
	wantStatus(t, "import through b", b.importReq(id, `{"method":{"name":"glance-direct"}}`), 202, "")
	a.im.Wait()
	img := b.show(id)
	if img["status"] != "active" || img["size"] != float64(len(data)) {
		t.Fatalf("after import through b: %v", img)
	}
	if f := a.stagingFiles(); len(f) != 0 {
		t.Errorf("a's staging area holds %v", f)
	}

	// A staged image deleted through b is deleted by a, the stage host,
	// with its staged data, as in Glance (Tempest's test_remote_delete).
	id = a.create(rawBare)
	wantStatus(t, "stage on a", a.stage(id, data), 204, "")
	wantStatus(t, "delete through b", b.do("DELETE", "/v2/images/"+id, nil), 204, "")
	if st := b.do("GET", "/v2/images/"+id, nil).status; st != 404 {
		t.Errorf("after delete through b: image answers %d, want 404", st)
	}
	if f := a.stagingFiles(); len(f) != 0 {
		t.Errorf("a's staging area holds %v after the delete through b", f)
	}

	// The stage host is down: 504, and the image stays staged.
	id = a.create(rawBare)
	wantStatus(t, "stage on a", a.stage(id, data), 204, "")
	staged := a.create(rawBare)
	wantStatus(t, "stage on a", a.stage(staged, data), 204, "")
	a.srv.Close()
	wantStatus(t, "import through b with a down", b.importReq(id, `{"method":{"name":"glance-direct"}}`), 504, "Stage host is unavailable")
	if img := b.show(id); img["status"] != "uploading" {
		t.Errorf("after a failed forward: %v", img["status"])
	}
	// A delete through b with a down deletes the image there all the same.
	wantStatus(t, "delete through b with a down", b.do("DELETE", "/v2/images/"+staged, nil), 204, "")
	if st := b.do("GET", "/v2/images/"+staged, nil).status; st != 404 {
		t.Errorf("after delete through b with a down: image answers %d, want 404", st)
	}
}

// Hostile images are refused on the web-download path too: the task
// fails with the inspector's reason and nothing is stored; gzip data is
// unpacked by image_decompression before it is inspected.
func TestWebDownloadInspection(t *testing.T) {
	backing := qemuImage(t, "-f", "qcow2", "-o", "size=64M,backing_file=/etc/hostname,backing_fmt=raw")
	good := qemuImage(t, "-f", "qcow2", "-o", "size=8M")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(good)
	zw.Close()
	files := map[string][]byte{"/backing": backing, "/good.gz": gz.Bytes()}
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(files[r.URL.Path]) }))
	defer src.Close()
	u, _ := url.Parse(src.URL)
	port, _ := strconv.Atoi(u.Port())
	e := newImportEnv(t, importOpts{filter: &urlfilter.Options{AllowedPorts: []int{port}, AllowPrivate: true},
		plugins: []string{"image_decompression"}})

	id := e.create(`{"name":"h","disk_format":"qcow2","container_format":"bare"}`)
	wantStatus(t, "web-download", e.importReq(id, `{"method":{"name":"web-download","uri":"`+src.URL+`/backing"}}`), 202, "")
	e.im.Wait()
	tk := e.tasks(id)[0]
	if img := e.show(id); img["status"] != "queued" || tk["status"] != "failure" || !strings.Contains(tk["message"].(string), "backing_file") {
		t.Errorf("hostile web-download: image %v, task %v", img["status"], tk)
	}
	if f := e.storeFiles(); len(f) != 0 {
		t.Errorf("store holds %v", f)
	}

	id = e.create(`{"name":"g","disk_format":"qcow2","container_format":"bare"}`)
	wantStatus(t, "web-download of gzip", e.importReq(id, `{"method":{"name":"web-download","uri":"`+src.URL+`/good.gz"}}`), 202, "")
	e.im.Wait()
	if img := e.show(id); img["status"] != "active" || img["size"] != float64(len(good)) || img["virtual_size"] != float64(8<<20) {
		t.Errorf("decompressed import: %v", img)
	}
}

// Every hostile image is refused on every import path: stage (415),
// web-download and legacy import tasks (the task fails, nothing stored),
// and a safe qcow2 staged before its disk_format was set to raw.
func TestHostileImagesOnEveryImportPath(t *testing.T) {
	flatVMDK := []byte("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n\n" +
		"RW 2048 FLAT \"/etc/passwd\" 0\n")
	hostile := map[string]struct {
		disk string
		data []byte
	}{
		"qcow2 backing file":   {"qcow2", qemuImage(t, "-f", "qcow2", "-o", "size=64M,backing_file=/etc/hostname,backing_fmt=raw")},
		"qcow2 data file":      {"qcow2", qemuImage(t, "-f", "qcow2", "-o", "size=64M,data_file=external.raw")},
		"vmdk flat descriptor": {"vmdk", flatVMDK},
		"qcow2 declared raw":   {"raw", qemuImage(t, "-f", "qcow2", "-o", "size=64M")},
		"vmdk declared raw":    {"raw", qemuImage(t, "-f", "vmdk", "-o", "size=64M")},
	}
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, _ := url.PathUnescape(strings.TrimPrefix(r.URL.Path, "/"))
		w.Write(hostile[name].data)
	}))
	defer src.Close()
	u, _ := url.Parse(src.URL)
	port, _ := strconv.Atoi(u.Port())
	e := newImportEnv(t, importOpts{filter: &urlfilter.Options{AllowedPorts: []int{port}, AllowPrivate: true},
		plugins: []string{"image_conversion"}, plugin: importer.PluginOptions{ConversionFormat: "qcow2"}})
	admin := []string{"X-Roles", "admin"}
	for name, h := range hostile {
		t.Run(name, func(t *testing.T) {
			attrs := `{"name":"h","disk_format":"` + h.disk + `","container_format":"bare"}`
			id := e.create(attrs)
			if r := e.stage(id, h.data); r.status != 415 {
				t.Errorf("stage: %d %s", r.status, r.body)
			}
			id = e.create(attrs)
			wantStatus(t, "web-download", e.importReq(id, `{"method":{"name":"web-download","uri":"`+src.URL+"/"+url.PathEscape(name)+`"}}`), 202, "")
			e.im.Wait()
			if img, tk := e.show(id), e.tasks(id)[0]; img["status"] != "queued" || tk["status"] != "failure" {
				t.Errorf("web-download: image %v, task %v", img["status"], tk)
			}
			body := fmt.Sprintf(`{"type":"import","input":{"import_from":"%s/%s","import_from_format":"%s","image_properties":%s}}`,
				src.URL, url.PathEscape(name), h.disk, attrs)
			r := e.do("POST", "/v2/tasks", strings.NewReader(body), admin...)
			wantStatus(t, "legacy task", r, 201, "")
			e.im.Wait()
			if tk := e.do("GET", "/v2/tasks/"+r.json(t)["id"].(string), nil, admin...).json(t); tk["status"] != "failure" {
				t.Errorf("legacy task: %v", tk)
			}
			if f := e.storeFiles(); len(f) != 0 {
				t.Errorf("store holds %v", f)
			}
		})
	}
	// Staged while its format was unknown, then declared raw: disk_format
	// cannot change on an uploading image (403, as in Glance), so staged
	// data is always judged against the format it is imported as.
	id := e.create(`{"name":"late","container_format":"bare"}`)
	wantStatus(t, "stage", e.stage(id, hostile["qcow2 declared raw"].data), 204, "")
	if r := e.do("PATCH", "/v2/images/"+id, strings.NewReader(`[{"op":"add","path":"/disk_format","value":"raw"}]`),
		"Content-Type", "application/openstack-images-v2.1-json-patch"); r.status != 403 {
		t.Fatalf("patch of an uploading image's disk_format: %d %s", r.status, r.body)
	}
}
