package image

import (
	"context"
	"log/slog"
	"os"
	"time"

	"glint/internal/auth"
	"glint/internal/errs"
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
	// Limits give each project's unified limits; nil when
	// use_keystone_limits is off.
	Limits LimitSource
	// DelayedDelete leaves a deleted image's data for the scrubber.
	DelayedDelete bool
	// UploadHeartbeat is how often an upload in progress marks its image
	// alive, so that the scrubber can tell a dead node's upload; 0: never.
	UploadHeartbeat time.Duration
	// UploadLogDir is a directory only this node uses, where it records
	// the uploads it is writing (see RecoverOwnUploads); "": none.
	UploadLogDir string
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
	// MultiStore is Glance's enabled_backends mode: every location
	// records its store in its metadata ("store"), and one read without
	// it is shown with the store its URL belongs to.
	MultiStore bool
	// Notifier sends Glance's notifications of what changes; nil sends
	// none.
	Notifier Notifier
	// Cache is the node's image cache when downloads go through it (the
	// caching flavors); nil: downloads read the stores.
	Cache DataCache
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
	uploads *uploadLog // nil: no upload log (Options.UploadLogDir)
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
	s := &Service{repo: repo, members: repo, stores: stores, authz: authz, opts: opts, log: log, now: time.Now}
	if opts.UploadLogDir != "" {
		if err := os.MkdirAll(opts.UploadLogDir, 0o700); err != nil {
			log.Warn("no upload log: after a crash, this node's uploads wait for the stale-upload sweep", "dir", opts.UploadLogDir, "err", err)
		} else {
			s.uploads = &uploadLog{dir: opts.UploadLogDir}
		}
	}
	return s
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

// save stores img if the stored status is still from, refusing any status
// change Glance's state machine does not allow.
func (s *Service) save(ctx context.Context, img *Image, from Status) error {
	if img.Status != from && !CanTransition(from, img.Status) {
		return errs.Errorf("image.save", errs.Conflict, "Image status transition from %s to %s is not allowed", from, img.Status)
	}
	return s.repo.Update(ctx, img, from)
}
