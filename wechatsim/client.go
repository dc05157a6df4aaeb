package wechatsim

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wxcrypt"
)

// Mode is message.Mode: how the push client wraps a push. ModeAuto, the
// zero value, is ModeSafe when an EncodingAESKey is configured and
// ModePlain otherwise.
type Mode = message.Mode

// The modes, re-exported for callers of this package.
const (
	ModeAuto   = message.ModeAuto
	ModePlain  = message.ModePlain
	ModeCompat = message.ModeCompat
	ModeSafe   = message.ModeSafe
)

// ParseMode parses "auto", "plain", "compat" or "safe".
func ParseMode(s string) (Mode, error) { return message.ParseMode(s) }

// Defaults of a ClientConfig's zero fields.
const (
	// DefaultPushTimeout is how long WeChat waits for an answer to most
	// pushes (message.ReplyDeadline gives each push's).
	DefaultPushTimeout = message.DefaultReplyDeadline
	// DefaultDeliveries is how many times WeChat delivers a push that gets
	// no answer: the original and two retries.
	DefaultDeliveries = 3
	// DefaultIOSRefundInquiries is how many times WeChat asks an iOS refund
	// inquiry that gets no answer within its 3 s.
	DefaultIOSRefundInquiries = 3
	// DefaultConcurrency sizes the connection pool when
	// ClientConfig.Concurrency is zero.
	DefaultConcurrency = 8
	// maxAnswer caps how much of an answer is read.
	maxAnswer = 1 << 20
)

// ClientConfig configures a Client. Set exactly one of URL and Handler.
type ClientConfig struct {
	// URL is the push URL of the server under test, http:// or https://,
	// possibly with a query of its own.
	URL string
	// Handler is a server run in-process: each delivery calls ServeHTTP
	// with an httptest.ResponseRecorder.
	Handler http.Handler
	// Path is the request path used with Handler; "/" when empty.
	Path string

	// AppID is the mini program's AppID (encrypted pushes carry it).
	AppID string
	// Token is the Token configured on the server.
	Token string
	// AESKey is the EncodingAESKey (43 characters); needed for ModeCompat
	// and ModeSafe.
	AESKey string
	// OriginalID is the mini program's original ID (gh_…), the ToUserName
	// of every push. Empty: the World's app with AppID, else one derived
	// from AppID (DefaultOriginalID for DefaultAppID).
	OriginalID string
	// Mode is the encryption mode; ModeAuto picks safe when AESKey is
	// set and plain otherwise.
	Mode Mode
	// Format is the data format; message.FormatXML when zero.
	Format message.Format

	// Timeout bounds each delivery, from sending the request to reading
	// the whole answer; when zero, WeChat's deadline for the push
	// (message.ReplyDeadline: 5 s, 3 s for the iOS refund inquiry) and
	// DefaultPushTimeout for Verify.
	Timeout time.Duration
	// Deliveries caps how many times a push is delivered. When zero,
	// WeChat's own count: DefaultDeliveries (3) for most pushes, which are
	// delivered again only after no answer, a transport error or a status
	// other than 200; 1+len(XPaySchedule) for xpay_* notifications, which
	// are delivered again until acknowledged with {"ErrCode":0,...}
	// ("success" is not an acknowledgement); DefaultIOSRefundInquiries for
	// the iOS refund inquiry, asked again until answered.
	Deliveries int
	// RetryDelay is the pause between deliveries of pushes other than xpay
	// notifications (WeChat does not document it); none when zero.
	RetryDelay time.Duration
	// XPaySchedule holds the pauses before each redelivery of an xpay
	// notification; DefaultXPaySchedule() (15 s, 15 s, 30 s, … 6 h) when
	// nil. A redelivery past its end waits its last pause.
	XPaySchedule []time.Duration
	// TimeScale multiplies every pause between deliveries (RetryDelay and
	// XPaySchedule), so that tests and demos play WeChat's schedules fast:
	// 0.001 plays the 24-hour xpay schedule in 87 s. 1 when zero.
	TimeScale float64

	// Clock gives CreateTime and the timestamps; SystemClock when nil (or
	// the World's clock when World is set).
	Clock Clock
	// World, when set, provides the users (openids), receives a transcript
	// entry per push, and has its send windows opened by user messages
	// and session entries. Without a World the client makes its own
	// openids and records nothing.
	World *World
	// OpenID, when set, is the sender of every push instead of the World's
	// users.
	OpenID string

	// HTTPClient sends requests to URL. When nil the client builds one
	// with keep-alive whose idle pool holds Concurrency connections per
	// host; redirects are not followed.
	HTTPClient *http.Client
	// Concurrency is the number of pushes expected in flight at once
	// (Run's concurrency); it sizes the default connection pool.
	// DefaultConcurrency when zero.
	Concurrency int
}

