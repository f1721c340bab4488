// Package obstest is an OTLP/HTTP trace receiver for tests: it decodes
// the protobuf requests an OTLP exporter sends to /v1/traces and keeps
// their spans.
package obstest

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Span is a received span, flattened.
type Span struct {
	Name, TraceID, SpanID, ParentID string
	Kind                            tracepb.Span_SpanKind
	Attrs                           map[string]string // string and int values, as text
	Service                         string            // the resource's service.name
	Error                           bool
}

// Receiver is a running OTLP/HTTP receiver.
type Receiver struct {
	URL string // http://127.0.0.1:PORT/v1/traces

	mu    sync.Mutex
	spans []Span
}

// NewReceiver starts a receiver, stopped when t ends.
func NewReceiver(t testing.TB) *Receiver {
	rc := &Receiver{}
	srv := httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(srv.Close)
	rc.URL = srv.URL + "/v1/traces"
	return rc
}

func (rc *Receiver) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "not an OTLP/HTTP protobuf traces request", http.StatusBadRequest)
		return
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var got []Span
	for _, rs := range req.ResourceSpans {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.Key == "service.name" {
				service = kv.Value.GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				sp := Span{Name: s.Name, TraceID: hex.EncodeToString(s.TraceId), SpanID: hex.EncodeToString(s.SpanId),
					ParentID: hex.EncodeToString(s.ParentSpanId), Kind: s.Kind, Attrs: map[string]string{}, Service: service,
					Error: s.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR}
				for _, kv := range s.Attributes {
					switch v := kv.Value.Value.(type) {
					case *commonpb.AnyValue_StringValue:
						sp.Attrs[kv.Key] = v.StringValue
					case *commonpb.AnyValue_IntValue:
						sp.Attrs[kv.Key] = strconv.FormatInt(v.IntValue, 10)
					default:
						sp.Attrs[kv.Key] = kv.Value.String()
					}
				}
				got = append(got, sp)
			}
		}
	}
	rc.mu.Lock()
	rc.spans = append(rc.spans, got...)
	rc.mu.Unlock()
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// Spans returns the spans received so far.
func (rc *Receiver) Spans() []Span {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Span(nil), rc.spans...)
}

// WaitFor polls until ok holds of the spans received, or fails t after
// timeout.
func (rc *Receiver) WaitFor(t testing.TB, timeout time.Duration, ok func([]Span) bool) []Span {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := rc.Spans()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("OTLP receiver: spans not as expected after %v; got %d spans: %+v", timeout, len(s), s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
