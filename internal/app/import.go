package app

import (
	"net"
	"strconv"
	"strings"
	"time"

	"glint/internal/config"
	"glint/internal/importer"
	"glint/internal/urlfilter"
)

// importOptions are the interoperable import settings the configuration
// gives.
func importOptions(cfg *config.Config) importer.Options {
	ports := func(list []string) []int {
		var out []int
		for _, p := range list {
			if n, err := strconv.Atoi(p); err == nil {
				out = append(out, n)
			}
		}
		return out
	}
	inject := map[string]string{}
	for _, kv := range cfg.InjectProperties {
		k, v, _ := strings.Cut(kv, ":")
		inject[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	stageHost := cfg.WorkerSelfReferenceURL
	if stageHost == "" {
		stageHost = cfg.PublicEndpoint
	}
	if stageHost == "" && cfg.BindHost != "0.0.0.0" && cfg.BindHost != "::" && cfg.BindHost != "" {
		// Glance records no stage host then, and a glance-direct import
		// through another node fails; a node bound to one address can
		// be reached at it.
		stageHost = "http://" + net.JoinHostPort(cfg.BindHost, strconv.Itoa(cfg.BindPort))
	}
	stagingDir, _ := cfg.StagingDir()
	return importer.Options{
		Methods:        cfg.EnabledImportMethods,
		StagingDir:     stagingDir,
		Workers:        cfg.TaskPoolThreads,
		TaskTimeToLive: time.Duration(cfg.TaskTimeToLive) * time.Hour,
		StageHost:      stageHost,
		MultiStore:     len(cfg.EnabledBackends) > 0,
		Filter: urlfilter.Options{
			AllowedSchemes: cfg.AllowedSchemes, DisallowedSchemes: cfg.DisallowedSchemes,
			AllowedHosts: cfg.AllowedHosts, DisallowedHosts: cfg.DisallowedHosts,
			AllowedPorts: ports(cfg.AllowedPorts), DisallowedPorts: ports(cfg.DisallowedPorts),
			AllowPrivate: cfg.ImportAllowPrivate,
		},
		Plugins:            cfg.ImageImportPlugins,
		DownloadProperties: cfg.DownloadProperties,
		Plugin: importer.PluginOptions{
			ConversionFormat:  cfg.ConversionFormat,
			InjectProperties:  inject,
			InjectIgnoreRoles: cfg.InjectIgnoreUserRoles,
			QemuMemory:        cfg.QemuImgMemory,
			QemuCPU:           cfg.QemuImgCPU,
			ConvertTimeout:    time.Duration(cfg.ConversionTimeout) * time.Second,
		},
	}
}
