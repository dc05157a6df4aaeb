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

	mu     sync.RWMutex // held shared while sending to queue, exclusively to close it
	closed atomic.Bool  // set under mu; read without it
	queue  chan *request
	done   chan struct{}

	// Owned by the writer goroutine, reused from batch to batch.
	plan Plan
	reqs []*request
}

type request struct {
	ctx     context.Context
	items   []store.StoredMessage
	results []store.AppendResult
	err     error
	done    chan struct{}
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
		done:      make(chan struct{}),
	}
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
	w.mu.RLock()
	if w.closed.Load() {
		w.mu.RUnlock()
		return nil, store.ErrClosed
	}
	select {
	case w.queue <- r:
		w.mu.RUnlock()
	case <-ctx.Done():
		w.mu.RUnlock()
		return nil, ctx.Err()
	}
	select {
	case <-r.done:
		return r.result()
	case <-ctx.Done():
		select {
		case <-r.done: // finished at the same moment: its answer is better
			return r.result()
		default:
			return nil, ctx.Err()
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
	}
	w.mu.Unlock()
	<-w.done
}

// Queued returns the number of calls waiting for the writer (for tests).
func (w *Writer) Queued() int { return len(w.queue) }

func (w *Writer) loop() {
	defer close(w.done)
	var carry *request // taken from the queue, but too large for the batch it was taken for
	for {
		r := carry
		carry = nil
		if r == nil {
			var ok bool
			if r, ok = <-w.queue; !ok {
				return
			}
		}
		w.reqs = append(w.reqs[:0], r)
		n := len(r.items)
	fill:
		for n < w.opts.MaxBatch {
			select {
			case r2, ok := <-w.queue:
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
		live = append(live, r)
		p.Items = append(p.Items, r.items...)
	}
	clear(w.reqs[len(live):])
	w.reqs = live
	if len(live) == 0 {
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
	if w.opts.OnBatch != nil {
		w.opts.OnBatch(info)
	}
	p.reset()
}

func (w *Writer) safeCommit(ctx context.Context, p *Plan) (err error) {
	defer func() {
		if recover() != nil {
			err = ErrPanic
		}
	}()
	p.Prepare()
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
