package api

import (
	"net/http"
	"strings"

	"glint/internal/errs"
	"glint/internal/imagecache"
)

// The cache API (Image API 2.14-2.16, and Glance master's clean, prune
// and nodes), and with the cachemanagement flavors the legacy routes of
// glance-cache-manage that Glance 25.1's cachemanage filter still serves.

func (s *Server) cacheRoutes() {
	s.route("/v2/cache", methods{"GET": s.cacheState, "DELETE": s.cacheClear}, "GET")
	s.route("/v2/cache/{id}", methods{"PUT": s.cacheQueue, "DELETE": s.cacheDelete})
	s.route("/v2/cache/clean", methods{"POST": s.cacheClean})
	s.route("/v2/cache/prune", methods{"POST": s.cachePrune})
	s.route("/v2/cache/nodes/{id}", methods{"GET": s.cacheNodes}, "GET")
	if s.cfg.CacheManagement && s.cfg.Cache != nil {
		s.route("/v2/cached_images", methods{"GET": s.legacyCached, "DELETE": s.legacyClear("cache")})
		s.route("/v2/cached_images/{id}", methods{"DELETE": s.legacyDelete(false)})
		s.route("/v2/queued_images", methods{"GET": s.legacyQueued, "DELETE": s.legacyClear("queue")})
		s.route("/v2/queued_images/{id}", methods{"PUT": s.legacyQueue, "DELETE": s.legacyDelete(true)})
	}
}

// noCache answers a cache API call on a node without a cache as Glance
// does: the policy first, then 404.
func (s *Server) noCache(r *http.Request, action string) error {
	if err := s.images.AuthorizeAction(r.Context(), action, map[string]any{}); err != nil {
		return err
	}
	return errs.E(errs.Op("api.cache"), errs.NotFound, "Caching via API is not supported at this site.")
}

// cachedJSON is a record as Glance's cache API lists it: times as float
// seconds since the epoch.
func cachedJSON(recs []imagecache.Record) []map[string]any {
	out := make([]map[string]any, 0, len(recs))
	for _, r := range recs {
		out = append(out, map[string]any{
			"image_id":      r.ImageID,
			"hits":          r.Hits,
			"last_accessed": float64(r.LastAccessed.UnixMicro()) / 1e6,
			"last_modified": float64(r.LastModified.UnixMicro()) / 1e6,
			"size":          r.Size,
		})
	}
	return out
}

func (s *Server) cacheState(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Cache == nil {
		return s.noCache(r, "cache_list")
	}
	recs, queued, err := s.cfg.Cache.State(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"cached_images": cachedJSON(recs), "queued_images": queued})
}

func (s *Server) cacheQueue(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Cache == nil {
		if _, err := s.images.Fetch(r.Context(), r.PathValue("id")); err != nil {
			return err
		}
		return s.noCache(r, "cache_image")
	}
	if err := s.cfg.Cache.QueueImage(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (s *Server) cacheDelete(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Cache == nil {
		return s.noCache(r, "cache_delete")
	}
	if err := s.cfg.Cache.DeleteEntry(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (s *Server) cacheClear(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Cache == nil {
		return s.noCache(r, "cache_delete")
	}
	target := strings.ToLower(r.Header.Get("X-Image-Cache-Clear-Target"))
	if _, err := s.cfg.Cache.Clear(r.Context(), target); err != nil {
		return err
	}
	noContent(w) // Glance 25.1 answers 204 and drops the counts
	return nil
}

func (s *Server) cacheClean(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Cache == nil {
		return s.noCache(r, "manage_image_cache")
	}
	n, err := s.cfg.Cache.CleanNow(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"total_files_cleaned": n})
}

func (s *Server) cachePrune(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Cache == nil {
		return s.noCache(r, "manage_image_cache")
	}
	files, bytes, err := s.cfg.Cache.PruneNow(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"total_files_pruned": files, "total_bytes_pruned": bytes})
}

func (s *Server) cacheNodes(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Cache == nil {
		return s.noCache(r, "cache_list")
	}
	nodes, err := s.cfg.Cache.NodesOf(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, nodes)
}

// The legacy routes: every one under manage_image_cache; Glance's wsgi
// answers an action that returns nothing with 200 and a JSON null.

func (s *Server) legacyAuthorize(r *http.Request) error {
	return s.cfg.Cache.Authorize(r.Context(), "manage_image_cache")
}

func (s *Server) legacyCached(w http.ResponseWriter, r *http.Request) error {
	if err := s.legacyAuthorize(r); err != nil {
		return err
	}
	recs, err := s.cfg.Cache.Cached(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"cached_images": cachedJSON(recs)})
}

func (s *Server) legacyQueued(w http.ResponseWriter, r *http.Request) error {
	if err := s.legacyAuthorize(r); err != nil {
		return err
	}
	q, err := s.cfg.Cache.Queued()
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"queued_images": q})
}

func (s *Server) legacyQueue(w http.ResponseWriter, r *http.Request) error {
	if err := s.legacyAuthorize(r); err != nil {
		return err
	}
	// As Glance's: queued without looking the image up; the prefetcher
	// drops what is not an active image.
	if err := s.cfg.Cache.Queue(r.PathValue("id")); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, nil)
}

func (s *Server) legacyDelete(queue bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := s.legacyAuthorize(r); err != nil {
			return err
		}
		var err error
		if queue {
			err = s.cfg.Cache.Dequeue(r.PathValue("id"))
		} else {
			err = s.cfg.Cache.Delete(r.Context(), r.PathValue("id"))
		}
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, nil)
	}
}

func (s *Server) legacyClear(target string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := s.legacyAuthorize(r); err != nil {
			return err
		}
		var n int
		var err error
		if target == "queue" {
			n, err = s.cfg.Cache.DequeueAll()
		} else {
			n, err = s.cfg.Cache.DeleteAll(r.Context())
		}
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, map[string]any{"num_deleted": n})
	}
}
