// Package urlfilter decides which URLs Glint may fetch on a user's behalf
// (web-download, the legacy import task, http locations): Glance's
// [import_filtering_opts] (schemes, hosts, ports), plus Glint's refusal of
// loopback, private and link-local addresses that the operator has not
// named in allowed_hosts. Client is the one guarded
// HTTP client every such fetch uses: it checks the URL of every hop,
// redirects included, and every address it actually connects to.
package urlfilter

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"glint/internal/errs"
)

// Options are the [import_filtering_opts] settings and Glint's private
// address switch.
type Options struct {
	AllowedSchemes    []string
	DisallowedSchemes []string
	AllowedHosts      []string
	DisallowedHosts   []string
	AllowedPorts      []int
	DisallowedPorts   []int
	// AllowPrivate lets a fetch reach loopback, private (RFC 1918, ULA),
	// link-local, CGNAT and other non-global addresses. Glance 25.1 has no
	// such check; Glint refuses them unless this is set, or unless the
	// operator names the host (an address, or a name and whatever it
	// resolves to) in AllowedHosts.
	AllowPrivate bool
	// Trace, if set, wraps the transport of the clients Client makes
	// (OpenTelemetry's client spans); the filter runs inside it.
	Trace func(http.RoundTripper) http.RoundTripper
}

// Defaults are Glance's defaults: http and https on ports 80 and 443.
func Defaults() Options {
	return Options{AllowedSchemes: []string{"http", "https"}, AllowedPorts: []int{80, 443}}
}

const (
	op      errs.Op = "urlfilter.Check"
	opGuard errs.Op = "urlfilter.Client"
)

// Check applies the filter to a URL before any network access: what can
// be judged without DNS. Glance's rule: an allow list, when set, wins over
// the deny list of the same kind; a URL without an explicit port is not
// port-checked.
func (o Options) Check(raw string) error {
	shown := redacted(raw)
	if shown == "" {
		shown = "None" // Glance prints the missing URI as Python's None
	}
	u, err := url.Parse(raw)
	if raw == "" || err != nil || !o.passes(u) {
		return errs.Errorf(op, errs.Invalid, "URI for web-download does not pass filtering: %s", shown)
	}
	return nil
}

// passes is Check on a parsed URL.
func (o Options) passes(u *url.URL) bool {
	if u.Opaque != "" {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	host, ok := canonHost(u.Hostname())
	if scheme == "" || !listed(scheme, o.AllowedSchemes, o.DisallowedSchemes) {
		return false
	}
	if !ok || host == "" || !listed(host, canonHosts(o.AllowedHosts), canonHosts(o.DisallowedHosts)) {
		return false
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return false
		}
		if !listed(n, o.AllowedPorts, o.DisallowedPorts) {
			return false
		}
	}
	if ip, err := netip.ParseAddr(host); err == nil && !o.named(host) && o.CheckAddr(ip) != nil {
		return false
	}
	return true
}

// CheckResolve is Check plus what Glance's filter judges at the API
// since its SSRF hardening (Glance 25.1's Debian updates, master): a host
// name must resolve, and to at least one address a fetch may connect to
// (CheckAddr, or any address when the host is named in AllowedHosts). An
// import refused here is a 400 rather than a failed task. The dialler
// still judges the address it connects to, so a name that resolves
// differently later (DNS rebinding) is still caught.
func (o Options) CheckResolve(ctx context.Context, raw string) error {
	if err := o.Check(raw); err != nil {
		return err
	}
	u, _ := url.Parse(raw) // Check parsed it
	host, _ := canonHost(u.Hostname())
	if _, err := netip.ParseAddr(host); err == nil {
		return nil // an address: Check judged it
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err == nil {
		for _, a := range addrs {
			if o.named(host) || o.CheckAddr(a) == nil {
				return nil
			}
		}
	}
	return errs.Errorf(op, errs.Invalid, "URI for web-download does not pass filtering: %s", redacted(raw))
}

// redacted is raw with the password of its user information replaced, so
// that a refusal, which goes to the caller and the log, carries no
// credential (Glance echoes the URI as given).
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if i, j := strings.Index(raw, "://"), strings.LastIndexByte(raw, '@'); i >= 0 && j > i {
			return raw[:i+3] + "***@" + raw[j+1:] // unparsable: hide all before the host
		}
		return raw
	}
	return u.Redacted()
}

