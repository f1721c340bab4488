// Package swift stores images in OpenStack Swift, in glance_store's two
// layouts: single-tenant (all images in one account, reached with the
// store's own credentials, at swift+config://<reference>/<container>/<id>)
// and multi-tenant (each image in a container of its owner's account,
// reached with the caller's token, at swift+http(s)://<storage url>/<container>/<id>).
// Images of unknown size, or of swift_store_large_object_size or more,
// are written as segments of swift_store_large_object_chunk_size joined by
// a static large object manifest; no more than one read buffer is held.
package swift

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ncw/swift/v2"

	"glint/internal/auth"
	"glint/internal/errs"
	"glint/internal/store"
)

// Options are glance_store's swift_store_* options, plus the reference's
// credentials from swift_store_config_file.
type Options struct {
	// Reference names the credentials in swift_store_config_file
	// (default_swift_reference); it appears in swift+config locations.
	Reference   string
	AuthAddress string // auth_address
	User        string // user: "project:user" (v2/v3) or "account:user" (v1)
	Key         string // key
	AuthVersion int    // auth_version: 1, 2 or 3
	UserDomain  string // user_domain_name, v3
	ProjDomain  string // project_domain_name, v3
	Region      string // swift_store_region

	Container       string // swift_store_container, default "glance"
	ContainersSeed  int    // swift_store_multiple_containers_seed
	CreateContainer bool   // swift_store_create_container_on_put
	LargeObjectSize int64  // bytes
	ChunkSize       int64  // bytes

	// MultiTenant stores each image in its owner's account, with the
	// caller's token (swift_store_multi_tenant).
	MultiTenant bool
	// Endpoint is the storage URL; in multi-tenant mode a template in which
	// %(tenant_id)s or %(project_id)s is the caller's project
	// (swift_store_endpoint).
	Endpoint string
	// Credentials gives the storage URL and token for a multi-tenant
	// request; nil means the caller's (auth.From(ctx)) token and Endpoint.
	Credentials func(ctx context.Context) (storageURL, token string, err error)

	Transport http.RoundTripper
}

// Driver is a Swift store.
type Driver struct {
	o    Options
	conn *swift.Connection // single-tenant
	// writing holds the ids being added. Swift has no atomic create
	// (If-None-Match is checked before the data arrives), so two writers
	// of one id could both succeed and orphan one's segments; the image
	// service already allows one upload per image, and this makes the
	// driver safe on its own within a process.
	writing sync.Map
}

// New builds a driver; it does not contact Swift (Check does).
func New(o Options) (*Driver, error) {
	const op errs.Op = "swift.New"
	if o.Container == "" {
		o.Container = "glance"
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = 200 << 20
	}
	if o.LargeObjectSize <= 0 {
		o.LargeObjectSize = 5 << 30
	}
	if o.ContainersSeed < 0 || o.ContainersSeed > 32 {
		return nil, errs.E(op, errs.Invalid, "swift_store_multiple_containers_seed must be 0 to 32")
	}
	d := &Driver{o: o}
	if o.MultiTenant {
		if o.Credentials == nil && o.Endpoint == "" {
			return nil, errs.E(op, errs.Invalid, "a multi-tenant Swift store needs swift_store_endpoint (Glint has no service catalog to find it in)")
		}
		return d, nil
	}
	if o.AuthAddress == "" || o.User == "" || o.Key == "" {
		return nil, errs.E(op, errs.Invalid, "the Swift store needs auth_address, user and key in its swift_store_config_file reference")
	}
	if o.Reference == "" {
		d.o.Reference = "ref1"
	}
	c := &swift.Connection{
		AuthUrl: o.AuthAddress, ApiKey: o.Key, AuthVersion: o.AuthVersion, Region: o.Region,
		Transport: o.Transport, Retries: 2, Timeout: 5 * time.Minute,
	}
	if o.AuthVersion == 1 {
		c.UserName = o.User
	} else if proj, user, ok := strings.Cut(o.User, ":"); ok {
		c.Tenant, c.UserName = proj, user
	} else {
		c.UserName = o.User
	}
	if o.AuthVersion == 3 {
		c.Domain = o.UserDomain
		c.TenantDomain = o.ProjDomain
	}
	if o.Endpoint != "" {
		c.StorageUrl = o.Endpoint // used once authenticated; tokens still come from auth_address
	}
	d.conn = c
	return d, nil
}

