// Package app assembles a whole Glint from its configuration: the
// database, the stores, authorization (policy, property protections,
// quotas), the authenticator, the image service, the importer, the
// metadata definitions and the API handler. It is the one assembly point:
// glint serve and every in-process test and benchmark build Glint with New
// (tests through package apptest), so what they run is what ships.
//
// What the configuration cannot say (a test's authenticator, a fake store
// driver) is given to New as an Option; there is no second way to wire
// the parts.
package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"glint/internal/api"
	"glint/internal/auth"
	"glint/internal/config"
	"glint/internal/cors"
	"glint/internal/db"
	"glint/internal/image"
	"glint/internal/imagecache"
	"glint/internal/importer"
	"glint/internal/metadef"
	"glint/internal/notify"
	"glint/internal/obs"
	"glint/internal/store"
)

// App is one Glint node, built from its configuration by New. Close
// releases it.
type App struct {
	log      *slog.Logger
	db       *db.DB
	stores   *store.Set
	health   *storeHealth
	authz    *Authorization
	images   *image.Service
	importer *importer.Importer
	metadefs *metadef.Service
	notifier *notify.Notifier
	handler  *api.Server
	metrics  *obs.Metrics      // nil: [metrics] off
	tracing  *obs.Tracing      // nil: [tracing] off
	cache    *imagecache.Cache // nil: the node has no image cache
	cacheInt time.Duration
	closers  []func() error // in the order of construction; Close runs them backwards

	staleAfter time.Duration  // [glint] upload_stale_after; 0: no sweep
	sweepStop  chan struct{}  // closed by Close: ends the stale-upload sweep
	sweepDone  sync.WaitGroup // the sweep's goroutine
}

// Option changes what New builds, for what the configuration cannot
// express: a test's authenticator, authorizer or store drivers.
type Option func(*overrides)

type overrides struct {
	log     *slog.Logger
	authn   auth.Authenticator
	authz   image.Authorizer
	stores  map[string]*store.Store
	image   []func(*image.Options)
	imports []func(*importer.Options)
	version string
}

// WithVersion gives the version the metrics and traces report.
func WithVersion(v string) Option { return func(o *overrides) { o.version = v } }

// WithLogger gives the App its logger; the default is slog.Default().
func WithLogger(log *slog.Logger) Option { return func(o *overrides) { o.log = log } }

// WithAuthenticator authenticates requests with a instead of what
// [paste_deploy] flavor selects (noauth, or Keystone).
func WithAuthenticator(a auth.Authenticator) Option { return func(o *overrides) { o.authn = a } }

// WithAuthorizer makes the image and metadefs services ask a instead of
// the policy engine [oslo_policy] configures. Property protections still
// use the policy engine.
func WithAuthorizer(a image.Authorizer) Option { return func(o *overrides) { o.authz = a } }

// WithStore uses st as the store called st.Name (an enabled_backends name,
// or a type listed in [glance_store] stores) instead of opening that store
// from its configuration. The configuration must enable a store of that
// name.
func WithStore(st *store.Store) Option {
	return func(o *overrides) {
		if o.stores == nil {
			o.stores = map[string]*store.Store{}
		}
		o.stores[st.Name] = st
	}
}

// WithImageOptions adjusts the image service's options after they are
// taken from the configuration.
func WithImageOptions(fn func(*image.Options)) Option {
	return func(o *overrides) {
		if fn != nil {
			o.image = append(o.image, fn)
		}
	}
}

// WithImportOptions adjusts the importer's options after they are taken
// from the configuration.
func WithImportOptions(fn func(*importer.Options)) Option {
	return func(o *overrides) {
		if fn != nil {
			o.imports = append(o.imports, fn)
		}
	}
}

