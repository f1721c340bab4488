// Package httpstore is glance_store's read-only HTTP store: an image whose
// location is an http(s) URL is served from that URL. Because the URL is
// user input, every request goes through urlfilter's guarded client with
// the location filter: the URL and every redirect target must pass
// [import_filtering_opts], and every connection is checked on the address
// actually dialled, after DNS, so that neither DNS rebinding nor a
// redirect reaches a loopback, private or link-local address (unless the
// operator allows them) or a port the operator did not allow.
package httpstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"glint/internal/errs"
	"glint/internal/store"
	"glint/internal/urlfilter"
)

// Options are the HTTP store's options.
type Options struct {
	// Filter is what every request, redirect and connection of the store
	// must pass: the location filter, [import_filtering_opts] with
	// http_store_allow_private_targets as its AllowPrivate. The zero
	// value refuses only non-public addresses.
	Filter   urlfilter.Options
	CAFile   string // https_ca_certificates_file
	Insecure bool   // https_insecure
	// MaxRedirects is how many redirects a read follows; 0 means 5.
	MaxRedirects int
}

// Driver reads images from web servers.
type Driver struct {
	client *http.Client
}

// New builds the driver.
func New(o Options) (*Driver, error) {
	const op errs.Op = "httpstore.New"
	tlsc := &tls.Config{InsecureSkipVerify: o.Insecure} //nolint:gosec // the operator's https_insecure
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, errs.E(op, errs.Invalid, "cannot read https_ca_certificates_file", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errs.Errorf(op, errs.Invalid, "no certificates in https_ca_certificates_file %s", o.CAFile)
		}
		tlsc.RootCAs = pool
	}
	maxRedir := o.MaxRedirects
	if maxRedir <= 0 {
		maxRedir = 5
	}
	return &Driver{client: o.Filter.Client(urlfilter.ClientOptions{TLS: tlsc, MaxRedirects: maxRedir})}, nil
}

// Scheme implements store.Driver.
func (d *Driver) Scheme() string { return "http" }

// Capabilities implements store.Driver: read-only.
func (d *Driver) Capabilities() store.Capabilities {
	return store.ReadAccess | store.ReadRandom | store.DriverReusable
}

// Check implements store.Driver; the HTTP store has no server of its own.
func (d *Driver) Check(context.Context) error { return nil }

// Add implements store.Driver: the store is read-only.
func (d *Driver) Add(context.Context, string, io.Reader, int64) (string, int64, error) {
	return "", 0, store.ReadOnly("httpstore.Add", "http")
}

// Delete implements store.Driver: the store is read-only.
func (d *Driver) Delete(context.Context, string) error {
	return store.ReadOnly("httpstore.Delete", "http")
}

func checkURL(op errs.Op, loc string) (*url.URL, error) {
	u, err := url.Parse(loc)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errs.Errorf(op, errs.Invalid, "bad HTTP location")
	}
	return u, nil
}

func (d *Driver) do(ctx context.Context, op errs.Op, method, loc string, hdr http.Header) (*http.Response, error) {
	u, err := checkURL(op, loc)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, errs.E(op, errs.Invalid, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := d.client.Do(req)
	if err != nil {
		if urlfilter.Refused(err) {
			return nil, errs.E(op, errs.Forbidden, "The HTTP location, or a redirect from it, leads to an address, port or host this store may not read from", err)
		}
		return nil, errs.E(op, errs.Unavailable, "The HTTP location cannot be reached", err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		resp.Body.Close()
		return nil, errs.Errorf(op, errs.NotFound, "HTTP location returned %s", resp.Status)
	case resp.StatusCode >= 300 && resp.StatusCode != http.StatusRequestedRangeNotSatisfiable:
		resp.Body.Close()
		return nil, errs.Errorf(op, errs.Unavailable, "HTTP location returned %s", resp.Status)
	}
	return resp, nil
}

// Size implements store.Driver with a HEAD request.
func (d *Driver) Size(ctx context.Context, loc string) (int64, error) {
	const op errs.Op = "httpstore.Size"
	resp, err := d.do(ctx, op, http.MethodHead, loc, nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.ContentLength < 0 {
		return 0, errs.E(op, errs.Unavailable, "HTTP location did not send a Content-Length")
	}
	return resp.ContentLength, nil
}

// Get implements store.Driver, asking for a range from offset; a server
// that ignores ranges has the skipped part read and dropped.
func (d *Driver) Get(ctx context.Context, loc string, offset int64) (io.ReadCloser, error) {
	const op errs.Op = "httpstore.Get"
	var hdr http.Header
	if offset > 0 {
		hdr = http.Header{"Range": {"bytes=" + strconv.FormatInt(offset, 10) + "-"}}
	}
	resp, err := d.do(ctx, op, http.MethodGet, loc, hdr)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		// The offset is at or past the end.
		resp.Body.Close()
		return io.NopCloser(strings.NewReader("")), nil
	case offset > 0 && resp.StatusCode != http.StatusPartialContent:
		if _, err := io.CopyN(io.Discard, resp.Body, offset); err != nil && err != io.EOF {
			resp.Body.Close()
			return nil, errs.E(op, errs.Unavailable, err)
		}
	}
	return resp.Body, nil
}
