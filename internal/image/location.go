package image

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"glint/internal/errs"
	"glint/internal/store"
)

// Locations are changed by JSON patch on /locations (Glance's
// _do_add_locations, _do_replace_locations, _do_remove_locations) when
// show_multiple_locations is on. A new location must be served by a
// configured store, must not be a local file (Glance refuses file:// for
// security), must pass [import_filtering_opts] when it is http(s), and
// its store must report data there. A queued image given a location
// becomes active with the size the store reports.

// restrictedSchemes are the location schemes no user may add: they would
// let a user read the server's own files or configured credentials.
var restrictedSchemes = map[string]bool{"file": true, "filesystem": true, "swift+config": true}

// LocationRepo is what removing a location's data needs from the
// database. It is part of every Repo: a repository that could not answer
// would have the service delete data another image still uses.
type LocationRepo interface {
	// LocationInUse reports whether an image other than except, not
	// deleted, has a location at url that is not deleted.
	LocationInUse(ctx context.Context, url, except string) (bool, error)
}

// probe is what a location's store said about it, asked before the
// image's row is locked so that no store is waited on inside a
// transaction.
type probe struct {
	size int64
	err  error
}

// newLocation is a location value from a patch.
type newLocation struct {
	url      string
	metadata map[string]any
	valData  map[string]any
}

func parseLocation(v any) (newLocation, error) {
	const op errs.Op = "image.parseLocation"
	m, ok := v.(map[string]any)
	if !ok {
		return newLocation{}, errs.E(op, errs.Invalid, "Invalid locations")
	}
	u, _ := m["url"].(string)
	meta, ok := m["metadata"].(map[string]any)
	if !ok || u == "" {
		return newLocation{}, errs.E(op, errs.Invalid, "Invalid location")
	}
	vd, _ := m["validation_data"].(map[string]any)
	return newLocation{url: u, metadata: meta, valData: vd}, nil
}

