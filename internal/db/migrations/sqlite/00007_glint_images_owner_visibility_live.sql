-- glint:phase expand
-- Version 7: the owner and visibility indexes with deleted after the
-- column. Glance's own (owner) and (visibility) indexes keep an owner's
-- images in the order they were created, deleted ones among them; the
-- probe that counts the images a project sees (up to 200) read every
-- deleted image of the project before its live ones. With 20,000 deleted
-- and 10,000 live images of one project, a project's listing spent 9 ms
-- there. These indexes give the live images first, from the index alone.

-- +goose Up
CREATE INDEX glint_images_owner_live ON images (owner, deleted);
CREATE INDEX glint_images_visibility_live ON images (visibility, deleted);

-- +goose Down
DROP INDEX glint_images_visibility_live;
DROP INDEX glint_images_owner_live;
