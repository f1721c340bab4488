// Command glintbench benchmarks an Image API v2 endpoint — Glint or the
// reference Glance — and the machine's own limits (issue 4).
//
//	glintbench [flags]                      run scenarios against -url
//	glintbench compare [flags]              Markdown comparison of JSON reports
//	glintbench seed -db URL [flags]         bulk-load deleted and live images (issue 32)
//	glintbench wait -url URL [-timeout T]   wait until GET URL answers 200
//
// Every scenario is bounded in count and time, and only loopback targets
// are accepted. scripts/bench.sh runs the whole comparison; see
// docs/performance.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"glint/bench"
	"glint/internal/db"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "compare":
			return compare(args[1:], stdout, stderr)
		case "wait":
			return wait(args[1:], stdout, stderr)
		case "seed":
			return seed(args[1:], stdout, stderr)
		}
	}
	return benchmark(args, stdout, stderr)
}

var allScenarios = []string{"limits", "startup", "create", "show", "patch", "delete", "list", "upload", "download", "upload4", "mixed", "cycle", "cache", "soak"}
var suiteScenarios = []string{"create", "show", "patch", "delete", "list", "upload", "download", "upload4", "mixed"}

func benchmark(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("glintbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "", "label of the target in the report (default: the URL's host:port)")
	urlf := fs.String("url", "http://127.0.0.1:9292", "endpoint of the Image API (loopback only)")
	afterSeed := fs.String("after-seed", "", "shell command to run after seeding each image count, before its list scenarios (e.g. the database's ANALYZE)")
	tokenFile := fs.String("token-file", "", "send the token this file holds (a Keystone token) as X-Auth-Token on every request")
	scen := fs.String("scenarios", "suite", "comma-separated scenarios: "+strings.Join(allScenarios, ", ")+
		"; suite = "+strings.Join(suiteScenarios, ",")+"; all = limits + suite (+ startup with -startup-cmd). "+
		"With a suite scenario, limits run right before the data path")
	images := fs.String("images", "10000", "comma-separated image counts for the list scenarios; images are created through the API up to each count")
	conc := fs.Int("c", 16, "concurrency of the metadata scenarios (create also runs at 1)")
	dur := fs.Duration("duration", 10*time.Second, "time bound of each metadata scenario")
	maxReq := fs.Int("n", 20000, "request bound of each metadata scenario")
	seedC := fs.Int("seed-c", 16, "concurrency of the seeding creates")
	seedTimeout := fs.Duration("seed-timeout", 15*time.Minute, "time bound of the seeding of each image count")
	pageLimit := fs.Int("page-limit", 1000, "page size when listing every image")
	passes := fs.Int("list-passes", 2, "passes over every image (bounded by 3 × -duration)")
	upSize := fs.String("upload-size", "1GiB", "size of the uploaded and downloaded image")
	uploads := fs.Int("uploads", 2, "sequential uploads of -upload-size")
	downloads := fs.Int("downloads", 3, "timed downloads")
	par := fs.Int("parallel-uploads", 4, "concurrent uploads of -parallel-size")
	parSize := fs.String("parallel-size", "256MiB", "size of each concurrent upload")
	mixedDur := fs.Duration("mixed-duration", 20*time.Second, "duration of the mixed load")
	mixedWin := fs.Duration("mixed-window", 0, "opt-in soak figures: the mixed load's rate in its first and its last window of this length (e.g. 1m with -mixed-duration 10m; 0: off)")
	soakC := fs.Int("soak-c", 8, "concurrency of the soak scenario (opt-in: create, upload -soak-size, download, patch, list 50, delete, looped)")
	soakDur := fs.Duration("soak-duration", 10*time.Minute, "duration of the soak scenario")
	soakWin := fs.Duration("soak-window", time.Minute, "the soak reports requests/s in every window of this length")
	soakSize := fs.String("soak-size", "1MiB", "bytes each soak cycle uploads and downloads")
	cycleC := fs.Int("cycle-c", 4, "concurrency of the cycle scenario (create, 4 KiB upload, list 50, delete; bounded by -duration and -n)")
	limitsSize := fs.String("limits-size", "", "bytes streamed by the limits scenario (default -upload-size)")
	limitsRuns := fs.Int("limits-runs", 2, "runs of each hashing and disk measurement (the best is reported)")
	loopRuns := fs.Int("loopback-runs", 3, "runs of the loopback copy")
	workDir := fs.String("work-dir", filepath.Join(os.TempDir(), "glintbench"), "data files and the disk-write measurement (put it on the server's store filesystem)")
	pid := fs.Int("pid", 0, "server PID: sample its VmRSS/VmHWM and CPU time")
	tree := fs.Bool("pid-tree", false, "sum memory and CPU over the PID and all its descendants (Glance's workers)")
	interval := fs.Duration("rss-interval", 50*time.Millisecond, "memory sampling interval")
	settle := fs.Duration("idle-settle", 2*time.Second, "wait before the idle memory samples")
	jsonOut := fs.String("json", "", "also write the report as JSON to this file")
	startCmd := fs.String("startup-cmd", "", "startup scenario: the server command line (split on spaces; {dir} becomes a fresh directory)")
	startURL := fs.String("startup-url", "", "startup scenario: URL to GET until 200 (default -url + /versions)")
	startRuns := fs.Int("startup-runs", 5, "startup scenario: starts (the first in an empty {dir})")
	timeout := fs.Duration("timeout", 2*time.Minute, "timeout of each metadata request")
	dataTimeout := fs.Duration("data-timeout", 10*time.Minute, "timeout of each data request")
	maxTime := fs.Duration("max-time", time.Hour, "time bound of the whole run")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "glintbench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "glintbench:", err)
		return 1
	}

	want := map[string]bool{}
	for _, s := range strings.Split(*scen, ",") {
		switch s = strings.TrimSpace(s); s {
		case "":
		case "suite":
			for _, x := range suiteScenarios {
				want[x] = true
			}
		case "all":
			for _, x := range suiteScenarios {
				want[x] = true
			}
			want["limits"] = true
			want["startup"] = *startCmd != ""
		default:
			if !slices.Contains(allScenarios, s) {
				return fail(fmt.Errorf("unknown scenario %q (have %s)", s, strings.Join(allScenarios, ", ")))
			}
			want[s] = true
		}
	}
	var levels []int
	for _, s := range strings.Split(*images, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1_000_000 {
			return fail(fmt.Errorf("bad -images %q (1…1000000)", s))
		}
		levels = append(levels, n)
	}
	slices.Sort(levels)
	var sizes [3]int64
	for i, s := range []string{*upSize, *parSize, *limitsSize} {
		if s == "" {
			sizes[i] = sizes[0]
			continue
		}
		n, err := bench.ParseSize(s)
		if err != nil || n < 1 || n > 64<<30 {
			return fail(fmt.Errorf("bad size %q (1 B … 64 GiB)", s))
		}
		sizes[i] = n
	}
	soakBytes, err := bench.ParseSize(*soakSize)
	if err != nil || soakBytes < 1 || soakBytes > 1<<30 {
		return fail(fmt.Errorf("bad -soak-size %q (1 B … 1 GiB)", *soakSize))
	}
	if *conc < 1 || *conc > 1024 || *cycleC < 1 || *cycleC > 1024 || *soakC < 1 || *soakC > 1024 || *seedC < 1 || *seedC > 1024 || *par < 1 || *par > 64 {
		return fail(errors.New("concurrency flags must be 1…1024 (-parallel-uploads 1…64)"))
	}
	if *pageLimit < 1 || *maxReq < 1 {
		return fail(errors.New("-page-limit and -n must be positive"))
	}
	if err := os.MkdirAll(*workDir, 0o755); err != nil {
		return fail(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *maxTime)
	defer cancel()

	needsServer := want["cycle"] || want["cache"] || want["soak"]
	for _, s := range suiteScenarios {
		needsServer = needsServer || want[s]
	}
	base, err := bench.CheckLoopback(*urlf)
	if err != nil {
		return fail(err)
	}
	if *target == "" {
		*target = strings.TrimPrefix(base, "http://")
	}
	rep := &bench.Report{Target: *target, Started: time.Now(), Host: bench.ThisHost(), LoadAvgStart: bench.LoadAvg()}
	if needsServer {
		rep.URL = base
	}
	c, err := bench.NewClient(base, max(*conc, *seedC, *par))
	if err != nil {
		return fail(err)
	}
	c.Timeout, c.DataTimeout = *timeout, *dataTimeout
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return fail(err)
		}
		if c.Token = strings.TrimSpace(string(b)); c.Token == "" {
			return fail(fmt.Errorf("%s holds no token", *tokenFile))
		}
	}
	opt := bench.Options{
		Concurrency: *conc, Duration: *dur, MaxRequests: *maxReq,
		SeedConcurrency: *seedC, SeedTimeout: *seedTimeout,
		PageLimit: *pageLimit, ListAllPasses: *passes,
		UploadSize: sizes[0], Uploads: *uploads, Downloads: *downloads,
		ParallelUploads: *par, ParallelSize: sizes[1],
		MixedDuration: *mixedDur, MixedWindow: *mixedWin, SoakDuration: *soakDur, SoakWindow: *soakWin, WorkDir: *workDir,
	}
	rep.Options = opt
	s := &bench.Suite{C: c, Opt: opt, Log: stderr}
	if want["limits"] || want["upload"] || want["download"] || want["upload4"] || want["cache"] {
		s.Pattern = bench.NewPattern(64 << 20)
	}
	if needsServer && *pid > 0 {
		s.Server = bench.Proc{PID: *pid, Tree: *tree}
		if _, err := s.Server.Mem(); err != nil {
			return fail(fmt.Errorf("-pid %d: %w", *pid, err))
		}
		rep.PID, rep.Tree = *pid, *tree
		s.Sampler = bench.StartSampler(s.Server, *interval)
		defer s.Sampler.Stop()
		time.Sleep(*settle)
		if m, err := s.Sampler.Now(); err == nil {
			rep.IdleMem = &m
			fmt.Fprintf(stderr, "glintbench: server idle: RSS %.1f MiB over %d processes\n", float64(m.RSSKiB)/1024, m.Procs)
		}
	}

	finish := func() int {
		rep.Results = s.Results
		if s.Sampler != nil {
			time.Sleep(*settle)
			if m, err := s.Sampler.Now(); err == nil {
				rep.IdleAfterMem = &m
			}
			pk := s.Sampler.Overall()
			rep.PeakMem = &pk
		}
		rep.Finished, rep.LoadAvgEnd = time.Now(), bench.LoadAvg()
		rep.PrintTable(stdout)
		if *jsonOut != "" {
			if err := rep.WriteJSON(*jsonOut); err != nil {
				return fail(err)
			}
		}
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "glintbench: stopped early:", context.Cause(ctx))
			return 1
		}
		return 0
	}

	if want["limits"] && !needsServer {
		s.Limits(ctx, sizes[2], *limitsRuns, *loopRuns)
	}
	if want["startup"] {
		if *startCmd == "" {
			return fail(errors.New("the startup scenario needs -startup-cmd"))
		}
		u := *startURL
		if u == "" {
			u = base + "/versions"
		}
		if _, err := s.Startup(ctx, bench.StartupSpec{Cmd: strings.Fields(*startCmd), URL: u, Runs: *startRuns,
			Tree: *tree, WorkDir: *workDir, Settle: time.Second}); err != nil {
			fmt.Fprintln(stderr, "glintbench: startup:", err)
			return finish() | 1
		}
	}
	if !needsServer {
		return finish()
	}
	if err := s.Baseline(ctx); err != nil {
		fmt.Fprintln(stderr, "glintbench:", err)
		return finish() | 1
	}
	if want["create"] {
		s.Create(ctx, 1)
		if *conc != 1 {
			s.Create(ctx, *conc)
		}
	}
	if want["show"] {
		s.Show(ctx, *conc)
	}
	if want["patch"] {
		s.Patch(ctx, *conc)
	}
	if want["delete"] {
		s.Delete(ctx, *conc)
	}
	if want["list"] {
		for _, n := range levels {
			if ctx.Err() != nil {
				break
			}
			s.Seed(ctx, n)
			if *afterSeed != "" {
				start := time.Now()
				out, err := exec.CommandContext(ctx, "sh", "-c", *afterSeed).CombinedOutput()
				if err != nil {
					fmt.Fprintf(stderr, "glintbench: -after-seed: %v: %s\n", err, out)
					return 1
				}
				fmt.Fprintf(stderr, "glintbench: -after-seed took %v\n", time.Since(start).Round(time.Millisecond))
			}
			s.List(ctx, *conc, n)
		}
	}
	if want["limits"] {
		// right before the data path, so that its ratios compare figures
		// taken under the same load from the rest of the machine
		s.Limits(ctx, sizes[2], *limitsRuns, *loopRuns)
	}
	if want["upload"] || want["download"] || want["upload4"] {
		if err := s.DataPath(ctx, want["upload"], want["download"], want["upload4"]); err != nil {
			fmt.Fprintln(stderr, "glintbench: data path:", err)
		}
	}
	if want["cache"] {
		if err := s.CacheDownload(ctx); err != nil {
			fmt.Fprintln(stderr, "glintbench: cache:", err)
		}
	}
	if want["mixed"] {
		s.Mixed(ctx, *conc)
	}
	if want["cycle"] {
		s.Cycle(ctx, *cycleC)
	}
	if want["soak"] {
		s.Soak(ctx, *soakC, int(soakBytes))
	}
	return finish()
}

