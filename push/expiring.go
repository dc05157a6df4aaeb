package push

import (
	"hash/maphash"
	"time"
)

// hashKey is a 128-bit hash of a string key. Two keys would have to collide
// on 128 bits to be confused.
type hashKey [2]uint64

type keyHasher [2]maphash.Seed

func newKeyHasher() keyHasher { return keyHasher{maphash.MakeSeed(), maphash.MakeSeed()} }

func (s keyHasher) hash(key string) hashKey {
	return hashKey{maphash.String(s[0], key), maphash.String(s[1], key)}
}

// expiringMap is a bounded map of entries that each expire at a set time.
// It never evicts an entry before it expires: when it is full of live
// entries, it refuses new ones, so that a flood cannot push out a key that
// still protects against a replay. Go maps never shrink, so the map is
// rebuilt once most of it has expired, and memory follows the live entries.
// V should hold no pointers, so that the garbage collector need not scan
// millions of entries. Callers hold their own lock.
type expiringMap[V any] struct {
	entries    map[hashKey]V
	expires    func(V) int64 // Unix nanoseconds
	maxEntries int
	sweepEvery time.Duration
	nextSweep  time.Time
	peak       int // the most entries held since the map was last rebuilt
}

func newExpiringMap[V any](maxEntries int, sweepEvery time.Duration, expires func(V) int64) expiringMap[V] {
	return expiringMap[V]{entries: map[hashKey]V{}, expires: expires, maxEntries: maxEntries, sweepEvery: sweepEvery}
}

// get returns the live entry for k; an expired one is deleted and, when
// onExpire is not nil, reported to it.
func (m *expiringMap[V]) get(k hashKey, now time.Time, onExpire func(hashKey)) (V, bool) {
	v, ok := m.entries[k]
	if ok && now.UnixNano() > m.expires(v) {
		delete(m.entries, k)
		if onExpire != nil {
			onExpire(k)
		}
		var zero V
		return zero, false
	}
	return v, ok
}

// room makes room for one more entry. It sweeps expired entries at most
// once per sweepEvery, or whenever the map is full, and reports false when
// the map is still full of live entries.
func (m *expiringMap[V]) room(now time.Time, onExpire func(hashKey)) bool {
	if len(m.entries) < m.maxEntries && now.Before(m.nextSweep) {
		return true
	}
	m.nextSweep = now.Add(m.sweepEvery)
	n := now.UnixNano()
	for k, v := range m.entries {
		if n > m.expires(v) {
			delete(m.entries, k)
			if onExpire != nil {
				onExpire(k)
			}
		}
	}
	if len(m.entries) < m.peak/4 && m.peak > 1024 {
		fresh := make(map[hashKey]V, 2*len(m.entries))
		for k, v := range m.entries {
			fresh[k] = v
		}
		m.entries, m.peak = fresh, len(m.entries)
	}
	return len(m.entries) < m.maxEntries
}

func (m *expiringMap[V]) put(k hashKey, v V) {
	m.entries[k] = v
	m.peak = max(m.peak, len(m.entries))
}
