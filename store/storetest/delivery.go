package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxgate/wxgate/store"
)

// deliveryTests are the cases of the deliveries, run by Run.
var deliveryTests = []struct {
	name string
	fn   func(t *testing.T, db Opener)
}{
	{"DeliveriesOnAppend", testDeliveriesOnAppend},
	{"BadDestinations", testBadDestinations},
	{"CycleClaims", testCycleClaims},
	{"Outcomes", testOutcomes},
	{"StaleOwner", testStaleOwner},
	{"ReplicasClaimDisjoint", testReplicasClaimDisjoint},
	{"RetryAndDead", testRetryAndDead},
	{"Redeliver", testRedeliver},
	{"DeadLetterPaging", testDeadLetterPaging},
	{"DeliveryStats", testDeliveryStats},
	{"RetentionKeepsUndelivered", testRetentionKeepsUndelivered},
	{"ReleaseLeases", testReleaseLeases},
	{"BadCycleInput", testBadCycleInput},
	{"AttemptErrorsAreCleaned", testAttemptErrorsAreCleaned},
}

// clock is a test clock shared by the stores of a test.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(base.UnixNano())
	return c
}

func (c *clock) Now() time.Time                  { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Add(d time.Duration)             { c.ns.Add(int64(d)) }
func (c *clock) opts() store.Options             { return store.Options{Now: c.Now} }
func (c *clock) us() time.Time                   { return us(c.Now()) }
func (c *clock) after(d time.Duration) time.Time { return us(c.Now().Add(d)) }

// to returns msg with destinations.
func to(m store.NewMessage, dests ...string) store.NewMessage {
	m.Destinations = dests
	return m
}

func cycle(t *testing.T, s store.Store, dest, owner string, finished []store.Outcome, limit int, lease time.Duration) []store.Claimed {
	t.Helper()
	cl, err := s.Cycle(context.Background(), dest, owner, finished, limit, lease)
	if err != nil {
		t.Fatalf("Cycle(%s, %s): %v", dest, owner, err)
	}
	return cl
}

// attempt is the finished attempt of c, started at at.
func attempt(c store.Claimed, at time.Time, status int, errText string) store.Attempt {
	return store.Attempt{MessageID: c.MessageID, Destination: c.Destination, N: c.Attempt, StartedAt: at,
		Duration: 1500 * time.Microsecond, Status: status, Error: errText}
}

func done(c store.Claimed, at time.Time) store.Outcome {
	return store.Outcome{Attempt: attempt(c, at, 200, ""), Done: true}
}

func retry(c store.Claimed, at, retryAt time.Time, errText string) store.Outcome {
	return store.Outcome{Attempt: attempt(c, at, 503, errText), RetryAt: retryAt}
}

func dead(c store.Claimed, at time.Time, errText string) store.Outcome {
	return store.Outcome{Attempt: attempt(c, at, 500, errText), Dead: true}
}

func deliveries(t *testing.T, s store.Store, id string) ([]store.Delivery, []store.Attempt) {
	t.Helper()
	ds, as, err := s.Deliveries(context.Background(), id)
	if err != nil {
		t.Fatalf("Deliveries(%s): %v", id, err)
	}
	return ds, as
}

// delivery returns the delivery of message id to dest.
func delivery(t *testing.T, s store.Store, id, dest string) store.Delivery {
	t.Helper()
	ds, _ := deliveries(t, s, id)
	for _, d := range ds {
		if d.Destination == dest {
			return d
		}
	}
	t.Fatalf("message %s has no delivery to %s", id, dest)
	return store.Delivery{}
}

func ids(cl []store.Claimed) []string {
	out := make([]string, len(cl))
	for i, c := range cl {
		out[i] = c.MessageID
	}
	return out
}

func testDeliveriesOnAppend(t *testing.T, db Opener) {
	clk := newClock()
	s := open(t, db, clk.opts())
	ctx := context.Background()
	later := time.Now().Add(time.Hour)
	a := appendOne(t, s, withNonce(to(msg("shop", "msg:a"), "orders", "audit"), "n1", "x", later))
	wantStatus(t, a, store.Stored)
	clk.Add(time.Second)
	res, err := s.Append(ctx, []store.NewMessage{
		to(msg("shop", "msg:a"), "orders", "other"),                     // a duplicate: no delivery
		withNonce(to(msg("shop", "msg:r"), "orders"), "n1", "y", later), // a replay: nothing
		to(msg("shop", "msg:b"), "orders"),                              // stored
		to(msg("shop", "msg:b"), "audit"),                               // an in-batch duplicate
		msg("shop", "msg:none"),                                         // no destinations
	})
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	want := []store.Status{store.Duplicate, store.Replay, store.Stored, store.Duplicate, store.Stored}
	for i, r := range res {
		if r.Status != want[i] {
			t.Fatalf("result %d: %v, want %v", i, r.Status, want[i])
		}
	}
	ds, as := deliveries(t, s, a.ID)
	if len(ds) != 2 || len(as) != 0 {
		t.Fatalf("message a: %d deliveries and %d attempts, want 2 and 0", len(ds), len(as))
	}
	created := us(base)
	for i, name := range []string{"audit", "orders"} { // by creation, then name
		d := ds[i]
		if d.Destination != name || d.MessageID != a.ID || d.App != "shop" || d.State != store.Pending || d.Attempts != 0 ||
			!d.NextAttemptAt.Equal(created) || !d.CreatedAt.Equal(created) || !d.UpdatedAt.Equal(created) ||
			!d.DeliveredAt.IsZero() || d.LastError != "" {
			t.Fatalf("delivery %d: %+v", i, d)
		}
	}
	if ds, _ := deliveries(t, s, res[2].ID); len(ds) != 1 || ds[0].Destination != "orders" || !ds[0].CreatedAt.Equal(clk.us()) {
		t.Fatalf("message b: %+v, want one delivery to orders (the first of the batch)", ds)
	}
	if ds, as := deliveries(t, s, res[4].ID); len(ds) != 0 || len(as) != 0 || ds == nil {
		t.Fatalf("a message without destinations: %v %v, want empty lists", ds, as)
	}
	if _, err := s.Get(ctx, store.MessageID("shop", "msg:r")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the replay was stored: %v", err)
	}
	for _, id := range []string{store.MessageID("shop", "msg:r"), "msg_x", ""} {
		if _, _, err := s.Deliveries(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Deliveries(%q) = %v, want ErrNotFound", id, err)
		}
	}
	// Only the stored "orders" deliveries are due there.
	cl := cycle(t, s, "orders", "w", nil, 10, time.Minute)
	if !slices.Equal(ids(cl), []string{a.ID, res[2].ID}) {
		t.Fatalf("claimed %v, want a then b", ids(cl))
	}
	if cl := cycle(t, s, "other", "w", nil, 10, time.Minute); len(cl) != 0 {
		t.Fatalf("the duplicate's destination got %d deliveries", len(cl))
	}

	// The caller may reuse its slice once Append returned.
	dests := []string{"x1", "x2"}
	r := appendOne(t, s, to(msg("shop", "msg:c"), dests...))
	dests[0] = "changed"
	if ds, _ := deliveries(t, s, r.ID); len(ds) != 2 || ds[0].Destination != "x1" {
		t.Fatalf("deliveries %+v", ds)
	}
}

func testBadDestinations(t *testing.T, db Opener) {
	s := open(t, db, store.Options{})
	const secret = "oSecretOpenID"
	for _, tc := range []struct {
		name  string
		dests []string
	}{
		{"empty name", []string{"a", ""}},
		{"long name", []string{secret + strings.Repeat("d", store.MaxDestinationLen)}},
		{"repeated name", []string{"a", "b", "a"}},
		{"NUL", []string{secret + "\x00"}},
		{"invalid UTF-8", []string{secret + "\xff"}},
		{"too many", func() []string {
			var d []string
			for i := range store.MaxDestinations + 1 {
				d = append(d, fmt.Sprint("d", i))
			}
			return d
		}()},
	} {
		_, err := s.Append(context.Background(), []store.NewMessage{to(msg("default", "good"), "a"), to(msg("default", "bad"), tc.dests...)})
		if !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("%s: %v, want ErrInvalid", tc.name, err)
		}
		if strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "message 1") {
			t.Fatalf("%s: error %q must name the message and not the value", tc.name, err)
		}
	}
	if n := count(t, s, store.Filter{}); n != 0 {
		t.Fatalf("bad destinations stored %d messages", n)
	}
	max := make([]string, store.MaxDestinations)
	for i := range max {
		max[i] = fmt.Sprint(i, strings.Repeat("n", store.MaxDestinationLen-3))
	}
	r := appendOne(t, s, to(msg("default", "max"), max...))
	if ds, _ := deliveries(t, s, r.ID); len(ds) != store.MaxDestinations {
		t.Fatalf("%d deliveries, want %d", len(ds), store.MaxDestinations)
	}
}

