package app_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glint/internal/app/apptest"
	"glint/internal/config"
)

func request(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// With use_keystone_limits and a Keystone that cannot be reached (and
// so no limits read yet), a new image is refused with 503 naming
// Keystone, never let through as unlimited; reads keep working.
func TestKeystoneLimitsUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	g := apptest.New(t, func(c *config.Config) {
		c.UseKeystoneLimits = true
		c.OsloLimit.AuthURL, c.OsloLimit.Username, c.OsloLimit.Password = closed, "glance", "pass"
		c.OsloLimit.SystemScope, c.OsloLimit.EndpointID = "all", "e1"
	})
	st, body := request(t, "POST", g.URL+"/v2/images", `{"name": "x", "disk_format": "raw", "container_format": "bare"}`)
	if st != 503 || !strings.Contains(body, "Keystone is unavailable") {
		t.Errorf("create: %d %s, want 503 naming Keystone", st, body)
	}
	if st, body := request(t, "GET", g.URL+"/v2/images", ""); st != 200 {
		t.Errorf("list: %d %s", st, body)
	}
	if st, body := request(t, "GET", g.URL+"/v2/info/usage", ""); st != 503 || !strings.Contains(body, "Keystone") {
		t.Errorf("usage: %d %s, want 503", st, body)
	}
}

// Without [oslo_limit] auth_url, use_keystone_limits takes [glint_limits]
// for every project: the embedded default's way, with no Keystone.
func TestGlintLimitsWithoutKeystone(t *testing.T) {
	g := apptest.New(t, func(c *config.Config) {
		c.UseKeystoneLimits = true
		c.LimitImageSizeTotal, c.LimitImageStageTotal, c.LimitImageCountTotal, c.LimitImageCountUploading = -1, -1, 1, -1
	})
	if st, body := request(t, "POST", g.URL+"/v2/images", `{}`); st != 201 {
		t.Fatalf("first image: %d %s", st, body)
	}
	st, body := request(t, "POST", g.URL+"/v2/images", `{}`)
	if st != 413 || !strings.Contains(body, "is over a limit for [Resource image_count_total is over limit of 1 due to current usage 1 and delta 1]") {
		t.Errorf("second image: %d %s", st, body)
	}
}

// The staging area is where Glance's configuration puts it: with
// enabled_backends, [os_glance_staging_store] filesystem_store_datadir
// over node_staging_uri; without, node_staging_uri (the reserved store's
// option is then unused, as in Glance).
func TestStagingDirFromConfiguration(t *testing.T) {
	for _, multi := range []bool{true, false} {
		reserved, node := t.TempDir(), t.TempDir()
		g := apptest.New(t, func(c *config.Config) {
			if multi {
				c.EnabledBackends, c.DefaultBackend = []string{"fast:file"}, "fast"
			}
			c.StagingStoreDatadir, c.NodeStagingURI = reserved, "file://"+node
		})
		st, body := request(t, "POST", g.URL+"/v2/images", `{"disk_format": "raw", "container_format": "bare"}`)
		if st != 201 {
			t.Fatalf("create: %d %s", st, body)
		}
		var img struct{ ID string }
		json.Unmarshal([]byte(body), &img)
		id := img.ID
		req, _ := http.NewRequest("PUT", g.URL+"/v2/images/"+id+"/stage", strings.NewReader("staged data"))
		req.Header.Set("Content-Type", "application/octet-stream")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 204 {
			t.Fatalf("stage: %s", res.Status)
		}
		want, other := node, reserved
		if multi {
			want, other = reserved, node
		}
		if _, err := os.Stat(filepath.Join(want, id)); err != nil {
			t.Errorf("enabled_backends %v: staged data not in %s: %v", multi, want, err)
		}
		if _, err := os.Stat(filepath.Join(other, id)); err == nil {
			t.Errorf("enabled_backends %v: staged data in %s too", multi, other)
		}
	}
}
