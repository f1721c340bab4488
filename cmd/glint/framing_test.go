package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
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

// glint serve refuses a request with both Content-Length and
// Transfer-Encoding (request smuggling): 400, the connection closes, and
// the request hidden in its body is never answered nor done. Sound
// pipelined requests are answered one by one.
func TestServeRefusesSmuggling(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.BindPort = 0 // any free port
	cfg.Finish()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serveWith(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), ready) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}

	res, err := http.Post("http://"+addr+"/v2/images", "application/json", strings.NewReader(`{"name": "kept"}`))
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("create: %v %v", res, err)
	}
	var img struct{ ID string }
	json.NewDecoder(res.Body).Decode(&img)
	res.Body.Close()
	get := "GET /v2/images/" + img.ID + " HTTP/1.1\r\nHost: glint\r\n\r\n"

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	read := func() *http.Response {
		t.Helper()
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		return res
	}
	io.WriteString(conn, get+get)
	for i := range 2 {
		if res := read(); res.StatusCode != 200 || res.Close {
			t.Fatalf("pipelined GET %d: %d, close %v", i, res.StatusCode, res.Close)
		}
	}

	smuggled := "DELETE /v2/images/" + img.ID + " HTTP/1.1\r\nHost: glint\r\n\r\n"
	body := "0\r\n\r\n" + smuggled
	io.WriteString(conn, fmt.Sprintf("POST /v2/images HTTP/1.1\r\nHost: glint\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n%s", len(body), body))
	if res := read(); res.StatusCode != 400 || !res.Close {
		t.Fatalf("smuggling: %d, close %v", res.StatusCode, res.Close)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := br.ReadByte(); err == nil {
		t.Fatalf("more after the 400: %q", b)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the connection stays open")
	}
	res, err = http.Get("http://" + addr + "/v2/images/" + img.ID)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("the image after the smuggled DELETE: %v %v", res, err)
	}
	res.Body.Close()
}
