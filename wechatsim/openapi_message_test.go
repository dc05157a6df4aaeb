package wechatsim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestCustomSendTextSuccess(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	openid := h.user()
	rec := h.sendText(tok, openid, "Hello <a href=\"https://example.com\">link</a>")
	m := decode(t, rec)
	if m["errcode"].(float64) != 0 || m["errmsg"] != "ok" {
		t.Fatalf("body %s", rec.Body.String())
	}
	sent := h.api.SentMessages(openid)
	if len(sent) != 1 || sent[0].MsgType != "text" || sent[0].ToUser != openid || sent[0].AppID != DefaultAppID ||
		sent[0].Text != "Hello <a href=\"https://example.com\">link</a>" || !sent[0].Time.Equal(h.clk.Now()) {
		t.Fatalf("sent %+v", sent)
	}
	tr := h.api.World().Transcript(openid)
	if len(tr) != 1 || tr[0].Direction != DirectionToUser || tr[0].Kind != "text" || tr[0].Outcome != "sent" || tr[0].Seq != sent[0].Seq {
		t.Fatalf("transcript %+v", tr)
	}
	var body map[string]any
	if err := json.Unmarshal(tr[0].Body, &body); err != nil || body["touser"] != openid {
		t.Fatalf("entry body %s", tr[0].Body)
	}
	if w := h.api.World().Window(openid); w.Used != 1 {
		t.Fatalf("window %+v", w)
	}
	if len(h.api.SentMessages("")) != 1 || len(h.api.SentMessages("other")) != 0 {
		t.Fatal("SentMessages filter")
	}
}

func TestCustomSendBodyErrors(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	openid := h.user()
	target := withToken(PathCustomSend, tok)
	cases := []struct {
		name string
		body any
		code int
	}{
		{"empty body", nil, ErrCodeEmptyPostData},
		{"blank body", " \r\n", ErrCodeEmptyPostData},
		{"bad json", `{"touser":`, ErrCodeDataFormat},
		{"not an object", `[1,2]`, ErrCodeDataFormat},
		{"wrong field type", `{"touser":123,"msgtype":"text"}`, ErrCodeDataFormat},
		{"trailing garbage", `{"touser":"x"}x`, ErrCodeDataFormat},
		{"missing touser", map[string]any{"msgtype": "text", "text": map[string]string{"content": "x"}}, ErrCodeInvalidOpenID},
		{"unknown touser", map[string]any{"touser": "oUnknownUser", "msgtype": "text", "text": map[string]string{"content": "x"}}, ErrCodeInvalidOpenID},
		{"missing msgtype", map[string]any{"touser": openid, "text": map[string]string{"content": "x"}}, ErrCodeInvalidMessageType},
		{"bad msgtype", map[string]any{"touser": openid, "msgtype": "voice"}, ErrCodeInvalidMessageType},
		{"msgtype case", map[string]any{"touser": openid, "msgtype": "Text", "text": map[string]string{"content": "x"}}, ErrCodeInvalidMessageType},
		{"text missing", map[string]any{"touser": openid, "msgtype": "text"}, ErrCodeDataFormat},
		{"text content empty", map[string]any{"touser": openid, "msgtype": "text", "text": map[string]string{"content": ""}}, ErrCodeEmptyContent},
		{"text content blank", map[string]any{"touser": openid, "msgtype": "text", "text": map[string]string{"content": "  "}}, ErrCodeEmptyContent},
		{"text content missing", map[string]any{"touser": openid, "msgtype": "text", "text": map[string]string{}}, ErrCodeEmptyContent},
		{"image missing", map[string]any{"touser": openid, "msgtype": "image"}, ErrCodeDataFormat},
		{"image media_id empty", map[string]any{"touser": openid, "msgtype": "image", "image": map[string]string{}}, ErrCodeInvalidMediaID},
		{"image media_id unknown", map[string]any{"touser": openid, "msgtype": "image", "image": map[string]string{"media_id": "nope"}}, ErrCodeInvalidMediaID},
		{"link missing", map[string]any{"touser": openid, "msgtype": "link"}, ErrCodeDataFormat},
		{"miniprogrampage missing", map[string]any{"touser": openid, "msgtype": "miniprogrampage"}, ErrCodeDataFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantCode(t, h.do(http.MethodPost, target, c.body), c.code)
		})
	}
	if len(h.api.SentMessages("")) != 0 || h.api.World().Window(openid).Used != 0 {
		t.Fatal("failed sends must not be recorded or use the window")
	}
	if len(h.api.World().Transcript(openid)) != 0 {
		t.Fatal("failed sends must not reach the transcript")
	}
}

