package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"glint/internal/app"
	"glint/internal/app/apptest"
	"glint/internal/config"
	"glint/internal/obs/obstest"
)

// call sends one request to g and returns the answer's status, headers
// and body.
func call(t *testing.T, g *apptest.Glint, method, path string, h http.Header, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, g.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

// traffic makes an image, uploads its data, downloads it, shows it three
// times and lists images; it returns the image's id.
func traffic(t *testing.T, g *apptest.Glint, h http.Header, data []byte) string {
	t.Helper()
	code, _, b := call(t, g, "POST", "/v2/images", http.Header{"Content-Type": {"application/json"}},
		[]byte(`{"name": "obs", "disk_format": "raw", "container_format": "bare"}`))
	if code != 201 {
		t.Fatalf("create: %d %s", code, b)
	}
	var img struct{ ID string }
	json.Unmarshal(b, &img)
	if code, _, b := call(t, g, "PUT", "/v2/images/"+img.ID+"/file", http.Header{"Content-Type": {"application/octet-stream"}}, data); code != 204 {
		t.Fatalf("upload: %d %s", code, b)
	}
	if code, _, b := call(t, g, "GET", "/v2/images/"+img.ID+"/file", nil, nil); code != 200 || len(b) != len(data) {
		t.Fatalf("download: %d, %d bytes", code, len(b))
	}
	for range 3 {
		if code, _, b := call(t, g, "GET", "/v2/images/"+img.ID, h, nil); code != 200 {
			t.Fatalf("show: %d %s", code, b)
		}
	}
	if code, _, b := call(t, g, "GET", "/v2/images", nil, nil); code != 200 {
		t.Fatalf("list: %d %s", code, b)
	}
	return img.ID
}

// Prometheus (Debian's) scrapes /metrics on the API port and a PromQL
// query over its HTTP API sees the requests this test made.
func TestPrometheusScrapesMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus")
	}
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus is not installed (scripts/test installs it)")
	}
	g := apptest.New(t, func(c *config.Config) { c.MetricsEnabled = true })
	data := bytes.Repeat([]byte("glint"), 200_000) // 1,000,000 bytes
	traffic(t, g, nil, data)
	call(t, g, "GET", "/v2/images/00000000-0000-4000-8000-000000000000", nil, nil) // 404

	// The exposition itself: bounded labels only.
	code, _, b := call(t, g, "GET", "/metrics", nil, nil)
	if code != 200 {
		t.Fatalf("GET /metrics: %d %s", code, b)
	}
	for _, want := range []string{
		`glint_http_request_duration_seconds_count{code="200",method="GET",route="/v2/images/{id}"} 3`,
		`glint_http_request_duration_seconds_count{code="404",method="GET",route="/v2/images/{id}"} 1`,
		`glint_store_bytes_total{direction="in",store="file"} 1e+06`,
		`glint_store_bytes_total{direction="out",store="file"} 1e+06`,
		`glint_database_up{database="sqlite"} 1`,
		`glint_store_up{store="file"} 1`,
		`go_sql_open_connections{db_name="read"}`,
		`glint_import_tasks_running 0`,
		`glint_uploads_in_flight{kind="upload"} 0`,
		`process_resident_memory_bytes`,
	} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if bytes.Contains(b, []byte("00000000-0000-4000")) {
		t.Error("/metrics shows an image id")
	}

	port := freePort(t)
	dir := t.TempDir()
	target := strings.TrimPrefix(g.URL, "http://")
	conf := fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: glint\n    scrape_interval: 1s\n"+
		"    static_configs:\n      - targets: [%q]\n", target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus:\n%s", logs.String())
		}
	})
	api := "http://127.0.0.1:" + strconv.Itoa(port)
	for _, c := range []struct{ query, want string }{
		{`up{job="glint"}`, "1"},
		{`sum(glint_http_request_duration_seconds_count{route="/v2/images/{id}",method="GET",code="200"})`, "3"},
		{`sum(glint_http_request_duration_seconds_count{route="/v2/images/{id}/file"})`, "2"},
		{`glint_store_bytes_total{store="file",direction="in"}`, "1000000"},
	} {
		if got := promQuery(t, api, c.query, c.want, 90*time.Second); got != c.want {
			t.Errorf("%s = %s, want %s", c.query, got, c.want)
		}
	}
}

