package wechatsim

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wxgate/wxgate/message"
)

func TestSampleOverrides(t *testing.T) {
	c := newTestClient(t, ClientConfig{Handler: okHandler(""), OpenID: "oFixedUser", Clock: NewFakeClock(time.Time{})})
	p, err := c.Sample("text", map[string]string{"Content": "hello"})
	if err != nil {
		t.Fatal(err)
	}
	txt := p.(*message.Text)
	if txt.Content != "hello" || txt.FromUserName != "oFixedUser" || txt.ToUserName != c.OriginalID() || len(txt.MsgID) != 19 {
		t.Fatalf("%+v", txt)
	}

	p, err = c.Sample("xpay_goods_deliver_notify", map[string]string{
		"GoodsInfo.Quantity": "3", "GoodsInfo.ProductId": "sword", "Env": "1", "Extra.Note": "x", "NewField": "42",
	})
	if err != nil {
		t.Fatal(err)
	}
	x := p.(*message.XPayGoodsDeliverNotify)
	if x.GoodsInfo.Quantity != 3 || x.GoodsInfo.ProductID != "sword" || x.Env != 1 || x.OpenID != "oFixedUser" || x.OutTradeNo == "" {
		t.Fatalf("%+v", x)
	}
	if v, ok := x.Get("NewField"); !ok || v.Kind != message.ValueString || v.Text != "42" {
		t.Fatalf("new field %+v", v)
	}
	if v, ok := x.Get("Extra"); !ok || v.Kind != message.ValueObject {
		t.Fatalf("nested new field %+v", v)
	}

	p, err = c.Sample("subscribe_msg_popup_event", map[string]string{
		"List": `[{"TemplateId":"a","SubscribeStatusString":"accept","PopupScene":0},{"TemplateId":"b","SubscribeStatusString":"reject","PopupScene":0}]`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if l := p.(*message.SubscribeMsgPopupEvent).List; len(l) != 2 || l[1].SubscribeStatusString != "reject" {
		t.Fatalf("%+v", l)
	}
	p, err = c.Sample("wxa_media_check", map[string]string{"detail.0.prob": "10", "result.suggest": "risky"})
	if err != nil {
		t.Fatal(err)
	}
	if m := p.(*message.MediaCheck); m.Detail[0].Prob != 10 || m.Result.Suggest != "risky" || m.Version != 2 {
		t.Fatalf("%+v", m)
	}
	// An event without a typed model: header plus fields.
	p, err = c.Sample("secvod_upload_event", map[string]string{"WaybillId": "SF123"})
	if err != nil {
		t.Fatal(err)
	}
	u, ok := p.(*message.Unknown)
	if !ok || u.Event != "secvod_upload_event" || u.MsgType != "event" {
		t.Fatalf("%T %+v", p, p)
	}
	if v, _ := u.Get("WaybillId"); v.Text != "SF123" {
		t.Fatalf("%+v", u.Fields)
	}
	// Aliases and header overrides.
	p, _ = c.Sample(KindCard, map[string]string{"FromUserName": "oOther", "CreateTime": "1700000000"})
	if card := p.(*message.MiniProgramPage); card.FromUserName != "oOther" || card.CreateTime != 1700000000 || card.AppID != tAppID {
		t.Fatalf("%+v", card)
	}
	if p, _ := c.Sample(KindEnter, nil); p.(*message.UserEnterTempSession).SessionFrom == "" {
		t.Fatal("enter")
	}
	for _, bad := range []map[string]string{{"detail.9.prob": "1"}, {"detail.x": "1"}, {"version.x": "1"}, {"": "x"}} {
		if _, err := c.Sample("wxa_media_check", bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	for _, bad := range []string{"", "a b", `x"y`} {
		if _, err := c.Sample(bad, nil); err == nil {
			t.Errorf("kind %q accepted", bad)
		}
	}
}

func TestSampleUsersAndEvents(t *testing.T) {
	clock := NewFakeClock(time.Time{})
	w := NewWorld(clock)
	a, b := w.NewUser(), w.NewUser()
	c := newTestClient(t, ClientConfig{Handler: okHandler(""), World: w})
	// Messages rotate through the World's users.
	p1, _ := c.Sample("text", nil)
	p2, _ := c.Sample("text", nil)
	p3, _ := c.Sample("text", nil)
	if p1.Head().FromUserName != a.OpenID || p2.Head().FromUserName != b.OpenID || p3.Head().FromUserName != a.OpenID {
		t.Fatal("rotation")
	}
	// Three events of one kind in one second need three users: a new one
	// joins the World.
	seen := map[string]bool{}
	for range 3 {
		p, _ := c.Sample(KindEnter, nil)
		seen[p.Head().FromUserName] = true
	}
	if len(seen) != 3 || len(w.Users()) != 3 {
		t.Fatalf("users %v, world %d", seen, len(w.Users()))
	}
	// Without a World the client makes its own openids.
	c2 := newTestClient(t, ClientConfig{Handler: okHandler("")})
	p, _ := c2.Sample("text", nil)
	if id := p.Head().FromUserName; len(id) != 28 || id[0] != 'o' {
		t.Fatalf("openid %q", id)
	}
}

func TestMsgIDsAndEchostr(t *testing.T) {
	clock := NewFakeClock(time.Time{})
	c := newTestClient(t, ClientConfig{Handler: okHandler(""), Clock: clock})
	var mu sync.Mutex
	var ids []uint64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				id := c.NextMsgID()
				n, err := strconv.ParseUint(string(id), 10, 64)
				if err != nil || len(id) != 19 {
					t.Errorf("MsgId %q", id)
				}
				mu.Lock()
				ids = append(ids, n)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	uniq := map[uint64]bool{}
	for _, id := range ids {
		uniq[id] = true
	}
	if len(uniq) != 400 {
		t.Fatal("duplicate MsgIds")
	}
	before, _ := strconv.ParseUint(string(c.NextMsgID()), 10, 64)
	clock.Advance(time.Hour)
	after, _ := strconv.ParseUint(string(c.NextMsgID()), 10, 64)
	if after <= before || after>>32 != uint64(clock.Now().Unix()) {
		t.Fatal("MsgIds do not follow the clock")
	}
	for range 100 {
		if e := randomEchostr(); len(e) != 19 || e[0] == '0' {
			t.Fatalf("echostr %q", e)
		}
		if n := randomNonce(); len(n) < 9 || len(n) > 10 {
			t.Fatalf("nonce %q", n)
		}
	}
}
