package push

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wxcrypt"
)

func textPush(id string) []byte {
	b, _ := message.Encode(&message.Text{Header: hdr("text", "", 1714112401), Content: "hi " + id, MsgID: message.MsgID(id)}, message.FormatXML)
	return b
}

func countingRouter(calls *atomic.Int32) *Router {
	r := NewRouter()
	r.Fallback(func(context.Context, *Request) (message.Reply, error) { calls.Add(1); return nil, nil })
	return r
}

// With an EncodingAESKey configured, a captured plaintext URL cannot carry
// a forged body: plaintext is refused unless allowed.
func TestPlaintextRefusedOnceAKeyIsConfigured(t *testing.T) {
	var calls atomic.Int32
	h, _ := newTestHandler(t, Config{AESKeys: []string{testKey}}, countingRouter(&calls))
	rec := serve(h, wire{mode: ModePlain, format: message.FormatXML, plaintext: textPush("1")}.request(t))
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "does not allow plaintext") || calls.Load() != 0 {
		t.Fatalf("status %d body %q calls %d", rec.Code, rec.Body, calls.Load())
	}
	h, _ = newTestHandler(t, Config{AESKeys: []string{testKey}, AllowPlaintext: true}, countingRouter(&calls))
	if rec := serve(h, wire{mode: ModePlain, format: message.FormatXML, plaintext: textPush("1")}.request(t)); rec.Code != 200 || calls.Load() != 1 {
		t.Fatalf("allowed plaintext: status %d calls %d", rec.Code, calls.Load())
	}
	if _, err := NewHandler(Config{Token: testToken, AppID: testAppID, AESKeys: []string{testKey}, Mode: ModeSafe, AllowPlaintext: true}, nil); err == nil {
		t.Fatal("AllowPlaintext with mode safe was accepted")
	}
}

// A (timestamp, nonce) pair signs one message: the same URL with another
// body is refused in every mode, while the same push sent again (even
// encrypted anew) takes the dedup path.
func TestNonceSignsOneMessage(t *testing.T) {
	for _, mode := range []Mode{ModePlain, ModeCompat, ModeSafe} {
		for _, f := range []message.Format{message.FormatXML, message.FormatJSON} {
			t.Run(mode.String()+"/"+f.String(), func(t *testing.T) {
				var calls atomic.Int32
				h, logs := newTestHandler(t, Config{}, countingRouter(&calls))
				enc := func(id string) []byte {
					b, _ := message.Encode(&message.Text{Header: hdr("text", "", 1714112401), Content: "hi", MsgID: message.MsgID(id)}, f)
					return b
				}
				first := wire{mode: mode, format: f, plaintext: enc("1"), nonce: "123456"}
				if rec := serve(h, first.request(t)); rec.Code != 200 {
					t.Fatalf("first: %d %q", rec.Code, rec.Body)
				}
				if rec := serve(h, first.request(t)); rec.Code != 200 || calls.Load() != 1 {
					t.Fatalf("same push again: %d %q, %d calls", rec.Code, rec.Body, calls.Load())
				}
				forged := wire{mode: mode, format: f, plaintext: enc("2"), nonce: "123456"}
				rec := serve(h, forged.request(t))
				if rec.Code != http.StatusForbidden || calls.Load() != 1 {
					t.Fatalf("another body on a used nonce: %d %q, %d calls", rec.Code, rec.Body, calls.Load())
				}
				if !strings.Contains(logs.String(), `"result":"nonce_reused"`) {
					t.Fatalf("not logged as nonce_reused: %s", logs)
				}
			})
		}
	}
}

