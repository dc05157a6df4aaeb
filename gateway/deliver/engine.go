package deliver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/wxgate/wxgate/store"
)

// Defaults of Options.
const (
	DefaultInitialBackoff = time.Second
	DefaultMaxBackoff     = 10 * time.Minute
	DefaultMaxAttempts    = 20
	DefaultConcurrency    = 16
	DefaultLease          = 30 * time.Second
	DefaultPollInterval   = time.Second
	DefaultDrainTimeout   = 10 * time.Second
)

// maxBackoffCap keeps the exponential arithmetic far from overflow.
const maxBackoffCap = 7 * 24 * time.Hour

// reportTimeout bounds the last Cycle and ReleaseLeases of a shutdown, which
// run after Run's context has ended.
const reportTimeout = 10 * time.Second

// cancelGrace is how long a shutdown waits for attempts it canceled after
// DrainTimeout; one that ignores its context is left behind (its lease is
// given back, so the delivery may be made again elsewhere).
const cancelGrace = 2 * time.Second

// maxReportTries is how many failed Cycles in a row keep the outcomes
// waiting to be recorded. After that they are dropped: their leases run
// out and the deliveries are made again (at least once), instead of a
// poisoned batch blocking the destination for ever.
const maxReportTries = 5

// Options tune an Engine. Zero fields take the defaults.
type Options struct {
	// InitialBackoff is the base delay before the second attempt.
	// Default DefaultInitialBackoff.
	InitialBackoff time.Duration
	// MaxBackoff caps the exponential delay. Default DefaultMaxBackoff.
	MaxBackoff time.Duration
	// MaxAttempts is the number of failed attempts after which a delivery
	// is dead. Default DefaultMaxAttempts.
	MaxAttempts int
	// Concurrency is each destination's limit of attempts in flight, at
	// most store.MaxCycle. Default DefaultConcurrency.
	Concurrency int
	// ConcurrencyFor overrides Concurrency for the named destinations.
	ConcurrencyFor map[string]int
	// Lease is how long a claimed delivery stays with this engine before
	// another may take it. It must exceed every destination's Timeout.
	// Default DefaultLease.
	Lease time.Duration
	// PollInterval is how often each destination looks for due work
	// without a Notify: retries that came due, other replicas' messages,
	// leases of a crashed process. Default DefaultPollInterval.
	PollInterval time.Duration
	// DrainTimeout bounds how long a shutdown waits for the attempts in
	// flight; the rest are canceled and retried at once. Default
	// DefaultDrainTimeout.
	DrainTimeout time.Duration
	// Logger receives the engine's logs. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock of attempts and retry times. Default time.Now.
	Now func() time.Time
	// OnAttempt, when set, is called after every attempt, from the
	// worker's goroutine (concurrently): for metrics. It must be quick.
	OnAttempt func(dest string, attempt store.Attempt, delivered bool)
	// OnDelivered, when set, is called after each delivered attempt with
	// what the destination answered, from the worker's goroutine and
	// before the outcome is recorded (while the lease is held). A panic in
	// it is logged; the delivery stays delivered.
	OnDelivered func(ctx context.Context, c store.Claimed, r Result)
}

// Engine delivers the pending deliveries of a store.DeliveryStore to their
// destinations. Create it with New, start it with Run.
type Engine struct {
	ds      store.DeliveryStore
	owner   string
	opts    Options
	log     *slog.Logger
	lanes   []*lane
	running atomic.Bool
}

// lane is one destination's loop state shared with Notify.
type lane struct {
	dest    Destination
	name    string
	limit   int
	ahead   int           // deliveries claimed ahead of the free workers
	timeout time.Duration // bound the engine puts on each attempt (0: the destination's own)
	wake    chan struct{}
	failing atomic.Bool // the last attempt failed: logs only the changes
}

// NewOwnerID returns an owner id unique to this process and call:
// hostname, pid and 8 random hex digits.
func NewOwnerID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "host"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return clip(host, 200) + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