func TestCustomSendBodyTooLarge(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	openid := h.user()
	big := `{"touser":"` + openid + `","msgtype":"text","text":{"content":"` + strings.Repeat("a", MaxJSONBody) + `"}}`
	rec := h.do(http.MethodPost, withToken(PathCustomSend, tok), big)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", rec.Code)
	}
	wantCode(t, rec, ErrCodeDataFormat)
}

func TestCustomSendTokenErrors(t *testing.T) {
	h := newHarness(t)
	openid := h.user()
	tok := h.token()
	h.clk.Advance(2 * time.Hour)
	wantCode(t, h.sendText(tok, openid, "x"), ErrCodeAccessTokenExpired)
	wantCode(t, h.sendText("", openid, "x"), ErrCodeAccessTokenMissing)
	wantCode(t, h.sendText("bad token!", openid, "x"), ErrCodeInvalidAccessToken)
	wantCode(t, h.sendText("86_"+strings.Repeat("z", 133), openid, "x"), ErrCodeInvalidCredential)
}

func TestCustomSendLink(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	openid := h.user()
	link := func(mod func(map[string]string)) map[string]any {
		l := map[string]string{"title": "T", "description": "D", "url": "https://example.com/a", "thumb_url": "https://example.com/t.jpg"}
		if mod != nil {
			mod(l)
		}
		return map[string]any{"touser": openid, "msgtype": "link", "link": l}
	}
	wantCode(t, h.do(http.MethodPost, withToken(PathCustomSend, tok), link(nil)), 0)
	for _, field := range []string{"title", "description", "url", "thumb_url"} {
		t.Run("missing "+field, func(t *testing.T) {
			wantCode(t, h.do(http.MethodPost, withToken(PathCustomSend, tok), link(func(l map[string]string) { delete(l, field) })), ErrCodeDataFormat)
		})
	}
	t.Run("url not http", func(t *testing.T) {
		wantCode(t, h.do(http.MethodPost, withToken(PathCustomSend, tok), link(func(l map[string]string) { l["url"] = "javascript:alert(1)" })), ErrCodeDataFormat)
	})
	t.Run("thumb_url not http", func(t *testing.T) {
		wantCode(t, h.do(http.MethodPost, withToken(PathCustomSend, tok), link(func(l map[string]string) { l["thumb_url"] = "ftp://x" })), ErrCodeDataFormat)
	})
	if sent := h.api.SentMessages(openid); len(sent) != 1 || sent[0].MsgType != "link" {
		t.Fatalf("sent %+v", sent)
	}
}

func TestCustomSendImageAndMiniProgramPage(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	openid := h.user()
	mediaID := h.upload(tok, pngBytes, "thumb.png")
	wantCode(t, h.do(http.MethodPost, withToken(PathCustomSend, tok), map[string]any{
		"touser": openid, "msgtype": "image", "image": map[string]string{"media_id": mediaID}}), 0)
	page := func(mod func(map[string]string)) map[string]any {
		p := map[string]string{"title": "Card", "pagepath": "pages/index/index?foo=bar", "thumb_media_id": mediaID}
		if mod != nil {
			mod(p)
		}
		return map[string]any{"touser": openid, "msgtype": "miniprogrampage", "miniprogrampage": p}
	}
	wantCode(t, h.do(http.MethodPost, withToken(PathCustomSend, tok), page(nil)), 0)
	for _, field := range []string{"title", "pagepath", "thumb_media_id"} {
		t.Run("missing "+field, func(t *testing.T) {
			wantCode(t, h.do(http.MethodPost, withToken(PathCustomSend, tok), page(func(p map[string]string) { delete(p, field) })), ErrCodeDataFormat)
		})
	}
	t.Run("unknown thumb", func(t *testing.T) {
		wantCode(t, h.do(http.MethodPost, withToken(PathCustomSend, tok), page(func(p map[string]string) { p["thumb_media_id"] = "unknown" })), ErrCodeInvalidMediaID)
	})
	kinds := []string{}
	for _, m := range h.api.SentMessages(openid) {
		kinds = append(kinds, m.MsgType)
	}
	if strings.Join(kinds, ",") != "image,miniprogrampage" {
		t.Fatalf("sent kinds %v", kinds)
	}
}

