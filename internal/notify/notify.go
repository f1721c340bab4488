// Package notify sends Glance's notifications: the events other services
// (Ceilometer, Searchlight, auditors) read about images, members, tasks
// and metadata definitions, in oslo.messaging's formats.
//
// A Notifier never slows or fails the request that caused an event:
// Notify stamps the message and puts it on a bounded queue per driver; a
// goroutine per driver sends the queue in order, retrying a failed send
// with backoff (the message stays at the head, so order is kept), and a
// full queue drops the new message, counted and logged.
package notify

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Priorities as oslo.messaging spells them in a message.
const (
	Info  = "INFO"
	Warn  = "WARN"
	Error = "ERROR"
)

// Message is one notification, the same for every driver.
type Message struct {
	ID        string          // message_id, a UUID
	Publisher string          // publisher_id, e.g. image.localhost
	EventType string          // event_type, e.g. image.create
	Priority  string          // INFO, WARN, ERROR
	Payload   json.RawMessage // the payload, encoded when the event happened
	Time      time.Time       // when the event happened, UTC
}

// Timestamp is the message's time as oslo.messaging writes it (Python's
// str() of a naive UTC datetime: microseconds, left out when zero).
func (m *Message) Timestamp() string {
	if m.Time.Nanosecond()/1000 == 0 {
		return m.Time.Format("2006-01-02 15:04:05")
	}
	return m.Time.Format("2006-01-02 15:04:05.000000")
}

// Driver delivers messages. Send returns an error when the message should
// be sent again later; a driver is used by one goroutine at a time.
type Driver interface {
	Name() string
	Send(ctx context.Context, m *Message) error
	Close() error
}

// Options configure a Notifier.
type Options struct {
	// PublisherID is [DEFAULT] default_publisher_id.
	PublisherID string
	// Disabled is [DEFAULT] disabled_notifications: event types and groups
	// (the part before the first dot, e.g. "image", "task") never sent; an
	// item ending in ".*" disables every event type under that prefix.
	Disabled []string
	// QueueSize bounds each driver's queue; <= 0 means 10000.
	QueueSize int
	// Retry is [oslo_messaging_notifications] retry: how many times a
	// failed send is tried again before the message is dropped; -1: until
	// it goes through.
	Retry int
	// RetryInterval, RetryBackoff and RetryMax are the first wait after a
	// failure, what is added to it after each further failure, and its
	// cap ([oslo_messaging_rabbit] rabbit_retry_interval,
	// rabbit_retry_backoff, rabbit_interval_max).
	RetryInterval, RetryBackoff, RetryMax time.Duration
	Log                                   *slog.Logger
	now                                   func() time.Time
}

// Stats are a Notifier's counters, summed over its drivers.
type Stats struct {
	Depth   int    // messages waiting (queued or being sent)
	Sent    uint64 // messages a driver delivered
	Retried uint64 // failed sends that were tried again
	Dropped uint64 // messages given up: queue full, retries exhausted, or left at shutdown
}

// Notifier queues notifications for its drivers. The zero of *Notifier
// (nil) sends nothing.
type Notifier struct {
	opts    Options
	log     *slog.Logger
	senders []*sender
	closed  atomic.Bool
}

