package api_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"glint/internal/app"
	"glint/internal/app/apptest"
	"glint/internal/auth"
	"glint/internal/config"
	"glint/internal/errs"
	"glint/internal/image"
	"glint/internal/store"
	"glint/internal/store/httpstore"
	"glint/internal/store/s3"
	"glint/internal/store/storetest/testserver"
	"glint/internal/urlfilter"
)

// tokenAuth is a test Authenticator with fixed tokens, as Keystone's
// would be: "admin" (project p-admin), "p1" and "p2" (members of those
// projects); no token or another one is a 401.
type tokenAuth struct{}

func (tokenAuth) Authenticate(ctx context.Context, r *http.Request) (*auth.Context, error) {
	switch tok := r.Header.Get("X-Auth-Token"); tok {
	case "admin":
		return &auth.Context{ProjectID: "p-admin", UserID: "u-admin", Roles: []string{"admin", "member", "reader"}, IsAdmin: true}, nil
	case "p1", "p2":
		return &auth.Context{ProjectID: tok, UserID: "u-" + tok, Roles: []string{"member", "reader"}}, nil
	}
	return nil, errs.E(errs.Op("test.auth"), errs.Unauthorized, "The request you have made requires authentication.")
}

func (tokenAuth) Challenge() string { return "" }

// fileAs downloads image id with the token tok and the headers hdr.
func (e *env) fileAs(id, tok string, hdr ...string) resp {
	e.t.Helper()
	if tok != "" {
		hdr = append(hdr, "X-Auth-Token", tok)
	}
	return e.do("GET", "/v2/images/"+id+"/file", nil, hdr...)
}

// TestDownloadConditional: the validators of a download and every
// conditional request against them, in noauth mode (where every image
// is anyone's to read, so public to caches).
func TestDownloadConditional(t *testing.T) { eachDB(t, testDownloadConditional) }

