//go:build rbd

package rbd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ceph/go-ceph/rados"
	"github.com/ceph/go-ceph/rbd"

	"glint/internal/errs"
	"glint/internal/store"
)

// Options are glance_store's rbd_* options.
type Options struct {
	Pool     string // rbd_store_pool; default "images"
	User     string // rbd_store_user: the RADOS id (without "client."); "" lets librados choose
	ConfFile string // rbd_store_ceph_conf; "" lets librados find ceph.conf
	// ChunkSize is the RBD object size in bytes (rbd_store_chunk_size,
	// MiB), a power of two; default 8 MiB. Writes and reads go in chunks
	// of this size.
	ChunkSize int64
	// ConnectTimeout bounds connecting to the cluster
	// (rados_connect_timeout); 0 keeps librados's own.
	ConnectTimeout time.Duration
	// ThinProvisioning skips writing chunks that are all zeros
	// (rbd_thin_provisioning).
	ThinProvisioning bool
	// Workers is how many chunks are written or read at once; default 8.
	Workers int
}

// Driver is an RBD store. One RADOS connection serves all its calls:
// librados is thread-safe and reconnects by itself when the cluster
// comes back.
type Driver struct {
	opts Options

	mu      sync.Mutex
	conn    *rados.Conn
	fsid    string
	dialing chan struct{} // closed when the connection attempt under way ends
	dialErr error

	probe chan struct{} // one Check probe at a time
}

var (
	_ store.Writable       = (*Driver)(nil)
	_ store.Owner          = (*Driver)(nil)
	_ store.PartialRemover = (*Driver)(nil)
	_ store.InUseReporter  = (*Driver)(nil)
)

// New builds a driver; it does not contact the cluster (Check does).
func New(o Options) (*Driver, error) {
	const op errs.Op = "rbd.New"
	if o.Pool == "" {
		o.Pool = "images"
	}
	if o.ChunkSize == 0 {
		o.ChunkSize = 8 << 20
	}
	if o.ChunkSize < 4<<10 || o.ChunkSize > 32<<20 || o.ChunkSize&(o.ChunkSize-1) != 0 {
		return nil, errs.E(op, errs.Invalid, fmt.Sprintf("rbd_store_chunk_size: %d bytes is not a power of two between 4 KiB and 32 MiB", o.ChunkSize))
	}
	if o.Workers <= 0 {
		o.Workers = 8 // as many writes in flight as rbd import has (rbd_concurrent_management_ops: 10)
	}
	return &Driver{opts: o, probe: make(chan struct{}, 1)}, nil
}

// Options returns the driver's options, defaults filled in.
func (d *Driver) Options() Options { return d.opts }

// Scheme implements store.Driver.
func (d *Driver) Scheme() string { return Scheme }

// who names the driver's cluster, user and pool in messages.
func (d *Driver) who() string {
	user := d.opts.User
	if user == "" {
		user = "admin"
	}
	conf := d.opts.ConfFile
	if conf == "" {
		conf = "the default ceph.conf"
	}
	return fmt.Sprintf("RBD store (pool %s, user client.%s, %s)", d.opts.Pool, user, conf)
}

// connection returns the driver's connection, connecting first if need be.
// librados cannot be interrupted, so the attempt runs on its own and a
// caller whose ctx ends stops waiting for it; the next caller waits for
// the same attempt or starts another.
func (d *Driver) connection(ctx context.Context) (*rados.Conn, error) {
	d.mu.Lock()
	if d.conn != nil {
		c := d.conn
		d.mu.Unlock()
		return c, nil
	}
	if d.dialing == nil {
		ch := make(chan struct{})
		d.dialing = ch
		go func() {
			c, fsid, err := d.dial()
			d.mu.Lock()
			d.conn, d.fsid, d.dialErr, d.dialing = c, fsid, err, nil
			d.mu.Unlock()
			close(ch)
		}()
	}
	ch := d.dialing
	d.mu.Unlock()
	select {
	case <-ch:
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.conn == nil {
			return nil, d.dialErr
		}
		return d.conn, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("connecting to the Ceph cluster: %w", ctx.Err())
	}
}

