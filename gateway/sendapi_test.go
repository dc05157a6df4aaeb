package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxgate/wxgate/gateway/config"
	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/openapi"
	"github.com/wxgate/wxgate/push"
	"github.com/wxgate/wxgate/store"
	"github.com/wxgate/wxgate/store/sqlite"
	"github.com/wxgate/wxgate/wechatsim"
)

// The send API against the emulator and the mock Open API.

const (
	shopAppID  = "wx89abcdef01234567"
	shopSecret = "0123456789abcdef0123456789abcdef"
	appSecret  = "fedcba9876543210fedcba9876543210"

	keyCRM    = "crm-key-0123456789abcdefghij"    // default: send, read
	keyReader = "reader-key-0123456789abcdefghij" // *: read
	keyTokens = "tokens-key-0123456789abcdefghij" // *: token
	keyMulti  = "multi-key-0123456789abcdefghij"  // default, shop: read
	keyShop   = "shop-key-0123456789abcdefghij"   // shop: send, read, admin
)

// testKeys are the API keys of the send fixture: some hashed, some plain.
func testKeys() []config.APIKey {
	return []config.APIKey{
		{Name: "crm", SecretHash: config.HashAPIKey(keyCRM), Apps: []string{"default"}, Scopes: []string{"send", "read"}},
		{Name: "reader", Secret: config.NewSecret(keyReader), Apps: []string{"*"}, Scopes: []string{"read"}},
		{Name: "tokens", SecretHash: config.HashAPIKey(keyTokens), Apps: []string{"*"}, Scopes: []string{"token"}},
		{Name: "multi", SecretHash: config.HashAPIKey(keyMulti), Apps: []string{"default", "shop"}, Scopes: []string{"read"}},
		{Name: "shop", Secret: config.NewSecret(keyShop), Apps: []string{"shop"}, Scopes: []string{"send", "read", "admin"}},
	}
}

type sendFixture struct {
	*fixture
	mock    *wechatsim.OpenAPI
	srv     *httptest.Server
	clients map[string]*openapi.Client
	out     store.OutboundStore
	backend string
}

// outboundBackends are the OutboundStores the tests run against: the fake
// always, SQLite's own once it has one.
func outboundBackends() []string {
	var st any = (*sqlite.Store)(nil)
	if _, ok := st.(store.OutboundStore); ok {
		return []string{"sqlite", "fake"}
	}
	return []string{"fake"}
}

// defaultBackend is SQLite's OutboundStore when it has one, else the fake.
func defaultBackend() string { return outboundBackends()[0] }

// newSendFixture serves two apps, default (tAppID) and shop, whose Open
// API is the mock on a real HTTP listener; upstream, when set, wraps the
// mock's handler.
func newSendFixture(t testing.TB, backend string, upstream func(http.Handler) http.Handler, mutate func(*Options)) *sendFixture {
	t.Helper()
	sf := &sendFixture{backend: backend, clients: map[string]*openapi.Client{}}
	world := wechatsim.NewWorld(wechatsim.SystemClock{})
	sf.mock = wechatsim.NewOpenAPI(wechatsim.WithWorld(world),
		wechatsim.WithApp(wechatsim.App{AppID: tAppID, Secret: appSecret, OriginalID: "gh_0123456789ab"}),
		wechatsim.WithApp(wechatsim.App{AppID: shopAppID, Secret: shopSecret, OriginalID: "gh_ba9876543210"}))
	var h http.Handler = sf.mock
	if upstream != nil {
		h = upstream(h)
	}
	sf.srv = httptest.NewServer(h)
	t.Cleanup(sf.srv.Close)
	for app, cred := range map[string][2]string{"default": {tAppID, appSecret}, "shop": {shopAppID, shopSecret}} {
		c, err := openapi.New(cred[0], cred[1], openapi.WithBaseURL(sf.srv.URL), openapi.WithBusyRetry(2, time.Millisecond, time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		sf.clients[app] = c
	}
	sf.fixture = newFixtureTB(t, func(o *Options) {
		if backend == "fake" {
			o.Store = newFakeOutbound(o.Store)
		}
		o.Apps = append(o.Apps, App{Name: "shop", Path: "/wechat/shop", Destinations: []string{"shop/hook"},
			Push: push.Config{AppID: shopAppID, Token: tToken, AllowPlaintext: true}})
		o.APIKeys = testKeys()
		o.OpenAPI = func(app string) *openapi.Client { return sf.clients[app] }
		if mutate != nil {
			mutate(o)
		}
	}, world)
	sf.out = sf.g.outboundStore()
	if sf.out == nil {
		t.Fatal("the fixture's store keeps no outbound records")
	}
	return sf
}

// user returns a new user of the World and an emulator client that
// pushes as that user to the default app.
func (sf *sendFixture) user(t testing.TB) (string, *wechatsim.Client) {
	t.Helper()
	u := sf.world.NewUser()
	c, err := wechatsim.NewClient(wechatsim.ClientConfig{Handler: sf.handler, Path: "/wechat", AppID: tAppID, Token: tToken,
		AESKey: tKey, Mode: wechatsim.ModeSafe, World: sf.world, OpenID: u.OpenID})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return u.OpenID, c
}

// say pushes a text from the user through the gateway, which opens the
// send window in the World.
func userSays(t testing.TB, c *wechatsim.Client, text string) {
	t.Helper()
	out, err := c.Push(context.Background(), &message.Text{Content: text})
	if err != nil || !out.Accepted {
		t.Fatalf("push %q: %v %+v", text, err, out)
	}
}

// call sends a request to the gateway and returns the status and the
// decoded JSON body.
func (sf *sendFixture) call(t testing.TB, method, path, key string, body any, hdr ...string) (int, map[string]any, http.Header) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	r := httptest.NewRequest(method, path, rd)
	if key != "" {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	sf.handler.ServeHTTP(rec, r)
	var m map[string]any
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %q", method, path, rec.Code, rec.Body)
		}
	}
	return rec.Code, m, rec.Header()
}

