package push

import (
	"context"
	"fmt"
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
// Its size is bounded, and it never forgets a completed push before the
// TTL: when it is full of live entries, Acquire fails with ErrBusy (the
// Handler answers 503 and WeChat retries) rather than forget a key that
// still guards against a replay.
//
// Keys are kept as 128-bit hashes in a map without pointers, so that a
// million remembered pushes cost the garbage collector nothing to scan.
type MemoryDeduper struct {
	ttl         time.Duration
	inflightTTL time.Duration
	now         func() time.Time
	hasher      keyHasher

	mu      sync.Mutex
	entries expiringMap[dedupEntry]
	answers map[hashKey][]byte        // the few non-empty answers
	waiters map[hashKey]chan struct{} // claims someone waits for
}

// dedupEntry holds no pointers, so the entries map is not scanned by the GC.
type dedupEntry struct {
	expires int64 // Unix nanoseconds: when a settled entry is forgotten, or an in-flight claim lapses
	settled bool
}

// DefaultMaxDedupEntries bounds a MemoryDeduper unless told otherwise: at
// about 40 bytes an entry, some 40 MB, or an hour of 290 pushes a second
// with the default TTL.
const DefaultMaxDedupEntries = 1 << 20

// NewMemoryDeduper returns a MemoryDeduper that forgets a completed push
// after ttl and holds at most maxEntries (DefaultMaxDedupEntries when
// zero or less). A claim whose holder never settles it lapses after twice
// MaxHandlerTimeout.
func NewMemoryDeduper(ttl time.Duration, maxEntries int) *MemoryDeduper {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxDedupEntries
	}
	return &MemoryDeduper{
		ttl: ttl, inflightTTL: 2 * MaxHandlerTimeout, now: time.Now, hasher: newKeyHasher(),
		entries: newExpiringMap(maxEntries, max(ttl/4, time.Second), func(e dedupEntry) int64 { return e.expires }),
		answers: map[hashKey][]byte{}, waiters: map[hashKey]chan struct{}{},
	}
}

// TTL returns how long a completed push is remembered.
func (d *MemoryDeduper) TTL() time.Duration { return d.ttl }

// Acquire implements Deduper. It fails with ErrBusy when the deduper is
// full of live entries.
func (d *MemoryDeduper) Acquire(ctx context.Context, key string) ([]byte, bool, error) {
	k := d.hasher.hash(key)
	for {
		d.mu.Lock()
		now := d.now()
		e, found := d.entries.get(k, now, d.expired)
		if !found {
			if !d.entries.room(now, d.expired) {
				d.mu.Unlock()
				return nil, false, fmt.Errorf("%w: the dedup memory holds %d live entries", ErrBusy, d.entries.maxEntries)
			}
			d.entries.put(k, dedupEntry{expires: now.Add(d.inflightTTL).UnixNano()})
			d.mu.Unlock()
			return nil, true, nil
		}
		if e.settled {
			answer := d.answers[k]
			d.mu.Unlock()
			return answer, false, nil
		}
		wait := d.waiters[k]
		if wait == nil {
			wait = make(chan struct{})
			d.waiters[k] = wait
		}
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
	k := d.hasher.hash(key)
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.entries.entries[k]; ok && !e.settled {
		d.entries.put(k, dedupEntry{expires: d.now().Add(d.ttl).UnixNano(), settled: true})
		if len(answer) > 0 {
			d.answers[k] = answer
		}
		d.wakeLocked(k)
	}
	return nil
}

// Release implements Deduper.
func (d *MemoryDeduper) Release(_ context.Context, key string) error {
	k := d.hasher.hash(key)
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.entries.entries[k]; ok && !e.settled {
		delete(d.entries.entries, k)
		d.wakeLocked(k)
	}
	return nil
}

// Len returns the number of entries held, in flight or completed.
func (d *MemoryDeduper) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.entries.entries)
}

// expired forgets what belongs to an expired entry and wakes its waiters.
func (d *MemoryDeduper) expired(k hashKey) {
	delete(d.answers, k)
	d.wakeLocked(k)
}

func (d *MemoryDeduper) wakeLocked(k hashKey) {
	if w, ok := d.waiters[k]; ok {
		close(w)
		delete(d.waiters, k)
	}
}
