// Package urlfilter decides which URLs a web-download import may fetch:
// Glance's [import_filtering_opts] (schemes, hosts, ports), plus Glint's
// refusal of loopback, private and link-local addresses, checked both on
// the URL as given and on every address the fetch actually connects to.
package urlfilter

import (
	"context"
	"fmt"
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
	// such check; Glint refuses them unless this is set.
	AllowPrivate bool
}

// Defaults are Glance's defaults: http and https on ports 80 and 443.
func Defaults() Options {
	return Options{AllowedSchemes: []string{"http", "https"}, AllowedPorts: []int{80, 443}}
}

const op errs.Op = "urlfilter.Check"

// Check applies the filter to a URL before any network access: what can
// be judged without DNS. Glance's rule: an allow list, when set, wins over
// the deny list of the same kind; a URL without an explicit port is not
// port-checked.
func (o Options) Check(raw string) error {
	refuse := func() error {
		shown := raw
		if shown == "" {
			shown = "None" // Glance prints the missing URI as Python's None
		}
		return errs.Errorf(op, errs.Invalid, "URI for web-download does not pass filtering: %s", shown)
	}
	if raw == "" {
		return refuse()
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return refuse()
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if scheme == "" || !listed(scheme, o.AllowedSchemes, o.DisallowedSchemes) {
		return refuse()
	}
	if host == "" || !listed(host, o.AllowedHosts, o.DisallowedHosts) {
		return refuse()
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return refuse()
		}
		if !listed(n, o.AllowedPorts, o.DisallowedPorts) {
			return refuse()
		}
	}
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); err == nil {
		if err := o.CheckAddr(ip); err != nil {
			return refuse()
		}
	}
	return nil
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

// Client returns an HTTP client for fetching filtered URLs: every
// connection's address is checked when it is made (so DNS rebinding cannot
// slip a private address in after Check), every redirect target passes
// Check, and no proxy from the environment is used.
func (o Options) Client(timeout time.Duration) *http.Client {
	d := &net.Dialer{
		Timeout: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("web-download: bad address %q: %w", address, err)
			}
			return o.CheckAddr(ap.Addr())
		},
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		MaxIdleConns:          4,
		IdleConnTimeout:       30 * time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errs.E(op, errs.Invalid, "web-download: too many redirects")
			}
			if err := o.Check(req.URL.String()); err != nil {
				return errs.Errorf(op, errs.Invalid, "web-download: redirect to %s refused by import filtering", req.URL.Redacted())
			}
			return nil
		},
	}
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
