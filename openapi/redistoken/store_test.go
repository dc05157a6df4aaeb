package redistoken_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/wxgate/wxgate/openapi"
	"github.com/wxgate/wxgate/openapi/redistoken"
	"github.com/wxgate/wxgate/wechatsim"
)

// testRedis connects to the Redis named by WXGATE_TEST_REDIS and returns a
// key prefix unique to this test; keys under it are deleted afterwards.
func testRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	addr := os.Getenv("WXGATE_TEST_REDIS")
	if addr == "" {
		t.Skip("set WXGATE_TEST_REDIS=host:port (e.g. 127.0.0.1:6379) to run the Redis token store tests")
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("WXGATE_TEST_REDIS=%s: cannot reach Redis: %v", addr, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := fmt.Sprintf("wxgate-test:%s:%s:", t.Name(), hex.EncodeToString(b[:]))
	t.Cleanup(func() {
		iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		_ = rdb.Close()
	})
	return rdb, prefix
}

func TestStoreRoundTripAndCompareAndDelete(t *testing.T) {
	rdb, prefix := testRedis(t)
	ctx := context.Background()
	s := redistoken.New(rdb, "wxapp", redistoken.WithPrefix(prefix), redistoken.WithLease(time.Minute))
	if s.TokenKey() != prefix+"{wxapp}:token" || s.LockKey() != prefix+"{wxapp}:lock" || s.Lease() != time.Minute {
		t.Fatalf("keys %q %q lease %v", s.TokenKey(), s.LockKey(), s.Lease())
	}
	if _, ok, err := s.Load(ctx); ok || err != nil {
		t.Fatalf("empty store: ok=%v err=%v", ok, err)
	}
	issued := time.Date(2024, 4, 25, 0, 0, 0, 123e6, time.UTC)
	tok := openapi.NewToken("86_stored_value", issued, issued.Add(2*time.Hour))
	if err := s.Save(ctx, tok); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Load(ctx)
	if err != nil || !ok || got.Value() != tok.Value() || !got.IssuedAt().Equal(issued) || !got.ExpiresAt().Equal(tok.ExpiresAt()) {
		t.Fatalf("Load = %v ok=%v err=%v", got, ok, err)
	}
	if ttl := rdb.PTTL(ctx, s.TokenKey()).Val(); ttl <= 0 {
		t.Errorf("token key has no clean-up TTL: %v", ttl)
	}
	// Compare and delete: another value leaves it, the same value removes it.
	if err := s.Invalidate(ctx, openapi.NewToken("86_other", issued, issued)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Load(ctx); !ok {
		t.Fatal("Invalidate removed a token it did not match")
	}
	if err := s.Invalidate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Load(ctx); ok {
		t.Fatal("Invalidate kept the failed token")
	}
	// Garbage reads as absent, so the next refresh overwrites it.
	rdb.HSet(ctx, s.TokenKey(), "v", "x", "iat", "soon", "exp", "later")
	if _, ok, err := s.Load(ctx); ok || err != nil {
		t.Fatalf("garbage: ok=%v err=%v", ok, err)
	}
	if err := s.Save(ctx, openapi.Token{}); err == nil {
		t.Error("saved an empty token")
	}
}

func TestLeaseLockIsReleasedOnlyByItsOwner(t *testing.T) {
	rdb, prefix := testRedis(t)
	ctx := context.Background()
	a := redistoken.New(rdb, "wxapp", redistoken.WithPrefix(prefix))
	b := redistoken.New(rdb, "wxapp", redistoken.WithPrefix(prefix))
	releaseA, ok, err := a.TryLock(ctx)
	if err != nil || !ok {
		t.Fatalf("first lock: ok=%v err=%v", ok, err)
	}
	if ttl := rdb.PTTL(ctx, a.LockKey()).Val(); ttl <= 0 || ttl > redistoken.DefaultLease {
		t.Errorf("lock PTTL = %v, want the lease", ttl)
	}
	if _, ok, err := b.TryLock(ctx); ok || err != nil {
		t.Fatalf("second lock while held: ok=%v err=%v", ok, err)
	}
	// A's lease runs out (simulated) and B takes the lock; A's late release
	// must not free B's lock.
	rdb.Del(ctx, a.LockKey())
	releaseB, ok, err := b.TryLock(ctx)
	if err != nil || !ok {
		t.Fatalf("lock after expiry: ok=%v err=%v", ok, err)
	}
	if err := releaseA(ctx); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, a.LockKey()).Val(); n != 1 {
		t.Fatal("a stale owner released someone else's lock")
	}
	if err := releaseB(ctx); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, a.LockKey()).Val(); n != 0 {
		t.Fatal("owner could not release its lock")
	}
}

// instance is one process of a deployment: its own client, cache and store.
type instance struct {
	client *openapi.Client
	store  *redistoken.Store
}

