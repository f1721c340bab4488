// Package urlfiltertest is the web every fetch path of Glint is tested
// against: an allowed image server, an internal service the operator
// forbade, and a redirector, all on 127.0.0.1, with the filter an operator
// would write for them and the redirects each path must refuse. One table
// for every path, so that no path is tested against fewer tricks.
package urlfiltertest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"glint/internal/urlfilter"
)

// DataBody is what the allowed server serves at any path; SecretBody is
// what the forbidden one does, and must never be read.
var (
	DataBody   = bytes.Repeat([]byte("image-data."), 100)
	SecretBody = []byte("internal-service-secret")
)

// Web is the servers. Filter allows private addresses (as
// http_store_allow_private_targets and import_allow_private_networks do)
// but only the redirector's and the data server's ports, and disallows
// the host 127.0.0.2: the secret server is forbidden by its port, and
// 127.0.0.2 stands for a forbidden address that no test needs to serve.
type Web struct {
	Data   *httptest.Server
	Secret *httptest.Server
	// Redir redirects: /to?u=URL to URL, and /chain/N through N-1
	// redirects of its own and then to the data server (N in all).
	Redir  *httptest.Server
	Filter urlfilter.Options
	// SecretHits counts the requests the secret server got.
	SecretHits atomic.Int64
}

// New starts the servers; they stop when the test ends.
func New(t testing.TB) *Web {
	w := &Web{}
	w.Data = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		http.ServeContent(rw, r, "", time.Time{}, bytes.NewReader(DataBody))
	}))
	t.Cleanup(w.Data.Close)
	w.Secret = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.SecretHits.Add(1)
		http.ServeContent(rw, r, "", time.Time{}, bytes.NewReader(SecretBody))
	}))
	t.Cleanup(w.Secret.Close)
	w.Redir = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if n, ok := strings.CutPrefix(r.URL.Path, "/chain/"); ok {
			left, err := strconv.Atoi(n)
			switch {
			case err != nil || left < 1:
				http.NotFound(rw, r)
			case left == 1:
				http.Redirect(rw, r, w.Data.URL+"/img", http.StatusFound)
			default:
				http.Redirect(rw, r, "/chain/"+strconv.Itoa(left-1), http.StatusFound)
			}
			return
		}
		http.Redirect(rw, r, r.URL.Query().Get("u"), http.StatusFound)
	}))
	t.Cleanup(w.Redir.Close)
	w.Filter = urlfilter.Options{
		AllowedSchemes:  []string{"http"},
		AllowedPorts:    []int{Port(t, w.Redir), Port(t, w.Data)},
		DisallowedHosts: []string{"127.0.0.2"},
		AllowPrivate:    true,
	}
	return w
}

// Port is a test server's port.
func Port(t testing.TB, s *httptest.Server) int {
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Case is a URL to fetch and whether the guard must refuse it.
type Case struct {
	Name    string
	URL     string
	Refused bool
}

// To is a redirector URL that redirects to target.
func (w *Web) To(target string) string {
	return w.Redir.URL + "/to?u=" + url.QueryEscape(target)
}

// Cases are the redirects a path following at most maxRedirects must
// refuse, and the ones it must still follow. The forbidden address forms
// aim at an allowed port, so that only the form check can refuse them:
// getaddrinfo reads each of them as 127.0.0.2.
func (w *Web) Cases(t testing.TB, maxRedirects int) []Case {
	secret, data := Port(t, w.Secret), Port(t, w.Data)
	refused := func(name, format string, port int) Case {
		return Case{Name: name, URL: w.To(fmt.Sprintf(format, port)), Refused: true}
	}
	return []Case{
		{Name: "allowed redirect", URL: w.To(w.Data.URL + "/img")},
		{Name: "allowed chain at the bound", URL: w.Redir.URL + "/chain/" + strconv.Itoa(maxRedirects)},
		{Name: "chain past the bound", URL: w.Redir.URL + "/chain/" + strconv.Itoa(maxRedirects+1), Refused: true},
		refused("forbidden port", "http://127.0.0.1:%d/img", secret),
		refused("forbidden port by name", "http://localhost:%d/img", secret),
		refused("forbidden port IPv6-mapped", "http://[::ffff:127.0.0.1]:%d/img", secret),
		refused("forbidden port decimal", "http://2130706433:%d/img", secret),
		refused("forbidden scheme", "https://127.0.0.1:%d/img", data),
		refused("forbidden host", "http://127.0.0.2:%d/img", data),
		refused("forbidden host decimal", "http://2130706434:%d/img", data),
		refused("forbidden host hex", "http://0x7f000002:%d/img", data),
		refused("forbidden host dotted hex", "http://0x7f.0.0.2:%d/img", data),
		refused("forbidden host octal", "http://0177.0.0.2:%d/img", data),
		refused("forbidden host octal number", "http://017700000002:%d/img", data),
		refused("forbidden host short form", "http://127.2:%d/img", data),
		refused("forbidden host leading zeros", "http://127.000.000.002:%d/img", data),
		refused("forbidden host final dot", "http://127.0.0.2.:%d/img", data),
		refused("forbidden host IPv6-mapped", "http://[::ffff:127.0.0.2]:%d/img", data),
		refused("forbidden host IPv6-mapped hex", "http://[::ffff:7f00:2]:%d/img", data),
	}
}
