package imageformat

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
)

// Signatures.
const (
	qcowMagic = "QFI\xfb"      // qcow2 (and qcow v1), at 0
	qedMagic  = "QED\x00"      // at 0
	vhdMagic  = "conectix"     // VHD footer cookie: at 0 (dynamic copy) and in the last sector
	vhdxMagic = "vhdxfile"     // file type identifier, at 0
	vmdkMagic = "KDMV"         // hosted sparse extent header, at 0
	luksMagic = "LUKS\xba\xbe" // at 0
	vdiMagic  = 0xbeda107f     // little-endian uint32 at 0x40
)

// Layout constants.
const (
	// VMDK: the embedded descriptor must start at sector 1 (qemu and Glance
	// insist); qemu caps it at 1 MiB - 1. qemu looks for parentFileNameHint
	// in the first 20 sectors from the descriptor offset.
	vmdkDescMax  = 1<<20 - 1
	vmdkDescQemu = 20 * 512
	vmdkGDAtEnd  = math.MaxUint64

	vhdxRegionTable = 192 << 10 // first region table; the second copy is at 256 KiB
	vhdxTableSize   = 64 << 10  // region table / metadata table: 32-byte header + at most 2047 entries
	vhdxMaxEntries  = 2047

	isoFirstDescriptor = 16 * 2048 // the system area (16 sectors) comes first
	isoDescriptorSize  = 2048
	isoMaxDescriptors  = 16
)

// VHDX GUIDs (region and metadata item identifiers), in their on-disk byte
// order (first three fields little-endian).
var (
	vhdxMetadataRegion = msGUID("8B7CA206-4790-4B9A-B8FE-575F050F886E")
	vhdxVirtualDisk    = msGUID("2FA54224-CD1B-4876-B211-5DBED83BF4B8")
	vhdxFileParameters = msGUID("CAA16737-FA36-4D43-B3B6-33F0AA44E76B")
	vhdxParentLocator  = msGUID("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C")
)

// msGUID turns "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX" into the 16 bytes of a
// Microsoft GUID as stored on disk.
func msGUID(s string) (g [16]byte) {
	raw, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(raw) != 16 {
		panic("imageformat: bad GUID " + s)
	}
	g[0], g[1], g[2], g[3] = raw[3], raw[2], raw[1], raw[0]
	g[4], g[5] = raw[5], raw[4]
	g[6], g[7] = raw[7], raw[6]
	copy(g[8:], raw[8:])
	return g
}

var (
	le16 = binary.LittleEndian.Uint16
	le32 = binary.LittleEndian.Uint32
	le64 = binary.LittleEndian.Uint64
	be16 = binary.BigEndian.Uint16
	be32 = binary.BigEndian.Uint32
	be64 = binary.BigEndian.Uint64
)

func hasPrefix(b []byte, s string) bool { return len(b) >= len(s) && string(b[:len(s)]) == s }

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// looksLikeText reports whether b is printable ASCII or whitespace only, the
// test Glance applies to tell a VMDK descriptor file from binary data.
func looksLikeText(b []byte) bool {
	for _, c := range b {
		if !(c >= 0x20 && c <= 0x7e) && !(c >= 0x09 && c <= 0x0d) && !(c >= 0x1c && c <= 0x1f) {
			return false
		}
	}
	return true
}

// match is one format the content matched, with what its header says.
type match struct {
	name     string
	vsize    int64
	sub      string
	fails    []Failure
	tailOnly bool // a VHD footer found only in the last sector (fixed VHD)
}

// fail records a failed safety check; like Glance, one reason per check.
func (m *match) fail(check, reason string) {
	for _, f := range m.fails {
		if f.Check == check {
			return
		}
	}
	m.fails = append(m.fails, Failure{Check: check, Reason: reason})
}

// setSize records a virtual size read from a header as an unsigned number.
func (m *match) setSize(u uint64) {
	if u > math.MaxInt64 {
		m.fail("virtual_size", fmt.Sprintf("virtual size %d is out of range", u))
		return
	}
	m.vsize = int64(u)
}