func TestCustomSendExpiredMedia(t *testing.T) {
	h := newHarness(t)
	tok, _, _ := h.stable(false)
	mediaID := h.upload(tok, pngBytes, "a.png")
	h.clk.Advance(MediaLifetime - time.Second)
	openid := h.user()
	tok, _, _ = h.stable(false)
	body := map[string]any{"touser": openid, "msgtype": "image", "image": map[string]string{"media_id": mediaID}}
	wantCode(t, h.do(http.MethodPost, withToken(PathCustomSend, tok), body), 0)
	h.clk.Advance(time.Second)
	wantCode(t, h.do(http.MethodPost, withToken(PathCustomSend, tok), body), ErrCodeInvalidMediaID)
}

func TestCustomSendMediaOfAnotherApp(t *testing.T) {
	other := App{AppID: "wx1111111111111111", Secret: "other-secret", OriginalID: "gh_111111111111"}
	h := newHarness(t, WithApp(DefaultApp()), WithApp(other))
	tok := h.token()
	mediaID := h.upload(tok, pngBytes, "a.png")
	m := decode(t, h.do(http.MethodGet, tokenURL(other.AppID, other.Secret), nil))
	otherTok := m["access_token"].(string)
	openid := h.user()
	wantCode(t, h.do(http.MethodPost, withToken(PathCustomSend, otherTok), map[string]any{
		"touser": openid, "msgtype": "image", "image": map[string]string{"media_id": mediaID}}), ErrCodeInvalidMediaID)
}

func TestCustomSendWindowRequired(t *testing.T) {
	h := newHarness(t)
	tok, _, _ := h.stable(false)
	u := h.api.World().NewUser()
	wantCode(t, h.sendText(tok, u.OpenID, "hi"), ErrCodeOutOfTime)
}

func TestCustomSendUserMessageWindow(t *testing.T) {
	h := newHarness(t)
	tok, _, _ := h.stable(false)
	openid := h.user()
	for i := range 5 {
		if c := errcode(t, h.sendText(tok, openid, "hi")); c != 0 {
			t.Fatalf("message %d: %d", i+1, c)
		}
	}
	wantCode(t, h.sendText(tok, openid, "hi"), ErrCodeOutOfCount)
	// A new user message resets the allowance to 5, valid for 48 h.
	h.clk.Advance(time.Hour)
	h.api.World().NoteUserMessage(openid, h.clk.Now())
	h.clk.Advance(48*time.Hour - time.Second)
	tok, _, _ = h.stable(false)
	wantCode(t, h.sendText(tok, openid, "late but in time"), 0)
	h.clk.Advance(time.Second)
	wantCode(t, h.sendText(tok, openid, "too late"), ErrCodeOutOfTime)
}

func TestCustomSendEnterSessionWindow(t *testing.T) {
	h := newHarness(t)
	tok, _, _ := h.stable(false)
	u := h.api.World().NewUser()
	h.api.World().NoteEnterSession(u.OpenID, h.clk.Now())
	wantCode(t, h.sendText(tok, u.OpenID, "1"), 0)
	wantCode(t, h.sendText(tok, u.OpenID, "2"), 0)
	wantCode(t, h.sendText(tok, u.OpenID, "3"), ErrCodeOutOfCount)
	h.api.World().NoteEnterSession(u.OpenID, h.clk.Now())
	h.clk.Advance(time.Minute)
	wantCode(t, h.sendText(tok, u.OpenID, "after a minute"), ErrCodeOutOfTime)
}

func TestCustomSendCancelsTyping(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	openid := h.user()
	wantCode(t, h.typing(tok, openid, CommandTyping), 0)
	if !h.api.Typing(openid) {
		t.Fatal("should be typing")
	}
	wantCode(t, h.sendText(tok, openid, "done"), 0)
	if h.api.Typing(openid) {
		t.Fatal("sending a message must cancel typing")
	}
	wantCode(t, h.typing(tok, openid, CommandTyping), 0) // allowed again at once
}

func (h *harness) typing(tok, openid, command string) *httptest.ResponseRecorder {
	return h.do(http.MethodPost, withToken(PathTyping, tok), map[string]string{"touser": openid, "command": command})
}

func TestTypingLasts15Seconds(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	openid := h.user()
	wantCode(t, h.typing(tok, openid, CommandTyping), 0)
	if until, ok := h.api.TypingUntil(openid); !ok || !until.Equal(h.clk.Now().Add(15*time.Second)) {
		t.Fatalf("TypingUntil %v %v", until, ok)
	}
	h.clk.Advance(14 * time.Second)
	wantCode(t, h.typing(tok, openid, CommandTyping), ErrCodeAlreadyTyping)
	if !h.api.Typing(openid) {
		t.Fatal("typing at 14 s")
	}
	h.clk.Advance(time.Second)
	if h.api.Typing(openid) {
		t.Fatal("typing state should end after 15 s")
	}
	h.api.World().NoteUserMessage(openid, h.clk.Now()) // keep the 30 s interaction fresh
	wantCode(t, h.typing(tok, openid, CommandTyping), 0)
	tr := h.api.World().Transcript(openid)
	if len(tr) != 2 || tr[0].Direction != DirectionTyping || tr[0].Kind != CommandTyping {
		t.Fatalf("transcript %+v", tr)
	}
}