func (d *Driver) dial() (*rados.Conn, string, error) {
	var c *rados.Conn
	var err error
	if d.opts.User != "" {
		c, err = rados.NewConnWithUser(d.opts.User)
	} else {
		c, err = rados.NewConn()
	}
	if err != nil {
		return nil, "", fmt.Errorf("initializing librados: %w", err)
	}
	if d.opts.ConfFile != "" {
		err = c.ReadConfigFile(d.opts.ConfFile)
	} else {
		err = c.ReadDefaultConfigFile()
	}
	if err != nil {
		c.Shutdown()
		return nil, "", fmt.Errorf("%w: reading the Ceph configuration (rbd_store_ceph_conf): %w", errConfig, err)
	}
	if d.opts.ConnectTimeout > 0 {
		secs := strconv.Itoa(max(1, int(d.opts.ConnectTimeout/time.Second)))
		c.SetConfigOption("client_mount_timeout", secs)
	}
	// Without operation timeouts a call would wait forever for a cluster
	// that went away; a ceph.conf that sets its own keeps them.
	for _, opt := range []string{"rados_osd_op_timeout", "rados_mon_op_timeout"} {
		if v, err := c.GetConfigOption(opt); err == nil && (v == "0" || v == "0.000000") {
			c.SetConfigOption(opt, "60")
		}
	}
	if err := c.Connect(); err != nil {
		c.Shutdown()
		return nil, "", fmt.Errorf("connecting to the Ceph cluster: %w", err)
	}
	fsid, err := c.GetFSID()
	if err != nil {
		c.Shutdown()
		return nil, "", fmt.Errorf("reading the cluster's fsid: %w", err)
	}
	return c, fsid, nil
}

// Close disconnects from the cluster.
func (d *Driver) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		d.conn.Shutdown()
		d.conn = nil
	}
}

// FSID is the cluster's fsid, known once connected.
func (d *Driver) FSID() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fsid
}

// ioctx opens pool ("" is the store's).
func (d *Driver) ioctx(ctx context.Context, pool string) (*rados.IOContext, error) {
	c, err := d.connection(ctx)
	if err != nil {
		return nil, err
	}
	if pool == "" {
		pool = d.opts.Pool
	}
	ioc, err := c.OpenIOContext(pool)
	if err != nil {
		if errno(err) == -int(syscall.ENOENT) {
			return nil, fmt.Errorf("%w: pool %s does not exist", errNoPool, pool)
		}
		return nil, fmt.Errorf("opening pool %s: %w", pool, err)
	}
	return ioc, nil
}

var (
	errExists   = errors.New("an RBD image of this ID already exists")
	errInUse    = errors.New("the RBD image's snapshot has clones, or the image is open elsewhere")
	errHasSnaps = errors.New("the RBD image has snapshots other than Glance's")
	errForeign  = errors.New("the RBD location is in another cluster than this store's")
	errNoPool   = errors.New("no such pool")
	errConfig   = errors.New("bad Ceph configuration")
)

// InUseMessage is glance_store's words for data in use outside Glance.
const InUseMessage = store.InUseMessage

func errno(err error) int {
	var ce interface{ ErrorCode() int }
	if errors.As(err, &ce) {
		return ce.ErrorCode()
	}
	return 0
}

// ErrorKind implements store.Driver.
func (d *Driver) ErrorKind(err error) errs.Kind {
	switch {
	case errors.Is(err, errExists):
		return errs.Conflict
	case errors.Is(err, errInUse), errors.Is(err, errHasSnaps):
		return errs.Conflict
	case errors.Is(err, errForeign), errors.Is(err, errBadLocation):
		return errs.Invalid
	case errors.Is(err, errNoPool), errors.Is(err, errConfig):
		return errs.Unavailable
	}
	switch -errno(err) {
	case int(syscall.ENOENT):
		return errs.NotFound
	case int(syscall.EEXIST):
		return errs.Conflict
	case int(syscall.EACCES):
		return errs.Unauthorized
	case int(syscall.EPERM):
		return errs.Forbidden
	case int(syscall.ENOSPC), int(syscall.EDQUOT):
		return errs.TooLarge
	case int(syscall.EBUSY):
		return errs.Conflict
	}
	return errs.Unavailable
}

