package bench

import (
	"context"
	"crypto/md5"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options bound and shape the scenarios.
type Options struct {
	Concurrency     int           // of the metadata scenarios (the 16)
	Duration        time.Duration // per metadata scenario
	MaxRequests     int           // per metadata scenario
	SeedConcurrency int
	SeedTimeout     time.Duration // per seeding level
	PageLimit       int           // page size of the list-all scenario
	ListAllPasses   int
	UploadSize      int64
	Uploads         int
	Downloads       int
	ParallelUploads int
	ParallelSize    int64
	MixedDuration   time.Duration
	// MixedWindow, if set, has the mixed load report its rate in its
	// first and its last window of this length (a soak: does the rate
	// hold as the database fills with deleted images?).
	MixedWindow time.Duration
	// SoakDuration and SoakWindow: the soak scenario's length, and the
	// windows it reports requests/s in.
	SoakDuration, SoakWindow time.Duration
	WorkDir                  string // data files (same filesystem as the server's store, for the limits)
}

// Tags and properties of the seeded images: ten tags and ten values of a
// property, each on a tenth of the images.
const (
	seedTags   = 10
	PatchMedia = "application/openstack-images-v2.1-json-patch"
)

// imageView is the part of an image the benchmark checks.
type imageView struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Status      string   `json:"status"`
	Tags        []string `json:"tags"`
	Size        *int64   `json:"size"`
	Checksum    *string  `json:"checksum"`
	OSHashAlgo  *string  `json:"os_hash_algo"`
	OSHashValue *string  `json:"os_hash_value"`
	Distro      string   `json:"bench_distro"`
}

type listView struct {
	Images []imageView `json:"images"`
	Next   string      `json:"next"`
}

// Suite runs scenarios against one endpoint and collects their results.
type Suite struct {
	C       *Client
	Opt     Options
	Sampler *Sampler // nil: no server PID given
	Server  Proc
	Log     io.Writer
	Pattern *Pattern

	mu       sync.Mutex
	live     int      // images on the server (baseline + created − deleted)
	created  []string // by the create scenarios, for the delete scenario
	seeded   []string
	tagCount [seedTags]int
	seedNext int
	// uncertain is set when a create or delete failed: the server may
	// have done it anyway (Glance's 500s on DELETE often did), so live is
	// recounted before it matters.
	uncertain bool
	Results   []Result
}

func (s *Suite) markUncertain() {
	s.mu.Lock()
	s.uncertain = true
	s.mu.Unlock()
}

// resync recounts the images on the server (untimed) after a failed
// create or delete.
func (s *Suite) resync(ctx context.Context) {
	s.mu.Lock()
	u := s.uncertain
	s.uncertain = false
	s.mu.Unlock()
	if !u {
		return
	}
	w := s.C.NewWorker()
	n, err := s.pageAll(ctx, w, 1000)
	if err != nil || w.Rec.Errors > 0 {
		s.logf("recounting the images: %v %v", err, w.Rec.Samples)
		s.markUncertain()
		return
	}
	if n != s.live {
		s.logf("after failed creates or deletes the server holds %d images (not %d)", n, s.live)
	}
	s.live = n
}

func (s *Suite) logf(format string, args ...any) {
	if s.Log != nil {
		fmt.Fprintf(s.Log, "glintbench: "+format+"\n", args...)
	}
}

// measure runs f with the server's memory and CPU and this process's CPU
// measured around it, and appends its result.
func (s *Suite) measure(res Result, f func(res *Result)) Result {
	if s.Sampler != nil {
		s.Sampler.Reset()
	}
	var srvCPU float64
	if s.Server.PID > 0 {
		srvCPU = s.Server.CPUSeconds()
	}
	cli := SelfCPUSeconds()
	f(&res)
	res.ClientCPUSeconds = SelfCPUSeconds() - cli
	if s.Server.PID > 0 {
		res.ServerCPUSeconds = s.Server.CPUSeconds() - srvCPU
	}
	if s.Sampler != nil {
		pk := s.Sampler.Peak()
		res.ServerRSSPeakKiB, res.ServerHWMKiB = pk.RSSKiB, pk.HWMKiB
		res.ServerRSSStartKiB = s.Sampler.Start().RSSKiB
		res.ServerRunning, res.ServerDiskWait = s.Sampler.Threads()
	}
	res.LoadAvg, res.Pressure = LoadAvg(), Pressure()
	s.Results = append(s.Results, res)
	s.logf("%s", Line(res))
	return res
}

