package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"glint/internal/db/dbtest"
)

// previousRelease is the commit whose glint plays the release before in
// TestRollingUpgrade: main before rolling upgrades existed (its migrations
// are versions 1 to 8, applied by goose alone, with no phases).
const previousRelease = "ddd1b76322135d1864aa16099d16cfc7dafa903d"

// The two binaries, built once for the subtests.
var (
	upgradeBinsOnce     sync.Once
	oldBin, probeBin    string
	upgradeBinsErr      error
	upgradeBinsSkipWhy  string
	upgradeBinsTempRoot string
)

// upgradeBinaries builds glint at previousRelease and the working tree's
// glint with the probe migrations (-tags glint_rollingprobe), once.
func upgradeBinaries(t *testing.T) (old, probe string) {
	t.Helper()
	upgradeBinsOnce.Do(func() {
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			upgradeBinsErr = err
			return
		}
		if out, err := exec.Command("git", "-C", root, "cat-file", "-e", previousRelease+"^{commit}").CombinedOutput(); err != nil {
			upgradeBinsSkipWhy = fmt.Sprintf("commit %s is not in this clone's history (a shallow clone?): %v %s", previousRelease, err, out)
			return
		}
		if upgradeBinsTempRoot, err = os.MkdirTemp("", "glint-upgrade-"); err != nil {
			upgradeBinsErr = err
			return
		}
		src := filepath.Join(upgradeBinsTempRoot, "src")
		os.MkdirAll(src, 0o755)
		archive := exec.Command("git", "-C", root, "archive", "--format=tar", previousRelease)
		var tarball bytes.Buffer
		archive.Stdout = &tarball
		if err := archive.Run(); err != nil {
			upgradeBinsErr = fmt.Errorf("git archive %s: %w", previousRelease, err)
			return
		}
		untar := exec.Command("tar", "-x", "-C", src)
		untar.Stdin = &tarball
		if out, err := untar.CombinedOutput(); err != nil {
			upgradeBinsErr = fmt.Errorf("tar: %v %s", err, out)
			return
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = "/usr/local/go/bin/go"
		}
		oldBin = filepath.Join(upgradeBinsTempRoot, "glint-previous")
		probeBin = filepath.Join(upgradeBinsTempRoot, "glint-probe")
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, b := range []struct{ dir, out, tags string }{{src, oldBin, ""}, {root, probeBin, "glint_rollingprobe"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				args := []string{"build", "-o", b.out}
				if b.tags != "" {
					args = append(args, "-tags", b.tags)
				}
				cmd := exec.Command(goTool, append(args, "./cmd/glint")...)
				cmd.Dir = b.dir
				if out, err := cmd.CombinedOutput(); err != nil {
					errs[i] = fmt.Errorf("go build in %s: %v\n%s", b.dir, err, out)
				}
			}()
		}
		wg.Wait()
		if errs[0] != nil {
			upgradeBinsErr = errs[0]
		} else {
			upgradeBinsErr = errs[1]
		}
	})
	if upgradeBinsSkipWhy != "" {
		t.Skip(upgradeBinsSkipWhy)
	}
	if upgradeBinsErr != nil {
		t.Fatal(upgradeBinsErr)
	}
	return oldBin, probeBin
}

// glintCmd runs a glint command and returns its exit status and output.
func glintCmd(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("%s %v: %v", bin, args, err)
		}
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

func (n *node) stop(t *testing.T) {
	t.Helper()
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(60 * time.Second):
		t.Fatal("glint did not stop within 60s")
	}
}

// imageNames lists the names of the images a node shows.
func imageNames(t *testing.T, n *node) []string {
	t.Helper()
	st, body := call(t, "GET", n.URL+"/v2/images?limit=100", nil)
	if st != 200 {
		t.Fatalf("list on %s: %d", n.URL, st)
	}
	var names []string
	for _, i := range body["images"].([]any) {
		names = append(names, i.(map[string]any)["name"].(string))
	}
	slices.Sort(names)
	return names
}

