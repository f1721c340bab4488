// Package store is where image data lives: Store, the portable type the
// rest of Glint calls, over Driver, the small interface each backend
// (filesystem, S3, Swift, the read-only HTTP store) implements, and Set,
// the named stores of a node (glance_store's enabled_backends).
//
// As gocloud's blob.Bucket does over its driver.Bucket, Store does once,
// for every driver, what is not the backend's business: it checks image
// IDs, refuses writes to read-only stores, stops on a cancelled context,
// streams the data through md5, the os_hash algorithm and the format
// inspector while the driver writes it, holds the driver to the announced
// size, and wraps every failure once with its Op, its Kind (from the
// driver's ErrorKind), the store's name and the location, credentials
// hidden. A driver stays dumb and assumes its arguments valid. Every
// driver passes the conformance suite in internal/store/storetest.
package store

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	"glint/internal/errs"
	"glint/internal/imageformat"
)

// Driver is one storage backend, read side. A driver without the Writable
// methods is read-only.
type Driver interface {
	// Scheme is the URI scheme of the locations this driver serves, e.g. "file".
	Scheme() string
	// Get opens the data at loc from offset (never negative) to the end;
	// an offset at or past the end gives an empty reader. When the driver
	// can hand out an *os.File it does, so that downloads use sendfile(2).
	Get(ctx context.Context, loc string, offset int64) (io.ReadCloser, error)
	// Size returns the stored length of the data at loc.
	Size(ctx context.Context, loc string) (int64, error)
	// Check verifies that the backend is reachable, usable and that the
	// credentials work (writable too, unless read-only). It runs at start
	// and for /healthcheck, so its error must say what is wrong in words
	// an operator can act on.
	Check(ctx context.Context) error
	// ErrorKind classifies an error this driver returned (as gocloud's
	// ErrorCode does): NotFound for data that is not there, Conflict for
	// an image ID already stored, TooLarge for a full backend,
	// Unauthorized or Forbidden for credentials, Invalid for a location
	// the driver cannot read, Unavailable for the rest. The Store calls it
	// once for every error a driver method returns; it is the only place
	// a driver classifies. A driver may give its errors words (an
	// *errs.Error with a message and no Kind): the Store keeps them as the
	// error's message.
	ErrorKind(err error) errs.Kind
}

// Writable is a driver that stores and deletes data; it is an optional
// capability, found by type assertion. The Store refuses writes and
// deletes to a driver without it.
type Writable interface {
	Driver
	// Add stores all of r under imageID, or nothing: on any error,
	// including r failing and ctx being cancelled, no data may be left
	// behind. size is what r yields, or -1 when unknown: r ends after
	// size bytes or fails before, so a driver may size its writes by it
	// (the Store checks afterwards that nothing followed). Add reads r to
	// its end. It returns the location URI and the number of bytes
	// written; the data is durable when Add returns. An imageID whose
	// data exists is a conflict.
	Add(ctx context.Context, imageID string, r io.Reader, size int64) (loc string, written int64, err error)
	// Delete removes the data at loc; deleting what is not there is an
	// error that ErrorKind calls NotFound.
	Delete(ctx context.Context, loc string) error
}

// PartialRemover is a driver that can remove what an Add interrupted by a
// crash left behind for an image (a process killed mid-write cannot clean
// up after itself).
type PartialRemover interface {
	RemovePartial(ctx context.Context, imageID string) error
}

// InUseReporter is a driver whose data can be used outside Glint (an RBD
// snapshot that Nova or Cinder cloned), which forbids deleting it. Such a
// driver's Delete refuses data in use (an error ErrorKind calls
// Conflict); InUse lets a caller ask before it changes anything else.
type InUseReporter interface {
	InUse(ctx context.Context, loc string) (bool, error)
}

// InUseMessage is glance_store's words for data in use outside Glance
// (its InUseByStore), which a driver's refused Delete carries.
const InUseMessage = "The image cannot be deleted because it is in use through the backend store outside of Glance."

