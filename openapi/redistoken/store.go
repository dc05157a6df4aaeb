// Package redistoken shares one WeChat access_token between processes
// through Redis. Its Store implements openapi.SharedStore:
//
//   - the token, when it was obtained and when it expires are kept in a
//     hash; expiry decisions use those times and the TokenCache's clock,
//     never the key's TTL, which only garbage-collects old entries;
//   - a lease lock (SET NX PX with a random owner value) lets exactly one
//     process refresh while the others wait and read the result; a process
//     that dies holding it blocks the others only until the lease runs out;
//   - the lock is released, and a rejected token removed, only by
//     compare-and-delete Lua scripts, so nobody deletes what another process
//     wrote meanwhile.
//
// It lives in its own package so that programs without Redis do not import
// go-redis.
package redistoken

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/wxgate/wxgate/openapi"
)

// DefaultPrefix starts every key written by a Store.
const DefaultPrefix = "wxgate:openapi:"

// DefaultLease is how long a refresh lease lasts: the longest a process that
// dies while refreshing can hold up the others. It should exceed the time a
// token fetch takes (openapi.DefaultTimeout per attempt); if a fetch overruns
// it, a second process may fetch too, which costs one extra fetch but
// breaks nothing (stable_token hands back the same token, classic tokens
// overlap for 5 minutes).
const DefaultLease = 15 * time.Second

// minTTL is the shortest garbage-collection TTL of the token key.
const minTTL = time.Hour

// Store is an openapi.SharedStore on Redis for one app.
type Store struct {
	rdb      redis.Cmdable
	prefix   string
	tokenKey string
	lockKey  string
	lease    time.Duration
}

var _ openapi.SharedStore = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithPrefix replaces DefaultPrefix. Keys are PREFIX{APPID}:token and
// PREFIX{APPID}:lock; the braces keep both in one Redis Cluster slot.
func WithPrefix(prefix string) Option {
	return func(s *Store) { s.prefix = prefix }
}

// WithLease replaces DefaultLease. Non-positive values are ignored.
func WithLease(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.lease = d
		}
	}
}

// New returns a store for the app's token in rdb (a *redis.Client,
// *redis.ClusterClient, ...).
func New(rdb redis.Cmdable, appID string, opts ...Option) *Store {
	s := &Store{rdb: rdb, prefix: DefaultPrefix, lease: DefaultLease}
	for _, o := range opts {
		if o != nil {
			o(s)
		}
	}
	s.tokenKey = s.prefix + "{" + appID + "}:token"
	s.lockKey = s.prefix + "{" + appID + "}:lock"
	return s
}

// TokenKey returns the Redis key of the token hash.
func (s *Store) TokenKey() string { return s.tokenKey }

// LockKey returns the Redis key of the refresh lease.
func (s *Store) LockKey() string { return s.lockKey }

// Lease returns the lease duration.
func (s *Store) Lease() time.Duration { return s.lease }

// String describes the store without any secret.
func (s *Store) String() string { return "redistoken.Store(" + s.tokenKey + ")" }

// Hash fields of the token key.
const (
	fieldValue   = "v"
	fieldIssued  = "iat" // Unix milliseconds
	fieldExpires = "exp" // Unix milliseconds
)

// Load implements openapi.SharedStore. An entry that is missing a field or
// holds garbage is reported as absent, so the next refresh overwrites it.
func (s *Store) Load(ctx context.Context) (openapi.Token, bool, error) {
	vals, err := s.rdb.HMGet(ctx, s.tokenKey, fieldValue, fieldIssued, fieldExpires).Result()
	if err != nil {
		return openapi.Token{}, false, fmt.Errorf("redistoken: load: %w", err)
	}
	if len(vals) != 3 {
		return openapi.Token{}, false, nil
	}
	v, ok1 := vals[0].(string)
	iat, ok2 := parseMillis(vals[1])
	exp, ok3 := parseMillis(vals[2])
	if !ok1 || !ok2 || !ok3 || v == "" {
		return openapi.Token{}, false, nil
	}
	return openapi.NewToken(v, time.UnixMilli(iat), time.UnixMilli(exp)), true, nil
}

func parseMillis(v any) (int64, bool) {
	s, ok := v.(string)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// Save implements openapi.SharedStore. The key gets a TTL of twice the
// token's lifetime (at least an hour), only to clean up; freshness is
// decided from the stored expiry.
func (s *Store) Save(ctx context.Context, tok openapi.Token) error {
	if tok.IsZero() {
		return errors.New("redistoken: save: empty token")
	}
	ttl := max(2*tok.ExpiresAt().Sub(tok.IssuedAt()), minTTL)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.tokenKey,
			fieldValue, tok.Value(),
			fieldIssued, strconv.FormatInt(tok.IssuedAt().UnixMilli(), 10),
			fieldExpires, strconv.FormatInt(tok.ExpiresAt().UnixMilli(), 10))
		p.PExpire(ctx, s.tokenKey, ttl)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redistoken: save: %w", err)
	}
	return nil
}

// invalidateScript deletes the token hash only if it still holds ARGV[1].
var invalidateScript = redis.NewScript(`
if redis.call("HGET", KEYS[1], "v") == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0
`)

// Invalidate implements openapi.SharedStore with a compare-and-delete.
func (s *Store) Invalidate(ctx context.Context, failed openapi.Token) error {
	if failed.IsZero() {
		return nil
	}
	if err := invalidateScript.Run(ctx, s.rdb, []string{s.tokenKey}, failed.Value()).Err(); err != nil {
		return fmt.Errorf("redistoken: invalidate: %w", err)
	}
	return nil
}

// releaseScript deletes the lock only if ARGV[1] still owns it.
var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0
`)

// TryLock implements openapi.SharedStore: SET lock owner NX PX lease, with a
// random owner value. The returned release function deletes the lock only if
// this owner still holds it; it may be called more than once.
func (s *Store) TryLock(ctx context.Context) (func(context.Context) error, bool, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, false, fmt.Errorf("redistoken: lock: %w", err)
	}
	owner := hex.EncodeToString(b[:])
	ok, err := s.rdb.SetNX(ctx, s.lockKey, owner, s.lease).Result()
	if err != nil {
		return nil, false, fmt.Errorf("redistoken: lock: %w", err)
	}
	if !ok {
		return nil, false, nil
	}
	release := func(ctx context.Context) error {
		if err := releaseScript.Run(ctx, s.rdb, []string{s.lockKey}, owner).Err(); err != nil {
			return fmt.Errorf("redistoken: unlock: %w", err)
		}
		return nil
	}
	return release, true, nil
}
