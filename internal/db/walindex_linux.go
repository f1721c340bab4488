//go:build linux

package db

import (
	"os"
	"runtime/debug"
	"sync"
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
//
// The descriptor it was mapped through stays open until no DB of this
// process uses the file (release), and a second DB on the same file
// shares it rather than opening its own: closing any descriptor of a file
// drops every POSIX lock this process holds on that file, SQLite's among
// them. SQLite holds a shared lock on the -shm file's "dead man switch"
// byte for as long as it has the wal-index open; a process that finds that
// byte unlocked takes itself for the only user, truncates the -shm file
// and rebuilds it. Glint once opened the file and closed it again right
// after mapping it (issue 29): from then on, the next sqlite3 shell,
// backup or second glint on the database shrank the wal-index under
// Glint's own SQLite connections, whose reads of the mapping faulted
// (SQLITE_IOERR_IN_PAGE, reported as "disk I/O error (8714)"), and whose
// read and write locks the other process could no longer see.
type walIndex struct {
	key  walIndexKey
	f    *os.File
	mem  []byte
	refs int // guarded by walIndexes.mu
}

// walIndexKey identifies a file: device and inode.
type walIndexKey struct{ dev, ino uint64 }

// walIndexes are the wal-indexes this process has mapped, by file.
var walIndexes struct {
	mu sync.Mutex
	m  map[walIndexKey]*walIndex
}

// walIndexHeader is the header: 48 bytes, of which SQLite keeps two
// copies, one after the other.
type walIndexHeader [12]uint32

// changes is the header's change counter (iChange), which every commit
// moves up by one: SQLite's walFrames, the only place that writes it
// other than a recovery.
func (h walIndexHeader) changes() uint32 { return h[2] }

// mapWALIndex maps the wal-index at path, or returns nil (no such file,
// or it cannot be mapped): the caller then asks SQLite every time. Call
// it only while one of the caller's SQLite connections has the wal-index
// open, and release the result once every connection of the caller is
// closed.
func mapWALIndex(path string) *walIndex {
	walIndexes.mu.Lock()
	defer walIndexes.mu.Unlock()
	// Stat first: a file this process has mapped already is not opened
	// again (a descriptor once opened may not be closed while SQLite
	// uses the file).
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return nil
	}
	if w := walIndexes.m[walIndexKey{uint64(st.Dev), st.Ino}]; w != nil {
		w.refs++
		return w
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return keepOpen(f)
	}
	key := walIndexKey{uint64(st.Dev), st.Ino}
	if w := walIndexes.m[key]; w != nil {
		// Replaced between the two looks: this descriptor cannot be
		// closed either.
		keepOpen(f)
		w.refs++
		return w
	}
	if st.Size < 2*int64(unsafe.Sizeof(walIndexHeader{})) {
		return keepOpen(f)
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, os.Getpagesize(), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return keepOpen(f)
	}
	w := &walIndex{key: key, f: f, mem: mem, refs: 1}
	if walIndexes.m == nil {
		walIndexes.m = map[walIndexKey]*walIndex{}
	}
	walIndexes.m[key] = w
	return w
}

// stray are descriptors of wal-indexes that could not be used and may not
// be closed (see walIndex); the process keeps them.
var stray []*os.File

// keepOpen keeps f open for the life of the process and returns nil.
// walIndexes.mu is held.
func keepOpen(f *os.File) *walIndex {
	stray = append(stray, f)
	return nil
}

// release gives up the caller's use of w. The last user closes the
// descriptor, so every SQLite connection of the caller's to the file must
// be closed by then; the page stays mapped (a call still on its way
// through the image cache may read it).
func (w *walIndex) release() {
	if w == nil {
		return
	}
	walIndexes.mu.Lock()
	defer walIndexes.mu.Unlock()
	if w.refs--; w.refs > 0 {
		return
	}
	delete(walIndexes.m, w.key)
	w.f.Close()
}

// header reads the header; ok is false if it cannot be read: the file was
// cut short under the mapping (which SQLite does not do while this process
// keeps its locks: the caller then asks SQLite), or its two copies differ
// (a commit is writing them). SQLite writes the second copy first and the
// first last, so reading the first and then the second, as SQLite's
// readers do, finds them equal only when neither was half written. Other
// processes write it: the loads are atomic so that none is torn or left
// to the compiler.
func (w *walIndex) header() (h walIndexHeader, ok bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			h, ok = walIndexHeader{}, false
		}
	}()
	var h2 walIndexHeader
	for i := range h {
		h[i] = atomic.LoadUint32((*uint32)(unsafe.Pointer(&w.mem[4*i])))
	}
	for i := range h2 {
		h2[i] = atomic.LoadUint32((*uint32)(unsafe.Pointer(&w.mem[4*(len(h)+i)])))
	}
	return h, h == h2
}
