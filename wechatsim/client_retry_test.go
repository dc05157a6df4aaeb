package wechatsim

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxgate/wxgate/message"
)

// countingHandler answers the first n-1 requests with first and the rest
// with then, counting them.
type countingHandler struct {
	n           int64
	first, then http.Handler
	seen        atomic.Int64
}

func (h *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.seen.Add(1) < h.n {
		h.first.ServeHTTP(w, r)
		return
	}
	h.then.ServeHTTP(w, r)
}

// TestXPayRetrySchedule: an xpay notification answered "success" is
// delivered again on WeChat's schedule (scaled) until the deliveries run
// out, and stops at the first acknowledgement.
func TestXPayRetrySchedule(t *testing.T) {
	clock := NewFakeClock(time.Time{})
	const scale = 1e-7
	sched := DefaultXPaySchedule()
	if len(sched) != 15 || sched[0] != 15*time.Second || sched[3] != 3*time.Minute || sched[14] != 6*time.Hour {
		t.Fatalf("schedule %v", sched)
	}
	var total time.Duration
	for _, d := range sched {
		total += d
	}
	if total != 24*time.Hour+4*time.Minute {
		t.Fatalf("schedule totals %v", total)
	}
	sched[0] = time.Hour // the result is a copy
	if DefaultXPaySchedule()[0] != 15*time.Second {
		t.Fatal("DefaultXPaySchedule shares storage")
	}

	h := &countingHandler{n: 1 << 30, first: okHandler("success")}
	c := newTestClient(t, ClientConfig{Handler: h, Clock: clock, TimeScale: scale})
	p, _ := c.Sample(message.EventXPayGoodsDeliverNotify, nil)
	o, err := c.Push(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if o.Accepted || o.Verdict != VerdictNotAcknowledged || len(o.Deliveries) != 16 || h.seen.Load() != 16 ||
		!strings.Contains(o.Reason, "all 16 deliveries failed") {
		t.Fatalf("%s (%s), %d deliveries, %d requests", o.Verdict, o.Reason, len(o.Deliveries), h.seen.Load())
	}
	for i, d := range o.Deliveries {
		want := time.Duration(0)
		if i > 0 {
			want = time.Duration(float64(DefaultXPaySchedule()[i-1]) * scale)
		}
		if d.Attempt != i+1 || d.Delay != want || d.Verdict != VerdictNotAcknowledged {
			t.Fatalf("delivery %d: attempt %d, delay %v (want %v), %s", i, d.Attempt, d.Delay, want, d.Verdict)
		}
	}
	if o.Retries() != 15 {
		t.Fatalf("retries %d", o.Retries())
	}

	// Acknowledged on the third delivery: no more.
	h = &countingHandler{n: 3, first: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "busy", 503) }),
		then: sdkReplying(t, clock, message.XPayOK)}
	c = newTestClient(t, ClientConfig{Handler: h, Clock: clock, TimeScale: scale})
	p, _ = c.Sample(message.EventXPayCoinPayNotify, nil)
	o, _ = c.Push(context.Background(), p)
	if !o.Accepted || o.Verdict != VerdictReply || len(o.Deliveries) != 3 || o.Deliveries[0].Verdict != VerdictStatus {
		t.Fatalf("%s (%s), %d deliveries", o.Verdict, o.Reason, len(o.Deliveries))
	}

	// A custom schedule, its last pause repeated; Deliveries caps it.
	h = &countingHandler{n: 1 << 30, first: okHandler("")}
	c = newTestClient(t, ClientConfig{Handler: h, Clock: clock, XPaySchedule: []time.Duration{time.Millisecond, 2 * time.Millisecond},
		Deliveries: 4, TimeScale: 1})
	p, _ = c.Sample(message.EventXPayComplaintNotify, nil)
	o, _ = c.Push(context.Background(), p)
	var delays []time.Duration
	for _, d := range o.Deliveries {
		delays = append(delays, d.Delay)
	}
	if len(o.Deliveries) != 4 || delays[1] != time.Millisecond || delays[2] != 2*time.Millisecond || delays[3] != 2*time.Millisecond {
		t.Fatalf("%d deliveries, delays %v", len(o.Deliveries), delays)
	}

	// Other pushes keep RetryDelay, scaled, and are not retried after a
	// 200 answer, whatever it is.
	h = &countingHandler{n: 1 << 30, first: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 502) })}
	c = newTestClient(t, ClientConfig{Handler: h, Clock: clock, RetryDelay: time.Second, TimeScale: 0.001})
	o, _ = c.Push(context.Background(), &message.Text{Content: "x"})
	if len(o.Deliveries) != DefaultDeliveries || o.Deliveries[1].Delay != time.Millisecond {
		t.Fatalf("%d deliveries, delay %v", len(o.Deliveries), o.Deliveries[1].Delay)
	}
	h = &countingHandler{n: 1 << 30, first: okHandler("nonsense")}
	c = newTestClient(t, ClientConfig{Handler: h, Clock: clock})
	if o, _ = c.Push(context.Background(), &message.Text{Content: "x"}); len(o.Deliveries) != 1 || o.Verdict != VerdictMalformed {
		t.Fatalf("%s, %d deliveries", o.Verdict, len(o.Deliveries))
	}
}

// TestIOSRefundInquiry: the inquiry is asked again until answered, 3 times
// at most, and waits 3 s for each answer (5 s for other pushes) unless
// Timeout is set.
func TestIOSRefundInquiry(t *testing.T) {
	clock := NewFakeClock(time.Time{})
	h := &countingHandler{n: 2, first: okHandler("success"), then: sdkReplying(t, clock, message.XPayIOSRefundAnswer(true, "未发货", "provide_status 0"))}
	c := newTestClient(t, ClientConfig{Handler: h, Clock: clock})
	p, _ := c.Sample(message.EventXPaySubscribeIOSRefundQuery, nil)
	o, _ := c.Push(context.Background(), p)
	if !o.Accepted || len(o.Deliveries) != 2 || o.Deliveries[0].Verdict != VerdictNotAcknowledged {
		t.Fatalf("%s (%s), %d deliveries", o.Verdict, o.Reason, len(o.Deliveries))
	}
	if pl := c.planFor(p); pl.timeout != 3*time.Second || pl.tries != DefaultIOSRefundInquiries {
		t.Fatalf("iOS plan %+v", pl)
	}
	for _, kind := range []string{"text", message.EventXPayGoodsDeliverNotify, message.EventExpressAddWaybill} {
		q, _ := c.Sample(kind, nil)
		if pl := c.planFor(q); pl.timeout != DefaultPushTimeout {
			t.Fatalf("%s: plan %+v", kind, pl)
		}
	}
	c = newTestClient(t, ClientConfig{Handler: h, Clock: clock, Timeout: time.Second})
	if pl := c.planFor(p); pl.timeout != time.Second {
		t.Fatalf("explicit Timeout: %+v", pl)
	}
}

func TestScheduleConfigErrors(t *testing.T) {
	for _, cfg := range []ClientConfig{
		{Handler: okHandler(""), Token: tToken, TimeScale: -1},
		{Handler: okHandler(""), Token: tToken, XPaySchedule: []time.Duration{time.Second, -time.Second}},
	} {
		if _, err := NewClient(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}
