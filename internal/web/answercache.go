package web

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// answerCache keeps answers that are costly to build and change slowly
// (the customer analytics of the latest refresh, an experiment's
// results), by key. Once an answer is built, a request never waits for
// the next: an answer older than ttl is served as it is while one
// rebuild runs in the background. Only the first request for a key
// waits while it is built. Failed builds are not kept.
type answerCache struct {
	ttl time.Duration
	log *slog.Logger
	// rebuilt, when set (tests), is called after each background rebuild.
	rebuilt func(key string)

	mu       sync.Mutex
	cache    map[string]builtAnswer
	building map[string]bool // keys being rebuilt in the background
}

type builtAnswer struct {
	v  any
	at time.Time
}

// cachedJSON serves the answer build makes under key.
func (h *answerCache) cachedJSON(w http.ResponseWriter, r *http.Request, key string, build func(ctx context.Context) (any, error)) {
	v, err := h.cached(r.Context(), key, build)
	if err != nil {
		WriteError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, v)
}

// cached is the answer built under key (see answerCache).
func (h *answerCache) cached(ctx context.Context, key string, build func(ctx context.Context) (any, error)) (any, error) {
	h.mu.Lock()
	c, ok := h.cache[key]
	stale := ok && time.Since(c.at) >= h.ttl
	if stale && !h.building[key] {
		if h.building == nil {
			h.building = map[string]bool{}
		}
		h.building[key] = true
		go h.rebuild(key, build)
	}
	h.mu.Unlock()
	if ok {
		return c.v, nil
	}
	v, err := build(ctx)
	if err != nil {
		return nil, err
	}
	h.keep(key, v)
	return v, nil
}

// rebuild builds key's answer again, away from any request; a failure
// keeps the older answer and is retried by the next request.
func (h *answerCache) rebuild(key string, build func(ctx context.Context) (any, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v, err := build(ctx)
	if err == nil {
		h.keep(key, v)
	} else if h.log != nil {
		h.log.Warn("rebuilding a cached answer", "answer", key, "err", err)
	}
	h.mu.Lock()
	delete(h.building, key)
	h.mu.Unlock()
	if h.rebuilt != nil {
		h.rebuilt(key)
	}
}

// keep stores key's answer, made now.
func (h *answerCache) keep(key string, v any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cache == nil {
		h.cache = map[string]builtAnswer{}
	}
	h.cache[key] = builtAnswer{v, time.Now()}
}
