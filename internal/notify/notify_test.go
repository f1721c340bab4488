package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEncode(t *testing.T) {
	m := &Message{ID: "6c4a4b9e-55a1-4d8c-9d3e-0f0e5b7c2a11", Publisher: "image.localhost", EventType: "image.create",
		Priority: Info, Payload: json.RawMessage(`{"id":"x"}`), Time: time.Date(2026, 12, 7, 16, 51, 23, 516371000, time.UTC)}
	b, err := m.Encode(2)
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]string
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	if env["oslo.version"] != "2.0" || len(env) != 2 {
		t.Errorf("envelope %v", env)
	}
	var msg map[string]any
	if err := json.Unmarshal([]byte(env["oslo.message"]), &msg); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"message_id": m.ID, "publisher_id": "image.localhost", "event_type": "image.create",
		"priority": "INFO", "payload": map[string]any{"id": "x"}, "timestamp": "2026-12-07 16:51:23.516371",
		"_unique_id": "6c4a4b9e55a14d8c9d3e0f0e5b7c2a11"}
	if !reflect.DeepEqual(msg, want) {
		t.Errorf("oslo.message = %v, want %v", msg, want)
	}
	// oslo's key order, as Python's dict keeps it.
	if !strings.HasPrefix(env["oslo.message"], `{"message_id":`) {
		t.Errorf("key order: %s", env["oslo.message"])
	}
	v1, _ := m.Encode(1)
	var bare map[string]any
	json.Unmarshal(v1, &bare)
	if !reflect.DeepEqual(bare, want) {
		t.Errorf("v1 = %v, want %v", bare, want)
	}
	m.Time = time.Date(2026, 12, 7, 16, 51, 23, 0, time.UTC)
	if got := m.Timestamp(); got != "2026-12-07 16:51:23" {
		t.Errorf("whole-second timestamp %q: Python's str() leaves the fraction out", got)
	}
}

func TestEnabled(t *testing.T) {
	n := New(Options{Disabled: []string{"image.create", "task", "metadef_tag.*", "image.member"}}, &recorder{})
	defer n.Close(context.Background())
	for ev, want := range map[string]bool{
		"image.create":          false,
		"image.update":          true,
		"task.success":          false, // a group
		"metadef_tag.create":    false, // a prefix.*
		"metadef_tags":          true,
		"image.member.create":   true, // Glance's group is the part before the first dot only
		"metadef_object.create": true,
	} {
		if got := n.Enabled(ev); got != want {
			t.Errorf("Enabled(%s) = %v, want %v", ev, got, want)
		}
	}
	if (*Notifier)(nil).Enabled("image.create") || New(Options{}).Enabled("image.create") {
		t.Error("a notifier without drivers sends nothing")
	}
}

func TestParseTransportURL(t *testing.T) {
	tests := []struct {
		in   string
		want Transport
		err  bool
	}{
		{"rabbit://", Transport{Hosts: []Host{{"localhost:5672", "guest", "guest"}}, Vhost: "/"}, false},
		{"rabbit://u:p@h:5673/", Transport{Hosts: []Host{{"h:5673", "u", "p"}}, Vhost: "/"}, false},
		{"rabbit://u:p%40ss@h1,u2:q@h2:5674/vh", Transport{Hosts: []Host{{"h1:5672", "u", "p@ss"}, {"h2:5674", "u2", "q"}}, Vhost: "vh"}, false},
		{"rabbit://u:p@[::1]:5672/%2F", Transport{Hosts: []Host{{"[::1]:5672", "u", "p"}}, Vhost: "/"}, false},
		{"rabbit://h", Transport{Hosts: []Host{{"h:5672", "", ""}}, Vhost: "/"}, false},
		{"kafka://h:9092", Transport{}, true},
		{"rabbit://h:99999/", Transport{}, true},
		{"rabbit://h/?ssl=1", Transport{}, true},
		{"h:5672", Transport{}, true},
	}
	for _, tc := range tests {
		got, err := ParseTransportURL(tc.in)
		if (err != nil) != tc.err || !tc.err && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseTransportURL(%q) = %+v, %v; want %+v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
		if err != nil && strings.Contains(err.Error(), "p@ss") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func FuzzParseTransportURL(f *testing.F) {
	f.Add("rabbit://u:p@h1:5672,u:p@h2/vhost")
	f.Add("rabbit://[::1]:1/")
	f.Fuzz(func(t *testing.T, s string) {
		tr, err := ParseTransportURL(s)
		if err == nil && (len(tr.Hosts) == 0 || tr.Vhost == "") {
			t.Errorf("%q: %+v without error", s, tr)
		}
	})
}

// recorder is an in-memory driver that fails while told to.
type recorder struct {
	mu    sync.Mutex
	fail  bool
	sent  []string
	tries int
}

func (r *recorder) Name() string { return "recorder" }
func (r *recorder) Close() error { return nil }
func (r *recorder) Send(_ context.Context, m *Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tries++
	if r.fail {
		return errors.New("broker down")
	}
	r.sent = append(r.sent, m.EventType)
	return nil
}

func (r *recorder) setFail(f bool) { r.mu.Lock(); r.fail = f; r.mu.Unlock() }
func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string{}, r.sent...)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i > 5000 {
			t.Fatalf("still not %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestQueue: a failing driver keeps the message at the head and retries;
// past the bounded queue new messages are dropped, counted and logged;
// when the driver recovers, the kept ones go out in order.
func TestQueue(t *testing.T) {
	rec := &recorder{fail: true}
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), nil))
	n := New(Options{QueueSize: 3, RetryInterval: time.Millisecond, RetryMax: 2 * time.Millisecond, Retry: -1, Log: log}, rec)
	ctx := context.Background()
	n.Notify(ctx, Info, "e0", nil)
	eventually(t, "retrying", func() bool { return n.Stats().Retried > 0 })
	for i := 1; i <= 6; i++ {
		n.Notify(ctx, Info, "e"+string(rune('0'+i)), map[string]int{"i": i})
	}
	st := n.Stats()
	if st.Dropped != 3 || st.Depth != 4 {
		t.Errorf("stats %+v, want 3 dropped (queue 3 + 1 in flight kept)", st)
	}
	logMu.Lock()
	if !strings.Contains(logs.String(), "notification dropped") {
		t.Errorf("drop not logged: %s", logs.String())
	}
	logMu.Unlock()
	rec.setFail(false)
	eventually(t, "delivered", func() bool { return n.Stats().Depth == 0 })
	if got := rec.got(); !reflect.DeepEqual(got, []string{"e0", "e1", "e2", "e3"}) {
		t.Errorf("sent %v", got)
	}
	if st := n.Stats(); st.Sent != 4 || st.Dropped != 3 {
		t.Errorf("stats %+v", st)
	}
	n.Close(ctx)
	n.Notify(ctx, Info, "late", nil)
	if st := n.Stats(); st.Dropped != 4 {
		t.Errorf("a notification after Close is counted dropped: %+v", st)
	}
}

