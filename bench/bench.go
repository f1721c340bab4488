// Package bench measures an Image API v2 endpoint — Glint or the reference
// Glance — and the machine both run on, for issue 4. It is the library
// behind cmd/glintbench: an HTTP client that times and verifies every
// answer, bounded load runners, the scenarios (metadata, listing, data path,
// mixed load, start-up), the machine's limits (hashing, fsync'd disk write,
// loopback sendfile copy), server memory and CPU sampling from /proc, and
// the reports (a text table, JSON, and a Markdown comparison).
//
// It uses only the standard library and talks to loopback addresses only.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MB is the unit of every MB/s figure: 10^6 bytes.
const MB = 1e6

// Result is one scenario's measurement.
type Result struct {
	Name        string `json:"name"` // unique within a report, e.g. "list limit=20 @10000 c=16"
	Kind        string `json:"kind"` // api, seed, list-all, data, limit, startup
	Concurrency int    `json:"concurrency,omitempty"`
	Images      int    `json:"images,omitempty"` // images on the server while it ran

	Requests  int            `json:"requests"`
	Errors    int            `json:"errors"`
	ErrorKind map[string]int `json:"error_kinds,omitempty"` // "500": 12, "transport": 1, "verify": 2
	ErrorLog  []string       `json:"error_samples,omitempty"`

	Seconds   float64 `json:"seconds"`
	ReqPerSec float64 `json:"req_per_sec"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`

	Bytes    int64   `json:"bytes,omitempty"`
	MBPerSec float64 `json:"mb_per_sec,omitempty"` // 10^6 bytes per second

	PassSeconds float64 `json:"pass_seconds,omitempty"` // list-all: mean time of one pass over every image
	// mixed with -mixed-window: operations per second in the first and
	// the last window
	FirstWindowOps float64 `json:"first_window_ops,omitempty"`
	LastWindowOps  float64 `json:"last_window_ops,omitempty"`
	// WindowOps: the soak's requests/s in each of its windows.
	WindowOps []float64 `json:"window_ops,omitempty"`
	// WindowCPUMsPerOp: the server's CPU milliseconds per request in each.
	WindowCPUMsPerOp []float64 `json:"window_cpu_ms_per_op,omitempty"`
	FirstMs          float64   `json:"first_ms,omitempty"` // startup: the first start

	ServerRSSStartKiB int64   `json:"server_rss_start_kib,omitempty"`    // VmRSS (summed) when the scenario started
	ServerRSSPeakKiB  int64   `json:"server_rss_peak_kib,omitempty"`     // sampled sum of VmRSS over the server's processes
	ServerHWMKiB      int64   `json:"server_hwm_kib,omitempty"`          // sum of VmHWM at the end of the scenario
	ServerCPUSeconds  float64 `json:"server_cpu_seconds,omitempty"`      // user+system, all server processes
	ClientCPUSeconds  float64 `json:"client_cpu_seconds,omitempty"`      // this benchmark process
	ServerRunning     float64 `json:"server_running_threads,omitempty"`  // mean threads running or runnable (R)
	ServerDiskWait    float64 `json:"server_diskwait_threads,omitempty"` // mean threads in disk wait (D)
	LoadAvg           string  `json:"loadavg,omitempty"`                 // /proc/loadavg at the end
	Pressure          string  `json:"pressure,omitempty"`                // machine-wide cpu and io pressure (some avg10) at the end
	Note              string  `json:"note,omitempty"`
}

// Recorder collects the measurements of one worker (or of a whole run,
// once merged). Every request adds a latency; failed requests also count
// as errors, as do answers that fail verification.
type Recorder struct {
	Lat     []time.Duration
	Errors  int
	Kinds   map[string]int
	Samples []string
	Bytes   int64
}

const maxSamples = 8

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func (r *Recorder) addError(kind, msg string) {
	r.Errors++
	if r.Kinds == nil {
		r.Kinds = map[string]int{}
	}
	r.Kinds[kind]++
	if len(r.Samples) < maxSamples {
		msg = uuidRE.ReplaceAllString(msg, "{id}")
		if !slices.Contains(r.Samples, msg) {
			r.Samples = append(r.Samples, msg)
		}
	}
}

// Fail records a request that took d and failed.
func (r *Recorder) Fail(d time.Duration, kind, msg string) {
	r.Lat = append(r.Lat, d)
	r.addError(kind, msg)
}

// Mismatch records an error on a request already counted (a 2xx answer
// that failed verification) or outside any request.
func (r *Recorder) Mismatch(format string, args ...any) {
	r.addError("verify", fmt.Sprintf(format, args...))
}

// OK records a successful request that took d.
func (r *Recorder) OK(d time.Duration) { r.Lat = append(r.Lat, d) }

