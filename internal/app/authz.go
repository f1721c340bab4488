package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"glint/internal/config"
	"glint/internal/image"
	"glint/internal/policy"
	"glint/internal/protection"
)

// Authorization is who-may-do-what, built from configuration: the policy
// engine, property protections and quotas.
type Authorization struct {
	Enforcer     *policy.Enforcer
	Images       policy.Authorizer // the Enforcer, as the image and metadefs services ask it
	Protections  image.PropertyRules
	StorageQuota int64             // user_storage_quota in bytes
	Limits       image.LimitSource // nil unless use_keystone_limits (set by New: see unifiedLimits)
}

// NewAuthorization loads the policy files, the property protections and
// the quotas the configuration names.
func NewAuthorization(cfg *config.Config) (*Authorization, error) {
	if cfg.EnforceSecureRBAC != cfg.EnforceNewDefaults {
		// Glance refuses this mix too: half the checks would be legacy.
		return nil, fmt.Errorf("[DEFAULT] enforce_secure_rbac = %v but [oslo_policy] enforce_new_defaults = %v: they must be equal",
			cfg.EnforceSecureRBAC, cfg.EnforceNewDefaults)
	}
	var dirs []string
	for _, d := range cfg.PolicyDirs {
		dirs = append(dirs, findFile(cfg.SearchDirs, d))
	}
	e, err := policy.NewGlance(policy.Options{
		EnforceNewDefaults: cfg.EnforceNewDefaults,
		EnforceScope:       cfg.EnforceScope,
		PolicyFile:         findFile(cfg.SearchDirs, cfg.PolicyFile),
		PolicyDirs:         dirs,
		DefaultRule:        cfg.PolicyDefaultRule,
	})
	if err != nil {
		return nil, err
	}
	a := &Authorization{Enforcer: e, Images: policy.Authorizer{Enforcer: e}}
	if cfg.PropertyProtectionFile != "" {
		path := findFile(cfg.SearchDirs, cfg.PropertyProtectionFile)
		rules, err := protection.Load(path, cfg.PropertyProtectionRuleFormat, a.Images)
		if err != nil {
			// As in Glance: protections that do not load stop the service.
			return nil, err
		}
		a.Protections = rules
	}
	if a.StorageQuota, err = config.StorageQuotaBytes(cfg.UserStorageQuota); err != nil {
		return nil, err
	}
	return a, nil
}

// findFile returns name as found in dirs when it is relative and exists
// there, else name itself.
func findFile(dirs []string, name string) string {
	if name == "" || filepath.IsAbs(name) {
		return name
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p
		} else if !errors.Is(err, fs.ErrNotExist) {
			return p
		}
	}
	return name
}
