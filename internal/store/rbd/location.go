// Package rbd stores images in a Ceph RBD pool, as glance_store's rbd
// driver does: each image is an RBD image named by its ID with a protected
// snapshot "snap" that Nova and Cinder clone, at the location
// rbd://<fsid>/<pool>/<image>/snap.
//
// The driver itself (rbd.go) uses librados and librbd through go-ceph
// (cgo) and is built only with the build tag "rbd" (and go-ceph's release
// tag, "pacific" for Debian 12's Ceph 16.2), so that the default glint
// binary stays pure Go. The location format, here, is always built.
package rbd

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Scheme is the scheme of RBD locations.
const Scheme = "rbd"

// SnapName is the snapshot Glance creates and protects on every image.
const SnapName = "snap"

// Location is a parsed RBD location. Glance's old form rbd://<image> has
// only Image: the image is in the store's own pool, without a snapshot.
type Location struct {
	FSID, Pool, Image, Snapshot string
}

var errBadLocation = errors.New("bad RBD location")

// ParseLocation reads rbd://<fsid>/<pool>/<image>/<snapshot> (each part
// percent-encoded) or the old rbd://<image>.
func ParseLocation(loc string) (Location, error) {
	rest, ok := strings.CutPrefix(loc, Scheme+"://")
	if !ok {
		return Location{}, fmt.Errorf("%w: %q is not an rbd:// URI", errBadLocation, loc)
	}
	parts := strings.Split(rest, "/")
	for _, p := range parts {
		if p == "" {
			return Location{}, fmt.Errorf("%w: empty component in %q", errBadLocation, loc)
		}
	}
	switch len(parts) {
	case 1:
		// glance_store takes the old form's image name as written.
		return Location{Image: parts[0]}, nil
	case 4:
		var l Location
		for i, dst := range []*string{&l.FSID, &l.Pool, &l.Image, &l.Snapshot} {
			v, err := url.PathUnescape(parts[i])
			if err != nil || v == "" {
				return Location{}, fmt.Errorf("%w: bad escape in %q", errBadLocation, loc)
			}
			*dst = v
		}
		return l, nil
	}
	return Location{}, fmt.Errorf("%w: %q must have 1 or 4 components", errBadLocation, loc)
}

// String writes the location as glance_store does: the four-part form
// when fsid, pool and snapshot are known, every part percent-encoded.
func (l Location) String() string {
	if l.FSID == "" || l.Pool == "" || l.Snapshot == "" {
		return Scheme + "://" + l.Image
	}
	return Scheme + "://" + quote(l.FSID) + "/" + quote(l.Pool) + "/" + quote(l.Image) + "/" + quote(l.Snapshot)
}

// quote percent-encodes all but letters, digits and "_.-~", as Python's
// urllib.parse.quote with an empty safe set does.
func quote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
