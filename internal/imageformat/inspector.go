// Package imageformat is a streaming disk-image format inspector with the
// safety checks Glance applies to uploaded data.
//
// An Inspector is an io.Writer placed on a tee of the upload stream. It never
// buffers the image: it records only fixed, bounded regions (headers, the VMDK
// descriptor, the VHDX region and metadata tables, ISO volume descriptors and
// the last 1536 bytes), scheduling each region from the ones before it, so its
// memory stays under maxRetained whatever the input. Result, called once the
// stream has ended, tells which formats the content matched, the virtual size
// its header declares and whether it passed the safety checks; Check applies
// Glance's rules for an upload declared with a given disk_format.
//
// Formats: raw (nothing matched), qcow2 (and qcow v1, refused), qed (always
// refused), vhd (dynamic: footer copy at the start; fixed: footer at the end),
// vhdx, vmdk (sparse header with embedded descriptor, and descriptor-only text
// files, refused), vdi, luks (v1), iso (ISO 9660 and UDF), gpt and mbr.
//
// Results do not depend on how the stream is cut into writes: every region is
// scheduled at the stream offset where the region it depends on completes.
package imageformat

import (
	"glint/internal/errs"
)

const (
	opInspect errs.Op = "imageformat.Inspect"
	opCheck   errs.Op = "imageformat.Check"
)

const (
	// tailSize is how much of the end of the stream is kept: a VMDK
	// stream-optimized footer is three sectors (footer marker, footer,
	// end-of-stream marker); a fixed VHD footer is the last sector.
	tailSize = 3 * 512

	// maxOffset bounds the offsets read from headers: regions beyond it are
	// treated as never reached (no int64 overflow when adding lengths).
	maxOffset = int64(1) << 62

	// maxRetained is an upper bound of what an Inspector holds: the VMDK
	// descriptor (1 MiB), the VHDX region and metadata tables (64 KiB each),
	// a few sectors and the tail. Checked by the tests and the fuzzer.
	maxRetained = 3 << 20
)

// capture records the bytes of the stream in [off, off+n). When the region is
// complete, then (if any) runs; it may schedule further captures.
type capture struct {
	off    int64
	n      int
	buf    []byte
	then   func([]byte)
	missed bool // scheduled after the stream had passed off, or dropped
}

func (c *capture) complete() bool { return c != nil && !c.missed && len(c.buf) == c.n }

// data returns what was captured: the whole region, or its first part when
// the stream ended inside it.
func (c *capture) data() []byte {
	if c == nil || c.missed {
		return nil
	}
	return c.buf
}

// feed copies the part of chunk (which starts at stream offset pos) that
// falls in the region. Captures are fed contiguously from their start.
func (c *capture) feed(pos int64, chunk []byte) {
	next := c.off + int64(len(c.buf))
	end := c.off + int64(c.n)
	lo, hi := max(pos, next), min(pos+int64(len(chunk)), end)
	if next < pos {
		// Cannot happen (captures are scheduled at or after the current
		// position and fed every chunk); be safe rather than record a gap.
		c.missed = true
		return
	}
	if lo >= hi {
		return
	}
	part := chunk[lo-pos : hi-pos]
	if c.buf == nil {
		c.buf = make([]byte, 0, min(c.n, max(len(part), 4096)))
	} else if cap(c.buf)-len(c.buf) < len(part) {
		grown := make([]byte, len(c.buf), min(c.n, max(2*cap(c.buf), len(c.buf)+len(part))))
		copy(grown, c.buf)
		c.buf = grown
	}
	c.buf = append(c.buf, part...)
}

// Inspector watches a byte stream as it passes and keeps only the regions it
// needs. The zero value is not usable; call New. An Inspector is not safe for
// concurrent use.
type Inspector struct {
	pos     int64
	pending []*capture
	tail    [tailSize]byte

	head     *capture    // [0, 512): every format's first sector
	text     *capture    // [0, 1 MiB): a VMDK descriptor file, dropped unless the start is text
	gptHdr   [2]*capture // "EFI PART" at LBA 1 for 512- and 4096-byte sectors
	vmdkDesc *capture    // the descriptor embedded in a VMDK sparse extent
	vhdx     vhdxState
	iso      isoState
}