// Owner is implemented by drivers that can tell whether a location of
// their scheme is theirs (two S3 stores on different buckets, say).
type Owner interface {
	Owns(loc string) bool
}

// Store is one configured backend: a driver under an operator-given name
// (an enabled_backends key, or the scheme when only [glance_store] is
// used). Its methods are the only way to the driver's data.
type Store struct {
	Name        string
	Type        string // glance_store type: file, s3, swift, http
	Description string
	Driver      Driver
	// Properties are what GET /v2/info/stores/detail shows of the
	// store's configuration (Glance's per-type property lists).
	Properties map[string]any
	// Observer is told of each operation (metrics and traces); nil:
	// none.
	Observer Observer
}

// Observer is told of a store's operations: Begin is called as op
// (write, open, delete, size, check) starts on the store named store,
// and the function it returns when it ends, with the bytes written
// (write) and its error. internal/obs implements it.
type Observer interface {
	Begin(ctx context.Context, store, op string) (context.Context, func(n int64, err error))
}

// ReadOnly reports whether the store refuses writes and deletes (Glance's
// read-only HTTP store).
func (s *Store) ReadOnly() bool {
	_, ok := s.Driver.(Writable)
	return !ok
}

// Written is what Write stored.
type Written struct {
	Location  string
	Size      int64
	Checksum  string // md5 of the data, hex: the image's checksum
	HashAlgo  string // os_hash_algo
	HashValue string // os_hash_value, hex
	// Format is what the format inspector found in the data.
	Format imageformat.Result
}

// Write stores the data of r as image imageID, all or nothing. size is the
// announced length, or -1: data of another length is refused (Invalid)
// and nothing is kept. While the driver writes, the data goes through md5,
// the hashAlgo hash (Glance's hashing_algorithm) and the format inspector,
// each on a core of its own. An error that r returns reaches the caller
// with its Kind and message (the caller's size cap, say); a cancelled ctx
// is Invalid ("upload interrupted").
func (s *Store) Write(ctx context.Context, imageID string, r io.Reader, size int64, hashAlgo string) (Written, error) {
	if s.Observer == nil {
		return s.write(ctx, imageID, r, size, hashAlgo)
	}
	ctx, end := s.Observer.Begin(ctx, s.Name, "write")
	w, err := s.write(ctx, imageID, r, size, hashAlgo)
	end(w.Size, err)
	return w, err
}

func (s *Store) write(ctx context.Context, imageID string, r io.Reader, size int64, hashAlgo string) (Written, error) {
	const op errs.Op = "store.Write"
	if !ValidID(imageID) {
		return Written{}, s.refuse(op, errs.Invalid, fmt.Sprintf("Invalid image ID %q", imageID))
	}
	w, ok := s.Driver.(Writable)
	if !ok {
		return Written{}, s.refuse(op, errs.Forbidden, fmt.Sprintf("Store %s is read-only", s.Name))
	}
	mh, err := NewHash(hashAlgo)
	if err != nil {
		return Written{}, s.refuse(op, errs.Internal, err.Error())
	}
	if err := ctx.Err(); err != nil {
		return Written{}, s.fail(op, errs.Invalid, "upload interrupted", err)
	}
	md := md5.New()
	insp := imageformat.New()
	src := &source{ctx: ctx, r: r, size: size}
	pipe := newHashPipe(src, md, mh, insp)
	loc, n, err := w.Add(ctx, imageID, pipe, size)
	added := err == nil
	if err == nil {
		// A driver that stopped reading early must not keep a prefix.
		err = pipe.end()
	}
	pipe.Close() // the sums and the inspection are complete once the pipe is closed
	if err == nil {
		// The source failed, whatever the driver made of it, or holds
		// more than it announced.
		err = src.rest()
	}
	if err == nil && n != src.n {
		err = errs.Errorf(op, errs.Internal, "the driver reports %d bytes written of %d", n, src.n)
	}
	if err != nil {
		if added {
			// Add succeeded but the data is not what was sent.
			if derr := w.Delete(context.WithoutCancel(ctx), loc); derr != nil {
				err = fmt.Errorf("%w (and its data could not be removed: %v)", err, derr)
			}
		}
		switch {
		case ctx.Err() != nil:
			// The client went away, or gave up.
			return Written{}, s.fail(op, errs.Invalid, "upload interrupted", err)
		case src.err != nil:
			return Written{}, s.stamp(op, src.err) // the source's own error, as it is
		case added:
			return Written{}, s.stamp(op, err) // the driver broke the contract of Add
		}
		return Written{}, s.wrap(op, "", err)
	}
	return Written{
		Location: loc, Size: n,
		Checksum: hex.EncodeToString(md.Sum(nil)),
		HashAlgo: hashAlgo, HashValue: hex.EncodeToString(mh.Sum(nil)),
		Format: insp.Result(),
	}, nil
}

