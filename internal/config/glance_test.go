package config

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite glance-options.txt from the configuration files Debian's Glance ships")

// The configuration files of Debian's glance-common: the API server's, and
// those of the programs whose work glint's subcommands do (glint scrub,
// glint db, the cache).
var shippedConfs = []string{"glance-api.conf", "glance-image-import.conf", "glance-scrubber.conf", "glance-cache.conf", "glance-manage.conf"}

// shippedGlanceDir finds the sample configurations Debian's glance-common
// installs in /usr/share/glance-common; without the package, it extracts
// them from the package itself (apt-get download, dpkg-deb -x). Under
// -short, or when neither works outside CI, the test is skipped.
func shippedGlanceDir(t *testing.T) string {
	t.Helper()
	const dir = "/usr/share/glance-common"
	if _, err := os.Stat(filepath.Join(dir, shippedConfs[0])); err == nil {
		return dir
	}
	if testing.Short() {
		t.Skip("-short: needs Debian's glance-common (its sample glance-api.conf)")
	}
	tmp := t.TempDir()
	dl := exec.Command("apt-get", "download", "glance-common")
	dl.Dir = tmp
	out, err := dl.CombinedOutput()
	if err == nil {
		var debs []string
		debs, err = filepath.Glob(filepath.Join(tmp, "glance-common_*.deb"))
		if err == nil && len(debs) == 1 {
			out, err = exec.Command("dpkg-deb", "-x", debs[0], filepath.Join(tmp, "root")).CombinedOutput()
		}
	}
	extracted := filepath.Join(tmp, "root", dir)
	if _, serr := os.Stat(filepath.Join(extracted, shippedConfs[0])); err != nil || serr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no glance-common: %v %s", err, out)
		}
		t.Skipf("no glance-common (CI=true makes this a failure): %v %s", err, out)
	}
	return extracted
}

var (
	sampleSection    = regexp.MustCompile(`^\[([^\]]+)\]\s*$`)
	sampleOption     = regexp.MustCompile(`^#?([A-Za-z_][A-Za-z0-9_-]*) =( |$)`)
	sampleDeprecated = regexp.MustCompile(`^# Deprecated group/name - \[([^\]]+)\]/([A-Za-z0-9_-]+)`)
)

// sampleOptions lists the options a sample configuration knows: every
// option line under its section (commented out, as the generator writes
// them, or set), and every deprecated name it mentions.
func sampleOptions(text string) []string {
	var out []string
	section := ""
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if m := sampleSection.FindStringSubmatch(line); m != nil {
			section = normSection(m[1])
		} else if m := sampleOption.FindStringSubmatch(line); m != nil && section != "" {
			out = append(out, section+"."+normKey(m[1]))
		} else if m := sampleDeprecated.FindStringSubmatch(line); m != nil {
			out = append(out, normSection(m[1])+"."+normKey(m[2]))
		}
	}
	return out
}

