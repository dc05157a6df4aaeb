package wechatsim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/openapi"
	"github.com/wxgate/wxgate/push"
	"github.com/wxgate/wxgate/wxcrypt"
)

const (
	tAppID = "wxba5fad812f8e6fb9"
	tToken = "pamtest"
	tKey   = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)

var allModes = []Mode{ModePlain, ModeCompat, ModeSafe}
var allFormats = []message.Format{message.FormatXML, message.FormatJSON}

// sdkRouter answers like a typical server: text is transferred to customer
// service, xpay events are acknowledged, the iOS refund inquiry and the
// express-provider requests get their own answers, everything else gets
// "success".
// It counts the pushes each kind received.
type sdkRouter struct {
	*push.Router
	mu   sync.Mutex
	seen map[string]int
}

func newSDKRouter() *sdkRouter {
	r := &sdkRouter{Router: push.NewRouter(), seen: map[string]int{}}
	r.Use(func(next push.HandlerFunc) push.HandlerFunc {
		return func(ctx context.Context, req *push.Request) (message.Reply, error) {
			r.mu.Lock()
			r.seen[kindName(req.Push)]++
			r.mu.Unlock()
			return next(ctx, req)
		}
	})
	push.On(r.Router, func(_ context.Context, _ *message.Text) (message.Reply, error) {
		return message.TransferCustomerService(), nil
	})
	r.HandleEvent("xpay_*", func(context.Context, *push.Request) (message.Reply, error) { return message.XPayOK, nil })
	push.On(r.Router, func(_ context.Context, q *message.XPayIOSRefundQuery) (message.Reply, error) {
		return message.XPayIOSRefundAnswer(q.ProvideStatus == "0", "按发货状态决定", "provide_status "+q.ProvideStatus), nil
	})
	for _, ev := range []string{message.EventExpressAddWaybill, message.EventExpressCancelWaybill, message.EventExpressGetQuota, message.EventExpressCheckBiz} {
		r.HandleEvent(ev, func(context.Context, *push.Request) (message.Reply, error) {
			return message.ExpressResult(0, "ok"), nil
		})
	}
	return r
}

func (r *sdkRouter) count(kind string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[kind]
}

