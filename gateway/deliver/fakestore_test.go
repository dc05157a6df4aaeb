package deliver_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxgate/wxgate/store"
)

// fakeStore is an in-memory store.DeliveryStore that keeps the interface's
// promises as the SQL backends do: a claim leases a due pending delivery
// to one owner until now+lease and counts the attempt; an outcome is
// recorded only for the current attempt of a delivery its owner still
// holds; an expired lease makes the delivery due again; ReleaseLeases
// makes an owner's deliveries due at once and gives back the attempt they
// were claimed for; bad input (ids, limits, two outcomes for one delivery)
// is store.ErrInvalid.
type fakeStore struct {
	now func() time.Time

	mu       sync.Mutex
	rows     []*fakeRow
	attempts []store.Attempt
	failNext int // the next failNext Cycles fail without changing anything
	cycles   map[string]int
	ignored  int // outcomes refused by the owner check
	maxBatch int // the most outcomes one Cycle recorded
}

type fakeRow struct {
	d          store.Delivery
	c          store.Claimed // MsgType, Event, OpenID, Payload of the message
	owner      string
	leaseUntil time.Time
}

func newFakeStore() *fakeStore {
	return &fakeStore{now: time.Now, cycles: map[string]int{}}
}

var errFakeDown = errors.New("fake store: down")

// add stores one message with a pending delivery to each destination.
func (s *fakeStore) add(id, app, msgType, event string, payload []byte, dests ...string) {
	if !store.ValidID(id) {
		panic("fake store: not a message id: " + id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, d := range dests {
		s.rows = append(s.rows, &fakeRow{
			d: store.Delivery{MessageID: id, App: app, Destination: d, State: store.Pending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now},
			c: store.Claimed{MessageID: id, App: app, Destination: d, MsgType: msgType, Event: event, OpenID: "o_user", Payload: payload},
		})
	}
}

// addN adds n text messages m0..m(n-1) (with prefix) for dests and returns their ids.
func (s *fakeStore) addN(prefix string, n int, dests ...string) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = store.MessageID("default", prefix+strconv.Itoa(i))
		s.add(ids[i], "default", "text", "", payloadFor(ids[i]), dests...)
	}
	return ids
}

