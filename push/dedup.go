package push

import (
	"context"
	"hash/maphash"
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
// It also bounds its size: past its maximum, completed entries are evicted.
//
// Keys are kept as 128-bit hashes in a map without pointers, so that a
// million remembered pushes cost the garbage collector nothing to scan.
// Two different keys would have to collide on 128 bits to be confused.
type MemoryDeduper struct {
	ttl         time.Duration
	inflightTTL time.Duration
	maxEntries  int
	now         func() time.Time
	seeds       [2]maphash.Seed

	mu        sync.Mutex
	entries   map[dedupKey]dedupEntry
	answers   map[dedupKey][]byte        // the few non-empty answers
	waiters   map[dedupKey]chan struct{} // claims someone waits for
	nextSweep time.Time
}

type dedupKey [2]uint64

// dedupEntry holds no pointers, so the entries map is not scanned by the GC.
type dedupEntry struct {
	expires int64 // Unix nanoseconds: when a settled entry is forgotten, or an in-flight claim lapses
	settled bool
}

// DefaultMaxDedupEntries bounds a MemoryDeduper made by NewMemoryDeduper.
const DefaultMaxDedupEntries = 1 << 20

// DefaultInflightTTL is how long a claim may stay in flight before it
// lapses and the key can be claimed again.
const DefaultInflightTTL = time.Minute

// NewMemoryDeduper returns a MemoryDeduper that forgets a completed push
// after ttl.
func NewMemoryDeduper(ttl time.Duration) *MemoryDeduper {
	return &MemoryDeduper{
		ttl: ttl, inflightTTL: DefaultInflightTTL, maxEntries: DefaultMaxDedupEntries, now: time.Now,
		seeds:   [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		entries: map[dedupKey]dedupEntry{}, answers: map[dedupKey][]byte{}, waiters: map[dedupKey]chan struct{}{},
	}
}

func (d *MemoryDeduper) hash(key string) dedupKey {
	return dedupKey{maphash.String(d.seeds[0], key), maphash.String(d.seeds[1], key)}
}

// Acquire implements Deduper.
func (d *MemoryDeduper) Acquire(ctx context.Context, key string) ([]byte, bool, error) {
	k := d.hash(key)
	for {
		d.mu.Lock()
		now := d.now()
		e, found := d.entries[k]
		if found && now.UnixNano() > e.expires {
			d.forgetLocked(k)
			d.wakeLocked(k)
			found = false
		}
		if !found {
			d.sweepLocked(now)
			d.entries[k] = dedupEntry{expires: now.Add(d.inflightTTL).UnixNano()}
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
	k := d.hash(key)
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.entries[k]; ok && !e.settled {
		d.entries[k] = dedupEntry{expires: d.now().Add(d.ttl).UnixNano(), settled: true}
		if len(answer) > 0 {
			d.answers[k] = answer
		}
		d.wakeLocked(k)
	}
	return nil
}

// Release implements Deduper.
func (d *MemoryDeduper) Release(_ context.Context, key string) error {
	k := d.hash(key)
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.entries[k]; ok && !e.settled {
		delete(d.entries, k)
		d.wakeLocked(k)
	}
	return nil
}

// Len returns the number of entries held, in flight or completed.
func (d *MemoryDeduper) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.entries)
}

func (d *MemoryDeduper) wakeLocked(k dedupKey) {
	if w, ok := d.waiters[k]; ok {
		close(w)
		delete(d.waiters, k)
	}
}

func (d *MemoryDeduper) forgetLocked(k dedupKey) {
	delete(d.entries, k)
	delete(d.answers, k)
}

// sweepLocked drops expired entries at most once per TTL/4. When the map is
// still full, it evicts a sixteenth of the settled entries at once, so that
// the cost of a full scan is shared by many inserts.
func (d *MemoryDeduper) sweepLocked(now time.Time) {
	if len(d.entries) < d.maxEntries && now.Before(d.nextSweep) {
		return
	}
	d.nextSweep = now.Add(d.ttl / 4)
	n := now.UnixNano()
	for k, e := range d.entries {
		if n > e.expires {
			d.forgetLocked(k)
			d.wakeLocked(k)
		}
	}
	if len(d.entries) < d.maxEntries {
		return
	}
	target := d.maxEntries - d.maxEntries/16 - 1
	for k, e := range d.entries {
		if len(d.entries) <= target {
			break
		}
		if e.settled {
			d.forgetLocked(k)
		}
	}
}
