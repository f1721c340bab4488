package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glint/internal/store/storetest/testserver"
)

// The real openstack CLI uploads to and downloads from each store, with
// that store as glance_store's default_store; large enough to take the
// multipart (S3) and segmented (Swift) paths.
func TestStoresWithOpenstackCLI(t *testing.T) {
	requireCLI(t)
	if testing.Short() {
		t.Skip("-short: starts S3 and Swift servers")
	}
	const size = 12<<20 + 5 // over the 5 MB large-object threshold and part size below
	cases := []struct {
		name   string
		conf   func(t *testing.T) string
		scheme string
	}{
		{"file", func(t *testing.T) string {
			return "[glance_store]\nstores = file, http\ndefault_store = file\nfilesystem_thin_provisioning = true\n"
		}, "file://"},
		{"s3", func(t *testing.T) string {
			srv := testserver.StartS3(t)
			return fmt.Sprintf("[glance_store]\nstores = file, http, s3\ndefault_store = s3\ns3_store_host = %s\ns3_store_access_key = %s\n"+
				"s3_store_secret_key = %s\ns3_store_bucket = glance\ns3_store_create_bucket_on_put = true\n"+
				"s3_store_large_object_size = 5\ns3_store_large_object_chunk_size = 5\n", srv.Endpoint, srv.AccessKey, srv.Secret)
		}, "s3+http://"},
		{"swift", func(t *testing.T) string {
			srv := testserver.StartSwift(t)
			ref := filepath.Join(t.TempDir(), "glance-swift.conf")
			os.WriteFile(ref, []byte(fmt.Sprintf("[ref1]\nuser = glint:tester\nkey = %s\nauth_address = %s\nauth_version = 1\n",
				srv.Users["glint:tester"], srv.AuthURL)), 0o600)
			return fmt.Sprintf("[glance_store]\nstores = file, swift\ndefault_store = swift\nswift_store_config_file = %s\n"+
				"swift_store_create_container_on_put = true\nswift_store_large_object_size = 5\nswift_store_large_object_chunk_size = 5\n", ref)
		}, "swift+config://ref1/glance/"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := startServerConf(t, "show_image_direct_url = true\n"+c.conf(t))
			p := writePayload(t, s.tmp, size)
			id := openstackClient.create(t, s, "img-"+c.name, p.path)
			img := s.waitStatus(t, id, "active")
			if du, _ := img["direct_url"].(string); !strings.HasPrefix(du, c.scheme) {
				t.Errorf("direct_url %q, want a %s location", du, c.scheme)
			}
			out := filepath.Join(s.tmp, "download.bin")
			openstackClient.download(t, s, id, out)
			checkDownload(t, out, p, img)
			if r := openstackClient.delete(t, s, id); r.err != nil {
				t.Fatalf("delete: %v\n%s", r.err, r)
			}
		})
	}
}

// enabled_backends: the openstack CLI uploads to the default store and
// downloads from each store; an upload names its store with
// X-Image-Meta-Store (the openstack CLI here, 6.0, has no --store).
func TestMultiStore(t *testing.T) {
	requireCLI(t)
	if testing.Short() {
		t.Skip("-short: starts an S3 server")
	}
	srv := testserver.StartS3(t)
	sw := testserver.StartSwift(t)
	ref := filepath.Join(t.TempDir(), "glance-swift.conf")
	os.WriteFile(ref, []byte(fmt.Sprintf("[ref1]\nuser = glint:tester\nkey = %s\nauth_address = %s\nauth_version = 1\n",
		sw.Users["glint:tester"], sw.AuthURL)), 0o600)
	fast := filepath.Join(t.TempDir(), "fast")
	s := startServerConf(t, fmt.Sprintf("enabled_backends = fast:file, obj:s3, cold:swift, web:http\n[glance_store]\ndefault_backend = obj\n"+
		"[fast]\nfilesystem_store_datadir = %s\nstore_description = Local disks\n"+
		"[obj]\ns3_store_host = %s\ns3_store_access_key = %s\ns3_store_secret_key = %s\ns3_store_bucket = glance\n"+
		"s3_store_create_bucket_on_put = true\n"+
		"[cold]\nswift_store_config_file = %s\nswift_store_create_container_on_put = true\n", fast, srv.Endpoint, srv.AccessKey, srv.Secret, ref))

	status, body := s.do(t, "GET", "/v2/info/stores", nil)
	if want := `{"stores":[{"description":"Local disks","id":"fast"},{"default":"true","id":"obj"},{"id":"cold"},{"id":"web","read-only":"true"}]}`; status != 200 || strings.TrimSpace(string(body)) != want {
		t.Errorf("GET /v2/info/stores: %d %s", status, body)
	}

	p := writePayload(t, s.tmp, 3<<20+1)
	id := openstackClient.create(t, s, "in-obj", p.path)
	img := s.waitStatus(t, id, "active")
	if img["stores"] != "obj" {
		t.Errorf("stores of an image uploaded to the default store: %v", img["stores"])
	}
	out := filepath.Join(s.tmp, "obj.bin")
	openstackClient.download(t, s, id, out)
	checkDownload(t, out, p, img)

	status, body = s.do(t, "POST", "/v2/images", map[string]any{"name": "in-fast", "disk_format": "raw", "container_format": "bare"})
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	id2 := jsonOut[map[string]any](t, cliResult{stdout: string(body)})["id"].(string)
	req, _ := http.NewRequest("PUT", s.URL+"/v2/images/"+id2+"/file", bytes.NewReader(p.data))
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("X-Image-Meta-Store", "fast")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("upload to fast: %d", resp.StatusCode)
	}
	img2 := s.waitStatus(t, id2, "active")
	if img2["stores"] != "fast" {
		t.Errorf("stores of an image uploaded to fast: %v", img2["stores"])
	}
	if _, err := os.Stat(filepath.Join(fast, id2)); err != nil {
		t.Errorf("image data not in the fast store's directory: %v", err)
	}
	out2 := filepath.Join(s.tmp, "fast.bin")
	openstackClient.download(t, s, id2, out2)
	checkDownload(t, out2, p, img2)

	// The glance CLI names the store itself: image-upload --store.
	for _, st := range []string{"fast", "obj", "cold"} {
		status, body = s.do(t, "POST", "/v2/images", map[string]any{"name": "cli-" + st, "disk_format": "raw", "container_format": "bare"})
		if status != 201 {
			t.Fatalf("create: %d %s", status, body)
		}
		id := jsonOut[map[string]any](t, cliResult{stdout: string(body)})["id"].(string)
		must(t, s.glanceStdin(t, "", "image-upload", "--store", st, "--file", p.path, id))
		img := s.waitStatus(t, id, "active")
		if img["stores"] != st {
			t.Errorf("glance image-upload --store %s: stores %v", st, img["stores"])
		}
		out := filepath.Join(s.tmp, "cli-"+st+".bin")
		must(t, s.glanceStdin(t, "", "image-download", "--file", out, id))
		checkDownload(t, out, p, img)
	}
	// An unknown store name is refused before any data is sent.
	mustFail(t, s.glanceStdin(t, "", "image-upload", "--store", "nosuch", "--file", p.path, id2))
}