// apiErr returns the error object of an answer.
func errorOf(body map[string]any) map[string]any {
	e, _ := body["error"].(map[string]any)
	return e
}

func textBody(to, s string) map[string]any {
	return map[string]any{"touser": to, "msgtype": "text", "text": map[string]any{"content": s}}
}

func TestSendAPIAuth(t *testing.T) {
	sf := newSendFixture(t, defaultBackend(), nil, nil)
	openid, c := sf.user(t)
	userSays(t, c, "hello")
	send := "/v1/apps/default/messages"
	for _, tc := range []struct {
		name, method, path, key string
		want                    int
	}{
		{"no key", "POST", send, "", 401},
		{"unknown key", "POST", send, "not-a-key-0123456789abcdef", 401},
		{"a read key cannot send", "POST", send, keyReader, 403},
		{"a key of app default cannot send for shop", "POST", "/v1/apps/shop/messages", keyCRM, 403},
		{"a key of shop cannot send for default", "POST", send, keyShop, 403},
		{"a token key cannot read", "GET", "/v1/apps/default/users/" + openid + "/conversation", keyTokens, 403},
		{"a send key cannot have the token", "GET", "/v1/apps/default/access-token", keyCRM, 403},
		{"a key of default cannot list shop", "GET", "/v1/messages?app=shop", keyCRM, 403},
		{"a read key cannot redeliver", "POST", "/v1/dead-letters/redeliver", keyReader, 403},
		{"an app key redelivers only its destinations", "POST", "/v1/dead-letters/redeliver", keyShop, 403},
		{"an app key redelivers its own destination", "POST", "/v1/dead-letters/redeliver?destination=shop/hook", keyShop, 200},
		{"a key of several apps names one", "GET", "/v1/messages", keyMulti, 400},
		{"a key of several apps, one named", "GET", "/v1/messages?app=shop", keyMulti, 200},
		{"unknown app", "GET", "/v1/apps/nope/access-token", tAdmin, 404},
		{"unknown app, key without it", "GET", "/v1/apps/nope/access-token", keyTokens, 404},
		{"the admin token holds every scope", "GET", "/v1/apps/shop/access-token", tAdmin, 200},
		{"the token key", "GET", "/v1/apps/default/access-token", keyTokens, 200},
		{"the OpenAPI document needs no key", "GET", "/v1/openapi.json", "", 200},
	} {
		code, body, hdr := sf.call(t, tc.method, tc.path, tc.key, textBody(openid, "x"))
		if code != tc.want {
			t.Errorf("%s: %d %v, want %d", tc.name, code, body, tc.want)
			continue
		}
		if code == 401 && (errorOf(body)["code"] != "unauthorized" || hdr.Get("WWW-Authenticate") == "") {
			t.Errorf("%s: %v %v", tc.name, body, hdr)
		}
		if code == 403 && errorOf(body)["code"] != "forbidden" {
			t.Errorf("%s: %v", tc.name, body)
		}
	}
	if n := len(sf.mock.SentMessages("")); n != 0 {
		t.Fatalf("%d messages sent by refused requests", n)
	}

	// A key of one app lists only that app's messages, and cannot open
	// another app's message by id.
	shopMsg := pushShop(t, sf)
	code, body, _ := sf.call(t, "GET", "/v1/messages", keyCRM, nil)
	if code != 200 {
		t.Fatalf("crm list: %d %v", code, body)
	}
	for _, m := range body["messages"].([]any) {
		if app := m.(map[string]any)["app"]; app != "default" {
			t.Fatalf("crm sees a message of %v", app)
		}
	}
	if code, _, _ := sf.call(t, "GET", "/v1/messages/"+shopMsg, keyCRM, nil); code != 403 {
		t.Fatalf("crm opens a shop message: %d", code)
	}
	if code, _, _ := sf.call(t, "GET", "/v1/messages/"+shopMsg, keyShop, nil); code != 200 {
		t.Fatalf("shop opens its message: %d", code)
	}
	if code, _, _ := sf.call(t, "POST", "/v1/messages/"+shopMsg+"/redeliver", keyShop, nil); code != 200 {
		t.Fatalf("shop redelivers its message: %d", code)
	}
	code, body, _ = sf.call(t, "GET", "/v1/messages", keyReader, nil)
	if code != 200 || len(body["messages"].([]any)) != 2 {
		t.Fatalf("a key of every app sees both: %d %v", code, body)
	}

	// One log line per call with the key's name; no key, token or secret.
	logs := sf.log()
	for _, secret := range []string{keyCRM, keyReader, keyTokens, keyMulti, keyShop, tAdmin, "not-a-key-0123456789abcdef", appSecret, shopSecret} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a secret in the log: %s", logs)
		}
	}
	for _, tok := range sf.mock.Tokens() {
		if strings.Contains(logs, tok.Value) {
			t.Fatal("an access token in the log")
		}
	}
	var line map[string]any
	for l := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(l, `"api call"`) && strings.Contains(l, `"key":"crm"`) && strings.Contains(l, `"route":"POST /v1/apps/{app}/messages"`) && strings.Contains(l, `"app":"shop"`) {
			json.Unmarshal([]byte(l), &line)
		}
	}
	if line == nil || line["method"] != "POST" || line["status"] != float64(403) || line["latency"] == nil {
		t.Fatalf("no log line for crm's refused send: %s", logs)
	}
}

