// Package horizon drives Debian's Horizon (openstack-dashboard 23) in
// headless Chromium through its images panel against the real glint
// binary, as a person would: log in, create an image from a file until it
// is Active, open its detail page, edit it, delete it. It does so in both
// of Horizon's upload modes: legacy, where Horizon's server sends the
// file to the Image API, and direct, where the browser itself PUTs it to
// Glint across origins (Glint's [cors] allows Horizon's origin).
//
// Horizon runs under Django's own server on 127.0.0.1 with a settings
// module of the test's that imports Debian's settings; it logs in to the
// suite's Keystone (keystonetest), whose catalog names Glint as the image
// service. Chromium is driven over the DevTools protocol (chromedp). When
// a step fails, a screenshot and the page's HTML are kept in
// $GLINT_HORIZON_ARTIFACTS (default: glint-horizon-artifacts in the
// temporary directory) and the test names them.
//
// It needs the Debian packages openstack-dashboard and chromium (scripts/test
// installs them). Without them it is skipped, except under CI=true, where
// it fails; under -short nothing is started.
package horizon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"glint/internal/keystone/keystonetest"
)

const (
	python    = "/usr/bin/python3" // Debian's, with Django and Horizon
	manage    = "/usr/share/openstack-dashboard/manage.py"
	chromium  = "/usr/bin/chromium"
	user      = "alpha-member" // member of project alpha
	imageFile = "cirros-like.raw"
)

var glintBin string // built by TestMain

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run()
	}
	tmp, err := os.MkdirTemp("", "glint-horizon-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "horizon:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	glintBin = filepath.Join(tmp, "glint")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	build := exec.Command(goTool, "build", "-o", glintBin, "./cmd/glint")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "horizon: go build ./cmd/glint: %v\n%s", err, out)
		return 1
	}
	return keystonetest.Main(m)
}

// requirePackages skips t when Horizon or Chromium is missing, unless
// CI=true, where it fails.
func requirePackages(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: runs Horizon, Chromium, Keystone and the glint binary")
	}
	for _, p := range []string{manage, chromium, python} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing (scripts/test installs openstack-dashboard and chromium)", p)
			}
			t.Skipf("%s is missing (scripts/test installs openstack-dashboard and chromium)", p)
		}
	}
}

// TestHorizonImages is Horizon's images panel, in both upload modes,
// against Glint behind Keystone.
func TestHorizonImages(t *testing.T) {
	requirePackages(t)
	ks := keystonetest.Start(t)
	static := horizonStatic(t)

	modes := []string{"legacy", "direct"}
	ports := map[string]int{}
	var origins []string
	for _, m := range modes {
		ports[m] = freePort(t)
		origins = append(origins, fmt.Sprintf("http://127.0.0.1:%d", ports[m]))
	}
	glint := startGlint(t, ks, origins)
	ks.SetImageEndpoint(t, glint.url)

	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			hz := startHorizon(t, ks, mode, ports[mode], static)
			b := newBrowser(t, hz, mode)
			scenario(t, b, glint, ks, mode)
		})
	}
}

