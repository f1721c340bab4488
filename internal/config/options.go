package config

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// optDef defines one option: where it lives, how it is documented, and how a
// config-file string becomes a Config field. Adding an option is one entry in
// the options table below.
type optDef struct {
	section, name string
	typ           string   // "string", "boolean", "integer" or "list", as in oslo's docs
	def           string   // default, spelled as in a config file
	help          string   // one-line description for Options() and the docs
	deprecated    []string // older "section.name" spellings still honoured (oslo deprecated_opts)

	// apply parses and validates a config-file value and stores it in c.
	apply func(c *Config, raw string) error
	// format renders the stored value for $name substitution.
	format func(c *Config) string

	// For string options only: the field, so Finish can derive it.
	str func(c *Config) *string
	// derive, when set, computes the value from DataDir if it is empty;
	// slot indexes Config.derived.
	derive func(dataDir string) string
	slot   int
}

func (o *optDef) id() string { return o.section + "." + o.name }

const (
	slotDatabase = iota
	slotImagesDir
	slotStaging
	numDerived
)

const defaultSection = "DEFAULT"

const defaultDataDir = "glint-data"

// options is the immutable table of every option Glint honours.
var options = []optDef{
	stringOpt("glint", "data_dir", defaultDataDir,
		"Directory for Glint's state (database, images, staging), relative to the working directory unless absolute.",
		func(c *Config) *string { return &c.DataDir }, nonEmpty),

	stringOpt(defaultSection, "bind_host", "127.0.0.1",
		"IP address or host name to listen on. Glance defaults to 0.0.0.0; Glint listens on loopback only unless told otherwise.",
		func(c *Config) *string { return &c.BindHost }, hostAddress),
	intOpt(defaultSection, "bind_port", 9292, 1, 65535,
		"TCP port to listen on (1-65535).",
		func(c *Config) *int { return &c.BindPort }),
	stringOpt(defaultSection, "cert_file", "",
		"PEM certificate (chain) to serve HTTPS with, together with key_file; empty: plain HTTP. Glance before 2023 had these options; Glint keeps them.",
		func(c *Config) *string { return &c.CertFile }, nil),
	stringOpt(defaultSection, "key_file", "",
		"PEM private key of cert_file.",
		func(c *Config) *string { return &c.KeyFile }, nil),
	stringOpt(defaultSection, "ca_file", "",
		"PEM CA certificates: when set (with cert_file), every client must present a certificate one of them signed.",
		func(c *Config) *string { return &c.CAFile }, nil),
	intOpt(defaultSection, "client_socket_timeout", 900, 0, math.MaxInt32,
		"Seconds an idle client connection is kept open; 0 keeps it for ever (Glance's meaning).",
		func(c *Config) *int { return &c.ClientSocketTimeout }),
	intOpt(defaultSection, "max_header_line", 16384, 1024, 1<<20,
		"Largest request head accepted, in bytes (Glance's limit is per header line; Glint bounds the whole head by it); larger heads get 431.",
		func(c *Config) *int { return &c.MaxHeaderLine }),
	boolOpt(defaultSection, "http_keepalive", true,
		"Keep client connections open between requests; false closes each after its answer.",
		func(c *Config) *bool { return &c.HTTPKeepalive }),
	intOpt(defaultSection, "workers", 0, 0, math.MaxInt,
		"Accepted for compatibility (>= 0); Glint always runs as a single process.",
		func(c *Config) *int { return &c.Workers }),
	stringOpt(defaultSection, "public_endpoint", "",
		"Public base URL advertised in the versions document; empty means the URL the request came in on.",
		func(c *Config) *string { return &c.PublicEndpoint }, nil),
	intOpt(defaultSection, "image_size_cap", 1099511627776, 0, math.MaxInt64,
		"Maximum size of image data a user can upload, in bytes (0-9223372036854775807).",
		func(c *Config) *int64 { return &c.ImageSizeCap }),
	boolOpt(defaultSection, "show_image_direct_url", false,
		"Show the direct_url (backend location) of images.",
		func(c *Config) *bool { return &c.ShowImageDirectURL }),
	boolOpt(defaultSection, "show_multiple_locations", false,
		"Show and allow editing the locations list of images (deprecated in Glance, a security risk).",
		func(c *Config) *bool { return &c.ShowMultipleLocations }),
	intOpt(defaultSection, "limit_param_default", 25, 1, math.MaxInt,
		"Default page size of list requests without a limit parameter (>= 1).",
		func(c *Config) *int { return &c.LimitParamDefault }),
	intOpt(defaultSection, "api_limit_max", 1000, 1, math.MaxInt,
		"Maximum page size of list requests (>= 1).",
		func(c *Config) *int { return &c.APILimitMax }),
	stringOpt(defaultSection, "hashing_algorithm", "sha512",
		"Algorithm for the os_hash_value image property: sha1, sha224, sha256, sha384, sha512 or md5.",
		func(c *Config) *string { return &c.HashingAlgorithm },
		oneOf("sha1", "sha224", "sha256", "sha384", "sha512", "md5")),
	stringOpt(defaultSection, "user_storage_quota", "0",
		"Maximum image storage per project: a number with an optional B, KB, MB, GB or TB suffix (no suffix means bytes); 0 means unlimited.",
		func(c *Config) *string { return &c.UserStorageQuota }, matches(storageQuotaRE, "a number with an optional B, KB, MB, GB or TB suffix")),
	intOpt(defaultSection, "image_member_quota", 128, math.MinInt, math.MaxInt,
		"Maximum number of members per image; negative means unlimited.",
		func(c *Config) *int { return &c.ImageMemberQuota }),
	intOpt(defaultSection, "image_property_quota", 128, math.MinInt, math.MaxInt,
		"Maximum number of additional properties per image; negative means unlimited.",
		func(c *Config) *int { return &c.ImagePropertyQuota }),
	intOpt(defaultSection, "image_tag_quota", 128, math.MinInt, math.MaxInt,
		"Maximum number of tags per image; negative means unlimited.",
		func(c *Config) *int { return &c.ImageTagQuota }),
	intOpt(defaultSection, "image_location_quota", 10, math.MinInt, math.MaxInt,
		"Maximum number of locations per image; negative means unlimited.",
		func(c *Config) *int { return &c.ImageLocationQuota }),
	listOpt(defaultSection, "enabled_import_methods", []string{"glance-direct", "web-download", "copy-image"},
		"Interoperable image import methods to offer; each one of glance-direct, web-download, copy-image, glance-download.",
		func(c *Config) *[]string { return &c.EnabledImportMethods },
		oneOf("glance-direct", "web-download", "copy-image", "glance-download")),
	derived(slotStaging, deriveStagingURI, stringOpt(defaultSection, "node_staging_uri", "",
		"file:// URI of the staging area for interoperable import; empty means file://<data_dir>/staging (made absolute).",
		func(c *Config) *string { return &c.NodeStagingURI }, fileURI)),
	stringOpt("os_glance_staging_store", "filesystem_store_datadir", "",
		"With enabled_backends: the staging area's directory (Glance's reserved staging store), in place of node_staging_uri; empty means node_staging_uri's.",
		func(c *Config) *string { return &c.StagingStoreDatadir }, nil),
	intOpt(defaultSection, "max_request_id_length", 64, 0, math.MaxInt,
		"Maximum length of a caller-supplied X-Openstack-Request-ID (>= 0).",
		func(c *Config) *int { return &c.MaxRequestIDLength }),
	boolOpt(defaultSection, "delayed_delete", false,
		"Mark deleted images pending_delete instead of deleting their data at once.",
		func(c *Config) *bool { return &c.DelayedDelete }),
	intOpt(defaultSection, "scrub_time", 0, 0, math.MaxInt,
		"Seconds an image deleted under delayed_delete keeps its data before the scrubber may remove it (>= 0).",
		func(c *Config) *int { return &c.ScrubTime }),
	intOpt(defaultSection, "wakeup_time", 300, 0, math.MaxInt,
		"Seconds between passes of `glint scrub --daemon` (>= 0).",
		func(c *Config) *int { return &c.WakeupTime }),
	intOpt("glint", "upload_stale_after", 600, 0, math.MaxInt,
		"Seconds without a sign of life after which the scrubber takes an upload in progress for dead (its node was killed) and returns the image to queued; 0 disables. Uploads mark themselves alive every quarter of this.",
		func(c *Config) *int { return &c.UploadStaleAfter }),
	boolOpt("glint", "filesystem_direct_io", false,
		"Write image data to file stores with O_DIRECT, past the page cache: less CPU per upload and no eviction of cached data, but an image's first download then reads from the disk.",
		func(c *Config) *bool { return &c.FilesystemDirectIO }),
	boolOpt(defaultSection, "debug", false,
		"Log at debug level.",
		func(c *Config) *bool { return &c.Debug }),
	stringOpt(defaultSection, "log_file", "",
		"File to log to; empty means standard error.",
		func(c *Config) *string { return &c.LogFile }, nil),
	boolOpt(defaultSection, "use_json", false,
		"Write log lines as JSON objects (oslo.log's option), one per line, instead of key=value text.",
		func(c *Config) *bool { return &c.UseJSON }),
	boolOpt("glint", "access_log", true,
		"Log a line for every API request at INFO: request id, project, user, method, route template, path, status, bytes in and out, duration, client address (and trace id when tracing). Off: the same line at DEBUG.",
		func(c *Config) *bool { return &c.AccessLog }),

	boolOpt("metrics", "enabled", false,
		"Serve Prometheus metrics at GET /metrics: on the API port, or on [metrics] listen if set.",
		func(c *Config) *bool { return &c.MetricsEnabled }),
	stringOpt("metrics", "listen", "",
		"host:port of a listener of its own for /metrics (e.g. 127.0.0.1:9393, on a management network); empty means the API port.",
		func(c *Config) *string { return &c.MetricsListen }, hostPort),
	boolOpt("tracing", "enabled", false,
		"Export OpenTelemetry traces of every request with OTLP over HTTP to otlp_endpoint.",
		func(c *Config) *bool { return &c.TracingEnabled }),
	stringOpt("tracing", "otlp_endpoint", "http://127.0.0.1:4318/v1/traces",
		"OTLP/HTTP traces URL of a collector; a URL without a path gets /v1/traces.",
		func(c *Config) *string { return &c.TracingEndpoint }, httpURL),
	stringOpt("tracing", "service_name", "glint",
		"service.name of the spans (one per cloud region or cell, say).",
		func(c *Config) *string { return &c.TracingServiceName }, nonEmpty),
	intOpt("tracing", "sample_percent", 100, 0, 100,
		"Percentage of new traces recorded (0-100); a request with a W3C traceparent follows its caller's sampling decision.",
		func(c *Config) *int { return &c.TracingSamplePercent }),

	listOpt(defaultSection, "enabled_backends", nil,
		"Glance's multi-store: named stores as name:type items (type file, http, s3 or swift), each configured in a section of its name.",
		func(c *Config) *[]string { return &c.EnabledBackends }, backendItem),

	derived(slotDatabase, deriveDatabase, stringOpt("database", "connection", "",
		"SQLAlchemy-style database URL; empty means sqlite:///<data_dir>/glint.db.",
		func(c *Config) *string { return &c.DatabaseConnection }, nil)),

	boolOpt(defaultSection, "enforce_secure_rbac", false,
		"Use the secure RBAC policy defaults (admin, member, reader; project scope) without Glance's hard-coded owner checks; must equal [oslo_policy] enforce_new_defaults.",
		func(c *Config) *bool { return &c.EnforceSecureRBAC }),
	stringOpt(defaultSection, "property_protection_file", "",
		"File of property protection rules (sections are regular expressions over property names); empty means no protections.",
		func(c *Config) *string { return &c.PropertyProtectionFile }, nil),
	stringOpt(defaultSection, "property_protection_rule_format", "roles",
		"What the property protection file's values name: roles or policies.",
		func(c *Config) *string { return &c.PropertyProtectionRuleFormat }, oneOf("roles", "policies")),
	boolOpt(defaultSection, "use_keystone_limits", false,
		"Enforce the unified limits image_size_total, image_stage_total, image_count_total and image_count_uploading instead of user_storage_quota: Keystone's, read as [oslo_limit] says; without [oslo_limit] auth_url, the same ones for every project from [glint_limits] (the embedded default's way, with no Keystone).",
		func(c *Config) *bool { return &c.UseKeystoneLimits }),
	intOpt("glint_limits", "image_size_total", -1, -1, math.MaxInt64,
		"Without Keystone ([oslo_limit] auth_url empty): total MiB of image data per project; -1 means unlimited.",
		func(c *Config) *int64 { return &c.LimitImageSizeTotal }),
	intOpt("glint_limits", "image_stage_total", -1, -1, math.MaxInt64,
		"Without Keystone: total MiB of staged image data per project; -1 means unlimited.",
		func(c *Config) *int64 { return &c.LimitImageStageTotal }),
	intOpt("glint_limits", "image_count_total", -1, -1, math.MaxInt64,
		"Without Keystone: number of images per project; -1 means unlimited.",
		func(c *Config) *int64 { return &c.LimitImageCountTotal }),
	intOpt("glint_limits", "image_count_uploading", -1, -1, math.MaxInt64,
		"Without Keystone: number of images being uploaded or imported at once per project; -1 means unlimited.",
		func(c *Config) *int64 { return &c.LimitImageCountUploading }),

	stringOpt("oslo_policy", "policy_file", "policy.yaml",
		"Policy file (YAML or JSON) overriding the default rules; a relative path is looked up in the configuration directories.",
		func(c *Config) *string { return &c.PolicyFile }, nil),
	listOpt("oslo_policy", "policy_dirs", []string{"policy.d"},
		"Directories of further policy files, applied in name order; relative paths are looked up in the configuration directories.",
		func(c *Config) *[]string { return &c.PolicyDirs }, nil),
	stringOpt("oslo_policy", "policy_default_rule", "default",
		"Rule evaluated for a rule: reference that names no rule.",
		func(c *Config) *string { return &c.PolicyDefaultRule }, nil),
	boolOpt("oslo_policy", "enforce_new_defaults", false,
		"Drop the deprecated policy defaults and enforce only the secure RBAC ones.",
		func(c *Config) *bool { return &c.EnforceNewDefaults }),
	boolOpt("oslo_policy", "enforce_scope", false,
		"Refuse tokens whose scope (system, domain, project) a rule does not accept.",
		func(c *Config) *bool { return &c.EnforceScope }),

	listOpt("glance_store", "stores", []string{"file", "http"},
		"Enabled storage backends.",
		func(c *Config) *[]string { return &c.Stores }, nil),
	stringOpt("glance_store", "default_store", "file",
		"Backend new image data is written to; one of glance_store's schemes (file, filesystem, http, https, swift, swift+http, swift+https, swift+config, rbd, cinder, vsphere, s3).",
		func(c *Config) *string { return &c.DefaultStore },
		oneOf("file", "filesystem", "http", "https", "swift", "swift+http", "swift+https", "swift+config", "rbd", "cinder", "vsphere", "s3")),
	derived(slotImagesDir, deriveImagesDir, stringOpt("glance_store", "filesystem_store_datadir", "",
		"Directory of the file store; empty means <data_dir>/images.",
		func(c *Config) *string { return &c.FilesystemStoreDatadir }, nil)),
	permOpt("glance_store", "filesystem_store_file_perm",
		"Permissions of image files, written in octal digits as for chmod (e.g. 640); 0 or negative leaves them to the umask.",
		func(c *Config) *int { return &c.FilesystemStoreFilePerm }),
	listOpt("glance_store", "filesystem_store_datadirs", nil,
		"Several directories of the file store, each path:priority; new images go to the highest priority directory with room. Overrides filesystem_store_datadir.",
		func(c *Config) *[]string { return &c.FilesystemStoreDatadirs }, dataDirItem),
	boolOpt("glance_store", "filesystem_thin_provisioning", false,
		"Write images sparsely: runs of zeros take no disk space.",
		func(c *Config) *bool { return &c.FilesystemThinProvision }),
	intOpt("glance_store", "filesystem_store_chunk_size", 65536, 4096, 64<<20,
		"Granularity in bytes of zero detection for thin provisioning (4096-67108864).",
		func(c *Config) *int { return &c.FilesystemStoreChunk }),
	stringOpt("glance_store", "s3_store_host", "",
		"S3 server: a URL (http:// or https://) or host[:port], which means https.",
		func(c *Config) *string { return &c.S3StoreHost }, nil),
	stringOpt("glance_store", "s3_store_access_key", "",
		"S3 access key.",
		func(c *Config) *string { return &c.S3StoreAccessKey }, nil),
	stringOpt("glance_store", "s3_store_secret_key", "",
		"S3 secret key.",
		func(c *Config) *string { return &c.S3StoreSecretKey }, nil),
	stringOpt("glance_store", "s3_store_bucket", "",
		"S3 bucket images are stored in.",
		func(c *Config) *string { return &c.S3StoreBucket }, nil),
	boolOpt("glance_store", "s3_store_create_bucket_on_put", false,
		"Create the S3 bucket if it does not exist.",
		func(c *Config) *bool { return &c.S3StoreCreateBucket }),
	stringOpt("glance_store", "s3_store_bucket_url_format", "auto",
		"S3 addressing: path, virtual or auto (path for IP addresses and dotless hosts).",
		func(c *Config) *string { return &c.S3StoreBucketURLFormat }, oneOf("auto", "path", "virtual")),
	stringOpt("glance_store", "s3_store_region_name", "",
		"S3 region for request signing; empty means us-east-1.",
		func(c *Config) *string { return &c.S3StoreRegion }, nil),
	intOpt("glance_store", "s3_store_large_object_size", 100, 1, math.MaxInt32,
		"Images of this many MB or more (or of unknown size) are sent as S3 multipart uploads.",
		func(c *Config) *int { return &c.S3StoreLargeObjectSize }),
	intOpt("glance_store", "s3_store_large_object_chunk_size", 10, 5, math.MaxInt32,
		"Part size in MB of S3 multipart uploads (>= 5).",
		func(c *Config) *int { return &c.S3StoreLargeObjectChunk }),
	intOpt("glance_store", "s3_store_thread_pools", 10, 1, 1000,
		"Parts of an S3 multipart upload sent at once (1-1000).",
		func(c *Config) *int { return &c.S3StoreThreadPools }),
	stringOpt("glance_store", "https_ca_certificates_file", "",
		"CA bundle for https locations read by the HTTP store.",
		func(c *Config) *string { return &c.HTTPSCACertificatesFile }, nil),
	boolOpt("glance_store", "https_insecure", false,
		"Skip certificate verification for https locations (Glance defaults to true; Glint verifies).",
		func(c *Config) *bool { return &c.HTTPSInsecure }),
	boolOpt("glance_store", "http_store_allow_private_targets", false,
		"Let the HTTP store read from loopback, private and link-local addresses (Glint's own option).",
		func(c *Config) *bool { return &c.HTTPStoreAllowPrivate }),
	stringOpt("glance_store", "default_backend", "",
		"With enabled_backends: the name of the store uploads go to.",
		func(c *Config) *string { return &c.DefaultBackend }, nil),
	stringOpt("glance_store", "store_description", "",
		"With enabled_backends, in a backend's section: the description /v2/info/stores shows.",
		func(c *Config) *string { return &c.StoreDescription }, nil),
	stringOpt("glance_store", "swift_store_config_file", "",
		"File of Swift credentials, one [reference] section each (user, key, auth_address, auth_version, user_domain_name, project_domain_name).",
		func(c *Config) *string { return &c.SwiftStoreConfigFile }, nil),
	stringOpt("glance_store", "default_swift_reference", "ref1",
		"Section of swift_store_config_file whose credentials the Swift store uses.",
		func(c *Config) *string { return &c.DefaultSwiftReference }, nil),
	stringOpt("glance_store", "swift_store_auth_address", "",
		"Swift auth URL, when there is no swift_store_config_file (deprecated in Glance).",
		func(c *Config) *string { return &c.SwiftStoreAuthAddress }, nil),
	stringOpt("glance_store", "swift_store_user", "",
		"Swift user as project:user, when there is no swift_store_config_file (deprecated in Glance).",
		func(c *Config) *string { return &c.SwiftStoreUser }, nil),
	stringOpt("glance_store", "swift_store_key", "",
		"Swift key, when there is no swift_store_config_file (deprecated in Glance).",
		func(c *Config) *string { return &c.SwiftStoreKey }, nil),
	stringOpt("glance_store", "swift_store_auth_version", "2",
		"Swift auth version 1, 2 or 3, when there is no swift_store_config_file (deprecated in Glance).",
		func(c *Config) *string { return &c.SwiftStoreAuthVersion }, oneOf("1", "2", "3")),
	stringOpt("glance_store", "swift_store_region", "",
		"Region of the Swift endpoint in the service catalog.",
		func(c *Config) *string { return &c.SwiftStoreRegion }, nil),
	stringOpt("glance_store", "swift_store_endpoint", "",
		"Swift storage URL; in multi-tenant mode required, with %(tenant_id)s standing for the caller's project.",
		func(c *Config) *string { return &c.SwiftStoreEndpoint }, nil),
	stringOpt("glance_store", "swift_store_container", "glance",
		"Swift container images are stored in (the prefix of per-image containers in multi-tenant mode).",
		func(c *Config) *string { return &c.SwiftStoreContainer }, nil),
	intOpt("glance_store", "swift_store_large_object_size", 5120, 1, math.MaxInt32,
		"Images of this many MB or more, and of unknown size, are stored as segments and a manifest.",
		func(c *Config) *int { return &c.SwiftStoreLargeObjSize }),
	intOpt("glance_store", "swift_store_large_object_chunk_size", 200, 1, math.MaxInt32,
		"Segment size in MB of large Swift objects.",
		func(c *Config) *int { return &c.SwiftStoreLargeObjChunk }),
	boolOpt("glance_store", "swift_store_create_container_on_put", false,
		"Create the Swift container if it does not exist.",
		func(c *Config) *bool { return &c.SwiftStoreCreateOnPut }),
	boolOpt("glance_store", "swift_store_multi_tenant", false,
		"Store each image in its owner's Swift account, in a container of its own, with the caller's token.",
		func(c *Config) *bool { return &c.SwiftStoreMultiTenant }),
	intOpt("glance_store", "swift_store_multiple_containers_seed", 0, 0, 32,
		"Spread single-tenant images over containers named <container>_<first N characters of the image id> (0-32; 0 means one container).",
		func(c *Config) *int { return &c.SwiftStoreContainerSeed }),

	stringOpt("glance_store", "rbd_store_pool", "images",
		"Ceph pool the RBD store keeps images in.",
		func(c *Config) *string { return &c.RBDStorePool }, nil),
	stringOpt("glance_store", "rbd_store_user", "",
		"RADOS user (without \"client.\") the RBD store connects as; empty lets librados choose (client.admin).",
		func(c *Config) *string { return &c.RBDStoreUser }, nil),
	stringOpt("glance_store", "rbd_store_ceph_conf", "",
		"Ceph configuration file of the RBD store's cluster (monitors, keyring); empty lets librados search its default places.",
		func(c *Config) *string { return &c.RBDStoreCephConf }, nil),
	intOpt("glance_store", "rbd_store_chunk_size", 8, 1, 32,
		"RBD object size in MiB (a power of two), also the size of the RBD store's writes and reads.",
		func(c *Config) *int { return &c.RBDStoreChunkSize }),
	intOpt("glance_store", "rados_connect_timeout", 0, math.MinInt32, math.MaxInt32,
		"Seconds to wait for the Ceph cluster when connecting; 0 or less keeps librados's own timeout.",
		func(c *Config) *int { return &c.RadosConnectTimeout }),
	boolOpt("glance_store", "rbd_thin_provisioning", false,
		"Do not write chunks of zeros to RBD images, so they take space only for their data.",
		func(c *Config) *bool { return &c.RBDThinProvisioning }),

	stringOpt("paste_deploy", "flavor", "",
		"Pipeline flavor: empty (no authentication), keystone, caching, cachemanagement, keystone+caching or keystone+cachemanagement.",
		func(c *Config) *string { return &c.Flavor },
		oneOf("", "keystone", "caching", "cachemanagement", "keystone+caching", "keystone+cachemanagement")),

	// oslo.middleware's cors filter, with the defaults Glance's
	// set_cors_middleware_defaults gives it; [cors.<name>] sections take
	// the same options (cors.go).
	listOpt("cors", "allowed_origin", nil,
		"Origins (scheme://host[:port], no trailing slash; * for any) whose browsers may call the API: preflights are answered and responses carry the CORS headers. Empty: no CORS headers at all.",
		func(c *Config) *[]string { return &c.CORS.AllowedOrigin }, nil),
	boolOpt("cors", "allow_credentials", true,
		"Send Access-Control-Allow-Credentials: true to the allowed origins.",
		func(c *Config) *bool { return &c.CORS.AllowCredentials }),
	listOpt("cors", "expose_headers", corsExposeHeaders,
		"Response headers an allowed origin's scripts may read (Access-Control-Expose-Headers).",
		func(c *Config) *[]string { return &c.CORS.ExposeHeaders }, nil),
	intOpt("cors", "max_age", 3600, math.MinInt, math.MaxInt,
		"Seconds a browser may cache a preflight answer (Access-Control-Max-Age); 0 sends no such header.",
		func(c *Config) *int { return &c.CORS.MaxAge }),
	listOpt("cors", "allow_methods", []string{"GET", "PUT", "POST", "DELETE", "PATCH"},
		"Methods a preflight may ask for (compared exactly, so in capitals).",
		func(c *Config) *[]string { return &c.CORS.AllowMethods }, nil),
	listOpt("cors", "allow_headers", corsAllowHeaders,
		"Request headers a preflight may ask for, besides the simple ones (Accept, Accept-Language, Content-Type, Cache-Control, Content-Language, Expires, Last-Modified, Pragma); compared without case.",
		func(c *Config) *[]string { return &c.CORS.AllowHeaders }, nil),

	deprecatedAs("keystone_authtoken.auth_uri", stringOpt("keystone_authtoken", "www_authenticate_uri", "",
		"Keystone URL clients are sent to in the WWW-Authenticate header of a 401; empty means auth_url.",
		func(c *Config) *string { return &c.AuthtokenWWWAuthenticateURI }, nil)),
	stringOpt("keystone_authtoken", "auth_url", "",
		"Keystone identity URL Glint validates tokens with and authenticates itself to (e.g. http://controller:5000); required with flavor keystone.",
		func(c *Config) *string { return &c.AuthtokenAuthURL }, nil),
	stringOpt("keystone_authtoken", "auth_type", "password",
		"How Glint authenticates itself to Keystone; only password is supported.",
		func(c *Config) *string { return &c.AuthtokenAuthType }, oneOf("password", "v3password")),
	stringOpt("keystone_authtoken", "username", "",
		"Glint's service user.",
		func(c *Config) *string { return &c.AuthtokenUsername }, nil),
	stringOpt("keystone_authtoken", "password", "",
		"Password of Glint's service user.",
		func(c *Config) *string { return &c.AuthtokenPassword }, nil),
	stringOpt("keystone_authtoken", "project_name", "",
		"Project Glint's service user scopes its token to (usually service).",
		func(c *Config) *string { return &c.AuthtokenProjectName }, nil),
	stringOpt("keystone_authtoken", "user_domain_name", "",
		"Domain name of the service user; empty (and no user_domain_id) means the domain with id default.",
		func(c *Config) *string { return &c.AuthtokenUserDomainName }, nil),
	stringOpt("keystone_authtoken", "user_domain_id", "",
		"Domain id of the service user (instead of user_domain_name).",
		func(c *Config) *string { return &c.AuthtokenUserDomainID }, nil),
	stringOpt("keystone_authtoken", "project_domain_name", "",
		"Domain name of project_name; empty (and no project_domain_id) means the domain with id default.",
		func(c *Config) *string { return &c.AuthtokenProjectDomainName }, nil),
	stringOpt("keystone_authtoken", "project_domain_id", "",
		"Domain id of project_name (instead of project_domain_name).",
		func(c *Config) *string { return &c.AuthtokenProjectDomainID }, nil),
	intOpt("keystone_authtoken", "token_cache_time", 300, -1, math.MaxInt32,
		"Seconds a validated token is trusted without asking Keystone again (never past its expiry); 0 keeps it until it expires and -1 disables the cache, as in keystonemiddleware. Without [glint] keystone_revocation_check this bounds how long a revoked token keeps working.",
		func(c *Config) *int { return &c.AuthtokenTokenCacheTime }),
	boolOpt("keystone_authtoken", "include_service_catalog", true,
		"Whether glance-download may use the caller's service catalog (Glint validates tokens without it and asks Keystone for it when an import needs it).",
		func(c *Config) *bool { return &c.AuthtokenIncludeServiceCatalog }),
	listOpt("keystone_authtoken", "service_token_roles", []string{"service"},
		"Roles a token in X-Service-Token must hold (any one of them) for it to count as a service token. Only such a service token lets an expired X-Auth-Token through (validated with Keystone's allow_expired), as Nova and Cinder need for long uploads.",
		func(c *Config) *[]string { return &c.AuthtokenServiceTokenRoles }, nil),
	boolOpt("keystone_authtoken", "service_token_roles_required", false,
		"Reject a request whose X-Service-Token holds none of service_token_roles (false: log and accept, as keystonemiddleware does). Either way such a token never lets an expired X-Auth-Token through.",
		func(c *Config) *bool { return &c.AuthtokenServiceTokenRolesRequired }),
	intOpt("keystone_authtoken", "http_connect_timeout", 0, 0, math.MaxInt32,
		"Seconds to wait for Keystone to answer one request; 0 means 30.",
		func(c *Config) *int { return &c.AuthtokenHTTPConnectTimeout }),
	intOpt("keystone_authtoken", "http_request_max_retries", 3, 0, math.MaxInt32,
		"Retries of a Keystone request that failed to connect, before the API answers 503.",
		func(c *Config) *int { return &c.AuthtokenHTTPRequestMaxRetries }),
	stringOpt("keystone_authtoken", "cafile", "",
		"PEM file of CA certificates to verify Keystone's HTTPS certificate with; empty means the system's.",
		func(c *Config) *string { return &c.AuthtokenCAFile }, nil),
	boolOpt("keystone_authtoken", "insecure", false,
		"Do not verify Keystone's HTTPS certificate.",
		func(c *Config) *bool { return &c.AuthtokenInsecure }),
	boolOpt("keystone_authtoken", "delay_auth_decision", true,
		"As Glance's paste pipeline sets it (true): a bad or unverifiable token is Glance's plain 401 and a bad X-Service-Token is ignored; false: keystonemiddleware answers itself (its JSON 401, 503 when Keystone is unreachable).",
		func(c *Config) *bool { return &c.AuthtokenDelayAuthDecision }),
	intOpt("glint", "keystone_token_cache_size", 10000, 1, math.MaxInt32,
		"Most validated tokens kept in memory (least recently used go first); Glint's own bound, keystonemiddleware's in-process cache has none.",
		func(c *Config) *int { return &c.KeystoneTokenCacheSize }),
	boolOpt("glint", "keystone_revocation_check", true,
		"Follow Keystone's revocation events (GET /v3/OS-REVOKE/events, which needs the admin or service role for Glint's user) and drop the cached tokens they revoke, so a revoked token stops working within keystone_revocation_interval rather than token_cache_time; Glint's own extension, keystonemiddleware no longer checks cached tokens.",
		func(c *Config) *bool { return &c.KeystoneRevocationCheck }),
	intOpt("glint", "keystone_revocation_interval", 5, 1, math.MaxInt32,
		"Seconds from one fetch of Keystone's revocation events to the next (>= 1); with Keystone's answer time, the longest a revoked cached token keeps working.",
		func(c *Config) *int { return &c.KeystoneRevocationInterval }),

	deprecatedAs(defaultSection+".disk_formats", listOpt("image_format", "disk_formats",
		[]string{"ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"},
		"Allowed disk_format values (also read from [DEFAULT], as Glance does).",
		func(c *Config) *[]string { return &c.DiskFormats }, nil)),
	deprecatedAs(defaultSection+".container_formats", listOpt("image_format", "container_formats",
		[]string{"ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"},
		"Allowed container_format values (also read from [DEFAULT], as Glance does).",
		func(c *Config) *[]string { return &c.ContainerFormats }, nil)),

	// The image cache (docs/configuration.md#image-cache).
	stringOpt(defaultSection, "image_cache_dir", "",
		"Directory of the node's image cache. Setting it turns on the cache API and the prefetcher; a caching flavor also serves downloads through it. Empty with a caching flavor: <data_dir>/image-cache.",
		func(c *Config) *string { return &c.ImageCacheDir }, nil),
	intOpt(defaultSection, "image_cache_max_size", 10<<30, 0, math.MaxInt64,
		"Bytes the image cache may hold: the pruner removes least recently used files beyond it, and a larger image is never cached (0: no limit).",
		func(c *Config) *int64 { return &c.ImageCacheMaxSize }),
	intOpt(defaultSection, "image_cache_stall_time", 86400, 0, math.MaxInt32,
		"Seconds after which the cleaner removes an incomplete cache file nobody writes to.",
		func(c *Config) *int { return &c.ImageCacheStallTime }),
	stringOpt(defaultSection, "image_cache_driver", "centralized_db",
		"Where the cache keeps its records: centralized_db (the main database, every node's visible) or sqlite (a file of this node's, image_cache_sqlite_db). Glance 25.1 also had xattr, which Glint does not.",
		func(c *Config) *string { return &c.ImageCacheDriver }, oneOf("centralized_db", "sqlite")),
	stringOpt(defaultSection, "image_cache_sqlite_db", "cache.db",
		"The sqlite driver's database file, relative to image_cache_dir.",
		func(c *Config) *string { return &c.ImageCacheSQLiteDB }, nonEmpty),
	intOpt(defaultSection, "cache_prefetcher_interval", 300, 1, math.MaxInt32,
		"Seconds between two runs of the cache's periodic work in glint serve: prefetch the queued images, prune, clean.",
		func(c *Config) *int { return &c.CachePrefetcherInterval }),

	// Interoperable import (docs/import.md).
	stringOpt(defaultSection, "worker_self_reference_url", "",
		"URL of this node, recorded in os_glance_stage_host when an image is staged and naming the node's image cache in the database (centralized_db); empty means public_endpoint.",
		func(c *Config) *string { return &c.WorkerSelfReferenceURL }, nil),
	intOpt("task", "task_time_to_live", 48, 0, math.MaxInt32,
		"Hours a finished task is kept before it expires (0 or more).",
		func(c *Config) *int { return &c.TaskTimeToLive }),
	intOpt("wsgi", "task_pool_threads", 16, 1, 1024,
		"Number of imports a node runs at once (1-1024); further imports wait in the queue.",
		func(c *Config) *int { return &c.TaskPoolThreads }),
	listOpt("import_filtering_opts", "allowed_schemes", []string{"http", "https"},
		"URI schemes web-download may fetch from; when set, disallowed_schemes is ignored.",
		func(c *Config) *[]string { return &c.AllowedSchemes }, nil),
	listOpt("import_filtering_opts", "disallowed_schemes", nil,
		"URI schemes web-download may not fetch from (used only when allowed_schemes is empty).",
		func(c *Config) *[]string { return &c.DisallowedSchemes }, nil),
	listOpt("import_filtering_opts", "allowed_hosts", nil,
		"Host names or IP addresses web-download may fetch from; when set, disallowed_hosts is ignored.",
		func(c *Config) *[]string { return &c.AllowedHosts }, nil),
	listOpt("import_filtering_opts", "disallowed_hosts", nil,
		"Host names or IP addresses web-download may not fetch from (used only when allowed_hosts is empty).",
		func(c *Config) *[]string { return &c.DisallowedHosts }, nil),
	listOpt("import_filtering_opts", "allowed_ports", []string{"80", "443"},
		"Ports a web-download URI may name explicitly; when set, disallowed_ports is ignored.",
		func(c *Config) *[]string { return &c.AllowedPorts }, portNumber),
	listOpt("import_filtering_opts", "disallowed_ports", nil,
		"Ports a web-download URI may not name (used only when allowed_ports is empty).",
		func(c *Config) *[]string { return &c.DisallowedPorts }, portNumber),
	boolOpt("glint", "import_allow_private_networks", false,
		"Let web-download reach loopback, private, link-local and other non-public addresses (Glance does; Glint refuses them by default).",
		func(c *Config) *bool { return &c.ImportAllowPrivate }),
	listOpt("image_import_opts", "image_import_plugins", nil,
		"Import plugins run on glance-direct and web-download imports, in order: no_op, inject_image_metadata, image_conversion, image_decompression.",
		func(c *Config) *[]string { return &c.ImageImportPlugins },
		oneOf("no_op", "inject_image_metadata", "image_conversion", "image_decompression")),
	stringOpt("image_conversion", "output_format", "raw",
		"Disk format the image_conversion plugin converts imported images to: raw, qcow2 or vmdk.",
		func(c *Config) *string { return &c.ConversionFormat }, oneOf("raw", "qcow2", "vmdk")),
	listOpt("glance_download_properties", "extra_properties", []string{"hw_", "trait:", "os_distro", "os_secure_boot", "os_type"},
		"Prefixes of the properties the glance-download import method copies from the remote image.",
		func(c *Config) *[]string { return &c.DownloadProperties }, nil),
	listOpt("inject_metadata_properties", "ignore_user_roles", []string{"admin"},
		"Callers with any of these roles get no properties from the inject_image_metadata plugin.",
		func(c *Config) *[]string { return &c.InjectIgnoreUserRoles }, nil),
	listOpt("inject_metadata_properties", "inject", nil,
		"Properties the inject_image_metadata plugin sets on imported images, as key:value items.",
		func(c *Config) *[]string { return &c.InjectProperties }, keyValue),
	intOpt("glint", "qemu_img_address_space", 2147483648, 0, math.MaxInt64,
		"Address space limit of each qemu-img process, in bytes (0: none); applied with prlimit.",
		func(c *Config) *int64 { return &c.QemuImgMemory }),
	intOpt("glint", "qemu_img_cpu_time", 30, 0, math.MaxInt32,
		"CPU time limit of qemu-img info, in seconds (0: none).",
		func(c *Config) *int { return &c.QemuImgCPU }),
	intOpt("glint", "image_conversion_timeout", 3600, 0, math.MaxInt32,
		"Wall-time limit of one qemu-img convert, in seconds (0: none).",
		func(c *Config) *int { return &c.ConversionTimeout }),
}

