-- glint:phase expand
-- Indexes that keep GET /v2/images fast at 100,000 images. Glance does not
-- have them; extra indexes do not disturb it.

-- +goose Up
CREATE INDEX IF NOT EXISTS glint_images_created_id ON images (created_at, id);
CREATE INDEX IF NOT EXISTS glint_images_name ON images (name, created_at, id);
CREATE INDEX IF NOT EXISTS glint_images_size ON images (size, created_at, id);
CREATE INDEX IF NOT EXISTS glint_images_updated ON images (updated_at, created_at, id);
CREATE INDEX IF NOT EXISTS glint_image_tags_value ON image_tags (value, image_id);
CREATE INDEX IF NOT EXISTS glint_image_properties_name_value ON image_properties (name, value);
CREATE INDEX IF NOT EXISTS glint_image_members_member ON image_members (member, image_id);

-- +goose Down
DROP INDEX IF EXISTS glint_images_created_id;
DROP INDEX IF EXISTS glint_images_name;
DROP INDEX IF EXISTS glint_images_size;
DROP INDEX IF EXISTS glint_images_updated;
DROP INDEX IF EXISTS glint_image_tags_value;
DROP INDEX IF EXISTS glint_image_properties_name_value;
DROP INDEX IF EXISTS glint_image_members_member;
