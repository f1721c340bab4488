package obs

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TracingOptions configure Tracing ([tracing]).
type TracingOptions struct {
	// Endpoint is the OTLP/HTTP traces URL (a collector's
	// http://host:4318/v1/traces); a URL with no path gets /v1/traces.
	Endpoint string
	// ServiceName is the service.name resource attribute.
	ServiceName string
	// Version is the service.version resource attribute.
	Version string
	// SampleRatio is the share of new traces recorded (0 to 1); a request
	// that comes with a traceparent follows its sampled flag.
	SampleRatio float64
}

// Tracing exports spans with OTLP over HTTP. Its methods are safe on a
// nil *Tracing, which records nothing and adds nothing to a request's
// context: tracing that is off costs one nil check per hook.
type Tracing struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

// NewTracing starts the exporter; spans are sent in batches in the
// background. Shutdown flushes them.
func NewTracing(ctx context.Context, o TracingOptions) (*Tracing, error) {
	u, err := url.Parse(o.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("tracing.otlp_endpoint: %q is not an http:// or https:// URL", o.Endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	exp := newOTLPExporter(u.String())
	name := o.ServiceName
	if name == "" {
		name = "glint"
	}
	res := resource.NewSchemaless(attribute.String("service.name", name), attribute.String("service.version", o.Version))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Second)),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.SampleRatio))),
	)
	return &Tracing{tp: tp, tracer: tp.Tracer("glint"), prop: propagation.TraceContext{}}, nil
}

// LogErrors sends the errors of the OpenTelemetry SDK (a collector that
// cannot be reached, say) to log instead of the standard logger. The
// SDK's error handler is process-wide: only the program (glint serve)
// calls this.
func LogErrors(log *slog.Logger) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing: spans not exported", "err", err)
	}))
}

// Shutdown sends the spans not yet sent and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.tp.Shutdown(ctx)
}

// ForceFlush sends the spans ended so far (tests).
func (t *Tracing) ForceFlush(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.tp.ForceFlush(ctx)
}

// Start begins an internal span named name under ctx's. The function it
// returns ends it, marking it failed with a non-nil error. On a nil
// Tracing ctx comes back as it is.
func (t *Tracing) Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, func(error)) {
	if t == nil {
		return ctx, func(error) {}
	}
	ctx, span := t.tracer.Start(ctx, name, trace.WithAttributes(attrs...))
	return ctx, func(err error) { endSpan(span, err) }
}

func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// ServerSpan is the span of one API request.
type ServerSpan struct{ span trace.Span }

// StartServer begins the server span of an API request, as the child of
// the caller's span when the request carries a W3C traceparent. On a nil
// Tracing r comes back as it is, with a zero ServerSpan.
func (t *Tracing) StartServer(r *http.Request) (*http.Request, ServerSpan) {
	if t == nil {
		return r, ServerSpan{}
	}
	ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := t.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)))
	return r.WithContext(ctx), ServerSpan{span}
}

// RequestInfo is what the API knows of a request once it is answered.
type RequestInfo struct {
	Route, Method     string
	Status            int
	RequestID         string
	Project, User     string
	BytesIn, BytesOut int64
}

// End names the span after the route template (its low-cardinality
// name, as OpenTelemetry's HTTP conventions want), records the status
// and Glance's request id (x-openstack-request-id), and ends it.
func (s ServerSpan) End(i RequestInfo) {
	if s.span == nil {
		return
	}
	s.span.SetName(i.Method + " " + i.Route)
	s.span.SetAttributes(
		attribute.String("http.route", i.Route),
		attribute.Int("http.response.status_code", i.Status),
		attribute.String("openstack.request_id", i.RequestID),
		attribute.String("openstack.project_id", i.Project),
		attribute.String("openstack.user_id", i.User),
		attribute.Int64("http.request.body.size", i.BytesIn),
		attribute.Int64("http.response.body.size", i.BytesOut),
	)
	if i.Status >= 500 {
		s.span.SetStatus(codes.Error, strconv.Itoa(i.Status))
	}
	s.span.End()
}

// TraceID is the id of the span's trace, for log lines; "" without one.
func (s ServerSpan) TraceID() string {
	if s.span == nil {
		return ""
	}
	return s.span.SpanContext().TraceID().String()
}

// Transport traces the requests base sends (to Keystone, to a remote
// Glance) as client spans and passes the trace on in a traceparent
// header. On a nil Tracing it is base.
func (t *Tracing) Transport(base http.RoundTripper) http.RoundTripper {
	if t == nil {
		return base
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{t: t, base: base}
}

type transport struct {
	t    *Tracing
	base http.RoundTripper
}

func (tr *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, span := tr.t.tracer.Start(r.Context(), r.Method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", r.Method),
			attribute.String("server.address", r.URL.Host), attribute.String("url.path", r.URL.Path)))
	r = r.Clone(ctx)
	tr.t.prop.Inject(ctx, propagation.HeaderCarrier(r.Header))
	resp, err := tr.base.RoundTrip(r)
	if err != nil {
		endSpan(span, err)
		return nil, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 500 {
		span.SetStatus(codes.Error, resp.Status)
	}
	span.End()
	return resp, nil
}

// CloseIdleConnections passes on to the base transport.
func (tr *transport) CloseIdleConnections() {
	if c, ok := tr.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
