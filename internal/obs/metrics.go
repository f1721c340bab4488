// Package obs is Glint's observability beyond logs: Prometheus metrics
// (Metrics), OpenTelemetry traces (Tracing) and the hooks the request
// path calls. Both are off unless configured ([metrics], [tracing]); a
// nil *Metrics or *Tracing records nothing, so that a node without them
// pays one nil check per hook.
//
// No metric has a label whose values grow with the data: requests are
// counted by route template (the pattern internal/api registers), method
// and status, transfers by store name; never by image, project or user.
package obs

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "glint"

// Metrics is a node's Prometheus registry and the instruments the request
// path updates. Its methods are safe on a nil *Metrics and then do
// nothing.
type Metrics struct {
	reg *prometheus.Registry

	inFlight prometheus.Gauge
	reqDur   *prometheus.HistogramVec // route, method, code
	routeMu  sync.Mutex
	routes   atomic.Pointer[map[string]*route] // route template -> its cells; copied on write by Route

	uploads   [numUploadKinds]prometheus.Gauge
	storeDur  *prometheus.HistogramVec // store, op, result
	storeByte *prometheus.CounterVec   // store, direction
	storeMu   sync.RWMutex
	storeObs  map[storeKey]storeCells

	dbDur *prometheus.HistogramVec // op, result
	dbMu  sync.RWMutex
	dbObs map[string][2]prometheus.Observer
}

// UploadKind says what an upload in flight is.
type UploadKind int

const (
	// Upload is image data sent with PUT /v2/images/{id}/file.
	Upload UploadKind = iota
	// Stage is data sent to the staging area (PUT /v2/images/{id}/stage).
	Stage
	numUploadKinds
)

var uploadKindNames = [numUploadKinds]string{"upload", "stage"}

// Latency buckets, in seconds: API answers take milliseconds, data
// transfers up to minutes.
var (
	requestBuckets  = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}
	transferBuckets = []float64{.005, .01, .05, .1, .5, 1, 5, 10, 30, 60, 300, 900, 3600}
	dbBuckets       = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 5}
)

// NewMetrics makes a registry with the Go runtime and process collectors
// and Glint's own instruments. version is reported by glint_build_info.
func NewMetrics(version string) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "http_requests_in_flight",
			Help: "API requests being served."}),
		reqDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Time to answer API requests, by route template, method and status code (its _count is the number of requests).",
			Buckets: requestBuckets}, []string{"route", "method", "code"}),
		storeDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "store_operation_duration_seconds",
			Help: "Time of store operations by store, operation (write: an upload or import into the store, read: a download's " +
				"stream, open, delete, size, check) and result (ok, error).",
			Buckets: transferBuckets}, []string{"store", "op", "result"}),
		storeByte: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "store_bytes_total",
			Help: "Image data written to (direction=in) and downloaded from (direction=out) each store."}, []string{"store", "direction"}),
		storeObs: map[storeKey]storeCells{},
		dbDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "db_operation_duration_seconds",
			Help:    "Time of the image repository's calls on the database, by operation and result (ok, error).",
			Buckets: dbBuckets}, []string{"op", "result"}),
		dbObs: map[string][2]prometheus.Observer{},
	}
	m.routes.Store(&map[string]*route{"other": {name: "other"}})
	uploads := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "uploads_in_flight",
		Help: "Image data uploads being received, by kind (upload: PUT /file, stage: PUT /stage)."}, []string{"kind"})
	for k := range m.uploads {
		m.uploads[k] = uploads.WithLabelValues(uploadKindNames[k])
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "build_info",
		Help: "Always 1; its label is Glint's version.", ConstLabels: prometheus.Labels{"version": version}})
	info.Set(1)
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		info, m.inFlight, m.reqDur, uploads, m.storeDur, m.storeByte, m.dbDur,
	)
	return m
}

// Register adds a collector of another part of Glint (the notifier's
// queue, the image cache) to the registry. A nil Metrics ignores it.
func (m *Metrics) Register(c prometheus.Collector) error {
	if m == nil {
		return nil
	}
	return m.reg.Register(c)
}

