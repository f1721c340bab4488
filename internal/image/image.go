// Package image is Glint's domain layer for images: the record, its status
// machine, and the Service that every API request goes through.
package image

import (
	"time"
)

// Status is an image's lifecycle state (Glance's status enum).
type Status string

const (
	Queued        Status = "queued"
	Saving        Status = "saving"
	Active        Status = "active"
	Killed        Status = "killed"
	Deleted       Status = "deleted"
	Uploading     Status = "uploading"
	Importing     Status = "importing"
	PendingDelete Status = "pending_delete"
	Deactivated   Status = "deactivated"
)

// Statuses lists every status in the order Glance's schema enumerates them.
var Statuses = []Status{Queued, Saving, Active, Killed, Deleted, Uploading, Importing, PendingDelete, Deactivated}

// transitions is Glance's status machine: from → allowed targets.
var transitions = map[Status][]Status{
	Queued:        {Saving, Uploading, Importing, Active, Deleted},
	Saving:        {Active, Killed, Deleted, Queued},
	Uploading:     {Importing, Queued, Deleted},
	Importing:     {Active, Deleted, Queued},
	Active:        {PendingDelete, Deleted, Deactivated},
	Killed:        {Deleted},
	PendingDelete: {Deleted, Active},
	Deactivated:   {Active, Deleted},
}

// CanTransition reports whether Glance allows moving from one status to another.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Visibility values.
const (
	Public    = "public"
	Private   = "private"
	Shared    = "shared"
	Community = "community"
)

// Visibilities lists the valid visibility values in schema order.
var Visibilities = []string{Community, Public, Private, Shared}

// Default format lists ([image_format] disk_formats / container_formats).
var (
	DefaultDiskFormats      = []string{"ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"}
	DefaultContainerFormats = []string{"ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"}
)

// Image is the image record as the domain sees it.
type Image struct {
	ID              string
	Name            *string
	Status          Status
	Visibility      string
	Protected       bool
	OSHidden        bool
	Checksum        *string
	OSHashAlgo      *string
	OSHashValue     *string
	Owner           *string
	Size            *int64
	VirtualSize     *int64
	DiskFormat      *string
	ContainerFormat *string
	MinDisk         int
	MinRAM          int
	CreatedAt       time.Time
	UpdatedAt       time.Time
	DeletedAt       *time.Time
	Deleted         bool

	Tags       []string          // a set, kept sorted
	Properties map[string]string // custom properties, including os_glance_*
	Locations  []Location
}

// Location is where an image's data lives, as a Glance location URI.
type Location struct {
	ID       int64
	URL      string
	Metadata map[string]any
	Status   string // active, pending_delete, deleted
}

// Clone returns a copy whose tags, properties and location metadata
// (to any depth) are the copy's own, so a failed update never leaks into
// the caller's copy, nor a caller's change into a cached image. The
// pointer attributes (Name, Size, …) still point at the same values: they
// are replaced, never written through.
func (img *Image) Clone() *Image {
	c := *img
	c.Tags = append([]string(nil), img.Tags...)
	c.Properties = make(map[string]string, len(img.Properties))
	for k, v := range img.Properties {
		c.Properties[k] = v
	}
	c.Locations = make([]Location, len(img.Locations))
	for i, l := range img.Locations {
		c.Locations[i] = l
		if l.Metadata != nil {
			c.Locations[i].Metadata = copyJSON(l.Metadata).(map[string]any)
		}
	}
	return &c
}

// copyJSON copies a decoded JSON value deeply: objects and lists are new,
// strings and the other scalars are values already.
func copyJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = copyJSON(e)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = copyJSON(e)
		}
		return s
	}
	return v
}

// ActiveLocations returns the locations whose data is live.
func (img *Image) ActiveLocations() []Location {
	var out []Location
	for _, l := range img.Locations {
		if l.Status == "" || l.Status == "active" {
			out = append(out, l)
		}
	}
	return out
}

// Core attribute names and the groups Glance treats specially.
var (
	// readOnly attributes may never be set by a user (403 "is read-only").
	readOnly = set("created_at", "updated_at", "status", "checksum", "os_hash_algo", "os_hash_value",
		"size", "virtual_size", "direct_url", "self", "file", "schema", "id", "stores")
	// reserved attributes are Glance's own (403 "is reserved").
	reserved = set("location", "locations", "deleted", "deleted_at")
	// core attributes cannot be removed (403 "may not be removed").
	core = set("id", "name", "status", "visibility", "protected", "os_hidden", "checksum", "os_hash_algo",
		"os_hash_value", "owner", "size", "virtual_size", "container_format", "disk_format", "min_disk",
		"min_ram", "created_at", "updated_at", "tags", "direct_url", "self", "file", "schema", "locations", "stores")
)

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// IsReadOnly reports whether a user may never write the attribute.
func IsReadOnly(name string) bool { return readOnly[name] }

// IsReserved reports whether the attribute belongs to Glance itself.
func IsReserved(name string) bool {
	return reserved[name] || len(name) >= 9 && name[:9] == "os_glance"
}

// IsCore reports whether name is a base attribute rather than a custom property.
func IsCore(name string) bool { return core[name] }
