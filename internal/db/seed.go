package db

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Churn describes the rows SeedChurn writes: what a cloud that has run
// for years holds, for the churn benchmark (glintbench seed) and the plan
// tests.
type Churn struct {
	// Deleted and Live images, interleaved in creation time (one second
	// apart, from Start) so that every index walks past both kinds.
	Deleted, Live int
	// Owner of every image; "" leaves it NULL, as an image made without
	// a project (noauth) has it.
	Owner string
	// IDPrefix is the first group (8 hex digits) of the seeded images'
	// IDs, so that seeds do not collide; "" is "5eed0000".
	IDPrefix string
	// LocationBase is prepended to an image's ID for its location's URL;
	// "" is "file:///var/lib/glint/seeded/". Nothing is stored there:
	// the benchmark never reads or deletes a seeded image's data.
	LocationBase string
	// Start is the creation time of the first image; zero is 2025-01-01.
	Start time.Time
}

// SeedChurn writes c's images in bulk, in multi-row INSERTs of a
// thousand images and their child rows per transaction (the API would
// take hours for 400,000): each image with one location, two properties
// and a tag; one in five with a member ("member-N", N < 50), one in ten
// public, and a task for one in ten. A deleted image's rows are all
// deleted with it, as Images.Delete leaves them (status deleted, the
// children soft-deleted with the image's deleted_at); a live one is
// active with a 4 KiB size. It refreshes the planner's statistics at the
// end (Analyze).
func (d *DB) SeedChurn(ctx context.Context, c Churn) error {
	if c.IDPrefix == "" {
		c.IDPrefix = "5eed0000"
	}
	if len(c.IDPrefix) != 8 || strings.Trim(c.IDPrefix, "0123456789abcdef") != "" {
		return fmt.Errorf("seed: ID prefix %q is not 8 lower-case hex digits", c.IDPrefix)
	}
	if c.LocationBase == "" {
		c.LocationBase = "file:///var/lib/glint/seeded/"
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	var owner any
	if c.Owner != "" {
		owner = c.Owner
	}
	total := c.Deleted + c.Live
	const batch = 1000
	deleted := 0
	for from := 0; from < total; from += batch {
		to := min(from+batch, total)
		var imgs, locs, props, tags, members, tasks []string
		var ia, la, pa, ta, ma, ka []any
		for k := from; k < to; k++ {
			// Alternate while both kinds remain, then the rest.
			del := deleted < c.Deleted && (k%2 == 0 || k-deleted >= c.Live)
			if del {
				deleted++
			}
			id := fmt.Sprintf("%s-0000-4000-8000-%012d", c.IDPrefix, k)
			at := c.Start.Add(time.Duration(k) * time.Second)
			created, gone := d.d.ts(at), any(nil)
			status, locStatus := "active", "active"
			if del {
				gone = d.d.ts(at.Add(time.Minute))
				status, locStatus = "deleted", "deleted"
			}
			vis := "private"
			if k%10 == 0 {
				vis = "public"
			}
			imgs = append(imgs, "(?,?,4096,?,?,?,?,?,'raw','bare',0,0,false,?,false,?)")
			ia = append(ia, id, fmt.Sprintf("churn-%d", k), status, created, created, gone, del, vis, owner)
			locs = append(locs, "(?,?,?,?,?,?,'{}',?)")
			la = append(la, id, c.LocationBase+id, created, created, gone, del, locStatus)
			props = append(props, "(?,'os_distro',?,?,?,?)", "(?,'hw_arch','x86_64',?,?,?)")
			pa = append(pa, id, fmt.Sprintf("distro-%d", k%10), created, gone, del, id, created, gone, del)
			tags = append(tags, "(?,?,?,?,?)")
			ta = append(ta, id, fmt.Sprintf("tag-%d", k%10), created, gone, del)
			if k%5 == 0 {
				members = append(members, "(?,?,false,?,?,?,'accepted')")
				ma = append(ma, id, fmt.Sprintf("member-%d", k%50), created, gone, del)
			}
			if k%10 == 0 {
				tasks = append(tasks, "(?,'import','success',?,?,?,?,?,?)")
				ka = append(ka, fmt.Sprintf("%s-0000-4000-9000-%012d", c.IDPrefix, k), c.Owner, d.d.ts(at.Add(48*time.Hour)),
					created, gone, del, id)
			}
		}
		err := d.inTx(ctx, "db.SeedChurn", func(tx conn) error {
			for _, s := range []struct {
				into string
				rows []string
				args []any
			}{
				{"images (id, name, size, status, created_at, updated_at, deleted_at, deleted, disk_format, container_format, min_disk, min_ram, protected, visibility, os_hidden, owner)", imgs, ia},
				{"image_locations (image_id, value, created_at, updated_at, deleted_at, deleted, meta_data, status)", locs, la},
				{"image_properties (image_id, name, value, created_at, deleted_at, deleted)", props, pa},
				{"image_tags (image_id, value, created_at, deleted_at, deleted)", tags, ta},
				{"image_members (image_id, member, can_share, created_at, deleted_at, deleted, status)", members, ma},
				{"tasks (id, type, status, owner, expires_at, created_at, deleted_at, deleted, image_id)", tasks, ka},
			} {
				if len(s.rows) == 0 {
					continue
				}
				if _, err := tx.exec(ctx, "INSERT INTO "+s.into+" VALUES "+strings.Join(s.rows, ","), s.args...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return d.Analyze(ctx)
}

// Analyze refreshes the planner's statistics after a bulk load, as
// autovacuum (PostgreSQL) or InnoDB's automatic statistics (MySQL) would.
// SQLite's planner runs without statistics, as Glint ships it.
func (d *DB) Analyze(ctx context.Context) error {
	var q string
	switch d.d {
	case dPostgres:
		q = "ANALYZE"
	case dMySQL:
		q = "ANALYZE TABLE images, image_locations, image_properties, image_tags, image_members, tasks"
	default:
		return nil
	}
	rows, err := d.write.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	return closeRows(rows)
}