// pushShop stores a message of app shop and returns its id.
func pushShop(t *testing.T, sf *sendFixture) string {
	t.Helper()
	c, err := wechatsim.NewClient(wechatsim.ClientConfig{Handler: sf.handler, Path: "/wechat/shop", AppID: shopAppID, Token: tToken,
		Mode: wechatsim.ModePlain, World: sf.world})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if out, err := c.Push(context.Background(), &message.Text{Content: "shop"}); err != nil || !out.Accepted {
		t.Fatalf("%v %+v", err, out)
	}
	msgs, _, _ := sf.st.List(context.Background(), store.Filter{App: "shop"}, "")
	if len(msgs) != 1 {
		t.Fatalf("%d shop messages", len(msgs))
	}
	return msgs[0].ID
}

// Outside the window WeChat's 45015 comes back as 409; once the user
// writes, the send succeeds and is recorded with its sender.
func TestSendWindow(t *testing.T) {
	for _, backend := range outboundBackends() {
		t.Run(backend, func(t *testing.T) {
			sf := newSendFixture(t, backend, nil, nil)
			openid, c := sf.user(t)
			code, body, _ := sf.call(t, "POST", "/v1/apps/default/messages", keyCRM, textBody(openid, "too early"))
			e := errorOf(body)
			if code != 409 || e["code"] != "outside_send_window" || e["errcode"] != float64(45015) || e["message"] == "" {
				t.Fatalf("outside the window: %d %v", code, body)
			}
			userSays(t, c, "hello")
			code, body, _ = sf.call(t, "POST", "/v1/apps/default/messages", keyCRM, textBody(openid, "<a href=\"https://example.com\">hi</a> & welcome"))
			id, _ := body["id"].(string)
			if code != 200 || !strings.HasPrefix(id, "out_") {
				t.Fatalf("inside the window: %d %v", code, body)
			}
			sent := sf.mock.SentMessages(openid)
			if len(sent) != 1 || sent[0].Text != "<a href=\"https://example.com\">hi</a> & welcome" {
				t.Fatalf("the mock got %+v", sent)
			}
			recs, _, err := sf.out.ListOutbound(context.Background(), store.OutboundFilter{App: "default", OpenID: openid}, "")
			if err != nil || len(recs) != 2 {
				t.Fatalf("records: %+v %v", recs, err)
			}
			ok, refused := recs[0], recs[1] // newest first
			if ok.ID != id || !ok.OK || ok.Kind != "message" || ok.MsgType != "text" || ok.Sender != "api:crm" ||
				!strings.Contains(string(ok.Request), `"content":"<a href=`) {
				t.Fatalf("sent record: %+v", ok)
			}
			if refused.OK || refused.ErrCode != 45015 || refused.Error == "" {
				t.Fatalf("refused record: %+v", refused)
			}
			// The admin token sends as "admin".
			code, body, _ = sf.call(t, "POST", "/v1/apps/default/messages", tAdmin, textBody(openid, "from the console"))
			if code != 200 {
				t.Fatalf("admin: %d %v", code, body)
			}
			recs, _, _ = sf.out.ListOutbound(context.Background(), store.OutboundFilter{OpenID: openid, Limit: 1}, "")
			if len(recs) != 1 || recs[0].Sender != "admin" {
				t.Fatalf("admin record: %+v", recs)
			}
		})
	}
}