// New builds a Glint node from cfg: it opens and migrates the database,
// opens and checks the stores, loads the policy, property protections and
// quotas, builds the authenticator, the image service, the importer, the
// metadefs service and the API handler. On error, what was built is
// released. Call Start before serving, and Close when done.
func New(ctx context.Context, cfg *config.Config, opts ...Option) (_ *App, err error) {
	o := overrides{log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	log := o.log
	a := &App{log: log, staleAfter: time.Duration(cfg.UploadStaleAfter) * time.Second}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()

	if a.metrics, a.tracing, err = observability(ctx, cfg, o.version); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return a.tracing.Shutdown(ctx)
	})

	authn := o.authn
	if authn == nil {
		ks, err := authenticator(ctx, cfg, log, a.tracing)
		if err != nil {
			return nil, err
		}
		if ks != nil {
			authn = ks
			a.closers = append(a.closers, func() error { ks.Close(); return nil })
		}
	}

	if a.db, err = db.Open(ctx, cfg.DatabaseConnection); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.db.Close)
	// Only what the release before keeps working beside (expand) on a
	// database already in use: nodes of both serve during an upgrade.
	applied, schema, err := a.db.Prepare(ctx)
	if err != nil {
		return nil, err
	}
	if len(applied) > 0 {
		log.Info("database schema migrated", "applied", applied)
	}
	switch schema.Next() {
	case db.Migrate:
		log.Warn("data migrations pending: run glint db migrate", "versions", schema.Pending[db.Migrate])
	case db.Contract:
		log.Warn("contract migrations pending: run glint db contract once no node of an older release serves",
			"versions", schema.Pending[db.Contract])
	}
	if len(schema.Unknown) > 0 {
		log.Warn("a newer Glint has expanded this database; this release serves beside it", "versions", schema.Unknown)
	}

	if a.stores, err = openStores(ctx, cfg, log, o.stores); err != nil {
		return nil, err
	}
	a.health = &storeHealth{set: a.stores, interval: 10 * time.Second}

	if a.authz, err = NewAuthorization(cfg); err != nil {
		return nil, err
	}
	if a.authz.Limits, err = unifiedLimits(ctx, cfg, log, a.tracing); err != nil {
		return nil, err
	}
	var authz image.Authorizer = a.authz.Images
	if o.authz != nil {
		authz = o.authz
	}
	imo := importOptions(cfg)
	if c, ok := authn.(interface {
		Catalog(context.Context, string) ([]auth.Endpoint, error)
	}); ok && cfg.AuthtokenIncludeServiceCatalog {
		imo.Catalog = c.Catalog // glance-download's remote Image API
	}
	imo.Filter.Trace = a.tracing.Transport
	if a.tracing == nil {
		imo.Filter.Trace = nil
	}
	for _, fn := range o.imports {
		fn(&imo)
	}
	staging, err := importer.NewStaging(imo.StagingDir, log)
	if err != nil {
		return nil, err
	}
	if dir, from := cfg.StagingDir(); dir == imo.StagingDir {
		log.Info("staging area", "dir", dir, "from", from)
	}
	notifier, err := newNotifier(cfg, log)
	if err != nil {
		return nil, err
	}
	a.notifier = notifier
	if notifier != nil {
		stat := func(f func(notify.Stats) float64) func() float64 {
			return func() float64 { return f(notifier.Stats()) }
		}
		a.metrics.GaugeFunc("notifications_queued", "Notifications waiting to be sent.", nil,
			stat(func(s notify.Stats) float64 { return float64(s.Depth) }))
		a.metrics.CounterFunc("notifications_sent_total", "Notifications delivered.", nil,
			stat(func(s notify.Stats) float64 { return float64(s.Sent) }))
		a.metrics.CounterFunc("notifications_retried_total", "Failed notification sends tried again.", nil,
			stat(func(s notify.Stats) float64 { return float64(s.Retried) }))
		a.metrics.CounterFunc("notifications_dropped_total", "Notifications given up (queue full, retries exhausted, or left at shutdown).", nil,
			stat(func(s notify.Stats) float64 { return float64(s.Dropped) }))
	}
	// Closed after the importer (closers run backwards): what the last
	// imports send still goes out, for up to 5 seconds.
	a.closers = append(a.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return notifier.Close(ctx)
	})
	so := imageOptions(cfg, a.authz)
	so.Staging = staging
	so.Notifier = imageNotifier(notifier)
	ci := &cacheImages{}
	cache, closeCache, err := OpenCache(ctx, cfg, a.db, ci, log)
	if err != nil {
		return nil, err
	}
	if cache != nil {
		a.cache, a.cacheInt = cache, time.Duration(cfg.CachePrefetcherInterval)*time.Second
		a.closers = append(a.closers, func() error { return errors.Join(cache.Close(), closeCache()) })
		if cachingFlavor(cfg.Flavor) {
			so.Cache = cache
		}
	}
	for _, fn := range o.image {
		fn(&so)
	}
	a.images = image.NewService(observedImages(a.db.Images(), a.metrics, a.tracing), a.stores, authz, so, log)
	ci.Service = a.images
	if imo.Notifier == nil {
		imo.Notifier = so.Notifier
	}

	if a.importer, err = importer.New(a.images, a.db.Images(), a.db.Tasks(), a.stores, imo, log); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() error { a.importer.Close(); return nil })

	a.metadefs = metadef.NewService(a.db.Metadefs(), authz, metadefNotifier(notifier))
	custom, err := customSchema(cfg.SearchDirs)
	if err != nil {
		return nil, err
	}
	a.observe(a.db.Dialect)
	var metricsOnAPI http.Handler
	if cfg.MetricsListen == "" {
		metricsOnAPI = a.MetricsHandler()
	}
	a.handler, err = api.New(a.images, api.Config{
		PublicEndpoint:        cfg.PublicEndpoint,
		ShowImageDirectURL:    cfg.ShowImageDirectURL,
		ShowMultipleLocations: cfg.ShowMultipleLocations,
		LimitParamDefault:     cfg.LimitParamDefault,
		APILimitMax:           cfg.APILimitMax,
		DiskFormats:           cfg.DiskFormats,
		ContainerFormats:      cfg.ContainerFormats,
		EnabledImportMethods:  cfg.EnabledImportMethods,
		Importer:              a.importer,
		CustomSchema:          custom,
		Metadefs:              a.metadefs,
		Stores:                a.stores,
		MultiStore:            len(cfg.EnabledBackends) > 0,
		Authenticator:         authn,
		CORS:                  corsPolicy(cfg),
		Metrics:               a.metrics,
		MetricsHandler:        metricsOnAPI,
		Tracing:               a.tracing,
		AccessLog:             cfg.AccessLog,
		Cache:                 a.cache,
		CacheManagement:       strings.Contains(cfg.Flavor, "cachemanagement"),
	}, a.check, log)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// corsPolicy is the origins [cors] and the [cors.<name>] sections allow,