// newSDKHandler returns the core SDK's handler in auto mode (plaintext and
// encrypted pushes) on clock.
func newSDKHandler(t testing.TB, clock Clock, r *push.Router) *push.Handler {
	t.Helper()
	h, err := push.NewHandler(push.Config{
		AppID: tAppID, Token: tToken, AESKeys: []string{tKey}, AllowPlaintext: true,
		Now: clock.Now, Logger: slog.New(slog.DiscardHandler),
	}, r)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// newTestClient returns a client for h with the test credentials; cfg's
// other fields are kept.
func newTestClient(t testing.TB, cfg ClientConfig) *Client {
	t.Helper()
	if cfg.AppID == "" {
		cfg.AppID = tAppID
	}
	if cfg.Token == "" {
		cfg.Token = tToken
	}
	if cfg.AESKey == "" && cfg.Mode != ModePlain {
		cfg.AESKey = tKey
	}
	if cfg.TimeScale == 0 {
		cfg.TimeScale = 1e-6 // WeChat's xpay schedule in 87 ms
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// shortForms are the CLI's short forms, as Sample kinds with fields.
var shortForms = []struct {
	kind   string
	fields map[string]string
	reply  Verdict // expected verdict from the SDK router
}{
	{"text", map[string]string{"Content": "hello"}, VerdictReply},
	{"image", nil, VerdictSuccess},
	{KindCard, nil, VerdictSuccess},
	{KindEnter, map[string]string{"SessionFrom": "goods_1024"}, VerdictSuccess},
	{"subscribe_msg_popup_event", map[string]string{"List.SubscribeStatusString": "reject"}, VerdictSuccess},
	{"xpay_goods_deliver_notify", map[string]string{"GoodsInfo.Quantity": "3"}, VerdictReply},
	{"add_express_path", nil, VerdictSuccess},
	// An event with no typed model: compat mode must still add Encrypt.
	{"secvod_upload_event", map[string]string{"WaybillId": "SF123"}, VerdictSuccess},
}

// recordingHandler keeps a copy of every request it passes on.
type recordingHandler struct {
	next http.Handler
	mu   sync.Mutex
	reqs []recordedRequest
}

type recordedRequest struct {
	method string
	query  url.Values
	body   []byte
}

func (h *recordingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.reqs = append(h.reqs, recordedRequest{r.Method, r.URL.Query(), b})
	h.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(b))
	h.next.ServeHTTP(w, r)
}

func (h *recordingHandler) last() recordedRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reqs[len(h.reqs)-1]
}

// TestSDKHandlerPassesEveryCombination pushes every short form in every
// mode and format to the core SDK's handler, in-process, and checks the
// verdict and the wire shape of the request.
func TestSDKHandlerPassesEveryCombination(t *testing.T) {
	clock := NewFakeClock(time.Time{})
	router := newSDKRouter()
	rec := &recordingHandler{next: newSDKHandler(t, clock, router.Router)}
	for _, mode := range allModes {
		for _, f := range allFormats {
			c := newTestClient(t, ClientConfig{Handler: rec, Path: "/wechat", Mode: mode, Format: f, Clock: clock})
			for _, sf := range shortForms {
				t.Run(mode.String()+"/"+f.String()+"/"+sf.kind, func(t *testing.T) {
					p, err := c.Sample(sf.kind, sf.fields)
					if err != nil {
						t.Fatal(err)
					}
					o, err := c.Push(context.Background(), p)
					if err != nil {
						t.Fatal(err)
					}
					if !o.Accepted || o.Verdict != sf.reply || len(o.Deliveries) != 1 || o.UserVisibleFailure != "" {
						t.Fatalf("verdict %s (%s), %d deliveries", o.Verdict, o.Reason, len(o.Deliveries))
					}
					checkWire(t, c, rec.last(), o)
				})
			}
			t.Run(mode.String()+"/"+f.String()+"/raw", func(t *testing.T) {
				raw := `<xml><ToUserName><![CDATA[gh_abc]]></ToUserName><FromUserName><![CDATA[oRawUser]]></FromUserName><CreateTime>` +
					strconv.FormatInt(clock.Now().Unix(), 10) + `</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[debug_demo]]></Event><debug_str><![CDATA[raw ` + mode.String() + `]]></debug_str></xml>`
				if f == message.FormatJSON {
					raw = `{"ToUserName":"gh_abc","FromUserName":"oRawUser","CreateTime":` + strconv.FormatInt(clock.Now().Unix(), 10) +
						`,"MsgType":"event","Event":"debug_demo","debug_str":"raw ` + mode.String() + `"}`
				}
				o, err := c.PushRaw(context.Background(), []byte(raw))
				if err != nil {
					t.Fatal(err)
				}
				if o.Verdict != VerdictSuccess {
					t.Fatalf("verdict %s (%s)", o.Verdict, o.Reason)
				}
				if mode == ModePlain && string(rec.last().body) != raw {
					t.Fatalf("raw plaintext body changed: %s", rec.last().body)
				}
				checkWire(t, c, rec.last(), o)
			})
		}
	}
	if n := router.count("text"); n != len(allModes)*len(allFormats) {
		t.Fatalf("handler saw %d text pushes", n)
	}
}

// checkWire checks a request the way a strict server would.
func checkWire(t *testing.T, c *Client, r recordedRequest, o *Outcome) {
	t.Helper()
	q := r.query
	ts, nonce := q.Get("timestamp"), q.Get("nonce")
	if r.method != http.MethodPost || !wxcrypt.VerifySignature(q.Get("signature"), tToken, ts, nonce) {
		t.Fatalf("bad method or signature: %s %v", r.method, q)
	}
	if !bytes.Equal(r.body, o.Body) {
		t.Fatal("recorded body differs from Outcome.Body")
	}
	f := c.Format()
	if got, _ := message.DetectFormat(r.body); got != f {
		t.Fatalf("body format %v, want %v", got, f)
	}
	switch c.Mode() {
	case ModePlain:
		if q.Has("encrypt_type") || q.Has("msg_signature") {
			t.Fatalf("plaintext push with encryption parameters: %v", q)
		}
		if !bytes.Equal(r.body, o.Plaintext) {
			t.Fatal("plaintext body is not the encoded message")
		}
		return
	}
	if q.Get("encrypt_type") != "aes" || q.Get("openid") != o.OpenID || o.OpenID == "" {
		t.Fatalf("encrypted push parameters: %v", q)
	}
	enc, ok, err := message.ExtractEncrypt(r.body, f)
	if err != nil || !ok {
		t.Fatalf("no Encrypt: %v", err)
	}
	if !wxcrypt.VerifySignature(q.Get("msg_signature"), tToken, ts, nonce, string(enc)) {
		t.Fatal("msg_signature does not verify")
	}
	plain, err := wxcrypt.MustParseKey(tKey).Decrypt(string(enc), tAppID)
	if err != nil || !bytes.Equal(plain, o.Plaintext) {
		t.Fatalf("Encrypt does not hold the message: %v", err)
	}
	env, err := message.ParseEnvelope(r.body, f)
	if err != nil || env.ToUserName == "" {
		t.Fatalf("envelope: %+v %v", env, err)
	}
	hasType := bytes.Contains(r.body, []byte("MsgType"))
	if c.Mode() == ModeSafe && hasType {
		t.Fatalf("safe-mode body carries plaintext fields: %s", r.body)
	}
	if c.Mode() == ModeCompat {
		if !hasType {
			t.Fatalf("compatible-mode body lacks the plaintext fields: %s", r.body)
		}
		// The plaintext fields equal the decrypted message.
		p, err := message.Decode(r.body, f)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := message.Decode(plain, f)
		a, _ := message.Encode(p, message.FormatJSON)
		b, _ := message.Encode(want, message.FormatJSON)
		if !bytes.Contains(a, bytes.TrimSuffix(b, []byte("}"))) {
			t.Fatalf("compatible fields %s\ndo not match %s", a, b)
		}
	}
}

// TestSDKHandlerAllEvents pushes every kind Sample knows to the SDK handler
// in safe JSON and plaintext XML.
func TestSDKHandlerAllEvents(t *testing.T) {
	clock := NewFakeClock(time.Time{})
	h := newSDKHandler(t, clock, newSDKRouter().Router)
	for _, cfg := range []ClientConfig{{Mode: ModeSafe, Format: message.FormatJSON}, {Mode: ModePlain, Format: message.FormatXML}} {
		cfg.Handler, cfg.Clock = h, clock
		c := newTestClient(t, cfg)
		for _, kind := range SampleKinds() {
			p, err := c.Sample(kind, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, unknown := p.(*message.Unknown); unknown {
				t.Errorf("%s: sample decodes to *message.Unknown", kind)
			}
			o, err := c.Push(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			if !o.Accepted {
				t.Errorf("%s %s/%s: %s (%s)", kind, c.Mode(), c.Format(), o.Verdict, o.Reason)
			}
		}
	}
}

// TestSDKHandlerOverLoopback runs verify, a push in each mode and a batch
// over a real listener, and checks that connections are reused.
func TestSDKHandlerOverLoopback(t *testing.T) {
	router := newSDKRouter()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(newSDKHandler(t, SystemClock{}, router.Router))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	for _, mode := range allModes {
		c := newTestClient(t, ClientConfig{URL: srv.URL + "/wechat", Mode: mode, Format: message.FormatJSON})
		if res := c.Verify(context.Background()); !res.Pass {
			t.Fatalf("verify: %s (%s)", res.Verdict, res.Reason)
		}
		p, _ := c.Sample("text", map[string]string{"Content": "over the wire"})
		o, err := c.Push(context.Background(), p)
		if err != nil || o.Verdict != VerdictReply {
			t.Fatalf("%s: %v %s (%s)", mode, err, o.Verdict, o.Reason)
		}
		if o.Reply.Head().MsgType != message.MsgTypeTransferCustomerService || o.Reply.Head().ToUserName != o.OpenID {
			t.Fatalf("reply %+v", o.Reply.Head())
		}
	}

	const n, conc = 60, 6
	c := newTestClient(t, ClientConfig{URL: srv.URL + "/wechat", Mode: ModeSafe, Concurrency: conc})
	before := conns.Load()
	s, err := c.Run(context.Background(), RunConfig{Count: n, Concurrency: conc})
	if err != nil {
		t.Fatal(err)
	}
	if s.Sent != n || s.Accepted != n || s.Deliveries != n || s.Retries != 0 || s.ByVerdict[VerdictReply] != n {
		t.Fatalf("summary %+v", s)
	}
	if got := conns.Load() - before; got > n/2 {
		t.Fatalf("%d connections for %d pushes: keep-alive not used", got, n)
	}
}

// tickClock advances by a second on every reading.
type tickClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *tickClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Second)
	return c.now
}

// TestRetrySameMessageFreshSignature: a delivery that times out is retried
// with the same message and fresh timestamp, nonce and signatures.
func TestRetrySameMessageFreshSignature(t *testing.T) {
	var calls atomic.Int64
	rec := &recordingHandler{next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			<-r.Context().Done() // too slow: the client gives up
			return
		}
		io.WriteString(w, "success")
	})}
	clock := &tickClock{now: DefaultFakeTime}
	for _, mode := range allModes {
		calls.Store(0)
		rec.reqs = nil
		c := newTestClient(t, ClientConfig{Handler: rec, Mode: mode, Clock: clock, Timeout: 50 * time.Millisecond})
		o, err := c.Push(context.Background(), &message.Text{Content: "retry me"})
		if err != nil {
			t.Fatal(err)
		}
		if !o.Accepted || o.Verdict != VerdictSuccess || len(o.Deliveries) != 2 || o.Retries() != 1 {
			t.Fatalf("%s: %s (%s), %d deliveries", mode, o.Verdict, o.Reason, len(o.Deliveries))
		}
		if d := o.Deliveries[0]; d.Verdict != VerdictTimeout || d.Err == nil || d.Status != 0 {
			t.Fatalf("first delivery %+v", d)
		}
		a, b := rec.reqs[0], rec.reqs[1]
		for _, k := range []string{"timestamp", "nonce", "signature"} {
			if a.query.Get(k) == b.query.Get(k) {
				t.Errorf("%s: %s repeated across deliveries", mode, k)
			}
		}
		if mode != ModePlain && a.query.Get("msg_signature") == b.query.Get("msg_signature") {
			t.Errorf("%s: msg_signature repeated", mode)
		}
		m1, m2 := decodeSent(t, c, a.body), decodeSent(t, c, b.body)
		if m1.MsgID != m2.MsgID || m1.CreateTime != m2.CreateTime || m1.Content != "retry me" {
			t.Fatalf("%s: retry changed the message: %+v vs %+v", mode, m1, m2)
		}
	}
}

