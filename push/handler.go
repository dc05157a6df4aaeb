package push

import (
	"bytes"
	"context"
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
)

// Handler is an http.Handler for one mini program's push URL. It answers
// WeChat's URL verification (GET) and receives pushes (POST): it opens
// each push with an Opener (signatures, timestamp, nonce, size, mode,
// decryption, AppID, decoding), deduplicates it, dispatches it to a Router
// and writes the reply in the request's format, encrypted when the request
// was.
type Handler struct {
	open   *Opener
	cfg    *resolved
	router *Router
	bufs   sync.Pool // *[]byte scratch buffers
}

// NewHandler returns a Handler for cfg that dispatches to router. A nil
// router answers "success" to every push.
func NewHandler(cfg Config, router *Router) (*Handler, error) {
	o, err := NewOpener(cfg)
	if err != nil {
		return nil, err
	}
	if router == nil {
		router = NewRouter()
	}
	h := &Handler{open: o, cfg: o.cfg, router: router}
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

// result is what one request came to: the response, and what the log line
// says of it. Each request builds its own; nothing in it is shared.
type result struct {
	status int
	body   []byte
	ctype  []string
	code   string // short label for the log: ok, duplicate, bad_signature, ...
	detail string // the reason, for the log only
	level  slog.Level
	req    *Request // the opened push, when it got that far
}

func okResult() result { return result{status: http.StatusOK, code: "ok", level: slog.LevelInfo} }

// failed turns an error of Open, or of the Handler, into a result.
func failed(err error) result {
	r := result{status: StatusCode(err), ctype: ctypeText, level: slog.LevelWarn, code: "error"}
	var e *Error
	if errors.As(err, &e) {
		r.code, r.body = e.Code, []byte(e.Message+"\n")
		if e.cause != nil {
			r.detail = e.cause.Error()
		}
	} else {
		r.body, r.detail = []byte("internal error\n"), err.Error()
	}
	if r.status >= 500 {
		r.level = slog.LevelError
	}
	return r
}

// responder writes the response once: from ServeHTTP, or, when a handler
// passes its deadline, from the watchdog answering in its place. It is the
// only state the two share, and its lock guards it.
type responder struct {
	w       http.ResponseWriter
	mu      sync.Mutex
	written bool
}

// write sends res unless the watchdog already answered.
func (p *responder) write(res *result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.written {
		return
	}
	p.written = true
	hdr := p.w.Header()
	hdr["Content-Type"] = res.ctype
	// An echoed echostr or an error must never be sniffed as HTML.
	hdr["X-Content-Type-Options"] = nosniff
	p.w.WriteHeader(res.status)
	p.w.Write(res.body)
}

// answerEarly sends status and body while the handler still runs, and
// flushes them so that WeChat has its answer in time. It reports whether
// it answered.
func (p *responder) answerEarly(status int, body []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.written {
		return false
	}
	p.written = true
	hdr := p.w.Header()
	hdr["Content-Type"] = ctypeText
	hdr["X-Content-Type-Options"] = nosniff
	hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	p.w.WriteHeader(status)
	p.w.Write(body)
	http.NewResponseController(p.w).Flush()
	return true
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	out := &responder{w: w}
	var res result
	defer func() {
		// Handlers' panics are recovered where they run; this is for a bug in
		// the Handler itself: answer 500 rather than drop the connection.
		if v := recover(); v != nil {
			res = failed(fmt.Errorf("%w: %v", ErrHandler, v))
			res.code = "internal_error"
			out.write(&res)
			h.log(r, &res, time.Since(start))
		}
	}()
	switch r.Method {
	case http.MethodGet:
		res = h.verifyURL(r)
	case http.MethodPost:
		res = h.receive(r, out)
	default:
		w.Header()["Allow"] = allowed
		res = failed(newError(ErrMethod, "bad_method", "method not allowed: use GET or POST"))
	}
	out.write(&res)
	h.log(r, &res, time.Since(start))
}

func (h *Handler) log(r *http.Request, res *result, latency time.Duration) {
	if !h.cfg.Logger.Enabled(r.Context(), res.level) {
		return
	}
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs, slog.String("app", h.cfg.AppID), slog.String("method", r.Method))
	if req := res.req; req != nil {
		head := req.Push.Head()
		attrs = append(attrs, slog.String("mode", req.Mode.String()), slog.String("format", req.Format.String()),
			slog.String("msg_type", head.MsgType))
		if head.Event != "" {
			attrs = append(attrs, slog.String("event", head.Event))
		}
	}
	attrs = append(attrs, slog.String("result", res.code), slog.Int("status", res.status), slog.Duration("latency", latency))
	if res.detail != "" {
		attrs = append(attrs, slog.String("detail", res.detail))
	}
	// A Record built here with pc 0 skips the caller lookup slog would do
	// for every request; the line says where it comes from in its message.
	rec := slog.NewRecord(time.Now(), res.level, "wechat push", 0)
	rec.AddAttrs(attrs...)
	h.cfg.Logger.Handler().Handle(r.Context(), rec)
}