// Merge adds o's measurements to r.
func (r *Recorder) Merge(o *Recorder) {
	if o == nil {
		return
	}
	r.Lat = append(r.Lat, o.Lat...)
	r.Errors += o.Errors
	r.Bytes += o.Bytes
	for k, v := range o.Kinds {
		if r.Kinds == nil {
			r.Kinds = map[string]int{}
		}
		r.Kinds[k] += v
	}
	for _, s := range o.Samples {
		if len(r.Samples) < maxSamples && !slices.Contains(r.Samples, s) {
			r.Samples = append(r.Samples, s)
		}
	}
}

// MergeErrors adds only o's errors to r (auxiliary requests: set-up and
// verification calls whose latency is not the scenario's).
func (r *Recorder) MergeErrors(o *Recorder) {
	lat := o.Lat
	o.Lat = nil
	bytes := o.Bytes
	o.Bytes = 0
	r.Merge(o)
	o.Lat, o.Bytes = lat, bytes
}

// Percentile returns the nearest-rank p-quantile (0 < p ≤ 1) of sorted.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(math.Ceil(p*float64(len(sorted)))) - 1
	k = max(0, min(k, len(sorted)-1))
	return sorted[k]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Fill sets r's request, latency, error and throughput fields from rec and
// the wall time el.
func (res *Result) Fill(rec *Recorder, el time.Duration) {
	lat := slices.Clone(rec.Lat)
	slices.Sort(lat)
	res.Requests = len(lat)
	res.Errors = rec.Errors
	if len(rec.Kinds) > 0 {
		res.ErrorKind = rec.Kinds
	}
	res.ErrorLog = rec.Samples
	res.Seconds = el.Seconds()
	if el > 0 {
		res.ReqPerSec = float64(len(lat)) / el.Seconds()
	}
	res.P50Ms = ms(Percentile(lat, 0.50))
	res.P99Ms = ms(Percentile(lat, 0.99))
	if len(lat) > 0 {
		res.MaxMs = ms(lat[len(lat)-1])
	}
	res.Bytes = rec.Bytes
	if rec.Bytes > 0 && el > 0 {
		res.MBPerSec = float64(rec.Bytes) / MB / el.Seconds()
	}
}

// CheckLoopback parses an endpoint URL and refuses anything but plain HTTP
// to a loopback address ("localhost" becomes 127.0.0.1). The result is
// scheme and host only, without a trailing slash.
func CheckLoopback(raw string) (string, error) {
	u, err := parseLoopback(raw)
	if err != nil {
		return "", err
	}
	u.Path, u.RawPath, u.RawQuery, u.Fragment = "", "", "", ""
	return u.String(), nil
}

// LoopbackURL is CheckLoopback keeping the path and query.
func LoopbackURL(raw string) (string, error) {
	u, err := parseLoopback(raw)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// parseLoopback parses raw and checks that it names a loopback host over
// plain HTTP.
func parseLoopback(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("%s: only http:// endpoints are supported", raw)
	}
	host, port := u.Hostname(), u.Port()
	if host == "localhost" {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("%s: refusing a non-loopback target (only 127.0.0.1)", raw)
	}
	if port == "" {
		port = "80"
	}
	u.Host = net.JoinHostPort(host, port)
	return u, nil
}

// loopbackDial refuses to connect anywhere but a loopback address, so no
// Location or link from a server can send the benchmark elsewhere.
func loopbackDial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("glintbench: refusing to connect to non-loopback %s", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// Client talks to one endpoint.
type Client struct {
	Base        string // http://127.0.0.1:PORT
	HTTP        *http.Client
	Timeout     time.Duration // per metadata request
	DataTimeout time.Duration // per image data request
	// Token, if set, goes in every request's X-Auth-Token: a Keystone
	// token, to measure a server that validates them.
	Token string
	seed  atomic.Uint64
}

// NewRequest is http.NewRequestWithContext for path under c.Base, with
// c's token.
func (c *Client) NewRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err == nil && c.Token != "" {
		req.Header.Set("X-Auth-Token", c.Token)
	}
	return req, err
}

// NewClient returns a client for base, a loopback http:// URL, keeping up
// to conns idle connections.
func NewClient(base string, conns int) (*Client, error) {
	b, err := CheckLoopback(base)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy:               nil, // never an HTTP_PROXY from the environment
		DialContext:         loopbackDial,
		MaxIdleConns:        conns + 8,
		MaxIdleConnsPerHost: conns + 8,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ReadBufferSize:      64 << 10,
		WriteBufferSize:     64 << 10,
	}
	return &Client{
		Base: b,
		HTTP: &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Timeout:     2 * time.Minute,
		DataTimeout: 10 * time.Minute,
	}, nil
}

