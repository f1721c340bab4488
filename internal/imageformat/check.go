package imageformat

import (
	"fmt"
	"slices"
	"strings"

	"glint/internal/errs"
)

// inspectable are the disk formats the inspector recognises: content declared
// as one of them must be in that format (with the compatibilities of accepts).
var inspectable = map[string]bool{
	"raw": true, "qcow2": true, "qed": true, "vhd": true, "vhdx": true, "vmdk": true,
	"vdi": true, "luks": true, "iso": true, "gpt": true, "mbr": true,
}

// notInspected are the disk formats whose data is never opened as a disk:
// kernels and ramdisks (a bzImage even carries an MBR signature). Glance
// inspects only container_format=bare uploads, and these come in aki/ari
// containers.
var notInspected = map[string]bool{"aki": true, "ari": true}

// Options are the [image_format] settings that bear on Check.
type Options struct {
	// GPTSafetyChecksNonFatal is gpt_safety_checks_nonfatal: names of
	// checks ("mbr") that only warn for content detected as gpt or mbr.
	GPTSafetyChecksNonFatal []string
	// VMDKAllowedTypes is vmdk_allowed_types. nil keeps the inspector's own
	// rule (monolithicSparse and streamOptimized); a non-nil list further
	// restricts it, and an empty list refuses every VMDK.
	VMDKAllowedTypes []string
}

// Check applies Glance's rules to an upload declared as diskFormat, with the
// default options. It returns nil or an errs.Invalid error.
func Check(r Result, diskFormat string) error { return CheckWith(r, diskFormat, Options{}) }

// CheckWith is Check with explicit [image_format] options.
//
// The rules, in order:
//   - aki and ari are not inspected;
//   - content matching two formats that cannot go together is refused;
//   - the detected format must match diskFormat: raw accepts what qemu would
//     probe as raw (nothing matched, gpt, mbr, iso, a fixed VHD) and LUKS v1
//     (encrypted volumes uploaded by Cinder); gpt accepts mbr; iso accepts a
//     hybrid ISO with a partition table; disk formats the inspector does not
//     know (ami, ploop, ...) accept what qemu would probe as raw; every other
//     format must be detected as itself. A raw upload that is really qcow2,
//     vmdk, vhd, vhdx, vdi or qed, and a qcow2 upload that is raw, are refused;
//   - the safety checks must pass;
//   - a VMDK's createType must be in VMDKAllowedTypes when that is set.
func CheckWith(r Result, diskFormat string, o Options) error {
	if notInspected[diskFormat] {
		return nil
	}
	format := r.Format
	if format == "" {
		format = "raw"
	}
	for _, f := range r.Failures {
		if f.Check == "multiple_formats" {
			return errs.E(opCheck, errs.Invalid, f.Reason)
		}
	}
	if !accepts(r, diskFormat) {
		return errs.E(opCheck, errs.Invalid,
			fmt.Sprintf("Image disk_format %s does not match stream data %s", diskFormat, format))
	}
	fatal := r.Failures
	if format == "gpt" || format == "mbr" {
		fatal = slices.DeleteFunc(slices.Clone(fatal), func(f Failure) bool {
			return slices.Contains(o.GPTSafetyChecksNonFatal, f.Check)
		})
	}
	if len(fatal) > 0 {
		return errs.E(opCheck, errs.Invalid, safetyMessage(format, fatal))
	}
	if r.Safe != nil && len(r.Failures) == 0 {
		// A Result not made by an Inspector: trust its verdict.
		return errs.E(opCheck, errs.Invalid, "Image failed safety checks", r.Safe)
	}
	if format == "vmdk" && o.VMDKAllowedTypes != nil &&
		!slices.ContainsFunc(o.VMDKAllowedTypes, func(t string) bool { return strings.EqualFold(t, r.Subformat) }) {
		return errs.E(opCheck, errs.Invalid,
			fmt.Sprintf("VMDK create-type %q is not in vmdk_allowed_types", r.Subformat))
	}
	return nil
}

func accepts(r Result, diskFormat string) bool {
	format := r.Format
	if format == "" {
		format = "raw"
	}
	switch {
	case diskFormat == format:
		return true
	case diskFormat == "raw":
		return r.probedRaw() || format == "luks"
	case diskFormat == "gpt":
		return format == "mbr"
	case inspectable[diskFormat]:
		return false
	}
	return r.probedRaw()
}