// scenario is what a user does in the images panel.
func scenario(t *testing.T, b *browser, g *glintServer, ks *keystonetest.Keystone, mode string) {
	name := "horizon-" + mode
	renamed := name + "-renamed"
	data := bytes.Repeat([]byte("glint horizon "), 64<<10/14)
	file := filepath.Join(t.TempDir(), imageFile)
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	token := ks.Token(t, user)

	b.step("log in to the images panel", 90*time.Second,
		chromedp.Navigate(b.hz.url+"/auth/login/?next=/project/images/"),
		chromedp.WaitVisible(chromedp.CSS(`#id_username`)),
		chromedp.SendKeys(chromedp.CSS(`#id_username`), user),
		chromedp.SendKeys(chromedp.CSS(`#id_password`), ks.Password(user)),
		chromedp.Click(chromedp.CSS(`#loginBtn`)),
		b.waitJS(`location.pathname.startsWith("/project/images") && `+clickableJS("Create Image", false)),
	)
	b.step("fill in the create form", 60*time.Second,
		b.waitJS(clickableJS("Create Image", true)),
		chromedp.WaitVisible(chromedp.CSS(`#imageForm-name`)),
		chromedp.SendKeys(chromedp.CSS(`#imageForm-name`), name),
		chromedp.SetUploadFiles(chromedp.CSS(`input[type=file]`), []string{file}),
		b.waitJS(`[...document.querySelectorAll("input[readonly]")].some(e => e.value === "`+imageFile+`")`),
		b.waitJS(selectJS("imageForm-format", "Raw")),
	)
	b.step("create the image", 60*time.Second,
		b.waitJS(footerClickJS("Create Image")),
		b.waitJS(`!document.querySelector("#imageForm-name")`),
	)
	var id string
	b.step("wait for it to be Active", 120*time.Second, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		for {
			imgs := g.images(t, token, "name="+name)
			if len(imgs) == 1 && imgs[0]["status"] == "active" {
				id, _ = imgs[0]["id"].(string)
				if imgs[0]["size"] != float64(len(data)) {
					return fmt.Errorf("active with size %v, want %d", imgs[0]["size"], len(data))
				}
				return nil
			}
			if len(imgs) == 1 && imgs[0]["status"] != "queued" && imgs[0]["status"] != "saving" {
				return fmt.Errorf("image is %v", imgs[0]["status"])
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("not active: %v", imgs)
			case <-time.After(500 * time.Millisecond):
			}
		}
	}),
		chromedp.Navigate(b.hz.url+"/project/images/"),
		b.waitJS(rowJS(name, "Active")),
	)
	if t.Failed() {
		return
	}
	// In direct mode the browser sent the data to Glint itself, after a
	// CORS preflight; in legacy mode Horizon's server did, with none.
	logged, _ := os.ReadFile(g.log)
	preflight := false
	for _, line := range strings.Split(string(logged), "\n") {
		preflight = preflight || (strings.Contains(line, "method=OPTIONS") && strings.Contains(line, "path=/v2/images/"+id+"/file"))
	}
	if preflight != (mode == "direct") {
		t.Errorf("%s mode: a CORS preflight of the upload in Glint's log: %v", mode, preflight)
	}
	if got := g.download(t, token, id); !bytes.Equal(got, data) {
		t.Errorf("the image's data: %d bytes, want the %d uploaded", len(got), len(data))
	}
	b.step("open its detail page", 60*time.Second,
		b.waitJS(linkClickJS(name)),
		b.waitJS(`location.pathname.includes("`+id+`") && document.body.innerText.includes("`+id+`") && document.body.innerText.includes("Active")`),
	)
	b.step("edit it", 60*time.Second,
		b.waitJS(actionClickJS("Edit Image")),
		// The form shows the image as Horizon read it from Glint.
		b.waitJS(`(e => e && e.value === "`+name+`")(document.getElementById("imageForm-name"))`),
		b.waitJS(typeJS("imageForm-name", renamed)),
		b.waitJS(footerClickJS("Update Image")),
		b.waitJS(`!document.querySelector("#imageForm-name")`),
	)
	b.step("see the change", 60*time.Second, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		for {
			if img := g.image(t, token, id); img["name"] == renamed {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("name is still %v", g.image(t, token, id)["name"])
			case <-time.After(300 * time.Millisecond):
			}
		}
	}),
		chromedp.Navigate(b.hz.url+"/project/images/"),
		b.waitJS(rowJS(renamed, "Active")),
	)
	b.step("delete it", 60*time.Second,
		b.waitJS(rowActionClickJS(renamed, "Delete Image")),
		b.waitJS(footerClickJS("Delete Image")),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			for {
				if g.image(t, token, id) == nil {
					return nil
				}
				select {
				case <-ctx.Done():
					return errors.New("the image is still there")
				case <-time.After(300 * time.Millisecond):
				}
			}
		}),
		// The panel takes the row away itself.
		b.waitJS(clickableJS("Create Image", false)+` && !document.body.innerText.includes("`+renamed+`")`),
	)
}

// The page-side checks and clicks, as JavaScript expressions that are
// true once done: Horizon's panels are Angular, drawn after the page has
// loaded, so each is polled until it holds.

