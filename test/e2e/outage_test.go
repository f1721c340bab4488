package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"glint/internal/store/storetest/testserver"
)

// TestStoreOutage: the S3 server behind the default store is killed and
// started again while Glint serves. While it is down, downloads and
// uploads get a prompt 503 naming the store (not a hang, not a 500), the
// upload's image goes back to queued, and /healthcheck says 503; once it
// is back, Glint serves again without a restart. The server is also
// killed in the middle of an upload and of a download.
func TestStoreOutage(t *testing.T) {
	skipShort(t)
	s3 := testserver.StartS3(t)
	s := startServerConf(t, fmt.Sprintf("[glance_store]\nstores = file, http, s3\ndefault_store = s3\n"+
		"s3_store_host = %s\ns3_store_access_key = %s\ns3_store_secret_key = %s\ns3_store_bucket = glance\n"+
		"s3_store_create_bucket_on_put = true\ns3_store_large_object_size = 5\ns3_store_large_object_chunk_size = 5\n",
		s3.Endpoint, s3.AccessKey, s3.Secret))
	// A generous bound that only catches a hang; no timing is judged.
	client := &http.Client{Timeout: 2 * time.Minute}
	req := func(method, path string, body io.Reader) (int, string) {
		t.Helper()
		r, _ := http.NewRequest(method, s.URL+path, body)
		if body != nil {
			r.Header.Set("Content-Type", "application/octet-stream")
		}
		res, err := client.Do(r)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	raw := func() string {
		return s.createImage(t, map[string]any{"disk_format": "raw", "container_format": "bare"})
	}
	data := bytes.Repeat([]byte("outage!!"), 12<<17) // 12 MiB: a multipart upload
	stored := raw()
	if st, b := req("PUT", "/v2/images/"+stored+"/file", bytes.NewReader(data)); st != 204 {
		t.Fatalf("upload: %d %s", st, b)
	}

	s3.Stop()
	if st, b := req("GET", "/v2/images/"+stored+"/file", nil); st != 503 || !strings.Contains(strings.ToLower(b), "store s3") {
		t.Errorf("download with S3 down: %d %.300s, want 503 naming the store", st, b)
	}
	queued := raw()
	if st, b := req("PUT", "/v2/images/"+queued+"/file", bytes.NewReader(data)); st != 503 || !strings.Contains(strings.ToLower(b), "store s3") {
		t.Errorf("upload with S3 down: %d %.300s, want 503 naming the store", st, b)
	}
	if m := s.mustGetImage(t, queued); m["status"] != "queued" {
		t.Errorf("image after the failed upload: %v", m["status"])
	}
	if st, b := req("GET", "/healthcheck", nil); st != 503 {
		t.Errorf("/healthcheck with S3 down: %d %s", st, b)
	}

	s3.Start()
	waitHealthy := func() {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			if st, _ := req("GET", "/healthcheck", nil); st == 200 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("/healthcheck did not recover after S3 came back")
			}
		}
	}
	waitHealthy()
	if st, b := req("GET", "/v2/images/"+stored+"/file", nil); st != 200 || b != string(data) {
		t.Errorf("download after S3 came back: %d, %d bytes", st, len(b))
	}
	if st, b := req("PUT", "/v2/images/"+queued+"/file", bytes.NewReader(data)); st != 204 {
		t.Errorf("upload after S3 came back: %d %s", st, b)
	}

	// Killed in the middle of an upload: the image goes back to queued.
	mid := raw()
	body := &slowBody{n: 400, tick: 10 * time.Millisecond, stop: make(chan struct{})}
	defer close(body.stop)
	done := make(chan int, 1)
	go func() { st, _ := req("PUT", "/v2/images/"+mid+"/file", body); done <- st }()
	for deadline := time.Now().Add(30 * time.Second); s.mustGetImage(t, mid)["status"] != "saving"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("upload did not start")
		}
	}
	time.Sleep(time.Second)
	s3.Stop()
	if st := <-done; st != 503 {
		t.Errorf("upload cut by the S3 outage: %d, want 503", st)
	}
	if m := s.mustGetImage(t, mid); m["status"] != "queued" {
		t.Errorf("image after the cut upload: %v", m["status"])
	}

	// Killed in the middle of a download: the client sees the body end
	// short (the status was sent), and Glint goes on serving.
	s3.Start()
	waitHealthy()
	r, _ := http.NewRequest("GET", s.URL+"/v2/images/"+stored+"/file", nil)
	res, err := client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	io.ReadFull(res.Body, buf)
	s3.Stop()
	n, _ := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if int(n)+len(buf) >= len(data) {
		t.Logf("the download finished before the outage (%d bytes): buffered", int(n)+len(buf))
	}
	s3.Start()
	waitHealthy()
	if st, b := req("GET", "/v2/images/"+stored+"/file", nil); st != 200 || b != string(data) {
		t.Errorf("download after the second outage: %d, %d bytes", st, len(b))
	}
}
