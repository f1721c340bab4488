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