// cluster is a mock Open API and three instances sharing one Redis store,
// with perInstance users each whose 48 h window is open.
type cluster struct {
	api   *wechatsim.OpenAPI
	clock *wechatsim.FakeClock
	insts []instance
	users []string
}

const perInstance = 50

func newCluster(t *testing.T, rdb *redis.Client, prefix string) *cluster {
	t.Helper()
	api := wechatsim.NewOpenAPI()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	c := &cluster{api: api, clock: api.FakeClock(), insts: make([]instance, 3)}
	for i := range c.insts {
		store := redistoken.New(rdb, wechatsim.DefaultAppID, redistoken.WithPrefix(prefix), redistoken.WithLease(5*time.Second))
		client, err := openapi.New(wechatsim.DefaultAppID, wechatsim.DefaultSecret,
			openapi.WithBaseURL(srv.URL),
			openapi.WithHTTPClient(srv.Client()),
			openapi.WithClock(c.clock.Now),
			openapi.WithSharedStore(store),
			openapi.WithStorePoll(2*time.Millisecond),
			openapi.WithBusyRetry(1, 0, 0),
		)
		if err != nil {
			t.Fatal(err)
		}
		c.insts[i] = instance{client: client, store: store}
	}
	c.users = make([]string, len(c.insts)*perInstance)
	for i := range c.users {
		c.users[i] = api.World().NewUser().OpenID
		api.World().NoteUserMessage(c.users[i], c.clock.Now()) // 5 messages within 48 h
	}
	return c
}

// storm makes every instance send from perInstance goroutines released at
// once; users[i] receives the message of goroutine i.
func (c *cluster) storm(t *testing.T, ctx context.Context, label string) {
	t.Helper()
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, to := range c.users {
		client := c.insts[i/perInstance].client
		wg.Go(func() {
			<-start
			if err := client.SendText(ctx, to, label); err != nil {
				t.Errorf("%s: send failed: %v", label, err)
			}
		})
	}
	close(start)
	wg.Wait()
}

// noTokenErrors fails if the mock ever answered custom/send with a token
// error: no call may have used a stale token, not even before a retry.
func (c *cluster) noTokenErrors(t *testing.T) {
	t.Helper()
	st := c.api.Stats()[wechatsim.PathCustomSend]
	for _, code := range []int{40001, 40014, 42001} {
		if n := st.ErrCodes[code]; n != 0 {
			t.Errorf("custom/send answered %d %d times", code, n)
		}
	}
}

func TestThreeInstancesOneFetchPerExpiry(t *testing.T) {
	rdb, prefix := testRedis(t)
	c := newCluster(t, rdb, prefix)
	c.api.SetLatency(5 * time.Millisecond) // widen the race between instances
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	c.storm(t, ctx, "cold start")
	if n := c.api.StableTokenFetches(); n != 1 {
		t.Fatalf("cold start: %d token fetches, want 1", n)
	}
	for i := range 2 {
		c.clock.Advance(wechatsim.TokenLifetime) // the token has expired
		c.storm(t, ctx, fmt.Sprint("after expiry ", i+1))
		if n := c.api.StableTokenFetches(); n != 2+i {
			t.Fatalf("after expiry %d: %d token fetches, want %d", i+1, n, 2+i)
		}
	}

	// Refresh ahead: inside the last minutes every instance still serves the
	// old token and renews behind; the renewals meet in Redis.
	old, _ := c.insts[0].client.Token(ctx)
	c.clock.Set(old.ExpiresAt().Add(-2 * time.Minute))
	c.storm(t, ctx, "refresh ahead")
	for _, in := range c.insts {
		for {
			tok, err := in.client.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tok.Value() != old.Value() {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatal("instance never picked up the renewed token")
			case <-time.After(2 * time.Millisecond):
			}
		}
	}
	if n := c.api.StableTokenFetches(); n != 4 {
		t.Fatalf("refresh ahead: %d token fetches, want 4", n)
	}
	c.noTokenErrors(t)
	var fetches int64
	for _, in := range c.insts {
		fetches += in.client.TokenCache().Stats().Fetches
		if st := in.client.TokenCache().Stats(); st.StoreErrors != 0 {
			t.Errorf("store errors: %+v", st)
		}
	}
	if fetches != 4 {
		t.Errorf("instances fetched %d times in total, want 4", fetches)
	}
}

