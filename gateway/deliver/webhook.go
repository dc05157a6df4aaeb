package deliver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/wxgate/wxgate/gateway/webhook"
	"github.com/wxgate/wxgate/store"
)

// DefaultMaxIdleConns is the default WebhookConfig.MaxIdleConns.
const DefaultMaxIdleConns = 64

// drainLimit is how much of a response body past MaxResponseBody is read
// and dropped so that the connection can be reused; a larger body costs a
// new connection instead.
const drainLimit = 256 << 10

// WebhookConfig configures a Webhook.
type WebhookConfig struct {
	// Name is the destination's name; required.
	Name string
	// URL is the endpoint, http or https; required. It may carry
	// credentials (user info, a token in the query): they never appear in
	// an error.
	URL string
	// Secrets sign each delivery, one v1 per secret in this order: the
	// current secret first, then the previous one during a rotation. At
	// least one, none empty.
	Secrets [][]byte
	// Timeout bounds one attempt, from connecting to the end of the
	// answer. Default DefaultTimeout.
	Timeout time.Duration
	// Version goes into the User-Agent "wxgate/<Version>". Default "dev".
	Version string
	// MaxIdleConns is how many idle connections to the endpoint are kept
	// for reuse; set it to at least the destination's concurrency.
	// Default DefaultMaxIdleConns.
	MaxIdleConns int
	// Transport replaces the tuned transport (a proxy setup, tests).
	Transport http.RoundTripper
	// Now is the clock of the signature's t. Default time.Now.
	Now func() time.Time
}

// Webhook is the signed HTTP destination of wxgate's webhook contract
// (docs/webhooks.md): it POSTs the stored payload as it is with the
// Wxgate-Id, Wxgate-Attempt and Wxgate-Signature headers; a 2xx answer is
// delivered, anything else is retried.
type Webhook struct {
	name      string
	url       string
	secrets   [][]byte
	timeout   time.Duration
	userAgent string
	client    *http.Client
	now       func() time.Time
	hide      []string // parts of the URL that must never appear in an error
}

var (
	_ Destination = (*Webhook)(nil)
	_ Timeouter   = (*Webhook)(nil)
)

// NewWebhook checks cfg and returns its Webhook. It makes no request.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	if cfg.Name == "" {
		return nil, fmt.Errorf("%w: webhook: a name is required", ErrConfig)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL is not quoted: it may hold a token.
		return nil, fmt.Errorf("%w: webhook %q: the URL must be an absolute http or https URL", ErrConfig, cfg.Name)
	}
	if len(cfg.Secrets) == 0 {
		return nil, fmt.Errorf("%w: webhook %q: a signing secret is required", ErrConfig, cfg.Name)
	}
	secrets := make([][]byte, len(cfg.Secrets))
	for i, s := range cfg.Secrets {
		if len(s) == 0 {
			return nil, fmt.Errorf("%w: webhook %q: secret %d is empty", ErrConfig, cfg.Name, i+1)
		}
		secrets[i] = bytes.Clone(s)
	}
	if cfg.Timeout < 0 || cfg.MaxIdleConns < 0 {
		return nil, fmt.Errorf("%w: webhook %q: negative timeout or idle connections", ErrConfig, cfg.Name)
	}
	w := &Webhook{
		name:      cfg.Name,
		url:       cfg.URL,
		secrets:   secrets,
		timeout:   orDefault(cfg.Timeout, DefaultTimeout),
		userAgent: "wxgate/" + orDefaultStr(cfg.Version, "dev"),
		now:       cfg.Now,
	}
	if w.now == nil {
		w.now = time.Now
	}
	if pw, ok := u.User.Password(); ok {
		w.hide = append(w.hide, pw)
	}
	if u.User != nil {
		w.hide = append(w.hide, u.User.Username())
	}
	if u.RawQuery != "" {
		w.hide = append(w.hide, u.RawQuery)
	}
	rt := cfg.Transport
	if rt == nil {
		rt = newTransport(w.timeout, orDefault(cfg.MaxIdleConns, DefaultMaxIdleConns))
	}
	w.client = &http.Client{
		Transport: rt,
		// Redirects are not followed, and a 3xx is a failed attempt.
		// Following one would either re-POST the signed payload to a
		// place the operator never configured (307/308: a moved domain,
		// a captive portal, a takeover) or turn it into a GET without the
		// body (301/302/303) that some page then answers 200: the message
		// would count as delivered without ever reaching the team's code.
		// Failing shows the wrong URL in the attempts and dead letters.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return w, nil
}

// newTransport is an http.Transport for one endpoint under a bounded
// number of concurrent calls: enough idle connections to reuse one per
// worker, and dial and TLS limits within the attempt's timeout.
func newTransport(timeout time.Duration, idle int) *http.Transport {
	step := min(timeout, 10*time.Second)
	return &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            (&net.Dialer{Timeout: step, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           idle,
		MaxIdleConnsPerHost:    idle,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    step,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// Name returns the destination's name.
func (w *Webhook) Name() string { return w.name }

// Timeout returns the per-attempt timeout.
func (w *Webhook) Timeout() time.Duration { return w.timeout }

// Close closes the idle connections.
func (w *Webhook) Close() { w.client.CloseIdleConnections() }

// Deliver POSTs c.Payload to the endpoint, signed at the time of sending.
func (w *Webhook) Deliver(ctx context.Context, c store.Claimed) (Result, error) {
	if len(c.Payload) == 0 {
		return Result{}, fmt.Errorf("webhook %q: %w: the message has no stored payload", w.name, ErrPermanent)
	}
	cctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, w.url, bytes.NewReader(c.Payload))
	if err != nil {
		return Result{}, fmt.Errorf("webhook %q: %w: cannot build the request", w.name, ErrConfig)
	}
	req.Header = http.Header{
		"Content-Type":          {"application/json"},
		"User-Agent":            {w.userAgent},
		webhook.HeaderID:        {c.MessageID},
		webhook.HeaderAttempt:   {strconv.Itoa(c.Attempt)},
		webhook.HeaderSignature: {webhook.Sign(c.Payload, w.now(), w.secrets...)},
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return Result{}, w.callError(ctx, cctx, err)
	}
	defer resp.Body.Close()
	r := Result{Status: resp.StatusCode}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody+1))
	if len(body) > MaxResponseBody {
		body, r.Truncated = body[:MaxResponseBody], true
		_, _ = io.CopyN(io.Discard, resp.Body, drainLimit)
	}
	if rerr != nil {
		r.Truncated = true
	}
	r.Body = body
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		// The status is the answer: a 2xx whose body broke off is still
		// delivered (Truncated tells the body is incomplete).
		r.Delivered = true
		return r, nil
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return r, fmt.Errorf("webhook %q: %w: answered %d, a redirect (not followed: configure the final URL)", w.name, ErrStatus, resp.StatusCode)
	default:
		return r, fmt.Errorf("webhook %q: %w: answered %d", w.name, ErrStatus, resp.StatusCode)
	}
}

// callError turns a failed request into a clean error: the *url.Error that
// net/http returns quotes the URL, which may hold a token, so only its
// cause is kept, and whatever of the URL's secret parts remains is
// redacted.
func (w *Webhook) callError(parent, cctx context.Context, err error) error {
	switch {
	case errors.Is(cctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("webhook %q: %w (%s)", w.name, ErrTimeout, w.timeout)
	case parent.Err() != nil:
		return fmt.Errorf("webhook %q: %w", w.name, ErrCanceled)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("webhook %q: %w: %s", w.name, ErrUnreachable, redact(err.Error(), w.hide))
}

func orDefault[T ~int | ~int64](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

func orDefaultStr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
