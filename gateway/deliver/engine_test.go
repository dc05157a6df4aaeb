package deliver_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxgate/wxgate/gateway/deliver"
	"github.com/wxgate/wxgate/store"
)

// A webhook that is slow (timeouts), then down (503s and dropped
// connections), then back: every message arrives, with the contract's
// headers, a stable id and increasing attempt numbers; the hooks see every
// attempt and each delivery once.
func TestWebhookSlowThenDownThenBack(t *testing.T) {
	const msgs, slow, down = 6, 4, 8
	rc := newReceiver(t, func(n int64, w http.ResponseWriter, r *http.Request) bool {
		switch {
		case n <= slow:
			<-r.Context().Done() // until the sender gives up
			return false
		case n <= slow+down && n%2 == 0:
			w.WriteHeader(http.StatusServiceUnavailable)
			return false
		case n <= slow+down:
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return false
		}
		_, _ = io.WriteString(w, `{"replies":[]}`)
		return true
	})
	fs := newFakeStore()
	ids := fs.addN("m", msgs, "hook")
	var attempts, deliveredHook atomic.Int64
	var mu sync.Mutex
	bodies := map[string]string{}
	e, err := deliver.New(fs, []deliver.Destination{newHook(t, "hook", rc.srv.URL, 200*time.Millisecond)}, "", fast(deliver.Options{
		MaxAttempts: 1000, Concurrency: 4,
		OnAttempt: func(dest string, a store.Attempt, delivered bool) {
			attempts.Add(1)
			if dest != "hook" || a.N < 1 || (delivered != (a.Error == "")) {
				t.Errorf("OnAttempt(%s, %+v, %v)", dest, a, delivered)
			}
		},
		OnDelivered: func(_ context.Context, c store.Claimed, r deliver.Result) {
			deliveredHook.Add(1)
			mu.Lock()
			bodies[c.MessageID] = string(r.Body)
			mu.Unlock()
			if r.Status != 200 || !r.Delivered {
				t.Errorf("OnDelivered result %+v", r)
			}
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, e)
	waitFor(t, "every delivery done", func() bool { return fs.count("hook", store.Done) == msgs })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if rc.n.Load() <= slow+down {
		t.Fatalf("only %d requests: the phases were not all exercised", rc.n.Load())
	}
	var failedSeen bool
	for _, id := range ids {
		seen := rc.seen(id)
		if rc.delivered(id) != 1 {
			t.Errorf("%s answered 2xx %d times", id, rc.delivered(id))
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] <= seen[i-1] {
				t.Errorf("%s: attempt numbers %v do not increase", id, seen)
			}
		}
		if seen[0] != 1 {
			t.Errorf("%s: first attempt is %d", id, seen[0])
		}
		failedSeen = failedSeen || len(seen) > 1
		as := fs.attemptsOf(id, "hook")
		if len(as) != len(seen) || as[len(as)-1].Error != "" || as[len(as)-1].Status != 200 {
			t.Errorf("%s: recorded attempts %+v, seen %v", id, as, seen)
		}
		for _, a := range as[:len(as)-1] {
			if a.Error == "" {
				t.Errorf("%s: failed attempt without error: %+v", id, a)
			}
		}
		if bodies[id] != `{"replies":[]}` {
			t.Errorf("%s: OnDelivered body %q", id, bodies[id])
		}
	}
	if !failedSeen {
		t.Error("no message was retried")
	}
	if got := attempts.Load(); got != rc.n.Load() {
		t.Errorf("OnAttempt called %d times for %d requests", got, rc.n.Load())
	}
	if deliveredHook.Load() != msgs {
		t.Errorf("OnDelivered called %d times", deliveredHook.Load())
	}
	if fs.leased() != 0 {
		t.Errorf("%d leases left after shutdown", fs.leased())
	}
}

// After MaxAttempts failures a delivery is dead, with the last error; a
// redelivery of the dead letters then delivers them.
func TestDeadLetterThenRedeliver(t *testing.T) {
	var up atomic.Bool
	rc := newReceiver(t, func(_ int64, w http.ResponseWriter, _ *http.Request) bool {
		if up.Load() {
			return true
		}
		http.Error(w, "broken", http.StatusInternalServerError)
		return false
	})
	fs := newFakeStore()
	ids := fs.addN("d", 3, "hook")
	e, err := deliver.New(fs, []deliver.Destination{newHook(t, "hook", rc.srv.URL, 0)}, "", fast(deliver.Options{MaxAttempts: 3}))
	if err != nil {
		t.Fatal(err)
	}
	run(t, e)
	waitFor(t, "dead letters", func() bool { return fs.count("hook", store.Dead) == len(ids) })
	for _, id := range ids {
		if got := rc.seen(id); !slices.Equal(got, []int{1, 2, 3}) {
			t.Errorf("%s: attempts %v, want [1 2 3]", id, got)
		}
		r := fs.row(id, "hook")
		if !strings.Contains(r.d.LastError, "500") || r.owner != "" {
			t.Errorf("%s: dead row %+v", id, r)
		}
	}
	dead, _, err := fs.DeadLetters(context.Background(), store.DeadFilter{Destination: "hook"}, "")
	if err != nil || len(dead) != len(ids) {
		t.Fatalf("dead letters: %v %d", err, len(dead))
	}
	up.Store(true)
	if n, err := fs.RedeliverDead(context.Background(), "hook"); err != nil || n != int64(len(ids)) {
		t.Fatalf("redeliver: %d %v", n, err)
	}
	e.Notify()
	waitFor(t, "redelivered", func() bool { return fs.count("hook", store.Done) == len(ids) })
	for _, id := range ids {
		if got := rc.seen(id); len(got) != 4 || got[3] != 4 || rc.delivered(id) != 1 {
			t.Errorf("%s: attempts %v, 2xx %d", id, got, rc.delivered(id))
		}
	}
}

// A destination that hangs holds only its own slots: the other one
// delivers everything while the hanging one still has its first requests
// open.
func TestDestinationsAreIsolated(t *testing.T) {
	release := make(chan struct{})
	hanging := newReceiver(t, func(_ int64, _ http.ResponseWriter, r *http.Request) bool {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return false
	})
	healthy := newReceiver(t, nil)
	defer close(release)
	fs := newFakeStore()
	ids := fs.addN("i", 30, "slow", "fast")
	e, err := deliver.New(fs, []deliver.Destination{
		newHook(t, "slow", hanging.srv.URL, time.Minute),
		newHook(t, "fast", healthy.srv.URL, 0),
	}, "", fast(deliver.Options{Concurrency: 2, Lease: 2 * time.Minute}))
	if err != nil {
		t.Fatal(err)
	}
	run(t, e)
	waitFor(t, "the healthy destination", func() bool { return fs.count("fast", store.Done) == len(ids) })
	waitFor(t, "the hanging destination's slots", func() bool { return hanging.n.Load() >= 2 })
	if n := hanging.n.Load(); n != 2 {
		t.Errorf("the hanging destination got %d requests, want its 2 slots", n)
	}
	if n := fs.count("slow", store.Done); n != 0 {
		t.Errorf("%d deliveries to the hanging destination done", n)
	}
}

// No more than Concurrency attempts are ever in flight to a destination,
// and the limit is reached.
func TestConcurrencyLimit(t *testing.T) {
	const limit = 3
	reached := make(chan struct{})
	var once sync.Once
	var rc *receiver
	rc = newReceiver(t, func(_ int64, _ http.ResponseWriter, r *http.Request) bool {
		if rc.inflight.Load() >= limit {
			once.Do(func() { close(reached) })
		}
		select {
		case <-reached:
		case <-time.After(5 * time.Second): // the tail may have fewer than limit left
		}
		time.Sleep(time.Millisecond)
		return true
	})
	fs := newFakeStore()
	fs.addN("c", 40, "hook")
	e, err := deliver.New(fs, []deliver.Destination{newHook(t, "hook", rc.srv.URL, 0)}, "", fast(deliver.Options{Concurrency: limit}))
	if err != nil {
		t.Fatal(err)
	}
	run(t, e)
	waitFor(t, "every delivery", func() bool { return fs.count("hook", store.Done) == 40 })
	if m := rc.maxInflight.Load(); m != limit {
		t.Fatalf("at most %d requests in flight, want %d", m, limit)
	}
}

// A process that claimed deliveries and died never reports them: once its
// lease has run out, the engine takes them, as the next attempt.
func TestCrashedOwnerIsTakenOver(t *testing.T) {
	rc := newReceiver(t, nil)
	clock := &offsetClock{}
	fs := newFakeStore()
	fs.now = clock.now
	ids := fs.addN("x", 5, "hook")
	held, err := fs.Cycle(context.Background(), "hook", "dead-process", nil, 10, deliver.DefaultLease)
	if err != nil || len(held) != len(ids) {
		t.Fatalf("crashed owner's claim: %v %d", err, len(held))
	}
	e, err := deliver.New(fs, []deliver.Destination{newHook(t, "hook", rc.srv.URL, 0)}, "", fast(deliver.Options{Now: clock.now}))
	if err != nil {
		t.Fatal(err)
	}
	run(t, e)
	waitFor(t, "a few polls", func() bool { return fs.cyclesOf("hook") >= 3 })
	if n := rc.n.Load(); n != 0 {
		t.Fatalf("%d deliveries made while the lease was held", n)
	}
	clock.advance(deliver.DefaultLease + time.Second)
	waitFor(t, "the takeover", func() bool { return fs.count("hook", store.Done) == len(ids) })
	for _, id := range ids {
		if got := rc.seen(id); !slices.Equal(got, []int{2}) {
			t.Errorf("%s: attempts %v, want [2]", id, got)
		}
	}
}

// blocker is a destination whose attempts wait for ctx (or release).
type blocker struct {
	name    string
	calls   atomic.Int64
	release chan struct{}
}

func (b *blocker) Name() string { return b.name }
func (b *blocker) Deliver(ctx context.Context, _ store.Claimed) (deliver.Result, error) {
	b.calls.Add(1)
	select {
	case <-ctx.Done():
		return deliver.Result{}, ctx.Err()
	case <-b.release:
		return deliver.Result{Delivered: true}, nil
	}
}

// On shutdown, attempts still in flight after DrainTimeout are canceled,
// recorded as due at once (not a step towards a dead letter), and every
// lease is given back: another engine takes all of it immediately.
func TestShutdownReleasesLeases(t *testing.T) {
	fs := newFakeStore()
	ids := fs.addN("s", 5, "d")
	b := &blocker{name: "d", release: make(chan struct{})}
	e, err := deliver.New(fs, []deliver.Destination{b}, "first", fast(deliver.Options{Concurrency: 2, DrainTimeout: 20 * time.Millisecond, MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, e)
	waitFor(t, "two attempts in flight", func() bool { return b.calls.Load() == 2 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := fs.leased(); n != 0 {
		t.Fatalf("%d leases still held", n)
	}
	var tried int
	for _, id := range ids {
		r := fs.row(id, "d")
		if r.d.State != store.Pending || r.d.NextAttemptAt.After(time.Now()) {
			t.Errorf("%s: %+v, want pending and due", id, r.d)
		}
		if r.d.Attempts == 1 {
			tried++
			if as := fs.attemptsOf(id, "d"); len(as) != 1 || !strings.Contains(as[0].Error, "canceled by shutdown") {
				t.Errorf("%s: attempts %+v", id, as)
			}
		}
	}
	if tried != 2 {
		t.Errorf("%d deliveries attempted, want 2", tried)
	}
	close(b.release)
	e2, err := deliver.New(fs, []deliver.Destination{b}, "second", fast(deliver.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	run(t, e2)
	waitFor(t, "the second engine", func() bool { return fs.count("d", store.Done) == len(ids) })
}

// On shutdown, an attempt in flight is let finish and recorded; nothing
// new is claimed.
func TestShutdownDrainsInFlight(t *testing.T) {
	var finished atomic.Bool
	arrived := make(chan struct{})
	rc := newReceiver(t, func(int64, http.ResponseWriter, *http.Request) bool {
		close(arrived)
		time.Sleep(50 * time.Millisecond) // Run must wait for this answer
		finished.Store(true)
		return true
	})
	fs := newFakeStore()
	ids := fs.addN("g", 4, "hook")
	e, err := deliver.New(fs, []deliver.Destination{newHook(t, "hook", rc.srv.URL, 0)}, "", fast(deliver.Options{Concurrency: 1}))
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, e)
	<-arrived
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !finished.Load() {
		t.Fatal("Run returned before the attempt in flight finished")
	}
	if got := fs.count("hook", store.Done); got != 1 || rc.n.Load() != 1 {
		t.Fatalf("%d done, %d requests: want the one in flight only", got, rc.n.Load())
	}
	if r := fs.row(ids[0], "hook"); r.d.State != store.Done {
		t.Fatalf("in-flight delivery: %+v", r.d)
	}
	if fs.leased() != 0 {
		t.Fatalf("%d leases left", fs.leased())
	}
}

// flaky is a destination driven by a function of the attempt.
type flaky struct {
	name string
	f    func(c store.Claimed) (deliver.Result, error)
}

func (d flaky) Name() string                                                       { return d.name }
func (d flaky) Deliver(_ context.Context, c store.Claimed) (deliver.Result, error) { return d.f(c) }

// A panic in a destination is a failed attempt, retried.
func TestPanicIsAFailedAttempt(t *testing.T) {
	fs := newFakeStore()
	ids := fs.addN("p", 1, "d")
	d := flaky{"d", func(c store.Claimed) (deliver.Result, error) {
		if c.Attempt == 1 {
			panic("boom")
		}
		return deliver.Result{Delivered: true}, nil
	}}
	e, err := deliver.New(fs, []deliver.Destination{d}, "", fast(deliver.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	run(t, e)
	waitFor(t, "the retry", func() bool { return fs.count("d", store.Done) == 1 })
	as := fs.attemptsOf(ids[0], "d")
	if len(as) != 2 || !strings.Contains(as[0].Error, "panicked") || as[1].Error != "" {
		t.Fatalf("attempts %+v", as)
	}
}

// A destination that answers no error but not delivered fails; one that
// reports a permanent failure is dead at once.
func TestNotDeliveredAndPermanent(t *testing.T) {
	fs := newFakeStore()
	ids := fs.addN("n", 1, "maybe")
	bad := store.MessageID("default", "no payload")
	fs.add(bad, "default", "text", "", nil, "maybe")
	d := flaky{"maybe", func(c store.Claimed) (deliver.Result, error) {
		if len(c.Payload) == 0 {
			return deliver.Result{}, deliver.ErrPermanent
		}
		return deliver.Result{Delivered: c.Attempt > 1}, nil
	}}
	e, err := deliver.New(fs, []deliver.Destination{d}, "", fast(deliver.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	run(t, e)
	waitFor(t, "outcomes", func() bool {
		return fs.count("maybe", store.Done) == 1 && fs.count("maybe", store.Dead) == 1
	})
	if as := fs.attemptsOf(ids[0], "maybe"); len(as) != 2 || !strings.Contains(as[0].Error, "not delivered") {
		t.Fatalf("attempts %+v", as)
	}
	if as := fs.attemptsOf(bad, "maybe"); len(as) != 1 {
		t.Fatalf("permanent failure retried: %+v", as)
	}
}

// When the store fails, the finished outcomes wait for the next Cycle: the
// delivery is recorded once, without being made again.
func TestOutcomesSurviveStoreErrors(t *testing.T) {
	fs := newFakeStore()
	ids := fs.addN("f", 1, "d")
	var calls atomic.Int64
	d := flaky{"d", func(store.Claimed) (deliver.Result, error) {
		calls.Add(1)
		fs.mu.Lock()
		fs.failNext = 3
		fs.mu.Unlock()
		return deliver.Result{Delivered: true}, nil
	}}
	e, err := deliver.New(fs, []deliver.Destination{d}, "", fast(deliver.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	run(t, e)
	waitFor(t, "the outcome", func() bool { return fs.count("d", store.Done) == 1 })
	if calls.Load() != 1 || len(fs.attemptsOf(ids[0], "d")) != 1 {
		t.Fatalf("%d calls, attempts %+v", calls.Load(), fs.attemptsOf(ids[0], "d"))
	}
}

// Notify wakes the loops: with a poll interval of an hour, a message added
// after the first (empty) cycle is delivered only because of Notify.
func TestNotify(t *testing.T) {
	rc := newReceiver(t, nil)
	fs := newFakeStore()
	e, err := deliver.New(fs, []deliver.Destination{newHook(t, "hook", rc.srv.URL, 0)}, "", fast(deliver.Options{PollInterval: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	run(t, e)
	waitFor(t, "the first cycle", func() bool { return fs.cyclesOf("hook") >= 1 })
	fs.addN("w", 3, "hook")
	e.Notify()
	waitFor(t, "the notified delivery", func() bool { return fs.count("hook", store.Done) == 3 })
	if err := e.Run(context.Background()); !errors.Is(err, deliver.ErrRunning) {
		t.Fatalf("second Run: %v", err)
	}
}

// Run with no destination waits for its context and returns cleanly.
func TestNoDestinations(t *testing.T) {
	e, err := deliver.New(newFakeStore(), nil, "", deliver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestNewChecksOptions(t *testing.T) {
	hook := newHook(t, "hook", "http://127.0.0.1:1/", 10*time.Second)
	other := newHook(t, "other", "http://127.0.0.1:1/", 0)
	fs := newFakeStore()
	for name, c := range map[string]struct {
		ds    store.DeliveryStore
		dests []deliver.Destination
		opts  deliver.Options
	}{
		"no store":                 {nil, nil, deliver.Options{}},
		"lease equal to timeout":   {fs, []deliver.Destination{hook}, deliver.Options{Lease: 10 * time.Second}},
		"lease below timeout":      {fs, []deliver.Destination{hook}, deliver.Options{Lease: time.Second}},
		"duplicate names":          {fs, []deliver.Destination{hook, hook}, deliver.Options{}},
		"nil destination":          {fs, []deliver.Destination{nil}, deliver.Options{}},
		"unnamed destination":      {fs, []deliver.Destination{flaky{}}, deliver.Options{}},
		"negative concurrency":     {fs, []deliver.Destination{hook}, deliver.Options{Concurrency: -1}},
		"zero concurrency for one": {fs, []deliver.Destination{hook}, deliver.Options{ConcurrencyFor: map[string]int{"hook": 0}}},
		"unknown concurrency name": {fs, []deliver.Destination{hook}, deliver.Options{ConcurrencyFor: map[string]int{"nope": 2}}},
		"max below initial":        {fs, []deliver.Destination{hook}, deliver.Options{InitialBackoff: time.Minute, MaxBackoff: time.Second}},
		"huge max backoff":         {fs, []deliver.Destination{hook}, deliver.Options{MaxBackoff: 1 << 62}},
	} {
		if _, err := deliver.New(c.ds, c.dests, "", c.opts); !errors.Is(err, deliver.ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
	e, err := deliver.New(fs, []deliver.Destination{hook, other}, "", deliver.Options{ConcurrencyFor: map[string]int{"other": 2}})
	if err != nil {
		t.Fatal(err)
	}
	if o := e.Owner(); o == "" || o == deliver.NewOwnerID() {
		t.Fatalf("owner %q", o)
	}
}

// No token of the URL and no signing secret appears in an error or a log.
func TestSecretsStayOutOfErrorsAndLogs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more: connection refused
	const pass, token = "pa55w0rd-in-url", "tok3n-in-query"
	w, err := deliver.NewWebhook(deliver.WebhookConfig{Name: "hook", URL: "http://alice:" + pass + "@" + addr + "/in?token=" + token, Secrets: [][]byte{secretNew}})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	fs := newFakeStore()
	ids := fs.addN("s", 1, "hook")
	e, err := deliver.New(fs, []deliver.Destination{w}, "", fast(deliver.Options{MaxAttempts: 2, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}))
	if err != nil {
		t.Fatal(err)
	}
	run(t, e)
	waitFor(t, "the dead letter", func() bool { return fs.count("hook", store.Dead) == 1 })
	_, derr := w.Deliver(context.Background(), store.Claimed{MessageID: "x", Attempt: 1, Payload: payloadFor("x")})
	if !errors.Is(derr, deliver.ErrUnreachable) {
		t.Fatalf("Deliver: %v", derr)
	}
	texts := []string{derr.Error(), logs.String(), fs.row(ids[0], "hook").d.LastError}
	for _, a := range fs.attemptsOf(ids[0], "hook") {
		texts = append(texts, a.Error)
	}
	for _, s := range texts {
		for _, secret := range []string{pass, token, string(secretNew)} {
			if strings.Contains(s, secret) {
				t.Errorf("%q leaks %q", s, secret)
			}
		}
	}
	if !strings.Contains(logs.String(), "dead letter") {
		t.Errorf("no dead letter in the logs: %s", logs)
	}
}

// stubborn is a destination whose attempts ignore their context.
type stubborn struct {
	calls   atomic.Int64
	release chan struct{}
}

func (s *stubborn) Name() string { return "stuck" }
func (s *stubborn) Deliver(context.Context, store.Claimed) (deliver.Result, error) {
	s.calls.Add(1)
	<-s.release
	return deliver.Result{Delivered: true}, nil
}

// An attempt that ignores its cancellation does not hold the shutdown for
// ever, and its lease is given back for another replica.
func TestShutdownGivesUpOnStuckAttempts(t *testing.T) {
	fs := newFakeStore()
	ids := fs.addN("k", 1, "stuck")
	d := &stubborn{release: make(chan struct{})}
	defer close(d.release)
	e, err := deliver.New(fs, []deliver.Destination{d}, "", fast(deliver.Options{DrainTimeout: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, e)
	waitFor(t, "the stuck attempt", func() bool { return d.calls.Load() == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if r := fs.row(ids[0], "stuck"); r.owner != "" || r.d.State != store.Pending || r.d.Attempts != 0 {
		t.Fatalf("after shutdown: owner %q, %+v", r.owner, r.d)
	}
}
