package notify_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"glint/internal/app"
	"glint/internal/app/apptest"
	"glint/internal/config"
)

// ownRabbit is a rabbitmq-server of the test's own: its node name, ports,
// database and logs under a temporary directory, so that the test can
// stop and start it without touching the shared server.
type ownRabbit struct {
	t       *testing.T
	dir     string
	port    int
	tlsPort int // an amqps listener, its certificate signed by dir/ca.pem
	env     []string
	cmd     *exec.Cmd
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startOwnRabbit(t *testing.T) *ownRabbit {
	t.Helper()
	const server = "/usr/lib/rabbitmq/bin/rabbitmq-server"
	if _, err := os.Stat(server); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip("rabbitmq-server is not installed")
	}
	dir := t.TempDir()
	r := &ownRabbit{t: t, dir: dir, port: freeTCPPort(t), tlsPort: freeTCPPort(t)}
	dist := freeTCPPort(t)
	writeTLSFiles(t, dir)
	for name, content := range map[string]string{
		"enabled_plugins": "[].\n",
		"rabbitmq.conf": "loopback_users = none\nlisteners.tcp.default = 127.0.0.1:" + fmt.Sprint(r.port) + "\n" +
			"listeners.ssl.default = 127.0.0.1:" + fmt.Sprint(r.tlsPort) + "\n" +
			"ssl_options.cacertfile = " + filepath.Join(dir, "ca.pem") + "\n" +
			"ssl_options.certfile = " + filepath.Join(dir, "server.pem") + "\n" +
			"ssl_options.keyfile = " + filepath.Join(dir, "server.key") + "\n" +
			"ssl_options.verify = verify_none\nssl_options.fail_if_no_peer_cert = false\n",
		"advanced.config": "[].\n",
		"env.conf":        "",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r.env = append(os.Environ(),
		fmt.Sprintf("RABBITMQ_NODENAME=glinttest%d_%d@localhost", os.Getpid(), r.port),
		fmt.Sprintf("RABBITMQ_NODE_PORT=%d", r.port),
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		fmt.Sprintf("RABBITMQ_DIST_PORT=%d", dist),
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_PID_FILE="+filepath.Join(dir, "pid"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(dir, "advanced.config"),
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(dir, "env.conf"),
	)
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *ownRabbit) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

// start runs the server and waits until it takes AMQP connections (a
// deadlock guard, not a measurement).
func (r *ownRabbit) start() {
	r.t.Helper()
	cmd := exec.Command("/usr/lib/rabbitmq/bin/rabbitmq-server")
	cmd.Env = r.env
	out, err := os.OpenFile(filepath.Join(r.dir, "server.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		r.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.cmd = cmd
	go cmd.Wait()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		c, err := amqp.Dial("amqp://guest:guest@" + r.addr() + "/")
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(r.dir, "server.out"))
			r.t.Fatalf("own rabbitmq-server did not start: %v\n%s", err, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stop ends the server's process group and waits until its port is closed.
func (r *ownRabbit) stop() {
	if r.cmd == nil {
		return
	}
	pgid := r.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	deadline := time.Now().Add(time.Minute)
	for {
		if syscall.Kill(-pgid, 0) != nil {
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(-pgid, syscall.SIGKILL)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.cmd = nil
}

// syncBuffer is a log destination several goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitUntil polls cond (a deadlock guard, not a measurement).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not %s after 2 minutes", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOutage: with its RabbitMQ down, Glint's requests succeed, the
// notifications are retried, those past the bounded queue are dropped,
// counted and logged, and delivery resumes by itself, in order, when
// RabbitMQ is back. The transport URL names a dead host first: Glint
// goes on to the next.
func TestOutage(t *testing.T) {
	skipUnlessServers(t)
	t.Parallel()
	t0 := time.Now()
	rabbit := startOwnRabbit(t)
	t.Logf("own RabbitMQ started in %v", time.Since(t0))
	logs := &syncBuffer{}
	const queue = 5
	g := apptest.New(t, func(c *config.Config) {
		c.Notifications.TransportURL = fmt.Sprintf("rabbit://guest:guest@127.0.0.1:%d,guest:guest@%s/", freeTCPPort(t), rabbit.addr())
		c.Notifications.Drivers = []string{"messagingv2"}
		c.Notifications.QueueSize = queue
		c.Notifications.RetryInterval, c.Notifications.RetryBackoff, c.Notifications.IntervalMax = 1, 1, 2
	}, app.WithAuthenticator(headerAuth{}), app.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
	glint := &target{t: t, name: "glint", url: g.URL, events: consume(t, rabbit.addr(), "/", "glance")}
	stats := g.App.Notifier().Stats

	first := glint.createImage(alpha, map[string]any{"name": "before"})
	glint.events.waitFor("image.create before the outage", func(e event) bool { return payloadField(e, "id") == first })
	glint.events.conn.Close()

	t0 = time.Now()
	rabbit.stop()
	t.Logf("own RabbitMQ stopped in %v", time.Since(t0))
	// Every request succeeds while RabbitMQ is down.
	id := glint.createImage(alpha, map[string]any{"name": "during"})
	const changes = 12
	for i := range changes {
		glint.must(alpha, 200, "PATCH", "/v2/images/"+id, patch(fmt.Sprintf(`[{"op":"add","path":"/step","value":"%02d"}]`, i)))
	}
	made := 1 + changes // image.create and one image.update a change
	waitUntil(t, "retrying", func() bool { return stats().Retried > 0 })
	st := stats()
	// One message is being retried, queue more wait: the rest are dropped.
	if want := uint64(made - 1 - queue); st.Dropped != want {
		t.Errorf("dropped %d during the outage, want %d (stats %+v)", st.Dropped, want, st)
	}
	if st.Depth != queue+1 {
		t.Errorf("depth %d during the outage, want %d", st.Depth, queue+1)
	}
	if !strings.Contains(logs.String(), `"msg":"notification dropped"`) {
		t.Errorf("no drop logged:\n%s", logs.String())
	}

	t0 = time.Now()
	rabbit.start()
	t.Logf("own RabbitMQ started again in %v", time.Since(t0))
	after := consume(t, rabbit.addr(), "/", "glance")
	waitUntil(t, "delivered after the outage", func() bool { return stats().Depth == 0 })
	// Delivery resumed by itself: what was kept arrives, in order.
	lastKept := fmt.Sprintf("%02d", queue-1)
	evs := after.waitFor("the kept notifications", func(e event) bool {
		p, _ := e.Payload.(map[string]any)
		props, _ := p["properties"].(map[string]any)
		return props["step"] == lastKept
	})
	var steps []string
	for _, e := range evs {
		if payloadField(e, "id") != id {
			t.Errorf("unexpected %s about %s", e.EventType, payloadField(e, "id"))
			continue
		}
		p, _ := e.Payload.(map[string]any)
		props, _ := p["properties"].(map[string]any)
		s, _ := props["step"].(string)
		steps = append(steps, e.EventType+":"+s)
	}
	want := []string{"image.create:"}
	for i := range queue {
		want = append(want, fmt.Sprintf("image.update:%02d", i))
	}
	if got, w := strings.Join(steps, " "), strings.Join(want, " "); got != w {
		t.Errorf("delivered after the outage:\n got %s\nwant %s", got, w)
	}
	st = stats()
	if st.Sent+st.Dropped != uint64(made+1) {
		t.Errorf("stats %+v: sent + dropped should be every notification made (%d)", st, made+1)
	}
	// And new changes go out as before.
	glint.must(alpha, 200, "PATCH", "/v2/images/"+id, patch(`[{"op":"add","path":"/after","value":"yes"}]`))
	after.waitFor("a notification after the outage", func(e event) bool {
		p, _ := e.Payload.(map[string]any)
		props, _ := p["properties"].(map[string]any)
		return props["after"] == "yes"
	})
	t.Logf("stats after the outage: %+v", stats())

	// [oslo_messaging_rabbit] ssl: the same broker over TLS, its
	// certificate checked against ssl_ca_file and its name.
	tg := apptest.New(t, func(c *config.Config) {
		c.Notifications.TransportURL = fmt.Sprintf("rabbit://guest:guest@127.0.0.1:%d/", rabbit.tlsPort)
		c.Notifications.Drivers = []string{"messagingv2"}
		c.Notifications.SSL, c.Notifications.SSLCAFile = true, filepath.Join(rabbit.dir, "ca.pem")
		c.Notifications.SSLVerifyHost = true
	}, app.WithAuthenticator(headerAuth{}))
	tlsTarget := &target{t: t, name: "glint-tls", url: tg.URL}
	viaTLS := tlsTarget.createImage(alpha, map[string]any{"name": "over TLS"})
	after.waitFor("a notification over TLS", func(e event) bool { return payloadField(e, "id") == viaTLS })
}

// TestOrder: one image's notifications arrive in the order its changes
// happened, however quickly they follow each other.
func TestOrder(t *testing.T) {
	skipUnlessServers(t)
	t.Parallel()
	vh := newVhost(t, "order")
	glint := &target{t: t, name: "glint", events: consume(t, rabbitHost, vh, "glance")}
	glint.url = startGlint(t, vh, nil)
	id := glint.createImage(alpha, map[string]any{"name": "ordered", "disk_format": "raw", "container_format": "bare"})
	const n = 50
	for i := range n {
		glint.must(alpha, 200, "PATCH", "/v2/images/"+id, patch(fmt.Sprintf(`[{"op":"add","path":"/step","value":"%03d"}]`, i)))
	}
	glint.must(alpha, 204, "PUT", "/v2/images/"+id+"/file", []byte("data"))
	glint.must(alpha, 204, "DELETE", "/v2/images/"+id, nil)
	evs := glint.events.waitFor("image.delete", func(e event) bool { return e.EventType == "image.delete" })
	var got []string
	for _, e := range evs {
		p, _ := e.Payload.(map[string]any)
		props, _ := p["properties"].(map[string]any)
		s, _ := props["step"].(string)
		got = append(got, e.EventType+":"+s)
	}
	want := []string{"image.create:"}
	for i := range n {
		want = append(want, fmt.Sprintf("image.update:%03d", i))
	}
	last := fmt.Sprintf("%03d", n-1)
	want = append(want, "image.update:"+last, "image.prepare:"+last, "image.upload:"+last, "image.activate:"+last,
		"image.update:"+last, "image.delete:"+last)
	if g, w := strings.Join(got, " "), strings.Join(want, " "); g != w {
		t.Errorf("order:\n got %s\nwant %s", g, w)
	}
}

// TestMessagingV1: the "messaging" driver sends oslo.messaging's 1.0
// format, the message itself without the envelope.
func TestMessagingV1(t *testing.T) {
	skipUnlessServers(t)
	t.Parallel()
	vh := newVhost(t, "v1")
	glint := &target{t: t, name: "glint", events: consume(t, rabbitHost, vh, "glance")}
	glint.url = startGlint(t, vh, func(c *config.Config) {
		c.Notifications.Drivers = []string{"messaging"}
		c.Notifications.PublisherID = "image.node1"
	})
	id := glint.createImage(alpha, map[string]any{"name": "v1"})
	evs := glint.events.waitFor("image.create", func(e event) bool { return payloadField(e, "id") == id })
	e := evs[len(evs)-1]
	if _, ok := e.Envelope["oslo.version"]; ok {
		t.Errorf("v1 message has an envelope: %v", e.Envelope)
	}
	for _, k := range []string{"message_id", "publisher_id", "event_type", "priority", "payload", "timestamp", "_unique_id"} {
		if _, ok := e.Msg[k]; !ok {
			t.Errorf("v1 message lacks %s: %v", k, e.Msg)
		}
	}
	if e.Msg["publisher_id"] != "image.node1" || e.RoutingKey != "notifications.info" {
		t.Errorf("publisher_id %v, routing key %s", e.Msg["publisher_id"], e.RoutingKey)
	}
}
