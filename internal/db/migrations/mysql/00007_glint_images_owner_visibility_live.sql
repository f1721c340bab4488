-- glint:phase expand
-- Version 7 gives SQLite owner and visibility indexes that list live
-- images first. This version changes nothing here.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