// New returns an engine delivering the deliveries of ds to dests, leasing
// them as owner ("" takes NewOwnerID). Destination names must be unique
// and non-empty; no destination at all is allowed (Run then only waits).
func New(ds store.DeliveryStore, dests []Destination, owner string, opts Options) (*Engine, error) {
	if ds == nil {
		return nil, fmt.Errorf("%w: a delivery store is required", ErrConfig)
	}
	if owner == "" {
		owner = NewOwnerID()
	}
	if len(owner) > store.MaxFieldLen || strings.IndexByte(owner, 0) >= 0 || !utf8.ValidString(owner) {
		return nil, fmt.Errorf("%w: the owner id must be UTF-8 of at most %d bytes", ErrConfig, store.MaxFieldLen)
	}
	if opts.InitialBackoff < 0 || opts.MaxBackoff < 0 || opts.MaxAttempts < 0 || opts.Concurrency < 0 ||
		opts.Lease < 0 || opts.PollInterval < 0 || opts.DrainTimeout < 0 {
		return nil, fmt.Errorf("%w: negative option", ErrConfig)
	}
	opts.InitialBackoff = orDefault(opts.InitialBackoff, DefaultInitialBackoff)
	opts.MaxBackoff = orDefault(opts.MaxBackoff, DefaultMaxBackoff)
	opts.MaxAttempts = orDefault(opts.MaxAttempts, DefaultMaxAttempts)
	opts.Concurrency = orDefault(opts.Concurrency, DefaultConcurrency)
	opts.Lease = orDefault(opts.Lease, DefaultLease)
	opts.PollInterval = orDefault(opts.PollInterval, DefaultPollInterval)
	opts.DrainTimeout = orDefault(opts.DrainTimeout, DefaultDrainTimeout)
	if opts.Concurrency > store.MaxCycle {
		return nil, fmt.Errorf("%w: Concurrency above %d", ErrConfig, store.MaxCycle)
	}
	if opts.MaxBackoff < opts.InitialBackoff {
		return nil, fmt.Errorf("%w: MaxBackoff %s is below InitialBackoff %s", ErrConfig, opts.MaxBackoff, opts.InitialBackoff)
	}
	if opts.MaxBackoff > maxBackoffCap {
		return nil, fmt.Errorf("%w: MaxBackoff %s is above %s", ErrConfig, opts.MaxBackoff, maxBackoffCap)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	e := &Engine{ds: ds, owner: owner, opts: opts, log: opts.Logger}
	if e.log == nil {
		e.log = slog.Default()
	}
	seen := make(map[string]bool, len(dests))
	for i, d := range dests {
		if d == nil {
			return nil, fmt.Errorf("%w: destination %d is nil", ErrConfig, i+1)
		}
		l := &lane{dest: d, name: d.Name(), limit: opts.Concurrency, wake: make(chan struct{}, 1)}
		if l.name == "" || len(l.name) > store.MaxDestinationLen || !utf8.ValidString(l.name) || strings.IndexByte(l.name, 0) >= 0 {
			return nil, fmt.Errorf("%w: destination %d needs a name of 1 to %d bytes of UTF-8", ErrConfig, i+1, store.MaxDestinationLen)
		}
		if seen[l.name] {
			return nil, fmt.Errorf("%w: two destinations are named %q", ErrConfig, l.name)
		}
		seen[l.name] = true
		if n, ok := opts.ConcurrencyFor[l.name]; ok {
			if n <= 0 || n > store.MaxCycle {
				return nil, fmt.Errorf("%w: concurrency of %q must be 1 to %d", ErrConfig, l.name, store.MaxCycle)
			}
			l.limit = n
		}
		if t, ok := d.(Timeouter); ok {
			if t.Timeout() <= 0 || opts.Lease <= t.Timeout() {
				return nil, fmt.Errorf("%w: Lease %s must exceed the timeout %s of %q", ErrConfig, opts.Lease, t.Timeout(), l.name)
			}
		} else {
			l.timeout = opts.Lease / 2
		}
		// Claim ahead as many as the workers can start before the lease
		// of the last one runs out, even if every attempt takes the whole
		// timeout: from one to eight times the limit.
		attempt := timeoutOf(d)
		if attempt <= 0 {
			attempt = l.timeout
		}
		l.ahead = l.limit * min(max(int(opts.Lease/attempt)-1, 1), 8)
		e.lanes = append(e.lanes, l)
	}
	for name := range opts.ConcurrencyFor {
		if !seen[name] {
			return nil, fmt.Errorf("%w: ConcurrencyFor names %q, which is not a destination", ErrConfig, name)
		}
	}
	return e, nil
}

// Owner returns the id the engine leases deliveries as.
func (e *Engine) Owner() string { return e.owner }

// Notify wakes every destination's loop to claim at once: call it after
// storing messages. It never blocks.
func (e *Engine) Notify() {
	for _, l := range e.lanes {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// Run delivers until ctx ends, then shuts down gracefully: it stops
// claiming, waits up to DrainTimeout for the attempts in flight, records
// their outcomes and gives back every lease it still holds. It returns
// nil after a clean shutdown, or what went wrong recording the last
// outcomes or releasing the leases (they then run out after Lease). The
// store must stay open until Run has returned.
func (e *Engine) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer e.running.Store(false)
	errs := make([]error, len(e.lanes)+1)
	var wg sync.WaitGroup
	for i, l := range e.lanes {
		wg.Go(func() { errs[i] = e.runLane(ctx, l) })
	}
	wg.Wait()
	<-ctx.Done() // with no destination, Run still runs until ctx ends
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reportTimeout)
	defer cancel()
	if err := e.ds.ReleaseLeases(rctx, e.owner); err != nil {
		errs[len(e.lanes)] = fmt.Errorf("deliver: releasing the leases: %w", err)
	}
	return errors.Join(errs...)
}

// runLane is one destination's loop: each turn records the finished
// outcomes and claims up to the free slots in one Cycle.
func (e *Engine) runLane(ctx context.Context, l *lane) error {
	if s, ok := l.dest.(Starter); ok && ctx.Err() == nil {
		sctx, cancel := context.WithTimeout(ctx, max(l.timeout, timeoutOf(l.dest)))
		if err := s.Start(sctx); err != nil {
			e.log.Warn("deliver: destination did not start; it retries on its next delivery", "destination", l.name, "error", err.Error())
		}
		cancel()
	}
	// Attempts outlive ctx by up to DrainTimeout: work ends only when
	// the drain gives up.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	// A fixed pool of limit workers takes claimed deliveries from todo,
	// which holds up to limit more: while the loop waits on a Cycle (a
	// commit), the workers go on with what was claimed ahead, so that the
	// destination is never idle for the store's sake.
	todo := make(chan store.Claimed, l.ahead)
	// Buffered to everything outstanding: a worker never blocks handing
	// its outcome.
	results := make(chan store.Outcome, l.limit+l.ahead)
	for range l.limit {
		go func() {
			for c := range todo {
				if ctx.Err() != nil {
					// Shutting down: not attempted; the lease is given back.
					results <- store.Outcome{}
					continue
				}
				results <- e.attempt(work, l, c)
			}
		}()
	}
	defer close(todo)
	tick := time.NewTicker(e.opts.PollInterval)
	defer tick.Stop()
	var finished []store.Outcome
	outstanding, hungry, failures := 0, true, 0 // outstanding: claimed and not yet reported
	take := func(o store.Outcome) {
		outstanding--
		if o.Attempt.N > 0 {
			finished = append(finished, o)
		}
	}
	for ctx.Err() == nil {
		if len(finished) == 0 && (!hungry || outstanding >= l.limit+l.ahead) {
			select {
			case <-ctx.Done():
				continue
			case o := <-results:
				take(o)
			case <-l.wake:
				hungry = true
			case <-tick.C:
				hungry = true
			}
		}
		// Every outcome already in is recorded by this one Cycle.
	drain:
		for {
			select {
			case o := <-results:
				take(o)
			default:
				break drain
			}
		}
		want := min(l.limit+l.ahead-outstanding, store.MaxCycle)
		if want <= 0 {
			want = 0
		}
		if want == 0 && len(finished) == 0 {
			continue
		}
		finished = latestOnly(finished)
		claimed, err := e.ds.Cycle(ctx, l.name, e.owner, finished, want, e.opts.Lease)
		if err != nil {
			if ctx.Err() != nil {
				break // the outcomes are recorded by the shutdown
			}
			failures++
			e.log.Error("deliver: store cycle failed", "destination", l.name, "outcomes", len(finished), "error", err.Error())
			if failures >= maxReportTries && len(finished) > 0 {
				e.log.Error("deliver: dropping outcomes; their deliveries are made again when the leases run out", "destination", l.name, "outcomes", len(finished))
				finished = finished[:0]
			}
			sleep(ctx, min(e.opts.PollInterval, 50*time.Millisecond<<min(failures, 8)))
			continue
		}
		failures = 0
		finished = finished[:0]
		if len(claimed) > want {
			// A store bug; the extra leases run out or are given back.
			e.log.Error("deliver: the store leased more than asked", "destination", l.name, "asked", want, "got", len(claimed))
			claimed = claimed[:want]
		}
		if want > 0 {
			hungry = len(claimed) == want
		}
		for _, c := range claimed {
			outstanding++
			todo <- c
		}
	}
	return e.shutdownLane(ctx, l, results, finished, outstanding, cancelWork)
}

// shutdownLane waits for the attempts in flight (canceling them after
// DrainTimeout) and records every outcome without claiming.
func (e *Engine) shutdownLane(ctx context.Context, l *lane, results <-chan store.Outcome, finished []store.Outcome, inflight int, cancelWork context.CancelFunc) error {
	if inflight > 0 {
		e.log.Info("deliver: draining", "destination", l.name, "in_flight", inflight)
	}
	drain := time.NewTimer(e.opts.DrainTimeout)
	defer drain.Stop()
	var grace <-chan time.Time
	for inflight > 0 {
		select {
		case o := <-results:
			if o.Attempt.N > 0 { // not a delivery skipped by the shutdown
				finished = append(finished, o)
			}
			inflight--
		case <-drain.C:
			cancelWork()
			grace = time.After(cancelGrace)
		case <-grace:
			e.log.Error("deliver: attempts ignored their cancellation; their leases are given back", "destination", l.name, "left", inflight)
			inflight = 0
		}
	}
	if len(finished) == 0 {
		return nil
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reportTimeout)
	defer cancel()
	if _, err := e.ds.Cycle(rctx, l.name, e.owner, latestOnly(finished), 0, e.opts.Lease); err != nil {
		return fmt.Errorf("deliver: recording the last %d outcomes of %q: %w", len(finished), l.name, err)
	}
	return nil
}

// attempt makes one attempt at c and returns its outcome.
func (e *Engine) attempt(work context.Context, l *lane, c store.Claimed) store.Outcome {
	start := e.opts.Now()
	t0 := time.Now()
	r, err := e.call(work, l, c)
	a := store.Attempt{MessageID: c.MessageID, Destination: l.name, N: c.Attempt, StartedAt: start, Duration: time.Since(t0), Status: r.Status}
	if err == nil && !r.Delivered {
		err = fmt.Errorf("destination %q: %w", l.name, ErrNotDelivered)
	}
	o := store.Outcome{}
	switch {
	case err == nil:
		o.Done = true
		if e.opts.OnDelivered != nil {
			e.guard("OnDelivered", func() { e.opts.OnDelivered(work, c, r) })
		}
	case work.Err() != nil:
		// Cut short by the shutdown: not the destination's fault, so
		// it is due again at once, for whichever replica is up.
		err = fmt.Errorf("destination %q: %w", l.name, ErrCanceled)
		o.RetryAt = e.opts.Now()
	case errors.Is(err, ErrPermanent) || c.Attempt >= e.opts.MaxAttempts:
		o.Dead = true
	default:
		o.RetryAt = e.opts.Now().Add(backoff(c.Attempt, e.opts.InitialBackoff, e.opts.MaxBackoff))
	}
	if err != nil {
		a.Error = clip(err.Error(), maxErrorLen)
		switch {
		case o.Dead:
			e.log.Warn("deliver: dead letter", "destination", l.name, "message", c.MessageID, "attempt", c.Attempt, "error", a.Error)
		case work.Err() == nil && l.failing.CompareAndSwap(false, true):
			e.log.Warn("deliver: destination failing; retrying with backoff", "destination", l.name, "message", c.MessageID, "attempt", c.Attempt, "error", a.Error)
		default:
			e.log.Debug("deliver: attempt failed", "destination", l.name, "message", c.MessageID, "attempt", c.Attempt, "retry_at", o.RetryAt, "error", a.Error)
		}
	} else if l.failing.CompareAndSwap(true, false) {
		e.log.Info("deliver: destination delivering again", "destination", l.name)
	}
	o.Attempt = a
	if e.opts.OnAttempt != nil {
		e.guard("OnAttempt", func() { e.opts.OnAttempt(l.name, a, o.Done) })
	}
	return o
}

// call runs the destination's Deliver, bounded and with panics recovered.
func (e *Engine) call(work context.Context, l *lane, c store.Claimed) (r Result, err error) {
	ctx := work
	if l.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(work, l.timeout)
		defer cancel()
	}
	defer func() {
		if p := recover(); p != nil {
			e.log.Error("deliver: destination panicked", "destination", l.name, "message", c.MessageID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			r, err = Result{}, fmt.Errorf("destination %q: %w", l.name, ErrPanic)
		}
	}()
	r, err = l.dest.Deliver(ctx, c)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && work.Err() == nil && !errors.Is(err, ErrTimeout) {
		err = fmt.Errorf("destination %q: %w (%s)", l.name, ErrTimeout, l.timeout)
	}
	return r, err
}

// guard runs a hook, logging a panic instead of losing the worker.
func (e *Engine) guard(name string, f func()) {
	defer func() {
		if p := recover(); p != nil {
			e.log.Error("deliver: hook panicked", "hook", name, "panic", fmt.Sprint(p))
		}
	}()
	f()
}

// backoff is the delay before the attempt after failed attempt n (from 1):
// d = initial·2^(n-1) capped at max, then a random value in [d/2, d]
// (equal jitter; see the package doc).
func backoff(n int, initial, maxd time.Duration) time.Duration {
	d := initial
	for i := 1; i < n && d < maxd; i++ {
		if d > maxd/2 {
			d = maxd
			break
		}
		d *= 2
	}
	d = min(d, maxd)
	return d/2 + mrand.N(d-d/2+1)
}

// latestOnly keeps one outcome per message, the latest attempt's. Two
// happen only when an attempt outlived its lease and the delivery was
// claimed again; the store refuses a Cycle with both, and records only the
// current attempt's anyway.
func latestOnly(outs []store.Outcome) []store.Outcome {
	if len(outs) < 2 {
		return outs
	}
	latest := make(map[string]int, len(outs))
	for i, o := range outs {
		if j, ok := latest[o.Attempt.MessageID]; !ok || outs[j].Attempt.N < o.Attempt.N {
			latest[o.Attempt.MessageID] = i
		}
	}
	if len(latest) == len(outs) {
		return outs
	}
	out := outs[:0]
	for i, o := range outs {
		if latest[o.Attempt.MessageID] == i {
			out = append(out, o)
		}
	}
	return out
}

func timeoutOf(d Destination) time.Duration {
	if t, ok := d.(Timeouter); ok {
		return t.Timeout()
	}
	return 0
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
