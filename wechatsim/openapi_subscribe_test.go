package wechatsim

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// subscribeHarness has a template of the default app and a user.
func subscribeHarness(t *testing.T) (*harness, Template, string) {
	t.Helper()
	h := newHarness(t)
	tpl, err := h.api.World().AddTemplate(Template{Title: "订单发货提醒", Keywords: []string{"thing1", "character_string2", "time3"}})
	if err != nil {
		t.Fatal(err)
	}
	return h, tpl, h.api.World().NewUser().OpenID
}

func subscribeBody(openid, templateID string) map[string]any {
	return map[string]any{
		"touser": openid, "template_id": templateID, "page": "pages/order/index?id=7",
		"miniprogram_state": "trial", "lang": "en_US",
		"data": map[string]any{
			"thing1":            map[string]any{"value": "Parcel <b> & more"},
			"character_string2": map[string]any{"value": "SF1234567890"},
			"time3":             map[string]any{"value": "2024年4月25日 15:01"},
		},
	}
}

func (h *harness) subscribe(tok string, body any) *httptest.ResponseRecorder {
	return h.do(http.MethodPost, withToken(PathSubscribeSend, tok), body)
}

func TestSubscribeSendUsesOneAcceptance(t *testing.T) {
	h, tpl, openid := subscribeHarness(t)
	tok := h.token()
	w := h.api.World()

	wantCode(t, h.subscribe(tok, subscribeBody(openid, tpl.TemplateID)), ErrCodeNotSubscribed)
	w.NoteSubscribe(openid, tpl.TemplateID, true)
	rec := h.subscribe(tok, subscribeBody(openid, tpl.TemplateID))
	m := decode(t, rec)
	if m["errcode"].(float64) != 0 || m["errmsg"] != "ok" {
		t.Fatalf("body %s", rec.Body.String())
	}
	msgid := regexp.MustCompile(`"msgid":([0-9]+)`).FindStringSubmatch(rec.Body.String())
	if msgid == nil || len(msgid[1]) != 19 {
		t.Fatalf("msgid: %s", rec.Body.String())
	}
	sent := h.api.SubscribeMessages(openid)
	if len(sent) != 1 {
		t.Fatalf("sent %+v", sent)
	}
	s := sent[0]
	if s.MsgID != msgid[1] || s.AppID != DefaultAppID || s.TemplateID != tpl.TemplateID || s.Page != "pages/order/index?id=7" ||
		s.MiniProgramState != "trial" || s.Lang != "en_US" || s.Data["character_string2"] != "SF1234567890" ||
		s.Data["thing1"] != "Parcel <b> & more" || !s.Time.Equal(h.clk.Now()) {
		t.Fatalf("sent %+v", s)
	}
	tr := w.Transcript(openid)
	if len(tr) != 1 || tr[0].Direction != DirectionToUser || tr[0].Kind != KindSubscribeMessage || tr[0].Outcome != "sent" ||
		tr[0].Seq != s.Seq || !strings.Contains(tr[0].Detail, "订单发货提醒") {
		t.Fatalf("transcript %+v", tr)
	}
	if len(h.api.SentMessages("")) != 0 {
		t.Error("a subscribe message is not a customer-service message")
	}
	if g := w.Subscription(openid, tpl.TemplateID); g.Remaining != 0 || g.Accepted != 1 || g.Sent != 1 || g.Status != SubscribeAccepted {
		t.Fatalf("subscription %+v", g)
	}
	// One acceptance, one message.
	rec = h.subscribe(tok, subscribeBody(openid, tpl.TemplateID))
	wantCode(t, rec, ErrCodeNotSubscribed)
	if msg := decode(t, rec)["errmsg"].(string); !strings.HasPrefix(msg, "user refuse to accept the msg rid: ") {
		t.Errorf("errmsg %q", msg)
	}
	// No window needed: 49 h after nothing at all.
	h.clk.Advance(49 * time.Hour)
	tok = h.token()
	w.NoteSubscribe(openid, tpl.TemplateID, true)
	wantCode(t, h.subscribe(tok, subscribeBody(openid, tpl.TemplateID)), ErrCodeOK)
}

