package openapi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// SharedStore lets several processes of one app share an access_token. The
// token and its expiry live in the store; a lease lock makes one process
// refresh while the others wait and read its result. A process that dies
// holding the lease blocks the others no longer than the lease.
//
// A store serves one app. Expiry decisions are made by the TokenCache with
// its own clock from the times kept in the Token, never from the store's
// key expiry. Package openapi/redistoken implements SharedStore on Redis.
type SharedStore interface {
	// Load returns the stored token. ok is false when there is none.
	Load(ctx context.Context) (tok Token, ok bool, err error)
	// Save stores tok, replacing any stored token. It must keep Value,
	// IssuedAt and ExpiresAt (millisecond precision is enough).
	Save(ctx context.Context, tok Token) error
	// Invalidate removes the stored token only if it still has failed's
	// value (compare and delete), so a token saved meanwhile by another
	// process survives.
	Invalidate(ctx context.Context, failed Token) error
	// TryLock tries to take the refresh lease without waiting. When ok is
	// true the caller owns the lease until release is called or the lease
	// runs out; release frees it only if the caller still owns it.
	TryLock(ctx context.Context) (release func(context.Context) error, ok bool, err error)
}

// TokenCache caches the token of a TokenSource and renews it ahead of
// expiry.
//
//   - The hot path is one atomic pointer load and a clock read: no lock and
//     no allocation.
//   - Renewal is single-flight per process: however many goroutines ask at
//     once, one fetch runs and they all get its result. While the current
//     token is still valid but due for renewal, callers get the current
//     token at once and the renewal runs in the background (a failed
//     background renewal is retried at most once a second, and the current
//     token is served until it expires; so is a renewal that brings a
//     token already due again); once it has expired (or was rejected),
//     callers wait for the renewal.
//   - Invalidate is a compare-and-swap: it only drops the token if the cache
//     still holds the one that failed.
//   - With a SharedStore, a renewal first reads the store, then takes the
//     store's lease; the lease holder fetches and saves, the others poll the
//     store until the new token is there or the lease is free again. If the
//     store fails, the process fetches on its own rather than fail calls.
//
// A TokenCache is safe for concurrent use. Create it with NewTokenCache, or
// let New create one.
type TokenCache struct {
	src           TokenSource
	store         SharedStore
	now           func() time.Time
	ahead         time.Duration
	poll          time.Duration
	flightTimeout time.Duration

	cur       atomic.Pointer[cacheEntry]
	mu        sync.Mutex
	fl        *flight
	holdUntil time.Time // real time before which no background renewal starts; guarded by mu

	fetches      atomic.Int64
	storeHits    atomic.Int64
	storeErrors  atomic.Int64
	invalidated  atomic.Int64
	refreshFails atomic.Int64
}

// backgroundRetryGap is the pause, in real time, after a renewal that failed
// or brought a token that is already due for renewal (a source that keeps
// handing back the old token), before another renewal starts while the
// current token is still valid. Callers without a valid token always
// trigger a renewal.
const backgroundRetryGap = time.Second

// cacheEntry is the cached token. A revoked entry is never served.
type cacheEntry struct {
	tok       Token
	refreshAt time.Time // zero for revoked entries
	revoked   bool
}

// flight is one renewal in progress; done is closed when tok/err are set.
type flight struct {
	done chan struct{}
	tok  Token
	err  error
}

// NewTokenCache returns a cache in front of src, configured by
// CacheOptions: WithClock, WithRefreshAhead, WithSharedStore, WithStorePoll
// and WithFetchTimeout.
func NewTokenCache(src TokenSource, opts ...CacheOption) *TokenCache {
	return newTokenCache(src, newCacheConfig(opts))
}

func newTokenCache(src TokenSource, c *config) *TokenCache {
	return &TokenCache{
		src:           src,
		store:         c.store,
		now:           c.now,
		ahead:         c.refreshAhead,
		poll:          c.storePoll,
		flightTimeout: c.flightTimeout,
	}
}

