package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"glint/internal/errs"
	"glint/internal/store"
	"glint/internal/store/storetest"
)

// noOwner hides its driver's Owns: a driver that cannot tell its
// locations from others of its scheme.
type noOwner struct{ store.Driver }

// fake is a driver that owns locations of its scheme under one host.
type fake struct{ scheme, host string }

func (f fake) Scheme() string                                            { return f.scheme }
func (f fake) Check(context.Context) error                               { return nil }
func (f fake) ErrorKind(error) errs.Kind                                 { return errs.Unavailable }
func (f fake) Size(context.Context, string) (int64, error)               { return 0, nil }
func (f fake) Get(context.Context, string, int64) (io.ReadCloser, error) { return nil, nil }
func (f fake) Owns(loc string) bool {
	return len(loc) > len(f.scheme)+3 && loc[len(f.scheme)+3:len(f.scheme)+3+len(f.host)] == f.host
}

func TestSet(t *testing.T) {
	a, b := fake{"s3+http", "a"}, fake{"s3+http", "b"}
	web := noOwner{fake{"http", "w"}} // as the HTTP store: every http(s) location is its
	set, err := store.NewNamedSet("b",
		&store.Store{Name: "sa", Driver: a}, &store.Store{Name: "b", Driver: b}, &store.Store{Name: "web", Driver: web})
	if err != nil {
		t.Fatal(err)
	}
	for loc, want := range map[string]string{
		"s3+http://a/bucket/x": "sa", "s3+http://b/bucket/x": "b", "https://w/x": "web", "http://w/x": "web",
		// No store owns it (Glance: no store's prefix matches), though one
		// of its scheme reads it.
		"s3+http://c/bucket/x": "", "swift://x/y": "", "::": "",
	} {
		if got := set.NameFor(loc); got != want {
			t.Errorf("NameFor(%s) = %q, want %q", loc, got, want)
		}
	}
	if st, err := set.For("s3+http://c/bucket/x"); err != nil || st.Name != "sa" {
		t.Errorf("For(a location no store owns): %v, %v", st, err)
	}
	if !set.Has("web") || set.Has("fast") {
		t.Errorf("Has: web %v, fast %v", set.Has("web"), set.Has("fast"))
	}
	if _, err := set.For("rbd://x/y"); !errs.Is(errs.Unavailable, err) {
		t.Errorf("For(rbd): %v", err)
	}
	if set.Default().Name != "b" || set.DefaultName() != "b" {
		t.Errorf("default %s", set.DefaultName())
	}
	if _, err := set.Named("nope"); !errs.Is(errs.Invalid, err) {
		t.Errorf("Named(nope): %v", err)
	}
	if _, err := store.NewNamedSet("x", &store.Store{Name: "sa", Driver: a}); err == nil {
		t.Error("a default that is not a store was accepted")
	}
	if st, _ := set.Named("web"); !st.ReadOnly() {
		t.Error("a driver without Add and Delete is not read-only")
	}
	one := store.NewSet(newMem(), fake{"http", "w"})
	if one.DefaultName() != "mem" || strings.Join(one.Names(), ",") != "http,mem" {
		t.Errorf("NewSet: default %s, names %v", one.DefaultName(), one.Names())
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"s3+http://AK:S%2FK@h:9000/b/id": "s3+http://***@h:9000/b/id",
		"s3://AK:S/K@h/b/id":             "s3://***@h/b/id",
		"file:///srv/images/id":          "file:///srv/images/id",
		"https://example.com/a@b":        "https://example.com/a@b",
		"swift+config://ref1/glance/id":  "swift+config://ref1/glance/id",
	} {
		if got := store.Redact(in); got != want {
			t.Errorf("Redact(%s) = %s, want %s", in, got, want)
		}
	}
}

// mem is an in-memory driver whose locations carry credentials, as S3's
// do, and whose errors show them: the Store must hide them.
type mem struct {
	mu   sync.Mutex
	objs map[string][]byte
	// stopAfter, when not 0, makes Add stop reading after that many
	// bytes and report success (a broken driver).
	stopAfter int
	// lie, when not 0, is added to the byte count Add reports.
	lie int64
}

const memSecret = "s3cr3t/key+x"

func newMem() *mem { return &mem{objs: map[string][]byte{}} }

var (
	errMemNotFound = errors.New("no such object")
	errMemExists   = errors.New("object exists")
)

func (m *mem) Scheme() string { return "mem" }

func (m *mem) loc(id string) string {
	return "mem://glint:" + url.QueryEscape(memSecret) + "@mem/" + id
}

func (m *mem) id(loc string) (string, error) {
	id, ok := strings.CutPrefix(loc, "mem://glint:"+url.QueryEscape(memSecret)+"@mem/")
	if !ok {
		return "", fmt.Errorf("%s is not a location of this store: %w", loc, errMemNotFound)
	}
	return id, nil
}

