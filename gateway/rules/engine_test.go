package rules

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wxgate/wxgate/gateway/config"
	"github.com/wxgate/wxgate/message"
)

var noon = time.Date(2025, 6, 4, 12, 0, 0, 0, time.UTC) // a Wednesday

// TestMatchKinds checks each kind of match against pushes that should and
// should not match.
func TestMatchKinds(t *testing.T) {
	e := compile(t, `
rules:
  - name: kw
    match: {keyword: [price, 价格]}
    reply: kw
  - name: kw-fold
    match: {keyword: Hello, ignore_case: true}
    reply: kw-fold
  - name: contains
    match: {contains: [refund, 退款]}
    reply: contains
  - name: contains-fold
    match: {contains: ORDER, ignore_case: true}
    reply: contains-fold
  - name: contains-mixed
    match: {contains: [人工HELP, Straße], ignore_case: true}
    reply: contains-mixed
  - name: regex
    match: {regex: '^track\s+\d{6}$'}
    reply: regex
  - name: regex-fold
    match: {regex: '^ship(ping)?$', ignore_case: true}
    reply: regex-fold
  - name: enter-home
    match: {enter_session: true, session_from: home}
    reply: enter-home
  - name: enter-empty
    match: {enter_session: true, session_from: ""}
    reply: enter-empty
  - name: enter-any
    match: {enter_session: true}
    reply: enter-any
`)
	tests := []struct {
		name string
		push message.Push
		rule string
	}{
		{"keyword", textMsg("u", "price"), "kw"},
		{"keyword trimmed", textMsg("u", "  price\n"), "kw"},
		{"keyword ideographic space", textMsg("u", "\u3000价格\u3000"), "kw"},
		{"keyword is exact", textMsg("u", "price?"), ""},
		{"keyword is case-sensitive", textMsg("u", "PRICE"), ""},
		{"keyword ignore_case", textMsg("u", "hELLo"), "kw-fold"},
		{"contains", textMsg("u", "I want a refund now"), "contains"},
		{"contains chinese", textMsg("u", "我要退款"), "contains"},
		{"contains is case-sensitive", textMsg("u", "REFUND"), ""},
		{"contains ignore_case", textMsg("u", "my Order is late"), "contains-fold"},
		{"contains ignore_case, non-ASCII word", textMsg("u", "要人工help"), "contains-mixed"},
		{"contains ignore_case, non-ASCII letters", textMsg("u", "STRAßE 5"), "contains-mixed"},
		{"contains ignore_case, no partial word", textMsg("u", "ORDE"), ""},
		{"regex", textMsg("u", "track 123456"), "regex"},
		{"regex anchored", textMsg("u", "track 1234567"), ""},
		{"regex on trimmed text", textMsg("u", " track  123456 \n"), "regex"},
		{"regex ignore_case", textMsg("u", "SHIPPING"), "regex-fold"},
		{"regex case-sensitive", textMsg("u", "TRACK 123456"), ""},
		{"enter with session_from", enterSession("u", "home"), "enter-home"},
		{"enter with empty session_from", enterSession("u", ""), "enter-empty"},
		{"enter with another session_from", enterSession("u", "cart"), "enter-any"},
		{"text does not match enter", textMsg("u", "home"), ""},
		{"enter does not match text rules", enterSession("u", "price"), "enter-any"},
		{"image matches no text rule", imageMsg("u"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := e.Evaluate(tt.push, noon)
			if d.Rule != tt.rule {
				t.Fatalf("rule %q, want %q", d.Rule, tt.rule)
			}
			if tt.rule != "" && (len(d.Send) != 1 || d.Send[0].Text != tt.rule || d.Send[0].Rule != tt.rule) {
				t.Errorf("send %+v", d.Send)
			}
			if tt.rule == "" && (d.Send != nil || d.Matched()) {
				t.Errorf("no rule, but send %+v", d.Send)
			}
			if !d.Continue || d.Typing || d.Passive != nil || d.OpenID != "u" {
				t.Errorf("decision %+v", d)
			}
		})
	}
}

// TestFirstMatchWins checks that rules are tried in order.
func TestFirstMatchWins(t *testing.T) {
	e := compile(t, `
rules:
  - match: {contains: help}
    reply: first
  - match: {keyword: help}
    reply: second
  - match: {regex: .}
    reply: third
`)
	for _, tt := range []struct{ in, rule, text string }{
		{"help", "rules[0]", "first"},
		{"help me", "rules[0]", "first"},
		{"x", "rules[2]", "third"},
	} {
		d := e.Evaluate(textMsg("u", tt.in), noon)
		if d.Rule != tt.rule || d.Send[0].Text != tt.text {
			t.Errorf("%q: rule %q sends %v, want %s", tt.in, d.Rule, texts(d.Send), tt.rule)
		}
	}
}

