package openapi

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wxgate/wxgate/wechatsim"
)

// memStore is an in-memory SharedStore for tests that need no Redis.
type memStore struct {
	mu      sync.Mutex
	tok     Token
	has     bool
	locked  bool
	loadErr error
	loads   int
}

func (m *memStore) Load(context.Context) (Token, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads++
	return m.tok, m.has, m.loadErr
}

func (m *memStore) Save(_ context.Context, tok Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tok, m.has = tok, true
	return nil
}

func (m *memStore) Invalidate(_ context.Context, failed Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.has && m.tok.Value() == failed.Value() {
		m.tok, m.has = Token{}, false
	}
	return nil
}

func (m *memStore) TryLock(context.Context) (func(context.Context) error, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locked {
		return nil, false, nil
	}
	m.locked = true
	return func(context.Context) error { m.unlock(); return nil }, true, nil
}

func (m *memStore) unlock() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.locked = false
}

func TestSharedStoreAcrossCaches(t *testing.T) {
	s := newSim(t)
	store := &memStore{}
	ctx := context.Background()
	a := s.client(t, WithSharedStore(store), WithStorePoll(time.Millisecond))
	b := s.client(t, WithSharedStore(store), WithStorePoll(time.Millisecond))
	ta, err := a.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := b.Token(ctx)
	if err != nil || tb.Value() != ta.Value() {
		t.Fatalf("b did not read a's token: %v", err)
	}
	if n := s.api.StableTokenFetches(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}
	if st := b.TokenCache().Stats(); st.StoreHits != 1 || st.Fetches != 0 {
		t.Errorf("b stats = %+v", st)
	}

	// Revocation seen by both: a invalidates (CAS in the store too) and
	// fetches; b's invalidation finds the new token in the store.
	s.api.RevokeTokens()
	openid := s.user()
	if err := a.SendText(ctx, openid, "a"); err != nil {
		t.Fatal(err)
	}
	if err := b.SendText(ctx, openid, "b"); err != nil {
		t.Fatal(err)
	}
	if n := s.api.StableTokenFetches(); n != 2 {
		t.Fatalf("fetches after revocation = %d, want 2", n)
	}

	// Another process holds the lease: the expired cache waits, then takes
	// over when the lease is gone.
	s.clock.Advance(wechatsim.TokenLifetime)
	store.mu.Lock()
	store.locked = true
	store.mu.Unlock()
	done := make(chan error, 1)
	go func() { _, err := a.Token(ctx); done <- err }()
	for {
		store.mu.Lock()
		n := store.loads
		store.mu.Unlock()
		if n >= 10 { // a is polling
			break
		}
		time.Sleep(time.Millisecond)
	}
	store.unlock() // lease ran out
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := s.api.StableTokenFetches(); n != 3 {
		t.Fatalf("fetches = %d, want 3", n)
	}

	// Waiting honours the caller's context.
	s.clock.Advance(wechatsim.TokenLifetime)
	store.mu.Lock()
	store.locked = true
	store.mu.Unlock()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.Token(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	store.unlock()
	b.TokenCache().waitIdle()

	// A failing store degrades to a local fetch.
	store.mu.Lock()
	store.loadErr = errors.New("store down")
	store.mu.Unlock()
	s.clock.Advance(wechatsim.TokenLifetime)
	if _, err := a.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if st := a.TokenCache().Stats(); st.StoreErrors == 0 {
		t.Errorf("store error not counted: %+v", st)
	}
}

func TestSharedCacheAndRefreshAheadOption(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	first := s.client(t, WithRefreshAhead(time.Hour))
	// The shared cache brings its clock: the second client gets only the
	// transport options.
	second, err := New(wechatsim.DefaultAppID, "", WithBaseURL(s.srv.URL), WithHTTPClient(s.srv.Client()),
		WithTokenCache(first.TokenCache()))
	if err != nil {
		t.Fatal(err)
	}
	if second.TokenCache() != first.TokenCache() || second.AppID() != wechatsim.DefaultAppID {
		t.Fatal("WithTokenCache not applied")
	}
	tok, _ := first.Token(ctx)
	if got, _ := second.Token(ctx); got.Value() != tok.Value() {
		t.Fatal("clients sharing a cache got different tokens")
	}
	s.clock.Advance(wechatsim.TokenLifetime - time.Hour) // refresh point with a 1 h lead
	_, _ = second.Token(ctx)
	first.TokenCache().waitIdle()
	if n := s.api.StableTokenFetches(); n != 2 {
		t.Errorf("fetches = %d, want 2", n)
	}
}

func TestForceRefresh(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	src, err := NewStableTokenSource(wechatsim.DefaultAppID, wechatsim.DefaultSecret, s.sourceOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	if src.AppID() != wechatsim.DefaultAppID {
		t.Error("AppID")
	}
	c := s.client(t, WithTokenSource(src), WithFetchTimeout(5*time.Second))
	openid := s.user()
	old, _ := c.Token(ctx)
	fresh, err := src.ForceRefresh(ctx)
	if err != nil || fresh.Value() == old.Value() {
		t.Fatalf("ForceRefresh: err=%v same=%v", err, fresh.Value() == old.Value())
	}
	// The old token is now dead; the client recovers with one retry.
	if err := c.SendText(ctx, openid, "after rotation"); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Token(ctx); got.Value() != fresh.Value() {
		t.Error("cache did not pick up the rotated token")
	}
}