// decodeSent decrypts (if needed) and decodes a text push body.
func decodeSent(t *testing.T, c *Client, body []byte) *message.Text {
	t.Helper()
	plain := body
	if c.Mode() != ModePlain {
		enc, _, err := message.ExtractEncrypt(body, c.Format())
		if err != nil {
			t.Fatal(err)
		}
		if plain, err = wxcrypt.MustParseKey(tKey).Decrypt(string(enc), tAppID); err != nil {
			t.Fatal(err)
		}
	}
	p, err := message.Decode(plain, c.Format())
	if err != nil {
		t.Fatal(err)
	}
	return p.(*message.Text)
}

// TestDeliveriesConfigurable: Deliveries bounds the attempts.
func TestDeliveriesConfigurable(t *testing.T) {
	var calls atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	for _, n := range []int{1, 4} {
		calls.Store(0)
		c := newTestClient(t, ClientConfig{Handler: h, Deliveries: n})
		o, _ := c.Push(context.Background(), &message.Text{Content: "x"})
		if len(o.Deliveries) != n || calls.Load() != int64(n) || o.Verdict != VerdictStatus {
			t.Fatalf("Deliveries %d: %d deliveries, %d calls, %s", n, len(o.Deliveries), calls.Load(), o.Verdict)
		}
	}
}

