package deliver

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wxgate/wxgate/store"
)

// Defaults of NATSConfig.
const (
	DefaultNATSName   = "nats"
	DefaultStreamName = "WXGATE"
	// DefaultSubjectRoot starts the default prefix "wxgate.<app>".
	DefaultSubjectRoot = "wxgate"
)

// maxTokenLen bounds one subject token made from a message field.
const maxTokenLen = 128

// natsRetryEvery is how long a failed connection or stream check is
// remembered before the next attempt tries again, so that the workers of
// a destination that is down do not queue on it.
const natsRetryEvery = time.Second

// NATSConfig configures a NATS destination.
type NATSConfig struct {
	// Name is the destination's name. Default DefaultNATSName.
	Name string
	// URL is the server, e.g. nats://127.0.0.1:4222 (a comma-separated
	// list for a cluster). Required unless Conn is set. Credentials in it
	// never appear in an error.
	URL string
	// Options are extra connect options (credentials, TLS, ...).
	Options []nats.Option
	// Conn is an open connection to use instead of dialing URL; Close
	// leaves it open.
	Conn *nats.Conn
	// Prefix is the subject prefix, dot-separated tokens without
	// wildcards. Default "wxgate.<app>", with the message's app.
	Prefix string
	// Stream is the stream created when missing. Default DefaultStreamName.
	Stream string
	// StreamSubjects are the subjects of a created stream. Default
	// "<Prefix>.>", or "wxgate.>" without a Prefix. An existing stream is
	// left as it is.
	StreamSubjects []string
	// Timeout bounds one publish, until its PubAck. Default DefaultTimeout.
	Timeout time.Duration
}

// NATS publishes deliveries to JetStream: the stored payload as it is, on
// "<prefix>.<msg_type>" (events: "<prefix>.event.<event>"), with
// Nats-Msg-Id set to the message id so that the stream's duplicate window
// drops a second publish of the same message. A PubAck is delivered.
//
// It connects, and creates the stream when it is missing, in Start or, if
// that failed, on the next Deliver.
type NATS struct {
	name     string
	url      string
	opts     []nats.Option
	prefix   string
	stream   string
	subjects []string
	timeout  time.Duration
	hide     []string

	mu       sync.Mutex
	nc       *nats.Conn
	ownConn  bool
	js       jetstream.JetStream
	ready    bool // the stream exists
	lastTry  time.Time
	lastErr  error
	isClosed bool
}

var (
	_ Destination = (*NATS)(nil)
	_ Starter     = (*NATS)(nil)
	_ Timeouter   = (*NATS)(nil)
)

// NewNATS checks cfg and returns its destination. It does not connect.
func NewNATS(cfg NATSConfig) (*NATS, error) {
	n := &NATS{
		name:    orDefaultStr(cfg.Name, DefaultNATSName),
		url:     cfg.URL,
		opts:    cfg.Options,
		prefix:  cfg.Prefix,
		stream:  orDefaultStr(cfg.Stream, DefaultStreamName),
		timeout: orDefault(cfg.Timeout, DefaultTimeout),
		nc:      cfg.Conn,
	}
	if cfg.Conn == nil && cfg.URL == "" {
		return nil, fmt.Errorf("%w: nats %q: a URL is required", ErrConfig, n.name)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("%w: nats %q: negative timeout", ErrConfig, n.name)
	}
	if n.prefix != "" && !validSubject(n.prefix, false) {
		return nil, fmt.Errorf("%w: nats %q: prefix %q is not a subject of dot-separated tokens without wildcards or spaces", ErrConfig, n.name, n.prefix)
	}
	if strings.ContainsAny(n.stream, ".*>/\\") || strings.IndexFunc(n.stream, unicode.IsSpace) >= 0 {
		return nil, fmt.Errorf("%w: nats %q: stream name %q has a '.', '*', '>', slash or space", ErrConfig, n.name, n.stream)
	}
	n.subjects = cfg.StreamSubjects
	if len(n.subjects) == 0 {
		n.subjects = []string{orDefaultStr(n.prefix, DefaultSubjectRoot) + ".>"}
	}
	for _, s := range n.subjects {
		if !validSubject(s, true) {
			return nil, fmt.Errorf("%w: nats %q: stream subject %q is not a valid subject", ErrConfig, n.name, s)
		}
	}
	for _, u := range strings.Split(cfg.URL, ",") {
		if pu, err := url.Parse(strings.TrimSpace(u)); err == nil && pu.User != nil {
			n.hide = append(n.hide, pu.User.Username())
			if pw, ok := pu.User.Password(); ok {
				n.hide = append(n.hide, pw)
			}
		}
	}
	return n, nil
}

// validSubject reports whether s is dot-separated non-empty tokens without
// spaces; wildcards ('*' tokens and a last '>') only when wild.
func validSubject(s string, wild bool) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	toks := strings.Split(s, ".")
	for i, t := range toks {
		if t == "" || strings.IndexFunc(t, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
			return false
		}
		if wild && (t == "*" || (t == ">" && i == len(toks)-1)) {
			continue
		}
		if strings.ContainsAny(t, "*>") {
			return false
		}
	}
	return true
}

