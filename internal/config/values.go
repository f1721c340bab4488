package config

import (
	"fmt"
	"math"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// parseBool accepts what oslo.config's Boolean type accepts:
// true/false, yes/no, on/off, 1/0, in any case.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean value %q: use true/false, yes/no, on/off or 1/0", s)
}

// pyIntRE is the decimal syntax Python's int() accepts (oslo's Integer
// calls it): optional sign, digits, single underscores between digits.
var pyIntRE = regexp.MustCompile(`^[+-]?[0-9]+(_[0-9]+)*$`)

// parseInt parses a decimal integer and checks lo <= v <= hi.
func parseInt(s string, lo, hi int64) (int64, error) {
	t := strings.TrimSpace(s)
	if !pyIntRE.MatchString(t) {
		return 0, fmt.Errorf("invalid integer value %q", s)
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(t, "_", ""), 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("value %s is out of range: %s", t, describeRange(lo, hi))
	}
	return v, nil
}

func describeRange(lo, hi int64) string {
	const minInt, maxInt = -1 << (strconv.IntSize - 1), 1<<(strconv.IntSize-1) - 1
	switch {
	case lo > minInt && hi >= maxInt:
		return fmt.Sprintf("must be >= %d", lo)
	case lo <= minInt && hi < maxInt:
		return fmt.Sprintf("must be <= %d", hi)
	}
	return fmt.Sprintf("must be between %d and %d", lo, hi)
}

// parseList splits a list value like oslo.config's List type: items are
// comma separated and whitespace trimmed. Glint is more lenient in three
// ways, all of which oslo's plain ListOpt would turn into odd items: a value
// wrapped in [brackets] is unwrapped (Glance's enabled_import_methods
// requires them), items wrapped in matching quotes are unquoted, and empty
// items are dropped. An empty value is an empty list.
func parseList(s string) []string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	items := []string{}
	for _, it := range strings.Split(s, ",") {
		it = unquote(strings.TrimSpace(it))
		if it != "" {
			items = append(items, it)
		}
	}
	return items
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return strings.TrimSpace(s[1 : len(s)-1])
	}
	return s
}

// hostLabelRE is one RFC 1123 host name label.
var hostLabelRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// hostAddress accepts what oslo's HostAddress type accepts: an IPv4/IPv6
// address or a host name (whose last label is not all digits, so a mistyped
// IPv4 address is not taken for a name).
func hostAddress(s string) error {
	if net.ParseIP(s) != nil {
		return nil
	}
	name := strings.TrimSuffix(s, ".")
	if name != "" && len(name) <= 253 {
		labels := strings.Split(name, ".")
		ok := true
		for _, l := range labels {
			if !hostLabelRE.MatchString(l) {
				ok = false
				break
			}
		}
		if ok && strings.Trim(labels[len(labels)-1], "0123456789") != "" {
			return nil
		}
	}
	return fmt.Errorf("invalid value %q: must be an IP address or a host name", s)
}

// StorageQuotaBytes converts a user_storage_quota value ("0", "500",
// "10GB", ...; units are binary multiples, as in Glance) to bytes.
func StorageQuotaBytes(v string) (int64, error) {
	m := storageQuotaRE.FindStringSubmatch(v)
	if m == nil {
		return 0, fmt.Errorf("user_storage_quota %q: want a number with an optional B, KB, MB, GB or TB suffix", v)
	}
	digits := strings.TrimSuffix(v, m[1])
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("user_storage_quota %q: %v", v, err)
	}
	shift := map[string]uint{"": 0, "B": 0, "KB": 10, "MB": 20, "GB": 30, "TB": 40}[m[1]]
	if n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("user_storage_quota %q is too large", v)
	}
	return n << shift, nil
}
