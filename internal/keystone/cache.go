package keystone

import (
	"container/list"
	"sync"
	"time"
)

// tokenCache is a bounded least-recently-used map from a token's hash to
// its validated identity, each entry with its own deadline: the token's
// expiry or the cache time, whichever comes first.
type tokenCache struct {
	mu    sync.Mutex
	max   int
	ll    *list.List // front = most recently used
	items map[string]*list.Element
}

type cacheEntry struct {
	key      string
	tok      *token
	deadline time.Time
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, ll: list.New(), items: map[string]*list.Element{}}
}

// get returns the entry for key if it is still valid at now.
func (c *tokenCache) get(key string, now time.Time) (*token, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.deadline) {
		c.ll.Remove(el)
		delete(c.items, key)
		return nil, false
	}
	c.ll.MoveToFront(el)
	return e.tok, true
}

// put stores tok under key until deadline, evicting the least recently
// used entry when full.
func (c *tokenCache) put(key string, tok *token, deadline time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		e := el.Value.(*cacheEntry)
		e.tok, e.deadline = tok, deadline
		c.ll.MoveToFront(el)
		return
	}
	c.items[key] = c.ll.PushFront(&cacheEntry{key: key, tok: tok, deadline: deadline})
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).key)
	}
}

func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

// drop removes the entries whose token revoked reports true for and
// returns how many it removed. It walks the whole cache, which happens
// only when new revocation events arrive.
func (c *tokenCache) drop(revoked func(*token) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for el := c.ll.Front(); el != nil; {
		next := el.Next()
		if e := el.Value.(*cacheEntry); revoked(e.tok) {
			c.ll.Remove(el)
			delete(c.items, e.key)
			n++
		}
		el = next
	}
	return n
}
