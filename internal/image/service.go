package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"glint/internal/auth"
	"glint/internal/errs"
	"glint/internal/imageformat"
	"glint/internal/policy"
	"glint/internal/store"
	"glint/internal/urlfilter"
)

// Repo is what the service needs from the database. Every repository
// must pass imagetest.TestRepo, which checks what these comments say;
// imagetest.MemRepo is one in memory.
//
// Images go in and come out as copies: their tags, properties and
// location metadata are the caller's own (their pointer attributes are
// shared values, never written through). Tags read back as a sorted set,
// locations in the order they were added. A deleted image is gone for
// every method (NotFound) but keeps its ID taken.
type Repo interface {
	MemberRepo
	UsageRepo
	ScrubRepo
	LocationRepo
	// Create stores a new image; a taken ID is errs.Conflict. Locations
	// get their IDs in img.
	Create(ctx context.Context, img *Image) error
	// Get returns an image; an unknown or deleted one is errs.NotFound.
	Get(ctx context.Context, id string) (*Image, error)
	// Update saves img whole, but not its created_at, if the stored
	// status is still from (errs.Conflict if not): of updates racing
	// from one status, one wins. New locations get their IDs in img.
	Update(ctx context.Context, img *Image, from Status) error
	// Modify applies fn to the image with its row locked and saves the
	// result in the same transaction; fn may run more than once. It
	// returns what fn returned, new locations with their IDs; fn's error
	// is returned with its kind, nothing saved.
	Modify(ctx context.Context, id string, fn func(old *Image) (*Image, error)) (*Image, error)
	// Delete soft-deletes an image with its locations and memberships,
	// and returns it as it was, so that the caller removes its data.
	Delete(ctx context.Context, id string) (*Image, error)
	// List returns one page of the images v may see (see ListQuery and
	// Viewer): never killed ones; sorted by q.Sort, then created_at and
	// id in the first key's direction, NULL first ascending; after
	// q.Marker, which must be a live image (errs.Invalid if not, as for
	// a sort key or filter it cannot apply). q.MemberStatus is never
	// empty: the service makes it accepted.
	List(ctx context.Context, q ListQuery, v Viewer) ([]*Image, error)
}

// Authorizer decides whether the caller in ctx may perform a policy
// action (Glance's rule names: get_image, modify_image, publicize_image, …)
// on a target: for an image, the dict Glance's ImageTarget gives oslo.policy.
type Authorizer interface {
	Authorize(ctx context.Context, action string, target map[string]any) error
}

// PropertyRules decide who may create, read, update and delete a custom
// property (Glance's property protections).
type PropertyRules interface {
	Allowed(ctx context.Context, prop, op string) bool
}

// Options are the service's settings, taken from configuration at start.
type Options struct {
	ImageSizeCap     int64
	HashingAlgorithm string
	PropertyQuota    int // negative: unlimited
	TagQuota         int
	MemberQuota      int
	// StorageQuota is user_storage_quota in bytes; 0 is unlimited.
	StorageQuota int64
	// Limits are the unified limits; nil when use_keystone_limits is off.
	Limits *Limits
	// DelayedDelete leaves a deleted image's data for the scrubber.
	DelayedDelete bool
	// UploadHeartbeat is how often an upload in progress marks its image
	// alive, so that the scrubber can tell a dead node's upload; 0: never.
	UploadHeartbeat time.Duration
	// SecureRBAC drops Glance's hard-coded ownership checks that stand in
	// for the legacy policy defaults ([DEFAULT] enforce_secure_rbac).
	SecureRBAC bool
	// Protections are the property protections; nil protects nothing.
	Protections      PropertyRules
	DiskFormats      []string
	ContainerFormats []string
	// ShowLocations is show_multiple_locations: locations are shown and
	// may be changed by JSON patch.
	ShowLocations bool
	// LocationQuota is image_location_quota; negative: unlimited.
	LocationQuota int
	// LocationFilter screens http(s) locations as Glance 25.1 does, with
	// the [import_filtering_opts] rules.
	LocationFilter urlfilter.Options
	// Staging is the node's staging area, whose data for an image is
	// dropped when the image is deleted; nil: the node has none.
	Staging StagedData
}

// Service is the domain layer every image request goes through: policy,
// quotas, status rules, then the repository and the stores.
type Service struct {
	repo    Repo
	members MemberRepo
	stores  *store.Set
	authz   Authorizer
	opts    Options
	log     *slog.Logger
	now     func() time.Time
}