// source is the caller's reader as the driver sees it: it counts, keeps
// the first error, stops with ctx's error once ctx is done, and holds the
// data to its announced size. It ends at the announced size whatever
// follows, so that a driver that sends exactly that many bytes (S3's PUT,
// Swift's) never sees a failure after its backend has the object whole;
// rest then tells whether more followed.
type source struct {
	ctx  context.Context
	r    io.Reader
	size int64 // -1: unknown
	n    int64
	err  error
}

func (s *source) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.size >= 0 && s.n >= s.size {
		return 0, io.EOF
	}
	if err := s.ctx.Err(); err != nil {
		return 0, s.fail(err)
	}
	if s.size >= 0 && int64(len(p)) > s.size-s.n {
		p = p[:s.size-s.n]
	}
	m, err := s.r.Read(p)
	s.n += int64(m)
	switch {
	case err == io.EOF && s.size >= 0 && s.n < s.size:
		return m, s.fail(errs.Errorf("store.Write", errs.Invalid, "Image size mismatch: %d bytes announced, %d received", s.size, s.n))
	case err != nil && err != io.EOF:
		return m, s.fail(err)
	}
	return m, err
}

// rest is called once the driver is done: the source's error, if it
// failed, or whether it holds more than the announced size (one byte more
// tells a long stream from an exact one).
func (s *source) rest() error {
	if s.err != nil || s.size < 0 {
		return s.err
	}
	var one [1]byte
	m, err := io.ReadFull(s.r, one[:])
	switch {
	case m > 0:
		return s.fail(errs.Errorf("store.Write", errs.Invalid, "Image size mismatch: more than the %d bytes announced", s.size))
	case err == io.EOF:
		return nil
	}
	return s.fail(err)
}

func (s *source) fail(err error) error {
	s.err = err
	return err
}

// Open returns the data at loc from offset to the end. It is the driver's
// reader itself (an *os.File for the filesystem store, for sendfile);
// errors while reading it are the driver's, unwrapped.
func (s *Store) Open(ctx context.Context, loc string, offset int64) (io.ReadCloser, error) {
	if s.Observer == nil {
		return s.open(ctx, loc, offset)
	}
	ctx, end := s.Observer.Begin(ctx, s.Name, "open")
	rc, err := s.open(ctx, loc, offset)
	end(0, err)
	return rc, err
}

func (s *Store) open(ctx context.Context, loc string, offset int64) (io.ReadCloser, error) {
	const op errs.Op = "store.Open"
	if offset < 0 {
		return nil, s.refuse(op, errs.Invalid, fmt.Sprintf("Invalid offset %d", offset))
	}
	if err := ctx.Err(); err != nil {
		return nil, s.interrupted(op, err)
	}
	rc, err := s.Driver.Get(ctx, loc, offset)
	if err != nil {
		return nil, s.wrap(op, loc, err)
	}
	return rc, nil
}

// Size returns the stored length of the data at loc.
func (s *Store) Size(ctx context.Context, loc string) (int64, error) {
	if s.Observer == nil {
		return s.size(ctx, loc)
	}
	ctx, end := s.Observer.Begin(ctx, s.Name, "size")
	n, err := s.size(ctx, loc)
	end(0, err)
	return n, err
}

