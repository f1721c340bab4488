package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// writeConf writes content to a fresh file and returns its path.
func writeConf(t testing.TB, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "test.conf")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestDefault(t *testing.T) {
	c := Default()
	want := &Config{
		DataDir:                 "glint-data",
		BindHost:                "127.0.0.1",
		BindPort:                9292,
		Workers:                 0,
		PublicEndpoint:          "",
		ImageSizeCap:            1099511627776,
		LimitParamDefault:       25,
		APILimitMax:             1000,
		HashingAlgorithm:        "sha512",
		UserStorageQuota:        "0",
		ImageMemberQuota:        128,
		ImagePropertyQuota:      128,
		ImageTagQuota:           128,
		ImageLocationQuota:      10,
		EnabledImportMethods:    []string{"glance-direct", "web-download", "copy-image"},
		NodeStagingURI:          "file://" + filepath.ToSlash(mustAbs(t, "glint-data/staging")),
		MaxRequestIDLength:      64,
		DatabaseConnection:      "sqlite:///glint-data/glint.db",
		Stores:                  []string{"file", "http"},
		DefaultStore:            "file",
		FilesystemStoreDatadir:  filepath.Join("glint-data", "images"),
		FilesystemStoreDatadirs: []string{},
		FilesystemStoreChunk:    65536,
		ImageCacheMaxSize:       10 << 30,
		ImageCacheStallTime:     86400,
		ImageCacheDriver:        "centralized_db",
		ImageCacheSQLiteDB:      "cache.db",
		CachePrefetcherInterval: 300,
		S3StoreBucketURLFormat:  "auto",
		S3StoreLargeObjectSize:  100,
		S3StoreLargeObjectChunk: 10,
		S3StoreThreadPools:      10,
		DefaultSwiftReference:   "ref1",
		EnabledBackends:         []string{},
		SwiftStoreAuthVersion:   "2",
		SwiftStoreContainer:     "glance",
		SwiftStoreLargeObjSize:  5120,
		SwiftStoreLargeObjChunk: 200,
		RBDStorePool:            "images",
		RBDStoreChunkSize:       8,
		DiskFormats:             []string{"ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"},
		ContainerFormats:        []string{"ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"},

		PropertyProtectionRuleFormat: "roles",
		LimitImageSizeTotal:          -1,
		LimitImageStageTotal:         -1,
		LimitImageCountTotal:         -1,
		LimitImageCountUploading:     -1,
		PolicyFile:                   "policy.yaml",
		PolicyDirs:                   []string{"policy.d"},
		PolicyDefaultRule:            "default",
		WakeupTime:                   300,
		UploadStaleAfter:             600,
		AccessLog:                    true,
		TracingEndpoint:              "http://127.0.0.1:4318/v1/traces",
		TracingServiceName:           "glint",
		TracingSamplePercent:         100,
		TaskTimeToLive:               48,
		TaskPoolThreads:              16,
		AllowedSchemes:               []string{"http", "https"},
		DisallowedSchemes:            []string{},
		AllowedHosts:                 []string{},
		DisallowedHosts:              []string{},
		AllowedPorts:                 []string{"80", "443"},
		DisallowedPorts:              []string{},
		ImageImportPlugins:           []string{},
		ConversionFormat:             "raw",
		InjectIgnoreUserRoles:        []string{"admin"},
		InjectProperties:             []string{},
		QemuImgMemory:                2147483648,
		QemuImgCPU:                   30,
		ConversionTimeout:            3600,
		DownloadProperties:           []string{"hw_", "trait:", "os_distro", "os_secure_boot", "os_type"},
	}
	// [keystone_authtoken] defaults, keystonemiddleware's (delay_auth_decision: Glance's paste pipeline's)
	want.AuthtokenAuthType, want.AuthtokenTokenCacheTime, want.AuthtokenIncludeServiceCatalog = "password", 300, true
	want.AuthtokenServiceTokenRoles, want.AuthtokenHTTPRequestMaxRetries = []string{"service"}, 3
	want.AuthtokenDelayAuthDecision, want.KeystoneTokenCacheSize = true, 10000
	want.KeystoneRevocationCheck, want.KeystoneRevocationInterval = true, 5
	want.OsloLimit = OsloLimit{EndpointInterface: "public", CacheTime: 30}
	want.ClientSocketTimeout, want.MaxHeaderLine, want.HTTPKeepalive = 900, 16384, true
	want.Notifications = Notifications{Exchange: "glance", PublisherID: "image.localhost", Disabled: []string{},
		Drivers: []string{}, Topics: []string{"notifications"}, Retry: -1, Heartbeat: 60, LoginMethod: "AMQPLAIN",
		RetryInterval: 1, RetryBackoff: 2, IntervalMax: 30, QueueSize: 10000}
	// [cors]: oslo.middleware's, with the defaults Glance sets
	want.CORS = CORS{AllowedOrigin: []string{}, AllowCredentials: true, MaxAge: 3600,
		ExposeHeaders: []string{"X-Image-Meta-Checksum", "X-Auth-Token", "X-Subject-Token", "X-Service-Token", "X-OpenStack-Request-ID"},
		AllowMethods:  []string{"GET", "PUT", "POST", "DELETE", "PATCH"},
		AllowHeaders: []string{"Content-MD5", "X-Image-Meta-Checksum", "X-Storage-Token", "Accept-Encoding", "X-Auth-Token",
			"X-Identity-Status", "X-Roles", "X-Service-Catalog", "X-User-Id", "X-Tenant-Id", "X-OpenStack-Request-ID"}}
	want.derived = c.derived // internal bookkeeping, checked in TestFinish
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Default() =\n%+v\nwant\n%+v", c, want)
	}

	// No files at all is the same as the default.
	loaded, err := Load(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded, c) {
		t.Errorf("Load(nil, nil) =\n%+v\nwant Default()\n%+v", loaded, c)
	}

	// Default hands out fresh slices, never the table's.
	c.Stores[0] = "mutated"
	if Default().Stores[0] != "file" {
		t.Error("Default() shares slices between calls")
	}
}

