-- glint:phase expand
-- Indexes that keep GET /v2/images fast at 100,000 images. Glance does not
-- have them; extra indexes do not disturb it.
--
-- As sqlite's 00002, except: a nullable sort column leads its index with
-- NULLS FIRST, the order Glint lists in on every database; and property
-- values (TEXT, of any length) get a hash index, since a B-tree entry over
-- about 2.7 kB would make the insert of a long value fail.

-- +goose Up
CREATE INDEX IF NOT EXISTS glint_images_created_id ON images (created_at, id);
CREATE INDEX IF NOT EXISTS glint_images_name ON images (name NULLS FIRST, created_at, id);
CREATE INDEX IF NOT EXISTS glint_images_size ON images (size NULLS FIRST, created_at, id);
CREATE INDEX IF NOT EXISTS glint_images_updated ON images (updated_at NULLS FIRST, created_at, id);
CREATE INDEX IF NOT EXISTS glint_image_tags_value ON image_tags (value, image_id);
CREATE INDEX IF NOT EXISTS glint_image_properties_value ON image_properties USING hash (value);
CREATE INDEX IF NOT EXISTS glint_image_members_member ON image_members (member, image_id);

-- +goose Down
DROP INDEX IF EXISTS glint_images_created_id;
DROP INDEX IF EXISTS glint_images_name;
DROP INDEX IF EXISTS glint_images_size;
DROP INDEX IF EXISTS glint_images_updated;
DROP INDEX IF EXISTS glint_image_tags_value;
DROP INDEX IF EXISTS glint_image_properties_value;
DROP INDEX IF EXISTS glint_image_members_member;
