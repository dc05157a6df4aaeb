package wechatsim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxgate/wxgate/message"
)

// RunConfig describes a batch of pushes for Client.Run.
type RunConfig struct {
	// Count is the number of pushes; at least 1.
	Count int
	// Concurrency is the number of pushes in flight at once; 1 when zero.
	// Size ClientConfig.Concurrency the same for a matching connection
	// pool.
	Concurrency int
	// Next builds push i (0 ≤ i < Count). It is called from several
	// goroutines at once. Nil means Raw, or when Raw is nil too, text
	// messages from Client.Sample.
	Next func(i int) (message.Push, error)
	// Raw, when Next is nil, is sent as is (Client.PushRaw) by every push.
	Raw []byte
	// OnOutcome, when set, sees every outcome; calls are serialized.
	OnOutcome func(i int, o *Outcome)
}

// LatencyStats summarises push latencies (first request to judged final
// answer, retries included).
type LatencyStats struct {
	// P50, P90 and P99 are nearest-rank percentiles.
	P50, P90, P99 time.Duration
	// Max is the slowest push.
	Max time.Duration
	// Mean is the average.
	Mean time.Duration
}

// Summary is the result of Client.Run.
type Summary struct {
	// Sent counts pushes that were delivered and judged.
	Sent int
	// Accepted counts pushes WeChat would take as handled.
	Accepted int
	// Failed counts the others.
	Failed int
	// ByVerdict counts the final verdict of every push, accepted or not.
	ByVerdict map[Verdict]int
	// Deliveries counts HTTP requests; Retries those after a first one.
	Deliveries, Retries int
	// Latency summarises the pushes' latencies.
	Latency LatencyStats
	// Elapsed is the wall time of the run.
	Elapsed time.Duration
	// Throughput is Sent per second of Elapsed.
	Throughput float64
}

// Failures returns the failed verdicts and their counts, most frequent
// first.
func (s *Summary) Failures() []VerdictCount {
	var out []VerdictCount
	for v, n := range s.ByVerdict {
		if !v.Accepted() {
			out = append(out, VerdictCount{v, n})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Verdict < out[j].Verdict
	})
	return out
}

// VerdictCount is a verdict and how many pushes ended with it.
type VerdictCount struct {
	// Verdict is the final verdict.
	Verdict Verdict
	// Count is the number of pushes.
	Count int
}

// String renders the summary on a few lines.
func (s *Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sent %d pushes in %v (%.1f/s): %d accepted, %d failed\n",
		s.Sent, s.Elapsed.Round(time.Millisecond), s.Throughput, s.Accepted, s.Failed)
	for _, vc := range s.Failures() {
		fmt.Fprintf(&b, "  failed   %-22s %d\n", vc.Verdict, vc.Count)
	}
	fmt.Fprintf(&b, "  deliveries %d (%d retries)\n", s.Deliveries, s.Retries)
	l := s.Latency
	fmt.Fprintf(&b, "  latency  p50 %v  p90 %v  p99 %v  max %v\n", RoundLatency(l.P50), RoundLatency(l.P90), RoundLatency(l.P99), RoundLatency(l.Max))
	return b.String()
}

// RoundLatency rounds a latency for display: to the microsecond below a
// millisecond, to 10 µs below a second, to the millisecond above.
func RoundLatency(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// Run sends rc.Count distinct pushes with rc.Concurrency in flight and
// summarises the outcomes: the engine of `wxgate push --count` and of load
// tests. It stops early when ctx ends or Next fails, and then returns the
// summary so far with the error.
func (c *Client) Run(ctx context.Context, rc RunConfig) (*Summary, error) {
	if rc.Count < 1 {
		return nil, errors.New("wechatsim: RunConfig.Count must be at least 1")
	}
	conc := max(rc.Concurrency, 1)
	conc = min(conc, rc.Count)
	next := rc.Next
	if next == nil && rc.Raw == nil {
		next = func(int) (message.Push, error) { return c.Sample(message.MsgTypeText, nil) }
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	lat := make([]time.Duration, rc.Count)
	done := make([]bool, rc.Count)
	var (
		idx      atomic.Int64
		mu       sync.Mutex
		firstErr error
		s        = &Summary{ByVerdict: map[Verdict]int{}}
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(idx.Add(1) - 1)
				if i >= rc.Count {
					return
				}
				var o *Outcome
				var err error
				if next != nil {
					var p message.Push
					if p, err = next(i); err == nil {
						o, err = c.Push(ctx, p)
					}
				} else {
					o, err = c.PushRaw(ctx, rc.Raw)
				}
				if err != nil {
					fail(fmt.Errorf("push %d: %w", i, err))
					return
				}
				if o.Verdict == VerdictCanceled {
					return
				}
				lat[i], done[i] = o.Latency, true
				mu.Lock()
				s.Sent++
				if o.Accepted {
					s.Accepted++
				} else {
					s.Failed++
				}
				s.ByVerdict[o.Verdict]++
				s.Deliveries += len(o.Deliveries)
				s.Retries += o.Retries()
				if rc.OnOutcome != nil {
					rc.OnOutcome(i, o)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	s.Elapsed = time.Since(start)
	if s.Elapsed > 0 {
		s.Throughput = float64(s.Sent) / s.Elapsed.Seconds()
	}
	var got []time.Duration
	for i, ok := range done {
		if ok {
			got = append(got, lat[i])
		}
	}
	s.Latency = latencyStats(got)
	if firstErr == nil && ctx.Err() != nil && s.Sent < rc.Count {
		firstErr = ctx.Err()
	}
	return s, firstErr
}

// latencyStats computes nearest-rank percentiles; d is sorted in place.
func latencyStats(d []time.Duration) LatencyStats {
	if len(d) == 0 {
		return LatencyStats{}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(d)))) - 1
		return d[min(max(i, 0), len(d)-1)]
	}
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return LatencyStats{P50: rank(0.50), P90: rank(0.90), P99: rank(0.99), Max: d[len(d)-1], Mean: sum / time.Duration(len(d))}
}