// TestFallback checks that the fallback answers user messages no rule
// matched, and never events.
func TestFallback(t *testing.T) {
	e := compile(t, `
rules:
  - match: {keyword: hi}
    reply: hello
  - match: {enter_session: true, session_from: home}
    reply: welcome
fallback:
  reply: ["sorry?", "type 人工 for a person"]
  typing: true
`)
	check := func(name string, p message.Push, rule string, send []string) {
		t.Helper()
		d := e.Evaluate(p, noon)
		if d.Rule != rule || !reflect.DeepEqual(texts(d.Send), send) {
			t.Errorf("%s: rule %q sends %q, want %q %q", name, d.Rule, texts(d.Send), rule, send)
		}
	}
	check("rule", textMsg("u", "hi"), "rules[0]", []string{"hello"})
	check("text", textMsg("u", "what?"), "fallback", []string{"sorry?", "type 人工 for a person"})
	check("image", imageMsg("u"), "fallback", []string{"sorry?", "type 人工 for a person"})
	check("enter without a rule", enterSession("u", "cart"), "", []string{})
	check("other event", popupEvent("u"), "", []string{})
	if d := e.Evaluate(textMsg("u", "x"), noon); !d.Typing || d.Send[0].Rule != "fallback" {
		t.Errorf("fallback decision %+v", d)
	}

	bare := compile(t, "rules:\n  - match: {keyword: hi}\n    reply: hello\n")
	if d := bare.Evaluate(textMsg("u", "other"), noon); d.Matched() || !d.Continue || d.Send != nil {
		t.Errorf("no fallback: %+v", d)
	}
}

// TestTransfer checks that transfer answers user messages passively.
func TestTransfer(t *testing.T) {
	e := compile(t, `
rules:
  - match: {contains: 人工}
    reply: 正在为您转接人工客服
    transfer: true
  - match: {keyword: bye}
    reply: bye
fallback:
  transfer: true
`)
	d := e.Evaluate(textMsg("u", "转人工"), noon)
	if d.Passive == nil || d.Rule != "rules[0]" || !d.Continue || len(d.Send) != 1 {
		t.Fatalf("decision %+v", d)
	}
	body, err := d.Passive.AppendReply(nil, textMsg("u", "转人工").Head(), message.FormatXML, 1700000001)
	if err != nil || !strings.Contains(string(body), "<MsgType><![CDATA[transfer_customer_service]]></MsgType>") ||
		!strings.Contains(string(body), "<ToUserName><![CDATA[u]]></ToUserName>") {
		t.Errorf("passive reply %s, %v", body, err)
	}
	if d := e.Evaluate(textMsg("u", "bye"), noon); d.Passive != nil {
		t.Error("a rule without transfer answers passively")
	}
	if d := e.Evaluate(imageMsg("u"), noon); d.Passive == nil || d.Rule != "fallback" {
		t.Errorf("fallback transfer: %+v", d)
	}
	for _, p := range []message.Push{enterSession("u", ""), popupEvent("u")} {
		if d := e.Evaluate(p, noon); d.Passive != nil {
			t.Errorf("%s answered passively", message.KindOf(p))
		}
	}
}

// TestTransferOnEventRefused checks that Compile refuses transfer on an
// enter_session rule built in code (config refuses it too: see the
// config tests).
func TestTransferOnEventRefused(t *testing.T) {
	cfg := config.Rules{Rules: []config.Rule{{
		Match:   config.Match{EnterSession: true},
		Actions: config.Actions{Transfer: true, Continue: true},
	}}}
	_, err := Compile("shop", cfg)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "rules[0].transfer") {
		t.Fatalf("err = %v", err)
	}
}

// TestContinueAndTyping checks continue: false and typing.
func TestContinueAndTyping(t *testing.T) {
	e := compile(t, `
rules:
  - name: stop
    match: {keyword: stop}
    reply: stopped
    continue: false
  - name: quiet
    match: {keyword: quiet}
    continue: false
  - name: think
    match: {keyword: think}
    typing: true
  - name: pass
    match: {keyword: pass}
    continue: true
`)
	for _, tt := range []struct {
		in           string
		cont, typing bool
		sends        int
		rule         string
	}{
		{"stop", false, false, 1, "stop"},
		{"quiet", false, false, 0, "quiet"},
		{"think", true, true, 0, "think"},
		{"pass", true, false, 0, "pass"},
		{"other", true, false, 0, ""},
	} {
		d := e.Evaluate(textMsg("u", tt.in), noon)
		if d.Continue != tt.cont || d.Typing != tt.typing || len(d.Send) != tt.sends || d.Rule != tt.rule {
			t.Errorf("%s: %+v", tt.in, d)
		}
	}
}

