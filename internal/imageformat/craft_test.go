package imageformat

import (
	"encoding/binary"
	"strings"
)

// Builders of small hand-made images, for the tests, the fuzz seeds and the
// cases qemu-img cannot make (hostile headers, polyglots).

var (
	put16  = binary.LittleEndian.PutUint16
	put32  = binary.LittleEndian.PutUint32
	put64  = binary.LittleEndian.PutUint64
	bput16 = binary.BigEndian.PutUint16
	bput32 = binary.BigEndian.PutUint32
	bput64 = binary.BigEndian.PutUint64
)

func pad(b []byte, n int) []byte {
	if len(b) >= n {
		return b
	}
	return append(b, make([]byte, n-len(b))...)
}

// craftQcow2 is a qcow2 header (the rest of its first cluster left out).
func craftQcow2(version uint32, size, backingOff, incompat uint64) []byte {
	b := make([]byte, 4096)
	copy(b, qcowMagic)
	bput32(b[4:], version)
	bput64(b[8:], backingOff)
	if backingOff != 0 {
		bput32(b[16:], 9)
		copy(b[backingOff:], "/etc/hosts")
	}
	bput32(b[20:], 16) // cluster bits
	bput64(b[24:], size)
	if version >= 3 {
		bput64(b[72:], incompat)
		bput32(b[96:], 4)    // refcount order
		bput32(b[100:], 104) // header length
	}
	return b
}

type vmdkSpec struct {
	version  uint32
	capacity uint64 // sectors
	descSec  uint64
	descNum  uint64
	gdAtEnd  bool
	desc     string
	footer   string // "", "good", "bad-marker", "bad-eos", "other-desc"
	data     int    // bytes of grain data after the descriptor
}

func defaultVMDK(createType, extent string) vmdkSpec {
	return vmdkSpec{
		version: 1, capacity: 2048, descSec: 1, descNum: 2, data: 1024,
		desc: "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n" +
			`createType="` + createType + "\"\n\n# Extent description\n" + extent +
			"\n\n# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"4\"\nddb.adapterType = \"ide\"\n",
	}
}

func vmdkHeader(s vmdkSpec, gd uint64) []byte {
	h := make([]byte, 512)
	copy(h, vmdkMagic)
	put32(h[4:], s.version)
	put32(h[8:], 3)
	put64(h[12:], s.capacity)
	put64(h[20:], 128)
	put64(h[28:], s.descSec)
	put64(h[36:], s.descNum)
	put32(h[44:], 512)
	put64(h[48:], 21)
	put64(h[56:], gd)
	put64(h[64:], 128)
	copy(h[73:], "\n \r\n")
	return h
}

func craftVMDK(s vmdkSpec) []byte {
	gd := uint64(30)
	if s.gdAtEnd {
		gd = vmdkGDAtEnd
	}
	b := vmdkHeader(s, gd)
	desc := pad([]byte(s.desc), int(min(s.descNum, 4096))*512)
	b = append(b, desc...)
	b = append(b, make([]byte, s.data)...)
	if s.footer != "" {
		marker := make([]byte, 512)
		put64(marker, 1)
		put32(marker[12:], 3)
		fs := s
		if s.footer == "other-desc" {
			fs.descNum++
		}
		footer := vmdkHeader(fs, 30)
		eos := make([]byte, 512)
		switch s.footer {
		case "bad-marker":
			put32(marker[12:], 2)
		case "bad-eos":
			eos[100] = 1
		}
		b = append(b, marker...)
		b = append(b, footer...)
		b = append(b, eos...)
	}
	return b
}

