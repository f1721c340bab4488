-- glint:phase contract
-- Test only: removes the column again, once no older node serves.

-- +goose Up
DROP INDEX glint_images_rolling_probe;
ALTER TABLE images DROP COLUMN glint_rolling_probe;

-- +goose Down
ALTER TABLE images ADD COLUMN glint_rolling_probe VARCHAR(36);
CREATE INDEX glint_images_rolling_probe ON images (glint_rolling_probe);
