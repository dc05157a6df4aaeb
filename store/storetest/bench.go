package storetest

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxgate/wxgate/store"
)

// BenchConcurrency is how many goroutines per GOMAXPROCS BenchAppend runs:
// the HTTP requests in flight at once, each waiting for its commit.
const BenchConcurrency = 64

var benchRun atomic.Int64

// BatchStats counts batches for a benchmark: pass its OnBatch in the
// store's Options and the Store to BenchAppend.
type BatchStats struct {
	batches, items atomic.Int64
}

// OnBatch is an Options.OnBatch that counts committed batches.
func (c *BatchStats) OnBatch(b store.BatchInfo) {
	if b.Err == nil {
		c.batches.Add(1)
		c.items.Add(int64(b.Items))
	}
}

// BenchDeliverLimit is the Cycle limit of BenchAppendAndDeliver: the
// deliveries one destination has in flight.
const BenchDeliverLimit = 64

// BenchAppendAndDeliver is BenchAppend with one destination per push, while
// one Cycle loop, as a delivery engine runs it for that destination, claims
// up to BenchDeliverLimit deliveries and reports them done in its next
// cycle (a destination that answers at once). Appends wake the loop when it
// has caught up. Besides pushes/s it reports the deliveries completed per
// second while the pushes ran, the backlog left when they stopped (which
// stays small when deliveries keep up), the time to clear it, and the mean
// deliveries claimed per cycle.
//
// rate, when positive, paces the pushes to that many per second (the
// goroutines wait for their turn), to check that deliveries keep up at a
// given load rather than at saturation; 0 pushes as fast as the store
// takes them.
func BenchAppendAndDeliver(b *testing.B, s store.Store, stats *BatchStats, rate int) {
	run := strconv.FormatInt(benchRun.Add(1), 10) + ":" + strconv.FormatInt(time.Now().UnixNano(), 36)
	dest := "bench-" + strconv.FormatInt(benchRun.Load(), 10) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	dests := []string{dest}
	var seq, pushed, delivered, cycles atomic.Int64
	wake := make(chan struct{}, 1)
	stop := make(chan struct{})
	loopDone := make(chan error, 1)
	go func() {
		ctx := context.Background()
		var finished []store.Outcome
		for {
			cl, err := s.Cycle(ctx, dest, "bench-"+run, finished, BenchDeliverLimit, time.Minute)
			if err != nil {
				loopDone <- err
				return
			}
			cycles.Add(1)
			delivered.Add(int64(len(finished)))
			finished = finished[:0]
			now := time.Now()
			for _, c := range cl {
				finished = append(finished, store.Outcome{Done: true, Attempt: store.Attempt{
					MessageID: c.MessageID, Destination: c.Destination, N: c.Attempt, StartedAt: now, Status: 200}})
			}
			if len(cl) > 0 {
				continue
			}
			select {
			case <-wake:
			case <-stop:
				if delivered.Load() == pushed.Load() {
					loopDone <- nil
					return
				}
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	raw := []byte(`<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><FromUserName><![CDATA[oUser0123456789abcdefghijklm]]></FromUserName><CreateTime>1764403200</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hello, I would like to ask about my order]]></Content><MsgId>23456789012345678</MsgId></xml>`)
	payload := []byte(`{"id":"msg_q3a5mvwyw2rawx7xycicd4642a","app":"default","appid":"wx0123456789abcdef","openid":"oUser0123456789abcdefghijklm","msg_type":"text","event":"","create_time":1764403200,"received_at":"2026-11-29T08:00:00.123Z","message":{"ToUserName":"gh_0123456789ab","FromUserName":"oUser0123456789abcdefghijklm","CreateTime":1764403200,"MsgType":"text","Content":"hello, I would like to ask about my order","MsgId":23456789012345678}}`)
	b.SetParallelism(BenchConcurrency)
	b.ReportAllocs()
	var batches0, items0 int64
	if stats != nil {
		batches0, items0 = stats.batches.Load(), stats.items.Load()
	}
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		msgs := make([]store.NewMessage, 1)
		for pb.Next() {
			i := seq.Add(1)
			if rate > 0 {
				time.Sleep(time.Until(start.Add(time.Duration(i-1) * time.Second / time.Duration(rate))))
			}
			n := strconv.FormatInt(i, 10)
			now := time.Now()
			msgs[0] = store.NewMessage{
				App: "default", AppID: "wx0123456789abcdef", OpenID: "oUser0123456789abcdefghijklm",
				MsgType: "text", CreateTime: 1764403200, ReceivedAt: now,
				DedupKey: "msg:" + run + ":" + n, Format: "xml", Mode: "safe", Raw: raw, Payload: payload,
				NonceKey: run + ":" + n, NonceDigest: "0123456789abcdef0123456789abcdef01234567", NonceExpires: now.Add(10 * time.Minute),
				Destinations: dests,
			}
			res, err := s.Append(ctx, msgs)
			if err != nil {
				b.Error(err)
				return
			}
			if res[0].Status != store.Stored {
				b.Errorf("status %v, want stored", res[0].Status)
				return
			}
			pushed.Add(1)
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	})
	elapsed := b.Elapsed()
	b.StopTimer()
	deliveredInWindow := delivered.Load()
	backlog := pushed.Load() - deliveredInWindow
	drainStart := time.Now()
	close(stop)
	select {
	case err := <-loopDone:
		if err != nil {
			b.Fatal(err)
		}
	case <-time.After(time.Minute):
		b.Fatalf("%d deliveries still pending a minute after the pushes stopped", pushed.Load()-delivered.Load())
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "pushes/s")
	b.ReportMetric(float64(deliveredInWindow)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(backlog), "backlog")
	b.ReportMetric(float64(time.Since(drainStart).Milliseconds()), "drain-ms")
	if c := cycles.Load(); c > 0 {
		b.ReportMetric(float64(delivered.Load())/float64(c), "deliveries/cycle")
	}
	if stats != nil {
		if n := stats.batches.Load() - batches0; n > 0 {
			b.ReportMetric(float64(stats.items.Load()-items0)/float64(n), "pushes/commit")
		}
	}
}

// BenchAppend appends distinct pushes, one per Append call, from many
// goroutines, as a gateway under load does: each with its nonce, a typical
// safe-mode text body and webhook payload. It reports pushes/s and the heap
// in use after the run (after a GC), which must not grow with b.N, and,
// with stats (which may be nil), the mean pushes per commit.
func BenchAppend(b *testing.B, s store.Store, stats *BatchStats) {
	run := strconv.FormatInt(benchRun.Add(1), 10) + ":" + strconv.FormatInt(time.Now().UnixNano(), 36)
	var seq atomic.Int64
	raw := []byte(`<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><FromUserName><![CDATA[oUser0123456789abcdefghijklm]]></FromUserName><CreateTime>1764403200</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hello, I would like to ask about my order]]></Content><MsgId>23456789012345678</MsgId></xml>`)
	payload := []byte(`{"id":"msg_q3a5mvwyw2rawx7xycicd4642a","app":"default","appid":"wx0123456789abcdef","openid":"oUser0123456789abcdefghijklm","msg_type":"text","event":"","create_time":1764403200,"received_at":"2026-11-29T08:00:00.123Z","message":{"ToUserName":"gh_0123456789ab","FromUserName":"oUser0123456789abcdefghijklm","CreateTime":1764403200,"MsgType":"text","Content":"hello, I would like to ask about my order","MsgId":23456789012345678}}`)
	b.SetParallelism(BenchConcurrency)
	b.ReportAllocs()
	var batches0, items0 int64
	if stats != nil {
		batches0, items0 = stats.batches.Load(), stats.items.Load()
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		msgs := make([]store.NewMessage, 1)
		for pb.Next() {
			n := strconv.FormatInt(seq.Add(1), 10)
			now := time.Now()
			msgs[0] = store.NewMessage{
				App: "default", AppID: "wx0123456789abcdef", OpenID: "oUser0123456789abcdefghijklm",
				MsgType: "text", CreateTime: 1764403200, ReceivedAt: now,
				DedupKey: "msg:" + run + ":" + n, Format: "xml", Mode: "safe", Raw: raw, Payload: payload,
				NonceKey: run + ":" + n, NonceDigest: "0123456789abcdef0123456789abcdef01234567", NonceExpires: now.Add(10 * time.Minute),
			}
			res, err := s.Append(ctx, msgs)
			if err != nil {
				b.Error(err)
				return
			}
			if res[0].Status != store.Stored {
				b.Errorf("status %v, want stored", res[0].Status)
				return
			}
		}
	})
	elapsed := b.Elapsed()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "pushes/s")
	if stats != nil {
		if n := stats.batches.Load() - batches0; n > 0 {
			b.ReportMetric(float64(stats.items.Load()-items0)/float64(n), "pushes/commit")
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
}