// The console's URL check gets the replay window and the one-use rule too,
// and its echo is never sniffed as HTML.
func TestURLVerificationReplay(t *testing.T) {
	now := time.Unix(1714036504, 0)
	h, _ := newTestHandler(t, Config{Now: func() time.Time { return now }}, nil)
	get := func(ts, nonce, echo string) *httptest.ResponseRecorder {
		q := url.Values{"signature": {wxcrypt.Signature(testToken, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce}, "echostr": {echo}}
		return serve(h, httptest.NewRequest(http.MethodGet, "/wechat?"+q.Encode(), nil))
	}
	rec := get("1714036500", "77", "<script>x</script>")
	if rec.Code != 200 || rec.Header().Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("echo: %d %v", rec.Code, rec.Header())
	}
	if rec := get("1714036500", "77", "<script>x</script>"); rec.Code != 200 {
		t.Fatalf("the same check again: %d", rec.Code)
	}
	if rec := get("1714036500", "77", "other"); rec.Code != http.StatusForbidden {
		t.Fatalf("a used nonce echoing another string: %d %q", rec.Code, rec.Body)
	}
	// A signature from 2017 no longer reflects anything.
	if rec := get("1500000000", "1", "42"); rec.Code != http.StatusForbidden || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("stale GET: %d %v", rec.Code, rec.Header())
	}
}