func portNumber(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("invalid value %q: must be a port number (0-65535)", s)
	}
	return nil
}

func keyValue(s string) error {
	if k, _, ok := strings.Cut(s, ":"); !ok || k == "" {
		return fmt.Errorf("invalid value %q: must be key:value", s)
	}
	return nil
}

var storageQuotaRE = regexp.MustCompile(`^\d+(B|KB|MB|GB|TB)?$`)

// Option constructors. Each returns a complete optDef whose apply closes
// over the field accessor, so the table stays declarative.

func stringOpt(section, name, def, help string, field func(*Config) *string, check func(string) error) optDef {
	return optDef{
		section: section, name: name, typ: "string", def: def, help: help,
		apply: func(c *Config, raw string) error {
			if check != nil {
				if err := check(raw); err != nil {
					return err
				}
			}
			*field(c) = raw
			return nil
		},
		format: func(c *Config) string { return *field(c) },
		str:    field,
	}
}

func boolOpt(section, name string, def bool, help string, field func(*Config) *bool) optDef {
	return optDef{
		section: section, name: name, typ: "boolean", def: strconv.FormatBool(def), help: help,
		apply: func(c *Config, raw string) error {
			v, err := parseBool(raw)
			if err != nil {
				return err
			}
			*field(c) = v
			return nil
		},
		// Python's str(bool), which is what oslo substitutes.
		format: func(c *Config) string {
			if *field(c) {
				return "True"
			}
			return "False"
		},
	}
}