// Client plays WeChat pushing to a developer server: it signs and encrypts
// pushes as WeChat does, delivers them with WeChat's timeout and retries,
// and judges the answers as WeChat would. A Client is safe for concurrent
// use.
type Client struct {
	handler  http.Handler
	target   *url.URL
	hc       *http.Client
	ownHC    bool
	path     string
	appID    string
	token    string
	key      *wxcrypt.Key
	origID   string
	mode     Mode
	format   message.Format
	timeout  time.Duration // Verify's
	pushTO   time.Duration // 0: per push
	tries    int           // 0: WeChat's count
	delay    time.Duration
	xpay     []time.Duration
	scale    float64
	clock    Clock
	world    *World
	openID   string
	msgID    atomic.Uint64
	userMu   sync.Mutex
	users    []string
	nextUser int
	lastEv   map[string]int64 // user+"|"+event -> last CreateTime used
	prefix   string           // openid prefix when there is no World
}

// NewClient checks cfg and returns a Client.
func NewClient(cfg ClientConfig) (*Client, error) {
	c := &Client{
		handler: cfg.Handler, path: cfg.Path, appID: cfg.AppID, token: cfg.Token,
		origID: cfg.OriginalID, mode: cfg.Mode, format: cfg.Format, timeout: cfg.Timeout, pushTO: cfg.Timeout,
		tries: cfg.Deliveries, delay: cfg.RetryDelay, xpay: slices.Clone(cfg.XPaySchedule), scale: cfg.TimeScale,
		clock: cfg.Clock, world: cfg.World,
		openID: cfg.OpenID, hc: cfg.HTTPClient, lastEv: map[string]int64{}, prefix: randomString(5),
	}
	switch {
	case (cfg.URL == "") == (cfg.Handler == nil):
		return nil, errors.New("wechatsim: set exactly one of ClientConfig.URL and ClientConfig.Handler")
	case cfg.Token == "":
		return nil, errors.New("wechatsim: ClientConfig.Token is required")
	case cfg.Timeout < 0 || cfg.Deliveries < 0 || cfg.RetryDelay < 0 || cfg.Concurrency < 0:
		return nil, errors.New("wechatsim: Timeout, Deliveries, RetryDelay and Concurrency must not be negative")
	case cfg.TimeScale < 0 || math.IsNaN(cfg.TimeScale) || math.IsInf(cfg.TimeScale, 0):
		return nil, errors.New("wechatsim: TimeScale must be a finite number, not negative")
	}
	for _, d := range cfg.XPaySchedule {
		if d < 0 {
			return nil, errors.New("wechatsim: XPaySchedule must not hold negative pauses")
		}
	}
	if c.xpay == nil {
		c.xpay = DefaultXPaySchedule()
	}
	if c.scale == 0 {
		c.scale = 1
	}
	if cfg.URL != "" {
		u, err := url.Parse(cfg.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("wechatsim: URL %q is not an http:// or https:// URL", cfg.URL)
		}
		if u.Path == "" {
			u.Path = "/"
		}
		c.target = u
	}
	if c.path == "" {
		c.path = "/"
	} else if !strings.HasPrefix(c.path, "/") {
		return nil, fmt.Errorf("wechatsim: Path %q must start with /", c.path)
	}
	if cfg.AESKey != "" {
		k, err := wxcrypt.ParseKey(strings.TrimSpace(cfg.AESKey))
		if err != nil {
			return nil, fmt.Errorf("wechatsim: EncodingAESKey: %w", err)
		}
		c.key = k
	}
	switch c.mode {
	case ModeAuto:
		c.mode = ModePlain
		if c.key != nil {
			c.mode = ModeSafe
		}
	case ModePlain:
	case ModeCompat, ModeSafe:
		if c.key == nil {
			return nil, fmt.Errorf("wechatsim: mode %s needs an EncodingAESKey", c.mode)
		}
		if c.appID == "" {
			return nil, fmt.Errorf("wechatsim: mode %s needs an AppID", c.mode)
		}
	default:
		return nil, fmt.Errorf("wechatsim: unknown mode %d", c.mode)
	}
	switch c.format {
	case 0:
		c.format = message.FormatXML
	case message.FormatXML, message.FormatJSON:
	default:
		return nil, fmt.Errorf("wechatsim: unknown format %v", c.format)
	}
	if c.timeout == 0 {
		c.timeout = DefaultPushTimeout
	}
	if c.clock == nil {
		if c.world != nil {
			c.clock = c.world.Clock()
		} else {
			c.clock = SystemClock{}
		}
	}
	if c.origID == "" && c.world != nil {
		if app, ok := c.world.App(c.appID); ok {
			c.origID = app.OriginalID
		}
	}
	if c.origID == "" {
		c.origID = originalIDFor(c.appID)
	}
	if c.hc == nil && c.target != nil {
		conc := cfg.Concurrency
		if conc == 0 {
			conc = DefaultConcurrency
		}
		c.hc, c.ownHC = newHTTPClient(conc), true
	}
	return c, nil
}

