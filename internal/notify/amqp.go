package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Transport is a parsed oslo.messaging transport_url for RabbitMQ:
// rabbit://user:pass@host:port[,user:pass@host:port...]/vhost.
type Transport struct {
	Hosts []Host
	Vhost string // "/" when the URL has none
}

// Host is one broker of a transport URL.
type Host struct {
	Addr               string // host:port
	Username, Password string
}

// String is the URL without passwords, for logs.
func (t Transport) String() string {
	var hs []string
	for _, h := range t.Hosts {
		hs = append(hs, h.Username+"@"+h.Addr)
	}
	return "rabbit://" + strings.Join(hs, ",") + "/" + t.Vhost
}

// ParseTransportURL parses a transport_url as oslo.messaging does for its
// rabbit driver. A host without user or password gets guest/guest only
// when the URL has no host at all (then localhost:5672), as oslo does;
// otherwise the missing part is empty. Query parameters are not
// supported (an error): oslo's rabbit driver reads none that matter
// here.
func ParseTransportURL(s string) (Transport, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return Transport{}, fmt.Errorf("transport_url %q: not a URL", redact(s))
	}
	switch scheme {
	case "rabbit", "kombu", "amqp":
	default:
		return Transport{}, fmt.Errorf("transport_url: transport %q is not supported (only rabbit)", scheme)
	}
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		return Transport{}, fmt.Errorf("transport_url: query parameters are not supported")
	}
	netloc, vhost, _ := strings.Cut(rest, "/")
	var t Transport
	v, err := url.PathUnescape(vhost)
	if err != nil {
		return Transport{}, fmt.Errorf("transport_url: bad virtual host: %w", err)
	}
	t.Vhost = v
	if t.Vhost == "" {
		t.Vhost = "/"
	}
	if netloc == "" {
		t.Hosts = []Host{{Addr: "localhost:5672", Username: "guest", Password: "guest"}}
		return t, nil
	}
	for _, part := range strings.Split(netloc, ",") {
		var h Host
		hostport := part
		if at := strings.LastIndexByte(part, '@'); at >= 0 {
			user, pass, _ := strings.Cut(part[:at], ":")
			if h.Username, err = url.PathUnescape(user); err == nil {
				h.Password, err = url.PathUnescape(pass)
			}
			if err != nil {
				return Transport{}, fmt.Errorf("transport_url: bad credentials: %w", err)
			}
			hostport = part[at+1:]
		}
		host, port := hostport, "5672"
		if strings.HasPrefix(hostport, "[") {
			end := strings.IndexByte(hostport, ']')
			if end < 0 {
				return Transport{}, fmt.Errorf("transport_url: bad host %q", hostport)
			}
			host = hostport[1:end]
			if p, ok := strings.CutPrefix(hostport[end+1:], ":"); ok && p != "" {
				port = p
			}
		} else if hh, p, ok := strings.Cut(hostport, ":"); ok {
			host = hh
			if p != "" {
				port = p
			}
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return Transport{}, fmt.Errorf("transport_url: bad port %q", port)
		}
		if host == "" {
			host = "localhost"
		}
		h.Addr = net.JoinHostPort(host, port)
		t.Hosts = append(t.Hosts, h)
	}
	return t, nil
}

// redact drops the password part of a URL for error messages.
func redact(s string) string {
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		if i := strings.Index(s, "://"); i >= 0 && i < at {
			return s[:i+3] + "***" + s[at:]
		}
	}
	return s
}

// AMQPOptions are the RabbitMQ settings of the messaging drivers
// ([oslo_messaging_rabbit]).
type AMQPOptions struct {
	Transport Transport
	// Version is the message format: 1 ("messaging") or 2 ("messagingv2").
	Version int
	// Exchange is the topic exchange notifications go to: control_exchange,
	// "glance" for Glance.
	Exchange string
	// Topics are [oslo_messaging_notifications] topics; a message goes to
	// each with the routing key <topic>.<priority>, into a queue of that
	// name declared and bound as oslo.messaging does.
	Topics []string
	// Durable and AutoDelete are amqp_durable_queues and amqp_auto_delete,
	// for the exchange and the queues; Quorum is rabbit_quorum_queue.
	Durable, AutoDelete, Quorum bool
	// Heartbeat is heartbeat_timeout_threshold; 0 leaves it to the server.
	Heartbeat time.Duration
	// LoginMethod is rabbit_login_method: AMQPLAIN (default) or PLAIN.
	LoginMethod string
	// TLS is set when [oslo_messaging_rabbit] ssl is on.
	TLS *TLSOptions
	// DialTimeout bounds connecting to one host (TCP, TLS and the AMQP
	// handshake); 0 means 10 s.
	DialTimeout time.Duration
	Log         *slog.Logger
}

