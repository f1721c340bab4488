package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestNotificationOptions: Glance's notification options, under their
// names and deprecated names, take effect (they were once "known, no
// effect").
func TestNotificationOptions(t *testing.T) {
	file := filepath.Join(t.TempDir(), "glance-api.conf")
	os.WriteFile(file, []byte(`[DEFAULT]
transport_url = rabbit://u:p@h1:5672,u:p@h2:5672/vh
control_exchange = images
default_publisher_id = image.node1
disabled_notifications = image.send, task
notification_topics = notifications, audit

[oslo_messaging_notifications]
driver = messagingv2
driver = log
retry = 3

[oslo_messaging_rabbit]
rabbit_use_ssl = true
ssl_ca_file = /etc/ca.pem
heartbeat_timeout_threshold = 30
amqp_durable_queues = true
`), 0o644)
	c, err := Load([]string{file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := c.Notifications
	want := Notifications{TransportURL: "rabbit://u:p@h1:5672,u:p@h2:5672/vh", Exchange: "images", PublisherID: "image.node1",
		Disabled: []string{"image.send", "task"}, Drivers: []string{"messagingv2", "log"}, Topics: []string{"notifications", "audit"},
		Retry: 3, Durable: true, Heartbeat: 30, LoginMethod: "AMQPLAIN", RetryInterval: 1, RetryBackoff: 2, IntervalMax: 30,
		SSL: true, SSLCAFile: "/etc/ca.pem", QueueSize: 10000}
	if !reflect.DeepEqual(n, want) {
		t.Errorf("Notifications =\n%+v\nwant\n%+v", n, want)
	}
	if n.URL() != n.TransportURL {
		t.Errorf("URL() = %q: [DEFAULT] transport_url when [oslo_messaging_notifications] has none", n.URL())
	}
	n.NotifyTransportURL = "rabbit://other/"
	if n.URL() != "rabbit://other/" {
		t.Errorf("URL() = %q: [oslo_messaging_notifications] transport_url first", n.URL())
	}
	for _, u := range c.Unused {
		if strings.Contains(u, "messaging") || strings.HasPrefix(u, "DEFAULT.transport_url") || strings.HasPrefix(u, "DEFAULT.notification") {
			t.Errorf("%s reported as having no effect", u)
		}
	}
	if slices.Contains(c.Ignored, "DEFAULT.control_exchange") {
		t.Error("control_exchange reported unknown")
	}

	os.WriteFile(file, []byte("[oslo_messaging_notifications]\ndriver = kafka\n"), 0o644)
	if _, err := Load([]string{file}, nil); err == nil || !strings.Contains(err.Error(), "driver") {
		t.Errorf("an unknown driver: %v", err)
	}
}
