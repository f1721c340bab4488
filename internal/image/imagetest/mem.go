// Package imagetest is what tests of images share: the conformance
// suites every image and task repository must pass (TestRepo,
// TestTaskRepo), and repositories in memory that pass them (MemRepo,
// MemTasks), on which the domain's rules are tested without a database.
//
// The SQL repositories of internal/db run the same suites on SQLite,
// PostgreSQL and MariaDB; the fakes are for a fast inner loop, never the
// only proof (docs STYLE: real servers are the evidence).
package imagetest

import (
	"cmp"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"time"

	"glint/internal/errs"
	"glint/internal/image"
)

// MemRepo is an image.Repo in memory. It keeps what the SQL repositories
// keep and nothing more: deleted images stay, hidden, so that their IDs
// stay taken and delayed deletes can be restored; reads and writes hand
// out copies; a change of one image waits for the one before it (the SQL
// row lock), and a counted change for the one before it of the same owner
// (the quota lock). Errors have the SQL repositories' kinds.
type MemRepo struct {
	locks keyLocks // image and owner locks, always taken before mu

	mu         sync.Mutex // guards what follows
	images     map[string]*memImage
	lastLoc    int64 // the last location ID given out
	lastMember int64 // the last membership row's number
}

// NewMemRepo returns an empty repository.
func NewMemRepo() *MemRepo {
	return &MemRepo{images: map[string]*memImage{}, locks: keyLocks{m: map[string]*sync.Mutex{}}}
}

var _ image.Repo = (*MemRepo)(nil)

// memImage is an image's row with its child rows. Its properties and
// tags are the live ones: they stay as they were when the image is
// deleted, which hides them until a restore brings them back, as the
// SQL repositories' restore does.
type memImage struct {
	img     *image.Image // Locations unused: locs holds them
	locs    []*memLocation
	members []*memMember
}

// memLocation is a location row; deleted ones stay for the scrubber.
type memLocation struct {
	loc     image.Location
	deleted bool
}

// memMember is a membership row; deleted ones stay, to be brought back.
type memMember struct {
	m         image.Member
	n         int64 // row number: the order of rows created at one time
	deleted   bool
	deletedAt time.Time
}

// keyLocks are mutexes by name: "image/<id>" is an image's row lock,
// "owner/<owner>" an owner's quota lock. Callbacks run holding them but
// not mu, so that they may read the repository, as a callback run in a
// SQL transaction may.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*sync.Mutex
}

func (k *keyLocks) lock(key string) (unlock func()) {
	k.mu.Lock()
	l := k.m[key]
	if l == nil {
		l = &sync.Mutex{}
		k.m[key] = l
	}
	k.mu.Unlock()
	l.Lock()
	return l.Unlock
}

func notFound(op errs.Op, id string) error {
	return errs.Errorf(op, errs.NotFound, "No image found with ID %s", id)
}

// live returns image id unless it is unknown or deleted. mu is held.
func (r *MemRepo) live(id string) *memImage {
	e := r.images[id]
	if e == nil || e.img.Deleted {
		return nil
	}
	return e
}

// view is the image as a read returns it: a copy, with its live
// locations in ID order, tags sorted. mu is held.
func (e *memImage) view() *image.Image {
	img := e.img.Clone()
	img.Locations = nil
	for _, l := range e.locs {
		if !l.deleted {
			img.Locations = append(img.Locations, copyLocation(l.loc))
		}
	}
	if len(img.Tags) == 0 {
		img.Tags = nil
	}
	return img
}

// row is the image row alone, as the SQL repositories' scrubber queries
// return it: no properties, tags or locations. mu is held.
func (e *memImage) row() *image.Image {
	img := e.img.Clone()
	img.Properties, img.Tags, img.Locations = map[string]string{}, nil, nil
	return img
}

func copyLocation(l image.Location) image.Location {
	l.Metadata = copyMetadata(l.Metadata)
	return l
}

