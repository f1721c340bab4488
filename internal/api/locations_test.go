package api_test

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"glint/internal/config"
	"glint/internal/image"
	"glint/internal/policy"
	"glint/internal/store"
	"glint/internal/store/httpstore"
	"glint/internal/urlfilter"
)

// webImages serves image data for http locations: /a (1000 bytes),
// /b (500 bytes), /empty (0 bytes); anything else is 404.
func webImages(t *testing.T) (*httptest.Server, map[string][]byte) {
	files := map[string][]byte{
		"/a":     bytes.Repeat([]byte("a"), 1000),
		"/b":     bytes.Repeat([]byte("b"), 500),
		"/empty": {},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(d))
	}))
	t.Cleanup(srv.Close)
	return srv, files
}

type locOpts struct {
	dbURL     string
	hidden    bool                     // show_multiple_locations off
	private   bool                     // the HTTP store refuses loopback
	directURL bool                     // show_image_direct_url on
	adjust    func(o *image.Options)   // more service options
	filter    func(*urlfilter.Options) // the location filter
	// allowed names hosts and ports in [import_filtering_opts] for both
	// the location filter and the HTTP store, as the app configures them.
	allowed *urlfilter.Options
	authz   image.Authorizer
}

func newLocEnv(t *testing.T, o locOpts) *env {
	t.Helper()
	storeFilter := urlfilter.Options{AllowPrivate: !o.private}
	if o.allowed != nil {
		storeFilter.AllowedHosts, storeFilter.AllowedPorts = o.allowed.AllowedHosts, o.allowed.AllowedPorts
	}
	hs, err := httpstore.New(httpstore.Options{Filter: storeFilter})
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, opts{dbURL: o.dbURL, authn: roleAuth{}, authz: o.authz, stores: []store.Driver{hs},
		cfg: func(c *config.Config) {
			c.ShowMultipleLocations = !o.hidden
			c.ShowImageDirectURL = o.directURL
			c.ImageLocationQuota = 3
		},
		svc: func(so *image.Options) {
			so.LocationFilter = urlfilter.Options{AllowPrivate: true}
			if o.allowed != nil {
				so.LocationFilter = storeFilter
			}
			if o.filter != nil {
				o.filter(&so.LocationFilter)
			}
			if o.adjust != nil {
				o.adjust(so)
			}
		}})
}

// patch sends a JSON patch as project p1's member (or with the given
// X-Roles and X-Project-Id) and returns the answer.
func (e *env) patch(id, body string, who ...string) resp {
	e.t.Helper()
	hdr := []string{"Content-Type", "application/openstack-images-v2.1-json-patch", "X-Roles", "member", "X-Project-Id", "p1"}
	if len(who) == 2 {
		hdr[3], hdr[5] = who[0], who[1]
	}
	return e.do("PATCH", "/v2/images/"+id, strings.NewReader(body), hdr...)
}

func (e *env) createAs(attrs string) string {
	e.t.Helper()
	r := e.do("POST", "/v2/images", strings.NewReader(attrs), "X-Roles", "member", "X-Project-Id", "p1")
	if r.status != 201 {
		e.t.Fatalf("create %s: %d %s", attrs, r.status, r.body)
	}
	return r.json(e.t)["id"].(string)
}

func (e *env) showAs(id string) map[string]any {
	e.t.Helper()
	r := e.do("GET", "/v2/images/"+id, nil, "X-Roles", "member", "X-Project-Id", "p1")
	if r.status != 200 {
		e.t.Fatalf("show %s: %d %s", id, r.status, r.body)
	}
	return r.json(e.t)
}

func addLoc(url string, meta string) string {
	if meta == "" {
		meta = "{}"
	}
	return fmt.Sprintf(`[{"op":"add","path":"/locations/-","value":{"url":%q,"metadata":%s}}]`, url, meta)
}

func expect(t *testing.T, what string, r resp, status int, msg string) {
	t.Helper()
	if r.status != status || !strings.Contains(string(r.body), msg) {
		t.Fatalf("%s: %d %s, want %d %q", what, r.status, r.body, status, msg)
	}
}

