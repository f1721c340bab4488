package db

import (
	"context"

	"glint/internal/errs"
)

// LocationInUse reports whether an image other than except has a live
// location at url: that data must outlive the removal of except's copy.
func (r *Images) LocationInUse(ctx context.Context, url, except string) (bool, error) {
	c := r.db.reader()
	var n int
	err := c.queryRow(ctx, `SELECT COUNT(*) FROM image_locations l JOIN images i ON i.id = l.image_id
		WHERE l.value = ? AND l.image_id <> ? AND l.status <> 'deleted' AND `+c.d.notDeleted("l.deleted")+
		" AND "+c.d.notDeleted("i.deleted"), url, except).Scan(&n)
	if err != nil {
		return false, dbErr(errs.Op("db.Images.LocationInUse"), err)
	}
	return n > 0, nil
}