func testDownloadConditional(t *testing.T, dbURL string) {
	e := newEnv(t, opts{dbURL: dbURL})
	data := bytes.Repeat([]byte("0123456789"), 1000)
	id := e.create(rawBare)

	r := e.do("GET", "/v2/images/"+id+"/file", nil, "If-None-Match", "*")
	if r.status != 204 || r.header.Get("Cache-Control") != "no-store" || r.header.Get("ETag") != "" {
		t.Fatalf("queued image: %d, Cache-Control %q, ETag %q; want 204, no-store, no ETag",
			r.status, r.header.Get("Cache-Control"), r.header.Get("ETag"))
	}
	if r := e.do("PUT", "/v2/images/"+id+"/file", bytes.NewReader(data), "Content-Type", "application/octet-stream"); r.status != 204 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	sum := sha512.Sum512(data)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	img := e.show(id)
	updated, err := time.Parse(time.RFC3339, img["updated_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	lastMod := updated.UTC().Format(http.TimeFormat)

	r = e.do("GET", "/v2/images/"+id+"/file", nil)
	if r.status != 200 || !bytes.Equal(r.body, data) {
		t.Fatalf("download: %d, %d bytes", r.status, len(r.body))
	}
	for k, want := range map[string]string{"ETag": etag, "Last-Modified": lastMod, "Cache-Control": "public, no-cache", "Vary": ""} {
		if got := r.header.Get(k); got != want {
			t.Errorf("download: %s %q, want %q", k, got, want)
		}
	}

	before := updated.Add(-time.Hour).UTC().Format(http.TimeFormat)
	after := updated.Add(time.Hour).UTC().Format(http.TimeFormat)
	cases := []struct {
		name   string
		hdr    []string
		status int
		from   int // the bytes of a 200 or 206: data[from:to]
		to     int
	}{
		{"If-None-Match same", []string{"If-None-Match", etag}, 304, 0, 0},
		{"If-None-Match weak same", []string{"If-None-Match", "W/" + etag}, 304, 0, 0},
		{"If-None-Match in a list", []string{"If-None-Match", `"a", ` + etag}, 304, 0, 0},
		{"If-None-Match star", []string{"If-None-Match", "*"}, 304, 0, 0},
		{"If-None-Match other", []string{"If-None-Match", `"a"`}, 200, 0, len(data)},
		{"If-None-Match malformed", []string{"If-None-Match", etag[1:]}, 200, 0, len(data)},
		{"If-None-Match with Range", []string{"If-None-Match", etag, "Range", "bytes=0-9"}, 304, 0, 0},
		{"If-Modified-Since = Last-Modified", []string{"If-Modified-Since", lastMod}, 304, 0, 0},
		{"If-Modified-Since later", []string{"If-Modified-Since", after}, 304, 0, 0},
		{"If-Modified-Since earlier", []string{"If-Modified-Since", before}, 200, 0, len(data)},
		{"If-Modified-Since bad date", []string{"If-Modified-Since", "yesterday"}, 200, 0, len(data)},
		// If-None-Match decides alone when both are sent.
		{"If-None-Match other, If-Modified-Since later", []string{"If-None-Match", `"a"`, "If-Modified-Since", after}, 200, 0, len(data)},
		{"If-Match same", []string{"If-Match", etag}, 200, 0, len(data)},
		{"If-Match star", []string{"If-Match", "*"}, 200, 0, len(data)},
		{"If-Match other", []string{"If-Match", `"a"`}, 412, 0, 0},
		{"If-Match weak", []string{"If-Match", "W/" + etag}, 412, 0, 0},
		{"If-Unmodified-Since earlier", []string{"If-Unmodified-Since", before}, 412, 0, 0},
		{"If-Unmodified-Since later", []string{"If-Unmodified-Since", after}, 200, 0, len(data)},
		{"If-Range etag", []string{"Range", "bytes=10-19", "If-Range", etag}, 206, 10, 20},
		{"If-Range date", []string{"Range", "bytes=10-19", "If-Range", lastMod}, 206, 10, 20},
		{"If-Range other etag", []string{"Range", "bytes=10-19", "If-Range", `"a"`}, 200, 0, len(data)},
		{"If-Range weak etag", []string{"Range", "bytes=10-19", "If-Range", "W/" + etag}, 200, 0, len(data)},
		{"If-Range other date", []string{"Range", "bytes=10-19", "If-Range", before}, 200, 0, len(data)},
		{"If-Range garbage", []string{"Range", "bytes=10-19", "If-Range", "x"}, 200, 0, len(data)},
		// A range that does not hold is not even parsed.
		{"If-Range other, bad range", []string{"Range", "bytes=9-3", "If-Range", `"a"`}, 200, 0, len(data)},
		{"If-Range same, bad range", []string{"Range", "bytes=9-3", "If-Range", etag}, 416, 0, 0},
		{"If-Range on the legacy Content-Range", []string{"Content-Range", "bytes 1-2/*", "If-Range", `"a"`}, 200, 0, len(data)},
		{"If-Range alone", []string{"If-Range", `"a"`}, 200, 0, len(data)},
	}
	for _, c := range cases {
		r := e.do("GET", "/v2/images/"+id+"/file", nil, c.hdr...)
		if r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.status)
			continue
		}
		h := r.header
		switch c.status {
		case 200, 206:
			if !bytes.Equal(r.body, data[c.from:c.to]) {
				t.Errorf("%s: %d bytes, want data[%d:%d]", c.name, len(r.body), c.from, c.to)
			}
			if h.Get("ETag") != etag || h.Get("Cache-Control") != "public, no-cache" || h.Get("Last-Modified") != lastMod {
				t.Errorf("%s: ETag %q, Cache-Control %q, Last-Modified %q", c.name, h.Get("ETag"), h.Get("Cache-Control"), h.Get("Last-Modified"))
			}
			if c.status == 206 && h.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", c.from, c.to-1, len(data)) {
				t.Errorf("%s: Content-Range %q", c.name, h.Get("Content-Range"))
			}
		case 304:
			// RFC 9110 §15.4.5: the headers a 200 would carry for caches, no body.
			if len(r.body) != 0 || h.Get("ETag") != etag || h.Get("Cache-Control") != "public, no-cache" ||
				h.Get("Content-Type") != "" || h.Get("Content-MD5") != "" {
				t.Errorf("%s: 304 with %d bytes, headers %v", c.name, len(r.body), h)
			}
		default:
			if h.Get("Cache-Control") != "no-store" || h.Get("ETag") != "" {
				t.Errorf("%s: %d with Cache-Control %q, ETag %q; want no-store and no ETag", c.name, r.status, h.Get("Cache-Control"), h.Get("ETag"))
			}
		}
	}

	// A revalidation does not read the store: with the data gone, a
	// download fails but a 304 is still given.
	files, _ := filepath.Glob(filepath.Join(e.images, "*"))
	for _, f := range files {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if r := e.do("GET", "/v2/images/"+id+"/file", nil, "If-None-Match", etag); r.status != 304 {
		t.Errorf("revalidation with the data gone: %d %s, want 304", r.status, r.body)
	}
	r = e.do("GET", "/v2/images/"+id+"/file", nil)
	if r.status < 400 || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("download with the data gone: %d, Cache-Control %q; want an error with no-store", r.status, r.header.Get("Cache-Control"))
	}

	// A metadata change moves Last-Modified: a date-only revalidation
	// downloads again, the ETag still matches.
	time.Sleep(1100 * time.Millisecond) // updated_at has to move by a second to show in an HTTP date
	if r := e.do("PATCH", "/v2/images/"+id, strings.NewReader(`[{"op":"replace","path":"/name","value":"y"}]`),
		"Content-Type", "application/openstack-images-v2.1-json-patch"); r.status != 200 {
		t.Fatalf("rename: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/v2/images/"+id+"/file", nil, "If-Modified-Since", lastMod)
	if r.status == 304 {
		t.Errorf("If-Modified-Since the old Last-Modified after a rename: 304")
	}
	if r := e.do("GET", "/v2/images/"+id+"/file", nil, "If-None-Match", etag); r.status != 304 {
		t.Errorf("If-None-Match after a rename: %d, want 304", r.status)
	}
}

