package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"glint/internal/auth"
	"glint/internal/urlfilter"
)

// tokenLog is a proxy in front of a remote Image API that records the
// X-Auth-Token of every request it forwards.
type tokenLog struct {
	mu     sync.Mutex
	tokens map[string]string // path -> token
}

func (l *tokenLog) proxy(t *testing.T, target string) *httptest.Server {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.tokens[r.URL.Path] = r.Header.Get("X-Auth-Token")
		l.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func port(t *testing.T, raw string) int {
	u, _ := url.Parse(raw)
	_, p, _ := net.SplitHostPort(u.Host)
	var n int
	fmt.Sscan(p, &n)
	return n
}

// TestGlanceDownload copies an image from one Glint (the remote region,
// found in the caller's catalog) into another: formats and the
// extra_properties copied, data and hashes equal, the caller's token sent;
// and each way the task fails leaves the image queued with its metadata.
func TestGlanceDownload(t *testing.T) {
	remote := newImportEnv(t, importOpts{})
	badHash := uuid.NewString()
	log := &tokenLog{tokens: map[string]string{}}
	front := log.proxy(t, remote.url)

	// A remote that lies about the size (or, for badHash, the hash) of its image: the metadata is
	// applied, then the download fails and must be undone.
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/file") {
			w.Write([]byte("short"))
			return
		}
		size, hash := 100, "0"
		if strings.Contains(r.URL.Path, badHash) {
			size = 5
		}
		json.NewEncoder(w).Encode(map[string]any{"status": "active", "size": size, "disk_format": "qcow2",
			"container_format": "bare", "hw_disk_bus": "scsi", "os_hash_algo": "sha512", "os_hash_value": hash})
	}))
	t.Cleanup(liar.Close)
	blocked := httptest.NewServer(http.NotFoundHandler()) // its port is not allowed
	t.Cleanup(blocked.Close)

	var catalogTokens []string
	var mu sync.Mutex
	catalog := func(ctx context.Context, token string) ([]auth.Endpoint, error) {
		mu.Lock()
		catalogTokens = append(catalogTokens, token)
		mu.Unlock()
		return []auth.Endpoint{
			{ServiceType: "identity", Region: "RegionTwo", Interface: "public", URL: "http://127.0.0.1:1/"},
			{ServiceType: "image", Region: "RegionTwo", Interface: "internal", URL: "http://127.0.0.1:1/"},
			{ServiceType: "image", Region: "RegionTwo", Interface: "public", URL: front.URL + "/"},
			{ServiceType: "image", Region: "Liar", Interface: "public", URL: liar.URL},
			{ServiceType: "image", Region: "Blocked", Interface: "public", URL: blocked.URL},
		}, nil
	}
	local := newImportEnv(t, importOpts{methods: []string{"glance-direct", "glance-download"}, catalog: catalog,
		filter: &urlfilter.Options{AllowedSchemes: []string{"http"}, AllowedHosts: []string{"127.0.0.1"},
			AllowedPorts: []int{port(t, front.URL), port(t, liar.URL)}}})

	if r := local.do("GET", "/v2/info/import", nil); !strings.Contains(string(r.body), "glance-download") {
		t.Errorf("/v2/info/import: %s, want glance-download listed", r.body)
	}

	// The source: active on the remote, with properties of which the
	// default extra_properties copy all but speed.
	data := bytes.Repeat([]byte("remote region "), 5000)
	src := remote.create(rawBare)
	wantStatus(t, "upload to the remote", remote.do("PUT", "/v2/images/"+src+"/file", bytes.NewReader(data),
		"Content-Type", "application/octet-stream"), 204, "")
	wantStatus(t, "properties on the remote", remote.do("PATCH", "/v2/images/"+src, strings.NewReader(
		`[{"op":"add","path":"/hw_cpu_cores","value":"5"},{"op":"add","path":"/trait:STORAGE_DISK_SSD","value":"required"},`+
			`{"op":"add","path":"/os_distro","value":"rhel"},{"op":"add","path":"/speed","value":"88mph"}]`),
		"Content-Type", "application/openstack-images-v2.1-json-patch"), 200, "")
	srcImg := remote.show(src)

	target := func() string {
		id := local.create(`{"name":"dst","disk_format":"iso","container_format":"ovf"}`)
		wantStatus(t, "properties on the target", local.do("PATCH", "/v2/images/"+id, strings.NewReader(
			`[{"op":"add","path":"/hw_cpu_cores","value":"1"},{"op":"add","path":"/os_distro","value":"windows"}]`),
			"Content-Type", "application/openstack-images-v2.1-json-patch"), 200, "")
		return id
	}
	importFrom := func(id, region, remoteID, token string) {
		t.Helper()
		body := fmt.Sprintf(`{"method":{"name":"glance-download","glance_region":%q,"glance_image_id":%q}}`, region, remoteID)
		hdr := []string{}
		if token != "" {
			hdr = []string{"X-Auth-Token", token}
		}
		wantStatus(t, "import "+body, local.do("POST", "/v2/images/"+id+"/import", strings.NewReader(body), hdr...), 202, "")
		local.im.Wait()
	}

	dst := target()
	importFrom(dst, "regiontwo", src, "tok-1") // regions compare without case, as in Glance
	img := local.show(dst)
	for k, want := range map[string]any{"status": "active", "size": float64(len(data)), "disk_format": "raw",
		"container_format": "bare", "hw_cpu_cores": "5", "trait:STORAGE_DISK_SSD": "required", "os_distro": "rhel",
		"checksum": srcImg["checksum"], "os_hash_value": srcImg["os_hash_value"]} {
		if img[k] != want {
			t.Errorf("imported image %s = %v, want %v", k, img[k], want)
		}
	}
	if _, ok := img["speed"]; ok {
		t.Errorf("speed was copied: %v", img)
	}
	if r := local.do("GET", "/v2/images/"+dst+"/file", nil); !bytes.Equal(r.body, data) {
		t.Errorf("downloaded %d bytes, not the remote's data", len(r.body))
	}
	ts := local.tasks(dst)
	if len(ts) != 1 || ts[0]["status"] != "success" {
		t.Fatalf("tasks %v, want one successful", ts)
	}
	in, _ := ts[0]["input"].(map[string]any)
	req, _ := in["import_req"].(map[string]any)
	if m, _ := req["method"].(map[string]any); m["glance_service_interface"] != "public" {
		t.Errorf("task input %v: want glance_service_interface public filled in", in)
	}
	for _, p := range []string{"/v2/images/" + src, "/v2/images/" + src + "/file"} {
		if got := log.tokens[p]; got != "tok-1" {
			t.Errorf("remote got token %q on %s, want the caller's", got, p)
		}
	}
	if len(catalogTokens) != 1 || catalogTokens[0] != "tok-1" {
		t.Errorf("catalog read with %v, want the caller's token once", catalogTokens)
	}

	queuedSrc := remote.create(rawBare)
	for _, c := range []struct{ name, region, remoteID, token, msg string }{
		{"no token", "RegionTwo", src, "", "needs the caller's Keystone token"},
		{"unknown region", "nowhere", src, "tok-1", "public glance endpoint not found for region nowhere"},
		{"missing remote image", "RegionTwo", uuid.NewString(), "tok-1", "404"},
		{"remote image not active", "RegionTwo", queuedSrc, "tok-1", "Source image status should be active instead of queued"},
		{"endpoint refused by the filter", "Blocked", src, "tok-1", "does not pass filtering"},
		{"data of another size", "Liar", src, "tok-1", "is different from expected 100"},
		{"data of another hash", "Liar", badHash, "tok-1", "is different from the remote image's os_hash_value 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := target()
			importFrom(id, c.region, c.remoteID, c.token)
			img := local.show(id)
			for k, want := range map[string]any{"status": "queued", "disk_format": "iso", "container_format": "ovf",
				"hw_cpu_cores": "1", "os_distro": "windows", "hw_disk_bus": nil, "size": nil} {
				if img[k] != want {
					t.Errorf("%s = %v after the failure, want %v", k, img[k], want)
				}
			}
			ts := local.tasks(id)
			if len(ts) != 1 || ts[0]["status"] != "failure" || !strings.Contains(fmt.Sprint(ts[0]["message"]), c.msg) {
				t.Errorf("tasks %v, want one failed with %q", ts, c.msg)
			}
			if f := local.stagingFiles(); len(f) != 0 {
				t.Errorf("staging area holds %v", f)
			}
		})
	}
}
