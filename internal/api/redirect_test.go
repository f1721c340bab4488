package api_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"glint/internal/config"
	"glint/internal/image"
	"glint/internal/store"
	"glint/internal/store/httpstore"
	"glint/internal/urlfilter"
	"glint/internal/urlfilter/urlfiltertest"
)

// newRedirectEnv is a node whose location filter and http store use one
// filter, as cmd/glint builds them from [import_filtering_opts] and
// http_store_allow_private_targets.
func newRedirectEnv(t *testing.T, f urlfilter.Options) *env {
	t.Helper()
	hs, err := httpstore.New(httpstore.Options{Filter: f})
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, opts{authn: roleAuth{}, stores: []store.Driver{hs},
		cfg: func(c *config.Config) { c.ShowMultipleLocations, c.ImageLocationQuota = true, 3 },
		svc: func(so *image.Options) { so.LocationFilter = f }})
}

// TestLocationRedirects: an http location whose redirect leads where the
// operator forbade is refused when added (Glance's 400 "Invalid
// location"), and its image stays queued; an allowed redirect works.
func TestLocationRedirects(t *testing.T) {
	w := urlfiltertest.New(t)
	e := newRedirectEnv(t, w.Filter)
	const storeMaxRedirects = 5
	for _, c := range w.Cases(t, storeMaxRedirects) {
		t.Run(c.Name, func(t *testing.T) {
			id := e.createAs(rawBare)
			r := e.patch(id, addLoc(c.URL, ""), "member", "p1")
			if c.Refused {
				expect(t, "add", r, 400, "Invalid location")
				if img := e.showAs(id); img["status"] != "queued" || len(locURLs(img)) != 0 {
					t.Errorf("image after a refused location: %v", img)
				}
				return
			}
			expect(t, "add", r, 200, "")
			if img := e.showAs(id); img["status"] != "active" || img["size"] != float64(len(urlfiltertest.DataBody)) {
				t.Errorf("image: %v", img)
			}
			got := e.do("GET", "/v2/images/"+id+"/file", nil, "X-Roles", "member", "X-Project-Id", "p1")
			if got.status != 200 || !bytes.Equal(got.body, urlfiltertest.DataBody) {
				t.Errorf("download: %d, %d bytes", got.status, len(got.body))
			}
		})
	}
	// Refused in Glance's error shape, in the format asked for.
	id := e.createAs(rawBare)
	r := e.do("PATCH", "/v2/images/"+id, strings.NewReader(addLoc(w.To(w.Secret.URL+"/img"), "")),
		"Content-Type", "application/openstack-images-v2.1-json-patch", "Accept", "application/json", "X-Roles", "member", "X-Project-Id", "p1")
	if m := r.json(t); r.status != 400 || m["code"] != "400 Bad Request" || m["title"] != "Bad Request" ||
		!strings.Contains(m["message"].(string), "Invalid location") {
		t.Errorf("JSON error: %d %s", r.status, r.body)
	}
	if n := w.SecretHits.Load(); n != 0 {
		t.Errorf("the forbidden server was asked %d times", n)
	}
}

// TestLocationRedirectChanged: a location that redirected somewhere
// allowed when added and to a forbidden port later is not read from: the
// download fails and serves nothing of the forbidden service.
func TestLocationRedirectChanged(t *testing.T) {
	w := urlfiltertest.New(t)
	var target atomic.Value
	target.Store(w.Data.URL + "/img")
	moving := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		http.Redirect(rw, r, target.Load().(string), http.StatusFound)
	}))
	t.Cleanup(moving.Close)
	f := w.Filter
	f.AllowedPorts = append(f.AllowedPorts[:len(f.AllowedPorts):len(f.AllowedPorts)], urlfiltertest.Port(t, moving))
	e := newRedirectEnv(t, f)
	id := e.createAs(rawBare)
	expect(t, "add", e.patch(id, addLoc(moving.URL+"/img", "")), 200, "")
	if img := e.showAs(id); img["status"] != "active" {
		t.Fatalf("image: %v", img)
	}
	target.Store(w.Secret.URL + "/img")
	for _, rng := range []string{"", "bytes=0-3"} {
		got := e.do("GET", "/v2/images/"+id+"/file", nil, "X-Roles", "member", "X-Project-Id", "p1", "Range", rng)
		if got.status < 400 || bytes.Contains(got.body, urlfiltertest.SecretBody[:4]) {
			t.Errorf("download (Range %q) after the redirect moved: %d %q", rng, got.status, got.body)
		}
	}
	if n := w.SecretHits.Load(); n != 0 {
		t.Errorf("the forbidden server was asked %d times", n)
	}
}

// TestWebDownloadRedirects: web-download and the legacy import task
// follow the same guard; a refused redirect fails the task and stores
// nothing.
func TestWebDownloadRedirects(t *testing.T) {
	w := urlfiltertest.New(t)
	f := w.Filter
	e := newImportEnv(t, importOpts{filter: &f})
	const webDownloadMaxRedirects = 10
	for _, c := range w.Cases(t, webDownloadMaxRedirects) {
		t.Run(c.Name, func(t *testing.T) {
			id := e.create(rawBare)
			wantStatus(t, "import", e.importReq(id, `{"method":{"name":"web-download","uri":"`+c.URL+`"}}`), 202, "")
			e.im.Wait()
			img, tk := e.show(id), e.tasks(id)[0]
			if c.Refused {
				if img["status"] != "queued" || tk["status"] != "failure" || !strings.Contains(tk["message"].(string), "redirect") {
					t.Errorf("image %v, task %v", img["status"], tk)
				}
				if got := e.do("GET", "/v2/images/"+id+"/file", nil); got.status == 200 {
					t.Errorf("download of the failed import: %d %q", got.status, got.body)
				}
				return
			}
			if img["status"] != "active" || tk["status"] != "success" {
				t.Fatalf("image %v, task %v", img, tk)
			}
			if got := e.do("GET", "/v2/images/"+id+"/file", nil); got.status != 200 || !bytes.Equal(got.body, urlfiltertest.DataBody) {
				t.Errorf("download: %d, %d bytes", got.status, len(got.body))
			}
		})
	}
	if n := w.SecretHits.Load(); n != 0 {
		t.Errorf("the forbidden server was asked %d times", n)
	}
}