// intOpt defines an integer option with an inclusive range.
func intOpt[T int | int64](section, name string, def, lo, hi int64, help string, field func(*Config) *T) optDef {
	defStr := strconv.FormatInt(def, 10)
	return optDef{
		section: section, name: name, typ: "integer", def: defStr, help: help,
		apply: func(c *Config, raw string) error {
			// oslo's Integer turns an empty value into None, i.e. "not
			// set"; the closest Go equivalent is the default.
			if strings.TrimSpace(raw) == "" {
				raw = defStr
			}
			v, err := parseInt(raw, lo, hi)
			if err != nil {
				return err
			}
			*field(c) = T(v)
			return nil
		},
		format: func(c *Config) string { return strconv.FormatInt(int64(*field(c)), 10) },
	}
}

// permOpt defines a file permission option the way glance_store reads
// filesystem_store_file_perm: an integer whose decimal digits are really
// octal (640 means 0o640), with 0 or less meaning "leave to the umask". The
// field holds the actual mode bits, ready for os.FileMode.
func permOpt(section, name, help string, field func(*Config) *int) optDef {
	return optDef{
		section: section, name: name, typ: "integer", def: "0", help: help,
		apply: func(c *Config, raw string) error {
			if strings.TrimSpace(raw) == "" {
				raw = "0"
			}
			v, err := parseInt(raw, math.MinInt64, 7777)
			if err != nil {
				return err
			}
			if v <= 0 {
				*field(c) = 0
				return nil
			}
			mode, err := strconv.ParseInt(strconv.FormatInt(v, 10), 8, 64)
			if err != nil {
				return fmt.Errorf("invalid value %d: permissions are written in octal digits (0-7), e.g. 640", v)
			}
			*field(c) = int(mode)
			return nil
		},
		format: func(c *Config) string { return strconv.FormatInt(int64(*field(c)), 8) },
	}
}

