package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// glint cache, as cron runs it, on a node's configuration.
func TestCacheCommand(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "glance-api.conf")
	os.WriteFile(conf, []byte("[glint]\ndata_dir = "+dir+"/data\n[paste_deploy]\nflavor = caching\n"), 0o600)
	noCache := filepath.Join(dir, "no-cache.conf")
	os.WriteFile(noCache, []byte("[glint]\ndata_dir = "+dir+"/data\n"), 0o600)
	const id = "0f3e1a52-5f6e-4b1c-9a0d-7c2b8e4d6a10"
	for _, c := range []struct {
		args       []string
		code       int
		out, errIn string
	}{
		{[]string{"cache"}, 2, "", "want one of"},
		{[]string{"cache", "queue"}, 2, "", "want one of"},
		{[]string{"db", "sync", "--config-file", conf}, 0, "synced", ""},
		{[]string{"cache", "list", "--config-file", noCache}, 1, "", "no image cache"},
		{[]string{"cache", "--config-file", conf, "queue", id}, 0, "", ""},
		{[]string{"cache", "--config-file", conf, "list"}, 0, id + "  queued", ""},
		// The image does not exist: it leaves the queue uncached.
		{[]string{"cache", "--config-file", conf, "prefetch"}, 0, "prefetched 0 images", ""},
		{[]string{"cache", "--config-file", conf, "prune"}, 0, "pruned 0 files, 0 bytes", ""},
		{[]string{"cache", "--config-file", conf, "clean"}, 0, "cleaned 0 files", ""},
		{[]string{"cache", "--config-file", conf, "delete", id}, 0, "", ""},
	} {
		code, out, errOut := runCmd(c.args...)
		if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errOut, c.errIn) {
			t.Errorf("glint %v: code %d, stdout %q, stderr %q", c.args, code, out, errOut)
		}
	}
	if _, out, _ := runCmd("cache", "--config-file", conf, "list"); strings.Contains(out, "queued") {
		t.Errorf("still queued after prefetch: %s", out)
	}
}
