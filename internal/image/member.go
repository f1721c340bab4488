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
	Members(ctx context.Context, imageID string) ([]*Member, error)
	// Member returns one membership, errs.NotFound if there is none.
	Member(ctx context.Context, imageID, memberID string) (*Member, error)
	// AddMember inserts m unless it exists (errs.Conflict) or the image
	// already has quota members (errs.TooLarge; quota < 0 is unlimited),
	// deciding both under the image's row lock.
	AddMember(ctx context.Context, m *Member, quota int) error
	UpdateMember(ctx context.Context, m *Member) error
	DeleteMember(ctx context.Context, imageID, memberID string) error
}

// membership returns the caller's membership of img, or nil. Glance's
// image target names it member_id.
func (s *Service) membership(ctx context.Context, img *Image) *Member {
	a := auth.From(ctx)
	if a.ProjectID == "" || s.members == nil || img.Owner != nil && *img.Owner == a.ProjectID {
		return nil
	}
	m, err := s.members.Member(ctx, img.ID, a.ProjectID)
	if err != nil {
		return nil
	}
	return m
}

// sharedImage returns a visible image that may have members: Glance
// refuses member calls on any other visibility.
func (s *Service) sharedImage(ctx context.Context, op errs.Op, id string) (*Image, error) {
	img, err := s.get(ctx, id)
	if err != nil {
		return nil, errs.E(op, err)
	}
	if img.Visibility != Shared {
		return nil, errs.E(op, errs.Forbidden, "Only shared images have members.")
	}
	return img, nil
}

// isConsumer reports whether the caller sees img only as a member: not
// its owner and not an admin.
func isConsumer(a *auth.Context, img *Image) bool {
	return !a.IsAdmin && img.Owner != nil && *img.Owner != a.ProjectID
}

// Members lists an image's members: all of them for its owner, only the
// caller's own membership for a consumer.
func (s *Service) Members(ctx context.Context, imageID string) ([]*Member, error) {
	const op errs.Op = "image.Members"
	img, err := s.sharedImage(ctx, op, imageID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, "get_members", img); err != nil {
		return nil, errs.E(op, err)
	}
	ms, err := s.members.Members(ctx, imageID)
	if err != nil {
		return nil, errs.E(op, err)
	}
	a := auth.From(ctx)
	out := ms[:0]
	for _, m := range ms {
		if isConsumer(a, img) && m.MemberID != a.ProjectID {
			continue
		}
		if s.authorize(ctx, "get_member", img) != nil {
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// Member returns one membership; a membership the caller may not see is
// NotFound, as in Glance.
func (s *Service) Member(ctx context.Context, imageID, memberID string) (*Member, error) {
	const op errs.Op = "image.Member"
	notFound := errs.Errorf(op, errs.NotFound, "Member %s not found", memberID)
	img, err := s.get(ctx, imageID)
	if err != nil {
		return nil, errs.E(op, err)
	}
	if img.Visibility != Shared {
		return nil, notFound
	}
	a := auth.From(ctx)
	if isConsumer(a, img) && memberID != a.ProjectID {
		return nil, notFound
	}
	if err := s.authorize(ctx, "get_member", img); err != nil {
		return nil, notFound
	}
	m, err := s.members.Member(ctx, imageID, memberID)
	if err != nil {
		return nil, errs.E(op, err)
	}
	return m, nil
}

// AddMember shares an image with a project; only its owner (or an admin)
// may, and the new membership is pending.
func (s *Service) AddMember(ctx context.Context, imageID, memberID string) (*Member, error) {
	const op errs.Op = "image.AddMember"
	img, err := s.sharedImage(ctx, op, imageID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, "add_member", img); err != nil {
		return nil, errs.E(op, err)
	}
	a := auth.From(ctx)
	if isConsumer(a, img) || a.ReadOnly {
		return nil, errs.Errorf(op, errs.Forbidden, "You are not permitted to create image members for the image %s.", imageID)
	}
	now := s.now().UTC()
	m := &Member{ImageID: imageID, MemberID: memberID, Status: MemberPending, CreatedAt: now, UpdatedAt: now}
	if err := s.members.AddMember(ctx, m, s.opts.MemberQuota); err != nil {
		switch errs.KindOf(err) {
		case errs.Conflict:
			return nil, errs.Errorf(op, errs.Conflict, "Member %s is duplicated for image %s", memberID, imageID)
		case errs.TooLarge:
			return nil, errs.Errorf(op, errs.TooLarge, "Image member limit exceeded for image %s: %s", imageID, errs.Message(err))
		}
		return nil, errs.E(op, err)
	}
	return m, nil
}

// UpdateMember sets a membership's status; only the member itself (or an
// admin) may: the owner cannot accept on the consumer's behalf.
func (s *Service) UpdateMember(ctx context.Context, imageID, memberID, status string) (*Member, error) {
	const op errs.Op = "image.UpdateMember"
	switch status {
	case MemberPending, MemberAccepted, MemberRejected:
	default:
		return nil, errs.Errorf(op, errs.Invalid, "Invalid status: %s", status)
	}
	m, err := s.Member(ctx, imageID, memberID)
	if err != nil {
		return nil, err
	}
	img, err := s.get(ctx, imageID)
	if err != nil {
		return nil, errs.E(op, err)
	}
	target := s.target(ctx, img)
	// modify_member's target is the membership: member_id is the member
	// being changed.
	target["member_id"] = memberID
	if err := s.authz.Authorize(ctx, "modify_member", target); err != nil {
		return nil, errs.E(op, err)
	}
	a := auth.From(ctx)
	if !a.IsAdmin && a.ProjectID != memberID {
		return nil, errs.E(op, errs.Forbidden, "You are not permitted to modify 'status' on this image member.")
	}
	m.Status = status
	m.UpdatedAt = s.now().UTC()
	if err := s.members.UpdateMember(ctx, m); err != nil {
		return nil, errs.E(op, err)
	}
	return m, nil
}

// DeleteMember stops sharing an image with a project; only its owner (or
// an admin) may.
func (s *Service) DeleteMember(ctx context.Context, imageID, memberID string) error {
	const op errs.Op = "image.DeleteMember"
	img, err := s.sharedImage(ctx, op, imageID)
	if err != nil {
		return err
	}
	a := auth.From(ctx)
	if isConsumer(a, img) {
		// A consumer sees its own membership, so a refusal is honest;
		// any other member stays hidden.
		if memberID != a.ProjectID {
			return errs.Errorf(op, errs.NotFound, "Member %s not found", memberID)
		}
	}
	if _, err := s.members.Member(ctx, imageID, memberID); err != nil {
		return errs.E(op, err)
	}
	if err := s.authorize(ctx, "delete_member", img); err != nil {
		return errs.E(op, err)
	}
	if isConsumer(a, img) || a.ReadOnly {
		return errs.Errorf(op, errs.Forbidden, "You are not permitted to delete image members for the image %s.", imageID)
	}
	if err := s.members.DeleteMember(ctx, imageID, memberID); err != nil {
		return errs.E(op, err)
	}
	return nil
}

// String is for logs.
func (m *Member) String() string { return fmt.Sprintf("%s→%s(%s)", m.ImageID, m.MemberID, m.Status) }
