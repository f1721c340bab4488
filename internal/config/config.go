// Package config loads Glint's configuration from oslo.config-style INI
// files (the glance-api.conf operators already have).
//
// The raw INI syntax is parsed by gopkg.in/ini.v1, configured to behave like
// oslo.config's own parser; the typed option layer (options.go), the value
// syntax (values.go) and $name substitution (load.go) follow oslo.config.
package config

import (
	"path/filepath"
	"strings"
)

// Config is the effective configuration. Fields are grouped by the INI
// section they are read from.
type Config struct {
	// [glint] (Glint's own section)
	DataDir string // [glint] data_dir, default "glint-data" (relative to cwd)

	// [DEFAULT]
	BindHost              string   // bind_host, default "127.0.0.1" (Glance's is 0.0.0.0; Glint is safe by default)
	BindPort              int      // bind_port, default 9292, 1..65535
	CertFile              string   // cert_file, default "" (HTTP); with key_file, serve HTTPS (older Glance's names)
	KeyFile               string   // key_file, default ""
	CAFile                string   // ca_file, default ""; set: clients must present a certificate it signed
	ClientSocketTimeout   int      // client_socket_timeout, default 900 (seconds an idle connection is kept; 0: forever)
	MaxHeaderLine         int      // max_header_line, default 16384 (bytes of request head)
	HTTPKeepalive         bool     // http_keepalive, default true
	Workers               int      // workers, default 0 (accepted for compatibility; Glint is one process)
	PublicEndpoint        string   // public_endpoint, default ""
	ImageSizeCap          int64    // image_size_cap, default 1099511627776, >= 0 (max 9223372036854775807)
	ShowImageDirectURL    bool     // show_image_direct_url, default false
	ShowMultipleLocations bool     // show_multiple_locations, default false
	LimitParamDefault     int      // limit_param_default, default 25, >= 1
	APILimitMax           int      // api_limit_max, default 1000, >= 1
	HashingAlgorithm      string   // hashing_algorithm, default "sha512"; one of sha1, sha224, sha256, sha384, sha512, md5
	UserStorageQuota      string   // user_storage_quota, default "0"; must match ^\d+(B|KB|MB|GB|TB)?$
	ImageMemberQuota      int      // image_member_quota, default 128 (negative = unlimited)
	ImagePropertyQuota    int      // image_property_quota, default 128
	ImageTagQuota         int      // image_tag_quota, default 128
	ImageLocationQuota    int      // image_location_quota, default 10
	EnabledImportMethods  []string // enabled_import_methods, default [glance-direct, web-download, copy-image]
	NodeStagingURI        string   // node_staging_uri, default "" (meaning file://<DataDir>/staging, see Finish)
	StagingStoreDatadir   string   // [os_glance_staging_store] filesystem_store_datadir, default "" (see StagingDir)
	MaxRequestIDLength    int      // max_request_id_length, default 64
	DelayedDelete         bool     // delayed_delete, default false
	ScrubTime             int      // scrub_time, default 0 (seconds)
	WakeupTime            int      // wakeup_time, default 300 (seconds)
	UploadStaleAfter      int      // [glint] upload_stale_after, default 600 (seconds)
	Debug                 bool     // debug, default false
	LogFile               string   // log_file, default ""
	UseJSON               bool     // use_json (oslo.log), default false: log lines as JSON objects
	AccessLog             bool     // [glint] access_log, default true: a line per request at INFO

	// [metrics] and [tracing] (see docs/operations.md)
	MetricsEnabled       bool   // [metrics] enabled, default false
	MetricsListen        string // [metrics] listen, default "" (on the API port)
	TracingEnabled       bool   // [tracing] enabled, default false
	TracingEndpoint      string // [tracing] otlp_endpoint
	TracingServiceName   string // [tracing] service_name, default "glint"
	TracingSamplePercent int    // [tracing] sample_percent, default 100

	EnforceSecureRBAC            bool   // enforce_secure_rbac, default false
	PropertyProtectionFile       string // property_protection_file, default ""
	PropertyProtectionRuleFormat string // property_protection_rule_format, default "roles"; roles or policies
	UseKeystoneLimits            bool   // use_keystone_limits, default false

	// [glint_limits] (unified limits, in Glance's units; -1 = unlimited)
	LimitImageSizeTotal      int64 // image_size_total (MiB)
	LimitImageStageTotal     int64 // image_stage_total (MiB)
	LimitImageCountTotal     int64 // image_count_total
	LimitImageCountUploading int64 // image_count_uploading

	// [oslo_limit] (oslo.limit: where Keystone's unified limits are read;
	// see oslolimit.go)
	OsloLimit OsloLimit

	// Notifications: [oslo_messaging_notifications], [oslo_messaging_rabbit]
	// and [DEFAULT]'s notification options (see notifications.go).
	Notifications Notifications

	// [oslo_policy]
	PolicyFile         string   // policy_file, default "policy.yaml"
	PolicyDirs         []string // policy_dirs, default [policy.d]
	PolicyDefaultRule  string   // policy_default_rule, default "default"
	EnforceNewDefaults bool     // enforce_new_defaults, default false
	EnforceScope       bool     // enforce_scope, default false

	// [database]
	DatabaseConnection string // connection, default "" (meaning sqlite:///<DataDir>/glint.db, see Finish)

	// [glance_store]
	Stores                  []string // stores, default [file, http]
	DefaultStore            string   // default_store, default "file"
	FilesystemStoreDatadir  string   // filesystem_store_datadir, default "" (meaning <DataDir>/images, see Finish)
	FilesystemStoreFilePerm int      // filesystem_store_file_perm, default 0 (written in octal digits as in Glance, "640"; held as the mode bits, 0o640; 0 means leave umask)
	FilesystemStoreDatadirs []string // filesystem_store_datadirs, default [] ("path:priority" items; overrides filesystem_store_datadir)
	FilesystemThinProvision bool     // filesystem_thin_provisioning, default false (skip writing runs of zeros)
	FilesystemDirectIO      bool     // [glint] filesystem_direct_io, default false (O_DIRECT image writes)
	FilesystemStoreChunk    int      // filesystem_store_chunk_size, default 65536
	S3StoreHost             string   // s3_store_host
	S3StoreAccessKey        string   // s3_store_access_key
	S3StoreSecretKey        string   // s3_store_secret_key
	S3StoreBucket           string   // s3_store_bucket
	S3StoreCreateBucket     bool     // s3_store_create_bucket_on_put, default false
	S3StoreBucketURLFormat  string   // s3_store_bucket_url_format, default auto
	S3StoreRegion           string   // s3_store_region_name, default ""
	S3StoreLargeObjectSize  int      // s3_store_large_object_size (MB), default 100
	S3StoreLargeObjectChunk int      // s3_store_large_object_chunk_size (MB), default 10
	S3StoreThreadPools      int      // s3_store_thread_pools, default 10
	HTTPSCACertificatesFile string   // https_ca_certificates_file
	HTTPSInsecure           bool     // https_insecure, default false (Glance: true)
	HTTPStoreAllowPrivate   bool     // http_store_allow_private_targets, default false (Glint's own)
	SwiftStoreConfigFile    string   // swift_store_config_file
	DefaultSwiftReference   string   // default_swift_reference, default ref1
	SwiftStoreAuthAddress   string   // swift_store_auth_address (deprecated in Glance)
	SwiftStoreUser          string   // swift_store_user (deprecated in Glance)
	SwiftStoreKey           string   // swift_store_key (deprecated in Glance)
	SwiftStoreAuthVersion   string   // swift_store_auth_version, default 2 (deprecated in Glance)
	SwiftStoreRegion        string   // swift_store_region
	SwiftStoreEndpoint      string   // swift_store_endpoint
	SwiftStoreContainer     string   // swift_store_container, default glance
	SwiftStoreLargeObjSize  int      // swift_store_large_object_size (MB), default 5120
	SwiftStoreLargeObjChunk int      // swift_store_large_object_chunk_size (MB), default 200
	SwiftStoreCreateOnPut   bool     // swift_store_create_container_on_put, default false
	SwiftStoreMultiTenant   bool     // swift_store_multi_tenant, default false
	SwiftStoreContainerSeed int      // swift_store_multiple_containers_seed, default 0
	RBDStorePool            string   // rbd_store_pool, default images
	RBDStoreUser            string   // rbd_store_user, default "" (librados's choice)
	RBDStoreCephConf        string   // rbd_store_ceph_conf, default "" (librados's search)
	RBDStoreChunkSize       int      // rbd_store_chunk_size (MiB), default 8
	RadosConnectTimeout     int      // rados_connect_timeout (s), default 0 (librados's)
	RBDThinProvisioning     bool     // rbd_thin_provisioning, default false
	DefaultBackend          string   // default_backend (multi-store), default ""
	StoreDescription        string   // store_description, in a backend's own section

	// EnabledBackends is [DEFAULT] enabled_backends: "name:type" items.
	EnabledBackends []string
	// Backends holds, per enabled backend name, this configuration with
	// the [glance_store] options read from the backend's own section, as
	// glance_store's multi-store does; nil without enabled_backends.
	Backends map[string]*Config

	// [paste_deploy]
	Flavor string // flavor, default "" (no-auth pipeline); "", keystone, caching, cachemanagement, keystone+caching, keystone+cachemanagement

	// [cors] (oslo.middleware's CORS filter, with the defaults Glance
	// sets; see CORS) and the [cors.<name>] sections, sorted by name as
	// oslo.middleware reads them (see cors.go).
	CORS         CORS
	CORSSections []CORS

	// [keystone_authtoken] (keystonemiddleware's options; used when Flavor starts with "keystone")
	AuthtokenWWWAuthenticateURI        string   // www_authenticate_uri (also auth_uri), default ""
	AuthtokenAuthURL                   string   // auth_url, default ""
	AuthtokenAuthType                  string   // auth_type, default "password" (the only one)
	AuthtokenUsername                  string   // username
	AuthtokenPassword                  string   // password
	AuthtokenProjectName               string   // project_name
	AuthtokenUserDomainName            string   // user_domain_name
	AuthtokenUserDomainID              string   // user_domain_id
	AuthtokenProjectDomainName         string   // project_domain_name
	AuthtokenProjectDomainID           string   // project_domain_id
	AuthtokenTokenCacheTime            int      // token_cache_time, default 300 (seconds; -1 disables the cache)
	AuthtokenIncludeServiceCatalog     bool     // include_service_catalog, default true
	AuthtokenServiceTokenRoles         []string // service_token_roles, default [service]
	AuthtokenServiceTokenRolesRequired bool     // service_token_roles_required, default false
	AuthtokenHTTPConnectTimeout        int      // http_connect_timeout, default 0 (seconds; 0 = Glint's 30 s)
	AuthtokenHTTPRequestMaxRetries     int      // http_request_max_retries, default 3
	AuthtokenCAFile                    string   // cafile
	AuthtokenInsecure                  bool     // insecure, default false
	AuthtokenDelayAuthDecision         bool     // delay_auth_decision, default true (Glance's paste pipeline sets it)
	KeystoneTokenCacheSize             int      // [glint] keystone_token_cache_size, default 10000
	KeystoneRevocationCheck            bool     // [glint] keystone_revocation_check, default true
	KeystoneRevocationInterval         int      // [glint] keystone_revocation_interval, default 5 (seconds)

	// [image_format]
	DiskFormats      []string // disk_formats, default [ami ari aki vhd vhdx vmdk raw qcow2 vdi iso ploop]
	ContainerFormats []string // container_formats, default [ami ari aki bare ovf ova docker compressed]

	// SearchDirs are where files named by options with relative paths
	// are looked for (the configuration's directories); set by the caller.
	SearchDirs []string

	// The image cache (see docs/configuration.md#image-cache)
	ImageCacheDir           string // [DEFAULT] image_cache_dir, default "" (<data_dir>/image-cache when a caching flavor is on)
	ImageCacheMaxSize       int64  // [DEFAULT] image_cache_max_size, bytes, default 10 GiB
	ImageCacheStallTime     int    // [DEFAULT] image_cache_stall_time, seconds, default 86400
	ImageCacheDriver        string // [DEFAULT] image_cache_driver: centralized_db (default) or sqlite
	ImageCacheSQLiteDB      string // [DEFAULT] image_cache_sqlite_db, default cache.db (in image_cache_dir)
	CachePrefetcherInterval int    // [DEFAULT] cache_prefetcher_interval, seconds, default 300

	// Import (see docs/import.md)
	WorkerSelfReferenceURL string   // [DEFAULT] worker_self_reference_url, default ""
	TaskTimeToLive         int      // [task] task_time_to_live, hours, default 48
	TaskPoolThreads        int      // [wsgi] task_pool_threads, default 16: imports running at once
	AllowedSchemes         []string // [import_filtering_opts] allowed_schemes, default [http, https]
	DisallowedSchemes      []string // [import_filtering_opts] disallowed_schemes, default []
	AllowedHosts           []string // [import_filtering_opts] allowed_hosts, default []
	DisallowedHosts        []string // [import_filtering_opts] disallowed_hosts, default []
	AllowedPorts           []string // [import_filtering_opts] allowed_ports, default [80, 443]
	DisallowedPorts        []string // [import_filtering_opts] disallowed_ports, default []
	ImportAllowPrivate     bool     // [glint] import_allow_private_networks, default false
	ImageImportPlugins     []string // [image_import_opts] image_import_plugins, default []
	ConversionFormat       string   // [image_conversion] output_format, default raw
	InjectIgnoreUserRoles  []string // [inject_metadata_properties] ignore_user_roles, default [admin]
	InjectProperties       []string // [inject_metadata_properties] inject, "key:value" items, default []
	DownloadProperties     []string // [glance_download_properties] extra_properties, default [hw_, trait:, os_distro, os_secure_boot, os_type]
	QemuImgMemory          int64    // [glint] qemu_img_address_space, bytes, default 2 GiB
	QemuImgCPU             int      // [glint] qemu_img_cpu_time, seconds, default 30
	ConversionTimeout      int      // [glint] image_conversion_timeout, seconds, default 3600

	// Ignored lists "section.option" names present in the files that
	// neither Glint nor Glance 25.1 knows (typos, most likely), sorted,
	// each once.
	Ignored []string
	// Unused lists, likewise, the options present in the files that
	// Glance knows and Glint accepts without using (see UnusedReason).
	Unused []string

	// fromFiles: Load read at least one configuration file.
	fromFiles bool

	// derived tracks the options whose empty value means "derive from
	// DataDir" (indexed by optDef.slot), so Finish can be re-run after
	// DataDir changes without clobbering values somebody chose.
	derived [numDerived]derivedState
}

