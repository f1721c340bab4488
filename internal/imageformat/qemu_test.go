package imageformat

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The corpus below is made by real tools (qemu-img from Debian's qemu-utils,
// and genisoimage, xorriso, sgdisk, sfdisk when installed) in a temporary
// directory, streamed through the inspector in random writes of 1 byte to
// 1 MiB, and cross-checked with `qemu-img info --output=json`.

func needQemuImg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		if os.Getenv("GLINT_SKIP_QEMU") == "1" {
			t.Skip("qemu-img not installed and GLINT_SKIP_QEMU=1")
		}
		t.Fatal("qemu-img not found: install Debian's qemu-utils (apt-get install -y qemu-utils), or set GLINT_SKIP_QEMU=1")
	}
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	var out []byte
	var err error
	for range 3 {
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		out, err = cmd.CombinedOutput()
		// qemu's LUKS key-derivation benchmark sometimes cannot time itself.
		if err == nil || !strings.Contains(string(out), "Unable to get accurate CPU usage") {
			break
		}
	}
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

type qemuInfo struct {
	Format         string `json:"format"`
	VirtualSize    int64  `json:"virtual-size"`
	BackingFile    string `json:"backing-filename"`
	FormatSpecific struct {
		Data struct {
			DataFile   string `json:"data-file"`
			CreateType string `json:"create-type"`
			Extents    []struct {
				Filename string `json:"filename"`
			} `json:"extents"`
		} `json:"data"`
	} `json:"format-specific"`
}

// info runs qemu-img info on path; format "" lets qemu probe.
func info(t *testing.T, path, format string) qemuInfo {
	t.Helper()
	args := []string{"info", "--output=json"}
	if format != "" {
		args = append(args, "-f", format)
	}
	out := run(t, filepath.Dir(path), "qemu-img", append(args, filepath.Base(path))...)
	var qi qemuInfo
	if err := json.Unmarshal([]byte(out), &qi); err != nil {
		t.Fatalf("qemu-img info %s: %v\n%s", path, err, out)
	}
	return qi
}

func have(tool string) bool { _, err := exec.LookPath(tool); return err == nil }

