package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"

	"glint/internal/image"
)

// chunked hides a body's length, so the upload's size is unknown until
// its end, the case where only the final check protects a quota.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

func TestStorageQuota(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, opts{dbURL: dbURL, svc: func(o *image.Options) { o.StorageQuota = 100 }})
		a := e.create(`{"disk_format": "raw", "container_format": "bare"}`)
		b := e.create(`{"disk_format": "raw", "container_format": "bare"}`)
		if r := e.do("PUT", "/v2/images/"+a+"/file", bytes.NewReader(make([]byte, 60)), "Content-Type", "application/octet-stream"); r.status != 204 {
			t.Fatalf("first upload: %d %s", r.status, r.body)
		}
		// Announced size over the remaining 40 bytes: refused before a byte is stored.
		r := e.do("PUT", "/v2/images/"+b+"/file", bytes.NewReader(make([]byte, 60)), "Content-Type", "application/octet-stream")
		if r.status != 413 || !strings.Contains(string(r.body), "Image exceeds the storage quota: The size of the data 60 will exceed the limit. 40 bytes remaining.") {
			t.Fatalf("over-quota upload: %d %s", r.status, r.body)
		}
		// Unknown size: stopped while streaming.
		r = e.do("PUT", "/v2/images/"+b+"/file", chunked{bytes.NewReader(make([]byte, 60))}, "Content-Type", "application/octet-stream")
		if r.status != 413 || !strings.Contains(string(r.body), "storage quota") {
			t.Fatalf("chunked over-quota upload: %d %s", r.status, r.body)
		}
		if st := e.show(b)["status"]; st != "queued" {
			t.Errorf("refused image is %v, want queued", st)
		}
		if n := len(e.storeFiles()); n != 1 {
			t.Errorf("%d files in the store, want 1", n)
		}
		// What fits still fits.
		if r := e.do("PUT", "/v2/images/"+b+"/file", chunked{bytes.NewReader(make([]byte, 40))}, "Content-Type", "application/octet-stream"); r.status != 204 {
			t.Fatalf("upload of exactly the remaining quota: %d %s", r.status, r.body)
		}
		// Deleting frees quota.
		e.do("DELETE", "/v2/images/"+a, nil)
		c := e.create(`{"disk_format": "raw", "container_format": "bare"}`)
		if r := e.do("PUT", "/v2/images/"+c+"/file", bytes.NewReader(make([]byte, 60)), "Content-Type", "application/octet-stream"); r.status != 204 {
			t.Fatalf("upload after delete: %d %s", r.status, r.body)
		}
	})
}

// TestQuotaConcurrentUploads: 16 uploads of one project at once, of
// unknown size, against a quota that holds 10 of them: exactly 10 land,
// and the rest leave nothing behind.
func TestQuotaConcurrentUploads(t *testing.T) {
	for _, name := range []string{"user_storage_quota", "image_size_total"} {
		t.Run(name, func(t *testing.T) {
			eachDB(t, func(t *testing.T, dbURL string) {
				const n, each = 16, 100 << 10
				e := newEnv(t, opts{dbURL: dbURL, svc: func(o *image.Options) {
					if name == "user_storage_quota" {
						o.StorageQuota = 10 * each
					} else {
						o.Limits = &image.Limits{ImageSizeTotal: 1, ImageStageTotal: -1, ImageCountTotal: -1, ImageCountUploading: -1}
					}
				}})
				ids := make([]string, n)
				for i := range ids {
					ids[i] = e.create(`{"disk_format": "raw", "container_format": "bare"}`)
				}
				size := each
				if name == "image_size_total" {
					size = 100 << 10 // 1 MiB holds 10 of these (1,024,000 bytes), not 11
				}
				var wg sync.WaitGroup
				codes, bodies := make([]int, n), make([]string, n)
				for i, id := range ids {
					wg.Add(1)
					go func() {
						defer wg.Done()
						r := e.do("PUT", "/v2/images/"+id+"/file", chunked{bytes.NewReader(make([]byte, size))}, "Content-Type", "application/octet-stream")
						codes[i], bodies[i] = r.status, string(r.body)
					}()
				}
				wg.Wait()
				ok := 0
				for i, c := range codes {
					switch c {
					case 204:
						ok++
					case 413:
						if st := e.show(ids[i])["status"]; st != "queued" {
							t.Errorf("refused image %s is %v", ids[i], st)
						}
					default:
						t.Errorf("upload %d: status %d %s", i, c, bodies[i])
					}
				}
				if ok != 10 {
					t.Errorf("%d uploads landed, want 10 (codes %v) %s", ok, codes, bodies[0])
				}
				if files := len(e.storeFiles()); files != ok {
					t.Errorf("%d files in the store for %d active images", files, ok)
				}
			})
		})
	}
}