// TestDownloadCacheAccess: what caches are told to keep, by visibility,
// and a revalidation passes the access checks a download does.
func TestDownloadCacheAccess(t *testing.T) {
	e := newEnv(t, opts{authn: tokenAuth{}})
	data := []byte(strings.Repeat("glint", 200))
	r := e.do("POST", "/v2/images", strings.NewReader(rawBare), "X-Auth-Token", "p1")
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	if r := e.do("PUT", "/v2/images/"+id+"/file", bytes.NewReader(data), "Content-Type", "application/octet-stream",
		"X-Auth-Token", "p1"); r.status != 204 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	sum := sha512.Sum512(data)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	inm := []string{"If-None-Match", etag}
	patch := func(tok, body string) {
		t.Helper()
		if r := e.do("PATCH", "/v2/images/"+id, strings.NewReader(body), "Content-Type", "application/openstack-images-v2.1-json-patch",
			"X-Auth-Token", tok); r.status != 200 {
			t.Fatalf("patch %s: %d %s", body, r.status, r.body)
		}
	}
	visibility := func(v string) { patch("admin", `[{"op":"replace","path":"/visibility","value":"`+v+`"}]`) }
	action := func(a string) {
		t.Helper()
		if r := e.do("POST", "/v2/images/"+id+"/actions/"+a, nil, "X-Auth-Token", "admin"); r.status != 204 {
			t.Fatalf("%s: %d %s", a, r.status, r.body)
		}
	}
	// want checks one answer: its status and what caches are told.
	want := func(what string, r resp, status int, cc, vary string) {
		t.Helper()
		if r.status != status || r.header.Get("Cache-Control") != cc || r.header.Get("Vary") != vary {
			t.Errorf("%s: %d, Cache-Control %q, Vary %q; want %d, %q, %q", what, r.status,
				r.header.Get("Cache-Control"), r.header.Get("Vary"), status, cc, vary)
		}
		if etagWanted := status == 200 || status == 304; (r.header.Get("ETag") == etag) != etagWanted {
			t.Errorf("%s: ETag %q", what, r.header.Get("ETag"))
		}
	}
	const private, public = "private, no-cache", "public, no-cache"

	// private: the owner's, never a shared cache's; nobody else learns it exists.
	want("private, owner", e.fileAs(id, "p1"), 200, private, "X-Auth-Token")
	want("private, owner revalidates", e.fileAs(id, "p1", inm...), 304, private, "X-Auth-Token")
	want("private, admin revalidates", e.fileAs(id, "admin", inm...), 304, private, "X-Auth-Token")
	want("private, other project revalidates", e.fileAs(id, "p2", inm...), 404, "no-store", "")
	// (A 401 is answered before routing, without Cache-Control: no cache
	// keeps a 401 that does not say it may, RFC 9110 §15.5.2.)
	want("private, no token", e.fileAs(id, "", inm...), 401, "", "")
	want("private, bad token", e.fileAs(id, "x", inm...), 401, "", "")

	visibility("shared")
	want("shared, owner", e.fileAs(id, "p1"), 200, private, "X-Auth-Token")
	want("shared, not a member", e.fileAs(id, "p2", inm...), 404, "no-store", "")
	if r := e.do("POST", "/v2/images/"+id+"/members", strings.NewReader(`{"member":"p2"}`), "X-Auth-Token", "p1"); r.status != 200 {
		t.Fatalf("add member: %d %s", r.status, r.body)
	}
	want("shared, member revalidates", e.fileAs(id, "p2", inm...), 304, private, "X-Auth-Token")

	for _, v := range []string{"public", "community"} {
		visibility(v)
		want(v+", other project", e.fileAs(id, "p2"), 200, public, "")
		want(v+", other project revalidates", e.fileAs(id, "p2", inm...), 304, public, "")
		want(v+", no token", e.fileAs(id, "", inm...), 401, "", "")
	}

	// Deactivated: a revalidation is refused to all but admins, and
	// served again once the image is reactivated.
	action("deactivate")
	want("deactivated, owner revalidates", e.fileAs(id, "p1", inm...), 403, "no-store", "")
	want("deactivated, other project revalidates", e.fileAs(id, "p2", inm...), 403, "no-store", "")
	want("deactivated, admin revalidates", e.fileAs(id, "admin", inm...), 304, public, "")
	action("reactivate")
	want("reactivated, other project revalidates", e.fileAs(id, "p2", inm...), 304, public, "")

	// Made private again: a cache revalidating for another project gets
	// the 404 a download would.
	visibility("private")
	want("private again, other project revalidates", e.fileAs(id, "p2", inm...), 404, "no-store", "")

	if r := e.do("DELETE", "/v2/images/"+id, nil, "X-Auth-Token", "p1"); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	want("deleted, owner revalidates", e.fileAs(id, "p1", inm...), 404, "no-store", "")
}