// An app without an AppSecret cannot send.
func TestSendWithoutOpenAPI(t *testing.T) {
	sf := newSendFixture(t, defaultBackend(), nil, func(o *Options) { o.OpenAPI = nil })
	code, body, _ := sf.call(t, "POST", "/v1/apps/default/messages", tAdmin, textBody("oUser", "x"))
	if code != 409 || errorOf(body)["code"] != "open_api_off" {
		t.Fatalf("%d %v", code, body)
	}
}

// sendGate holds the mock's custom/send until released, so that a test can
// make two requests overlap.
type sendGate struct {
	h       http.Handler
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
	armed   atomic.Bool
}

func (g *sendGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.armed.Load() && r.URL.Path == wechatsim.PathCustomSend {
		g.once.Do(func() {
			close(g.arrived)
			<-g.release
		})
	}
	g.h.ServeHTTP(w, r)
}

func TestIdempotentSend(t *testing.T) {
	for _, backend := range outboundBackends() {
		t.Run(backend, func(t *testing.T) {
			gt := &sendGate{arrived: make(chan struct{}), release: make(chan struct{})}
			sf := newSendFixture(t, backend, func(h http.Handler) http.Handler { gt.h = h; return gt }, nil)
			openid, c := sf.user(t)
			userSays(t, c, "hello")
			send := func(key, idem string, body any) (int, map[string]any, http.Header) {
				return sf.call(t, "POST", "/v1/apps/default/messages", key, body, "Idempotency-Key", idem)
			}
			code1, body1, _ := send(keyCRM, "k-1", textBody(openid, "once"))
			code2, body2, hdr := send(keyCRM, "k-1", textBody(openid, "once"))
			if code1 != 200 || code2 != 200 || body1["id"] != body2["id"] || hdr.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("retry: %d %v, then %d %v %v", code1, body1, code2, body2, hdr)
			}
			if n := len(sf.mock.SentMessages(openid)); n != 1 {
				t.Fatalf("the mock got %d messages, want 1", n)
			}
			// The same key with another body.
			if code, body, _ := send(keyCRM, "k-1", textBody(openid, "twice")); code != 422 || errorOf(body)["code"] != "idempotency_key_reused" {
				t.Fatalf("reused key: %d %v", code, body)
			}
			// Keys are per API key: the admin token's k-1 is another key.
			if code, body, _ := send(tAdmin, "k-1", textBody(openid, "admin's own")); code != 200 || body["id"] == body1["id"] {
				t.Fatalf("admin's k-1: %d %v", code, body)
			}
			// A refusal is an answer too: the retry gets the same 409.
			stranger := sf.world.NewUser().OpenID
			codeA, bodyA, _ := send(keyCRM, "k-2", textBody(stranger, "hi"))
			codeB, bodyB, _ := send(keyCRM, "k-2", textBody(stranger, "hi"))
			if codeA != 409 || codeB != 409 || errorOf(bodyA)["errcode"] != errorOf(bodyB)["errcode"] {
				t.Fatalf("refusal replayed: %d %v then %d %v", codeA, bodyA, codeB, bodyB)
			}
			// WeChat busy after the retries: nothing sent, the key is freed
			// and the retry sends.
			sf.mock.FailNextOn(wechatsim.PathCustomSend, 2, -1)
			code, body, _ := send(keyCRM, "k-3", textBody(openid, "busy"))
			if code != 502 || errorOf(body)["errcode"] != float64(-1) {
				t.Fatalf("busy: %d %v", code, body)
			}
			if code, body, _ := send(keyCRM, "k-3", textBody(openid, "busy")); code != 200 {
				t.Fatalf("retry after busy: %d %v", code, body)
			}
			if n := len(sf.mock.SentMessages(openid)); n != 3 {
				t.Fatalf("the mock got %d messages, want 3", n)
			}
			// A duplicate while the first is in flight.
			gt.armed.Store(true)
			done := make(chan int)
			go func() {
				code, _, _ := send(keyCRM, "k-4", textBody(openid, "slow"))
				done <- code
			}()
			<-gt.arrived
			if code, body, _ := send(keyCRM, "k-4", textBody(openid, "slow")); code != 409 || errorOf(body)["code"] != "idempotency_in_progress" {
				t.Fatalf("concurrent duplicate: %d %v", code, body)
			}
			close(gt.release)
			if code := <-done; code != 200 {
				t.Fatalf("the first of the concurrent pair: %d", code)
			}
			if code, _, hdr := send(keyCRM, "k-4", textBody(openid, "slow")); code != 200 || hdr.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("after the first finished: %d", code)
			}
			if n := len(sf.mock.SentMessages(openid)); n != 4 {
				t.Fatalf("the mock got %d messages, want 4", n)
			}
			if code, body, _ := send(keyCRM, strings.Repeat("k", 300), textBody(openid, "x")); code != 400 || !strings.Contains(errorOf(body)["message"].(string), "Idempotency-Key") {
				t.Fatalf("long key: %d %v", code, body)
			}
		})
	}
}

