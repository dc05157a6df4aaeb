package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/wxgate/wxgate/gateway/rules"
	"github.com/wxgate/wxgate/gateway/webhook"
	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/push"
	"github.com/wxgate/wxgate/store"
)

// appHandler is the push URL of one app: it opens each push, stores it
// with its deliveries in one transaction, and answers WeChat only after
// the commit.
type appHandler struct {
	g      *Gateway
	app    App
	opener *push.Opener
	cfg    push.Config
}

// Shared header values.
var (
	ctypeText = []string{"text/plain; charset=utf-8"}
	ctypeXML  = []string{"application/xml; charset=utf-8"}
	ctypeJSON = []string{"application/json; charset=utf-8"}
	nosniff   = []string{"nosniff"}
)

var successBody = []byte("success")

// outcome is one request's answer and what the log and metrics say of it.
type outcome struct {
	status int
	body   []byte
	ctype  []string
	result string // ok, duplicate, replay, bad_signature, store_error, ...
	detail string // for the log only
	kind   string // the push's kind, when it was opened
	level  slog.Level
}

func refused(err error) outcome {
	o := outcome{status: push.StatusCode(err), ctype: ctypeText, result: "error", level: slog.LevelWarn, body: []byte("refused\n")}
	var e *push.Error
	if errors.As(err, &e) {
		o.result, o.body = e.Code, []byte(e.Message+"\n")
		if full := e.Error(); full != e.Message {
			o.detail = full // with the cause, for the log
		}
	}
	return o
}

func (a *appHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := a.g.now()
	var o outcome
	switch r.Method {
	case http.MethodGet:
		echo, err := a.opener.VerifyURL(r.Context(), r.URL.RawQuery)
		if err != nil {
			o = refused(err)
		} else {
			o = outcome{status: http.StatusOK, body: []byte(echo), ctype: ctypeText, result: "verified", level: slog.LevelInfo}
		}
	case http.MethodPost:
		o = a.receive(r)
	default:
		w.Header().Set("Allow", "GET, POST")
		o = outcome{status: http.StatusMethodNotAllowed, body: []byte("method not allowed: use GET or POST\n"), ctype: ctypeText, result: "bad_method", level: slog.LevelWarn}
	}
	hdr := w.Header()
	hdr["Content-Type"] = o.ctype
	hdr["X-Content-Type-Options"] = nosniff
	w.WriteHeader(o.status)
	w.Write(o.body)

	latency := a.g.now().Sub(start)
	if r.Method == http.MethodPost {
		a.g.metrics.push(a.app.Name, o.kind, o.result, latency)
	}
	if a.g.log.Enabled(r.Context(), o.level) {
		attrs := []slog.Attr{slog.String("app", a.app.Name), slog.String("method", r.Method), slog.String("result", o.result),
			slog.Int("status", o.status), slog.Duration("latency", latency)}
		if o.kind != "" {
			attrs = append(attrs, slog.String("kind", o.kind))
		}
		if o.detail != "" {
			attrs = append(attrs, slog.String("detail", o.detail))
		}
		a.g.log.LogAttrs(r.Context(), o.level, "wechat push", attrs...)
	}
}

