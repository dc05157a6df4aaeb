package wechatsim

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Credentials of the app a NewOpenAPI without WithApp (and without a World
// that already has apps) registers. They are fake: printing them is fine.
const (
	// DefaultAppID is the AppID of the default app.
	DefaultAppID = "wx5f3c9a1b2d4e6f80"
	// DefaultSecret is the AppSecret of the default app.
	DefaultSecret = "4c2a9e7f1b3d5a6c8e0f2b4d6a8c0e1f"
	// DefaultOriginalID is the original ID (gh_…) of the default app.
	DefaultOriginalID = "gh_5a3c9e1f7b2d"
)

// Token and media lifetimes and limits of the mock (spec §7, §8).
const (
	// TokenLifetime is the validity of every access token (expires_in 7200).
	TokenLifetime = 7200 * time.Second
	// TokenOverlap is how long a superseded token stays valid, and how early
	// stable_token renews its token.
	TokenOverlap = 5 * time.Minute
	// DefaultDailyTokenQuota is the daily /cgi-bin/token quota per app.
	DefaultDailyTokenQuota = 2000
	// StableForceRefreshDaily is how many force_refresh calls stable_token
	// honours per app and day.
	StableForceRefreshDaily = 20
	// StableForceRefreshGap is the minimum gap between two honoured
	// force_refresh calls; a call inside the gap does not refresh and returns
	// the current token.
	StableForceRefreshGap = 30 * time.Second
	// StableMinuteQuota and StableDailyQuota are stable_token's call limits
	// per app.
	StableMinuteQuota = 10000
	// StableDailyQuota is stable_token's daily call limit per app.
	StableDailyQuota = 500000
	// MediaLifetime is how long an uploaded temporary media stays valid.
	MediaLifetime = 72 * time.Hour
	// TypingDuration is how long a Typing state lasts.
	TypingDuration = 15 * time.Second
	// TypingInteractionWindow is how recent the last message exchange must be
	// for Typing, which also needs an open send window.
	TypingInteractionWindow = 30 * time.Second
	// MaxMediaBody caps media/upload request bodies.
	MaxMediaBody = 10 << 20
	// MaxJSONBody caps every other request body.
	MaxJSONBody = 1 << 20
)

// Paths of the emulated WeChat endpoints.
const (
	// PathToken is GET /cgi-bin/token: fetch an access token.
	PathToken = "/cgi-bin/token"
	// PathStableToken is POST /cgi-bin/stable_token: fetch the stable access token.
	PathStableToken = "/cgi-bin/stable_token"
	// PathCustomSend is POST /cgi-bin/message/custom/send: send a customer-service message.
	PathCustomSend = "/cgi-bin/message/custom/send"
	// PathTyping is POST /cgi-bin/message/custom/typing: show or cancel the typing state.
	PathTyping = "/cgi-bin/message/custom/typing"
	// PathMediaUpload is POST /cgi-bin/media/upload: upload a temporary image.
	PathMediaUpload = "/cgi-bin/media/upload"
	// PathMediaGet is GET /cgi-bin/media/get: download a temporary media.
	PathMediaGet = "/cgi-bin/media/get"
	// PathSubscribeSend is POST /cgi-bin/message/subscribe/send: send a
	// subscribe message.
	PathSubscribeSend = "/cgi-bin/message/subscribe/send"
)

// beijing is the time zone in which daily quotas reset (midnight UTC+8).
var beijing = time.FixedZone("CST", 8*3600)

// OpenAPIOption configures NewOpenAPI.
type OpenAPIOption func(*openAPIConfig)

type openAPIConfig struct {
	world *World
	clock Clock
	apps  []App
	quota int
}

// WithWorld makes the OpenAPI share w (users, transcripts, send windows, apps)
// instead of creating its own World. Without WithClock the OpenAPI uses w's
// clock.
func WithWorld(w *World) OpenAPIOption { return func(c *openAPIConfig) { c.world = w } }

// WithClock sets the clock used for tokens, media, typing and quotas. Without
// it the OpenAPI uses the World's clock, or a new FakeClock when it creates
// its own World. Give the World the same clock.
func WithClock(clk Clock) OpenAPIOption { return func(c *openAPIConfig) { c.clock = clk } }

// WithApp registers app (may be repeated). When at least one WithApp is given
// the default app is not added.
func WithApp(app App) OpenAPIOption { return func(c *openAPIConfig) { c.apps = append(c.apps, app) } }

// WithDailyTokenQuota sets the daily /cgi-bin/token quota per app (default
// 2000). n <= 0 keeps the default.
func WithDailyTokenQuota(n int) OpenAPIOption { return func(c *openAPIConfig) { c.quota = n } }

// OpenAPI is the mock WeChat Open API server: an http.Handler serving the
// token, stable_token, customer-service, typing, media and subscribe-message
// endpoints under /cgi-bin/, plus fault injection and read-back endpoints
// under /_sim/. It is safe for concurrent use.
type OpenAPI struct {
	world *World
	clock Clock
	quota int

	mu     sync.Mutex
	tokens map[string]*tokenRec
	issued []*tokenRec
	apps   map[string]*appState
	typing map[string]time.Time // openid -> end of typing state
	sent   []SentMessage
	subs   []SentSubscribeMessage // see openapi_subscribe.go
	msgID  int64                  // last subscribe msgid
	stats  map[string]*EndpointStats

	latency   time.Duration
	busyRate  float64
	failNext  []FailRule
	whitelist []netip.Prefix // empty: every caller may fetch tokens
}

// NewOpenAPI returns a mock Open API. With no options it creates its own
// World with a FakeClock at DefaultFakeTime and registers the default app
// (DefaultAppID, DefaultSecret, DefaultOriginalID).
func NewOpenAPI(opts ...OpenAPIOption) *OpenAPI {
	var cfg openAPIConfig
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	if cfg.world == nil {
		if cfg.clock == nil {
			cfg.clock = NewFakeClock(time.Time{})
		}
		cfg.world = NewWorld(cfg.clock)
	}
	if cfg.clock == nil {
		cfg.clock = cfg.world.Clock()
	}
	if cfg.quota <= 0 {
		cfg.quota = DefaultDailyTokenQuota
	}
	for _, app := range cfg.apps {
		cfg.world.AddApp(app)
	}
	if len(cfg.apps) == 0 && len(cfg.world.Apps()) == 0 {
		cfg.world.AddApp(DefaultApp())
	}
	return &OpenAPI{
		world:  cfg.world,
		clock:  cfg.clock,
		quota:  cfg.quota,
		tokens: make(map[string]*tokenRec),
		apps:   make(map[string]*appState),
		typing: make(map[string]time.Time),
		stats:  make(map[string]*EndpointStats),
	}
}

// DefaultApp returns the default app's credentials.
func DefaultApp() App {
	return App{AppID: DefaultAppID, Secret: DefaultSecret, OriginalID: DefaultOriginalID}
}

// World returns the World the OpenAPI reads and records into.
func (o *OpenAPI) World() *World { return o.world }

// Clock returns the OpenAPI's clock (a *FakeClock unless configured
// otherwise).
func (o *OpenAPI) Clock() Clock { return o.clock }

// FakeClock returns the clock as a *FakeClock, or nil when it is another
// kind of Clock.
func (o *OpenAPI) FakeClock() *FakeClock {
	fc, _ := o.clock.(*FakeClock)
	return fc
}

// Start serves the OpenAPI on a new httptest.Server listening on a loopback
// port; point clients at its URL and Close it when done.
func (o *OpenAPI) Start() *httptest.Server { return httptest.NewServer(o) }

// response is what a handler produces; ServeHTTP writes it and counts it.
type response struct {
	status      int // 0 means 200
	code        int // errcode for stats
	body        any // JSON-encoded unless raw is set
	raw         []byte
	contentType string
	header      map[string]string
	hint        string // why the mock refused, sent in the HintHeader
}

// HintHeader is the response header in which the mock explains an error
// beyond WeChat's errmsg (which it keeps to the platform's exact wording),
// e.g. "missing link.title" or "injected fault".
const HintHeader = "X-Wechatsim-Hint"

// errResp answers code with the platform's errmsg; detail, if any, goes to
// the HintHeader. ServeHTTP appends the request id.
func errResp(code int, detail ...string) response {
	resp := response{code: code, body: apiError{ErrCode: code, ErrMsg: ErrMsg(code)}}
	if len(detail) > 0 {
		resp.hint = detail[0]
	}
	return resp
}

func okResp(body any) response { return response{body: body} }

// finish completes an error answer of an emulated endpoint as the platform
// would: the caller's address in 40164, the request id at the end of errmsg,
// and the mock's hint in a header.
func (o *OpenAPI) finish(resp *response, r *http.Request) {
	if resp.hint != "" {
		if resp.header == nil {
			resp.header = map[string]string{}
		}
		resp.header[HintHeader] = strings.Map(func(c rune) rune {
			if c < ' ' || c == 0x7f {
				return ' '
			}
			return c
		}, truncate(resp.hint, 200))
	}
	e, ok := resp.body.(apiError)
	if !ok || e.ErrCode == ErrCodeOK {
		return
	}
	if e.ErrCode == ErrCodeIPNotWhitelisted {
		e.ErrMsg = ipNotWhitelistedMsg(callerIP(r))
	}
	e.ErrMsg += " rid: " + o.rid()
	resp.body = e
}

// rid returns a request id shaped like the platform's
// ("6683da8d-5761cfb6-42f636c2"), whose first group is the Unix time.
func (o *OpenAPI) rid() string {
	return fmt.Sprintf("%08x-%08x-%08x", uint32(o.clock.Now().Unix()), rand.Uint32(), rand.Uint32())
}

type route struct {
	method string // GET or POST; "" = both GET and POST
	api    bool   // an emulated WeChat endpoint: faults and stats apply
	h      func(*OpenAPI, *http.Request) response
}

var routes map[string]route

func init() {
	routes = map[string]route{
		PathToken:                  {http.MethodGet, true, (*OpenAPI).handleToken},
		PathStableToken:            {http.MethodPost, true, (*OpenAPI).handleStableToken},
		PathCustomSend:             {http.MethodPost, true, (*OpenAPI).handleCustomSend},
		PathTyping:                 {http.MethodPost, true, (*OpenAPI).handleTyping},
		PathMediaUpload:            {http.MethodPost, true, (*OpenAPI).handleMediaUpload},
		PathMediaGet:               {http.MethodGet, true, (*OpenAPI).handleMediaGet},
		PathSubscribeSend:          {http.MethodPost, true, (*OpenAPI).handleSubscribeSend},
		"/_sim/faults":             {"", false, (*OpenAPI).handleSimFaults},
		"/_sim/clock":              {"", false, (*OpenAPI).handleSimClock},
		"/_sim/tokens":             {http.MethodGet, false, (*OpenAPI).handleSimTokens},
		"/_sim/stats":              {http.MethodGet, false, (*OpenAPI).handleSimStats},
		"/_sim/messages":           {http.MethodGet, false, (*OpenAPI).handleSimMessages},
		"/_sim/typing":             {http.MethodGet, false, (*OpenAPI).handleSimTyping},
		"/_sim/users":              {"", false, (*OpenAPI).handleSimUsers},
		"/_sim/window":             {"", false, (*OpenAPI).handleSimWindow},
		"/_sim/transcript":         {http.MethodGet, false, (*OpenAPI).handleSimTranscript},
		"/_sim/apps":               {http.MethodGet, false, (*OpenAPI).handleSimApps},
		"/_sim/media":              {http.MethodGet, false, (*OpenAPI).handleSimMedia},
		"/_sim/templates":          {"", false, (*OpenAPI).handleSimTemplates},
		"/_sim/subscriptions":      {"", false, (*OpenAPI).handleSimSubscriptions},
		"/_sim/subscribe-messages": {http.MethodGet, false, (*OpenAPI).handleSimSubscribeMessages},
	}
}

// ServeHTTP implements http.Handler.
func (o *OpenAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			resp := errResp(ErrCodeSystemBusy, "the mock panicked")
			resp.status = http.StatusInternalServerError
			o.finish(&resp, r)
			writeResponse(w, resp)
		}
	}()
	path := r.URL.Path
	rt, ok := routes[path]
	if !ok {
		writeResponse(w, response{status: http.StatusNotFound, code: ErrCodeNotFound,
			body: apiError{ErrCode: ErrCodeNotFound, ErrMsg: "not found: " + truncate(path, 200)}})
		return
	}
	if !methodAllowed(rt.method, r.Method) {
		resp := errResp(ErrCodeRequirePOST)
		allow := "POST"
		switch rt.method {
		case http.MethodGet:
			resp, allow = errResp(ErrCodeRequireGET), "GET"
		case "":
			allow = "GET, POST"
		}
		resp.status = http.StatusMethodNotAllowed
		resp.header = map[string]string{"Allow": allow}
		if rt.api {
			o.count(path, resp.code)
			o.finish(&resp, r)
		}
		writeResponse(w, resp)
		return
	}
	if !rt.api {
		writeResponse(w, rt.h(o, r))
		return
	}
	if d := o.Latency(); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	resp, faulted := o.injectFault(path)
	if !faulted {
		resp = rt.h(o, r)
	}
	o.count(path, resp.code)
	o.finish(&resp, r)
	writeResponse(w, resp)
}