// Validation errors are 400 invalid_request naming the field, and nothing
// reaches WeChat.
func TestSendValidation(t *testing.T) {
	sf := newSendFixture(t, defaultBackend(), nil, nil)
	openid, c := sf.user(t)
	userSays(t, c, "hello")
	u := `"touser":"` + openid + `"`
	for body, field := range map[string]string{
		``:           "body",
		`[]`:         "JSON object",
		`{"touser":`: "valid JSON",
		`{"msgtype":"text","text":{"content":"x"}}`:                "touser",
		`{"touser":"a b","msgtype":"text","text":{"content":"x"}}`: "touser",
		`{` + u + `}`:                                          "msgtype",
		`{` + u + `,"msgtype":"video"}`:                        "msgtype",
		`{` + u + `,"msgtype":"text"}`:                         "text",
		`{` + u + `,"msgtype":"text","text":{"content":"  "}}`: "text.content",
		`{` + u + `,"msgtype":"text","text":{"content":"` + strings.Repeat("长", 683) + `"}}`:                                                    "text.content",
		`{` + u + `,"msgtype":"text","text":{"content":1}}`:                                                                                     "text.content",
		`{` + u + `,"msgtype":"text","txt":{"content":"x"}}`:                                                                                    `"txt"`,
		`{` + u + `,"msgtype":"text","text":{"content":"x"},"image":{"media_id":"m"}}`:                                                          "image",
		`{` + u + `,"msgtype":"image","image":{}}`:                                                                                              "image.media_id",
		`{` + u + `,"msgtype":"link","link":{"description":"d","url":"https://a.example","thumb_url":"https://a.example/t.png"}}`:               "link.title",
		`{` + u + `,"msgtype":"link","link":{"title":"t","description":"d","url":"javascript:alert(1)","thumb_url":"https://a.example/t.png"}}`: "link.url",
		`{` + u + `,"msgtype":"link","link":{"title":"t","description":"d","url":"https://a.example","thumb_url":"/t.png"}}`:                    "link.thumb_url",
		`{` + u + `,"msgtype":"miniprogrampage","miniprogrampage":{"title":"t","pagepath":"https://a.example","thumb_media_id":"m"}}`:           "miniprogrampage.pagepath",
		`{` + u + `,"msgtype":"miniprogrampage","miniprogrampage":{"title":"t","pagepath":"pages/a"}}`:                                          "miniprogrampage.thumb_media_id",
		`{` + u + `,"msgtype":"text","text":{"content":"x"}} {}`:                                                                                "more than one",
	} {
		code, resp, _ := sf.call(t, "POST", "/v1/apps/default/messages", keyCRM, body)
		e := errorOf(resp)
		if code != 400 || e["code"] != "invalid_request" || !strings.Contains(e["message"].(string), field) {
			t.Errorf("%s: %d %v, want 400 naming %s", body, code, resp, field)
		}
	}
	// 2048 bytes exactly is WeChat's limit, not beyond it.
	if code, resp, _ := sf.call(t, "POST", "/v1/apps/default/messages", keyCRM, textBody(openid, strings.Repeat("a", MaxTextBytes))); code != 200 {
		t.Fatalf("2048 bytes: %d %v", code, resp)
	}
	if code, resp, _ := sf.call(t, "POST", "/v1/apps/default/typing", keyCRM, map[string]string{"touser": openid, "command": "Typ"}); code != 400 ||
		!strings.Contains(errorOf(resp)["message"].(string), "command") {
		t.Fatalf("typing command: %d %v", code, resp)
	}
	if code, resp, _ := sf.call(t, "POST", "/v1/apps/default/subscribe-messages", keyCRM,
		map[string]any{"touser": openid, "data": map[string]any{"thing1": map[string]string{"value": "x"}}}); code != 400 ||
		!strings.Contains(errorOf(resp)["message"].(string), "template_id") {
		t.Fatalf("subscribe without template_id: %d %v", code, resp)
	}
	if n := len(sf.mock.SentMessages("")); n != 1 {
		t.Fatalf("the mock got %d messages, want the one valid", n)
	}
}