// visibleJS is a function telling whether an element is shown.
const visibleJS = `(e => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length))`

// clickableJS finds a button or link reading label; with click, clicks it.
func clickableJS(label string, click bool) string {
	act := ""
	if click {
		act = "b.click();"
	}
	return fmt.Sprintf(`(() => { const b = [...document.querySelectorAll("button, a")].find(e => e.innerText.trim() === %q && %s(e) && !e.disabled);
		if (!b) return false; %s return true; })()`, label, visibleJS, act)
}

// footerClickJS clicks the enabled button reading label in a modal's footer.
func footerClickJS(label string) string {
	return fmt.Sprintf(`(() => { const b = [...document.querySelectorAll(".modal-footer button")].find(e => e.innerText.trim() === %q && %s(e) && !e.disabled);
		if (!b) return false; b.click(); return true; })()`, label, visibleJS)
}

// selectJS chooses the option whose text starts with label in select#id.
func selectJS(id, label string) string {
	return fmt.Sprintf(`(() => { const s = document.getElementById(%q); if (!s) return false;
		const o = [...s.options].find(o => o.text.trim().startsWith(%q)); if (!o) return false;
		s.value = o.value; s.dispatchEvent(new Event("change", {bubbles: true})); return s.value === o.value; })()`, id, label)
}

// typeJS replaces the text of input#id as typing would (Angular listens
// to input events).
func typeJS(id, text string) string {
	return fmt.Sprintf(`(() => { const e = document.getElementById(%q); if (!e) return false;
		e.value = %q; e.dispatchEvent(new Event("input", {bubbles: true})); e.dispatchEvent(new Event("change", {bubbles: true}));
		return true; })()`, id, text)
}

// rowJS is true when the table has a row for name showing status.
func rowJS(name, status string) string {
	return fmt.Sprintf(`[...document.querySelectorAll("tr")].some(r => [...r.querySelectorAll("a")].some(a => a.innerText.trim() === %q) && r.innerText.includes(%q))`, name, status)
}

// linkClickJS clicks the link reading text.
func linkClickJS(text string) string {
	return fmt.Sprintf(`(() => { const a = [...document.querySelectorAll("a")].find(e => e.innerText.trim() === %q && %s(e));
		if (!a) return false; a.click(); return true; })()`, text, visibleJS)
}

// actionClickJS clicks the action reading label among the page's
// actions, opening the action menus until it is shown.
func actionClickJS(label string) string {
	return fmt.Sprintf(`(() => { const find = () => [...document.querySelectorAll("button, a")].find(e => e.innerText.trim() === %[1]q && %[2]s(e));
		let b = find();
		if (!b) { for (const d of document.querySelectorAll(".dropdown-toggle")) { if (%[2]s(d) && !d.closest(".open")) { d.click(); b = find(); if (b) break; d.click(); } } }
		if (!b) return false; b.click(); return true; })()`, label, visibleJS)
}

// rowActionClickJS clicks the action reading label in the row of name,
// opening the row's action menu when it is there.
func rowActionClickJS(name, label string) string {
	return fmt.Sprintf(`(() => { const r = [...document.querySelectorAll("tr")].find(r => [...r.querySelectorAll("a")].some(a => a.innerText.trim() === %[1]q));
		if (!r) return false;
		const find = () => [...r.querySelectorAll("button, a")].find(e => e.innerText.trim() === %[2]q && %[3]s(e));
		let b = find();
		if (!b) { const d = r.querySelector(".dropdown-toggle"); if (d) { d.click(); b = find(); } }
		if (!b) return false; b.click(); return true; })()`, name, label, visibleJS)
}

// browser is a headless Chromium on one Horizon.
type browser struct {
	t         *testing.T
	ctx       context.Context
	hz        *horizonServer
	mode      string
	artifacts string
	mu        sync.Mutex
	console   *bytes.Buffer // what the page logged
}

