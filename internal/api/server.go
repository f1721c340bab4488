// Package api is Glint's HTTP boundary: Glance's Image API v2 paths,
// status codes, headers and bodies. It decodes requests, calls the domain
// layer (package image), and maps every error to a status in one place.
package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"glint/internal/auth"
	"glint/internal/cors"
	"glint/internal/errs"
	"glint/internal/framing"
	"glint/internal/image"
	"glint/internal/imagecache"
	"glint/internal/importer"
	"glint/internal/metadef"
	"glint/internal/obs"
	"glint/internal/store"
)

// Config is what the API layer needs to know from configuration.
type Config struct {
	PublicEndpoint        string
	ShowImageDirectURL    bool
	ShowMultipleLocations bool
	LimitParamDefault     int
	APILimitMax           int
	DiskFormats           []string
	ContainerFormats      []string
	EnabledImportMethods  []string
	// CustomSchema is the content of an operator's schema-image.json;
	// nil means the one Glance ships.
	CustomSchema []byte
	// Authenticator builds each request's identity; nil means noauth.
	Authenticator auth.Authenticator
	// Importer runs interoperable imports and tasks; nil disables them.
	Importer *importer.Importer
	// Metadefs serves the metadata definitions catalog; nil leaves
	// /v2/metadefs unrouted.
	Metadefs *metadef.Service
	// Stores are the node's stores; MultiStore (enabled_backends) turns on
	// /v2/info/stores, X-Image-Meta-Store and the images' stores field.
	Stores     *store.Set
	MultiStore bool
	// CORS are the origins whose browsers may call the API ([cors]);
	// nil allows none.
	CORS *cors.Policy
	// Metrics counts requests, uploads and downloads; nil: none.
	Metrics *obs.Metrics
	// MetricsHandler, when set, serves GET /metrics on the API port.
	MetricsHandler http.Handler
	// Tracing traces requests; nil: none.
	Tracing *obs.Tracing
	// AccessLog logs a line for every request at INFO (else at DEBUG).
	AccessLog bool
	// Cache is the node's image cache (image_cache_dir); nil: the cache
	// API answers that caching is not supported. CacheManagement (the
	// cachemanagement flavors) adds glance-cache-manage's legacy routes.
	Cache           *imagecache.Cache
	CacheManagement bool
}

// Server serves the Image API.
type Server struct {
	images  *image.Service
	cfg     Config
	schemas *schemas
	log     *slog.Logger
	health  func(r *http.Request) error
	authn   auth.Authenticator
	noauth  bool // every caller is noauth's admin: every image is anyone's to read
	mux     *http.ServeMux
	bufs    bufPool      // response bodies of images and lists
	proxy   *http.Client // forwards glance-direct imports to the stage host

	metadefs       *metadef.Service
	metadefSchemas metadefSchemas
}

// New builds the API handler. health is called by /healthcheck.
func New(svc *image.Service, cfg Config, health func(*http.Request) error, log *slog.Logger) (*Server, error) {
	sch, err := loadSchemas(cfg.DiskFormats, cfg.ContainerFormats, cfg.CustomSchema)
	if err != nil {
		return nil, fmt.Errorf("loading schemas: %w", err)
	}
	s := &Server{images: svc, cfg: cfg, schemas: sch, log: log, health: health,
		authn: cfg.Authenticator, mux: http.NewServeMux(), proxy: newProxyClient()}
	if s.authn == nil {
		s.authn, s.noauth = auth.NoAuthenticator{}, true
	}
	if cfg.Metadefs != nil {
		s.metadefs = cfg.Metadefs
		if s.metadefSchemas, err = loadMetadefSchemas(sch.docs); err != nil {
			return nil, fmt.Errorf("loading schemas: %w", err)
		}
	}
	if cfg.Tracing != nil {
		s.proxy.Transport = cfg.Tracing.Transport(nil)
	}
	s.routes()
	for _, p := range []string{"/versions", "/healthcheck", "/metrics"} {
		cfg.Metrics.Route(p)
	}
	return s, nil
}

