package core

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxgate/wxgate/store"
)

// fake is a CommitFunc that stores everything and records batch sizes.
type fake struct {
	mu      sync.Mutex
	batches []int
	gate    chan struct{} // when set, the first batch waits for it
	entered chan struct{}
	err     func(attempt int) error
	calls   int
}

func (f *fake) commit(ctx context.Context, p *Plan) error {
	f.mu.Lock()
	f.calls++
	calls := f.calls
	gate := f.gate
	f.gate = nil
	f.mu.Unlock()
	if gate != nil {
		f.entered <- struct{}{}
		<-gate
	}
	if f.err != nil {
		if err := f.err(calls); err != nil {
			return err
		}
	}
	for i := range p.Nonces {
		p.Nonces[i].Effective = p.Nonces[i].Digest
	}
	p.PlanMessages()
	for i := range p.Msgs {
		p.Msgs[i].Inserted = true
	}
	if err := p.Resolve(); err != nil {
		return err
	}
	f.mu.Lock()
	f.batches = append(f.batches, len(p.Items))
	f.mu.Unlock()
	return nil
}

func opts(maxBatch int) store.Options {
	o, err := WithDefaults(store.Options{MaxBatch: maxBatch})
	if err != nil {
		panic(err)
	}
	return o
}

func msg(key string) store.NewMessage {
	return store.NewMessage{App: "a", DedupKey: key, Raw: []byte("raw " + key)}
}

// waitQueued waits until n calls wait in the writer's queue.
func waitQueued(w *Writer, n int) {
	for w.Queued() < n {
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// blocked returns a writer whose first batch (one message) is in commit,
// waiting for the returned release.
func blocked(t *testing.T, f *fake, maxBatch int) (*Writer, func()) {
	f.gate, f.entered = make(chan struct{}), make(chan struct{}, 1)
	gate := f.gate
	w := NewWriter(opts(maxBatch), f.commit, nil)
	t.Cleanup(w.Close)
	go w.Append(context.Background(), []store.NewMessage{msg("first")})
	<-f.entered
	return w, func() { close(gate) }
}

func TestWriterGroupsWaitingCalls(t *testing.T) {
	f := &fake{}
	w, release := blocked(t, f, 100)
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := w.Append(context.Background(), []store.NewMessage{msg(fmt.Sprint(i))})
			if err == nil && (res[0].Status != store.Stored || res[0].ID != store.MessageID("a", fmt.Sprint(i))) {
				err = fmt.Errorf("result %+v", res[0])
			}
			errs[i] = err
		}()
	}
	waitQueued(w, n)
	release()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.batches) != 2 || f.batches[1] != n {
		t.Fatalf("batches %v, want [1 %d]: the waiting calls in one transaction", f.batches, n)
	}
}

func TestWriterBoundsBatches(t *testing.T) {
	f := &fake{}
	w, release := blocked(t, f, 4)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.Append(context.Background(), []store.NewMessage{msg(fmt.Sprint(i))})
		}()
	}
	waitQueued(w, 10)
	// One call larger than MaxBatch is not split.
	big := make([]store.NewMessage, 9)
	for i := range big {
		big[i] = msg(fmt.Sprint("big", i))
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.Append(context.Background(), big)
	}()
	waitQueued(w, 11)
	release()
	wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	total := 0
	for i, b := range f.batches[1:] {
		total += b
		if b > 4 && b != 9 {
			t.Fatalf("batch %d has %d messages, more than MaxBatch", i+1, b)
		}
	}
	if total != 19 {
		t.Fatalf("batches %v hold %d messages, want 19", f.batches, total)
	}
}

func TestWriterFailsWholeBatch(t *testing.T) {
	boom := errors.New("boom")
	f := &fake{err: func(call int) error {
		if call == 2 {
			return boom
		}
		return nil
	}}
	w, release := blocked(t, f, 100)
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = w.Append(context.Background(), []store.NewMessage{msg(fmt.Sprint(i))})
		}()
	}
	waitQueued(w, 5)
	release()
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, boom) {
			t.Fatalf("Append %d: %v, want the batch's error", i, err)
		}
	}
	if _, err := w.Append(context.Background(), []store.NewMessage{msg("after")}); err != nil {
		t.Fatalf("the writer did not recover: %v", err)
	}
}