func testCycleClaims(t *testing.T, db Opener) {
	clk := newClock()
	s := open(t, db, clk.opts())
	var want []store.NewMessage
	for i := range 5 {
		m := to(msg("app", fmt.Sprint("k", i)), "d", "e")
		m.MsgType, m.Event, m.OpenID = "event", fmt.Sprint("ev", i), fmt.Sprint("o", i)
		m.Payload = []byte(fmt.Sprintf(`{"n":%d}`, i))
		if i == 4 {
			m.Payload = nil
		}
		appendOne(t, s, m)
		want = append(want, m)
		clk.Add(time.Millisecond) // due oldest first
	}
	first := cycle(t, s, "d", "w1", nil, 3, time.Hour)
	second := cycle(t, s, "d", "w1", nil, 3, time.Hour)
	if len(first) != 3 || len(second) != 2 {
		t.Fatalf("claimed %d then %d, want 3 then 2", len(first), len(second))
	}
	for i, c := range append(first, second...) {
		m := want[i]
		if c.MessageID != store.MessageID(m.App, m.DedupKey) || c.App != m.App || c.Destination != "d" || c.MsgType != m.MsgType ||
			c.Event != m.Event || c.OpenID != m.OpenID || c.Attempt != 1 || string(c.Payload) != string(m.Payload) || (c.Payload == nil) != (m.Payload == nil) {
			t.Fatalf("claim %d: %+v, want message %d with its payload, attempt 1", i, c, i)
		}
	}
	// Leased: nobody gets them again before the lease ends.
	if cl := cycle(t, s, "d", "w2", nil, 10, time.Minute); len(cl) != 0 {
		t.Fatalf("leased deliveries claimed again: %v", ids(cl))
	}
	d := delivery(t, s, first[0].MessageID, "d")
	if d.State != store.Pending || d.Attempts != 1 || !d.NextAttemptAt.Equal(clk.after(time.Hour)) {
		t.Fatalf("claimed delivery %+v: want pending, 1 attempt, due when the lease ends", d)
	}
	// Another destination of the same messages is untouched.
	if cl := cycle(t, s, "e", "w1", nil, 10, time.Minute); len(cl) != 5 {
		t.Fatalf("destination e: %d claimed, want 5", len(cl))
	}
	// limit 0 claims nothing.
	appendOne(t, s, to(msg("app", "late"), "d"))
	if cl := cycle(t, s, "d", "w1", nil, 0, 0); len(cl) != 0 {
		t.Fatalf("limit 0 claimed %d", len(cl))
	}
	if cl := cycle(t, s, "d", "w1", nil, 1, time.Hour); len(cl) != 1 {
		t.Fatalf("the new delivery: %d claimed", len(cl))
	}
	// A delivery not yet due waits: retry it in a minute.
	clk.Add(time.Second)
	c := first[0]
	cycle(t, s, "d", "w1", []store.Outcome{retry(c, clk.Now(), clk.Now().Add(time.Minute), "busy")}, 0, 0)
	clk.Add(time.Minute - time.Microsecond)
	if cl := cycle(t, s, "d", "w1", nil, 10, time.Minute); len(cl) != 0 {
		t.Fatalf("claimed before it was due: %v", ids(cl))
	}
	clk.Add(time.Microsecond)
	if cl := cycle(t, s, "d", "w1", nil, 10, time.Minute); len(cl) != 1 || cl[0].MessageID != c.MessageID || cl[0].Attempt != 2 {
		t.Fatalf("due retry: %+v, want %s attempt 2", cl, c.MessageID)
	}
}

