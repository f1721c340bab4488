package bench

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// CacheDownload measures the image cache (glint serve with a caching
// flavor): one untimed upload, its first download (a miss: read from the
// store and written to the cache at once), then, once the cache file is
// complete, s.Opt.Downloads downloads that are hits (sendfile from the
// cache file). Compare the miss with the download scenario of a node
// without a cache on the same store, and the hits with the limits'
// loopback copy.
func (s *Suite) CacheDownload(ctx context.Context) error {
	var made []string
	defer func() { s.cleanup(ctx, made) }()
	ds, err := s.data(s.Opt.UploadSize)
	if err != nil {
		return err
	}
	w, aux := s.C.NewWorker(), s.C.NewWorker()
	id, ok := s.newImage(ctx, aux, "bench-cache")
	if !ok {
		return nil
	}
	made = append(made, id)
	if !s.put(ctx, aux, id, ds) {
		return nil
	}
	size := sizeName(ds.Sums.Size)
	s.measure(Result{Name: "download " + size + " cache miss", Kind: "data", Concurrency: 1, Images: s.live}, func(res *Result) {
		start := time.Now()
		s.get(ctx, w, id, ds.Sums, false)
		res.Fill(w.Rec, time.Since(start))
		res.Note = "the first download: from the store, written to the cache meanwhile"
	})
	s.waitCached(ctx, id)
	n := max(1, s.Opt.Downloads)
	s.measure(Result{Name: "download " + size + " cache hit", Kind: "data", Concurrency: 1, Images: s.live}, func(res *Result) {
		w := s.C.NewWorker()
		start := time.Now()
		for i := 0; i < n && ctx.Err() == nil; i++ {
			s.get(ctx, w, id, ds.Sums, false)
		}
		res.Fill(w.Rec, time.Since(start))
		res.Note = "from the cache file (sendfile); bytes read into a 1 MiB buffer; length and Content-MD5 checked"
	})
	return nil
}

// waitCached waits until GET /v2/cache lists id (the cache file is written
// in the background after the miss), or, where the caller may not list
// the cache (cache_list: admins), a few seconds.
func (s *Suite) waitCached(ctx context.Context, id string) {
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(100 * time.Millisecond) {
		req, err := s.C.NewRequest(ctx, "GET", "/v2/cache", nil)
		if err != nil {
			return
		}
		resp, err := s.C.HTTP.Do(req)
		if err != nil {
			return
		}
		b, _ := readAll(resp.Body, nil)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			s.logf("GET /v2/cache: %d; waiting 10 s for the cache file instead", resp.StatusCode)
			time.Sleep(10 * time.Second)
			return
		}
		if strings.Contains(string(b), `"image_id":"`+id+`"`) {
			return
		}
	}
}
