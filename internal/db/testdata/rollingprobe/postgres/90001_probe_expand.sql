-- glint:phase expand
-- Test only (built in with -tags glint_rollingprobe): a new column on
-- Glance's images table and an index on it, while the release before
-- reads and writes images.

-- +goose Up
ALTER TABLE images ADD COLUMN glint_rolling_probe VARCHAR(36);
CREATE INDEX glint_images_rolling_probe ON images (glint_rolling_probe);

-- +goose Down
DROP INDEX glint_images_rolling_probe;
ALTER TABLE images DROP COLUMN glint_rolling_probe;
