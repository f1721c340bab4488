package bench_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"glint/internal/app/apptest"
	"glint/internal/config"
)

// BenchmarkObs is the hot paths (show, list, upload and download of 4
// MiB) through the API handler in process, with observability off (the
// default), with [metrics] on (the registry scraped before each
// sub-benchmark), and with [tracing] on as well, exporting to an OTLP
// endpoint that discards what it gets. The modes of one path run one
// after the other; run the test binary several times with -count 1 (not
// -count N, which repeats each mode in a row) so that the machine's
// drift falls on every mode alike:
//
//	go test -c -o bench.test ./bench/
//	for i in 1 2 3 4 5; do ./bench.test -test.run '^$' -test.bench BenchmarkObs -test.benchmem -test.benchtime 0.5s; done
func BenchmarkObs(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	b.Cleanup(sink.Close) // after the nodes' cleanups, which flush their spans to it
	modes := []struct {
		name   string
		adjust func(*config.Config)
	}{
		{"off", nil},
		{"metrics", func(c *config.Config) { c.MetricsEnabled = true }},
		{"metrics+tracing", func(c *config.Config) {
			c.MetricsEnabled, c.TracingEnabled, c.TracingEndpoint = true, true, sink.URL+"/v1/traces"
		}},
	}
	const n, size = 200, 4 << 20
	data := bytes.Repeat([]byte("glint-obs"), size/9+1)[:size]
	type node struct {
		h        http.Handler
		ids      []string
		download string
	}
	nodes := make([]node, len(modes))
	for i, m := range modes {
		g := apptest.New(b, m.adjust)
		nd := node{h: g.Handler()}
		for j := range n {
			nd.ids = append(nd.ids, create(b, nd.h, j))
		}
		nd.download = create(b, nd.h, n)
		put(b, nd.h, nd.download, data)
		nodes[i] = nd
	}
	scrape := func(nd node) {
		r := httptest.NewRequest("GET", "/metrics", nil)
		nd.h.ServeHTTP(httptest.NewRecorder(), r)
	}
	for _, op := range []string{"show", "list", "download", "upload"} {
		for i, m := range modes {
			nd := nodes[i]
			scrape(nd)
			b.Run(op+"/"+m.name, func(b *testing.B) {
				switch op {
				case "show":
					j := 0
					for b.Loop() {
						serve(b, nd.h, "GET", "/v2/images/"+nd.ids[j%n], "", nil, http.StatusOK)
						j++
					}
				case "list":
					for b.Loop() {
						serve(b, nd.h, "GET", "/v2/images?limit=20", "", nil, http.StatusOK)
					}
				case "download":
					b.SetBytes(size)
					for b.Loop() {
						r := httptest.NewRequest("GET", "/v2/images/"+nd.download+"/file", nil)
						w := &discardWriter{h: http.Header{}}
						nd.h.ServeHTTP(w, r)
						if w.code != http.StatusOK || w.n != size {
							b.Fatalf("download: %d, %d bytes", w.code, w.n)
						}
					}
				case "upload":
					b.SetBytes(size)
					j := 0
					for b.Loop() {
						b.StopTimer()
						id := create(b, nd.h, 1000+j)
						j++
						b.StartTimer()
						put(b, nd.h, id, data)
						b.StopTimer()
						serve(b, nd.h, "DELETE", "/v2/images/"+id, "", nil, http.StatusNoContent)
						b.StartTimer()
					}
				}
			})
		}
	}
}

func put(b *testing.B, h http.Handler, id string, data []byte) {
	r := httptest.NewRequest("PUT", "/v2/images/"+id+"/file", bytes.NewReader(data))
	r.Header.Set("Content-Type", "application/octet-stream")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNoContent {
		b.Fatalf("upload: %d %s", w.Code, w.Body.String())
	}
}

// discardWriter is a ResponseWriter that counts and drops the body, so
// that a download's cost is the server's, not a growing buffer's.
type discardWriter struct {
	h    http.Header
	code int
	n    int64
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(c int) {
	if w.code == 0 {
		w.code = c
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.n += int64(len(p))
	return len(p), nil
}
