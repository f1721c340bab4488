package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"glint/internal/config"
	"glint/internal/keystone"
	"glint/internal/obs"
)

// authenticator builds the request authenticator [paste_deploy] flavor
// selects: nil (noauth) unless the flavor is one of the keystone ones.
// The Keystone authenticator follows revocation events until it is closed.
func authenticator(ctx context.Context, cfg *config.Config, log *slog.Logger, t *obs.Tracing) (*keystone.Authenticator, error) {
	if !strings.HasPrefix(cfg.Flavor, "keystone") {
		return nil, nil
	}
	tr, err := keystoneTransport("keystone_authtoken", cfg.AuthtokenCAFile, cfg.AuthtokenInsecure, "", "")
	if err != nil {
		return nil, err
	}
	a, err := keystone.New(keystone.Options{
		AuthURL:                   cfg.AuthtokenAuthURL,
		WWWAuthenticateURI:        cfg.AuthtokenWWWAuthenticateURI,
		Username:                  cfg.AuthtokenUsername,
		Password:                  cfg.AuthtokenPassword,
		UserDomainName:            cfg.AuthtokenUserDomainName,
		UserDomainID:              cfg.AuthtokenUserDomainID,
		ProjectName:               cfg.AuthtokenProjectName,
		ProjectDomainName:         cfg.AuthtokenProjectDomainName,
		ProjectDomainID:           cfg.AuthtokenProjectDomainID,
		CacheTime:                 keystone.TokenCacheTime(cfg.AuthtokenTokenCacheTime),
		CacheSize:                 cfg.KeystoneTokenCacheSize,
		RevocationInterval:        revocationInterval(cfg),
		DelayAuthDecision:         cfg.AuthtokenDelayAuthDecision,
		ServiceTokenRoles:         cfg.AuthtokenServiceTokenRoles,
		ServiceTokenRolesRequired: cfg.AuthtokenServiceTokenRolesRequired,
		Timeout:                   time.Duration(cfg.AuthtokenHTTPConnectTimeout) * time.Second,
		MaxRetries:                cfg.AuthtokenHTTPRequestMaxRetries,
		Transport:                 t.Transport(tr),
		Log:                       log,
	})
	if err != nil {
		return nil, err
	}
	// Like Glance, start even when Keystone is down (requests get 503 until
	// it is back), but say so now rather than on the first request.
	checkCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.Check(checkCtx); err != nil {
		log.Warn("cannot authenticate Glint with Keystone yet; API requests will fail (401, or 503 without delay_auth_decision) until it works",
			"auth_url", cfg.AuthtokenAuthURL, "username", cfg.AuthtokenUsername, "err", err)
	} else {
		log.Info("authenticating requests with Keystone", "auth_url", cfg.AuthtokenAuthURL, "username", cfg.AuthtokenUsername,
			"revocation_interval", revocationInterval(cfg))
	}
	return a, nil
}

// revocationInterval is how often Keystone's revocation events are
// fetched: 0 (never; cached tokens live token_cache_time, as with
// keystonemiddleware) when [glint] keystone_revocation_check is off.
func revocationInterval(cfg *config.Config) time.Duration {
	if !cfg.KeystoneRevocationCheck {
		return 0
	}
	return time.Duration(cfg.KeystoneRevocationInterval) * time.Second
}

// keystoneTransport carries requests to Keystone with the TLS settings of
// section: its CA file, insecure, and a client certificate.
func keystoneTransport(section, caFile string, insecure bool, certFile, keyFile string) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile == "" && !insecure && certFile == "" {
		return tr, nil
	}
	tc := &tls.Config{InsecureSkipVerify: insecure} //nolint:gosec // the operator asked for it
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("%s.cafile: %w", section, err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s.cafile %s: no PEM certificates", section, caFile)
		}
	}
	if certFile != "" {
		if keyFile == "" {
			keyFile = certFile
		}
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("%s.certfile: %w", section, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	tr.TLSClientConfig = tc
	return tr, nil
}