// Worker issues requests for one goroutine of a load and records them.
type Worker struct {
	c    *Client
	Rec  *Recorder            // where Do records; switch it to split a mixed load by kind
	recs map[string]*Recorder // by kind; "" is the default
	buf  []byte
	Rand *rand.Rand
}

// NewWorker returns a worker with its own recorder and random source.
func (c *Client) NewWorker() *Worker {
	rec := &Recorder{}
	s := c.seed.Add(1)
	return &Worker{c: c, Rec: rec, recs: map[string]*Recorder{"": rec}, Rand: rand.New(rand.NewPCG(s, 0x9e3779b97f4a7c15))}
}

// Use makes Do record into the recorder of kind (created on first use).
func (w *Worker) Use(kind string) {
	r, ok := w.recs[kind]
	if !ok {
		r = &Recorder{}
		w.recs[kind] = r
	}
	w.Rec = r
}

// errStatus reports an unexpected status (already recorded).
var errStatus = errors.New("unexpected status")

// Do sends one request and reads the whole answer; the latency covers the
// request and the full body. A transport error or a status other than want
// is recorded as an error and returned. out, if not nil, receives the
// decoded JSON body (a decoding failure is a verification error).
func (w *Worker) Do(ctx context.Context, method, path, ctype string, body []byte, want int, out any) error {
	ctx, cancel := context.WithTimeout(ctx, w.c.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := w.c.NewRequest(ctx, method, path, rd)
	if err != nil {
		w.Rec.Mismatch("%s %s: %v", method, path, err)
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	resp, err := w.c.HTTP.Do(req)
	if err != nil {
		w.Rec.Fail(time.Since(start), "transport", fmt.Sprintf("%s %s: %v", method, path, err))
		return err
	}
	w.buf, err = readAll(resp.Body, w.buf[:0])
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		w.Rec.Fail(d, "transport", fmt.Sprintf("%s %s: reading the answer: %v", method, path, err))
		return err
	}
	if resp.StatusCode != want {
		w.Rec.Fail(d, strconv.Itoa(resp.StatusCode), fmt.Sprintf("%s %s: %d (want %d): %s",
			method, routeOf(path), resp.StatusCode, want, snippet(w.buf)))
		return errStatus
	}
	w.Rec.OK(d)
	if out != nil {
		if err := json.Unmarshal(w.buf, out); err != nil {
			w.Rec.Mismatch("%s %s: bad JSON: %v", method, routeOf(path), err)
			return err
		}
	}
	return nil
}

// routeOf drops the query string, which is long and varies, from a path.
func routeOf(p string) string {
	if before, _, ok := strings.Cut(p, "?"); ok {
		return before + "?…"
	}
	return p
}

func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

func snippet(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 160 {
		return string(b[:160]) + "…"
	}
	return string(b)
}

// Load bounds a run: it stops issuing operations after MaxOps operations or
// after Duration, whichever comes first (0 leaves that bound out; one of
// them must be set), and always stops when ctx ends.
type Load struct {
	Concurrency int
	MaxOps      int
	Duration    time.Duration
}

// Run calls op from Concurrency goroutines, with i counting operations
// from 0, until the load's bounds are reached. It returns every worker's
// measurements merged, the same split by the kinds workers chose with
// Use, and the wall time.
func (c *Client) Run(ctx context.Context, l Load, op func(ctx context.Context, w *Worker, i int)) (*Recorder, map[string]*Recorder, time.Duration) {
	if l.Concurrency < 1 {
		l.Concurrency = 1
	}
	if l.MaxOps <= 0 && l.Duration <= 0 {
		l.Duration = 10 * time.Second // never unbounded
	}
	var next atomic.Int64
	start := time.Now()
	var deadline time.Time
	if l.Duration > 0 {
		deadline = start.Add(l.Duration)
	}
	workers := make([]*Worker, l.Concurrency)
	var wg sync.WaitGroup
	for k := range workers {
		w := c.NewWorker()
		workers[k] = w
		wg.Go(func() {
			for ctx.Err() == nil {
				if !deadline.IsZero() && !time.Now().Before(deadline) {
					return
				}
				i := next.Add(1) - 1
				if l.MaxOps > 0 && i >= int64(l.MaxOps) {
					return
				}
				w.Use("")
				op(ctx, w, int(i))
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	total := &Recorder{}
	byKind := map[string]*Recorder{}
	for _, w := range workers {
		for k, r := range w.recs {
			total.Merge(r)
			if byKind[k] == nil {
				byKind[k] = &Recorder{}
			}
			byKind[k].Merge(r)
		}
	}
	return total, byKind, el
}
