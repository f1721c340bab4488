package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat times; 100 on every
// Linux architecture Go supports (it cannot be read without cgo).
const clockTicks = 100

// Proc names a server: one process, or (Tree) the process and all its
// descendants, as Glance's parent and worker processes.
type Proc struct {
	PID  int
	Tree bool
}

// PIDs lists the process and, with Tree, its descendants (from
// /proc/PID/task/TID/children).
func (p Proc) PIDs() []int {
	out := []int{p.PID}
	if !p.Tree {
		return out
	}
	for i := 0; i < len(out) && i < 4096; i++ {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", out[i]))
		if err != nil {
			continue
		}
		for _, t := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", out[i], t.Name()))
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if n, err := strconv.Atoi(f); err == nil {
					out = append(out, n)
				}
			}
		}
	}
	return out
}

// Mem is a memory sample summed over a Proc's processes.
type Mem struct {
	RSSKiB int64 `json:"rss_kib"` // VmRSS
	HWMKiB int64 `json:"hwm_kib"` // VmHWM, each process's own peak
	Procs  int   `json:"procs"`
}

// Mem reads VmRSS and VmHWM of every process of p.
func (p Proc) Mem() (Mem, error) {
	var m Mem
	var first error
	for _, pid := range p.PIDs() {
		rss, hwm, err := readStatus(pid)
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		m.RSSKiB += rss
		m.HWMKiB += hwm
		m.Procs++
	}
	if m.Procs == 0 {
		return m, fmt.Errorf("process %d: %w", p.PID, first)
	}
	return m, nil
}

func readStatus(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		var dst *int64
		switch {
		case bytes.HasPrefix(line, []byte("VmRSS:")):
			dst = &rss
		case bytes.HasPrefix(line, []byte("VmHWM:")):
			dst = &hwm
		default:
			continue
		}
		fs := strings.Fields(string(line))
		if len(fs) >= 2 {
			*dst, _ = strconv.ParseInt(fs[1], 10, 64)
		}
	}
	return rss, hwm, sc.Err()
}

// CPUSeconds is the user+system time of p's live processes.
func (p Proc) CPUSeconds() float64 {
	var ticks int64
	for _, pid := range p.PIDs() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses and may
		// contain spaces: state is field 3, utime 14, stime 15.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		fs := strings.Fields(string(b[i+1:]))
		if len(fs) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(fs[11], 10, 64)
		st, _ := strconv.ParseInt(fs[12], 10, 64)
		ticks += ut + st
	}
	return float64(ticks) / clockTicks
}

// Threads counts p's threads by state: running or runnable (R), in
// uninterruptible sleep (D: disk I/O, fsync), and all.
func (p Proc) Threads() (running, diskWait, total int) {
	for _, pid := range p.PIDs() {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			continue
		}
		for _, t := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, t.Name()))
			if err != nil {
				continue
			}
			i := bytes.LastIndexByte(b, ')')
			if i < 0 || i+2 >= len(b) {
				continue
			}
			total++
			switch b[i+2] {
			case 'R':
				running++
			case 'D':
				diskWait++
			}
		}
	}
	return running, diskWait, total
}

// Pressure returns the "some avg10" figures of /proc/pressure/cpu and io:
// the share of the last 10 s in which some task waited for a CPU or for
// I/O, machine-wide (other users of the machine included).
func Pressure() string {
	var parts []string
	for _, r := range []string{"cpu", "io"} {
		b, err := os.ReadFile("/proc/pressure/" + r)
		if err != nil {
			continue
		}
		line, _, _ := strings.Cut(string(b), "\n")
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "avg10="); ok {
				parts = append(parts, r+" "+v+"%")
			}
		}
	}
	return strings.Join(parts, ", ")
}

// SelfCPUSeconds is this process's user+system time.
func SelfCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// LoadAvg returns the first three fields of /proc/loadavg.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	fs := strings.Fields(string(b))
	if len(fs) > 3 {
		fs = fs[:3]
	}
	return strings.Join(fs, " ")
}

// Sampler samples a server's memory in the background and keeps the peak
// since the last Reset and over its whole life.
type Sampler struct {
	p     Proc
	mu    sync.Mutex
	n     int // samples since Reset
	run   int // sum of running threads over them
	dwait int // sum of threads in disk wait
	peak  Mem
	start Mem // first sample after Reset
	all   Mem
	last  Mem
	err   error
	stop  chan struct{}
	done  chan struct{}
	every time.Duration
}

// StartSampler starts sampling p every interval.
func StartSampler(p Proc, every time.Duration) *Sampler {
	if every <= 0 {
		every = 50 * time.Millisecond
	}
	s := &Sampler{p: p, stop: make(chan struct{}), done: make(chan struct{}), every: every}
	s.sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *Sampler) sample() {
	m, err := s.p.Mem()
	r, d, _ := s.p.Threads()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
	if err != nil {
		return
	}
	s.n++
	s.run += r
	s.dwait += d
	s.last = m
	if m.RSSKiB > s.peak.RSSKiB {
		s.peak.RSSKiB = m.RSSKiB
	}
	if m.RSSKiB > s.all.RSSKiB {
		s.all.RSSKiB = m.RSSKiB
	}
	s.peak.HWMKiB, s.all.HWMKiB = m.HWMKiB, m.HWMKiB
	s.peak.Procs, s.all.Procs = max(s.peak.Procs, m.Procs), max(s.all.Procs, m.Procs)
}

// Now takes a sample and returns it.
func (s *Sampler) Now() (Mem, error) {
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.err
}

// Reset starts a new peak window.
func (s *Sampler) Reset() {
	s.mu.Lock()
	s.peak = Mem{}
	s.n, s.run, s.dwait = 0, 0, 0
	s.mu.Unlock()
	s.sample()
	s.mu.Lock()
	s.start = s.last
	s.mu.Unlock()
}

// Start returns the sample Reset took.
func (s *Sampler) Start() Mem {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.start
}

// Peak takes a last sample and returns the peak since Reset.
func (s *Sampler) Peak() Mem {
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// Threads returns the mean number of the server's threads running and
// in disk wait over the samples since Reset.
func (s *Sampler) Threads() (running, diskWait float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return 0, 0
	}
	return float64(s.run) / float64(s.n), float64(s.dwait) / float64(s.n)
}

// Overall returns the peak since the sampler started.
func (s *Sampler) Overall() Mem {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.all
}

// Stop ends sampling.
func (s *Sampler) Stop() {
	close(s.stop)
	<-s.done
}