func newBrowser(t *testing.T, hz *horizonServer, mode string) *browser {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	b := &browser{t: t, ctx: ctx, hz: hz, mode: mode, console: &bytes.Buffer{}}
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting Chromium: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for msg, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			b.mu.Lock()
			fmt.Fprintf(b.console, "%s %s %s:%d\n", msg.Type, msg.Text, msg.URL, msg.Line)
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel2(); <-done })
	b.artifacts = os.Getenv("GLINT_HORIZON_ARTIFACTS")
	if b.artifacts == "" {
		b.artifacts = filepath.Join(os.TempDir(), "glint-horizon-artifacts")
	}
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if t.Failed() && b.console.Len() > 0 {
			t.Logf("browser console:\n%s", tail(b.console.String(), 60))
		}
	})
	return b
}

// waitJS evaluates expr until it is true. Errors while a page loads (the
// context it ran in went away) are tried again; the step's deadline ends
// the wait.
func (b *browser) waitJS(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		var last error
		for {
			ok, err := chromedp.Evaluate[bool](expr)(ctx, t)
			if err == nil && ok {
				return chromedp.Void{}, nil
			}
			last = err
			select {
			case <-ctx.Done():
				if last != nil {
					return chromedp.Void{}, fmt.Errorf("waiting for %.120s: %w (last: %v)", expr, ctx.Err(), last)
				}
				return chromedp.Void{}, fmt.Errorf("waiting for %.120s: %w", expr, ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
}

// step runs one step of the scenario within timeout; once a step failed,
// the later ones are skipped. A failure keeps a screenshot and the HTML.
func (b *browser) step(name string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if b.t.Failed() {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	start := time.Now()
	err := chromedp.Do(ctx, actions...)
	if err == nil {
		b.t.Logf("%s: %s (%.1fs)", b.mode, name, time.Since(start).Seconds())
		return
	}
	b.t.Errorf("%s: step %q failed after %.1fs: %v", b.mode, name, time.Since(start).Seconds(), err)
	b.keep(name)
}

// keep saves a screenshot and the page's HTML of the failed step.
func (b *browser) keep(step string) {
	if err := os.MkdirAll(b.artifacts, 0o755); err != nil {
		b.t.Logf("keeping the screenshot: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	url, _ := chromedp.Run(ctx, chromedp.Location())
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	html, herr := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	err = errors.Join(err, herr)
	base := filepath.Join(b.artifacts, b.mode+"-"+strings.ReplaceAll(step, " ", "-"))
	if len(png) > 0 {
		os.WriteFile(base+".png", png, 0o644)
	}
	if html != "" {
		os.WriteFile(base+".html", []byte(html), 0o644)
	}
	b.t.Logf("at %s; screenshot and HTML kept as %s.{png,html} (%v)", url, base, err)
}

// glintServer is the glint binary with Keystone and CORS for Horizon.
type glintServer struct {
	url string
	log string
}

func startGlint(t *testing.T, ks *keystonetest.Keystone, origins []string) *glintServer {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "glance-api.conf")
	text := fmt.Sprintf(`[DEFAULT]
bind_host = 127.0.0.1
bind_port = %d
debug = true

[cors]
allowed_origin = %s

[paste_deploy]
flavor = keystone

%s`, port, strings.Join(origins, ","), ks.AuthtokenConf())
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	g := &glintServer{url: fmt.Sprintf("http://127.0.0.1:%d", port), log: filepath.Join(dir, "glint.log")}
	cmd := exec.Command(glintBin, "serve", "--data-dir", filepath.Join(dir, "data"), "--config-file", conf)
	startProcess(t, cmd, g.log, g.url+"/versions", "glint")
	return g
}

// images lists the images the token's project sees, filtered by query.
func (g *glintServer) images(t *testing.T, token, query string) []map[string]any {
	var out struct {
		Images []map[string]any `json:"images"`
	}
	g.get(t, token, "/v2/images?"+query, &out)
	return out.Images
}

// image is one image, or nil when there is none.
func (g *glintServer) image(t *testing.T, token, id string) map[string]any {
	var out map[string]any
	if g.get(t, token, "/v2/images/"+id, &out) == http.StatusNotFound {
		return nil
	}
	return out
}

func (g *glintServer) download(t *testing.T, token, id string) []byte {
	req, _ := http.NewRequest("GET", g.url+"/v2/images/"+id+"/file", nil)
	req.Header.Set("X-Auth-Token", token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("download: %v", err)
		return nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return b
}

func (g *glintServer) get(t *testing.T, token, path string, v any) int {
	req, _ := http.NewRequest("GET", g.url+path, nil)
	req.Header.Set("X-Auth-Token", token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("GET %s: %v", path, err)
		return 0
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusOK {
		json.NewDecoder(res.Body).Decode(v)
	}
	return res.StatusCode
}

// horizonServer is Horizon under Django's server.
type horizonServer struct {
	url string
	log string
}

// settings is the settings module each Horizon runs with: Debian's, with
// the test's Keystone, upload mode, static files and hosts.
const settings = `# written by glint's test/horizon
from openstack_dashboard.settings import *  # noqa: F401,F403

OPENSTACK_KEYSTONE_URL = %q
HORIZON_IMAGES_UPLOAD_MODE = %q
STATIC_ROOT = %q
COMPRESS_ROOT = STATIC_ROOT
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SECRET_KEY = "glint-horizon-test"
DEBUG = False
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
`

// writeSettings writes the settings module into dir and returns the
// environment that selects it.
func writeSettings(t *testing.T, dir, keystoneURL, mode, static string) []string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "glint_horizon_settings.py"),
		[]byte(fmt.Sprintf(settings, keystoneURL+"/v3", mode, static)), 0o644); err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(), "PYTHONPATH="+dir, "DJANGO_SETTINGS_MODULE=glint_horizon_settings", "PYTHONDONTWRITEBYTECODE=1")
}

func startHorizon(t *testing.T, ks *keystonetest.Keystone, mode string, port int, static string) *horizonServer {
	t.Helper()
	dir := t.TempDir()
	env := writeSettings(t, dir, ks.URL, mode, static)
	h := &horizonServer{url: fmt.Sprintf("http://127.0.0.1:%d", port), log: filepath.Join(dir, "horizon.log")}
	cmd := exec.Command(python, manage, "runserver", "--insecure", "--noreload", fmt.Sprintf("127.0.0.1:%d", port))
	cmd.Env, cmd.Dir = env, dir
	startProcess(t, cmd, h.log, h.url+"/auth/login/", "horizon")
	return h
}

// horizonStatic returns Horizon's collected and compressed static files,
// made once per openstack-dashboard version in the cache (about a
// minute) and reused after.
func horizonStatic(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", "openstack-dashboard").Output()
	if err != nil {
		t.Fatalf("dpkg-query openstack-dashboard: %v", err)
	}
	version := strings.NewReplacer(":", "_", "/", "_", "~", "_").Replace(strings.TrimSpace(string(out)))
	cache := os.Getenv("GLINT_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "glint")
	}
	dir := filepath.Join(cache, "horizon-static-"+version)
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir
	}
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	mod := t.TempDir()
	env := writeSettings(t, mod, "http://127.0.0.1:5000", "legacy", tmp)
	start := time.Now()
	for _, args := range [][]string{{"collectstatic", "--noinput"}, {"compress", "--force"}} {
		cmd := exec.Command(python, append([]string{manage}, args...)...)
		cmd.Env, cmd.Dir = env, mod
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("manage.py %s: %v\n%s", args[0], err, tail(string(out), 40))
		}
	}
	os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644)
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
	t.Logf("Horizon's static files made in %s (%.0fs)", dir, time.Since(start).Seconds())
	return dir
}

// startProcess starts cmd with its output in logPath, waits until
// readyURL answers 200, and stops it (SIGTERM, then SIGKILL) when t
// ends, printing the log's end if t failed.
func startProcess(t *testing.T, cmd *exec.Cmd, logPath, readyURL, what string) {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", what, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logFile.Close() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s log (%s):\n%s", what, logPath, tail(string(b), 80))
		}
	})
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("%s exited before answering (%v):\n%s", what, err, tail(string(b), 60))
		default:
		}
		if res, err := client.Get(readyURL); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer %s within 90s", what, readyURL)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[… %d lines left out …]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
