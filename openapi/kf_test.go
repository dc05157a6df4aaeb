package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wxgate/wxgate/wechatsim"
)

func TestSendWindowErrors(t *testing.T) {
	s := newSim(t)
	c := s.client(t)
	ctx := context.Background()
	w := s.api.World()

	t.Run("no window: 45015", func(t *testing.T) {
		u := w.NewUser()
		err := c.SendText(ctx, u.OpenID, "hi")
		if !errors.Is(err, ErrWindowExpired) {
			t.Fatalf("err = %v, want ErrWindowExpired", err)
		}
		var ae *Error
		if !errors.As(err, &ae) || ae.Code != 45015 || ae.Op != "cgi-bin/message/custom/send" {
			t.Errorf("err = %#v", err)
		}
	})
	t.Run("enter session: 2 per minute, then 45047, then 45015", func(t *testing.T) {
		u := w.NewUser()
		w.NoteEnterSession(u.OpenID, s.clock.Now())
		for i := range 2 {
			if err := c.SendText(ctx, u.OpenID, "welcome"); err != nil {
				t.Fatalf("message %d: %v", i+1, err)
			}
		}
		before := s.calls(wechatsim.PathCustomSend)
		if err := c.SendText(ctx, u.OpenID, "one too many"); !errors.Is(err, ErrCountExceeded) {
			t.Fatalf("err = %v, want ErrCountExceeded", err)
		}
		if n := s.calls(wechatsim.PathCustomSend) - before; n != 1 {
			t.Errorf("45047 was retried: %d calls", n)
		}
		w.NoteEnterSession(u.OpenID, s.clock.Now()) // resets the count
		if err := c.SendText(ctx, u.OpenID, "again"); err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(wechatsim.EnterSessionWindow)
		before = s.calls(wechatsim.PathCustomSend)
		if err := c.SendText(ctx, u.OpenID, "too late"); !errors.Is(err, ErrWindowExpired) {
			t.Fatalf("err = %v, want ErrWindowExpired", err)
		}
		if n := s.calls(wechatsim.PathCustomSend) - before; n != 1 {
			t.Errorf("45015 was retried: %d calls", n)
		}
	})
	t.Run("user message: 5 within 48 h", func(t *testing.T) {
		u := w.NewUser()
		w.NoteUserMessage(u.OpenID, s.clock.Now())
		for i := range 5 {
			s.clock.Advance(time.Hour)
			if err := c.SendText(ctx, u.OpenID, "answer"); err != nil {
				t.Fatalf("message %d: %v", i+1, err)
			}
		}
		if err := c.SendText(ctx, u.OpenID, "sixth"); !errors.Is(err, ErrCountExceeded) {
			t.Fatalf("err = %v, want ErrCountExceeded", err)
		}
		w.NoteUserMessage(u.OpenID, s.clock.Now())
		s.clock.Advance(wechatsim.MessageWindow)
		if err := c.SendText(ctx, u.OpenID, "after 48 h"); !errors.Is(err, ErrWindowExpired) {
			t.Fatalf("err = %v, want ErrWindowExpired", err)
		}
	})
	t.Run("unknown openid: 40003", func(t *testing.T) {
		if err := c.SendText(ctx, "oUNKNOWNUNKNOWNUNKNOWNUNKNOW", "x"); !errors.Is(err, ErrInvalidOpenID) {
			t.Fatalf("err = %v, want ErrInvalidOpenID", err)
		}
		before := s.calls(wechatsim.PathCustomSend)
		if err := c.SendText(ctx, " ", "x"); !errors.Is(err, ErrInvalidOpenID) {
			t.Fatalf("err = %v, want ErrInvalidOpenID", err)
		}
		if s.calls(wechatsim.PathCustomSend) != before {
			t.Error("an empty openid made a round trip")
		}
	})
}

