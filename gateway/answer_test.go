package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wxgate/wxgate/gateway/config"
	"github.com/wxgate/wxgate/gateway/deliver"
	"github.com/wxgate/wxgate/gateway/rules"
	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/openapi"
	"github.com/wxgate/wxgate/store"
	"github.com/wxgate/wxgate/wechatsim"
)

const tSecret = "appsecret0123456789abcdef01234567"

// answering is a gateway with rules and an Open API client pointed at the
// mock, sharing one World with the emulator.
type answering struct {
	*fixture
	mock *wechatsim.OpenAPI
}

func newAnswering(t *testing.T, rulesYAML string) *answering {
	t.Helper()
	world := wechatsim.NewWorld(wechatsim.SystemClock{})
	world.AddApp(wechatsim.App{AppID: tAppID, Secret: tSecret, OriginalID: "gh_0123456789ab"})
	mock := wechatsim.NewOpenAPI(wechatsim.WithWorld(world), wechatsim.WithClock(wechatsim.SystemClock{}))
	srv := httptest.NewServer(mock)
	t.Cleanup(srv.Close)
	client, err := openapi.New(tAppID, tSecret, openapi.WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	var engines map[string]*rules.Engine
	if rulesYAML != "" {
		cfg, err := config.Parse("test.yaml", []byte("allow_inline_secrets: true\napps:\n  default:\n    appid: "+tAppID+
			"\n    token: "+tToken+"\n    secret: "+tSecret+"\n    rules:\n"+rulesYAML))
		if err != nil {
			t.Fatal(err)
		}
		eng, err := rules.Compile("default", cfg.Apps["default"].Rules)
		if err != nil {
			t.Fatal(err)
		}
		engines = map[string]*rules.Engine{"default": eng}
	}
	f := newFixture(t, func(o *Options) {
		o.OpenAPI = func(string) *openapi.Client { return client }
		o.Rules = engines
	})
	f.world = world
	return &answering{fixture: f, mock: mock}
}

// sentTo waits (bounded) for n customer-service messages to the user and
// returns them.
func (a *answering) sentTo(t *testing.T, openid string, n int) []wechatsim.SentMessage {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := a.mock.SentMessages(openid)
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// outbound waits (bounded) for n outbound records of the user and returns
// them, newest first.
func (a *answering) outbound(t *testing.T, openid string, n int) ([]store.Outbound, error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		recs, _, err := a.st.(store.OutboundStore).ListOutbound(context.Background(), store.OutboundFilter{OpenID: openid}, "")
		if err != nil || len(recs) >= n || time.Now().After(deadline) {
			return recs, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const testRules = `      rules:
        - name: welcome
          match: {enter_session: true}
          reply: 欢迎光临
        - name: price
          match: {keyword: 价格}
          reply: 价目表在此
          continue: false
        - name: human
          match: {contains: 人工}
          transfer: true
`

// A keyword gets its reply in the user's chat; entering the session gets
// the welcome; "人工" is transferred passively, in the request's format
// and encrypted when the request was; continue: false keeps a push from
// the destinations.
func TestRulesAnswer(t *testing.T) {
	a := newAnswering(t, testRules)
	user := a.world.NewUser()
	for _, format := range []message.Format{message.FormatXML, message.FormatJSON} {
		c, err := wechatsim.NewClient(wechatsim.ClientConfig{Handler: a.handler, Path: "/wechat", AppID: tAppID, Token: tToken,
			AESKey: tKey, Mode: wechatsim.ModeSafe, Format: format, World: a.world, OpenID: user.OpenID})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		out, err := c.Push(context.Background(), &message.Text{Content: "转人工"})
		if err != nil || !out.Accepted || out.Reply == nil || out.Reply.Head().MsgType != message.MsgTypeTransferCustomerService {
			t.Fatalf("%v transfer: %v %+v", format, err, out)
		}
	}
	c, _ := wechatsim.NewClient(wechatsim.ClientConfig{Handler: a.handler, Path: "/wechat", AppID: tAppID, Token: tToken,
		AESKey: tKey, World: a.world, OpenID: user.OpenID})
	defer c.Close()
	c.Push(context.Background(), &message.UserEnterTempSession{SessionFrom: "home"})
	if got := a.sentTo(t, user.OpenID, 1); len(got) != 1 || !strings.Contains(string(got[0].Body), "欢迎光临") {
		t.Fatalf("welcome: %+v", got)
	}
	c.Push(context.Background(), &message.Text{Content: "价格"})
	got := a.sentTo(t, user.OpenID, 2)
	if len(got) != 2 || !strings.Contains(string(got[1].Body), "价目表在此") {
		t.Fatalf("keyword reply: %+v", got)
	}
	// The priced push was stored without deliveries; the others have one.
	msgs, _, _ := a.st.List(context.Background(), store.Filter{OpenID: user.OpenID}, "")
	for _, m := range msgs {
		ds, _, _ := a.st.Deliveries(context.Background(), m.ID)
		wantDeliveries := 1
		if strings.Contains(string(m.Raw), "价格") {
			wantDeliveries = 0
		}
		if len(ds) != wantDeliveries {
			t.Errorf("%s: %d deliveries, want %d", m.Raw, len(ds), wantDeliveries)
		}
	}
	// Each send is recorded as an outbound message of its rule, once
	// WeChat has answered.
	recs, err := a.outbound(t, user.OpenID, 2)
	if err != nil || len(recs) != 2 || recs[0].Sender != "rule:price" || !recs[0].OK || recs[1].Sender != "rule:welcome" {
		t.Fatalf("outbound: %v %+v", err, recs)
	}
}

// A webhook's 2xx answer with replies reaches the user, in order; a bad
// item is recorded as failed and the rest still go.
func TestWebhookReplies(t *testing.T) {
	a := newAnswering(t, "")
	user := a.world.NewUser()
	c, _ := wechatsim.NewClient(wechatsim.ClientConfig{Handler: a.handler, Path: "/wechat", AppID: tAppID, Token: tToken,
		AESKey: tKey, World: a.world, OpenID: user.OpenID})
	defer c.Close()
	if out, err := c.Push(context.Background(), &message.Text{Content: "在吗"}); err != nil || !out.Accepted {
		t.Fatalf("%v %+v", err, out)
	}
	msgs, _, _ := a.st.List(context.Background(), store.Filter{OpenID: user.OpenID}, "")
	answer := `{"replies":[{"msgtype":"text","text":{"content":"在的"}},{"msgtype":"voice","voice":{}},` +
		`{"msgtype":"link","link":{"title":"订单","description":"d","url":"https://example.com","thumb_url":"https://example.com/t.png"}}]}`
	a.g.WebhookReplied(context.Background(), store.Claimed{MessageID: msgs[0].ID, App: "default", Destination: "default/hook", OpenID: user.OpenID},
		deliver.Result{Status: 200, Body: []byte(answer), Delivered: true})
	got := a.sentTo(t, user.OpenID, 2)
	if len(got) != 2 || !strings.Contains(string(got[0].Body), "在的") || !strings.Contains(string(got[1].Body), `"link"`) {
		t.Fatalf("sent: %+v", got)
	}
	recs, _ := a.outbound(t, user.OpenID, 3)
	failed := 0
	for _, r := range recs {
		if r.Sender != "webhook:default/hook" || r.InReplyTo != msgs[0].ID {
			t.Errorf("record %+v", r)
		}
		if !r.OK {
			failed++
			if !strings.Contains(r.Error, "replies[1]") {
				t.Errorf("failed record says %q", r.Error)
			}
		}
	}
	if len(recs) != 3 || failed != 1 {
		t.Fatalf("%d records, %d failed: %+v", len(recs), failed, recs)
	}
	// A plain acknowledgement sends nothing.
	a.g.WebhookReplied(context.Background(), store.Claimed{MessageID: msgs[0].ID, App: "default", OpenID: user.OpenID},
		deliver.Result{Status: 204, Body: []byte("ok"), Delivered: true})
	if got := a.mock.SentMessages(user.OpenID); len(got) != 2 {
		t.Fatalf("%d sent after a plain acknowledgement", len(got))
	}
}

func TestReplyItem(t *testing.T) {
	for item, ok := range map[string]bool{
		`{"msgtype":"text","text":{"content":"x"}}`:                  true,
		`{"touser":"o1","msgtype":"image","image":{"media_id":"m"}}`: true,
		`{"touser":"o2","msgtype":"text","text":{"content":"x"}}`:    false, // another user
		`{"msgtype":"text"}`:           false,
		`{"text":{"content":"x"}}`:     false,
		`[]`:                           false,
		`{"msgtype":"news","news":{}}`: false,
	} {
		body, err := replyItem(json.RawMessage(item), "o1")
		if (err == nil) != ok {
			t.Errorf("%s: %v", item, err)
		}
		if ok && !strings.Contains(string(body), `"touser":"o1"`) {
			t.Errorf("%s: %s", item, body)
		}
	}
}

// Outside office hours the away message comes once per user and closed
// period, through the store's ledger, on top of the rules' answers.
func TestAwayOncePerPeriod(t *testing.T) {
	// A window on the day after tomorrow only: closed now, whatever the time.
	day := strings.ToLower(time.Now().UTC().Add(48 * time.Hour).Weekday().String()[:3])
	a := newAnswering(t, `      office_hours:
        time_zone: UTC
        windows: ["`+day+` 09:00-10:00"]
        away: 我们下班了
`)
	st, ok := a.st.(store.OutboundStore)
	if !ok {
		t.Skip("the store keeps no outbound records")
	}
	rules.WithLedger(StoreLedger{Store: st})(a.g.rules["default"])
	user := a.world.NewUser()
	c, _ := wechatsim.NewClient(wechatsim.ClientConfig{Handler: a.handler, Path: "/wechat", AppID: tAppID, Token: tToken,
		AESKey: tKey, World: a.world, OpenID: user.OpenID})
	defer c.Close()
	for _, text := range []string{"在吗", "有人吗", "hello"} {
		if out, err := c.Push(context.Background(), &message.Text{Content: text}); err != nil || !out.Accepted {
			t.Fatalf("%v %+v", err, out)
		}
	}
	got := a.sentTo(t, user.OpenID, 1)
	time.Sleep(100 * time.Millisecond) // a second away message would be on its way by now
	got = a.mock.SentMessages(user.OpenID)
	if len(got) != 1 || !strings.Contains(string(got[0].Body), "我们下班了") {
		t.Fatalf("away messages: %+v", got)
	}
	other := a.world.NewUser()
	c2, _ := wechatsim.NewClient(wechatsim.ClientConfig{Handler: a.handler, Path: "/wechat", AppID: tAppID, Token: tToken,
		AESKey: tKey, World: a.world, OpenID: other.OpenID})
	defer c2.Close()
	c2.Push(context.Background(), &message.Text{Content: "hi"})
	if got := a.sentTo(t, other.OpenID, 1); len(got) != 1 {
		t.Fatalf("another user got %d away messages", len(got))
	}
}

// The whole path: a push is stored, the delivery engine posts it to the
// webhook, and the webhook's answer carries a reply that reaches the user.
func TestWebhookReplyThroughTheEngine(t *testing.T) {
	a := newAnswering(t, "")
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"replies":[{"msgtype":"text","text":{"content":"已收到您的订单"}}]}`))
	}))
	defer hook.Close()
	dest, err := deliver.NewWebhook(deliver.WebhookConfig{Name: "hook", URL: hook.URL, Secrets: [][]byte{[]byte("0123456789abcdef0")}})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := deliver.New(a.st, []deliver.Destination{dest}, "", deliver.Options{OnDelivered: a.g.WebhookReplied, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	defer func() { cancel(); <-done }()

	user := a.world.NewUser()
	c, _ := wechatsim.NewClient(wechatsim.ClientConfig{Handler: a.handler, Path: "/wechat", AppID: tAppID, Token: tToken,
		AESKey: tKey, World: a.world, OpenID: user.OpenID})
	defer c.Close()
	if out, err := c.Push(context.Background(), &message.Text{Content: "下单"}); err != nil || !out.Accepted {
		t.Fatalf("%v %+v", err, out)
	}
	got := a.sentTo(t, user.OpenID, 1)
	if len(got) != 1 || !strings.Contains(string(got[0].Body), "已收到您的订单") {
		t.Fatalf("the webhook's reply did not reach the user: %+v", got)
	}
	recs, _ := a.outbound(t, user.OpenID, 1)
	if len(recs) != 1 || recs[0].Sender != "webhook:hook" || !recs[0].OK {
		t.Fatalf("outbound: %+v", recs)
	}
}
