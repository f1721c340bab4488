package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path"
	"strings"

	"gopkg.in/yaml.v3"
)

// wireMessage is the message as oslo.messaging encodes it, keys in its
// order. UniqueID is the AMQP driver's duplicate-detection id.
type wireMessage struct {
	MessageID   string          `json:"message_id"`
	PublisherID string          `json:"publisher_id"`
	EventType   string          `json:"event_type"`
	Priority    string          `json:"priority"`
	Payload     json.RawMessage `json:"payload"`
	Timestamp   string          `json:"timestamp"`
	UniqueID    string          `json:"_unique_id,omitempty"`
}

func (m *Message) wire(uniqueID string) wireMessage {
	return wireMessage{m.ID, m.Publisher, m.EventType, m.Priority, m.Payload, m.Timestamp(), uniqueID}
}

// Encode returns the body oslo.messaging's driver of that version puts on
// the wire: 1 is the bare message (the "messaging" driver), 2 the
// envelope with the message JSON-encoded in "oslo.message"
// ("messagingv2").
func (m *Message) Encode(version int) ([]byte, error) {
	// The unique id is per message here: one message sent to several
	// topics is the same message (oslo draws it once too).
	w := m.wire(strings.ReplaceAll(m.ID, "-", ""))
	if version == 1 {
		return json.Marshal(w)
	}
	inner, err := json.Marshal(w)
	if err != nil {
		return nil, err
	}
	return json.Marshal(struct {
		Version string `json:"oslo.version"`
		Message string `json:"oslo.message"`
	}{"2.0", string(inner)})
}

// Log is oslo.messaging's "log" driver: each notification is one log
// record at its priority, the message as JSON, named after the logger
// oslo uses (oslo.messaging.notification.<event_type>).
type Log struct{ L *slog.Logger }

// Name implements Driver.
func (Log) Name() string { return "log" }

// Close implements Driver.
func (Log) Close() error { return nil }

// Send implements Driver; it never fails.
func (d Log) Send(ctx context.Context, m *Message) error {
	level := slog.LevelInfo
	switch m.Priority {
	case Warn:
		level = slog.LevelWarn
	case Error, "CRITICAL":
		level = slog.LevelError
	case "DEBUG":
		level = slog.LevelDebug
	}
	b, err := json.Marshal(m.wire(""))
	if err != nil {
		return nil
	}
	d.L.Log(ctx, level, string(b), "logger", "oslo.messaging.notification."+m.EventType)
	return nil
}

// Routing is oslo.messaging's "routing" driver: a YAML file of groups,
// each mapping driver names to rules (accepted_events,
// accepted_priorities: shell patterns); a message goes to every driver
// whose rules in some group all match.
type Routing struct {
	drivers map[string]Driver
	rules   []routeRule
	// partial and done: the drivers that already have the message being
	// retried, so that a retry sends it only to those that failed.
	partial string
	done    map[string]bool
}

type routeRule struct {
	driver             string
	events, priorities []string // nil: not checked
}

// NewRouting reads the routing file; drivers are the ones it may name.
// A driver the file names but Glint does not have is an error, where
// oslo.messaging would log and skip it.
func NewRouting(file string, drivers map[string]Driver) (*Routing, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("routing_config: %w", err)
	}
	var groups map[string]map[string]map[string][]string
	if err := yaml.Unmarshal(b, &groups); err != nil {
		return nil, fmt.Errorf("routing_config %s: %w", file, err)
	}
	r := &Routing{drivers: map[string]Driver{}}
	for _, g := range groups {
		for name, rules := range g {
			d, ok := drivers[name]
			if !ok {
				return nil, fmt.Errorf("routing_config %s: unknown driver %q", file, name)
			}
			r.drivers[name] = d
			rr := routeRule{driver: name}
			if ev, ok := rules["accepted_events"]; ok {
				rr.events = append([]string{}, ev...)
			}
			if pr, ok := rules["accepted_priorities"]; ok {
				rr.priorities = []string{}
				for _, p := range pr {
					rr.priorities = append(rr.priorities, strings.ToLower(p))
				}
			}
			r.rules = append(r.rules, rr)
		}
	}
	return r, nil
}

// Name implements Driver.
func (*Routing) Name() string { return "routing" }

// Close implements Driver.
func (r *Routing) Close() error {
	var first error
	for _, d := range r.drivers {
		if err := d.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Send implements Driver. A driver that fails makes the message be sent
// again to the drivers that failed only.
func (r *Routing) Send(ctx context.Context, m *Message) error {
	if r.done == nil || r.partial != m.ID {
		r.partial, r.done = m.ID, map[string]bool{}
	}
	for name, d := range r.drivers {
		if r.done[name] || !r.accepts(name, m) {
			continue
		}
		if err := d.Send(ctx, m); err != nil {
			return err
		}
		r.done[name] = true
	}
	return nil
}

func (r *Routing) accepts(driver string, m *Message) bool {
	prio := strings.ToLower(m.Priority)
	for _, rr := range r.rules {
		if rr.driver != driver {
			continue
		}
		if rr.events != nil && !anyMatch(rr.events, m.EventType) {
			continue
		}
		if rr.priorities != nil && !anyMatch(rr.priorities, prio) {
			continue
		}
		return true
	}
	return false
}

func anyMatch(patterns []string, s string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}
