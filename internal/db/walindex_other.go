//go:build !linux

package db

// walIndex is not mapped outside Linux: the image cache asks SQLite
// (PRAGMA data_version) every time.
type walIndex struct{}

type walIndexHeader struct{}

func (walIndexHeader) changes() uint32 { return 0 }

func mapWALIndex(string) *walIndex { return nil }

func (w *walIndex) release() {}

func (w *walIndex) header() (walIndexHeader, bool) { return walIndexHeader{}, false }
