package imageformat

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"glint/internal/errs"
)

// diskFormats are the declarations every image is checked against: Glance's
// default disk_formats plus gpt, mbr and luks (which operators may add).
var diskFormats = []string{"raw", "qcow2", "qed", "vhd", "vhdx", "vmdk", "vdi", "luks", "iso", "gpt", "mbr", "ami", "ari", "aki", "ploop"}

// chunker returns write sizes between 1 byte and 1 MiB, log-uniformly
// distributed so that tiny and huge writes both occur.
func chunker(seed uint64) func() int {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func() int {
		return int(math.Exp2(rng.Float64() * 20)) // 1 .. 1 MiB
	}
}

// inspectReader streams r through a new Inspector in writes sized by next.
func inspectReader(t testing.TB, r io.Reader, next func() int) (*Inspector, Result) {
	t.Helper()
	ins := New()
	buf := make([]byte, 1<<20)
	peak := 0
	for {
		n, err := io.ReadFull(r, buf[:next()])
		if n > 0 {
			if w, werr := ins.Write(buf[:n]); w != n || werr != nil {
				t.Fatalf("Write = %d, %v; want %d, nil", w, werr, n)
			}
			peak = max(peak, ins.retained())
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if peak > maxRetained {
		t.Errorf("inspector held %d bytes (limit %d)", peak, maxRetained)
	}
	return ins, ins.Result()
}

func inspectBytes(t testing.TB, data []byte, next func() int) Result {
	t.Helper()
	_, r := inspectReader(t, bytes.NewReader(data), next)
	return r
}

func failureNames(r Result) []string {
	var names []string
	for _, f := range r.Failures {
		names = append(names, f.Check)
	}
	return names
}

// sameResult compares everything but the error values' identity.
func sameResult(a, b Result) bool {
	return a.Format == b.Format && a.VirtualSize == b.VirtualSize && a.Size == b.Size &&
		a.Subformat == b.Subformat && slices.Equal(a.Matches, b.Matches) &&
		slices.Equal(a.Failures, b.Failures) && (a.Safe == nil) == (b.Safe == nil) && a.tailVHD == b.tailVHD
}

func describe(r Result) string {
	return fmt.Sprintf("{Format:%s VirtualSize:%d Size:%d Subformat:%q Matches:%v Failures:%v Safe:%v}",
		r.Format, r.VirtualSize, r.Size, r.Subformat, r.Matches, r.Failures, r.Safe)
}

// verify checks a Result against the expected verdict, including Check for
// every declared disk format.
func verify(t *testing.T, r Result, format string, vsize int64, fails, accept []string) {
	t.Helper()
	if r.Format != format {
		t.Errorf("Format = %q, want %q (%s)", r.Format, format, describe(r))
	}
	if vsize >= 0 && r.VirtualSize != vsize {
		t.Errorf("VirtualSize = %d, want %d (%s)", r.VirtualSize, vsize, describe(r))
	}
	if got := failureNames(r); !slices.Equal(got, fails) {
		t.Errorf("failed checks = %v, want %v (%s)", got, fails, describe(r))
	}
	if (r.Safe == nil) != (len(fails) == 0) {
		t.Errorf("Safe = %v, want failure %v", r.Safe, fails)
	}
	if r.Safe != nil && !errs.Is(errs.Invalid, r.Safe) {
		t.Errorf("Safe is not errs.Invalid: %v", r.Safe)
	}
	for _, df := range diskFormats {
		want := slices.Contains(accept, df) || df == "aki" || df == "ari"
		err := Check(r, df)
		if (err == nil) != want {
			t.Errorf("Check(%s) = %v, want accepted=%v (%s)", df, err, want, describe(r))
		}
		if err != nil && !errs.Is(errs.Invalid, err) {
			t.Errorf("Check(%s) kind = %v, want invalid", df, errs.KindOf(err))
		}
	}
}

func TestCrafted(t *testing.T) {
	for _, c := range craftedImages() {
		t.Run(c.name, func(t *testing.T) {
			whole := inspectBytes(t, c.data, func() int { return 1 << 20 })
			if whole.Size != int64(len(c.data)) {
				t.Errorf("Size = %d, want %d", whole.Size, len(c.data))
			}
			verify(t, whole, c.format, c.vsize, c.fails, c.accept)
			// The verdict must not depend on how the stream is cut.
			chunkings := map[string]func() int{}
			for seed := range uint64(4) {
				chunkings[fmt.Sprintf("random-%d", seed)] = chunker(seed)
			}
			if len(c.data) <= 2<<20 {
				chunkings["1-byte"] = func() int { return 1 }
				chunkings["7-bytes"] = func() int { return 7 }
				chunkings["511-bytes"] = func() int { return 511 }
			}
			for name, next := range chunkings {
				if r := inspectBytes(t, c.data, next); !sameResult(r, whole) {
					t.Errorf("%s chunking: %s\nwhole: %s", name, describe(r), describe(whole))
				}
			}
		})
	}
}

func TestWriteNeverFails(t *testing.T) {
	ins := New()
	for _, p := range [][]byte{nil, {}, []byte("QFI"), make([]byte, 3<<20)} {
		if n, err := ins.Write(p); n != len(p) || err != nil {
			t.Fatalf("Write(%d bytes) = %d, %v", len(p), n, err)
		}
	}
	if r := ins.Result(); r.Format != "raw" || r.Size != 3<<20+3 {
		t.Fatalf("Result = %s", describe(r))
	}
}

func TestResultDoesNotChangeInspector(t *testing.T) {
	data := craftQcow2(3, 1<<30, 0, 0)
	ins := New()
	_, _ = ins.Write(data[:100])
	if r := ins.Result(); r.Format != "qcow2" || len(r.Failures) != 0 {
		t.Fatalf("partial Result = %s", describe(r))
	}
	_, _ = ins.Write(data[100:])
	if r := ins.Result(); r.Format != "qcow2" || r.VirtualSize != 1<<30 || r.Safe != nil {
		t.Fatalf("Result = %s", describe(r))
	}
}

func TestMemoryBounded(t *testing.T) {
	big := func(prefix []byte, n int) io.Reader {
		return io.MultiReader(bytes.NewReader(prefix), io.LimitReader(zeros{}, int64(n)))
	}
	// A text "descriptor" as large as allowed and more.
	text := strings.Repeat("createType=\"monolithicFlat\" RW 1 FLAT \"/etc/passwd\" 0\n", 60000)
	// A sparse VMDK claiming a descriptor of 2^40 sectors.
	hugeDesc := craftVMDK(vmdkWith(func(s *vmdkSpec) { s.descNum = 1 << 40 }))
	// A VHDX with the largest tables.
	vhdx := craftVHDX(vhdxSpec{size: 1 << 30})
	put32(vhdx[vhdxRegionTable+8:], vhdxMaxEntries)
	put16(vhdx[1<<20+10:], vhdxMaxEntries)
	for name, r := range map[string]io.Reader{
		"text":      strings.NewReader(text),
		"vmdk-desc": big(hugeDesc, 4<<20),
		"vhdx":      big(vhdx, 4<<20),
		"iso":       big(craftISO(64), 4<<20),
	} {
		t.Run(name, func(t *testing.T) {
			ins, res := inspectReader(t, r, chunker(1))
			t.Logf("retained %d bytes; %s", ins.retained(), describe(res))
		})
	}
}

// vmdkWith is a monolithicSparse spec changed by f.
func vmdkWith(f func(*vmdkSpec)) vmdkSpec {
	s := defaultVMDK("monolithicSparse", `RW 2048 SPARSE "disk.vmdk"`)
	f(&s)
	return s
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestCheckMessages(t *testing.T) {
	res := func(data []byte) Result { return inspectBytes(t, data, func() int { return 1 << 20 }) }
	cases := []struct {
		data []byte
		df   string
		want string
	}{
		{craftQcow2(3, 1<<30, 0, 0), "raw", "Image disk_format raw does not match stream data qcow2"},
		{make([]byte, 4096), "qcow2", "Image disk_format qcow2 does not match stream data raw"},
		{craftQcow2(3, 1<<30, 512, 4), "qcow2", "Image failed safety checks: qcow2: backing_file (Image has a backing file), data_file (Image has data_file set)"},
		{craftQED(1 << 20), "qed", "Image failed safety checks: qed: banned (This file format is not allowed)"},
		{setMBR(craftQcow2(3, 1<<30, 0, 0), pte{typ: 0x83, start: 1, num: 1}), "qcow2", "Multiple formats detected: qcow2,mbr"},
		{craftVMDK(defaultVMDK("monolithicFlat", `RW 1 FLAT "/etc/passwd" 0`)), "vmdk", "Image failed safety checks: vmdk: descriptor (Unsupported subformat monolithicFlat)"},
	}
	for _, c := range cases {
		err := Check(res(c.data), c.df)
		if err == nil || errs.Message(err) != c.want || !errs.Is(errs.Invalid, err) {
			t.Errorf("Check(%s) = %v; want invalid %q", c.df, err, c.want)
		}
	}
}

func TestCheckOptions(t *testing.T) {
	noParts := inspectBytes(t, setMBR(make([]byte, 4096)), func() int { return 4096 })
	if Check(noParts, "raw") == nil {
		t.Fatal("MBR without partitions accepted by default")
	}
	if err := CheckWith(noParts, "raw", Options{GPTSafetyChecksNonFatal: []string{"mbr"}}); err != nil {
		t.Fatalf("mbr check made non-fatal: %v", err)
	}
	qcow := inspectBytes(t, craftQcow2(3, 1<<30, 512, 0), func() int { return 4096 })
	if CheckWith(qcow, "qcow2", Options{GPTSafetyChecksNonFatal: []string{"backing_file"}}) == nil {
		t.Fatal("gpt_safety_checks_nonfatal applied to a qcow2")
	}

	stream := inspectBytes(t, craftVMDK(defaultVMDK("streamOptimized", `RW 2048 SPARSE "d.vmdk"`)), func() int { return 4096 })
	for _, c := range []struct {
		allowed []string
		ok      bool
	}{
		{nil, true},
		{[]string{"streamOptimized"}, true},
		{[]string{"STREAMOPTIMIZED"}, true},
		{[]string{"monolithicSparse"}, false},
		{[]string{}, false},
	} {
		if err := CheckWith(stream, "vmdk", Options{VMDKAllowedTypes: c.allowed}); (err == nil) != c.ok {
			t.Errorf("vmdk_allowed_types %v: %v", c.allowed, err)
		}
	}

	// A Result not made by an Inspector.
	if Check(Result{Format: "raw"}, "raw") != nil || Check(Result{}, "raw") != nil {
		t.Error("plain raw Result refused")
	}
	bad := Result{Format: "raw", Safe: errs.E(errs.Invalid, "nope")}
	if err := Check(bad, "raw"); err == nil || !errors.Is(err, bad.Safe) {
		t.Errorf("Check with Safe set = %v", err)
	}
}

func TestVirtualSizeFor(t *testing.T) {
	qcow := inspectBytes(t, craftQcow2(3, 1<<30, 0, 0), func() int { return 4096 })
	gpt := inspectBytes(t, craftGPTDisk(1<<20), func() int { return 4096 })
	iso := inspectBytes(t, craftISO(40), func() int { return 4096 })
	cases := []struct {
		r    Result
		df   string
		want int64
	}{
		{qcow, "qcow2", 1 << 30},
		{gpt, "gpt", 1 << 20},
		{gpt, "raw", 1 << 20},
		{gpt, "ami", 0},
		{iso, "iso", 40 * 2048},
		{iso, "raw", 40 * 2048},
	}
	for _, c := range cases {
		if got := c.r.VirtualSizeFor(c.df); got != c.want {
			t.Errorf("%s as %s: VirtualSizeFor = %d, want %d", c.r.Format, c.df, got, c.want)
		}
	}
}

func TestMSGUID(t *testing.T) {
	want := []byte{0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b, 0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e}
	if !bytes.Equal(vhdxMetadataRegion[:], want) {
		t.Fatalf("metadata region GUID bytes = %x", vhdxMetadataRegion)
	}
}