// patch rewrites part of a file.
func patch(t *testing.T, path string, f func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, f(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

// setDescriptor replaces the descriptor embedded in a qemu-made sparse VMDK.
func setDescriptor(desc string) func([]byte) []byte {
	return func(b []byte) []byte {
		area := b[512 : 512+20*512]
		clear(area)
		copy(area, desc)
		return b
	}
}

type qemuCase struct {
	name string
	// make creates the file to upload in dir and returns its name.
	make func(t *testing.T, dir string) string
	// qemuFormat is passed to qemu-img info -f to cross-check the virtual
	// size ("" lets qemu probe; "-" skips the cross-check).
	qemuFormat string
	format     string
	sub        string
	vsize      int64 // expected VirtualSize when not cross-checked (-1: any)
	fails      []string
	accept     []string
	// threat, when set, is checked against qemu-img info to show that the
	// refused file really makes qemu read another file.
	threat func(t *testing.T, qi qemuInfo)
}

func create(args ...string) func(t *testing.T, dir string) string {
	return func(t *testing.T, dir string) string {
		run(t, dir, "qemu-img", append([]string{"create", "-q"}, args...)...)
		for k := len(args) - 1; k >= 0; k-- {
			if !strings.HasPrefix(args[k], "-") && !strings.HasSuffix(args[k], "M") && !strings.HasSuffix(args[k], "G") {
				return args[k]
			}
		}
		t.Fatalf("no file name in %v", args)
		return ""
	}
}

const mb = 1 << 20

func qemuCases() []qemuCase {
	rawLike := []string{"raw", "ami", "ploop"}
	return []qemuCase{
		{name: "raw", make: create("-f", "raw", "disk.raw", "6M"), format: "raw", accept: rawLike},
		{name: "qcow2", make: create("-f", "qcow2", "disk.qcow2", "1G"), format: "qcow2", sub: "v3", accept: []string{"qcow2"}},
		{name: "qcow2-compat-0.10", make: create("-f", "qcow2", "-o", "compat=0.10", "disk.qcow2", "1G"), format: "qcow2", sub: "v2", accept: []string{"qcow2"}},
		{name: "qcow2-lazy-refcounts", make: create("-f", "qcow2", "-o", "lazy_refcounts=on", "disk.qcow2", "1G"), format: "qcow2", accept: []string{"qcow2"}},
		{name: "qcow2-with-data", make: func(t *testing.T, dir string) string {
			if err := os.WriteFile(filepath.Join(dir, "src.raw"), bytes.Repeat([]byte("glint data "), 300000), 0o644); err != nil {
				t.Fatal(err)
			}
			run(t, dir, "qemu-img", "convert", "-O", "qcow2", "src.raw", "disk.qcow2")
			return "disk.qcow2"
		}, format: "qcow2", accept: []string{"qcow2"}},
		{name: "qcow2-backing-file", make: func(t *testing.T, dir string) string {
			create("-f", "qcow2", "base.qcow2", "64M")(t, dir)
			return create("-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "disk.qcow2")(t, dir)
		}, format: "qcow2", fails: []string{"backing_file"}, threat: func(t *testing.T, qi qemuInfo) {
			if qi.BackingFile != "base.qcow2" {
				t.Errorf("qemu-img sees backing file %q", qi.BackingFile)
			}
		}},
		// CVE-2024-32498: an external data file.
		{name: "qcow2-data-file", make: func(t *testing.T, dir string) string {
			create("-f", "raw", "data.raw", "64M")(t, dir)
			return create("-f", "qcow2", "-o", "data_file=data.raw", "disk.qcow2", "64M")(t, dir)
		}, format: "qcow2", fails: []string{"data_file"}, threat: func(t *testing.T, qi qemuInfo) {
			if qi.FormatSpecific.Data.DataFile != "data.raw" {
				t.Errorf("qemu-img sees data file %q", qi.FormatSpecific.Data.DataFile)
			}
		}},
		{name: "qcow2-data-file-and-backing", make: func(t *testing.T, dir string) string {
			create("-f", "raw", "data.raw", "64M")(t, dir)
			create("-f", "raw", "base.raw", "64M")(t, dir)
			return create("-f", "qcow2", "-o", "data_file=data.raw", "-b", "base.raw", "-F", "raw", "disk.qcow2", "64M")(t, dir)
		}, format: "qcow2", fails: []string{"backing_file", "data_file"}},
		// Glance treats extended L2 (incompatible bit 4) as unknown.
		{name: "qcow2-extended-l2", make: create("-f", "qcow2", "-o", "extended_l2=on", "disk.qcow2", "64M"), format: "qcow2", fails: []string{"unknown_features"}},
		{name: "qcow-v1", make: create("-f", "qcow", "disk.qcow", "64M"), qemuFormat: "qcow", format: "qcow2", sub: "v1", fails: []string{"unknown_features"}},
		{name: "qed", make: create("-f", "qed", "disk.qed", "64M"), format: "qed", fails: []string{"banned"}},
		{name: "vmdk-monolithicSparse", make: create("-f", "vmdk", "-o", "subformat=monolithicSparse", "disk.vmdk", "1G"), format: "vmdk", sub: "monolithicSparse", accept: []string{"vmdk"}},
		{name: "vmdk-streamOptimized", make: create("-f", "vmdk", "-o", "subformat=streamOptimized", "disk.vmdk", "1G"), format: "vmdk", sub: "streamOptimized", accept: []string{"vmdk"}},
		{name: "vmdk-streamOptimized-with-data", make: func(t *testing.T, dir string) string {
			if err := os.WriteFile(filepath.Join(dir, "src.raw"), bytes.Repeat([]byte("0123456789abcdef"), 200000), 0o644); err != nil {
				t.Fatal(err)
			}
			run(t, dir, "qemu-img", "convert", "-O", "vmdk", "-o", "subformat=streamOptimized", "src.raw", "disk.vmdk")
			return "disk.vmdk"
		}, format: "vmdk", accept: []string{"vmdk"}},
		{name: "vmdk-monolithicSparse-adapter-lsilogic", make: create("-f", "vmdk", "-o", "adapter_type=lsilogic,hwversion=6", "disk.vmdk", "3G"), format: "vmdk", accept: []string{"vmdk"}},
		// Descriptor-only files: the data is in other files (CVE-2022-47951).
		{name: "vmdk-monolithicFlat", make: create("-f", "vmdk", "-o", "subformat=monolithicFlat", "disk.vmdk", "64M"), format: "vmdk", sub: "monolithicFlat", vsize: 0, qemuFormat: "-", fails: []string{"descriptor"}},
		{name: "vmdk-monolithicFlat-host-file", make: func(t *testing.T, dir string) string {
			secret := writeSecret(t, dir)
			desc := "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n\nRW 1 FLAT \"" + secret + "\" 0\n"
			if err := os.WriteFile(filepath.Join(dir, "disk.vmdk"), []byte(desc), 0o644); err != nil {
				t.Fatal(err)
			}
			return "disk.vmdk"
		}, format: "vmdk", vsize: 0, qemuFormat: "-", fails: []string{"descriptor"}, threat: func(t *testing.T, qi qemuInfo) {
			if e := qi.FormatSpecific.Data.Extents; len(e) == 0 || !strings.HasSuffix(e[0].Filename, "/secret.raw") {
				t.Errorf("qemu-img sees extents %+v", e)
			}
		}},
		{name: "vmdk-twoGbMaxExtentSparse", make: create("-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", "disk.vmdk", "64M"), format: "vmdk", sub: "twoGbMaxExtentSparse", vsize: 0, qemuFormat: "-", fails: []string{"descriptor"}},
		{name: "vmdk-twoGbMaxExtentSparse-extent-file", make: func(t *testing.T, dir string) string {
			create("-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", "disk.vmdk", "64M")(t, dir)
			return "disk-s001.vmdk"
		}, format: "vmdk", vsize: 0, qemuFormat: "-", fails: []string{"descriptor"}},
		{name: "vmdk-twoGbMaxExtentFlat", make: create("-f", "vmdk", "-o", "subformat=twoGbMaxExtentFlat", "disk.vmdk", "64M"), format: "vmdk", vsize: 0, qemuFormat: "-", fails: []string{"descriptor"}},
		// A sparse VMDK with a flat extent in its embedded descriptor and
		// zero capacity: qemu opens the descriptor's extent (a host file).
		{name: "vmdk-sparse-header-flat-extent", make: func(t *testing.T, dir string) string {
			writeSecret(t, dir)
			name := create("-f", "vmdk", "disk.vmdk", "1M")(t, dir)
			patch(t, filepath.Join(dir, name), func(b []byte) []byte {
				put64(b[12:], 0)
				return setDescriptor("# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n\nRW 1 FLAT \"secret.raw\" 0\n")(b)
			})
			return name
		}, format: "vmdk", vsize: 0, qemuFormat: "-", fails: []string{"descriptor"}, threat: func(t *testing.T, qi qemuInfo) {
			if e := qi.FormatSpecific.Data.Extents; len(e) == 0 || e[0].Filename != "secret.raw" {
				t.Errorf("qemu-img sees extents %+v", e)
			}
		}},
		// qemu takes a backing file from parentFileNameHint, even in a
		// comment, which Glance's descriptor check lets through.
		{name: "vmdk-backing-file", make: func(t *testing.T, dir string) string {
			create("-f", "vmdk", "base.vmdk", "64M")(t, dir)
			return create("-f", "vmdk", "-b", "base.vmdk", "-F", "vmdk", "disk.vmdk")(t, dir)
		}, format: "vmdk", fails: []string{"backing_file"}, threat: func(t *testing.T, qi qemuInfo) {
			if qi.BackingFile != "base.vmdk" {
				t.Errorf("qemu-img sees backing file %q", qi.BackingFile)
			}
		}},
		{name: "vmdk-parent-hint-in-comment", make: func(t *testing.T, dir string) string {
			writeSecret(t, dir)
			name := create("-f", "vmdk", "disk.vmdk", "1M")(t, dir)
			patch(t, filepath.Join(dir, name), setDescriptor("# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n# parentFileNameHint=\"secret.raw\"\ncreateType=\"monolithicSparse\"\n\nRW 2048 SPARSE \"disk.vmdk\"\n"))
			return name
		}, format: "vmdk", fails: []string{"backing_file"}, threat: func(t *testing.T, qi qemuInfo) {
			if qi.BackingFile != "secret.raw" {
				t.Errorf("qemu-img sees backing file %q", qi.BackingFile)
			}
		}},
		{name: "vpc-dynamic", make: create("-f", "vpc", "disk.vhd", "1G"), qemuFormat: "vpc", format: "vhd", sub: "dynamic", accept: []string{"vhd"}},
		{name: "vpc-dynamic-force-size", make: create("-f", "vpc", "-o", "force_size=on", "disk.vhd", "100M"), qemuFormat: "vpc", format: "vhd", accept: []string{"vhd"}},
		{name: "vpc-fixed", make: create("-f", "vpc", "-o", "subformat=fixed", "disk.vhd", "6M"), qemuFormat: "vpc", format: "vhd", sub: "fixed", accept: []string{"vhd", "raw", "ami", "ploop"}},
		{name: "vhdx", make: create("-f", "vhdx", "disk.vhdx", "1G"), format: "vhdx", accept: []string{"vhdx"}},
		{name: "vhdx-small-blocks", make: create("-f", "vhdx", "-o", "block_size=1M,log_size=1M", "disk.vhdx", "5G"), format: "vhdx", accept: []string{"vhdx"}},
		{name: "vhdx-fixed", make: create("-f", "vhdx", "-o", "subformat=fixed", "disk.vhdx", "6M"), format: "vhdx", accept: []string{"vhdx"}},
		{name: "vhdx-has-parent", make: func(t *testing.T, dir string) string {
			name := create("-f", "vhdx", "disk.vhdx", "64M")(t, dir)
			patch(t, filepath.Join(dir, name), setVHDXHasParent(t))
			return name
		}, qemuFormat: "-", format: "vhdx", vsize: 64 * mb, fails: []string{"parent"}},
		{name: "vdi", make: create("-f", "vdi", "disk.vdi", "1G"), format: "vdi", accept: []string{"vdi"}},
		{name: "vdi-static", make: create("-f", "vdi", "-o", "static=on", "disk.vdi", "6M"), format: "vdi", accept: []string{"vdi"}},
		{name: "luks", make: create("-f", "luks", "--object", "secret,id=sec0,data=glint", "-o", "key-secret=sec0,iter-time=100", "disk.luks", "6M"),
			qemuFormat: "luks", format: "luks", sub: "v1", accept: []string{"luks", "raw"}},
		{name: "qcow2-luks-encrypted", make: create("-f", "qcow2", "--object", "secret,id=sec0,data=glint", "-o", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=100", "disk.qcow2", "64M"),
			format: "qcow2", accept: []string{"qcow2"}},
		// Converted from a partitioned raw disk: the partition table is
		// inside the qcow2 data, not at its start.
		{name: "qcow2-of-gpt-disk", make: func(t *testing.T, dir string) string {
			if err := os.WriteFile(filepath.Join(dir, "src.raw"), craftGPTDisk(4*mb), 0o644); err != nil {
				t.Fatal(err)
			}
			run(t, dir, "qemu-img", "convert", "-O", "qcow2", "src.raw", "disk.qcow2")
			return "disk.qcow2"
		}, format: "qcow2", accept: []string{"qcow2"}},
		{name: "raw-starting-with-qcow2-header", make: func(t *testing.T, dir string) string {
			name := create("-f", "qcow2", "disk.qcow2", "64M")(t, dir)
			run(t, dir, "truncate", "-s", "6M", name)
			return name
		}, format: "qcow2", accept: []string{"qcow2"}},
		{name: "iso-genisoimage", make: func(t *testing.T, dir string) string {
			return makeISO(t, dir, "genisoimage", "-quiet", "-o", "disk.iso", "-V", "GLINT", "content")
		}, qemuFormat: "-", format: "iso", sub: "iso9660", vsize: -1, accept: []string{"iso", "raw", "ami", "ploop"}},
		{name: "iso-udf", make: func(t *testing.T, dir string) string {
			return makeISO(t, dir, "genisoimage", "-quiet", "-udf", "-o", "disk.iso", "content")
		}, qemuFormat: "-", format: "iso", sub: "iso9660+udf", vsize: -1, accept: []string{"iso", "raw", "ami", "ploop"}},
		{name: "iso-xorriso", make: func(t *testing.T, dir string) string {
			return makeISO(t, dir, "xorriso", "-as", "mkisofs", "-quiet", "-o", "disk.iso", "content")
		}, qemuFormat: "-", format: "iso", vsize: -1, accept: []string{"iso", "raw", "ami", "ploop"}},
		{name: "iso-hybrid-gpt", make: func(t *testing.T, dir string) string {
			return makeISO(t, dir, "xorriso", "-as", "mkisofs", "-quiet", "-o", "disk.iso", "-append_partition", "2", "0xef", "efi.img", "-appended_part_as_gpt", "content")
		}, qemuFormat: "-", format: "iso", vsize: -1, accept: []string{"iso", "raw", "ami", "ploop"}},
		{name: "iso-hybrid-mbr", make: func(t *testing.T, dir string) string {
			return makeISO(t, dir, "xorriso", "-as", "mkisofs", "-quiet", "-o", "disk.iso", "-append_partition", "2", "0xef", "efi.img", "content")
		}, qemuFormat: "-", format: "iso", vsize: -1, accept: []string{"iso", "raw", "ami", "ploop"}},
		{name: "gpt-sgdisk", make: func(t *testing.T, dir string) string {
			need(t, "sgdisk")
			create("-f", "raw", "disk.img", "6M")(t, dir)
			run(t, dir, "sgdisk", "-n", "1:2048:0", "-t", "1:8300", "disk.img")
			return "disk.img"
		}, format: "gpt", sub: "512-byte sectors", accept: []string{"gpt", "raw", "ami", "ploop"}},
		{name: "gpt-sgdisk-two-partitions", make: func(t *testing.T, dir string) string {
			need(t, "sgdisk")
			create("-f", "raw", "disk.img", "6M")(t, dir)
			run(t, dir, "sgdisk", "-n", "1:2048:4095", "-n", "2:4096:0", "disk.img")
			return "disk.img"
		}, format: "gpt", accept: []string{"gpt", "raw", "ami", "ploop"}},
		{name: "mbr-sfdisk", make: func(t *testing.T, dir string) string {
			need(t, "sfdisk")
			create("-f", "raw", "disk.img", "6M")(t, dir)
			cmd := exec.Command("sfdisk", "-q", "disk.img")
			cmd.Dir, cmd.Stdin = dir, strings.NewReader("start=2048, size=4096, type=83, bootable\nstart=6144, type=82\n")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("sfdisk: %v\n%s", err, out)
			}
			return "disk.img"
		}, format: "mbr", accept: []string{"mbr", "gpt", "raw", "ami", "ploop"}},
		{name: "vpc-fixed-of-gpt-disk", make: func(t *testing.T, dir string) string {
			if err := os.WriteFile(filepath.Join(dir, "src.raw"), craftGPTDisk(4*mb), 0o644); err != nil {
				t.Fatal(err)
			}
			run(t, dir, "qemu-img", "convert", "-O", "vpc", "-o", "subformat=fixed,force_size=on", "src.raw", "disk.vhd")
			return "disk.vhd"
		}, qemuFormat: "vpc", format: "vhd", sub: "fixed", accept: []string{"vhd", "raw", "ami", "ploop"}},
		// A polyglot: a qcow2 whose first sector is also an MBR.
		{name: "polyglot-qcow2-mbr", make: func(t *testing.T, dir string) string {
			name := create("-f", "qcow2", "disk.qcow2", "64M")(t, dir)
			patch(t, filepath.Join(dir, name), func(b []byte) []byte {
				return setMBR(b, pte{typ: 0x83, start: 2048, num: 4096})
			})
			return name
		}, format: "qcow2", fails: []string{"multiple_formats"}},
		{name: "polyglot-vmdk-iso", make: func(t *testing.T, dir string) string {
			name := create("-f", "vmdk", "disk.vmdk", "64M")(t, dir)
			patch(t, filepath.Join(dir, name), func(b []byte) []byte {
				copy(b[32768:], craftISO(20)[32768:36864])
				return b
			})
			return name
		}, format: "vmdk", fails: []string{"multiple_formats"}},
	}
}

// writeSecret makes a file standing for a host file an attacker wants to
// read, and returns its absolute path.
func writeSecret(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "secret.raw")
	if err := os.WriteFile(p, bytes.Repeat([]byte("SECRET!\n"), 64), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func need(t *testing.T, tool string) {
	t.Helper()
	if !have(tool) {
		t.Skipf("%s not installed (the crafted corpus covers this format)", tool)
	}
}

func makeISO(t *testing.T, dir, tool string, args ...string) string {
	t.Helper()
	need(t, tool)
	if err := os.MkdirAll(filepath.Join(dir, "content"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "content", "readme.txt"), []byte("glint\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "efi.img"), make([]byte, mb), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, tool, args...)
	return "disk.iso"
}

// isoVolumeSize reads the primary volume descriptor's size with isoinfo
// (from genisoimage), independently of the inspector.
func isoVolumeSize(t *testing.T, path string) (int64, bool) {
	if !have("isoinfo") {
		return 0, false
	}
	out := run(t, filepath.Dir(path), "isoinfo", "-d", "-i", filepath.Base(path))
	blocks := regexp.MustCompile(`Volume size is: (\d+)`).FindStringSubmatch(out)
	bs := regexp.MustCompile(`Logical block size is: (\d+)`).FindStringSubmatch(out)
	if blocks == nil || bs == nil {
		t.Fatalf("isoinfo output: %s", out)
	}
	n, _ := strconv.ParseInt(blocks[1], 10, 64)
	b, _ := strconv.ParseInt(bs[1], 10, 64)
	return n * b, true
}

// setVHDXHasParent sets the HasParent flag in a qemu-made VHDX's file
// parameters, finding it through the region and metadata tables.
func setVHDXHasParent(t *testing.T) func([]byte) []byte {
	return func(b []byte) []byte {
		rt := b[vhdxRegionTable:]
		for k := range int(le32(rt[8:])) {
			e := rt[16+32*k:]
			if !bytes.Equal(e[:16], vhdxMetadataRegion[:]) {
				continue
			}
			meta := b[le64(e[16:]):]
			for j := range int(le16(meta[10:])) {
				me := meta[32+32*j:]
				if bytes.Equal(me[:16], vhdxFileParameters[:]) {
					flags := meta[le32(me[16:])+4:]
					put32(flags, le32(flags)|2)
					return b
				}
			}
		}
		t.Fatal("file parameters not found in qemu's VHDX")
		return nil
	}
}

func TestQemuCorpus(t *testing.T) {
	needQemuImg(t)
	for _, c := range qemuCases() {
		t.Run(c.name, func(t *testing.T) {
			if testing.Short() && strings.Contains(c.name, "luks") {
				t.Skip("-short: qemu-img's LUKS key derivation takes seconds of CPU (TestCrafted covers the LUKS header)")
			}
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, c.make(t, dir))
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}

			var res Result
			for seed := range uint64(3) {
				f, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				_, r := inspectReader(t, f, chunker(seed+uint64(len(c.name))))
				f.Close()
				if seed == 0 {
					res = r
				} else if !sameResult(r, res) {
					t.Fatalf("chunking changed the result:\n%s\n%s", describe(r), describe(res))
				}
			}
			if res.Size != st.Size() {
				t.Errorf("Size = %d, file is %d bytes", res.Size, st.Size())
			}

			vsize := c.vsize
			switch c.qemuFormat {
			case "-":
			default:
				qi := info(t, path, c.qemuFormat)
				vsize = qi.VirtualSize
				qemuName := map[string]string{"vhd": "vpc"}[res.Format]
				if qemuName == "" {
					qemuName = res.Format
				}
				if c.qemuFormat == "" && qi.Format != qemuName && !(qi.Format == "raw" && res.probedRaw()) {
					t.Errorf("qemu-img probes %q, inspector says %q", qi.Format, res.Format)
				}
			}
			if c.format == "iso" {
				vsize = st.Size()
				if v, ok := isoVolumeSize(t, path); ok {
					vsize = v
				}
			}
			if c.threat != nil {
				c.threat(t, info(t, path, ""))
			}
			if c.sub != "" && res.Subformat != c.sub {
				t.Errorf("Subformat = %q, want %q", res.Subformat, c.sub)
			}
			verify(t, res, c.format, vsize, c.fails, c.accept)
			t.Logf("%s: %s", filepath.Base(path), describe(res))
		})
	}
}