// TestRetryLimit: [oslo_messaging_notifications] retry gives up.
func TestRetryLimit(t *testing.T) {
	rec := &recorder{fail: true}
	n := New(Options{RetryInterval: time.Millisecond, Retry: 2}, rec)
	n.Notify(context.Background(), Info, "e", nil)
	eventually(t, "given up", func() bool { return n.Stats().Dropped == 1 })
	if rec.tries != 3 {
		t.Errorf("%d tries, want 1 + 2 retries", rec.tries)
	}
	n.Close(context.Background())
}

// TestCloseDrains: Close sends what is queued; what cannot go by the
// deadline is dropped and counted.
func TestCloseDrains(t *testing.T) {
	rec := &recorder{}
	n := New(Options{}, rec)
	for range 100 {
		n.Notify(context.Background(), Info, "e", nil)
	}
	n.Close(context.Background())
	if st := n.Stats(); st.Sent != 100 || len(rec.got()) != 100 {
		t.Errorf("after Close: %+v", st)
	}
	down := &recorder{fail: true}
	n = New(Options{RetryInterval: time.Millisecond}, down)
	n.Notify(context.Background(), Info, "e", nil)
	n.Notify(context.Background(), Info, "f", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	n.Close(ctx)
	if st := n.Stats(); st.Dropped != 2 || st.Depth != 0 {
		t.Errorf("after Close with the driver down: %+v", st)
	}
}

func TestRouting(t *testing.T) {
	a, b := &recorder{}, &recorder{}
	file := filepath.Join(t.TempDir(), "routing.yaml")
	os.WriteFile(file, []byte(`
group_1:
  messagingv2:
    accepted_events:
      - image.*
    accepted_priorities:
      - info
  log:
    accepted_priorities:
      - error
`), 0o644)
	r, err := NewRouting(file, map[string]Driver{"messagingv2": a, "log": b, "noop": &recorder{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*Message{{EventType: "image.create", Priority: Info}, {EventType: "task.run", Priority: Info},
		{EventType: "image.upload", Priority: Error}} {
		r.Send(context.Background(), m)
	}
	if !reflect.DeepEqual(a.got(), []string{"image.create"}) || !reflect.DeepEqual(b.got(), []string{"image.upload"}) {
		t.Errorf("routed: messagingv2 %v, log %v", a.got(), b.got())
	}
	if _, err := NewRouting(file, map[string]Driver{}); err == nil {
		t.Error("a routing file naming an unknown driver is an error")
	}
}

func TestLogDriver(t *testing.T) {
	var buf bytes.Buffer
	d := Log{L: slog.New(slog.NewJSONHandler(&buf, nil))}
	d.Send(context.Background(), &Message{ID: "i", EventType: "image.upload", Priority: Error, Payload: json.RawMessage(`"boom"`)})
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["level"] != "ERROR" || rec["logger"] != "oslo.messaging.notification.image.upload" || !strings.Contains(rec["msg"].(string), `"payload":"boom"`) {
		t.Errorf("log record %v", rec)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