// locationValues returns the locations a change sets or adds.
func locationValues(c Change) ([]newLocation, error) {
	if c.Op == "remove" {
		return nil, nil
	}
	vals := []any{c.Value}
	if c.Op == "replace" {
		list, ok := c.Value.([]any)
		if !ok {
			return nil, errs.E(errs.Op("image.locationValues"), errs.Invalid, "Invalid locations")
		}
		vals = list
	}
	out := make([]newLocation, 0, len(vals))
	for _, v := range vals {
		l, err := parseLocation(v)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// setLocationStores is Glance's multi-store rule for locations a patch
// sets or adds: the store the URL belongs to goes in the metadata's
// "store", over what the caller wrote there; a URL of no store keeps the
// caller's metadata.
func (s *Service) setLocationStores(locs []newLocation) {
	if !s.opts.MultiStore {
		return
	}
	for i, l := range locs {
		n := s.stores.NameFor(l.url)
		if n == "" {
			continue
		}
		md := make(map[string]any, len(l.metadata)+1)
		for k, v := range l.metadata {
			md[k] = v
		}
		md["store"] = n
		locs[i].metadata = md
	}
}

func hasLocationChanges(changes []Change) bool {
	for _, c := range changes {
		if c.Path[0] == "locations" {
			return true
		}
	}
	return false
}

// probeLocation is Glance's location check: a scheme a configured store
// serves and users may name, the [import_filtering_opts] rules for
// http(s), and data the store can size.
func (s *Service) probeLocation(ctx context.Context, loc string) probe {
	const op errs.Op = "image.probeLocation"
	invalid := func(cause error) probe {
		if cause != nil {
			s.log.InfoContext(ctx, "location refused", "location", store.Redact(loc), "err", cause)
		}
		return probe{err: errs.E(op, errs.Invalid, "Invalid location")}
	}
	u, err := url.Parse(loc)
	if err != nil || u.Scheme == "" {
		return invalid(err)
	}
	scheme := strings.ToLower(u.Scheme)
	if restrictedSchemes[scheme] {
		return invalid(nil)
	}
	if scheme == "http" || scheme == "https" {
		if err := s.opts.LocationFilter.Check(loc); err != nil {
			return invalid(err)
		}
	}
	st, err := s.stores.For(loc)
	if err != nil {
		return invalid(err)
	}
	size, err := st.Size(ctx, loc)
	if err != nil || size <= 0 {
		return invalid(err)
	}
	return probe{size: size}
}

// probeLocations asks the stores about every location the changes add.
func (s *Service) probeLocations(ctx context.Context, changes []Change) map[string]probe {
	out := map[string]probe{}
	for _, c := range changes {
		if c.Path[0] != "locations" {
			continue
		}
		locs, err := locationValues(c)
		if err != nil {
			continue // reported when the change is applied
		}
		for _, l := range locs {
			if _, ok := out[l.url]; !ok {
				out[l.url] = s.probeLocation(ctx, l.url)
			}
		}
	}
	return out
}

// authorizeChanges applies the policies a patch needs, in Glance's order:
// modify_image for attributes, set_image_location and
// delete_image_location for locations, then the ownership check Glance's
// database layer makes on every save.
func (s *Service) authorizeChanges(ctx context.Context, img *Image, changes []Change) error {
	const op errs.Op = "image.Update"
	var actions []string
	for _, c := range changes {
		a := "modify_image"
		if c.Path[0] == "locations" {
			if list, ok := c.Value.([]any); c.Op == "replace" && (c.Value == nil || ok && len(list) == 0) {
				return errs.E(op, errs.Forbidden, "Cannot set locations to empty list.")
			}
			a = "set_image_location"
			if c.Op == "remove" {
				a = "delete_image_location"
			}
		}
		if !slices.Contains(actions, a) {
			actions = append(actions, a)
		}
	}
	if len(actions) == 0 {
		actions = []string{"modify_image"}
	}
	for _, a := range actions[1:] {
		if err := s.authorize(ctx, a, img); err != nil {
			return err
		}
	}
	return s.authorizeOwner(ctx, actions[0], img)
}

// locationChange applies one change on /locations to img. removed
// collects the stored locations taken off, whose data goes once the
// change is saved.
func (s *Service) locationChange(img *Image, c Change, probes map[string]probe, removed *[]Location) error {
	const op errs.Op = "image.Update"
	verb := map[string]string{"add": "add", "remove": "remove", "replace": "update"}[c.Op]
	if !s.opts.ShowLocations {
		return errs.Errorf(op, errs.Forbidden, "It's not allowed to %s locations if locations are invisible.", verb)
	}
	if c.Op == "replace" {
		verb = "replace"
	}
	if img.Status != Active && (c.Op == "remove" || img.Status != Queued) {
		return errs.Errorf(op, errs.Conflict, "It's not allowed to %s locations if image status is %s.", verb, img.Status)
	}
	// Indexes address the active locations, the only ones Glance shows.
	var active []int
	for i, l := range img.Locations {
		if l.Status == "" || l.Status == "active" {
			active = append(active, i)
		}
	}
	if c.Op == "remove" {
		if len(active) == 1 {
			return errs.E(op, errs.Forbidden, "Cannot remove last location in the image.")
		}
		pos := len(active) - 1
		if p := c.Path[1]; p != "-" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || n >= len(active) {
				return errs.E(op, errs.Invalid, "Invalid position for removing a location.")
			}
			pos = n
		}
		if len(active) == 0 {
			return errs.E(op, errs.Invalid, "Invalid position for removing a location.")
		}
		i := active[pos]
		if img.Locations[i].ID != 0 {
			*removed = append(*removed, img.Locations[i])
		}
		img.Locations = slices.Delete(img.Locations, i, i+1)
		return nil
	}

	locs, err := locationValues(c)
	if err != nil {
		return errs.E(op, err)
	}
	s.setLocationStores(locs)
	if len(locs) == 0 {
		return errs.E(op, errs.Forbidden, "Cannot set locations to empty list.")
	}
	valData, err := s.validationData(img, locs)
	if err != nil {
		return errs.E(op, err)
	}
	q := s.opts.LocationQuota
	if c.Op == "add" {
		if q >= 0 && len(active)+1 > q {
			return errs.Errorf(op, errs.TooLarge, "The limit has been exceeded on the number of allowed image locations. Attempted: %d, Maximum: %d", len(active)+1, q)
		}
		if err := s.checkNewLocation(locs[0], probes); err != nil {
			return errs.E(op, err)
		}
		for _, i := range active {
			if sameLocation(img.Locations[i], locs[0]) {
				return errs.Errorf(op, errs.Invalid, "The location %s already exists", locs[0].url)
			}
		}
		// The position may be past the end: the location is then appended.
		pos := len(active)
		if p := c.Path[1]; p != "-" {
			if n, err := strconv.Atoi(p); err == nil && n < pos {
				pos = n
			}
		}
		at := len(img.Locations)
		if pos < len(active) {
			at = active[pos]
		}
		img.Locations = slices.Insert(img.Locations, at, Location{URL: locs[0].url, Metadata: locs[0].metadata, Status: "active"})
	} else {
		if q >= 0 && len(locs) > q {
			return errs.Errorf(op, errs.TooLarge, "The limit has been exceeded on the number of allowed image locations. Attempted: %d, Maximum: %d", len(locs), q)
		}
		var oldURLs, newURLs []string
		for _, i := range active {
			oldURLs = append(oldURLs, img.Locations[i].URL)
		}
		for _, l := range locs {
			newURLs = append(newURLs, l.url)
		}
		sort.Strings(oldURLs)
		sort.Strings(newURLs)
		sameURLs := slices.Equal(oldURLs, newURLs)
		if len(active) > 0 && !sameURLs {
			return errs.Errorf(op, errs.Invalid, "Original locations is not empty: %s", pyLocations(img, active))
		}
		if !sameURLs {
			for i, l := range locs {
				if err := s.checkNewLocation(l, probes); err != nil {
					return errs.E(op, err)
				}
				for _, o := range locs[i+1:] {
					if o.url == l.url && reflect.DeepEqual(o.metadata, l.metadata) {
						return errs.Errorf(op, errs.Invalid, "The location %s already exists", l.url)
					}
				}
			}
		}
		// Only metadata may change on a list that is not empty: match
		// the new entries to the stored ones by URL, keeping their rows.
		kept := make([]Location, 0, len(img.Locations))
		used := map[int]bool{}
		for _, l := range locs {
			nl := Location{URL: l.url, Metadata: l.metadata, Status: "active"}
			for _, i := range active {
				if !used[i] && img.Locations[i].URL == l.url {
					used[i] = true
					nl.ID = img.Locations[i].ID
					break
				}
			}
			kept = append(kept, nl)
		}
		for i, l := range img.Locations {
			if !slices.Contains(active, i) {
				kept = append(kept, l)
			}
		}
		img.Locations = kept
	}
	if img.Size == nil || *img.Size == 0 {
		if p, ok := probes[locs[0].url]; ok && p.err == nil {
			sz := p.size
			img.Size = &sz
		}
	}
	if img.Status == Queued {
		var missing []string
		if img.DiskFormat == nil {
			missing = append(missing, "disk_format")
		}
		if img.ContainerFormat == nil {
			missing = append(missing, "container_format")
		}
		switch len(missing) {
		case 1:
			return errs.Errorf(op, errs.Invalid, "Property %s must be set prior to saving data.", missing[0])
		case 2:
			return errs.E(op, errs.Invalid, "Properties disk_format, container_format must be set prior to saving data.")
		}
		for k, v := range valData {
			v := v
			switch k {
			case "checksum":
				img.Checksum = &v
			case "os_hash_algo":
				img.OSHashAlgo = &v
			case "os_hash_value":
				img.OSHashValue = &v
			}
		}
		img.Status = Active
	}
	return nil
}

// checkNewLocation is the probe's answer and the metadata check.
func (s *Service) checkNewLocation(l newLocation, probes map[string]probe) error {
	p, ok := probes[l.url]
	if !ok {
		return errs.E(errs.Op("image.checkNewLocation"), errs.Invalid, "Invalid location")
	}
	if p.err != nil {
		return p.err
	}
	return checkLocationMetadata(l.metadata, "")
}

// checkLocationMetadata is glance_store's rule: location metadata holds
// only objects, lists and strings. (Glance answers a violation with 500;
// Glint with 400.)
func checkLocationMetadata(v any, key string) error {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if err := checkLocationMetadata(v[k], k); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range v {
			if err := checkLocationMetadata(e, fmt.Sprintf("%s[%d]", key, i)); err != nil {
				return err
			}
		}
	case string:
	default:
		return errs.Errorf("image.checkLocationMetadata", errs.Invalid,
			"The image metadata key %s has an invalid type of %s. Only dict, list, and unicode are supported.", key, pyType(v))
	}
	return nil
}

