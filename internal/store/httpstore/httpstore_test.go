package httpstore_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"glint/internal/errs"
	"glint/internal/store"
	"glint/internal/store/httpstore"
	"glint/internal/store/storetest"
)

// files is a web server of blobs; it honours Range through ServeContent.
type files struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (f *files) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	b, ok := f.m[r.URL.Path]
	f.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	http.ServeContent(w, r, "", time.Time{}, strings.NewReader(string(b)))
}

func TestConformance(t *testing.T) {
	fs := &files{m: map[string][]byte{}}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) store.Driver {
			d, err := httpstore.New(httpstore.Options{AllowPrivate: true})
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
		Put: func(t *testing.T, d store.Driver, id string, data []byte) string {
			fs.mu.Lock()
			fs.m["/images/"+id] = data
			fs.mu.Unlock()
			return srv.URL + "/images/" + id
		},
	})
}

func TestRefusesPrivateTargets(t *testing.T) {
	srv := httptest.NewServer(&files{m: map[string][]byte{"/x": []byte("secret")}})
	defer srv.Close()
	// A public-looking name that redirects to loopback is refused too.
	redir := httptest.NewServer(http.RedirectHandler(srv.URL+"/x", http.StatusFound))
	defer redir.Close()
	d, err := httpstore.New(httpstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, loc := range []string{srv.URL + "/x", redir.URL, "http://localhost:1/x", "http://[::1]:1/x", "http://10.0.0.1:1/x", "http://169.254.169.254/latest/meta-data"} {
		if _, err := d.Get(ctx, loc, 0); !errs.Is(errs.Forbidden, err) {
			t.Errorf("Get(%s): %v, want Forbidden", loc, err)
		}
		if _, err := d.Size(ctx, loc); !errs.Is(errs.Forbidden, err) {
			t.Errorf("Size(%s): %v, want Forbidden", loc, err)
		}
	}
	for _, loc := range []string{"ftp://example.com/x", "file:///etc/passwd", "http:///nohost"} {
		if _, err := d.Get(ctx, loc, 0); !errs.Is(errs.Invalid, err) {
			t.Errorf("Get(%s): %v, want Invalid", loc, err)
		}
	}
}

func TestPublic(t *testing.T) {
	for _, c := range []struct {
		a    string
		want bool
	}{
		{"8.8.8.8", true}, {"2001:4860:4860::8888", true},
		{"127.0.0.1", false}, {"10.1.2.3", false}, {"172.16.0.1", false}, {"192.168.1.1", false},
		{"169.254.169.254", false}, {"100.64.0.1", false}, {"0.0.0.0", false}, {"::1", false},
		{"fe80::1", false}, {"fc00::1", false}, {"::ffff:127.0.0.1", false}, {"224.0.0.1", false},
	} {
		if got := httpstore.Public(netip.MustParseAddr(c.a)); got != c.want {
			t.Errorf("Public(%s) = %v", c.a, got)
		}
	}
}