// newHTTPClient returns a keep-alive client whose idle pool keeps conc
// connections per host. It ignores proxy settings (WeChat reaches the
// server directly) and does not follow redirects.
func newHTTPClient(conc int) *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: DefaultPushTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        max(100, conc),
		MaxIdleConnsPerHost: conc,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: DefaultPushTimeout,
		DisableCompression:  true,
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// originalIDFor derives a stable original ID from an AppID.
func originalIDFor(appID string) string {
	if appID == DefaultAppID || appID == "" {
		return DefaultOriginalID
	}
	sum := sha1.Sum([]byte(appID))
	return "gh_" + hex.EncodeToString(sum[:])[:12]
}

// Close releases the idle connections of the client's own HTTP client.
func (c *Client) Close() {
	if c.ownHC {
		c.hc.CloseIdleConnections()
	}
}

// Mode returns the client's resolved mode (never ModeAuto).
func (c *Client) Mode() Mode { return c.mode }

// Format returns the client's data format.
func (c *Client) Format() message.Format { return c.format }

// OriginalID returns the ToUserName of the client's pushes.
func (c *Client) OriginalID() string { return c.origID }

// Target returns the URL pushes go to, or the Path for an in-process
// handler.
func (c *Client) Target() string {
	if c.target != nil {
		return c.target.String()
	}
	return c.path
}

// Delivery is one HTTP exchange of a push (or of a verification).
type Delivery struct {
	// Attempt counts deliveries of the same push from 1.
	Attempt int
	// Delay is the pause the client made before this delivery, as
	// scheduled (and scaled by ClientConfig.TimeScale); 0 for the first.
	Delay time.Duration
	// Timestamp, Nonce, Signature and MsgSignature are the query
	// parameters sent (MsgSignature only in compat and safe mode). Every
	// delivery has a fresh nonce and therefore fresh signatures.
	Timestamp, Nonce, Signature, MsgSignature string
	// Status is the HTTP status, 0 when no answer came.
	Status int
	// ContentType is the answer's Content-Type header.
	ContentType string
	// Body is the answer body, at most 1 MiB.
	Body []byte
	// Latency runs from sending the request to reading the whole answer,
	// or to the failure.
	Latency time.Duration
	// Err is the transport failure (timeout, refused connection), if any.
	Err error
	// Verdict and Reason judge this delivery.
	Verdict Verdict
	// Reason explains Verdict.
	Reason string
}