func pyType(v any) string {
	switch v.(type) {
	case bool:
		return "<class 'bool'>"
	case float64:
		return "<class 'int'>" // JSON numbers; Glance sees int or float
	case nil:
		return "<class 'NoneType'>"
	}
	return fmt.Sprintf("%T", v)
}

func sameLocation(l Location, n newLocation) bool {
	if l.URL != n.url {
		return false
	}
	a, b := l.Metadata, n.metadata
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

// pyLocations prints the active locations roughly as Glance's message
// shows its list of dicts.
func pyLocations(img *Image, active []int) string {
	parts := make([]string, 0, len(active))
	for _, i := range active {
		l := img.Locations[i]
		meta, _ := marshalSorted(l.Metadata)
		parts = append(parts, fmt.Sprintf("{'id': %d, 'url': '%s', 'metadata': %s, 'status': 'active'}", l.ID, store.Redact(l.URL), meta))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func marshalSorted(m map[string]any) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := fmt.Sprintf("%v", m[k])
		if sv, ok := m[k].(string); ok {
			v = "'" + sv + "'"
		}
		parts = append(parts, fmt.Sprintf("'%s': %s", k, v))
	}
	return "{" + strings.Join(parts, ", ") + "}", nil
}

// validationData is Glance's _validate_validation_data: the checksum and
// hash the locations vouch for, which a queued image takes on.
func (s *Service) validationData(img *Image, locs []newLocation) (map[string]string, error) {
	const op errs.Op = "image.validationData"
	keys := []string{"checksum", "os_hash_algo", "os_hash_value"}
	val := map[string]string{}
	for _, l := range locs {
		for _, k := range keys {
			v, ok := l.valData[k].(string)
			if !ok {
				continue
			}
			if old, seen := val[k]; seen && old != v {
				return nil, errs.Errorf(op, errs.Conflict, "Conflicting values for %s", k)
			}
			val[k] = v
		}
	}
	current := map[string]*string{"checksum": img.Checksum, "os_hash_algo": img.OSHashAlgo, "os_hash_value": img.OSHashValue}
	newVal := map[string]string{}
	var names []string
	for _, k := range keys {
		v, ok := val[k]
		if !ok {
			continue
		}
		cur := current[k]
		if cur != nil && *cur == v {
			continue
		}
		if cur != nil && *cur != "" {
			return nil, errs.Errorf(op, errs.Conflict, "%s is already set with a different value", k)
		}
		newVal[k] = v
		names = append(names, k)
	}
	if len(newVal) == 0 {
		return nil, nil
	}
	if img.Status != Queued {
		return nil, errs.Errorf(op, errs.Conflict, "New value(s) for %s may only be provided when image status is 'queued'", strings.Join(names, ", "))
	}
	if c, ok := newVal["checksum"]; ok {
		b, err := hex.DecodeString(c)
		if err != nil {
			return nil, errs.Errorf(op, errs.Conflict, "checksum (%s) is not a valid hexadecimal value", c)
		}
		if len(b) != 16 {
			return nil, errs.Errorf(op, errs.Conflict, "checksum (%s) is not the correct size for md5 (should be 16 bytes)", c)
		}
	}
	algo, hasAlgo := newVal["os_hash_algo"]
	if algo != s.opts.HashingAlgorithm {
		got := algo
		if !hasAlgo {
			got = "None"
		}
		return nil, errs.Errorf(op, errs.Conflict, "os_hash_algo must be %s, not %s", s.opts.HashingAlgorithm, got)
	}
	hv := newVal["os_hash_value"]
	b, err := hex.DecodeString(hv)
	if err != nil {
		return nil, errs.Errorf(op, errs.Conflict, "os_hash_value (%s) is not a valid hexadecimal value", hv)
	}
	if h, err := store.NewHash(algo); err == nil && len(b) != h.Size() {
		return nil, errs.Errorf(op, errs.Conflict, "os_hash_value (%s) is not the correct size for %s (should be %d bytes)", hv, algo, h.Size())
	}
	return newVal, nil
}

// checkLocationStorage is user_storage_quota on locations added by a
// patch: each location of an image counts its size once, as Glance
// counts it. old and img are the image before and after the patch.
func (s *Service) checkLocationStorage(old, img *Image, others Usage) error {
	const op errs.Op = "image.Update"
	if s.opts.Limits != nil || s.opts.StorageQuota <= 0 || img.Size == nil {
		return nil // Glance does not count locations against unified limits here
	}
	before, after := len(old.ActiveLocations()), len(img.ActiveLocations())
	if after <= before {
		return nil
	}
	size := *img.Size
	remaining := s.opts.StorageQuota - others.StoredBytes - size*int64(before)
	if old.Size == nil || *old.Size == 0 {
		remaining = s.opts.StorageQuota - others.StoredBytes
	}
	if required := size * int64(after-before); required > remaining {
		return errs.Errorf(op, errs.TooLarge, "Denying attempt to upload image because it exceeds the quota: The size of the data %d will exceed the limit. %d bytes remaining.", required, remaining)
	}
	return nil
}

// keepData reports whether the data at loc must stay when image id lets
// go of it: its store is read-only (an http location is not Glint's data)
// or another image still has it as a location.
func (s *Service) keepData(ctx context.Context, id, loc string, st *store.Store) bool {
	if st.ReadOnly() {
		return true
	}
	inUse, err := s.repo.LocationInUse(ctx, loc, id)
	if err != nil {
		s.log.ErrorContext(ctx, "could not tell whether a location is shared; its data is kept", "image_id", id, "location", store.Redact(loc), "err", err)
		return true
	}
	return inUse
}

// deleteRemovedLocation removes the data of a location taken off an image,
// unless another image still uses it or its store cannot delete.
func (s *Service) deleteRemovedLocation(ctx context.Context, id string, l Location) {
	ctx = context.WithoutCancel(ctx)
	if st, err := s.stores.For(l.URL); err == nil && s.keepData(ctx, id, l.URL, st) {
		return
	}
	s.deleteData(ctx, id, l.URL)
}
