package db

import (
	"context"
	"fmt"
	"strings"
	"time"

	"glint/internal/image"
)

// BulkInsertForBench fills the database with n synthetic images, each with
// two properties and a tag, in multi-row INSERTs: one in ten is public,
// the others private to one of 100 projects ("project-N", N = i % 100).
func (d *DB) BulkInsertForBench(ctx context.Context, n int) error {
	const batch = 500
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for from := 0; from < n; from += batch {
		to := min(from+batch, n)
		var imgs, props, tags []string
		var ia, pa, ta []any
		for i := from; i < to; i++ {
			id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
			ts := d.d.ts(base.Add(time.Duration(i) * time.Second))
			// A tenth of the images are public; the rest belong to 100
			// projects, a thousand each at 100,000 images.
			vis := "private"
			if i%10 == 0 {
				vis = "public"
			}
			imgs = append(imgs, "(?,?,?,'active',?,?,false,'raw','bare',0,0,false,?,false,?)")
			ia = append(ia, id, fmt.Sprintf("image-%d", i), i, ts, ts, vis, fmt.Sprintf("project-%d", i%100))
			props = append(props, "(?,'os_distro',?,?,false)", "(?,'hw_arch','x86_64',?,false)")
			pa = append(pa, id, fmt.Sprintf("distro-%d", i%10), ts, id, ts)
			tag := fmt.Sprintf("tag-%d", i%10)
			if i == n/3 {
				tag = "rare"
			}
			tags = append(tags, "(?,?,?,false)")
			ta = append(ta, id, tag, ts)
		}
		err := d.inTx(ctx, "bench", func(tx conn) error {
			if _, err := tx.exec(ctx, `INSERT INTO images (id, name, size, status, created_at, updated_at, deleted,
				disk_format, container_format, min_disk, min_ram, protected, visibility, os_hidden, owner) VALUES `+strings.Join(imgs, ","), ia...); err != nil {
				return err
			}
			if _, err := tx.exec(ctx, `INSERT INTO image_properties (image_id, name, value, created_at, deleted) VALUES `+strings.Join(props, ","), pa...); err != nil {
				return err
			}
			_, err := tx.exec(ctx, `INSERT INTO image_tags (image_id, value, created_at, deleted) VALUES `+strings.Join(tags, ","), ta...)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ListPlanForTest is the database's plan (ExplainForTest) of the query
// List runs for q and v, after the selectivity probes it ran.
func (d *DB) ListPlanForTest(ctx context.Context, q image.ListQuery, v image.Viewer) ([]string, error) {
	from, args, err := d.Images().listSQL(ctx, d.reader(), q, v)
	if err != nil {
		return nil, err
	}
	return d.ExplainForTest(ctx, "SELECT "+prefixed("i.", imageCols)+from, args)
}