// describe gives a failure of Check words an operator can act on.
func (d *Driver) describe(err error) error {
	what := d.who()
	switch {
	case errors.Is(err, errNoPool):
		return fmt.Errorf("%s: the pool does not exist; create it or fix rbd_store_pool: %w", what, err)
	case errors.Is(err, errConfig):
		return fmt.Errorf("%s: %w", what, err)
	}
	switch -errno(err) {
	case int(syscall.EACCES), int(syscall.EPERM):
		return fmt.Errorf("%s: the cluster denied access; check the credentials (rbd_store_user and its keyring) and their caps on the pool: %w", what, err)
	case int(syscall.ETIMEDOUT), int(syscall.EINTR):
		return fmt.Errorf("%s: the cluster did not answer; check the monitors in the Ceph configuration (rbd_store_ceph_conf) and rados_connect_timeout: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Check connects, opens the pool and writes and removes a probe object in
// it. librados calls cannot be interrupted: a probe that outlives ctx
// goes on alone, and Checks meanwhile fail at once.
func (d *Driver) Check(ctx context.Context) error {
	select {
	case d.probe <- struct{}{}:
	default:
		return d.describe(errors.New("the previous check of the cluster has not finished"))
	}
	done := make(chan error, 1)
	go func() {
		err := d.check(context.WithoutCancel(ctx))
		<-d.probe
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return d.describe(err)
		}
		return nil
	case <-ctx.Done():
		return d.describe(fmt.Errorf("the cluster did not answer: %w", ctx.Err()))
	}
}

func (d *Driver) check(ctx context.Context) error {
	ioc, err := d.ioctx(ctx, "")
	if err != nil {
		return err
	}
	defer ioc.Destroy()
	var b [8]byte
	rand.Read(b[:])
	name := ".glint-check-" + hex.EncodeToString(b[:])
	if err := ioc.WriteFull(name, []byte("glint store check")); err != nil {
		return fmt.Errorf("writing a probe object: %w", err)
	}
	if err := ioc.Delete(name); err != nil {
		return fmt.Errorf("removing the probe object %s: %w", name, err)
	}
	return nil
}

// Owns implements store.Owner: a location in this store's pool, in its
// cluster once the fsid is known, or Glance's old form (pool implied).
func (d *Driver) Owns(loc string) bool {
	l, err := ParseLocation(loc)
	if err != nil {
		return false
	}
	if l.Pool == "" {
		return true
	}
	fsid := d.FSID()
	return l.Pool == d.opts.Pool && (fsid == "" || fsid == l.FSID)
}

// resolve parses loc and checks it belongs to the connected cluster.
func (d *Driver) resolve(ctx context.Context, loc string) (Location, error) {
	l, err := ParseLocation(loc)
	if err != nil {
		return l, err
	}
	if _, err := d.connection(ctx); err != nil {
		return l, err
	}
	if l.FSID != "" && l.FSID != d.FSID() {
		return l, fmt.Errorf("%w: fsid %s", errForeign, l.FSID)
	}
	return l, nil
}

// Add implements store.Writable: the image is created (at its final size
// when known), written in chunks by several writers at once, grown as
// Glance does when the size is unknown, then snapshotted and the snapshot
// protected. On any failure the image is removed.
func (d *Driver) Add(ctx context.Context, imageID string, r io.Reader, size int64) (string, int64, error) {
	ioc, err := d.ioctx(ctx, "")
	if err != nil {
		return "", 0, err
	}
	defer ioc.Destroy()
	if err := d.create(ioc, imageID, max(size, 0)); err != nil {
		return "", 0, err
	}
	n, err := d.fill(ctx, ioc, imageID, r, size)
	if err != nil {
		if rerr := d.remove(ioc, imageID, SnapName); rerr != nil && -errno(rerr) != int(syscall.ENOENT) {
			err = fmt.Errorf("%w (and the partial image %s/%s could not be removed: %v)", err, d.opts.Pool, imageID, rerr)
		}
		return "", 0, err
	}
	l := Location{FSID: d.FSID(), Pool: d.opts.Pool, Image: imageID, Snapshot: SnapName}
	return l.String(), n, nil
}

// create makes the image with the cluster's default features (as
// glance_store does), layering when the cluster has none configured.
func (d *Driver) create(ioc *rados.IOContext, name string, size int64) error {
	opts := rbd.NewRbdImageOptions()
	defer opts.Destroy()
	if err := opts.SetUint64(rbd.ImageOptionOrder, uint64(bits.TrailingZeros64(uint64(d.opts.ChunkSize)))); err != nil {
		return err
	}
	d.mu.Lock()
	c := d.conn
	d.mu.Unlock()
	if f, err := c.GetConfigOption("rbd_default_features"); err != nil || f == "" || f == "0" {
		if err := opts.SetUint64(rbd.ImageOptionFeatures, rbd.FeatureLayering); err != nil {
			return err
		}
	}
	err := rbd.CreateImage(ioc, name, uint64(size), opts)
	if -errno(err) == int(syscall.EEXIST) {
		return fmt.Errorf("%w: %s/%s", errExists, d.opts.Pool, name)
	}
	if err != nil {
		return fmt.Errorf("creating the RBD image %s/%s: %w", d.opts.Pool, name, err)
	}
	return nil
}

// fill writes r into the new image and snapshots it.
func (d *Driver) fill(ctx context.Context, ioc *rados.IOContext, name string, r io.Reader, size int64) (int64, error) {
	img, err := rbd.OpenImage(ioc, name, rbd.NoSnapshot)
	if err != nil {
		return 0, fmt.Errorf("opening the new RBD image: %w", err)
	}
	defer img.Close()
	chunk := d.opts.ChunkSize
	w := d.opts.Workers
	free := make(chan []byte, w)
	for range w {
		free <- nil // buffers are made when first needed
	}
	type job struct {
		buf []byte
		off int64
	}
	jobs := make(chan job)
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		writeErr error
	)
	failed := func() error {
		errMu.Lock()
		defer errMu.Unlock()
		return writeErr
	}
	for range w {
		wg.Go(func() {
			for j := range jobs {
				if failed() == nil {
					if _, err := img.WriteAt(j.buf, j.off); err != nil {
						errMu.Lock()
						if writeErr == nil {
							writeErr = fmt.Errorf("writing at %d: %w", j.off, err)
						}
						errMu.Unlock()
					}
				}
				free <- j.buf[:cap(j.buf)]
			}
		})
	}
	var (
		off     int64
		cur     = max(size, 0) // the image's size
		grow    = chunk        // Glance's resize step, doubling to 8 GiB
		readErr error
	)
	for readErr == nil && failed() == nil {
		buf := <-free
		if buf == nil {
			buf = make([]byte, chunk)
		}
		m, err := io.ReadFull(r, buf)
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			readErr = io.EOF
		case err != nil:
			readErr = err
		case ctx.Err() != nil:
			readErr = ctx.Err()
		}
		if m == 0 || (readErr != nil && readErr != io.EOF) {
			free <- buf
			continue
		}
		if size < 0 && off+int64(m) > cur {
			// Grow ahead of the data, as glance_store does.
			next := max(cur+grow, off+int64(m))
			if err := img.Resize(uint64(next)); err != nil {
				free <- buf
				readErr = fmt.Errorf("resizing the RBD image to %d: %w", next, err)
				continue
			}
			cur, grow = next, min(grow*2, 8<<30)
		}
		if d.opts.ThinProvisioning && allZero(buf[:m]) {
			free <- buf
		} else {
			jobs <- job{buf: buf[:m], off: off}
		}
		off += int64(m)
	}
	close(jobs)
	wg.Wait()
	if err := failed(); err != nil {
		return 0, err
	}
	if readErr != io.EOF {
		return 0, readErr
	}
	if size < 0 && cur != off {
		if err := img.Resize(uint64(off)); err != nil {
			return 0, fmt.Errorf("resizing the RBD image to %d: %w", off, err)
		}
	}
	if err := img.Flush(); err != nil {
		return 0, fmt.Errorf("flushing the RBD image: %w", err)
	}
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	snap, err := img.CreateSnapshot(SnapName)
	if err != nil {
		return 0, fmt.Errorf("creating the snapshot %s: %w", SnapName, err)
	}
	if err := snap.Protect(); err != nil {
		return 0, fmt.Errorf("protecting the snapshot %s: %w", SnapName, err)
	}
	return off, nil
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// remove deletes an image and its snapshot snap ("" for none): the
// snapshot is refused while it has clones, unprotected and removed, then
// the image. What an earlier, interrupted remove left is finished.
func (d *Driver) remove(ioc *rados.IOContext, name, snap string) error {
	if snap != "" {
		img, err := rbd.OpenImage(ioc, name, rbd.NoSnapshot)
		if err != nil {
			return err
		}
		err = d.dropSnap(img, snap)
		img.Close()
		if err != nil {
			return err
		}
	}
	err := rbd.RemoveImage(ioc, name)
	switch -errno(err) {
	case 0:
		return nil
	case int(syscall.EBUSY):
		return errs.E(InUseMessage, fmt.Errorf("%w: removing %s: %w", errInUse, name, err))
	case int(syscall.ENOTEMPTY):
		return errs.E("The image cannot be deleted because it has snapshot(s).", fmt.Errorf("%w: removing %s: %w", errHasSnaps, name, err))
	}
	return err
}

func (d *Driver) dropSnap(img *rbd.Image, snap string) error {
	snaps, err := img.GetSnapshotNames()
	if err != nil {
		return err
	}
	found := false
	for _, s := range snaps {
		found = found || s.Name == snap
	}
	if !found {
		return nil // removed by an earlier delete that stopped half-way
	}
	if err := img.SetSnapshot(snap); err != nil {
		return err
	}
	_, children, err := img.ListChildren()
	img.SetSnapshot(rbd.NoSnapshot)
	if err != nil {
		return fmt.Errorf("listing the clones of %s@%s: %w", img.GetName(), snap, err)
	}
	if len(children) > 0 {
		return errs.E(InUseMessage, fmt.Errorf("%w: %s@%s has %d clone(s)", errInUse, img.GetName(), snap, len(children)))
	}
	s := img.GetSnapshot(snap)
	switch err := s.Unprotect(); -errno(err) {
	case 0, int(syscall.EINVAL): // EINVAL: not protected
	case int(syscall.EBUSY):
		return errs.E(InUseMessage, fmt.Errorf("%w: unprotecting %s@%s: %w", errInUse, img.GetName(), snap, err))
	default:
		return fmt.Errorf("unprotecting %s@%s: %w", img.GetName(), snap, err)
	}
	if err := s.Remove(); err != nil && -errno(err) != int(syscall.ENOENT) {
		return fmt.Errorf("removing the snapshot %s@%s: %w", img.GetName(), snap, err)
	}
	return nil
}

// Delete implements store.Writable.
func (d *Driver) Delete(ctx context.Context, loc string) error {
	l, err := d.resolve(ctx, loc)
	if err != nil {
		return err
	}
	ioc, err := d.ioctx(ctx, l.Pool)
	if err != nil {
		return err
	}
	defer ioc.Destroy()
	return d.remove(ioc, l.Image, l.Snapshot)
}

// InUse implements store.InUseReporter: whether the location's snapshot
// has clones (a Nova disk, a Cinder volume), or the image has snapshots
// of others, which forbid deleting it.
func (d *Driver) InUse(ctx context.Context, loc string) (bool, error) {
	l, err := d.resolve(ctx, loc)
	if err != nil {
		return false, err
	}
	if l.Snapshot == "" {
		return false, nil
	}
	ioc, err := d.ioctx(ctx, l.Pool)
	if err != nil {
		return false, err
	}
	defer ioc.Destroy()
	img, err := rbd.OpenImageReadOnly(ioc, l.Image, l.Snapshot)
	if -errno(err) == int(syscall.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer img.Close()
	_, children, err := img.ListChildren()
	if err != nil {
		return false, err
	}
	if len(children) > 0 {
		return true, nil
	}
	// Snapshots taken outside Glint keep the image too (glance_store
	// refuses with HasSnapshot).
	snaps, err := img.GetSnapshotNames()
	if err != nil {
		return false, err
	}
	for _, s := range snaps {
		if s.Name != l.Snapshot {
			return true, nil
		}
	}
	return false, nil
}

// RemovePartial implements store.PartialRemover: an upload that died
// left an image named by the ID (with or without its snapshot) that no
// location points at.
func (d *Driver) RemovePartial(ctx context.Context, imageID string) error {
	ioc, err := d.ioctx(ctx, "")
	if err != nil {
		return err
	}
	defer ioc.Destroy()
	err = d.remove(ioc, imageID, SnapName)
	if -errno(err) == int(syscall.ENOENT) {
		return nil
	}
	return err
}

// open opens the location's image read-only at its snapshot.
func (d *Driver) open(ctx context.Context, loc string) (*rados.IOContext, *rbd.Image, error) {
	l, err := d.resolve(ctx, loc)
	if err != nil {
		return nil, nil, err
	}
	ioc, err := d.ioctx(ctx, l.Pool)
	if err != nil {
		return nil, nil, err
	}
	snap := l.Snapshot
	if snap == "" {
		snap = rbd.NoSnapshot
	}
	img, err := rbd.OpenImageReadOnly(ioc, l.Image, snap)
	if err != nil {
		ioc.Destroy()
		return nil, nil, fmt.Errorf("opening the RBD image %s/%s@%s: %w", l.Pool, l.Image, l.Snapshot, err)
	}
	return ioc, img, nil
}

// Size implements store.Driver.
func (d *Driver) Size(ctx context.Context, loc string) (int64, error) {
	ioc, img, err := d.open(ctx, loc)
	if err != nil {
		return 0, err
	}
	defer ioc.Destroy()
	defer img.Close()
	n, err := img.GetSize()
	return int64(n), err
}

// Get implements store.Driver: the snapshot's data from offset, read
// ahead in chunks by several readers at once.
func (d *Driver) Get(ctx context.Context, loc string, offset int64) (io.ReadCloser, error) {
	ioc, img, err := d.open(ctx, loc)
	if err != nil {
		return nil, err
	}
	n, err := img.GetSize()
	if err != nil {
		img.Close()
		ioc.Destroy()
		return nil, err
	}
	return &reader{ioc: ioc, img: img, next: min(offset, int64(n)), end: int64(n), chunk: d.opts.ChunkSize, depth: d.opts.Workers}, nil
}

// reader reads an image in order, keeping up to depth chunk reads in
// flight ahead of the caller.
type reader struct {
	ioc   *rados.IOContext
	img   *rbd.Image
	next  int64 // where the next read-ahead starts
	end   int64
	chunk int64
	depth int

	queue  []*pending
	cur    []byte // what is left of the chunk being served
	buf    []byte // the whole buffer cur is in
	spare  [][]byte
	err    error
	closed bool
}

type pending struct {
	buf  []byte
	n    int
	err  error
	done chan struct{}
}

func (r *reader) fillQueue() {
	for len(r.queue) < r.depth && r.next < r.end {
		// Align reads to the object size after the first.
		l := min(r.chunk-r.next%r.chunk, r.end-r.next)
		var buf []byte
		if k := len(r.spare); k > 0 {
			buf, r.spare = r.spare[k-1], r.spare[:k-1]
		} else {
			buf = make([]byte, r.chunk)
		}
		p := &pending{buf: buf[:l], done: make(chan struct{})}
		off := r.next
		go func() {
			p.n, p.err = r.img.ReadAt(p.buf, off)
			if p.err == io.EOF && p.n == len(p.buf) {
				p.err = nil
			}
			close(p.done)
		}()
		r.queue = append(r.queue, p)
		r.next += l
	}
}

// advance makes the next chunk current once the current one is used up;
// io.EOF at the end.
func (r *reader) advance() error {
	if r.closed {
		return errors.New("read of a closed RBD reader")
	}
	for len(r.cur) == 0 {
		if r.err != nil {
			return r.err
		}
		r.fillQueue()
		if len(r.queue) == 0 {
			return io.EOF
		}
		p := r.queue[0]
		<-p.done
		r.queue = r.queue[1:]
		if p.err != nil || p.n != len(p.buf) {
			if p.err == nil {
				p.err = io.ErrUnexpectedEOF
			}
			r.err = fmt.Errorf("reading the RBD image: %w", p.err)
			return r.err
		}
		if r.buf != nil {
			r.spare = append(r.spare, r.buf[:cap(r.buf)])
		}
		r.cur, r.buf = p.buf, p.buf
		r.fillQueue()
	}
	return nil
}

func (r *reader) Read(b []byte) (int, error) {
	if err := r.advance(); err != nil {
		return 0, err
	}
	m := copy(b, r.cur)
	r.cur = r.cur[m:]
	return m, nil
}

// WriteTo hands whole chunks to w (io.Copy would cut them in 32 KiB
// pieces).
func (r *reader) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for {
		switch err := r.advance(); err {
		case nil:
		case io.EOF:
			return n, nil
		default:
			return n, err
		}
		m, err := w.Write(r.cur)
		n += int64(m)
		r.cur = r.cur[m:]
		if err != nil {
			return n, err
		}
	}
}

// Close waits for the reads in flight, then closes the image.
func (r *reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	for _, p := range r.queue {
		<-p.done
	}
	r.queue = nil
	err := r.img.Close()
	r.ioc.Destroy()
	return err
}
