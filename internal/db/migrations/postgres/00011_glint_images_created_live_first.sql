-- glint:phase expand
-- Version 11 puts deleted first in MySQL's covering sort index (issue 32).
-- This version changes nothing here.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
