package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wxgate/wxgate/store"
)

// fakeOutbound adds a small in-memory store.OutboundStore to a store, for
// the tests that run before (or besides) the real backends' one.
type fakeOutbound struct {
	store.Store
	now    func() time.Time
	mu     sync.Mutex
	recs   []store.Outbound
	idem   map[[2]string]*fakeIdem
	tokens map[string]store.StoredToken
	leases map[string]fakeLease
}

type fakeIdem struct {
	hash     string
	done     bool
	status   int
	response []byte
	claimed  time.Time
	expires  time.Time
}

type fakeLease struct {
	owner string
	until time.Time
}

var _ store.OutboundStore = (*fakeOutbound)(nil)

func newFakeOutbound(st store.Store) *fakeOutbound {
	return &fakeOutbound{Store: st, now: time.Now, idem: map[[2]string]*fakeIdem{}, tokens: map[string]store.StoredToken{},
		leases: map[string]fakeLease{}}
}

func (f *fakeOutbound) RecordOutbound(_ context.Context, o store.Outbound) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if o.ID == "" {
		var b [16]byte
		rand.Read(b[:])
		o.ID = "out_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	}
	o.CreatedAt = o.CreatedAt.UTC().Truncate(time.Microsecond)
	o.Request = slices.Clone(o.Request)
	f.recs = append(f.recs, o)
	return o.ID, nil
}

func (f *fakeOutbound) ListOutbound(_ context.Context, flt store.OutboundFilter, cursor string) ([]store.Outbound, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var sel []store.Outbound
	for _, o := range f.recs {
		if (flt.App == "" || o.App == flt.App) && (flt.OpenID == "" || o.OpenID == flt.OpenID) &&
			(flt.Since.IsZero() || !o.CreatedAt.Before(flt.Since)) && (flt.Until.IsZero() || o.CreatedAt.Before(flt.Until)) {
			sel = append(sel, o)
		}
	}
	slices.SortFunc(sel, func(a, b store.Outbound) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	off := 0
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 || n > len(sel) {
			return nil, "", store.ErrInvalidCursor
		}
		off = n
	}
	limit := flt.Limit
	if limit == 0 {
		limit = store.DefaultListLimit
	}
	end := min(off+limit, len(sel))
	next := ""
	if end < len(sel) {
		next = strconv.Itoa(end)
	}
	return sel[off:end], next, nil
}

func (f *fakeOutbound) ClaimIdempotency(_ context.Context, scope, key, hash string, expires time.Time) (store.IdempotencyRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	k := [2]string{scope, key}
	if e := f.idem[k]; e != nil && now.Before(e.expires) {
		switch {
		case e.hash != hash:
			return store.IdempotencyRecord{State: store.IdempotencyMismatch}, nil
		case e.done:
			return store.IdempotencyRecord{State: store.IdempotencyDone, Status: e.status, Response: slices.Clone(e.response)}, nil
		case now.Sub(e.claimed) < time.Minute:
			return store.IdempotencyRecord{State: store.IdempotencyInFlight}, nil
		}
	}
	f.idem[k] = &fakeIdem{hash: hash, claimed: now, expires: expires}
	return store.IdempotencyRecord{State: store.IdempotencyNew}, nil
}

func (f *fakeOutbound) CompleteIdempotency(_ context.Context, scope, key string, status int, response []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e := f.idem[[2]string{scope, key}]; e != nil {
		e.done, e.status, e.response = true, status, slices.Clone(response)
		return nil
	}
	return store.ErrNotFound
}

func (f *fakeOutbound) ReleaseIdempotency(_ context.Context, scope, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.idem, [2]string{scope, key})
	return nil
}

func (f *fakeOutbound) ClaimAway(context.Context, string, string, time.Time) (bool, error) {
	return true, nil
}

func (f *fakeOutbound) LoadToken(_ context.Context, app string) (store.StoredToken, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tokens[app]
	return t, ok, nil
}

func (f *fakeOutbound) SaveToken(_ context.Context, app string, tok store.StoredToken) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens[app] = tok
	return nil
}

func (f *fakeOutbound) InvalidateToken(_ context.Context, app, value string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tokens[app].Value == value {
		delete(f.tokens, app)
	}
	return nil
}

func (f *fakeOutbound) TryTokenLease(_ context.Context, app, owner string, ttl time.Duration) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	if l, ok := f.leases[app]; ok && l.owner != owner && now.Before(l.until) {
		return false, nil
	}
	f.leases[app] = fakeLease{owner: owner, until: now.Add(ttl)}
	return true, nil
}

func (f *fakeOutbound) ReleaseTokenLease(_ context.Context, app, owner string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.leases[app].owner == owner {
		delete(f.leases, app)
	}
	return nil
}

func (f *fakeOutbound) DeleteOutboundBefore(context.Context, time.Time) (int64, error) { return 0, nil }
