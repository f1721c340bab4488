package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glint/internal/db/dbtest"
	"glint/internal/store/storetest/testserver"
)

// TestNoSecretInLogsOrAnswers: a glint serve configured with secrets in
// every place a Glance configuration has them (the database URL, S3
// credentials, Keystone's service password) and given more in URLs (an
// http location and a web-download URL with user:password), at debug
// level, driven through uploads, downloads, failures of each kind and the
// stores' detail. No secret appears in any answer (bodies and headers) or
// any line of its log.
func TestNoSecretInLogsOrAnswers(t *testing.T) {
	skipShort(t)
	s3 := testserver.StartS3(t)
	pg := dbtest.New(t, "postgres")
	const pgSecret, ksSecret, httpSecret, wdSecret = "pgPass-7f3a9", "ksPass-91c2e", "httpPass-5d8b1", "wdPass-2e6f4"
	dbURL, err := url.Parse(pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	dbURL.User = url.UserPassword(dbURL.User.Username(), pgSecret) // trust: any password is accepted
	closed, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s := startServerConf(t, fmt.Sprintf("debug = true\nshow_multiple_locations = true\nenabled_backends = fast:file, cloud:s3\n"+
		"[glance_store]\ndefault_backend = cloud\n[fast]\nfilesystem_store_datadir = %s\n"+
		"[cloud]\ns3_store_host = %s\ns3_store_access_key = %s\ns3_store_secret_key = %s\ns3_store_bucket = glance\ns3_store_create_bucket_on_put = true\n"+
		"[database]\nconnection = %s\n"+
		"[keystone_authtoken]\nauth_url = http://127.0.0.1:%d/identity\nusername = glance\npassword = %s\n"+
		"[import_filtering_opts]\nallowed_ports = 80,443,%d\n",
		filepath.Join(t.TempDir(), "fast"), s3.Endpoint, s3.AccessKey, s3.Secret, dbURL.String(), closed, ksSecret, closed))
	secrets := []string{pgSecret, ksSecret, httpSecret, wdSecret, s3.Secret}

	var answers strings.Builder
	do := func(method, path, ctype, body string, hdr ...string) int {
		t.Helper()
		req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		fmt.Fprintf(&answers, "%s %s -> %d %v\n%s\n", method, path, res.StatusCode, res.Header, b)
		return res.StatusCode
	}
	id := s.createImage(t, map[string]any{"name": "s", "disk_format": "raw", "container_format": "bare"})
	if st := do("PUT", "/v2/images/"+id+"/file", "application/octet-stream", strings.Repeat("x", 100000)); st != 204 {
		t.Fatalf("upload to S3: %d\n%s", st, answers.String())
	}
	do("GET", "/v2/images/"+id+"/file", "", "")
	do("GET", "/v2/images/"+id, "", "")
	do("GET", "/v2/info/stores/detail", "", "")
	do("GET", "/v2/info/stores", "", "")
	// A location with credentials in it, on a port nobody listens on.
	loc := fmt.Sprintf("http://glance:%s@127.0.0.1:%d/image.raw", httpSecret, closed)
	do("PATCH", "/v2/images/"+id, "application/openstack-images-v2.1-json-patch",
		fmt.Sprintf(`[{"op":"add","path":"/locations/-","value":{"url":%q,"metadata":{}}}]`, loc))
	other := s.createImage(t, map[string]any{"name": "o", "disk_format": "raw", "container_format": "bare"})
	do("POST", "/v2/images/"+other+"/locations", "application/json", fmt.Sprintf(`{"url":%q}`, loc))
	do("GET", "/v2/images/"+other+"/file", "", "")
	// A web-download whose URL carries credentials and fails.
	wd := s.createImage(t, map[string]any{"name": "w", "disk_format": "raw", "container_format": "bare"})
	do("POST", "/v2/images/"+wd+"/import", "application/json",
		fmt.Sprintf(`{"method":{"name":"web-download","uri":"http://u:%s@127.0.0.1:%d/x.raw"}}`, wdSecret, closed))
	do("POST", "/v2/images/"+wd+"/import", "application/json",
		fmt.Sprintf(`{"method":{"name":"web-download","uri":"http://u:%s@10.255.255.1:%d/x.raw"}}`, wdSecret, closed))
	for range 20 {
		do("GET", "/v2/images/"+wd, "", "")
	}
	do("GET", "/v2/tasks", "", "")
	// The S3 server goes away: downloads and uploads fail and are logged.
	s3Dir := s3.Dir
	os.RemoveAll(s3Dir)
	do("GET", "/v2/images/"+id+"/file", "", "")
	up := s.createImage(t, map[string]any{"name": "u", "disk_format": "raw", "container_format": "bare"})
	do("PUT", "/v2/images/"+up+"/file", "application/octet-stream", "data")
	do("DELETE", "/v2/images/"+id, "", "")

	log := s.log()
	for _, sec := range secrets {
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec)} {
			if strings.Contains(log, form) {
				t.Errorf("the log holds the secret %q:\n%s", form, linesWith(log, form))
			}
			if a := answers.String(); strings.Contains(a, form) {
				t.Errorf("an answer holds the secret %q:\n%s", form, linesWith(a, form))
			}
		}
	}
	// The log must hold what the test provoked, or it proves less than it
	// says: failures with their causes, and a line per request.
	for _, want := range []string{"request failed", "image location failed", "upload failed", "/v2/info/stores/detail"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log has no %q line; the test proves less than it says", want)
		}
	}
}

func linesWith(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
