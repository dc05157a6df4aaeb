package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxgate/wxgate/gateway/webhook"
	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/push"
	"github.com/wxgate/wxgate/store"
	"github.com/wxgate/wxgate/store/sqlite"
	"github.com/wxgate/wxgate/wechatsim"
	"github.com/wxgate/wxgate/wxcrypt"
)

const (
	tAppID = "wx0123456789abcdef"
	tToken = "gatewaytoken1"
	tKey   = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	tAdmin = "admin-secret-token"
)

type fixture struct {
	g       *Gateway
	st      store.Store
	handler http.Handler
	world   *wechatsim.World
	logs    *bytes.Buffer
	logMu   *sync.Mutex
	notes   atomic.Int32
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func newFixture(t *testing.T, mutate func(*Options)) *fixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "wxgate.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, logs: &bytes.Buffer{}, logMu: &sync.Mutex{}}
	f.world = wechatsim.NewWorld(wechatsim.SystemClock{})
	opts := Options{
		Apps: []App{{
			Name: "default", Path: "/wechat", Destinations: []string{"hook"},
			Push: push.Config{AppID: tAppID, Token: tToken, AESKeys: []string{tKey}, AllowPlaintext: true},
		}},
		Store: st, AdminToken: tAdmin, Metrics: NewMetrics(st.DeliveryStats),
		Notify: func() { f.notes.Add(1) },
		Logger: slog.New(slog.NewJSONHandler(lockedWriter{f.logMu, f.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mutate != nil {
		mutate(&opts)
	}
	f.g, err = New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.handler = f.g.Handler(true)
	return f
}

func (f *fixture) client(t *testing.T, mode wechatsim.Mode, format message.Format, h http.Handler) *wechatsim.Client {
	t.Helper()
	if h == nil {
		h = f.handler
	}
	c, err := wechatsim.NewClient(wechatsim.ClientConfig{
		Handler: h, Path: "/wechat", AppID: tAppID, Token: tToken, AESKey: tKey,
		Mode: mode, Format: format, World: f.world,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func (f *fixture) log() string {
	f.logMu.Lock()
	defer f.logMu.Unlock()
	return f.logs.String()
}

func (f *fixture) api(t *testing.T, method, path, token string) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, r)
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil && rec.Code != 200 {
		t.Fatalf("%s %s: %d, not JSON: %q", method, path, rec.Code, rec.Body)
	}
	return rec.Code, body
}

// Every mode and format is stored once, with a webhook body that follows
// the contract and a pending delivery, and answered "success".
func TestEveryModeAndFormatIsStored(t *testing.T) {
	f := newFixture(t, nil)
	n := 0
	for _, mode := range []wechatsim.Mode{wechatsim.ModePlain, wechatsim.ModeCompat, wechatsim.ModeSafe} {
		for _, format := range []message.Format{message.FormatXML, message.FormatJSON} {
			out, err := f.client(t, mode, format, nil).Push(context.Background(), &message.Text{Content: "hello " + mode.String()})
			if err != nil || !out.Accepted {
				t.Fatalf("%v/%v: %v %+v", mode, format, err, out)
			}
			n++
		}
	}
	msgs, _, err := f.st.List(context.Background(), store.Filter{}, "")
	if err != nil || len(msgs) != n {
		t.Fatalf("%d stored, want %d (%v)", len(msgs), n, err)
	}
	for _, m := range msgs {
		var ev webhook.Event
		if err := json.Unmarshal(m.Payload, &ev); err != nil || ev.ID != m.ID || ev.App != "default" || ev.AppID != tAppID ||
			ev.MsgType != "text" || ev.OpenID != m.OpenID || !strings.Contains(string(ev.Message), `"Content":"hello`) {
			t.Fatalf("payload %s: %v", m.Payload, err)
		}
		if !strings.HasSuffix(ev.ReceivedAt, "Z") || len(ev.ReceivedAt) != len("2026-11-29T08:00:00.123Z") {
			t.Fatalf("received_at %q", ev.ReceivedAt)
		}
		ds, _, err := f.st.Deliveries(context.Background(), m.ID)
		if err != nil || len(ds) != 1 || ds[0].Destination != "hook" || ds[0].State != store.Pending {
			t.Fatalf("deliveries of %s: %+v %v", m.ID, ds, err)
		}
	}
	if f.notes.Load() != int32(n) {
		t.Fatalf("engine notified %d times, want %d", f.notes.Load(), n)
	}
}

// lossy forwards to the gateway but loses its first answer, as a network
// would: WeChat retries, and the retry is answered without a second copy.
func lossy(h http.Handler) http.Handler {
	var calls atomic.Int32
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			h.ServeHTTP(httptest.NewRecorder(), r)
			http.Error(w, "lost", http.StatusBadGateway)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func TestRetryIsStoredOnce(t *testing.T) {
	f := newFixture(t, nil)
	for _, p := range []message.Push{&message.Text{Content: "once"}, &message.UserEnterTempSession{SessionFrom: "order-1"}} {
		out, err := f.client(t, wechatsim.ModeSafe, message.FormatXML, lossy(f.handler)).Push(context.Background(), p)
		if err != nil || !out.Accepted || len(out.Deliveries) != 2 {
			t.Fatalf("%T: %v %+v", p, err, out)
		}
	}
	msgs, _, _ := f.st.List(context.Background(), store.Filter{}, "")
	if len(msgs) != 2 {
		t.Fatalf("%d stored, want 2", len(msgs))
	}
	if !strings.Contains(f.log(), `"result":"duplicate"`) {
		t.Fatalf("no duplicate logged: %s", f.log())
	}
}

// capture records the first request the gateway receives.
type capture struct {
	h     http.Handler
	mu    sync.Mutex
	query string
	body  []byte
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	if c.query == "" {
		c.query = r.URL.RawQuery
		c.body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(c.body))
	}
	c.mu.Unlock()
	c.h.ServeHTTP(w, r)
}

// A captured URL carries only the body it came with: another body on the
// same (timestamp, nonce) is refused and nothing is stored.
func TestCapturedURLCannotCarryAnotherBody(t *testing.T) {
	f := newFixture(t, nil)
	c := &capture{h: f.handler}
	if out, err := f.client(t, wechatsim.ModePlain, message.FormatJSON, c).Push(context.Background(), &message.Text{Content: "genuine"}); err != nil || !out.Accepted {
		t.Fatalf("%v %+v", err, out)
	}
	post := func(body []byte) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		f.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/wechat?"+c.query, bytes.NewReader(body)))
		return rec
	}
	forged := bytes.Replace(c.body, []byte("genuine"), []byte("forged!"), 1)
	if rec := post(forged); rec.Code != http.StatusForbidden {
		t.Fatalf("forged body: %d %q", rec.Code, rec.Body)
	}
	if rec := post(c.body); rec.Code != http.StatusOK || rec.Body.String() != "success" {
		t.Fatalf("the same request again: %d %q", rec.Code, rec.Body)
	}
	msgs, _, _ := f.st.List(context.Background(), store.Filter{}, "")
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Raw), "genuine") {
		t.Fatalf("stored: %+v", msgs)
	}
}

// With the store down, WeChat gets a 5xx, never a 200, and retries.
func TestStoreDownAnswers503(t *testing.T) {
	f := newFixture(t, nil)
	f.st.Close()
	out, err := f.client(t, wechatsim.ModeSafe, message.FormatXML, nil).Push(context.Background(), &message.Text{Content: "lost?"})
	if err != nil || out.Accepted {
		t.Fatalf("%v %+v", err, out)
	}
	for _, d := range out.Deliveries {
		if d.Status != http.StatusServiceUnavailable {
			t.Fatalf("delivery answered %d", d.Status)
		}
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("readyz with the store closed: %d", rec.Code)
	}
}

// A virtual-payment push is acknowledged as WeChat requires once stored.
func TestXPayAcknowledgedOnceStored(t *testing.T) {
	f := newFixture(t, nil)
	out, err := f.client(t, wechatsim.ModeSafe, message.FormatJSON, nil).Push(context.Background(),
		&message.XPayGoodsDeliverNotify{Header: message.Header{MsgType: "event", Event: message.EventXPayGoodsDeliverNotify}, OutTradeNo: "t-1"})
	if err != nil || !out.Accepted || len(out.Deliveries) != 1 {
		t.Fatalf("%v %+v", err, out)
	}
}

func TestOperatorEndpoints(t *testing.T) {
	f := newFixture(t, nil)
	f.client(t, wechatsim.ModeSafe, message.FormatXML, nil).Push(context.Background(), &message.Text{Content: "m"})
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": `wxgate_pushes_total{app="default",kind="text",result="ok"} 1`} {
		rec := httptest.NewRecorder()
		f.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), want) {
			t.Fatalf("%s: %d %q", path, rec.Code, rec.Body)
		}
	}
}

