-- glint:phase expand
-- Glance 25.1 (Zed) schema at alembic head wallaby_contract01, as
-- `glance-manage db_sync` creates it on MySQL/MariaDB (compare mysqldump
-- --no-data): InnoDB, Glance's tables in utf8 (utf8mb3), alembic_version
-- in the database's default character set. Every statement is
-- conditional, so a database that Glance created is adopted, not
-- re-created; indexes are declared inline for that reason.

-- +goose Up
CREATE TABLE IF NOT EXISTS alembic_version (
	version_num VARCHAR(32) NOT NULL,
	PRIMARY KEY (version_num)
) ENGINE=InnoDB;
INSERT INTO alembic_version (version_num)
	SELECT 'wallaby_contract01' FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM alembic_version);

CREATE TABLE IF NOT EXISTS images (
	id VARCHAR(36) NOT NULL,
	name VARCHAR(255),
	size BIGINT,
	status VARCHAR(30) NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	deleted_at DATETIME,
	deleted TINYINT(1) NOT NULL,
	disk_format VARCHAR(20),
	container_format VARCHAR(20),
	checksum VARCHAR(32),
	owner VARCHAR(255),
	min_disk INTEGER NOT NULL,
	min_ram INTEGER NOT NULL,
	protected TINYINT(1) NOT NULL DEFAULT 0,
	virtual_size BIGINT,
	visibility ENUM('private','public','shared','community') NOT NULL DEFAULT 'shared',
	os_hidden TINYINT(1) NOT NULL DEFAULT 0,
	os_hash_algo VARCHAR(64),
	os_hash_value VARCHAR(128),
	PRIMARY KEY (id),
	KEY checksum_image_idx (checksum),
	KEY ix_images_deleted (deleted),
	KEY owner_image_idx (owner),
	KEY created_at_image_idx (created_at),
	KEY updated_at_image_idx (updated_at),
	KEY visibility_image_idx (visibility),
	KEY os_hidden_image_idx (os_hidden),
	KEY os_hash_value_image_idx (os_hash_value),
	CONSTRAINT CONSTRAINT_2 CHECK (deleted IN (0,1)),
	CONSTRAINT CONSTRAINT_3 CHECK (protected IN (0,1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

CREATE TABLE IF NOT EXISTS image_properties (
	id INTEGER NOT NULL AUTO_INCREMENT,
	image_id VARCHAR(36) NOT NULL,
	name VARCHAR(255) NOT NULL,
	value TEXT,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	deleted_at DATETIME,
	deleted TINYINT(1) NOT NULL,
	PRIMARY KEY (id),
	UNIQUE KEY ix_image_properties_image_id_name (image_id, name),
	KEY ix_image_properties_deleted (deleted),
	KEY ix_image_properties_image_id (image_id),
	CONSTRAINT image_properties_ibfk_1 FOREIGN KEY (image_id) REFERENCES images (id),
	CHECK (deleted IN (0,1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

CREATE TABLE IF NOT EXISTS image_locations (
	id INTEGER NOT NULL AUTO_INCREMENT,
	image_id VARCHAR(36) NOT NULL,
	value TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	deleted_at DATETIME,
	deleted TINYINT(1) NOT NULL,
	meta_data TEXT,
	status VARCHAR(30) NOT NULL DEFAULT 'active',
	PRIMARY KEY (id),
	KEY ix_image_locations_deleted (deleted),
	KEY ix_image_locations_image_id (image_id),
	CONSTRAINT image_locations_ibfk_1 FOREIGN KEY (image_id) REFERENCES images (id),
	CHECK (deleted IN (0,1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

CREATE TABLE IF NOT EXISTS image_members (
	id INTEGER NOT NULL AUTO_INCREMENT,
	image_id VARCHAR(36) NOT NULL,
	member VARCHAR(255) NOT NULL,
	can_share TINYINT(1) NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	deleted_at DATETIME,
	deleted TINYINT(1) NOT NULL,
	status VARCHAR(20) NOT NULL DEFAULT 'pending',
	PRIMARY KEY (id),
	UNIQUE KEY image_members_image_id_member_deleted_at_key (image_id, member, deleted_at),
	KEY ix_image_members_deleted (deleted),
	KEY ix_image_members_image_id (image_id),
	KEY ix_image_members_image_id_member (image_id, member),
	CONSTRAINT image_members_ibfk_1 FOREIGN KEY (image_id) REFERENCES images (id),
	CHECK (can_share IN (0,1)),
	CHECK (deleted IN (0,1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

CREATE TABLE IF NOT EXISTS image_tags (
	id INTEGER NOT NULL AUTO_INCREMENT,
	image_id VARCHAR(36) NOT NULL,
	value VARCHAR(255) NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	deleted_at DATETIME,
	deleted TINYINT(1) NOT NULL,
	PRIMARY KEY (id),
	KEY ix_image_tags_image_id (image_id),
	KEY ix_image_tags_image_id_tag_value (image_id, value),
	CONSTRAINT image_tags_ibfk_1 FOREIGN KEY (image_id) REFERENCES images (id),
	CHECK (deleted IN (0,1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

CREATE TABLE IF NOT EXISTS tasks (
	id VARCHAR(36) NOT NULL,
	type VARCHAR(30) NOT NULL,
	status VARCHAR(30) NOT NULL,
	owner VARCHAR(255) NOT NULL,
	expires_at DATETIME,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	deleted_at DATETIME,
	deleted TINYINT(1) NOT NULL,
	image_id VARCHAR(36),
	request_id VARCHAR(64),
	user_id VARCHAR(64),
	PRIMARY KEY (id),
	KEY ix_tasks_deleted (deleted),
	KEY ix_tasks_owner (owner),
	KEY ix_tasks_status (status),
	KEY ix_tasks_type (type),
	KEY ix_tasks_updated_at (updated_at),
	KEY ix_tasks_image_id (image_id),
	CHECK (deleted IN (0,1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

CREATE TABLE IF NOT EXISTS task_info (
	task_id VARCHAR(36) NOT NULL,
	input TEXT,
	result TEXT,
	message TEXT,
	PRIMARY KEY (task_id),
	CONSTRAINT task_info_ibfk_1 FOREIGN KEY (task_id) REFERENCES tasks (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

CREATE TABLE IF NOT EXISTS metadef_namespaces (
	id INTEGER NOT NULL AUTO_INCREMENT,
	namespace VARCHAR(80) NOT NULL,
	display_name VARCHAR(80),
	description TEXT,
	visibility VARCHAR(32),
	protected TINYINT(1),
	owner VARCHAR(255) NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	PRIMARY KEY (id),
	UNIQUE KEY uq_metadef_namespaces_namespace (namespace),
	KEY ix_metadef_namespaces_owner (owner),
	CHECK (protected IN (0,1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

CREATE TABLE IF NOT EXISTS metadef_resource_types (
	id INTEGER NOT NULL AUTO_INCREMENT,
	name VARCHAR(80) NOT NULL,
	protected TINYINT(1) NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	PRIMARY KEY (id),
	UNIQUE KEY uq_metadef_resource_types_name (name),
	CHECK (protected IN (0,1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

CREATE TABLE IF NOT EXISTS metadef_namespace_resource_types (
	resource_type_id INTEGER NOT NULL,
	namespace_id INTEGER NOT NULL,
	properties_target VARCHAR(80),
	prefix VARCHAR(80),
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	PRIMARY KEY (resource_type_id, namespace_id),
	KEY ix_metadef_ns_res_types_namespace_id (namespace_id),
	CONSTRAINT metadef_namespace_resource_types_ibfk_1 FOREIGN KEY (namespace_id) REFERENCES metadef_namespaces (id),
	CONSTRAINT metadef_namespace_resource_types_ibfk_2 FOREIGN KEY (resource_type_id) REFERENCES metadef_resource_types (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

CREATE TABLE IF NOT EXISTS metadef_objects (
	id INTEGER NOT NULL AUTO_INCREMENT,
	namespace_id INTEGER NOT NULL,
	name VARCHAR(80) NOT NULL,
	description TEXT,
	required TEXT,
	json_schema TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	PRIMARY KEY (id),
	UNIQUE KEY uq_metadef_objects_namespace_id_name (namespace_id, name),
	KEY ix_metadef_objects_name (name),
	CONSTRAINT metadef_objects_ibfk_1 FOREIGN KEY (namespace_id) REFERENCES metadef_namespaces (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

CREATE TABLE IF NOT EXISTS metadef_properties (
	id INTEGER NOT NULL AUTO_INCREMENT,
	namespace_id INTEGER NOT NULL,
	name VARCHAR(80) NOT NULL,
	json_schema TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	PRIMARY KEY (id),
	UNIQUE KEY uq_metadef_properties_namespace_id_name (namespace_id, name),
	KEY ix_metadef_properties_name (name),
	CONSTRAINT metadef_properties_ibfk_1 FOREIGN KEY (namespace_id) REFERENCES metadef_namespaces (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

CREATE TABLE IF NOT EXISTS metadef_tags (
	id INTEGER NOT NULL AUTO_INCREMENT,
	namespace_id INTEGER NOT NULL,
	name VARCHAR(80) NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	PRIMARY KEY (id),
	UNIQUE KEY uq_metadef_tags_namespace_id_name (namespace_id, name),
	KEY ix_metadef_tags_name (name),
	CONSTRAINT metadef_tags_ibfk_1 FOREIGN KEY (namespace_id) REFERENCES metadef_namespaces (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

-- +goose Down
-- The Glance schema is never dropped by Glint: it may hold Glance's data.
SELECT 1;