func TestTyping(t *testing.T) {
	sf := newSendFixture(t, defaultBackend(), nil, nil)
	openid, c := sf.user(t)
	typing := func(cmd string) (int, map[string]any) {
		code, body, _ := sf.call(t, "POST", "/v1/apps/default/typing", keyCRM, map[string]string{"touser": openid, "command": cmd})
		return code, body
	}
	if code, body := typing("Typing"); code != 409 || errorOf(body)["errcode"] != float64(45080) {
		t.Fatalf("typing before any exchange: %d %v", code, body)
	}
	userSays(t, c, "hello")
	if code, body := typing("Typing"); code != 200 || !sf.mock.Typing(openid) {
		t.Fatalf("typing: %d %v", code, body)
	}
	if code, body := typing("Typing"); code != 409 || errorOf(body)["code"] != "already_typing" {
		t.Fatalf("typing twice: %d %v", code, body)
	}
	if code, body := typing("CancelTyping"); code != 200 || sf.mock.Typing(openid) {
		t.Fatalf("cancel: %d %v", code, body)
	}
	recs, _, _ := sf.out.ListOutbound(context.Background(), store.OutboundFilter{OpenID: openid}, "")
	if len(recs) != 4 || recs[0].Kind != "typing" || recs[0].MsgType != "CancelTyping" || !recs[0].OK {
		t.Fatalf("records: %+v", recs)
	}
}

// testPNG is a 1x1 PNG.
var testPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" +
	"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")

func mediaForm(t testing.TB, field, filename string, data []byte) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, err := mw.CreateFormFile(field, filename)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

func TestMediaUploadAndDownload(t *testing.T) {
	sf := newSendFixture(t, defaultBackend(), nil, nil)
	body, ctype := mediaForm(t, "media", "dot.png", testPNG)
	code, resp, _ := sf.call(t, "POST", "/v1/apps/default/media", keyCRM, body, "Content-Type", ctype)
	id, _ := resp["media_id"].(string)
	if code != 200 || id == "" {
		t.Fatalf("upload: %d %v", code, resp)
	}
	created, err1 := time.Parse(time.RFC3339Nano, resp["created_at"].(string))
	expires, err2 := time.Parse(time.RFC3339Nano, resp["expires_at"].(string))
	if err1 != nil || err2 != nil || expires.Sub(created) != MediaLifetime {
		t.Fatalf("times: %v", resp)
	}
	get := func(key, id string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/v1/apps/default/media/"+id, nil)
		r.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		sf.handler.ServeHTTP(rec, r)
		return rec
	}
	rec := get(keyReader, id)
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), testPNG) || rec.Header().Get("Content-Type") != "image/png" ||
		rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("download: %d %v %q", rec.Code, rec.Header(), rec.Body)
	}
	// An image a user sent.
	openid, c := sf.user(t)
	_ = openid
	if out, err := c.Push(context.Background(), &message.Image{MediaID: "user-image-1", PicURL: "https://mmbiz.example/1"}); err != nil || !out.Accepted {
		t.Fatalf("push image: %v %+v", err, out)
	}
	if rec := get(keyReader, "user-image-1"); rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "image/") || rec.Body.Len() == 0 {
		t.Fatalf("user's image: %d %v", rec.Code, rec.Header())
	}
	if rec := get(keyReader, "no-such-media"); rec.Code != 404 || !strings.Contains(rec.Body.String(), `"errcode":40007`) {
		t.Fatalf("unknown media: %d %q", rec.Code, rec.Body)
	}
	if rec := get(keyTokens, id); rec.Code != 403 {
		t.Fatalf("a token key downloads: %d", rec.Code)
	}
	for name, tc := range map[string]struct {
		field string
		data  []byte
		want  int
	}{
		"not an image": {"media", []byte("%PDF-1.4 not an image"), 400},
		"wrong field":  {"file", testPNG, 400},
		"empty":        {"media", nil, 400},
		"too large":    {"media", append(append([]byte(nil), testPNG...), make([]byte, MaxMediaUpload)...), 413},
	} {
		body, ctype := mediaForm(t, tc.field, "x.png", tc.data)
		if code, resp, _ := sf.call(t, "POST", "/v1/apps/default/media", keyCRM, body, "Content-Type", ctype); code != tc.want || !strings.Contains(errorOf(resp)["message"].(string), "media") {
			t.Errorf("%s: %d %v, want %d", name, code, resp, tc.want)
		}
	}
	if code, _, _ := sf.call(t, "POST", "/v1/apps/default/media", keyCRM, testPNG, "Content-Type", "image/png"); code != 400 {
		t.Fatalf("not multipart: %d", code)
	}
}

