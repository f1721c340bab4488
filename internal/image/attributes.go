package image

import (
	"slices"
	"sort"
	"strings"

	"glint/internal/errs"
)

func optString(v any) *string {
	if s, ok := v.(string); ok {
		return &s
	}
	return nil
}

func (s *Service) checkQuotas(img, old *Image) error {
	const op errs.Op = "image.checkQuotas"
	if q := s.opts.PropertyQuota; q >= 0 {
		n, added := 0, false
		for k := range img.Properties {
			if len(k) >= 9 && k[:9] == "os_glance" {
				continue
			}
			n++
			if old == nil {
				added = true
			} else if _, ok := old.Properties[k]; !ok {
				added = true
			}
		}
		if added && n > q {
			return errs.Errorf(op, errs.TooLarge, "Attempted: %d, Maximum: %d", n, q)
		}
	}
	if q := s.opts.TagQuota; q >= 0 && len(img.Tags) > q && (old == nil || len(img.Tags) > len(old.Tags)) {
		return errs.Errorf(op, errs.TooLarge, "Attempted: %d, Maximum: %d", len(img.Tags), q)
	}
	return nil
}

// set assigns one user-writable attribute from its JSON value.
func (s *Service) set(img *Image, k string, v any, creating bool) error {
	const op errs.Op = "image.set"
	bad := func() error { return errs.Errorf(op, errs.Invalid, "Invalid value for %s", k) }
	switch k {
	case "name":
		img.Name = optString(v)
	case "visibility":
		str, ok := v.(string)
		if !ok || !slices.Contains(Visibilities, str) {
			return errs.Errorf(op, errs.Invalid, "Invalid visibility value: %v", v)
		}
		img.Visibility = str
	case "protected", "os_hidden":
		b, ok := v.(bool)
		if !ok {
			return bad()
		}
		if k == "protected" {
			img.Protected = b
		} else {
			img.OSHidden = b
		}
	case "min_disk", "min_ram":
		f, ok := v.(float64)
		if !ok || f < 0 || f != float64(int64(f)) || f > 2147483647 {
			return bad()
		}
		if k == "min_disk" {
			img.MinDisk = int(f)
		} else {
			img.MinRAM = int(f)
		}
	case "disk_format", "container_format":
		if !creating && img.Status != Queued && img.Status != Importing {
			return errs.Errorf(op, errs.Forbidden, "Attribute %s can be only replaced for a queued image.", k)
		}
		allowed := s.opts.DiskFormats
		if k == "container_format" {
			allowed = s.opts.ContainerFormats
		}
		p := optString(v)
		if v != nil && (p == nil || !slices.Contains(allowed, *p)) {
			return errs.Errorf(op, errs.Invalid, "Invalid value '%v' for %s", v, k)
		}
		if k == "disk_format" {
			img.DiskFormat = p
		} else {
			img.ContainerFormat = p
		}
	case "tags":
		list, ok := v.([]any)
		if !ok {
			return bad()
		}
		seen := map[string]bool{}
		img.Tags = img.Tags[:0]
		for _, t := range list {
			ts, ok := t.(string)
			if !ok || len(ts) > 255 {
				return bad()
			}
			if !seen[ts] {
				seen[ts] = true
				img.Tags = append(img.Tags, ts)
			}
		}
		sort.Strings(img.Tags)
	default:
		if IsCore(k) {
			return errs.Errorf(op, errs.Forbidden, "Attribute '%s' is read-only.", k)
		}
		str, ok := v.(string)
		if !ok {
			return errs.Errorf(op, errs.Invalid, "Invalid value for property %s: must be a string", k)
		}
		if len(k) > 255 {
			return errs.Errorf(op, errs.Invalid, "Property name %s is too long", k)
		}
		img.Properties[k] = str
	}
	return nil
}

// check4ByteUnicode refuses characters outside the Basic Multilingual
// Plane, as Glance does: MySQL's utf8 columns cannot hold them.
func check4ByteUnicode(img *Image) error {
	const op errs.Op = "image.check4ByteUnicode"
	has4 := func(s string) bool {
		for _, r := range s {
			if r > 0xFFFF {
				return true
			}
		}
		return false
	}
	if img.Name != nil && has4(*img.Name) {
		return errs.E(op, errs.Invalid, "Name can't contain 4 byte unicode characters.")
	}
	for k, v := range img.Properties {
		if has4(k) || has4(v) {
			return errs.Errorf(op, errs.Invalid, "%s can't contain 4 byte unicode characters.", strings.ToUpper(k[:1])+k[1:])
		}
	}
	for _, t := range img.Tags {
		if has4(t) {
			return errs.E(op, errs.Invalid, "Tags can't contain 4 byte unicode characters.")
		}
	}
	return nil
}