// receive handles a POST: open, store, answer.
func (a *appHandler) receive(r *http.Request) outcome {
	body, err := readBody(r, a.cfg.MaxBody)
	if err != nil {
		return refused(err)
	}
	req, err := a.opener.Open(r.Context(), r.URL.RawQuery, body)
	if err != nil {
		return refused(err)
	}
	head := req.Push.Head()
	kind := message.KindOf(req.Push).String()
	receivedAt := a.g.now()
	notJSON := func(err error) outcome {
		o := refused(&push.Error{Code: "bad_message", Message: "message cannot be represented as JSON", Err: push.ErrMalformed})
		o.detail, o.kind = err.Error(), kind
		return o
	}
	msgJSON, err := message.Encode(req.Push, message.FormatJSON)
	if err != nil {
		return notJSON(err)
	}
	dedupKey := req.Push.DedupKey()
	id := store.MessageID(a.app.Name, dedupKey)
	payload, err := webhook.AppendEvent(nil, &webhook.Event{
		ID: id, App: a.app.Name, AppID: a.cfg.AppID, OpenID: head.FromUserName,
		MsgType: head.MsgType, Event: eventOf(head), CreateTime: head.CreateTime,
		ReceivedAt: webhook.FormatTime(receivedAt), Message: msgJSON,
	})
	if err != nil {
		return notJSON(err)
	}
	// The app's rules decide the passive answer, what to send, and whether
	// the push goes on to the destinations.
	destinations := a.app.Destinations
	var decision rules.Decision
	eng := a.g.rules[a.app.Name]
	if eng != nil {
		decision = eng.Evaluate(req.Push, receivedAt)
		if !decision.Continue {
			destinations = nil
		}
	}
	// The passive reply, rendered as plaintext now so that a retry, which
	// may come encrypted with another key, gets the same answer.
	var replyPlain []byte
	if reply := a.passiveReply(req, decision); !message.IsSuccess(reply) {
		if replyPlain, err = reply.AppendReply(nil, head, req.Format, receivedAt.Unix()); err != nil {
			a.g.log.Error("rendering a passive reply", "app", a.app.Name, "err", err)
			replyPlain = nil
		}
	}

	ctx, cancel := context.WithTimeout(r.Context(), a.g.ackTimeout)
	defer cancel()
	results, err := a.g.store.Append(ctx, []store.NewMessage{{
		App: a.app.Name, AppID: a.cfg.AppID, OpenID: head.FromUserName, MsgType: head.MsgType, Event: eventOf(head),
		CreateTime: head.CreateTime, ReceivedAt: receivedAt, DedupKey: dedupKey,
		Format: req.Format.String(), Mode: req.Mode.String(), Raw: req.Plaintext, Payload: payload, Reply: replyPlain,
		NonceKey: req.NonceKey, NonceDigest: req.BodyDigest, NonceExpires: req.NonceExpires,
		Destinations: destinations,
	}})
	if err != nil || len(results) != 1 {
		// Never a 200 for a push that is not stored: WeChat retries a 5xx.
		o := outcome{status: http.StatusServiceUnavailable, body: []byte("not stored; try again later\n"), ctype: ctypeText,
			result: "store_error", kind: kind, level: slog.LevelError}
		if err != nil {
			o.detail = err.Error()
		}
		return o
	}
	res := results[0]
	o := outcome{status: http.StatusOK, result: "ok", kind: kind, level: slog.LevelInfo}
	switch res.Status {
	case store.Replay:
		return outcome{status: http.StatusForbidden, body: []byte("this timestamp and nonce already signed a different request\n"),
			ctype: ctypeText, result: "nonce_reused", kind: kind, level: slog.LevelWarn}
	case store.Duplicate:
		o.result = "duplicate"
		a.g.metrics.dedupHit(a.app.Name)
		replyPlain = res.Reply
	default:
		a.g.notify()
		if eng != nil && (len(decision.Send) > 0 || decision.Away.Due || decision.Typing) {
			go a.g.answer(a.app.Name, eng, decision, res.ID)
		}
		if decision.Matched() {
			o.detail = "rule " + decision.Rule
		}
	}
	if len(replyPlain) == 0 {
		o.body, o.ctype = successBody, ctypeText
		return o
	}
	sealed, ctype, err := a.opener.Render(req, rawReply(replyPlain))
	if err != nil {
		// Stored: answering "success" loses only the passive reply.
		a.g.log.Error("sealing a passive reply", "app", a.app.Name, "err", err)
		o.body, o.ctype = successBody, ctypeText
		return o
	}
	o.body, o.ctype = sealed, []string{ctype}
	return o
}

// passiveReply is what the gateway answers a stored push with: the rules'
// passive answer (a transfer to customer service); for a push whose
// sender wants an explicit acknowledgement (virtual payment), that
// acknowledgement, since from then on the gateway delivers it at least
// once; "success" otherwise.
func (a *appHandler) passiveReply(req *push.Request, d rules.Decision) message.Reply {
	if d.Passive != nil {
		return d.Passive
	}
	if !message.Acknowledges(req.Push, message.Success) && message.Acknowledges(req.Push, message.XPayOK) {
		return message.XPayOK
	}
	return message.Success
}

// rawReply is a passive reply already rendered as plaintext.
type rawReply []byte

func (r rawReply) AppendReply(dst []byte, _ *message.Header, _ message.Format, _ int64) ([]byte, error) {
	return append(dst, r...), nil
}

func eventOf(h *message.Header) string {
	if h.MsgType == message.MsgTypeEvent {
		return h.Event
	}
	return ""
}

// readBody reads the body, at most max+1 bytes: Open refuses a body
// larger than max with its own ErrTooLarge.
func readBody(r *http.Request, max int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, &push.Error{Code: "bad_body", Message: "could not read the body", Err: push.ErrMalformed}
	}
	return body, nil
}