// Outcome is the judged result of one push: what was sent, every delivery,
// and WeChat's verdict on the final answer.
type Outcome struct {
	// Judgement is the verdict on the last delivery: Accepted, Verdict,
	// Reason, Reply and ReplyPlaintext.
	Judgement
	// Push is the message as sent, header filled in; nil for a raw body
	// that does not decode.
	Push message.Push
	// Plaintext is the message in the client's format, before wrapping.
	Plaintext []byte
	// Body is the request body as posted (wrapped per mode).
	Body []byte
	// OpenID is the sender.
	OpenID string
	// Deliveries lists every delivery, the first one first.
	Deliveries []Delivery
	// UserVisibleFailure is FailurePrompt when the push failed, else "".
	UserVisibleFailure string
	// Latency runs from the first request to the judged final answer,
	// including retries.
	Latency time.Duration
}

// Retries is the number of deliveries after the first.
func (o *Outcome) Retries() int { return max(len(o.Deliveries)-1, 0) }

// Push fills in p's empty header fields (ToUserName, FromUserName,
// CreateTime, MsgType and Event when p's type has a single kind, and the
// MsgId of text, image and miniprogrampage messages),
// encodes it in the client's format, and delivers it as WeChat does (see
// Client). p is modified. The error reports only a push that cannot be
// encoded or a canceled ctx; a server failure is a non-accepted Outcome.
func (c *Client) Push(ctx context.Context, p message.Push) (*Outcome, error) {
	if p == nil {
		return nil, errors.New("wechatsim: nil push")
	}
	c.fill(p)
	plain, err := message.Encode(p, c.format)
	if err != nil {
		return nil, fmt.Errorf("wechatsim: encoding the push: %w", err)
	}
	return c.deliver(ctx, p, plain)
}

// PushRaw delivers a plaintext message body exactly as given (wrapped per
// mode): for quirky or hand-written bodies. body must be in the client's
// format. It is decoded, when it decodes, only to judge the reply and to
// record it; nothing is filled in.
func (c *Client) PushRaw(ctx context.Context, body []byte) (*Outcome, error) {
	f, err := message.DetectFormat(body)
	if err != nil {
		return nil, fmt.Errorf("wechatsim: raw body: %w", err)
	}
	if f != c.format {
		return nil, fmt.Errorf("wechatsim: raw body is %s but the client sends %s", f, c.format)
	}
	p, _ := message.Decode(body, f)
	return c.deliver(ctx, p, bytes.Clone(body))
}

// fill sets p's empty header fields and MsgId.
func (c *Client) fill(p message.Push) {
	h := p.Head()
	if h.MsgType == "" && h.Event == "" {
		if ks := message.KindsOf(p); len(ks) == 1 {
			h.MsgType, h.Event = ks[0].MsgType, ks[0].Event
		}
	}
	if h.ToUserName == "" {
		h.ToUserName = c.origID
	}
	if h.CreateTime == 0 {
		h.CreateTime = c.clock.Now().Unix()
	}
	if h.FromUserName == "" {
		ev := ""
		if h.MsgType == message.MsgTypeEvent {
			ev = h.Event
		}
		h.FromUserName = c.pickUser(ev, h.CreateTime)
	}
	switch m := p.(type) {
	case *message.Text:
		if m.MsgID == "" {
			m.MsgID = c.NextMsgID()
		}
	case *message.Image:
		if m.MsgID == "" {
			m.MsgID = c.NextMsgID()
		}
	case *message.MiniProgramPage:
		if m.MsgID == "" {
			m.MsgID = c.NextMsgID()
		}
	}
}

// request is one push ready to deliver.
type request struct {
	push    message.Push
	openID  string
	body    []byte
	encrypt string // the Encrypt field, compat and safe mode
}

