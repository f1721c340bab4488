package obs_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"glint/internal/obs"
	"glint/internal/obs/obstest"
)

func scrape(t *testing.T, m *obs.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

func TestRequestLabels(t *testing.T) {
	m := obs.NewMetrics("1.2.3")
	m.Route("/v2/images/{id}")
	for _, c := range []struct {
		route, method string
		code          int
	}{
		{"/v2/images/{id}", "GET", 200},
		{"/v2/images/{id}", "GET", 200},
		{"/v2/images/{id}", "GET", 404},
		{"/v2/images/0b0a5d9e-0000-4000-8000-000000000000", "GET", 404}, // a raw path is never a label
		{"/v2/images/{id}", "BREW", 501},                                // nor a method a client made up
	} {
		m.Request(c.route, c.method, c.code, 3*time.Millisecond)
	}
	out := scrape(t, m)
	for _, want := range []string{
		`glint_http_request_duration_seconds_count{code="200",method="GET",route="/v2/images/{id}"} 2`,
		`glint_http_request_duration_seconds_count{code="404",method="GET",route="/v2/images/{id}"} 1`,
		`glint_http_request_duration_seconds_count{code="404",method="GET",route="other"} 1`,
		`glint_http_request_duration_seconds_count{code="501",method="OTHER",route="/v2/images/{id}"} 1`,
		`glint_build_info{version="1.2.3"} 1`,
		`go_goroutines`, `process_cpu_seconds_total`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(out, "0b0a5d9e") || strings.Contains(out, "BREW") {
		t.Error("a raw path or method became a label value")
	}
}

// Observing a request whose route, method and status were seen before
// allocates nothing: the histogram child is resolved once.
func TestRequestAllocs(t *testing.T) {
	m := obs.NewMetrics("")
	m.Route("/v2/images")
	m.Request("/v2/images", "GET", 200, time.Millisecond)
	if n := testing.AllocsPerRun(1000, func() {
		m.RequestStarted()
		m.Request("/v2/images", "GET", 200, time.Millisecond)
		m.RequestEnded()
	}); n != 0 {
		t.Errorf("%v allocations per request", n)
	}
	var off *obs.Metrics // [metrics] off
	if n := testing.AllocsPerRun(1000, func() {
		off.RequestStarted()
		off.Request("/v2/images", "GET", 200, time.Millisecond)
		off.StoreOp("file", "read", 10, time.Millisecond, false)
		off.RequestEnded()
	}); n != 0 {
		t.Errorf("%v allocations per request with metrics off", n)
	}
}

func TestStoreAndHealth(t *testing.T) {
	m := obs.NewMetrics("")
	m.StoreOp("file", "write", 1000, time.Second, false)
	m.StoreOp("file", "read", 300, time.Second, false)
	m.StoreOp("file", "read", 0, time.Second, true)
	m.UploadStarted(obs.Upload)
	runs := 0
	m.Health("store", time.Hour, obs.Check{Name: "file", Run: func(context.Context) error { runs++; return nil }},
		obs.Check{Name: "s3", Run: func(context.Context) error { return errors.New("down") }})
	out := scrape(t, m)
	scrape(t, m)
	for _, want := range []string{
		`glint_store_bytes_total{direction="in",store="file"} 1000`,
		`glint_store_bytes_total{direction="out",store="file"} 300`,
		`glint_store_operation_duration_seconds_count{op="read",result="error",store="file"} 1`,
		`glint_uploads_in_flight{kind="upload"} 1`,
		`glint_uploads_in_flight{kind="stage"} 0`,
		`glint_store_up{store="file"} 1`,
		`glint_store_up{store="s3"} 0`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if runs != 1 {
		t.Errorf("the store check ran %d times in two scrapes within its interval, want 1", runs)
	}
}

// The exporter sends spans to an OTLP/HTTP receiver: a server span that
// continues the caller's traceparent, named by its route, with Glance's
// request id, and a client span whose traceparent goes out.
func TestTracingExport(t *testing.T) {
	rc := obstest.NewReceiver(t)
	tr, err := obs.NewTracing(context.Background(), obs.TracingOptions{Endpoint: rc.URL, ServiceName: "glint-test", SampleRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())

	var sent string
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sent = r.Header.Get("Traceparent") }))
	defer peer.Close()

	const caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	r := httptest.NewRequest("GET", "/v2/images/x", nil)
	r.Header.Set("traceparent", caller)
	r, span := tr.StartServer(r)
	ctx, end := tr.Start(r.Context(), "db.images.get")
	end(nil)
	req, _ := http.NewRequestWithContext(ctx, "GET", peer.URL, nil)
	resp, err := (&http.Client{Transport: tr.Transport(nil)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	span.End(obs.RequestInfo{Route: "/v2/images/{id}", Method: "GET", Status: 404, RequestID: "req-1"})
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := rc.WaitFor(t, 10*time.Second, func(s []obstest.Span) bool { return len(s) >= 3 })
	byName := map[string]obstest.Span{}
	for _, s := range spans {
		byName[s.Name] = s
	}
	srv, ok := byName["GET /v2/images/{id}"]
	if !ok {
		t.Fatalf("no server span named by the route in %+v", spans)
	}
	if srv.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" || srv.ParentID != "00f067aa0ba902b7" {
		t.Errorf("server span %s/%s does not continue the caller's traceparent", srv.TraceID, srv.ParentID)
	}
	if srv.Attrs["openstack.request_id"] != "req-1" || srv.Attrs["http.route"] != "/v2/images/{id}" || srv.Service != "glint-test" ||
		srv.Attrs["http.response.status_code"] != "404" || srv.Error {
		t.Errorf("server span: %+v", srv)
	}
	if db := byName["db.images.get"]; db.ParentID != srv.SpanID {
		t.Errorf("db span's parent %s, want the server span %s", db.ParentID, srv.SpanID)
	}
	cl := byName["GET"]
	if cl.TraceID != srv.TraceID || !strings.Contains(sent, cl.SpanID) {
		t.Errorf("client span %+v; traceparent sent %q", cl, sent)
	}
}

// BenchmarkRequestHooks is what metrics add to one show request: the
// in-flight gauge, the request's histogram, the repository call's.
func BenchmarkRequestHooks(b *testing.B) {
	m := obs.NewMetrics("")
	m.Route("/v2/images/{id}")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.RequestStarted()
			m.DBOp("images.get", time.Microsecond, false)
			m.Request("/v2/images/{id}", "GET", 200, time.Millisecond)
			m.RequestEnded()
		}
	})
}