// Registry is the registry itself, for tests and for collectors built
// with the prometheus package's helpers (GaugeFunc, CounterFunc).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in Prometheus's text (or OpenMetrics)
// format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A scrape never waits for a second one in flight.
		MaxRequestsInFlight: 2,
		Timeout:             30 * time.Second,
	})
}

// GaugeFunc registers a gauge read at each scrape (in-flight imports,
// queue depths). A nil Metrics ignores it.
func (m *Metrics) GaugeFunc(name, help string, labels prometheus.Labels, f func() float64) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help,
		ConstLabels: labels}, f))
}

// CounterFunc registers a counter read at each scrape, for a part that
// keeps its own running totals (notifications sent, retried, dropped).
// f must never decrease. A nil Metrics ignores it.
func (m *Metrics) CounterFunc(name, help string, labels prometheus.Labels, f func() float64) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help,
		ConstLabels: labels}, f))
}

// DBPools reports database/sql's pool statistics (open, in use, idle
// connections, waits) of each named pool.
func (m *Metrics) DBPools(pools map[string]*sql.DB) {
	if m == nil {
		return
	}
	for name, p := range pools {
		m.reg.MustRegister(collectors.NewDBStatsCollector(p, name))
	}
}

// ---- HTTP requests

// methods are the label values of the method label: a client chooses
// the method, so anything else is counted as OTHER.
var methods = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

func methodIndex(m string) int {
	for i, k := range methods {
		if k == m {
			return i
		}
	}
	return len(methods)
}

// route holds the resolved histogram children of one route template,
// so that observing a request allocates nothing once its method and
// status have been seen.
type route struct {
	name  string
	mu    sync.Mutex
	cells [len(methods) + 1]atomic.Pointer[[]codeCell]
}

type codeCell struct {
	code int
	obs  prometheus.Observer
}

