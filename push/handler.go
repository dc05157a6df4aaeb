package push

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wxcrypt"
)

// Handler is an http.Handler for one mini program's push URL. It answers
// WeChat's URL verification (GET) and receives pushes (POST): it checks
// the signatures, the timestamp and the body size, decrypts, decodes,
// deduplicates, dispatches to a Router and writes the reply in the
// request's format, encrypted when the request was.
type Handler struct {
	cfg    *resolved
	router *Router
	bufs   sync.Pool // *[]byte scratch buffers
}

// NewHandler returns a Handler for cfg that dispatches to router. A nil
// router answers "success" to every push.
func NewHandler(cfg Config, router *Router) (*Handler, error) {
	r, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	if router == nil {
		router = NewRouter()
	}
	h := &Handler{cfg: r, router: router}
	h.bufs.New = func() any { b := make([]byte, 0, 4096); return &b }
	return h, nil
}

// maxPooledBuffer keeps buffers grown by a rare large body out of the pool.
const maxPooledBuffer = 64 << 10

// Shared header values; net/http does not modify them.
var (
	ctypeText = []string{"text/plain; charset=utf-8"}
	ctypeXML  = []string{"application/xml; charset=utf-8"}
	ctypeJSON = []string{"application/json; charset=utf-8"}
	nosniff   = []string{"nosniff"}
	allowed   = []string{"GET, POST"}
)

var (
	successBody   = []byte("success")
	successLength = []string{"7"}
)

// outcome is what one request came to, for the response and the log line.
type outcome struct {
	status int
	body   []byte
	ctype  []string
	result string // short label for the log: ok, duplicate, bad_signature, ...
	detail string // the reason, for the log only
	level  slog.Level

	mode   Mode
	format message.Format
	head   *message.Header

	// bufs are pooled buffers to give back once the response is written.
	bufs [2]*[]byte

	// The response is written once, by ServeHTTP or, when a handler passes
	// its deadline, by the watchdog that answers "success" in its place.
	w       http.ResponseWriter
	mu      sync.Mutex
	written bool
}

// write sends the outcome unless the watchdog already answered.
func (o *outcome) write() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.written {
		return
	}
	o.written = true
	hdr := o.w.Header()
	hdr["Content-Type"] = o.ctype
	if o.status != http.StatusOK {
		hdr["X-Content-Type-Options"] = nosniff
	}
	o.w.WriteHeader(o.status)
	o.w.Write(o.body)
}

// answerEarly sends "success" while the handler still runs, and flushes it
// so that WeChat has its answer in time. It reports whether it answered.
func (o *outcome) answerEarly() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.written {
		return false
	}
	o.written = true
	hdr := o.w.Header()
	hdr["Content-Type"] = ctypeText
	hdr["Content-Length"] = successLength
	o.w.WriteHeader(http.StatusOK)
	o.w.Write(successBody)
	http.NewResponseController(o.w).Flush()
	return true
}

func (o *outcome) fail(status int, result, msg string) {
	o.status, o.result, o.body, o.ctype, o.level = status, result, []byte(msg+"\n"), ctypeText, slog.LevelWarn
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	o := &outcome{status: http.StatusOK, level: slog.LevelInfo, result: "ok", w: w}
	defer func() {
		// Handlers' panics are recovered where they run; this is for a bug in
		// the Handler itself: answer 500 rather than drop the connection.
		if v := recover(); v != nil {
			o.fail(http.StatusInternalServerError, "internal_error", "internal error")
			o.level, o.detail = slog.LevelError, fmt.Sprint(v)
			o.write()
			h.log(r, o, time.Since(start))
		}
	}()
	switch r.Method {
	case http.MethodGet:
		h.verifyURL(r, o)
	case http.MethodPost:
		h.receive(r, o)
	default:
		w.Header()["Allow"] = allowed
		o.fail(http.StatusMethodNotAllowed, "bad_method", "method not allowed: use GET or POST")
	}
	o.write()
	for _, b := range o.bufs {
		if b != nil {
			h.putBuf(b)
		}
	}
	h.log(r, o, time.Since(start))
}

