package push

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wxcrypt"
)

// Request is one verified, decrypted and decoded push, as handlers see it.
type Request struct {
	// Push is the typed message or event.
	Push message.Push
	// AppID is the mini program the push was addressed to (Config.AppID).
	AppID string
	// Mode is how the push arrived: ModePlain, ModeCompat or ModeSafe.
	Mode Mode
	// Format is the body's format; the reply is written in the same one.
	Format message.Format
	// OpenID is the openid URL parameter, when WeChat sent one; the user is
	// always Push.Head().FromUserName.
	OpenID string
	// Plaintext is the push as it arrived, decrypted. Within a Handler it
	// is valid only during the handler call; copy it to keep it.
	Plaintext []byte
	// Timestamp and Nonce are the URL's timestamp (Unix seconds) and nonce.
	Timestamp int64
	Nonce     string
	// NonceKey identifies the (timestamp, nonce) pair, BodyDigest (the hex
	// SHA-256 of Plaintext) the message it signed, and NonceExpires when the pair leaves the replay window:
	// what a NonceStore is given. Callers that set ExternalNonceCheck
	// enforce the one-use rule with them.
	NonceKey     string
	BodyDigest   string
	NonceExpires time.Time

	// key is the EncodingAESKey that opened an encrypted push; the reply
	// is sealed with it.
	key *wxcrypt.Key
}

// HandlerFunc handles one push and returns the passive reply, or nil for
// message.Success. An error makes the Handler answer 500, so that WeChat
// retries, and frees the dedup key so that the retry runs the handler again.
type HandlerFunc func(ctx context.Context, req *Request) (message.Reply, error)

// Middleware wraps a HandlerFunc, for logging, metrics or access control.
type Middleware func(HandlerFunc) HandlerFunc

// Router dispatches pushes to handlers by MsgType and Event. Register
// handlers and middleware before serving; a Router is then safe for
// concurrent use.
type Router struct {
	byMsgType   map[string]HandlerFunc
	byEvent     map[string]HandlerFunc
	eventPrefix []prefixRoute
	fallback    HandlerFunc
	middleware  []Middleware

	once     sync.Once
	composed *Router // the same routes with middleware applied
}

type prefixRoute struct {
	prefix string
	h      HandlerFunc
}

// NewRouter returns an empty Router. Unrouted pushes are answered with
// message.Success unless a Fallback is set.
func NewRouter() *Router {
	return &Router{byMsgType: map[string]HandlerFunc{}, byEvent: map[string]HandlerFunc{}}
}

// HandleMsgType routes pushes of one MsgType ("text", "image",
// "miniprogrampage", ...). For events use HandleEvent.
func (r *Router) HandleMsgType(msgType string, h HandlerFunc) {
	r.byMsgType[msgType] = h
}

// HandleEvent routes events by their Event field. A pattern ending in "*"
// matches every event with that prefix ("xpay_*"); exact names win over
// patterns, and longer patterns over shorter ones.
func (r *Router) HandleEvent(event string, h HandlerFunc) {
	if prefix, ok := strings.CutSuffix(event, "*"); ok {
		r.eventPrefix = append(r.eventPrefix, prefixRoute{prefix, h})
		// Longest prefix first, so the most specific pattern wins.
		for i := len(r.eventPrefix) - 1; i > 0 && len(r.eventPrefix[i].prefix) > len(r.eventPrefix[i-1].prefix); i-- {
			r.eventPrefix[i], r.eventPrefix[i-1] = r.eventPrefix[i-1], r.eventPrefix[i]
		}
		return
	}
	r.byEvent[event] = h
}

// Fallback handles pushes no other route matches.
func (r *Router) Fallback(h HandlerFunc) { r.fallback = h }

// Use adds middleware around every route, the first added outermost.
func (r *Router) Use(mw ...Middleware) { r.middleware = append(r.middleware, mw...) }

// On registers fn for every kind of push that decodes into T, for example
// On(r, func(ctx context.Context, m *message.Text) (message.Reply, error) {...}).
// It panics if T is not a type the message package decodes into, a
// programming error found at start-up.
func On[T message.Push](r *Router, fn func(ctx context.Context, msg T) (message.Reply, error)) {
	want := reflect.TypeFor[T]()
	var zero T
	kinds := message.KindsOf(zero)
	if len(kinds) == 0 {
		panic(fmt.Sprintf("push.On: %v is not a routable push type of package message (use Fallback for *message.Unknown)", want))
	}
	h := func(ctx context.Context, req *Request) (message.Reply, error) {
		msg, ok := req.Push.(T)
		if !ok {
			return nil, fmt.Errorf("push.On: routed %T to a handler for %v", req.Push, want)
		}
		return fn(ctx, msg)
	}
	for _, k := range kinds {
		if k.Event != "" {
			r.HandleEvent(k.Event, h)
		} else {
			r.HandleMsgType(k.MsgType, h)
		}
	}
}

// route finds the handler for a push, before middleware.
func (r *Router) route(h *message.Header) HandlerFunc {
	if h.MsgType == "event" {
		if f, ok := r.byEvent[h.Event]; ok {
			return f
		}
		for _, p := range r.eventPrefix {
			if strings.HasPrefix(h.Event, p.prefix) {
				return p.h
			}
		}
	} else if f, ok := r.byMsgType[h.MsgType]; ok {
		return f
	}
	if r.fallback != nil {
		return r.fallback
	}
	return answerSuccess
}

func answerSuccess(context.Context, *Request) (message.Reply, error) { return message.Success, nil }

// Dispatch runs the handler routed for req, inside the middleware.
func (r *Router) Dispatch(ctx context.Context, req *Request) (message.Reply, error) {
	r.once.Do(r.compose)
	return r.composed.route(req.Push.Head())(ctx, req)
}

// compose wraps every route in the middleware once, so that dispatch does
// not rebuild the chain per request.
func (r *Router) compose() {
	wrap := func(h HandlerFunc) HandlerFunc {
		for i := len(r.middleware) - 1; i >= 0; i-- {
			h = r.middleware[i](h)
		}
		return h
	}
	c := &Router{byMsgType: map[string]HandlerFunc{}, byEvent: map[string]HandlerFunc{}, fallback: wrap(answerSuccess)}
	for k, h := range r.byMsgType {
		c.byMsgType[k] = wrap(h)
	}
	for k, h := range r.byEvent {
		c.byEvent[k] = wrap(h)
	}
	for _, p := range r.eventPrefix {
		c.eventPrefix = append(c.eventPrefix, prefixRoute{p.prefix, wrap(p.h)})
	}
	if r.fallback != nil {
		c.fallback = wrap(r.fallback)
	}
	r.composed = c
}
