package core

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxgate/wxgate/store"
)

// CommitFunc runs one batch's transaction: it drives p (see Plan) and
// commits, or rolls back and returns an error. It must roll back on panic
// too (a deferred Rollback does).
type CommitFunc func(ctx context.Context, p *Plan) error

// ErrPanic is returned to every caller of a batch whose transaction panicked.
var ErrPanic = errors.New("store: the batch transaction panicked; it was rolled back")

// Writer is the group-commit writer: one goroutine that takes every waiting
// Append call, up to MaxBatch messages, into one transaction.
type Writer struct {
	commit    CommitFunc
	retryable func(error) bool
	opts      store.Options

	mu     sync.RWMutex // held shared while sending to queue or jobs, exclusively to close them
	closed atomic.Bool  // set under mu; read without it
	queue  chan *request
	jobs   chan *request // Do's calls: a batch takes them up to its COMMIT
	done   chan struct{}

	// Owned by the writer goroutine, reused from batch to batch.
	plan    Plan
	reqs    []*request
	jobReqs []*request // the callers of plan.Jobs, in order
}

type request struct {
	ctx     context.Context
	items   []store.StoredMessage
	results []store.AppendResult
	job     JobFunc // set for a Do call, which has no items
	err     error
	done    chan struct{}
}

// JobFunc is work that Do runs inside a batch's transaction. tx is the
// backend's transaction (a *sql.Tx on SQLite). It may run more than once
// when the batch is retried, so it must set its results afresh each time.
type JobFunc func(ctx context.Context, tx any) error

// Job is a job of the current batch. The backend runs the jobs that
// Plan.NextJob gives after the messages and the hook, each in a savepoint
// of its own, and sets Err: a failed job rolls back only its own work.
type Job struct {
	Fn  JobFunc
	Err error
}

// MaxAttempts bounds how often a batch runs when its transaction fails with
// an error that retryable accepts (a deadlock or serialization failure).
const MaxAttempts = 3

// NewWriter starts the writer. opts must have its defaults applied.
// retryable, if not nil, tells which errors are worth running the batch again.
func NewWriter(opts store.Options, commit CommitFunc, retryable func(error) bool) *Writer {
	w := &Writer{
		commit:    commit,
		retryable: retryable,
		opts:      opts,
		queue:     make(chan *request, opts.QueueSize),
		jobs:      make(chan *request, jobQueueSize),
		done:      make(chan struct{}),
	}
	w.plan.takeJob = w.takeJob
	go w.loop()
	return w
}

// Append validates msgs, queues them and waits for their batch to commit,
// or for ctx to end.
func (w *Writer) Append(ctx context.Context, msgs []store.NewMessage) ([]store.AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	items, err := Normalize(msgs, w.opts.Now())
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		if w.Closed() {
			return nil, store.ErrClosed
		}
		return []store.AppendResult{}, nil
	}
	r := &request{ctx: ctx, items: items, results: make([]store.AppendResult, len(items)), done: make(chan struct{})}
	if err := w.submit(ctx, w.queue, r); err != nil {
		return nil, err
	}
	return r.result()
}

// submit queues r on q and waits until the writer answered it, or ctx ended.
func (w *Writer) submit(ctx context.Context, q chan<- *request, r *request) error {
	w.mu.RLock()
	if w.closed.Load() {
		w.mu.RUnlock()
		return store.ErrClosed
	}
	select {
	case q <- r:
		w.mu.RUnlock()
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		select {
		case <-r.done: // finished at the same moment: its answer is better
			return nil
		default:
			return ctx.Err()
		}
	}
}

// jobQueueSize bounds the Do calls waiting for a batch: there is one per
// delivery loop.
const jobQueueSize = 256

// Do runs job in a batch's transaction, so that it shares that batch's
// commit (and fsync) instead of waiting for one of its own, and waits for
// the commit, or for ctx to end (the job may still commit). It returns the
// job's error, or the batch's when the batch failed. A job joins the batch
// in progress when it arrives before that batch's COMMIT: a caller that
// comes straight back after its commit does not wait a batch out.
func (w *Writer) Do(ctx context.Context, job JobFunc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &request{ctx: ctx, job: job, done: make(chan struct{})}
	if err := w.submit(ctx, w.jobs, r); err != nil {
		return err
	}
	return r.err
}