func testOutcomes(t *testing.T, db Opener) {
	clk := newClock()
	s := open(t, db, clk.opts())
	for i := range 3 {
		appendOne(t, s, to(msg("app", fmt.Sprint("k", i)), "d"))
	}
	cl := cycle(t, s, "d", "w", nil, 3, time.Minute)
	clk.Add(time.Second)
	t1 := clk.Now()
	clk.Add(time.Second)
	// Outcomes and a new claim in one call; the claim sees the retry due now.
	got := cycle(t, s, "d", "w", []store.Outcome{done(cl[0], t1), retry(cl[1], t1, time.Time{}, "503 Service Unavailable"), dead(cl[2], t1, "gone")}, 5, time.Minute)
	if len(got) != 1 || got[0].MessageID != cl[1].MessageID || got[0].Attempt != 2 {
		t.Fatalf("claimed %+v, want the retry (due now) as attempt 2", got)
	}
	now := clk.us()
	d0 := delivery(t, s, cl[0].MessageID, "d")
	if d0.State != store.Done || !d0.DeliveredAt.Equal(now) || !d0.UpdatedAt.Equal(now) || d0.Attempts != 1 || d0.LastError != "" {
		t.Fatalf("done: %+v", d0)
	}
	d2, as := deliveries(t, s, cl[2].MessageID)
	if d2[0].State != store.Dead || d2[0].LastError != "gone" || !d2[0].DeliveredAt.IsZero() || d2[0].Attempts != 1 {
		t.Fatalf("dead: %+v", d2[0])
	}
	wantA := store.Attempt{MessageID: cl[2].MessageID, Destination: "d", N: 1, StartedAt: us(t1), Duration: 1500 * time.Microsecond, Status: 500, Error: "gone"}
	if len(as) != 1 || as[0] != wantA {
		t.Fatalf("attempts %+v, want [%+v]", as, wantA)
	}
	// A retry that then succeeds keeps its last error; attempts list in order.
	clk.Add(time.Second)
	t2 := clk.Now()
	cycle(t, s, "d", "w", []store.Outcome{done(got[0], t2)}, 0, 0)
	d1, as := deliveries(t, s, cl[1].MessageID)
	if d1[0].State != store.Done || d1[0].Attempts != 2 || d1[0].LastError != "503 Service Unavailable" {
		t.Fatalf("retried then done: %+v", d1[0])
	}
	if len(as) != 2 || as[0].N != 1 || as[0].Status != 503 || as[0].Error != "503 Service Unavailable" || as[1].N != 2 || as[1].Status != 200 ||
		as[1].Error != "" || !as[1].StartedAt.Equal(us(t2)) {
		t.Fatalf("attempts %+v", as)
	}
	// An outcome for a delivery that is done already is ignored.
	clk.Add(time.Second)
	cycle(t, s, "d", "w", []store.Outcome{dead(got[0], clk.Now(), "late")}, 0, 0)
	if d := delivery(t, s, cl[1].MessageID, "d"); d.State != store.Done {
		t.Fatalf("a second outcome changed a done delivery: %+v", d)
	}
	// Outcomes of an unknown message are ignored too.
	ghost := store.Claimed{MessageID: store.MessageID("app", "ghost"), Destination: "d", Attempt: 1}
	cycle(t, s, "d", "w", []store.Outcome{done(ghost, clk.Now())}, 0, 0)
}

