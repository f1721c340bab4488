package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"glint/internal/config"
	"glint/internal/db"
	"glint/internal/image"
	"glint/internal/imagecache"
)

// cachingFlavor reports whether [paste_deploy] flavor puts Glance's
// cache filter in the pipeline: downloads go through the image cache.
func cachingFlavor(f string) bool {
	return strings.Contains(f, "caching") || strings.Contains(f, "cachemanagement")
}

// CacheDir is the directory of the node's image cache: image_cache_dir,
// or <data_dir>/image-cache when a caching flavor is on; "" when the node
// has no cache.
func CacheDir(cfg *config.Config) string {
	if cfg.ImageCacheDir != "" {
		return cfg.ImageCacheDir
	}
	if cachingFlavor(cfg.Flavor) {
		return filepath.Join(cfg.DataDir, "image-cache")
	}
	return ""
}

// NodeURL is how this node names itself to the others: the URL of its
// image cache in node_reference, as Glance's worker_self_reference_url.
func NodeURL(cfg *config.Config) string {
	switch {
	case cfg.WorkerSelfReferenceURL != "":
		return cfg.WorkerSelfReferenceURL
	case cfg.PublicEndpoint != "":
		return cfg.PublicEndpoint
	}
	return "http://" + net.JoinHostPort(cfg.BindHost, strconv.Itoa(cfg.BindPort))
}

// cacheImages lets the cache be built before the image service that
// serves downloads through it: Service is set once that exists.
type cacheImages struct{ *image.Service }

// OpenCache opens the node's image cache as the configuration describes
// it, over database d; nil when the configuration gives the node none.
// The returned close releases the cache's own index file, if any.
func OpenCache(ctx context.Context, cfg *config.Config, d *db.DB, images imagecache.Images, log *slog.Logger) (*imagecache.Cache, func() error, error) {
	dir := CacheDir(cfg)
	if dir == "" {
		return nil, func() error { return nil }, nil
	}
	var (
		index  imagecache.Index
		closer = func() error { return nil }
	)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("image cache: %w", err)
	}
	switch cfg.ImageCacheDriver {
	case "sqlite":
		c, err := db.OpenCacheFile(ctx, filepath.Join(dir, cfg.ImageCacheSQLiteDB))
		if err != nil {
			return nil, nil, err
		}
		index, closer = c, c.Close
	default:
		c, err := d.CachedImages(ctx, NodeURL(cfg))
		if err != nil {
			return nil, nil, fmt.Errorf("image cache: %w", err)
		}
		index = c
	}
	cache, err := imagecache.New(imagecache.Options{
		Dir:       dir,
		MaxSize:   cfg.ImageCacheMaxSize,
		StallTime: time.Duration(cfg.ImageCacheStallTime) * time.Second,
		Serve:     cachingFlavor(cfg.Flavor),
	}, index, images, log)
	if err != nil {
		closer()
		return nil, nil, err
	}
	log.Info("image cache", "dir", dir, "driver", cfg.ImageCacheDriver, "serves_downloads", cachingFlavor(cfg.Flavor))
	return cache, closer, nil
}