// craftVHDFooter is a VHD footer of the given disk type (2 fixed, 3 dynamic,
// 4 differencing).
func craftVHDFooter(size uint64, diskType uint32) []byte {
	f := make([]byte, 512)
	copy(f, vhdMagic)
	bput32(f[8:], 2)
	bput32(f[12:], 0x00010000)
	if diskType == 2 {
		bput64(f[16:], ^uint64(0))
	} else {
		bput64(f[16:], 512)
	}
	copy(f[28:], "glnt")
	bput64(f[40:], size)
	bput64(f[48:], size)
	bput32(f[60:], diskType)
	var sum uint32
	for _, c := range f {
		sum += uint32(c)
	}
	bput32(f[64:], ^sum)
	return f
}

func craftDynamicVHD(size uint64, diskType uint32) []byte {
	f := craftVHDFooter(size, diskType)
	dyn := make([]byte, 1024)
	copy(dyn, "cxsparse")
	b := append(append(append([]byte{}, f...), dyn...), make([]byte, 512)...)
	return append(b, f...)
}

func craftFixedVHD(data []byte) []byte {
	return append(append([]byte{}, data...), craftVHDFooter(uint64(len(data)), 2)...)
}

func craftVDI(size uint64) []byte {
	b := make([]byte, 1024)
	copy(b, "<<< Oracle VM VirtualBox Disk Image >>>\n")
	put32(b[0x40:], vdiMagic)
	put32(b[0x44:], 0x00010001)
	put32(b[0x48:], 0x190)
	put32(b[0x4c:], 1)
	put32(b[0x168:], 512)
	put64(b[0x170:], size)
	return b
}

func craftLUKS(version uint16, payloadSectors uint32, data int) []byte {
	b := make([]byte, int(payloadSectors)*512+data)
	copy(b, luksMagic)
	bput16(b[6:], version)
	copy(b[8:], "aes")
	copy(b[40:], "xts-plain64")
	copy(b[72:], "sha256")
	bput32(b[104:], payloadSectors)
	bput32(b[108:], 64)
	return b
}

func craftQED(size uint64) []byte {
	b := make([]byte, 4096)
	copy(b, qedMagic)
	put32(b[4:], 65536)
	put32(b[8:], 4)
	put32(b[12:], 1)
	put64(b[40:], 65536)
	put64(b[48:], size)
	return b
}

// craftISO is an ISO 9660 volume of the given number of 2 KiB blocks (at
// least 20): system area, primary volume descriptor, set terminator.
func craftISO(blocks uint32) []byte {
	b := make([]byte, int(blocks)*2048)
	pvd := b[32768:]
	pvd[0] = 1
	copy(pvd[1:], "CD001")
	pvd[6] = 1
	copy(pvd[8:], strings.Repeat(" ", 32))
	copy(pvd[40:], "GLINT")
	put32(pvd[80:], blocks)
	bput32(pvd[84:], blocks)
	put16(pvd[128:], 2048)
	bput16(pvd[130:], 2048)
	term := b[32768+2048:]
	term[0] = 255
	copy(term[1:], "CD001")
	term[6] = 1
	return b
}

// craftUDF is a bare UDF volume recognition sequence (no ISO 9660 part).
func craftUDF(blocks uint32) []byte {
	b := make([]byte, int(blocks)*2048)
	for k, id := range []string{"BEA01", "NSR03", "TEA01"} {
		d := b[32768+2048*k:]
		copy(d[1:], id)
		d[6] = 1
	}
	return b
}

type pte struct {
	boot, typ  byte
	chs        [3]byte
	start, num uint32
}

// setMBR writes a boot signature and partition entries into b's first sector.
func setMBR(b []byte, ptes ...pte) []byte {
	b = pad(b, 512)
	for k, p := range ptes {
		e := b[446+16*k:]
		e[0] = p.boot
		copy(e[1:4], p.chs[:])
		e[4] = p.typ
		put32(e[8:], p.start)
		put32(e[12:], p.num)
	}
	b[510], b[511] = 0x55, 0xaa
	return b
}

func craftMBRDisk(size int) []byte {
	return setMBR(make([]byte, size), pte{boot: 0x80, typ: 0x83, chs: [3]byte{0x20, 0x21, 0}, start: 2048, num: uint32(size/512 - 2048)})
}