// TestPushFillsHeader: header, openid and MsgId come from the client.
func TestPushFillsHeader(t *testing.T) {
	w := NewWorld(NewFakeClock(time.Time{}))
	w.AddApp(App{AppID: tAppID, OriginalID: "gh_0123456789ab"})
	u := w.NewUser()
	c := newTestClient(t, ClientConfig{Handler: okHandler("success"), World: w, Mode: ModeSafe})
	p := &message.Text{Content: "hi"}
	o, err := c.Push(context.Background(), p)
	if err != nil || !o.Accepted {
		t.Fatal(err, o.Reason)
	}
	h := p.Head()
	if h.ToUserName != "gh_0123456789ab" || h.FromUserName != u.OpenID || h.CreateTime != w.Clock().Now().Unix() || h.MsgType != "text" {
		t.Fatalf("header %+v", h)
	}
	if len(p.MsgID) != 19 {
		t.Fatalf("MsgId %q", p.MsgID)
	}
	// A set sender and MsgId are kept.
	p2 := &message.Text{Header: message.Header{FromUserName: "oMine"}, Content: "x", MsgID: "42"}
	if _, err := c.Push(context.Background(), p2); err != nil || p2.FromUserName != "oMine" || p2.MsgID != "42" {
		t.Fatalf("%v %+v", err, p2)
	}
}