// --- qcow2 -----------------------------------------------------------------

// qcow2 incompatible feature bits (qemu docs/interop/qcow2.txt): 0 dirty,
// 1 corrupt, 2 external data file, 3 compression type. Glance treats every
// higher bit (including 4, extended L2 entries) as unknown.
const (
	qcowDataFileBit  = 1 << 2
	qcowKnownFeature = 1<<4 - 1
)

func (i *Inspector) qcow2() *match {
	h := i.head.data()
	if !hasPrefix(h, qcowMagic) {
		return nil
	}
	m := &match{name: "qcow2"}
	if len(h) < 32 {
		m.fail("incomplete", "truncated qcow2 header")
		return m
	}
	version := be32(h[4:])
	m.sub = fmt.Sprintf("v%d", version)
	m.setSize(be64(h[24:]))
	if be64(h[8:]) != 0 {
		m.fail("backing_file", "Image has a backing file")
	}
	switch version {
	case 2:
		// Version 2 has no feature bits: nothing else to check.
	case 3:
		if len(h) < 80 {
			m.fail("incomplete", "truncated qcow2 header")
			break
		}
		features := be64(h[72:])
		if features&qcowDataFileBit != 0 {
			m.fail("data_file", "Image has data_file set")
		}
		if features&^qcowKnownFeature != 0 {
			m.fail("unknown_features", "Unknown QCOW2 features found")
		}
	default:
		m.fail("unknown_features", fmt.Sprintf("Unsupported qcow2 version %d", version))
	}
	return m
}

// --- qed -------------------------------------------------------------------

func (i *Inspector) qed() *match {
	h := i.head.data()
	if !hasPrefix(h, qedMagic) {
		return nil
	}
	m := &match{name: "qed"}
	if len(h) >= 56 {
		m.setSize(le64(h[48:])) // image_size
	}
	m.fail("banned", "This file format is not allowed")
	return m
}

// --- vhd -------------------------------------------------------------------

// vhdFooter reads the 512-byte VHD footer: current size at 48, disk type at
// 60 (2 fixed, 3 dynamic, 4 differencing).
func vhdFooter(f []byte, m *match) {
	if len(f) < 64 {
		m.fail("incomplete", "truncated VHD footer")
		return
	}
	m.setSize(be64(f[48:]))
	switch t := be32(f[60:]); t {
	case 2:
		m.sub = "fixed"
	case 3:
		m.sub = "dynamic"
	case 4:
		m.sub = "differencing"
		m.fail("parent", "differencing VHD depends on a parent image")
	default:
		m.sub = fmt.Sprintf("type %d", t)
	}
}

// vhdStart matches the footer copy qemu and Hyper-V put at the start of
// dynamic (and differencing) VHDs; it is what qemu's format probe looks for.
func (i *Inspector) vhdStart() *match {
	h := i.head.data()
	if !hasPrefix(h, vhdMagic) {
		return nil
	}
	m := &match{name: "vhd"}
	vhdFooter(h, m)
	return m
}

// vhdTail matches a footer in the last sector only: a fixed VHD, which is raw
// data followed by the footer (qemu probes it as raw).
func (i *Inspector) vhdTail() *match {
	if i.pos < 512 {
		return nil
	}
	f := i.last(512)
	if !hasPrefix(f, vhdMagic) {
		return nil
	}
	m := &match{name: "vhd", tailOnly: true}
	vhdFooter(f, m)
	return m
}

// --- vhdx ------------------------------------------------------------------

type vhdxState struct {
	err           string // structural problem found while following the tables
	metaOff       int64
	regions       *capture // region table at 192 KiB
	metaHead      *capture // metadata table header
	metaEntries   *capture // metadata table entries
	vds           *capture // virtual disk size item (8 bytes)
	params        *capture // file parameters item (block size, flags)
	parentLocator bool
}

