package app

import (
	"strings"
	"testing"

	"glint/internal/config"
)

func TestRefuseMixedRBAC(t *testing.T) {
	cfg := config.Default()
	cfg.EnforceSecureRBAC = true
	if _, err := NewAuthorization(cfg); err == nil || !strings.Contains(err.Error(), "enforce_new_defaults") {
		t.Errorf("enforce_secure_rbac without enforce_new_defaults: %v", err)
	}
	cfg = config.Default()
	cfg.PropertyProtectionFile = "/nonexistent/protect.conf"
	if _, err := NewAuthorization(cfg); err == nil {
		t.Error("a missing property protection file must stop the start")
	}
}