// NewService wires a Service.
func NewService(repo Repo, stores *store.Set, authz Authorizer, opts Options, log *slog.Logger) *Service {
	if authz == nil {
		e, err := policy.NewGlance(policy.Options{})
		if err != nil {
			panic(err) // the shipped defaults always load
		}
		authz = policy.Authorizer{Enforcer: e}
	}
	return &Service{repo: repo, members: repo, stores: stores, authz: authz, opts: opts, log: log, now: time.Now}
}

func viewerOf(ctx context.Context) Viewer {
	a := auth.From(ctx)
	return Viewer{Admin: a.IsAdmin, Project: a.ProjectID}
}

// Get returns an image the caller may see, without the properties it may
// not read; others are NotFound.
func (s *Service) Get(ctx context.Context, id string) (*Image, error) {
	img, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.readable(ctx, img), nil
}

// allowedProp applies the property protections to one custom property.
func (s *Service) allowedProp(ctx context.Context, prop, op string) bool {
	return s.opts.Protections == nil || s.opts.Protections.Allowed(ctx, prop, op)
}

// readable returns img as the caller may read it: properties that the
// protections hide from it are left out (of a copy; img is unchanged).
func (s *Service) readable(ctx context.Context, img *Image) *Image {
	if s.opts.Protections == nil {
		return img
	}
	out := img
	for k := range img.Properties {
		if !s.allowedProp(ctx, k, "read") {
			if out == img {
				out = img.Clone()
			}
			delete(out.Properties, k)
		}
	}
	return out
}

// get is Get with every property: what the service itself works on.
func (s *Service) get(ctx context.Context, id string) (*Image, error) {
	const op errs.Op = "image.Get"
	img, err := s.repo.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.checkVisible(ctx, img); err != nil {
		return nil, errs.E(op, err)
	}
	return img, nil
}

// checkVisible hides, as NotFound, an image the caller may not see.
func (s *Service) checkVisible(ctx context.Context, img *Image) error {
	const op errs.Op = "image.checkVisible"
	m := s.membership(ctx, img) // one lookup serves both checks
	if !visible(auth.From(ctx), img, m) {
		return errs.E(op, errs.NotFound, fmt.Sprintf("No image found with ID %s", img.ID))
	}
	if err := s.authz.Authorize(ctx, "get_image", imageTarget(img, m)); err != nil {
		return errs.E(op, errs.NotFound, fmt.Sprintf("No image found with ID %s", img.ID), err)
	}
	return nil
}

// visible is Glance's single-image visibility rule: a shared image is
// visible to its members (m, the caller's membership) whatever their
// membership status.
func visible(a *auth.Context, img *Image, m *Member) bool {
	switch {
	case a.IsAdmin, img.Owner == nil, img.Visibility == Public, img.Visibility == Community:
		return true
	case a.ProjectID != "" && *img.Owner == a.ProjectID:
		return true
	}
	return img.Visibility == Shared && m != nil
}

// target is imageTarget for the caller in ctx.
func (s *Service) target(ctx context.Context, img *Image) map[string]any {
	return imageTarget(img, s.membership(ctx, img))
}

// imageTarget is the dict Glance's ImageTarget gives oslo.policy for img:
// its attributes and custom properties, with project_id for the owner and
// member_id for the caller's membership m, if any.
func imageTarget(img *Image, m *Member) map[string]any {
	t := make(map[string]any, len(img.Properties)+16)
	for k, v := range img.Properties {
		t[k] = v
	}
	opt := func(p *string) any {
		if p == nil {
			return nil
		}
		return *p
	}
	t["id"], t["name"], t["status"], t["visibility"] = img.ID, opt(img.Name), string(img.Status), img.Visibility
	t["owner"], t["project_id"] = opt(img.Owner), opt(img.Owner)
	t["protected"], t["os_hidden"] = img.Protected, img.OSHidden
	t["disk_format"], t["container_format"] = opt(img.DiskFormat), opt(img.ContainerFormat)
	t["member_id"] = nil
	if m != nil {
		t["member_id"] = m.MemberID
	}
	return t
}

// authorize enforces a policy action on an image. As Glance does, a
// refusal on an image the caller may not even read is a 404, so that the
// answer does not reveal that the image exists.
func (s *Service) authorize(ctx context.Context, action string, img *Image) error {
	t := s.target(ctx, img)
	err := s.authz.Authorize(ctx, action, t)
	if err == nil || action == "get_image" {
		return err
	}
	if s.authz.Authorize(ctx, "get_image", t) != nil {
		return errs.E(errs.Op("image.authorize"), errs.NotFound, fmt.Sprintf("No image found with ID %s", img.ID), err)
	}
	return err
}