// wrap builds the request body for plain (the encoded push) per mode.
func (c *Client) wrap(p message.Push, plain []byte) (*request, error) {
	r := &request{push: p, body: plain}
	if p != nil {
		r.openID = p.Head().FromUserName
	}
	if c.mode == ModePlain {
		return r, nil
	}
	enc, err := c.key.Encrypt(nil, plain, c.appID)
	if err != nil {
		return nil, fmt.Errorf("wechatsim: encrypting the push: %w", err)
	}
	r.encrypt = enc
	if c.mode == ModeSafe || p == nil {
		// A raw body that does not decode cannot carry its fields in
		// compatible mode: send it as safe mode does.
		to := c.origID
		if p != nil {
			to = p.Head().ToUserName
		}
		env := message.Envelope{ToUserName: to, Encrypt: enc}
		r.body = env.Append(nil, c.format)
		return r, nil
	}
	// Compatible mode: the plaintext fields followed by Encrypt. Work on a
	// copy made by decoding the encoded push (Decode(Encode(p)) equals p).
	cp, err := message.Decode(plain, c.format)
	if err != nil {
		return nil, fmt.Errorf("wechatsim: copying the push: %w", err)
	}
	field := message.Field{Name: "Encrypt", Value: message.StringValue(enc)}
	if u, ok := cp.(*message.Unknown); ok {
		u.Raw = nil
		u.Fields = append(u.Fields, field)
	} else {
		cp.Head().Extra = append(cp.Head().Extra, field)
	}
	if r.body, err = message.Encode(cp, c.format); err != nil {
		return nil, fmt.Errorf("wechatsim: encoding the compatible-mode body: %w", err)
	}
	return r, nil
}

// xpaySchedule is WeChat's documented redelivery schedule of virtual
// payment notifications (24 h 4 min in all).
// https://developers.weixin.qq.com/minigame/introduction/commercialization/virtual-payment/goods.html
var xpaySchedule = []time.Duration{
	15 * time.Second, 15 * time.Second, 30 * time.Second, 3 * time.Minute, 10 * time.Minute, 20 * time.Minute,
	30 * time.Minute, 30 * time.Minute, 30 * time.Minute, 60 * time.Minute, 3 * time.Hour, 3 * time.Hour,
	3 * time.Hour, 6 * time.Hour, 6 * time.Hour,
}

// DefaultXPaySchedule returns WeChat's pauses before each redelivery of an
// xpay notification that was not acknowledged: 15s, 15s, 30s, 3m, 10m,
// 20m, 30m, 30m, 30m, 60m, 3h, 3h, 3h, 6h, 6h. The result is a fresh
// slice.
func DefaultXPaySchedule() []time.Duration { return slices.Clone(xpaySchedule) }

// plan is how WeChat delivers one push.
type plan struct {
	tries   int
	timeout time.Duration
	ack     ackKind
}

func (c *Client) planFor(p message.Push) plan {
	pl := plan{tries: c.tries, timeout: c.pushTO, ack: requiredAck(p)}
	if pl.timeout == 0 {
		pl.timeout = message.ReplyDeadline(p)
	}
	if pl.tries == 0 {
		switch pl.ack {
		case ackXPay:
			pl.tries = 1 + len(c.xpay)
		case ackIOSRefund:
			pl.tries = DefaultIOSRefundInquiries
		default:
			pl.tries = DefaultDeliveries
		}
	}
	return pl
}

// again reports whether WeChat delivers the push again after j: xpay
// notifications and the iOS refund inquiry until they get their answer,
// every other push only after no usable HTTP answer.
func (pl plan) again(j Judgement) bool {
	switch {
	case j.Verdict == VerdictCanceled:
		return false
	case pl.ack == ackXPay || pl.ack == ackIOSRefund:
		return !j.Accepted
	}
	return j.Verdict.retryable()
}

// pause is the scaled wait before delivery attempt (2, 3, …).
func (c *Client) pause(pl plan, attempt int) time.Duration {
	d := c.delay
	if pl.ack == ackXPay && len(c.xpay) > 0 {
		d = c.xpay[min(attempt-2, len(c.xpay)-1)]
	}
	return time.Duration(float64(d) * c.scale)
}

