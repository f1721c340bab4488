-- glint:phase expand
-- Indexes that let a keyed statement go straight to live rows (issue 32).
-- Clouds keep deleted images for years, and before this version several
-- statements read them all:
--
--   - "is this data still another image's location" (on every delete)
--     scanned image_locations whole: nothing indexed a location's URL. An
--     8-minute soak spent 35% of the server's CPU there;
--   - a listing walked the sort index past every deleted image, checking
--     deleted image by image: with 200,000 deleted images and fewer live
--     ones than the page, one page read all 200,000;
--   - a tag's or a property value's rows, the scrubber's pending_delete
--     images and the tasks were found among every row ever written.
--
-- Here deleted comes right after the columns a statement compares for
-- equality, and the statements say deleted = false in a form SQLite can
-- seek with (dialect.notDeleted: likelihood(…), which tells the planner
-- that the condition matches most rows, so it does not take Glance's
-- (deleted) indexes for a selective one). Indexes whose name stays are
-- re-created with deleted moved forward. Glance does not read these
-- indexes; extra ones do not disturb it.

-- +goose Up
CREATE INDEX IF NOT EXISTS glint_image_locations_value_live ON image_locations (value, deleted, image_id, status);
DROP INDEX IF EXISTS glint_images_created_live;
CREATE INDEX glint_images_created_live ON images (deleted, created_at, id, status, visibility, os_hidden, owner);
DROP INDEX IF EXISTS glint_images_name;
CREATE INDEX glint_images_name ON images (deleted, name, created_at, id);
DROP INDEX IF EXISTS glint_images_size;
CREATE INDEX glint_images_size ON images (deleted, size, created_at, id);
DROP INDEX IF EXISTS glint_images_updated;
CREATE INDEX glint_images_updated ON images (deleted, updated_at, created_at, id);
DROP INDEX IF EXISTS glint_image_tags_value_live;
CREATE INDEX glint_image_tags_value_live ON image_tags (value, deleted, image_id);
DROP INDEX IF EXISTS glint_image_properties_name_value_live;
CREATE INDEX glint_image_properties_name_value_live ON image_properties (name, value, deleted, image_id);
DROP INDEX IF EXISTS glint_image_members_member;
CREATE INDEX glint_image_members_member ON image_members (member, deleted, status, image_id);
CREATE INDEX IF NOT EXISTS glint_images_status ON images (status, deleted_at, id);
CREATE INDEX IF NOT EXISTS glint_tasks_created_live ON tasks (deleted, created_at, id);
CREATE INDEX IF NOT EXISTS glint_tasks_owner_live ON tasks (owner, deleted, created_at, id);
CREATE INDEX IF NOT EXISTS glint_tasks_expires_live ON tasks (deleted, expires_at);

-- +goose Down
DROP INDEX IF EXISTS glint_tasks_expires_live;
DROP INDEX IF EXISTS glint_tasks_owner_live;
DROP INDEX IF EXISTS glint_tasks_created_live;
DROP INDEX IF EXISTS glint_images_status;
DROP INDEX IF EXISTS glint_image_members_member;
CREATE INDEX glint_image_members_member ON image_members (member, image_id);
DROP INDEX IF EXISTS glint_image_properties_name_value_live;
CREATE INDEX glint_image_properties_name_value_live ON image_properties (name, value, image_id, deleted);
DROP INDEX IF EXISTS glint_image_tags_value_live;
CREATE INDEX glint_image_tags_value_live ON image_tags (value, image_id, deleted);
DROP INDEX IF EXISTS glint_images_updated;
CREATE INDEX glint_images_updated ON images (updated_at, created_at, id);
DROP INDEX IF EXISTS glint_images_size;
CREATE INDEX glint_images_size ON images (size, created_at, id);
DROP INDEX IF EXISTS glint_images_name;
CREATE INDEX glint_images_name ON images (name, created_at, id);
DROP INDEX IF EXISTS glint_images_created_live;
CREATE INDEX glint_images_created_live ON images (created_at, id, deleted, status, visibility, os_hidden, owner);
DROP INDEX IF EXISTS glint_image_locations_value_live;