// methods maps methods to handlers for one path; noBody lists the
// methods where Glance refuses a request body.
type methods map[string]handlerFunc

// methodOrder is the order Glance lists methods in an Allow header.
var methodOrder = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

func (s *Server) route(pattern string, m methods, noBody ...string) {
	var allowed []string
	for _, k := range methodOrder {
		if _, ok := m[k]; ok {
			allowed = append(allowed, k)
		}
	}
	s.cfg.Metrics.Route(pattern)
	s.mux.HandleFunc(pattern, s.handler(func(w http.ResponseWriter, r *http.Request) error {
		h, ok := m[r.Method]
		if !ok {
			// Glance answers HEAD and unknown methods on a known path alike.
			return methodNotAllowed(r.Method, allowed)
		}
		if slices.Contains(noBody, r.Method) && hasBody(r) {
			return errs.E(errs.Op("api"), errs.Invalid, "A body is not expected with this request.")
		}
		if s.cfg.Tracing != nil {
			// The handler: its one domain call, under the server span
			// (which also holds authentication).
			ctx, end := s.cfg.Tracing.Start(r.Context(), "handle "+r.Method+" "+pattern)
			err := h(w, r.WithContext(ctx))
			end(err)
			return err
		}
		return h(w, r)
	}))
}

func hasBody(r *http.Request) bool {
	return r.ContentLength > 0 || (r.ContentLength < 0 && len(r.TransferEncoding) > 0)
}

func (s *Server) routes() {
	s.route("/v2/images", methods{"GET": s.listImages, "POST": s.createImage})
	s.route("/v2/images/{id}", methods{"GET": s.showImage, "PATCH": s.patchImage, "DELETE": s.deleteImage}, "GET", "DELETE")
	s.route("/v2/images/{id}/file", methods{"GET": s.download, "PUT": s.upload}, "GET")
	s.route("/v2/images/{id}/tags/{tag}", methods{"PUT": s.addTag, "DELETE": s.deleteTag}, "PUT", "DELETE")
	s.route("/v2/images/{id}/members", methods{"GET": s.listMembers, "POST": s.createMember}, "GET")
	s.route("/v2/images/{id}/members/{member}", methods{"GET": s.showMember, "PUT": s.updateMember, "DELETE": s.deleteMember}, "GET", "DELETE")
	s.route("/v2/images/{id}/actions/deactivate", methods{"POST": s.action(false)}, "POST")
	s.route("/v2/images/{id}/actions/reactivate", methods{"POST": s.action(true)}, "POST")
	for _, name := range []string{"image", "images", "member", "members"} {
		s.route("/v2/schemas/"+name, methods{"GET": s.getSchema(name)}, "GET")
	}
	s.route("/v2/info/import", methods{"GET": s.infoImport}, "GET")
	s.route("/v2/info/usage", methods{"GET": s.infoUsage}, "GET")
	s.importRoutes()
	s.metadefRoutes()
	s.route("/v2/info/stores", methods{"GET": s.infoStores}, "GET")
	s.route("/v2/info/stores/detail", methods{"GET": s.infoStoresDetail}, "GET")
	s.route("/v2/stores/{store}/{id}", methods{"DELETE": s.deleteFromStore}, "DELETE")
	s.cacheRoutes()
	s.mux.HandleFunc("/", s.handler(func(w http.ResponseWriter, r *http.Request) error {
		const op errs.Op = "api.route"
		switch r.Method {
		case "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH":
			return errs.E(op, errs.NotFound)
		}
		return &httpError{status: http.StatusNotImplemented,
			err: errs.E(op, "The request method "+r.Method+" is not implemented for this server.")}
	}))
}

