package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"glint/internal/keystone/keystonetest"
)

// regionConf is a keystone-flavored glint serve offering glance-download,
// whose import filter lets it reach the given loopback ports.
func regionConf(ks *keystonetest.Keystone, ports ...string) string {
	return fmt.Sprintf(`enabled_import_methods = [glance-direct,web-download,copy-image,glance-download]

[import_filtering_opts]
allowed_hosts = [127.0.0.1]
allowed_ports = [%[2]s]

[paste_deploy]
flavor = keystone

%[1]s`, ks.AuthtokenConf(), strings.Join(ports, ","))
}

// withToken sends body (nil: none) to url with the caller's token.
func withToken(t *testing.T, method, url, token string, body []byte, ctype string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("X-Auth-Token", token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func jsonObj(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return m
}

// TestGlanceDownloadTwoRegions: two glint serve nodes, each with its own
// database and store, behind one real Keystone; the second is RegionTwo's
// Image API in the catalog. An image is copied from it into the first with
// glance-download, with the caller's token; a missing remote image fails
// the task and leaves the target queued.
func TestGlanceDownloadTwoRegions(t *testing.T) {
	skipShort(t)
	ks := keystonetest.Start(t)
	remote := startServerConf(t, regionConf(ks, "80"))
	ru, _ := url.Parse(remote.URL)
	local := startServerConf(t, regionConf(ks, ru.Port()))

	// RegionTwo's image service, an entry of this test's own.
	if st, doc := ks.API(t, "POST", "/regions", map[string]any{"region": map[string]any{"id": "RegionTwo"}}); st != 201 && st != 409 {
		t.Fatalf("creating RegionTwo: %d %v", st, doc)
	}
	st, doc := ks.API(t, "POST", "/services", map[string]any{"service": map[string]any{"type": "image", "name": "glint-region-two"}})
	if st != 201 {
		t.Fatalf("creating the service: %d %v", st, doc)
	}
	sid := doc["service"].(map[string]any)["id"].(string)
	t.Cleanup(func() { ks.API(t, "DELETE", "/services/"+sid, nil) })
	for _, iface := range []string{"public", "internal", "admin"} {
		if st, doc := ks.API(t, "POST", "/endpoints", map[string]any{"endpoint": map[string]any{
			"service_id": sid, "interface": iface, "url": remote.URL, "region_id": "RegionTwo"}}); st != 201 {
			t.Fatalf("creating the %s endpoint: %d %v", iface, st, doc)
		}
	}

	tok := ks.Token(t, "alpha-member")
	data := bytes.Repeat([]byte("from region two "), 40000)
	st, b := withToken(t, "POST", remote.URL+"/v2/images", tok, []byte(`{"name":"src","disk_format":"raw","container_format":"bare"}`), "application/json")
	if st != 201 {
		t.Fatalf("create on the remote: %d %s", st, b)
	}
	src := jsonObj(t, b)["id"].(string)
	if st, b := withToken(t, "PUT", remote.URL+"/v2/images/"+src+"/file", tok, data, "application/octet-stream"); st != 204 {
		t.Fatalf("upload to the remote: %d %s", st, b)
	}
	patch := `[{"op":"add","path":"/hw_cpu_cores","value":"5"},{"op":"add","path":"/os_type","value":"linux"},{"op":"add","path":"/speed","value":"88mph"}]`
	if st, b := withToken(t, "PATCH", remote.URL+"/v2/images/"+src, tok, []byte(patch), "application/openstack-images-v2.1-json-patch"); st != 200 {
		t.Fatalf("properties on the remote: %d %s", st, b)
	}
	_, b = withToken(t, "GET", remote.URL+"/v2/images/"+src, tok, nil, "")
	srcImg := jsonObj(t, b)

	if _, b := withToken(t, "GET", local.URL+"/v2/info/import", tok, nil, ""); !strings.Contains(string(b), "glance-download") {
		t.Errorf("/v2/info/import: %s", b)
	}

	// wait polls the local image until its import task ends.
	wait := func(id string) (map[string]any, map[string]any) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			_, b := withToken(t, "GET", local.URL+"/v2/images/"+id+"/tasks", tok, nil, "")
			ts, _ := jsonObj(t, b)["tasks"].([]any)
			if len(ts) == 1 {
				task := ts[0].(map[string]any)
				if task["status"] == "success" || task["status"] == "failure" {
					_, b := withToken(t, "GET", local.URL+"/v2/images/"+id, tok, nil, "")
					return jsonObj(t, b), task
				}
			}
		}
		t.Fatalf("the import of %s did not end within 60s", id)
		return nil, nil
	}
	importFrom := func(remoteID string) (map[string]any, map[string]any) {
		t.Helper()
		st, b := withToken(t, "POST", local.URL+"/v2/images", tok, []byte(`{"name":"dst","disk_format":"iso","container_format":"ovf"}`), "application/json")
		if st != 201 {
			t.Fatalf("create on the local node: %d %s", st, b)
		}
		id := jsonObj(t, b)["id"].(string)
		body := fmt.Sprintf(`{"method":{"name":"glance-download","glance_region":"RegionTwo","glance_image_id":%q,"glance_service_interface":"public"}}`, remoteID)
		if st, b := withToken(t, "POST", local.URL+"/v2/images/"+id+"/import", tok, []byte(body), "application/json"); st != 202 {
			t.Fatalf("import: %d %s", st, b)
		}
		return wait(id)
	}

	img, task := importFrom(src)
	if task["status"] != "success" {
		t.Fatalf("task %v", task)
	}
	for k, want := range map[string]any{"status": "active", "size": float64(len(data)), "disk_format": "raw", "container_format": "bare",
		"hw_cpu_cores": "5", "os_type": "linux", "os_hash_value": srcImg["os_hash_value"], "checksum": srcImg["checksum"]} {
		if img[k] != want {
			t.Errorf("imported %s = %v, want %v", k, img[k], want)
		}
	}
	if _, ok := img["speed"]; ok {
		t.Errorf("speed was copied")
	}
	if st, b := withToken(t, "GET", local.URL+"/v2/images/"+img["id"].(string)+"/file", tok, nil, ""); st != 200 || !bytes.Equal(b, data) {
		t.Errorf("download from the local node: %d, %d bytes", st, len(b))
	}

	img, task = importFrom(uuid.NewString())
	if task["status"] != "failure" || !strings.Contains(fmt.Sprint(task["message"]), "404") || img["status"] != "queued" || img["disk_format"] != "iso" {
		t.Errorf("import of a missing remote image: task %v, image %v", task, img)
	}
}
