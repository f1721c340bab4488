package keystone

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"glint/internal/auth"
	"glint/internal/errs"
)

// Catalog returns the service catalog of the caller's token (GET
// /v3/auth/catalog, asked with that token): what keystonemiddleware
// passes to Glance in X-Service-Catalog. Tokens are validated without
// their catalog, so that the cache stays small; the few calls that need
// one (glance-download) ask for it.
func (a *Authenticator) Catalog(ctx context.Context, token string) ([]auth.Endpoint, error) {
	const op = errs.Op("keystone.Catalog")
	if token == "" {
		return nil, errs.E(op, errs.Unauthorized, "no token to read a service catalog with")
	}
	resp, body, err := a.do(ctx, http.MethodGet, "/auth/catalog", nil, map[string]string{"X-Auth-Token": token})
	if err != nil {
		return nil, errs.E(op, errs.Unavailable, unavailableMsg, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusNotFound:
		return nil, errs.E(op, errs.Unauthorized, "Keystone does not know the token (invalid, expired or revoked)")
	case http.StatusForbidden:
		return nil, errs.E(op, errs.Forbidden, "the token has no service catalog (unscoped)")
	default:
		return nil, errs.E(op, errs.Unavailable, unavailableMsg, fmt.Errorf("keystone answered %d", resp.StatusCode))
	}
	return parseCatalog(body)
}

// parseCatalog reads Keystone v3's catalog document.
func parseCatalog(body []byte) ([]auth.Endpoint, error) {
	var doc struct {
		Catalog []struct {
			Type      string `json:"type"`
			Endpoints []struct {
				Interface string `json:"interface"`
				Region    string `json:"region"`
				RegionID  string `json:"region_id"`
				URL       string `json:"url"`
			} `json:"endpoints"`
		} `json:"catalog"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, errs.E(errs.Op("keystone.Catalog"), errs.Unavailable, "unreadable service catalog from Keystone", err)
	}
	var out []auth.Endpoint
	for _, s := range doc.Catalog {
		for _, e := range s.Endpoints {
			region := e.RegionID
			if region == "" {
				region = e.Region
			}
			out = append(out, auth.Endpoint{ServiceType: s.Type, Region: region, Interface: e.Interface, URL: e.URL})
		}
	}
	return out, nil
}
