-- glint:phase expand
-- Issue 32 on MariaDB: the covering sort index of migration 6 led with
-- (created_at, id), so a listing that walks the sort order (an admin's,
-- or a project's that sees many images) stepped over every deleted image
-- newer than its page, checking deleted in the index: with churn the
-- newest entries are the images just deleted, and the walk grew with
-- them. The index now leads with deleted, and those listings ask for
-- deleted = false (list.go): MariaDB seeks to the live images and walks
-- them in order. MariaDB has no partial indexes; a leading equality
-- column does the same. Listings of a few images (a project's private
-- ones) still check deleted image by image and are found through the
-- owner and visibility indexes (TestMySQLProjectListPlan). Glance does
-- not read this index.

-- +goose Up
DROP INDEX glint_images_created_live ON images;
CREATE INDEX glint_images_created_live ON images (deleted, created_at, id, status, visibility, os_hidden, owner);

-- +goose Down
DROP INDEX glint_images_created_live ON images;
CREATE INDEX glint_images_created_live ON images (created_at, id, deleted, status, visibility, os_hidden, owner);