// pngImage returns a small PNG.
func pngImage(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 8 {
		img.Set(i, i, color.RGBA{R: 200, A: 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestMessagesTypingAndMedia(t *testing.T) {
	s := newSim(t)
	c := s.client(t)
	ctx := context.Background()
	openid := s.user()
	pic := pngImage(t)

	m, err := c.UploadTempMedia(ctx, "", bytes.NewReader(pic))
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaID == "" || m.Type != "image" || !m.CreatedAt.Equal(s.clock.Now().Truncate(time.Second)) {
		t.Fatalf("media = %+v", m)
	}
	data, ctype, err := c.GetTempMedia(ctx, m.MediaID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, pic) || ctype != "image/png" {
		t.Fatalf("got %d bytes of %q", len(data), ctype)
	}
	if _, _, err := c.GetTempMedia(ctx, "no-such-media"); !errors.Is(err, ErrInvalidMediaID) {
		t.Fatalf("err = %v, want ErrInvalidMediaID", err)
	}

	if err := c.Typing(ctx, openid, true); err != nil {
		t.Fatal(err)
	}
	if !s.api.Typing(openid) {
		t.Error("mock does not show typing")
	}
	var ae *Error
	if err := c.Typing(ctx, openid, true); !errors.As(err, &ae) || ae.Code != 45081 {
		t.Errorf("second Typing: %v, want 45081", err)
	}
	if err := c.Typing(ctx, openid, false); err != nil {
		t.Fatal(err)
	}
	if s.api.Typing(openid) {
		t.Error("CancelTyping did not cancel")
	}

	link := Link{Title: "Docs", Description: "Read <this> & that", URL: "https://example.com/a?b=1&c=2", ThumbURL: "https://example.com/t.png"}
	page := MiniProgramPage{Title: "Order", PagePath: "pages/order/index?id=7", ThumbMediaID: m.MediaID}
	text := `Tap <a href="https://example.com" data-miniprogram-path="pages/index/index">here</a>`
	if err := c.SendText(ctx, openid, text); err != nil {
		t.Fatal(err)
	}
	if err := c.SendImage(ctx, openid, m.MediaID); err != nil {
		t.Fatal(err)
	}
	if err := c.SendLink(ctx, openid, link); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMiniProgramPage(ctx, openid, page); err != nil {
		t.Fatal(err)
	}
	sent := s.api.SentMessages(openid)
	if len(sent) != 4 {
		t.Fatalf("sent %d messages, want 4", len(sent))
	}
	if sent[0].MsgType != "text" || sent[0].Text != text {
		t.Errorf("text = %+v", sent[0])
	}
	if bytes.Contains(sent[0].Body, []byte(`\u003c`)) {
		t.Errorf("text was HTML-escaped: %s", sent[0].Body)
	}
	var img struct {
		Image struct {
			MediaID string `json:"media_id"`
		} `json:"image"`
	}
	if err := json.Unmarshal(sent[1].Body, &img); err != nil || img.Image.MediaID != m.MediaID {
		t.Errorf("image body %s", sent[1].Body)
	}
	var lk struct {
		Link Link `json:"link"`
	}
	if err := json.Unmarshal(sent[2].Body, &lk); err != nil || lk.Link != link {
		t.Errorf("link body %s", sent[2].Body)
	}
	var pg struct {
		Page MiniProgramPage `json:"miniprogrampage"`
	}
	if err := json.Unmarshal(sent[3].Body, &pg); err != nil || pg.Page != page {
		t.Errorf("page body %s", sent[3].Body)
	}
	if err := c.SendImage(ctx, openid, "unknown-media"); !errors.Is(err, ErrInvalidMediaID) {
		t.Errorf("err = %v, want ErrInvalidMediaID", err)
	}
}

func TestInvalidArguments(t *testing.T) {
	s := newSim(t)
	c := s.client(t)
	ctx := context.Background()
	openid := s.user()
	for name, err := range map[string]error{
		"empty text":     c.SendText(ctx, openid, ""),
		"empty media":    c.SendImage(ctx, openid, ""),
		"link":           c.SendLink(ctx, openid, Link{}),
		"page":           c.SendMiniProgramPage(ctx, openid, MiniProgramPage{Title: "x"}),
		"nil image":      func() error { _, err := c.UploadTempMedia(ctx, "a.png", nil); return err }(),
		"empty image":    func() error { _, err := c.UploadTempMedia(ctx, "a.png", strings.NewReader("")); return err }(),
		"get empty":      func() error { _, _, err := c.GetTempMedia(ctx, ""); return err }(),
		"path w/ query":  c.PostJSON(ctx, "cgi-bin/x?access_token=1", nil, nil),
		"path w/ scheme": c.PostJSON(ctx, "https://evil/x", nil, nil),
	} {
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument", name, err)
		}
	}
	big := WithMaxMediaSize(16)
	c2 := s.client(t, big)
	if _, err := c2.UploadTempMedia(ctx, "a.png", bytes.NewReader(pngImage(t))); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("oversized upload: %v", err)
	}
	if n := s.calls(wechatsim.PathMediaUpload) + s.calls(wechatsim.PathCustomSend); n != 0 {
		t.Errorf("%d round trips for invalid arguments", n)
	}
}

func TestPostJSON(t *testing.T) {
	s := newSim(t)
	c := s.client(t)
	openid := s.user()
	var out struct {
		ErrMsg string `json:"errmsg"`
	}
	in := map[string]any{"touser": openid, "msgtype": "text", "text": map[string]string{"content": "raw"}}
	if err := c.PostJSON(context.Background(), "/cgi-bin/message/custom/send", in, &out); err != nil {
		t.Fatal(err)
	}
	if out.ErrMsg != "ok" {
		t.Errorf("errmsg = %q", out.ErrMsg)
	}
	err := c.PostJSON(context.Background(), "cgi-bin/no/such/api", in, nil)
	if !errors.Is(err, ErrBadResponse) && !errors.As(err, new(*Error)) {
		t.Errorf("unknown path: %v", err)
	}
}

// TestMockErrorsParseCleanly checks WeChat-style errmsgs, with their
// trailing request id, as the emulator sends them.
func TestMockErrorsParseCleanly(t *testing.T) {
	ridRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$`)
	s := newSim(t)
	c := s.client(t)
	ctx := context.Background()

	err := c.SendText(ctx, s.api.World().NewUser().OpenID, "no window")
	var ae *Error
	if !errors.As(err, &ae) || !errors.Is(err, ErrWindowExpired) {
		t.Fatalf("err = %v", err)
	}
	if ae.Msg != "response out of time limit or subscription is canceled" || !ridRE.MatchString(ae.RID) {
		t.Errorf("Msg %q RID %q", ae.Msg, ae.RID)
	}
	if want := "openapi: cgi-bin/message/custom/send: errcode 45015: response out of time limit or subscription is canceled (rid: " + ae.RID + ")"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}

	// 40164 on the token endpoint, injected or from the whitelist.
	fresh := s.client(t)
	s.api.FailNextOn(wechatsim.PathStableToken, 1, wechatsim.ErrCodeIPNotWhitelisted)
	_, err = fresh.Token(ctx)
	if !errors.As(err, &ae) || !errors.Is(err, ErrIPNotAllowed) || !ae.TokenEndpoint ||
		ae.Msg != "invalid ip 127.0.0.1 ipv6 ::ffff:127.0.0.1, not in whitelist" || !ridRE.MatchString(ae.RID) {
		t.Fatalf("injected 40164: %#v", ae)
	}
	if err := s.api.SetIPWhitelist("203.0.113.0/24"); err != nil {
		t.Fatal(err)
	}
	if _, err = fresh.Token(ctx); !errors.Is(err, ErrIPNotAllowed) {
		t.Fatalf("whitelist: err = %v, want ErrIPNotAllowed", err)
	}
	s.checkNoSecret(t, err.Error())
	if n := s.api.StableTokenFetches(); n != 3 {
		t.Errorf("stable_token calls = %d, want 3 (40164 is not retried)", n)
	}
}
