package image

import (
	"context"
	"fmt"
	"time"

	"glint/internal/auth"
	"glint/internal/errs"
)

// ListQuery is a parsed GET /v2/images request.
type ListQuery struct {
	Limit  int
	Marker string // image id; "" for the first page
	Sort   []SortKey

	// Filters are ANDed. Field is a core column name (name, status, owner,
	// disk_format, container_format, id, checksum, os_hash_value, size,
	// created_at, updated_at, …) or, with Property set, a custom property.
	Filters []Filter
	Tags    []string // every tag must be present

	Visibility   string // "" = Glance's default (community hidden unless owned), or public|private|shared|community|all
	MemberStatus string // accepted (default), pending, rejected, all
	OSHidden     bool   // list only images whose os_hidden equals this
}

// SortKey is one ORDER BY term.
type SortKey struct {
	Key  string
	Desc bool
}

// Comparison operators of a Filter.
const (
	OpEq  = "eq"
	OpNeq = "neq"
	OpGt  = "gt"
	OpGte = "gte"
	OpLt  = "lt"
	OpLte = "lte"
	OpIn  = "in"
)

// Filter is one condition of a listing.
type Filter struct {
	Field    string
	Property bool   // Field names a custom property
	Op       string // one of the Op* constants
	Values   []string
	Time     time.Time // parsed value for created_at/updated_at
	Int      int64     // parsed value for size and other integer columns
}

// SortKeys are the keys Glance lets a client sort by.
var SortKeys = []string{"name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at"}

// Viewer is who a listing is for: it decides which images are visible.
type Viewer struct {
	Admin   bool
	Project string // "" when the caller has no project
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