func (h *Handler) log(r *http.Request, o *outcome, latency time.Duration) {
	if !h.cfg.Logger.Enabled(r.Context(), o.level) {
		return
	}
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs, slog.String("app", h.cfg.AppID), slog.String("method", r.Method))
	if r.Method == http.MethodPost && o.head != nil {
		attrs = append(attrs, slog.String("mode", o.mode.String()), slog.String("format", o.format.String()),
			slog.String("msg_type", o.head.MsgType))
		if o.head.Event != "" {
			attrs = append(attrs, slog.String("event", o.head.Event))
		}
	}
	attrs = append(attrs, slog.String("result", o.result), slog.Int("status", o.status), slog.Duration("latency", latency))
	if o.detail != "" {
		attrs = append(attrs, slog.String("detail", o.detail))
	}
	// A Record built here with pc 0 skips the caller lookup slog would do
	// for every request; the line says where it comes from in its message.
	rec := slog.NewRecord(time.Now(), o.level, "wechat push", 0)
	rec.AddAttrs(attrs...)
	h.cfg.Logger.Handler().Handle(r.Context(), rec)
}

// verifyURL answers the console's URL verification: echostr, byte for
// byte, when the signature matches.
func (h *Handler) verifyURL(r *http.Request, o *outcome) {
	q, ok := parseQuery(r.URL.RawQuery)
	switch {
	case !ok:
		o.fail(http.StatusBadRequest, "bad_query", "malformed query string")
	case q.signature == "" || q.timestamp == "" || q.nonce == "" || q.echostr == "":
		o.fail(http.StatusBadRequest, "missing_param", "missing parameter: signature, timestamp, nonce and echostr are required")
	case !wxcrypt.VerifySignature(q.signature, h.cfg.Token, q.timestamp, q.nonce):
		o.fail(http.StatusForbidden, "bad_signature", "signature mismatch")
	default:
		o.result, o.body, o.ctype = "verified", []byte(q.echostr), ctypeText
	}
}

// receive handles a POST. Buffers it takes from the pool are left in o.bufs
// for ServeHTTP to give back once the response is written.
func (h *Handler) receive(r *http.Request, o *outcome) {
	q, ok := parseQuery(r.URL.RawQuery)
	if !ok {
		o.fail(http.StatusBadRequest, "bad_query", "malformed query string")
		return
	}
	if q.signature == "" || q.timestamp == "" || q.nonce == "" {
		o.fail(http.StatusBadRequest, "missing_param", "missing parameter: signature, timestamp and nonce are required")
		return
	}
	ts, err := strconv.ParseInt(q.timestamp, 10, 64)
	if err != nil {
		o.fail(http.StatusBadRequest, "bad_timestamp", "timestamp is not a whole number of seconds")
		return
	}
	encrypted := false
	switch q.encryptType {
	case "", "raw":
	case "aes":
		encrypted = true
		if q.msgSignature == "" {
			o.fail(http.StatusBadRequest, "missing_param", "missing parameter: msg_signature is required with encrypt_type=aes")
			return
		}
	default:
		o.fail(http.StatusBadRequest, "bad_encrypt_type", "unknown encrypt_type: want aes or raw")
		return
	}
	if r.ContentLength > h.cfg.MaxBody {
		o.fail(http.StatusRequestEntityTooLarge, "too_large", "body larger than "+strconv.FormatInt(h.cfg.MaxBody, 10)+" bytes")
		return
	}
	if !wxcrypt.VerifySignature(q.signature, h.cfg.Token, q.timestamp, q.nonce) {
		o.fail(http.StatusForbidden, "bad_signature", "signature mismatch")
		return
	}
	now := h.cfg.Now()
	if w := h.cfg.ReplayWindow; w > 0 {
		if d := now.Sub(time.Unix(ts, 0)); d > w || d < -w {
			o.fail(http.StatusForbidden, "stale_timestamp", "timestamp outside the replay window")
			o.detail = "skew " + d.Round(time.Second).String()
			return
		}
	}
	if encrypted && h.cfg.Mode == ModePlain {
		o.fail(http.StatusBadRequest, "mode_refused", "encrypted push refused: server is in plaintext mode")
		return
	}
	if !encrypted && (h.cfg.Mode == ModeSafe || h.cfg.Mode == ModeCompat) {
		o.fail(http.StatusForbidden, "mode_refused", "plaintext push refused: server is in "+h.cfg.Mode.String()+" mode")
		return
	}
	if encrypted && h.cfg.cipher == nil {
		o.fail(http.StatusBadRequest, "no_key", "encrypted push but no EncodingAESKey is configured")
		return
	}

	bodyBuf := h.bufs.Get().(*[]byte)
	o.bufs[0] = bodyBuf
	body, status := readBody(r.Body, (*bodyBuf)[:0], h.cfg.MaxBody)
	*bodyBuf = body[:0]
	if status != 0 {
		if status == http.StatusRequestEntityTooLarge {
			o.fail(status, "too_large", "body larger than "+strconv.FormatInt(h.cfg.MaxBody, 10)+" bytes")
		} else {
			o.fail(status, "bad_body", "could not read the body")
		}
		return
	}
	format, err := message.DetectFormat(body)
	if err != nil {
		o.fail(http.StatusBadRequest, "bad_format", "body is neither XML nor JSON")
		return
	}
	o.format, o.mode = format, ModePlain

	plaintext := body
	var key *wxcrypt.Key
	if encrypted {
		o.mode = requestMode(body, format)
		enc, found, err := message.ExtractEncrypt(body, format)
		if err != nil || !found {
			o.fail(http.StatusBadRequest, "bad_body", "body has no Encrypt field")
			return
		}
		if !wxcrypt.VerifySignatureBytes([]byte(q.msgSignature), h.cfg.Token, q.timestamp, q.nonce, enc) {
			o.fail(http.StatusForbidden, "bad_msg_signature", "msg_signature mismatch")
			return
		}
		plainBuf := h.bufs.Get().(*[]byte)
		o.bufs[1] = plainBuf
		plaintext, key, err = h.cfg.cipher.DecryptBuffer((*plainBuf)[:0], enc)
		if err != nil {
			status := http.StatusBadRequest
			if errors.Is(err, wxcrypt.ErrAppID) {
				status = http.StatusForbidden
			}
			o.fail(status, "bad_ciphertext", "message could not be decrypted")
			o.detail = err.Error()
			return
		}
		if cap(plaintext) > cap(*plainBuf) {
			*plainBuf = plaintext[:0]
		}
	}
	// A decrypted message carries its own format; a plaintext push's is
	// the body's, detected above.
	innerFormat := format
	if encrypted {
		innerFormat, err = message.DetectFormat(plaintext)
	}
	var p message.Push
	if err == nil {
		p, err = message.Decode(plaintext, innerFormat)
	}
	if err != nil {
		o.fail(http.StatusBadRequest, "bad_message", "malformed "+format.String()+" message")
		o.detail = err.Error()
		return
	}
	o.head = p.Head()

	req := &Request{Push: p, AppID: h.cfg.AppID, Mode: o.mode, Format: format, OpenID: q.openid, Plaintext: plaintext}
	answer := h.handle(r.Context(), req, o, now)
	if o.status == http.StatusOK {
		h.render(o, answer, format, key, now)
	}
}