func TestSubscribeAcceptancesAddUpAndCancel(t *testing.T) {
	h, tpl, openid := subscribeHarness(t)
	tok := h.token()
	w := h.api.World()
	w.NoteSubscribe(openid, tpl.TemplateID, true)
	w.NoteSubscribe(openid, tpl.TemplateID, true)
	w.NoteSubscribe(openid, tpl.TemplateID, false) // a rejection keeps earlier acceptances
	if g := w.Subscription(openid, tpl.TemplateID); g.Remaining != 2 || g.Status != SubscribeRejected {
		t.Fatalf("subscription %+v", g)
	}
	wantCode(t, h.subscribe(tok, subscribeBody(openid, tpl.TemplateID)), ErrCodeOK)
	wantCode(t, h.subscribe(tok, subscribeBody(openid, tpl.TemplateID)), ErrCodeOK)
	wantCode(t, h.subscribe(tok, subscribeBody(openid, tpl.TemplateID)), ErrCodeNotSubscribed)

	w.NoteSubscribe(openid, tpl.TemplateID, true)
	w.NoteSubscribe(openid, tpl.TemplateID, true)
	w.CancelSubscribe(openid, tpl.TemplateID) // turned off in the settings
	wantCode(t, h.subscribe(tok, subscribeBody(openid, tpl.TemplateID)), ErrCodeNotSubscribed)
	if g := w.Subscription(openid, tpl.TemplateID); g.Remaining != 0 || g.Accepted != 4 || g.Sent != 2 || g.Status != SubscribeCanceled {
		t.Fatalf("subscription %+v", g)
	}
	// Acceptances are per user and per template.
	other := w.NewUser().OpenID
	tpl2, _ := w.AddTemplate(Template{Keywords: []string{"thing1", "character_string2", "time3"}})
	w.NoteSubscribe(other, tpl.TemplateID, true)
	wantCode(t, h.subscribe(tok, subscribeBody(openid, tpl.TemplateID)), ErrCodeNotSubscribed)
	wantCode(t, h.subscribe(tok, subscribeBody(other, tpl2.TemplateID)), ErrCodeNotSubscribed)
	wantCode(t, h.subscribe(tok, subscribeBody(other, tpl.TemplateID)), ErrCodeOK)
	w.NoteSubscribe("", tpl.TemplateID, true) // ignored
	w.NoteSubscribe(other, "", true)
	if n := len(w.Subscriptions("")); n != 2 {
		t.Errorf("%d subscriptions, want 2", n)
	}
}