// Open is the verify-and-parse call: each failure wraps its sentinel and
// maps to its status.
func TestOpenErrors(t *testing.T) {
	opener, err := NewOpener(Config{AppID: testAppID, Token: testToken, AESKeys: []string{testKey}, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	open := func(w wire) error {
		r := w.request(t)
		body := []byte(readAll(t, r.Body))
		_, err := opener.Open(context.Background(), r.URL.RawQuery, body)
		return err
	}
	safe := func(mut func(url.Values, *[]byte)) wire {
		return wire{mode: ModeSafe, format: message.FormatXML, plaintext: textPush("5"), mutate: mut}
	}
	for _, c := range []struct {
		name     string
		w        wire
		sentinel error
		status   int
		says     string
	}{
		{"bad signature", safe(func(q url.Values, _ *[]byte) { q.Set("signature", "00") }), ErrSignature, 403, "signature mismatch"},
		{"stale", wire{mode: ModeSafe, format: message.FormatXML, plaintext: textPush("6"), timestamp: "1500000000"}, ErrReplay, 403, "replay window"},
		{"plaintext with a key", wire{mode: ModePlain, format: message.FormatXML, plaintext: textPush("7")}, ErrMode, 403, "plaintext"},
		{"wrong key", wire{mode: ModeSafe, format: message.FormatXML, plaintext: textPush("8"), key: testKey2}, ErrDecrypt, 400, "EncodingAESKey does not match"},
		{"wrong AppID", wire{mode: ModeSafe, format: message.FormatXML, plaintext: textPush("9"), appID: "wx0000000000000000"}, ErrAppID, 403, "AppID does not match"},
		{"garbage", safe(func(_ url.Values, b *[]byte) { *b = []byte("hello") }), ErrMalformed, 400, "neither XML nor JSON"},
		{"missing param", safe(func(q url.Values, _ *[]byte) { q.Del("nonce") }), ErrMalformed, 400, "missing parameter"},
	} {
		err := open(c.w)
		var e *Error
		if !errors.Is(err, c.sentinel) || StatusCode(err) != c.status || !errors.As(err, &e) || !strings.Contains(e.Message, c.says) {
			t.Errorf("%s: %v (status %d), want %v %d %q", c.name, err, StatusCode(err), c.sentinel, c.status, c.says)
		}
		if err != nil && (strings.Contains(err.Error(), testKey) || strings.Contains(err.Error(), testToken+"|")) {
			t.Errorf("%s: a secret in %q", c.name, err)
		}
	}
	big := make([]byte, DefaultMaxBody+1)
	r := safe(nil).request(t)
	if _, err := opener.Open(context.Background(), r.URL.RawQuery, big); !errors.Is(err, ErrTooLarge) || StatusCode(err) != 413 {
		t.Errorf("oversized: %v", err)
	}
	// The wrong-key diagnosis is only given to a sender who knows the
	// Token: with a bad msg_signature the answer is the signature error.
	err = open(wire{mode: ModeSafe, format: message.FormatXML, plaintext: textPush("10"), key: testKey2, token: "BBBBB"})
	if !errors.Is(err, ErrSignature) {
		t.Errorf("wrong key and wrong token: %v", err)
	}
	if _, err := Open(context.Background(), Config{Token: "x"}, "", nil); err == nil || !strings.Contains(err.Error(), "Token") {
		t.Errorf("bad config: %v", err)
	}
}

// A Deduper that fails: the push is handled anyway, and that is logged.
type brokenDeduper struct{}

func (brokenDeduper) Acquire(context.Context, string) ([]byte, bool, error) {
	return nil, false, errors.New("connection refused")
}
func (brokenDeduper) Complete(context.Context, string, []byte) error { return errors.New("down") }
func (brokenDeduper) Release(context.Context, string) error          { return errors.New("down") }

func TestFailingDeduperHandlesAnyway(t *testing.T) {
	var calls atomic.Int32
	h, logs := newTestHandler(t, Config{Deduper: brokenDeduper{}}, countingRouter(&calls))
	rec := serve(h, wire{mode: ModeSafe, format: message.FormatXML, plaintext: textPush("20")}.request(t))
	if rec.Code != 200 || calls.Load() != 1 {
		t.Fatalf("status %d calls %d", rec.Code, calls.Load())
	}
	if !strings.Contains(logs.String(), "dedup unavailable: connection refused") || !strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Fatalf("not logged: %s", logs)
	}
}

// A full deduper answers 503, so that WeChat retries, and runs nothing.
func TestFullDeduperAnswers503(t *testing.T) {
	var calls atomic.Int32
	d := NewMemoryDeduper(time.Hour, 1)
	h, _ := newTestHandler(t, Config{Deduper: d}, countingRouter(&calls))
	if rec := serve(h, wire{mode: ModeSafe, format: message.FormatXML, plaintext: textPush("30")}.request(t)); rec.Code != 200 {
		t.Fatalf("first: %d", rec.Code)
	}
	rec := serve(h, wire{mode: ModeSafe, format: message.FormatXML, plaintext: textPush("31")}.request(t))
	if rec.Code != http.StatusServiceUnavailable || calls.Load() != 1 {
		t.Fatalf("full: status %d calls %d", rec.Code, calls.Load())
	}
}

// heldDeduper is a shared Deduper whose key another replica holds: every
// Acquire waits until its context ends.
type heldDeduper struct{ brokenDeduper }

func (heldDeduper) Acquire(ctx context.Context, _ string) ([]byte, bool, error) {
	<-ctx.Done()
	return nil, false, ctx.Err()
}

// A retry that arrives while the first delivery still runs elsewhere, and
// outlasts its own deadline waiting, answers "success" in time and runs
// nothing.
func TestDuplicateTimesOutWhileFirstRuns(t *testing.T) {
	var calls atomic.Int32
	h, logs := newTestHandler(t, Config{HandlerTimeout: 30 * time.Millisecond, Deduper: heldDeduper{}}, countingRouter(&calls))
	rec := serve(h, wire{mode: ModeSafe, format: message.FormatXML, plaintext: textPush("40")}.request(t))
	if rec.Code != 200 || rec.Body.String() != "success" || calls.Load() != 0 {
		t.Fatalf("retry: %d %q, %d calls", rec.Code, rec.Body, calls.Load())
	}
	if !strings.Contains(logs.String(), `"result":"duplicate_timeout"`) {
		t.Fatalf("not logged: %s", logs)
	}
}

// A body larger than the pooled buffers is read whole, and the pool keeps
// only small buffers.
func TestBodyPastThePooledBuffer(t *testing.T) {
	var got atomic.Int64
	r := NewRouter()
	On(r, func(_ context.Context, m *message.Text) (message.Reply, error) {
		got.Store(int64(len(m.Content)))
		return nil, nil
	})
	h, _ := newTestHandler(t, Config{MaxBody: 1 << 20}, r)
	content := strings.Repeat("字", 40000) // 120,000 bytes, past maxPooledBuffer
	plaintext, _ := message.Encode(&message.Text{Header: hdr("text", "", 1714112401), Content: content, MsgID: "50"}, message.FormatJSON)
	for _, mode := range []Mode{ModePlain, ModeSafe} {
		got.Store(0)
		pt := plaintext
		if mode == ModeSafe {
			pt, _ = message.Encode(&message.Text{Header: hdr("text", "", 1714112401), Content: content, MsgID: "51"}, message.FormatJSON)
		}
		rec := serve(h, wire{mode: mode, format: message.FormatJSON, plaintext: pt}.request(t))
		if rec.Code != 200 || got.Load() != int64(len(content)) {
			t.Fatalf("%v: status %d, handler saw %d bytes of %d", mode, rec.Code, got.Load(), len(content))
		}
	}
	for range 8 {
		if b := h.bufs.Get().(*[]byte); cap(*b) > maxPooledBuffer {
			t.Fatalf("a %d-byte buffer went back to the pool", cap(*b))
		}
	}
}

// A virtual-payment push is settled only by its acknowledgement: "success"
// leaves it to WeChat's next delivery, and a handler past its deadline is
// not answered with "success" in its place.
func TestXPaySettledOnlyByItsAcknowledgement(t *testing.T) {
	var calls atomic.Int32
	ack := atomic.Bool{}
	r := NewRouter()
	On(r, func(context.Context, *message.XPayGoodsDeliverNotify) (message.Reply, error) {
		calls.Add(1)
		if ack.Load() {
			return message.XPayOK, nil
		}
		return message.Success, nil
	})
	h, logs := newTestHandler(t, Config{}, r)
	pt, _ := message.Encode(&message.XPayGoodsDeliverNotify{Header: hdr("event", "xpay_goods_deliver_notify", 1714112401), OutTradeNo: "o-1"}, message.FormatJSON)
	w := wire{mode: ModeSafe, format: message.FormatJSON, plaintext: pt}
	serve(h, w.request(t))
	if !strings.Contains(logs.String(), `"result":"not_acknowledged"`) {
		t.Fatalf("not logged: %s", logs)
	}
	ack.Store(true)
	rec := serve(h, w.request(t))
	if calls.Load() != 2 || rec.Code != 200 {
		t.Fatalf("the retry after a plain success did not run the handler: %d calls, status %d", calls.Load(), rec.Code)
	}
	serve(h, w.request(t))
	if calls.Load() != 2 {
		t.Fatalf("acknowledged push ran again: %d calls", calls.Load())
	}

	// Past the deadline: no "success" in the handler's place.
	slow := NewRouter()
	On(slow, func(context.Context, *message.XPayGoodsDeliverNotify) (message.Reply, error) {
		time.Sleep(100 * time.Millisecond)
		return message.XPayOK, nil
	})
	h, _ = newTestHandler(t, Config{HandlerTimeout: 20 * time.Millisecond}, slow)
	pt2, _ := message.Encode(&message.XPayGoodsDeliverNotify{Header: hdr("event", "xpay_goods_deliver_notify", 1714112401), OutTradeNo: "o-2"}, message.FormatJSON)
	w2 := wire{mode: ModeSafe, format: message.FormatJSON, plaintext: pt2}
	if rec := serve(h, w2.request(t)); rec.Code == 200 {
		t.Fatalf("late xpay handler answered %d %q", rec.Code, rec.Body)
	}
	// Its acknowledgement came after all: the retry gets it.
	rec = serve(h, w2.request(t))
	if rec.Code != 200 || !strings.Contains(string(openReply(t, rec.Body.Bytes(), message.FormatJSON)), `"ErrCode":0`) {
		t.Fatalf("retry after a late ack: %d %q", rec.Code, rec.Body)
	}
}

func TestStatusCode(t *testing.T) {
	for err, want := range map[error]int{
		nil: 200, ErrMalformed: 400, ErrDecrypt: 400, ErrSignature: 403, ErrReplay: 403, ErrMode: 403,
		ErrAppID: 403, ErrTooLarge: 413, ErrMethod: 405, ErrBusy: 503, ErrHandler: 500, errors.New("x"): 500,
	} {
		if got := StatusCode(err); got != want {
			t.Errorf("StatusCode(%v) = %d, want %d", err, got, want)
		}
	}
}