// TLSOptions are [oslo_messaging_rabbit]'s ssl_* options. As in
// oslo.messaging, the server's certificate is checked only when a CA
// file is given, and its name only when VerifyHostname is set.
type TLSOptions struct {
	CAFile, CertFile, KeyFile string
	VerifyHostname            bool
}

// AMQP is the "messaging" and "messagingv2" drivers over AMQP 0-9-1.
type AMQP struct {
	o    AMQPOptions
	tls  *tls.Config
	conn *amqp.Connection
	ch   *amqp.Channel
	next int // the host to try first
	// declared are the queues declared on this connection.
	declared map[string]bool
	// partial and done: the topics that already have the message being
	// retried, so that a retry does not send it twice to one of them.
	partial string
	done    map[string]bool
}

// NewAMQP makes a messaging driver; it connects at the first send.
func NewAMQP(o AMQPOptions) (*AMQP, error) {
	if len(o.Transport.Hosts) == 0 {
		return nil, errors.New("notify: no RabbitMQ host")
	}
	if o.Version != 1 {
		o.Version = 2
	}
	if o.Exchange == "" {
		o.Exchange = "glance"
	}
	if len(o.Topics) == 0 {
		o.Topics = []string{"notifications"}
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	a := &AMQP{o: o}
	if o.TLS != nil {
		c := &tls.Config{MinVersion: tls.VersionTLS12}
		if o.TLS.CAFile != "" {
			pem, err := os.ReadFile(o.TLS.CAFile)
			if err != nil {
				return nil, fmt.Errorf("ssl_ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("ssl_ca_file %s: no certificate", o.TLS.CAFile)
			}
			c.RootCAs = pool
			if !o.TLS.VerifyHostname {
				// oslo checks the chain but not the name unless told to.
				c.InsecureSkipVerify = true
				c.VerifyConnection = verifyChain(pool)
			}
		} else {
			c.InsecureSkipVerify = true // oslo.messaging's default without ssl_ca_file
		}
		if o.TLS.CertFile != "" || o.TLS.KeyFile != "" {
			cert, err := tls.LoadX509KeyPair(o.TLS.CertFile, o.TLS.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("ssl_cert_file/ssl_key_file: %w", err)
			}
			c.Certificates = []tls.Certificate{cert}
		}
		a.tls = c
	}
	return a, nil
}

// verifyChain checks the server's chain against pool, without its name.
func verifyChain(pool *x509.CertPool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("no server certificate")
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter})
		return err
	}
}

// Name implements Driver.
func (a *AMQP) Name() string {
	if a.o.Version == 1 {
		return "messaging"
	}
	return "messagingv2"
}

// Close implements Driver.
func (a *AMQP) Close() error {
	if a.conn != nil {
		err := a.conn.Close()
		a.conn, a.ch = nil, nil
		if errors.Is(err, amqp.ErrClosed) {
			return nil
		}
		return err
	}
	return nil
}

// connect opens a connection and a channel in confirm mode to the first
// host that answers, starting with the one after the last that failed
// (oslo's round-robin failover).
func (a *AMQP) connect() error {
	var errs []error
	n := len(a.o.Transport.Hosts)
	for i := range n {
		h := a.o.Transport.Hosts[(a.next+i)%n]
		conn, err := a.dial(h)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", h.Addr, err))
			continue
		}
		ch, err := conn.Channel()
		if err == nil {
			err = ch.Confirm(false)
		}
		if err != nil {
			conn.Close()
			errs = append(errs, fmt.Errorf("%s: %w", h.Addr, err))
			continue
		}
		a.next = (a.next + i) % n
		a.conn, a.ch, a.declared = conn, ch, map[string]bool{}
		a.o.Log.Info("connected to RabbitMQ for notifications", "host", h.Addr, "vhost", a.o.Transport.Vhost, "driver", a.Name())
		return nil
	}
	a.next = (a.next + 1) % n
	return errors.Join(errs...)
}