func methodAllowed(want, got string) bool {
	if want == "" {
		return got == http.MethodGet || got == http.MethodPost
	}
	return got == want
}

func writeResponse(w http.ResponseWriter, resp response) {
	for k, v := range resp.header {
		w.Header().Set(k, v)
	}
	status := resp.status
	if status == 0 {
		status = http.StatusOK
	}
	if resp.raw != nil {
		ct := resp.contentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(status)
		_, _ = w.Write(resp.raw)
		return
	}
	b, err := json.Marshal(resp.body)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"errcode":-1,"errmsg":"system error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// readBody reads at most limit bytes of the request body; tooLarge reports a
// longer body.
func readBody(r *http.Request, limit int64) (body []byte, tooLarge bool, err error) {
	if r.Body == nil {
		return nil, false, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(b)) > limit {
		return nil, true, nil
	}
	return b, false, nil
}

// ---- statistics ----

// EndpointStats counts the requests one endpoint received.
type EndpointStats struct {
	// Calls is the number of requests, including failed ones.
	Calls int `json:"calls"`
	// OK is the number of requests answered with errcode 0.
	OK int `json:"ok"`
	// Errors is the number of requests answered with a non-zero errcode.
	Errors int `json:"errors"`
	// ErrCodes counts the errors by errcode.
	ErrCodes map[int]int `json:"errcodes,omitempty"`
}

func (o *OpenAPI) count(path string, code int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.stats[path]
	if s == nil {
		s = &EndpointStats{}
		o.stats[path] = s
	}
	s.Calls++
	if code == ErrCodeOK {
		s.OK++
		return
	}
	s.Errors++
	if s.ErrCodes == nil {
		s.ErrCodes = make(map[int]int)
	}
	s.ErrCodes[code]++
}

// Stats returns a copy of the per-endpoint request counters, keyed by path
// (e.g. PathToken).
func (o *OpenAPI) Stats() map[string]EndpointStats {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]EndpointStats, len(o.stats))
	for k, v := range o.stats {
		c := *v
		if v.ErrCodes != nil {
			c.ErrCodes = make(map[int]int, len(v.ErrCodes))
			for code, n := range v.ErrCodes {
				c.ErrCodes[code] = n
			}
		}
		out[k] = c
	}
	return out
}