func TestSubscribeSendErrors(t *testing.T) {
	h, tpl, openid := subscribeHarness(t)
	tok := h.token()
	w := h.api.World()
	w.NoteSubscribe(openid, tpl.TemplateID, true)
	otherApp := App{AppID: "wx00000000000000aa", Secret: "s", OriginalID: "gh_000000000000"}
	w.AddApp(otherApp)
	foreign, err := w.AddTemplate(Template{AppID: otherApp.AppID, Keywords: []string{"thing1"}})
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(map[string]any)) map[string]any {
		b := subscribeBody(openid, tpl.TemplateID)
		f(b)
		return b
	}
	setData := func(k string, v any) map[string]any {
		return with(func(b map[string]any) { b["data"].(map[string]any)[k] = v })
	}
	cases := []struct {
		name string
		body any
		code int
		msg  string // errmsg before " rid: "
	}{
		{"empty body", nil, ErrCodeEmptyPostData, "empty post data"},
		{"bad json", `{"touser":`, ErrCodeDataFormat, "data format error"},
		{"touser not a string", `{"touser":1}`, ErrCodeDataFormat, "data format error"},
		{"missing touser", with(func(b map[string]any) { delete(b, "touser") }), ErrCodeInvalidOpenID, "invalid openid"},
		{"unknown touser", with(func(b map[string]any) { b["touser"] = "oNobody" }), ErrCodeInvalidOpenID, "invalid openid"},
		{"missing template", with(func(b map[string]any) { delete(b, "template_id") }), ErrCodeInvalidTemplateID, "invalid template_id"},
		{"unknown template", with(func(b map[string]any) { b["template_id"] = "nope" }), ErrCodeInvalidTemplateID, "invalid template_id"},
		{"another app's template", with(func(b map[string]any) { b["template_id"] = foreign.TemplateID }), ErrCodeInvalidTemplateID, "invalid template_id"},
		{"page is a URL", with(func(b map[string]any) { b["page"] = "https://example.com/x" }), ErrCodeInvalidPage, "invalid page"},
		{"page with a space", with(func(b map[string]any) { b["page"] = "pages/a b" }), ErrCodeInvalidPage, "invalid page"},
		{"bad state", with(func(b map[string]any) { b["miniprogram_state"] = "release" }), ErrCodeArgumentInvalid, "argument invalid! miniprogram_state invalid"},
		{"bad lang", with(func(b map[string]any) { b["lang"] = "fr_FR" }), ErrCodeArgumentInvalid, "argument invalid! lang invalid"},
		{"no data", with(func(b map[string]any) { delete(b, "data") }), ErrCodeArgumentInvalid, "argument invalid! data.thing1.value is empty"},
		{"data not an object", with(func(b map[string]any) { b["data"] = `{"thing1":{"value":"x"}}` }), ErrCodeDataFormat, "data format error"},
		{"keyword missing", with(func(b map[string]any) { delete(b["data"].(map[string]any), "time3") }), ErrCodeArgumentInvalid, "argument invalid! data.time3.value is empty"},
		{"keyword empty", setData("thing1", map[string]any{"value": " "}), ErrCodeArgumentInvalid, "argument invalid! data.thing1.value is empty"},
		{"keyword without value", setData("thing1", map[string]any{}), ErrCodeArgumentInvalid, "argument invalid! data.thing1.value is empty"},
		{"keyword flat", setData("thing1", "flat"), ErrCodeArgumentInvalid, "argument invalid! data.thing1.value invalid"},
		{"keyword value object", setData("thing1", map[string]any{"value": map[string]any{}}), ErrCodeArgumentInvalid, "argument invalid! data.thing1.value invalid"},
		{"thing too long", setData("thing1", map[string]any{"value": strings.Repeat("长", 21)}), ErrCodeArgumentInvalid, "argument invalid! data.thing1.value invalid"},
		{"chinese in character_string", setData("character_string2", map[string]any{"value": "顺丰123"}), ErrCodeArgumentInvalid, "argument invalid! data.character_string2.value invalid"},
		{"full-width tilde", setData("time3", map[string]any{"value": "15:01～16:00"}), ErrCodeArgumentInvalid, "argument invalid! data.time3.value invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := h.subscribe(tok, c.body)
			wantCode(t, rec, c.code)
			msg, _ := decode(t, rec)["errmsg"].(string)
			if !strings.HasPrefix(msg, c.msg+" rid: ") {
				t.Errorf("errmsg %q, want %q + rid", msg, c.msg)
			}
		})
	}
	if n := len(h.api.SubscribeMessages("")); n != 0 {
		t.Fatalf("%d messages recorded for refused sends", n)
	}
	if g := w.Subscription(openid, tpl.TemplateID); g.Remaining != 1 || g.Sent != 0 {
		t.Fatalf("a refused send used the acceptance: %+v", g)
	}
	// Extra keys are ignored; numbers are taken as their text.
	b := setData("number9", map[string]any{"value": 12.5})
	b["data"].(map[string]any)["character_string2"] = map[string]any{"value": 1234567890123}
	wantCode(t, h.subscribe(tok, b), ErrCodeOK)
	if d := h.api.SubscribeMessages(openid)[0].Data; d["character_string2"] != "1234567890123" || d["number9"] != "12.5" {
		t.Errorf("data %v", d)
	}
	// A removed template is unknown.
	w.RemoveTemplate(tpl.TemplateID)
	w.NoteSubscribe(openid, tpl.TemplateID, true)
	wantCode(t, h.subscribe(tok, subscribeBody(openid, tpl.TemplateID)), ErrCodeInvalidTemplateID)
}