func (a *AMQP) dial(h Host) (*amqp.Connection, error) {
	scheme := "amqp"
	if a.tls != nil {
		scheme = "amqps"
	}
	var sasl []amqp.Authentication
	if strings.EqualFold(a.o.LoginMethod, "PLAIN") {
		sasl = []amqp.Authentication{&amqp.PlainAuth{Username: h.Username, Password: h.Password}}
	} else {
		sasl = []amqp.Authentication{&amqp.AMQPlainAuth{Username: h.Username, Password: h.Password}, &amqp.PlainAuth{Username: h.Username, Password: h.Password}}
	}
	cfg := amqp.Config{
		SASL:      sasl,
		Vhost:     a.o.Transport.Vhost,
		Heartbeat: a.o.Heartbeat,
		Locale:    "en_US",
		Dial:      amqp.DefaultDial(a.o.DialTimeout),
		Properties: amqp.Table{
			"product":         "glint",
			"connection_name": "glint notifications",
		},
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = time.Millisecond // below 1 s: the server's interval
	}
	if a.tls != nil {
		cfg.TLSClientConfig = a.tls.Clone()
		if cfg.TLSClientConfig.ServerName == "" {
			host, _, _ := net.SplitHostPort(h.Addr)
			cfg.TLSClientConfig.ServerName = host
		}
	}
	return amqp.DialConfig(scheme+"://"+h.Addr+"/", cfg)
}

// drop forgets a broken connection; the next send connects again.
func (a *AMQP) drop() {
	if a.conn != nil {
		a.conn.Close()
	}
	a.conn, a.ch = nil, nil
}

// Send implements Driver: the message to each topic, waiting for the
// broker's confirmation, so that a send that returns nil is on the
// broker (oslo.messaging does not wait: Glint can count what it lost).
func (a *AMQP) Send(ctx context.Context, m *Message) error {
	if a.done == nil || a.partial != m.ID {
		a.partial, a.done = m.ID, map[string]bool{}
	}
	if a.conn == nil || a.conn.IsClosed() || a.ch == nil || a.ch.IsClosed() {
		a.drop()
		if err := a.connect(); err != nil {
			return err
		}
	}
	body, err := m.Encode(a.o.Version)
	if err != nil {
		return err
	}
	for _, topic := range a.o.Topics {
		if a.done[topic] {
			continue
		}
		key := topic + "." + strings.ToLower(m.Priority)
		if err := a.publish(ctx, key, body); err != nil {
			a.drop()
			return err
		}
		a.done[topic] = true
	}
	return nil
}

func (a *AMQP) publish(ctx context.Context, key string, body []byte) error {
	if !a.declared[key] {
		// oslo.messaging declares the topic exchange and a queue named
		// after the routing key, so that nothing is lost before a consumer
		// binds its own queue.
		if err := a.ch.ExchangeDeclare(a.o.Exchange, "topic", a.o.Durable, a.o.AutoDelete, false, false, nil); err != nil {
			return fmt.Errorf("declare exchange %s: %w", a.o.Exchange, err)
		}
		var args amqp.Table
		durable := a.o.Durable
		if a.o.Quorum {
			args, durable = amqp.Table{"x-queue-type": "quorum"}, true
		}
		if _, err := a.ch.QueueDeclare(key, durable, a.o.AutoDelete && !a.o.Quorum, false, false, args); err != nil {
			return fmt.Errorf("declare queue %s: %w", key, err)
		}
		if err := a.ch.QueueBind(key, key, a.o.Exchange, false, nil); err != nil {
			return fmt.Errorf("bind queue %s: %w", key, err)
		}
		a.declared[key] = true
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	dc, err := a.ch.PublishWithDeferredConfirmWithContext(ctx, a.o.Exchange, key, false, false, amqp.Publishing{
		ContentType:     "application/json",
		ContentEncoding: "utf-8",
		DeliveryMode:    amqp.Persistent,
		Body:            body,
	})
	if err != nil {
		return err
	}
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("the broker refused the message (nack)")
	}
	return nil
}