// CacheStats counts what a TokenCache did since it was created.
type CacheStats struct {
	// Fetches is the number of calls to the TokenSource.
	Fetches int64
	// StoreHits is the number of renewals served by the SharedStore.
	StoreHits int64
	// StoreErrors is the number of SharedStore operations that failed.
	StoreErrors int64
	// Invalidations is the number of successful Invalidate calls.
	Invalidations int64
	// RefreshFailures is the number of renewals that ended in an error.
	RefreshFailures int64
}

// Stats returns the counters of c.
func (c *TokenCache) Stats() CacheStats {
	return CacheStats{
		Fetches:         c.fetches.Load(),
		StoreHits:       c.storeHits.Load(),
		StoreErrors:     c.storeErrors.Load(),
		Invalidations:   c.invalidated.Load(),
		RefreshFailures: c.refreshFails.Load(),
	}
}

// Token returns a valid token, renewing it if needed. It only blocks when
// there is no valid token; it then waits for the single renewal in flight,
// or for ctx.
func (c *TokenCache) Token(ctx context.Context) (Token, error) {
	if e := c.cur.Load(); e != nil && c.now().Before(e.refreshAt) {
		return e.tok, nil
	}
	return c.slow(ctx)
}

// slow handles tokens that are missing, due for renewal, expired or revoked.
func (c *TokenCache) slow(ctx context.Context) (Token, error) {
	c.mu.Lock()
	now := c.now()
	e := c.cur.Load()
	if e != nil && now.Before(e.refreshAt) {
		c.mu.Unlock()
		return e.tok, nil
	}
	valid := e != nil && !e.revoked && e.tok.Valid(now)
	f := c.fl
	if f == nil {
		if valid && time.Now().Before(c.holdUntil) {
			c.mu.Unlock()
			return e.tok, nil // the last renewal did not help a moment ago; do not hammer
		}
		f = c.startLocked(ctx, e)
	}
	c.mu.Unlock()
	if valid {
		return e.tok, nil // due for renewal, still valid: renewal runs behind
	}
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return Token{}, fmt.Errorf("openapi: waiting for access_token: %w", ctx.Err())
	}
}

// startLocked starts a renewal; c.mu is held. The renewal does not end with
// the context of the caller that happened to start it, since other callers
// wait for it too; it is bounded by the fetch timeout.
func (c *TokenCache) startLocked(ctx context.Context, e *cacheEntry) *flight {
	bad := ""
	if e != nil && e.revoked {
		bad = e.tok.Value()
	}
	f := &flight{done: make(chan struct{})}
	c.fl = f
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.flightTimeout)
	go func() {
		defer cancel()
		tok, err := c.refreshSafe(fctx, bad)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.holdUntil = time.Time{}
		if err == nil {
			at := c.refreshAt(tok)
			c.cur.Store(&cacheEntry{tok: tok, refreshAt: at})
			if !c.now().Before(at) {
				c.holdUntil = time.Now().Add(backgroundRetryGap)
			}
		} else {
			c.refreshFails.Add(1)
			c.holdUntil = time.Now().Add(backgroundRetryGap)
		}
		c.fl = nil
		f.tok, f.err = tok, err
		close(f.done)
	}()
	return f
}

// refreshSafe runs refresh and turns a panic of the source or store into an
// error (without the panic value, which could hold a secret).
func (c *TokenCache) refreshSafe(ctx context.Context, bad string) (tok Token, err error) {
	defer func() {
		if r := recover(); r != nil {
			tok, err = Token{}, errors.New("openapi: token source or store panicked")
		}
	}()
	if c.src == nil {
		return Token{}, fmt.Errorf("%w: TokenCache has no TokenSource", ErrConfig)
	}
	if c.store == nil {
		return c.fetch(ctx)
	}
	return c.refreshShared(ctx, bad)
}