func (v *vhdxState) setErr(s string) {
	if v.err == "" {
		v.err = s
	}
}

func (i *Inspector) onVHDXRegions(b []byte) {
	v := &i.vhdx
	if string(b[:4]) != "regi" {
		v.setErr("VHDX region table signature not found")
		return
	}
	count := le32(b[8:])
	if count > vhdxMaxEntries {
		v.setErr(fmt.Sprintf("VHDX region count is %d (limit %d)", count, vhdxMaxEntries))
		return
	}
	for k := range int(count) {
		e := b[16+32*k : 16+32*k+32]
		if !bytes.Equal(e[:16], vhdxMetadataRegion[:]) {
			continue
		}
		off := le64(e[16:])
		if off > uint64(maxOffset) {
			v.setErr("VHDX metadata region offset out of range")
			return
		}
		v.metaOff = int64(off)
		v.metaHead = i.want(v.metaOff, 32, i.onVHDXMetaHead)
		if v.metaHead.missed {
			v.setErr("VHDX metadata region precedes the region table")
		}
		return
	}
	v.setErr("VHDX metadata region not found")
}

func (i *Inspector) onVHDXMetaHead(b []byte) {
	v := &i.vhdx
	if string(b[:8]) != "metadata" {
		v.setErr("VHDX metadata table signature not found")
		return
	}
	count := int(le16(b[10:]))
	if count == 0 || count > vhdxMaxEntries {
		v.setErr(fmt.Sprintf("VHDX metadata item count is %d (limit %d)", count, vhdxMaxEntries))
		return
	}
	v.metaEntries = i.want(v.metaOff+32, 32*count, i.onVHDXMetaEntries)
}

func (i *Inspector) onVHDXMetaEntries(b []byte) {
	v := &i.vhdx
	for k := 0; k+32 <= len(b); k += 32 {
		e := b[k : k+32]
		itemOff, itemLen := int64(le32(e[16:])), le32(e[20:])
		switch {
		case bytes.Equal(e[:16], vhdxVirtualDisk[:]) && v.vds == nil:
			if itemLen < 8 {
				v.setErr("VHDX virtual disk size item is too short")
				return
			}
			v.vds = i.want(v.metaOff+itemOff, 8, nil)
			if v.vds.missed {
				v.setErr("VHDX virtual disk size item overlaps the metadata table")
			}
		case bytes.Equal(e[:16], vhdxFileParameters[:]) && v.params == nil:
			if itemLen >= 8 {
				v.params = i.want(v.metaOff+itemOff, 8, nil)
			}
		case bytes.Equal(e[:16], vhdxParentLocator[:]):
			v.parentLocator = true
		}
	}
	if v.vds == nil {
		v.setErr("VHDX virtual disk size item not found")
	}
}

func (i *Inspector) vhdxMatch() *match {
	if !hasPrefix(i.head.data(), vhdxMagic) {
		return nil
	}
	m := &match{name: "vhdx"}
	v := &i.vhdx
	switch {
	case v.err != "":
		m.fail("header", v.err)
	case !v.vds.complete():
		m.fail("incomplete", "VHDX virtual disk size not found in the stream")
	default:
		m.setSize(le64(v.vds.buf))
	}
	// File parameters flag bit 1 is HasParent; a parent locator item names
	// the parent. Either makes it a differencing disk.
	if v.parentLocator || (v.params.complete() && le32(v.params.buf[4:])&2 != 0) {
		m.fail("parent", "differencing VHDX depends on a parent image")
	}
	return m
}

// --- vmdk ------------------------------------------------------------------

// Hosted sparse extent header (little-endian): magic 0, version 4, flags 8,
// capacity (sectors) 12, grain size 20, descriptor offset 28 and size 36 (in
// sectors), GTEs per GT 44, redundant GD 48, GD offset 56.

