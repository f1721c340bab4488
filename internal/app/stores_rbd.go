//go:build rbd

package app

import (
	"time"

	"glint/internal/config"
	"glint/internal/store"
	"glint/internal/store/rbd"
)

// openRBD builds the RBD store (a glint built with -tags rbd).
func openRBD(cfg *config.Config) (store.Driver, error) {
	return rbd.New(rbd.Options{
		Pool:             cfg.RBDStorePool,
		User:             cfg.RBDStoreUser,
		ConfFile:         cfg.RBDStoreCephConf,
		ChunkSize:        int64(cfg.RBDStoreChunkSize) << 20,
		ConnectTimeout:   time.Duration(max(cfg.RadosConnectTimeout, 0)) * time.Second,
		ThinProvisioning: cfg.RBDThinProvisioning,
	})
}

// rbdBuilt tells the tests that this glint has the RBD store.
const rbdBuilt = true
