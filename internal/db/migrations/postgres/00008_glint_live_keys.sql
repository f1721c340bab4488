-- glint:phase expand
-- Indexes that let a keyed statement go straight to live rows (issue 32):
-- partial indexes over the live rows only (WHERE deleted = false, the
-- condition Glint's statements carry as written), so that no statement
-- reads a row of the images, locations, tags, properties and tasks that
-- were deleted, however many there are. Before this version "is this data
-- still another image's location", run on every delete, was a sequential
-- scan of image_locations (nothing indexed a location's URL): with
-- 200,000 live images a delete cycle ran at 14% of its rate on a fresh
-- database. Locations and property values are TEXT of any length: hash
-- indexes, since a B-tree entry over about 2.7 kB would make the insert of
-- a long value fail. Glance does not read these indexes; extra ones do
-- not disturb it.

-- +goose Up
CREATE INDEX IF NOT EXISTS glint_image_locations_value_live ON image_locations USING hash (value) WHERE deleted = false;
CREATE INDEX IF NOT EXISTS glint_images_created_live ON images (created_at, id) WHERE deleted = false;
DROP INDEX IF EXISTS glint_images_created_id;
DROP INDEX IF EXISTS glint_images_name;
CREATE INDEX glint_images_name ON images (name NULLS FIRST, created_at, id) WHERE deleted = false;
DROP INDEX IF EXISTS glint_images_size;
CREATE INDEX glint_images_size ON images (size NULLS FIRST, created_at, id) WHERE deleted = false;
DROP INDEX IF EXISTS glint_images_updated;
CREATE INDEX glint_images_updated ON images (updated_at NULLS FIRST, created_at, id) WHERE deleted = false;
CREATE INDEX IF NOT EXISTS glint_images_owner_live ON images (owner) WHERE deleted = false;
CREATE INDEX IF NOT EXISTS glint_images_visibility_live ON images (visibility) WHERE deleted = false;
CREATE INDEX IF NOT EXISTS glint_images_status ON images (status, deleted_at, id);
DROP INDEX IF EXISTS glint_image_tags_value_live;
CREATE INDEX glint_image_tags_value_live ON image_tags (value, image_id) WHERE deleted = false;
DROP INDEX IF EXISTS glint_image_properties_value;
CREATE INDEX glint_image_properties_value_live ON image_properties USING hash (value) WHERE deleted = false;
DROP INDEX IF EXISTS glint_image_members_member;
CREATE INDEX glint_image_members_member ON image_members (member, status, image_id) WHERE deleted = false;
CREATE INDEX IF NOT EXISTS glint_tasks_created_live ON tasks (created_at, id) WHERE deleted = false;
CREATE INDEX IF NOT EXISTS glint_tasks_owner_live ON tasks (owner, created_at, id) WHERE deleted = false;
CREATE INDEX IF NOT EXISTS glint_tasks_expires_live ON tasks (expires_at) WHERE deleted = false;

-- +goose Down
DROP INDEX IF EXISTS glint_tasks_expires_live;
DROP INDEX IF EXISTS glint_tasks_owner_live;
DROP INDEX IF EXISTS glint_tasks_created_live;
DROP INDEX IF EXISTS glint_image_members_member;
CREATE INDEX glint_image_members_member ON image_members (member, image_id);
DROP INDEX IF EXISTS glint_image_properties_value_live;
CREATE INDEX glint_image_properties_value ON image_properties USING hash (value);
DROP INDEX IF EXISTS glint_image_tags_value_live;
CREATE INDEX glint_image_tags_value_live ON image_tags (value, image_id, deleted);
DROP INDEX IF EXISTS glint_images_status;
DROP INDEX IF EXISTS glint_images_visibility_live;
DROP INDEX IF EXISTS glint_images_owner_live;
DROP INDEX IF EXISTS glint_images_updated;
CREATE INDEX glint_images_updated ON images (updated_at NULLS FIRST, created_at, id);
DROP INDEX IF EXISTS glint_images_size;
CREATE INDEX glint_images_size ON images (size NULLS FIRST, created_at, id);
DROP INDEX IF EXISTS glint_images_name;
CREATE INDEX glint_images_name ON images (name NULLS FIRST, created_at, id);
CREATE INDEX glint_images_created_id ON images (created_at, id);
DROP INDEX IF EXISTS glint_images_created_live;
DROP INDEX IF EXISTS glint_image_locations_value_live;
