package store_test

import (
	"context"
	"io"
	"testing"

	"glint/internal/errs"
	"glint/internal/store"
)

// fake is a driver that owns locations of its scheme under one host.
type fake struct{ scheme, host string }

func (f fake) Scheme() string                              { return f.scheme }
func (f fake) Capabilities() store.Capabilities            { return store.RWAccess }
func (f fake) Check(context.Context) error                 { return nil }
func (f fake) Size(context.Context, string) (int64, error) { return 0, nil }
func (f fake) Delete(context.Context, string) error        { return nil }
func (f fake) Add(context.Context, string, io.Reader, int64) (string, int64, error) {
	return "", 0, nil
}
func (f fake) Get(context.Context, string, int64) (io.ReadCloser, error) { return nil, nil }
func (f fake) Owns(loc string) bool {
	return len(loc) > len(f.scheme)+3 && loc[len(f.scheme)+3:len(f.scheme)+3+len(f.host)] == f.host
}

func TestSet(t *testing.T) {
	a, b := fake{"s3+http", "a"}, fake{"s3+http", "b"}
	web := fake{"http", "w"}
	set, err := store.NewNamedSet("b",
		&store.Store{Name: "sa", Driver: a}, &store.Store{Name: "b", Driver: b}, &store.Store{Name: "web", Driver: web})
	if err != nil {
		t.Fatal(err)
	}
	for loc, want := range map[string]string{
		"s3+http://a/bucket/x": "sa", "s3+http://b/bucket/x": "b", "https://w/x": "web", "http://w/x": "web",
	} {
		if got := set.NameFor(loc); got != want {
			t.Errorf("NameFor(%s) = %q, want %q", loc, got, want)
		}
	}
	if _, err := set.For("rbd://x/y"); !errs.Is(errs.Unavailable, err) {
		t.Errorf("For(rbd): %v", err)
	}
	if set.Target(context.Background()) != store.Driver(b) {
		t.Error("Target without a choice is not the default")
	}
	if set.Target(store.WithTarget(context.Background(), "sa")) != store.Driver(a) {
		t.Error("Target does not honour WithTarget")
	}
	if _, err := set.Named("nope"); !errs.Is(errs.Invalid, err) {
		t.Errorf("Named(nope): %v", err)
	}
	if _, err := store.NewNamedSet("x", &store.Store{Name: "sa", Driver: a}); err == nil {
		t.Error("a default that is not a store was accepted")
	}
	if got := (store.RWAccess | store.ReadRandom).String(); got != "read_access|read_offset|read_chunk|write_access" {
		t.Errorf("capabilities %s", got)
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