// Route declares a route template (called when routes are registered, so
// that lookups at request time find it ready).
func (m *Metrics) Route(name string) {
	if m == nil {
		return
	}
	m.routeMu.Lock()
	defer m.routeMu.Unlock()
	old := *m.routes.Load()
	if _, ok := old[name]; ok {
		return
	}
	next := make(map[string]*route, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[name] = &route{name: name}
	m.routes.Store(&next)
}

// Request records one answered request: its route template (declared
// with Route; others count as "other"), method, status and duration.
func (m *Metrics) Request(routeName, method string, code int, d time.Duration) {
	if m == nil {
		return
	}
	routes := *m.routes.Load()
	rt, ok := routes[routeName]
	if !ok {
		rt = routes["other"]
	}
	mi := methodIndex(method)
	if cells := rt.cells[mi].Load(); cells != nil {
		for _, c := range *cells {
			if c.code == code {
				c.obs.Observe(d.Seconds())
				return
			}
		}
	}
	rt.mu.Lock()
	var cells []codeCell
	if p := rt.cells[mi].Load(); p != nil {
		cells = *p
	}
	var o prometheus.Observer
	for _, c := range cells {
		if c.code == code {
			o = c.obs
		}
	}
	if o == nil {
		mname := "OTHER"
		if mi < len(methods) {
			mname = methods[mi]
		}
		o = m.reqDur.WithLabelValues(rt.name, mname, strconv.Itoa(code))
		next := append(append(make([]codeCell, 0, len(cells)+1), cells...), codeCell{code, o})
		rt.cells[mi].Store(&next)
	}
	rt.mu.Unlock()
	o.Observe(d.Seconds())
}

// RequestStarted and RequestEnded count the requests in flight.
func (m *Metrics) RequestStarted() {
	if m != nil {
		m.inFlight.Inc()
	}
}

// RequestEnded: see RequestStarted.
func (m *Metrics) RequestEnded() {
	if m != nil {
		m.inFlight.Dec()
	}
}

// UploadStarted and UploadEnded count the uploads in flight.
func (m *Metrics) UploadStarted(k UploadKind) {
	if m != nil {
		m.uploads[k].Inc()
	}
}

// UploadEnded: see UploadStarted.
func (m *Metrics) UploadEnded(k UploadKind) {
	if m != nil {
		m.uploads[k].Dec()
	}
}

// ---- stores

type storeKey struct{ store, op string }

type storeCells struct {
	ok, failed prometheus.Observer
	bytes      prometheus.Counter // nil for operations that move no data
}

func (m *Metrics) storeCells(store, op string) storeCells {
	k := storeKey{store, op}
	m.storeMu.RLock()
	c, ok := m.storeObs[k]
	m.storeMu.RUnlock()
	if ok {
		return c
	}
	m.storeMu.Lock()
	defer m.storeMu.Unlock()
	if c, ok := m.storeObs[k]; ok {
		return c
	}
	c = storeCells{ok: m.storeDur.WithLabelValues(store, op, "ok"), failed: m.storeDur.WithLabelValues(store, op, "error")}
	switch op {
	case "write":
		c.bytes = m.storeByte.WithLabelValues(store, "in")
	case "read":
		c.bytes = m.storeByte.WithLabelValues(store, "out")
	}
	m.storeObs[k] = c
	return c
}

// StoreOp records one store operation: write (an upload or import into
// the store, n bytes), read (a download's stream, n bytes), open, delete,
// size, check.
func (m *Metrics) StoreOp(store, op string, n int64, d time.Duration, failed bool) {
	if m == nil {
		return
	}
	c := m.storeCells(store, op)
	if failed {
		c.failed.Observe(d.Seconds())
	} else {
		c.ok.Observe(d.Seconds())
	}
	if c.bytes != nil && n > 0 {
		c.bytes.Add(float64(n))
	}
}

// ---- database

// DBOp records one repository call on the database.
func (m *Metrics) DBOp(op string, d time.Duration, failed bool) {
	if m == nil {
		return
	}
	m.dbMu.RLock()
	c, ok := m.dbObs[op]
	m.dbMu.RUnlock()
	if !ok {
		m.dbMu.Lock()
		if c, ok = m.dbObs[op]; !ok {
			c = [2]prometheus.Observer{m.dbDur.WithLabelValues(op, "ok"), m.dbDur.WithLabelValues(op, "error")}
			m.dbObs[op] = c
		}
		m.dbMu.Unlock()
	}
	i := 0
	if failed {
		i = 1
	}
	c[i].Observe(d.Seconds())
}

// ---- health

// Check is a health check the scrape runs: the database's ping, a
// store's self-check.
type Check struct {
	Name string
	Run  func(context.Context) error
}

// Health reports, at each scrape, glint_<component>_up (1 or 0) and
// glint_<component>_check_duration_seconds for each check, labelled
// with <component>=Name (e.g. store="file"). A check runs at most once
// per every (a store's check writes a probe object; scrapes must not
// turn into a write load): between runs the last result is reported.
func (m *Metrics) Health(component string, every time.Duration, checks ...Check) {
	if m == nil || len(checks) == 0 {
		return
	}
	h := &health{every: every, checks: checks, last: make([]result, len(checks)),
		up: prometheus.NewDesc(prometheus.BuildFQName(namespace, component, "up"),
			"Whether the "+component+" passed its last health check (1) or not (0).", []string{component}, nil),
		dur: prometheus.NewDesc(prometheus.BuildFQName(namespace, component, "check_duration_seconds"),
			"How long the "+component+"'s last health check took.", []string{component}, nil)}
	m.reg.MustRegister(h)
}

type health struct {
	every   time.Duration
	checks  []Check
	up, dur *prometheus.Desc

	mu   sync.Mutex
	last []result
}

type result struct {
	at  time.Time
	ok  bool
	dur time.Duration
}

func (h *health) Describe(ch chan<- *prometheus.Desc) { ch <- h.up; ch <- h.dur }

func (h *health) Collect(ch chan<- prometheus.Metric) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, c := range h.checks {
		r := &h.last[i]
		if r.at.IsZero() || time.Since(r.at) >= h.every {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			start := time.Now()
			err := c.Run(ctx)
			cancel()
			*r = result{at: time.Now(), ok: err == nil, dur: time.Since(start)}
		}
		up := 0.0
		if r.ok {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(h.up, prometheus.GaugeValue, up, c.Name)
		ch <- prometheus.MustNewConstMetric(h.dur, prometheus.GaugeValue, r.dur.Seconds(), c.Name)
	}
}