// New starts a Notifier sending to drivers. With no driver it is a no-op
// (the noop driver is no driver).
func New(opts Options, drivers ...Driver) *Notifier {
	if opts.QueueSize <= 0 {
		opts.QueueSize = 10000
	}
	if opts.PublisherID == "" {
		opts.PublisherID = "image.localhost"
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = time.Second
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 30 * time.Second
	}
	if opts.now == nil {
		opts.now = time.Now
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{opts: opts, log: log}
	for _, d := range drivers {
		s := &sender{
			n: n, d: d,
			queue: make(chan *Message, opts.QueueSize),
			stop:  make(chan struct{}),
			done:  make(chan struct{}),
		}
		n.senders = append(n.senders, s)
		go s.run()
	}
	return n
}

// Enabled reports whether eventType is sent at all: some driver is
// configured and disabled_notifications does not name it. Callers may
// skip building a payload when it is not.
func (n *Notifier) Enabled(eventType string) bool {
	if n == nil || len(n.senders) == 0 {
		return false
	}
	group, _, _ := strings.Cut(eventType, ".")
	for _, d := range n.opts.Disabled {
		if d == eventType || d == group {
			return false
		}
		if p, ok := strings.CutSuffix(d, ".*"); ok && strings.HasPrefix(eventType, p+".") {
			return false
		}
	}
	return true
}

// Notify queues a notification; it never blocks. The payload is encoded
// now, so the caller may change it afterwards.
func (n *Notifier) Notify(ctx context.Context, priority, eventType string, payload any) {
	if !n.Enabled(eventType) {
		return
	}
	b, err := json.Marshal(payload)
	if err != nil {
		// A payload is built by Glint from its own types: a bug, not an outage.
		n.log.ErrorContext(ctx, "notification payload cannot be encoded", "event_type", eventType, "error", err)
		return
	}
	m := &Message{
		ID:        uuid.NewString(),
		Publisher: n.opts.PublisherID,
		EventType: eventType,
		Priority:  priority,
		Payload:   b,
		Time:      n.opts.now().UTC(),
	}
	for _, s := range n.senders {
		s.enqueue(ctx, m)
	}
}

// Stats returns the counters, summed over the drivers.
func (n *Notifier) Stats() Stats {
	var st Stats
	if n == nil {
		return st
	}
	for _, s := range n.senders {
		st.Depth += len(s.queue) + int(s.inflight.Load())
		st.Sent += s.sent.Load()
		st.Retried += s.retried.Load()
		st.Dropped += s.dropped.Load()
	}
	return st
}

// Close stops taking messages, sends what is queued until ctx ends, then
// counts and logs what is left as dropped, and closes the drivers.
func (n *Notifier) Close(ctx context.Context) error {
	if n == nil || n.closed.Swap(true) {
		return nil
	}
	for _, s := range n.senders {
		s.closeCtx = ctx
		close(s.stop)
	}
	for _, s := range n.senders {
		<-s.done
	}
	var first error
	for _, s := range n.senders {
		if err := s.d.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// sender owns one driver's queue.
type sender struct {
	n        *Notifier
	d        Driver
	queue    chan *Message
	stop     chan struct{}
	done     chan struct{}
	closeCtx context.Context // set before stop is closed

	inflight                atomic.Int32
	sent, retried, dropped  atomic.Uint64
	dropMu                  sync.Mutex
	lastDropLog             time.Time
	droppedSinceLastDropLog uint64
}

func (s *sender) enqueue(ctx context.Context, m *Message) {
	if s.n.closed.Load() {
		s.drop(ctx, m, "the notifier is closed")
		return
	}
	select {
	case s.queue <- m:
	default:
		s.drop(ctx, m, "the notification queue is full")
	}
}

// drop counts a message given up, and logs it: every one while they are
// rare, then a summary at most every 10 seconds, so that an outage does
// not flood the log.
func (s *sender) drop(ctx context.Context, m *Message, why string) {
	s.dropped.Add(1)
	s.dropMu.Lock()
	defer s.dropMu.Unlock()
	s.droppedSinceLastDropLog++
	now := time.Now()
	if now.Sub(s.lastDropLog) < 10*time.Second {
		return
	}
	s.n.log.ErrorContext(ctx, "notification dropped", "driver", s.d.Name(), "reason", why,
		"event_type", m.EventType, "message_id", m.ID,
		"dropped_since_last_report", s.droppedSinceLastDropLog, "dropped_total", s.dropped.Load())
	s.lastDropLog, s.droppedSinceLastDropLog = now, 0
}

func (s *sender) run() {
	defer close(s.done)
	for {
		select {
		case m := <-s.queue:
			s.deliver(m)
		case <-s.stop:
			for {
				select {
				case m := <-s.queue:
					if s.closeCtx.Err() != nil {
						s.drop(context.Background(), m, "shutting down before it was sent")
						continue
					}
					s.deliver(m)
				default:
					return
				}
			}
		}
	}
}

// deliver sends m, retrying with backoff; m stays the sender's one
// message in flight, so later ones wait behind it and order is kept.
func (s *sender) deliver(m *Message) {
	s.inflight.Store(1)
	defer s.inflight.Store(0)
	o := s.n.opts
	wait := o.RetryInterval
	for attempt := 0; ; attempt++ {
		ctx := context.Background()
		if s.stopping() {
			ctx = s.closeCtx
		}
		err := s.d.Send(ctx, m)
		if err == nil {
			s.sent.Add(1)
			if attempt > 0 {
				s.n.log.Info("notifications are being delivered again", "driver", s.d.Name(), "after_attempts", attempt+1)
			}
			return
		}
		if o.Retry >= 0 && attempt >= o.Retry {
			s.drop(ctx, m, "retries exhausted: "+err.Error())
			return
		}
		if attempt == 0 {
			s.n.log.Warn("notification not delivered, retrying", "driver", s.d.Name(), "event_type", m.EventType, "error", err)
		}
		s.retried.Add(1)
		t := time.NewTimer(wait)
		var closing <-chan struct{}
		if s.stopping() {
			closing = s.closeCtx.Done()
		}
		select {
		case <-t.C:
		case <-s.stop:
			t.Stop()
			if s.closeCtx.Err() == nil {
				// Shutting down: keep trying until the close deadline.
				select {
				case <-time.After(wait):
				case <-s.closeCtx.Done():
				}
			}
		case <-closing:
			t.Stop()
		}
		if s.stopping() && s.closeCtx.Err() != nil {
			s.drop(context.Background(), m, "shutting down before it was sent: "+err.Error())
			return
		}
		wait = min(wait+o.RetryBackoff, o.RetryMax)
	}
}

func (s *sender) stopping() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}
