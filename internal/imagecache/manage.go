package imagecache

import (
	"context"
	"slices"

	"glint/internal/errs"
	"glint/internal/image"
)

// The cache API's operations, as Glance's cache controller runs them:
// the policy named first, image lookups under the caller's identity.

// Authorize enforces a cache policy with no image target (cache_list,
// cache_delete, manage_image_cache).
func (c *Cache) Authorize(ctx context.Context, action string) error {
	return c.images.AuthorizeAction(ctx, action, map[string]any{})
}

// State is GET /v2/cache: the cached images' records and the queued IDs.
func (c *Cache) State(ctx context.Context) ([]Record, []string, error) {
	if err := c.Authorize(ctx, "cache_list"); err != nil {
		return nil, nil, err
	}
	recs, err := c.Cached(ctx)
	if err != nil {
		return nil, nil, err
	}
	q, err := c.Queued()
	return recs, q, err
}

func notFound(id string) error {
	return errs.Errorf(errs.Op("imagecache"), errs.NotFound, "Image %s not found.", id)
}

// QueueImage is PUT /v2/cache/{id}: queue an active image the caller
// may see for prefetching, which starts at once.
func (c *Cache) QueueImage(ctx context.Context, id string) error {
	img, err := c.images.Fetch(ctx, id)
	if errs.Is(errs.NotFound, err) || (err == nil && !validID(img.ID)) {
		return notFound(id)
	}
	if err != nil {
		return err
	}
	if err := c.images.Authorize(ctx, "cache_image", img); err != nil {
		return err
	}
	if img.Status != image.Active {
		return errs.E(errs.Op("imagecache.QueueImage"), errs.Invalid, "Only images with status active can be targeted for queueing")
	}
	return c.Queue(id)
}

// DeleteEntry is DELETE /v2/cache/{id}: drop the image from the cache
// and the queue. An image that is gone may still be dropped if the cache
// or the queue holds it.
func (c *Cache) DeleteEntry(ctx context.Context, id string) error {
	img, err := c.images.Fetch(ctx, id)
	switch {
	case errs.Is(errs.NotFound, err):
		img = nil
		if !c.holds(ctx, id) {
			return notFound(id)
		}
	case err != nil:
		return err
	}
	if img != nil {
		err = c.images.Authorize(ctx, "cache_delete", img)
	} else {
		err = c.Authorize(ctx, "cache_delete")
	}
	if err != nil {
		return err
	}
	if err := c.Delete(ctx, id); err != nil {
		return err
	}
	return c.Dequeue(id)
}

func (c *Cache) holds(ctx context.Context, id string) bool {
	if c.IsCached(id) {
		return true
	}
	if q, err := c.Queued(); err == nil && slices.Contains(q, id) {
		return true
	}
	_, ok, _ := c.index.Get(ctx, id)
	return ok
}

// Cleared is what DELETE /v2/cache removed; -1: that part was not asked.
type Cleared struct{ Cache, Queue int }

// Clear is DELETE /v2/cache: target "" clears the cache and the queue,
// "cache" or "queue" one of them.
func (c *Cache) Clear(ctx context.Context, target string) (Cleared, error) {
	const op errs.Op = "imagecache.Clear"
	out := Cleared{-1, -1}
	if err := c.Authorize(ctx, "cache_delete"); err != nil {
		return out, err
	}
	var err error
	switch target {
	case "":
		if out.Cache, err = c.DeleteAll(ctx); err != nil {
			return out, err
		}
		out.Queue, err = c.DequeueAll()
	case "cache":
		out.Cache, err = c.DeleteAll(ctx)
	case "queue":
		out.Queue, err = c.DequeueAll()
	default:
		return out, errs.E(op, errs.Invalid, "If provided 'x-image-cache-clear-target' must be 'cache', 'queue' or empty string.")
	}
	return out, err
}

// CleanNow is POST /v2/cache/clean.
func (c *Cache) CleanNow(ctx context.Context) (int, error) {
	if err := c.Authorize(ctx, "manage_image_cache"); err != nil {
		return 0, err
	}
	return c.Clean(ctx)
}

// PruneNow is POST /v2/cache/prune.
func (c *Cache) PruneNow(ctx context.Context) (int, int64, error) {
	if err := c.Authorize(ctx, "manage_image_cache"); err != nil {
		return 0, 0, err
	}
	return c.Prune(ctx)
}

// NodesOf is GET /v2/cache/nodes/{id}: the URLs of the nodes that cache
// an image the caller may see; Conflict unless the records are in the
// main database.
func (c *Cache) NodesOf(ctx context.Context, id string) ([]string, error) {
	if err := c.Authorize(ctx, "cache_list"); err != nil {
		return nil, err
	}
	if _, err := c.index.Nodes(ctx, "00000000-0000-0000-0000-000000000000"); errs.Is(errs.Conflict, err) {
		return nil, err
	}
	if _, err := c.images.Fetch(ctx, id); err != nil {
		if errs.Is(errs.NotFound, err) {
			return nil, notFound(id)
		}
		return nil, err
	}
	return c.index.Nodes(ctx, id)
}
