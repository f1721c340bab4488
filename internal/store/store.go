// Package store defines the interface every image store driver implements
// (filesystem, S3, Swift, read-only HTTP; RBD later) and the set of named
// stores a node runs, as glance_store's enabled_backends describes them.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strings"

	"glint/internal/errs"
)

// Driver is one storage backend. Drivers are dumb: hashing, size caps and
// image status live in the image service, once for all drivers. Every
// driver must pass the conformance suite in internal/store/storetest.
type Driver interface {
	// Scheme is the URI scheme of the locations this driver writes, e.g. "file".
	Scheme() string
	// Capabilities says what the driver can do (glance_store's
	// capabilities); a read-only driver refuses Add and Delete.
	Capabilities() Capabilities
	// Add stores all of r under imageID, or nothing: on any error, including
	// ctx being cancelled, no data may be left behind. size is the expected
	// length, or -1 when unknown; it is a hint (the caller enforces caps
	// while streaming, in r). It returns the location URI and the number of
	// bytes written; the data is durable when Add returns.
	Add(ctx context.Context, imageID string, r io.Reader, size int64) (loc string, written int64, err error)
	// Get opens the data at loc from offset to the end. When the driver can
	// hand out an *os.File it does, so that downloads use sendfile(2).
	// An offset at or past the end gives an empty reader.
	Get(ctx context.Context, loc string, offset int64) (io.ReadCloser, error)
	// Size returns the stored length of the data at loc.
	Size(ctx context.Context, loc string) (int64, error)
	// Delete removes the data at loc; deleting what is not there is NotFound.
	Delete(ctx context.Context, loc string) error
	// Check verifies that the backend is reachable, usable and that the
	// credentials work (writable too, unless read-only). It runs at start and
	// for /healthcheck, so its error must say what is wrong in words an
	// operator can act on.
	Check(ctx context.Context) error
}

// PartialRemover is a driver that can remove what an Add interrupted by a
// crash left behind for an image (a process killed mid-write cannot clean
// up after itself).
type PartialRemover interface {
	RemovePartial(ctx context.Context, imageID string) error
}

// Capabilities is a set of glance_store capabilities.
type Capabilities uint32

// The capabilities Glance knows (glance_store.capabilities.BitMasks); the
// values are ours, only the names matter.
const (
	ReadAccess Capabilities = 1 << iota
	ReadOffset              // Get honours an offset without reading from the start
	ReadChunk               // a length can be read from an offset
	WriteAccess
	WriteOffset
	WriteChunk
	DriverReusable // one driver serves concurrent requests

	ReadRandom  = ReadOffset | ReadChunk
	WriteRandom = WriteOffset | WriteChunk
	RWAccess    = ReadAccess | WriteAccess
)

var capNames = []struct {
	c    Capabilities
	name string
}{
	{ReadAccess, "read_access"}, {ReadOffset, "read_offset"}, {ReadChunk, "read_chunk"},
	{WriteAccess, "write_access"}, {WriteOffset, "write_offset"}, {WriteChunk, "write_chunk"},
	{DriverReusable, "driver_reusable"},
}

// Has reports whether all of want are in c.
func (c Capabilities) Has(want Capabilities) bool { return c&want == want }