func okHandler(body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })
}

// TestWorldTranscriptAndWindow: accepted pushes land in the transcript with
// the reply, and open the send window; the mock Open API then accepts a
// customer-service message the server sends while handling the push.
func TestWorldTranscriptAndWindow(t *testing.T) {
	api := NewOpenAPI()
	srv := api.Start()
	defer srv.Close()
	world := api.World()
	app := DefaultApp()
	wx, err := openapi.New(app.AppID, app.Secret, openapi.WithBaseURL(srv.URL), openapi.WithClock(api.Clock().Now))
	if err != nil {
		t.Fatal(err)
	}
	router := push.NewRouter()
	push.On(router, func(ctx context.Context, m *message.Text) (message.Reply, error) {
		// Answer at once through the customer-service API, then hand over.
		if err := wx.SendText(ctx, m.FromUserName, "您好，客服马上到"); err != nil {
			return nil, err
		}
		return message.TransferCustomerService(), nil
	})
	h, err := push.NewHandler(push.Config{AppID: app.AppID, Token: tToken, AESKeys: []string{tKey},
		Now: api.Clock().Now, Logger: slog.New(slog.DiscardHandler)}, router)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(ClientConfig{Handler: h, AppID: app.AppID, Token: tToken, AESKey: tKey, World: world, Format: message.FormatJSON})
	if err != nil {
		t.Fatal(err)
	}
	user := world.NewUser()

	enter, _ := c.Sample(KindEnter, map[string]string{"SessionFrom": "faq"})
	if o, _ := c.Push(context.Background(), enter); o.Verdict != VerdictSuccess {
		t.Fatalf("enter: %s %s", o.Verdict, o.Reason)
	}
	if win := world.Window(user.OpenID); win.Reason != WindowEnterSession || win.Limit != EnterSessionWindowLimit {
		t.Fatalf("window after enter: %+v", win)
	}
	text, _ := c.Sample("text", map[string]string{"Content": "人工客服"})
	o, _ := c.Push(context.Background(), text)
	if o.Verdict != VerdictReply {
		t.Fatalf("text: %s %s", o.Verdict, o.Reason)
	}
	win := world.Window(user.OpenID)
	if win.Reason != WindowUserMessage || win.Used != 1 {
		t.Fatalf("window after text: %+v", win)
	}

	tr := world.Transcript(user.OpenID)
	var kinds []string
	for _, e := range tr {
		kinds = append(kinds, e.Direction+":"+e.Kind+":"+e.Outcome)
	}
	want := "to_server:user_enter_tempsession:success to_user:text:sent to_server:text:reply"
	if strings.Join(kinds, " ") != want {
		t.Fatalf("transcript %v\nwant %s", kinds, want)
	}
	last := tr[2]
	var body, reply map[string]any
	if json.Unmarshal(last.Body, &body) != nil || body["Content"] != "人工客服" {
		t.Fatalf("entry body %s", last.Body)
	}
	if json.Unmarshal(last.Reply, &reply) != nil || reply["MsgType"] != "transfer_customer_service" {
		t.Fatalf("entry reply %s", last.Reply)
	}
	if last.Detail == "" {
		t.Fatal("no detail")
	}
}