func (i *Inspector) scheduleVMDKDescriptor(h []byte) {
	if le64(h[28:]) != 1 {
		return // reported by vmdkSparse
	}
	n := vmdkDescMax
	if num := le64(h[36:]); num <= vmdkDescMax/512 {
		n = min(max(int(num)*512, vmdkDescQemu), vmdkDescMax)
	}
	i.vmdkDesc = i.want(512, n, nil)
}

func (i *Inspector) vmdkSparse() *match {
	h := i.head.data()
	if !hasPrefix(h, vmdkMagic) {
		return nil
	}
	m := &match{name: "vmdk"}
	if len(h) < 64 {
		m.fail("incomplete", "truncated VMDK header")
		return m
	}
	version, capacity := le32(h[4:]), le64(h[12:])
	descSec, descNum, gdOff := le64(h[28:]), le64(h[36:]), le64(h[56:])
	if version < 1 || version > 3 {
		m.fail("header", fmt.Sprintf("Unsupported VMDK version %d", version))
	}
	if descSec != 1 {
		m.fail("descriptor", "Wrong descriptor location")
		return m
	}
	descLen := vmdkDescMax
	if descNum <= vmdkDescMax/512 {
		descLen = int(descNum) * 512
	}
	d := i.vmdkDesc.data()
	if descLen == 0 || len(d) < descLen {
		m.fail("descriptor", "No descriptor found")
	} else {
		ct, reason := checkDescriptor(d[:descLen])
		m.sub = ct
		if reason != "" {
			m.fail("descriptor", reason)
		} else if capacity > math.MaxInt64/512 {
			m.fail("virtual_size", "VMDK capacity is out of range")
		} else {
			m.vsize = int64(capacity) * 512
		}
	}
	if capacity == 0 {
		// qemu then opens the embedded descriptor as a descriptor file and
		// follows its extents.
		m.fail("descriptor", "VMDK sparse header has zero capacity")
	}
	// qemu takes a backing file from parentFileNameHint anywhere in the
	// first 20 sectors of the descriptor, comments included.
	if bytes.Contains(bytes.ToLower(d[:min(len(d), vmdkDescQemu)]), []byte("parentfilenamehint")) {
		m.fail("backing_file", "VMDK descriptor names a parent image (parentFileNameHint)")
	}
	if gdOff == vmdkGDAtEnd {
		i.checkVMDKFooter(h, m)
	}
	return m
}

// checkVMDKFooter checks a stream-optimized VMDK whose grain directory is
// given by a footer: the last three sectors must be a footer marker, a copy
// of the header that agrees with it, and an end-of-stream marker.
func (i *Inspector) checkVMDKFooter(h []byte, m *match) {
	t := i.last(tailSize)
	if len(t) < tailSize || i.pos < 512+tailSize {
		m.fail("footer", "VMDK footer not found")
		return
	}
	marker, f, eos := t[:512], t[512:1024], t[1024:]
	switch {
	case string(f[:4]) != string(h[:4]):
		m.fail("footer", "Header and footer signature do not match")
	case le32(f[4:]) != le32(h[4:]):
		m.fail("footer", "Header and footer versions do not match")
	case le64(f[28:]) != le64(h[28:]) || le64(f[36:]) != le64(h[36:]):
		m.fail("footer", "Footer specifies a different descriptor than header")
	case le64(f[56:]) == vmdkGDAtEnd:
		m.fail("footer", "Footer indicates another footer")
	case le32(marker[8:]) != 0 || le32(marker[12:]) != 3 || !allZero(marker[16:]):
		m.fail("footer", "Footer marker is invalid")
	case !allZero(eos):
		m.fail("footer", "End-of-stream marker is invalid")
	}
}

// vmdkText matches a VMDK descriptor file: text with a createType, no
// data of its own. qemu would open the files its extents name, so it is
// always refused.
func (i *Inspector) vmdkText() *match {
	h := i.head.data()
	if len(h) == 0 || hasPrefix(h, vmdkMagic) || !looksLikeText(h) {
		return nil
	}
	d := i.text.data()
	if k := bytes.IndexByte(d, 0); k >= 0 {
		d = d[:k]
	}
	ct, ok := createType(d)
	if !ok {
		return nil
	}
	m := &match{name: "vmdk", sub: ct}
	m.fail("descriptor", "VMDK descriptor file without data: its extents are other files")
	return m
}