// String lists the capability names, e.g. "read_access|write_access".
func (c Capabilities) String() string {
	var names []string
	for _, n := range capNames {
		if c.Has(n.c) {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}

// ReadOnly is the error a read-only driver returns from Add and Delete.
func ReadOnly(op errs.Op, scheme string) error {
	return errs.Errorf(op, errs.Forbidden, "Store %s is read-only", scheme)
}

// Store is one configured backend: a driver under an operator-given name
// (an enabled_backends key, or the scheme when only [glance_store] is used).
type Store struct {
	Name        string
	Type        string // glance_store type: file, s3, swift, http
	Description string
	Driver      Driver
	// Properties are what GET /v2/info/stores/detail shows of the
	// store's configuration (Glance's per-type property lists).
	Properties map[string]any
}

type targetKey struct{}

// WithTarget returns ctx asking that uploads made with it go to the
// store called name (the X-Image-Meta-Store header); the caller has
// checked the name with Named.
func WithTarget(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, targetKey{}, name)
}

// Target is the driver uploads made with ctx go to: the one WithTarget
// named, or the default.
func (s *Set) Target(ctx context.Context) Driver {
	if name, ok := ctx.Value(targetKey{}).(string); ok {
		if st, ok := s.byName[name]; ok {
			return st.Driver
		}
	}
	return s.Default
}

// Set holds the stores of a node: Default receives uploads, and a location
// is served by the store whose driver owns it.
type Set struct {
	Default  Driver
	def      string
	byName   map[string]*Store
	order    []string
	byScheme map[string]Driver
}

// NewSet builds a Set whose default store is def. Each driver is named
// after its scheme.
func NewSet(def Driver, others ...Driver) *Set {
	s := &Set{Default: def, def: def.Scheme(), byName: map[string]*Store{}, byScheme: map[string]Driver{}}
	for _, d := range append([]Driver{def}, others...) {
		s.add(&Store{Name: d.Scheme(), Type: d.Scheme(), Driver: d})
	}
	return s
}

// NewNamedSet builds a Set of named stores (Glance's enabled_backends),
// the one called def being the default.
func NewNamedSet(def string, stores ...*Store) (*Set, error) {
	const op errs.Op = "store.NewNamedSet"
	s := &Set{def: def, byName: map[string]*Store{}, byScheme: map[string]Driver{}}
	for _, st := range stores {
		if _, dup := s.byName[st.Name]; dup {
			return nil, errs.Errorf(op, errs.Invalid, "store %q is configured twice", st.Name)
		}
		s.add(st)
	}
	d, ok := s.byName[def]
	if !ok {
		return nil, errs.Errorf(op, errs.Invalid, "default store %q is not one of the enabled stores (%s)", def, strings.Join(s.order, ", "))
	}
	s.Default = d.Driver
	return s, nil
}

func (s *Set) add(st *Store) {
	if _, ok := s.byName[st.Name]; !ok {
		s.order = append(s.order, st.Name)
	}
	s.byName[st.Name] = st
	// The first store of a scheme answers for its locations; drivers of the
	// same scheme refuse locations that are not theirs, which For handles.
	if _, ok := s.byScheme[st.Driver.Scheme()]; !ok {
		s.byScheme[st.Driver.Scheme()] = st.Driver
	}
	if st.Driver.Scheme() == "file" {
		if _, ok := s.byScheme["filesystem"]; !ok {
			s.byScheme["filesystem"] = st.Driver
		}
	}
}

// DefaultName is the name of the default store.
func (s *Set) DefaultName() string { return s.def }

// Stores lists the stores in configuration order.
func (s *Set) Stores() []*Store {
	out := make([]*Store, 0, len(s.order))
	for _, n := range s.order {
		out = append(out, s.byName[n])
	}
	return out
}

// Named returns the store called name.
func (s *Set) Named(name string) (*Store, error) {
	const op errs.Op = "store.Named"
	st, ok := s.byName[name]
	if !ok {
		return nil, errs.Errorf(op, errs.Invalid, "Store for identifier %s not found", name)
	}
	return st, nil
}

// Owner is implemented by drivers that can tell whether a location of
// their scheme is theirs (two S3 stores on different buckets, say).
type Owner interface {
	Owns(loc string) bool
}

// For returns the driver that serves a location URI.
func (s *Set) For(loc string) (Driver, error) {
	const op errs.Op = "store.For"
	u, err := url.Parse(loc)
	if err != nil {
		return nil, errs.E(op, errs.Invalid, "bad location", err)
	}
	for _, n := range s.order {
		d := s.byName[n].Driver
		if o, ok := d.(Owner); ok && schemeMatches(d.Scheme(), u.Scheme) && o.Owns(loc) {
			return d, nil
		}
	}
	d, ok := s.byScheme[u.Scheme]
	if !ok {
		for sch, dd := range s.byScheme {
			if schemeMatches(sch, u.Scheme) {
				return dd, nil
			}
		}
		return nil, errs.Errorf(op, errs.Unavailable, "no store for location scheme %q", u.Scheme)
	}
	return d, nil
}

// NameFor returns the name of the store that serves loc, or "".
func (s *Set) NameFor(loc string) string {
	d, err := s.For(loc)
	if err != nil {
		return ""
	}
	for _, n := range s.order {
		if s.byName[n].Driver == d {
			return n
		}
	}
	return ""
}

// schemeMatches lets one driver serve the scheme variants Glance writes
// (swift, swift+http, swift+https; s3, s3+http, s3+https; http, https).
func schemeMatches(driverScheme, locScheme string) bool {
	if driverScheme == locScheme {
		return true
	}
	base := func(s string) string { b, _, _ := strings.Cut(s, "+"); return b }
	switch driverScheme {
	case "http", "https":
		return locScheme == "http" || locScheme == "https"
	}
	return base(driverScheme) == base(locScheme)
}

// Check runs every store's self-check and joins the failures, each
// prefixed with the store's name, in configuration order.
func (s *Set) Check(ctx context.Context) error {
	var failed []error
	for _, n := range s.order {
		if err := s.byName[n].Driver.Check(ctx); err != nil {
			failed = append(failed, fmt.Errorf("store %s: %w", n, err))
		}
	}
	return errors.Join(failed...)
}

// Names lists the store names, sorted; for messages.
func (s *Set) Names() []string {
	n := slices.Clone(s.order)
	sort.Strings(n)
	return n
}

// Redact hides the credentials that some location URIs carry (Glance's S3
// locations hold the access and secret keys), for logs and messages.
func Redact(loc string) string {
	scheme, rest, ok := strings.Cut(loc, "://")
	if !ok {
		return loc
	}
	// Split at the last '@': secret keys may contain '/'.
	i := strings.LastIndexByte(rest, '@')
	if i < 0 || !strings.Contains(rest[:i], ":") {
		return loc
	}
	return scheme + "://***@" + rest[i+1:]
}
