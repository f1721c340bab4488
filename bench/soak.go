package bench

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Soak runs issue 32's soak at concurrency conc for Options.SoakDuration:
// each client loops create → upload of size bytes → download → patch →
// list 50 → delete, six requests, each checked, so that deleted images
// pile up in the database as they do in a cloud. It reports the requests
// per second of every window of Options.SoakWindow (a minute, say) in
// Result.WindowOps, and in its Note the last window's rate against the
// first: a rate that decays with churn shows there.
func (s *Suite) Soak(ctx context.Context, conc int, size int) Result {
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 13)
	}
	win := s.Opt.SoakWindow
	if win < time.Second {
		win = time.Minute
	}
	var windows *windowRates
	res := s.measure(Result{Name: fmt.Sprintf("soak c=%d (create, %s upload, download, patch, list 50, delete)", conc, sizeName(int64(size))),
		Kind: "soak", Concurrency: conc, Images: s.live}, func(res *Result) {
		var cpu func() float64
		var cpu0 float64
		if s.Server.PID > 0 {
			cpu, cpu0 = s.Server.CPUSeconds, s.Server.CPUSeconds()
		}
		windows = startWindowRatesCPU(cpu)
		do := func(ctx context.Context, w *Worker, method, path, ctype string, body []byte, want int, out any) error {
			defer windows.done.Add(1)
			return w.Do(ctx, method, path, ctype, body, want, out)
		}
		rec, _, el := s.C.Run(ctx, Load{Concurrency: conc, Duration: s.Opt.SoakDuration},
			func(ctx context.Context, w *Worker, i int) {
				name := fmt.Sprintf("bench-soak-%d", i)
				var iv imageView
				if do(ctx, w, "POST", "/v2/images", "application/json", createBody(name, []string{"bench-soak"}, nil), http.StatusCreated, &iv) != nil {
					return
				}
				id := iv.ID
				defer func() {
					if do(ctx, w, "DELETE", "/v2/images/"+id, "", nil, http.StatusNoContent, nil) != nil {
						s.markUncertain()
					}
				}()
				if do(ctx, w, "PUT", "/v2/images/"+id+"/file", "application/octet-stream", data, http.StatusNoContent, nil) != nil {
					return
				}
				if do(ctx, w, "GET", "/v2/images/"+id+"/file", "", nil, http.StatusOK, nil) != nil {
					return
				}
				body := fmt.Sprintf(`[{"op":"replace","path":"/name","value":"%s-p"},{"op":"add","path":"/bench_soak","value":"%d"}]`, name, i)
				if do(ctx, w, "PATCH", "/v2/images/"+id, PatchMedia, []byte(body), http.StatusOK, &iv) == nil && iv.Name != name+"-p" {
					w.Rec.Mismatch("patch %s: name %q", id, iv.Name)
				}
				var lv listView
				if do(ctx, w, "GET", "/v2/images?limit=50", "", nil, http.StatusOK, &lv) == nil && len(lv.Images) == 0 {
					w.Rec.Mismatch("list of 50: no image, with %s on the server", id)
				}
			})
		res.Fill(rec, el)
		close(windows.quit)
		<-windows.exited
		k := int(win / time.Second)
		res.WindowOps = windowSeries(windows.marks, k)
		if cpu != nil {
			// The server's CPU per request in each window: the rate
			// moves with the rest of the machine's load, this less.
			for i, ops := range res.WindowOps {
				end := (i+1)*k - 1
				start := cpu0
				if i > 0 {
					start = windows.cpuMarks[i*k-1]
				}
				if ops > 0 && end < len(windows.cpuMarks) {
					res.WindowCPUMsPerOp = append(res.WindowCPUMsPerOp, 1000*(windows.cpuMarks[end]-start)/(ops*float64(k)))
				}
			}
		}
		if n := len(res.WindowOps); n >= 2 {
			res.FirstWindowOps, res.LastWindowOps = res.WindowOps[0], res.WindowOps[n-1]
			parts := make([]string, n)
			for i, r := range res.WindowOps {
				parts[i] = fmt.Sprintf("%.1f", r)
			}
			res.Note = fmt.Sprintf("requests/s per %v: %s; last/first %.0f%%", win, strings.Join(parts, " "), 100*res.LastWindowOps/res.FirstWindowOps)
			if c := res.WindowCPUMsPerOp; len(c) >= 2 {
				parts = parts[:0]
				for _, v := range c {
					parts = append(parts, fmt.Sprintf("%.2f", v))
				}
				res.Note += fmt.Sprintf("; server CPU ms per request: %s; last/first %.0f%%", strings.Join(parts, " "), 100*c[len(c)-1]/c[0])
			}
		} else {
			res.Note = fmt.Sprintf("shorter than two windows of %v", win)
		}
	})
	s.logf("%s: %s", res.Name, res.Note)
	return res
}

// windowSeries is the rate of every whole window of k seconds of a load
// from its counts of finished operations after 1, 2, … seconds.
func windowSeries(marks []int64, k int) []float64 {
	if k < 1 {
		return nil
	}
	var out []float64
	prev := int64(0)
	for end := k - 1; end < len(marks); end += k {
		out = append(out, float64(marks[end]-prev)/float64(k))
		prev = marks[end]
	}
	return out
}