// createType returns the value of createType="..." (Glance looks for it
// case-insensitively and ignores values of 64 characters or more).
func createType(desc []byte) (string, bool) {
	const key = `createtype="`
	k := bytes.Index(bytes.ToLower(desc), []byte(key))
	if k < 0 {
		return "", false
	}
	rest := desc[k+len(key):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 || end >= 64 {
		return "", false
	}
	return string(rest[:end]), true
}

// checkDescriptor applies Glance's descriptor check to the descriptor of a
// sparse extent: ASCII only; createType monolithicSparse or streamOptimized;
// every line a comment, a ddb entry, a key=value field or an extent; extents
// without '/'; at least one extent. Glint also requires every extent to be of
// type SPARSE (a sparse file's own extent): FLAT, ZERO or VMFS extents in a
// sparse file's descriptor are what the CVE-2022-47951 exploits used.
func checkDescriptor(raw []byte) (ct, reason string) {
	if k := bytes.IndexByte(raw, 0); k >= 0 {
		raw = raw[:k]
	}
	for _, c := range raw {
		if c >= 0x80 {
			return "", "Invalid VMDK descriptor data"
		}
	}
	ct, ok := createType(raw)
	if !ok {
		return "", "Unsupported subformat"
	}
	if lc := strings.ToLower(ct); lc != "monolithicsparse" && lc != "streamoptimized" {
		return ct, fmt.Sprintf("Unsupported subformat %s", ct)
	}
	extents := 0
	for _, line := range strings.Split(strings.ToLower(string(raw)), "\n") {
		l := strings.Trim(line, " \t\n\r\v\f\x1c\x1d\x1e\x1f")
		if l == "" || l[0] == '#' || strings.HasPrefix(l, "ddb") {
			continue
		}
		if k := strings.IndexByte(l, '='); k >= 0 && !strings.Contains(l[:k], " ") {
			continue // key=value
		}
		first, _, _ := strings.Cut(l, " ")
		if first != "rw" && first != "rdonly" && first != "noaccess" {
			return ct, "Invalid VMDK descriptor data"
		}
		if strings.Contains(l, "/") {
			return ct, "Invalid extent filenames found"
		}
		if f := strings.Fields(l); len(f) < 3 || f[2] != "sparse" {
			return ct, "Extent type not allowed in a sparse VMDK"
		}
		extents++
	}
	if extents == 0 {
		return ct, "No extents found"
	}
	return ct, ""
}

// --- vdi -------------------------------------------------------------------

func (i *Inspector) vdi() *match {
	h := i.head.data()
	if len(h) < 0x44 || le32(h[0x40:]) != vdiMagic {
		return nil
	}
	m := &match{name: "vdi"}
	if len(h) < 0x178 {
		m.fail("incomplete", "truncated VDI header")
		return m
	}
	m.setSize(le64(h[0x170:]))
	return m
}

// --- luks ------------------------------------------------------------------

// LUKS v1 header (big-endian): magic 0, version 6, cipher name 8, cipher
// mode 40, hash 72, payload offset (sectors) 104, key bytes 108.
func (i *Inspector) luks() *match {
	h := i.head.data()
	if !hasPrefix(h, luksMagic) {
		return nil
	}
	m := &match{name: "luks"}
	if len(h) < 108 {
		m.fail("incomplete", "truncated LUKS header")
		return m
	}
	version := be16(h[6:])
	m.sub = fmt.Sprintf("v%d", version)
	if version != 1 {
		m.fail("version", fmt.Sprintf("LUKS version %d is not supported", version))
	}
	// Like raw, the size is known once the whole stream has been seen.
	m.vsize = max(i.pos-int64(be32(h[104:]))*512, 0)
	return m
}

// --- iso -------------------------------------------------------------------

// isoState follows the volume descriptor set from sector 16: ISO 9660
// ("CD001") and UDF ("BEA01", "NSR02"/"NSR03", "TEA01") descriptors.
type isoState struct {
	cur        *capture
	cd001, udf bool
	pvd        bool
	blocks     uint32
	blockSize  uint16
}

func (i *Inspector) isoDescriptor(k int) {
	i.iso.cur = i.want(isoFirstDescriptor+int64(k)*isoDescriptorSize, isoDescriptorSize,
		func(b []byte) { i.onISO(k, b) })
}

func (i *Inspector) onISO(k int, b []byte) {
	s := &i.iso
	more := true
	switch string(b[1:6]) {
	case "CD001":
		s.cd001 = true
		if b[0] == 1 && !s.pvd { // primary volume descriptor
			s.pvd = true
			s.blocks = le32(b[80:])     // volume space size, both-endian: LE half
			s.blockSize = le16(b[128:]) // logical block size, both-endian: LE half
		}
	case "NSR02", "NSR03":
		s.udf = true
	case "BEA01", "BOOT2", "CDW02":
	default: // "TEA01" ends the set; anything else is not a descriptor
		more = false
	}
	if more && k+1 < isoMaxDescriptors {
		i.isoDescriptor(k + 1)
	}
}

func (i *Inspector) isoMatch() *match {
	s := &i.iso
	if !s.cd001 && !s.udf {
		return nil
	}
	m := &match{name: "iso", vsize: i.pos}
	switch {
	case s.cd001 && s.udf:
		m.sub = "iso9660+udf"
	case s.cd001:
		m.sub = "iso9660"
	default:
		m.sub = "udf"
	}
	if v := int64(s.blocks) * int64(s.blockSize); s.pvd && v > 0 {
		m.vsize = v
	}
	return m
}

// --- gpt / mbr -------------------------------------------------------------

// partitionTable matches a master boot record (0x55AA at 510, not a FAT boot
// sector); with a protective partition (type 0xEE) it is a GPT disk. Safety
// check "mbr" is Glance's: valid boot flags; a protective MBR starts at CHS
// 0/2/0 and LBA 1 and is the only partition; at least one partition.
func (i *Inspector) partitionTable() *match {
	if !i.head.complete() {
		return nil
	}
	h := i.head.buf
	if h[510] != 0x55 || h[511] != 0xaa {
		return nil
	}
	if h[0x10] == 2 && h[0x15] == 0xf8 { // two FATs, fixed-disk media: a FAT boot sector
		return nil
	}
	m := &match{name: "mbr", vsize: i.pos}
	var defined []int
	gpt := false
	for k := range 4 {
		pte := h[446+16*k : 462+16*k]
		if pte[0] != 0 && pte[0] != 0x80 {
			m.fail("mbr", fmt.Sprintf("MBR PTE %d has invalid boot flag", k))
		}
		if pte[4] != 0 {
			defined = append(defined, k)
		}
		if pte[4] == 0xee {
			gpt = true
			if pte[1] != 0 || pte[2] != 2 || pte[3] != 0 {
				m.fail("mbr", "GPT MBR has invalid start CHS")
			}
			if le32(pte[8:]) != 1 {
				m.fail("mbr", "GPT MBR has invalid start LBA")
			}
		}
	}
	if gpt {
		m.name = "gpt"
		m.sub = "no GPT header"
		switch {
		case hasPrefix(i.gptHdr[0].data(), "EFI PART"):
			m.sub = "512-byte sectors"
		case hasPrefix(i.gptHdr[1].data(), "EFI PART"):
			m.sub = "4096-byte sectors"
		}
		if len(defined) != 1 || defined[0] != 0 {
			m.fail("mbr", "GPT MBR defines invalid extra partitions")
		}
	}
	if len(defined) == 0 {
		m.fail("mbr", "GPT MBR has no partitions defined")
	}
	return m
}
