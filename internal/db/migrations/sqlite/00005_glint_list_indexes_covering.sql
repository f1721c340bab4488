-- glint:phase expand
-- Indexes that answer a listing's row checks and its child rows without
-- reading the tables. On SQLite every page a query touches passes through
-- one page cache shared by all connections behind one mutex (modernc's
-- build enables memory management); a CPU profile of filtered lists at
-- concurrency 16 spent a quarter of its time in that mutex, most of it for
-- table rows read only to check deleted, status or visibility.
--
--   - the default sort index also holds the columns every listing filters
--     on, so that an image the page does not take is never read;
--   - the property index that counts a value's images (rare or common) and
--     probes one image for it covers image_id and deleted (the probe names
--     it with INDEXED BY: the planner prefers the unique (image_id, name));
--   - properties and tags of a page of images are read from indexes
--     holding every column the listing needs.

-- +goose Up
CREATE INDEX IF NOT EXISTS glint_images_created_live ON images (created_at, id, deleted, status, visibility, os_hidden, owner);
DROP INDEX IF EXISTS glint_images_created_id;
CREATE INDEX IF NOT EXISTS glint_image_properties_name_value_live ON image_properties (name, value, image_id, deleted);
DROP INDEX IF EXISTS glint_image_properties_name_value;
CREATE INDEX IF NOT EXISTS glint_image_properties_image_live ON image_properties (image_id, name, value, deleted);
CREATE INDEX IF NOT EXISTS glint_image_tags_image_live ON image_tags (image_id, value, deleted);

-- +goose Down
CREATE INDEX IF NOT EXISTS glint_images_created_id ON images (created_at, id);
DROP INDEX IF EXISTS glint_images_created_live;
CREATE INDEX IF NOT EXISTS glint_image_properties_name_value ON image_properties (name, value);
DROP INDEX IF EXISTS glint_image_properties_name_value_live;
DROP INDEX IF EXISTS glint_image_properties_image_live;
DROP INDEX IF EXISTS glint_image_tags_image_live;