// TestDownloadCacheRemote: data in a remote store (the HTTP store): an
// image whose data no hash pins (a location added without validation
// data) gets no validators and is never stored; with validation data it
// is as any other; several locations change nothing.
func TestDownloadCacheRemote(t *testing.T) {
	web, files := webImages(t)
	hs, err := httpstore.New(httpstore.Options{Filter: urlfilter.Options{AllowPrivate: true}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, opts{authn: roleAuth{}, stores: []store.Driver{hs},
		cfg: func(c *config.Config) { c.ShowMultipleLocations = true },
		svc: func(so *image.Options) { so.LocationFilter = urlfilter.Options{AllowPrivate: true} }})
	as := []string{"X-Roles", "member", "X-Project-Id", "p1"}

	bare := e.createAs(rawBare)
	expect(t, "add a location", e.patch(bare, addLoc(web.URL+"/a", "")), 200, "")
	r := e.do("GET", "/v2/images/"+bare+"/file", nil, as...)
	if r.status != 200 || !bytes.Equal(r.body, files["/a"]) {
		t.Fatalf("download from the location: %d, %d bytes", r.status, len(r.body))
	}
	if h := r.header; h.Get("Cache-Control") != "no-store" || h.Get("ETag") != "" || h.Get("Last-Modified") != "" {
		t.Errorf("no hash: Cache-Control %q, ETag %q, Last-Modified %q; want no-store and no validators",
			h.Get("Cache-Control"), h.Get("ETag"), h.Get("Last-Modified"))
	}
	if r := e.do("GET", "/v2/images/"+bare+"/file", nil, append(as, "If-Modified-Since", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))...); r.status != 200 {
		t.Errorf("no hash, If-Modified-Since: %d, want 200", r.status)
	}
	if r := e.do("GET", "/v2/images/"+bare+"/file", nil, append(as, "Range", "bytes=0-9", "If-Range", `"x"`)...); r.status != 200 {
		t.Errorf("no hash, If-Range: %d, want 200", r.status)
	}

	md, sh := md5.Sum(files["/a"]), sha512.Sum512(files["/a"])
	hash := hex.EncodeToString(sh[:])
	pinned := e.createAs(rawBare)
	expect(t, "add a pinned location", e.patch(pinned, fmt.Sprintf(`[{"op":"add","path":"/locations/-","value":{"url":%q,"metadata":{},"validation_data":{"checksum":%q,"os_hash_algo":"sha512","os_hash_value":%q}}}]`,
		web.URL+"/a", hex.EncodeToString(md[:]), hash)), 200, "")
	expect(t, "add a second location", e.patch(pinned, addLoc(web.URL+"/a?copy", "")), 200, "")
	r = e.do("GET", "/v2/images/"+pinned+"/file", nil, as...)
	if r.status != 200 || r.header.Get("ETag") != `"`+hash+`"` || r.header.Get("Cache-Control") != "private, no-cache" {
		t.Errorf("pinned: %d, ETag %q, Cache-Control %q", r.status, r.header.Get("ETag"), r.header.Get("Cache-Control"))
	}
	if r := e.do("GET", "/v2/images/"+pinned+"/file", nil, append(as, "If-None-Match", `"`+hash+`"`)...); r.status != 304 {
		t.Errorf("pinned, revalidation: %d, want 304", r.status)
	}
	// The web server going away changes no answer to a revalidation.
	web.Close()
	if r := e.do("GET", "/v2/images/"+pinned+"/file", nil, append(as, "If-None-Match", `"`+hash+`"`)...); r.status != 304 {
		t.Errorf("pinned, revalidation with the store down: %d, want 304", r.status)
	}
	if r := e.do("GET", "/v2/images/"+pinned+"/file", nil, as...); r.status < 500 || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("pinned, download with the store down: %d, Cache-Control %q", r.status, r.header.Get("Cache-Control"))
	}
}