// Scheme implements store.Driver.
func (d *Driver) Scheme() string {
	if d.o.MultiTenant {
		return "swift+http"
	}
	return "swift+config"
}

var (
	_ store.Writable = (*Driver)(nil)
	_ store.Owner    = (*Driver)(nil)
)

// Options returns the driver's options, for tests and tools.
func (d *Driver) Options() Options { return d.o }

// ErrorKind implements store.Driver: Swift's HTTP status says what went wrong.
func (d *Driver) ErrorKind(err error) errs.Kind {
	var se *swift.Error
	if errors.As(err, &se) {
		switch se.StatusCode {
		case 401:
			return errs.Unauthorized
		case 403:
			return errs.Forbidden
		case 404:
			return errs.NotFound
		case 412:
			return errs.Conflict
		case 413, 507:
			return errs.TooLarge
		}
	}
	switch {
	case errors.Is(err, errNoToken):
		return errs.Unauthorized
	case errors.Is(err, errExists):
		return errs.Conflict
	case errors.Is(err, errForeign):
		return errs.NotFound
	case errors.Is(err, errBadLocation):
		return errs.Invalid
	}
	return errs.Unavailable
}

var (
	errNoToken     = errors.New("the multi-tenant Swift store needs the caller's Keystone token")
	errExists      = errors.New("the Swift store already has an image of this id, or is writing one")
	errForeign     = errors.New("the Swift location is not this store's")
	errBadLocation = errors.New("bad Swift location")
)