// TokenFetches returns how many requests GET /cgi-bin/token received
// (successful or not).
func (o *OpenAPI) TokenFetches() int { return o.calls(PathToken) }

// StableTokenFetches returns how many requests POST /cgi-bin/stable_token
// received (successful or not).
func (o *OpenAPI) StableTokenFetches() int { return o.calls(PathStableToken) }

func (o *OpenAPI) calls(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if s := o.stats[path]; s != nil {
		return s.Calls
	}
	return 0
}

// ---- faults ----

// FailRule makes the next Remaining requests to Path (any /cgi-bin endpoint
// when Path is empty) fail with ErrCode.
type FailRule struct {
	// Path is the endpoint the rule applies to; empty means any.
	Path string `json:"path,omitempty"`
	// Remaining is how many more requests will fail.
	Remaining int `json:"remaining"`
	// ErrCode is the errcode returned.
	ErrCode int `json:"errcode"`
}

// SetLatency delays every /cgi-bin request by d of real time (not clock
// time) before it is handled. Zero disables it.
func (o *OpenAPI) SetLatency(d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.latency = max(d, 0)
}

// Latency returns the configured latency.
func (o *OpenAPI) Latency() time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.latency
}

// SetBusyRate makes that fraction (0..1, clamped) of /cgi-bin requests fail
// with errcode -1 "system error".
func (o *OpenAPI) SetBusyRate(p float64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case !(p > 0): // also NaN
		p = 0
	case p > 1:
		p = 1
	}
	o.busyRate = p
}