func TestTypingNeedsInteractionWithin30s(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	u := h.api.World().NewUser()
	wantCode(t, h.typing(tok, u.OpenID, CommandTyping), ErrCodeNoRecentInteraction)
	h.api.World().NoteUserMessage(u.OpenID, h.clk.Now())
	h.clk.Advance(31 * time.Second)
	wantCode(t, h.typing(tok, u.OpenID, CommandTyping), ErrCodeNoRecentInteraction)
	// A message sent by the server counts as an exchange too.
	wantCode(t, h.sendText(tok, u.OpenID, "hi"), 0)
	h.clk.Advance(30 * time.Second)
	wantCode(t, h.typing(tok, u.OpenID, CommandTyping), 0)
	// So does entering the session.
	v := h.api.World().NewUser()
	h.api.World().NoteEnterSession(v.OpenID, h.clk.Now())
	wantCode(t, h.typing(tok, v.OpenID, CommandTyping), 0)
}

func TestCancelTyping(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	openid := h.user()
	wantCode(t, h.typing(tok, openid, CommandTyping), 0)
	wantCode(t, h.typing(tok, openid, CommandCancelTyping), 0)
	if h.api.Typing(openid) {
		t.Fatal("CancelTyping should end typing")
	}
	wantCode(t, h.typing(tok, openid, CommandCancelTyping), 0) // idempotent
	wantCode(t, h.typing(tok, openid, CommandTyping), 0)
}

func TestTypingErrors(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	openid := h.user()
	target := withToken(PathTyping, tok)
	cases := []struct {
		name string
		body any
		code int
	}{
		{"bad command", map[string]string{"touser": openid, "command": "typing"}, ErrCodeBadTypingCommand},
		{"missing command", map[string]string{"touser": openid}, ErrCodeBadTypingCommand},
		{"unknown user", map[string]string{"touser": "oNobody", "command": CommandTyping}, ErrCodeInvalidOpenID},
		{"missing user", map[string]string{"command": CommandTyping}, ErrCodeInvalidOpenID},
		{"empty body", nil, ErrCodeEmptyPostData},
		{"bad json", "{", ErrCodeDataFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantCode(t, h.do(http.MethodPost, target, c.body), c.code)
		})
	}
	wantCode(t, h.do(http.MethodPost, PathTyping, map[string]string{"touser": openid, "command": CommandTyping}), ErrCodeAccessTokenMissing)
	if h.api.Typing(openid) || h.api.Typing("oNobody") {
		t.Fatal("no typing state expected")
	}
}

// TestTypingNeedsAnOpenSendWindow: a recent exchange is not enough when the
// send window cannot carry another message (expired or used up).
func TestTypingNeedsAnOpenSendWindow(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	w := h.api.World()

	// Entered the session (1 min / 2); the server answered 50 s later; 20 s
	// after that the exchange is recent but the window has closed.
	u := w.NewUser()
	w.NoteEnterSession(u.OpenID, h.clk.Now())
	h.clk.Advance(50 * time.Second)
	wantCode(t, h.sendText(tok, u.OpenID, "hello"), 0)
	h.clk.Advance(20 * time.Second)
	rec := h.typing(tok, u.OpenID, CommandTyping)
	wantCode(t, rec, ErrCodeNoRecentInteraction)
	if hint := rec.Header().Get(HintHeader); hint != "no open send window" {
		t.Errorf("hint %q", hint)
	}

	// The window's 5 messages are used up.
	v := w.NewUser()
	w.NoteUserMessage(v.OpenID, h.clk.Now())
	for range MessageWindowLimit {
		wantCode(t, h.sendText(tok, v.OpenID, "answer"), 0)
	}
	wantCode(t, h.typing(tok, v.OpenID, CommandTyping), ErrCodeNoRecentInteraction)
	wantCode(t, h.typing(tok, v.OpenID, CommandCancelTyping), 0) // cancelling needs nothing
	if h.api.Typing(u.OpenID) || h.api.Typing(v.OpenID) {
		t.Fatal("typing state set without an open window")
	}

	// A new user message opens a new window: typing works again.
	w.NoteUserMessage(v.OpenID, h.clk.Now())
	wantCode(t, h.typing(tok, v.OpenID, CommandTyping), 0)
}
