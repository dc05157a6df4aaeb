package push

import (
	"context"
	"sync"
	"time"
)

// Deduper remembers which pushes were handled, so that WeChat's retries and
// replayed requests never run a handler twice.
//
// Acquire claims key. When the key is new (or was released), it returns
// acquired = true and the caller must end the claim with Complete or
// Release. When the key was completed, it returns the stored answer. When
// another delivery holds the claim, it waits for that delivery to end, or
// for ctx, whichever comes first.
//
// Implementations must be safe for concurrent use. A shared implementation
// (Redis, PostgreSQL) lets several replicas deduplicate together.
type Deduper interface {
	Acquire(ctx context.Context, key string) (answer []byte, acquired bool, err error)
	// Complete stores the answer given to the push that holds key.
	Complete(ctx context.Context, key string, answer []byte) error
	// Release frees key after a failure, so that a retry runs the handler again.
	Release(ctx context.Context, key string) error
}

// MemoryDeduper is an in-process Deduper whose entries expire after a TTL.
// It also bounds its size: past MaxEntries, completed entries are evicted.
type MemoryDeduper struct {
	ttl        time.Duration
	maxEntries int
	now        func() time.Time

	mu        sync.Mutex
	entries   map[string]*dedupEntry
	nextSweep time.Time
}

type dedupEntry struct {
	done    chan struct{} // made by the first waiter; closed when the claim ends
	answer  []byte
	settled bool // completed (answer valid) rather than in flight
	expires time.Time
}

// DefaultMaxDedupEntries bounds a MemoryDeduper made by NewMemoryDeduper.
const DefaultMaxDedupEntries = 1 << 20

// NewMemoryDeduper returns a MemoryDeduper that forgets a completed push
// after ttl.
func NewMemoryDeduper(ttl time.Duration) *MemoryDeduper {
	return &MemoryDeduper{ttl: ttl, maxEntries: DefaultMaxDedupEntries, now: time.Now, entries: map[string]*dedupEntry{}}
}

// Acquire implements Deduper.
func (d *MemoryDeduper) Acquire(ctx context.Context, key string) ([]byte, bool, error) {
	for {
		d.mu.Lock()
		now := d.now()
		e := d.entries[key]
		if e != nil && e.settled && now.After(e.expires) {
			e = nil
		}
		if e == nil {
			d.sweepLocked(now)
			d.entries[key] = &dedupEntry{}
			d.mu.Unlock()
			return nil, true, nil
		}
		if e.settled {
			answer := e.answer
			d.mu.Unlock()
			return answer, false, nil
		}
		if e.done == nil {
			e.done = make(chan struct{})
		}
		wait := e.done
		d.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// Complete implements Deduper.
func (d *MemoryDeduper) Complete(_ context.Context, key string, answer []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e := d.entries[key]; e != nil && !e.settled {
		e.settled = true
		e.answer = answer
		e.expires = d.now().Add(d.ttl)
		if e.done != nil {
			close(e.done)
		}
	}
	return nil
}

// Release implements Deduper.
func (d *MemoryDeduper) Release(_ context.Context, key string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e := d.entries[key]; e != nil && !e.settled {
		delete(d.entries, key)
		if e.done != nil {
			close(e.done)
		}
	}
	return nil
}

// Len returns the number of entries held, in flight or completed.
func (d *MemoryDeduper) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.entries)
}

// sweepLocked drops expired entries at most once per TTL/4, and completed
// entries beyond maxEntries, so memory stays bounded under any load.
func (d *MemoryDeduper) sweepLocked(now time.Time) {
	if len(d.entries) < d.maxEntries && now.Before(d.nextSweep) {
		return
	}
	d.nextSweep = now.Add(d.ttl / 4)
	for k, e := range d.entries {
		if e.settled && now.After(e.expires) {
			delete(d.entries, k)
		}
	}
	for k, e := range d.entries {
		if len(d.entries) < d.maxEntries {
			break
		}
		if e.settled {
			delete(d.entries, k)
		}
	}
}