func locURLs(img map[string]any) []string {
	var out []string
	locs, _ := img["locations"].([]any)
	for _, l := range locs {
		out = append(out, l.(map[string]any)["url"].(string))
	}
	return out
}

func TestLocations(t *testing.T) { eachDB(t, testLocations) }

func testLocations(t *testing.T, dbURL string) {
	web, files := webImages(t)
	e := newLocEnv(t, locOpts{dbURL: dbURL, directURL: true})
	a, b := web.URL+"/a", web.URL+"/b"

	// A queued image given a location becomes active with the size the
	// store reports, no checksum, and serves the data from there.
	id := e.createAs(rawBare)
	if img := e.showAs(id); img["locations"] == nil || len(locURLs(img)) != 0 {
		t.Fatalf("queued image locations = %v, want []", img["locations"])
	}
	r := e.patch(id, addLoc(a, ""))
	expect(t, "add to queued", r, 200, "")
	img := r.json(t)
	if img["status"] != "active" || img["size"] != float64(1000) || img["checksum"] != nil || img["direct_url"] != a {
		t.Fatalf("after add: status %v size %v checksum %v direct_url %v", img["status"], img["size"], img["checksum"], img["direct_url"])
	}
	if got := e.do("GET", "/v2/images/"+id+"/file", nil, "X-Roles", "member", "X-Project-Id", "p1"); got.status != 200 || !bytes.Equal(got.body, files["/a"]) {
		t.Fatalf("download from the http location: %d, %d bytes", got.status, len(got.body))
	}

	// Duplicates are a URL with the same metadata; other metadata is another location.
	expect(t, "duplicate", e.patch(id, addLoc(a, "")), 400, "The location "+a+" already exists")
	expect(t, "same url, other metadata", e.patch(id, addLoc(a, `{"k":"v"}`)), 200, "")
	// As in Glance, the position shows in the answer but is not stored:
	// locations are read back in the order they were added.
	r = e.patch(id, `[{"op":"add","path":"/locations/0","value":{"url":"`+b+`","metadata":{}}}]`)
	expect(t, "insert at 0", r, 200, "")
	if got := locURLs(r.json(t)); len(got) != 3 || got[0] != b || got[1] != a {
		t.Fatalf("locations %v, want b, a, a", got)
	}
	if got := locURLs(e.showAs(id)); len(got) != 3 || got[0] != a || got[2] != b {
		t.Fatalf("locations %v, want a, a, b", got)
	}
	expect(t, "over image_location_quota", e.patch(id, addLoc(web.URL+"/a?x", "")), 413,
		"The limit has been exceeded on the number of allowed image locations. Attempted: 4, Maximum: 3")

	// Invalid locations: restricted schemes, unknown schemes, nothing there, empty data.
	inv := e.createAs(rawBare)
	for _, u := range []string{"file:///etc/passwd", "filesystem:///etc/passwd", "swift+config://ref/c/o", "foo://bar/x",
		web.URL + "/missing", web.URL + "/empty", "not a url"} {
		expect(t, "add "+u, e.patch(inv, addLoc(u, "")), 400, "Invalid location")
	}
	expect(t, "metadata number", e.patch(inv, addLoc(b, `{"n":1}`)), 400, "The image metadata key n has an invalid type")
	expect(t, "no metadata", e.patch(inv, `[{"op":"add","path":"/locations/-","value":{"url":"`+b+`"}}]`), 400, "Provided object does not match schema 'image'")
	expect(t, "url too long", e.patch(inv, addLoc(web.URL+"/"+strings.Repeat("x", 255), "")), 400, "Provided object does not match schema 'image'")
	if st := e.showAs(inv)["status"]; st != "queued" {
		t.Errorf("image refused every location is %v, want queued", st)
	}

	// Replace: never empty; on a list that is not empty only metadata.
	expect(t, "replace empty", e.patch(id, `[{"op":"replace","path":"/locations","value":[]}]`), 403, "Cannot set locations to empty list.")
	expect(t, "replace other urls", e.patch(id, `[{"op":"replace","path":"/locations","value":[{"url":"`+b+`","metadata":{}}]}]`), 400, "Original locations is not empty")
	r = e.patch(id, `[{"op":"replace","path":"/locations","value":[{"url":"`+a+`","metadata":{}},{"url":"`+a+`","metadata":{"k":"v"}},{"url":"`+b+`","metadata":{"x":"1"}}]}]`)
	expect(t, "replace metadata", r, 200, `"metadata":{"x":"1"}`)

	// Remove: by index, never the last one.
	expect(t, "remove past the end", e.patch(id, `[{"op":"remove","path":"/locations/3"}]`, "admin", "p1"), 400, "Invalid position for removing a location.")
	expect(t, "remove 1", e.patch(id, `[{"op":"remove","path":"/locations/1"}]`, "admin", "p1"), 200, "")
	expect(t, "remove last", e.patch(id, `[{"op":"remove","path":"/locations/-"}]`, "admin", "p1"), 200, "")
	if got := locURLs(e.showAs(id)); len(got) != 1 || got[0] != a {
		t.Fatalf("locations %v, want [a]", got)
	}
	expect(t, "remove the only one", e.patch(id, `[{"op":"remove","path":"/locations/0"}]`, "admin", "p1"), 403, "Cannot remove last location in the image.")

	// Status rules.
	q := e.createAs(rawBare)
	expect(t, "remove from queued", e.patch(q, `[{"op":"remove","path":"/locations/0"}]`, "admin", "p1"), 409, "It's not allowed to remove locations if image status is queued.")
	nf := e.createAs(`{"name":"nf"}`)
	expect(t, "no formats", e.patch(nf, addLoc(a, "")), 400, "Properties disk_format, container_format must be set prior to saving data.")
	if st := e.showAs(nf)["status"]; st != "queued" {
		t.Errorf("refused image is %v, want queued", st)
	}
	expect(t, "deactivate", e.do("POST", "/v2/images/"+id+"/actions/deactivate", nil, "X-Roles", "admin", "X-Project-Id", "p1"), 204, "")
	expect(t, "add to deactivated", e.patch(id, addLoc(b, "")), 409, "It's not allowed to add locations if image status is deactivated.")
	expect(t, "replace on deactivated", e.patch(id, `[{"op":"replace","path":"/locations","value":[{"url":"`+a+`","metadata":{}}]}]`), 409,
		"It's not allowed to replace locations if image status is deactivated.")

	// Replace on a queued image sets its locations and activates it.
	r = e.patch(q, `[{"op":"replace","path":"/locations","value":[{"url":"`+a+`","metadata":{}},{"url":"`+b+`","metadata":{}}]}]`)
	expect(t, "replace on queued", r, 200, `"status":"active"`)
	if got := locURLs(r.json(t)); len(got) != 2 {
		t.Fatalf("locations %v, want 2", got)
	}
	dup := e.createAs(rawBare)
	expect(t, "replace with duplicates", e.patch(dup, `[{"op":"replace","path":"/locations","value":[{"url":"`+a+`","metadata":{}},{"url":"`+a+`","metadata":{}}]}]`),
		400, "already exists")

	// validation_data: the checksum and hash a location vouches for.
	sum := sha512.Sum512(files["/a"])
	hv := hex.EncodeToString(sum[:])
	v := e.createAs(rawBare)
	expect(t, "wrong algorithm", e.patch(v, `[{"op":"add","path":"/locations/-","value":{"url":"`+a+`","metadata":{},"validation_data":{"os_hash_algo":"sha256","os_hash_value":"`+hv[:64]+`"}}}]`),
		409, "os_hash_algo must be sha512, not sha256")
	expect(t, "bad checksum", e.patch(v, `[{"op":"add","path":"/locations/-","value":{"url":"`+a+`","metadata":{},"validation_data":{"checksum":"`+strings.Repeat("z", 32)+`","os_hash_algo":"sha512","os_hash_value":"`+hv+`"}}}]`),
		409, "is not a valid hexadecimal value")
	r = e.patch(v, `[{"op":"add","path":"/locations/-","value":{"url":"`+a+`","metadata":{},"validation_data":{"os_hash_algo":"sha512","os_hash_value":"`+hv+`"}}}]`)
	expect(t, "validation data", r, 200, `"os_hash_value":"`+hv+`"`)
	expect(t, "other value later", e.patch(v, `[{"op":"add","path":"/locations/-","value":{"url":"`+b+`","metadata":{},"validation_data":{"os_hash_algo":"sha512","os_hash_value":"`+strings.Repeat("0", 128)+`"}}}]`),
		409, "os_hash_value is already set with a different value")

	// Legacy policy defaults: the owner's reader may add; another
	// project may not (Glance's ownership check).
	pub := e.do("POST", "/v2/images", strings.NewReader(`{"disk_format":"raw","container_format":"bare","visibility":"public"}`), "X-Roles", "admin", "X-Project-Id", "p1").json(t)["id"].(string)
	expect(t, "add to another's public image", e.patch(pub, addLoc(a, ""), "member", "p2"), 403, "You do not own this image")
	expect(t, "add to another's private image", e.patch(q, addLoc(a, ""), "member", "p2"), 404, "")
}

