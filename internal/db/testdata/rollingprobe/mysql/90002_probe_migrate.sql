-- glint:phase migrate
-- glint:pending SELECT 1 FROM images WHERE glint_rolling_probe IS NULL LIMIT 1
-- Test only: fills the new column, including for the images the release
-- before creates after a first run (the pending query finds them).

-- +goose Up
UPDATE images SET glint_rolling_probe = id
	WHERE glint_rolling_probe IS NULL;

-- +goose Down
