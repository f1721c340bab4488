package httpstore_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"glint/internal/errs"
	"glint/internal/store"
	"glint/internal/store/httpstore"
	"glint/internal/store/storetest"
	"glint/internal/urlfilter"
	"glint/internal/urlfilter/urlfiltertest"
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
			d, err := httpstore.New(httpstore.Options{Filter: urlfilter.Options{AllowPrivate: true}})
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
	st := &store.Store{Name: "http", Driver: d}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, loc := range []string{srv.URL + "/x", redir.URL, "http://localhost:1/x", "http://[::1]:1/x", "http://10.0.0.1:1/x", "http://169.254.169.254/latest/meta-data"} {
		if _, err := st.Open(ctx, loc, 0); !errs.Is(errs.Forbidden, err) {
			t.Errorf("Open(%s): %v, want Forbidden", loc, err)
		}
		if _, err := st.Size(ctx, loc); !errs.Is(errs.Forbidden, err) {
			t.Errorf("Size(%s): %v, want Forbidden", loc, err)
		}
	}
	for _, loc := range []string{"ftp://example.com/x", "file:///etc/passwd", "http:///nohost"} {
		if _, err := st.Open(ctx, loc, 0); !errs.Is(errs.Invalid, err) {
			t.Errorf("Open(%s): %v, want Invalid", loc, err)
		}
	}
}

// TestRedirects: a read or a size check follows a redirect only where the
// location itself could have pointed, through at most MaxRedirects.
func TestRedirects(t *testing.T) {
	w := urlfiltertest.New(t)
	const maxRedirects = 4
	d, err := httpstore.New(httpstore.Options{Filter: w.Filter, MaxRedirects: maxRedirects})
	if err != nil {
		t.Fatal(err)
	}
	st := &store.Store{Name: "http", Driver: d}
	for _, c := range w.Cases(t, maxRedirects) {
		t.Run(c.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			size, err := st.Size(ctx, c.URL)
			if c.Refused {
				if !errs.Is(errs.Forbidden, err) {
					t.Errorf("Size: %d, %v, want Forbidden", size, err)
				}
			} else if err != nil || size != int64(len(urlfiltertest.DataBody)) {
				t.Errorf("Size: %d, %v", size, err)
			}
			for _, off := range []int64{0, 10} {
				rc, err := st.Open(ctx, c.URL, off)
				if c.Refused {
					if !errs.Is(errs.Forbidden, err) {
						t.Errorf("Get from %d: %v, want Forbidden", off, err)
					}
					if err == nil {
						rc.Close()
					}
					continue
				}
				if err != nil {
					t.Fatalf("Get from %d: %v", off, err)
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || string(b) != string(urlfiltertest.DataBody[off:]) {
					t.Errorf("Get from %d: %q, %v", off, b, err)
				}
			}
		})
	}
	if n := w.SecretHits.Load(); n != 0 {
		t.Errorf("the forbidden server was asked %d times", n)
	}
	// The first hop passes the same filter: a location naming the
	// forbidden port is refused too.
	if _, err := st.Open(context.Background(), w.Secret.URL+"/img", 0); !errs.Is(errs.Forbidden, err) {
		t.Errorf("Get of the forbidden server: %v, want Forbidden", err)
	}
}