// Line is a one-line summary of a result.
func Line(r Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-40s %7d req %8.1f req/s p50 %8.2f ms p99 %8.2f ms errors %d", r.Name, r.Requests, r.ReqPerSec, r.P50Ms, r.P99Ms, r.Errors)
	if r.MBPerSec > 0 {
		fmt.Fprintf(&b, " %8.1f MB/s", r.MBPerSec)
	}
	if r.ServerRSSPeakKiB > 0 {
		fmt.Fprintf(&b, " rss-peak %.1f MiB", float64(r.ServerRSSPeakKiB)/1024)
	}
	for _, e := range r.ErrorLog {
		fmt.Fprintf(&b, "\n    error: %s", e)
	}
	return b.String()
}

func (s *Suite) load(conc int) Load {
	return Load{Concurrency: conc, MaxOps: s.Opt.MaxRequests, Duration: s.Opt.Duration}
}

// Baseline counts the images already on the server (paging through them).
func (s *Suite) Baseline(ctx context.Context) error {
	w := s.C.NewWorker()
	n, err := s.pageAll(ctx, w, 1000)
	if err != nil {
		return fmt.Errorf("counting the images already on %s: %w", s.C.Base, err)
	}
	s.live = n
	s.logf("%d images on the server before the run", n)
	return nil
}

// pageAll follows the next links from a first page of limit images and
// returns how many images it saw, checking that none repeats.
func (s *Suite) pageAll(ctx context.Context, w *Worker, limit int) (int, error) {
	seen := map[string]bool{}
	path := "/v2/images?limit=" + strconv.Itoa(limit)
	for pages := 0; path != ""; pages++ {
		if pages > 1_000_000/limit+10 {
			return len(seen), fmt.Errorf("more than 1,000,000 images: stopping")
		}
		var lv listView
		if err := w.Do(ctx, "GET", path, "", nil, http.StatusOK, &lv); err != nil {
			return len(seen), err
		}
		if len(lv.Images) > limit {
			w.Rec.Mismatch("list page of %d images for limit=%d", len(lv.Images), limit)
		}
		for _, im := range lv.Images {
			if seen[im.ID] {
				w.Rec.Mismatch("image %s listed twice while paging", im.ID)
			}
			seen[im.ID] = true
		}
		path = lv.Next
		if path != "" && !strings.HasPrefix(path, "/") {
			// an absolute link: keep its path and query only (and stay on our endpoint)
			u, err := url.Parse(path)
			if err != nil {
				return len(seen), err
			}
			path = u.RequestURI()
		}
	}
	return len(seen), nil
}

