-- glint:phase expand
-- Glance 25.1 (Zed) schema at alembic head wallaby_contract01, as
-- `glance-manage db_sync` creates it on SQLite. Every statement is
-- conditional, so a database that Glance created is adopted, not re-created.

-- +goose Up
CREATE TABLE IF NOT EXISTS alembic_version (
	version_num VARCHAR(32) NOT NULL,
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO alembic_version (version_num)
	SELECT 'wallaby_contract01' WHERE NOT EXISTS (SELECT 1 FROM alembic_version);

CREATE TABLE IF NOT EXISTS images (
	id VARCHAR(36) NOT NULL,
	name VARCHAR(255),
	size BIGINT,
	status VARCHAR(30) NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	deleted_at DATETIME,
	deleted BOOLEAN NOT NULL,
	disk_format VARCHAR(20),
	container_format VARCHAR(20),
	checksum VARCHAR(32),
	owner VARCHAR(255),
	min_disk INTEGER NOT NULL,
	min_ram INTEGER NOT NULL,
	protected BOOLEAN DEFAULT 0 NOT NULL,
	virtual_size BIGINT,
	visibility VARCHAR(9) DEFAULT 'shared' NOT NULL,
	os_hidden BOOLEAN DEFAULT 0 NOT NULL,
	os_hash_algo VARCHAR(64),
	os_hash_value VARCHAR(128),
	PRIMARY KEY (id)
);
CREATE INDEX IF NOT EXISTS owner_image_idx ON images (owner);
CREATE INDEX IF NOT EXISTS os_hash_value_image_idx ON images (os_hash_value);
CREATE INDEX IF NOT EXISTS checksum_image_idx ON images (checksum);
CREATE INDEX IF NOT EXISTS os_hidden_image_idx ON images (os_hidden);
CREATE INDEX IF NOT EXISTS ix_images_deleted ON images (deleted);
CREATE INDEX IF NOT EXISTS updated_at_image_idx ON images (updated_at);
CREATE INDEX IF NOT EXISTS visibility_image_idx ON images (visibility);
CREATE INDEX IF NOT EXISTS created_at_image_idx ON images (created_at);

CREATE TABLE IF NOT EXISTS image_properties (
	id INTEGER NOT NULL,
	image_id VARCHAR(36) NOT NULL,
	name VARCHAR(255) NOT NULL,
	value TEXT,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	deleted_at DATETIME,
	deleted BOOLEAN NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(image_id) REFERENCES images (id),
	CONSTRAINT ix_image_properties_image_id_name UNIQUE (image_id, name),
	CHECK (deleted IN (0, 1))
);
CREATE INDEX IF NOT EXISTS ix_image_properties_deleted ON image_properties (deleted);
CREATE INDEX IF NOT EXISTS ix_image_properties_image_id ON image_properties (image_id);

CREATE TABLE IF NOT EXISTS image_locations (
	id INTEGER NOT NULL,
	image_id VARCHAR(36) NOT NULL,
	value TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	deleted_at DATETIME,
	deleted BOOLEAN NOT NULL,
	meta_data TEXT,
	status VARCHAR(30) DEFAULT 'active' NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(image_id) REFERENCES images (id),
	CHECK (deleted IN (0, 1))
);
CREATE INDEX IF NOT EXISTS ix_image_locations_deleted ON image_locations (deleted);
CREATE INDEX IF NOT EXISTS ix_image_locations_image_id ON image_locations (image_id);

CREATE TABLE IF NOT EXISTS image_members (
	id INTEGER NOT NULL,
	image_id VARCHAR(36) NOT NULL,
	member VARCHAR(255) NOT NULL,
	can_share BOOLEAN NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	deleted_at DATETIME,
	deleted BOOLEAN NOT NULL,
	status VARCHAR(20) DEFAULT 'pending' NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(image_id) REFERENCES images (id),
	CONSTRAINT image_members_image_id_member_deleted_at_key UNIQUE (image_id, member, deleted_at),
	CHECK (can_share IN (0, 1)),
	CHECK (deleted IN (0, 1))
);
CREATE INDEX IF NOT EXISTS ix_image_members_deleted ON image_members (deleted);
CREATE INDEX IF NOT EXISTS ix_image_members_image_id ON image_members (image_id);
CREATE INDEX IF NOT EXISTS ix_image_members_image_id_member ON image_members (image_id, member);

CREATE TABLE IF NOT EXISTS image_tags (
	id INTEGER NOT NULL,
	image_id VARCHAR(36) NOT NULL,
	value VARCHAR(255) NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	deleted_at DATETIME,
	deleted BOOLEAN NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(image_id) REFERENCES images (id),
	CHECK (deleted IN (0, 1))
);
CREATE INDEX IF NOT EXISTS ix_image_tags_image_id ON image_tags (image_id);
CREATE INDEX IF NOT EXISTS ix_image_tags_image_id_tag_value ON image_tags (image_id, value);

CREATE TABLE IF NOT EXISTS tasks (
	id VARCHAR(36) NOT NULL,
	type VARCHAR(30) NOT NULL,
	status VARCHAR(30) NOT NULL,
	owner VARCHAR(255) NOT NULL,
	expires_at DATETIME,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	deleted_at DATETIME,
	deleted BOOLEAN NOT NULL,
	image_id VARCHAR(36),
	request_id VARCHAR(64),
	user_id VARCHAR(64),
	PRIMARY KEY (id),
	CHECK (deleted IN (0, 1))
);
CREATE INDEX IF NOT EXISTS ix_tasks_deleted ON tasks (deleted);
CREATE INDEX IF NOT EXISTS ix_tasks_owner ON tasks (owner);
CREATE INDEX IF NOT EXISTS ix_tasks_status ON tasks (status);
CREATE INDEX IF NOT EXISTS ix_tasks_type ON tasks (type);
CREATE INDEX IF NOT EXISTS ix_tasks_updated_at ON tasks (updated_at);
CREATE INDEX IF NOT EXISTS ix_tasks_image_id ON tasks (image_id);

CREATE TABLE IF NOT EXISTS task_info (
	task_id VARCHAR(36) NOT NULL,
	input TEXT,
	result TEXT,
	message TEXT,
	PRIMARY KEY (task_id),
	FOREIGN KEY(task_id) REFERENCES tasks (id)
);

CREATE TABLE IF NOT EXISTS metadef_namespaces (
	id INTEGER NOT NULL,
	namespace VARCHAR(80) NOT NULL,
	display_name VARCHAR(80),
	description TEXT,
	visibility VARCHAR(32),
	protected BOOLEAN,
	owner VARCHAR(255) NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	PRIMARY KEY (id),
	CONSTRAINT uq_metadef_namespaces_namespace UNIQUE (namespace),
	CHECK (protected IN (0, 1))
);
CREATE INDEX IF NOT EXISTS ix_metadef_namespaces_owner ON metadef_namespaces (owner);

CREATE TABLE IF NOT EXISTS metadef_resource_types (
	id INTEGER NOT NULL,
	name VARCHAR(80) NOT NULL,
	protected BOOLEAN NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	PRIMARY KEY (id),
	CONSTRAINT uq_metadef_resource_types_name UNIQUE (name),
	CHECK (protected IN (0, 1))
);

CREATE TABLE IF NOT EXISTS metadef_namespace_resource_types (
	resource_type_id INTEGER NOT NULL,
	namespace_id INTEGER NOT NULL,
	properties_target VARCHAR(80),
	prefix VARCHAR(80),
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	PRIMARY KEY (resource_type_id, namespace_id),
	FOREIGN KEY(namespace_id) REFERENCES metadef_namespaces (id),
	FOREIGN KEY(resource_type_id) REFERENCES metadef_resource_types (id)
);
CREATE INDEX IF NOT EXISTS ix_metadef_ns_res_types_namespace_id ON metadef_namespace_resource_types (namespace_id);

CREATE TABLE IF NOT EXISTS metadef_objects (
	id INTEGER NOT NULL,
	namespace_id INTEGER NOT NULL,
	name VARCHAR(80) NOT NULL,
	description TEXT,
	required TEXT,
	json_schema TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	PRIMARY KEY (id),
	FOREIGN KEY(namespace_id) REFERENCES metadef_namespaces (id),
	CONSTRAINT uq_metadef_objects_namespace_id_name UNIQUE (namespace_id, name)
);
CREATE INDEX IF NOT EXISTS ix_metadef_objects_name ON metadef_objects (name);

CREATE TABLE IF NOT EXISTS metadef_properties (
	id INTEGER NOT NULL,
	namespace_id INTEGER NOT NULL,
	name VARCHAR(80) NOT NULL,
	json_schema TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	PRIMARY KEY (id),
	FOREIGN KEY(namespace_id) REFERENCES metadef_namespaces (id),
	CONSTRAINT uq_metadef_properties_namespace_id_name UNIQUE (namespace_id, name)
);
CREATE INDEX IF NOT EXISTS ix_metadef_properties_name ON metadef_properties (name);

CREATE TABLE IF NOT EXISTS metadef_tags (
	id INTEGER NOT NULL,
	namespace_id INTEGER NOT NULL,
	name VARCHAR(80) NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	PRIMARY KEY (id),
	FOREIGN KEY(namespace_id) REFERENCES metadef_namespaces (id),
	CONSTRAINT uq_metadef_tags_namespace_id_name UNIQUE (namespace_id, name)
);
CREATE INDEX IF NOT EXISTS ix_metadef_tags_name ON metadef_tags (name);

-- +goose Down
-- The Glance schema is never dropped by Glint: it may hold Glance's data.
SELECT 1;