func craftGPTDisk(size int) []byte {
	b := setMBR(make([]byte, size), pte{typ: 0xee, chs: [3]byte{0, 2, 0}, start: 1, num: uint32(size/512 - 1)})
	copy(b[512:], "EFI PART")
	put32(b[520:], 0x00010000)
	put32(b[524:], 92)
	put64(b[536:], 1)
	return b
}

// craftFATBootSector is a FAT volume boot record: 0x55AA, but not an MBR.
func craftFATBootSector() []byte {
	b := make([]byte, 64<<10)
	copy(b, "\xeb\x3c\x90mkfs.fat")
	put16(b[11:], 512)
	b[13] = 4
	put16(b[14:], 4)
	b[0x10] = 2
	b[0x15] = 0xf8
	b[510], b[511] = 0x55, 0xaa
	return b
}

type vhdxSpec struct {
	metaOff      int64 // metadata region offset (1 MiB in real files)
	size         uint64
	hasParent    bool // file parameters HasParent flag
	parentLoc    bool // parent locator item
	noVDS        bool
	badRegionSig bool
}

func craftVHDX(s vhdxSpec) []byte {
	if s.metaOff == 0 {
		s.metaOff = 1 << 20
	}
	b := make([]byte, max(s.metaOff+64<<10+16, vhdxRegionTable+vhdxTableSize+512))
	copy(b, vhdxMagic)
	copy(b[8:], "G\x00l\x00i\x00n\x00t\x00")
	rt := b[vhdxRegionTable:]
	copy(rt, "regi")
	if s.badRegionSig {
		copy(rt, "regx")
	}
	put32(rt[8:], 2)
	bat := msGUID("2DC27766-F623-4200-9D64-115E9BFD4A08")
	copy(rt[16:], bat[:])
	put64(rt[32:], uint64(s.metaOff)+1<<20)
	put32(rt[40:], 1<<20)
	copy(rt[48:], vhdxMetadataRegion[:])
	put64(rt[64:], uint64(s.metaOff))
	put32(rt[72:], 1<<20)
	put32(rt[76:], 1)
	mt := b[s.metaOff:]
	copy(mt, "metadata")
	var entries [][16]byte
	entries = append(entries, vhdxFileParameters)
	if !s.noVDS {
		entries = append(entries, vhdxVirtualDisk)
	}
	if s.parentLoc {
		entries = append(entries, vhdxParentLocator)
	}
	put16(mt[10:], uint16(len(entries)))
	for k, g := range entries {
		e := mt[32+32*k:]
		copy(e, g[:])
		put32(e[16:], uint32(64<<10+8*k))
		put32(e[20:], 8)
		put32(e[24:], 4) // required
	}
	items := mt[64<<10:]
	put32(items, 32<<20)
	if s.hasParent {
		put32(items[4:], 2)
	}
	put64(items[8:], s.size)
	return b
}

// craftedImage is a named hand-made image with the verdict expected of it.
type craftedImage struct {
	name   string
	data   []byte
	format string
	vsize  int64    // -1: do not check
	fails  []string // failed checks, nil when safe
	accept []string // disk formats Check accepts (aki and ari always do)
	small  bool     // small enough for the committed fuzz corpus
}