// verifyURL answers the console's URL verification: echostr, byte for
// byte, when the signature matches and the timestamp is fresh.
func (h *Handler) verifyURL(r *http.Request) result {
	echo, err := h.open.VerifyURL(r.Context(), r.URL.RawQuery)
	if err != nil {
		return failed(err)
	}
	return result{status: http.StatusOK, code: "verified", level: slog.LevelInfo, body: []byte(echo), ctype: ctypeText}
}

// receive handles a POST. Its buffers come from the pool and go back
// before it returns: the response never points into them.
func (h *Handler) receive(r *http.Request, out *responder) result {
	q, err := h.open.checkQuery(r.URL.RawQuery)
	if err != nil {
		return failed(err)
	}
	if r.ContentLength > h.cfg.MaxBody {
		return failed(h.open.tooLarge())
	}
	bodyBuf := h.bufs.Get().(*[]byte)
	defer h.putBuf(bodyBuf)
	body, err := readBody(r.Body, (*bodyBuf)[:0], h.cfg.MaxBody)
	*bodyBuf = body[:0]
	if errors.Is(err, ErrTooLarge) {
		return failed(h.open.tooLarge())
	} else if err != nil {
		return failed(err)
	}
	var plainBuf []byte
	if q.encrypted {
		pb := h.bufs.Get().(*[]byte)
		defer h.putBuf(pb)
		plainBuf = *pb
		defer func() {
			// Keep a buffer the decryption grew, for the next request.
			if cap(plainBuf) > cap(*pb) {
				*pb = plainBuf[:0]
			}
		}()
	}
	req, err := h.open.openBody(r.Context(), q, body, plainBuf)
	if err != nil {
		return failed(err)
	}
	if q.encrypted {
		plainBuf = req.Plaintext
	}
	res := okResult()
	res.req = req
	now := h.cfg.Now()
	answer := h.handle(r.Context(), req, out, &res)
	if res.status == http.StatusOK {
		var err error
		if res.body, res.ctype, err = h.open.seal(req, answer, now); err != nil {
			res = failed(fmt.Errorf("%w: the reply could not be encrypted: %w", ErrHandler, err))
			res.code, res.req = "seal_error", req
		}
	}
	return res
}

func (h *Handler) putBuf(b *[]byte) {
	if cap(*b) <= maxPooledBuffer {
		*b = (*b)[:0]
		h.bufs.Put(b)
	}
}

// readBody reads at most max bytes into buf. It fails with an error
// wrapping ErrTooLarge past max, or ErrMalformed when the body cannot be
// read.
func readBody(body io.Reader, buf []byte, max int64) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > max {
			return buf, ErrTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			e := newError(ErrMalformed, "bad_body", "could not read the body")
			e.cause = err
			return buf, e
		}
	}
}