// named reports whether host, in canonHost's form, is one the operator
// lists in allowed_hosts: naming an address there, or a name, is the
// operator saying it is meant to be reached, private or not (the way
// Glance's functional tests and devstack allow-list 127.0.0.1).
func (o Options) named(host string) bool {
	return host != "" && slices.Contains(canonHosts(o.AllowedHosts), host)
}

// canonHost is the form of a URL's host that the host lists and the
// address check judge: lower case, without a final dot, an IP address as
// netip writes it and an IPv4-mapped IPv6 address as the IPv4 address it
// reaches, so that [::ffff:127.0.0.1] is judged as 127.0.0.1. It refuses
// (ok false) a host that ends in a number but is not a dotted-decimal
// IPv4 address: getaddrinfo reads 2130706433, 0x7f000001, 0x7f.0.0.1,
// 0177.0.0.1 and 127.1 as 127.0.0.1, so such a host would reach an
// address the lists never saw; browsers (the WHATWG URL standard) treat
// these hosts as addresses too, and no real host name looks like one.
func canonHost(h string) (string, bool) {
	h = strings.ToLower(h)
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.Unmap().String(), true
	}
	if strings.Contains(h, ":") {
		return "", false // an IPv6 literal netip cannot read
	}
	name := strings.TrimSuffix(h, ".")
	if last := name[strings.LastIndexByte(name, '.')+1:]; numeric(last) {
		return "", false // not netip's dotted decimal, or it would have parsed above
	}
	return name, true
}

// numeric reports whether a host's last label reads as a number to an
// IPv4 parser: decimal digits, or 0x and hex digits.
func numeric(label string) bool {
	digits := "0123456789"
	if len(label) >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X') {
		label, digits = label[2:], "0123456789abcdefABCDEF"
		if label == "" {
			return true
		}
	}
	return label != "" && strings.Trim(label, digits) == ""
}

// canonHosts puts a host list in canonHost's form, so that an operator's
// "127.0.0.1" or "Internal.Example." matches however a URL writes it.
func canonHosts(list []string) []string {
	out := make([]string, 0, len(list))
	for _, h := range list {
		if c, ok := canonHost(h); ok {
			out = append(out, c)
		} else {
			out = append(out, strings.ToLower(h))
		}
	}
	return out
}

func listed[T comparable](v T, allow, deny []T) bool {
	if len(allow) > 0 {
		return slices.Contains(allow, v)
	}
	return !slices.Contains(deny, v)
}

var nonGlobal = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("::/96"), // IPv4-compatible (deprecated): ::7f00:1 is not IsLoopback
}