// in the order oslo.middleware reads them.
func corsPolicy(cfg *config.Config) *cors.Policy {
	var groups []cors.Group
	for _, c := range append([]config.CORS{cfg.CORS}, cfg.CORSSections...) {
		groups = append(groups, cors.Group{Origins: c.AllowedOrigin, Rule: cors.Rule{
			AllowCredentials: c.AllowCredentials, ExposeHeaders: c.ExposeHeaders, MaxAge: c.MaxAge,
			AllowMethods: c.AllowMethods, AllowHeaders: c.AllowHeaders}})
	}
	return cors.New(groups...)
}

// imageOptions are the image service's settings the configuration and
// its authorization give.
func imageOptions(cfg *config.Config, authz *Authorization) image.Options {
	return image.Options{
		ImageSizeCap:     cfg.ImageSizeCap,
		HashingAlgorithm: cfg.HashingAlgorithm,
		PropertyQuota:    cfg.ImagePropertyQuota,
		TagQuota:         cfg.ImageTagQuota,
		MemberQuota:      cfg.ImageMemberQuota,
		StorageQuota:     authz.StorageQuota,
		Limits:           authz.Limits,
		SecureRBAC:       cfg.EnforceSecureRBAC,
		Protections:      authz.Protections,
		DelayedDelete:    cfg.DelayedDelete,
		UploadHeartbeat:  time.Duration(cfg.UploadStaleAfter) * time.Second / 4,
		UploadLogDir:     uploadLogDir(cfg),
		DiskFormats:      cfg.DiskFormats,
		ContainerFormats: cfg.ContainerFormats,
		ShowLocations:    cfg.ShowMultipleLocations,
		LocationQuota:    cfg.ImageLocationQuota,
		LocationFilter:   locationFilter(cfg),
		MultiStore:       len(cfg.EnabledBackends) > 0,
	}
}

