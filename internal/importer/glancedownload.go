package importer

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"glint/internal/auth"
	"glint/internal/errs"
	"glint/internal/image"
	"glint/internal/store"
	"glint/internal/urlfilter"
)

// DefaultDownloadProperties is Glance's [glance_download_properties]
// extra_properties: the prefixes of the properties glance-download
// copies from the remote image.
var DefaultDownloadProperties = []string{"hw_", "trait:", "os_distro", "os_secure_boot", "os_type"}

// CatalogFunc returns the service catalog of the caller whose token it is
// given (keystonemiddleware's X-Service-Catalog to Glance).
type CatalogFunc func(ctx context.Context, token string) ([]auth.Endpoint, error)

// glanceDownload is the glance-download method's work before the staged
// data goes to the stores, as Glance's flow does it: find the remote
// Image API in the caller's catalog (type image, the request's region
// and interface), read the remote image with the caller's token (it must
// be active), give the local image its formats and the properties
// extra_properties names, and download its data into the staging area,
// of exactly the remote's size (and hash). Every URL passes the import filter, as
// web-download's do. restore, when not nil, undoes the metadata step: the
// caller runs it if the import fails later.
func (im *Importer) glanceDownload(ctx context.Context, j *job, dst string) (restore func(context.Context), err error) {
	const op errs.Op = "importer.glanceDownload"
	m, _ := j.req.Raw["method"].(map[string]any)
	region, _ := m["glance_region"].(string)
	iface, _ := m["glance_service_interface"].(string)
	remoteID, _ := m["glance_image_id"].(string)
	endpoint, err := im.remoteEndpoint(ctx, j.caller, region, iface)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, im.opts.DownloadTimeout)
	defer cancel()
	client := im.remoteClient()
	metaURL := endpoint + "/v2/images/" + remoteID

	resp, err := im.remoteGet(ctx, client, metaURL, j.caller.AuthToken)
	if err != nil {
		return nil, err
	}
	var remote map[string]any
	dec := json.NewDecoder(io.LimitReader(resp.Body, 1<<20))
	dec.UseNumber()
	err = dec.Decode(&remote)
	resp.Body.Close()
	if err != nil {
		return nil, errs.Errorf(op, errs.Invalid, "Remote image %s: unreadable metadata from %s: %v", remoteID, redact(metaURL), err)
	}
	if st := remote["status"]; st != "active" {
		return nil, errs.Errorf(op, errs.Conflict, "Source image status should be active instead of %v", st)
	}
	size, err := remoteSize(remote["size"])
	if err != nil {
		return nil, errs.Errorf(op, errs.Invalid, "Size attribute of remote image %s could not be determined.", remoteID)
	}
	if capN := im.s.SizeCap(); size > capN {
		return nil, errs.Errorf(op, errs.TooLarge, "The incoming image is too large: %d bytes, and the limit is %d.", size, capN)
	}
	restore, err = im.applyRemoteMetadata(ctx, j, remote)
	if err != nil {
		return restore, err
	}

	resp, err = im.remoteGet(ctx, client, metaURL+"/file", j.caller.AuthToken)
	if err != nil {
		return restore, err
	}
	defer resp.Body.Close()
	var body io.Reader = resp.Body
	// Glint: the data must have the remote's os_hash_value (Glance checks
	// only the size), hashed as it arrives, before any plugin changes it.
	algo, _ := remote["os_hash_algo"].(string)
	want, _ := remote["os_hash_value"].(string)
	h, herr := store.NewHash(algo)
	if herr == nil && want != "" {
		body = io.TeeReader(body, h)
	}
	pr := &progressReader{r: im.s.CapReader(body), every: progressEvery, report: func(n int64) { im.progress(ctx, j.task, n) }}
	n, err := writeFile(dst, pr)
	if err != nil {
		return restore, errs.E(op, errs.KindOf(err), fmt.Sprintf("glance-download of %s failed: %v", redact(metaURL+"/file"), err), err)
	}
	if n != size {
		return restore, errs.Errorf(op, errs.Invalid, "Task %s failed because downloaded data size %d is different from expected %d", j.task.ID, n, size)
	}
	if herr == nil && want != "" {
		if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, want) {
			return restore, errs.Errorf(op, errs.Invalid, "Downloaded data's %s %s is different from the remote image's os_hash_value %s", algo, got, want)
		}
	}
	return restore, nil
}

