package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/ini.v1"

	"glint/internal/config"
	"glint/internal/store"
	"glint/internal/store/filesystem"
	"glint/internal/store/httpstore"
	s3store "glint/internal/store/s3"
	"glint/internal/store/swift"
	"glint/internal/urlfilter"
)

// storeType maps a glance_store scheme, as written in stores and
// default_store, to the store it names.
func storeType(scheme string) string {
	switch s := strings.ToLower(strings.TrimSpace(scheme)); s {
	case "file", "filesystem":
		return "file"
	case "http", "https":
		return "http"
	case "s3", "s3+http", "s3+https":
		return "s3"
	case "swift", "swift+http", "swift+https", "swift+config":
		return "swift"
	default:
		return s
	}
}

// OpenStores builds the enabled stores from [glance_store] (or
// enabled_backends) and checks each one, so that a broken store stops the
// start with a clear message.
func OpenStores(ctx context.Context, cfg *config.Config, log *slog.Logger) (*store.Set, error) {
	return openStores(ctx, cfg, log, nil)
}

// openStores is OpenStores where the stores in given, by name, are used
// as they are instead of being opened from their configuration (WithStore).
func openStores(ctx context.Context, cfg *config.Config, log *slog.Logger, given map[string]*store.Store) (*store.Set, error) {
	var stores []*store.Store
	def := storeType(cfg.DefaultStore)
	seen := map[string]bool{}
	used := map[string]bool{}
	if len(cfg.EnabledBackends) > 0 {
		// Glance's multi-store: named stores, each configured in its own section.
		for _, item := range cfg.EnabledBackends {
			name, typ, _ := strings.Cut(item, ":")
			name, typ = strings.TrimSpace(name), storeType(typ)
			if st := given[name]; st != nil {
				stores, used[name] = append(stores, st), true
				continue
			}
			bc := cfg.Backends[name]
			if bc == nil {
				bc = cfg // a Config built in Go, without the backend's own section
			}
			d, err := openStore(bc, typ)
			if err != nil {
				return nil, fmt.Errorf("store %s: %w", name, err)
			}
			stores = append(stores, &store.Store{Name: name, Type: typ, Description: bc.StoreDescription, Driver: d,
				Properties: storeProperties(bc, typ, d)})
		}
		def, seen = cfg.DefaultBackend, nil
	}
	for _, s := range cfg.Stores {
		if seen == nil {
			break
		}
		typ := storeType(s)
		if seen[typ] {
			continue
		}
		seen[typ] = true
		if st := given[typ]; st != nil {
			stores, used[typ] = append(stores, st), true
			continue
		}
		d, err := openStore(cfg, typ)
		if err != nil {
			return nil, err
		}
		stores = append(stores, &store.Store{Name: typ, Type: typ, Driver: d})
	}
	if seen != nil && !seen[def] {
		return nil, fmt.Errorf("glance_store.default_store = %s is not one of the enabled stores (glance_store.stores = %s)", cfg.DefaultStore, strings.Join(cfg.Stores, ", "))
	}
	for name := range given {
		if !used[name] {
			return nil, fmt.Errorf("store %s is given but not enabled by the configuration (glance_store.stores or enabled_backends)", name)
		}
	}
	set, err := store.NewNamedSet(def, stores...)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := set.Check(cctx); err != nil {
		return nil, fmt.Errorf("store self-check failed: %w", err)
	}
	for _, st := range set.Stores() {
		log.Info("store ready", "store", st.Name, "type", st.Type, "read_only", st.ReadOnly(), "default", st.Name == def)
	}
	return set, nil
}

func openStore(cfg *config.Config, typ string) (store.Driver, error) {
	switch typ {
	case "file":
		var dirs []filesystem.DataDir
		for _, s := range cfg.FilesystemStoreDatadirs {
			dd, err := filesystem.ParseDataDir(s)
			if err != nil {
				return nil, fmt.Errorf("glance_store.filesystem_store_datadirs: %w", err)
			}
			dirs = append(dirs, dd)
		}
		if len(dirs) == 0 {
			dirs = []filesystem.DataDir{{Path: cfg.FilesystemStoreDatadir}}
		}
		return filesystem.NewDirs(dirs, filesystem.Options{
			FilePerm:  os.FileMode(cfg.FilesystemStoreFilePerm),
			Sparse:    cfg.FilesystemThinProvision,
			ChunkSize: cfg.FilesystemStoreChunk,
			DirectIO:  cfg.FilesystemDirectIO,
		})
	case "http":
		// The store reads through the same filter that admits a location,
		// so a redirect cannot lead where the location itself could not.
		return httpstore.New(httpstore.Options{
			Filter:   locationFilter(cfg),
			CAFile:   cfg.HTTPSCACertificatesFile,
			Insecure: cfg.HTTPSInsecure,
		})
	case "s3":
		return s3store.New(s3store.Options{
			Host: cfg.S3StoreHost, AccessKey: cfg.S3StoreAccessKey, SecretKey: cfg.S3StoreSecretKey,
			Bucket: cfg.S3StoreBucket, Region: cfg.S3StoreRegion, CreateBucket: cfg.S3StoreCreateBucket,
			URLFormat:       cfg.S3StoreBucketURLFormat,
			LargeObjectSize: int64(cfg.S3StoreLargeObjectSize) << 20,
			ChunkSize:       int64(cfg.S3StoreLargeObjectChunk) << 20,
			Workers:         cfg.S3StoreThreadPools,
		})
	case "swift":
		return openSwift(cfg)
	case "rbd":
		return openRBD(cfg)
	case "cinder", "vsphere", "vmware":
		return nil, fmt.Errorf("glance_store.stores: the %s store is not available in this version of Glint", typ)
	}
	return nil, fmt.Errorf("glance_store.stores: unknown store %q", typ)
}