// listOpt defines a list option; check, when set, validates each item.
func listOpt(section, name string, def []string, help string, field func(*Config) *[]string, check func(string) error) optDef {
	return optDef{
		section: section, name: name, typ: "list", def: strings.Join(def, ","), help: help,
		apply: func(c *Config, raw string) error {
			items := parseList(raw)
			if check != nil {
				for _, it := range items {
					if err := check(it); err != nil {
						return err
					}
				}
			}
			*field(c) = items
			return nil
		},
		format: func(c *Config) string { return strings.Join(*field(c), ",") },
	}
}

// derived marks a string option whose empty value is filled from DataDir by
// Finish.
func derived(slot int, fn func(dataDir string) string, o optDef) optDef {
	o.derive, o.slot = fn, slot
	return o
}

func deprecatedAs(old string, o optDef) optDef {
	o.deprecated = append(o.deprecated, old)
	return o
}

// Validators.

// backendItem checks an enabled_backends item: name:type.
func backendItem(s string) error {
	name, typ, ok := strings.Cut(s, ":")
	name, typ = strings.TrimSpace(name), strings.TrimSpace(typ)
	if !ok || name == "" || typ == "" {
		return fmt.Errorf("%q: want name:type", s)
	}
	if strings.HasPrefix(name, "os_glance_") {
		return fmt.Errorf("%q: names starting with os_glance_ are reserved", s)
	}
	return oneOf("file", "http", "s3", "swift", "rbd", "cinder", "vmware")(typ)
}