// copyMetadata copies location metadata as a round trip through the
// database's JSON column does: deeply, numbers as float64, nil as {}.
func copyMetadata(m map[string]any) map[string]any {
	out := map[string]any{}
	if len(m) == 0 {
		return out
	}
	if b, err := json.Marshal(m); err == nil && json.Unmarshal(b, &out) == nil {
		return out
	}
	return maps.Clone(m)
}

func ownerOf(img *image.Image) string {
	if img.Owner == nil {
		return ""
	}
	return *img.Owner
}

// ownedBy is the SQL repositories' owner match: "" is no owner.
func ownedBy(img *image.Image, owner string) bool {
	if owner == "" {
		return img.Owner == nil
	}
	return img.Owner != nil && *img.Owner == owner
}

// Create stores a new image; an ID taken, even by a deleted image, is a
// Conflict. img's new locations get their IDs.
func (r *MemRepo) Create(ctx context.Context, img *image.Image) error {
	return r.create("imagetest.Create", img, nil)
}

// CreateCounted is Create with check deciding under the owner's lock.
func (r *MemRepo) CreateCounted(ctx context.Context, img *image.Image, check func(image.Usage) error) error {
	return r.create("imagetest.CreateCounted", img, check)
}

func (r *MemRepo) create(op errs.Op, img *image.Image, check func(image.Usage) error) error {
	if check != nil {
		owner := ownerOf(img)
		defer r.locks.lock("owner/" + owner)()
		r.mu.Lock()
		u := r.usage(owner, "")
		r.mu.Unlock()
		if err := check(u); err != nil {
			return errs.E(op, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.images[img.ID] != nil {
		return errs.Errorf(op, errs.Conflict, "Image ID %s already exists!", img.ID)
	}
	stored := img.Clone()
	stored.Deleted, stored.DeletedAt = false, nil
	e := &memImage{img: stored}
	r.save(e, img)
	r.images[img.ID] = e
	return nil
}

// save writes img over e's row and child rows, as the SQL repositories'
// UPDATE does: ID, created_at and the deleted columns stay. It gives
// img's new locations (ID 0, or an ID not among e's live locations)
// their IDs, and sorts img's tags. mu is held.
func (r *MemRepo) save(e *memImage, img *image.Image) {
	old := e.img
	next := img.Clone()
	next.ID, next.CreatedAt, next.Deleted, next.DeletedAt = old.ID, old.CreatedAt, old.Deleted, old.DeletedAt
	next.Locations = nil
	if next.Properties == nil {
		next.Properties = map[string]string{}
	}
	slices.Sort(next.Tags)
	next.Tags = slices.Compact(next.Tags)
	e.img = next

	kept := map[*memLocation]bool{}
	for i := range img.Locations {
		l := &img.Locations[i]
		status := cmp.Or(l.Status, "active")
		var row *memLocation
		for _, o := range e.locs {
			if !o.deleted && l.ID != 0 && o.loc.ID == l.ID {
				row = o
				break
			}
		}
		if row == nil {
			r.lastLoc++
			row = &memLocation{loc: image.Location{ID: r.lastLoc}}
			e.locs = append(e.locs, row)
			l.ID, l.Status = r.lastLoc, status
		}
		row.loc.URL, row.loc.Metadata, row.loc.Status = l.URL, copyMetadata(l.Metadata), status
		kept[row] = true
	}
	for _, o := range e.locs {
		if !o.deleted && !kept[o] {
			o.deleted, o.loc.Status = true, "deleted"
		}
	}
	slices.Sort(img.Tags)
}

// Get returns a live image.
func (r *MemRepo) Get(ctx context.Context, id string) (*image.Image, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.live(id)
	if e == nil {
		return nil, notFound("imagetest.Get", id)
	}
	return e.view(), nil
}

// Update saves img if the stored status is still from (Conflict if not).
func (r *MemRepo) Update(ctx context.Context, img *image.Image, from image.Status) error {
	_, err := r.modify("imagetest.Update", img.ID, nil, func(old *image.Image) (*image.Image, error) {
		if old.Status != from {
			return nil, errs.Errorf("", errs.Conflict, "Image status transition from %s to %s is not allowed", old.Status, img.Status)
		}
		return img, nil
	})
	return err
}

// Modify saves what fn makes of the stored image, under the image's lock.
func (r *MemRepo) Modify(ctx context.Context, id string, fn func(old *image.Image) (*image.Image, error)) (*image.Image, error) {
	return r.modify("imagetest.Modify", id, nil, fn)
}

// ModifyCounted is Modify under the owner's lock, fn also given the
// owner's usage by its other images.
func (r *MemRepo) ModifyCounted(ctx context.Context, id, owner string, fn func(old *image.Image, others image.Usage) (*image.Image, error)) (*image.Image, error) {
	defer r.locks.lock("owner/" + owner)()
	var others image.Usage
	count := func() { others = r.usage(owner, id) }
	return r.modify("imagetest.ModifyCounted", id, count, func(old *image.Image) (*image.Image, error) { return fn(old, others) })
}

// modify runs fn on a copy of image id with its lock held and saves the
// result; before, if not nil, runs with mu held just before fn.
func (r *MemRepo) modify(op errs.Op, id string, before func(), fn func(old *image.Image) (*image.Image, error)) (*image.Image, error) {
	defer r.locks.lock("image/" + id)()
	r.mu.Lock()
	e := r.live(id)
	if e == nil {
		r.mu.Unlock()
		return nil, notFound(op, id)
	}
	old := e.view()
	if before != nil {
		before()
	}
	r.mu.Unlock()
	img, err := fn(old)
	if err != nil {
		return nil, errs.E(op, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.save(e, img) // e is still live: deletes wait for the image's lock
	return img, nil
}

// Delete soft-deletes an image with its locations and memberships and
// returns it as it was.
func (r *MemRepo) Delete(ctx context.Context, id string) (*image.Image, error) {
	return r.delete("imagetest.Delete", id, image.Deleted)
}

// DeletePending is Delete under delayed_delete: the image and its
// locations become pending_delete, for the scrubber.
func (r *MemRepo) DeletePending(ctx context.Context, id string) (*image.Image, error) {
	return r.delete("imagetest.DeletePending", id, image.PendingDelete)
}

func (r *MemRepo) delete(op errs.Op, id string, status image.Status) (*image.Image, error) {
	defer r.locks.lock("image/" + id)()
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.live(id)
	if e == nil {
		return nil, notFound(op, id)
	}
	was := e.view()
	now := time.Now().UTC()
	e.img.Deleted, e.img.DeletedAt, e.img.UpdatedAt, e.img.Status = true, &now, now, status
	for _, l := range e.locs {
		if !l.deleted {
			l.deleted, l.loc.Status = true, string(status)
		}
	}
	for _, m := range e.members {
		if !m.deleted {
			m.deleted, m.deletedAt = true, now
		}
	}
	return was, nil
}

// Members lists an image's live memberships, oldest first.
func (r *MemRepo) Members(ctx context.Context, imageID string) ([]*image.Member, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.images[imageID]
	if e == nil {
		return nil, nil
	}
	var rows []*memMember
	for _, m := range e.members {
		if !m.deleted {
			rows = append(rows, m)
		}
	}
	slices.SortFunc(rows, func(a, b *memMember) int {
		return cmp.Or(a.m.CreatedAt.Compare(b.m.CreatedAt), cmp.Compare(a.n, b.n))
	})
	var out []*image.Member
	for _, m := range rows {
		c := m.m
		out = append(out, &c)
	}
	return out, nil
}

// member is the live membership row, or nil. mu is held.
func (r *MemRepo) member(imageID, memberID string) *memMember {
	if e := r.images[imageID]; e != nil {
		for _, m := range e.members {
			if !m.deleted && m.m.MemberID == memberID {
				return m
			}
		}
	}
	return nil
}

// Member returns one live membership.
func (r *MemRepo) Member(ctx context.Context, imageID, memberID string) (*image.Member, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.member(imageID, memberID)
	if m == nil {
		return nil, errs.Errorf("imagetest.Member", errs.NotFound, "Member %s not found", memberID)
	}
	c := m.m
	return &c, nil
}

// AddMember adds a membership, deciding the quota and duplicates under
// the image's lock; a deleted membership is brought back.
func (r *MemRepo) AddMember(ctx context.Context, m *image.Member, quota int) error {
	const op errs.Op = "imagetest.AddMember"
	defer r.locks.lock("image/" + m.ImageID)()
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.live(m.ImageID)
	if e == nil {
		return notFound(op, m.ImageID)
	}
	n := 0
	var prior *memMember
	for _, o := range e.members {
		if o.m.MemberID == m.MemberID {
			prior = o // the last row of the member, live or not
		}
		if !o.deleted {
			n++
		}
	}
	// The quota first, as Glance checks it.
	if quota >= 0 && n+1 > quota {
		return errs.Errorf(op, errs.TooLarge, "The limit has been exceeded on the number of allowed image members for this image. Attempted: %d, Maximum: %d", n+1, quota)
	}
	if prior != nil && !prior.deleted {
		return errs.Errorf(op, errs.Conflict, "Member %s is duplicated for image %s", m.MemberID, m.ImageID)
	}
	if prior == nil {
		r.lastMember++
		prior = &memMember{n: r.lastMember}
		e.members = append(e.members, prior)
	}
	prior.m, prior.deleted, prior.deletedAt = *m, false, time.Time{}
	return nil
}

// UpdateMember saves a live membership's status.
func (r *MemRepo) UpdateMember(ctx context.Context, m *image.Member) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	row := r.member(m.ImageID, m.MemberID)
	if row == nil {
		return errs.Errorf("imagetest.UpdateMember", errs.NotFound, "Member %s not found", m.MemberID)
	}
	row.m.Status, row.m.UpdatedAt = m.Status, m.UpdatedAt
	return nil
}

// DeleteMember soft-deletes a live membership.
func (r *MemRepo) DeleteMember(ctx context.Context, imageID, memberID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	row := r.member(imageID, memberID)
	if row == nil {
		return errs.Errorf("imagetest.DeleteMember", errs.NotFound, "Member %s not found", memberID)
	}
	row.deleted, row.deletedAt = true, time.Now().UTC()
	return nil
}

// Usage counts owner's images as Glance counts them.
func (r *MemRepo) Usage(ctx context.Context, owner string) (image.Usage, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.usage(owner, ""), nil
}

// usage is the SQL repositories' count: of the owner's live images but
// except, killed ones left out, the stored bytes (size × live locations),
// the staged bytes and uploads (uploading, importing, or copying to
// stores; saving counts as an upload too). mu is held.
func (r *MemRepo) usage(owner, except string) image.Usage {
	var u image.Usage
	for id, e := range r.images {
		img := e.img
		if id == except || img.Deleted || img.Status == image.Killed || img.Status == image.Deleted || !ownedBy(img, owner) {
			continue
		}
		u.Images++
		size := int64(0)
		if img.Size != nil {
			size = *img.Size
		}
		copying := img.Properties["os_glance_importing_to_stores"] != ""
		if size > 0 {
			for _, l := range e.locs {
				if !l.deleted && l.loc.Status != "deleted" {
					u.StoredBytes += size
				}
			}
			if img.Status == image.Uploading || img.Status == image.Importing || copying {
				u.StagedBytes += size
			}
		}
		if img.Status == image.Saving || img.Status == image.Uploading || img.Status == image.Importing || copying {
			u.Uploading++
		}
	}
	return u
}

// ScrubQueue returns up to limit pending_delete images deleted before
// before, oldest first, each with its pending locations.
func (r *MemRepo) ScrubQueue(ctx context.Context, before time.Time, limit int) ([]*image.Image, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*image.Image
	for _, e := range r.images {
		img := e.img
		if img.Status != image.PendingDelete || img.DeletedAt == nil || img.DeletedAt.After(before) {
			continue
		}
		row := e.row()
		for _, l := range e.locs {
			if l.loc.Status == string(image.PendingDelete) {
				row.Locations = append(row.Locations, image.Location{ID: l.loc.ID, URL: l.loc.URL, Status: l.loc.Status})
			}
		}
		out = append(out, row)
	}
	slices.SortFunc(out, func(a, b *image.Image) int {
		return cmp.Or(a.DeletedAt.Compare(*b.DeletedAt), cmp.Compare(a.ID, b.ID))
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// LocationScrubbed marks a pending location's data gone.
func (r *MemRepo) LocationScrubbed(ctx context.Context, locID int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.images {
		for _, l := range e.locs {
			if l.loc.ID == locID && l.loc.Status == string(image.PendingDelete) {
				l.deleted, l.loc.Status = true, "deleted"
			}
		}
	}
	return nil
}

// Scrubbed moves a pending_delete image to deleted; others stay.
func (r *MemRepo) Scrubbed(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.images[id]; e != nil && e.img.Status == image.PendingDelete {
		e.img.Status, e.img.UpdatedAt = image.Deleted, time.Now().UTC()
	}
	return nil
}

// Restore brings a pending_delete image back to active, with its pending
// locations and the memberships deleted with it.
func (r *MemRepo) Restore(ctx context.Context, id string) error {
	const op errs.Op = "imagetest.Restore"
	defer r.locks.lock("image/" + id)()
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.images[id]
	if e == nil {
		return notFound(op, id)
	}
	img := e.img
	if img.Status != image.PendingDelete {
		return errs.Errorf(op, errs.Conflict, "cannot restore the image from %s to active (wanted from_state=pending_delete)", img.Status)
	}
	for _, m := range e.members {
		if m.deleted && img.DeletedAt != nil && m.deletedAt.Equal(*img.DeletedAt) {
			m.deleted, m.deletedAt = false, time.Time{}
		}
	}
	for _, l := range e.locs {
		if l.loc.Status == string(image.PendingDelete) {
			l.deleted, l.loc.Status = false, "active"
		}
	}
	img.Status, img.Deleted, img.DeletedAt, img.UpdatedAt = image.Active, false, nil, time.Now().UTC()
	return nil
}

// StaleUploads returns live images in saving not changed since before,
// least recently changed first.
func (r *MemRepo) StaleUploads(ctx context.Context, before time.Time) ([]*image.Image, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*image.Image
	for _, e := range r.images {
		if img := e.img; !img.Deleted && img.Status == image.Saving && img.UpdatedAt.Before(before) {
			out = append(out, e.row())
		}
	}
	slices.SortFunc(out, func(a, b *image.Image) int {
		return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out[:min(len(out), 1000)], nil
}

// Touch moves the updated_at of an image still in status to now.
func (r *MemRepo) Touch(ctx context.Context, id string, status image.Status) error {
	defer r.locks.lock("image/" + id)()
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.images[id]; e != nil && e.img.Status == status {
		e.img.UpdatedAt = time.Now().UTC()
	}
	return nil
}

// LocationInUse reports whether a live image other than except has a
// live location at url.
func (r *MemRepo) LocationInUse(ctx context.Context, url, except string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, e := range r.images {
		if id == except || e.img.Deleted {
			continue
		}
		for _, l := range e.locs {
			if !l.deleted && l.loc.Status != "deleted" && l.loc.URL == url {
				return true, nil
			}
		}
	}
	return false, nil
}