// customSchema reads the operator's schema-image.json from where Glance
// looks for it beside its configuration (the configuration's directories,
// config.Config.SearchDirs). nil: none found.
func customSchema(dirs []string) ([]byte, error) {
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "schema-image.json"))
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return nil, nil
}

// check is /healthcheck: the database answers and the stores pass their
// self-checks.
func (a *App) check(r *http.Request) error {
	if err := a.db.Ping(r.Context()); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	return a.health.check(r.Context())
}

// Start starts the background work: the importer fails the imports this
// node left unfinished when it last stopped and starts its expiry loop;
// the image cache's periodic work (prefetch, prune, clean) runs until
// Close.
//
// Before that it puts back the uploads this node was writing when it last
// stopped without finishing them, and it starts the sweep that returns to
// queued the uploads of other nodes that died and never came back.
func (a *App) Start(ctx context.Context) error {
	if n, err := a.images.RecoverOwnUploads(ctx); err != nil {
		a.log.Warn("could not read this node's upload log", "err", err)
	} else if n > 0 {
		a.log.Warn("uploads interrupted by the last stop of this node returned to queued", "images", n)
	}
	if err := a.importer.Start(ctx); err != nil {
		return err
	}
	if a.staleAfter > 0 && a.sweepStop == nil {
		a.sweepStop = make(chan struct{})
		a.sweepDone.Add(1)
		go a.sweepStaleUploads()
		a.closers = append(a.closers, func() error { close(a.sweepStop); a.sweepDone.Wait(); return nil })
	}
	if a.cache != nil {
		cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() { defer close(done); a.cache.Run(cctx, a.cacheInt) }()
		a.closers = append(a.closers, func() error { cancel(); <-done; return nil })
	}
	return nil
}

// sweepStaleUploads runs the stale-upload recovery every quarter of
// upload_stale_after, so that no cron job is needed for it (glint scrub
// still does it too).
func (a *App) sweepStaleUploads() {
	defer a.sweepDone.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-a.sweepStop; cancel() }()
	t := time.NewTicker(max(a.staleAfter/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-a.sweepStop:
			return
		case <-t.C:
			n, err := a.images.RecoverStaleUploads(ctx, a.staleAfter)
			if err != nil && ctx.Err() == nil {
				a.log.Warn("stale-upload sweep failed", "err", err)
			}
			if n > 0 {
				a.log.Warn("uploads abandoned by a node that stopped returned to queued", "images", n)
			}
		}
	}
}

// uploadLogDir is where this node records the uploads it writes: under
// data_dir, apart for each address the node listens on, so that nodes
// sharing a data_dir never read each other's.
func uploadLogDir(cfg *config.Config) string {
	node := strings.NewReplacer(":", "_", "/", "_", "[", "", "]", "").Replace(net.JoinHostPort(cfg.BindHost, strconv.Itoa(cfg.BindPort)))
	return filepath.Join(cfg.DataDir, "uploads", node)
}

// Close stops the importer's workers and releases the database and the
// authenticator, in the reverse order of their construction. The API
// handler must no longer be serving.
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}

// Handler is the Image API.
func (a *App) Handler() http.Handler { return a.handler }

// Service is the image service the API calls.
func (a *App) Service() *image.Service { return a.images }

// Importer runs the node's interoperable imports and tasks.
func (a *App) Importer() *importer.Importer { return a.importer }

// DB is the node's database.
func (a *App) DB() *db.DB { return a.db }

// Cache is the node's image cache; nil when it has none.
func (a *App) Cache() *imagecache.Cache { return a.cache }

// Stores are the node's stores.
func (a *App) Stores() *store.Set { return a.stores }

// Notifier sends the node's notifications; its Stats are the queue's
// depth and the sent, retried and dropped counts.
func (a *App) Notifier() *notify.Notifier { return a.notifier }

// Authorization is the policy engine, property protections and quotas
// built from the configuration.
func (a *App) Authorization() *Authorization { return a.authz }