// requestMode tells compatible from safe mode: a compatible body carries the
// plaintext fields beside Encrypt.
func requestMode(body []byte, f message.Format) Mode {
	marker := []byte("<MsgType")
	if f == message.FormatJSON {
		marker = []byte(`"MsgType"`)
	}
	if bytes.Contains(body, marker) {
		return ModeCompat
	}
	return ModeSafe
}

func (h *Handler) putBuf(b *[]byte) {
	if cap(*b) <= maxPooledBuffer {
		*b = (*b)[:0]
		h.bufs.Put(b)
	}
}

// readBody reads at most max bytes into buf. It returns a status other than
// 0 when the body is too large (413) or cannot be read (400).
func readBody(body io.Reader, buf []byte, max int64) ([]byte, int) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > max {
			return buf, http.StatusRequestEntityTooLarge
		}
		if err == io.EOF {
			return buf, 0
		}
		if err != nil {
			return buf, http.StatusBadRequest
		}
	}
}

// handle deduplicates and dispatches req, and returns the plaintext answer:
// "success" or a rendered reply. The handler runs on the request's
// goroutine; if its deadline passes first, a watchdog answers "success" in
// its place and the handler's eventual result is only logged.
func (h *Handler) handle(parent context.Context, req *Request, o *outcome, now time.Time) []byte {
	ctx, cancel := context.WithTimeout(parent, h.cfg.HandlerTimeout)
	defer cancel()

	key := req.Push.DedupKey()
	if key != "" {
		key = h.cfg.AppID + "|" + key
		prev, acquired, err := h.cfg.Deduper.Acquire(ctx, key)
		switch {
		case err != nil && ctx.Err() != nil:
			// The first delivery is still running: keep WeChat's deadline.
			o.result, o.level = "duplicate_timeout", slog.LevelWarn
			return successBody
		case err != nil:
			// Dedup store down: handle anyway. A duplicate run is better
			// than a message lost or an error shown to the user.
			o.detail, o.level = "dedup unavailable: "+err.Error(), slog.LevelError
			key = ""
		case !acquired:
			o.result = "duplicate"
			if len(prev) == 0 {
				return successBody
			}
			return prev
		}
	}

	// The watchdog fires at the handler's deadline (what is left of it after
	// any dedup wait). It is a plain timer, not a context.AfterFunc: the same
	// deadline for fewer allocations.
	deadline, _ := ctx.Deadline()
	watchdog := time.AfterFunc(time.Until(deadline), func() {
		if o.answerEarly() && key != "" {
			h.cfg.Deduper.Complete(context.WithoutCancel(ctx), key, nil)
		}
	})
	answer, err := h.dispatch(ctx, req, now)
	// Settle the key with a context that outlives the deadline: a shared
	// Deduper must still hear of a handler that ran out of time.
	settle := context.WithoutCancel(ctx)
	if !watchdog.Stop() {
		// The deadline passed: WeChat was, or is being, answered "success",
		// so a retry gets the same. Complete is a no-op if already settled.
		if key != "" {
			h.cfg.Deduper.Complete(settle, key, nil)
		}
		o.result, o.level, o.detail = "timeout", slog.LevelWarn, "handler passed its deadline; answered success"
		if err != nil {
			o.detail += "; then it failed: " + err.Error()
		}
		return successBody
	}
	if err != nil {
		if key != "" {
			h.cfg.Deduper.Release(settle, key)
		}
		o.fail(http.StatusInternalServerError, "handler_error", "handler failed")
		o.level = slog.LevelError
		if err == errPanic {
			o.result = "panic"
		} else {
			o.detail = err.Error()
		}
		return nil
	}
	if key != "" {
		var stored []byte
		if !bytes.Equal(answer, successBody) {
			stored = bytes.Clone(answer)
		}
		h.cfg.Deduper.Complete(settle, key, stored)
	}
	return answer
}

