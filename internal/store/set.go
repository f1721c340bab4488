package store

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"sort"
	"strings"

	"glint/internal/errs"
)

// Set holds the stores of a node: the default receives uploads, and a
// location is served by the store whose driver owns it.
type Set struct {
	def      *Store
	byName   map[string]*Store
	order    []string
	byScheme map[string]*Store
}

// NewSet builds a Set whose default store is def. Each driver is named
// after its scheme.
func NewSet(def Driver, others ...Driver) *Set {
	s := &Set{byName: map[string]*Store{}, byScheme: map[string]*Store{}}
	for i, d := range append([]Driver{def}, others...) {
		st := &Store{Name: d.Scheme(), Type: d.Scheme(), Driver: d}
		s.add(st)
		if i == 0 {
			s.def = st
		}
	}
	return s
}

// NewNamedSet builds a Set of named stores (Glance's enabled_backends),
// the one called def being the default.
func NewNamedSet(def string, stores ...*Store) (*Set, error) {
	const op errs.Op = "store.NewNamedSet"
	s := &Set{byName: map[string]*Store{}, byScheme: map[string]*Store{}}
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
	s.def = d
	return s, nil
}

func (s *Set) add(st *Store) {
	if _, ok := s.byName[st.Name]; !ok {
		s.order = append(s.order, st.Name)
	}
	s.byName[st.Name] = st
	// The first store of a scheme answers for its locations; drivers of the
	// same scheme refuse locations that are not theirs, which For handles.
	scheme := st.Driver.Scheme()
	if _, ok := s.byScheme[scheme]; !ok {
		s.byScheme[scheme] = st
	}
	if scheme == "file" {
		if _, ok := s.byScheme["filesystem"]; !ok {
			s.byScheme["filesystem"] = st
		}
	}
}

// Default is the store uploads go to when none is named.
func (s *Set) Default() *Store { return s.def }

// DefaultName is the name of the default store.
func (s *Set) DefaultName() string { return s.def.Name }

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

// For returns the store that serves a location URI.
func (s *Set) For(loc string) (*Store, error) {
	const op errs.Op = "store.For"
	u, err := url.Parse(loc)
	if err != nil {
		return nil, errs.E(op, errs.Invalid, "bad location", errors.New(Redact(loc)))
	}
	for _, n := range s.order {
		st := s.byName[n]
		if o, ok := st.Driver.(Owner); ok && schemeMatches(st.Driver.Scheme(), u.Scheme) && o.Owns(loc) {
			return st, nil
		}
	}
	st, ok := s.byScheme[u.Scheme]
	if !ok {
		for sch, other := range s.byScheme {
			if schemeMatches(sch, u.Scheme) {
				return other, nil
			}
		}
		return nil, errs.Errorf(op, errs.Unavailable, "no store for location scheme %q", u.Scheme)
	}
	return st, nil
}

// NameFor returns the name of the store loc belongs to, or "": the first
// store, in configuration order, of loc's scheme that owns it (a driver
// that cannot tell owns every location of its scheme). It is Glance's
// store of a location URL (glance_store's prefix of each store), where
// For also falls back on any store of the scheme to read a location.
func (s *Set) NameFor(loc string) string {
	u, err := url.Parse(loc)
	if err != nil {
		return ""
	}
	for _, n := range s.order {
		st := s.byName[n]
		if !schemeMatches(st.Driver.Scheme(), u.Scheme) && !(st.Driver.Scheme() == "file" && u.Scheme == "filesystem") {
			continue
		}
		if o, ok := st.Driver.(Owner); !ok || o.Owns(loc) {
			return st.Name
		}
	}
	return ""
}

// Has reports whether a store is called name.
func (s *Set) Has(name string) bool {
	_, ok := s.byName[name]
	return ok
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

// Check runs every store's self-check and joins the failures, each naming
// its store, in configuration order.
func (s *Set) Check(ctx context.Context) error {
	var failed []error
	for _, n := range s.order {
		if err := s.byName[n].Check(ctx); err != nil {
			failed = append(failed, err)
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
