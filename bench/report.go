package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Host describes the machine.
type Host struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model"`
	Kernel   string `json:"kernel"`
	MemMiB   int64  `json:"mem_total_mib"`
	Go       string `json:"go"`
}

// ThisHost reads the machine's description from /proc.
func ThisHost() Host {
	h := Host{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				h.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kib int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kib); err == nil {
			h.MemMiB = kib / 1024
		}
	}
	return h
}

// Report is one run of glintbench against one target (or of the limits
// or start-up scenarios alone).
type Report struct {
	Target       string    `json:"target"`
	URL          string    `json:"url,omitempty"`
	PID          int       `json:"pid,omitempty"`
	Tree         bool      `json:"pid_tree,omitempty"`
	Started      time.Time `json:"started"`
	Finished     time.Time `json:"finished"`
	Host         Host      `json:"host"`
	LoadAvgStart string    `json:"loadavg_start"`
	LoadAvgEnd   string    `json:"loadavg_end"`
	IdleMem      *Mem      `json:"idle_mem,omitempty"`       // before the first scenario
	IdleAfterMem *Mem      `json:"idle_after_mem,omitempty"` // after the last, once settled
	PeakMem      *Mem      `json:"peak_mem,omitempty"`       // sampled peak over the run
	Options      Options   `json:"options"`
	Results      []Result  `json:"results"`
}

// WriteJSON writes the report to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadReport reads a report written by WriteJSON.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

func mib(kib int64) string {
	if kib <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(kib)/1024)
}

func memLine(m *Mem) string {
	if m == nil {
		return "-"
	}
	return fmt.Sprintf("RSS %s MiB (HWM %s MiB, %d processes)", mib(m.RSSKiB), mib(m.HWMKiB), m.Procs)
}

// PrintTable writes the report as a text table.
func (r *Report) PrintTable(w io.Writer) {
	fmt.Fprintf(w, "glintbench: %s %s", r.Target, r.URL)
	if r.PID > 0 {
		fmt.Fprintf(w, " (PID %d%s)", r.PID, map[bool]string{true: " and its children", false: ""}[r.Tree])
	}
	fmt.Fprintf(w, "\n%s → %s (%.0f s); %d CPUs (%s), kernel %s, %s\n", r.Started.Format(time.RFC3339), r.Finished.Format("15:04:05"),
		r.Finished.Sub(r.Started).Seconds(), r.Host.CPUs, r.Host.CPUModel, r.Host.Kernel, r.Host.Go)
	fmt.Fprintf(w, "load average at start %s, at end %s\n", r.LoadAvgStart, r.LoadAvgEnd)
	if r.IdleMem != nil {
		fmt.Fprintf(w, "server idle before: %s; idle after: %s; peak: %s\n", memLine(r.IdleMem), memLine(r.IdleAfterMem), memLine(r.PeakMem))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\timages\trequests\treq/s\tp50 ms\tp99 ms\terrors\tMB/s\tRSS start→peak MiB\tserver CPU s\tclient CPU s\tsrv R/D thr\tload\tpressure\t")
	for _, x := range r.Results {
		mbs := "-"
		if x.MBPerSec > 0 {
			mbs = fmt.Sprintf("%.1f", x.MBPerSec)
		}
		img := "-"
		if x.Images > 0 {
			img = fmt.Sprint(x.Images)
		}
		load, _, _ := strings.Cut(x.LoadAvg, " ")
		thr := "-"
		if x.ServerRunning+x.ServerDiskWait > 0 {
			thr = fmt.Sprintf("%.1f/%.1f", x.ServerRunning, x.ServerDiskWait)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%.2f\t%.2f\t%d\t%s\t%s\t%.2f\t%.2f\t%s\t%s\t%s\t\n", x.Name, img, x.Requests, x.ReqPerSec,
			x.P50Ms, x.P99Ms, x.Errors, mbs, rssRange(x), x.ServerCPUSeconds, x.ClientCPUSeconds, thr, load, x.Pressure)
	}
	tw.Flush()
	for _, x := range r.Results {
		if x.PassSeconds > 0 {
			fmt.Fprintf(w, "%s: %.2f s per pass over every image (%s)\n", x.Name, x.PassSeconds, x.Note)
		}
		if x.Kind == "startup" || x.Kind == "cycle" || x.Kind == "soak" || x.FirstWindowOps > 0 {
			fmt.Fprintf(w, "%s: %s\n", x.Name, x.Note)
		}
		if x.Errors > 0 {
			fmt.Fprintf(w, "%s: %d errors %v\n", x.Name, x.Errors, x.ErrorKind)
			for _, e := range x.ErrorLog {
				fmt.Fprintf(w, "    %s\n", e)
			}
		}
	}
}

func rssRange(x Result) string {
	if x.ServerRSSPeakKiB <= 0 {
		return "-"
	}
	if x.ServerRSSStartKiB <= 0 {
		return mib(x.ServerRSSPeakKiB)
	}
	return mib(x.ServerRSSStartKiB) + "→" + mib(x.ServerRSSPeakKiB)
}