// promQuery runs an instant query until its one value is want (or the
// time is up) and returns the last value.
func promQuery(t *testing.T, api, query, want string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	last := ""
	for time.Now().Before(deadline) {
		res, err := http.Get(api + "/api/v1/query?query=" + url.QueryEscape(query))
		if err == nil {
			var out struct {
				Status string
				Data   struct {
					Result []struct {
						Value [2]any
					}
				}
			}
			json.NewDecoder(res.Body).Decode(&out)
			res.Body.Close()
			if out.Status == "success" && len(out.Data.Result) == 1 {
				last, _ = out.Data.Result[0].Value[1].(string)
				if last == want {
					return last
				}
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	return last
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Off by default: /metrics is not served, and with a listener of its own
// it is not served on the API port either.
func TestMetricsOffTheAPIPort(t *testing.T) {
	for name, adjust := range map[string]func(*config.Config){
		"off":    nil,
		"listen": func(c *config.Config) { c.MetricsEnabled, c.MetricsListen = true, "127.0.0.1:0" },
	} {
		t.Run(name, func(t *testing.T) {
			g := apptest.New(t, adjust)
			code, _, b := call(t, g, "GET", "/metrics", nil, nil)
			if code == 200 || bytes.Contains(b, []byte("glint_")) {
				t.Fatalf("GET /metrics on the API port: %d %.200s", code, b)
			}
			if (g.MetricsHandler() != nil) != (name == "listen") {
				t.Errorf("MetricsHandler: %v", g.MetricsHandler())
			}
		})
	}
}

// Traces reach an OTLP receiver the test runs: the caller's traceparent
// is continued, each request's server span carries Glance's request id,
// and the database and store calls are its children.
func TestTracesReachReceiver(t *testing.T) {
	rc := obstest.NewReceiver(t)
	g := apptest.New(t, func(c *config.Config) {
		c.TracingEnabled, c.TracingEndpoint, c.TracingServiceName = true, rc.URL, "glint-test"
	})
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	tp := http.Header{"Traceparent": {"00-" + traceID + "-00f067aa0ba902b7-01"}}
	id := traffic(t, g, tp, []byte("some data"))
	_, h, _ := call(t, g, "GET", "/v2/images/"+id, tp, nil)
	rid := h.Get("X-Openstack-Request-Id")
	if err := g.Tracing().ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := rc.WaitFor(t, 20*time.Second, func(s []obstest.Span) bool {
		for _, sp := range s {
			if sp.Attrs["openstack.request_id"] == rid {
				return true
			}
		}
		return false
	})
	byID := map[string]obstest.Span{}
	for _, s := range spans {
		byID[s.SpanID] = s
	}
	var show obstest.Span
	names := map[string]bool{}
	for _, s := range spans {
		names[s.Name] = true
		if s.Attrs["openstack.request_id"] == rid {
			show = s
		}
	}
	if show.Name != "GET /v2/images/{id}" || show.TraceID != traceID || show.ParentID != "00f067aa0ba902b7" || show.Service != "glint-test" {
		t.Errorf("show's server span: %+v", show)
	}
	// server span > handler span (the domain call) > db span
	var dbChild bool
	for _, s := range spans {
		if h := byID[s.ParentID]; s.Name == "db.images.get" && h.Name == "handle GET /v2/images/{id}" && h.ParentID == show.SpanID {
			dbChild = true
		}
		if s.Name == "store.write" && byID[s.ParentID].Name != "handle PUT /v2/images/{id}/file" {
			t.Errorf("store.write's parent is %q", byID[s.ParentID].Name)
		}
	}
	if !dbChild {
		t.Errorf("no db.images.get span under the show's handler span in %v", names)
	}
	for _, n := range []string{"POST /v2/images", "PUT /v2/images/{id}/file", "GET /v2/images/{id}/file", "GET /v2/images", "store.write", "store.open", "handle GET /v2/images/{id}"} {
		if !names[n] {
			t.Errorf("no span %q in %v", n, names)
		}
	}
}

// syncBuffer is a log destination the server's goroutines share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Every request has its access log line, with Glance's request id, the
// caller, the route template, the status, the bytes and the duration.
func TestAccessLog(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	g := apptest.New(t, nil, app.WithLogger(log))
	data := []byte("0123456789")
	id := traffic(t, g, nil, data)
	_, h, _ := call(t, g, "GET", "/v2/images/"+id, nil, nil)
	var lines []map[string]any
	for _, l := range strings.Split(buf.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	find := func(method, route string) map[string]any {
		for _, m := range lines {
			if m["method"] == method && m["route"] == route {
				return m
			}
		}
		t.Fatalf("no access log line for %s %s in %v", method, route, lines)
		return nil
	}
	up := find("PUT", "/v2/images/{id}/file")
	if up["status"] != float64(204) || up["bytes_in"] != float64(len(data)) || up["level"] != "INFO" {
		t.Errorf("upload's line: %v", up)
	}
	down := find("GET", "/v2/images/{id}/file")
	if down["bytes_out"] != float64(len(data)) || down["path"] != "/v2/images/"+id+"/file" {
		t.Errorf("download's line: %v", down)
	}
	var show map[string]any
	for _, m := range lines {
		if m["request_id"] == h.Get("X-Openstack-Request-Id") {
			show = m
		}
	}
	if show == nil || show["route"] != "/v2/images/{id}" || show["status"] != float64(200) {
		t.Errorf("show's line: %v", show)
	}
	for _, k := range []string{"project_id", "user_id", "duration", "remote", "bytes_out"} {
		if _, ok := show[k]; !ok {
			t.Errorf("show's line lacks %s: %v", k, show)
		}
	}
}
