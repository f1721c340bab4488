package app

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"glint/internal/config"
	"glint/internal/image"
	"glint/internal/keystone"
	"glint/internal/obs"
)

// unifiedLimits is where use_keystone_limits takes its limits from:
// Keystone, read as [oslo_limit] says, or, without [oslo_limit] auth_url,
// [glint_limits] for every project (the embedded default's way, with no
// Keystone to ask). nil when unified limits are off.
func unifiedLimits(ctx context.Context, cfg *config.Config, log *slog.Logger, t *obs.Tracing) (image.LimitSource, error) {
	if !cfg.UseKeystoneLimits {
		return nil, nil
	}
	ol := cfg.OsloLimit
	if ol.AuthURL == "" {
		log.Info("unified limits from [glint_limits], the same for every project ([oslo_limit] auth_url is empty, so Keystone is not asked)",
			"image_size_total", cfg.LimitImageSizeTotal, "image_stage_total", cfg.LimitImageStageTotal,
			"image_count_total", cfg.LimitImageCountTotal, "image_count_uploading", cfg.LimitImageCountUploading)
		return &image.Limits{
			ImageSizeTotal:      cfg.LimitImageSizeTotal,
			ImageStageTotal:     cfg.LimitImageStageTotal,
			ImageCountTotal:     cfg.LimitImageCountTotal,
			ImageCountUploading: cfg.LimitImageCountUploading,
		}, nil
	}
	if ol.AuthSection != "" {
		return nil, errors.New("oslo_limit.auth_section is not supported: write the authentication options in [oslo_limit]")
	}
	if ol.TrustID != "" {
		return nil, errors.New("oslo_limit.trust_id is not supported: authenticate with a password or an application credential")
	}
	tr, err := keystoneTransport("oslo_limit", ol.CAFile, ol.Insecure, ol.CertFile, ol.KeyFile)
	if err != nil {
		return nil, err
	}
	l, err := keystone.NewLimits(keystone.LimitsOptions{
		AuthURL:                     ol.AuthURL,
		AuthType:                    ol.AuthType,
		UserID:                      ol.UserID,
		Username:                    ol.Username,
		Password:                    ol.Password,
		UserDomainID:                ol.UserDomainID,
		UserDomainName:              ol.UserDomainName,
		ApplicationCredentialID:     ol.ApplicationCredentialID,
		ApplicationCredentialName:   ol.ApplicationCredentialName,
		ApplicationCredentialSecret: ol.ApplicationCredentialSecret,
		SystemScope:                 ol.SystemScope,
		ProjectID:                   ol.ProjectID,
		ProjectName:                 ol.ProjectName,
		ProjectDomainID:             ol.ProjectDomainID,
		ProjectDomainName:           ol.ProjectDomainName,
		DomainID:                    ol.DomainID,
		DomainName:                  ol.DomainName,
		DefaultDomainID:             ol.DefaultDomainID,
		DefaultDomainName:           ol.DefaultDomainName,
		EndpointID:                  ol.EndpointID,
		EndpointServiceType:         ol.EndpointServiceType,
		EndpointServiceName:         ol.EndpointServiceName,
		EndpointRegionName:          ol.EndpointRegionName,
		EndpointInterface:           ol.EndpointInterface,
		CacheTime:                   time.Duration(ol.CacheTime) * time.Second,
		Timeout:                     time.Duration(ol.Timeout) * time.Second,
		MaxRetries:                  ol.ConnectRetries,
		Transport:                   t.Transport(tr),
		Log:                         log,
	})
	if err != nil {
		return nil, err
	}
	if ol.SystemScope == "" {
		log.Warn("[oslo_limit] system_scope is not set: Keystone shows a project-scoped token only its own project's limits, so other projects get the registered limits alone; oslo.limit asks for a system-scoped reader")
	}
	// Like Glance, start while Keystone is down; say so now rather than
	// on the first refused request.
	checkCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := l.Check(checkCtx); err != nil {
		log.Warn("cannot read unified limits from Keystone yet; new images and image data are refused (503) until it answers",
			"auth_url", ol.AuthURL, "err", err)
	}
	return keystoneLimits{l}, nil
}

// keystoneLimits gives image.Limits from Keystone's limits.
type keystoneLimits struct{ l *keystone.Limits }

func (k keystoneLimits) ProjectLimits(ctx context.Context, project string) (image.Limits, error) {
	m, err := k.l.Get(ctx, project)
	if err != nil {
		return image.Limits{}, err
	}
	// A resource with neither a project nor a registered limit is
	// limited to 0, as oslo.limit has it.
	return image.Limits{
		ImageSizeTotal:      m["image_size_total"],
		ImageStageTotal:     m["image_stage_total"],
		ImageCountTotal:     m["image_count_total"],
		ImageCountUploading: m["image_count_uploading"],
	}, nil
}