func TestLoadRealistic(t *testing.T) {
	c, err := Load(
		[]string{"testdata/glance-api.conf", "testdata/override.conf"},
		[]string{"testdata/conf.d"},
	)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"BindHost", c.BindHost, "0.0.0.0"},
		{"BindPort (override.conf wins)", c.BindPort, 9494},
		{"Workers", c.Workers, 4},
		// ${bind_port} is substituted with the effective value.
		{"PublicEndpoint ($api_host, ${bind_port})", c.PublicEndpoint, "https://glance.example.org:9494/"},
		{"ShowImageDirectURL", c.ShowImageDirectURL, true},
		{"ShowMultipleLocations", c.ShowMultipleLocations, false},
		{"ImageSizeCap", c.ImageSizeCap, int64(10737418240)},
		{"LimitParamDefault", c.LimitParamDefault, 50},
		{"APILimitMax", c.APILimitMax, 500},
		{"HashingAlgorithm", c.HashingAlgorithm, "sha256"},
		{"UserStorageQuota", c.UserStorageQuota, "500GB"},
		{"ImageMemberQuota", c.ImageMemberQuota, -1},
		{"ImagePropertyQuota (default)", c.ImagePropertyQuota, 128},
		{"ImageTagQuota (conf.d wins over files)", c.ImageTagQuota, 64},
		{"ImageLocationQuota (later conf.d file wins)", c.ImageLocationQuota, 7},
		{"EnabledImportMethods (brackets, quotes, continuation)", c.EnabledImportMethods, []string{"glance-direct", "web-download", "copy-image"}},
		{"MaxRequestIDLength (dashes)", c.MaxRequestIDLength, 80},
		{"Debug (override.conf)", c.Debug, false},
		{"LogFile (no inline comments)", c.LogFile, "/var/log/glance/api.log # not a comment: oslo keeps it"},
		{"DatabaseConnection", c.DatabaseConnection, "mysql+pymysql://glance:secret@controller/glance"},
		{"Flavor", c.Flavor, "keystone"},
		{"Stores", c.Stores, []string{"file", "http"}},
		{"DefaultStore", c.DefaultStore, "file"},
		{"FilesystemStoreDatadir", c.FilesystemStoreDatadir, "/var/lib/glance/images/"},
		{"FilesystemStoreFilePerm (octal digits)", c.FilesystemStoreFilePerm, 0o640},
		{"DiskFormats (brackets)", c.DiskFormats, []string{"raw", "qcow2", "iso"}},
		{"ContainerFormats ([IMAGE_FORMAT], empty items dropped)", c.ContainerFormats, []string{"bare", "ovf"}},
		{"DataDir (default)", c.DataDir, "glint-data"},
		{"AuthtokenAuthURL", c.AuthtokenAuthURL, "http://controller:5000"},
		{"AuthtokenWWWAuthenticateURI", c.AuthtokenWWWAuthenticateURI, "http://controller:5000"},
		{"Authtoken service user", []string{c.AuthtokenUsername, c.AuthtokenPassword, c.AuthtokenProjectName,
			c.AuthtokenUserDomainName, c.AuthtokenProjectDomainName}, []string{"glance", "secret", "service", "Default", "Default"}},
		{"NodeStagingURI (derived)", c.NodeStagingURI, "file://" + filepath.ToSlash(mustAbs(t, "glint-data/staging"))},
		{"Ignored (unknown to Glance too)", c.Ignored, []string{
			"DEFAULT.api_host",
			"DEFAULT.price",
		}},
		{"Unused (Glance's)", c.Unused, []string{
			"database.max_pool_size",
			"keystone_authtoken.memcached_servers",
		}},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
}