func TestSubscribeMessage(t *testing.T) {
	sf := newSendFixture(t, defaultBackend(), nil, nil)
	tpl, err := sf.world.AddTemplate(wechatsim.Template{AppID: tAppID, Title: "Order shipped", Keywords: []string{"thing1", "character_string2"}})
	if err != nil {
		t.Fatal(err)
	}
	openid, c := sf.user(t)
	msg := map[string]any{"touser": openid, "template_id": tpl.TemplateID, "page": "pages/order/index?id=7",
		"data": map[string]any{"thing1": map[string]string{"value": "Your parcel"}, "character_string2": map[string]string{"value": "SF123"}}}
	code, body, _ := sf.call(t, "POST", "/v1/apps/default/subscribe-messages", keyCRM, msg)
	if code != 409 || errorOf(body)["code"] != "not_subscribed" || errorOf(body)["errcode"] != float64(43101) {
		t.Fatalf("without acceptance: %d %v", code, body)
	}
	// The user accepts the template in the popup.
	if out, err := c.Push(context.Background(), &message.SubscribeMsgPopupEvent{
		Header: message.Header{MsgType: "event", Event: "subscribe_msg_popup_event"},
		List:   []message.SubscribePopupItem{{TemplateID: tpl.TemplateID, SubscribeStatusString: "accept"}},
	}); err != nil || !out.Accepted {
		t.Fatalf("popup: %v %+v", err, out)
	}
	code, body, _ = sf.call(t, "POST", "/v1/apps/default/subscribe-messages", keyCRM, msg)
	if code != 200 || body["msgid"] == "" || !strings.HasPrefix(body["id"].(string), "out_") {
		t.Fatalf("accepted: %d %v", code, body)
	}
	sent := sf.mock.SubscribeMessages(openid)
	if len(sent) != 1 || sent[0].TemplateID != tpl.TemplateID || sent[0].MsgID != body["msgid"] {
		t.Fatalf("the mock got %+v", sent)
	}
	recs, _, _ := sf.out.ListOutbound(context.Background(), store.OutboundFilter{OpenID: openid, Limit: 1}, "")
	if len(recs) != 1 || recs[0].Kind != "subscribe" || recs[0].MsgType != tpl.TemplateID || !recs[0].OK || recs[0].ID != body["id"] {
		t.Fatalf("record: %+v", recs)
	}
	// One acceptance, one message.
	if code, body, _ = sf.call(t, "POST", "/v1/apps/default/subscribe-messages", keyCRM, msg); code != 409 {
		t.Fatalf("second message: %d %v", code, body)
	}
	bad := map[string]any{"touser": openid, "template_id": tpl.TemplateID, "data": map[string]any{"thing1": map[string]string{"value": strings.Repeat("x", 30)}}}
	if code, body, _ = sf.call(t, "POST", "/v1/apps/default/subscribe-messages", keyCRM, bad); code != 400 || !strings.Contains(errorOf(body)["message"].(string), "thing1") {
		t.Fatalf("a thing of 30 characters: %d %v", code, body)
	}
}

// The access token is the mock's current token for the app, and works.
func TestAccessToken(t *testing.T) {
	sf := newSendFixture(t, defaultBackend(), nil, nil)
	code, body, _ := sf.call(t, "GET", "/v1/apps/shop/access-token", keyTokens, nil)
	tok, _ := body["access_token"].(string)
	if code != 200 || tok == "" {
		t.Fatalf("%d %v", code, body)
	}
	exp, err := time.Parse(time.RFC3339, body["expires_at"].(string))
	if err != nil || time.Until(exp) < time.Hour || time.Until(exp) > 2*time.Hour+time.Minute {
		t.Fatalf("expires_at %v %v", body["expires_at"], err)
	}
	var current string
	for _, ti := range sf.mock.Tokens() {
		if ti.AppID == shopAppID && ti.InvalidAt.IsZero() {
			current = ti.Value
		}
	}
	if tok != current {
		t.Fatal("the token answered is not the mock's current token of the app")
	}
	// The caller can use it: media/get answers 40007 (unknown media), not
	// a token error.
	resp, err := http.Get(sf.srv.URL + wechatsim.PathMediaGet + "?media_id=x&access_token=" + tok)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "40007") {
		t.Fatalf("the token does not work: %s", b)
	}
	if strings.Contains(sf.log(), tok) {
		t.Fatal("the access token is in the log")
	}
}