// TestFailedPushRecorded: a failed push is recorded with its verdict.
func TestFailedPushRecorded(t *testing.T) {
	w := NewWorld(NewFakeClock(time.Time{}))
	c := newTestClient(t, ClientConfig{Handler: okHandler("<html><body>Not here</body></html>"), World: w})
	o, _ := c.Push(context.Background(), &message.Image{})
	if o.Accepted || o.UserVisibleFailure != FailurePrompt {
		t.Fatalf("%+v", o.Judgement)
	}
	tr := w.Transcript(o.OpenID)
	if len(tr) != 1 || tr[0].Outcome != string(VerdictMalformed) || !strings.Contains(string(tr[0].Reply), "Not here") {
		t.Fatalf("transcript %+v", tr)
	}
}

// TestRunDistinctPushes: Run sends distinct pushes (the SDK's dedup does
// not collapse them), events included, and summarises them.
func TestRunDistinctPushes(t *testing.T) {
	clock := NewFakeClock(time.Time{})
	router := newSDKRouter()
	h := newSDKHandler(t, clock, router.Router)
	w := NewWorld(clock)
	w.NewUser()
	c := newTestClient(t, ClientConfig{Handler: h, World: w, Clock: clock, Concurrency: 8})
	var mu sync.Mutex
	ids := map[message.MsgID]bool{}
	s, err := c.Run(context.Background(), RunConfig{Count: 120, Concurrency: 8, OnOutcome: func(_ int, o *Outcome) {
		mu.Lock()
		ids[o.Push.(*message.Text).MsgID] = true
		mu.Unlock()
	}})
	if err != nil || s.Accepted != 120 || len(ids) != 120 || router.count("text") != 120 {
		t.Fatalf("%v %+v ids %d seen %d", err, s, len(ids), router.count("text"))
	}
	s, err = c.Run(context.Background(), RunConfig{Count: 40, Concurrency: 4, Next: func(int) (message.Push, error) {
		return c.Sample(KindEnter, nil)
	}})
	if err != nil || s.Accepted != 40 || router.count(message.EventUserEnterTempSession) != 40 {
		t.Fatalf("events: %v %+v seen %d", err, s, router.count(message.EventUserEnterTempSession))
	}
	if !strings.Contains(s.String(), "sent 40 pushes") || s.Latency.Max < s.Latency.P50 {
		t.Fatalf("summary %q", s.String())
	}
}

