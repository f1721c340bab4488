package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"glint/internal/config"
	"glint/internal/image"
	"glint/internal/metadef"
	"glint/internal/notify"
)

// newNotifier builds the notifier [oslo_messaging_notifications] asks
// for; with no driver (or only noop) it sends nothing and costs nothing.
func newNotifier(cfg *config.Config, log *slog.Logger) (*notify.Notifier, error) {
	nc := cfg.Notifications
	log = log.With("component", "notifications")
	var drivers []notify.Driver
	build := func(name string) (notify.Driver, error) {
		switch name {
		case "log":
			return notify.Log{L: log}, nil
		case "messaging", "messagingv2":
			raw := nc.URL()
			if strings.TrimSpace(raw) == "" {
				raw = "rabbit://" // oslo.messaging's default: guest@localhost:5672
			}
			t, err := notify.ParseTransportURL(raw)
			if err != nil {
				return nil, err
			}
			o := notify.AMQPOptions{
				Transport: t, Version: 2, Exchange: nc.Exchange, Topics: nc.Topics,
				Durable: nc.Durable, AutoDelete: nc.AutoDelete, Quorum: nc.QuorumQueue,
				Heartbeat: time.Duration(nc.Heartbeat) * time.Second, LoginMethod: nc.LoginMethod, Log: log,
			}
			if name == "messaging" {
				o.Version = 1
			}
			if nc.SSL {
				o.TLS = &notify.TLSOptions{CAFile: nc.SSLCAFile, CertFile: nc.SSLCertFile, KeyFile: nc.SSLKeyFile, VerifyHostname: nc.SSLVerifyHost}
			}
			return notify.NewAMQP(o)
		}
		return nil, nil
	}
	for _, name := range nc.Drivers {
		var d notify.Driver
		var err error
		if name == "routing" {
			if nc.RoutingConfig == "" {
				return nil, fmt.Errorf("[oslo_messaging_notifications] driver routing needs routing_config")
			}
			cands := map[string]notify.Driver{}
			for _, n := range []string{"log", "messaging", "messagingv2", "noop"} {
				c, err := build(n)
				if err != nil {
					return nil, err
				}
				if c == nil {
					c = noop{}
				}
				cands[n] = c
			}
			d, err = notify.NewRouting(nc.RoutingConfig, cands)
		} else {
			d, err = build(name)
		}
		if err != nil {
			return nil, fmt.Errorf("[oslo_messaging_notifications] driver %s: %w", name, err)
		}
		if d != nil {
			drivers = append(drivers, d)
		}
	}
	n := notify.New(notify.Options{
		PublisherID:   nc.PublisherID,
		Disabled:      nc.Disabled,
		QueueSize:     nc.QueueSize,
		Retry:         nc.Retry,
		RetryInterval: time.Duration(nc.RetryInterval) * time.Second,
		RetryBackoff:  time.Duration(nc.RetryBackoff) * time.Second,
		RetryMax:      time.Duration(nc.IntervalMax) * time.Second,
		Log:           log,
	}, drivers...)
	if len(drivers) > 0 {
		log.Info("notifications on", "drivers", nc.Drivers, "exchange", nc.Exchange, "topics", nc.Topics)
	}
	return n, nil
}

// noop is the routing driver's "noop".
type noop struct{}

func (noop) Name() string                                { return "noop" }
func (noop) Send(context.Context, *notify.Message) error { return nil }
func (noop) Close() error                                { return nil }

// imageNotifier and metadefNotifier keep a notifier that sends nothing
// out of the services: a nil interface, not a typed nil.
func imageNotifier(n *notify.Notifier) image.Notifier {
	if n == nil {
		return nil
	}
	return n
}

func metadefNotifier(n *notify.Notifier) metadef.Notifier {
	if n == nil {
		return nil
	}
	return n
}
