package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"glint/internal/keystone/keystonetest"
)

// squidBin is Debian's squid (scripts/test installs it).
const squidBin = "/usr/sbin/squid"

// startSquid runs a caching forward proxy, Debian's Squid, on a free
// port of 127.0.0.1 with a memory cache and a directory of its own, and
// stops it when t ends. It returns the proxy's URL and its access log.
func startSquid(t *testing.T) (*url.URL, string) {
	t.Helper()
	skipShort(t)
	if _, err := os.Stat(squidBin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("squid is not installed: %v", err)
		}
		t.Skip("squid is not installed (scripts/test installs it)")
	}
	// Squid started as root runs as the user proxy: its directory must be
	// reachable for that user, which t.TempDir's is not.
	dir, err := os.MkdirTemp("", "glint-squid-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "squid.conf")
	accessLog := filepath.Join(dir, "access.log")
	// A memory cache large enough for the test's images; the stock
	// refresh rule; no helpers, no disk cache, no lingering at shutdown.
	text := fmt.Sprintf(`http_port 127.0.0.1:%d
http_access allow all
cache_mem 64 MB
maximum_object_size_in_memory 32 MB
maximum_object_size 32 MB
access_log stdio:%s squid
cache_log %s
cache_store_log none
pid_filename %s
coredump_dir %s
netdb_filename none
pinger_enable off
shutdown_lifetime 0 seconds
refresh_pattern . 0 20%% 4320
`, port, accessLog, filepath.Join(dir, "cache.log"), filepath.Join(dir, "squid.pid"), dir)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "squid.out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(squidBin, "-N", "-f", conf)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); out.Close() }()
	logs := func() string {
		a, _ := os.ReadFile(filepath.Join(dir, "squid.out"))
		b, _ := os.ReadFile(filepath.Join(dir, "cache.log"))
		c, _ := os.ReadFile(accessLog)
		return tail(string(a), 20) + "\n--- cache.log\n" + tail(string(b), 40) + "\n--- access.log\n" + tail(string(c), 40)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("squid:\n%s", logs())
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); ; {
		select {
		case err := <-exited:
			t.Fatalf("squid exited before listening (%v):\n%s", err, logs())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("squid did not listen on %s within 30s:\n%s", addr, logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return &url.URL{Scheme: "http", Host: addr}, accessLog
}

// proxied is one answer through the proxy.
type proxied struct {
	status int
	header http.Header
	body   []byte
}

// TestCachingProxy puts Debian's Squid, a shared cache that follows
// RFC 9111 on its own, between clients and a glint serve that checks
// Keystone tokens: a public image is served from the cache after its
// first download, each reuse revalidated by Glint with the caller's
// token (a 304, no second read of the store); a private image is never
// kept, nor served to a caller without the right token; a deactivated
// or deleted image, or one made private, stops being served at its next
// revalidation.
func TestCachingProxy(t *testing.T) {
	proxy, accessLog := startSquid(t)
	ks := keystonetest.Start(t)
	s := keystoneServer(t, ks)
	admin, alpha, beta := ks.Token(t, "admin"), ks.Token(t, "alpha-member"), ks.Token(t, "beta-member")

	// direct calls Glint itself; through calls it through the proxy.
	direct := func(method, path, tok string, body io.Reader, hdr ...string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, s.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Auth-Token", tok)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxy), DisableCompression: true}}
	through := func(id, tok string) proxied {
		t.Helper()
		req, err := http.NewRequest("GET", s.URL+"/v2/images/"+id+"/file", nil)
		if err != nil {
			t.Fatal(err)
		}
		if tok != "" {
			req.Header.Set("X-Auth-Token", tok)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s through the proxy: %v", id, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("GET %s through the proxy: reading: %v", id, err)
		}
		return proxied{resp.StatusCode, resp.Header, b}
	}
	newImage := func(tok, visibility string, data []byte) string {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"name": "proxy-" + visibility, "disk_format": "raw", "container_format": "bare", "visibility": visibility})
		code, out := direct("POST", "/v2/images", tok, bytes.NewReader(b), "Content-Type", "application/json")
		if code != http.StatusCreated {
			t.Fatalf("create %s image: %d %s", visibility, code, out)
		}
		var img map[string]any
		if err := json.Unmarshal(out, &img); err != nil {
			t.Fatal(err)
		}
		id := img["id"].(string)
		if code, out := direct("PUT", "/v2/images/"+id+"/file", tok, bytes.NewReader(data), "Content-Type", "application/octet-stream"); code != http.StatusNoContent {
			t.Fatalf("upload: %d %s", code, out)
		}
		return id
	}
	// served counts Glint's answers to GET id/file with status, from its
	// request log (debug = true), waiting a little for the line of a
	// request just answered to be written.
	served := func(id string, status, want int) int {
		t.Helper()
		needle := fmt.Sprintf(" path=/v2/images/%s/file status=%d ", id, status)
		var n int
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			n = strings.Count(s.log(), needle)
			if n >= want || time.Now().After(deadline) {
				return n
			}
		}
	}
	expectData := func(what string, r proxied, data []byte, cache string) {
		t.Helper()
		if r.status != http.StatusOK || !bytes.Equal(r.body, data) {
			t.Fatalf("%s: %d, %d bytes; want 200 and the image's %d bytes", what, r.status, len(r.body), len(data))
		}
		if got := r.header.Get("X-Cache"); cache != "" && !strings.HasPrefix(got, cache+" ") {
			t.Errorf("%s: X-Cache %q, want %s", what, got, cache)
		}
	}
	expectRefused := func(what string, r proxied, status int, data []byte) {
		t.Helper()
		if r.status != status || bytes.Contains(r.body, data[:64]) {
			t.Errorf("%s: %d (%d bytes), want %d without the data", what, r.status, len(r.body), status)
		}
	}

	data := make([]byte, 4<<20)
	rand.Read(data)
	pub := newImage(admin, "public", data)

	// The first download fills the cache; the next, for another project,
	// is the cache's copy after a 304 from Glint, which read no data.
	expectData("public, first download (beta)", through(pub, beta), data, "MISS")
	r := through(pub, alpha)
	expectData("public, second download (alpha)", r, data, "HIT")
	if n := served(pub, 304, 1); n != 1 {
		t.Errorf("Glint answered the revalidation of the public image %d times with 304, want 1", n)
	}
	if n := served(pub, 200, 1); n != 1 {
		t.Errorf("Glint served the public image's data %d times, want once", n)
	}
	if cc := r.header.Get("Cache-Control"); cc != "public, no-cache" || r.header.Get("ETag") == "" {
		t.Errorf("public image: Cache-Control %q, ETag %q", cc, r.header.Get("ETag"))
	}
	// The cached copy is not anybody's: without a token, the proxy's
	// revalidation is Glint's 401.
	expectRefused("public, no token", through(pub, ""), http.StatusUnauthorized, data)
	expectRefused("public, bad token", through(pub, "not-a-token"), http.StatusUnauthorized, data)

	// A private image is never kept by the proxy: each download of its
	// owner reaches Glint; other projects and callers without a token
	// get Glint's refusal.
	priv := newImage(alpha, "private", data)
	expectData("private, owner", through(priv, alpha), data, "MISS")
	expectData("private, owner again", through(priv, alpha), data, "MISS")
	if n := served(priv, 200, 2); n != 2 {
		t.Errorf("Glint served the private image %d times, want 2 (not from the proxy)", n)
	}
	expectRefused("private, other project", through(priv, beta), http.StatusNotFound, data)
	expectRefused("private, no token", through(priv, ""), http.StatusUnauthorized, data)

	// Deactivated: refused at the next revalidation (the admin still
	// downloads it); reactivated: served again (whether Squid kept its
	// copy through the refusals is Squid's business).
	action := func(a string) {
		t.Helper()
		if code, out := direct("POST", "/v2/images/"+pub+"/actions/"+a, admin, nil); code != http.StatusNoContent {
			t.Fatalf("%s: %d %s", a, code, out)
		}
	}
	action("deactivate")
	expectRefused("deactivated, alpha", through(pub, alpha), http.StatusForbidden, data)
	expectRefused("deactivated, beta", through(pub, beta), http.StatusForbidden, data)
	expectData("deactivated, admin", through(pub, admin), data, "")
	action("reactivate")
	expectData("reactivated, alpha", through(pub, alpha), data, "")
	before200 := served(pub, 200, 0)

	// Made private: its cached copy is no longer served to other projects.
	if code, out := direct("PATCH", "/v2/images/"+pub, admin, strings.NewReader(`[{"op":"replace","path":"/visibility","value":"private"}]`),
		"Content-Type", "application/openstack-images-v2.1-json-patch"); code != http.StatusOK {
		t.Fatalf("make private: %d %s", code, out)
	}
	expectRefused("made private, beta", through(pub, beta), http.StatusNotFound, data)

	// Deleted: gone for everyone, admin included.
	if code, out := direct("DELETE", "/v2/images/"+pub, admin, nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", code, out)
	}
	expectRefused("deleted, admin", through(pub, admin), http.StatusNotFound, data)
	expectRefused("deleted, alpha", through(pub, alpha), http.StatusNotFound, data)
	if n := served(pub, 200, 0); n != before200 {
		t.Errorf("Glint served the public image's data %d times after its reactivation, want %d", n, before200)
	}
	if t.Failed() || testing.Verbose() {
		b, _ := os.ReadFile(accessLog)
		t.Logf("squid access log:\n%s", b)
	}
}