// List returns one page of images.
func (s *Service) List(ctx context.Context, q ListQuery) ([]*Image, error) {
	const op errs.Op = "image.List"
	if err := s.authz.Authorize(ctx, "get_images", map[string]any{"project_id": auth.From(ctx).ProjectID}); err != nil {
		return nil, errs.E(op, err)
	}
	if q.Marker != "" {
		if _, err := s.get(ctx, q.Marker); err != nil {
			return nil, errs.E(op, errs.Invalid, fmt.Sprintf("No image found with ID %s", q.Marker))
		}
	}
	if q.MemberStatus == "" {
		q.MemberStatus = "accepted"
	}
	imgs, err := s.repo.List(ctx, q, viewerOf(ctx))
	if err != nil {
		return nil, err
	}
	for i, img := range imgs {
		imgs[i] = s.readable(ctx, img)
	}
	return imgs, nil
}

// Create makes a new queued image from attributes already validated
// against the image schema (JSON-decoded values).
func (s *Service) Create(ctx context.Context, attrs map[string]any) (*Image, error) {
	const op errs.Op = "image.Create"
	a := auth.From(ctx)
	now := s.now().UTC()
	img := &Image{
		ID:         uuid.NewString(),
		Status:     Queued,
		Visibility: Shared,
		CreatedAt:  now,
		UpdatedAt:  now,
		Properties: map[string]string{},
	}
	if !a.IsAdmin && a.ProjectID == "" {
		// Glance would make an ownerless image that no one but an admin
		// could then change; Glint refuses (docs/api.md).
		return nil, errs.E(op, errs.Forbidden, "You are not permitted to create images without a project.")
	}
	if a.ProjectID != "" {
		p := a.ProjectID
		img.Owner = &p
	}
	for k, v := range attrs {
		switch {
		case IsReserved(k):
			return nil, errs.Errorf(op, errs.Forbidden, "Attribute '%s' is reserved.", k)
		case k == "os_hash_algo" || k == "os_hash_value":
			// Glance 25.1 accepts these on create and drops them.
		case k == "id":
			id, _ := v.(string)
			if _, err := uuid.Parse(id); err != nil {
				return nil, errs.Errorf(op, errs.Invalid, "Invalid image id %q", id)
			}
			img.ID = id
		case IsReadOnly(k):
			return nil, errs.Errorf(op, errs.Forbidden, "Attribute '%s' is read-only.", k)
		case k == "owner":
			o, ok := v.(string)
			if !ok {
				o = "None" // Glance prints the missing owner as Python's None
			}
			if !a.IsAdmin && (!ok || o != a.ProjectID) {
				return nil, errs.Errorf(op, errs.Forbidden, "You are not permitted to create images owned by '%s'.", o)
			}
			img.Owner = optString(v)
		default:
			if err := s.set(img, k, v, true); err != nil {
				return nil, errs.E(op, err)
			}
		}
	}
	if err := check4ByteUnicode(img); err != nil {
		return nil, errs.E(op, err)
	}
	for k := range img.Properties {
		if !s.allowedProp(ctx, k, "create") {
			return nil, errs.Errorf(op, errs.Forbidden, "Attribute '%s' is reserved.", k)
		}
	}
	if err := s.checkVisibilityPolicy(ctx, img, ""); err != nil {
		return nil, errs.E(op, err)
	}
	if err := s.authz.Authorize(ctx, "add_image", s.target(ctx, img)); err != nil {
		return nil, errs.E(op, err)
	}
	if err := s.checkQuotas(img, nil); err != nil {
		return nil, errs.E(op, err)
	}
	if l := s.opts.Limits; l != nil && l.ImageCountTotal >= 0 {
		err := s.repo.CreateCounted(ctx, img, func(u Usage) error { return s.checkCount(op, img, u) })
		if err != nil {
			return nil, err
		}
	} else if err := s.repo.Create(ctx, img); err != nil {
		return nil, err
	}
	return s.readable(ctx, img), nil
}

func optString(v any) *string {
	if s, ok := v.(string); ok {
		return &s
	}
	return nil
}

func (s *Service) checkVisibilityPolicy(ctx context.Context, img *Image, old string) error {
	if img.Visibility == old {
		return nil
	}
	switch img.Visibility {
	case Public:
		return s.authorize(ctx, "publicize_image", img)
	case Community:
		return s.authorize(ctx, "communitize_image", img)
	}
	return nil
}