// CheckAddr refuses a non-global address unless AllowPrivate is set.
func (o Options) CheckAddr(ip netip.Addr) error {
	if o.AllowPrivate {
		return nil
	}
	ip = ip.Unmap()
	bad := !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified()
	if ip.Is6() && !bad {
		// NAT64 (64:ff9b::/96) carries an IPv4 address: judge that one.
		if netip.MustParsePrefix("64:ff9b::/96").Contains(ip) {
			b := ip.As16()
			return o.CheckAddr(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		}
	}
	for _, p := range nonGlobal {
		if p.Contains(ip) {
			bad = true
		}
	}
	if bad {
		return errs.Errorf(op, errs.Forbidden, "address %s is not a public address", ip)
	}
	return nil
}

// ClientOptions are what a fetch path chooses about its client. What is
// checked is not among them: that is the Options' alone.
type ClientOptions struct {
	// Timeout bounds a whole exchange, body included; 0 means none (the
	// caller's context bounds it).
	Timeout time.Duration
	// MaxRedirects is how many redirects are followed; 0 means 10.
	MaxRedirects int
	// TLS configures https; nil means Go's defaults.
	TLS *tls.Config
}

// Client returns the HTTP client for every fetch of a URL a user gave.
// Every hop, the first request and each redirect alike, must pass Check;
// every connection's address, as dialled after DNS (so DNS rebinding
// cannot slip a private address in after Check), must pass CheckAddr
// (unless the URL's host is named in AllowedHosts) and the port lists; at most MaxRedirects redirects are followed; and no
// proxy from the environment is used, as a proxy would dial for us. An
// error that is the guard refusing, rather than the network failing,
// satisfies Refused.
func (o Options) Client(c ClientOptions) *http.Client {
	maxRedirects := c.MaxRedirects
	if maxRedirects <= 0 {
		maxRedirects = 10
	}
	dialer := func(o Options) *net.Dialer {
		return &net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
			Control: func(_, address string, _ syscall.RawConn) error {
				if err := o.checkDial(address); err != nil {
					return &refusal{err}
				}
				return nil
			},
		}
	}
	d := dialer(o)
	// A host the operator named in allowed_hosts may resolve to a
	// private address; the port lists still apply to it.
	trusted := o
	trusted.AllowPrivate = true
	named := dialer(trusted)
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		if host, _, err := net.SplitHostPort(address); err == nil {
			if h, ok := canonHost(host); ok && o.named(h) {
				return named.DialContext(ctx, network, address)
			}
		}
		return d.DialContext(ctx, network, address)
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dial,
		TLSClientConfig:       c.TLS,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		MaxIdleConns:          4,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	var rt http.RoundTripper = &guarded{o: o, next: tr}
	if o.Trace != nil {
		rt = o.Trace(rt)
	}
	return &http.Client{
		Transport: rt,
		Timeout:   c.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return &refusal{errs.Errorf(opGuard, errs.Invalid, "stopped after %d redirects", maxRedirects)}
			}
			if !o.passes(req.URL) {
				return &refusal{errs.Errorf(opGuard, errs.Invalid, "redirect to %s does not pass filtering", req.URL.Redacted())}
			}
			return nil
		},
	}
}

// guarded checks each request's URL before it is sent. CheckRedirect
// checks redirects already (and names them in its message); this also
// covers the first request, so no caller can forget to.
type guarded struct {
	o    Options
	next *http.Transport
}

func (g *guarded) RoundTrip(req *http.Request) (*http.Response, error) {
	if s := req.URL.Scheme; (s != "http" && s != "https") || !g.o.passes(req.URL) {
		if req.Body != nil {
			req.Body.Close() // RoundTrip must close it, even on error
		}
		return nil, &refusal{errs.Errorf(opGuard, errs.Invalid, "%s does not pass filtering", req.URL.Redacted())}
	}
	return g.next.RoundTrip(req)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// transport underneath.
func (g *guarded) CloseIdleConnections() { g.next.CloseIdleConnections() }

// checkDial judges the address a connection is about to be made to. The
// port lists apply as Check applies them, except that 80 and 443 always
// pass: they are what a URL without a port connects to, and Glance does
// not port-check such a URL. An address named in disallowed_hosts is
// refused here too, so that a name resolving to it does not get past the
// list.
func (o Options) checkDial(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return errs.Errorf(opGuard, errs.Invalid, "cannot judge the address %q", address)
	}
	if err := o.CheckAddr(ap.Addr()); err != nil {
		return err
	}
	if p := int(ap.Port()); p != 80 && p != 443 && !listed(p, o.AllowedPorts, o.DisallowedPorts) {
		return errs.Errorf(opGuard, errs.Forbidden, "port %d is not an allowed port", p)
	}
	if len(o.AllowedHosts) == 0 && slices.Contains(canonHosts(o.DisallowedHosts), ap.Addr().Unmap().WithZone("").String()) {
		return errs.Errorf(opGuard, errs.Forbidden, "address %s is a disallowed host", ap.Addr())
	}
	return nil
}

// refusal marks an error as the guard's refusal of a hop or a connection.
type refusal struct{ err error }

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// Refused reports whether err, from a request made with a Client, is the
// guard refusing a URL, a redirect or an address, rather than the network
// or the server failing: a store tells users "not allowed" rather than
// "unavailable" then.
func Refused(err error) bool {
	var r *refusal
	return errors.As(err, &r)
}

// Get fetches raw with c, checking it first.
func (o Options) Get(ctx context.Context, c *http.Client, raw string) (*http.Response, error) {
	if err := o.Check(raw); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, errs.E(op, errs.Invalid, err)
	}
	req.Header.Set("User-Agent", "glint-web-download")
	return c.Do(req)
}