// deliver sends a push until it is answered or the deliveries run out,
// judges the answer and records the outcome.
func (c *Client) deliver(ctx context.Context, p message.Push, plain []byte) (*Outcome, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	req, err := c.wrap(p, plain)
	if err != nil {
		return nil, err
	}
	o := &Outcome{Push: p, Plaintext: plain, Body: req.body, OpenID: req.openID}
	c.noteUser(p, req.openID)
	pl := c.planFor(p)
	start := time.Now()
	for attempt := 1; attempt <= pl.tries; attempt++ {
		var wait time.Duration
		if attempt > 1 {
			wait = c.pause(pl, attempt)
			if wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
				case <-t.C:
				}
			}
		}
		d, j := c.post(ctx, req, attempt, pl.timeout)
		d.Delay = wait
		o.Deliveries = append(o.Deliveries, d)
		o.Judgement = j
		if !pl.again(j) {
			break
		}
	}
	o.Latency = time.Since(start)
	if n := len(o.Deliveries); n > 1 && !o.Accepted && pl.again(o.Judgement) {
		o.Reason = fmt.Sprintf("%s (all %d deliveries failed)", o.Reason, n)
	}
	if !o.Accepted {
		o.UserVisibleFailure = FailurePrompt
	}
	c.record(o)
	return o, nil
}

// post performs one delivery within timeout.
func (c *Client) post(ctx context.Context, r *request, attempt int, timeout time.Duration) (Delivery, Judgement) {
	d := Delivery{Attempt: attempt, Timestamp: c.timestamp(), Nonce: randomNonce()}
	d.Signature = wxcrypt.Signature(c.token, d.Timestamp, d.Nonce)
	var q strings.Builder
	q.WriteString("signature=" + d.Signature + "&timestamp=" + d.Timestamp + "&nonce=" + d.Nonce)
	if c.mode != ModePlain {
		d.MsgSignature = wxcrypt.Signature(c.token, d.Timestamp, d.Nonce, r.encrypt)
		q.WriteString("&openid=" + url.QueryEscape(r.openID) + "&encrypt_type=aes&msg_signature=" + d.MsgSignature)
	}
	ctype := "text/xml"
	if c.format == message.FormatJSON {
		ctype = "application/json"
	}
	j := c.exchangeWithin(ctx, timeout, &d, http.MethodPost, q.String(), r.body, ctype)
	if j.Verdict == "" {
		j = c.judge(r.push, d.Body)
	}
	d.Verdict, d.Reason = j.Verdict, j.Reason
	return d, j
}

// exchange performs one HTTP request with the client's timeout and fills
// d's Status, ContentType, Body, Latency and Err. It returns a Judgement
// with a Verdict when there was no 200 answer, and the zero Judgement
// otherwise.
func (c *Client) exchange(ctx context.Context, d *Delivery, method, rawQuery string, body []byte, ctype string) Judgement {
	return c.exchangeWithin(ctx, c.timeout, d, method, rawQuery, body, ctype)
}

// exchangeWithin is exchange with its own timeout.
func (c *Client) exchangeWithin(ctx context.Context, timeout time.Duration, d *Delivery, method, rawQuery string, body []byte, ctype string) Judgement {
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	if c.handler != nil {
		d.Status, d.ContentType, d.Body, d.Err = c.serveInProcess(dctx, method, rawQuery, body, ctype)
	} else {
		d.Status, d.ContentType, d.Body, d.Err = c.do(dctx, method, rawQuery, body, ctype)
	}
	d.Latency = time.Since(start)
	isPush := method == http.MethodPost
	if d.Err != nil {
		return judgeTransport(ctx, d.Err, timeout, c.hostForHumans(), isPush)
	}
	if d.Status != http.StatusOK {
		return judgeStatus(d.Status, d.Body, isPush)
	}
	return Judgement{}
}

func (c *Client) hostForHumans() string {
	if c.target != nil {
		return c.target.Host
	}
	return "the handler"
}

// do performs the exchange over HTTP.
func (c *Client) do(ctx context.Context, method, rawQuery string, body []byte, ctype string) (int, string, []byte, error) {
	u := *c.target
	if u.RawQuery != "" {
		u.RawQuery += "&" + rawQuery
	} else {
		u.RawQuery = rawQuery
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return 0, "", nil, err
	}
	setHeaders(req, body, ctype)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return resp.StatusCode, resp.Header.Get("Content-Type"), b, err
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), b, nil
}