// testStaleOwner: a worker's lease runs out (it hung or died), another
// takes the delivery over; the first one's late outcome must change nothing.
func testStaleOwner(t *testing.T, db Opener) {
	clk := newClock()
	s1 := open(t, db, clk.opts())
	s2 := open(t, db, clk.opts()) // another replica
	id := appendOne(t, s1, to(msg("app", "k"), "d")).ID
	c1 := cycle(t, s1, "d", "w1", nil, 10, 10*time.Second)
	if len(c1) != 1 {
		t.Fatalf("claimed %d", len(c1))
	}
	clk.Add(10 * time.Second) // the lease ends now: still w1's
	if cl := cycle(t, s2, "d", "w2", nil, 10, 10*time.Second); len(cl) != 0 {
		t.Fatalf("claimed at the end of the lease")
	}
	clk.Add(time.Microsecond)
	c2 := cycle(t, s2, "d", "w2", nil, 10, 10*time.Second)
	if len(c2) != 1 || c2[0].MessageID != id || c2[0].Attempt != 2 {
		t.Fatalf("after the lease: %+v, want attempt 2", c2)
	}
	// w1 wakes up: its outcome is ignored, attempt row included.
	cycle(t, s1, "d", "w1", []store.Outcome{dead(c1[0], clk.Now(), "stale")}, 0, 0)
	// And w1 with w2's attempt number is ignored too.
	c2w1 := c2[0]
	cycle(t, s1, "d", "w1", []store.Outcome{dead(c2w1, clk.Now(), "stale")}, 0, 0)
	d, as := deliveries(t, s1, id)
	if d[0].State != store.Pending || d[0].Attempts != 2 || d[0].LastError != "" || len(as) != 0 {
		t.Fatalf("a stale outcome was recorded: %+v %+v", d[0], as)
	}
	clk.Add(time.Second)
	cycle(t, s2, "d", "w2", []store.Outcome{done(c2[0], clk.Now())}, 0, 0)
	d, as = deliveries(t, s1, id)
	if d[0].State != store.Done || len(as) != 1 || as[0].N != 2 || as[0].Status != 200 {
		t.Fatalf("w2's outcome: %+v %+v", d[0], as)
	}

	// The same owner may take its own expired delivery again (a worker of
	// the same process): the older attempt's outcome is still stale.
	id3 := appendOne(t, s1, to(msg("app", "k3"), "d")).ID
	first := cycle(t, s1, "d", "w1", nil, 10, 10*time.Second)
	clk.Add(10*time.Second + time.Microsecond)
	second := cycle(t, s1, "d", "w1", nil, 10, 10*time.Second)
	if len(first) != 1 || len(second) != 1 || second[0].MessageID != id3 || second[0].Attempt != 2 {
		t.Fatalf("claims %+v then %+v", first, second)
	}
	cycle(t, s1, "d", "w1", []store.Outcome{dead(first[0], clk.Now(), "stale")}, 0, 0)
	if d, as := deliveries(t, s1, id3); d[0].State != store.Pending || len(as) != 0 {
		t.Fatalf("the outcome of an older attempt was recorded: %+v %+v", d[0], as)
	}
	cycle(t, s1, "d", "w1", []store.Outcome{done(second[0], clk.Now())}, 0, 0)
	if d, as := deliveries(t, s1, id3); d[0].State != store.Done || len(as) != 1 || as[0].N != 2 {
		t.Fatalf("the current attempt's outcome: %+v %+v", d[0], as)
	}

	// Redeliver takes a delivery away from its worker the same way.
	id2 := appendOne(t, s1, to(msg("app", "k2"), "d")).ID
	c3 := cycle(t, s1, "d", "w1", nil, 10, time.Hour)
	if n, err := s2.Redeliver(context.Background(), id2, "d"); err != nil || n != 1 {
		t.Fatalf("Redeliver = %d, %v", n, err)
	}
	c4 := cycle(t, s1, "d", "w1", []store.Outcome{done(c3[0], clk.Now())}, 10, time.Hour)
	if len(c4) != 1 || c4[0].MessageID != id2 || c4[0].Attempt != 2 {
		t.Fatalf("after Redeliver: %+v, want it claimed again as attempt 2 and the old outcome ignored", c4)
	}
	if d := delivery(t, s1, id2, "d"); d.State != store.Pending {
		t.Fatalf("the outcome of the attempt Redeliver replaced was recorded: %+v", d)
	}
}