func (s *Store) size(ctx context.Context, loc string) (int64, error) {
	const op errs.Op = "store.Size"
	if err := ctx.Err(); err != nil {
		return 0, s.interrupted(op, err)
	}
	n, err := s.Driver.Size(ctx, loc)
	if err != nil {
		return 0, s.wrap(op, loc, err)
	}
	return n, nil
}

// Delete removes the data at loc; data that is not there is NotFound, and
// a read-only store refuses (Forbidden).
func (s *Store) Delete(ctx context.Context, loc string) error {
	if s.Observer == nil {
		return s.delete(ctx, loc)
	}
	ctx, end := s.Observer.Begin(ctx, s.Name, "delete")
	err := s.delete(ctx, loc)
	end(0, err)
	return err
}

func (s *Store) delete(ctx context.Context, loc string) error {
	const op errs.Op = "store.Delete"
	w, ok := s.Driver.(Writable)
	if !ok {
		return s.refuse(op, errs.Forbidden, fmt.Sprintf("Store %s is read-only", s.Name))
	}
	if err := ctx.Err(); err != nil {
		return s.interrupted(op, err)
	}
	if err := w.Delete(ctx, loc); err != nil {
		return s.wrap(op, loc, err)
	}
	return nil
}

// InUse reports whether the data at loc is in use outside Glint (see
// InUseReporter); drivers that cannot tell report false.
func (s *Store) InUse(ctx context.Context, loc string) (bool, error) {
	const op errs.Op = "store.InUse"
	ir, ok := s.Driver.(InUseReporter)
	if !ok {
		return false, nil
	}
	if err := ctx.Err(); err != nil {
		return false, s.interrupted(op, err)
	}
	used, err := ir.InUse(ctx, loc)
	if err != nil {
		return false, s.wrap(op, loc, err)
	}
	return used, nil
}

// Check runs the driver's self-check.
func (s *Store) Check(ctx context.Context) error {
	if s.Observer == nil {
		return s.check(ctx)
	}
	ctx, end := s.Observer.Begin(ctx, s.Name, "check")
	err := s.check(ctx)
	end(0, err)
	return err
}

func (s *Store) check(ctx context.Context) error {
	const op errs.Op = "store.Check"
	if err := s.Driver.Check(ctx); err != nil {
		return s.wrap(op, "", err)
	}
	return nil
}

// RemovePartial removes what an interrupted write of imageID left, for
// drivers that can leave something (see PartialRemover).
func (s *Store) RemovePartial(ctx context.Context, imageID string) error {
	const op errs.Op = "store.RemovePartial"
	if !ValidID(imageID) {
		return s.refuse(op, errs.Invalid, fmt.Sprintf("Invalid image ID %q", imageID))
	}
	pr, ok := s.Driver.(PartialRemover)
	if !ok {
		return nil
	}
	if err := pr.RemovePartial(ctx, imageID); err != nil {
		return s.wrap(op, "", err)
	}
	return nil
}

// ValidID reports whether id may name image data in every store: 1 to 200
// ASCII letters, digits, '-', '_' and '.', not starting with '.' (drivers
// keep their temporary and probe names there). Glance's image IDs are
// UUIDs.
func ValidID(id string) bool {
	if id == "" || len(id) > 200 || id[0] == '.' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// NewHash returns a hash for a Glance hashing_algorithm name.
func NewHash(algo string) (hash.Hash, error) {
	switch algo {
	case "sha512":
		return sha512.New(), nil
	case "sha384":
		return sha512.New384(), nil
	case "sha256":
		return sha256.New(), nil
	case "sha224":
		return sha256.New224(), nil
	case "sha1":
		return sha1.New(), nil
	case "md5":
		return md5.New(), nil
	}
	return nil, fmt.Errorf("unsupported hashing algorithm %q", algo)
}
