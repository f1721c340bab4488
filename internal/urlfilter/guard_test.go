package urlfilter_test

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"glint/internal/urlfilter"
	"glint/internal/urlfilter/urlfiltertest"
)

// TestClientRedirects: every redirect passes the whole filter, however
// its target writes the address, and the chain is bounded.
func TestClientRedirects(t *testing.T) {
	w := urlfiltertest.New(t)
	const maxRedirects = 3
	c := w.Filter.Client(urlfilter.ClientOptions{MaxRedirects: maxRedirects})
	for _, tc := range w.Cases(t, maxRedirects) {
		t.Run(tc.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			resp, err := w.Filter.Get(ctx, c, tc.URL)
			if tc.Refused {
				if err == nil || !urlfilter.Refused(err) {
					t.Fatalf("Get(%s) = %v, want the guard's refusal", tc.URL, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Get(%s): %v", tc.URL, err)
			}
			defer resp.Body.Close()
			if b, _ := io.ReadAll(resp.Body); string(b) != string(urlfiltertest.DataBody) {
				t.Fatalf("Get(%s) read %q", tc.URL, b)
			}
		})
	}
	if n := w.SecretHits.Load(); n != 0 {
		t.Errorf("the forbidden server was asked %d times", n)
	}
}

// TestClientFirstHop: the client checks the first request too, so a
// caller that forgets Check is still guarded, and the address a name
// resolves to is checked when dialled.
func TestClientFirstHop(t *testing.T) {
	w := urlfiltertest.New(t)
	secret := strconv.Itoa(urlfiltertest.Port(t, w.Secret))
	data := strconv.Itoa(urlfiltertest.Port(t, w.Data))
	for _, c := range []struct {
		name string
		o    urlfilter.Options
		url  string
		msg  string
	}{
		{"forbidden port", w.Filter, "http://127.0.0.1:" + secret + "/img", "does not pass filtering"},
		{"forbidden port by name", w.Filter, "http://localhost:" + secret + "/img", "does not pass filtering"},
		{"private address by name", urlfilter.Options{}, "http://localhost:" + data + "/img", "not a public address"},
		{"disallowed address by name", urlfilter.Options{AllowPrivate: true, DisallowedHosts: []string{"127.0.0.1"}},
			"http://localhost:" + data + "/img", "disallowed host"},
		{"not http", urlfilter.Options{AllowPrivate: true}, "ftp://127.0.0.1:" + data + "/img", "does not pass filtering"},
		{"named host, other address", urlfilter.Options{AllowedHosts: []string{"127.0.0.2", "localhost"}, AllowedPorts: []int{urlfiltertest.Port(t, w.Data)}},
			"http://127.0.0.1:" + data + "/img", "does not pass filtering"},
		{"named host, other port", urlfilter.Options{AllowedHosts: []string{"localhost"}, AllowedPorts: []int{urlfiltertest.Port(t, w.Data)}},
			"http://localhost:" + secret + "/img", "does not pass filtering"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := c.o.Client(urlfilter.ClientOptions{Timeout: 30 * time.Second}).Get(c.url)
			if err == nil {
				resp.Body.Close()
			}
			if !urlfilter.Refused(err) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("Get(%s) = %v, want a refusal saying %q", c.url, err, c.msg)
			}
		})
	}
	if n := w.SecretHits.Load(); n != 0 {
		t.Errorf("the forbidden server was asked %d times", n)
	}
	// A host the operator names in allowed_hosts is reached although its
	// address is loopback: named as an address, or by name.
	for _, host := range []string{"127.0.0.1", "localhost"} {
		o := urlfilter.Options{AllowedHosts: []string{host}, AllowedPorts: []int{urlfiltertest.Port(t, w.Data)}}
		resp, err := o.Get(context.Background(), o.Client(urlfilter.ClientOptions{Timeout: 30 * time.Second}), "http://"+host+":"+data+"/img")
		if err != nil {
			t.Fatalf("allowed_hosts [%s]: %v", host, err)
		}
		resp.Body.Close()
	}
	// The network failing is not a refusal.
	resp, err := w.Filter.Client(urlfilter.ClientOptions{}).Get(w.Data.URL + "/img")
	if err != nil {
		t.Fatalf("allowed: %v", err)
	}
	resp.Body.Close()
	w.Data.Close()
	if _, err := w.Filter.Client(urlfilter.ClientOptions{}).Get(w.Data.URL + "/img"); err == nil || urlfilter.Refused(err) {
		t.Errorf("closed server: %v, want an error that is not a refusal", err)
	}
}
