package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wxgate/wxgate/wechatsim"
)

// subscribeSim has a template with one keyword of each type the tests use,
// and a user who has not accepted it yet.
func subscribeSim(t *testing.T) (*sim, *Client, wechatsim.Template, string) {
	t.Helper()
	s := newSim(t)
	tpl, err := s.api.World().AddTemplate(wechatsim.Template{Title: "发货提醒",
		Keywords: []string{"thing1", "character_string2", "date3", "amount4"}})
	if err != nil {
		t.Fatal(err)
	}
	return s, s.client(t), tpl, s.api.World().NewUser().OpenID
}

func shipped(openid, templateID string) SubscribeMessage {
	return SubscribeMessage{
		ToUser: openid, TemplateID: templateID, Page: "pages/order/index?id=7&from=notice",
		MiniProgramState: StateTrial, Lang: LangEnUS,
		Data: SubscribeData{"thing1": "Parcel <b> & co", "character_string2": "SF1234567890",
			"date3": "2024年4月25日 15:01", "amount4": "￥99.50"},
	}
}

func TestSendSubscribeMessage(t *testing.T) {
	s, c, tpl, openid := subscribeSim(t)
	ctx := context.Background()
	w := s.api.World()

	_, err := c.SendSubscribeMessage(ctx, shipped(openid, tpl.TemplateID))
	if !errors.Is(err, ErrNotSubscribed) {
		t.Fatalf("before acceptance: err = %v, want ErrNotSubscribed", err)
	}
	var ae *Error
	if !errors.As(err, &ae) || ae.Code != 43101 || ae.Op != "cgi-bin/message/subscribe/send" ||
		ae.Msg != "user refuse to accept the msg" || ae.RID == "" {
		t.Fatalf("err = %#v", err)
	}
	if n := s.calls(wechatsim.PathSubscribeSend); n != 1 {
		t.Fatalf("43101 was retried: %d calls", n)
	}

	w.NoteSubscribe(openid, tpl.TemplateID, true) // the popup's accept
	msgID, err := c.SendSubscribeMessage(ctx, shipped(openid, tpl.TemplateID))
	if err != nil {
		t.Fatal(err)
	}
	sent := s.api.SubscribeMessages(openid)
	if len(sent) != 1 || sent[0].MsgID != msgID || len(msgID) != 19 {
		t.Fatalf("msgid %q, mock recorded %+v", msgID, sent)
	}
	var body map[string]any
	if err := json.Unmarshal(sent[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"touser": openid, "template_id": tpl.TemplateID, "page": "pages/order/index?id=7&from=notice",
		"miniprogram_state": "trial", "lang": "en_US",
		"data": map[string]any{
			"thing1":            map[string]any{"value": "Parcel <b> & co"},
			"character_string2": map[string]any{"value": "SF1234567890"},
			"date3":             map[string]any{"value": "2024年4月25日 15:01"},
			"amount4":           map[string]any{"value": "￥99.50"},
		},
	}
	if got, _ := json.Marshal(body); !bytes.Equal(got, mustJSON(t, want)) {
		t.Errorf("body\n got %s\nwant %s", got, mustJSON(t, want))
	}
	if bytes.Contains(sent[0].Body, []byte(`\u003c`)) || bytes.Contains(sent[0].Body, []byte(`\u0026`)) {
		t.Errorf("body was HTML-escaped: %s", sent[0].Body)
	}

	// One acceptance, one message; nothing sent twice.
	if _, err := c.SendSubscribeMessage(ctx, shipped(openid, tpl.TemplateID)); !errors.Is(err, ErrNotSubscribed) {
		t.Fatalf("second send: %v", err)
	}
	// Optional fields stay out of the body.
	w.NoteSubscribe(openid, tpl.TemplateID, true)
	m := shipped(openid, tpl.TemplateID)
	m.Page, m.MiniProgramState, m.Lang = "", "", ""
	if _, err := c.SendSubscribeMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	last := s.api.SubscribeMessages(openid)[1].Body
	for _, k := range []string{`"page"`, `"miniprogram_state"`, `"lang"`} {
		if bytes.Contains(last, []byte(k)) {
			t.Errorf("empty %s sent: %s", k, last)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSendSubscribeMessageErrors(t *testing.T) {
	s, c, tpl, openid := subscribeSim(t)
	ctx := context.Background()
	w := s.api.World()
	w.NoteSubscribe(openid, tpl.TemplateID, true)

	if _, err := c.SendSubscribeMessage(ctx, shipped("oNobody", tpl.TemplateID)); !errors.Is(err, ErrInvalidOpenID) {
		t.Errorf("unknown user: %v", err)
	}
	if _, err := c.SendSubscribeMessage(ctx, shipped(openid, "no-such-template")); !errors.Is(err, ErrInvalidTemplateID) {
		t.Errorf("unknown template: %v", err)
	}
	// The template's keywords are known only to WeChat: a missing one is 47003.
	m := shipped(openid, tpl.TemplateID)
	delete(m.Data, "amount4")
	_, err := c.SendSubscribeMessage(ctx, m)
	var ae *Error
	if !errors.Is(err, ErrTemplateData) || !errors.As(err, &ae) || ae.Msg != "argument invalid! data.amount4.value is empty" {
		t.Errorf("missing keyword: %v", err)
	}
	s.api.FailNextOn(wechatsim.PathSubscribeSend, 1, 41030)
	if _, err := c.SendSubscribeMessage(ctx, shipped(openid, tpl.TemplateID)); !errors.Is(err, ErrInvalidPage) {
		t.Errorf("41030: %v", err)
	}
	if n := s.calls(wechatsim.PathSubscribeSend); n != 4 {
		t.Errorf("%d calls, want 4: errors must not be retried", n)
	}
	if g := w.Subscription(openid, tpl.TemplateID); g.Remaining != 1 {
		t.Fatalf("refused sends used the acceptance: %+v", g)
	}

	// -1 is retried, and a revoked token is replaced once.
	s.api.FailNextOn(wechatsim.PathSubscribeSend, 1, -1)
	if _, err := c.SendSubscribeMessage(ctx, shipped(openid, tpl.TemplateID)); err != nil {
		t.Fatalf("after -1: %v", err)
	}
	w.NoteSubscribe(openid, tpl.TemplateID, true)
	s.api.RevokeTokens()
	if _, err := c.SendSubscribeMessage(ctx, shipped(openid, tpl.TemplateID)); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if inv := c.TokenCache().Stats().Invalidations; inv != 1 {
		t.Errorf("invalidations = %d, want 1", inv)
	}
	if n := len(s.api.SubscribeMessages(openid)); n != 2 {
		t.Errorf("%d messages sent, want 2", n)
	}
	s.api.FailNextOn(wechatsim.PathSubscribeSend, 2, 40001)
	w.NoteSubscribe(openid, tpl.TemplateID, true)
	_, err = c.SendSubscribeMessage(ctx, shipped(openid, tpl.TemplateID))
	if !errors.Is(err, ErrTokenRejected) {
		t.Fatalf("40001 twice: %v", err)
	}
	s.checkNoSecret(t, err.Error())
	s.checkNoSecret(t, ae.Error())
}

func TestSubscribeMessageValidate(t *testing.T) {
	s, c, tpl, openid := subscribeSim(t)
	ok := shipped(openid, tpl.TemplateID)
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid message: %v", err)
	}
	edit := func(f func(*SubscribeMessage)) SubscribeMessage {
		m := shipped(openid, tpl.TemplateID)
		m.Data = SubscribeData{}
		for k, v := range ok.Data {
			m.Data[k] = v
		}
		f(&m)
		return m
	}
	const secretValue = "13800138000-private"
	for _, tc := range []struct {
		name  string
		m     SubscribeMessage
		also  error
		field string
	}{
		{"empty touser", edit(func(m *SubscribeMessage) { m.ToUser = " " }), ErrInvalidOpenID, "touser"},
		{"touser with newline", edit(func(m *SubscribeMessage) { m.ToUser = "o1\n" }), ErrInvalidOpenID, "touser"},
		{"empty template", edit(func(m *SubscribeMessage) { m.TemplateID = "" }), ErrInvalidTemplateID, "template_id"},
		{"template with space", edit(func(m *SubscribeMessage) { m.TemplateID = "a b" }), ErrInvalidTemplateID, "template_id"},
		{"page URL", edit(func(m *SubscribeMessage) { m.Page = "https://example.com" }), ErrInvalidPage, "page"},
		{"page space", edit(func(m *SubscribeMessage) { m.Page = "pages/a b" }), ErrInvalidPage, "page"},
		{"page huge", edit(func(m *SubscribeMessage) { m.Page = strings.Repeat("p", 2000) }), ErrInvalidPage, "page"},
		{"state", edit(func(m *SubscribeMessage) { m.MiniProgramState = "release" }), nil, "miniprogram_state"},
		{"lang", edit(func(m *SubscribeMessage) { m.Lang = "zh-CN" }), nil, "lang"},
		{"no data", edit(func(m *SubscribeMessage) { m.Data = nil }), ErrTemplateData, "data"},
		{"bad key", edit(func(m *SubscribeMessage) { m.Data["Thing1"] = "x" }), ErrTemplateData, "Thing1"},
		{"key without digits", edit(func(m *SubscribeMessage) { m.Data["thing"] = "x" }), ErrTemplateData, "thing"},
		{"empty value", edit(func(m *SubscribeMessage) { m.Data["thing1"] = "  " }), ErrTemplateData, "data.thing1.value is empty"},
		{"thing 21", edit(func(m *SubscribeMessage) { m.Data["thing1"] = strings.Repeat("长", 21) }), ErrTemplateData, "data.thing1.value"},
		{"control", edit(func(m *SubscribeMessage) { m.Data["thing1"] = "a\tb" }), ErrTemplateData, "data.thing1.value"},
		{"invalid utf-8", edit(func(m *SubscribeMessage) { m.Data["thing1"] = "a\xffb" }), ErrTemplateData, "data.thing1.value"},
		{"phone with letters", edit(func(m *SubscribeMessage) { m.Data["phone_number5"] = secretValue }), ErrTemplateData, "data.phone_number5.value"},
	} {
		err := tc.m.Validate()
		if !errors.Is(err, ErrInvalidArgument) || (tc.also != nil && !errors.Is(err, tc.also)) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument and %v", tc.name, err, tc.also)
			continue
		}
		if !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: %q does not name %s", tc.name, err, tc.field)
		}
		if strings.Contains(err.Error(), secretValue) || strings.Contains(err.Error(), "长长") {
			t.Errorf("%s: the error shows the value: %q", tc.name, err)
		}
	}
	// Invalid messages never make a round trip.
	bad := edit(func(m *SubscribeMessage) { m.Data["date3"] = "tomorrow" })
	if _, err := c.SendSubscribeMessage(context.Background(), bad); !errors.Is(err, ErrTemplateData) {
		t.Fatalf("err = %v", err)
	}
	if n := s.calls(wechatsim.PathSubscribeSend); n != 0 {
		t.Errorf("%d round trips for an invalid message", n)
	}
}

// TestKeywordRulesAgreeWithMock checks the client's rules against the
// mock's, value by value: what Validate accepts the mock accepts, and the
// other way round.
func TestKeywordRulesAgreeWithMock(t *testing.T) {
	s := newSim(t)
	c := s.client(t)
	ctx := context.Background()
	w := s.api.World()
	openid := w.NewUser().OpenID
	cases := []struct {
		key, value string
		ok         bool
	}{
		{"thing1", "广州至北京 T1", true}, {"thing1", strings.Repeat("x", 21), false},
		{"number1", "42", true}, {"number1", "4.2", true}, {"number1", "4,2", false}, {"number1", "-4", false},
		{"letter1", "abcXYZ", true}, {"letter1", "abc def", false},
		{"symbol1", "#-!", true}, {"symbol1", "#-!@%^", false}, {"symbol1", "#1", false},
		{"character_string1", "AB-12_cd/34", true}, {"character_string1", "AB单号", false},
		{"time1", "15:01", true}, {"time1", "15:01:59", true}, {"time1", "2019年10月1日 15:01", true},
		{"time1", "2019-10-01 08:00~2019-10-01 09:30", true}, {"time1", "25:00", false}, {"time1", "8pm", false},
		{"date1", "2019年10月1日", true}, {"date1", "10月1日", true}, {"date1", "2018/01/01", true}, {"date1", "01-01", true},
		{"date1", "2019-12-25 09:42", true}, {"date1", "2018-02-30x", false}, {"date1", "09:42", false}, {"date1", "2019年13月1日", false},
		{"amount1", "￥100", true}, {"amount1", "100.50元", true}, {"amount1", "$0.99", true}, {"amount1", "12345678901", false}, {"amount1", "100 USD", false},
		{"phone_number1", "+86-0766-66888866", true}, {"phone_number1", "(020) 8888 8888", true}, {"phone_number1", "020 ext. 5", false},
		{"car_number1", "粤A8Z888挂", true}, {"car_number1", "粤A8Z888", true}, {"car_number1", "A-8Z888", false},
		{"name1", "张三", true}, {"name1", "Zhang San", true}, {"name1", "张三" + strings.Repeat("丰", 9), false}, {"name1", strings.Repeat("Z", 21), false},
		{"phrase1", "配送中", true}, {"phrase1", "已配送完成了", false}, {"phrase1", "go", false},
		{"enum1", "A", true},
	}
	kws := map[string]bool{}
	for _, tc := range cases {
		kws[tc.key] = true
	}
	for _, tc := range cases {
		tpl, err := w.AddTemplate(wechatsim.Template{Keywords: []string{tc.key}})
		if err != nil {
			t.Fatal(err)
		}
		m := SubscribeMessage{ToUser: openid, TemplateID: tpl.TemplateID, Data: SubscribeData{tc.key: tc.value}}
		if err := m.Validate(); (err == nil) != tc.ok {
			t.Errorf("client: %s %q: %v, want ok=%v", tc.key, tc.value, err, tc.ok)
		}
		w.NoteSubscribe(openid, tpl.TemplateID, true)
		err = c.PostJSON(ctx, "cgi-bin/message/subscribe/send", &m, nil) // no local check
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrTemplateData)) {
			t.Errorf("mock: %s %q: %v, want ok=%v", tc.key, tc.value, err, tc.ok)
		}
	}
}

