//go:build !rbd

package app

import (
	"errors"

	"glint/internal/config"
	"glint/internal/store"
)

// openRBD refuses: the RBD store needs librados and librbd (cgo), which
// the default, pure Go glint is built without.
func openRBD(*config.Config) (store.Driver, error) {
	return nil, errors.New("the rbd store is not available: this glint was built without rbd; build it with `go build -tags rbd,pacific ./cmd/glint` (see docs/stores.md)")
}

// rbdBuilt tells the tests that this glint has no RBD store.
const rbdBuilt = false
