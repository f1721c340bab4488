package importer

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"glint/internal/auth"
	"glint/internal/errs"
	"glint/internal/image"
	"glint/internal/imageformat"
)

// Import plugin names, as [image_import_opts] image_import_plugins names them.
const (
	PluginNoOp          = "no_op"
	PluginInjectMeta    = "inject_image_metadata"
	PluginConversion    = "image_conversion"
	PluginDecompression = "image_decompression"
)

// PluginOptions configure the import plugins.
type PluginOptions struct {
	// ConversionFormat is [image_conversion] output_format: raw, qcow2 or vmdk.
	ConversionFormat string
	// InjectProperties is [inject_metadata_properties] inject.
	InjectProperties map[string]string
	// InjectIgnoreRoles is [inject_metadata_properties] ignore_user_roles.
	InjectIgnoreRoles []string
	// QemuImg is the qemu-img program (default "qemu-img" on PATH).
	QemuImg string
	// QemuMemory and QemuCPU limit each qemu-img process (address space in
	// bytes, CPU seconds), applied with prlimit(1).
	QemuMemory int64
	QemuCPU    int
	// ConvertTimeout bounds one conversion's wall time.
	ConvertTimeout time.Duration
}

func (im *Importer) runPlugins(ctx context.Context, j *job, staged string) error {
	for _, p := range im.opts.Plugins {
		var err error
		switch p {
		case PluginNoOp:
			im.log.DebugContext(ctx, "no_op import plugin", "task_id", j.task.ID)
		case PluginInjectMeta:
			err = im.injectMetadata(ctx, j)
		case PluginDecompression:
			err = im.decompress(ctx, j, staged)
		case PluginConversion:
			err = im.convert(ctx, j, staged)
		default:
			err = errs.Errorf("importer.runPlugins", errs.Internal, "unknown import plugin %q", p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// injectMetadata adds the configured properties, unless the caller holds
// one of the ignored roles.
func (im *Importer) injectMetadata(ctx context.Context, j *job) error {
	o := im.opts.Plugin
	a := auth.From(ctx)
	for _, r := range o.InjectIgnoreRoles {
		if a.HasRole(r) {
			return nil
		}
	}
	if len(o.InjectProperties) == 0 {
		return nil
	}
	_, err := im.saveLocked(ctx, j.task, func(n *image.Image) error {
		for k, v := range o.InjectProperties {
			if image.IsReserved(k) || image.IsCore(k) {
				continue // Glance's plugin never sets its own attributes
			}
			n.Properties[k] = v
		}
		return nil
	})
	return err
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zipMagic  = []byte("PK\x03\x04")
)

// decompress replaces gzip or single-file zip staged data with its
// content, capped at image_size_cap. Images whose container_format is
// "compressed" are meant to stay compressed and are left alone.
func (im *Importer) decompress(ctx context.Context, j *job, staged string) error {
	const op errs.Op = "importer.decompress"
	img, err := im.repo.Get(ctx, deref(j.task.ImageID))
	if err != nil {
		return err
	}
	if deref(img.ContainerFormat) == "compressed" {
		return nil
	}
	f, err := os.Open(staged)
	if err != nil {
		return errs.E(op, errs.NotFound, "Staged image data not found", err)
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	var src io.Reader
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(f)
		if err != nil {
			return errs.E(op, errs.Invalid, "Image decompression failed: bad gzip data", err)
		}
		defer zr.Close()
		src = zr
	case bytes.HasPrefix(head, zipMagic):
		st, err := f.Stat()
		if err != nil {
			return err
		}
		zr, err := zip.NewReader(f, st.Size())
		if err != nil {
			return errs.E(op, errs.Invalid, "Image decompression failed: bad zip data", err)
		}
		if len(zr.File) != 1 {
			return errs.Errorf(op, errs.Invalid, "Image decompression failed: a zip archive must hold exactly one file, not %d", len(zr.File))
		}
		rc, err := zr.File[0].Open()
		if err != nil {
			return errs.E(op, errs.Invalid, "Image decompression failed", err)
		}
		defer rc.Close()
		src = rc
	default:
		return nil
	}
	out := staged + ".work"
	if _, err := writeFile(out, im.s.CapReader(src)); err != nil {
		return errs.E(op, errs.Invalid, "Image decompression failed", err)
	}
	return os.Rename(out, staged)
}

// qemuInfo is the part of `qemu-img info --output=json` the conversion reads.
type qemuInfo struct {
	Format          string `json:"format"`
	VirtualSize     int64  `json:"virtual-size"`
	BackingFilename string `json:"backing-filename"`
	FormatSpecific  struct {
		Type string `json:"type"`
		Data struct {
			DataFile   string `json:"data-file"`
			CreateType string `json:"create-type"`
		} `json:"data"`
	} `json:"format-specific"`
}

// qemuImg runs qemu-img under prlimit with the configured limits; the
// arguments never come from the user except the file names Glint made.
// CPU time is limited only for info: a conversion's time grows with the
// image and is bounded by ConvertTimeout instead.
func (im *Importer) qemuImg(ctx context.Context, limitCPU bool, args ...string) ([]byte, error) {
	o := im.opts.Plugin
	prog := o.QemuImg
	if prog == "" {
		prog = "qemu-img"
	}
	cmdArgs := append([]string{prog}, args...)
	if pl, err := exec.LookPath("prlimit"); err == nil {
		lim := []string{pl}
		if o.QemuMemory > 0 {
			lim = append(lim, "--as="+strconv.FormatInt(o.QemuMemory, 10))
		}
		if o.QemuCPU > 0 && limitCPU {
			lim = append(lim, "--cpu="+strconv.Itoa(o.QemuCPU))
		}
		cmdArgs = append(append(lim, "--"), cmdArgs...)
	} else {
		im.log.WarnContext(ctx, "prlimit not found: qemu-img runs without resource limits")
	}
	cmd := exec.CommandContext(ctx, cmdArgs[0], cmdArgs[1:]...)
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("qemu-img %s: %v: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// convert turns the staged data into [image_conversion] output_format with
// qemu-img, after the format inspector and qemu-img itself agree that it
// is a safe image of its declared disk_format.
func (im *Importer) convert(ctx context.Context, j *job, staged string) error {
	const op errs.Op = "importer.convert"
	target := im.opts.Plugin.ConversionFormat
	if target == "" {
		target = "raw"
	}
	id := deref(j.task.ImageID)
	img, err := im.repo.Get(ctx, id)
	if err != nil {
		return err
	}
	src := deref(img.DiskFormat)
	if src == target {
		return nil
	}
	switch src {
	case "raw", "qcow2", "vmdk", "vhd", "vhdx", "vdi", "iso":
	default:
		return errs.Errorf(op, errs.Invalid, "Image conversion from %s is not supported", src)
	}
	// Inspect first: qemu-img must never open a file that names other
	// files (CVE-2022-47951, CVE-2024-32498).
	f, err := os.Open(staged)
	if err != nil {
		return errs.E(op, errs.NotFound, "Staged image data not found", err)
	}
	insp := imageformat.New()
	_, err = io.Copy(insp, f)
	f.Close()
	if err != nil {
		return err
	}
	if err := imageformat.Check(insp.Result(), src); err != nil {
		return errs.E(op, errs.Invalid, "Image conversion refused: "+errs.Message(err), err)
	}
	qfmt := src // qemu-img's name for the format
	switch src {
	case "vhd":
		qfmt = "vpc"
	case "iso":
		qfmt = "raw" // qemu reads an ISO as raw data, as Glance's probe finds it
	}
	raw, err := im.qemuImg(ctx, true, "info", "-f", qfmt, "--output=json", staged)
	if err != nil {
		return errs.E(op, errs.Invalid, "Image conversion failed: could not inspect the image", err)
	}
	var info qemuInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		return errs.E(op, errs.Invalid, "Image conversion failed: unreadable qemu-img info", err)
	}
	switch {
	case info.Format != qfmt:
		return errs.Errorf(op, errs.Invalid, "Image conversion refused: qemu-img sees %s, not %s", info.Format, qfmt)
	case info.BackingFilename != "":
		return errs.E(op, errs.Invalid, "Image conversion refused: image has a backing file")
	case info.FormatSpecific.Data.DataFile != "":
		return errs.E(op, errs.Invalid, "Image conversion refused: image has an external data file")
	}
	tf := target
	if tf == "vhd" {
		tf = "vpc"
	}
	out := staged + ".work"
	cctx := ctx
	if d := im.opts.Plugin.ConvertTimeout; d > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	if _, err := im.qemuImg(cctx, false, "convert", "-f", qfmt, "-O", tf, staged, out); err != nil {
		os.Remove(out)
		return errs.E(op, errs.Invalid, "Image conversion failed", err)
	}
	if err := os.Rename(out, staged); err != nil {
		os.Remove(out)
		return err
	}
	_, err = im.saveLocked(ctx, j.task, func(n *image.Image) error {
		n.DiskFormat = &target
		bare := "bare"
		n.ContainerFormat = &bare
		return nil
	})
	return err
}
