-- glint:phase expand
-- Version 6 gives MySQL the covering sort index SQLite got in version 5.
-- This version changes nothing here.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
