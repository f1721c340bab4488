package config

import (
	"math"
	"strings"
)

// Notifications are the options of Glance's notifications
// (docs/notifications.md): oslo.messaging's [oslo_messaging_notifications]
// and the [oslo_messaging_rabbit] options that matter for sending, with
// [DEFAULT]'s transport_url, control_exchange, default_publisher_id and
// disabled_notifications.
type Notifications struct {
	// [DEFAULT]
	TransportURL string   // transport_url, default "" (secret: holds passwords)
	Exchange     string   // control_exchange, default "glance"
	PublisherID  string   // default_publisher_id, default "image.localhost"
	Disabled     []string // disabled_notifications, default []
	// [oslo_messaging_notifications]
	Drivers            []string // driver, default [] (none: notifications off)
	Topics             []string // topics, default [notifications]
	NotifyTransportURL string   // transport_url, default "" ([DEFAULT] transport_url)
	Retry              int      // retry, default -1 (forever)
	RoutingConfig      string   // routing_config, default ""
	// [oslo_messaging_rabbit]
	Durable       bool   // amqp_durable_queues, default false
	AutoDelete    bool   // amqp_auto_delete, default false
	QuorumQueue   bool   // rabbit_quorum_queue, default false
	Heartbeat     int    // heartbeat_timeout_threshold, seconds, default 60 (0: the server's)
	LoginMethod   string // rabbit_login_method, default AMQPLAIN
	RetryInterval int    // rabbit_retry_interval, seconds, default 1
	RetryBackoff  int    // rabbit_retry_backoff, seconds, default 2
	IntervalMax   int    // rabbit_interval_max, seconds, default 30
	SSL           bool   // ssl, default false
	SSLCAFile     string // ssl_ca_file
	SSLCertFile   string // ssl_cert_file
	SSLKeyFile    string // ssl_key_file
	SSLVerifyHost bool   // ssl_enforce_hostname_verification, default false
	// [glint]
	QueueSize int // notification_queue_size, default 10000
}

// URL is the transport URL notifications use: [oslo_messaging_notifications]
// transport_url, else [DEFAULT] transport_url.
func (n *Notifications) URL() string {
	if strings.TrimSpace(n.NotifyTransportURL) != "" {
		return n.NotifyTransportURL
	}
	return n.TransportURL
}

func init() { options = append(options, notificationOptions...) }

const (
	omn = "oslo_messaging_notifications"
	omr = "oslo_messaging_rabbit"
)

func nStr(section, name, def, help string, field func(*Notifications) *string, check func(string) error) optDef {
	return stringOpt(section, name, def, help, func(c *Config) *string { return field(&c.Notifications) }, check)
}

func nBool(section, name string, def bool, help string, field func(*Notifications) *bool) optDef {
	return boolOpt(section, name, def, help, func(c *Config) *bool { return field(&c.Notifications) })
}

func nInt(section, name string, def, lo, hi int64, help string, field func(*Notifications) *int) optDef {
	return intOpt(section, name, def, lo, hi, help, func(c *Config) *int { return field(&c.Notifications) })
}

func nList(section, name string, def []string, help string, field func(*Notifications) *[]string, check func(string) error) optDef {
	return listOpt(section, name, def, help, func(c *Config) *[]string { return field(&c.Notifications) }, check)
}

