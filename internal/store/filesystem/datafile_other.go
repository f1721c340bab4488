//go:build !linux

package filesystem

import (
	"errors"
	"os"
)

var errInval = errors.New("direct I/O is not supported")

func setDirect(*os.File, bool) error { return errInval }

func fdatasync(f *os.File) error { return f.Sync() }