func TestSubscribeSendTokenErrors(t *testing.T) {
	h, tpl, openid := subscribeHarness(t)
	h.api.World().NoteSubscribe(openid, tpl.TemplateID, true)
	tok := h.token()
	h.clk.Advance(2 * time.Hour)
	body := subscribeBody(openid, tpl.TemplateID)
	wantCode(t, h.subscribe(tok, body), ErrCodeAccessTokenExpired)
	wantCode(t, h.subscribe("", body), ErrCodeAccessTokenMissing)
	wantCode(t, h.subscribe("bad token!", body), ErrCodeInvalidAccessToken)
	wantCode(t, h.subscribe("86_"+strings.Repeat("z", 133), body), ErrCodeInvalidCredential)
	wantCode(t, h.do(http.MethodGet, withToken(PathSubscribeSend, h.token()), nil), ErrCodeRequirePOST)
	h.api.FailNextOn(PathSubscribeSend, 1, ErrCodeSystemBusy)
	wantCode(t, h.subscribe(h.token(), body), ErrCodeSystemBusy)
	if g := h.api.World().Subscription(openid, tpl.TemplateID); g.Remaining != 1 {
		t.Fatalf("a refused call used the acceptance: %+v", g)
	}
	if s := h.api.Stats()[PathSubscribeSend]; s.Calls != 6 || s.ErrCodes[ErrCodeAccessTokenExpired] != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestSubscribeConcurrentSendsUseEachAcceptanceOnce: 40 senders race for 10
// acceptances; exactly 10 messages go out.
func TestSubscribeConcurrentSendsUseEachAcceptanceOnce(t *testing.T) {
	h, tpl, openid := subscribeHarness(t)
	tok := h.token()
	for range 10 {
		h.api.World().NoteSubscribe(openid, tpl.TemplateID, true)
	}
	body, _ := json.Marshal(subscribeBody(openid, tpl.TemplateID))
	var wg sync.WaitGroup
	codes := make(chan int, 40)
	for range 40 {
		wg.Go(func() {
			req := httptest.NewRequest(http.MethodPost, withToken(PathSubscribeSend, tok), strings.NewReader(string(body)))
			rec := httptest.NewRecorder()
			h.api.ServeHTTP(rec, req)
			var a apiError
			_ = json.Unmarshal(rec.Body.Bytes(), &a)
			codes <- a.ErrCode
		})
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[ErrCodeOK] != 10 || count[ErrCodeNotSubscribed] != 30 {
		t.Fatalf("errcodes %v, want 10 ok and 30 × 43101", count)
	}
	ids := map[string]bool{}
	for _, m := range h.api.SubscribeMessages(openid) {
		ids[m.MsgID] = true
	}
	if len(ids) != 10 {
		t.Errorf("%d distinct msgids, want 10", len(ids))
	}
}

func TestAddTemplate(t *testing.T) {
	w := NewWorld(NewFakeClock(time.Time{}))
	if _, err := w.AddTemplate(Template{Keywords: []string{"thing1"}}); !errors.Is(err, ErrBadTemplate) {
		t.Fatalf("no app: %v", err)
	}
	w.AddApp(DefaultApp())
	tpl, err := w.AddTemplate(Template{Title: "t", Keywords: []string{"thing1", "amount2"}})
	if err != nil {
		t.Fatal(err)
	}
	if tpl.AppID != DefaultAppID || len(tpl.TemplateID) != 43 {
		t.Fatalf("template %+v", tpl)
	}
	tpl.Keywords[0] = "changed" // the World keeps its own copy
	if got, _ := w.Template(tpl.TemplateID); got.Keywords[0] != "thing1" {
		t.Fatalf("stored template changed: %+v", got)
	}
	again, err := w.AddTemplate(Template{TemplateID: tpl.TemplateID, Keywords: []string{"phrase1"}})
	if err != nil || again.TemplateID != tpl.TemplateID || len(w.Templates("")) != 1 {
		t.Fatalf("replace: %+v %v", again, err)
	}
	w.AddApp(App{AppID: "wx00000000000000bb"})
	for name, bad := range map[string]Template{
		"no keywords":        {},
		"unknown type":       {Keywords: []string{"site1"}},
		"no digits":          {Keywords: []string{"thing"}},
		"upper case":         {Keywords: []string{"Thing1"}},
		"twice":              {Keywords: []string{"thing1", "thing1"}},
		"unknown app":        {AppID: "wxnope", Keywords: []string{"thing1"}},
		"id with a space":    {TemplateID: "a b", Keywords: []string{"thing1"}},
		"another app's id":   {AppID: "wx00000000000000bb", TemplateID: tpl.TemplateID, Keywords: []string{"thing1"}},
		"too many keywords":  {Keywords: strings.Fields(strings.Repeat("thing1 ", 21))},
		"title far too long": {Title: strings.Repeat("x", 101), Keywords: []string{"thing1"}},
	} {
		if _, err := w.AddTemplate(bad); !errors.Is(err, ErrBadTemplate) {
			t.Errorf("%s: err = %v, want ErrBadTemplate", name, err)
		}
	}
	b, _ := w.AddTemplate(Template{AppID: "wx00000000000000bb", Keywords: []string{"character_string12", "phone_number3"}})
	if got := w.Templates("wx00000000000000bb"); len(got) != 1 || got[0].TemplateID != b.TemplateID {
		t.Fatalf("templates of app b: %+v", got)
	}
	if !w.RemoveTemplate(b.TemplateID) || w.RemoveTemplate(b.TemplateID) || len(w.Templates("")) != 1 {
		t.Fatal("RemoveTemplate")
	}
}

func TestKeywordValueRules(t *testing.T) {
	for _, c := range []struct {
		kind, value string
		ok          bool
	}{
		{"thing", "广州至北京", true},
		{"thing", strings.Repeat("a", 20), true},
		{"thing", strings.Repeat("a", 21), false},
		{"thing", "two\nlines", false},
		{"thing", "", false},
		{"number", "339208499", true},
		{"number", "3.14", true},
		{"number", "-1", false},
		{"number", "1e5", false},
		{"number", strings.Repeat("9", 33), false},
		{"letter", "ABCxyz", true},
		{"letter", "abc1", false},
		{"symbol", "#@!", true},
		{"symbol", "%%%%%%", false},
		{"symbol", "a", false},
		{"character_string", "SF-1234_5678", true},
		{"character_string", strings.Repeat("x", 33), false},
		{"time", "15:01", true},
		{"time", "9:05:30", true},
		{"time", "2019年10月1日 15:01", true},
		{"time", "2019年10月1日15:01", true},
		{"time", "2019-10-01 15:01~2019-10-01 17:00", true},
		{"time", "2019-10-01", true},
		{"time", "24:00", false},
		{"time", "15:1", false},
		{"time", "15:01~16:00~17:00", false},
		{"date", "2019年10月1日", true},
		{"date", "2019年10月", true},
		{"date", "10月1日", true},
		{"date", "2018-01-01", true},
		{"date", "2018/01/01", true},
		{"date", "2018.01.01", true},
		{"date", "2018-01", true},
		{"date", "01-01", true},
		{"date", "2019-12-25 09:42", true},
		{"date", "15:01", false},
		{"date", "2018-13-01", false},
		{"date", "2018-01/01", false},
		{"date", "2019年", false},
		{"amount", "￥100", true},
		{"amount", "$9.99", true},
		{"amount", "100元", true},
		{"amount", "100.50", true},
		{"amount", "￥12345678901", false},
		{"amount", "1,000", false},
		{"phone_number", "+86-0766-66888866", true},
		{"phone_number", "+86-0766-668888661", false},
		{"phone_number", "call me", false},
		{"car_number", "粤A8Z888挂", true},
		{"car_number", "粤A8Z888挂1", false},
		{"car_number", "A8粤Z888", false},
		{"name", "张三", true},
		{"name", "John Smith", true},
		{"name", strings.Repeat("张", 11), false},
		{"name", strings.Repeat("a", 21), false},
		{"name", "张" + strings.Repeat("a", 10), false},
		{"phrase", "配送中", true},
		{"phrase", "配送中了吗啊", false},
		{"phrase", "ok", false},
		{"enum", "anything", true},
	} {
		got := keywordValueProblem(c.kind, c.value)
		if (got == "") != c.ok {
			t.Errorf("%s %q: problem %q, want ok=%v", c.kind, c.value, got, c.ok)
		}
	}
}

func TestSimSubscribeEndpoints(t *testing.T) {
	h := newHarness(t)
	openid := h.api.World().NewUser().OpenID
	rec := h.do(http.MethodPost, "/_sim/templates", map[string]any{"title": "到货", "keywords": []string{"thing1", "date2"}})
	var tpl Template
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &tpl) != nil || tpl.TemplateID == "" || tpl.AppID != DefaultAppID {
		t.Fatalf("POST /_sim/templates: %d %s", rec.Code, rec.Body.String())
	}
	if rec := h.do(http.MethodPost, "/_sim/templates", map[string]any{"keywords": []string{"nope"}}); rec.Code != 400 ||
		!strings.Contains(rec.Body.String(), "nope") {
		t.Fatalf("bad template: %d %s", rec.Code, rec.Body.String())
	}
	if rec := h.do(http.MethodPost, "/_sim/templates", "x"); rec.Code != 400 {
		t.Fatalf("bad body: %d", rec.Code)
	}
	var list struct {
		Templates []Template `json:"templates"`
	}
	if err := json.Unmarshal(h.do(http.MethodGet, "/_sim/templates?appid="+DefaultAppID, nil).Body.Bytes(), &list); err != nil ||
		len(list.Templates) != 1 || list.Templates[0].Title != "到货" {
		t.Fatalf("GET /_sim/templates: %+v %v", list, err)
	}

	for _, st := range []string{"accept", "accept", "reject"} {
		if rec := h.do(http.MethodPost, "/_sim/subscriptions", map[string]any{"openid": openid, "template_id": tpl.TemplateID, "status": st}); rec.Code != 200 {
			t.Fatalf("POST /_sim/subscriptions %s: %d %s", st, rec.Code, rec.Body.String())
		}
	}
	for _, bad := range []any{map[string]any{"openid": openid, "template_id": tpl.TemplateID, "status": "maybe"},
		map[string]any{"template_id": tpl.TemplateID, "status": "accept"}, "[]"} {
		if rec := h.do(http.MethodPost, "/_sim/subscriptions", bad); rec.Code != 400 {
			t.Errorf("%v: status %d", bad, rec.Code)
		}
	}
	var subs struct {
		Subscriptions []Subscription `json:"subscriptions"`
	}
	if err := json.Unmarshal(h.do(http.MethodGet, "/_sim/subscriptions?openid="+openid, nil).Body.Bytes(), &subs); err != nil ||
		len(subs.Subscriptions) != 1 || subs.Subscriptions[0].Remaining != 2 || subs.Subscriptions[0].Status != "reject" {
		t.Fatalf("GET /_sim/subscriptions: %+v %v", subs, err)
	}

	body := map[string]any{"touser": openid, "template_id": tpl.TemplateID,
		"data": map[string]any{"thing1": map[string]any{"value": "到了"}, "date2": map[string]any{"value": "2024-04-25"}}}
	wantCode(t, h.subscribe(h.token(), body), ErrCodeOK)
	rec = h.do(http.MethodGet, "/_sim/subscribe-messages?openid="+openid, nil)
	if !regexp.MustCompile(`"msgid":"[0-9]{19}"`).Match(rec.Body.Bytes()) {
		t.Fatalf("msgid not a string of 19 digits: %s", rec.Body.String())
	}
	var msgs struct {
		Messages []SentSubscribeMessage `json:"messages"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &msgs); err != nil || len(msgs.Messages) != 1 || msgs.Messages[0].Data["thing1"] != "到了" {
		t.Fatalf("GET /_sim/subscribe-messages: %s", rec.Body.String())
	}
	if rec := h.do(http.MethodPost, "/_sim/subscriptions", map[string]any{"openid": openid, "template_id": tpl.TemplateID, "status": "cancel"}); rec.Code != 200 ||
		h.api.World().Subscription(openid, tpl.TemplateID).Remaining != 0 {
		t.Fatalf("cancel: %d %s", rec.Code, rec.Body.String())
	}
}