// ServeHTTP is the front of every request: version routing, then, for
// the API itself, a request id and the caller's identity. Every request
// ends with its access log line, its metrics and its span.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if framing.Err(r.Context()) == nil {
		// oslo.middleware's cors filter is the first in Glance's pipeline:
		// it decorates every answer, errors included.
		w = s.cfg.CORS.Wrap(w, r)
	}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK, route: "other"}
	s.cfg.Metrics.RequestStarted()
	r, span := s.cfg.Tracing.StartServer(r)
	if r.Body != nil && r.Body != http.NoBody {
		rec.body = countingBody{ReadCloser: r.Body}
		r.Body = &rec.body
	}
	defer func() {
		if p := recover(); p != nil {
			s.writeError(rec, r, errs.E(errs.Op("api"), errs.Internal, fmt.Errorf("panic: %v", p)))
		}
		s.finish(r, rec, span, time.Since(start))
	}()
	if err := framing.Err(r.Context()); err != nil {
		// The stand-in net/http read in place of a head whose framing was
		// refused (see package framing): answer the refusal, and close.
		s.writeError(rec, r, err)
		return
	}
	path := r.URL.Path
	if r.Method == http.MethodOptions && path != "/versions" && path != "/healthcheck" {
		// Glance's API answers no OPTIONS but those two; the cors filter
		// makes anything else an empty 200 (a preflight's answer).
		rec.WriteHeader(http.StatusOK)
		return
	}
	switch path {
	case "/versions":
		rec.route = path
		s.handler(s.versions(http.StatusOK))(rec, r)
		return
	case "/healthcheck":
		rec.route = path
		s.handler(s.healthcheck)(rec, r)
		return
	case "/metrics":
		if s.cfg.MetricsHandler != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			// Aggregates only, no token asked: see docs/operations.md.
			rec.route = path
			s.cfg.MetricsHandler.ServeHTTP(rec, r)
			return
		}
	}
	seg, rest, slash := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	switch {
	case s.allowedVersion(seg) && !slash:
		// Glance redirects a bare version root to /v2/ (which is a 404).
		http.Redirect(rec, r, s.absURL(r, "/v2/"), http.StatusFound)
		return
	case s.allowedVersion(seg):
		if seg != "v2" {
			// /v2.N/… is /v2/…: versions only advertise features.
			r.URL.Path = "/v2/" + rest
			r.URL.RawPath = ""
		}
	case s.acceptsVersion(r.Header.Get("Accept")):
		// Media-type versioning: the path carries no version.
		r.URL.Path = "/v2" + path
		r.URL.RawPath = ""
	default:
		s.handler(s.versions(http.StatusMultipleChoices))(rec, r)
		return
	}
	rid := "req-" + uuid.NewString()
	r = r.WithContext(auth.With(r.Context(), &auth.Context{RequestID: rid, ReadOnly: true}))
	ac, err := s.authn.Authenticate(r.Context(), r)
	if err != nil {
		if _, p := s.mux.Handler(r); p != "" && p != "/" {
			rec.route = p
		}
		// Glance's answer comes from keystonemiddleware or its context
		// middleware, before a request id is given out.
		if c := s.authn.Challenge(); c != "" && errs.KindOf(err) == errs.Unauthorized {
			err = withHeader(err, "WWW-Authenticate", c)
		}
		s.writeError(rec, r, err)
		return
	}
	rec.Header().Set("X-Openstack-Request-Id", rid)
	ac.RequestID = rid
	r = r.WithContext(auth.With(r.Context(), ac))
	s.mux.ServeHTTP(rec, r)
	if r.Pattern != "" && r.Pattern != "/" {
		rec.route = r.Pattern
	}
}