// Token makes s one safe subject token: every '.', '*', '>', space or
// control character becomes '_', so that no field of a message can add a
// token or a wildcard to a subject; "" becomes "_", and it is cut to 128
// bytes.
func Token(s string) string {
	if s == "" {
		return "_"
	}
	s = clip(s, maxTokenLen)
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '*' || r == '>' || r == utf8.RuneError || unicode.IsSpace(r) || unicode.IsControl(r) {
			return '_'
		}
		return r
	}, s)
}

// Subject returns the subject a message of app with msgType and event is
// published to.
func (n *NATS) Subject(app, msgType, event string) string {
	p := n.prefix
	if p == "" {
		p = DefaultSubjectRoot + "." + Token(app)
	}
	if msgType == "event" {
		return p + ".event." + Token(event)
	}
	return p + "." + Token(msgType)
}

// Name returns the destination's name.
func (n *NATS) Name() string { return n.name }

// Timeout returns the per-publish timeout.
func (n *NATS) Timeout() time.Duration { return n.timeout }

// Start connects and creates the stream when it is missing.
func (n *NATS) Start(ctx context.Context) error {
	_, err := n.jetStream(ctx, true)
	return err
}

// Ready reports whether the connection is up and the stream was found or
// created (for /readyz).
func (n *NATS) Ready(ctx context.Context) error {
	n.mu.Lock()
	nc, ready := n.nc, n.ready
	n.mu.Unlock()
	if nc == nil || !ready || !nc.IsConnected() {
		return fmt.Errorf("nats %q: %w: not connected", n.name, ErrUnreachable)
	}
	return nil
}

// Close closes the connection NATS opened.
func (n *NATS) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.isClosed = true
	if n.nc != nil && n.ownConn {
		n.nc.Close()
	}
	return nil
}

// jetStream connects and checks the stream once; after a failure it tries
// again at most every natsRetryEvery (force: now).
func (n *NATS) jetStream(ctx context.Context, force bool) (jetstream.JetStream, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ready {
		return n.js, nil
	}
	if n.isClosed {
		return nil, fmt.Errorf("nats %q: %w: closed", n.name, ErrUnreachable)
	}
	if !force && n.lastErr != nil && time.Since(n.lastTry) < natsRetryEvery {
		return nil, n.lastErr
	}
	n.lastTry = time.Now()
	n.lastErr = n.connect(ctx)
	return n.js, n.lastErr
}

// connect runs with n.mu held.
func (n *NATS) connect(ctx context.Context) error {
	if n.nc == nil {
		opts := append([]nats.Option{nats.Name("wxgate"), nats.MaxReconnects(-1), nats.Timeout(min(n.timeout, 5*time.Second))}, n.opts...)
		nc, err := nats.Connect(n.url, opts...)
		if err != nil {
			return fmt.Errorf("nats %q: %w: %s", n.name, ErrUnreachable, redact(err.Error(), n.hide))
		}
		n.nc, n.ownConn = nc, true
	}
	if n.js == nil {
		js, err := jetstream.New(n.nc)
		if err != nil {
			return fmt.Errorf("nats %q: %w: %s", n.name, ErrUnreachable, redact(err.Error(), n.hide))
		}
		n.js = js
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	_, err := n.js.Stream(ctx, n.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = n.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        n.stream,
			Description: "wxgate deliveries",
			Subjects:    n.subjects,
			Storage:     jetstream.FileStorage,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			err = nil // another replica created it first
		}
	}
	if err != nil {
		return n.publishError(ctx, "stream "+n.stream, err)
	}
	n.ready = true
	return nil
}

// Deliver publishes c.Payload and waits for the PubAck.
func (n *NATS) Deliver(ctx context.Context, c store.Claimed) (Result, error) {
	if len(c.Payload) == 0 {
		return Result{}, fmt.Errorf("nats %q: %w: the message has no stored payload", n.name, ErrPermanent)
	}
	js, err := n.jetStream(ctx, false)
	if err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	subject := n.Subject(c.App, c.MsgType, c.Event)
	msg := &nats.Msg{Subject: subject, Data: c.Payload, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, c.MessageID)
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		if errors.Is(err, jetstream.ErrNoStreamResponse) {
			// The stream may have been deleted: check (and create) it
			// again before the next attempt.
			n.mu.Lock()
			n.ready = false
			n.mu.Unlock()
		}
		return Result{}, n.publishError(ctx, subject, err)
	}
	return Result{Delivered: true}, nil
}

func (n *NATS) publishError(ctx context.Context, subject string, err error) error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
		return fmt.Errorf("nats %q: %w (%s)", n.name, ErrTimeout, n.timeout)
	case ctx.Err() != nil:
		return fmt.Errorf("nats %q: %w", n.name, ErrCanceled)
	case errors.Is(err, jetstream.ErrNoStreamResponse):
		return fmt.Errorf("nats %q: %w: no stream captures %q", n.name, ErrPublish, subject)
	case errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrDisconnected) || errors.Is(err, nats.ErrConnectionReconnecting):
		return fmt.Errorf("nats %q: %w: %s", n.name, ErrUnreachable, redact(err.Error(), n.hide))
	}
	return fmt.Errorf("nats %q: %w: %s: %s", n.name, ErrPublish, subject, redact(err.Error(), n.hide))
}