// TestLoadSyntax covers the oslo.config value and file syntax on small files.
func TestLoadSyntax(t *testing.T) {
	tests := []struct {
		name  string
		files []string // contents; later files override earlier ones
		check func(c *Config) (got, want any)
	}{
		{"boolean spellings", []string{"[DEFAULT]\ndebug = YES\ndelayed_delete = On\nshow_image_direct_url = 1\n"},
			func(c *Config) (any, any) {
				return []bool{c.Debug, c.DelayedDelete, c.ShowImageDirectURL}, []bool{true, true, true}
			}},
		{"boolean false spellings", []string{"[DEFAULT]\ndebug = False\n[DEFAULT]\ndelayed_delete = OFF\nshow_image_direct_url = 0\nshow_multiple_locations = No\n"},
			func(c *Config) (any, any) {
				return []bool{c.Debug, c.DelayedDelete, c.ShowImageDirectURL, c.ShowMultipleLocations}, []bool{false, false, false, false}
			}},
		{"integer with sign and underscores", []string{"[DEFAULT]\nbind_port = +8_080\nimage_tag_quota = -5\n"},
			func(c *Config) (any, any) { return []int{c.BindPort, c.ImageTagQuota}, []int{8080, -5} }},
		{"empty integer means default", []string{"[DEFAULT]\nbind_port =\n"},
			func(c *Config) (any, any) { return c.BindPort, 9292 }},
		{"image_size_cap limits", []string{"[DEFAULT]\nimage_size_cap = 9223372036854775807\n"},
			func(c *Config) (any, any) { return c.ImageSizeCap, int64(9223372036854775807) }},
		{"image_size_cap zero", []string{"[DEFAULT]\nimage_size_cap = 0\n"},
			func(c *Config) (any, any) { return c.ImageSizeCap, int64(0) }},
		{"plain list", []string{"[glance_store]\nstores = file, http ,rbd\n"},
			func(c *Config) (any, any) { return c.Stores, []string{"file", "http", "rbd"} }},
		{"bracketed list", []string{"[glance_store]\nstores = [ file , http ]\n"},
			func(c *Config) (any, any) { return c.Stores, []string{"file", "http"} }},
		{"empty list", []string{"[glance_store]\nstores =\n"},
			func(c *Config) (any, any) { return c.Stores, []string{} }},
		{"empty bracketed list", []string{"[DEFAULT]\nenabled_import_methods = []\n"},
			func(c *Config) (any, any) { return c.EnabledImportMethods, []string{} }},
		{"list across continuation lines", []string{"[image_format]\ncontainer_formats =\n    bare,\n    ovf\n\n[DEFAULT]\ndebug = true\n"},
			func(c *Config) (any, any) {
				return []any{c.ContainerFormats, c.Debug}, []any{[]string{"bare", "ovf"}, true}
			}},
		{"continuation of a string keeps newlines", []string{"[DEFAULT]\npublic_endpoint = http://a\n  /b\n"},
			func(c *Config) (any, any) { return c.PublicEndpoint, "http://a\n/b" }},
		{"inline comment is part of the value", []string{"[DEFAULT]\nlog_file = /tmp/x.log ; here\n"},
			func(c *Config) (any, any) { return c.LogFile, "/tmp/x.log ; here" }},
		{"surrounding quotes are stripped", []string{"[DEFAULT]\nlog_file = \"/tmp/a b.log\"\nbind_host = '::1'\n"},
			func(c *Config) (any, any) { return []string{c.LogFile, c.BindHost}, []string{"/tmp/a b.log", "::1"} }},
		{"colon delimiter", []string{"[DEFAULT]\nbind_port: 1234\n"},
			func(c *Config) (any, any) { return c.BindPort, 1234 }},
		{"repeated key: last wins", []string{"[DEFAULT]\nbind_port = 1\nbind_port = 2\n[DEFAULT]\nbind_port = 3\n"},
			func(c *Config) (any, any) { return c.BindPort, 3 }},
		{"later file wins", []string{"[DEFAULT]\nbind_port = 1\nworkers = 3\n", "[DEFAULT]\nbind_port = 2\n"},
			func(c *Config) (any, any) { return []int{c.BindPort, c.Workers}, []int{2, 3} }},
		{"dashes accepted for underscores", []string{"[DEFAULT]\nbind-port = 1111\n[glint]\ndata-dir = /d\n"},
			func(c *Config) (any, any) { return []any{c.BindPort, c.DataDir}, []any{1111, "/d"} }},
		{"group names are case-insensitive", []string{"[Glance_Store]\ndefault_store = http\n"},
			func(c *Config) (any, any) { return c.DefaultStore, "http" }},
		{"[default] is not [DEFAULT]", []string{"[default]\nbind_port = 1\n"},
			func(c *Config) (any, any) {
				return []any{c.BindPort, c.Ignored}, []any{9292, []string{"default.bind_port"}}
			}},
		{"option keys are case-sensitive", []string{"[DEFAULT]\nBind_Port = 1\n"},
			func(c *Config) (any, any) {
				return []any{c.BindPort, c.Ignored}, []any{9292, []string{"DEFAULT.Bind_Port"}}
			}},
		{"deprecated [DEFAULT] disk_formats", []string{"[DEFAULT]\ndisk_formats = raw\n"},
			func(c *Config) (any, any) {
				return []any{c.DiskFormats, c.Ignored}, []any{[]string{"raw"}, []string(nil)}
			}},
		{"current name beats deprecated in one file", []string{"[DEFAULT]\ndisk_formats = raw\n[image_format]\ndisk_formats = iso\n"},
			func(c *Config) (any, any) { return c.DiskFormats, []string{"iso"} }},
		{"deprecated name in a later file wins", []string{"[image_format]\ndisk_formats = iso\n", "[DEFAULT]\ndisk_formats = raw\n"},
			func(c *Config) (any, any) { return c.DiskFormats, []string{"raw"} }},
		{"comments and blank lines before the first section", []string{"\n# c\n; c\n\n[DEFAULT]\nworkers = 2\n"},
			func(c *Config) (any, any) { return c.Workers, 2 }},
		{"UTF-8 BOM", []string{"\uFEFF[DEFAULT]\nworkers = 2\n"},
			func(c *Config) (any, any) { return c.Workers, 2 }},
		{"CRLF line endings", []string{"[DEFAULT]\r\nworkers = 2\r\nlog_file = x\r\n"},
			func(c *Config) (any, any) { return []any{c.Workers, c.LogFile}, []any{2, "x"} }},
		{"no trailing newline", []string{"[DEFAULT]\nworkers = 2"},
			func(c *Config) (any, any) { return c.Workers, 2 }},
		{"file perm", []string{"[glance_store]\nfilesystem_store_file_perm = 0640\n"},
			func(c *Config) (any, any) { return c.FilesystemStoreFilePerm, 0o640 }},
		{"negative file perm means umask, as in glance_store", []string{"[glance_store]\nfilesystem_store_file_perm = -1\n"},
			func(c *Config) (any, any) { return c.FilesystemStoreFilePerm, 0 }},
		{"file perm substitutes as written", []string{"[glance_store]\nfilesystem_store_file_perm = 600\n[DEFAULT]\nlog_file = ${glance_store.filesystem_store_file_perm}\n"},
			func(c *Config) (any, any) { return c.LogFile, "600" }},
		{"flavors", []string{"[paste_deploy]\nflavor = keystone+cachemanagement\n"},
			func(c *Config) (any, any) { return c.Flavor, "keystone+cachemanagement" }},
		{"user_storage_quota without unit", []string{"[DEFAULT]\nuser_storage_quota = 1073741824\n"},
			func(c *Config) (any, any) { return c.UserStorageQuota, "1073741824" }},
		{"bind_host name", []string{"[DEFAULT]\nbind_host = glance-api.example.org\n"},
			func(c *Config) (any, any) { return c.BindHost, "glance-api.example.org" }},

		// $name substitution.
		{"$name from the same section", []string{"[DEFAULT]\nbind_port = 8000\npublic_endpoint = http://h:$bind_port\n"},
			func(c *Config) (any, any) { return c.PublicEndpoint, "http://h:8000" }},
		{"${name} and default values", []string{"[DEFAULT]\npublic_endpoint = http://${bind_host}:${bind_port}/v\n"},
			func(c *Config) (any, any) { return c.PublicEndpoint, "http://127.0.0.1:9292/v" }},
		{"$name falls back to DEFAULT", []string{"[DEFAULT]\nbase = /srv/glance\n[glance_store]\nfilesystem_store_datadir = $base/images\n"},
			func(c *Config) (any, any) { return c.FilesystemStoreDatadir, "/srv/glance/images" }},
		{"same section before DEFAULT", []string{"[DEFAULT]\nbase = /wrong\n[glance_store]\nbase = /right\nfilesystem_store_datadir = $base/images\n"},
			func(c *Config) (any, any) { return c.FilesystemStoreDatadir, "/right/images" }},
		{"$section.name", []string{"[glint]\ndata_dir = /srv/glint\n[glance_store]\nfilesystem_store_datadir = ${glint.data_dir}/img\n"},
			func(c *Config) (any, any) { return c.FilesystemStoreDatadir, "/srv/glint/img" }},
		{"$$ and \\$ are literal $", []string{"[DEFAULT]\nlog_file = a$$b\\$c\n"},
			func(c *Config) (any, any) { return c.LogFile, "a$b$c" }},
		{"$ without a name is kept", []string{"[DEFAULT]\nlog_file = a$ $1 ${ x$\n"},
			func(c *Config) (any, any) { return c.LogFile, "a$ $1 ${ x$" }},
		{"booleans substitute as Python prints them", []string{"[DEFAULT]\ndebug = yes\nlog_file = debug-$debug\n"},
			func(c *Config) (any, any) { return c.LogFile, "debug-True" }},
		{"lists substitute comma separated", []string{"[glance_store]\nstores = [file, http]\nhome = $stores\n[DEFAULT]\nlog_file = ${glance_store.home}\n"},
			func(c *Config) (any, any) { return c.LogFile, "file,http" }},
		{"chained references", []string{"[DEFAULT]\na = $b/x\nb = $c/y\nc = /z\nlog_file = $a\n"},
			func(c *Config) (any, any) { return c.LogFile, "/z/y/x" }},
		{"references use the winning file's value", []string{"[DEFAULT]\nhost = old\nlog_file = /$host\n", "[DEFAULT]\nhost = new\n"},
			func(c *Config) (any, any) { return c.LogFile, "/new" }},
		{"unknown references elsewhere are not fatal", []string{"[keystone_authtoken]\nmemcached_servers = $nowhere\n"},
			func(c *Config) (any, any) { return c.Unused, []string{"keystone_authtoken.memcached_servers"} }},
		{"auth_uri is the old name of www_authenticate_uri", []string{"[keystone_authtoken]\nauth_uri = http://ks:5000\n"},
			func(c *Config) (any, any) { return c.AuthtokenWWWAuthenticateURI, "http://ks:5000" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var paths []string
			for _, content := range tt.files {
				paths = append(paths, writeConf(t, content))
			}
			c, err := Load(paths, nil)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got, want := tt.check(c); !reflect.DeepEqual(got, want) {
				t.Errorf("got %#v, want %#v", got, want)
			}
		})
	}
}

