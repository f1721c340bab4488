-- glint:phase expand
-- The phase (expand, migrate, contract) of each of Glint's migrations
-- applied here, one row per version, so that a binary of an earlier
-- release that meets a version it does not know can tell whether a newer
-- release only expanded this database (it may serve beside it) or
-- contracted it (it must not; db check and serve say so). goose's version
-- table keeps recording which versions ran; Glance reads neither.

-- +goose Up
CREATE TABLE glint_migration_phases (
	version BIGINT NOT NULL,
	phase VARCHAR(8) NOT NULL,
	PRIMARY KEY (version)
);
INSERT INTO glint_migration_phases (version, phase) VALUES
	(1, 'expand'), (2, 'expand'), (3, 'expand'), (4, 'expand'),
	(5, 'expand'), (6, 'expand'), (7, 'expand'), (8, 'expand');

-- +goose Down
DROP TABLE glint_migration_phases;