func TestConversation(t *testing.T) {
	for _, backend := range outboundBackends() {
		t.Run(backend, func(t *testing.T) {
			sf := newSendFixture(t, backend, nil, nil)
			openid, c := sf.user(t)
			other, oc := sf.user(t)
			userSays(t, oc, "someone else")
			step := func() { time.Sleep(2 * time.Millisecond) } // distinct times, for a readable order
			userSays(t, c, "hello")
			step()
			if code, _, _ := sf.call(t, "POST", "/v1/apps/default/messages", keyCRM, textBody(openid, "hi, how can we help?")); code != 200 {
				t.Fatal(code)
			}
			step()
			userSays(t, c, "where is my parcel")
			step()
			if code, _, _ := sf.call(t, "POST", "/v1/apps/default/messages", keyCRM, textBody(openid, "on its way")); code != 200 {
				t.Fatal(code)
			}
			step()
			sf.mock.FailNextOn(wechatsim.PathCustomSend, 1, 40003) // a refusal, shown with its result
			if code, _, _ := sf.call(t, "POST", "/v1/apps/default/messages", keyCRM, textBody(openid, "lost")); code != 400 {
				t.Fatal(code)
			}
			conv := func(query string) map[string]any {
				code, body, _ := sf.call(t, "GET", "/v1/apps/default/users/"+openid+"/conversation"+query, keyCRM, nil)
				if code != 200 {
					t.Fatalf("%s: %d %v", query, code, body)
				}
				return body
			}
			summary := func(body map[string]any) string {
				var parts []string
				for _, it := range body["items"].([]any) {
					m := it.(map[string]any)
					s := m["direction"].(string) + ":"
					if m["direction"] == "in" {
						s += m["message"].(map[string]any)["Content"].(string)
					} else {
						var req struct{ Text struct{ Content string } }
						raw, _ := json.Marshal(m["request"])
						json.Unmarshal(raw, &req)
						res := m["result"].(map[string]any)
						s += req.Text.Content + fmt.Sprintf("(%v,%v)", res["ok"], res["errcode"])
						if m["sender"] != "api:crm" {
							t.Fatalf("sender %v", m["sender"])
						}
					}
					parts = append(parts, s)
				}
				return strings.Join(parts, " | ")
			}
			want := "in:hello | out:hi, how can we help?(true,<nil>) | in:where is my parcel | out:on its way(true,<nil>) | out:lost(false,40003)"
			if got := summary(conv("")); got != want {
				t.Fatalf("conversation:\n got %s\nwant %s", got, want)
			}
			// Paging back in time.
			p1 := conv("?limit=2")
			if got := summary(p1); got != "out:on its way(true,<nil>) | out:lost(false,40003)" {
				t.Fatalf("page 1: %s", got)
			}
			p2 := conv("?limit=2&before=" + p1["next_before"].(string))
			if got := summary(p2); got != "out:hi, how can we help?(true,<nil>) | in:where is my parcel" {
				t.Fatalf("page 2: %s", got)
			}
			p3 := conv("?limit=2&before=" + p2["next_before"].(string))
			if got := summary(p3); got != "in:hello" || p3["next_before"] != "" {
				t.Fatalf("page 3: %s %v", got, p3["next_before"])
			}
			// A plain time.
			first := p3["items"].([]any)[0].(map[string]any)["at"].(string)
			at, _ := time.Parse(time.RFC3339Nano, first)
			if got := summary(conv("?before=" + at.Add(time.Microsecond).Format(time.RFC3339Nano))); got != "in:hello" {
				t.Fatalf("before a time: %s", got)
			}
			if got := summary(conv("?before=" + at.Format(time.RFC3339Nano))); got != "" {
				t.Fatalf("before the first: %s", got)
			}
			if code, _, _ := sf.call(t, "GET", "/v1/apps/default/users/"+openid+"/conversation?before=yesterday", keyCRM, nil); code != 400 {
				t.Fatalf("bad before: %d", code)
			}
			_ = other
		})
	}
}

// Everything the tests wrote with secrets stays out of errors too.
func TestSendErrorsHoldNoSecret(t *testing.T) {
	sf := newSendFixture(t, defaultBackend(), nil, nil)
	sf.mock.FailNextOn(wechatsim.PathCustomSend, 1, 40001) // token rejected twice: the retry gets a new one
	sf.mock.FailNextOn(wechatsim.PathCustomSend, 1, 40001)
	openid, c := sf.user(t)
	userSays(t, c, "hi")
	code, body, _ := sf.call(t, "POST", "/v1/apps/default/messages", keyCRM, textBody(openid, "x"))
	raw, _ := json.Marshal(body)
	for _, tok := range sf.mock.Tokens() {
		if strings.Contains(string(raw), tok.Value) {
			t.Fatalf("a token in the answer: %s", raw)
		}
	}
	if code == 200 || strings.Contains(string(raw), appSecret) {
		t.Fatalf("%d %s", code, raw)
	}
}

// newFixtureTB is newFixture for benchmarks too, with the World given.
func newFixtureTB(t testing.TB, mutate func(*Options), world *wechatsim.World) *fixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "wxgate.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, logs: &bytes.Buffer{}, logMu: &sync.Mutex{}, world: world}
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
	f.st = opts.Store
	if f.g, err = New(opts); err != nil {
		t.Fatal(err)
	}
	f.handler = f.g.Handler(true)
	return f
}
