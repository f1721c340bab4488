package api

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"glint/internal/errs"
	"glint/internal/image"
	"glint/internal/obs"
)

func (s *Server) upload(w http.ResponseWriter, r *http.Request) error {
	const op errs.Op = "api.upload"
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); mt != "application/octet-stream" {
		return errs.Errorf(op, errs.BadFormat, "The request media type %s is not supported by this server.", ct)
	}
	size := r.ContentLength // -1 when chunked
	if h := r.Header.Get("X-Openstack-Image-Size"); h != "" {
		n, err := strconv.ParseInt(h, 10, 64)
		if err != nil || n < 0 {
			return errs.Errorf(op, errs.Invalid, "x-openstack-image-size must be a non-negative integer, not %q", h)
		}
		if size >= 0 && size != n {
			return errs.Errorf(op, errs.Invalid, "x-openstack-image-size %d does not match Content-Length %d", n, size)
		}
		size = n
	}
	target, err := s.uploadTarget(r)
	if err != nil {
		return err
	}
	s.cfg.Metrics.UploadStarted(obs.Upload)
	defer s.cfg.Metrics.UploadEnded(obs.Upload)
	if err := s.images.Upload(r.Context(), r.PathValue("id"), target, r.Body, size); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (s *Server) download(w http.ResponseWriter, r *http.Request) error {
	const op errs.Op = "api.download"
	// Until the answer is the image's data, no cache may keep it: a
	// refusal is one caller's, and an image without data gets some later.
	w.Header().Set("Cache-Control", "no-store")
	img, err := s.images.ForDownload(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if len(img.ActiveLocations()) == 0 || img.Size == nil {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	size := *img.Size
	// The conditions are decided on the record, after the access checks
	// and before the store is read (conditional.go).
	v := validatorsOf(img)
	switch checkPreconditions(r, v) {
	case condNotModified:
		s.setCacheHeaders(w.Header(), img, v)
		w.WriteHeader(http.StatusNotModified)
		return nil
	case condFailed:
		return errPreconditionFailed()
	}
	start, end, partial := int64(0), size-1, false
	if ifRangeHolds(r, v) {
		if start, end, partial, err = parseRange(r, size); err != nil {
			return errs.E(op, err)
		}
	}
	rc, err := s.images.Open(r.Context(), img, start)
	if err != nil {
		return err
	}
	defer rc.Close()
	n := end - start + 1
	h := w.Header()
	s.setCacheHeaders(h, img, v)
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	status := http.StatusOK
	if img.Checksum != nil {
		h.Set("Content-MD5", *img.Checksum) // of the whole image, even for a range, as Glance sends it
	}
	if partial {
		status = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, size))
	}
	w.WriteHeader(status)
	if r.Method == http.MethodHead || n == 0 {
		return nil
	}
	// A bare *os.File (or a LimitedReader of one) lets net/http use sendfile.
	var src io.Reader = rc
	if f, ok := rc.(*os.File); ok {
		src = f
		if partial {
			src = &io.LimitedReader{R: f, N: n}
		}
	} else if partial {
		src = io.LimitReader(rc, n)
	}
	began := time.Now()
	written, err := io.Copy(w, src)
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.StoreOp(s.storeOf(img), "read", written, time.Since(began), err != nil || written != n)
	}
	if err != nil || written != n {
		s.log.WarnContext(r.Context(), "download ended early", "request_id", requestID(r), "image_id", img.ID,
			"written", written, "want", n, "err", err)
	}
	s.images.Sent(r.Context(), img, written, n)
	return nil
}

// storeOf names the store a download most likely reads from, for its
// metrics: the store of the image's first active location, which is
// the one read unless it failed.
func (s *Server) storeOf(img *image.Image) string {
	if s.cfg.Stores != nil {
		for _, l := range img.ActiveLocations() {
			if name, ok := l.Metadata["store"].(string); ok && s.cfg.Stores.Has(name) {
				return name // multi-store: the location says
			}
			if st, err := s.cfg.Stores.For(l.URL); err == nil {
				return st.Name
			}
		}
	}
	return "unknown"
}

// parseRange reads a single byte range from Range (or Glance's legacy
// Content-Range request header) against an image of size bytes.
func parseRange(r *http.Request, size int64) (start, end int64, partial bool, err error) {
	const op errs.Op = "api.parseRange"
	end = size - 1
	h := r.Header.Get("Range")
	if h == "" {
		if cr := r.Header.Get("Content-Range"); cr != "" {
			// "bytes a-b/total" names the wanted range.
			spec := strings.TrimPrefix(cr, "bytes ")
			spec, _, _ = strings.Cut(spec, "/")
			h = "bytes=" + spec
		}
	}
	if h == "" {
		return 0, end, false, nil
	}
	unsatisfiable := errs.Errorf(op, errs.OutOfRange, "Requested range not satisfiable: %s", h)
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		return 0, 0, false, unsatisfiable
	}
	if strings.Contains(spec, ",") {
		return 0, 0, false, errs.E(op, errs.Invalid, "Multiple ranges are not supported.")
	}
	a, b, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, 0, false, unsatisfiable
	}
	switch {
	case a == "": // last b bytes
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false, unsatisfiable
		}
		if n > size {
			n = size
		}
		start = size - n
	default:
		start, err = strconv.ParseInt(a, 10, 64)
		if err != nil || start < 0 || start >= size {
			return 0, 0, false, unsatisfiable
		}
		if b != "" {
			e, err := strconv.ParseInt(b, 10, 64)
			if err != nil || e < start {
				return 0, 0, false, unsatisfiable
			}
			if e < end {
				end = e
			}
		}
	}
	return start, end, true, nil
}
