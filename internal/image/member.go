package image

import (
	"context"
	"fmt"
	"time"

	"glint/internal/auth"
	"glint/internal/errs"
)

// Member statuses.
const (
	MemberPending  = "pending"
	MemberAccepted = "accepted"
	MemberRejected = "rejected"
)

// Member is one project an image is shared with.
type Member struct {
	ImageID   string
	MemberID  string
	Status    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// MemberRepo is what the service needs from the database for sharing.
type MemberRepo interface {
	// Members lists an image's memberships, oldest first.
	Members(ctx context.Context, imageID string) ([]*Member, error)
	// Member returns one membership, errs.NotFound if there is none.
	Member(ctx context.Context, imageID, memberID string) (*Member, error)
	// AddMember inserts m unless the image already has quota members
	// (errs.TooLarge; quota < 0 is unlimited) or m exists (errs.Conflict),
	// checked in that order, as Glance does, and under the image's row
	// lock. An unknown or deleted image is errs.NotFound; a deleted
	// membership can be added again.
	AddMember(ctx context.Context, m *Member, quota int) error
	// UpdateMember saves m's status and updated_at; errs.NotFound if
	// there is no such membership.
	UpdateMember(ctx context.Context, m *Member) error
	// DeleteMember removes a membership; errs.NotFound if there is none.
	DeleteMember(ctx context.Context, imageID, memberID string) error
}

// membership returns the caller's membership of img, or nil. Only shared
// images have members that count; Glance's image target names it member_id.
func (s *Service) membership(ctx context.Context, img *Image) *Member {
	a := auth.From(ctx)
	if img.Visibility != Shared || a.ProjectID == "" || s.members == nil || img.Owner != nil && *img.Owner == a.ProjectID {
		return nil
	}
	m, err := s.members.Member(ctx, img.ID, a.ProjectID)
	if err != nil {
		return nil
	}
	return m
}

// memberImage finds the image of a member request: one the caller may
// see, or "Image … not found." as Glance words it on these routes.
func (s *Service) memberImage(ctx context.Context, op errs.Op, id string) (*Image, error) {
	img, err := s.get(ctx, id)
	if errs.Is(errs.NotFound, err) {
		return nil, errs.Errorf(op, errs.NotFound, "Image %s not found.", id)
	}
	if err != nil {
		return nil, errs.E(op, err)
	}
	return img, nil
}

// isConsumer reports whether the caller sees img only as a member: not
// its owner and not an admin.
func isConsumer(a *auth.Context, img *Image) bool {
	return !a.MayChangeRef(img.Owner)
}

func memberNotFound(op errs.Op, imageID, memberID string) error {
	return errs.Errorf(op, errs.NotFound, "%s not found in the member list of the image %s.", memberID, imageID)
}

// lookupMember reads one membership as the caller may see it: a
// consumer sees only its own.
func (s *Service) lookupMember(ctx context.Context, op errs.Op, img *Image, memberID string) (*Member, error) {
	if err := s.authorize(ctx, "get_member", img); err != nil {
		if errs.Is(errs.NotFound, err) {
			return nil, errs.E(op, err)
		}
		return nil, errs.Errorf(op, errs.Forbidden, "You are not authorized to lookup the members of the image %s.", img.ID)
	}
	a := auth.From(ctx)
	if isConsumer(a, img) && memberID != a.ProjectID {
		return nil, memberNotFound(op, img.ID, memberID)
	}
	m, err := s.members.Member(ctx, img.ID, memberID)
	if errs.Is(errs.NotFound, err) {
		return nil, memberNotFound(op, img.ID, memberID)
	}
	if err != nil {
		return nil, errs.E(op, err)
	}
	return m, nil
}

// legacyOwnerChecks reports whether Glance's hard-coded ownership checks
// apply: without secure RBAC, for any caller but an admin.
func (s *Service) legacyOwnerChecks(ctx context.Context) bool {
	return !s.opts.SecureRBAC && !auth.From(ctx).IsAdmin
}

// Members lists an image's members: all of them for its owner, only the
// caller's own membership for a consumer.
func (s *Service) Members(ctx context.Context, imageID string) ([]*Member, error) {
	const op errs.Op = "image.Members"
	img, err := s.memberImage(ctx, op, imageID)
	if err != nil {
		return nil, err
	}
	refuse := func(why string) error {
		return errs.Errorf(op, errs.Forbidden, "Not allowed to list members for image %s: %s", imageID, why)
	}
	if img.Visibility != Shared {
		return nil, refuse("Only shared images have members.")
	}
	if err := s.authorize(ctx, "get_members", img); err != nil {
		if errs.Is(errs.NotFound, err) {
			return nil, errs.E(op, err)
		}
		return nil, refuse(errs.Message(err))
	}
	ms, err := s.members.Members(ctx, imageID)
	if err != nil {
		return nil, errs.E(op, err)
	}
	if s.authorize(ctx, "get_member", img) != nil {
		return []*Member{}, nil
	}
	a := auth.From(ctx)
	out := ms[:0]
	for _, m := range ms {
		if !isConsumer(a, img) || m.MemberID == a.ProjectID {
			out = append(out, m)
		}
	}
	return out, nil
}

// Member returns one membership. Every refusal is a 404 here, as in
// Glance, so that nothing leaks.
func (s *Service) Member(ctx context.Context, imageID, memberID string) (*Member, error) {
	const op errs.Op = "image.Member"
	img, err := s.memberImage(ctx, op, imageID)
	if err != nil {
		return nil, err
	}
	if img.Visibility != Shared {
		return nil, errs.E(op, errs.NotFound, "Only shared images have members.")
	}
	m, err := s.lookupMember(ctx, op, img, memberID)
	if errs.Is(errs.Forbidden, err) {
		return nil, errs.E(op, errs.NotFound, errs.Message(err))
	}
	return m, err
}

// AddMember shares an image with a project; only its owner (or an admin)
// may, and the new membership is pending.
func (s *Service) AddMember(ctx context.Context, imageID, memberID string) (*Member, error) {
	const op errs.Op = "image.AddMember"
	img, err := s.memberImage(ctx, op, imageID)
	if err != nil {
		return nil, err
	}
	refused := errs.Errorf(op, errs.Forbidden, "Not allowed to create members for image %s.", imageID)
	a := auth.From(ctx)
	if img.Visibility != Shared || s.legacyOwnerChecks(ctx) && !a.MayChangeRef(img.Owner) {
		return nil, refused
	}
	if err := s.authorize(ctx, "add_member", img); err != nil {
		if errs.Is(errs.NotFound, err) {
			return nil, errs.E(op, err)
		}
		return nil, refused
	}
	if a.ReadOnly {
		return nil, refused
	}
	now := s.now().UTC()
	m := &Member{ImageID: imageID, MemberID: memberID, Status: MemberPending, CreatedAt: now, UpdatedAt: now}
	if err := s.members.AddMember(ctx, m, s.opts.MemberQuota); err != nil {
		switch errs.KindOf(err) {
		case errs.Conflict:
			return nil, errs.Errorf(op, errs.Conflict, "Member %s is duplicated for image %s", memberID, imageID)
		case errs.TooLarge:
			// Glance's message ends with a stray colon; clients may match it.
			return nil, errs.Errorf(op, errs.TooLarge, "Image member limit exceeded for image %s: %s:", imageID, errs.Message(err))
		}
		return nil, errs.E(op, err)
	}
	s.notifyMember(ctx, "image.member.create", m, false)
	return m, nil
}

// UpdateMember sets a membership's status; only the member itself (or an
// admin) may: the owner cannot accept on the consumer's behalf.
func (s *Service) UpdateMember(ctx context.Context, imageID, memberID, status string) (*Member, error) {
	const op errs.Op = "image.UpdateMember"
	img, err := s.memberImage(ctx, op, imageID)
	if err != nil {
		return nil, err
	}
	refused := errs.Errorf(op, errs.Forbidden, "Not allowed to update members for image %s.", imageID)
	a := auth.From(ctx)
	if img.Visibility != Shared || s.legacyOwnerChecks(ctx) && a.MayChangeRef(img.Owner) {
		return nil, refused
	}
	m, err := s.lookupMember(ctx, op, img, memberID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, "modify_member", img); err != nil {
		if errs.Is(errs.NotFound, err) {
			return nil, errs.E(op, err)
		}
		return nil, refused
	}
	if a.ReadOnly {
		return nil, refused
	}
	switch status {
	case MemberPending, MemberAccepted, MemberRejected:
	default:
		return nil, errs.E(op, errs.Invalid, `Incorrect request: Status must be "pending", "accepted" or "rejected".`)
	}
	m.Status = status
	m.UpdatedAt = s.now().UTC()
	if err := s.members.UpdateMember(ctx, m); err != nil {
		return nil, errs.E(op, err)
	}
	s.notifyMember(ctx, "image.member.update", m, false)
	return m, nil
}

// DeleteMember stops sharing an image with a project; only its owner (or
// an admin) may.
func (s *Service) DeleteMember(ctx context.Context, imageID, memberID string) error {
	const op errs.Op = "image.DeleteMember"
	img, err := s.memberImage(ctx, op, imageID)
	if err != nil {
		return err
	}
	refused := errs.Errorf(op, errs.Forbidden, "Not allowed to delete members for image %s.", imageID)
	a := auth.From(ctx)
	if img.Visibility != Shared || s.legacyOwnerChecks(ctx) && !a.MayChangeRef(img.Owner) {
		return refused
	}
	m, err := s.lookupMember(ctx, op, img, memberID)
	if err != nil {
		return err
	}
	if err := s.authorize(ctx, "delete_member", img); err != nil {
		if errs.Is(errs.NotFound, err) {
			return errs.E(op, err)
		}
		return refused
	}
	if a.ReadOnly {
		return refused
	}
	if err := s.members.DeleteMember(ctx, imageID, memberID); err != nil {
		if errs.Is(errs.NotFound, err) {
			return memberNotFound(op, imageID, memberID)
		}
		return errs.E(op, err)
	}
	s.notifyMember(ctx, "image.member.delete", m, true)
	return nil
}

// String is for logs.
func (m *Member) String() string { return fmt.Sprintf("%s→%s(%s)", m.ImageID, m.MemberID, m.Status) }