// dataDirItem checks a filesystem_store_datadirs item: path[:priority].
func dataDirItem(s string) error {
	path, prio, ok := strings.Cut(s, ":")
	if strings.TrimSpace(path) == "" {
		return fmt.Errorf("%q: empty directory", s)
	}
	if ok {
		if _, err := strconv.Atoi(strings.TrimSpace(prio)); err != nil {
			return fmt.Errorf("%q: the priority after ':' must be an integer", s)
		}
	}
	return nil
}

// hostPort is empty or host:port.
func hostPort(s string) error {
	if s == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("must be host:port")
	}
	if host != "" {
		if err := hostAddress(host); err != nil {
			return err
		}
	}
	return portNumber(port)
}

// httpURL is an http:// or https:// URL with a host.
func httpURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an http:// or https:// URL")
	}
	return nil
}

func nonEmpty(s string) error {
	if s == "" {
		return fmt.Errorf("must not be empty")
	}
	return nil
}

func oneOf(choices ...string) func(string) error {
	return func(s string) error {
		if slices.Contains(choices, s) {
			return nil
		}
		quoted := make([]string, len(choices))
		for i, c := range choices {
			quoted[i] = strconv.Quote(c)
		}
		return fmt.Errorf("invalid value %q: must be one of %s", s, strings.Join(quoted, ", "))
	}
}

func matches(re *regexp.Regexp, what string) func(string) error {
	return func(s string) error {
		if re.MatchString(s) {
			return nil
		}
		return fmt.Errorf("invalid value %q: must be %s", s, what)
	}
}

// fileURI accepts "" (derived) or a file:// URI, the only kind of staging
// area Glance supports.
func fileURI(s string) error {
	if s == "" || (strings.HasPrefix(s, "file://") && len(s) > len("file://")) {
		return nil
	}
	return fmt.Errorf("invalid value %q: must be a file:// URI", s)
}