func (m *mem) Add(ctx context.Context, id string, r io.Reader, size int64) (string, int64, error) {
	m.mu.Lock()
	_, dup := m.objs[id]
	m.mu.Unlock()
	if dup {
		return "", 0, fmt.Errorf("%s: %w", m.loc(id), errMemExists)
	}
	if m.stopAfter > 0 {
		r = io.LimitReader(r, int64(m.stopAfter))
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return "", 0, fmt.Errorf("writing %s: %w", m.loc(id), err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.objs[id]; dup {
		return "", 0, fmt.Errorf("%s: %w", m.loc(id), errMemExists)
	}
	m.objs[id] = b
	return m.loc(id), int64(len(b)) + m.lie, nil
}

func (m *mem) object(loc string) ([]byte, error) {
	id, err := m.id(loc)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[id]
	if !ok {
		return nil, fmt.Errorf("reading %s: %w", loc, errMemNotFound)
	}
	return b, nil
}

func (m *mem) Get(ctx context.Context, loc string, off int64) (io.ReadCloser, error) {
	b, err := m.object(loc)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(b[min(off, int64(len(b))):])), nil
}

func (m *mem) Size(ctx context.Context, loc string) (int64, error) {
	b, err := m.object(loc)
	return int64(len(b)), err
}

func (m *mem) Delete(ctx context.Context, loc string) error {
	if _, err := m.object(loc); err != nil {
		return err
	}
	id, _ := m.id(loc)
	m.mu.Lock()
	delete(m.objs, id)
	m.mu.Unlock()
	return nil
}

func (m *mem) Check(context.Context) error { return nil }

func (m *mem) ErrorKind(err error) errs.Kind {
	switch {
	case errors.Is(err, errMemNotFound):
		return errs.NotFound
	case errors.Is(err, errMemExists):
		return errs.Conflict
	}
	return errs.Unavailable
}

func (m *mem) keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.objs {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// The conformance suite's wrapper cases, in memory: the Store's own
// behaviour, without a server, under -short too.
func TestConformanceInMemory(t *testing.T) {
	// The driver holds its data in the heap: the big stream stays small.
	t.Setenv("GLINT_STORETEST_BIG", "16M")
	storetest.Run(t, storetest.Harness{
		New:       func(*testing.T) store.Driver { return newMem() },
		Leftovers: func(_ *testing.T, d store.Driver) []string { return d.(*mem).keys() },
		Secrets:   []string{memSecret},
	})
}

// A driver that stops reading early or miscounts keeps nothing.
func TestBrokenDriver(t *testing.T) {
	for _, m := range []*mem{{objs: map[string][]byte{}, stopAfter: 1000}, {objs: map[string][]byte{}, lie: 1}} {
		st := &store.Store{Name: "broken", Driver: m}
		for _, size := range []int64{-1, 4000} {
			_, err := st.Write(context.Background(), "img", bytes.NewReader(make([]byte, 4000)), size, "sha256")
			if !errs.Is(errs.Internal, err) {
				t.Errorf("Write to a broken driver (%+v), size %d: %v, want Internal", m, size, err)
			}
			if k := m.keys(); len(k) != 0 {
				t.Errorf("left %v", k)
			}
		}
	}
}

// Errors name the store, carry the driver's classification and hide
// credentials, in their text and in their message.
func TestErrors(t *testing.T) {
	m := newMem()
	st := &store.Store{Name: "fast", Driver: m}
	ctx := context.Background()
	loc := m.loc("nothere")
	_, err := st.Size(ctx, loc)
	if !errs.Is(errs.NotFound, err) {
		t.Fatalf("Size: %v", err)
	}
	if s := err.Error(); strings.Contains(s, memSecret) || strings.Contains(s, url.QueryEscape(memSecret)) || !strings.Contains(s, "store fast") || !strings.Contains(s, "mem://***@mem/nothere") {
		t.Errorf("error text %q", s)
	}
	if msg := errs.Message(err); msg != "Image data not found in the store" {
		t.Errorf("message %q", msg)
	}
	var se *store.Error
	if !errors.As(err, &se) || se.Store != "fast" || se.Location != "mem://***@mem/nothere" || !errors.Is(err, errMemNotFound) {
		t.Errorf("store.Error %+v", se)
	}
	// The driver's own words stay, without the credentials.
	m2 := &wordy{m}
	st2 := &store.Store{Name: "wordy", Driver: m2}
	_, err = st2.Size(ctx, loc)
	if !errs.Is(errs.Conflict, err) || strings.Contains(errs.Message(err), memSecret) || !strings.Contains(errs.Message(err), "mem://***@") {
		t.Errorf("wordy: %v; message %q", err, errs.Message(err))
	}
}

// wordy returns errors with words, location included, and a Kind of
// their own that the Store ignores: ErrorKind decides.
type wordy struct{ *mem }

func (w *wordy) Size(ctx context.Context, loc string) (int64, error) {
	return 0, errs.E(errs.Forbidden, "cannot size "+loc, fmt.Errorf("for %s: %w", loc, errMemExists))
}
