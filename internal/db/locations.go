package db

import (
	"context"

	"glint/internal/errs"
)

// LocationInUse reports whether an image other than except has a live
// location at url: that data must outlive the removal of except's copy.
// It runs on every delete: a lookup of url's live rows through
// glint_image_locations_value_live (migration 8), whatever the number of
// locations ever written.
func (r *Images) LocationInUse(ctx context.Context, url, except string) (bool, error) {
	c := r.db.reader()
	var n int
	err := c.queryRow(ctx, locationInUseSQL[c.d], url, except).Scan(&n)
	if err != nil {
		return false, dbErr(errs.Op("db.Images.LocationInUse"), err)
	}
	return n > 0, nil
}

// locationInUseSQL is LocationInUse's statement on each dialect: one row
// is enough to answer.
var locationInUseSQL = func() (q [3]string) {
	for _, d := range []dialect{dSQLite, dPostgres, dMySQL} {
		q[d] = `SELECT COUNT(*) FROM (SELECT 1 FROM image_locations l JOIN images i ON i.id = l.image_id
		WHERE l.value = ? AND l.image_id <> ? AND l.status <> 'deleted' AND ` + d.live("l.deleted") +
			" AND " + d.notDeleted("i.deleted") + " LIMIT 1) AS x"
	}
	return q
}()
