package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// BulkInsertForBench fills the database with n synthetic images.
func (d *DB) BulkInsertForBench(ctx context.Context, n int) error {
	return d.inTx(ctx, "bench", func(tx *sql.Tx) error {
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
			ts := fmtTime(base.Add(time.Duration(i) * time.Second))
			if _, err := tx.ExecContext(ctx, `INSERT INTO images (id, name, size, status, created_at, updated_at, deleted,
				disk_format, container_format, min_disk, min_ram, protected, visibility, os_hidden)
				VALUES (?,?,?,?,?,?,0,'raw','bare',0,0,0,'shared',0)`, id, fmt.Sprintf("image-%d", i), i, "active", ts, ts); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO image_properties (image_id, name, value, created_at, deleted) VALUES (?,?,?,?,0),(?,?,?,?,0)`,
				id, "os_distro", fmt.Sprintf("distro-%d", i%10), ts, id, "hw_arch", "x86_64", ts); err != nil {
				return err
			}
			tag := fmt.Sprintf("tag-%d", i%10)
			if i == n/3 {
				tag = "rare"
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO image_tags (image_id, value, created_at, deleted) VALUES (?,?,?,0)`, id, tag, ts); err != nil {
				return err
			}
		}
		return nil
	})
}
