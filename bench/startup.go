package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// StartupSpec describes a server to start, time and stop.
type StartupSpec struct {
	Cmd     []string      // program and arguments; "{dir}" becomes a fresh directory, the same for every run
	URL     string        // GET until it answers 200 (loopback only)
	Runs    int           // the first in an empty {dir}, the others restarts on its data
	Tree    bool          // the server forks workers: sum their memory
	WorkDir string        // where {dir} and the server's output log go
	Settle  time.Duration // memory is read at the first answer and Settle later
}

// Startup starts the server Runs times and measures the time from exec to
// the first 200 of GET URL, and its memory then and after Settle. Each
// server runs in its own process group, which is stopped (SIGTERM, then
// SIGKILL after 15 s) before the next run.
func (s *Suite) Startup(ctx context.Context, sp StartupSpec) (Result, error) {
	u, err := LoopbackURL(sp.URL)
	if err != nil {
		return Result{}, err
	}
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DialContext: loopbackDial, DisableKeepAlives: true}}
	answers := func() bool {
		resp, err := hc.Get(u)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	if answers() {
		return Result{}, fmt.Errorf("something already answers at %s: stop it first", u)
	}
	dir, err := os.MkdirTemp(sp.WorkDir, "startup-")
	if err != nil {
		return Result{}, err
	}
	logf, err := os.Create(dir + ".log")
	if err != nil {
		return Result{}, err
	}
	defer logf.Close()
	args := make([]string, len(sp.Cmd))
	for i, a := range sp.Cmd {
		args[i] = strings.ReplaceAll(a, "{dir}", dir)
	}
	name := fmt.Sprintf("startup %s", firstWord(args))
	res := Result{Name: name, Kind: "startup", Concurrency: 1}
	rec := &Recorder{}
	var first time.Duration
	var memAt, memAfter []int64
	var runErr error
	for run := 0; run < max(1, sp.Runs) && ctx.Err() == nil; run++ {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return res, err
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		var el time.Duration
		ok := false
	poll:
		for time.Since(start) < time.Minute {
			if answers() {
				el, ok = time.Since(start), true
				break
			}
			select {
			case err := <-exited:
				exited <- err
				break poll
			case <-time.After(2 * time.Millisecond):
			}
		}
		if ok {
			rec.OK(el)
			if run == 0 {
				first = el
			}
			p := Proc{PID: cmd.Process.Pid, Tree: sp.Tree}
			if m, err := p.Mem(); err == nil {
				memAt = append(memAt, m.RSSKiB)
			}
			time.Sleep(sp.Settle)
			if m, err := p.Mem(); err == nil {
				memAfter = append(memAfter, m.RSSKiB)
			}
		} else {
			rec.Fail(time.Since(start), "startup", fmt.Sprintf("no 200 from %s within a minute (see %s)", u, logf.Name()))
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		// workers may outlive the parent for a moment; the port must be free
		for i := 0; i < 100 && answers(); i++ {
			time.Sleep(100 * time.Millisecond)
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // stragglers of the group, if any
	}
	var total time.Duration
	for _, d := range rec.Lat {
		total += d
	}
	res.Fill(rec, total)
	res.ReqPerSec = 0
	if len(memAfter) > 0 {
		res.ServerRSSPeakKiB = slices.Max(memAfter)
	}
	firstName := "first start"
	if slices.ContainsFunc(sp.Cmd, func(a string) bool { return strings.Contains(a, "{dir}") }) {
		firstName = "first start (empty data dir)"
	}
	res.LoadAvg = LoadAvg()
	res.FirstMs = ms(first)
	res.Note = fmt.Sprintf("%s %.1f ms; RSS at first answer %s, %v later %s; %d runs",
		firstName, ms(first), kibList(memAt), sp.Settle, kibList(memAfter), max(1, sp.Runs))
	s.Results = append(s.Results, res)
	s.logf("%s\n    %s", Line(res), res.Note)
	return res, runErr
}

func firstWord(args []string) string {
	p := args[0]
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		p += " " + args[1]
	}
	return p
}

func kibList(v []int64) string {
	var parts []string
	for _, k := range v {
		parts = append(parts, fmt.Sprintf("%.1f", float64(k)/1024))
	}
	return strings.Join(parts, "/") + " MiB"
}
