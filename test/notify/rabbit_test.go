// Package notify_test holds Glint's notifications to Glance 25.1's: the
// same requests are made of both, each publishing to a RabbitMQ virtual
// host of its own on the shared server, and the events are compared one
// by one (TestSameEventsAsGlance). TestOutage stops and restarts a
// RabbitMQ the test owns under Glint; TestOrder checks one image's
// events arrive in the order its changes happened.
package notify_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// rabbitURL is the shared RabbitMQ (guest/guest on loopback).
const rabbitHost = "127.0.0.1:5672"

func skipUnlessServers(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: needs RabbitMQ")
	}
	c, err := net.DialTimeout("tcp", rabbitHost, 2*time.Second)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("RabbitMQ is not running on %s: %v", rabbitHost, err)
		}
		t.Skipf("RabbitMQ is not running on %s: %v", rabbitHost, err)
	}
	c.Close()
}

// newVhost makes a RabbitMQ virtual host of the test's own on the shared
// server (rabbitmqctl), guest allowed, and deletes it when the test ends.
func newVhost(t *testing.T, tag string) string {
	t.Helper()
	name := fmt.Sprintf("glint-test-%s-%d-%d", tag, os.Getpid(), time.Now().UnixNano()%1e9)
	run := func(args ...string) error {
		out, err := exec.Command("rabbitmqctl", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("rabbitmqctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := run("add_vhost", name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	t.Cleanup(func() { run("delete_vhost", name) })
	if err := run("set_permissions", "-p", name, "guest", ".*", ".*", ".*"); err != nil {
		t.Fatal(err)
	}
	return name
}

// event is one notification as a consumer receives it.
type event struct {
	Exchange, RoutingKey string
	ContentType          string
	DeliveryMode         uint8
	Envelope             map[string]any // the body
	Msg                  map[string]any // oslo.message decoded
	EventType, Priority  string
	Payload              any
}

// consumer collects the notifications published to a vhost's Glance
// exchange with routing keys notifications.info and notifications.error,
// in the order RabbitMQ hands them over (one queue each, so order is
// kept within a priority).
type consumer struct {
	t      *testing.T
	conn   *amqp.Connection
	mu     sync.Mutex
	events []event
	cond   *sync.Cond
}

// consume declares the exchange and queues as oslo.messaging does (so
// that nothing published before is lost) and collects what arrives.
func consume(t *testing.T, addr, vhost, exchange string) *consumer {
	t.Helper()
	conn, err := amqp.DialConfig("amqp://guest:guest@"+addr+"/", amqp.Config{Vhost: vhost})
	if err != nil {
		t.Fatal(err)
	}
	c := &consumer{t: t, conn: conn}
	c.cond = sync.NewCond(&c.mu)
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclare(exchange, "topic", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"notifications.info", "notifications.error"} {
		if _, err := ch.QueueDeclare(q, false, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
		if err := ch.QueueBind(q, q, exchange, false, nil); err != nil {
			t.Fatal(err)
		}
		dl, err := ch.Consume(q, "", true, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for d := range dl {
				c.add(d)
			}
		}()
	}
	return c
}

func (c *consumer) add(d amqp.Delivery) {
	e := event{Exchange: d.Exchange, RoutingKey: d.RoutingKey, ContentType: d.ContentType, DeliveryMode: d.DeliveryMode}
	if err := json.Unmarshal(d.Body, &e.Envelope); err != nil {
		c.t.Errorf("notification body is not JSON: %v: %q", err, d.Body)
		return
	}
	if s, ok := e.Envelope["oslo.message"].(string); ok {
		if err := json.Unmarshal([]byte(s), &e.Msg); err != nil {
			c.t.Errorf("oslo.message is not JSON: %v", err)
			return
		}
	} else {
		e.Msg = e.Envelope // the v1 format
	}
	e.EventType, _ = e.Msg["event_type"].(string)
	e.Priority, _ = e.Msg["priority"].(string)
	e.Payload = e.Msg["payload"]
	c.mu.Lock()
	c.events = append(c.events, e)
	c.cond.Broadcast()
	c.mu.Unlock()
}

// waitFor waits until some event satisfies ok and returns every event so
// far; the timeout is a deadlock guard, not a measurement.
func (c *consumer) waitFor(what string, ok func(event) bool) []event {
	c.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	timer := time.AfterFunc(time.Until(deadline), func() { c.mu.Lock(); c.cond.Broadcast(); c.mu.Unlock() })
	defer timer.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for _, e := range c.events {
			if ok(e) {
				return append([]event{}, c.events...)
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no %s notification after 2 minutes; got %d: %s", what, len(c.events), summary(c.events))
		}
		c.cond.Wait()
	}
}

func summary(evs []event) string {
	var b strings.Builder
	for _, e := range evs {
		st := ""
		if p, ok := e.Payload.(map[string]any); ok {
			st, _ = p["status"].(string)
		}
		fmt.Fprintf(&b, "\n  %s %s %s", e.EventType, e.Priority, st)
	}
	return b.String()
}

// payloadField reads a top-level payload field as a string.
func payloadField(e event, k string) string {
	p, _ := e.Payload.(map[string]any)
	s, _ := p[k].(string)
	return s
}