func TestUnifiedLimits(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, opts{dbURL: dbURL, svc: func(o *image.Options) {
			o.Limits = &image.Limits{ImageSizeTotal: 1, ImageStageTotal: 5, ImageCountTotal: 2, ImageCountUploading: 1}
		}})
		usage := func() map[string]any {
			t.Helper()
			r := e.do("GET", "/v2/info/usage", nil)
			if r.status != 200 {
				t.Fatalf("usage: %d %s", r.status, r.body)
			}
			return r.json(t)["usage"].(map[string]any)
		}
		a := e.create(`{"disk_format": "raw", "container_format": "bare"}`)
		e.create(`{"disk_format": "raw", "container_format": "bare"}`)
		r := e.do("POST", "/v2/images", strings.NewReader(`{"name": "third"}`))
		if r.status != 413 || !strings.Contains(string(r.body), "Resource image_count_total is over limit of 2 due to current usage 2 and delta 1") {
			t.Fatalf("third image: %d %s", r.status, r.body)
		}
		if r := e.do("PUT", "/v2/images/"+a+"/file", bytes.NewReader(make([]byte, 1<<20)), "Content-Type", "application/octet-stream"); r.status != 204 {
			t.Fatalf("1 MiB upload: %d %s", r.status, r.body)
		}
		u := usage()
		want := map[string]map[string]float64{
			"image_size_total":      {"limit": 1, "usage": 1},
			"image_stage_total":     {"limit": 5, "usage": 0},
			"image_count_total":     {"limit": 2, "usage": 2},
			"image_count_uploading": {"limit": 1, "usage": 0},
		}
		for k, w := range want {
			got, _ := u[k].(map[string]any)
			if got["limit"] != w["limit"] || got["usage"] != w["usage"] {
				t.Errorf("usage %s = %v, want %v", k, got, w)
			}
		}
		b, _ := json.Marshal(u)
		t.Logf("usage: %s", b)
	})
}

func TestUsageWithoutLimits(t *testing.T) {
	e := newEnv(t, opts{})
	r := e.do("GET", "/v2/info/usage", nil)
	if r.status != 200 || strings.TrimSpace(string(r.body)) != `{"usage":{}}` {
		t.Fatalf("usage: %d %s", r.status, r.body)
	}
}

func TestMemberQuota(t *testing.T) {
	e := newEnv(t, opts{svc: func(o *image.Options) { o.MemberQuota = 2 }})
	id := e.create(`{"visibility": "shared"}`)
	for i, m := range []string{"p1", "p2", "p3"} {
		r := e.do("POST", "/v2/images/"+id+"/members", strings.NewReader(`{"member": "`+m+`"}`))
		want := 200
		if i == 2 {
			want = 413
		}
		if r.status != want {
			t.Fatalf("member %s: %d %s", m, r.status, r.body)
		}
		if i == 2 && !strings.Contains(string(r.body), "Image member limit exceeded for image "+id+": The limit has been exceeded on the number of allowed image members for this image. Attempted: 3, Maximum: 2:") {
			t.Errorf("member quota message: %s", r.body)
		}
	}
}

// TestQuotaAcrossNodes: two nodes (each its own connection pool, as two
// processes have) on one database and one store share a project's quota.
func TestQuotaAcrossNodes(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		if strings.HasPrefix(dbURL, "sqlite") {
			t.Skip("several nodes need a database server")
		}
		const n, each = 16, 64 << 10
		shared := t.TempDir()
		quota := func(o *image.Options) { o.StorageQuota = 5 * each }
		a := newEnv(t, opts{dbURL: dbURL, store: shared, svc: quota})
		b := newEnv(t, opts{dbURL: dbURL, store: shared, svc: quota})
		ids := make([]string, n)
		for i := range ids {
			ids[i] = a.create(`{"disk_format": "raw", "container_format": "bare"}`)
		}
		var wg sync.WaitGroup
		codes := make([]int, n)
		for i, id := range ids {
			node := a
			if i%2 == 1 {
				node = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i] = node.do("PUT", "/v2/images/"+id+"/file", chunked{bytes.NewReader(make([]byte, each))}, "Content-Type", "application/octet-stream").status
			}()
		}
		wg.Wait()
		ok := 0
		for _, c := range codes {
			if c == 204 {
				ok++
			} else if c != 413 {
				t.Errorf("status %d", c)
			}
		}
		if ok != 5 || len(a.storeFiles()) != 5 {
			t.Errorf("%d uploads landed and %d files stored across two nodes, want 5 (codes %v)", ok, len(a.storeFiles()), codes)
		}
	})
}

func TestStageLimits(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newImportEnv(t, importOpts{dbURL: dbURL, svc: func(o *image.Options) {
			o.Limits = &image.Limits{ImageSizeTotal: -1, ImageStageTotal: 1, ImageCountTotal: -1, ImageCountUploading: -1}
		}})
		a := e.create(`{"disk_format": "raw", "container_format": "bare"}`)
		b := e.create(`{"disk_format": "raw", "container_format": "bare"}`)
		if r := e.do("PUT", "/v2/images/"+a+"/stage", bytes.NewReader(make([]byte, 600<<10)), "Content-Type", "application/octet-stream"); r.status != 204 {
			t.Fatalf("first stage: %d %s", r.status, r.body)
		}
		r := e.do("PUT", "/v2/images/"+b+"/stage", chunked{bytes.NewReader(make([]byte, 600<<10))}, "Content-Type", "application/octet-stream")
		if r.status != 413 || !strings.Contains(string(r.body), "image_stage_total") {
			t.Fatalf("second stage over image_stage_total: %d %s", r.status, r.body)
		}
		if st := e.show(b)["status"]; st != "queued" {
			t.Errorf("refused stage left the image %v", st)
		}
	})
}
