package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/wxgate/wxgate/message"
)

// FuzzEvaluate feeds arbitrary pushes (decoded from arbitrary bodies in
// both formats, and texts built directly) and times to an engine with
// every kind of rule: Evaluate must never panic, and its decision must
// hold together. Seeds are in testdata/fuzz/FuzzEvaluate.
func FuzzEvaluate(f *testing.F) {
	f.Add([]byte("<xml><ToUserName>gh</ToUserName><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>人工</Content><MsgId>1</MsgId></xml>"), "hi", int64(1717500000))
	f.Add([]byte(`{"ToUserName":"gh","FromUserName":"u","CreateTime":1,"MsgType":"event","Event":"user_enter_tempsession","SessionFrom":"home"}`), "", int64(0))
	e := compile(f, `
rules:
  - match: {keyword: [hi, 你好], ignore_case: true}
    reply: hello
  - match: {contains: [人工, HUMAN], ignore_case: true}
    reply: transferring
    transfer: true
  - match: {regex: '(?s)^(order|订单)\s*\d+.*$'}
    reply: order
    continue: false
  - match: {enter_session: true, session_from: home}
    reply: welcome home
  - match: {enter_session: true}
    reply: welcome
    typing: true
fallback: {reply: "?", transfer: true}
office_hours: {time_zone: America/New_York, windows: ["mon-fri 09:00-18:00", "sat 22:00-02:00"], away: closed}
`)
	check := func(t *testing.T, p message.Push, now time.Time) {
		d := e.Evaluate(p, now)
		switch {
		case d.Passive != nil && (!d.Matched() || message.KindOf(p).MsgType == message.MsgTypeEvent):
			t.Fatalf("passive reply for %v: %+v", message.KindOf(p), d)
		case !d.Continue && d.Rule != "rules[2]":
			t.Fatalf("stopped by %q", d.Rule)
		case d.Away.Due && (d.Away.Period.After(now.Add(2*time.Hour)) || d.Away.Period.Before(now.Add(-8*24*time.Hour))):
			t.Fatalf("closed period %v for %v", d.Away.Period, now)
		case d.Matched() && d.OpenID == "":
			t.Fatal("a decision for no user")
		}
		for _, m := range d.Send {
			if m.MsgType != MsgText || m.Text == "" {
				t.Fatalf("send %+v", m)
			}
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, text string, unix int64) {
		now := time.Unix(unix%(1<<40), 0) // within years ±35000
		for _, format := range []message.Format{message.FormatXML, message.FormatJSON} {
			if p, err := message.Decode(body, format); err == nil {
				check(t, p, now)
			}
		}
		check(t, textMsg("u", text), now)
		check(t, enterSession("u", text), now)
		// The allocation-free search agrees with lowering then searching.
		lowered := strings.Map(func(r rune) rune {
			if 'A' <= r && r <= 'Z' {
				return r + 'a' - 'A'
			}
			return r
		}, text)
		for _, w := range []string{"order", "a", "hi there", "zz"} {
			if got, want := containsFoldASCII(text, w), strings.Contains(lowered, w); got != want {
				t.Fatalf("containsFoldASCII(%q, %q) = %v", text, w, got)
			}
		}
	})
}