// describe puts words an operator can act on around a failure of Check.
func (d *Driver) describe(what string, err error) error {
	switch d.ErrorKind(err) {
	case errs.Unauthorized:
		return fmt.Errorf("%s: Swift rejected the credentials (check user and key in swift_store_config_file, or the caller's token): %w", what, err)
	case errs.Forbidden:
		return fmt.Errorf("%s: Swift denied access to the container: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// conn returns the connection for a request: the store's own, or in
// multi-tenant mode one carrying the caller's token.
func (d *Driver) connFor(ctx context.Context) (*swift.Connection, error) {
	if !d.o.MultiTenant {
		if !d.conn.Authenticated() {
			if err := d.conn.Authenticate(ctx); err != nil {
				return nil, err
			}
		}
		return d.conn, nil
	}
	var su, tok string
	if d.o.Credentials != nil {
		var err error
		if su, tok, err = d.o.Credentials(ctx); err != nil {
			return nil, fmt.Errorf("%w: %w", errNoToken, err)
		}
	} else {
		ac := auth.From(ctx)
		if ac == nil || ac.AuthToken == "" || ac.ProjectID == "" {
			return nil, errNoToken
		}
		r := strings.NewReplacer("%(tenant_id)s", ac.ProjectID, "%(project_id)s", ac.ProjectID)
		su, tok = r.Replace(d.o.Endpoint), ac.AuthToken
	}
	return &swift.Connection{StorageUrl: su, AuthToken: tok, Transport: d.o.Transport, Retries: 1, Timeout: 5 * time.Minute}, nil
}

// Check authenticates and writes and removes a probe object. A
// multi-tenant store has no credentials of its own, so it only checks that
// the endpoint answers.
func (d *Driver) Check(ctx context.Context) error {
	if d.o.MultiTenant && d.o.Credentials == nil {
		base, _, _ := strings.Cut(d.o.Endpoint, "/v1")
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/info", nil)
		if err != nil {
			return fmt.Errorf("bad swift_store_endpoint: %w", err)
		}
		resp, err := (&http.Client{Transport: d.o.Transport}).Do(req)
		if err != nil {
			return fmt.Errorf("the Swift endpoint %s is unreachable: %w", base, err)
		}
		resp.Body.Close()
		return nil
	}
	c, err := d.connFor(ctx)
	if err != nil {
		return d.describe("Swift store at "+d.o.AuthAddress, err)
	}
	if d.o.MultiTenant {
		return nil
	}
	if _, _, err := c.Container(ctx, d.o.Container); err != nil {
		if !errors.Is(err, swift.ContainerNotFound) {
			return d.describe("Swift container "+d.o.Container, err)
		}
		if !d.o.CreateContainer && d.o.ContainersSeed == 0 {
			return fmt.Errorf("the Swift container %s does not exist and swift_store_create_container_on_put is false", d.o.Container)
		}
	}
	probe := ".glint-probe-" + randHex()
	if err := d.ensureContainer(ctx, c, d.o.Container); err != nil {
		return err
	}
	if _, err := c.ObjectPut(ctx, d.o.Container, probe, strings.NewReader("probe"), false, "", "", nil); err != nil {
		return d.describe("Swift container "+d.o.Container+" is not writable", err)
	}
	if err := c.ObjectDelete(context.WithoutCancel(ctx), d.o.Container, probe); err != nil {
		return d.describe("Swift probe object cannot be deleted", err)
	}
	return nil
}

func randHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (d *Driver) ensureContainer(ctx context.Context, c *swift.Connection, name string) error {
	if !d.o.CreateContainer && !d.o.MultiTenant && d.o.ContainersSeed == 0 {
		return nil
	}
	if _, _, err := c.Container(ctx, name); err == nil {
		return nil
	} else if !errors.Is(err, swift.ContainerNotFound) {
		return err
	}
	if !d.o.CreateContainer && !d.o.MultiTenant {
		return fmt.Errorf("the Swift container %s does not exist and swift_store_create_container_on_put is false", name)
	}
	return c.ContainerCreate(ctx, name, nil)
}

// container is where an image goes: one container (with the seed, one of
// several named after the image id's first characters), or per image in
// multi-tenant mode, as glance_store lays them out.
func (d *Driver) container(id string) string {
	if d.o.MultiTenant {
		return d.o.Container + "_" + id
	}
	if n := d.o.ContainersSeed; n > 0 {
		return d.o.Container + "_" + id[:min(n, len(id))]
	}
	return d.o.Container
}

func (d *Driver) location(c *swift.Connection, container, obj string) string {
	if d.o.MultiTenant {
		u, _ := url.Parse(c.StorageUrl)
		scheme := "swift+" + u.Scheme
		return scheme + "://" + u.Host + u.Path + "/" + container + "/" + obj
	}
	return "swift+config://" + d.o.Reference + "/" + container + "/" + obj
}

// parse returns the container and object of a location, and the storage
// URL it names in multi-tenant form.
func (d *Driver) parse(loc string) (storageURL, container, obj string, err error) {
	u, perr := url.Parse(loc)
	if perr != nil {
		return "", "", "", errBadLocation
	}
	p := strings.Split(strings.Trim(u.Path, "/"), "/")
	switch u.Scheme {
	case "swift+config":
		if len(p) != 2 || p[0] == "" || p[1] == "" {
			return "", "", "", fmt.Errorf("%w: want swift+config://reference/container/object", errBadLocation)
		}
		if d.o.MultiTenant || u.Host != d.o.Reference {
			return "", "", "", fmt.Errorf("%w: reference %q", errForeign, u.Host)
		}
		return "", p[0], p[1], nil
	case "swift", "swift+http", "swift+https":
		if len(p) < 2 {
			return "", "", "", errBadLocation
		}
		container, obj = p[len(p)-2], p[len(p)-1]
		hs := "https"
		if u.Scheme == "swift+http" {
			hs = "http"
		}
		host := u.Host
		if i := strings.LastIndexByte(host, '@'); i >= 0 {
			host = host[i+1:]
		}
		storageURL = hs + "://" + host + "/" + strings.Join(p[:len(p)-2], "/")
		return storageURL, container, obj, nil
	}
	return "", "", "", fmt.Errorf("%w: scheme %q", errBadLocation, u.Scheme)
}

// Owns implements store.Owner.
func (d *Driver) Owns(loc string) bool {
	_, _, _, err := d.parse(loc)
	return err == nil
}

// connForLoc picks the connection for an existing location: in
// multi-tenant mode the location's storage URL with the caller's token.
func (d *Driver) connForLoc(ctx context.Context, loc string) (*swift.Connection, string, string, error) {
	su, container, obj, err := d.parse(loc)
	if err != nil {
		return nil, "", "", err
	}
	c, err := d.connFor(ctx)
	if err != nil {
		return nil, "", "", err
	}
	if d.o.MultiTenant && su != "" && strings.TrimSuffix(su, "/") != strings.TrimSuffix(c.StorageUrl, "/") {
		c = &swift.Connection{StorageUrl: su, AuthToken: c.AuthToken, Transport: c.Transport, Retries: 1, Timeout: c.Timeout}
	}
	return c, container, obj, nil
}

// Add implements store.Writable.
func (d *Driver) Add(ctx context.Context, imageID string, r io.Reader, size int64) (string, int64, error) {
	container := d.container(imageID)
	if _, busy := d.writing.LoadOrStore(container+"/"+imageID, true); busy {
		return "", 0, fmt.Errorf("%w: %s is being written", errExists, imageID)
	}
	defer d.writing.Delete(container + "/" + imageID)
	c, err := d.connFor(ctx)
	if err != nil {
		return "", 0, err
	}
	if err := d.ensureContainer(ctx, c, container); err != nil {
		return "", 0, err
	}
	if _, _, err := c.Object(ctx, container, imageID); err == nil {
		return "", 0, fmt.Errorf("%w: %s", errExists, d.location(c, container, imageID))
	} else if !errors.Is(err, swift.ObjectNotFound) {
		return "", 0, err
	}
	var n int64
	if size >= 0 && size < d.o.LargeObjectSize {
		n, err = d.putOne(ctx, c, container, imageID, r, size)
	} else {
		n, err = d.putSegmented(ctx, c, container, imageID, r)
	}
	if err != nil {
		if d.o.MultiTenant {
			// The per-image container goes too, if it is empty.
			c.ContainerDelete(context.WithoutCancel(ctx), container)
		}
		return "", n, err
	}
	return d.location(c, container, imageID), n, nil
}

// countReader counts.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	m, err := c.r.Read(p)
	c.n += int64(m)
	return m, err
}

func noneMatch() swift.Headers { return swift.Headers{"If-None-Match": "*"} }

func (d *Driver) putOne(ctx context.Context, c *swift.Connection, container, obj string, r io.Reader, size int64) (int64, error) {
	cr := &countReader{r: r}
	h := noneMatch()
	h["Content-Length"] = strconv.FormatInt(size, 10)
	_, err := c.ObjectPut(ctx, container, obj, io.LimitReader(cr, size+1), false, "", "application/octet-stream", h)
	if err == nil && cr.n != size {
		c.ObjectDelete(context.WithoutCancel(ctx), container, obj)
		return cr.n, fmt.Errorf("image is %d bytes, not the %d announced", cr.n, size)
	}
	return cr.n, err
}

type sloSegment struct {
	Path      string `json:"path"`
	Etag      string `json:"etag"`
	SizeBytes int64  `json:"size_bytes"`
}

// putSegmented streams segments of ChunkSize, each a single PUT, then a
// manifest. Segment names carry a nonce so concurrent writers of one id
// never share segments; on failure every segment written is deleted.
func (d *Driver) putSegmented(ctx context.Context, c *swift.Connection, container, obj string, r io.Reader) (total int64, err error) {
	nonce := randHex()
	var segs []sloSegment
	cleanup := func() {
		bg := context.WithoutCancel(ctx)
		for _, s := range segs {
			_, name, _ := strings.Cut(strings.TrimPrefix(s.Path, "/"), "/")
			c.ObjectDelete(bg, container, name)
		}
	}
	for i := 0; ; i++ {
		name := fmt.Sprintf("%s-%s-%05d", obj, nonce, i+1)
		cr := &countReader{r: r}
		h, perr := c.ObjectPut(ctx, container, name, io.LimitReader(cr, d.o.ChunkSize), false, "", "application/octet-stream", nil)
		if perr == nil && ctx.Err() != nil {
			perr = ctx.Err()
		}
		if perr != nil {
			c.ObjectDelete(context.WithoutCancel(ctx), container, name)
			cleanup()
			return total, perr
		}
		total += cr.n
		if cr.n == 0 && i > 0 {
			c.ObjectDelete(context.WithoutCancel(ctx), container, name)
			break
		}
		segs = append(segs, sloSegment{Path: "/" + container + "/" + name, Etag: strings.Trim(h["Etag"], `"`), SizeBytes: cr.n})
		if cr.n < d.o.ChunkSize {
			break
		}
	}
	if total == 0 {
		// Swift refuses a manifest of one empty segment: store an empty object.
		cleanup()
		_, err := c.ObjectPut(ctx, container, obj, strings.NewReader(""), false, "", "application/octet-stream", noneMatch())
		return 0, err
	}
	manifest, _ := json.Marshal(segs)
	_, _, err = c.Call(ctx, c.StorageUrl, swift.RequestOpts{
		Container: container, ObjectName: obj, Operation: "PUT",
		Parameters: url.Values{"multipart-manifest": {"put"}},
		Headers:    swift.Headers{"If-None-Match": "*", "Content-Type": "application/octet-stream"},
		Body:       strings.NewReader(string(manifest)),
		NoResponse: true,
	})
	if err != nil {
		cleanup()
		return total, err
	}
	return total, nil
}

// Get implements store.Driver with a ranged GET.
func (d *Driver) Get(ctx context.Context, loc string, offset int64) (io.ReadCloser, error) {
	c, container, obj, err := d.connForLoc(ctx, loc)
	if err != nil {
		return nil, err
	}
	var h swift.Headers
	if offset > 0 {
		info, _, err := c.Object(ctx, container, obj)
		if err != nil {
			return nil, err
		}
		if offset >= info.Bytes {
			return io.NopCloser(strings.NewReader("")), nil
		}
		h = swift.Headers{"Range": fmt.Sprintf("bytes=%d-", offset)}
	}
	f, _, err := c.ObjectOpen(ctx, container, obj, false, h)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Size implements store.Driver.
func (d *Driver) Size(ctx context.Context, loc string) (int64, error) {
	c, container, obj, err := d.connForLoc(ctx, loc)
	if err != nil {
		return 0, err
	}
	info, _, err := c.Object(ctx, container, obj)
	if err != nil {
		return 0, err
	}
	return info.Bytes, nil
}

// Delete implements store.Writable: a static large object goes with its
// segments, and so does a dynamic one as Glance writes them.
func (d *Driver) Delete(ctx context.Context, loc string) error {
	c, container, obj, err := d.connForLoc(ctx, loc)
	if err != nil {
		return err
	}
	_, h, err := c.Object(ctx, container, obj)
	if err != nil {
		return err
	}
	switch {
	case strings.EqualFold(h["X-Static-Large-Object"], "true"):
		_, _, err = c.Call(ctx, c.StorageUrl, swift.RequestOpts{
			Container: container, ObjectName: obj, Operation: "DELETE",
			Parameters: url.Values{"multipart-manifest": {"delete"}}, NoResponse: true,
		})
	case h["X-Object-Manifest"] != "":
		segC, prefix, _ := strings.Cut(h["X-Object-Manifest"], "/")
		segC, _ = url.PathUnescape(segC)
		prefix, _ = url.PathUnescape(prefix)
		names, lerr := c.ObjectNamesAll(ctx, segC, &swift.ObjectsOpts{Prefix: prefix})
		if lerr != nil {
			return lerr
		}
		for _, n := range names {
			if derr := c.ObjectDelete(ctx, segC, n); derr != nil && !errors.Is(derr, swift.ObjectNotFound) {
				return derr
			}
		}
		err = c.ObjectDelete(ctx, container, obj)
	default:
		err = c.ObjectDelete(ctx, container, obj)
	}
	if err != nil {
		return err
	}
	if d.o.MultiTenant {
		c.ContainerDelete(ctx, container) // Glance removes the per-image container too
	}
	return nil
}
