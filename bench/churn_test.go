package bench_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"glint/bench"
	"glint/internal/app/apptest"
)

// The churn cycle against an in-process Glint: every request of every
// cycle answered as expected, and the cycle rate reported. It times
// nothing it judges.
func TestCycle(t *testing.T) {
	g := apptest.New(t, nil)
	c, err := bench.NewClient(g.URL, 2)
	if err != nil {
		t.Fatal(err)
	}
	s := &bench.Suite{C: c, Opt: bench.Options{Duration: 10 * time.Second, MaxRequests: 20}}
	ctx := context.Background()
	if err := s.Baseline(ctx); err != nil {
		t.Fatal(err)
	}
	res := s.Cycle(ctx, 2)
	if res.Errors != 0 || res.Requests != 4*20 {
		t.Fatalf("%d requests, %d errors: %v", res.Requests, res.Errors, res.ErrorLog)
	}
	if !strings.HasPrefix(res.Note, "20 cycles, ") {
		t.Errorf("note %q", res.Note)
	}
	// Every cycle deleted its image.
	var page struct{ Images []struct{ ID string } }
	w := c.NewWorker()
	if err := w.Do(ctx, "GET", "/v2/images", "", nil, http.StatusOK, &page); err != nil || len(page.Images) != 0 {
		t.Errorf("after the cycles the server lists %d images (%v)", len(page.Images), err)
	}
}

// The opt-in soak figures of the mixed load: its rate in its first and
// its last window, both measured.
func TestMixedWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a 3-second mixed load")
	}
	g := apptest.New(t, nil)
	c, err := bench.NewClient(g.URL, 2)
	if err != nil {
		t.Fatal(err)
	}
	s := &bench.Suite{C: c, Opt: bench.Options{Duration: 10 * time.Second, MaxRequests: 100,
		MixedDuration: 3 * time.Second, MixedWindow: time.Second}}
	ctx := context.Background()
	if err := s.Baseline(ctx); err != nil {
		t.Fatal(err)
	}
	res := s.Mixed(ctx, 2)[0]
	if res.Errors != 0 || res.FirstWindowOps <= 0 || res.LastWindowOps <= 0 || !strings.HasPrefix(res.Note, "first 1s ") {
		t.Fatalf("errors %d %v, windows %v and %v, note %q", res.Errors, res.ErrorLog, res.FirstWindowOps, res.LastWindowOps, res.Note)
	}
}

// The opt-in soak: every request of every loop answered as expected, and
// a rate reported for every window.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a 3-second soak")
	}
	g := apptest.New(t, nil)
	c, err := bench.NewClient(g.URL, 2)
	if err != nil {
		t.Fatal(err)
	}
	s := &bench.Suite{C: c, Opt: bench.Options{SoakDuration: 3 * time.Second, SoakWindow: time.Second}}
	ctx := context.Background()
	if err := s.Baseline(ctx); err != nil {
		t.Fatal(err)
	}
	res := s.Soak(ctx, 2, 4096)
	if res.Errors != 0 || len(res.WindowOps) < 2 || res.FirstWindowOps <= 0 || !strings.HasPrefix(res.Note, "requests/s per 1s: ") {
		t.Fatalf("errors %d %v, windows %v, note %q", res.Errors, res.ErrorLog, res.WindowOps, res.Note)
	}
	var page struct{ Images []struct{ ID string } }
	w := c.NewWorker()
	if err := w.Do(ctx, "GET", "/v2/images", "", nil, http.StatusOK, &page); err != nil || len(page.Images) != 0 {
		t.Errorf("after the soak the server lists %d images (%v)", len(page.Images), err)
	}
}