func (s *Service) checkQuotas(img, old *Image) error {
	const op errs.Op = "image.checkQuotas"
	if q := s.opts.PropertyQuota; q >= 0 {
		n, added := 0, false
		for k := range img.Properties {
			if len(k) >= 9 && k[:9] == "os_glance" {
				continue
			}
			n++
			if old == nil {
				added = true
			} else if _, ok := old.Properties[k]; !ok {
				added = true
			}
		}
		if added && n > q {
			return errs.Errorf(op, errs.TooLarge, "Attempted: %d, Maximum: %d", n, q)
		}
	}
	if q := s.opts.TagQuota; q >= 0 && len(img.Tags) > q && (old == nil || len(img.Tags) > len(old.Tags)) {
		return errs.Errorf(op, errs.TooLarge, "Attempted: %d, Maximum: %d", len(img.Tags), q)
	}
	return nil
}

// set assigns one user-writable attribute from its JSON value.
func (s *Service) set(img *Image, k string, v any, creating bool) error {
	const op errs.Op = "image.set"
	bad := func() error { return errs.Errorf(op, errs.Invalid, "Invalid value for %s", k) }
	switch k {
	case "name":
		img.Name = optString(v)
	case "visibility":
		str, ok := v.(string)
		if !ok || !slices.Contains(Visibilities, str) {
			return errs.Errorf(op, errs.Invalid, "Invalid visibility value: %v", v)
		}
		img.Visibility = str
	case "protected", "os_hidden":
		b, ok := v.(bool)
		if !ok {
			return bad()
		}
		if k == "protected" {
			img.Protected = b
		} else {
			img.OSHidden = b
		}
	case "min_disk", "min_ram":
		f, ok := v.(float64)
		if !ok || f < 0 || f != float64(int64(f)) || f > 2147483647 {
			return bad()
		}
		if k == "min_disk" {
			img.MinDisk = int(f)
		} else {
			img.MinRAM = int(f)
		}
	case "disk_format", "container_format":
		if !creating && img.Status != Queued && img.Status != Importing {
			return errs.Errorf(op, errs.Forbidden, "Attribute %s can be only replaced for a queued image.", k)
		}
		allowed := s.opts.DiskFormats
		if k == "container_format" {
			allowed = s.opts.ContainerFormats
		}
		p := optString(v)
		if v != nil && (p == nil || !slices.Contains(allowed, *p)) {
			return errs.Errorf(op, errs.Invalid, "Invalid value '%v' for %s", v, k)
		}
		if k == "disk_format" {
			img.DiskFormat = p
		} else {
			img.ContainerFormat = p
		}
	case "tags":
		list, ok := v.([]any)
		if !ok {
			return bad()
		}
		seen := map[string]bool{}
		img.Tags = img.Tags[:0]
		for _, t := range list {
			ts, ok := t.(string)
			if !ok || len(ts) > 255 {
				return bad()
			}
			if !seen[ts] {
				seen[ts] = true
				img.Tags = append(img.Tags, ts)
			}
		}
		sort.Strings(img.Tags)
	default:
		if IsCore(k) {
			return errs.Errorf(op, errs.Forbidden, "Attribute '%s' is read-only.", k)
		}
		str, ok := v.(string)
		if !ok {
			return errs.Errorf(op, errs.Invalid, "Invalid value for property %s: must be a string", k)
		}
		if len(k) > 255 {
			return errs.Errorf(op, errs.Invalid, "Property name %s is too long", k)
		}
		img.Properties[k] = str
	}
	return nil
}

// check4ByteUnicode refuses characters outside the Basic Multilingual
// Plane, as Glance does: MySQL's utf8 columns cannot hold them.
func check4ByteUnicode(img *Image) error {
	const op errs.Op = "image.check4ByteUnicode"
	has4 := func(s string) bool {
		for _, r := range s {
			if r > 0xFFFF {
				return true
			}
		}
		return false
	}
	if img.Name != nil && has4(*img.Name) {
		return errs.E(op, errs.Invalid, "Name can't contain 4 byte unicode characters.")
	}
	for k, v := range img.Properties {
		if has4(k) || has4(v) {
			return errs.Errorf(op, errs.Invalid, "%s can't contain 4 byte unicode characters.", strings.ToUpper(k[:1])+k[1:])
		}
	}
	for _, t := range img.Tags {
		if has4(t) {
			return errs.E(op, errs.Invalid, "Tags can't contain 4 byte unicode characters.")
		}
	}
	return nil
}

// Change is one JSON-patch operation, already parsed and schema-checked.
type Change struct {
	Op    string // add, remove, replace
	Path  []string
	Value any
}