// handle deduplicates and dispatches req, and returns the plaintext answer:
// "success" or a rendered reply. It records what happened in res, which
// belongs to this request alone. The handler runs on the request's
// goroutine; if its deadline passes first, a watchdog answers in its place
// through out, and the handler's eventual result only settles the key.
func (h *Handler) handle(parent context.Context, req *Request, out *responder, res *result) []byte {
	timeout := min(h.cfg.HandlerTimeout, message.ReplyDeadline(req.Push)-replyMargin)
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	// Pushes whose sender retries until an explicit acknowledgement (xpay)
	// are settled only by that acknowledgement.
	needsAck := !message.Acknowledges(req.Push, message.Success)

	key := req.Push.DedupKey()
	if key != "" {
		key = h.cfg.AppID + "|" + key
		prev, acquired, err := h.cfg.Deduper.Acquire(ctx, key)
		switch {
		case errors.Is(err, ErrBusy):
			*res = failed(err)
			res.req = req
			return nil
		case err != nil && ctx.Err() != nil:
			// The first delivery is still running: keep WeChat's deadline.
			res.code, res.level = "duplicate_timeout", slog.LevelWarn
			if needsAck {
				*res = failed(newError(ErrBusy, "duplicate_timeout", "the first delivery of this push is still being handled"))
				res.req = req
				return nil
			}
			return successBody
		case err != nil:
			// Dedup store down: handle anyway. A duplicate run is better
			// than a message lost or an error shown to the user.
			res.detail, res.level = "dedup unavailable: "+err.Error(), slog.LevelError
			key = ""
		case !acquired:
			res.code = "duplicate"
			if len(prev) == 0 {
				return successBody
			}
			return prev
		}
	}

	// Settle the key with a context that outlives the deadline: a shared
	// Deduper must still hear of a handler that ran out of time.
	settle := context.WithoutCancel(ctx)
	// The watchdog fires at the handler's deadline (what is left of it after
	// any dedup wait). It is a plain timer, not a context.AfterFunc: the same
	// deadline for fewer allocations.
	deadline, _ := ctx.Deadline()
	watchdog := time.AfterFunc(time.Until(deadline), func() {
		if needsAck {
			// "success" is no acknowledgement: say so, and let the key
			// settle when the handler ends.
			out.answerEarly(http.StatusServiceUnavailable, []byte("handler did not acknowledge in time\n"))
			return
		}
		if out.answerEarly(http.StatusOK, successBody) && key != "" {
			h.cfg.Deduper.Complete(settle, key, nil)
		}
	})
	reply, answer, err := h.dispatch(ctx, req)
	acked := err == nil && message.Acknowledges(req.Push, reply)
	if !watchdog.Stop() {
		// The deadline passed and the watchdog answered. A retry gets what
		// WeChat was told, or, for a push needing an acknowledgement, the
		// handler's acknowledgement if it came after all.
		switch {
		case key == "":
		case !needsAck:
			h.cfg.Deduper.Complete(settle, key, nil)
		case acked:
			h.cfg.Deduper.Complete(settle, key, storedAnswer(answer))
		default:
			h.cfg.Deduper.Release(settle, key)
		}
		res.code, res.level, res.detail = "timeout", slog.LevelWarn, "handler passed its deadline; answered early"
		if err != nil {
			res.detail += "; then it failed: " + err.Error()
		}
		return nil
	}
	if err != nil {
		if key != "" {
			h.cfg.Deduper.Release(settle, key)
		}
		*res = failed(err)
		res.req = req
		if errors.Is(err, errPanic) {
			res.code, res.detail = "panic", ""
		} else {
			res.code = "handler_error"
		}
		return nil
	}
	if needsAck && !acked {
		// WeChat will deliver it again; let that delivery run the handler.
		if key != "" {
			h.cfg.Deduper.Release(settle, key)
		}
		res.code, res.level = "not_acknowledged", slog.LevelWarn
		return answer
	}
	if key != "" {
		h.cfg.Deduper.Complete(settle, key, storedAnswer(answer))
	}
	return answer
}

// storedAnswer is what the Deduper keeps for an answer: nothing for
// "success", a copy of anything else.
func storedAnswer(answer []byte) []byte {
	if bytes.Equal(answer, successBody) {
		return nil
	}
	return bytes.Clone(answer)
}

// replyMargin is the part of WeChat's wait left for the answer to travel.
const replyMargin = 500 * time.Millisecond

// dispatch runs the router and renders its reply as plaintext in the
// request's format. A panic in the handler or in the reply's rendering
// becomes errPanic.
func (h *Handler) dispatch(ctx context.Context, req *Request) (reply message.Reply, answer []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			h.cfg.Logger.Error("push handler panicked", "app", h.cfg.AppID, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			reply, answer, err = nil, nil, errPanic
		}
	}()
	reply, err = h.router.Dispatch(ctx, req)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrHandler, err)
	}
	if reply == nil || message.IsSuccess(reply) {
		return message.Success, successBody, nil
	}
	out, err := reply.AppendReply(nil, req.Push.Head(), req.Format, h.cfg.Now().Unix())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: rendering the reply: %w", ErrHandler, err)
	}
	return reply, out, nil
}

var errPanic = fmt.Errorf("%w: it panicked", ErrHandler)