// TestLocationsPolicy: with the new defaults, set_image_location needs a
// member of the owning project and delete_image_location an admin.
func TestLocationsPolicy(t *testing.T) {
	web, _ := webImages(t)
	en, err := policy.NewGlance(policy.Options{EnforceNewDefaults: true})
	if err != nil {
		t.Fatal(err)
	}
	e := newLocEnv(t, locOpts{authz: policy.Authorizer{Enforcer: en}})
	id := e.do("POST", "/v2/images", strings.NewReader(rawBare), "X-Roles", "member,reader", "X-Project-Id", "p1").json(t)["id"].(string)
	expect(t, "reader adds", e.patch(id, addLoc(web.URL+"/a", ""), "reader", "p1"), 403, "")
	expect(t, "other project adds", e.patch(id, addLoc(web.URL+"/a", ""), "member,reader", "p2"), 404, "")
	expect(t, "member adds", e.patch(id, addLoc(web.URL+"/a", ""), "member,reader", "p1"), 200, "")
	expect(t, "member adds again", e.patch(id, addLoc(web.URL+"/b", ""), "member,reader", "p1"), 200, "")
	expect(t, "member removes", e.patch(id, `[{"op":"remove","path":"/locations/0"}]`, "member,reader", "p1"), 403, "")
	expect(t, "admin removes", e.patch(id, `[{"op":"remove","path":"/locations/0"}]`, "admin,member,reader", "p1"), 200, "")
}