// TestDownloadCacheS3: the same answers with the data in S3 (versitygw):
// If-Range over a ranged read of the remote store, and a revalidation
// that never asks S3, even with the object gone.
func TestDownloadCacheS3(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts an S3 server")
	}
	srv := testserver.StartS3(t)
	obj, err := s3.New(s3.Options{Host: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.Secret, Bucket: "glance", CreateBucket: true})
	if err == nil {
		err = obj.Check(context.Background()) // creates the bucket, as at start
	}
	if err != nil {
		t.Fatal(err)
	}
	g := apptest.New(t, func(c *config.Config) { c.Stores, c.DefaultStore = []string{"file", "s3"}, "s3" },
		app.WithStore(&store.Store{Name: "s3", Type: "s3", Driver: obj}))
	e := &env{t: t, url: g.URL, srv: g.Server}
	data := bytes.Repeat([]byte("s3 cache "), 300000)
	id := e.create(rawBare)
	if r := e.do("PUT", "/v2/images/"+id+"/file", bytes.NewReader(data), "Content-Type", "application/octet-stream"); r.status != 204 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	if loc := e.show(id)["stores"]; loc != nil && loc != "s3" {
		t.Fatalf("stored in %v, want s3", loc)
	}
	sum := sha512.Sum512(data)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	r := e.do("GET", "/v2/images/"+id+"/file", nil)
	if r.status != 200 || !bytes.Equal(r.body, data) || r.header.Get("ETag") != etag || r.header.Get("Cache-Control") != "public, no-cache" {
		t.Fatalf("download: %d, %d bytes, ETag %q, Cache-Control %q", r.status, len(r.body), r.header.Get("ETag"), r.header.Get("Cache-Control"))
	}
	r = e.do("GET", "/v2/images/"+id+"/file", nil, "Range", "bytes=1000000-1000099", "If-Range", etag)
	if r.status != 206 || !bytes.Equal(r.body, data[1000000:1000100]) {
		t.Errorf("If-Range same: %d, %d bytes; want 206 and the range", r.status, len(r.body))
	}
	r = e.do("GET", "/v2/images/"+id+"/file", nil, "Range", "bytes=1000000-1000099", "If-Range", `"other"`)
	if r.status != 200 || !bytes.Equal(r.body, data) {
		t.Errorf("If-Range other: %d, %d bytes; want 200 and the whole image", r.status, len(r.body))
	}

	// Take the object away behind Glint's back (versitygw's posix
	// backend keeps it as a file under the bucket's directory).
	objs, _ := filepath.Glob(filepath.Join(srv.Dir, "glance", "*"))
	if len(objs) == 0 {
		t.Fatalf("no object under %s", filepath.Join(srv.Dir, "glance"))
	}
	for _, f := range objs {
		os.RemoveAll(f)
	}
	if r := e.do("GET", "/v2/images/"+id+"/file", nil, "If-None-Match", etag); r.status != 304 {
		t.Errorf("revalidation with the object gone: %d %s, want 304", r.status, r.body)
	}
	if r := e.do("GET", "/v2/images/"+id+"/file", nil); r.status < 400 || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("download with the object gone: %d, Cache-Control %q; want an error with no-store", r.status, r.header.Get("Cache-Control"))
	}
}