// derivedState remembers where a DataDir-derived value came from.
type derivedState struct {
	userSet bool   // a config file gave a non-empty value
	last    string // what Finish last filled in
}

// Option documents one option Glint honours.
type Option struct{ Section, Name, Type, Default, Help string }

// Options returns the documentation table of every option Glint honours,
// in table order (grouped by section).
func Options() []Option {
	out := make([]Option, len(options))
	for i, o := range options {
		out[i] = Option{Section: o.section, Name: o.name, Type: o.typ, Default: o.def, Help: o.help}
	}
	return out
}

// Default returns the embedded default configuration (no file), already
// Finish()ed.
func Default() *Config {
	c := defaults()
	c.Finish()
	return c
}

// defaults returns the built-in values, not yet Finish()ed. The defaults are
// spelled as config-file strings in the table and go through the same
// parsers as file values, so documentation and behaviour cannot drift.
func defaults() *Config {
	c := &Config{}
	for i := range options {
		o := &options[i]
		if err := o.apply(c, o.def); err != nil {
			panic("config: invalid built-in default for " + o.id() + ": " + err.Error())
		}
	}
	return c
}

// Finish fills the derived defaults from DataDir: DatabaseConnection,
// FilesystemStoreDatadir and NodeStagingURI when they are empty. It is
// idempotent and may be called again after DataDir changed (e.g. by a
// command-line flag): values a config file set, or that were assigned after
// the previous Finish, are kept; values Finish derived earlier are
// re-derived.
func (c *Config) Finish() {
	for i := range options {
		o := &options[i]
		if o.derive == nil {
			continue
		}
		p, st := o.str(c), &c.derived[o.slot]
		if *p == "" || (!st.userSet && *p == st.last) {
			*p = o.derive(c.DataDir)
			st.last = *p
		}
	}
}