func createBody(name string, tags []string, props map[string]string) []byte {
	m := map[string]any{"name": name, "disk_format": "raw", "container_format": "bare", "tags": tags}
	for k, v := range props {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return b
}

// create makes one image and checks the answer; it returns the id.
func (s *Suite) create(ctx context.Context, w *Worker, name string, tags []string, props map[string]string) (string, bool) {
	var iv imageView
	if err := w.Do(ctx, "POST", "/v2/images", "application/json", createBody(name, tags, props), http.StatusCreated, &iv); err != nil {
		s.markUncertain()
		return "", false
	}
	if iv.ID == "" || iv.Status != "queued" || iv.Name != name || len(iv.Tags) != len(tags) {
		w.Rec.Mismatch("create %s: got id %q status %q name %q tags %v", name, iv.ID, iv.Status, iv.Name, iv.Tags)
		return iv.ID, iv.ID != ""
	}
	return iv.ID, true
}

// Create measures POST /v2/images at concurrency conc.
func (s *Suite) Create(ctx context.Context, conc int) Result {
	return s.measure(Result{Name: fmt.Sprintf("create c=%d", conc), Kind: "api", Concurrency: conc}, func(res *Result) {
		rec, _, el := s.C.Run(ctx, s.load(conc), func(ctx context.Context, w *Worker, i int) {
			id, ok := s.create(ctx, w, fmt.Sprintf("bench-c%d-%d", conc, i), []string{"bench-created"}, map[string]string{"bench_kind": "created"})
			if ok {
				s.mu.Lock()
				s.created = append(s.created, id)
				s.live++
				s.mu.Unlock()
			}
		})
		res.Fill(rec, el)
		res.Images = s.live
	})
}

// pool returns image ids to read and patch: the seeded images, else the
// created ones, else n new ones.
func (s *Suite) pool(ctx context.Context, n int) []string {
	s.mu.Lock()
	p := s.seeded
	if len(p) == 0 {
		p = s.created
	}
	s.mu.Unlock()
	if len(p) > 0 {
		return p
	}
	s.logf("creating %d images to work on", n)
	rec, _, _ := s.C.Run(ctx, Load{Concurrency: s.Opt.Concurrency, MaxOps: n, Duration: time.Minute}, func(ctx context.Context, w *Worker, i int) {
		if id, ok := s.create(ctx, w, fmt.Sprintf("bench-pool-%d", i), []string{"bench-created"}, nil); ok {
			s.mu.Lock()
			s.created = append(s.created, id)
			s.live++
			s.mu.Unlock()
		}
	})
	if rec.Errors > 0 {
		s.logf("creating the pool: %d errors", rec.Errors)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created
}

// Show measures GET /v2/images/{id}.
func (s *Suite) Show(ctx context.Context, conc int) Result {
	ids := s.pool(ctx, 1000)
	return s.measure(Result{Name: fmt.Sprintf("show c=%d", conc), Kind: "api", Concurrency: conc, Images: s.live}, func(res *Result) {
		rec, _, el := s.C.Run(ctx, s.load(conc), func(ctx context.Context, w *Worker, i int) {
			s.show(ctx, w, ids[(i*7919)%len(ids)])
		})
		res.Fill(rec, el)
	})
}

func (s *Suite) show(ctx context.Context, w *Worker, id string) {
	var iv imageView
	if w.Do(ctx, "GET", "/v2/images/"+id, "", nil, http.StatusOK, &iv) == nil && iv.ID != id {
		w.Rec.Mismatch("show %s: got id %q", id, iv.ID)
	}
}

// Patch measures JSON-patch updates (replace the name, add a property).
func (s *Suite) Patch(ctx context.Context, conc int) Result {
	ids := s.pool(ctx, 1000)
	return s.measure(Result{Name: fmt.Sprintf("patch c=%d", conc), Kind: "api", Concurrency: conc, Images: s.live}, func(res *Result) {
		rec, _, el := s.C.Run(ctx, s.load(conc), func(ctx context.Context, w *Worker, i int) {
			s.patch(ctx, w, ids[i%len(ids)], i)
		})
		res.Fill(rec, el)
	})
}

func (s *Suite) patch(ctx context.Context, w *Worker, id string, i int) {
	name := fmt.Sprintf("patched-%d", i)
	body := fmt.Sprintf(`[{"op":"replace","path":"/name","value":%q},{"op":"add","path":"/bench_patch","value":"%d"}]`, name, i)
	var iv imageView
	if w.Do(ctx, "PATCH", "/v2/images/"+id, PatchMedia, []byte(body), http.StatusOK, &iv) == nil && (iv.ID != id || iv.Name != name) {
		w.Rec.Mismatch("patch %s: got id %q name %q, want name %q", id, iv.ID, iv.Name, name)
	}
}

// Delete measures DELETE /v2/images/{id} of the images the create
// scenarios made (or of new ones).
func (s *Suite) Delete(ctx context.Context, conc int) Result {
	s.mu.Lock()
	ids := s.created
	s.created = nil
	s.mu.Unlock()
	if len(ids) == 0 {
		s.pool(ctx, 1000)
		s.mu.Lock()
		ids, s.created = s.created, nil
		s.mu.Unlock()
	}
	var left []string
	res := s.measure(Result{Name: fmt.Sprintf("delete c=%d", conc), Kind: "api", Concurrency: conc, Images: s.live}, func(res *Result) {
		l := s.load(conc)
		l.MaxOps = min(max(l.MaxOps, 1), len(ids))
		var done sync.Map
		rec, _, el := s.C.Run(ctx, l, func(ctx context.Context, w *Worker, i int) {
			if w.Do(ctx, "DELETE", "/v2/images/"+ids[i], "", nil, http.StatusNoContent, nil) == nil {
				done.Store(i, true)
			}
		})
		res.Fill(rec, el)
		for i, id := range ids {
			if _, ok := done.Load(i); !ok {
				left = append(left, id)
			}
		}
		s.live -= len(ids) - len(left)
	})
	s.mu.Lock()
	s.created = append(s.created, left...)
	s.uncertain = s.uncertain || len(left) > 0
	s.mu.Unlock()
	return res
}

// Seed creates images until the server holds level images: a tenth of
// them with each of the tags bench-t0…t9 and each value d0…d9 of the
// property bench_distro. Failed creations are retried (three rounds),
// their errors counted.
func (s *Suite) Seed(ctx context.Context, level int) Result {
	s.dropCreated(ctx)
	s.resync(ctx)
	need := level - s.live
	res := Result{Name: fmt.Sprintf("seed to %d c=%d", level, s.Opt.SeedConcurrency), Kind: "seed", Concurrency: s.Opt.SeedConcurrency}
	if need <= 0 {
		res.Images = s.live
		res.Note = "nothing to seed"
		return res
	}
	s.logf("seeding %d images at concurrency %d", need, s.Opt.SeedConcurrency)
	deadline := time.Now().Add(s.Opt.SeedTimeout)
	return s.measure(res, func(res *Result) {
		total := &Recorder{}
		var el time.Duration
		for round := 0; round < 3 && s.live < level && time.Now().Before(deadline); round++ {
			base := s.seedNext
			n := level - s.live
			s.seedNext += n
			rec, _, e := s.C.Run(ctx, Load{Concurrency: s.Opt.SeedConcurrency, MaxOps: n, Duration: time.Until(deadline)},
				func(ctx context.Context, w *Worker, i int) {
					k := base + i
					t := k % seedTags
					id, ok := s.create(ctx, w, fmt.Sprintf("seed-%d", k), []string{fmt.Sprintf("bench-t%d", t)},
						map[string]string{"bench_distro": fmt.Sprintf("d%d", t), "bench_arch": "x86_64"})
					if ok {
						s.mu.Lock()
						s.seeded = append(s.seeded, id)
						s.tagCount[t]++
						s.live++
						s.mu.Unlock()
					}
				})
			total.Merge(rec)
			el += e
			s.resync(ctx)
		}
		res.Fill(total, el)
		res.Images = s.live
		if s.live < level {
			res.Note = fmt.Sprintf("only %d of %d images", s.live, level)
		}
	})
}

// dropCreated deletes, untimed, the images the create scenarios made that
// the delete scenario left, so that the list levels are made of seeded
// images.
func (s *Suite) dropCreated(ctx context.Context) {
	s.mu.Lock()
	ids := s.created
	s.created = nil
	s.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	s.logf("deleting the %d images left by the create scenarios", len(ids))
	rec, _, _ := s.C.Run(ctx, Load{Concurrency: s.Opt.Concurrency, MaxOps: len(ids), Duration: 10 * time.Minute},
		func(ctx context.Context, w *Worker, i int) {
			if w.Do(ctx, "DELETE", "/v2/images/"+ids[i], "", nil, http.StatusNoContent, nil) == nil {
				s.mu.Lock()
				s.live--
				s.mu.Unlock()
			}
		})
	if rec.Errors > 0 {
		s.logf("deleting them: %d errors %v", rec.Errors, rec.Samples)
		s.markUncertain()
	}
}

// List runs the listing scenarios once level images were seeded (the
// names carry the level; Images the count the server holds).
func (s *Suite) List(ctx context.Context, conc, level int) {
	s.resync(ctx)
	n := s.live
	minTag := s.tagCount[0]
	for _, c := range s.tagCount {
		minTag = min(minTag, c)
	}
	type listCase struct {
		name  string
		conc  int
		path  func(i int) (string, int)        // path and expected page length
		check func(im imageView, i int) string // "" when the image matches the filter
	}
	plain := func(limit int) func(int) (string, int) {
		return func(int) (string, int) { return "/v2/images?limit=" + strconv.Itoa(limit), min(limit, n) }
	}
	// A filtered page holds 20 images when at least 20 seeded ones match;
	// else images from before the run may match too: no exact count (-1).
	filtered := -1
	if minTag >= 20 {
		filtered = 20
	}
	tagPath := func(i int) (string, int) {
		return fmt.Sprintf("/v2/images?limit=20&tag=bench-t%d", i%seedTags), filtered
	}
	tagCheck := func(im imageView, i int) string {
		want := fmt.Sprintf("bench-t%d", i%seedTags)
		for _, t := range im.Tags {
			if t == want {
				return ""
			}
		}
		return fmt.Sprintf("image %s with tags %v in a list filtered on tag %s", im.ID, im.Tags, want)
	}
	propPath := func(i int) (string, int) {
		return fmt.Sprintf("/v2/images?limit=20&bench_distro=d%d", i%seedTags), filtered
	}
	propCheck := func(im imageView, i int) string {
		if want := fmt.Sprintf("d%d", i%seedTags); im.Distro != want {
			return fmt.Sprintf("image %s with bench_distro=%q in a list filtered on %s", im.ID, im.Distro, want)
		}
		return ""
	}
	cases := []listCase{
		{"list limit=20", conc, plain(20), nil},
		{"list limit=200", conc, plain(200), nil},
		{"list tag limit=20", conc, tagPath, tagCheck},
		{"list property limit=20", conc, propPath, propCheck},
		{"list tag limit=20", 1, tagPath, tagCheck},
		{"list property limit=20", 1, propPath, propCheck},
	}
	for _, lc := range cases {
		s.measure(Result{Name: fmt.Sprintf("%s @%d c=%d", lc.name, level, lc.conc), Kind: "api", Concurrency: lc.conc, Images: n}, func(res *Result) {
			rec, _, el := s.C.Run(ctx, s.load(lc.conc), func(ctx context.Context, w *Worker, i int) {
				path, want := lc.path(i)
				var lv listView
				if w.Do(ctx, "GET", path, "", nil, http.StatusOK, &lv) != nil {
					return
				}
				if (want >= 0 && len(lv.Images) != want) || (want < 0 && len(lv.Images) > 20) {
					w.Rec.Mismatch("%s: %d images, want %d", routeOf(path), len(lv.Images), want)
					return
				}
				if lc.check != nil {
					for _, im := range lv.Images {
						if msg := lc.check(im, i); msg != "" {
							w.Rec.Mismatch("%s", msg)
							return
						}
					}
				}
			})
			res.Fill(rec, el)
		})
	}
	s.ListAll(ctx, level)
}

// ListAll pages through every image with pages of PageLimit.
func (s *Suite) ListAll(ctx context.Context, level int) Result {
	n := s.live
	lim := s.Opt.PageLimit
	return s.measure(Result{Name: fmt.Sprintf("list all (pages of %d) @%d c=1", lim, level), Kind: "list-all", Concurrency: 1, Images: n}, func(res *Result) {
		w := s.C.NewWorker()
		start := time.Now()
		deadline := start.Add(3 * s.Opt.Duration)
		passes := 0
		for passes < max(1, s.Opt.ListAllPasses) && (passes == 0 || time.Now().Before(deadline)) && ctx.Err() == nil {
			got, err := s.pageAll(ctx, w, lim)
			passes++
			if err == nil && got != n {
				w.Rec.Mismatch("paging through all images saw %d, the server should hold %d", got, n)
			}
		}
		el := time.Since(start)
		res.Fill(w.Rec, el)
		res.PassSeconds = el.Seconds() / float64(passes)
		res.Note = fmt.Sprintf("%d passes", passes)
	})
}

// Mixed runs a mixed load for MixedDuration: 50% show, 20% list (plain,
// tag or property filter, limit 20), 20% patch, 10% create then delete.
func (s *Suite) Mixed(ctx context.Context, conc int) []Result {
	ids := s.pool(ctx, 1000)
	minTag := 0
	if len(s.seeded) > 0 {
		minTag = s.tagCount[0]
		for _, c := range s.tagCount {
			minTag = min(minTag, c)
		}
	}
	liveAtStart := s.live
	var byKind map[string]*Recorder
	var el time.Duration
	var windows *windowRates
	res := s.measure(Result{Name: fmt.Sprintf("mixed c=%d", conc), Kind: "api", Concurrency: conc, Images: s.live}, func(res *Result) {
		var rec *Recorder
		if s.Opt.MixedWindow > 0 {
			windows = startWindowRates()
		}
		rec, byKind, el = s.C.Run(ctx, Load{Concurrency: conc, Duration: s.Opt.MixedDuration},
			func(ctx context.Context, w *Worker, i int) {
				if windows != nil {
					defer windows.done.Add(1)
				}
				x := w.Rand.Float64()
				switch {
				case x < 0.5:
					w.Use("show")
					s.show(ctx, w, ids[w.Rand.IntN(len(ids))])
				case x < 0.7:
					w.Use("list")
					path := "/v2/images?limit=20"
					if minTag >= 20 {
						switch i % 3 {
						case 1:
							path += fmt.Sprintf("&tag=bench-t%d", i%seedTags)
						case 2:
							path += fmt.Sprintf("&bench_distro=d%d", i%seedTags)
						}
					}
					var lv listView
					if w.Do(ctx, "GET", path, "", nil, http.StatusOK, &lv) == nil && len(lv.Images) != min(20, liveAtStart) {
						w.Rec.Mismatch("%s: %d images", routeOf(path), len(lv.Images))
					}
				case x < 0.9:
					w.Use("patch")
					s.patch(ctx, w, ids[w.Rand.IntN(len(ids))], i)
				default:
					w.Use("create+delete")
					if id, ok := s.create(ctx, w, fmt.Sprintf("bench-mixed-%d", i), []string{"bench-mixed"}, nil); ok {
						if w.Do(ctx, "DELETE", "/v2/images/"+id, "", nil, http.StatusNoContent, nil) != nil {
							s.mu.Lock()
							s.live++ // left behind, perhaps
							s.uncertain = true
							s.mu.Unlock()
						}
					}
				}
			})
		res.Fill(rec, el)
		if windows != nil {
			res.FirstWindowOps, res.LastWindowOps = windows.stop(s.Opt.MixedWindow)
			if res.FirstWindowOps > 0 {
				res.Note = fmt.Sprintf("first %v %.1f ops/s, last %v %.1f ops/s (%.0f%%)", s.Opt.MixedWindow, res.FirstWindowOps,
					s.Opt.MixedWindow, res.LastWindowOps, 100*res.LastWindowOps/res.FirstWindowOps)
			} else {
				res.Note = fmt.Sprintf("shorter than two windows of %v: no first and last rates", s.Opt.MixedWindow)
			}
		}
	})
	out := []Result{res}
	for _, k := range []string{"show", "list", "patch", "create+delete"} {
		r := Result{Name: fmt.Sprintf("mixed c=%d: %s", conc, k), Kind: "api-part", Concurrency: conc, Images: res.Images}
		if rec := byKind[k]; rec != nil {
			r.Fill(rec, el)
		}
		s.Results = append(s.Results, r)
		s.logf("%s", Line(r))
		out = append(out, r)
	}
	return out
}

// verifyData fetches an image and checks that it is active with the
// expected size and hashes.
func (s *Suite) verifyData(ctx context.Context, w *Worker, id string, want Sums) {
	var iv imageView
	if w.Do(ctx, "GET", "/v2/images/"+id, "", nil, http.StatusOK, &iv) != nil {
		return
	}
	str := func(p *string) string {
		if p == nil {
			return "null"
		}
		return *p
	}
	switch {
	case iv.Status != "active":
		w.Rec.Mismatch("image %s is %s after its upload", id, iv.Status)
	case iv.Size == nil || *iv.Size != want.Size:
		w.Rec.Mismatch("image %s: size %v, sent %d", id, iv.Size, want.Size)
	case str(iv.Checksum) != want.MD5:
		w.Rec.Mismatch("image %s: checksum %s, md5 of the data sent %s", id, str(iv.Checksum), want.MD5)
	case str(iv.OSHashAlgo) != "sha512":
		w.Rec.Mismatch("image %s: os_hash_algo %s, want sha512", id, str(iv.OSHashAlgo))
	case str(iv.OSHashValue) != want.SHA512:
		w.Rec.Mismatch("image %s: os_hash_value %.16s…, sha512 of the data sent %.16s…", id, str(iv.OSHashValue), want.SHA512)
	}
}

// hashDownload reads a download through md5 and sha512 (for the untimed
// verification of the bytes).
func hashDownload(r io.Reader) (Sums, error) {
	m, h := md5.New(), sha512.New()
	n, err := io.CopyBuffer(io.MultiWriter(m, h), r, make([]byte, Chunk))
	return Sums{n, fmt.Sprintf("%x", m.Sum(nil)), fmt.Sprintf("%x", h.Sum(nil))}, err
}
