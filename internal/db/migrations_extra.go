//go:build !glint_rollingprobe

package db

import "io/fs"

// extraMigrations is nil in every build but the rolling-upgrade test's
// (migrations_probe.go).
func extraMigrations() fs.FS { return nil }