// shippedOptions is every option the shipped files know, sorted.
func shippedOptions(t *testing.T) []string {
	dir := shippedGlanceDir(t)
	var all []string
	for _, name := range shippedConfs {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		opts := sampleOptions(string(data))
		if len(opts) < 10 {
			t.Fatalf("%s: only %d options found; is it the generated sample?", name, len(opts))
		}
		all = append(all, opts...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// TestGlanceKnownOptions: glance-options.txt, which Glint embeds to tell
// Glance's options from typos, holds every option of the glance-api.conf
// Debian's Glance ships.
func TestGlanceKnownOptions(t *testing.T) {
	want := shippedOptions(t)
	if *update {
		text := "# Options of Debian's Glance 25.1 (glance-common: " + strings.Join(shippedConfs, ", ") + "),\n" +
			"# one section.option a line. Made by: go test ./internal/config -run TestGlanceKnownOptions -update\n" +
			strings.Join(want, "\n") + "\n"
		if err := os.WriteFile("glance-options.txt", []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	var missing []string
	for _, id := range want {
		if !glanceKnown[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		t.Errorf("glance-options.txt lacks %d options of the shipped files (rerun with -update): %v", len(missing), missing)
	}
}

// TestGlanceOptionsNeverUnknown: no option Glance knows is reported
// unknown: not the shipped glance-api.conf as Debian installs it, not
// the suite's own configurations, and not any option of the shipped
// files set on its own. Each is honoured or reported unused.
func TestGlanceOptionsNeverUnknown(t *testing.T) {
	dir := shippedGlanceDir(t)
	tmp := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	load := func(name string, files ...string) *Config {
		t.Helper()
		c, err := Load(files, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(c.Ignored) > 0 {
			t.Errorf("%s: reported unknown: %v", name, c.Ignored)
		}
		return c
	}

	// Debian's files as installed.
	var shipped []string
	for _, name := range shippedConfs {
		shipped = append(shipped, filepath.Join(dir, name))
	}
	c := load("the shipped files", shipped...)
	for _, id := range []string{"keystone_authtoken.region_name", "oslo_concurrency.lock_path"} {
		if !slices.Contains(c.Unused, id) {
			t.Errorf("the shipped glance-api.conf sets %s; Unused = %v", id, c.Unused)
		}
	}

	// Every option Glance knows, set alone (value "1" for what Glint
	// does not read; Glint's own options are known by definition).
	r := newResolver(nil)
	var b strings.Builder
	n := 0
	for _, id := range shippedOptions(t) {
		if r.known[id] != nil {
			continue
		}
		sec, key, _ := strings.Cut(id, ".")
		b.WriteString("[" + sec + "]\n" + key + " = 1\n")
		n++
	}
	c = load("every option of the shipped files", write("every.conf", b.String()))
	if len(c.Unused) != n {
		t.Errorf("%d options reported unused, want %d", len(c.Unused), n)
	}

	// The options Glint accepts on purpose, and the reserved stores.
	b.Reset()
	for _, a := range accepted {
		sec, key, _ := strings.Cut(a.id, ".")
		b.WriteString("[" + sec + "]\n" + key + " = 1\n")
	}
	for _, s := range reservedStores {
		for _, o := range reservedStoreOptions[1:] {
			b.WriteString("[" + s + "]\n" + o + " = 1\n")
		}
	}
	load("accepted options", write("accepted.conf", b.String()))

	// The glance-api.conf scripts/reference-glance.sh writes for the
	// reference Glance, which the suite also gives Glint.
	script, err := os.ReadFile("../../scripts/reference-glance.sh")
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := strings.Cut(string(script), "cat >\"$CONF\" <<EOF\n")
	body, _, ok2 := strings.Cut(body, "\nEOF\n")
	if !ok || !ok2 {
		t.Fatal("reference-glance.sh: its glance-api.conf here-document not found")
	}
	body = strings.NewReplacer("$DIR", tmp, "$PORT", "9293", "$FLAVOR_LINE", "flavor = keystone").Replace(body)
	load("reference-glance.sh's glance-api.conf", write("reference.conf", body))

	// And a typo is still unknown.
	c, err = Load([]string{write("typo.conf", "[oslo_limit]\nendpont_id = x\n[DEFAULT]\nenable_v2_api = true\n")}, nil)
	if err != nil || !slices.Equal(c.Ignored, []string{"oslo_limit.endpont_id"}) || !slices.Equal(c.Unused, []string{"DEFAULT.enable_v2_api"}) {
		t.Errorf("typo: %v, Ignored %v, Unused %v", err, c.Ignored, c.Unused)
	}
}

// TestDocsListAcceptedOptions: docs/configuration.md gives the reason of
// every option Glint accepts without effect.
func TestDocsListAcceptedOptions(t *testing.T) {
	data, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range AcceptedOptions() {
		if row := "| `[" + a.Section + "] " + a.Name + "` | " + a.Reason + " |"; !strings.Contains(string(data), row) {
			t.Errorf("docs/configuration.md lacks the row %q", row)
		}
	}
}

// TestStagingDir: where the staging area is, as Glance's configuration
// says, and under data_dir only for the zero-configuration default or a
// data_dir somebody chose.
func TestStagingDir(t *testing.T) {
	multi := "[DEFAULT]\nenabled_backends = fast:file\n[glance_store]\ndefault_backend = fast\n"
	for _, tc := range []struct {
		name, conf string
		want       string
	}{
		{"a file naming none of them: Glance's node_staging_uri default", "[DEFAULT]\nbind_port = 9293\n", GlanceStagingDir},
		{"enabled_backends naming none: Glance's reserved store default", multi, GlanceStagingStoreDir},
		{"data_dir", "[glint]\ndata_dir = /srv/glint\n", "/srv/glint/staging"},
		{"node_staging_uri", "[DEFAULT]\nnode_staging_uri = file:///srv/stage\n", "/srv/stage"},
		{"node_staging_uri over the reserved store without enabled_backends",
			"[DEFAULT]\nnode_staging_uri = file:///srv/stage\n[os_glance_staging_store]\nfilesystem_store_datadir = /srv/reserved\n", "/srv/stage"},
		{"the reserved store over node_staging_uri with enabled_backends",
			multi + "[DEFAULT]\nnode_staging_uri = file:///srv/stage\n[os_glance_staging_store]\nfilesystem_store_datadir = /srv/reserved\n", "/srv/reserved"},
		{"node_staging_uri with enabled_backends and no reserved store", multi + "[DEFAULT]\nnode_staging_uri = file:///srv/stage\n", "/srv/stage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "g.conf")
			os.WriteFile(p, []byte(tc.conf), 0o644)
			c, err := Load([]string{p}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if dir, from := c.StagingDir(); dir != tc.want {
				t.Errorf("StagingDir() = %q (from %s), want %q", dir, from, tc.want)
			}
		})
	}
	// No configuration file: under data_dir, made absolute.
	if dir, _ := Default().StagingDir(); dir != filepath.ToSlash(mustAbs(t, "glint-data/staging")) {
		t.Errorf("zero configuration: %q", dir)
	}
	// --data-dir (set after Load, then Finish) counts as chosen.
	p := filepath.Join(t.TempDir(), "g.conf")
	os.WriteFile(p, []byte("[DEFAULT]\nbind_port = 9293\n"), 0o644)
	c, _ := Load([]string{p}, nil)
	c.DataDir = "/srv/flag"
	c.Finish()
	if dir, _ := c.StagingDir(); dir != "/srv/flag/staging" {
		t.Errorf("--data-dir: %q", dir)
	}
}
