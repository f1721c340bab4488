package bench_test

// Benchmarks of Glint's hot paths, reached from outside the packages
// through their exported API only (go test -bench . ./bench/):
//
//	BenchmarkMD5SHA512  md5 and sha512 of 1 MiB chunks (store.NewHash, as
//	                    uploads use them): alone, serially through an
//	                    io.MultiWriter (what Glint's upload does today), and
//	                    concurrently in two goroutines
//	BenchmarkStoreAdd   filesystem.Driver.Add of 64 MiB, fsync included
//	BenchmarkAPI        the API handler in process (no network): create,
//	                    show (the image view's JSON encoding), patch, list
//	BenchmarkAPIUpload  PUT /file of 64 MiB through the handler: hashing,
//	                    store write and fsync, as one request
//	BenchmarkObs        show, list, upload and download with [metrics]
//	                    and [tracing] off and on (obs_test.go)
//
// They need no running server. Timing stays out of pass/fail tests: these
// only fail when a request does.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"glint/bench"
	"glint/internal/app/apptest"
	"glint/internal/store"
	"glint/internal/store/filesystem"
)

var pattern = sync.OnceValue(func() *bench.Pattern { return bench.NewPattern(64 << 20) })

// chunks returns n consecutive 1 MiB chunks of the benchmark's content.
func chunks(n int) [][]byte {
	var out [][]byte
	pattern().Each(int64(n)*bench.Chunk, func(b []byte) error { out = append(out, b); return nil })
	return out
}

func newHash(b *testing.B, algo string) hash.Hash {
	h, err := store.NewHash(algo)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

func BenchmarkMD5SHA512(b *testing.B) {
	cs := chunks(64)
	for _, algo := range []string{"md5", "sha512"} {
		b.Run(algo, func(b *testing.B) {
			h := newHash(b, algo)
			b.SetBytes(bench.Chunk)
			i := 0
			for b.Loop() {
				h.Write(cs[i%len(cs)])
				i++
			}
		})
	}
	b.Run("serial-multiwriter", func(b *testing.B) {
		w := io.MultiWriter(newHash(b, "md5"), newHash(b, "sha512"))
		b.SetBytes(bench.Chunk)
		i := 0
		for b.Loop() {
			w.Write(cs[i%len(cs)])
			i++
		}
	})
	b.Run("together-2-goroutines", func(b *testing.B) {
		m, s := newHash(b, "md5"), newHash(b, "sha512")
		mc, sc := make(chan []byte, 4), make(chan []byte, 4)
		var wg sync.WaitGroup
		for _, p := range []struct {
			c chan []byte
			h hash.Hash
		}{{mc, m}, {sc, s}} {
			wg.Go(func() {
				for c := range p.c {
					p.h.Write(c)
				}
			})
		}
		b.SetBytes(bench.Chunk)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			c := cs[i%len(cs)]
			mc <- c
			sc <- c
		}
		close(mc)
		close(sc)
		wg.Wait() // inside the timing: the clock runs until the last chunk is hashed
	})
}

const dataSize = 64 << 20

func dataBytes() []byte {
	var buf bytes.Buffer
	pattern().Each(dataSize, func(c []byte) error { buf.Write(c); return nil })
	return buf.Bytes()
}

func BenchmarkStoreAdd(b *testing.B) {
	d, err := filesystem.New(b.TempDir(), 0)
	if err != nil {
		b.Fatal(err)
	}
	data := dataBytes()
	ctx := context.Background()
	b.SetBytes(dataSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		loc, _, err := d.Add(ctx, fmt.Sprintf("img-%d", i), bytes.NewReader(data), dataSize)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		d.Delete(ctx, loc)
		b.StartTimer()
	}
}

// newAPI builds Glint's handler (app.New, through apptest) on a fresh
// SQLite database and filesystem store, configured as the embedded default.
func newAPI(b *testing.B) http.Handler {
	return apptest.New(b, nil).Handler()
}

func serve(b *testing.B, h http.Handler, method, path, ctype string, body io.Reader, want int) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, body)
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	r.Header.Set("Accept", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != want {
		b.Fatalf("%s %s: %d (want %d): %.200s", method, path, w.Code, want, w.Body.String())
	}
	return w
}

func create(b *testing.B, h http.Handler, i int) string {
	body := fmt.Sprintf(`{"name":"img-%d","disk_format":"raw","container_format":"bare","tags":["bench-t%d"],"bench_distro":"d%d","bench_arch":"x86_64"}`, i, i%10, i%10)
	w := serve(b, h, "POST", "/v2/images", "application/json", strings.NewReader(body), http.StatusCreated)
	var v struct{ ID string }
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil || v.ID == "" {
		b.Fatalf("create: %v %s", err, w.Body.String())
	}
	return v.ID
}

func BenchmarkAPI(b *testing.B) {
	h := newAPI(b)
	const n = 1000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = create(b, h, i)
	}
	b.Run("create", func(b *testing.B) {
		i := n
		for b.Loop() {
			create(b, h, i)
			i++
		}
	})
	b.Run("show", func(b *testing.B) {
		i := 0
		for b.Loop() {
			serve(b, h, "GET", "/v2/images/"+ids[i%n], "", nil, http.StatusOK)
			i++
		}
	})
	b.Run("patch", func(b *testing.B) {
		i := 0
		for b.Loop() {
			body := fmt.Sprintf(`[{"op":"replace","path":"/name","value":"p-%d"},{"op":"add","path":"/bench_patch","value":"%d"}]`, i, i)
			serve(b, h, "PATCH", "/v2/images/"+ids[i%n], bench.PatchMedia, strings.NewReader(body), http.StatusOK)
			i++
		}
	})
	for _, q := range []string{"limit=20", "limit=200", "limit=20&tag=bench-t3", "limit=20&bench_distro=d3"} {
		b.Run("list-"+q, func(b *testing.B) {
			for b.Loop() {
				serve(b, h, "GET", "/v2/images?"+q, "", nil, http.StatusOK)
			}
		})
	}
}

func BenchmarkAPIUpload(b *testing.B) {
	h := newAPI(b)
	data := dataBytes()
	b.SetBytes(dataSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		id := create(b, h, i)
		b.StartTimer()
		r := httptest.NewRequest("PUT", "/v2/images/"+id+"/file", bytes.NewReader(data))
		r.Header.Set("Content-Type", "application/octet-stream")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusNoContent {
			b.Fatalf("upload: %d %s", w.Code, w.Body.String())
		}
		b.StopTimer()
		serve(b, h, "DELETE", "/v2/images/"+id, "", nil, http.StatusNoContent)
		b.StartTimer()
	}
}
