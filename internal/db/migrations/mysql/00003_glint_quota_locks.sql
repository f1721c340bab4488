-- glint:phase expand
-- One row per image owner, locked by every change that a quota counts
-- (an upload finishing, an image created), so that those changes for one
-- project are decided one after another on any number of nodes and a
-- quota cannot be overshot by requests racing each other. Glance has no
-- such table; it does not disturb Glance sharing the database.

-- +goose Up
CREATE TABLE IF NOT EXISTS glint_quota_locks (
	owner VARCHAR(255) NOT NULL,
	PRIMARY KEY (owner)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

-- +goose Down
DROP TABLE IF EXISTS glint_quota_locks;