func TestRevokedTokenAcrossInstancesOneFetch(t *testing.T) {
	rdb, prefix := testRedis(t)
	c := newCluster(t, rdb, prefix)
	c.api.SetLatency(2 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.storm(t, ctx, "warm up")
	sends := c.api.Stats()[wechatsim.PathCustomSend].Calls

	// Every instance holds the token WeChat now rejects. Each invalidates it
	// (compare and swap in the cache, compare and delete in Redis), the
	// instances meet at the lease, and one fetch serves them all.
	c.api.RevokeTokens()
	c.storm(t, ctx, "after revocation")
	if n := c.api.StableTokenFetches(); n != 2 {
		t.Errorf("%d token fetches, want 2 (one before, one after the revocation)", n)
	}
	st := c.api.Stats()[wechatsim.PathCustomSend]
	if n := st.Calls - sends; n > 2*len(c.users) {
		t.Errorf("custom/send calls = %d, want at most %d (one retry per call)", n, 2*len(c.users))
	}
	if st.ErrCodes[40001] == 0 {
		t.Error("the mock never rejected the revoked token: the test proves nothing")
	}
	for _, in := range c.insts {
		if st := in.client.TokenCache().Stats(); st.Invalidations != 1 || st.StoreErrors != 0 {
			t.Errorf("stats = %+v, want exactly one invalidation per instance", st)
		}
	}
}

// stuckSource plays a process that took the lease and hangs in its fetch:
// entered is closed when the fetch starts; the fetch fails when release is
// closed.
type stuckSource struct {
	entered, release chan struct{}
}

func (s stuckSource) FetchToken(context.Context) (openapi.Token, error) {
	close(s.entered)
	<-s.release
	return openapi.Token{}, errors.New("process died")
}

func TestDeadLockHolderBlocksOnlyUntilLeaseEnds(t *testing.T) {
	rdb, prefix := testRedis(t)
	c := newCluster(t, rdb, prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.storm(t, ctx, "warm up")
	c.clock.Advance(wechatsim.TokenLifetime)

	// A fourth process starts refreshing (takes the lease) and hangs mid-
	// fetch, as if killed: it neither saves nor releases.
	const lease = 300 * time.Millisecond
	stuck := stuckSource{entered: make(chan struct{}), release: make(chan struct{})}
	holderStore := redistoken.New(rdb, wechatsim.DefaultAppID, redistoken.WithPrefix(prefix), redistoken.WithLease(lease))
	holder, err := openapi.New("", "", openapi.WithTokenSource(stuck), openapi.WithSharedStore(holderStore),
		openapi.WithClock(c.clock.Now), openapi.WithFetchTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	holderDone := make(chan error, 1)
	go func() { _, err := holder.Token(context.Background()); holderDone <- err }()
	<-stuck.entered
	if ttl := rdb.PTTL(ctx, holderStore.LockKey()).Val(); ttl <= 0 || ttl > lease {
		t.Fatalf("lock PTTL = %v, want the holder's lease of %v", ttl, lease)
	}

	// The others wait no longer than the lease (they would wait for their
	// fetch timeout, a minute, if the lease did not run out).
	began := time.Now()
	c.storm(t, ctx, "after the holder died")
	t.Logf("recovered %v after the holder died (lease %v)", time.Since(began).Round(time.Millisecond), lease)
	if n := c.api.StableTokenFetches(); n != 2 {
		t.Fatalf("%d token fetches, want 2 (one before, one after the dead holder)", n)
	}
	c.noTokenErrors(t)
	if got := len(c.api.SentMessages(c.users[0])); got != 2 {
		t.Errorf("user got %d messages, want 2", got)
	}

	// The stuck process wakes up while someone else holds the lease: its
	// release must leave that lease alone.
	other := redistoken.New(rdb, wechatsim.DefaultAppID, redistoken.WithPrefix(prefix), redistoken.WithLease(time.Minute))
	releaseOther, ok, err := other.TryLock(ctx)
	if err != nil || !ok {
		t.Fatalf("lock after recovery: ok=%v err=%v", ok, err)
	}
	close(stuck.release)
	if err := <-holderDone; err == nil {
		t.Error("the stuck holder reported success")
	}
	if n := rdb.Exists(ctx, other.LockKey()).Val(); n != 1 {
		t.Error("the stale holder released a lease it no longer owned")
	}
	if err := releaseOther(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestStoreDownFallsBackToLocalFetch(t *testing.T) {
	api := wechatsim.NewOpenAPI()
	srv := httptest.NewServer(api)
	defer srv.Close()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	c, err := openapi.New(wechatsim.DefaultAppID, wechatsim.DefaultSecret,
		openapi.WithBaseURL(srv.URL), openapi.WithClock(api.FakeClock().Now),
		openapi.WithSharedStore(redistoken.New(rdb, wechatsim.DefaultAppID)))
	if err != nil {
		t.Fatal(err)
	}
	user := api.World().NewUser().OpenID
	api.World().NoteUserMessage(user, api.FakeClock().Now())
	if err := c.SendText(context.Background(), user, "Redis is down"); err != nil {
		t.Fatal(err)
	}
	if st := c.TokenCache().Stats(); st.StoreErrors == 0 || st.Fetches != 1 {
		t.Errorf("stats = %+v, want store errors and one fetch", st)
	}
}