// finish is the end of every request: its access log line, its metrics,
// the end of its span.
func (s *Server) finish(r *http.Request, rec *statusRecorder, span obs.ServerSpan, d time.Duration) {
	s.cfg.Metrics.RequestEnded()
	s.cfg.Metrics.Request(rec.route, r.Method, rec.status, d)
	level := slog.LevelDebug
	if s.cfg.AccessLog {
		level = slog.LevelInfo
	}
	ac := auth.From(r.Context())
	info := obs.RequestInfo{Route: rec.route, Method: r.Method, Status: rec.status, RequestID: ac.RequestID,
		Project: ac.ProjectID, User: ac.UserID, BytesIn: rec.body.n, BytesOut: rec.n}
	if s.log.Enabled(r.Context(), level) {
		attrs := []slog.Attr{slog.String("request_id", info.RequestID), slog.String("project_id", info.Project),
			slog.String("user_id", info.User), slog.String("method", info.Method), slog.String("route", info.Route),
			slog.String("path", r.URL.Path), slog.Int("status", info.Status), slog.Int64("bytes_in", info.BytesIn),
			slog.Int64("bytes_out", info.BytesOut), slog.Duration("duration", d), slog.String("remote", r.RemoteAddr)}
		if id := span.TraceID(); id != "" {
			attrs = append(attrs, slog.String("trace_id", id))
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	}
	span.End(info)
}

// countingBody counts the bytes read of a request's body.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// acceptsVersion reports whether Accept names an API version this node
// serves, as application/vnd.openstack.images-v2.N.
func (s *Server) acceptsVersion(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if v, ok := strings.CutPrefix(strings.TrimSpace(mt), "application/vnd.openstack.images-"); ok && s.allowedVersion(v) {
			return true
		}
	}
	return false
}

// healthcheck answers as oslo.middleware's healthcheck does: a 503 is its
// report that this node is unhealthy, not a failure of the request.
func (s *Server) healthcheck(w http.ResponseWriter, r *http.Request) error {
	status, reason := http.StatusOK, "OK"
	if err := s.health(r); err != nil {
		s.log.ErrorContext(r.Context(), "healthcheck failed", "err", err)
		status, reason = http.StatusServiceUnavailable, err.Error()
	}
	if errorFormat(r.Header.Get("Accept")) == "json" {
		return writeJSON(w, status, map[string]any{"detailed": false, "reasons": []string{reason}})
	}
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.WriteHeader(status)
	if status == http.StatusOK {
		fmt.Fprint(w, "OK")
	} else {
		fmt.Fprint(w, "ERROR")
	}
	return nil
}

func (s *Server) infoImport(w http.ResponseWriter, r *http.Request) error {
	methods := s.cfg.EnabledImportMethods
	if methods == nil {
		methods = []string{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"import-methods": map[string]any{
		"description": "Import methods available.", "type": "array", "value": methods,
	}})
}

func (s *Server) infoUsage(w http.ResponseWriter, r *http.Request) error {
	u, err := s.images.Usage(r.Context(), auth.From(r.Context()).ProjectID)
	if err != nil {
		return err
	}
	out := map[string]any{}
	for k, v := range u {
		out[k] = map[string]int64{"limit": v.Limit, "usage": v.Usage}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"usage": out})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	n      int64        // bytes of the response body
	route  string       // the route template, or other
	body   countingBody // the request's body, counted
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	n, err := s.ResponseWriter.Write(b)
	s.n += int64(n)
	return n, err
}

// ReadFrom keeps sendfile(2) reachable through the recorder.
func (s *statusRecorder) ReadFrom(src io.Reader) (int64, error) {
	s.wrote = true
	var n int64
	var err error
	if rf, ok := s.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(s.ResponseWriter, src)
	}
	s.n += n
	return n, err
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func requestID(r *http.Request) string { return auth.From(r.Context()).RequestID }

// writeJSON writes v as Glance does: UTF-8 JSON, no HTML escaping. An
// error (v cannot be encoded) comes before anything is written.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := marshalNoEscape(v)
	if err != nil {
		return errs.E(errs.Op("api.writeJSON"), errs.Internal, err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(status)
	w.Write(b)
	return nil
}

func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// noContent is Glance's empty 2xx.
func noContent(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
}