func compare(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("glintbench compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	limits := fs.String("limits", "", "JSON report of the limits scenario")
	glint := fs.String("glint", "", "comma-separated JSON reports of Glint")
	glance := fs.String("glance", "", "comma-separated JSON reports of Glance")
	out := fs.String("o", "", "write the Markdown here instead of stdout")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	read := func(list string) (*bench.Report, error) {
		var rs []*bench.Report
		for _, p := range strings.Split(list, ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			r, err := bench.ReadReport(p)
			if err != nil {
				return nil, err
			}
			rs = append(rs, r)
		}
		return bench.Merge(rs...), nil
	}
	var reps [3]*bench.Report
	for i, l := range []string{*limits, *glint, *glance} {
		r, err := read(l)
		if err != nil {
			fmt.Fprintln(stderr, "glintbench compare:", err)
			return 1
		}
		reps[i] = r
	}
	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(stderr, "glintbench compare:", err)
			return 1
		}
		defer f.Close()
		w = f
	}
	bench.Compare(w, reps[0], reps[1], reps[2])
	return 0
}

func wait(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("glintbench wait", flag.ContinueOnError)
	fs.SetOutput(stderr)
	u := fs.String("url", "http://127.0.0.1:9292/versions", "URL to GET (loopback only)")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	full, err := bench.LoopbackURL(*u)
	if err != nil {
		fmt.Fprintln(stderr, "glintbench wait:", err)
		return 2
	}
	*u = full
	c, err := bench.NewClient(full, 1)
	if err != nil {
		fmt.Fprintln(stderr, "glintbench wait:", err)
		return 2
	}
	c.HTTP.Timeout = 2 * time.Second
	start := time.Now()
	for time.Since(start) < *timeout {
		resp, err := c.HTTP.Get(*u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				fmt.Fprintf(stdout, "%s answered 200 after %v\n", *u, time.Since(start).Round(time.Millisecond))
				return 0
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Fprintf(stderr, "glintbench wait: no 200 from %s within %v\n", *u, *timeout)
	return 1
}

// seed bulk-loads deleted and live images into a Glint database through
// its database layer (db.SeedChurn), migrating it first: the state of a
// cloud that has run for years, which the API would take hours to build.
// Run it while no Glint serves the database (Glint's SQLite image cache
// does not expect writes from another process).
func seed(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("glintbench seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	conn := fs.String("db", "", "the database, as Glance's [database] connection (sqlite:////path/glint.db, postgresql://…, mysql://…)")
	deleted := fs.Int("deleted", 200000, "deleted images (status deleted, their rows soft-deleted)")
	live := fs.Int("live", 0, "live (active) images")
	owner := fs.String("owner", "", "owner of every image (empty: none, as noauth makes them)")
	prefix := fs.String("id-prefix", "5eed0000", "first 8 hex digits of the images' IDs: a second seed needs another")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *conn == "" || *deleted < 0 || *live < 0 || *deleted+*live > 10_000_000 {
		fmt.Fprintln(stderr, "glintbench seed: -db is required; -deleted and -live 0…10,000,000 in all")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d, err := db.Open(ctx, *conn)
	if err != nil {
		fmt.Fprintln(stderr, "glintbench seed:", err)
		return 1
	}
	defer d.Close()
	if _, err := d.Sync(ctx); err != nil {
		fmt.Fprintln(stderr, "glintbench seed:", err)
		return 1
	}
	start := time.Now()
	if err := d.SeedChurn(ctx, db.Churn{Deleted: *deleted, Live: *live, Owner: *owner, IDPrefix: *prefix}); err != nil {
		fmt.Fprintln(stderr, "glintbench seed:", err)
		return 1
	}
	fmt.Fprintf(stdout, "seeded %d deleted and %d live images in %v\n", *deleted, *live, time.Since(start).Round(time.Millisecond))
	return 0
}