// FailNext makes the next n /cgi-bin requests, whatever the endpoint, fail
// with errcode code.
func (o *OpenAPI) FailNext(n, code int) { o.FailNextOn("", n, code) }

// FailNextOn makes the next n requests to path (e.g. PathCustomSend) fail
// with errcode code. Rules are consumed in the order they were added. n <= 0
// or code 0 adds nothing. The errmsg is the platform's for code (with the
// caller's address for ErrCodeIPNotWhitelisted); the HintHeader says
// "injected fault".
func (o *OpenAPI) FailNextOn(path string, n, code int) {
	if n <= 0 || code == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failNext = append(o.failNext, FailRule{Path: path, Remaining: n, ErrCode: code})
}

// ClearFaults removes latency, busy rate, pending FailNext rules and the IP
// whitelist.
func (o *OpenAPI) ClearFaults() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.latency, o.busyRate, o.failNext, o.whitelist = 0, 0, nil, nil
}

// FaultState is the fault configuration, as returned by Faults and
// GET /_sim/faults.
type FaultState struct {
	// Latency is the added delay per /cgi-bin request.
	Latency time.Duration `json:"-"`
	// LatencyText is Latency formatted as a Go duration, e.g. "150ms".
	LatencyText string `json:"latency"`
	// BusyRate is the fraction of requests failing with -1.
	BusyRate float64 `json:"busy_rate"`
	// FailNext lists the pending FailNext rules.
	FailNext []FailRule `json:"fail_next"`
	// IPWhitelist is the API IP whitelist (SetIPWhitelist); empty when
	// every caller may fetch tokens.
	IPWhitelist []string `json:"ip_whitelist"`
}

