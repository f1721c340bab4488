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
	"sync/atomic"
	"testing"
	"time"
)

// sharedLoad is how long TestSQLiteShared runs its load; the whole test
// takes about twice that on a busy two-core machine.
const sharedLoad = 15 * time.Second

// TestSQLiteShared is issue 29: glint serve on its embedded SQLite
// database under a mixed load (8 clients creating images, 2 paging through
// every image 1,000 at a time) while other processes use the same file as
// SQLite allows them to: the sqlite3 shell checkpointing the WAL (PASSIVE,
// FULL, RESTART and TRUNCATE in turn) and taking online backups (VACUUM
// INTO, and the shell's .backup) and with "glint db backup". Not one request
// may fail, every image created must be there afterwards, and every
// backup must be a sound database.
func TestSQLiteShared(t *testing.T) {
	skipShort(t)
	sqlite3, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Fatalf("the sqlite3 shell is missing (apt-get install sqlite3; scripts/test installs it): %v", err)
	}
	s := startServer(t)
	dbPath := filepath.Join(s.dataDir, "glint.db")
	backups := t.TempDir()

	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var (
		mu       sync.Mutex
		failures []string
		nfail    atomic.Int64
		creates  atomic.Int64
		pages    atomic.Int64
		created  = map[string]bool{}
	)
	fail := func(format string, args ...any) {
		if nfail.Add(1) <= 10 {
			mu.Lock()
			failures = append(failures, fmt.Sprintf(format, args...))
			mu.Unlock()
		}
	}
	do := func(method, path string, body []byte) (int, []byte, error) {
		req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}

	ctx, cancel := context.WithTimeout(context.Background(), sharedLoad)
	defer cancel()
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				body, _ := json.Marshal(map[string]any{
					"name": fmt.Sprintf("shared-%d-%d", c, i), "disk_format": "raw", "container_format": "bare",
					"shared_client": fmt.Sprint(c), "tags": []string{"shared", fmt.Sprintf("c%d", c)},
				})
				code, b, err := do(http.MethodPost, "/v2/images", body)
				if err != nil || code != http.StatusCreated {
					fail("POST /v2/images: %d %v %.300s", code, err, b)
					continue
				}
				var img struct{ ID string }
				if err := json.Unmarshal(b, &img); err != nil || img.ID == "" {
					fail("POST /v2/images: bad body %.300s", b)
					continue
				}
				creates.Add(1)
				mu.Lock()
				created[img.ID] = true
				mu.Unlock()
			}
		})
	}
	listAll := func() (ids []string, err error) {
		next := "/v2/images?limit=1000"
		for next != "" {
			code, b, err := do(http.MethodGet, next, nil)
			if err != nil || code != http.StatusOK {
				return ids, fmt.Errorf("GET %s: %d %v %.300s", next, code, err, b)
			}
			pages.Add(1)
			var page struct {
				Images []struct{ ID string }
				Next   string
			}
			if err := json.Unmarshal(b, &page); err != nil {
				return ids, fmt.Errorf("GET %s: %v", next, err)
			}
			for _, img := range page.Images {
				ids = append(ids, img.ID)
			}
			next = page.Next
		}
		return ids, nil
	}
	for range 2 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if _, err := listAll(); err != nil {
					fail("%v", err)
				}
			}
		})
	}

	// The other processes: one a second, as an operator's cron job or a
	// backup tool would, each opening the database afresh.
	var other []string
	var otherMu sync.Mutex
	shell := func(args ...string) {
		cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer ccancel()
		cmd := exec.CommandContext(cctx, sqlite3, append([]string{"-bail", "-cmd", ".timeout 10000", dbPath}, args...)...)
		out, err := cmd.CombinedOutput()
		otherMu.Lock()
		defer otherMu.Unlock()
		if err != nil {
			other = append(other, fmt.Sprintf("sqlite3 %s: %v: %s", strings.Join(args, " "), err, out))
		}
	}
	var backupFiles []string
	wg.Go(func() {
		modes := []string{"PASSIVE", "FULL", "RESTART", "TRUNCATE"}
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			shell("PRAGMA wal_checkpoint(" + modes[n%len(modes)] + ")")
			switch n % 5 {
			case 1:
				f := filepath.Join(backups, fmt.Sprintf("vacuum-%d.db", n))
				shell("VACUUM INTO '" + f + "'")
				backupFiles = append(backupFiles, f)
			case 3:
				f := filepath.Join(backups, fmt.Sprintf("shell-%d.db", n))
				shell(".backup '" + f + "'")
				backupFiles = append(backupFiles, f)
			case 4:
				f := filepath.Join(backups, fmt.Sprintf("glint-%d.db", n))
				cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
				out, err := exec.CommandContext(cctx, glintBin, "db", "backup", "--config-file", s.conf, "--data-dir", s.dataDir, f).CombinedOutput()
				ccancel()
				if err != nil {
					otherMu.Lock()
					other = append(other, fmt.Sprintf("glint db backup: %v: %s", err, out))
					otherMu.Unlock()
				}
				backupFiles = append(backupFiles, f)
			}
		}
	})
	wg.Wait()

	t.Logf("%d images created, %d pages of up to 1,000 listed, %d requests failed, %d backups", creates.Load(), pages.Load(), nfail.Load(), len(backupFiles))
	for _, f := range failures {
		t.Errorf("failed: %s", f)
	}
	for _, o := range other {
		t.Errorf("other process: %s", o)
	}
	if creates.Load() == 0 || pages.Load() == 0 {
		t.Errorf("no load ran: %d creates, %d pages", creates.Load(), pages.Load())
	}

	// Every image answered 201 is there, and no other.
	ids, err := listAll()
	if err != nil {
		t.Fatalf("listing after the load: %v", err)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	for id := range created {
		if !seen[id] {
			t.Errorf("image %s was created (201) but is not listed", id)
		}
	}
	if len(seen) != len(created) {
		t.Errorf("%d images listed, %d created", len(seen), len(created))
	}
	for _, f := range backupFiles {
		checkSQLiteBackup(t, sqlite3, f)
	}
}

// checkSQLiteBackup checks that f is a sound Glint database: its integrity
// check passes and it has an images table.
func checkSQLiteBackup(t *testing.T, sqlite3, f string) {
	t.Helper()
	if _, err := os.Stat(f); err != nil {
		t.Errorf("backup %s: %v", f, err)
		return
	}
	out, err := exec.Command(sqlite3, "-bail", f, "PRAGMA integrity_check", "SELECT count(*) FROM images").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "ok\n") {
		t.Errorf("backup %s: %v: %s", filepath.Base(f), err, out)
	}
}