// Update applies changes in order and saves once: all or nothing. strictAdd
// is the v2.0 dialect, where add of an existing property is a conflict.
func (s *Service) Update(ctx context.Context, id string, changes []Change, strictAdd bool) (*Image, error) {
	var probes map[string]probe
	counted := false
	owner := ""
	if hasLocationChanges(changes) {
		// Who may change the image is settled before any store is asked
		// about a location: a caller who may not cannot make Glint fetch.
		cur, err := s.get(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := s.authorizeChanges(ctx, cur, changes); err != nil {
			return nil, err
		}
		if s.opts.ShowLocations {
			probes = s.probeLocations(ctx, changes)
		}
		counted = s.opts.Limits == nil && s.opts.StorageQuota > 0
		owner = ownerKey(cur)
	}
	var removed []Location
	apply := func(old *Image, others *Usage) (*Image, error) {
		removed = removed[:0]
		if err := s.checkVisible(ctx, old); err != nil {
			return nil, err
		}
		if err := s.authorizeChanges(ctx, old, changes); err != nil {
			return nil, err
		}
		img, err := s.applyChanges(ctx, old, changes, strictAdd, probes, &removed)
		if err != nil {
			return nil, err
		}
		if others != nil {
			if err := s.checkLocationStorage(old, img, *others); err != nil {
				return nil, err
			}
		}
		return img, nil
	}
	// The changes apply to the row as it is when locked, so concurrent
	// patches, on this node or another, are all kept.
	var img *Image
	var err error
	if counted {
		img, err = s.repo.ModifyCounted(ctx, id, owner, func(old *Image, others Usage) (*Image, error) { return apply(old, &others) })
	} else {
		img, err = s.repo.Modify(ctx, id, func(old *Image) (*Image, error) { return apply(old, nil) })
	}
	if err != nil {
		return nil, err
	}
	for _, l := range removed {
		s.deleteRemovedLocation(ctx, id, l)
	}
	return s.readable(ctx, img), nil
}

// applyChanges computes the image that changes make of old.
func (s *Service) applyChanges(ctx context.Context, old *Image, changes []Change, strictAdd bool, probes map[string]probe, removed *[]Location) (*Image, error) {
	const op errs.Op = "image.Update"
	img := old.Clone()
	a := auth.From(ctx)
	for _, c := range changes {
		k := c.Path[0]
		switch {
		case k == "locations":
			if len(c.Path) == 1 && c.Op != "replace" || len(c.Path) == 2 && c.Op == "replace" {
				return nil, errs.Errorf(op, errs.Invalid, "Invalid JSON pointer for this resource: '/%s'", strings.Join(c.Path, "/"))
			}
			if err := s.locationChange(img, c, probes, removed); err != nil {
				return nil, err
			}
			continue
		case IsReadOnly(k):
			return nil, errs.Errorf(op, errs.Forbidden, "Attribute '%s' is read-only.", k)
		case IsReserved(k):
			return nil, errs.Errorf(op, errs.Forbidden, "Attribute '%s' is reserved.", k)
		}
		// A property the caller may not read does not exist for it.
		_, isProp := img.Properties[k]
		isProp = isProp && s.allowedProp(ctx, k, "read")
		switch c.Op {
		case "remove":
			if IsCore(k) {
				return nil, errs.Errorf(op, errs.Forbidden, "Properties %s may not be removed.", k)
			}
			if !isProp {
				return nil, errs.Errorf(op, errs.Conflict, "Property %s does not exist.", k)
			}
			if !s.allowedProp(ctx, k, "delete") {
				return nil, errs.Errorf(op, errs.Forbidden, "Attribute '%s' is reserved.", k)
			}
			delete(img.Properties, k)
		case "add", "replace":
			if c.Op == "replace" && !isProp && !IsCore(k) {
				return nil, errs.Errorf(op, errs.Conflict, "Property %s does not exist.", k)
			}
			// The v2.0 dialect's add never overwrites, and core attributes always exist.
			if c.Op == "add" && strictAdd && (isProp || IsCore(k)) {
				return nil, errs.Errorf(op, errs.Conflict, "Property %s already present.", k)
			}
			if k == "owner" {
				if !a.IsAdmin {
					return nil, errs.E(op, errs.Forbidden, "Owner can't be updated by non admin.")
				}
				img.Owner = optString(c.Value)
				continue
			}
			if !IsCore(k) {
				action := "create"
				if isProp {
					action = "update"
				}
				if !s.allowedProp(ctx, k, action) {
					return nil, errs.Errorf(op, errs.Forbidden, "Attribute '%s' is reserved.", k)
				}
			}
			if err := s.set(img, k, c.Value, false); err != nil {
				return nil, errs.E(op, err)
			}
		default:
			return nil, errs.Errorf(op, errs.Invalid, "Invalid operation: `%s`", c.Op)
		}
	}
	if err := check4ByteUnicode(img); err != nil {
		return nil, errs.E(op, err)
	}
	if err := s.checkVisibilityPolicy(ctx, img, old.Visibility); err != nil {
		return nil, errs.E(op, err)
	}
	if err := s.checkQuotas(img, old); err != nil {
		return nil, errs.E(op, err)
	}
	img.UpdatedAt = s.now().UTC()
	return img, nil
}

// save stores img if the stored status is still from, refusing any status
// change Glance's state machine does not allow.
func (s *Service) save(ctx context.Context, img *Image, from Status) error {
	if img.Status != from && !CanTransition(from, img.Status) {
		return errs.Errorf("image.save", errs.Conflict, "Image status transition from %s to %s is not allowed", from, img.Status)
	}
	return s.repo.Update(ctx, img, from)
}

// getOwned returns an image the caller may change with action.
func (s *Service) getOwned(ctx context.Context, id, action string) (*Image, error) {
	img, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeOwner(ctx, action, img); err != nil {
		return nil, err
	}
	return img, nil
}

// checkOwned is getOwned's checks on an image already read, such as the
// locked row inside Modify: visible to the caller, and theirs to change.
func (s *Service) checkOwned(ctx context.Context, img *Image, action string) error {
	if err := s.checkVisible(ctx, img); err != nil {
		return err
	}
	return s.authorizeOwner(ctx, action, img)
}

// authorizeOwner applies a policy action plus the ownership check Glance
// hard-codes when new RBAC defaults are off: only the owner or an admin.
func (s *Service) authorizeOwner(ctx context.Context, action string, img *Image) error {
	const op errs.Op = "image.authorizeOwner"
	if err := s.authorize(ctx, action, img); err != nil {
		return err
	}
	a := auth.From(ctx)
	if a.ReadOnly {
		return errs.E(op, errs.Forbidden, "Read-only access")
	}
	if !a.MayChangeRef(img.Owner) {
		return errs.E(op, errs.Forbidden, "You do not own this image")
	}
	return nil
}

// AddTag adds one tag; adding a present tag is a no-op.
func (s *Service) AddTag(ctx context.Context, id, tag string) error {
	const op errs.Op = "image.AddTag"
	if len(tag) > 255 || tag == "" {
		return errs.Errorf(op, errs.Invalid, "Invalid tag %q: tags are 1 to 255 characters", tag)
	}
	_, err := s.repo.Modify(ctx, id, func(img *Image) (*Image, error) {
		if err := s.checkOwned(ctx, img, "modify_image"); err != nil {
			return nil, err
		}
		if slices.Contains(img.Tags, tag) {
			return img, nil
		}
		nimg := img.Clone()
		nimg.Tags = append(nimg.Tags, tag)
		sort.Strings(nimg.Tags)
		if err := s.checkQuotas(nimg, img); err != nil {
			return nil, err
		}
		nimg.UpdatedAt = s.now().UTC()
		return nimg, nil
	})
	if err != nil {
		return errs.E(op, err)
	}
	return nil
}

// DeleteTag removes one tag; an absent tag is NotFound.
func (s *Service) DeleteTag(ctx context.Context, id, tag string) error {
	const op errs.Op = "image.DeleteTag"
	_, err := s.repo.Modify(ctx, id, func(img *Image) (*Image, error) {
		if err := s.checkOwned(ctx, img, "modify_image"); err != nil {
			return nil, err
		}
		i := slices.Index(img.Tags, tag)
		if i < 0 {
			return nil, errs.Errorf(op, errs.NotFound, "Tag %s not found", tag)
		}
		img.Tags = slices.Delete(img.Tags, i, i+1)
		img.UpdatedAt = s.now().UTC()
		return img, nil
	})
	if err != nil {
		return errs.E(op, err)
	}
	return nil
}

// SetActive deactivates (active=false) or reactivates an image.
func (s *Service) SetActive(ctx context.Context, id string, active bool) error {
	const op errs.Op = "image.SetActive"
	img, err := s.get(ctx, id)
	if err != nil {
		return err
	}
	action, want, from := "deactivate", Deactivated, Active
	if active {
		action, want, from = "reactivate", Active, Deactivated
	}
	if err := s.authorizeOwner(ctx, action, img); err != nil {
		return errs.E(op, err)
	}
	switch img.Status {
	case want:
		return nil
	case from:
	default:
		return errs.Errorf(op, errs.Forbidden, "Not allowed to %s image in status '%s'", action, img.Status)
	}
	nimg := img.Clone()
	nimg.Status = want
	nimg.UpdatedAt = s.now().UTC()
	return s.save(ctx, nimg, from)
}

// Delete removes an image and its data.
func (s *Service) Delete(ctx context.Context, id string) error {
	const op errs.Op = "image.Delete"
	img, err := s.getOwned(ctx, id, "delete_image")
	if err != nil {
		return errs.E(op, err)
	}
	if img.Protected {
		return errs.Errorf(op, errs.Forbidden, "Image %s is protected and cannot be deleted.", id)
	}
	if s.opts.DelayedDelete && len(img.ActiveLocations()) > 0 {
		// The data stays until the scrubber's scrub_time has passed.
		if _, err := s.repo.DeletePending(ctx, id); err != nil {
			return err
		}
		s.dropStaged(ctx, id)
		return nil
	}
	deleted, err := s.repo.Delete(ctx, id)
	if err != nil {
		return err
	}
	s.dropStaged(ctx, id)
	// The row is gone first: an upload racing this delete then fails its
	// final compare-and-set and removes its own data.
	for _, l := range deleted.Locations {
		s.deleteRemovedLocation(ctx, id, l)
	}
	return nil
}

// dropStaged removes what the node's staging area holds for a deleted
// image. (Staged data on another node is that node's sweep's to remove.)
func (s *Service) dropStaged(ctx context.Context, id string) {
	if s.opts.Staging != nil {
		s.opts.Staging.Drop(context.WithoutCancel(ctx), id)
	}
}

// deleteData removes one location's data from its store. Failures are
// logged: the data is then orphaned, the image already without it.
func (s *Service) deleteData(ctx context.Context, id, loc string) {
	ctx = context.WithoutCancel(ctx)
	st, err := s.stores.For(loc)
	if err == nil && st.ReadOnly() {
		return // a read-only store's data (an http location) is not Glint's to delete
	}
	if err == nil {
		err = st.Delete(ctx, loc)
	}
	if err != nil && !errs.Is(errs.NotFound, err) {
		s.log.ErrorContext(ctx, "could not delete image data; it is orphaned", "image_id", id, "location", store.Redact(loc), "err", err)
	}
}

// Upload streams data into target, or into the default store when target
// is nil: queued → saving → active, hashing and inspecting as it writes.
// size is the announced length, or -1; a read-only target is Invalid. On
// any failure the data is removed and the image returns to queued, as
// Glance does.
func (s *Service) Upload(ctx context.Context, id string, target *store.Store, body io.Reader, size int64) error {
	const op errs.Op = "image.Upload"
	if target == nil {
		target = s.stores.Default()
	} else if target.ReadOnly() {
		return errs.Errorf(op, errs.Invalid, "Store %s is read-only", target.Name)
	}
	img, err := s.getOwned(ctx, id, "upload_image")
	if err != nil {
		return errs.E(op, err)
	}
	if img.Status != Queued {
		return errs.Errorf(op, errs.Conflict, "Image status transition from %s to saving is not allowed", img.Status)
	}
	if img.DiskFormat == nil || img.ContainerFormat == nil {
		return errs.E(op, errs.Invalid, "Properties disk_format, container_format must be set prior to saving data.")
	}
	limit := s.opts.ImageSizeCap
	if size > limit {
		return errs.Errorf(op, errs.TooLarge, "The incoming image is too large: %d bytes, and the limit is %d.", size, limit)
	}
	if size >= 0 && size < limit {
		limit = size
	}

	saving, src, err := s.beginTransfer(ctx, op, img, Saving, size,
		s.storedQuota(), &capReader{r: body, n: limit, announced: size, cap: s.opts.ImageSizeCap})
	if err != nil {
		return err
	}
	defer s.heartbeat(ctx, id)()

	w, err := target.Write(ctx, id, src, size, s.opts.HashingAlgorithm)
	if err != nil {
		return s.failUpload(ctx, saving, err)
	}
	// As Glance does, only bare images are inspected: a container's content
	// is not a disk.
	inspected := *img.ContainerFormat == "bare"
	if inspected {
		if cerr := imageformat.Check(w.Format, *img.DiskFormat); cerr != nil {
			s.deleteWritten(ctx, id, target, w.Location)
			// Glance answers a format or safety failure with 415.
			return s.failUpload(ctx, saving, errs.E(op, errs.BadFormat, errs.Message(cerr), cerr))
		}
	}

	done := saving.Clone()
	done.Status = Active
	done.Size = &w.Size
	done.Checksum, done.OSHashAlgo, done.OSHashValue = &w.Checksum, &w.HashAlgo, &w.HashValue
	if vs := w.Format.VirtualSizeFor(*done.DiskFormat); inspected && vs > 0 {
		done.VirtualSize = &vs
	}
	done.Locations = append(done.Locations, Location{URL: w.Location, Metadata: map[string]any{}, Status: "active"})
	done.UpdatedAt = s.now().UTC()
	if s.counting() {
		// Decided under the owner's quota lock: uploads racing each other
		// cannot together take the project past its quota.
		err = s.saveCounted(context.WithoutCancel(ctx), done, Saving, func(o Usage) error { return s.checkStored(op, img, o, w.Size) })
	} else {
		err = s.save(context.WithoutCancel(ctx), done, Saving)
	}
	if err != nil {
		s.deleteWritten(ctx, id, target, w.Location)
		if errs.Is(errs.TooLarge, err) {
			return s.failUpload(ctx, saving, err)
		}
		if errs.Is(errs.NotFound, err) || errs.Is(errs.Conflict, err) {
			return errs.E(op, errs.Gone, "Image was deleted or changed while its data was being uploaded", err)
		}
		return s.failUpload(ctx, saving, err)
	}
	return nil
}

// deleteWritten removes data just written to st that no image will have.
func (s *Service) deleteWritten(ctx context.Context, id string, st *store.Store, loc string) {
	if err := st.Delete(context.WithoutCancel(ctx), loc); err != nil {
		s.log.ErrorContext(ctx, "could not delete image data; it is orphaned", "image_id", id, "location", store.Redact(loc), "err", err)
	}
}

// failUpload puts a saving image back to queued and explains the failure.
func (s *Service) failUpload(ctx context.Context, saving *Image, cause error) error {
	const op errs.Op = "image.Upload"
	ctx = context.WithoutCancel(ctx)
	back := saving.Clone()
	back.Status = Queued
	back.Size, back.VirtualSize = nil, nil
	back.UpdatedAt = s.now().UTC()
	if err := s.save(ctx, back, Saving); err != nil {
		if errs.Is(errs.NotFound, err) {
			return errs.E(op, errs.Gone, "Image was deleted while its data was being uploaded", cause)
		}
		s.log.ErrorContext(ctx, "could not return image to queued after a failed upload", "image_id", saving.ID, "err", err)
	}
	s.log.WarnContext(ctx, "upload failed; image returned to queued", "image_id", saving.ID, "err", cause)
	if errs.KindOf(cause) == errs.Other {
		return errs.E(op, errs.Unavailable, "Error in store configuration. Adding images to store is disabled.", cause)
	}
	return errs.E(op, cause)
}

// capReader enforces the announced size and image_size_cap while streaming.
type capReader struct {
	r         io.Reader
	n         int64 // bytes still allowed
	announced int64
	cap       int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		// One byte more tells an over-long body from an exact one.
		var one [1]byte
		m, err := c.r.Read(one[:])
		if m > 0 {
			if c.announced >= 0 && c.announced < c.cap {
				return 0, errs.Errorf("image.Upload", errs.Invalid, "Image size mismatch: more than the %d bytes announced", c.announced)
			}
			return 0, errs.Errorf("image.Upload", errs.TooLarge, "The incoming image is too large: the limit is %d bytes", c.cap)
		}
		return 0, err
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	m, err := c.r.Read(p)
	c.n -= int64(m)
	if err != nil && !errors.Is(err, io.EOF) {
		return m, errs.E(errs.Op("image.Upload"), errs.Invalid, "The client stopped sending image data", err)
	}
	return m, err
}

// Open returns a reader of the image's data from offset, from the first
// location that answers.
func (s *Service) Open(ctx context.Context, img *Image, offset int64) (io.ReadCloser, error) {
	const op errs.Op = "image.Open"
	var last error = errs.E(op, errs.NotFound, "Image has no data")
	for _, l := range img.ActiveLocations() {
		st, err := s.stores.For(l.URL)
		if err != nil {
			last = err
			continue
		}
		rc, err := st.Open(ctx, l.URL, offset)
		if err == nil {
			return rc, nil
		}
		s.log.WarnContext(ctx, "image location failed", "image_id", img.ID, "location", store.Redact(l.URL), "err", err)
		last = err
	}
	if errs.Is(errs.NotFound, last) {
		return nil, errs.E(op, errs.NotFound, "Image data not found", last)
	}
	return nil, errs.E(op, errs.Unavailable, "Image data is not available from any store", last)
}

// ForDownload returns an image whose data the caller may download.
func (s *Service) ForDownload(ctx context.Context, id string) (*Image, error) {
	const op errs.Op = "image.ForDownload"
	img, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, "download_image", img); err != nil {
		return nil, errs.E(op, err)
	}
	if img.Status == Deactivated && !auth.From(ctx).IsAdmin {
		return nil, errs.E(op, errs.Forbidden, "The requested image has been deactivated. Image data download is prohibited.")
	}
	return img, nil
}