// deriveDatabase gives the SQLAlchemy-style URL of the embedded SQLite
// database: "sqlite:///" + path, which yields sqlite:///rel/path for a
// relative DataDir and sqlite:////abs/path for an absolute one, exactly
// SQLAlchemy's convention.
func deriveDatabase(dataDir string) string {
	return "sqlite:///" + filepath.ToSlash(filepath.Join(dataDir, "glint.db"))
}

func deriveImagesDir(dataDir string) string {
	return filepath.Join(dataDir, "images")
}

// deriveStagingURI gives file://<abs DataDir>/staging. The path is made
// absolute because "file://glint-data/staging" would name a host, not a
// directory; Glance only accepts file:// staging URIs.
func deriveStagingURI(dataDir string) string {
	dir := filepath.Join(dataDir, "staging")
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	dir = filepath.ToSlash(dir)
	if !strings.HasPrefix(dir, "/") {
		dir = "/" + dir // Windows drive paths: file:///C:/...
	}
	return "file://" + dir
}

// Glance's own staging defaults: node_staging_uri's, and the reserved
// staging store's with enabled_backends.
const (
	GlanceStagingDir      = "/tmp/staging/"
	GlanceStagingStoreDir = "/var/lib/glance/os_glance_staging_store"
)

// StagingDir is the directory of the node's staging area and the option
// that gave it. As in Glance, with enabled_backends the reserved store
// [os_glance_staging_store] filesystem_store_datadir names it, and
// node_staging_uri only without (Glint also takes node_staging_uri with
// enabled_backends when the reserved store's is unset). When neither is
// set, the staging area is <data_dir>/staging for the zero-configuration
// default (no configuration file) or a data_dir somebody chose; a
// configuration that names none of them gets Glance's default, never a
// directory under wherever Glint happened to be started.
func (c *Config) StagingDir() (dir, from string) {
	multi := len(c.EnabledBackends) > 0
	if multi && c.StagingStoreDatadir != "" {
		return c.StagingStoreDatadir, "[os_glance_staging_store] filesystem_store_datadir"
	}
	st := c.derived[slotStaging]
	if st.userSet || c.NodeStagingURI != st.last {
		return strings.TrimPrefix(c.NodeStagingURI, "file://"), "[DEFAULT] node_staging_uri"
	}
	if c.fromFiles && c.DataDir == defaultDataDir {
		if multi {
			return GlanceStagingStoreDir, "Glance's default for [os_glance_staging_store] filesystem_store_datadir (configuration files set neither it, node_staging_uri nor data_dir)"
		}
		return GlanceStagingDir, "Glance's default node_staging_uri (configuration files set neither it nor data_dir)"
	}
	return strings.TrimPrefix(c.NodeStagingURI, "file://"), "[glint] data_dir"
}
