package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// data returns the data file of size bytes (written once, then reused),
// warmed into the page cache.
func (s *Suite) data(size int64) (*DataSet, error) {
	ds, wrote, err := PrepareData(s.Opt.WorkDir, s.Pattern, size)
	if err != nil {
		return nil, err
	}
	if wrote > 0 {
		s.logf("wrote the %d-byte data file %s in %v", size, ds.Path, wrote.Round(time.Millisecond))
	}
	return ds, Warm(ds.Path)
}

// newImage creates an image for data (auxiliary request).
func (s *Suite) newImage(ctx context.Context, aux *Worker, name string) (string, bool) {
	s.mu.Lock()
	s.live++
	s.mu.Unlock()
	id, ok := s.create(ctx, aux, name, []string{"bench-data"}, nil)
	if !ok {
		s.mu.Lock()
		s.live--
		s.mu.Unlock()
	}
	return id, ok
}

// put uploads the data set as the image's data: one PUT of the file with
// its Content-Length, sent with sendfile by net/http from the page cache.
func (s *Suite) put(ctx context.Context, w *Worker, id string, ds *DataSet) bool {
	f, err := os.Open(ds.Path)
	if err != nil {
		w.Rec.Mismatch("opening %s: %v", ds.Path, err)
		return false
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(ctx, s.C.DataTimeout)
	defer cancel()
	req, err := s.C.NewRequest(ctx, "PUT", "/v2/images/"+id+"/file", f)
	if err != nil {
		w.Rec.Mismatch("PUT: %v", err)
		return false
	}
	req.ContentLength = ds.Sums.Size
	req.Header.Set("Content-Type", "application/octet-stream")
	start := time.Now()
	resp, err := s.C.HTTP.Do(req)
	if err != nil {
		w.Rec.Fail(time.Since(start), "transport", fmt.Sprintf("PUT /v2/images/{id}/file: %v", err))
		return false
	}
	w.buf, err = readAll(resp.Body, w.buf[:0])
	resp.Body.Close()
	d := time.Since(start)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		w.Rec.Fail(d, strconv.Itoa(resp.StatusCode), fmt.Sprintf("PUT /v2/images/{id}/file: %d (want 204) %v: %s", resp.StatusCode, err, snippet(w.buf)))
		return false
	}
	w.Rec.OK(d)
	w.Rec.Bytes += ds.Sums.Size
	return true
}

// get downloads the image's data. Timed downloads (hash false) read it
// through a 1 MiB buffer into nothing, checking the length and the
// Content-MD5 header; with hash true the bytes go through md5 and sha512
// and are compared with what was uploaded.
func (s *Suite) get(ctx context.Context, w *Worker, id string, want Sums, hash bool) {
	ctx, cancel := context.WithTimeout(ctx, s.C.DataTimeout)
	defer cancel()
	req, err := s.C.NewRequest(ctx, "GET", "/v2/images/"+id+"/file", nil)
	if err != nil {
		w.Rec.Mismatch("GET: %v", err)
		return
	}
	buf := make([]byte, Chunk)
	start := time.Now()
	resp, err := s.C.HTTP.Do(req)
	if err != nil {
		w.Rec.Fail(time.Since(start), "transport", fmt.Sprintf("GET /v2/images/{id}/file: %v", err))
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		n, _ := resp.Body.Read(buf[:512])
		w.Rec.Fail(time.Since(start), strconv.Itoa(resp.StatusCode), fmt.Sprintf("GET /v2/images/{id}/file: %d (want 200): %s", resp.StatusCode, snippet(buf[:n])))
		return
	}
	var got Sums
	if hash {
		got, err = hashDownload(resp.Body)
	} else {
		got.Size, err = Discard(resp.Body, buf)
	}
	d := time.Since(start)
	if err != nil {
		w.Rec.Fail(d, "transport", fmt.Sprintf("GET /v2/images/{id}/file: after %d bytes: %v", got.Size, err))
		return
	}
	w.Rec.OK(d)
	w.Rec.Bytes += got.Size
	switch {
	case resp.ContentLength != want.Size:
		w.Rec.Mismatch("download %s: Content-Length %d, uploaded %d", id, resp.ContentLength, want.Size)
	case got.Size != want.Size:
		w.Rec.Mismatch("download %s: %d bytes, uploaded %d", id, got.Size, want.Size)
	case resp.Header.Get("Content-MD5") != "" && resp.Header.Get("Content-MD5") != want.MD5:
		w.Rec.Mismatch("download %s: Content-MD5 %s, md5 of the data sent %s", id, resp.Header.Get("Content-MD5"), want.MD5)
	case hash && got.MD5 != want.MD5:
		w.Rec.Mismatch("download %s: md5 of the bytes %s, of the data sent %s", id, got.MD5, want.MD5)
	case hash && got.SHA512 != want.SHA512:
		w.Rec.Mismatch("download %s: sha512 of the bytes %.16s…, of the data sent %.16s…", id, got.SHA512, want.SHA512)
	}
}

