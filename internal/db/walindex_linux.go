//go:build linux

package db

import (
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// walIndex is SQLite's wal-index, the -shm file beside a database in WAL
// mode, mapped read-only. SQLite documents its layout
// (https://www.sqlite.org/walformat.html): it begins with a header that
// every commit rewrites (its change counter goes up by one), the first
// copy last. Reading it costs a few loads; asking SQLite whether anything
// changed (PRAGMA data_version) starts a read transaction, with its locks
// taken by fcntl, and was a quarter of the CPU of a GET answered from the
// image cache.
type walIndex struct{ mem []byte }

// walIndexHeader is the first copy of the header: 48 bytes.
type walIndexHeader [12]uint32

// mapWALIndex maps the wal-index at path, or returns nil (no such file,
// or it cannot be mapped): the caller then asks SQLite every time.
func mapWALIndex(path string) *walIndex {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || st.Size() < int64(unsafe.Sizeof(walIndexHeader{})) {
		return nil
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, os.Getpagesize(), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil
	}
	return &walIndex{mem: mem}
}

// header reads the header's first copy. Other processes write it: the
// loads are atomic so that none is torn or left to the compiler.
func (w *walIndex) header() (h walIndexHeader) {
	for i := range h {
		h[i] = atomic.LoadUint32((*uint32)(unsafe.Pointer(&w.mem[4*i])))
	}
	return h
}
