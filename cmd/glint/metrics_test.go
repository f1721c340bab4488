package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"glint/internal/config"
)

// With [metrics] listen, /metrics is served on its own listener, and
// only there.
func TestMetricsListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	maddr := ln.Addr().String()
	ln.Close()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.BindPort = 0
	cfg.MetricsEnabled, cfg.MetricsListen = true, maddr
	cfg.Finish()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serveWith(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	get := func(u string) (int, string) {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	get("http://" + addr + "/v2/images")
	if code, body := get("http://" + maddr + "/metrics"); code != 200 ||
		!strings.Contains(body, `glint_http_request_duration_seconds_count{code="200",method="GET",route="/v2/images"} 1`) ||
		!strings.Contains(body, `glint_build_info{version="`+version+`"} 1`) {
		t.Errorf("GET /metrics on its listener: %d %.300s", code, body)
	}
	if code, _ := get("http://" + maddr + "/v2/images"); code != 404 {
		t.Errorf("the metrics listener serves the API: %d", code)
	}
	if code, body := get("http://" + addr + "/metrics"); code == 200 || strings.Contains(body, "glint_") {
		t.Errorf("GET /metrics on the API port: %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// use_json writes the log as JSON lines.
func TestLoggerJSON(t *testing.T) {
	cfg := config.Default()
	cfg.UseJSON = true
	var sb strings.Builder
	log, closeLog, err := newLogger(cfg, &sb)
	if err != nil {
		t.Fatal(err)
	}
	defer closeLog()
	log.Info("hello", "k", 1)
	if !strings.HasPrefix(sb.String(), `{"time":`) || !strings.Contains(sb.String(), `"msg":"hello","k":1}`) {
		t.Errorf("log line %q", sb.String())
	}
}
