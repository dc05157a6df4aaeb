package core

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

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
	jobs    []int // jobs per committed batch
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
	for i := 0; p.NextJob(i) != nil; i++ {
		p.Jobs[i].Err = p.Jobs[i].Fn(ctx, f)
	}
	f.mu.Lock()
	f.batches = append(f.batches, len(p.Items))
	f.jobs = append(f.jobs, len(p.Jobs))
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

func TestWriterDoJoinsBatch(t *testing.T) {
	f := &fake{}
	var infos []store.BatchInfo
	o := opts(100)
	o.OnBatch = func(b store.BatchInfo) { infos = append(infos, b) }
	f.gate, f.entered = make(chan struct{}), make(chan struct{}, 1)
	gate := f.gate
	w := NewWriter(o, f.commit, nil)
	defer w.Close()
	go w.Append(context.Background(), []store.NewMessage{msg("first")})
	<-f.entered
	var wg sync.WaitGroup
	var sawTx bool
	jobErr := errors.New("job failed")
	errs := make([]error, 3)
	wg.Add(3)
	go func() {
		defer wg.Done()
		errs[0] = w.Do(context.Background(), func(ctx context.Context, tx any) error {
			sawTx = tx == f
			return nil
		})
	}()
	go func() {
		defer wg.Done()
		errs[1] = w.Do(context.Background(), func(ctx context.Context, tx any) error { return jobErr })
	}()
	go func() {
		defer wg.Done()
		_, errs[2] = w.Append(context.Background(), []store.NewMessage{msg("second")})
	}()
	waitQueued(w, 3)
	close(gate)
	wg.Wait()
	if errs[0] != nil || !errors.Is(errs[1], jobErr) || errs[2] != nil {
		t.Fatalf("errors %v: want nil, the job's own, nil", errs)
	}
	if !sawTx {
		t.Fatalf("the job did not get the batch's transaction")
	}
	f.mu.Lock()
	if len(f.batches) != 2 || f.batches[0] != 1 || f.jobs[0] != 2 || f.batches[1] != 1 || f.jobs[1] != 0 {
		t.Fatalf("batches %v jobs %v: want the jobs in the batch that was in progress, the push in the next", f.batches, f.jobs)
	}
	f.mu.Unlock()
	// A job alone is a batch of its own, which OnBatch does not report.
	if err := w.Do(context.Background(), func(ctx context.Context, tx any) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 {
		t.Fatalf("OnBatch called %d times, want 2 (the batches with pushes)", len(infos))
	}
}

func TestWriterDoFailsWithBatch(t *testing.T) {
	boom := errors.New("boom")
	f := &fake{err: func(int) error { return boom }}
	w := NewWriter(opts(10), f.commit, nil)
	ran := false
	if err := w.Do(context.Background(), func(ctx context.Context, tx any) error { ran = true; return nil }); !errors.Is(err, boom) {
		t.Fatalf("Do: %v, want the batch's error", err)
	}
	if ran {
		t.Fatalf("the job ran in a failed batch")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Do(ctx, func(ctx context.Context, tx any) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Do with a canceled context: %v", err)
	}
	w.Close()
	if err := w.Do(context.Background(), func(ctx context.Context, tx any) error { return nil }); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Do after Close: %v", err)
	}
}

func TestWriterDoSkipsAbandonedJob(t *testing.T) {
	f := &fake{}
	w, release := blocked(t, f, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	ran := false
	go func() {
		done <- w.Do(ctx, func(ctx context.Context, tx any) error { ran = true; return nil })
	}()
	waitQueued(w, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Do: %v", err)
	}
	release()
	if _, err := w.Append(context.Background(), []store.NewMessage{msg("next")}); err != nil {
		t.Fatal(err)
	}
	if ran {
		t.Fatalf("an abandoned job ran")
	}
}

func TestCheckCycle(t *testing.T) {
	id := store.MessageID("a", "k")
	now := time.Date(2026, 1, 2, 3, 4, 5, 6789, time.UTC)
	c, err := CheckCycle("d", "w", []store.Outcome{
		{Attempt: store.Attempt{MessageID: store.MessageID("a", "z"), Destination: "d", N: 2, Duration: -time.Second}, RetryAt: now.Add(time.Minute)},
		{Attempt: store.Attempt{MessageID: id, Destination: "d", N: 1, Duration: 1500 * time.Nanosecond}, Done: true, Dead: true},
		{Attempt: store.Attempt{MessageID: id, Destination: "c", N: 1}, Dead: true},
		{Attempt: store.Attempt{MessageID: id, Destination: "b", N: 1}},
	}, 5, time.Second, now)
	if err != nil {
		t.Fatal(err)
	}
	if c.Now.Nanosecond() != 6000 || !c.LeaseUntil.Equal(c.Now.Add(time.Second)) {
		t.Fatalf("times %v %v", c.Now, c.LeaseUntil)
	}
	if !slices.IsSortedFunc(c.Outcomes, func(x, y Outcome) int {
		return strings.Compare(x.MessageID+"/"+x.Destination, y.MessageID+"/"+y.Destination)
	}) {
		t.Fatalf("outcomes not in (message, destination) order")
	}
	got := map[string]string{}
	for _, o := range c.Outcomes {
		retryIn := time.Duration(-1)
		if o.Result == ResultRetry {
			retryIn = o.RetryAt.Sub(c.Now)
		}
		got[fmt.Sprintf("%v/%s", o.MessageID == id, o.Destination)] = fmt.Sprintf("%s %d %v %v", o.Result, o.DurationUS, o.StartedAt.Equal(c.Now), retryIn)
	}
	want := map[string]string{"true/b": "retry 0 true 0s", "true/c": "dead 0 true -1ns", "true/d": "done 1 true -1ns", "false/d": "retry 0 true 1m0s"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("outcomes %v, want %v", got, want)
	}
	if _, err := CheckCycle("d", "w", []store.Outcome{
		{Attempt: store.Attempt{MessageID: id, Destination: "d", N: 1}},
		{Attempt: store.Attempt{MessageID: id, Destination: "d", N: 2}},
	}, 0, 0, now); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("two outcomes for one delivery: %v", err)
	}
}

func TestCleanError(t *testing.T) {
	for in, want := range map[string]string{
		"":              "",
		"plain":         "plain",
		"a\x00b":        "a\uFFFDb",
		"bad \xff utf8": "bad \uFFFD utf8",
	} {
		if got := CleanError(in); got != want {
			t.Fatalf("CleanError(%q) = %q, want %q", in, got, want)
		}
	}
	long := strings.Repeat("é", store.MaxErrorLen) // 2 bytes each
	got := CleanError("x" + long)
	if len(got) > store.MaxErrorLen || !utf8.ValidString(got) || len(got) < store.MaxErrorLen-1 {
		t.Fatalf("cut to %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
}

func TestDeadCursor(t *testing.T) {
	id := store.MessageID("a", "k")
	for _, dest := range []string{"d", strings.Repeat("x", store.MaxDestinationLen), "名前"} {
		c := EncodeDeadCursor(-5, id, dest)
		at, gotID, gotDest, err := DecodeDeadCursor(c)
		if err != nil || at != -5 || gotID != id || gotDest != dest {
			t.Fatalf("round trip: %d %q %q %v", at, gotID, gotDest, err)
		}
	}
	good := EncodeDeadCursor(1, id, "d")
	for _, c := range []string{"", "x", good[:len(good)-2], EncodeCursor(1, id), EncodeDeadCursor(1, id, strings.Repeat("x", store.MaxDestinationLen+1)), EncodeDeadCursor(1, "msg_short", "d"), EncodeDeadCursor(1, id, "a\x00")} {
		if _, _, _, err := DecodeDeadCursor(c); !errors.Is(err, store.ErrInvalidCursor) {
			t.Fatalf("DecodeDeadCursor(%q): %v", c, err)
		}
	}
}
