package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"glint/internal/auth"
	"glint/internal/errs"
	"glint/internal/image"
)

// failures counts the "request failed" records logged.
type failures struct {
	mu sync.Mutex
	n  int
}

func (f *failures) Enabled(context.Context, slog.Level) bool { return true }
func (f *failures) WithAttrs([]slog.Attr) slog.Handler       { return f }
func (f *failures) WithGroup(string) slog.Handler            { return f }
func (f *failures) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "request failed") {
		f.mu.Lock()
		f.n++
		f.mu.Unlock()
	}
	return nil
}

func (f *failures) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.n
	f.n = 0
	return n
}

// Every error a handler returns is answered by writeError alone: the
// status statusOf gives, the headers and body the error carries, logged
// once; a handler's own success response is left alone.
func TestOneErrorWriter(t *testing.T) {
	logged := &failures{}
	s, err := New(nil, Config{LimitParamDefault: 25, APILimitMax: 1000, DiskFormats: image.DefaultDiskFormats,
		ContainerFormats: image.DefaultContainerFormats}, func(*http.Request) error { return nil }, slog.New(logged))
	if err != nil {
		t.Fatal(err)
	}
	var ret error
	s.route("/v2/test/error", methods{"GET": func(w http.ResponseWriter, r *http.Request) error { return ret }})
	s.route("/v2/test/late", methods{"GET": func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "partial")
		return errs.E(errs.Op("test"), errs.Unavailable, "store went away")
	}})
	s.route("/v2/test/panic", methods{"GET": func(w http.ResponseWriter, r *http.Request) error { panic("boom") }})

	for _, tc := range []struct {
		name   string
		err    error
		status int
		header string // "Name: value"
		ctype  string
		body   string // exact, unless prefixed with "~" (substring)
	}{
		{"kind", errs.E(errs.Op("test"), errs.Conflict, "Image is busy."), 409, "", "text/plain; charset=UTF-8",
			"409 Conflict\n\nImage is busy.\n\n   "},
		{"wrapped kind", errs.E(errs.Op("outer"), errs.E(errs.Op("inner"), errs.BadFormat, "Wrong format.")), 415, "",
			"text/plain; charset=UTF-8", "~Wrong format."},
		{"no message", errs.E(errs.Op("test"), errs.NotFound), 404, "", "text/plain; charset=UTF-8",
			"~The resource could not be found."},
		{"500 hides the cause", errs.E(errs.Op("test"), errs.Internal, "secret detail", io.ErrUnexpectedEOF), 500, "",
			"text/plain; charset=UTF-8", "~The server has either erred"},
		{"out of range", errs.E(errs.Op("test"), errs.OutOfRange, "Requested range not satisfiable: x"), 416, "",
			"text/plain; charset=UTF-8", "416 Request Range Not Satisfiable\n\nRequested range not satisfiable: x\n\n   "},
		{"extra header", withHeader(errs.E(errs.Op("test"), errs.BadFormat, "no"), "Accept-Patch", "a/b"), 415,
			"Accept-Patch: a/b", "text/plain; charset=UTF-8", "~no"},
		{"status of its own", methodNotAllowed("PUT", []string{"GET", "POST"}), 405, "Allow: GET, POST",
			"text/plain; charset=UTF-8", "405 Method Not Allowed\n\nThe method PUT is not allowed for this resource.\n\n   "},
		{"body of its own", &httpError{status: 405, header: http.Header{"Allow": {"GET"}}, ctype: "text/plain", body: "just this",
			err: errs.E(errs.Op("test"), "cause")}, 405, "Allow: GET", "text/plain", "just this"},
		{"authenticator's answer", withHeader(errs.E(errs.Op("test"), errs.Unauthorized,
			&auth.Response{Status: 401, ContentType: "application/json", Body: `{"error": {"code": 401}}`}), "WWW-Authenticate", "Keystone"),
			401, "Www-Authenticate: Keystone", "application/json", `{"error": {"code": 401}}`},
		{"unclassified", errors.New("plain"), 500, "", "text/plain; charset=UTF-8", "~The server has either erred"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ret = tc.err
			w := httptest.NewRecorder()
			s.ServeHTTP(w, httptest.NewRequest("GET", "/v2/test/error", nil))
			res := w.Result()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status || res.Header.Get("Content-Type") != tc.ctype {
				t.Errorf("got %d %q, want %d %q", res.StatusCode, res.Header.Get("Content-Type"), tc.status, tc.ctype)
			}
			if want, ok := strings.CutPrefix(tc.body, "~"); ok && !strings.Contains(string(body), want) || !ok && string(body) != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
			if strings.Contains(string(body), "secret") {
				t.Errorf("body %q shows a 500's cause", body)
			}
			if cl := res.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(body)) {
				t.Errorf("Content-Length %s for %d bytes", cl, len(body))
			}
			if k, v, ok := strings.Cut(tc.header, ": "); ok && res.Header.Get(k) != v {
				t.Errorf("%s: %q, want %q", k, res.Header.Get(k), v)
			}
			if n := logged.count(); n != 1 {
				t.Errorf("logged %d times, want once", n)
			}
		})
	}

	t.Run("after the response began", func(t *testing.T) {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest("GET", "/v2/test/late", nil))
		if w.Code != 200 || w.Body.String() != "partial" {
			t.Errorf("got %d %q: the error was written over the response", w.Code, w.Body)
		}
		if n := logged.count(); n != 1 {
			t.Errorf("logged %d times, want once", n)
		}
	})
	t.Run("panic", func(t *testing.T) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/v2/test/panic", nil)
		r.Header.Set("Accept", "application/json")
		s.ServeHTTP(w, r)
		if w.Code != 500 || !strings.Contains(w.Body.String(), `"code":"500 Internal Server Error"`) {
			t.Errorf("got %d %s", w.Code, w.Body)
		}
		if n := logged.count(); n != 1 {
			t.Errorf("logged %d times, want once", n)
		}
	})
}
