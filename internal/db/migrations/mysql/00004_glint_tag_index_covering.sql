-- glint:phase expand
-- On SQLite and PostgreSQL this version makes the tag index cover the
-- deleted column. MySQL's glint_image_tags_value has covered it since
-- version 2 (value, deleted, image_id), so there is nothing to change.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