// DataPath runs the data scenarios: Uploads sequential uploads of
// UploadSize, Downloads timed downloads of the first, one hashed
// verification download, ParallelUploads concurrent uploads of
// ParallelSize; then it deletes the images it made. Any scenario may be
// left out.
func (s *Suite) DataPath(ctx context.Context, upload, download, parallel bool) error {
	var made []string
	defer func() { s.cleanup(ctx, made) }()
	if upload || download {
		ds, err := s.data(s.Opt.UploadSize)
		if err != nil {
			return err
		}
		var first string
		uploads := max(1, s.Opt.Uploads)
		name := "upload " + sizeName(ds.Sums.Size)
		if !upload {
			uploads, name = 1, "" // one untimed upload to download from
		}
		run := func(res *Result) {
			w, aux := s.C.NewWorker(), s.C.NewWorker()
			var el time.Duration
			for i := 0; i < uploads && ctx.Err() == nil; i++ {
				id, ok := s.newImage(ctx, aux, fmt.Sprintf("bench-upload-%d", i))
				if !ok {
					continue
				}
				made = append(made, id)
				start := time.Now()
				ok = s.put(ctx, w, id, ds)
				el += time.Since(start)
				if ok {
					s.verifyData(ctx, aux, id, ds.Sums)
					if first == "" {
						first = id
					}
				}
			}
			w.Rec.MergeErrors(aux.Rec)
			if res != nil {
				res.Fill(w.Rec, el)
				res.Note = "MB/s of the PUTs; each image then checked: active, size, checksum = md5, os_hash_value = sha512 of the bytes sent"
			}
		}
		if upload {
			s.measure(Result{Name: name, Kind: "data", Concurrency: 1, Images: s.live}, run)
		} else {
			run(nil)
		}
		if download && first != "" {
			n := max(1, s.Opt.Downloads)
			s.measure(Result{Name: "download " + sizeName(ds.Sums.Size), Kind: "data", Concurrency: 1, Images: s.live}, func(res *Result) {
				w := s.C.NewWorker()
				start := time.Now()
				for i := 0; i < n && ctx.Err() == nil; i++ {
					s.get(ctx, w, first, ds.Sums, false)
				}
				res.Fill(w.Rec, time.Since(start))
				res.Note = "bytes read into a 1 MiB buffer and counted; length and Content-MD5 checked"
			})
			s.measure(Result{Name: "download verify (md5+sha512 in the client)", Kind: "data-verify", Concurrency: 1, Images: s.live}, func(res *Result) {
				w := s.C.NewWorker()
				start := time.Now()
				s.get(ctx, w, first, ds.Sums, true)
				res.Fill(w.Rec, time.Since(start))
				res.Note = "the downloaded bytes' md5 and sha512 compared with the data sent; bound by the client's hashing"
			})
		}
	}
	if parallel {
		k := max(1, s.Opt.ParallelUploads)
		ds, err := s.data(s.Opt.ParallelSize)
		if err != nil {
			return err
		}
		s.measure(Result{Name: fmt.Sprintf("upload %d x %s concurrently", k, sizeName(ds.Sums.Size)), Kind: "data", Concurrency: k, Images: s.live}, func(res *Result) {
			aux := s.C.NewWorker()
			var ids []string
			for i := 0; i < k; i++ {
				if id, ok := s.newImage(ctx, aux, fmt.Sprintf("bench-parallel-%d", i)); ok {
					ids = append(ids, id)
					made = append(made, id)
				}
			}
			ws := make([]*Worker, len(ids))
			var wg sync.WaitGroup
			start := time.Now()
			for i, id := range ids {
				ws[i] = s.C.NewWorker()
				wg.Go(func() { s.put(ctx, ws[i], id, ds) })
			}
			wg.Wait()
			el := time.Since(start)
			total := &Recorder{}
			for _, w := range ws {
				total.Merge(w.Rec)
			}
			for _, id := range ids {
				s.verifyData(ctx, aux, id, ds.Sums)
			}
			total.MergeErrors(aux.Rec)
			res.Fill(total, el)
			res.Note = "aggregate MB/s over the wall time of the concurrent PUTs; each image checked as above"
		})
	}
	return nil
}

// cleanup deletes the images the data scenarios made (untimed; errors are
// reported in the log).
func (s *Suite) cleanup(ctx context.Context, ids []string) {
	w := s.C.NewWorker()
	for _, id := range ids {
		if w.Do(context.WithoutCancel(ctx), "DELETE", "/v2/images/"+id, "", nil, http.StatusNoContent, nil) == nil {
			s.live--
		}
	}
	if w.Rec.Errors > 0 {
		s.logf("deleting the data images: %d errors: %v", w.Rec.Errors, w.Rec.Samples)
		s.markUncertain()
	}
}

func sizeName(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d B", n)
}

// ParseSize reads 1GiB, 256MiB, 64KiB or a byte count.
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if len(s) > len(u.suf) && s[len(s)-len(u.suf):] == u.suf {
			s, mult = s[:len(s)-len(u.suf)], u.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}