// takeJob returns a job waiting on w.jobs, without waiting, or nil; it is
// Plan.NextJob's source.
func (w *Writer) takeJob() JobFunc {
	for {
		select {
		case r, ok := <-w.jobs:
			if !ok {
				return nil
			}
			if err := r.ctx.Err(); err != nil { // its caller is gone
				r.err = err
				close(r.done)
				continue
			}
			w.jobReqs = append(w.jobReqs, r)
			return r.job
		default:
			return nil
		}
	}
}

func (r *request) result() ([]store.AppendResult, error) {
	if r.err != nil {
		return nil, r.err
	}
	return r.results, nil
}

// Closed reports whether Close was called.
func (w *Writer) Closed() bool { return w.closed.Load() }

// Close stops taking calls, commits what is queued, and waits for the
// writer to end.
func (w *Writer) Close() {
	w.mu.Lock()
	if !w.closed.Load() {
		w.closed.Store(true)
		close(w.queue)
		close(w.jobs)
	}
	w.mu.Unlock()
	<-w.done
}

// Queued returns the number of calls waiting for the writer (for tests).
func (w *Writer) Queued() int { return len(w.queue) + len(w.jobs) }

func (w *Writer) loop() {
	defer close(w.done)
	queue, jobs := w.queue, w.jobs // nil once closed and drained
	var carry *request             // taken from the queue, but too large for the batch it was taken for
	for {
		r := carry
		carry = nil
		if r == nil {
			if queue == nil && jobs == nil {
				return
			}
			var ok bool
			select {
			case r, ok = <-queue:
				if !ok {
					queue = nil
					continue
				}
			case r, ok = <-jobs:
				if !ok {
					jobs = nil
					continue
				}
			}
		}
		w.reqs = append(w.reqs[:0], r)
		n := len(r.items)
	fill:
		for n < w.opts.MaxBatch {
			select {
			case r2, ok := <-queue:
				if !ok {
					break fill
				}
				if n+len(r2.items) > w.opts.MaxBatch {
					carry = r2
					break fill
				}
				w.reqs = append(w.reqs, r2)
				n += len(r2.items)
			default:
				break fill
			}
		}
		w.run()
		clear(w.reqs)
		w.reqs = w.reqs[:0]
	}
}

// run commits the batch in w.reqs and answers each of its callers.
func (w *Writer) run() {
	p := &w.plan
	p.reset()
	live := w.reqs[:0]
	for _, r := range w.reqs {
		if err := r.ctx.Err(); err != nil { // its caller is gone: do not store it
			r.err = err
			close(r.done)
			continue
		}
		if r.job != nil {
			p.Jobs = append(p.Jobs, Job{Fn: r.job})
			w.jobReqs = append(w.jobReqs, r)
			continue
		}
		live = append(live, r)
		p.Items = append(p.Items, r.items...)
	}
	clear(w.reqs[len(live):])
	w.reqs = live
	if len(live) == 0 && len(p.Jobs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.opts.CommitTimeout)
	start := time.Now()
	err := w.safeCommit(ctx, p)
	for attempt := 1; err != nil && attempt < MaxAttempts && w.retryable != nil && w.retryable(err) && ctx.Err() == nil; attempt++ {
		err = w.safeCommit(ctx, p)
	}
	cancel()
	info := p.info
	info.Items = len(p.Items)
	info.Duration = time.Since(start)
	info.Err = err
	// Reported before the callers are released, so that a caller sees
	// its batch counted when Append returns.
	if w.opts.OnBatch != nil && len(p.Items) > 0 { // a batch of jobs alone is no batch of pushes
		w.opts.OnBatch(info)
	}
	off := 0
	for _, r := range live {
		if err != nil {
			r.err = err
		} else {
			copy(r.results, p.results[off:off+len(r.items)])
		}
		off += len(r.items)
		close(r.done)
	}
	for i, r := range w.jobReqs {
		r.err = err
		if err == nil {
			r.err = p.Jobs[i].Err
		}
		close(r.done)
	}
	clear(w.jobReqs)
	w.jobReqs = w.jobReqs[:0]
	p.reset()
}

func (w *Writer) safeCommit(ctx context.Context, p *Plan) (err error) {
	defer func() {
		if recover() != nil {
			err = ErrPanic
		}
	}()
	p.Prepare()
	for i := range p.Jobs {
		p.Jobs[i].Err = nil
	}
	return w.commit(ctx, p)
}

// RunHook calls the BeforeCommit hook, if any, with the batch's stored
// messages.
func RunHook(ctx context.Context, opts *store.Options, tx store.Tx, p *Plan) error {
	if opts.BeforeCommit == nil || len(p.stored) == 0 {
		return nil
	}
	return opts.BeforeCommit(ctx, tx, p.stored)
}