func TestLocationsHidden(t *testing.T) {
	web, _ := webImages(t)
	e := newLocEnv(t, locOpts{hidden: true})
	id := e.createAs(rawBare)
	if _, ok := e.showAs(id)["locations"]; ok {
		t.Fatal("locations shown with show_multiple_locations off")
	}
	expect(t, "add", e.patch(id, addLoc(web.URL+"/a", "")), 403, "It's not allowed to add locations if locations are invisible.")
	expect(t, "replace", e.patch(id, `[{"op":"replace","path":"/locations","value":[{"url":"`+web.URL+`/a","metadata":{}}]}]`), 403,
		"It's not allowed to update locations if locations are invisible.")
	expect(t, "remove", e.patch(id, `[{"op":"remove","path":"/locations/0"}]`, "admin", "p1"), 403, "It's not allowed to remove locations if locations are invisible.")
	if e.showAs(id)["status"] != "queued" {
		t.Fatal("image changed")
	}
}

// TestLocationsFiltered: http locations pass [import_filtering_opts], and
// the HTTP store refuses loopback unless allowed.
func TestLocationsFiltered(t *testing.T) {
	web, _ := webImages(t)
	ports := newLocEnv(t, locOpts{filter: func(f *urlfilter.Options) { f.AllowedPorts = []int{80, 443} }})
	id := ports.createAs(rawBare)
	expect(t, "port not allowed", ports.patch(id, addLoc(web.URL+"/a", "")), 400, "Invalid location")
	hosts := newLocEnv(t, locOpts{filter: func(f *urlfilter.Options) { f.DisallowedHosts = []string{"127.0.0.1"} }})
	id = hosts.createAs(rawBare)
	expect(t, "host not allowed", hosts.patch(id, addLoc(web.URL+"/a", "")), 400, "Invalid location")
	private := newLocEnv(t, locOpts{private: true})
	id = private.createAs(rawBare)
	expect(t, "loopback refused by the store", private.patch(id, addLoc(web.URL+"/a", "")), 400, "Invalid location")

	// The operator names the loopback server in allowed_hosts and its port
	// in allowed_ports (as Tempest's setup does): the location is added
	// and read although private targets are otherwise refused.
	u, _ := url.Parse(web.URL)
	port, _ := strconv.Atoi(u.Port())
	named := newLocEnv(t, locOpts{private: true, allowed: &urlfilter.Options{AllowedHosts: []string{"127.0.0.1"}, AllowedPorts: []int{port}}})
	id = named.createAs(rawBare)
	expect(t, "allow-listed loopback", named.patch(id, addLoc(web.URL+"/a", "")), 200, "")
	if got := named.showAs(id)["status"]; got != "active" {
		t.Errorf("status %v after adding an allow-listed location, want active", got)
	}
	if r := named.do("GET", "/v2/images/"+id+"/file", nil, "X-Roles", "member", "X-Project-Id", "p1"); r.status != 200 {
		t.Errorf("download from an allow-listed location: %d %s", r.status, r.body)
	}
	other := newLocEnv(t, locOpts{private: true, allowed: &urlfilter.Options{AllowedHosts: []string{"127.0.0.2"}, AllowedPorts: []int{port}}})
	id = other.createAs(rawBare)
	expect(t, "loopback not named", other.patch(id, addLoc(web.URL+"/a", "")), 400, "Invalid location")
}