func craftedImages() []craftedImage {
	mib := int64(1 << 20)
	gpt := craftGPTDisk(1 << 20)
	mbr := craftMBRDisk(1 << 20)
	iso := craftISO(64)
	hybridGPT := append([]byte{}, iso...)
	copy(hybridGPT, craftGPTDisk(4096)[:4096])
	hybridMBR := append([]byte{}, iso...)
	copy(hybridMBR, setMBR(nil, pte{boot: 0x80, typ: 0x17, start: 0, num: 64 * 4}))
	qcowMBR := setMBR(craftQcow2(3, uint64(mib), 0, 0), pte{typ: 0x83, start: 2048, num: 100})
	qcowISO := craftQcow2(3, uint64(mib), 0, 0)
	qcowISO = append(qcowISO, make([]byte, 64<<10)...)
	copy(qcowISO[32768:], craftISO(20)[32768:36864])
	vmdkVDI := craftVMDK(defaultVMDK("monolithicSparse", `RW 2048 SPARSE "disk.vmdk"`))
	put32(vmdkVDI[0x40:], vdiMagic)
	luksMBR := setMBR(craftLUKS(1, 8, 4096), pte{typ: 0x83, start: 2048, num: 100})
	sparse := func(ct, extent string) []byte { return craftVMDK(defaultVMDK(ct, extent)) }
	sparseWith := func(f func(*vmdkSpec)) []byte { return craftVMDK(vmdkWith(f)) }
	withFooter := func(footer string) []byte {
		s := defaultVMDK("streamOptimized", `RW 2048 SPARSE "disk.vmdk"`)
		s.gdAtEnd, s.footer = true, footer
		return craftVMDK(s)
	}
	rawLike := []string{"raw", "ami", "ploop"}
	return []craftedImage{
		{name: "empty", data: nil, format: "raw", vsize: 0, accept: rawLike, small: true},
		{name: "raw-text", data: []byte("hello, world\n"), format: "raw", vsize: 13, accept: rawLike, small: true},
		{name: "raw-zeros", data: make([]byte, 70000), format: "raw", vsize: 70000, accept: rawLike},
		{name: "qcow2-v3", data: craftQcow2(3, 1<<30, 0, 0), format: "qcow2", vsize: 1 << 30, accept: []string{"qcow2"}, small: true},
		{name: "qcow2-v2", data: craftQcow2(2, 1<<30, 0, 0), format: "qcow2", vsize: 1 << 30, accept: []string{"qcow2"}, small: true},
		{name: "qcow2-dirty-zstd", data: craftQcow2(3, 1<<30, 0, 1|8), format: "qcow2", vsize: 1 << 30, accept: []string{"qcow2"}, small: true},
		{name: "qcow2-backing", data: craftQcow2(3, 1<<30, 512, 0), format: "qcow2", vsize: 1 << 30, fails: []string{"backing_file"}, small: true},
		{name: "qcow2-v2-backing", data: craftQcow2(2, 1<<30, 512, 0), format: "qcow2", vsize: 1 << 30, fails: []string{"backing_file"}, small: true},
		{name: "qcow2-data-file", data: craftQcow2(3, 1<<30, 0, 4), format: "qcow2", vsize: 1 << 30, fails: []string{"data_file"}, small: true},
		{name: "qcow2-unknown-feature", data: craftQcow2(3, 1<<30, 0, 1<<40), format: "qcow2", vsize: 1 << 30, fails: []string{"unknown_features"}, small: true},
		{name: "qcow2-extended-l2", data: craftQcow2(3, 1<<30, 0, 16), format: "qcow2", vsize: 1 << 30, fails: []string{"unknown_features"}, small: true},
		{name: "qcow2-all-bad", data: craftQcow2(3, 1<<30, 512, 4|32), format: "qcow2", vsize: 1 << 30, fails: []string{"backing_file", "data_file", "unknown_features"}, small: true},
		{name: "qcow-v1", data: craftQcow2(1, 1<<30, 0, 0), format: "qcow2", vsize: 1 << 30, fails: []string{"unknown_features"}, small: true},
		{name: "qcow2-huge-size", data: craftQcow2(3, 1<<63, 0, 0), format: "qcow2", vsize: 0, fails: []string{"virtual_size"}, small: true},
		{name: "qcow2-truncated", data: []byte(qcowMagic + "\x00\x00\x00\x03"), format: "qcow2", vsize: 0, fails: []string{"incomplete"}, small: true},
		{name: "qed", data: craftQED(1 << 30), format: "qed", vsize: 1 << 30, fails: []string{"banned"}, small: true},
		{name: "vhd-dynamic", data: craftDynamicVHD(64*uint64(mib), 3), format: "vhd", vsize: 64 * mib, accept: []string{"vhd"}, small: true},
		{name: "vhd-differencing", data: craftDynamicVHD(64*uint64(mib), 4), format: "vhd", vsize: 64 * mib, fails: []string{"parent"}, small: true},
		{name: "vhd-fixed", data: craftFixedVHD(make([]byte, 2048)), format: "vhd", vsize: 2048, accept: []string{"vhd", "raw", "ami", "ploop"}, small: true},
		{name: "vhd-fixed-gpt", data: craftFixedVHD(gpt), format: "vhd", vsize: mib, accept: []string{"vhd", "raw", "ami", "ploop"}},
		{name: "vhd-fixed-differencing-tail", data: append(make([]byte, 2048), craftVHDFooter(2048, 4)...), format: "vhd", vsize: 2048, fails: []string{"parent"}, small: true},
		{name: "qcow2-ending-with-vhd-footer", data: append(craftQcow2(3, 1<<30, 0, 0), craftVHDFooter(4096, 2)...), format: "qcow2", vsize: 1 << 30, accept: []string{"qcow2"}, small: true},
		{name: "gpt-small", data: craftGPTDisk(8192), format: "gpt", vsize: 8192, accept: []string{"gpt", "raw", "ami", "ploop"}, small: true},
		{name: "mbr-small", data: craftMBRDisk(8192), format: "mbr", vsize: 8192, accept: []string{"mbr", "gpt", "raw", "ami", "ploop"}, small: true},
		{name: "vhd-fixed-gpt-small", data: craftFixedVHD(craftGPTDisk(2048)), format: "vhd", vsize: 2048, accept: []string{"vhd", "raw", "ami", "ploop"}, small: true},
		{name: "vhdx", data: craftVHDX(vhdxSpec{size: 10 << 30}), format: "vhdx", vsize: 10 << 30, accept: []string{"vhdx"}},
		{name: "vhdx-compact", data: craftVHDX(vhdxSpec{metaOff: 256 << 10, size: 1 << 30}), format: "vhdx", vsize: 1 << 30, accept: []string{"vhdx"}},
		{name: "vhdx-has-parent", data: craftVHDX(vhdxSpec{size: 1 << 30, hasParent: true}), format: "vhdx", vsize: 1 << 30, fails: []string{"parent"}},
		{name: "vhdx-parent-locator", data: craftVHDX(vhdxSpec{size: 1 << 30, parentLoc: true}), format: "vhdx", vsize: 1 << 30, fails: []string{"parent"}},
		{name: "vhdx-no-size", data: craftVHDX(vhdxSpec{noVDS: true}), format: "vhdx", vsize: 0, fails: []string{"header"}},
		{name: "vhdx-bad-region-table", data: craftVHDX(vhdxSpec{badRegionSig: true}), format: "vhdx", vsize: 0, fails: []string{"header"}},
		{name: "vhdx-meta-before-regions", data: craftVHDX(vhdxSpec{metaOff: 64 << 10, size: 1 << 30}), format: "vhdx", vsize: 0, fails: []string{"header"}},
		{name: "vhdx-truncated", data: craftVHDX(vhdxSpec{size: 1 << 30})[:300<<10], format: "vhdx", vsize: 0, fails: []string{"incomplete"}},
		{name: "vmdk-monolithic-sparse", data: sparse("monolithicSparse", `RW 2048 SPARSE "disk.vmdk"`), format: "vmdk", vsize: mib, accept: []string{"vmdk"}, small: true},
		{name: "vmdk-stream-optimized", data: sparse("streamOptimized", `RW 2048 SPARSE "disk.vmdk"`), format: "vmdk", vsize: mib, accept: []string{"vmdk"}, small: true},
		{name: "vmdk-stream-footer", data: withFooter("good"), format: "vmdk", vsize: mib, accept: []string{"vmdk"}, small: true},
		{name: "vmdk-stream-footer-bad-marker", data: withFooter("bad-marker"), format: "vmdk", vsize: mib, fails: []string{"footer"}, small: true},
		{name: "vmdk-stream-footer-bad-eos", data: withFooter("bad-eos"), format: "vmdk", vsize: mib, fails: []string{"footer"}, small: true},
		{name: "vmdk-stream-footer-other-desc", data: withFooter("other-desc"), format: "vmdk", vsize: mib, fails: []string{"footer"}, small: true},
		{name: "vmdk-stream-footer-missing", data: func() []byte {
			s := defaultVMDK("streamOptimized", `RW 2048 SPARSE "disk.vmdk"`)
			s.gdAtEnd = true
			return craftVMDK(s)
		}(), format: "vmdk", vsize: mib, fails: []string{"footer"}, small: true},
		// CVE-2022-47951: a sparse file whose descriptor points qemu at host files.
		{name: "vmdk-flat-extent-abs-path", data: sparse("monolithicFlat", `RW 2048 FLAT "/etc/passwd" 0`), format: "vmdk", vsize: 0, fails: []string{"descriptor"}, small: true},
		{name: "vmdk-sparse-abs-path", data: sparse("monolithicSparse", `RW 2048 SPARSE "/var/lib/glance/images/other"`), format: "vmdk", vsize: 0, fails: []string{"descriptor"}, small: true},
		{name: "vmdk-sparse-flat-extent", data: sparse("monolithicSparse", `RW 2048 FLAT "other-image" 0`), format: "vmdk", vsize: 0, fails: []string{"descriptor"}, small: true},
		{name: "vmdk-two-gb-sparse", data: sparse("twoGbMaxExtentSparse", `RW 2048 SPARSE "disk-s001.vmdk"`), format: "vmdk", vsize: 0, fails: []string{"descriptor"}, small: true},
		{name: "vmdk-bad-line", data: sparse("monolithicSparse", "RW 2048 SPARSE \"disk.vmdk\"\nthis is not a descriptor line"), format: "vmdk", vsize: 0, fails: []string{"descriptor"}, small: true},
		{name: "vmdk-no-extent", data: sparse("monolithicSparse", ""), format: "vmdk", vsize: 0, fails: []string{"descriptor"}, small: true},
		{name: "vmdk-non-ascii", data: sparse("monolithicSparse", "RW 2048 SPARSE \"d\xe9.vmdk\""), format: "vmdk", vsize: 0, fails: []string{"descriptor"}, small: true},
		{name: "vmdk-parent-hint", data: sparse("monolithicSparse", "RW 2048 SPARSE \"disk.vmdk\"\nparentFileNameHint=\"base.vmdk\""), format: "vmdk", vsize: mib, fails: []string{"backing_file"}, small: true},
		{name: "vmdk-parent-hint-comment", data: sparse("monolithicSparse", "RW 2048 SPARSE \"disk.vmdk\"\n# parentFileNameHint=\"x\""), format: "vmdk", vsize: mib, fails: []string{"backing_file"}, small: true},
		{name: "vmdk-zero-capacity", data: sparseWith(func(s *vmdkSpec) { s.capacity = 0 }), format: "vmdk", vsize: 0, fails: []string{"descriptor"}, small: true},
		{name: "vmdk-version-4", data: sparseWith(func(s *vmdkSpec) { s.version = 4 }), format: "vmdk", vsize: mib, fails: []string{"header"}, small: true},
		{name: "vmdk-desc-elsewhere", data: sparseWith(func(s *vmdkSpec) { s.descSec = 2 }), format: "vmdk", vsize: 0, fails: []string{"descriptor"}, small: true},
		{name: "vmdk-no-descriptor", data: sparseWith(func(s *vmdkSpec) { s.descNum = 0 }), format: "vmdk", vsize: 0, fails: []string{"descriptor"}, small: true},
		{name: "vmdk-descriptor-file", data: []byte(defaultVMDK("monolithicFlat", `RW 2048 FLAT "/etc/passwd" 0`).desc), format: "vmdk", vsize: 0, fails: []string{"descriptor"}, small: true},
		{name: "vmdk-descriptor-file-sparse", data: []byte(defaultVMDK("monolithicSparse", `RW 2048 SPARSE "other.vmdk"`).desc), format: "vmdk", vsize: 0, fails: []string{"descriptor"}, small: true},
		{name: "vdi", data: craftVDI(1 << 30), format: "vdi", vsize: 1 << 30, accept: []string{"vdi"}, small: true},
		{name: "luks-v1", data: craftLUKS(1, 8, 4096), format: "luks", vsize: 4096, accept: []string{"luks", "raw"}, small: true},
		{name: "luks-v2", data: craftLUKS(2, 8, 4096), format: "luks", vsize: 4096, fails: []string{"version"}, small: true},
		{name: "iso", data: iso, format: "iso", vsize: 64 * 2048, accept: []string{"iso", "raw", "ami", "ploop"}},
		{name: "udf", data: craftUDF(40), format: "iso", vsize: 40 * 2048, accept: []string{"iso", "raw", "ami", "ploop"}},
		{name: "iso-hybrid-gpt", data: hybridGPT, format: "iso", vsize: 64 * 2048, accept: []string{"iso", "raw", "ami", "ploop"}},
		{name: "iso-hybrid-mbr", data: hybridMBR, format: "iso", vsize: 64 * 2048, accept: []string{"iso", "raw", "ami", "ploop"}},
		{name: "gpt", data: gpt, format: "gpt", vsize: mib, accept: []string{"gpt", "raw", "ami", "ploop"}},
		{name: "mbr", data: mbr, format: "mbr", vsize: mib, accept: []string{"mbr", "gpt", "raw", "ami", "ploop"}},
		{name: "mbr-no-partitions", data: setMBR(make([]byte, 4096)), format: "mbr", vsize: 4096, fails: []string{"mbr"}, small: true},
		{name: "mbr-bad-boot-flag", data: setMBR(make([]byte, 4096), pte{boot: 0x12, typ: 0x83, start: 1, num: 1}), format: "mbr", vsize: 4096, fails: []string{"mbr"}, small: true},
		{name: "gpt-extra-partition", data: setMBR(make([]byte, 4096), pte{typ: 0xee, chs: [3]byte{0, 2, 0}, start: 1, num: 7}, pte{typ: 0x83, start: 1, num: 1}), format: "gpt", vsize: 4096, fails: []string{"mbr"}, small: true},
		{name: "gpt-bad-start", data: setMBR(make([]byte, 4096), pte{typ: 0xee, chs: [3]byte{0, 2, 0}, start: 2, num: 7}), format: "gpt", vsize: 4096, fails: []string{"mbr"}, small: true},
		{name: "fat-boot-sector", data: craftFATBootSector(), format: "raw", vsize: 64 << 10, accept: rawLike},
		// A raw upload whose bytes start with a qcow2 header is a qcow2.
		{name: "raw-starting-with-qcow2", data: append(craftQcow2(3, 1<<30, 0, 0), make([]byte, 1<<20)...), format: "qcow2", vsize: 1 << 30, accept: []string{"qcow2"}},
		// Polyglots: two formats at once are refused whatever the declaration.
		{name: "polyglot-qcow2-mbr", data: qcowMBR, format: "qcow2", vsize: mib, fails: []string{"multiple_formats"}, small: true},
		{name: "polyglot-qcow2-iso", data: qcowISO, format: "qcow2", vsize: mib, fails: []string{"multiple_formats"}},
		{name: "polyglot-vmdk-vdi", data: vmdkVDI, format: "vmdk", vsize: mib, fails: []string{"multiple_formats"}, small: true},
		{name: "polyglot-luks-mbr", data: luksMBR, format: "luks", vsize: 4096, fails: []string{"multiple_formats"}, small: true},
	}
}