// Faults returns the current fault configuration.
func (o *OpenAPI) Faults() FaultState {
	o.mu.Lock()
	defer o.mu.Unlock()
	return FaultState{Latency: o.latency, LatencyText: o.latency.String(), BusyRate: o.busyRate,
		FailNext: append([]FailRule{}, o.failNext...), IPWhitelist: o.whitelistStringsLocked()}
}

func (o *OpenAPI) injectFault(path string) (response, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range o.failNext {
		rule := &o.failNext[i]
		if rule.Path != "" && rule.Path != path {
			continue
		}
		code := rule.ErrCode
		rule.Remaining--
		if rule.Remaining <= 0 {
			o.failNext = append(o.failNext[:i], o.failNext[i+1:]...)
		}
		return errResp(code, "injected fault"), true
	}
	if o.busyRate > 0 && rand.Float64() < o.busyRate {
		return errResp(ErrCodeSystemBusy), true
	}
	return response{}, false
}

// ---- helpers shared by the handlers ----

// dayKey returns the quota day (Beijing time) of t.
func dayKey(t time.Time) string { return t.In(beijing).Format("2006-01-02") }

// minuteKey returns the quota minute of t.
func minuteKey(t time.Time) string { return t.UTC().Format("2006-01-02T15:04") }

// counter counts events within one period (day or minute).
type counter struct {
	period string
	n      int
}

func (c *counter) get(period string) int {
	if c.period != period {
		return 0
	}
	return c.n
}

func (c *counter) inc(period string) {
	if c.period != period {
		c.period, c.n = period, 0
	}
	c.n++
}

func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data")
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("trailing data")
	}
	return nil
}