// remoteEndpoint finds the remote Image API in the caller's catalog as
// Glance does: an endpoint of an image service in region (compared
// without case) for interface.
func (im *Importer) remoteEndpoint(ctx context.Context, caller *auth.Context, region, iface string) (string, error) {
	const op errs.Op = "importer.glanceDownload"
	if im.opts.Catalog == nil || caller == nil || caller.AuthToken == "" {
		return "", errs.E(op, errs.Unavailable, "glance-download needs the caller's Keystone token and service catalog, and this request has none")
	}
	eps, err := im.opts.Catalog(ctx, caller.AuthToken)
	if err != nil {
		return "", errs.E(op, errs.KindOf(err), "Could not read the caller's service catalog: "+messageOf(err), err)
	}
	for _, e := range eps {
		if e.ServiceType == "image" && e.Region != "" && strings.EqualFold(e.Region, region) && e.Interface == iface && e.URL != "" {
			return strings.TrimRight(e.URL, "/"), nil
		}
	}
	return "", errs.Errorf(op, errs.NotFound, "%s glance endpoint not found for region %s", iface, region)
}

// remoteClient is the guarded client of every glance-download fetch. The
// caller's token goes to the remote Image API only: a redirect to another
// origin is followed (if the filter passes it) without it.
func (im *Importer) remoteClient() *http.Client {
	c := im.opts.Filter.Client(urlfilter.ClientOptions{})
	check := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := check(req, via); err != nil {
			return err
		}
		if req.URL.Scheme != via[0].URL.Scheme || req.URL.Host != via[0].URL.Host {
			req.Header.Del("X-Auth-Token")
		}
		return nil
	}
	return c
}

// remoteGet fetches url from the remote Image API with the caller's
// token; any answer but 200 fails the import.
func (im *Importer) remoteGet(ctx context.Context, c *http.Client, url, token string) (*http.Response, error) {
	const op errs.Op = "importer.glanceDownload"
	if err := im.opts.Filter.Check(url); err != nil {
		return nil, errs.Errorf(op, errs.Invalid, "Processed URI for glance-download does not pass filtering: %s", redact(url))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, errs.E(op, errs.Invalid, fmt.Sprintf("glance-download of %s failed: %v", redact(url), err), err)
	}
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("User-Agent", "glint-glance-download")
	resp, err := c.Do(req)
	if err != nil {
		return nil, errs.E(op, errs.Unavailable, fmt.Sprintf("glance-download of %s failed: %v", redact(url), err), err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		kind := errs.Unavailable
		switch resp.StatusCode {
		case http.StatusNotFound:
			kind = errs.NotFound
		case http.StatusUnauthorized, http.StatusForbidden:
			kind = errs.Forbidden
		}
		return nil, errs.Errorf(op, kind, "glance-download of %s failed: HTTP %s", redact(url), resp.Status)
	}
	return resp, nil
}

// remoteSize reads the remote image's size, a JSON integer.
func remoteSize(v any) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("size %v is not a number", v)
	}
	size, err := n.Int64()
	if err != nil || size < 0 {
		return 0, fmt.Errorf("size %v is not a byte count", v)
	}
	return size, nil
}

// applyRemoteMetadata gives the image the remote's disk and container
// formats and the properties DownloadProperties names (never a reserved
// os_glance_* or core attribute), and returns what puts the old ones back.
func (im *Importer) applyRemoteMetadata(ctx context.Context, j *job, remote map[string]any) (func(context.Context), error) {
	const op errs.Op = "importer.glanceDownload"
	disk, _ := remote["disk_format"].(string)
	container, _ := remote["container_format"].(string)
	if disk == "" || container == "" {
		return nil, errs.E(op, errs.Invalid, "Remote image has no disk_format or container_format")
	}
	props := map[string]string{}
	for k, v := range remote {
		s, ok := v.(string)
		if !ok || image.IsReserved(k) || image.IsCore(k) {
			continue
		}
		for _, p := range im.opts.DownloadProperties {
			if strings.HasPrefix(k, p) {
				props[k] = s
			}
		}
	}
	var oldDisk, oldContainer *string
	old := map[string]*string{} // nil: the image did not have it
	_, err := im.saveLocked(ctx, j.task, func(n *image.Image) error {
		oldDisk, oldContainer = n.DiskFormat, n.ContainerFormat
		n.DiskFormat, n.ContainerFormat = &disk, &container
		for k, v := range props {
			if cur, ok := n.Properties[k]; ok {
				old[k] = &cur
			} else {
				old[k] = nil
			}
			n.Properties[k] = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) {
		_, err := im.saveLocked(ctx, j.task, func(n *image.Image) error {
			n.DiskFormat, n.ContainerFormat = oldDisk, oldContainer
			for k, v := range old {
				if v == nil {
					delete(n.Properties, k)
				} else {
					n.Properties[k] = *v
				}
			}
			return nil
		})
		if err != nil {
			im.log.WarnContext(ctx, "could not restore an image's metadata after a failed glance-download", "image_id", deref(j.task.ImageID), "err", err)
		}
	}, nil
}