// testReplicasClaimDisjoint: workers on two handles (two replicas) claim
// while pushes arrive; every delivery is claimed exactly once.
func testReplicasClaimDisjoint(t *testing.T, db Opener) {
	replicas := []store.Store{open(t, db, store.Options{}), open(t, db, store.Options{})}
	const n, workers = 400, 6
	var claims sync.Map // id -> *atomic.Int32
	var appended atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, workers+1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer appended.Store(true)
		for i := 0; i < n; i += 10 {
			var batch []store.NewMessage
			for j := i; j < i+10; j++ {
				batch = append(batch, to(msg("app", fmt.Sprint("k", j)), "d"))
			}
			if _, err := replicas[i/10%2].Append(context.Background(), batch); err != nil {
				errs <- err
				return
			}
		}
	}()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, owner := replicas[w%2], fmt.Sprint("w", w)
			var finished []store.Outcome
			for {
				last := appended.Load()
				cl, err := s.Cycle(context.Background(), "d", owner, finished, 7, time.Hour)
				if err != nil {
					errs <- err
					return
				}
				finished = finished[:0]
				for _, c := range cl {
					v, _ := claims.LoadOrStore(c.MessageID, new(atomic.Int32))
					v.(*atomic.Int32).Add(1)
					finished = append(finished, done(c, time.Now()))
				}
				if len(cl) == 0 && last {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := 0
	claims.Range(func(k, v any) bool {
		total++
		if c := v.(*atomic.Int32).Load(); c != 1 {
			t.Errorf("%s claimed %d times", k, c)
		}
		return true
	})
	if total != n {
		t.Fatalf("%d deliveries claimed, want %d", total, n)
	}
	st, err := replicas[0].DeliveryStats(context.Background())
	if err != nil || len(st) != 0 {
		t.Fatalf("stats %+v, %v: want nothing pending", st, err)
	}
}

func testRetryAndDead(t *testing.T, db Opener) {
	clk := newClock()
	s := open(t, db, clk.opts())
	id := appendOne(t, s, to(msg("app", "k"), "d")).ID
	backoff := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}
	var finished []store.Outcome
	for i, wait := range backoff {
		cl := cycle(t, s, "d", "w", finished, 10, time.Minute)
		if len(cl) != 1 || cl[0].Attempt != i+1 {
			t.Fatalf("round %d: %+v, want attempt %d", i, cl, i+1)
		}
		finished = []store.Outcome{retry(cl[0], clk.Now(), clk.Now().Add(wait), fmt.Sprint("fail ", i+1))}
		cycle(t, s, "d", "w", finished, 0, 0)
		finished = nil
		d := delivery(t, s, id, "d")
		if d.State != store.Pending || d.Attempts != i+1 || !d.NextAttemptAt.Equal(clk.after(wait)) || d.LastError != fmt.Sprint("fail ", i+1) {
			t.Fatalf("after attempt %d: %+v", i+1, d)
		}
		clk.Add(wait)
	}
	cl := cycle(t, s, "d", "w", nil, 10, time.Minute)
	cycle(t, s, "d", "w", []store.Outcome{dead(cl[0], clk.Now(), "giving up")}, 0, 0)
	d, as := deliveries(t, s, id)
	if d[0].State != store.Dead || d[0].Attempts != 4 || d[0].LastError != "giving up" || len(as) != 4 {
		t.Fatalf("dead: %+v, %d attempts", d[0], len(as))
	}
	for i, a := range as {
		if a.N != i+1 {
			t.Fatalf("attempts out of order: %+v", as)
		}
	}
	clk.Add(time.Hour)
	if cl := cycle(t, s, "d", "w", nil, 10, time.Minute); len(cl) != 0 {
		t.Fatalf("a dead letter was claimed")
	}
}

