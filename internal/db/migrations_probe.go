//go:build glint_rollingprobe

package db

import (
	"embed"
	"io/fs"
)

// The rolling-upgrade test (cmd/glint TestRollingUpgrade) builds glint
// with -tags glint_rollingprobe: these migrations, one of each phase, are
// then Glint's newest, so that the test has a release whose expand,
// migrate and contract change tables the release before reads and writes.
// No other build has them.
//
//go:embed testdata/rollingprobe
var probeMigrations embed.FS

func extraMigrations() fs.FS {
	sub, err := fs.Sub(probeMigrations, "testdata/rollingprobe")
	if err != nil {
		panic(err) // the embedded directory is there
	}
	return sub
}
