package imageformat

import (
	"fmt"
	"strings"

	"glint/internal/errs"
)

// Result is what an Inspector learned from the stream.
type Result struct {
	// Format is the detected format: raw, qcow2, qed, vhd, vhdx, vmdk, vdi,
	// luks, iso, gpt or mbr ("raw" when nothing matched). When the content
	// matched several formats that cannot go together it is the first of
	// Matches, and Safe reports the conflict.
	Format string
	// VirtualSize is the disk size the header declares (for raw, gpt, mbr
	// and luks: from the bytes seen; 0 when unknown).
	VirtualSize int64
	// Safe is nil, or an errs.Invalid error naming the failed safety checks.
	Safe error
	// Matches lists every format whose signature matched, in detection
	// order (empty for raw).
	Matches []string

	// Size is the number of bytes seen.
	Size int64
	// Subformat details Format: qcow2 "v2"/"v3", vmdk createType, vhd
	// "fixed"/"dynamic"/"differencing", iso "iso9660"/"udf", luks "v1", gpt
	// where its header is.
	Subformat string
	// Failures lists the failed safety checks, named as Glance names them
	// (backing_file, data_file, unknown_features, banned, descriptor, footer,
	// mbr, version) or, for checks Glint adds, parent, header, incomplete,
	// virtual_size and multiple_formats.
	Failures []Failure

	tailVHD bool // Format is a VHD whose only footer is the last sector
}

// Failure is one failed safety check.
type Failure struct {
	Check  string
	Reason string
}

func (f Failure) String() string { return f.Check + " (" + f.Reason + ")" }

// Result returns what was learned. Call it once the stream has ended: regions
// the stream did not reach count as missing, and the last bytes seen are
// taken as the end of the image. It does not change the Inspector.
func (i *Inspector) Result() Result {
	var ms []*match
	for _, detect := range []func() *match{
		i.qcow2, i.qed, i.vhdStart, i.vhdxMatch, i.vmdkSparse, i.vmdkText, i.vdi, i.luks,
		i.isoMatch, i.partitionTable,
	} {
		if m := detect(); m != nil {
			ms = append(ms, m)
		}
	}
	// A footer in the last sector makes a fixed VHD only when the start is
	// raw data (possibly a partitioned disk or an ISO): the last sector of a
	// qcow2 or vmdk file is whatever data came last.
	if rawData(ms) {
		if m := i.vhdTail(); m != nil {
			ms = append(ms, m)
		}
	}

	r := Result{Format: "raw", VirtualSize: i.pos, Size: i.pos}
	if len(ms) == 0 {
		return r
	}
	for _, m := range ms {
		r.Matches = append(r.Matches, m.name)
	}
	m := resolve(ms)
	if m == nil {
		r.Format, r.VirtualSize, r.Subformat = ms[0].name, ms[0].vsize, ms[0].sub
		r.Failures = []Failure{{Check: "multiple_formats",
			Reason: "Multiple formats detected: " + strings.Join(r.Matches, ",")}}
		r.Safe = errs.E(opInspect, errs.Invalid, r.Failures[0].Reason)
		return r
	}
	r.Format, r.VirtualSize, r.Subformat, r.Failures, r.tailVHD = m.name, m.vsize, m.sub, m.fails, m.tailOnly
	if len(r.Failures) > 0 {
		r.Safe = errs.E(opInspect, errs.Invalid, safetyMessage(r.Format, r.Failures))
	}
	return r
}

func rawData(ms []*match) bool {
	for _, m := range ms {
		if m.name != "iso" && m.name != "gpt" && m.name != "mbr" {
			return false
		}
	}
	return true
}

// resolve picks the format among several matches, or nil when they conflict.
// Allowed together: an ISO with a partition table in its system area (a
// bootable "hybrid" ISO, which Glance accepts as iso), and a fixed VHD around
// raw data, a partition table or an ISO.
func resolve(ms []*match) *match {
	if len(ms) == 1 {
		return ms[0]
	}
	last := ms[len(ms)-1]
	if last.tailOnly {
		return last // only added when everything before it is raw data
	}
	var iso *match
	for _, m := range ms {
		switch m.name {
		case "iso":
			iso = m
		case "gpt", "mbr":
		default:
			return nil
		}
	}
	return iso // nil for gpt+mbr, which cannot happen: one detector
}

func safetyMessage(format string, fails []Failure) string {
	parts := make([]string, len(fails))
	for k, f := range fails {
		parts[k] = f.String()
	}
	return fmt.Sprintf("Image failed safety checks: %s: %s", format, strings.Join(parts, ", "))
}

// probedRaw reports whether qemu, probing the content, would take it as raw
// data: nothing matched, a partition table, an ISO, or a fixed VHD (its
// footer is at the end, where qemu's probe does not look).
func (r Result) probedRaw() bool {
	switch r.Format {
	case "", "raw", "gpt", "mbr", "iso":
		return true
	case "vhd":
		return r.tailVHD
	}
	return false
}

// VirtualSizeFor returns the virtual_size to record for an upload declared
// as diskFormat that passed Check: the header's value when the content is in
// that format, the byte count when it is declared raw, 0 (unknown) otherwise.
func (r Result) VirtualSizeFor(diskFormat string) int64 {
	switch {
	case diskFormat == r.Format || diskFormat == "gpt" && r.Format == "mbr":
		return r.VirtualSize
	case diskFormat == "raw":
		return r.Size
	}
	return 0
}
