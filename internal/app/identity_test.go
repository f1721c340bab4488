package app

import (
	"testing"
	"time"

	"glint/internal/config"
)

func TestRevocationInterval(t *testing.T) {
	for _, tc := range []struct {
		check    bool
		interval int
		want     time.Duration
	}{
		{true, 5, 5 * time.Second},
		{true, 1, time.Second},
		{false, 5, 0}, // off: cached tokens live token_cache_time
	} {
		cfg := config.Default()
		cfg.KeystoneRevocationCheck, cfg.KeystoneRevocationInterval = tc.check, tc.interval
		if got := revocationInterval(cfg); got != tc.want {
			t.Errorf("check %v interval %d: %v, want %v", tc.check, tc.interval, got, tc.want)
		}
	}
	if got := revocationInterval(config.Default()); got != 5*time.Second {
		t.Errorf("default: %v, want 5s (on)", got)
	}
}