// TestLoadBadValues checks every invalid value is reported with its
// section.option and file.
func TestLoadBadValues(t *testing.T) {
	tests := []struct {
		conf   string
		option string // must appear in the error
		detail string // must appear in the error too
	}{
		{"[glint]\ndata_dir =\n", "glint.data_dir", "empty"},
		{"[DEFAULT]\nbind_host = not a host\n", "DEFAULT.bind_host", "IP address or a host name"},
		{"[DEFAULT]\nbind_host = 10.0.0.300\n", "DEFAULT.bind_host", "IP address or a host name"},
		{"[DEFAULT]\nbind_port = abc\n", "DEFAULT.bind_port", `invalid integer value "abc"`},
		{"[DEFAULT]\nbind_port = 0\n", "DEFAULT.bind_port", "between 1 and 65535"},
		{"[DEFAULT]\nbind_port = 65536\n", "DEFAULT.bind_port", "between 1 and 65535"},
		{"[DEFAULT]\nbind_port = 9292.0\n", "DEFAULT.bind_port", "invalid integer"},
		{"[DEFAULT]\nbind_port = 0x10\n", "DEFAULT.bind_port", "invalid integer"},
		{"[DEFAULT]\nworkers = -1\n", "DEFAULT.workers", ">= 0"},
		{"[DEFAULT]\nimage_size_cap = -1\n", "DEFAULT.image_size_cap", ">= 0"},
		{"[DEFAULT]\nimage_size_cap = 9223372036854775808\n", "DEFAULT.image_size_cap", "out of range"},
		{"[DEFAULT]\nshow_image_direct_url = maybe\n", "DEFAULT.show_image_direct_url", `invalid boolean value "maybe"`},
		{"[DEFAULT]\nshow_multiple_locations =\n", "DEFAULT.show_multiple_locations", "invalid boolean"},
		{"[DEFAULT]\nlimit_param_default = 0\n", "DEFAULT.limit_param_default", ">= 1"},
		{"[DEFAULT]\napi_limit_max = 0\n", "DEFAULT.api_limit_max", ">= 1"},
		{"[DEFAULT]\nhashing_algorithm = sha3_256\n", "DEFAULT.hashing_algorithm", "must be one of"},
		{"[DEFAULT]\nuser_storage_quota = 10 GB\n", "DEFAULT.user_storage_quota", "suffix"},
		{"[DEFAULT]\nuser_storage_quota = 10PB\n", "DEFAULT.user_storage_quota", "suffix"},
		{"[DEFAULT]\nuser_storage_quota = -1\n", "DEFAULT.user_storage_quota", "suffix"},
		{"[DEFAULT]\nimage_member_quota = lots\n", "DEFAULT.image_member_quota", "invalid integer"},
		{"[DEFAULT]\nimage_property_quota = 1.5\n", "DEFAULT.image_property_quota", "invalid integer"},
		{"[DEFAULT]\nimage_tag_quota = 99999999999999999999\n", "DEFAULT.image_tag_quota", "out of range"},
		{"[DEFAULT]\nimage_location_quota = ten\n", "DEFAULT.image_location_quota", "invalid integer"},
		{"[DEFAULT]\nenabled_import_methods = glance-direct,web_download\n", "DEFAULT.enabled_import_methods", `"web_download"`},
		{"[DEFAULT]\nnode_staging_uri = /tmp/staging\n", "DEFAULT.node_staging_uri", "file://"},
		{"[DEFAULT]\nmax_request_id_length = -1\n", "DEFAULT.max_request_id_length", ">= 0"},
		{"[DEFAULT]\ndelayed_delete = 2\n", "DEFAULT.delayed_delete", "invalid boolean"},
		{"[DEFAULT]\ndebug = enabled\n", "DEFAULT.debug", "invalid boolean"},
		{"[glance_store]\ndefault_store = ftp\n", "glance_store.default_store", "must be one of"},
		{"[glance_store]\nfilesystem_store_file_perm = 680\n", "glance_store.filesystem_store_file_perm", "octal"},
		{"[glance_store]\nfilesystem_store_file_perm = 10000\n", "glance_store.filesystem_store_file_perm", "<= 7777"},
		{"[glance_store]\nfilesystem_store_file_perm = rw-r-----\n", "glance_store.filesystem_store_file_perm", "invalid integer"},
		{"[paste_deploy]\nflavor = noauth\n", "paste_deploy.flavor", "must be one of"},
		{"[keystone_authtoken]\nauth_type = v3token\n", "keystone_authtoken.auth_type", "must be one of"},
		{"[keystone_authtoken]\ntoken_cache_time = -2\n", "keystone_authtoken.token_cache_time", "between -1 and"},
		{"[glint]\nkeystone_revocation_interval = 0\n", "glint.keystone_revocation_interval", "between 1 and"},
		{"[glint]\nkeystone_revocation_check = sometimes\n", "glint.keystone_revocation_check", "invalid boolean"},
		{"[DEFAULT]\ndisk_formats = [raw\n[image_format]\ncontainer_formats = x\n[DEFAULT]\ndebug = x\n", "DEFAULT.debug", "invalid boolean"},
		// Spellings other than the canonical one are named as written.
		{"[DEFAULT]\nbind-port = x\n", "DEFAULT.bind-port", "invalid integer"},
		{"[Paste_Deploy]\nflavor = x\n", "paste_deploy.flavor", "must be one of"},
		// Substitution errors.
		{"[DEFAULT]\npublic_endpoint = http://$nowhere/\n", "DEFAULT.public_endpoint", "$nowhere refers to an unknown option"},
		{"[DEFAULT]\npublic_endpoint = http://${nowhere}/\n", "DEFAULT.public_endpoint", "$nowhere refers to an unknown option"},
		{"[DEFAULT]\npublic_endpoint = $glance_store.nothing\n", "DEFAULT.public_endpoint", "unknown option"},
		{"[DEFAULT]\nlog_file = $a\na = $b\nb = $a\n", "DEFAULT.log_file", "substitution loop"},
		{"[DEFAULT]\nlog_file = $log_file\n", "DEFAULT.log_file", "substitution loop"},
		{"[DEFAULT]\npublic_endpoint = $bind_port\nbind_port = nope\n", "DEFAULT.public_endpoint", "invalid integer"},
		{"[DEFAULT]\nbind_port = $p\np = 70000\n", "DEFAULT.bind_port", "between 1 and 65535"},
		{"[DEFAULT]\na = $b$b$b$b$b$b$b$b\nb = $c$c$c$c$c$c$c$c\nc = $d$d$d$d$d$d$d$d\nd = $e$e$e$e$e$e$e$e\ne = $f$f$f$f$f$f$f$f\nf = $g$g$g$g$g$g$g$g\ng = $h$h$h$h$h$h$h$h\nh = xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nlog_file = $a\n",
			"DEFAULT.log_file", "after substitution"},
	}
	for _, tt := range tests {
		t.Run(tt.option, func(t *testing.T) {
			p := writeConf(t, tt.conf)
			c, err := Load([]string{p}, nil)
			if err == nil {
				t.Fatalf("Load(%q) succeeded, want an error; got %+v", tt.conf, c)
			}
			msg := err.Error()
			for _, want := range []string{tt.option, tt.detail, p} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
		})
	}
}