// TestLocationsQuota: every location of an image counts its size against
// user_storage_quota; removing an uploaded copy deletes its data.
func TestLocationsQuota(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		web, _ := webImages(t)
		e := newLocEnv(t, locOpts{dbURL: dbURL, adjust: func(o *image.Options) { o.StorageQuota = 2500 }})
		id := e.createAs(rawBare)
		expect(t, "first", e.patch(id, addLoc(web.URL+"/a", "")), 200, "")
		expect(t, "second", e.patch(id, addLoc(web.URL+"/a?2", "")), 200, "")
		expect(t, "third", e.patch(id, addLoc(web.URL+"/a?3", "")), 413,
			"Denying attempt to upload image because it exceeds the quota: The size of the data 1000 will exceed the limit. 500 bytes remaining.")

		up := e.createAs(rawBare)
		if r := e.do("PUT", "/v2/images/"+up+"/file", bytes.NewReader(make([]byte, 100)), "Content-Type", "application/octet-stream",
			"X-Roles", "member", "X-Project-Id", "p1"); r.status != 204 {
			t.Fatalf("upload: %d %s", r.status, r.body)
		}
		expect(t, "add a web copy", e.patch(up, addLoc(web.URL+"/b", "")), 200, "")
		if n := len(e.storeFiles()); n != 1 {
			t.Fatalf("%d files in the store, want 1", n)
		}
		expect(t, "remove the uploaded copy", e.patch(up, `[{"op":"remove","path":"/locations/0"}]`, "admin", "p1"), 200, "")
		if n := len(e.storeFiles()); n != 0 {
			t.Fatalf("%d files in the store after removing the location, want 0", n)
		}
	})
}

