-- glint:phase expand
-- A tag filter first counts (up to 200) the images carrying the tag, then
-- probes each image it walks for the tag. With deleted in the index both
-- are answered from the index alone. Without it each counted row cost a
-- lookup in image_tags itself, in image_id order, that is on a page of its
-- own: a list cycling through ten common tags at 100,000 images on SQLite ran
-- at half the rate of the same list filtered on a property.

-- +goose Up
CREATE INDEX IF NOT EXISTS glint_image_tags_value_live ON image_tags (value, image_id, deleted);
DROP INDEX IF EXISTS glint_image_tags_value;

-- +goose Down
CREATE INDEX IF NOT EXISTS glint_image_tags_value ON image_tags (value, image_id);
DROP INDEX IF EXISTS glint_image_tags_value_live;
