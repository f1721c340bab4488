-- glint:phase expand
-- The image cache's records when image_cache_driver = centralized_db:
-- node_reference names each API node by its worker_self_reference_url and
-- cached_images holds one row per image a node has in its cache. The
-- tables are shaped as Glance's own 2024_1_expand01 migration creates them,
-- so every node's cache is visible to every other, Glint's or Glance's.
-- Glance 25.1 does not read them; IF NOT EXISTS adopts the tables a newer
-- Glance already made.

-- +goose Up
CREATE TABLE IF NOT EXISTS node_reference (
	node_reference_id BIGSERIAL NOT NULL,
	node_reference_url VARCHAR(255) NOT NULL,
	PRIMARY KEY (node_reference_id),
	CONSTRAINT uq_node_reference_node_reference_url UNIQUE (node_reference_url)
);
CREATE TABLE IF NOT EXISTS cached_images (
	id BIGSERIAL NOT NULL,
	image_id VARCHAR(36) NOT NULL,
	last_accessed TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	last_modified TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	size BIGINT NOT NULL,
	hits INTEGER NOT NULL,
	checksum VARCHAR(32),
	node_reference_id BIGINT NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT ix_cached_images_image_id_node_reference_id UNIQUE (image_id, node_reference_id),
	FOREIGN KEY(node_reference_id) REFERENCES node_reference (node_reference_id)
);

-- +goose Down
DROP TABLE IF EXISTS cached_images;
DROP TABLE IF EXISTS node_reference;