// notificationOptions are the notification options Glint honours.
var notificationOptions = []optDef{
	nStr(defaultSection, "transport_url", "",
		"oslo.messaging transport URL of the RabbitMQ notifications go to: rabbit://user:pass@host:port[,user:pass@host2:port]/vhost (a secret: never logged).",
		func(n *Notifications) *string { return &n.TransportURL }, nil),
	nStr(defaultSection, "control_exchange", "glance",
		"AMQP topic exchange notifications are published to (Glance's default: glance).",
		func(n *Notifications) *string { return &n.Exchange }, nonEmpty),
	nStr(defaultSection, "default_publisher_id", "image.localhost",
		"publisher_id of every notification, conventionally image.<host>.",
		func(n *Notifications) *string { return &n.PublisherID }, nil),
	nList(defaultSection, "disabled_notifications", nil,
		"Event types (image.create) and groups (image, task, metadef_tag, …; or prefix.*) never sent.",
		func(n *Notifications) *[]string { return &n.Disabled }, nil),
	deprecatedAs(defaultSection+".notification_driver", nList(omn, "driver", nil,
		"Notification drivers: messagingv2, messaging (v1 format), log, routing, noop; empty sends nothing. The key may be repeated, one driver a line, as in oslo.messaging.",
		func(n *Notifications) *[]string { return &n.Drivers }, oneOf("messagingv2", "messaging", "log", "routing", "noop"))),
	deprecatedAs(defaultSection+".notification_topics", nList(omn, "topics", []string{"notifications"},
		"AMQP topics: each notification is published with routing key <topic>.<priority> (notifications.info).",
		func(n *Notifications) *[]string { return &n.Topics }, nonEmpty)),
	deprecatedAs(defaultSection+".notification_transport_url", nStr(omn, "transport_url", "",
		"Transport URL for notifications only; empty means [DEFAULT] transport_url (a secret: never logged).",
		func(n *Notifications) *string { return &n.NotifyTransportURL }, nil)),
	nInt(omn, "retry", -1, -1, math.MaxInt32,
		"How many times a notification that failed to send is tried again before it is dropped (counted and logged); -1: until RabbitMQ takes it.",
		func(n *Notifications) *int { return &n.Retry }),
	nStr(omn, "routing_config", "",
		"YAML file of the routing driver: groups of driver names with accepted_events and accepted_priorities patterns.",
		func(n *Notifications) *string { return &n.RoutingConfig }, nil),
	nBool(omr, "amqp_durable_queues", false,
		"Declare the notification exchange and queues durable.",
		func(n *Notifications) *bool { return &n.Durable }),
	nBool(omr, "amqp_auto_delete", false,
		"Declare the notification exchange and queues auto-delete.",
		func(n *Notifications) *bool { return &n.AutoDelete }),
	nBool(omr, "rabbit_quorum_queue", false,
		"Declare the notification queues as quorum queues (durable).",
		func(n *Notifications) *bool { return &n.QuorumQueue }),
	nInt(omr, "heartbeat_timeout_threshold", 60, 0, math.MaxInt32,
		"AMQP heartbeat timeout in seconds asked of RabbitMQ; 0 leaves it to the server.",
		func(n *Notifications) *int { return &n.Heartbeat }),
	nStr(omr, "rabbit_login_method", "AMQPLAIN",
		"SASL mechanism: AMQPLAIN or PLAIN.",
		func(n *Notifications) *string { return &n.LoginMethod }, oneOf("AMQPLAIN", "PLAIN", "amqplain", "plain")),
	nInt(omr, "rabbit_retry_interval", 1, 1, math.MaxInt32,
		"Seconds to wait before sending a notification again after RabbitMQ failed.",
		func(n *Notifications) *int { return &n.RetryInterval }),
	nInt(omr, "rabbit_retry_backoff", 2, 0, math.MaxInt32,
		"Seconds added to the wait after each further failure.",
		func(n *Notifications) *int { return &n.RetryBackoff }),
	nInt(omr, "rabbit_interval_max", 30, 1, math.MaxInt32,
		"Longest wait between two attempts, in seconds.",
		func(n *Notifications) *int { return &n.IntervalMax }),
	deprecatedAs(omr+".rabbit_use_ssl", nBool(omr, "ssl", false,
		"Connect to RabbitMQ over TLS (amqps).",
		func(n *Notifications) *bool { return &n.SSL })),
	deprecatedAs(omr+".kombu_ssl_ca_certs", nStr(omr, "ssl_ca_file", "",
		"CA certificates (PEM) the server's certificate is checked against; without it, as in oslo.messaging, it is not checked.",
		func(n *Notifications) *string { return &n.SSLCAFile }, nil)),
	deprecatedAs(omr+".kombu_ssl_certfile", nStr(omr, "ssl_cert_file", "",
		"Client certificate (PEM) for TLS.",
		func(n *Notifications) *string { return &n.SSLCertFile }, nil)),
	deprecatedAs(omr+".kombu_ssl_keyfile", nStr(omr, "ssl_key_file", "",
		"Client private key (PEM) for TLS.",
		func(n *Notifications) *string { return &n.SSLKeyFile }, nil)),
	nBool(omr, "ssl_enforce_hostname_verification", false,
		"Also check that the server's certificate names the host connected to.",
		func(n *Notifications) *bool { return &n.SSLVerifyHost }),
	nInt("glint", "notification_queue_size", 10000, 1, math.MaxInt32,
		"Notifications waiting to be sent, per driver, beyond which new ones are dropped (counted and logged).",
		func(n *Notifications) *int { return &n.QueueSize }),
}