// TestLocationsSharedData: data that two images share as a location (a
// database written by Glance, or a copy made by an admin) outlives the
// removal of one image's location and the deletion of that image.
func TestLocationsSharedData(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		web, _ := webImages(t)
		e := newLocEnv(t, locOpts{dbURL: dbURL})
		ctx := context.Background()
		a := e.createAs(rawBare)
		if r := e.do("PUT", "/v2/images/"+a+"/file", bytes.NewReader(make([]byte, 100)), "Content-Type", "application/octet-stream",
			"X-Roles", "member", "X-Project-Id", "p1"); r.status != 204 {
			t.Fatalf("upload: %d %s", r.status, r.body)
		}
		imgA, err := e.db.Images().Get(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		// b has a's file as its first location and a web copy.
		b := e.createAs(rawBare)
		imgB, err := e.db.Images().Get(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		imgB.Status, imgB.Size = image.Active, imgA.Size
		imgB.Locations = []image.Location{{URL: imgA.Locations[0].URL, Metadata: map[string]any{}}}
		if err := e.db.Images().Update(ctx, imgB, image.Queued); err != nil {
			t.Fatal(err)
		}
		expect(t, "add a web copy", e.patch(b, addLoc(web.URL+"/b", "")), 200, "")
		expect(t, "remove the shared location", e.patch(b, `[{"op":"remove","path":"/locations/0"}]`, "admin", "p1"), 200, "")
		if n := len(e.storeFiles()); n != 1 {
			t.Fatalf("%d files in the store, want a's still there", n)
		}
		// Deleting b (now on the web only) leaves the web server alone;
		// deleting a removes its file.
		expect(t, "delete b", e.do("DELETE", "/v2/images/"+b, nil, "X-Roles", "member", "X-Project-Id", "p1"), 204, "")
		expect(t, "delete a", e.do("DELETE", "/v2/images/"+a, nil, "X-Roles", "member", "X-Project-Id", "p1"), 204, "")
		if n := len(e.storeFiles()); n != 0 {
			t.Fatalf("%d files in the store, want 0", n)
		}
	})
}

// TestLocationsScrubbed: with delayed_delete, the scrubber finishes an
// image whose location is on the web without trying to delete it there.
func TestLocationsScrubbed(t *testing.T) {
	web, _ := webImages(t)
	e := newLocEnv(t, locOpts{adjust: func(o *image.Options) { o.DelayedDelete = true }})
	id := e.createAs(rawBare)
	expect(t, "add", e.patch(id, addLoc(web.URL+"/a", "")), 200, "")
	expect(t, "delete", e.do("DELETE", "/v2/images/"+id, nil, "X-Roles", "member", "X-Project-Id", "p1"), 204, "")
	rep, err := e.svc.Scrub(context.Background(), 0, 0)
	if err != nil || rep.Scrubbed != 1 || rep.Failed != 0 {
		t.Fatalf("scrub: %+v %v, want 1 scrubbed", rep, err)
	}
}

// TestLocationCredentialsHidden: a location whose URL carries credentials
// (as S3 and single-tenant Swift locations do) is shown without them, in
// locations and direct_url; the list as shown can be sent back in a
// replace, and the stored URL, credentials included, is kept.
func TestLocationCredentialsHidden(t *testing.T) {
	srv, _ := webImages(t)
	e := newLocEnv(t, locOpts{directURL: true})
	withCreds := strings.Replace(srv.URL, "http://", "http://glance:s3cr3t-pw@", 1) + "/a"
	id := e.createAs(`{"disk_format":"raw","container_format":"bare"}`)
	expect(t, "add", e.patch(id, addLoc(withCreds, "")), 200, "")
	img := e.showAs(id)
	if urls := locURLs(img); len(urls) != 1 || strings.Contains(urls[0], "s3cr3t") || !strings.Contains(urls[0], "***@") {
		t.Fatalf("locations shown: %v", urls)
	}
	if d, _ := img["direct_url"].(string); strings.Contains(d, "s3cr3t") {
		t.Errorf("direct_url shown: %s", d)
	}
	shown := locURLs(img)[0]
	other := srv.URL + "/a"
	expect(t, "add another", e.patch(id, addLoc(other, "")), 200, "")
	// Glance lets a replace reorder the locations it has: send the shown
	// list back in the other order.
	body := fmt.Sprintf(`[{"op":"replace","path":"/locations","value":[{"url":%q,"metadata":{}},{"url":%q,"metadata":{}}]}]`, other, shown)
	expect(t, "replace with the shown list", e.patch(id, body), 200, "")
	stored, err := e.db.Images().Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, l := range stored.ActiveLocations() {
		urls = append(urls, l.URL)
	}
	want := []string{other, withCreds}
	slices.Sort(urls)
	slices.Sort(want)
	if !slices.Equal(urls, want) {
		t.Errorf("stored locations after the replace: %v", urls)
	}
	if r := e.do("GET", "/v2/images/"+id+"/file", nil, "X-Roles", "member", "X-Project-Id", "p1"); r.status != 200 || len(r.body) != 1000 {
		t.Errorf("download through the stored location: %d, %d bytes", r.status, len(r.body))
	}
}
