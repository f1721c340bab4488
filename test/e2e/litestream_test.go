package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// litestreamVersion is the Litestream TestLitestream builds when none is
// installed (docs/operations.md).
const litestreamVersion = "v0.5.18"

// litestreamBin returns a Litestream binary: GLINT_LITESTREAM_BIN, one on
// PATH, or one built once into ~/.cache/glint/bin (cgo and a large module
// graph: minutes on two cores).
func litestreamBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GLINT_LITESTREAM_BIN"); p != "" {
		return p
	}
	if p, err := exec.LookPath("litestream"); err == nil {
		return p
	}
	cache := os.Getenv("GLINT_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		cache = filepath.Join(home, ".cache", "glint")
	}
	bin := filepath.Join(cache, "bin", "litestream")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	t.Logf("building Litestream %s into %s (once)", litestreamVersion, filepath.Dir(bin))
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	cmd := exec.Command(goTool, "install", "github.com/benbjohnson/litestream/cmd/litestream@"+litestreamVersion)
	cmd.Dir = os.TempDir() // outside this module
	cmd.Env = append(os.Environ(), "GOBIN="+filepath.Dir(bin), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install litestream: %v\n%s", err, out)
	}
	return bin
}

// TestLitestream replicates the database of a glint serve under load to
// a file replica with Litestream, started while the load runs, which takes
// over checkpointing; restores
// the replica while the first glint still runs; and serves the restored
// database with a second glint, which must list exactly the images the
// first one created. Opt-in (GLINT_LITESTREAM=1, make test-litestream):
// it may have to build Litestream first.
func TestLitestream(t *testing.T) {
	skipShort(t)
	if os.Getenv("GLINT_LITESTREAM") != "1" {
		t.Skip("opt-in: GLINT_LITESTREAM=1 (make test-litestream) replicates with Litestream, which it may build first")
	}
	ls := litestreamBin(t)
	a := startServer(t)
	dbPath := filepath.Join(a.dataDir, "glint.db")
	dir := t.TempDir()
	replica := filepath.Join(dir, "replica")
	cfg := filepath.Join(dir, "litestream.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("dbs:\n  - path: %s\n    replica:\n      type: file\n      path: %s\n      sync-interval: 500ms\n", dbPath, replica)), 0o644)

	// The load: 4 clients creating images, 1 paging through them.
	client := &http.Client{Timeout: 60 * time.Second}
	var (
		mu      sync.Mutex
		created = map[string]bool{}
		failed  []string
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				body := fmt.Sprintf(`{"name":"ls-%d-%d","disk_format":"raw","container_format":"bare","tags":["ls"]}`, c, i)
				resp, err := client.Post(a.URL+"/v2/images", "application/json", strings.NewReader(body))
				if err != nil {
					mu.Lock()
					failed = append(failed, err.Error())
					mu.Unlock()
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var img struct{ ID string }
				json.Unmarshal(b, &img)
				mu.Lock()
				if resp.StatusCode != http.StatusCreated || img.ID == "" {
					failed = append(failed, fmt.Sprintf("POST: %d %.200s", resp.StatusCode, b))
				} else {
					created[img.ID] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			if _, err := listAllIDs(client, a.URL); err != nil {
				mu.Lock()
				failed = append(failed, err.Error())
				mu.Unlock()
			}
		}
	})
	// Litestream starts on a server already busy, as on a running
	// deployment: it opens the database while Glint's image cache has it
	// mapped.
	var lsLog bytes.Buffer
	rep := exec.Command(ls, "replicate", "-config", cfg)
	rep.Stdout, rep.Stderr = &lsLog, &lsLog
	time.Sleep(2 * time.Second)
	if err := rep.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stopLitestream := func() {
		if stopped {
			return
		}
		stopped = true
		rep.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- rep.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			rep.Process.Kill()
			<-done
			t.Errorf("litestream did not stop within 30s of SIGTERM")
		}
	}
	defer func() {
		stopLitestream()
		if t.Failed() {
			t.Logf("litestream log:\n%s", tail(lsLog.String(), 8<<10))
		}
	}()
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d requests failed while Litestream replicated, the first: %s", len(failed), failed[0])
	}
	t.Logf("%d images created while Litestream replicated", len(created))

	// Restore while the first glint still serves, until the replica has
	// caught up with every image created.
	restored := filepath.Join(dir, "restored", "glint.db")
	os.MkdirAll(filepath.Dir(restored), 0o755)
	var count int
	deadline := time.Now().Add(60 * time.Second)
	for {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(restored + suffix)
		}
		out, err := exec.Command(ls, "restore", "-config", cfg, "-integrity-check", "quick", "-o", restored, dbPath).CombinedOutput()
		if err != nil {
			t.Fatalf("litestream restore: %v\n%s", err, out)
		}
		b, err := exec.Command("sqlite3", restored, "SELECT count(*) FROM images").CombinedOutput()
		if err != nil {
			t.Fatalf("sqlite3 on the restored database: %v\n%s", err, b)
		}
		fmt.Sscan(string(b), &count)
		if count == len(created) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if count != len(created) {
		t.Fatalf("the restored database has %d images after 60s, %d were created", count, len(created))
	}

	// A second glint serves the restored database.
	b := startServer(t, "[database]\nconnection = sqlite:///"+restored+"\n")
	ids, err := listAllIDs(client, b.URL)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(created) {
		t.Errorf("the second glint lists %d images, %d were created", len(ids), len(created))
	}
	for _, id := range ids {
		if !created[id] {
			t.Errorf("the second glint lists %s, which the first did not create", id)
		}
	}
	id := b.createImage(t, map[string]any{"name": "after-restore", "disk_format": "raw", "container_format": "bare"})
	b.mustGetImage(t, id)
	stopLitestream()
}

// listAllIDs pages through every image, 1,000 at a time.
func listAllIDs(client *http.Client, base string) ([]string, error) {
	var ids []string
	next := "/v2/images?limit=1000"
	for next != "" {
		resp, err := client.Get(base + next)
		if err != nil {
			return ids, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return ids, fmt.Errorf("GET %s: %d %v %.200s", next, resp.StatusCode, err, b)
		}
		var page struct {
			Images []struct{ ID string }
			Next   string
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return ids, err
		}
		for _, img := range page.Images {
			ids = append(ids, img.ID)
		}
		next = page.Next
	}
	return ids, nil
}
