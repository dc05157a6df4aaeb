package push

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/wxgate/wxgate/message"
)

// benchPool is how many distinct pushes a benchmark cycles through. The
// deduper's TTL is 1 ns, so a push seen before counts as new again and
// every iteration runs the full path: nothing is answered from the cache.
const benchPool = 1024

// resettableBody is a request body that can be rewound without allocating.
type resettableBody struct {
	bytes.Reader
	data []byte
}

func (b *resettableBody) Close() error { return nil }
func (b *resettableBody) rewind()      { b.Reset(b.data) }

// discardWriter is a ResponseWriter that keeps the status and drops the
// body, so the benchmark measures the handler, not a recorder.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }
func (w *discardWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

type benchReq struct {
	r    *http.Request
	body *resettableBody
}

func benchRequests(b *testing.B, mode Mode, f message.Format, reply bool) []benchReq {
	reqs := make([]benchReq, benchPool)
	for i := range reqs {
		text := &message.Text{Header: hdr("text", "", testNow.Unix()), Content: "你好，我想问一下订单什么时候发货？", MsgID: message.MsgID(strconv.Itoa(6054768590064713728 + i))}
		plaintext, err := message.Encode(text, f)
		if err != nil {
			b.Fatal(err)
		}
		r := wire{mode: mode, format: f, plaintext: plaintext, nonce: strconv.Itoa(100000 + i)}.request(b)
		data, _ := io.ReadAll(r.Body)
		body := &resettableBody{data: data}
		r.Body = body
		reqs[i] = benchReq{r, body}
	}
	return reqs
}

func benchHandler(b *testing.B, logger *slog.Logger, reply bool) *Handler {
	r := NewRouter()
	if reply {
		On(r, func(context.Context, *message.Text) (message.Reply, error) {
			return message.TransferCustomerService(), nil
		})
	}
	h, err := NewHandler(Config{
		AppID: testAppID, Token: testToken, AESKeys: []string{testKey}, AllowPlaintext: true,
		Now: func() time.Time { return testNow }, Logger: logger,
		// The pool's requests come round again: a deduper that forgets at
		// once (its TTL hidden from the config check) and a nonce store
		// that forgets after each claim make every round take the full
		// path of a new push, inserts included.
		Deduper: struct{ Deduper }{NewMemoryDeduper(time.Nanosecond, 0)},
		Nonces:  forgetfulNonces{NewMemoryNonceStore()},
	}, r)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// forgetfulNonces claims a pair, as for a new push, then forgets it.
type forgetfulNonces struct{ *MemoryNonceStore }

func (f forgetfulNonces) Claim(ctx context.Context, key, digest string, expires time.Time) (bool, error) {
	ok, err := f.MemoryNonceStore.Claim(ctx, key, digest, expires)
	f.mu.Lock()
	delete(f.entries.entries, f.hasher.hash(key))
	f.mu.Unlock()
	return ok, err
}

func runBench(b *testing.B, h *Handler, reqs []benchReq) {
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		br := reqs[i%len(reqs)]
		i++
		br.body.rewind()
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, br.r)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

var quietLogger = slog.New(slog.DiscardHandler)

// BenchmarkSafeXMLText is the full path of a safe-mode XML text push:
// verify both signatures, decrypt, decode, deduplicate, dispatch, answer
// "success".
func BenchmarkSafeXMLText(b *testing.B) {
	runBench(b, benchHandler(b, quietLogger, false), benchRequests(b, ModeSafe, message.FormatXML, false))
}

// BenchmarkSafeXMLTextJSONLog is BenchmarkSafeXMLText with the per-request
// JSON log line written (to io.Discard).
func BenchmarkSafeXMLTextJSONLog(b *testing.B) {
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	runBench(b, benchHandler(b, logger, false), benchRequests(b, ModeSafe, message.FormatXML, false))
}

// BenchmarkSafeJSONText is the same path for a JSON push.
func BenchmarkSafeJSONText(b *testing.B) {
	runBench(b, benchHandler(b, quietLogger, false), benchRequests(b, ModeSafe, message.FormatJSON, false))
}

// BenchmarkPlainXMLText is a plaintext-mode push, for comparison.
func BenchmarkPlainXMLText(b *testing.B) {
	runBench(b, benchHandler(b, quietLogger, false), benchRequests(b, ModePlain, message.FormatXML, false))
}

// BenchmarkEncryptedReplyXML answers each safe-mode push with an encrypted
// transfer_customer_service reply.
func BenchmarkEncryptedReplyXML(b *testing.B) {
	runBench(b, benchHandler(b, quietLogger, true), benchRequests(b, ModeSafe, message.FormatXML, true))
}

// BenchmarkEncryptedReplyJSON is BenchmarkEncryptedReplyXML in JSON.
func BenchmarkEncryptedReplyJSON(b *testing.B) {
	runBench(b, benchHandler(b, quietLogger, true), benchRequests(b, ModeSafe, message.FormatJSON, true))
}

// BenchmarkURLVerification is the GET the console sends.
func BenchmarkURLVerification(b *testing.B) {
	h := benchHandler(b, quietLogger, false)
	r := httptest.NewRequest(http.MethodGet, "/wechat?signature=f464b24fc39322e44b38aa78f5edd27bd1441696&echostr=4375120948345356249&timestamp=1714036504&nonce=1514711492", nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