func TestSubscribeDataJSON(t *testing.T) {
	d := SubscribeData{"thing1": "a<b>&\"c\"", "amount2": "￥1"}
	b, err := marshal(d) // as the client sends it; json.Marshal would escape <, > and &
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"amount2":{"value":"￥1"},"thing1":{"value":"a<b>&\"c\""}}`; string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
	for in, want := range map[string]SubscribeData{
		string(b): d,
		`{"thing1":"flat","number2":12345678901234567890,"amount3":{"value":1.5},"x4":{"value":null}}`: {
			"thing1": "flat", "number2": "12345678901234567890", "amount3": "1.5", "x4": ""},
		`{"thing1":{"value":"v","color":"#173177"}}`: {"thing1": "v"},
		`null`: nil,
		`{}`:   {},
	} {
		var got SubscribeData
		if err := json.Unmarshal([]byte(in), &got); err != nil {
			t.Errorf("Unmarshal(%s): %v", in, err)
			continue
		}
		if len(got) != len(want) || (got == nil) != (want == nil) {
			t.Errorf("Unmarshal(%s) = %#v, want %#v", in, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("Unmarshal(%s)[%s] = %q, want %q", in, k, got[k], v)
			}
		}
	}
	for _, in := range []string{`"x"`, `[1]`, `{"thing1":true}`, `{"thing1":{"value":[1]}}`, `{"thing1":{"value":{}}}`, `{"thing1":{"value"`} {
		var got SubscribeData
		if err := json.Unmarshal([]byte(in), &got); err == nil {
			t.Errorf("Unmarshal(%s) = %v, want an error", in, got)
		}
	}
	// A request in WeChat's own shape decodes into SubscribeMessage.
	var m SubscribeMessage
	in := `{"touser":"o1","template_id":"T","page":"index","miniprogram_state":"developer","lang":"zh_CN","data":{"phrase3":{"value":"审核通过"},"name1":{"value":"订阅"},"date2":{"value":"2019-12-25 09:42"}}}`
	if err := json.Unmarshal([]byte(in), &m); err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil || m.MiniProgramState != StateDeveloper || m.Data["date2"] != "2019-12-25 09:42" {
		t.Fatalf("%+v: %v", m, err)
	}
}

func TestMsgIDText(t *testing.T) {
	for in, want := range map[string]string{
		`1864323726461255680`:   "1864323726461255680", // beyond float64 precision: kept exact
		`"1864323726461255680"`: "1864323726461255680",
		``:                      "",
		`null`:                  "",
		`1.5`:                   "",
		`-3`:                    "",
		`{"a":1}`:               "",
		`"12ab"`:                "",
	} {
		if got := msgIDText(json.RawMessage(in)); got != want {
			t.Errorf("msgIDText(%s) = %q, want %q", in, got, want)
		}
	}
}
