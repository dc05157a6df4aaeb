package push

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"time"
)

// NonceStore remembers which body each (timestamp, nonce) pair signed.
// WeChat's URL signature covers the Token, the timestamp and the nonce but
// not the body, so without it one captured push URL could carry any body
// for as long as its timestamp is inside the replay window.
//
// Claim records that the request identified by key (its timestamp and
// nonce) carried a body with the given digest, until expires. It reports
// false, without error, when key was already claimed with another digest:
// the request is a replay with a different body. A claim with the same
// digest is the same request sent again (a retransmission), which is
// allowed and left to the Deduper. An error means the store cannot answer;
// the request is then refused with ErrBusy, so that WeChat retries.
//
// Implementations must be safe for concurrent use. A shared one lets
// several replicas enforce the rule together.
type NonceStore interface {
	Claim(ctx context.Context, key, digest string, expires time.Time) (ok bool, err error)
}

// ExternalNonceCheck is a NonceStore that accepts every claim. Set it as
// Config.Nonces only when the caller enforces the rule itself with
// Request.NonceKey, Request.BodyDigest and Request.NonceExpires, for
// example in the database transaction that stores the push, as wxgate
// serve does.
var ExternalNonceCheck NonceStore = externalNonces{}

type externalNonces struct{}

func (externalNonces) Claim(context.Context, string, string, time.Time) (bool, error) {
	return true, nil
}

// DefaultMaxNonces bounds a MemoryNonceStore unless told otherwise: about
// 32 MB, or more than 3,000 pushes a second over a 5-minute window.
const DefaultMaxNonces = 1 << 20

// MemoryNonceStore is an in-process NonceStore. Its size is bounded and it
// never forgets a pair before it expires: when it is full, Claim fails
// with ErrBusy rather than let a captured URL be used again.
type MemoryNonceStore struct {
	hasher keyHasher
	seed   maphash.Seed
	now    func() time.Time

	mu      sync.Mutex
	entries expiringMap[nonceEntry]
}

type nonceEntry struct {
	expires int64  // Unix nanoseconds
	digest  uint64 // a hash of the body's digest
}

// NewMemoryNonceStore returns a MemoryNonceStore holding at most
// DefaultMaxNonces pairs.
func NewMemoryNonceStore() *MemoryNonceStore { return NewMemoryNonceStoreSize(DefaultMaxNonces) }

// NewMemoryNonceStoreSize returns a MemoryNonceStore holding at most
// maxEntries pairs.
func NewMemoryNonceStoreSize(maxEntries int) *MemoryNonceStore {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxNonces
	}
	return &MemoryNonceStore{
		hasher: newKeyHasher(), seed: maphash.MakeSeed(), now: time.Now,
		entries: newExpiringMap(maxEntries, 30*time.Second, func(e nonceEntry) int64 { return e.expires }),
	}
}

// Claim implements NonceStore.
func (s *MemoryNonceStore) Claim(_ context.Context, key, digest string, expires time.Time) (bool, error) {
	k, d := s.hasher.hash(key), maphash.String(s.seed, digest)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if e, ok := s.entries.get(k, now, nil); ok {
		return e.digest == d, nil
	}
	if !s.entries.room(now, nil) {
		return false, fmt.Errorf("%w: the nonce memory holds %d live entries", ErrBusy, s.entries.maxEntries)
	}
	s.entries.put(k, nonceEntry{expires: expires.UnixNano(), digest: d})
	return true, nil
}

// Len returns the number of pairs held.
func (s *MemoryNonceStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries.entries)
}