// TestRunCountsFailures: verdicts, retries and Next errors.
func TestRunCountsFailures(t *testing.T) {
	var n atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "success")
	})
	c := newTestClient(t, ClientConfig{Handler: h, Deliveries: 1})
	s, err := c.Run(context.Background(), RunConfig{Count: 10, Concurrency: 1})
	if err != nil || s.Accepted != 5 || s.Failed != 5 || s.ByVerdict[VerdictStatus] != 5 {
		t.Fatalf("%v %+v", err, s)
	}
	if f := s.Failures(); len(f) != 1 || f[0] != (VerdictCount{VerdictStatus, 5}) {
		t.Fatalf("failures %v", f)
	}
	_, err = c.Run(context.Background(), RunConfig{Count: 3, Next: func(int) (message.Push, error) { return c.Sample("no such kind!", nil) }})
	if err == nil {
		t.Fatal("Next error not reported")
	}
	if _, err := c.Run(context.Background(), RunConfig{}); err == nil {
		t.Fatal("Count 0 accepted")
	}
}

func TestLatencyStats(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	s := latencyStats(d)
	if s.P50 != 50*time.Millisecond || s.P90 != 90*time.Millisecond || s.P99 != 99*time.Millisecond || s.Max != 100*time.Millisecond {
		t.Fatalf("%+v", s)
	}
	if latencyStats(nil) != (LatencyStats{}) {
		t.Fatal("empty")
	}
}

func TestNewClientErrors(t *testing.T) {
	for name, cfg := range map[string]ClientConfig{
		"no target":      {Token: tToken},
		"two targets":    {Token: tToken, URL: "http://x/", Handler: okHandler("")},
		"no token":       {URL: "http://x/"},
		"bad url":        {Token: tToken, URL: "ftp://x/"},
		"safe no key":    {Token: tToken, URL: "http://x/", Mode: ModeSafe, AppID: tAppID},
		"safe no appid":  {Token: tToken, URL: "http://x/", Mode: ModeSafe, AESKey: tKey},
		"bad key":        {Token: tToken, URL: "http://x/", AESKey: "short"},
		"bad format":     {Token: tToken, URL: "http://x/", Format: 9},
		"negative":       {Token: tToken, URL: "http://x/", Timeout: -1},
		"bad path":       {Token: tToken, Handler: okHandler(""), Path: "wechat"},
		"unknown mode":   {Token: tToken, URL: "http://x/", Mode: 7},
		"compat no key":  {Token: tToken, URL: "http://x/", Mode: ModeCompat},
		"key in message": {Token: tToken, URL: "http://x/", AESKey: strings.Repeat("!", 43)},
	} {
		_, err := NewClient(cfg)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if strings.Contains(err.Error(), tToken) || strings.Contains(err.Error(), "!!!!") {
			t.Errorf("%s: error shows a secret: %v", name, err)
		}
	}
	c, err := NewClient(ClientConfig{Token: tToken, URL: "http://127.0.0.1:1", AESKey: tKey, AppID: tAppID})
	if err != nil || c.Mode() != ModeSafe || c.Format() != message.FormatXML || c.OriginalID() == "" {
		t.Fatalf("defaults: %v", err)
	}
	if c, _ := NewClient(ClientConfig{Token: tToken, URL: "http://127.0.0.1:1"}); c.Mode() != ModePlain {
		t.Fatal("default mode without key")
	}
}

func TestParseMode(t *testing.T) {
	for s, want := range map[string]Mode{"plain": ModePlain, "COMPAT": ModeCompat, "safe": ModeSafe, "": ModeAuto, "auto": ModeAuto} {
		if m, err := ParseMode(s); err != nil || m != want {
			t.Errorf("%q: %v %v", s, m, err)
		}
	}
	if _, err := ParseMode("secure"); err == nil {
		t.Fatal("bad mode accepted")
	}
	if ModeSafe.String() != "safe" || Mode(9).String() != "Mode(9)" {
		t.Fatal("String")
	}
}
