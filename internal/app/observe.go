package app

import (
	"context"
	"net/http"
	"time"

	"glint/internal/config"
	"glint/internal/image"
	"glint/internal/obs"
	"glint/internal/store"
)

// observability builds the metrics and the tracing the configuration
// turns on ([metrics], [tracing]); each is nil when off.
func observability(ctx context.Context, cfg *config.Config, version string) (*obs.Metrics, *obs.Tracing, error) {
	var m *obs.Metrics
	if cfg.MetricsEnabled {
		m = obs.NewMetrics(version)
	}
	if !cfg.TracingEnabled {
		return m, nil, nil
	}
	t, err := obs.NewTracing(ctx, obs.TracingOptions{Endpoint: cfg.TracingEndpoint, ServiceName: cfg.TracingServiceName,
		Version: version, SampleRatio: float64(cfg.TracingSamplePercent) / 100})
	if err != nil {
		return nil, nil, err
	}
	return m, t, nil
}

// observe gives the stores their observer and registers what the scrape
// reads of the node: the database pools, the health of the database and
// of the stores, the imports in flight.
func (a *App) observe(dbName string) {
	if a.metrics == nil && a.tracing == nil {
		return
	}
	ob := obs.Stores{Metrics: a.metrics, Tracing: a.tracing}
	for _, st := range a.stores.Stores() {
		st.Observer = ob
	}
	m := a.metrics
	if m == nil {
		return
	}
	m.DBPools(a.db.Pools())
	m.Health("database", 0, obs.Check{Name: dbName, Run: a.db.Ping})
	var checks []obs.Check
	for _, st := range a.stores.Stores() {
		checks = append(checks, obs.Check{Name: st.Name, Run: st.Check})
	}
	// A store's check writes a probe object: at most one every 30 s,
	// however often Prometheus scrapes.
	m.Health("store", 30*time.Second, checks...)
	m.GaugeFunc("import_tasks_queued", "Imports and tasks of this node waiting for a worker.", nil, func() float64 {
		q, _ := a.importer.InFlight()
		return float64(q)
	})
	m.GaugeFunc("import_tasks_running", "Imports and tasks this node's workers are running.", nil, func() float64 {
		_, r := a.importer.InFlight()
		return float64(r)
	})
}

// MetricsHandler serves the node's metrics, for a listener of their own
// ([metrics] listen); nil when [metrics] is off.
func (a *App) MetricsHandler() http.Handler {
	if a.metrics == nil {
		return nil
	}
	return a.metrics.Handler()
}

// Metrics is the node's registry, where the other parts of a node (the
// notifier, the image cache) register their collectors; nil when
// [metrics] is off (obs.Metrics's methods then do nothing).
func (a *App) Metrics() *obs.Metrics { return a.metrics }

// Tracing is the node's tracing; nil when [tracing] is off.
func (a *App) Tracing() *obs.Tracing { return a.tracing }

// observedRepo is the image repository with the calls of the hot paths
// (show, list, create, update, delete, upload) timed and traced; the
// other calls go straight through.
type observedRepo struct {
	image.Repo
	m *obs.Metrics
	t *obs.Tracing
}

func observedImages(r image.Repo, m *obs.Metrics, t *obs.Tracing) image.Repo {
	if m == nil && t == nil {
		return r
	}
	return &observedRepo{Repo: r, m: m, t: t}
}

func (r *observedRepo) begin(ctx context.Context, op string) (context.Context, func(error)) {
	start := time.Now()
	ctx, end := r.t.Start(ctx, "db."+op)
	return ctx, func(err error) {
		r.m.DBOp(op, time.Since(start), err != nil)
		end(err)
	}
}

func (r *observedRepo) Create(ctx context.Context, img *image.Image) (err error) {
	ctx, end := r.begin(ctx, "images.create")
	defer func() { end(err) }()
	return r.Repo.Create(ctx, img)
}

func (r *observedRepo) Get(ctx context.Context, id string) (_ *image.Image, err error) {
	ctx, end := r.begin(ctx, "images.get")
	defer func() { end(err) }()
	return r.Repo.Get(ctx, id)
}

func (r *observedRepo) Update(ctx context.Context, img *image.Image, from image.Status) (err error) {
	ctx, end := r.begin(ctx, "images.update")
	defer func() { end(err) }()
	return r.Repo.Update(ctx, img, from)
}

func (r *observedRepo) Modify(ctx context.Context, id string, fn func(old *image.Image) (*image.Image, error)) (_ *image.Image, err error) {
	ctx, end := r.begin(ctx, "images.modify")
	defer func() { end(err) }()
	return r.Repo.Modify(ctx, id, fn)
}

func (r *observedRepo) Delete(ctx context.Context, id string) (_ *image.Image, err error) {
	ctx, end := r.begin(ctx, "images.delete")
	defer func() { end(err) }()
	return r.Repo.Delete(ctx, id)
}

func (r *observedRepo) List(ctx context.Context, q image.ListQuery, v image.Viewer) (_ []*image.Image, err error) {
	ctx, end := r.begin(ctx, "images.list")
	defer func() { end(err) }()
	return r.Repo.List(ctx, q, v)
}

var (
	_ image.Repo     = (*observedRepo)(nil)
	_ store.Observer = obs.Stores{}
)