func testRedeliver(t *testing.T, db Opener) {
	clk := newClock()
	s := open(t, db, clk.opts())
	ctx := context.Background()
	a := appendOne(t, s, to(msg("app", "a"), "d", "e")).ID
	b := appendOne(t, s, to(msg("app", "b"), "d", "e")).ID
	var fin []store.Outcome
	for _, dest := range []string{"d", "e"} {
		for _, c := range cycle(t, s, dest, "w", nil, 10, time.Minute) {
			fin = append(fin, dead(c, clk.Now(), "down"))
		}
	}
	cycle(t, s, "d", "w", fin, 0, 0)
	clk.Add(time.Minute)

	// One destination of one message.
	if n, err := s.Redeliver(ctx, a, "d"); err != nil || n != 1 {
		t.Fatalf("Redeliver(a, d) = %d, %v", n, err)
	}
	d := delivery(t, s, a, "d")
	if d.State != store.Pending || d.Attempts != 1 || !d.NextAttemptAt.Equal(clk.us()) || d.LastError != "down" {
		t.Fatalf("redelivered: %+v, want pending, due now, attempts kept", d)
	}
	cl := cycle(t, s, "d", "w", nil, 10, time.Minute)
	if len(cl) != 1 || cl[0].MessageID != a || cl[0].Attempt != 2 {
		t.Fatalf("claimed %+v, want a as attempt 2", cl)
	}
	cycle(t, s, "d", "w", []store.Outcome{done(cl[0], clk.Now())}, 0, 0)
	// A done delivery can be sent again too; "" is every destination.
	if n, err := s.Redeliver(ctx, a, ""); err != nil || n != 2 {
		t.Fatalf("Redeliver(a, \"\") = %d, %v", n, err)
	}
	if d := delivery(t, s, a, "d"); d.State != store.Pending || !d.DeliveredAt.IsZero() || d.Attempts != 2 {
		t.Fatalf("redelivered done delivery: %+v", d)
	}
	for _, tc := range []struct{ id, dest string }{{a, "nope"}, {store.MessageID("app", "missing"), ""}, {"bad", ""}} {
		if _, err := s.Redeliver(ctx, tc.id, tc.dest); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Redeliver(%q, %q) = %v, want ErrNotFound", tc.id, tc.dest, err)
		}
	}
	if _, err := s.Redeliver(ctx, a, strings.Repeat("x", store.MaxDestinationLen+1)); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Redeliver with a bad name: %v", err)
	}

	// Every dead letter of one destination, then of all.
	if n, err := s.RedeliverDead(ctx, "e"); err != nil || n != 1 { // a's "e" is pending already
		t.Fatalf("RedeliverDead(e) = %d, %v; want b's", n, err)
	}
	if d := delivery(t, s, b, "d"); d.State != store.Dead {
		t.Fatalf("RedeliverDead(e) touched d: %+v", d)
	}
	if n, err := s.RedeliverDead(ctx, ""); err != nil || n != 1 {
		t.Fatalf("RedeliverDead(\"\") = %d, %v", n, err)
	}
	if n, err := s.RedeliverDead(ctx, ""); err != nil || n != 0 {
		t.Fatalf("RedeliverDead with none dead = %d, %v", n, err)
	}
	if d := delivery(t, s, b, "d"); d.State != store.Pending || d.Attempts != 1 || !d.NextAttemptAt.Equal(clk.us()) {
		t.Fatalf("b after RedeliverDead: %+v", d)
	}
	if _, err := s.RedeliverDead(ctx, "bad\x00"); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("RedeliverDead with a bad name: %v", err)
	}
	// Many dead letters, more than one chunk.
	const many = 2300
	var batch []store.NewMessage
	for i := range many {
		batch = append(batch, to(msg("bulk", fmt.Sprint(i)), "z"))
		if len(batch) == 500 || i == many-1 {
			if _, err := s.Append(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	for {
		cl := cycle(t, s, "z", "w", nil, store.MaxCycle, time.Minute)
		if len(cl) == 0 {
			break
		}
		fin = fin[:0]
		for _, c := range cl {
			fin = append(fin, dead(c, clk.Now(), "x"))
		}
		cycle(t, s, "z", "w", fin, 0, 0)
	}
	if n, err := s.RedeliverDead(ctx, "z"); err != nil || n != many {
		t.Fatalf("RedeliverDead(z) = %d, %v; want %d", n, err, many)
	}
}

func testDeadLetterPaging(t *testing.T, db Opener) {
	clk := newClock()
	s := open(t, db, clk.opts())
	ctx := context.Background()
	const n = 60
	appOf := map[string]string{}
	for i := range n {
		app := []string{"a", "b"}[i%2]
		appOf[appendOne(t, s, to(msg(app, fmt.Sprint("k", i)), "d1", "d2")).ID] = app
	}
	// Kill them in rounds: several die at the same time (ties).
	for round := 0; ; round++ {
		var fin []store.Outcome
		for _, dest := range []string{"d1", "d2"} {
			for _, c := range cycle(t, s, dest, "w", nil, 7, time.Minute) {
				fin = append(fin, dead(c, clk.Now(), "x"))
			}
		}
		if len(fin) == 0 {
			break
		}
		cycle(t, s, "d1", "w", fin, 0, 0)
		clk.Add(time.Second)
	}
	type key struct {
		at       time.Time
		id, dest string
	}
	var all []key
	for id := range appOf {
		ds, _ := deliveries(t, s, id)
		for _, d := range ds {
			all = append(all, key{d.UpdatedAt, d.MessageID, d.Destination})
		}
	}
	slices.SortFunc(all, func(x, y key) int {
		if c := y.at.Compare(x.at); c != 0 {
			return c
		}
		if c := strings.Compare(y.id, x.id); c != 0 {
			return c
		}
		return strings.Compare(y.dest, x.dest)
	})
	for _, f := range []store.DeadFilter{{}, {App: "a"}, {Destination: "d2"}, {App: "b", Destination: "d1"}, {App: "none"}} {
		var want []key
		for _, k := range all {
			if (f.App == "" || f.App == appOf[k.id]) && (f.Destination == "" || f.Destination == k.dest) {
				want = append(want, k)
			}
		}
		for _, limit := range []int{5, 1000} {
			f.Limit = limit
			var got []key
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 2*n {
					t.Fatalf("paging does not end")
				}
				page, next, err := s.DeadLetters(ctx, f, cursor)
				if err != nil {
					t.Fatalf("DeadLetters %+v: %v", f, err)
				}
				if len(page) > limit || (next != "" && len(page) != limit) {
					t.Fatalf("page of %d with next %q", len(page), next)
				}
				for _, d := range page {
					if d.State != store.Dead || d.LastError != "x" {
						t.Fatalf("listed %+v", d)
					}
					got = append(got, key{d.UpdatedAt, d.MessageID, d.Destination})
				}
				if next == "" {
					break
				}
				cursor = next
			}
			if !slices.Equal(got, want) {
				t.Fatalf("filter %+v: got %d dead letters, want %d in order", f, len(got), len(want))
			}
		}
	}
	page, next, err := s.DeadLetters(ctx, store.DeadFilter{}, "")
	if err != nil || len(page) != store.DefaultListLimit || next == "" {
		t.Fatalf("default limit: %d, %q, %v", len(page), next, err)
	}
	_, listCursor, _ := s.List(ctx, store.Filter{Limit: 1}, "")
	for _, c := range []string{"x", next[:len(next)-3], next + "A", listCursor, strings.Repeat("A", 400)} {
		if _, _, err := s.DeadLetters(ctx, store.DeadFilter{}, c); !errors.Is(err, store.ErrInvalidCursor) {
			t.Fatalf("DeadLetters with cursor %q: %v, want ErrInvalidCursor", c, err)
		}
	}
	for _, f := range []store.DeadFilter{{Limit: -1}, {Limit: store.MaxListLimit + 1}, {App: "a\x00"}, {Destination: strings.Repeat("d", store.MaxDestinationLen+1)}} {
		if _, _, err := s.DeadLetters(ctx, f, ""); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("DeadLetters %+v: %v, want ErrInvalid", f, err)
		}
	}
}

