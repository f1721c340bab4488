-- glint:phase expand
-- Indexes that keep GET /v2/images fast at 100,000 images. Glance does not
-- have them; extra indexes do not disturb it.
--
-- As sqlite's 00002, except: property values (TEXT) are indexed by their
-- first 255 characters, which serves equality all the same; and the tag
-- index holds deleted, so that counting a tag's live images (to tell a
-- rare tag from a common one) reads the index alone. MySQL has no CREATE
-- INDEX IF NOT EXISTS; goose runs this once.

-- +goose Up
CREATE INDEX glint_images_created_id ON images (created_at, id);
CREATE INDEX glint_images_name ON images (name, created_at, id);
CREATE INDEX glint_images_size ON images (size, created_at, id);
CREATE INDEX glint_images_updated ON images (updated_at, created_at, id);
CREATE INDEX glint_image_tags_value ON image_tags (value, deleted, image_id);
CREATE INDEX glint_image_properties_name_value ON image_properties (name, value(255));
CREATE INDEX glint_image_members_member ON image_members (member, image_id);

-- +goose Down
DROP INDEX glint_images_created_id ON images;
DROP INDEX glint_images_name ON images;
DROP INDEX glint_images_size ON images;
DROP INDEX glint_images_updated ON images;
DROP INDEX glint_image_tags_value ON image_tags;
DROP INDEX glint_image_properties_name_value ON image_properties;
DROP INDEX glint_image_members_member ON image_members;