func payloadFor(id string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"app":"default","appid":"wx1","openid":"o_user","msg_type":"text","event":"","create_time":1795000000,"received_at":"2026-11-29T08:00:00.123Z","message":{"MsgType":"text","Content":"hi","MsgId":9223372036854775807}}`, id)
}

func (s *fakeStore) Cycle(ctx context.Context, destination, owner string, finished []store.Outcome, limit int, lease time.Duration) ([]store.Claimed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if destination == "" || owner == "" || limit < 0 || limit > store.MaxCycle || (limit > 0 && lease <= 0) || len(finished) > store.MaxCycle {
		return nil, fmt.Errorf("%w: cycle arguments", store.ErrInvalid)
	}
	seen := map[string]bool{}
	for _, o := range finished {
		k := o.Attempt.MessageID + "\x00" + o.Attempt.Destination
		if !store.ValidID(o.Attempt.MessageID) || o.Attempt.N < 1 || o.Attempt.Destination == "" || seen[k] {
			return nil, fmt.Errorf("%w: outcome %+v", store.ErrInvalid, o.Attempt)
		}
		seen[k] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext > 0 {
		s.failNext--
		return nil, errFakeDown
	}
	s.cycles[destination]++
	s.maxBatch = max(s.maxBatch, len(finished))
	now := s.now()
	for _, o := range finished {
		r := s.find(o.Attempt.MessageID, o.Attempt.Destination)
		if r == nil || r.owner != owner || r.d.State != store.Pending || r.d.Attempts != o.Attempt.N {
			s.ignored++
			continue
		}
		s.attempts = append(s.attempts, o.Attempt)
		r.owner, r.leaseUntil = "", time.Time{}
		r.d.UpdatedAt = now
		r.d.LastError = o.Attempt.Error
		switch {
		case o.Done:
			r.d.State, r.d.DeliveredAt = store.Done, now
		case o.Dead:
			r.d.State = store.Dead
		default:
			r.d.NextAttemptAt = o.RetryAt
			if o.RetryAt.IsZero() {
				r.d.NextAttemptAt = now
			}
		}
	}
	var due []*fakeRow
	for _, r := range s.rows {
		if r.d.Destination == destination && r.d.State == store.Pending && !r.d.NextAttemptAt.After(now) &&
			(r.owner == "" || !r.leaseUntil.After(now)) {
			due = append(due, r)
		}
	}
	slices.SortStableFunc(due, func(a, b *fakeRow) int { return a.d.NextAttemptAt.Compare(b.d.NextAttemptAt) })
	var out []store.Claimed
	for _, r := range due[:min(limit, len(due))] {
		r.owner, r.leaseUntil = owner, now.Add(lease)
		r.d.NextAttemptAt = r.leaseUntil
		r.d.Attempts++
		r.d.UpdatedAt = now
		c := r.c
		c.Attempt = r.d.Attempts
		out = append(out, c)
	}
	return out, nil
}

func (s *fakeStore) find(id, dest string) *fakeRow {
	for _, r := range s.rows {
		if r.d.MessageID == id && r.d.Destination == dest {
			return r
		}
	}
	return nil
}

func (s *fakeStore) ReleaseLeases(ctx context.Context, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.rows {
		if r.owner == owner && r.d.State == store.Pending {
			r.owner, r.leaseUntil = "", time.Time{}
			r.d.NextAttemptAt = s.now()
			r.d.Attempts = max(r.d.Attempts-1, 0)
		}
	}
	return nil
}

func (s *fakeStore) Deliveries(_ context.Context, id string) ([]store.Delivery, []store.Attempt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ds []store.Delivery
	for _, r := range s.rows {
		if r.d.MessageID == id {
			ds = append(ds, r.d)
		}
	}
	if ds == nil {
		return nil, nil, store.ErrNotFound
	}
	var as []store.Attempt
	for _, a := range s.attempts {
		if a.MessageID == id {
			as = append(as, a)
		}
	}
	return ds, as, nil
}

func (s *fakeStore) DeadLetters(_ context.Context, f store.DeadFilter, cursor string) ([]store.Delivery, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var dead []store.Delivery
	for _, r := range slices.Backward(s.rows) {
		if r.d.State == store.Dead && (f.App == "" || f.App == r.d.App) && (f.Destination == "" || f.Destination == r.d.Destination) {
			dead = append(dead, r.d)
		}
	}
	from := 0
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 || n > len(dead) {
			return nil, "", store.ErrInvalidCursor
		}
		from = n
	}
	limit := f.Limit
	if limit == 0 {
		limit = store.DefaultListLimit
	}
	to := min(from+limit, len(dead))
	next := ""
	if to < len(dead) {
		next = strconv.Itoa(to)
	}
	return dead[from:to], next, nil
}

func (s *fakeStore) redeliver(match func(*fakeRow) bool) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, r := range s.rows {
		if match(r) {
			r.d.State, r.d.NextAttemptAt, r.owner = store.Pending, s.now(), ""
			n++
		}
	}
	return n
}

func (s *fakeStore) Redeliver(_ context.Context, id, dest string) (int64, error) {
	n := s.redeliver(func(r *fakeRow) bool { return r.d.MessageID == id && (dest == "" || r.d.Destination == dest) })
	if n == 0 {
		return 0, store.ErrNotFound
	}
	return n, nil
}

func (s *fakeStore) RedeliverDead(_ context.Context, dest string) (int64, error) {
	return s.redeliver(func(r *fakeRow) bool { return r.d.State == store.Dead && (dest == "" || r.d.Destination == dest) }), nil
}

func (s *fakeStore) DeliveryStats(context.Context) ([]store.DestinationStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	by := map[string]*store.DestinationStats{}
	var names []string
	for _, r := range s.rows {
		st := by[r.d.Destination]
		if st == nil {
			st = &store.DestinationStats{Destination: r.d.Destination}
			by[r.d.Destination] = st
			names = append(names, r.d.Destination)
		}
		switch r.d.State {
		case store.Pending:
			st.Pending++
			if st.OldestPending.IsZero() || r.d.CreatedAt.Before(st.OldestPending) {
				st.OldestPending = r.d.CreatedAt
			}
		case store.Dead:
			st.Dead++
		}
	}
	out := make([]store.DestinationStats, 0, len(names))
	for _, n := range names {
		out = append(out, *by[n])
	}
	return out, nil
}

var _ store.DeliveryStore = (*fakeStore)(nil)

// snapshot returns a copy of the row of (id, dest).
func (s *fakeStore) row(id, dest string) fakeRow {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.find(id, dest); r != nil {
		return *r
	}
	return fakeRow{}
}

// count returns how many deliveries of dest are in state.
func (s *fakeStore) count(dest string, state store.DeliveryState) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.rows {
		if r.d.Destination == dest && r.d.State == state {
			n++
		}
	}
	return n
}

func (s *fakeStore) cyclesOf(dest string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cycles[dest]
}

func (s *fakeStore) leased() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.rows {
		if r.owner != "" {
			n++
		}
	}
	return n
}

func (s *fakeStore) attemptsOf(id, dest string) []store.Attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Attempt
	for _, a := range s.attempts {
		if a.MessageID == id && a.Destination == dest {
			out = append(out, a)
		}
	}
	return out
}

// offsetClock is time.Now moved forward by what a test adds.
type offsetClock struct{ off atomic.Int64 }

func (c *offsetClock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *offsetClock) advance(d time.Duration) { c.off.Add(int64(d)) }

// waitFor fails the test when cond has not held within a generous limit:
// a broken engine, not a slow one, is what it catches.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// The fake keeps the interface's promises that the engine relies on.
func TestFakeStoreLeases(t *testing.T) {
	ctx := context.Background()
	clock := &offsetClock{}
	s := newFakeStore()
	s.now = clock.now
	s.addN("m", 2, "d")
	got, err := s.Cycle(ctx, "d", "a", nil, 1, time.Minute)
	if err != nil || len(got) != 1 || got[0].Attempt != 1 {
		t.Fatalf("claim: %v %+v", err, got)
	}
	if again, _ := s.Cycle(ctx, "d", "b", nil, 5, time.Minute); len(again) != 1 || again[0].MessageID == got[0].MessageID {
		t.Fatalf("a leased delivery was claimed again: %+v", again)
	}
	// Another owner cannot report it.
	if _, err := s.Cycle(ctx, "d", "b", []store.Outcome{{Attempt: store.Attempt{MessageID: got[0].MessageID, Destination: "d", N: 1}, Done: true}}, 0, 0); err != nil {
		t.Fatal(err)
	}
	if r := s.row(got[0].MessageID, "d"); r.d.State != store.Pending || s.ignored != 1 {
		t.Fatalf("foreign outcome recorded: %+v", r.d)
	}
	// After the lease, another owner takes it, as attempt 2.
	clock.advance(2 * time.Minute)
	if again, _ := s.Cycle(ctx, "d", "b", nil, 5, time.Minute); len(again) != 2 || again[0].Attempt != 2 {
		t.Fatalf("expired lease: %+v", again)
	}
	if err := s.ReleaseLeases(ctx, "b"); err != nil || s.leased() != 0 {
		t.Fatalf("release: %v, %d leased", err, s.leased())
	}
	if r := s.row(got[0].MessageID, "d"); r.d.Attempts != 1 || r.d.NextAttemptAt.After(clock.now()) {
		t.Fatalf("released: %+v", r.d)
	}
	// An outcome for another attempt than the current one is not recorded.
	again, _ := s.Cycle(ctx, "d", "a", nil, 1, time.Minute)
	s.Cycle(ctx, "d", "a", []store.Outcome{{Attempt: store.Attempt{MessageID: again[0].MessageID, Destination: "d", N: again[0].Attempt - 1}, Done: true}}, 0, 0)
	if r := s.row(again[0].MessageID, "d"); r.d.State != store.Pending || s.ignored != 2 {
		t.Fatalf("stale outcome recorded: %+v", r.d)
	}
	two := []store.Outcome{{Attempt: store.Attempt{MessageID: again[0].MessageID, Destination: "d", N: 2}}, {Attempt: store.Attempt{MessageID: again[0].MessageID, Destination: "d", N: 2}}}
	if _, err := s.Cycle(ctx, "d", "a", two, 0, 0); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("two outcomes for one delivery: %v", err)
	}
	if _, err := s.Cycle(ctx, "d", "", nil, 1, time.Minute); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("no owner: %v", err)
	}
}
