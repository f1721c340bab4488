package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Merge joins reports of one target (say a suite run and a start-up run)
// into one: the first report's description, every report's results, the
// first memory figures found.
func Merge(rs ...*Report) *Report {
	var out *Report
	for _, r := range rs {
		if r == nil {
			continue
		}
		if out == nil {
			c := *r
			c.Results = slices.Clone(r.Results)
			out = &c
			continue
		}
		out.Results = append(out.Results, r.Results...)
		if out.IdleMem == nil {
			out.IdleMem, out.IdleAfterMem, out.PeakMem = r.IdleMem, r.IdleAfterMem, r.PeakMem
		}
		if r.Finished.After(out.Finished) {
			out.Finished, out.LoadAvgEnd = r.Finished, r.LoadAvgEnd
		}
	}
	return out
}

// Find returns the result called name, or nil.
func (r *Report) Find(name string) *Result {
	if r == nil {
		return nil
	}
	for i := range r.Results {
		if r.Results[i].Name == name {
			return &r.Results[i]
		}
	}
	return nil
}

func (r *Report) byKind(kinds ...string) []*Result {
	var out []*Result
	if r == nil {
		return nil
	}
	for i := range r.Results {
		if slices.Contains(kinds, r.Results[i].Kind) {
			out = append(out, &r.Results[i])
		}
	}
	return out
}

// names lists the names of the results of the given kinds in a and then
// those only in b.
func names(a, b *Report, kinds ...string) []string {
	var out []string
	for _, r := range append(a.byKind(kinds...), b.byKind(kinds...)...) {
		if !slices.Contains(out, r.Name) {
			out = append(out, r.Name)
		}
	}
	return out
}