func TestLoadReportsAllBadValues(t *testing.T) {
	p := writeConf(t, "[DEFAULT]\nbind_port = x\ndebug = x\n")
	_, err := Load([]string{p}, nil)
	if err == nil || !strings.Contains(err.Error(), "DEFAULT.bind_port") || !strings.Contains(err.Error(), "DEFAULT.debug") {
		t.Errorf("want both bad options reported, got %v", err)
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.conf")
	badDir := filepath.Join(dir, "bad.d")
	if err := os.Mkdir(badDir, 0o700); err != nil {
		t.Fatal(err)
	}
	badInDir := filepath.Join(badDir, "50-bad.conf")
	if err := os.WriteFile(badInDir, []byte("[DEFAULT]\nnot an assignment\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	unreadable := filepath.Join(dir, "dir.conf")
	if err := os.Mkdir(unreadable, 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		files, dirs []string
		want        []string
	}{
		{"missing file", []string{missing}, nil, []string{missing, "no such file"}},
		{"file is a directory", []string{unreadable}, nil, []string{unreadable}},
		{"missing dir", nil, []string{filepath.Join(dir, "nope.d")}, []string{"nope.d", "no such file"}},
		{"dir is a file", nil, []string{writeConf(t, "[DEFAULT]\n")}, []string{"not a directory"}},
		{"bad file in dir", nil, []string{badDir}, []string{badInDir, "not an assignment"}},
		{"assignment before section", []string{writeConf(t, "# hi\nbind_port = 1\n[DEFAULT]\n")}, nil, []string{"line 2", "before the first [section]"}},
		{"continuation before section", []string{writeConf(t, "  indented\n[DEFAULT]\n")}, nil, []string{"line 1", "before the first [section]"}},
		{"no delimiter", []string{writeConf(t, "[DEFAULT]\njust words\n")}, nil, []string{"delimiter", "just words"}},
		{"empty key", []string{writeConf(t, "[DEFAULT]\n= value\n")}, nil, []string{"empty key"}},
		{"unclosed section", []string{writeConf(t, "[DEFAULT\nbind_port = 1\n")}, nil, []string{"unclosed section"}},
		{"empty section name", []string{writeConf(t, "[]\nbind_port = 1\n")}, nil, []string{"empty section name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.files, tt.dirs)
			if err == nil {
				t.Fatalf("Load succeeded, want an error; got %+v", c)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := Load([]string{missing}, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file error %v is not fs.ErrNotExist", err)
	}
}

func TestConfigDirOrder(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"b.conf":      "[DEFAULT]\nworkers = 2\n",
		"a.conf":      "[DEFAULT]\nworkers = 1\nbind_port = 1\n",
		"c.conf.bak":  "[DEFAULT]\nworkers = 3\n",
		".z.conf":     "[DEFAULT]\nworkers = 4\n",
		"notes.txt":   "not ini at all",
		"Z-last.conf": "[DEFAULT]\nbind_port = 2\n", // 'Z' sorts before 'a'
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	file := writeConf(t, "[DEFAULT]\nworkers = 9\nimage_tag_quota = 9\n")
	c, err := Load([]string{file}, []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := []int{c.Workers, c.BindPort, c.ImageTagQuota}; !slices.Equal(got, []int{2, 1, 9}) {
		t.Errorf("workers, bind_port, image_tag_quota = %v, want [2 1 9]", got)
	}
}

func TestFinish(t *testing.T) {
	c := Default()
	c.DataDir = "/srv/glint"
	c.Finish()
	want := []string{"sqlite:////srv/glint/glint.db", filepath.Join("/srv/glint", "images"), "file:///srv/glint/staging"}
	got := []string{c.DatabaseConnection, c.FilesystemStoreDatadir, c.NodeStagingURI}
	if !slices.Equal(got, want) {
		t.Errorf("after DataDir change: %q, want %q", got, want)
	}
	c.Finish()
	if got := []string{c.DatabaseConnection, c.FilesystemStoreDatadir, c.NodeStagingURI}; !slices.Equal(got, want) {
		t.Errorf("second Finish changed values: %q, want %q", got, want)
	}

	// Values set in a file survive DataDir changes; the others follow.
	p := writeConf(t, "[glint]\ndata_dir = /a\n[database]\nconnection = sqlite:////db/x.db\n[glance_store]\nfilesystem_store_datadir =\n")
	c, err := Load([]string{p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := []string{c.DatabaseConnection, c.FilesystemStoreDatadir, c.NodeStagingURI},
		[]string{"sqlite:////db/x.db", filepath.Join("/a", "images"), "file:///a/staging"}; !slices.Equal(got, want) {
		t.Errorf("after Load: %q, want %q", got, want)
	}
	c.DataDir = "/b" // e.g. a --data-dir flag
	c.Finish()
	c.Finish()
	if got, want := []string{c.DatabaseConnection, c.FilesystemStoreDatadir, c.NodeStagingURI},
		[]string{"sqlite:////db/x.db", filepath.Join("/b", "images"), "file:///b/staging"}; !slices.Equal(got, want) {
		t.Errorf("after DataDir flag: %q, want %q", got, want)
	}

	// A value assigned in code after Finish is kept too.
	c.NodeStagingURI = "file:///fast/staging"
	c.DataDir = "/c"
	c.Finish()
	if got, want := []string{c.NodeStagingURI, c.FilesystemStoreDatadir}, []string{"file:///fast/staging", filepath.Join("/c", "images")}; !slices.Equal(got, want) {
		t.Errorf("after manual assignment: %q, want %q", got, want)
	}

	// A file value equal to the derived one is still the user's.
	p = writeConf(t, "[database]\nconnection = sqlite:///glint-data/glint.db\n")
	c, err = Load([]string{p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.DataDir = "/d"
	c.Finish()
	if c.DatabaseConnection != "sqlite:///glint-data/glint.db" {
		t.Errorf("explicit connection re-derived: %q", c.DatabaseConnection)
	}

	// Relative data dirs give SQLAlchemy's relative form, and an absolute
	// file:// URI.
	c = Default()
	c.DataDir = "./rel"
	c.Finish()
	if want := "sqlite:///rel/glint.db"; c.DatabaseConnection != want {
		t.Errorf("DatabaseConnection = %q, want %q", c.DatabaseConnection, want)
	}
	if want := "file://" + filepath.ToSlash(mustAbs(t, "rel/staging")); c.NodeStagingURI != want {
		t.Errorf("NodeStagingURI = %q, want %q", c.NodeStagingURI, want)
	}
}

func TestOptionsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, o := range Options() {
		id := o.Section + "." + o.Name
		if seen[id] {
			t.Errorf("duplicate option %s", id)
		}
		seen[id] = true
		if o.Help == "" {
			t.Errorf("%s has no help", id)
		}
		switch o.Type {
		case "string", "boolean", "integer", "list":
		default:
			t.Errorf("%s has unknown type %q", id, o.Type)
		}
	}
	// Every Config field but Ignored, SearchDirs, Backends and
	// CORSSections is backed by exactly one option; CORS by one for each
	// of its fields but Section.
	n := 0
	for f := range reflect.TypeFor[Config]().Fields() {
		switch {
		case !f.IsExported() || f.Name == "Ignored" || f.Name == "Unused" || f.Name == "SearchDirs" || f.Name == "Backends" || f.Name == "CORSSections":
		case f.Name == "OsloLimit" || f.Name == "Notifications":
			n += f.Type.NumField()
		case f.Name == "CORS":
			n += f.Type.NumField() - 1
		default:
			n++
		}
	}
	if len(seen) != n {
		t.Errorf("%d options for %d Config fields", len(seen), n)
	}
	// DataDir-derived options each have their own bookkeeping slot.
	slots := map[int]bool{}
	for _, o := range options {
		if o.derive != nil {
			if slots[o.slot] || o.slot < 0 || o.slot >= numDerived {
				t.Errorf("%s: bad derived slot %d", o.id(), o.slot)
			}
			slots[o.slot] = true
		}
	}
}

// TestDocsListEveryOption keeps docs/configuration.md in step with the
// table: each option has a row "| [section] | `name` | type | default |",
// and the page lists no other options.
func TestDocsListEveryOption(t *testing.T) {
	data, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	row := regexp.MustCompile("(?m)^\\| `\\[([^]]+)\\]` \\| `([^`]+)` \\|")
	documented := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(doc, -1) {
		documented[m[1]+"."+m[2]] = true
	}
	for _, o := range Options() {
		def := "`" + o.Default + "`"
		if o.Default == "" {
			def = "*(empty)*"
		}
		prefix := "| `[" + o.Section + "]` | `" + o.Name + "` | " + o.Type + " | " + def + " |"
		if !strings.Contains(doc, prefix) {
			t.Errorf("docs/configuration.md lacks the row %q", prefix)
		}
		delete(documented, o.Section+"."+o.Name)
	}
	for id := range documented {
		t.Errorf("docs/configuration.md documents %s, which Glint does not have", id)
	}
}

func FuzzLoad(f *testing.F) {
	for _, p := range []string{"testdata/glance-api.conf", "testdata/override.conf", "testdata/conf.d/10-first.conf"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("[DEFAULT]\nlog_file = ${a}$$\\$\na = $b\nb = $a\n"))
	f.Add([]byte("[DEFAULT]\nx = \"\"\"\n  y\n[z]\n`a` = `b\n"))
	f.Add([]byte("[image_format]\ndisk_formats =\n  [raw,\n   'iso']\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "fuzz.conf")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load([]string{p}, nil)
		if err != nil {
			return
		}
		if !slices.IsSorted(c.Ignored) {
			t.Errorf("Ignored not sorted: %q", c.Ignored)
		}
		c.Finish()
	})
}

func TestStorageQuotaBytes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{"0", 0, false}, {"500", 500, false}, {"500B", 500, false}, {"1KB", 1024, false},
		{"10MB", 10 << 20, false}, {"2GB", 2 << 30, false}, {"1TB", 1 << 40, false},
		{"1.5GB", 0, true}, {"-1", 0, true}, {"10 GB", 0, true}, {"10gb", 0, true}, {"99999999999TB", 0, true},
	} {
		got, err := StorageQuotaBytes(c.in)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("StorageQuotaBytes(%q) = %d, %v; want %d (error: %v)", c.in, got, err, c.want, c.bad)
		}
	}
}

// enabled_backends: each store reads [glance_store] options from its own
// section, and those keys are not reported as unknown.
func TestEnabledBackends(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) string {
		p := filepath.Join(dir, "b.conf")
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	c, err := Load([]string{write(`[DEFAULT]
enabled_backends = fast:file, cheap:s3
[glance_store]
default_backend = fast
[fast]
filesystem_store_datadir = /srv/fast
store_description = Fast disks
[cheap]
s3_store_host = http://127.0.0.1:1
s3_store_bucket = b
`)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Backends) != 2 || c.Backends["fast"].FilesystemStoreDatadir != "/srv/fast" ||
		c.Backends["fast"].StoreDescription != "Fast disks" || c.Backends["cheap"].S3StoreBucket != "b" ||
		c.Backends["cheap"].FilesystemStoreDatadir == "/srv/fast" {
		t.Errorf("backends: %+v", c.Backends)
	}
	if len(c.Ignored) != 0 {
		t.Errorf("ignored: %v", c.Ignored)
	}
	for _, bad := range []struct{ text, want string }{
		{"[DEFAULT]\nenabled_backends = fast:file\n", "default_backend"},
		{"[DEFAULT]\nenabled_backends = fast:file\n[glance_store]\ndefault_backend = slow\n", "not one of enabled_backends"},
		{"[DEFAULT]\nenabled_backends = fast\n", "name:type"},
		{"[DEFAULT]\nenabled_backends = fast:ftp\n", "must be one of"},
		{"[DEFAULT]\nenabled_backends = fast:file\n[glance_store]\ndefault_backend = fast\n[fast]\nfilesystem_store_file_perm = 999\n", "fast.filesystem_store_file_perm"},
	} {
		if _, err := Load([]string{write(bad.text)}, nil); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want %q", bad.text, err, bad.want)
		}
	}
}

// filesystem_store_datadirs is a MultiStrOpt in Glance: repeated lines add
// directories; any other repeated key keeps its last value.
func TestRepeatedKeys(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.conf")
	os.WriteFile(p, []byte("[DEFAULT]\nbind_port = 1000\nbind_port = 2000\n[glance_store]\nfilesystem_store_datadirs = /a:100\nfilesystem_store_datadirs = /b:200, /c\n"), 0o644)
	c, err := Load([]string{p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.BindPort != 2000 {
		t.Errorf("bind_port %d, want the last value", c.BindPort)
	}
	if got := strings.Join(c.FilesystemStoreDatadirs, " "); got != "/a:100 /b:200 /c" {
		t.Errorf("filesystem_store_datadirs %q", got)
	}
}