func setHeaders(req *http.Request, body []byte, ctype string) {
	req.Header.Set("User-Agent", "Mozilla/4.0 (wxgate emulator)")
	req.Header.Set("Accept", "*/*")
	if body != nil {
		req.Header.Set("Content-Type", ctype)
	}
}

// serveInProcess runs the handler with a recorder. A handler still running
// when ctx ends is abandoned (its request context is canceled).
func (c *Client) serveInProcess(ctx context.Context, method, rawQuery string, body []byte, ctype string) (int, string, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, c.path+"?"+rawQuery, rd).WithContext(ctx)
	setHeaders(req, body, ctype)
	rec := httptest.NewRecorder()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- errHandlerPanic
			}
		}()
		c.handler.ServeHTTP(rec, req)
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			return 0, "", nil, err
		}
	case <-ctx.Done():
		return 0, "", nil, ctx.Err()
	}
	res := rec.Result()
	b := rec.Body.Bytes()
	if len(b) > maxAnswer {
		b = b[:maxAnswer]
	}
	return res.StatusCode, res.Header.Get("Content-Type"), bytes.Clone(b), nil
}

// timestamp returns the clock's Unix time as text.
func (c *Client) timestamp() string {
	return strconv.FormatInt(c.clock.Now().Unix(), 10)
}

// noteUser opens the user's send window in the World: a user message opens
// 5 messages / 48 h, entering the session 2 messages / 1 min. WeChat opens
// it when the user acts, before the push is delivered, so a server that
// answers through the customer-service API while handling the push (or
// right after acknowledging it) finds the window open.
func (c *Client) noteUser(p message.Push, openid string) {
	if c.world == nil || p == nil || openid == "" {
		return
	}
	now := c.clock.Now()
	switch m := p.(type) {
	case *message.Text:
		c.world.NoteUserMessage(openid, now)
	case *message.Image: // the server may fetch the image with media/get
		c.world.NoteUserMessage(openid, now)
		c.world.NoteUserImage(c.appID, openid, m.MediaID, now)
	case *message.MiniProgramPage:
		c.world.NoteUserMessage(openid, now)
		c.world.NoteUserImage(c.appID, openid, m.ThumbMediaID, now)
	case *message.UserEnterTempSession:
		c.world.NoteEnterSession(openid, now)
	case *message.SubscribeMsgPopupEvent: // each accept allows one subscribe message
		for _, it := range m.List {
			c.world.NoteSubscribe(openid, it.TemplateID, it.SubscribeStatusString == "accept")
		}
	case *message.SubscribeMsgChangeEvent: // a reject in the settings cancels the rest
		for _, it := range m.List {
			if it.SubscribeStatusString == "reject" {
				c.world.CancelSubscribe(openid, it.TemplateID)
			}
		}
	}
}

// record adds the push and its answer to the World's transcript.
func (c *Client) record(o *Outcome) {
	if c.world == nil {
		return
	}
	e := Entry{OpenID: o.OpenID, Direction: DirectionToServer, Outcome: string(o.Verdict), Detail: o.Reason}
	if o.Push != nil {
		e.Kind = kindName(o.Push)
		if b, err := message.Encode(o.Push, message.FormatJSON); err == nil {
			e.Body = b
		}
	}
	if e.Body == nil {
		e.Body = o.Plaintext
	}
	if n := len(o.Deliveries); n > 1 {
		e.Detail = fmt.Sprintf("%s [%d deliveries]", e.Detail, n)
	}
	switch {
	case o.Reply != nil:
		if b, err := message.Encode(o.Reply, message.FormatJSON); err == nil {
			e.Reply = b
		} else {
			e.Reply = o.ReplyPlaintext
		}
	case o.ReplyPlaintext != nil:
		e.Reply = o.ReplyPlaintext
	case len(o.Deliveries) > 0:
		if b := o.Deliveries[len(o.Deliveries)-1].Body; len(b) > 0 {
			if len(b) > 4096 {
				b = b[:4096]
			}
			e.Reply = b
		}
	}
	c.world.Record(e)
}