func f1(v float64) string {
	if v == 0 {
		return "-"
	}
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func f2(v float64) string {
	if v == 0 {
		return "-"
	}
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	if v >= 10 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**MISSED**"
}

// metaTarget is the req/s ratio target for a metadata scenario,
// 0 when it sets none.
func metaTarget(name string) float64 {
	switch {
	case strings.HasPrefix(name, "create ") && strings.HasSuffix(name, " c=16"),
		strings.HasPrefix(name, "patch ") && strings.HasSuffix(name, " c=16"):
		return 20
	case strings.HasPrefix(name, "show ") && strings.HasSuffix(name, " c=16"),
		strings.HasPrefix(name, "list ") && strings.HasSuffix(name, " c=16"),
		strings.HasPrefix(name, "list all "):
		return 50
	}
	return 0
}

// Compare writes a Markdown comparison of Glint and Glance against the
// machine's limits and the targets. limits may be nil when the
// limits are among glint's results; glance may be nil.
func Compare(w io.Writer, limits, glint, glance *Report) {
	// The machine's limits are the best each measurement reached in any
	// of the reports (each suite run measures them right before its data
	// path; other users of the machine only ever make them slower), so
	// ratios to them are conservative.
	type limitSet struct{ together, serial, disk, loop, up, pipe float64 }
	best := func(name string) float64 {
		var v float64
		for _, src := range []*Report{limits, glint, glance} {
			if x := src.Find(name); x != nil {
				v = max(v, x.MBPerSec)
			}
		}
		return v
	}
	l := limitSet{best("limit md5+sha512 together"), best("limit md5+sha512 serial"),
		best("limit disk write+fsync"), best("limit loopback sendfile copy"), 0, best("limit upload pipeline")}
	l.up = min(l.together, l.disk)
	if l.together == 0 || l.disk == 0 {
		l.up = max(l.together, l.disk)
	}
	gl, rl := l, l
	var targets []string
	target := func(ok bool, format string, args ...any) {
		targets = append(targets, fmt.Sprintf("- %s — %s", verdict(ok), fmt.Sprintf(format, args...)))
	}

	fmt.Fprintf(w, "### The run\n\n")
	for _, r := range []*Report{limits, glint, glance} {
		if r == nil {
			continue
		}
		fmt.Fprintf(w, "- %s: %s → %s, load average %s at start, %s at end; %d CPUs (%s), %d MiB, kernel %s, %s\n",
			r.Target, r.Started.Format("2006-01-02 15:04:05"), r.Finished.Format("15:04:05"), r.LoadAvgStart, r.LoadAvgEnd,
			r.Host.CPUs, r.Host.CPUModel, r.Host.MemMiB, r.Host.Kernel, r.Host.Go)
	}

	var limReps []*Report
	for _, r := range []*Report{limits, glint, glance} {
		if len(r.byKind("limit")) > 0 {
			limReps = append(limReps, r)
		}
	}
	fmt.Fprintf(w, "\n### Machine limits\n\nMB/s (10^6 bytes per second)")
	if len(limReps) > 0 {
		how, _, _ := strings.Cut(limReps[0].byKind("limit")[0].Note, ";")
		fmt.Fprintf(w, "; hashing and disk: %s of each run's measurements.", how)
	}
	fmt.Fprintf(w, "\n\n| measurement |")
	for _, r := range limReps {
		fmt.Fprintf(w, " %s run |", r.Target)
	}
	fmt.Fprintf(w, " how |\n|---|%s---|\n", strings.Repeat("---:|", len(limReps)))
	for _, n := range names(limits, Merge(glint, glance), "limit") {
		var how string
		fmt.Fprintf(w, "| %s |", strings.TrimPrefix(n, "limit "))
		for _, r := range limReps {
			x := r.Find(n)
			if x == nil {
				fmt.Fprintf(w, " - |")
				continue
			}
			fmt.Fprintf(w, " %s |", f1(x.MBPerSec))
			_, how, _ = strings.Cut(x.Note, "; ")
			if how == "" {
				how = x.Note
			}
		}
		fmt.Fprintf(w, " %s |\n", how)
	}
	fmt.Fprintf(w, "\nLimits used below (the best of the runs): upload = min(md5+sha512 together %s, disk write+fsync %s) = %s MB/s, the issue's definition; "+
		"download = loopback copy %s MB/s. Informative: md5+sha512 serially in one goroutine %s MB/s; the upload pipeline (both hashes and the write+fsync at once, no network) %s MB/s.\n",
		f1(l.together), f1(l.disk), f1(l.up), f1(l.loop), f1(l.serial), f1(l.pipe))

	fmt.Fprintf(w, "\n### Data path\n\n| scenario | Glint MB/s | Glint ÷ limit | Glint ÷ pipeline | Glance MB/s | Glance ÷ limit | Glint ÷ Glance | target | errors Glint / Glance |\n|---|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, n := range names(glint, glance, "data", "data-verify") {
		g, r := glint.Find(n), glance.Find(n)
		gLim, rLim, goal := gl.up, rl.up, 0.9
		if strings.HasPrefix(n, "download") {
			gLim, rLim, goal = gl.loop, rl.loop, 0.8
		}
		var gv, rv float64
		eg, er := "-", "-"
		if g != nil {
			gv, eg = g.MBPerSec, fmt.Sprint(g.Errors)
		}
		if r != nil {
			rv, er = r.MBPerSec, fmt.Sprint(r.Errors)
		}
		ratio := func(v, l float64) string {
			if v == 0 || l == 0 {
				return "-"
			}
			return fmt.Sprintf("%.0f%%", 100*v/l)
		}
		tg := fmt.Sprintf("≥ %.0f%% of limit", 100*goal)
		if strings.Contains(n, "verify") {
			tg = "(verification)"
		}
		vs := "-"
		if gv > 0 && rv > 0 {
			vs = fmt.Sprintf("%.2f×", gv/rv)
		}
		pipe := "-"
		if strings.HasPrefix(n, "upload") {
			pipe = ratio(gv, gl.pipe)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |\n", n, f1(gv), ratio(gv, gLim), pipe, f1(rv), ratio(rv, rLim), vs, tg, eg, er)
		if g != nil && gLim > 0 && !strings.Contains(n, "verify") {
			target(gv >= goal*gLim, "%s: Glint %.0f MB/s = %.0f%% of the %.0f MB/s limit (target ≥ %.0f%%)", n, gv, 100*gv/gLim, gLim, 100*goal)
		}
	}

	fmt.Fprintf(w, "\n### Metadata API\n\nreq/s, p50 and p99 in ms, errors, and the server's CPU time per request (user+system, all its processes, from /proc); "+
		"ratio = Glint req/s ÷ Glance req/s; CPU ratio = Glance CPU per request ÷ Glint's (the comparison that the other users of a shared machine disturb least).\n\n")
	fmt.Fprintf(w, "| scenario | Glint req/s | p50 | p99 | err | CPU ms/req | Glance req/s | p50 | p99 | err | CPU ms/req | ratio | CPU ratio | target |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, n := range names(glint, glance, "seed", "api", "api-part", "list-all") {
		g, r := glint.Find(n), glance.Find(n)
		cells := func(x *Result) string {
			if x == nil {
				return "- | - | - | - | -"
			}
			return fmt.Sprintf("%s | %s | %s | %d | %s", f1(x.ReqPerSec), f2(x.P50Ms), f2(x.P99Ms), x.Errors, f2(cpuPerReq(x)))
		}
		ratio, cpuRatio, tg := "-", "-", ""
		if g != nil && r != nil && cpuPerReq(g) > 0 && cpuPerReq(r) > 0 {
			cpuRatio = fmt.Sprintf("%.1f×", cpuPerReq(r)/cpuPerReq(g))
		}
		if t := metaTarget(n); t > 0 {
			tg = fmt.Sprintf("≥ %.0f×", t)
		}
		if g != nil && r != nil && r.ReqPerSec > 0 {
			q := g.ReqPerSec / r.ReqPerSec
			ratio = fmt.Sprintf("%.1f×", q)
			if t := metaTarget(n); t > 0 {
				target(q >= t, "%s: Glint %.0f req/s = %.1f× Glance's %.1f req/s (target ≥ %.0f×)", n, g.ReqPerSec, q, r.ReqPerSec, t)
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", n, cells(g), cells(r), ratio, cpuRatio, tg)
	}
	var passes []string
	for _, n := range names(glint, glance, "list-all") {
		g, r := glint.Find(n), glance.Find(n)
		var on []string
		if g != nil {
			on = append(on, fmt.Sprintf("%.2f s on Glint", g.PassSeconds))
		}
		if r != nil {
			on = append(on, fmt.Sprintf("%.2f s on Glance", r.PassSeconds))
		}
		passes = append(passes, n+": one pass over every image takes "+strings.Join(on, ", "))
	}
	if len(passes) > 0 {
		fmt.Fprintf(w, "\n%s.\n", strings.Join(passes, "; "))
	}
	for _, x := range glint.byKind("api") {
		if (strings.HasPrefix(x.Name, "list tag") || strings.HasPrefix(x.Name, "list property")) && x.Images >= 100000 {
			target(x.P99Ms < 50, "%s: Glint p99 %.1f ms (target < 50 ms)", x.Name, x.P99Ms)
		}
	}

	fmt.Fprintf(w, "\n### Memory and start-up\n\n| | Glint | Glance | target |\n|---|---:|---:|---|\n")
	memRow := func(label string, get func(r *Report) int64, goalMiB float64) {
		gv, rv := get(glint), get(glance)
		tg := ""
		if goalMiB > 0 {
			tg = fmt.Sprintf("< %.0f MiB", goalMiB)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", label, mib(gv), mib(rv), tg)
		if goalMiB > 0 && gv > 0 {
			target(float64(gv) < goalMiB*1024, "%s: Glint %.1f MiB (target < %.0f MiB)", label, float64(gv)/1024, goalMiB)
		}
	}
	idle := func(r *Report) int64 {
		if r == nil || r.IdleMem == nil {
			return 0
		}
		return r.IdleMem.RSSKiB
	}
	peakOf := func(pred func(x *Result) bool) func(r *Report) int64 {
		return func(r *Report) int64 {
			var m int64
			if r == nil {
				return 0
			}
			for _, x := range r.Results {
				if pred(&x) {
					m = max(m, x.ServerRSSPeakKiB)
				}
			}
			return m
		}
	}
	memRow("RSS idle (before the first scenario), MiB", idle, 32)
	isUpload := func(x *Result) bool {
		return x.Kind == "data" && strings.HasPrefix(x.Name, "upload") && !strings.Contains(x.Name, "concurrently")
	}
	memRow("RSS peak during the 1 GiB uploads, MiB", peakOf(isUpload), 64)
	memRow("… RSS when the uploads started (left from the scenarios before), MiB", func(r *Report) int64 {
		if r == nil {
			return 0
		}
		for _, x := range r.Results {
			if isUpload(&x) {
				return x.ServerRSSStartKiB
			}
		}
		return 0
	}, 0)
	memRow("RSS peak during the list scenarios, MiB", peakOf(func(x *Result) bool {
		return strings.HasPrefix(x.Name, "list")
	}), 64)
	memRow("RSS peak during the 4 concurrent uploads, MiB", peakOf(func(x *Result) bool {
		return strings.Contains(x.Name, "concurrently")
	}), 0)
	memRow("RSS peak during the mixed load, MiB", peakOf(func(x *Result) bool { return strings.HasPrefix(x.Name, "mixed") }), 0)
	memRow("RSS peak over the whole run (seeding included), MiB", func(r *Report) int64 {
		if r == nil || r.PeakMem == nil {
			return 0
		}
		return r.PeakMem.RSSKiB
	}, 0)
	memRow("RSS idle after the run, MiB", func(r *Report) int64 {
		if r == nil || r.IdleAfterMem == nil {
			return 0
		}
		return r.IdleAfterMem.RSSKiB
	}, 0)
	procs := func(r *Report) string {
		if r == nil || r.IdleMem == nil {
			return "-"
		}
		return fmt.Sprint(r.IdleMem.Procs)
	}
	fmt.Fprintf(w, "| server processes | %s | %s | |\n", procs(glint), procs(glance))
	st := func(r *Report) *Result {
		if x := r.byKind("startup"); len(x) > 0 {
			return x[0]
		}
		return nil
	}
	gs, rs := st(glint), st(glance)
	cell := func(x *Result, f func(*Result) float64) string {
		if x == nil {
			return "-"
		}
		return f2(f(x))
	}
	fmt.Fprintf(w, "| start to first answer, ms (p50 of the runs) | %s | %s | < 100 ms |\n", cell(gs, func(x *Result) float64 { return x.P50Ms }), cell(rs, func(x *Result) float64 { return x.P50Ms }))
	fmt.Fprintf(w, "| start to first answer, ms (slowest run) | %s | %s | < 100 ms |\n", cell(gs, func(x *Result) float64 { return x.MaxMs }), cell(rs, func(x *Result) float64 { return x.MaxMs }))
	fmt.Fprintf(w, "| start to first answer, ms (first start) | %s | %s | < 100 ms |\n", cell(gs, func(x *Result) float64 { return x.FirstMs }), cell(rs, func(x *Result) float64 { return x.FirstMs }))
	for _, x := range []*Result{gs, rs} {
		if x != nil {
			fmt.Fprintf(w, "\n%s: %s.\n", x.Name, x.Note)
		}
	}
	if gs != nil {
		target(gs.P50Ms < 100, "start to first answer: Glint %.1f ms p50 over %d starts (target < 100 ms)", gs.P50Ms, gs.Requests)
		target(gs.MaxMs < 100, "start to first answer, every start: Glint's slowest %.1f ms; first start (empty data dir, schema created) %.1f ms (target < 100 ms)", gs.MaxMs, gs.FirstMs)
	}
	fmt.Fprintln(w)

	errList := func(r *Report) []string {
		var out []string
		if r == nil {
			return nil
		}
		for _, x := range r.Results {
			if x.Errors > 0 {
				out = append(out, fmt.Sprintf("%s: %d %v", x.Name, x.Errors, x.ErrorKind))
			}
		}
		return out
	}
	gErr, rErr := errList(glint), errList(glance)
	if glint != nil {
		target(len(gErr) == 0, "zero errors in every Glint scenario%s", strings.Join(append([]string{""}, gErr...), "; "))
	}
	fmt.Fprintf(w, "\n### Targets (Glint)\n\n%s\n", strings.Join(targets, "\n"))
	if glance != nil {
		fmt.Fprintf(w, "\nGlance's errors: ")
		if len(rErr) == 0 {
			fmt.Fprintln(w, "none.")
		} else {
			fmt.Fprintf(w, "%s.\n", strings.Join(rErr, "; "))
		}
	}
	for _, r := range []*Report{glint, glance} {
		if r == nil {
			continue
		}
		for _, x := range r.Results {
			if len(x.ErrorLog) > 0 {
				fmt.Fprintf(w, "\n%s, %s — error samples:\n", r.Target, x.Name)
				for _, e := range x.ErrorLog {
					fmt.Fprintf(w, "    %s\n", e)
				}
			}
		}
	}
}

// cpuPerReq is the server's CPU milliseconds per request.
func cpuPerReq(x *Result) float64 {
	if x.Requests == 0 {
		return 0
	}
	return 1000 * x.ServerCPUSeconds / float64(x.Requests)
}