func testDeliveryStats(t *testing.T, db Opener) {
	clk := newClock()
	s := open(t, db, clk.opts())
	ctx := context.Background()
	if st, err := s.DeliveryStats(ctx); err != nil || len(st) != 0 {
		t.Fatalf("empty stats: %+v, %v", st, err)
	}
	oldest := clk.us()
	appendOne(t, s, to(msg("app", "1"), "web", "nats", "done-only"))
	clk.Add(time.Minute)
	appendOne(t, s, to(msg("app", "2"), "web", "nats", "done-only"))
	appendOne(t, s, to(msg("app", "3"), "nats"))
	// web: 1 dead, 1 pending (leased); nats: 3 pending; done-only: all done.
	cw := cycle(t, s, "web", "w", nil, 2, time.Minute)
	var fin []store.Outcome
	for _, c := range cycle(t, s, "done-only", "w", nil, 5, time.Minute) {
		fin = append(fin, done(c, clk.Now()))
	}
	fin = append(fin, dead(cw[0], clk.Now(), "x"))
	cycle(t, s, "web", "w", fin, 0, 0)
	st, err := s.DeliveryStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// web's oldest delivery (message 1) is the dead one.
	want := []store.DestinationStats{
		{Destination: "nats", Pending: 3, OldestPending: oldest},
		{Destination: "web", Pending: 1, Dead: 1, OldestPending: oldest.Add(time.Minute)},
	}
	if cw[0].MessageID != store.MessageID("app", "1") {
		t.Fatalf("claimed %s first, want message 1", cw[0].MessageID)
	}
	if !slices.Equal(st, want) {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
}

func testRetentionKeepsUndelivered(t *testing.T, db Opener) {
	clk := newClock()
	s := open(t, db, clk.opts())
	ctx := context.Background()
	// Messages received long ago, one per case.
	kinds := []string{"none", "done", "done2", "pending", "dead", "mixed"}
	dests := map[string][]string{"none": nil, "done": {"d"}, "done2": {"d", "e"}, "pending": {"d"}, "dead": {"d"}, "mixed": {"d", "e"}}
	id := map[string]string{}
	for _, k := range kinds {
		m := to(msg("app", k), dests[k]...)
		m.ReceivedAt = base.Add(-48 * time.Hour)
		id[k] = appendOne(t, s, m).ID
	}
	fresh := appendOne(t, s, to(msg("app", "fresh"), "d")).ID
	var fin []store.Outcome
	for _, dest := range []string{"d", "e"} {
		for _, c := range cycle(t, s, dest, "w", nil, 100, time.Minute) {
			switch {
			case c.MessageID == id["pending"], c.MessageID == fresh:
			case c.MessageID == id["dead"], c.MessageID == id["mixed"] && dest == "e":
				fin = append(fin, dead(c, clk.Now(), "x"))
			default:
				fin = append(fin, done(c, clk.Now()))
			}
		}
	}
	cycle(t, s, "d", "w", fin, 0, 0)
	n, err := s.DeleteMessagesBefore(ctx, base.Add(-24*time.Hour), store.KeepUndelivered)
	if err != nil || n != 3 {
		t.Fatalf("DeleteMessagesBefore = %d, %v; want 3 (none, done, done2)", n, err)
	}
	for _, k := range kinds {
		_, _, err := s.Deliveries(ctx, id[k])
		gone := errors.Is(err, store.ErrNotFound)
		if want := k == "none" || k == "done" || k == "done2"; gone != want {
			t.Fatalf("%s: deleted %v, want %v (%v)", k, gone, want, err)
		}
	}
	// A dead letter redelivered and done goes at the next run; its
	// deliveries and attempts go with it.
	if _, err := s.Redeliver(ctx, id["dead"], ""); err != nil {
		t.Fatal(err)
	}
	cl := cycle(t, s, "d", "w", nil, 100, time.Minute)
	for _, c := range cl {
		if c.MessageID == id["dead"] {
			cycle(t, s, "d", "w", []store.Outcome{done(c, clk.Now())}, 0, 0)
		}
	}
	if n, err := s.DeleteMessagesBefore(ctx, base.Add(-24*time.Hour), store.KeepUndelivered); err != nil || n != 1 {
		t.Fatalf("second DeleteMessagesBefore = %d, %v; want 1", n, err)
	}
	// Re-storing a deleted push starts afresh, with no old attempts.
	r := appendOne(t, s, to(msg("app", "dead"), "d"))
	if ds, as := deliveries(t, s, r.ID); len(ds) != 1 || ds[0].Attempts != 0 || len(as) != 0 {
		t.Fatalf("re-stored message: %+v %+v", ds, as)
	}
}

func testReleaseLeases(t *testing.T, db Opener) {
	clk := newClock()
	s := open(t, db, clk.opts())
	ctx := context.Background()
	for i := range 4 {
		appendOne(t, s, to(msg("app", fmt.Sprint(i)), "d"))
	}
	mine := cycle(t, s, "d", "w1", nil, 3, time.Hour)
	theirs := cycle(t, s, "d", "w2", nil, 3, time.Hour)
	if len(mine) != 3 || len(theirs) != 1 {
		t.Fatalf("claimed %d and %d", len(mine), len(theirs))
	}
	clk.Add(time.Second)
	if err := s.ReleaseLeases(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	d := delivery(t, s, mine[0].MessageID, "d")
	if d.State != store.Pending || d.Attempts != 0 || !d.NextAttemptAt.Equal(clk.us()) {
		t.Fatalf("released: %+v, want pending, due now, the attempt given back", d)
	}
	again := cycle(t, s, "d", "w3", nil, 10, time.Hour)
	if len(again) != 3 || again[0].Attempt != 1 {
		t.Fatalf("after release: %+v, want w1's 3 as attempt 1", again)
	}
	// w1's late outcomes change nothing; w2 kept its lease.
	var fin []store.Outcome
	for _, c := range mine {
		fin = append(fin, dead(c, clk.Now(), "late"))
	}
	cycle(t, s, "d", "w1", fin, 0, 0)
	for _, c := range mine {
		if d, as := deliveries(t, s, c.MessageID); d[0].State != store.Pending || len(as) != 0 {
			t.Fatalf("a released worker's outcome was recorded: %+v %+v", d[0], as)
		}
	}
	cycle(t, s, "d", "w2", []store.Outcome{done(theirs[0], clk.Now())}, 0, 0)
	if d := delivery(t, s, theirs[0].MessageID, "d"); d.State != store.Done {
		t.Fatalf("w2's delivery: %+v", d)
	}
	if err := s.ReleaseLeases(ctx, "nobody"); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseLeases(ctx, ""); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("ReleaseLeases(\"\") = %v, want ErrInvalid", err)
	}
}

func testBadCycleInput(t *testing.T, db Opener) {
	s := open(t, db, store.Options{})
	ctx := context.Background()
	id := appendOne(t, s, to(msg("app", "k"), "d")).ID
	good := store.Outcome{Attempt: store.Attempt{MessageID: id, Destination: "d", N: 1}, Done: true}
	with := func(edit func(o *store.Outcome)) []store.Outcome {
		o := good
		edit(&o)
		return []store.Outcome{o}
	}
	for _, tc := range []struct {
		name        string
		dest, owner string
		fin         []store.Outcome
		limit       int
		lease       time.Duration
	}{
		{"empty destination", "", "w", nil, 1, time.Second},
		{"long destination", strings.Repeat("d", store.MaxDestinationLen+1), "w", nil, 1, time.Second},
		{"empty owner", "d", "", nil, 1, time.Second},
		{"NUL in owner", "d", "w\x00", nil, 1, time.Second},
		{"negative limit", "d", "w", nil, -1, time.Second},
		{"limit too large", "d", "w", nil, store.MaxCycle + 1, time.Second},
		{"no lease", "d", "w", nil, 1, 0},
		{"bad message id", "d", "w", with(func(o *store.Outcome) { o.Attempt.MessageID = "x" }), 0, 0},
		{"attempt 0", "d", "w", with(func(o *store.Outcome) { o.Attempt.N = 0 }), 0, 0},
		{"no destination", "d", "w", with(func(o *store.Outcome) { o.Attempt.Destination = "" }), 0, 0},
		{"two outcomes for one delivery", "d", "w", []store.Outcome{good, good}, 0, 0},
		{"too many outcomes", "d", "w", make([]store.Outcome, store.MaxCycle+1), 0, 0},
	} {
		if _, err := s.Cycle(ctx, tc.dest, tc.owner, tc.fin, tc.limit, tc.lease); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("%s: %v, want ErrInvalid", tc.name, err)
		}
	}
	if cl := cycle(t, s, "d", "w", nil, 1, time.Second); len(cl) != 1 {
		t.Fatalf("bad calls changed the delivery: claimed %d", len(cl))
	}
}

// testAttemptErrorsAreCleaned: whatever text a destination answers, the
// attempt is recorded (PostgreSQL refuses NUL and invalid UTF-8 in text).
func testAttemptErrorsAreCleaned(t *testing.T, db Opener) {
	s := open(t, db, store.Options{})
	id := appendOne(t, s, to(msg("app", "k"), "d")).ID
	cl := cycle(t, s, "d", "w", nil, 1, time.Minute)
	long := "bad\x00\xff" + strings.Repeat("é", store.MaxErrorLen)
	o := retry(cl[0], time.Now(), time.Time{}, long)
	o.Attempt.Duration = -time.Second
	cycle(t, s, "d", "w", []store.Outcome{o}, 0, 0)
	d, as := deliveries(t, s, id)
	if len(as) != 1 {
		t.Fatalf("%d attempts recorded", len(as))
	}
	e := as[0].Error
	if len(e) > store.MaxErrorLen || !strings.HasPrefix(e, "bad\uFFFD\uFFFD") || strings.ContainsRune(e, 0) || d[0].LastError != e || as[0].Duration != 0 {
		t.Fatalf("error %q (%d bytes), duration %v", e, len(e), as[0].Duration)
	}
}