// storeHealth runs the stores' self-checks for /healthcheck, at most once
// per interval: a check writes a probe object, which a load balancer
// polling every second should not turn into a write load.
type storeHealth struct {
	set      *store.Set
	interval time.Duration
	mu       sync.Mutex
	last     time.Time
	err      error
}

func (h *storeHealth) check(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.last.IsZero() && time.Since(h.last) < h.interval {
		return h.err
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	h.err, h.last = h.set.Check(ctx), time.Now()
	return h.err
}

// openSwift reads the store's credentials from the swift_store_config_file
// reference, or from Glance's older swift_store_user/key/auth_address.
func openSwift(cfg *config.Config) (store.Driver, error) {
	o := swift.Options{
		Reference:       cfg.DefaultSwiftReference,
		Region:          cfg.SwiftStoreRegion,
		Endpoint:        cfg.SwiftStoreEndpoint,
		Container:       cfg.SwiftStoreContainer,
		ContainersSeed:  cfg.SwiftStoreContainerSeed,
		CreateContainer: cfg.SwiftStoreCreateOnPut,
		LargeObjectSize: int64(cfg.SwiftStoreLargeObjSize) << 20,
		ChunkSize:       int64(cfg.SwiftStoreLargeObjChunk) << 20,
		MultiTenant:     cfg.SwiftStoreMultiTenant,
	}
	version := cfg.SwiftStoreAuthVersion
	o.AuthAddress, o.User, o.Key = cfg.SwiftStoreAuthAddress, cfg.SwiftStoreUser, cfg.SwiftStoreKey
	if cfg.SwiftStoreConfigFile != "" {
		f, err := ini.Load(cfg.SwiftStoreConfigFile)
		if err != nil {
			return nil, fmt.Errorf("glance_store.swift_store_config_file: %w", err)
		}
		sec, err := f.GetSection(cfg.DefaultSwiftReference)
		if err != nil {
			return nil, fmt.Errorf("glance_store.swift_store_config_file %s has no [%s] section (default_swift_reference)", cfg.SwiftStoreConfigFile, cfg.DefaultSwiftReference)
		}
		o.AuthAddress = sec.Key("auth_address").String()
		o.User = sec.Key("user").String()
		o.Key = sec.Key("key").String()
		o.UserDomain = sec.Key("user_domain_name").MustString("Default")
		o.ProjDomain = sec.Key("project_domain_name").MustString("Default")
		version = sec.Key("auth_version").MustString("3")
	}
	v, err := strconv.Atoi(strings.TrimPrefix(version, "v"))
	if err != nil || v < 1 || v > 3 {
		return nil, fmt.Errorf("swift auth_version %q: want 1, 2 or 3", version)
	}
	o.AuthVersion = v
	return swift.New(o)
}

// storeProperties are what /v2/info/stores/detail shows per store type,
// as Glance does.
func storeProperties(cfg *config.Config, typ string, d store.Driver) map[string]any {
	switch typ {
	case "file":
		dir := cfg.FilesystemStoreDatadir
		if fd, ok := d.(*filesystem.Driver); ok {
			dir = fd.Dir
		}
		return map[string]any{"data_dir": dir, "chunk_size": cfg.FilesystemStoreChunk, "thin_provisioning": cfg.FilesystemThinProvision}
	case "swift":
		return map[string]any{"container": cfg.SwiftStoreContainer,
			"large_object_size": cfg.SwiftStoreLargeObjSize, "large_object_chunk_size": cfg.SwiftStoreLargeObjChunk}
	case "rbd":
		// As Glance: the chunk size in bytes.
		return map[string]any{"chunk_size": cfg.RBDStoreChunkSize << 20, "pool": cfg.RBDStorePool, "thin_provisioning": cfg.RBDThinProvisioning}
	case "s3":
		return map[string]any{"s3_store_large_object_size": cfg.S3StoreLargeObjectSize,
			"s3_store_large_object_chunk_size": cfg.S3StoreLargeObjectChunk, "s3_store_thread_pools": cfg.S3StoreThreadPools}
	}
	return map[string]any{}
}

// locationFilter is the filter http(s) locations added by users pass:
// Glance 25.1 applies [import_filtering_opts] to them; private addresses
// follow the HTTP store's own switch. The HTTP store applies it to every
// request, redirect and connection it makes.
func locationFilter(cfg *config.Config) urlfilter.Options {
	return urlfilter.Options{
		AllowedSchemes: cfg.AllowedSchemes, DisallowedSchemes: cfg.DisallowedSchemes,
		AllowedHosts: cfg.AllowedHosts, DisallowedHosts: cfg.DisallowedHosts,
		AllowedPorts: portList(cfg.AllowedPorts), DisallowedPorts: portList(cfg.DisallowedPorts),
		AllowPrivate: cfg.HTTPStoreAllowPrivate,
	}
}

// portList reads port numbers the configuration has already checked.
func portList(list []string) []int {
	out := make([]int, 0, len(list))
	for _, p := range list {
		if n, err := strconv.Atoi(p); err == nil {
			out = append(out, n)
		}
	}
	return out
}