// New returns an Inspector that detects every known format at once.
func New() *Inspector {
	i := &Inspector{}
	i.head = i.want(0, 512, i.onHead)
	i.text = i.want(0, vmdkDescMax, nil)
	i.gptHdr[0] = i.want(512, 8, nil)
	i.gptHdr[1] = i.want(4096, 8, nil)
	i.isoDescriptor(0)
	return i
}

// want schedules a capture of [off, off+n). A region that starts before the
// current position can no longer be seen: it is returned already missed.
func (i *Inspector) want(off int64, n int, then func([]byte)) *capture {
	c := &capture{off: off, n: n, then: then}
	if n <= 0 || off < i.pos || off > maxOffset {
		c.missed = true
		return c
	}
	i.pending = append(i.pending, c)
	return c
}

// drop abandons a capture and releases its memory.
func (i *Inspector) drop(c *capture) {
	if c == nil {
		return
	}
	for k, p := range i.pending {
		if p == c {
			i.pending = append(i.pending[:k], i.pending[k+1:]...)
			break
		}
	}
	c.buf, c.missed = nil, true
}

// Write records what the inspector needs from p. It never fails, so that a
// tee feeding it never breaks the upload.
func (i *Inspector) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		// Cut the chunk where the next pending region completes, so the
		// region's follow-up runs at the same stream offset whatever the
		// caller's write sizes.
		step := int64(len(p))
		for _, c := range i.pending {
			if need := c.off + int64(c.n) - i.pos; need > 0 && need < step {
				step = need
			}
		}
		chunk := p[:step]
		for _, c := range i.pending {
			c.feed(i.pos, chunk)
		}
		i.pos += step
		i.writeTail(chunk)
		p = p[step:]
		i.fire()
	}
	return n, nil
}

// fire runs the follow-ups of the regions that are complete.
func (i *Inspector) fire() {
	for {
		idx := -1
		for k, c := range i.pending {
			if len(c.buf) == c.n {
				idx = k
				break
			}
		}
		if idx < 0 {
			return
		}
		c := i.pending[idx]
		i.pending = append(i.pending[:idx], i.pending[idx+1:]...)
		if c.then != nil {
			c.then(c.buf)
		}
	}
}

// writeTail keeps the last tailSize bytes of the stream in a ring; b ends at
// the current position.
func (i *Inspector) writeTail(b []byte) {
	if len(b) > tailSize {
		b = b[len(b)-tailSize:]
	}
	idx := int((i.pos - int64(len(b))) % tailSize)
	k := copy(i.tail[idx:], b)
	copy(i.tail[:], b[k:])
}

// last returns the last n bytes of the stream (fewer if the stream is shorter).
func (i *Inspector) last(n int) []byte {
	n = min(n, tailSize)
	if int64(n) > i.pos {
		n = int(i.pos)
	}
	out := make([]byte, n)
	idx := int((i.pos - int64(n)) % tailSize)
	k := copy(out, i.tail[idx:])
	copy(out[k:], i.tail[:])
	return out
}

// retained reports how many bytes the inspector holds (for the tests).
func (i *Inspector) retained() int {
	total := len(i.tail)
	seen := map[*capture]bool{}
	add := func(c *capture) {
		if c != nil && !seen[c] {
			seen[c] = true
			total += cap(c.buf)
		}
	}
	for _, c := range i.pending {
		add(c)
	}
	add(i.head)
	add(i.text)
	add(i.gptHdr[0])
	add(i.gptHdr[1])
	add(i.vmdkDesc)
	add(i.vhdx.regions)
	add(i.vhdx.metaHead)
	add(i.vhdx.metaEntries)
	add(i.vhdx.vds)
	add(i.vhdx.params)
	add(i.iso.cur)
	return total
}

// onHead runs when the first sector is complete and schedules what the
// formats found there need next.
func (i *Inspector) onHead(b []byte) {
	if !looksLikeText(b) {
		i.drop(i.text)
	}
	switch {
	case hasPrefix(b, vmdkMagic):
		i.scheduleVMDKDescriptor(b)
	case hasPrefix(b, vhdxMagic):
		i.vhdx.regions = i.want(vhdxRegionTable, vhdxTableSize, i.onVHDXRegions)
	}
}