// refreshAt is when tok is due for renewal: ahead of its expiry, but never
// before half its lifetime, so a source that returns short-lived tokens does
// not cause a fetch per call.
func (c *TokenCache) refreshAt(tok Token) time.Time {
	at := tok.expires.Add(-c.ahead)
	if !tok.issuedAt.IsZero() && tok.expires.After(tok.issuedAt) {
		if half := tok.issuedAt.Add(tok.expires.Sub(tok.issuedAt) / 2); at.Before(half) {
			at = half
		}
	}
	return at
}

// usable reports whether a token read from the store can be served.
func (c *TokenCache) usable(tok Token, bad string, now time.Time) bool {
	return !tok.IsZero() && tok.Value() != bad && now.Before(c.refreshAt(tok))
}

// fetch asks the source for a token, once. A source may hand back a token
// that an API call just rejected (a spurious rejection, or a platform that
// has not noticed yet); it is served anyway, and the call that retries with
// it reports the error if it fails again. Nothing loops.
func (c *TokenCache) fetch(ctx context.Context) (Token, error) {
	c.fetches.Add(1)
	return c.src.FetchToken(ctx)
}

// refreshShared renews through the SharedStore.
func (c *TokenCache) refreshShared(ctx context.Context, bad string) (Token, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		tok, ok, err := c.store.Load(ctx)
		if err != nil {
			c.storeErrors.Add(1)
			return c.fetch(ctx)
		}
		if ok && c.usable(tok, bad, c.now()) {
			c.storeHits.Add(1)
			return tok, nil
		}
		release, got, err := c.store.TryLock(ctx)
		if err != nil {
			c.storeErrors.Add(1)
			return c.fetch(ctx)
		}
		if got {
			tok, err := c.fetchLocked(ctx, bad)
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if rerr := release(rctx); rerr != nil {
				c.storeErrors.Add(1)
			}
			cancel()
			return tok, err
		}
		// Another process holds the lease: wait for its token, or for the
		// lease to end (released, or run out because the holder died).
		if timer == nil {
			timer = time.NewTimer(c.poll)
		} else {
			timer.Reset(c.poll)
		}
		select {
		case <-ctx.Done():
			return Token{}, fmt.Errorf("openapi: waiting for another process to refresh the access_token: %w", ctx.Err())
		case <-timer.C:
		}
	}
}

// fetchLocked runs with the lease held: it reads the store once more (the
// previous holder may have saved a token between our read and our lock),
// then fetches and saves.
func (c *TokenCache) fetchLocked(ctx context.Context, bad string) (Token, error) {
	if tok, ok, err := c.store.Load(ctx); err != nil {
		c.storeErrors.Add(1)
	} else if ok && c.usable(tok, bad, c.now()) {
		c.storeHits.Add(1)
		return tok, nil
	}
	tok, err := c.fetch(ctx)
	if err != nil {
		return Token{}, err
	}
	if err := c.store.Save(ctx, tok); err != nil {
		c.storeErrors.Add(1) // the token is still good for this process
	}
	return tok, nil
}

// Invalidate drops failed, a token that an API call rejected with 40001,
// 40014 or 42001, if and only if the cache still holds it, and then removes
// it from the SharedStore with a compare-and-delete. It reports whether the
// cache held failed. The next Token call waits for one renewal; a token read
// from the SharedStore is only taken if it differs from failed.
func (c *TokenCache) Invalidate(ctx context.Context, failed Token) bool {
	if failed.IsZero() {
		return false
	}
	for {
		e := c.cur.Load()
		if e == nil || e.revoked || e.tok.Value() != failed.Value() {
			return false
		}
		if c.cur.CompareAndSwap(e, &cacheEntry{tok: e.tok, revoked: true}) {
			break
		}
	}
	c.invalidated.Add(1)
	if c.store != nil {
		if err := c.store.Invalidate(ctx, failed); err != nil {
			c.storeErrors.Add(1)
		}
	}
	return true
}
