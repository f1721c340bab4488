-- glint:phase expand
-- Indexes that let a keyed statement go straight to live rows (issue 32),
-- as sqlite's 00008: deleted right after the columns a statement compares
-- for equality, in statements that say deleted = false as a plain column
-- condition (dialect.live). Before this version "is this data still
-- another image's location", run on every delete, read image_locations
-- whole: nothing indexed a location's URL. A location is TEXT: its index
-- holds the first 255 characters (765 bytes in Glance's utf8 tables,
-- within InnoDB's 3,072-byte key limit), which finds an equal URL all the
-- same; MariaDB then compares the whole value on the few rows it reads.
-- Indexes whose name stays are re-created with deleted moved forward.
--
-- Unlike SQLite's and PostgreSQL's, a listing's images keep their sort
-- indexes: given deleted = false as a column condition, MariaDB walked
-- the sort order even for a project's 30 private images out of 3,000
-- (TestMySQLProjectListPlan), so listings still check deleted image by
-- image (deleted+0) on MySQL. MySQL has no CREATE INDEX IF NOT EXISTS;
-- goose runs this once. Glance does not read these indexes; extra ones do
-- not disturb it.

-- +goose Up
CREATE INDEX glint_image_locations_value_live ON image_locations (value(255), deleted, image_id, status);
CREATE INDEX glint_images_owner_live ON images (owner, deleted);
CREATE INDEX glint_images_visibility_live ON images (visibility, deleted);
CREATE INDEX glint_images_status ON images (status, deleted_at, id);
DROP INDEX glint_image_properties_name_value ON image_properties;
CREATE INDEX glint_image_properties_name_value_live ON image_properties (name, value(255), deleted, image_id);
DROP INDEX glint_image_members_member ON image_members;
CREATE INDEX glint_image_members_member ON image_members (member, deleted, status, image_id);
CREATE INDEX glint_tasks_created_live ON tasks (deleted, created_at, id);
CREATE INDEX glint_tasks_owner_live ON tasks (owner, deleted, created_at, id);
CREATE INDEX glint_tasks_expires_live ON tasks (deleted, expires_at);

-- +goose Down
DROP INDEX glint_tasks_expires_live ON tasks;
DROP INDEX glint_tasks_owner_live ON tasks;
DROP INDEX glint_tasks_created_live ON tasks;
DROP INDEX glint_image_members_member ON image_members;
CREATE INDEX glint_image_members_member ON image_members (member, image_id);
DROP INDEX glint_image_properties_name_value_live ON image_properties;
CREATE INDEX glint_image_properties_name_value ON image_properties (name, value(255));
DROP INDEX glint_images_status ON images;
DROP INDEX glint_images_visibility_live ON images;
DROP INDEX glint_images_owner_live ON images;
DROP INDEX glint_image_locations_value_live ON image_locations;