func TestWriterSkipsAbandonedCalls(t *testing.T) {
	f := &fake{}
	w, release := blocked(t, f, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := w.Append(ctx, []store.NewMessage{msg("abandoned")})
		done <- err
	}()
	waitQueued(w, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Append: %v", err)
	}
	release()
	if _, err := w.Append(context.Background(), []store.NewMessage{msg("next")}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.batches[1:] {
		if b != 1 {
			t.Fatalf("batches %v: the abandoned call was committed", f.batches)
		}
	}
}

func TestWriterPanicAndRetry(t *testing.T) {
	f := &fake{err: func(call int) error {
		if call == 1 {
			panic("boom")
		}
		return nil
	}}
	w := NewWriter(opts(10), f.commit, nil)
	defer w.Close()
	if _, err := w.Append(context.Background(), []store.NewMessage{msg("a")}); !errors.Is(err, ErrPanic) {
		t.Fatalf("Append: %v, want ErrPanic", err)
	}
	if _, err := w.Append(context.Background(), []store.NewMessage{msg("a")}); err != nil {
		t.Fatalf("after a panic: %v", err)
	}

	again := errors.New("deadlock")
	for _, tc := range []struct {
		failures, calls int
		ok              bool
	}{{1, 2, true}, {MaxAttempts - 1, MaxAttempts, true}, {MaxAttempts, MaxAttempts, false}} {
		f := &fake{}
		f.err = func(call int) error {
			if call <= tc.failures {
				return again
			}
			return nil
		}
		w := NewWriter(opts(10), f.commit, func(err error) bool { return errors.Is(err, again) })
		_, err := w.Append(context.Background(), []store.NewMessage{msg("a")})
		w.Close()
		if (err == nil) != tc.ok || f.calls != tc.calls {
			t.Fatalf("%d failures: %v after %d calls, want ok=%v after %d", tc.failures, err, f.calls, tc.ok, tc.calls)
		}
	}
}

func TestWriterCloseCommitsQueued(t *testing.T) {
	f := &fake{}
	w, release := blocked(t, f, 100)
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = w.Append(context.Background(), []store.NewMessage{msg(fmt.Sprint(i))})
		}()
	}
	waitQueued(w, 5)
	closed := make(chan struct{})
	go func() {
		w.Close()
		close(closed)
	}()
	release()
	<-closed
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("queued Append %d: %v", i, err)
		}
	}
	if _, err := w.Append(context.Background(), []store.NewMessage{msg("late")}); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	w.Close() // twice is fine
}

func TestNormalizeOwnsItsCopy(t *testing.T) {
	raw, reply := []byte("raw body"), []byte("reply")
	in := []store.NewMessage{{App: "a", DedupKey: "k", Raw: raw, Reply: reply, Payload: []byte{}, ReceivedAt: time.Date(2026, 1, 2, 3, 4, 5, 6789, time.FixedZone("x", 3600))}}
	out, err := Normalize(in, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	copy(raw, "XXXXXXXX")
	copy(reply, "YYYYY")
	m := out[0]
	if string(m.Raw) != "raw body" || string(m.Reply) != "reply" || m.Payload != nil {
		t.Fatalf("Normalize shares the caller's buffers: %q %q %v", m.Raw, m.Reply, m.Payload)
	}
	if m.ReceivedAt.Location() != time.UTC || m.ReceivedAt.Nanosecond() != 6000 {
		t.Fatalf("ReceivedAt %v", m.ReceivedAt)
	}
	// Appending to one body must not run into the next.
	m.Raw = append(m.Raw, '!')
	if string(m.Reply) != "reply" {
		t.Fatalf("bodies overlap")
	}
}

func TestCursor(t *testing.T) {
	id := store.MessageID("a", "k")
	for _, at := range []int64{0, -1, 1 << 62, -(1 << 62)} {
		gotAt, gotID, err := DecodeCursor(EncodeCursor(at, id))
		if err != nil || gotAt != at || gotID != id {
			t.Fatalf("round trip of %d: %d %q %v", at, gotAt, gotID, err)
		}
	}
	good := EncodeCursor(1, id)
	for _, c := range []string{"", "x", good[1:], good + "AA", strings.ToUpper(good), EncodeCursor(1, "msg_short"), EncodeCursor(1, strings.Repeat("Z", len(id)))} {
		if _, _, err := DecodeCursor(c); !errors.Is(err, store.ErrInvalidCursor) {
			t.Fatalf("DecodeCursor(%q): %v", c, err)
		}
	}
}
