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
	MaxRequestIDLength    int      // max_request_id_length, default 64
	DelayedDelete         bool     // delayed_delete, default false
	Debug                 bool     // debug, default false
	LogFile               string   // log_file, default ""

	// [database]
	DatabaseConnection string // connection, default "" (meaning sqlite:///<DataDir>/glint.db, see Finish)

	// [glance_store]
	Stores                  []string // stores, default [file, http]
	DefaultStore            string   // default_store, default "file"
	FilesystemStoreDatadir  string   // filesystem_store_datadir, default "" (meaning <DataDir>/images, see Finish)
	FilesystemStoreFilePerm int      // filesystem_store_file_perm, default 0 (written in octal digits as in Glance, "640"; held as the mode bits, 0o640; 0 means leave umask)

	// [paste_deploy]
	Flavor string // flavor, default "" (no-auth pipeline); "", keystone, caching, cachemanagement, keystone+caching, keystone+cachemanagement

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

	// [image_format]
	DiskFormats      []string // disk_formats, default [ami ari aki vhd vhdx vmdk raw qcow2 vdi iso ploop]
	ContainerFormats []string // container_formats, default [ami ari aki bare ovf ova docker compressed]

	// Ignored lists "section.option" names present in the files that Glint
	// does not know, sorted, each once.
	Ignored []string

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
