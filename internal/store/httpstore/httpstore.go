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
	"errors"
	"fmt"
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

// The HTTP store is read-only: it has no Add or Delete.
var _ store.Driver = (*Driver)(nil)

// Check implements store.Driver; the HTTP store has no server of its own.
func (d *Driver) Check(context.Context) error { return nil }

// ErrorKind implements store.Driver.
func (d *Driver) ErrorKind(err error) errs.Kind {
	var se *statusError
	switch {
	case urlfilter.Refused(err):
		return errs.Forbidden
	case errors.Is(err, errBadLocation):
		return errs.Invalid
	case errors.As(err, &se) && (se.code == http.StatusNotFound || se.code == http.StatusGone):
		return errs.NotFound
	}
	return errs.Unavailable
}

var errBadLocation = errors.New("bad HTTP location")

// statusError is a response that is not the data.
type statusError struct {
	code   int
	status string
}

func (e *statusError) Error() string { return "HTTP location returned " + e.status }

// refusedWords say what the filter's refusal means; the error under them
// says which rule refused.
const refusedWords = "The HTTP location, or a redirect from it, leads to an address, port or host this store may not read from"

func checkURL(loc string) (*url.URL, error) {
	u, err := url.Parse(loc)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errBadLocation
	}
	return u, nil
}

func (d *Driver) do(ctx context.Context, method, loc string, hdr http.Header) (*http.Response, error) {
	u, err := checkURL(loc)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadLocation, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := d.client.Do(req)
	if err != nil {
		if urlfilter.Refused(err) {
			return nil, errs.E(refusedWords, err) // the Kind is ErrorKind's
		}
		return nil, fmt.Errorf("the HTTP location cannot be reached: %w", err)
	}
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		resp.Body.Close()
		return nil, &statusError{resp.StatusCode, resp.Status}
	}
	return resp, nil
}

// Size implements store.Driver with a HEAD request.
func (d *Driver) Size(ctx context.Context, loc string) (int64, error) {
	resp, err := d.do(ctx, http.MethodHead, loc, nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.ContentLength < 0 {
		return 0, errors.New("HTTP location did not send a Content-Length")
	}
	return resp.ContentLength, nil
}

// Get implements store.Driver, asking for a range from offset; a server
// that ignores ranges has the skipped part read and dropped.
func (d *Driver) Get(ctx context.Context, loc string, offset int64) (io.ReadCloser, error) {
	var hdr http.Header
	if offset > 0 {
		hdr = http.Header{"Range": {"bytes=" + strconv.FormatInt(offset, 10) + "-"}}
	}
	resp, err := d.do(ctx, http.MethodGet, loc, hdr)
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
			return nil, err
		}
	}
	return resp.Body, nil
}
