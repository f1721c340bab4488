// Package store defines the interface every image store driver implements
// (filesystem today; S3, Swift, HTTP and RBD later) and the registry of the
// stores a node runs.
package store

import (
	"context"
	"io"
	"net/url"

	"glint/internal/errs"
)

// Driver is one storage backend. Drivers are dumb: hashing, size caps and
// image status live in the image service, once for all drivers.
type Driver interface {
	// Scheme is the URI scheme of the locations this driver writes, e.g. "file".
	Scheme() string
	// Add stores all of r under imageID, or nothing: on any error, including
	// ctx being cancelled, no data may be left behind. size is the expected
	// length, or -1 when unknown. It returns the location URI and the
	// number of bytes written; the data is durable when Add returns.
	Add(ctx context.Context, imageID string, r io.Reader, size int64) (loc string, written int64, err error)
	// Get opens the data at loc from offset. When the driver can hand out
	// an *os.File it does, so that downloads use sendfile(2).
	Get(ctx context.Context, loc string, offset int64) (io.ReadCloser, error)
	// Size returns the stored length of the data at loc.
	Size(ctx context.Context, loc string) (int64, error)
	// Delete removes the data at loc; deleting what is not there is NotFound.
	Delete(ctx context.Context, loc string) error
}

// PartialRemover is a driver that can remove what an Add interrupted by a
// crash left behind for an image (a process killed mid-write cannot clean
// up after itself).
type PartialRemover interface {
	RemovePartial(ctx context.Context, imageID string) error
}

// Set holds the stores of a node and picks one by location scheme.
type Set struct {
	Default  Driver
	byScheme map[string]Driver
}

// NewSet builds a Set whose default store is def.
func NewSet(def Driver, others ...Driver) *Set {
	s := &Set{Default: def, byScheme: map[string]Driver{}}
	for _, d := range append([]Driver{def}, others...) {
		s.byScheme[d.Scheme()] = d
	}
	return s
}

// For returns the driver that serves a location URI.
func (s *Set) For(loc string) (Driver, error) {
	const op errs.Op = "store.For"
	u, err := url.Parse(loc)
	if err != nil {
		return nil, errs.E(op, errs.Invalid, "bad location", err)
	}
	d, ok := s.byScheme[u.Scheme]
	if !ok {
		return nil, errs.Errorf(op, errs.Unavailable, "no store for location scheme %q", u.Scheme)
	}
	return d, nil
}
