package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// CycleSize is the data each cycle uploads.
const CycleSize = 4 << 10

// Cycle runs issue 32's churn cycle at concurrency conc for Duration
// (and at most MaxRequests cycles): each cycle creates an image, uploads
// CycleSize bytes to it, lists 50 images and deletes the image, four
// requests, each checked. Run on a fresh server and on one seeded with
// deleted and live images (glintbench seed), it shows whether a request's
// cost grows with what the database has accumulated. Its Note gives
// cycles/s and the server's CPU milliseconds per cycle, which move less
// than rates on a shared machine.
func (s *Suite) Cycle(ctx context.Context, conc int) Result {
	data := make([]byte, CycleSize)
	for i := range data {
		data[i] = byte(i * 7)
	}
	liveAtStart := s.live
	var cycles atomic.Int64
	res := s.measure(Result{Name: fmt.Sprintf("cycle c=%d (create, 4 KiB upload, list 50, delete)", conc), Kind: "cycle",
		Concurrency: conc, Images: s.live}, func(res *Result) {
		rec, _, el := s.C.Run(ctx, Load{Concurrency: conc, MaxOps: s.Opt.MaxRequests, Duration: s.Opt.Duration},
			func(ctx context.Context, w *Worker, i int) {
				id, ok := s.create(ctx, w, fmt.Sprintf("bench-cycle-%d", i), []string{}, nil)
				if !ok {
					return
				}
				if w.Do(ctx, "PUT", "/v2/images/"+id+"/file", "application/octet-stream", data, http.StatusNoContent, nil) != nil {
					s.deleteLeft(ctx, w, id)
					return
				}
				var lv listView
				if w.Do(ctx, "GET", "/v2/images?limit=50", "", nil, http.StatusOK, &lv) == nil && len(lv.Images) < min(50, liveAtStart+1) {
					w.Rec.Mismatch("list of 50: %d images, with %d on the server", len(lv.Images), liveAtStart+1)
				}
				if w.Do(ctx, "DELETE", "/v2/images/"+id, "", nil, http.StatusNoContent, nil) != nil {
					s.mu.Lock()
					s.live++ // left behind, perhaps
					s.uncertain = true
					s.mu.Unlock()
					return
				}
				cycles.Add(1)
			})
		res.Fill(rec, el)
	})
	// measure has appended res; the cycle figures go into that copy too.
	n := float64(cycles.Load())
	if n > 0 && res.Seconds > 0 {
		note := fmt.Sprintf("%.0f cycles, %.1f cycles/s", n, n/res.Seconds)
		if res.ServerCPUSeconds > 0 {
			note += fmt.Sprintf(", server CPU %.2f ms per cycle", 1000*res.ServerCPUSeconds/n)
		}
		res.Note = note
		s.Results[len(s.Results)-1].Note = note
		s.logf("%s: %s", res.Name, note)
	}
	return res
}

// deleteLeft deletes an image a cycle could not finish (untimed), so that
// failed cycles do not pile images up.
func (s *Suite) deleteLeft(ctx context.Context, w *Worker, id string) {
	aux := s.C.NewWorker()
	if aux.Do(ctx, "DELETE", "/v2/images/"+id, "", nil, http.StatusNoContent, nil) != nil {
		s.mu.Lock()
		s.live++
		s.uncertain = true
		s.mu.Unlock()
		w.Rec.MergeErrors(aux.Rec)
	}
}

// windowRates counts a load's finished operations once a second, for
// its rate in its first and its last window.
type windowRates struct {
	done  atomic.Int64
	marks []int64 // operations finished after 1, 2, … seconds
	// cpu, if set, is read with every mark: the server's CPU seconds.
	cpu      func() float64
	cpuMarks []float64
	quit     chan struct{}
	exited   chan struct{}
}

func startWindowRates() *windowRates { return startWindowRatesCPU(nil) }

// startWindowRatesCPU is startWindowRates also reading cpu, if not nil,
// with every count.
func startWindowRatesCPU(cpu func() float64) *windowRates {
	w := &windowRates{quit: make(chan struct{}), exited: make(chan struct{}), cpu: cpu}
	go func() {
		defer close(w.exited)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				w.marks = append(w.marks, w.done.Load())
				if w.cpu != nil {
					w.cpuMarks = append(w.cpuMarks, w.cpu())
				}
			case <-w.quit:
				return
			}
		}
	}()
	return w
}

// stop ends the counting and returns the operations per second of the
// first and the last window of length win; zeros when the load was
// shorter than two windows.
func (w *windowRates) stop(win time.Duration) (first, last float64) {
	close(w.quit)
	<-w.exited
	return windowOps(w.marks, int(win/time.Second))
}

// windowOps is the rate of the first and of the last k seconds of a load
// from its counts of finished operations after 1, 2, … seconds.
func windowOps(marks []int64, k int) (first, last float64) {
	n := len(marks)
	if k < 1 || n < 2*k {
		return 0, 0
	}
	return float64(marks[k-1]) / float64(k), float64(marks[n-1]-marks[n-1-k]) / float64(k)
}