// TestNotAnswered checks the pushes the rules never answer.
func TestNotAnswered(t *testing.T) {
	e := compile(t, `
rules:
  - match: {regex: "."}
    reply: x
fallback: {reply: y}
office_hours: {time_zone: UTC, windows: ["mon 09:00-10:00"], away: closed}
`)
	var nilText *message.Text
	for name, p := range map[string]message.Push{
		"nil":          nil,
		"nil pointer":  nilText,
		"no openid":    textMsg("", "x"),
		"other event":  popupEvent("u"),
		"no msgtype":   &message.Unknown{Header: hdr("u", "", "")},
		"unknown kind": &message.Unknown{Header: hdr("u", message.MsgTypeEvent, "brand_new_event")},
	} {
		d := e.Evaluate(p, noon)
		if !reflect.DeepEqual(d, Decision{Continue: true, OpenID: d.OpenID}) || d.Away.Due {
			t.Errorf("%s: %+v", name, d)
		}
	}
	// A message type the model does not know is still a user message.
	if d := e.Evaluate(&message.Unknown{Header: hdr("u", "voice", "")}, noon); d.Rule != "fallback" || !d.Away.Due {
		t.Errorf("unknown message type: %+v", d)
	}
}

// TestCompileErrors checks what Compile refuses in rules built in code.
func TestCompileErrors(t *testing.T) {
	text := []config.Message{{Text: "x"}}
	tests := []struct {
		name string
		cfg  config.Rules
		want string
	}{
		{"no match", config.Rules{Rules: []config.Rule{{Actions: config.Actions{Reply: text}}}}, "rules[0].match: needs exactly one"},
		{"two matches", config.Rules{Rules: []config.Rule{{Match: config.Match{Keyword: []string{"a"}, Regex: "b"}}}}, "has 2"},
		{"bad regex", config.Rules{Rules: []config.Rule{{Match: config.Match{Regex: "(a"}}}}, "rules[0].match: regex is not a valid regular expression: missing closing )"},
		{"empty keyword", config.Rules{Rules: []config.Rule{{Match: config.Match{Keyword: []string{" "}}}}}, "keyword: empty"},
		{"empty message", config.Rules{Rules: []config.Rule{{Match: config.Match{Keyword: []string{"a"}}, Actions: config.Actions{Reply: []config.Message{{}}}}}}, "rules[0].reply[0]: must be exactly one"},
		{"two kinds", config.Rules{Fallback: &config.Actions{Reply: []config.Message{{Text: "a", Image: "b"}}}}, "fallback.reply[0]"},
		{"card without thumb", config.Rules{Fallback: &config.Actions{Reply: []config.Message{{MiniProgramPage: &config.MiniProgramPage{Title: "t", PagePath: "p"}}}}}, "needs thumb_media"},
		{"duplicate name", config.Rules{Rules: []config.Rule{{Name: "a", Match: config.Match{Keyword: []string{"a"}}}, {Name: "a", Match: config.Match{Keyword: []string{"b"}}}}}, `rules[1].name: "a" is taken`},
		{"reserved name", config.Rules{Rules: []config.Rule{{Name: "away", Match: config.Match{Keyword: []string{"a"}}}}}, `"away" is taken`},
		{"time zone", config.Rules{OfficeHours: &config.OfficeHours{TimeZone: "Mars/Olympus", Windows: []config.Window{{Days: [7]bool{1: true}, Start: 60, End: 120}}, Away: text}}, "office_hours: time_zone"},
		{"no windows", config.Rules{OfficeHours: &config.OfficeHours{TimeZone: "UTC", Away: text}}, "windows: none"},
		{"no away", config.Rules{OfficeHours: &config.OfficeHours{TimeZone: "UTC", Windows: []config.Window{{Days: [7]bool{1: true}, Start: 60, End: 120}}}}, "office_hours.away: must be set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Compile("shop", tt.cfg)
			if e != nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestConcurrentEvaluate runs Evaluate from many goroutines (with -race).
func TestConcurrentEvaluate(t *testing.T) {
	e := compile(t, `
rules:
  - match: {contains: A, ignore_case: true}
    reply: a
  - match: {regex: '^\d+$'}
    reply: digits
fallback: {reply: "?"}
office_hours: {time_zone: Asia/Shanghai, windows: ["mon-fri 09:00-18:00"], away: closed}
`)
	done := make(chan bool)
	for g := range 8 {
		go func() {
			ok := true
			for i := range 200 {
				in := []string{"xAx", "123", "zzz"}[(g+i)%3]
				want := map[string]string{"xAx": "a", "123": "digits", "zzz": "?"}[in]
				d := e.Evaluate(textMsg("u", in), noon.Add(time.Duration(i)*time.Hour))
				ok = ok && d.Send[0].Text == want
			}
			done <- ok
		}()
	}
	for range 8 {
		if !<-done {
			t.Error("a concurrent evaluation went wrong")
		}
	}
}
