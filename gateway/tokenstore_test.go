package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/wxgate/wxgate/openapi"
	"github.com/wxgate/wxgate/openapi/redistoken"
	"github.com/wxgate/wxgate/store"
	"github.com/wxgate/wxgate/store/postgres"
	"github.com/wxgate/wxgate/store/sqlite"
	"github.com/wxgate/wxgate/wechatsim"
)

// tokenBackend opens the OutboundStore a TokenStore test runs on.
func tokenBackend(t *testing.T, backend string) store.OutboundStore {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "wxgate.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if backend == "fake" {
		return newFakeOutbound(st)
	}
	var s any = st
	return s.(store.OutboundStore)
}

// Three replicas, each with its own client and cache, share the token
// through the store: 50 goroutines across them cause one fetch per
// expiry at the mock.
func TestTokenStoreOneFetchPerExpiry(t *testing.T) {
	for _, backend := range outboundBackends() {
		t.Run(backend, func(t *testing.T) {
			out := tokenBackend(t, backend)
			oneFetchPerExpiry(t, func(int) openapi.SharedStore { return NewTokenStore(out, wechatsim.DefaultAppID) })
		})
	}
}

// The same with real replicas: three stores (each its own connection
// pool) on one PostgreSQL schema, or three Redis clients.
func TestReplicasShareOneTokenFetch(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		url := os.Getenv("WXGATE_TEST_POSTGRES")
		if url == "" {
			t.Skip("set WXGATE_TEST_POSTGRES (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the shared-token test on PostgreSQL")
		}
		schema := "wxgate_test_tok_" + randomHex(6)
		t.Cleanup(func() {
			if conn, err := pgx.Connect(context.Background(), url); err == nil {
				conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
				conn.Close(context.Background())
			}
		})
		var replicas []store.OutboundStore
		for range 3 {
			st, err := postgres.Open(context.Background(), postgres.Options{URL: url, Schema: schema})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			var s any = st
			replicas = append(replicas, s.(store.OutboundStore))
		}
		oneFetchPerExpiry(t, func(i int) openapi.SharedStore { return NewTokenStore(replicas[i], wechatsim.DefaultAppID) })
	})
	t.Run("redis", func(t *testing.T) {
		addr := os.Getenv("WXGATE_TEST_REDIS")
		if addr == "" {
			t.Skip("set WXGATE_TEST_REDIS=host:port (e.g. 127.0.0.1:6379) to run the shared-token test on Redis")
		}
		prefix := "wxgate:test:" + randomHex(6) + ":"
		var replicas []openapi.SharedStore
		for range 3 {
			rdb := redis.NewClient(&redis.Options{Addr: addr})
			t.Cleanup(func() { rdb.Close() })
			replicas = append(replicas, redistoken.New(rdb, wechatsim.DefaultAppID, redistoken.WithPrefix(prefix)))
		}
		t.Cleanup(func() {
			rdb := redis.NewClient(&redis.Options{Addr: addr})
			defer rdb.Close()
			if keys, err := rdb.Keys(context.Background(), prefix+"*").Result(); err == nil && len(keys) > 0 {
				rdb.Del(context.Background(), keys...)
			}
		})
		oneFetchPerExpiry(t, func(i int) openapi.SharedStore { return replicas[i] })
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// oneFetchPerExpiry runs three replicas (clients with the shared store of
// replica i) against a mock on a fake clock: a burst of 50 goroutines
// across them, then two more after an expiry each; the mock sees one
// token fetch per burst.
func oneFetchPerExpiry(t *testing.T, shared func(replica int) openapi.SharedStore) {
	t.Helper()
	clock := wechatsim.NewFakeClock(time.Time{})
	mock := wechatsim.NewOpenAPI(wechatsim.WithClock(clock))
	srv := mock.Start()
	defer srv.Close()
	var replicas []*openapi.Client
	for i := range 3 {
		c, err := openapi.New(wechatsim.DefaultAppID, wechatsim.DefaultSecret, openapi.WithBaseURL(srv.URL),
			openapi.WithClock(clock.Now), openapi.WithStorePoll(time.Millisecond), openapi.WithSharedStore(shared(i)))
		if err != nil {
			t.Fatal(err)
		}
		replicas = append(replicas, c)
	}
	burst := func() map[string]bool {
		var mu sync.Mutex
		seen := map[string]bool{}
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				tok, err := replicas[i%3].Token(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seen[tok.Value()] = true
				mu.Unlock()
			})
		}
		wg.Wait()
		return seen
	}
	for n := 1; n <= 3; n++ {
		if seen := burst(); len(seen) != 1 || mock.StableTokenFetches() != n {
			t.Fatalf("burst %d: %d tokens, %d fetches at the mock, want 1 and %d", n, len(seen), mock.StableTokenFetches(), n)
		}
		clock.Advance(wechatsim.TokenLifetime) // past the expiry
	}
}

// The adapter keeps the token's value and times, deletes only the token
// that failed, and leases to one owner at a time.
func TestTokenStoreContract(t *testing.T) {
	for _, backend := range outboundBackends() {
		t.Run(backend, func(t *testing.T) {
			out := tokenBackend(t, backend)
			ctx := context.Background()
			s := NewTokenStore(out, "wx0123456789abcdef")
			if _, ok, err := s.Load(ctx); ok || err != nil {
				t.Fatalf("empty store: %v %v", ok, err)
			}
			issued := time.Now().Truncate(time.Millisecond)
			tok := openapi.NewToken("token-one", issued, issued.Add(2*time.Hour))
			if err := s.Save(ctx, tok); err != nil {
				t.Fatal(err)
			}
			got, ok, err := s.Load(ctx)
			if !ok || err != nil || got.Value() != "token-one" || !got.IssuedAt().Equal(issued) || !got.ExpiresAt().Equal(issued.Add(2*time.Hour)) {
				t.Fatalf("load: %v %v %v", got, ok, err)
			}
			if err := s.Invalidate(ctx, openapi.NewToken("another", issued, issued)); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := s.Load(ctx); !ok {
				t.Fatal("invalidating another token deleted this one")
			}
			if err := s.Invalidate(ctx, tok); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := s.Load(ctx); ok {
				t.Fatal("the failed token survived")
			}
			release, ok, err := s.TryLock(ctx)
			if !ok || err != nil {
				t.Fatalf("lock: %v %v", ok, err)
			}
			if _, ok, _ := s.TryLock(ctx); ok {
				t.Fatal("a second owner got the lease")
			}
			if err := release(ctx); err != nil {
				t.Fatal(err)
			}
			if release2, ok, _ := s.TryLock(ctx); !ok {
				t.Fatal("the lease was not released")
			} else {
				release2(ctx)
			}
			if str := fmt.Sprint(s); strings.Contains(str, "token-one") {
				t.Fatal(str)
			}
		})
	}
}