// dispatch runs the router and renders its reply as plaintext in the
// request's format. A panic in the handler or in the reply's rendering
// becomes errPanic.
func (h *Handler) dispatch(ctx context.Context, req *Request, now time.Time) (answer []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			h.cfg.Logger.Error("push handler panicked", "app", h.cfg.AppID, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			answer, err = nil, errPanic
		}
	}()
	reply, err := h.router.Dispatch(ctx, req)
	if err != nil {
		return nil, err
	}
	if message.IsSuccess(reply) {
		return successBody, nil
	}
	out, err := reply.AppendReply(nil, req.Push.Head(), req.Format, now.Unix())
	if err != nil {
		return nil, fmt.Errorf("rendering the reply: %w", err)
	}
	return out, nil
}

var errPanic = errors.New("push: handler panicked")

// render sets the response to the plaintext answer, sealed in an envelope
// with the key that opened the request when the request was encrypted.
func (h *Handler) render(o *outcome, answer []byte, f message.Format, key *wxcrypt.Key, now time.Time) {
	if bytes.Equal(answer, successBody) || len(answer) == 0 {
		o.body, o.ctype = successBody, ctypeText
		return
	}
	o.ctype = ctypeXML
	if f == message.FormatJSON {
		o.ctype = ctypeJSON
	}
	if key == nil {
		o.body = answer
		return
	}
	env, err := SealReply(key, h.cfg.AppID, h.cfg.Token, answer, now)
	if err != nil {
		o.fail(http.StatusInternalServerError, "seal_error", "reply could not be encrypted")
		o.level = slog.LevelError
		return
	}
	o.body = env.Append(nil, f)
}

// SealReply encrypts a plaintext reply for appID with key and signs it:
// the Encrypt, MsgSignature, TimeStamp (seconds) and Nonce of an encrypted
// passive reply. Render it with Envelope.Append in the request's format.
func SealReply(key *wxcrypt.Key, appID, token string, plaintext []byte, now time.Time) (message.Envelope, error) {
	enc, err := key.Encrypt(nil, plaintext, appID)
	if err != nil {
		return message.Envelope{}, err
	}
	var n [8]byte
	if _, err := rand.Read(n[:]); err != nil {
		return message.Envelope{}, err
	}
	nonce := strconv.FormatUint(binary.BigEndian.Uint64(n[:])%1e10, 10)
	ts := now.Unix()
	return message.Envelope{
		Encrypt:      enc,
		MsgSignature: wxcrypt.Signature(token, strconv.FormatInt(ts, 10), nonce, enc),
		TimeStamp:    ts,
		Nonce:        nonce,
	}, nil
}