func TestAdminAPI(t *testing.T) {
	f := newFixture(t, nil)
	c := f.client(t, wechatsim.ModeSafe, message.FormatJSON, nil)
	for _, s := range []string{"one", "two", "three"} {
		c.Push(context.Background(), &message.Text{Content: s})
	}
	if code, body := f.api(t, "GET", "/v1/messages", ""); code != 401 || body["error"].(map[string]any)["code"] != "unauthorized" {
		t.Fatalf("no key: %d %v", code, body)
	}
	if code, _ := f.api(t, "GET", "/v1/messages", "wrong"); code != 401 {
		t.Fatalf("wrong key: %d", code)
	}
	code, body := f.api(t, "GET", "/v1/messages?limit=2", tAdmin)
	if code != 200 || len(body["messages"].([]any)) != 2 || body["next_cursor"] == "" {
		t.Fatalf("page 1: %d %v", code, body)
	}
	code, body2 := f.api(t, "GET", "/v1/messages?limit=2&cursor="+body["next_cursor"].(string), tAdmin)
	if code != 200 || len(body2["messages"].([]any)) != 1 || body2["next_cursor"] != "" {
		t.Fatalf("page 2: %d %v", code, body2)
	}
	first := body["messages"].([]any)[0].(map[string]any)
	if first["msg_type"] != "text" || first["mode"] != "safe" || first["format"] != "json" || first["message"] == nil {
		t.Fatalf("message: %v", first)
	}
	id := first["id"].(string)
	code, one := f.api(t, "GET", "/v1/messages/"+id, tAdmin)
	if code != 200 || one["message"].(map[string]any)["id"] != id || len(one["deliveries"].([]any)) != 1 {
		t.Fatalf("one message: %d %v", code, one)
	}
	if code, _ := f.api(t, "POST", "/v1/messages/"+id+"/redeliver", tAdmin); code != 200 {
		t.Fatalf("redeliver: %d", code)
	}
	for path, want := range map[string]int{
		"/v1/messages?limit=0":                    400,
		"/v1/messages?limit=x":                    400,
		"/v1/messages?since=yesterday":            400,
		"/v1/messages?cursor=garbage!!":           400,
		"/v1/messages/msg_nope":                   404,
		"/v1/messages/" + strings.Repeat("a", 30): 404,
		"/v1/nothing":                             404,
		"/v1/dead-letters":                        200,
		"/v1/dead-letters?limit=5000":             400,
	} {
		if code, body := f.api(t, "GET", path, tAdmin); code != want || (code != 200 && body["error"] == nil) {
			t.Errorf("%s: %d %v, want %d", path, code, body, want)
		}
	}
	if code, body := f.api(t, "POST", "/v1/dead-letters/redeliver", tAdmin); code != 200 || body["redelivered"] != float64(0) {
		t.Fatalf("redeliver dead: %d %v", code, body)
	}
	if strings.Contains(f.log(), tAdmin) || strings.Contains(f.log(), tToken) || strings.Contains(f.log(), tKey) {
		t.Fatal("a secret in the log")
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	st, _ := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "x.db")})
	defer st.Close()
	app := App{Name: "a", Path: "/a", Push: push.Config{Token: tToken}}
	for name, o := range map[string]Options{
		"no store":       {Apps: []App{app}},
		"no app":         {Store: st},
		"two same names": {Store: st, Apps: []App{app, {Name: "a", Path: "/b", Push: push.Config{Token: tToken}}}},
		"two same paths": {Store: st, Apps: []App{app, {Name: "b", Path: "/a", Push: push.Config{Token: tToken}}}},
		"relative path":  {Store: st, Apps: []App{{Name: "a", Path: "a", Push: push.Config{Token: tToken}}}},
		"bad token":      {Store: st, Apps: []App{{Name: "a", Path: "/a", Push: push.Config{Token: "x"}}}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	_ = time.Second
}

// A body over the app's cap is refused with 413 and nothing is stored.
func TestOversizedBodyRefused(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Apps[0].Push.MaxBody = 512 })
	q := signedQuery(tToken)
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/wechat?"+q, strings.NewReader("<xml>"+strings.Repeat("<A>x</A>", 200)+"</xml>")))
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d %q", rec.Code, rec.Body)
	}
	if msgs, _, _ := f.st.List(context.Background(), store.Filter{}, ""); len(msgs) != 0 {
		t.Fatalf("%d stored", len(msgs))
	}
}

// signedQuery signs a plaintext push URL for now.
func signedQuery(token string) string {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	return url.Values{"signature": {wxcrypt.Signature(token, ts, "99")}, "timestamp": {ts}, "nonce": {"99"}}.Encode()
}
