package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/wxgate/wxgate/openapi"
	"github.com/wxgate/wxgate/store"
)

// TokenLease is how long a replica may hold the token-refresh lease of a
// TokenStore: the longest a replica that dies while refreshing holds up
// the others. It exceeds a token fetch (openapi.DefaultTimeout per
// attempt); a fetch that overruns it costs one extra fetch, nothing more.
const TokenLease = 15 * time.Second

// TokenStore is an openapi.SharedStore kept in the gateway's store
// (store.OutboundStore's token methods), so that the replicas of a
// gateway on PostgreSQL refresh an app's access token once between them
// without Redis. On SQLite, which serves one instance, it keeps the token
// across restarts.
type TokenStore struct {
	st    store.OutboundStore
	key   string
	lease time.Duration
}

var _ openapi.SharedStore = (*TokenStore)(nil)

// NewTokenStore returns the SharedStore of one app's token in st, under
// key (the app's AppID: apps that share an AppID share its token).
func NewTokenStore(st store.OutboundStore, key string) *TokenStore {
	return &TokenStore{st: st, key: key, lease: TokenLease}
}

// String names the store without the token.
func (s *TokenStore) String() string { return "gateway.TokenStore(" + s.key + ")" }

// Load implements openapi.SharedStore.
func (s *TokenStore) Load(ctx context.Context) (openapi.Token, bool, error) {
	t, ok, err := s.st.LoadToken(ctx, s.key)
	if err != nil || !ok || t.Value == "" {
		return openapi.Token{}, false, err
	}
	return openapi.NewToken(t.Value, t.IssuedAt, t.ExpiresAt), true, nil
}

// Save implements openapi.SharedStore.
func (s *TokenStore) Save(ctx context.Context, tok openapi.Token) error {
	if tok.IsZero() {
		return errors.New("gateway: TokenStore.Save: empty token")
	}
	return s.st.SaveToken(ctx, s.key, store.StoredToken{Value: tok.Value(), IssuedAt: tok.IssuedAt(), ExpiresAt: tok.ExpiresAt()})
}

// Invalidate implements openapi.SharedStore: compare and delete.
func (s *TokenStore) Invalidate(ctx context.Context, failed openapi.Token) error {
	if failed.IsZero() {
		return nil
	}
	return s.st.InvalidateToken(ctx, s.key, failed.Value())
}

// TryLock implements openapi.SharedStore with the store's lease, under an
// owner value of its own for each lock taken.
func (s *TokenStore) TryLock(ctx context.Context) (func(context.Context) error, bool, error) {
	var b [16]byte
	rand.Read(b[:])
	owner := hex.EncodeToString(b[:])
	ok, err := s.st.TryTokenLease(ctx, s.key, owner, s.lease)
	if err != nil || !ok {
		return nil, false, err
	}
	return func(ctx context.Context) error { return s.st.ReleaseTokenLease(ctx, s.key, owner) }, true, nil
}