// TestRollingUpgrade is a rolling upgrade on SQLite (one file, two
// processes), PostgreSQL and MariaDB: the previous release's glint (built
// from previousRelease) serves, and restarts; the new release expands the
// database under it (here the new release's newest migrations are the test-only
// probe ones, which add a column and an index to Glance's images table,
// fill it, and drop it again); both serve reads and writes side by side,
// including uploads one serves and the other downloads; the data
// migration runs again for rows written after it; the previous release is
// stopped; the new one contracts and serves alone.
//
// What it proves: the previous release keeps working on a database whose
// goose table holds versions it does not know and whose images table has
// a column it does not know, while another process changes the schema;
// the phases run in glance-manage's order with its exit statuses. What it
// does not: that a real future migration is correctly classified (each
// one's author declares its phase; this test is the harness to check it).
func TestRollingUpgrade(t *testing.T) {
	skipShort(t)
	old, probe := upgradeBinaries(t)
	t.Cleanup(func() { os.RemoveAll(upgradeBinsTempRoot) })
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			c := dbtest.New(t, dialect)
			dir := t.TempDir()
			conf := fmt.Sprintf("[database]\nconnection = %s\n[glance_store]\nfilesystem_store_datadir = %s\n[glint]\ndata_dir = %s\n",
				c.URL, filepath.Join(dir, "images"), filepath.Join(dir, "data"))
			confFile := filepath.Join(dir, "glint.conf")
			os.WriteFile(confFile, []byte(conf), 0o644)
			dbc := func(bin, sub string) (int, string) {
				t.Helper()
				return glintCmd(t, bin, "db", sub, "--config-file", confFile)
			}
			expect := func(bin, sub string, code int, out string) {
				t.Helper()
				if got, o := dbc(bin, sub); got != code || !strings.Contains(o, out) {
					t.Fatalf("%s db %s: exit %d, want %d with %q:\n%s", filepath.Base(bin), sub, got, code, out, o)
				}
			}
			create := func(n *node, name string) string {
				t.Helper()
				st, img := call(t, "POST", n.URL+"/v2/images", strings.NewReader(
					`{"name": "`+name+`", "disk_format": "raw", "container_format": "bare", "tags": ["rolling"]}`))
				if st != 201 {
					t.Fatalf("create %s on %s: %d %v", name, n.URL, st, img)
				}
				id := img["id"].(string)
				if st, _ := call(t, "PUT", n.URL+"/v2/images/"+id+"/file", strings.NewReader(name)); st != 204 {
					t.Fatalf("upload %s on %s: %d", name, n.URL, st)
				}
				return id
			}
			download := func(n *node, id, want string) {
				t.Helper()
				st, img := call(t, "GET", n.URL+"/v2/images/"+id, nil)
				fst, data := get(t, n.URL+"/v2/images/"+id+"/file")
				if st != 200 || img["status"] != "active" || fst != 200 || string(data) != want {
					t.Fatalf("image %s on %s: %d %v, data %d %q", id, n.URL, st, img["status"], fst, data)
				}
			}

			expect(old, "sync", 0, "synced successfully")
			a := startNodeOf(t, old, filepath.Join(dir, "a"), conf)
			ids := map[string]string{"a1": create(a, "a1")}

			expect(probe, "check", 3, "glint db expand")
			expect(probe, "contract", 1, "") // not before expand
			expect(probe, "expand", 0, "applied "+versionsSince(t, 8)+", 90001")
			expect(probe, "check", 4, "glint db migrate")
			// The previous release goes on under the expanded schema.
			ids["a2"] = create(a, "a2")
			download(a, ids["a1"], "a1")
			expect(probe, "migrate", 0, "Migrated 2 rows")
			expect(old, "check", 0, "up to date") // it sees nothing it knows pending

			// A node of the release before restarts mid-upgrade: its goose
			// finds versions it does not know, and nothing of its own to do.
			a.stop(t)
			a = startNodeOf(t, old, filepath.Join(dir, "a2"), conf)
			download(a, ids["a2"], "a2")

			b := startNodeOf(t, probe, filepath.Join(dir, "b"), conf)
			ids["a3"] = create(a, "a3")
			ids["b1"] = create(b, "b1")
			for _, n := range []*node{a, b} {
				if got := imageNames(t, n); !slices.Equal(got, []string{"a1", "a2", "a3", "b1"}) {
					t.Fatalf("%s lists %v", n.URL, got)
				}
			}
			download(b, ids["a3"], "a3")
			download(a, ids["b1"], "b1")
			if st, _ := call(t, "DELETE", a.URL+"/v2/images/"+ids["a2"], nil); st != 204 {
				t.Fatalf("delete on the previous release: %d", st)
			}
			if st := patchJSON(t, b.URL+"/v2/images/"+ids["a1"], `[{"op": "add", "path": "/os_distro", "value": "cirros"}]`); st != 200 {
				t.Fatalf("update on the new release: %d", st)
			}
			if st := patchJSON(t, a.URL+"/v2/images/"+ids["b1"], `[{"op": "add", "path": "/os_distro", "value": "debian"}]`); st != 200 {
				t.Fatalf("update on the previous release: %d", st)
			}

			// Rows written since: migrate again before contract.
			expect(probe, "check", 4, "glint db migrate")
			expect(probe, "contract", 1, "")
			expect(probe, "migrate", 0, "Migrated 2 rows")
			expect(probe, "check", 5, "glint db contract")

			a.stop(t)
			expect(probe, "contract", 0, "applied 90003")
			expect(probe, "check", 0, "up to date")
			expect(probe, "sync", 0, "up to date")
			ids["b2"] = create(b, "b2")
			if got := imageNames(t, b); !slices.Equal(got, []string{"a1", "a3", "b1", "b2"}) {
				t.Fatalf("after contract the new release lists %v", got)
			}
			download(b, ids["a1"], "a1")
			download(b, ids["b2"], "b2")
			b.stop(t)
			// A restart of the new release changes nothing.
			b = startNodeOf(t, probe, filepath.Join(dir, "b2"), conf)
			download(b, ids["b1"], "b1")
		})
	}
}

// versionsSince lists, as the db commands print them, Glint's migration
// versions after after (the previous release's last).
func versionsSince(t *testing.T, after int) string {
	t.Helper()
	ents, err := os.ReadDir("../../internal/db/migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	var vs []string
	for _, e := range ents {
		n, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err == nil && n > after {
			vs = append(vs, strconv.Itoa(n))
		}
	}
	return strings.Join(vs, ", ")
}
