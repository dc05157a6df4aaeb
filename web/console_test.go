package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"html"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/store"
	"github.com/wxgate/wxgate/wechatsim"
)

// TestPagesRenderInBothLanguages: every page answers in Chinese for a
// Chinese browser and in English otherwise, and the switch's cookie wins
// over the browser.
func TestPagesRenderInBothLanguages(t *testing.T) {
	s := newStack(t)
	s.send(s.user(), "hello")
	for _, tc := range []struct {
		path    string
		zh, en  string
		element string
	}{
		{"/chat", "添加用户", "Add a user", `id="composer"`},
		{"/wire", "模拟器发出的每一次推送", "Every push the emulator made", `id="wire"`},
		{"/wire/1", "解密后的请求体", "Decrypted body", `id="plaintext"`},
		{"/server", "生效的规则", "Rules in effect", `id="messages"`},
		{"/settings", "消息加密方式", "Encryption mode", `id="settings"`},
	} {
		status, zh := s.get(tc.path, "zh-CN,zh;q=0.9,en;q=0.8")
		if status != http.StatusOK || !strings.Contains(zh, tc.zh) || !strings.Contains(zh, `<html lang="zh-CN">`) || !strings.Contains(zh, tc.element) {
			t.Errorf("GET %s in Chinese: %d, lacks %q or lang zh-CN or %s", tc.path, status, tc.zh, tc.element)
		}
		status, en := s.get(tc.path, "en-US,en;q=0.9")
		if status != http.StatusOK || !strings.Contains(en, tc.en) || !strings.Contains(en, `<html lang="en">`) {
			t.Errorf("GET %s in English: %d, lacks %q or lang en", tc.path, status, tc.en)
		}
		if strings.Contains(en, tc.zh) {
			t.Errorf("GET %s in English shows the Chinese %q", tc.path, tc.zh)
		}
	}
	// The switch sets a cookie that beats Accept-Language.
	req, _ := http.NewRequest(http.MethodGet, s.srv.URL+"/settings?lang=en", nil)
	req.Header.Set("Accept-Language", "zh-CN")
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/settings" {
		t.Fatalf("?lang=en: %d to %q, want a redirect to /settings", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == langCookie {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value != langEN {
		t.Fatalf("?lang=en set no language cookie: %v", resp.Cookies())
	}
	req, _ = http.NewRequest(http.MethodGet, s.srv.URL+"/settings", nil)
	req.Header.Set("Accept-Language", "zh-CN")
	req.AddCookie(cookie)
	resp, err = s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "Encryption mode") {
		t.Error("the language cookie did not win over Accept-Language")
	}
	if !strings.Contains(string(b), `href="/settings?lang=zh"`) {
		t.Error("the English page offers no switch to Chinese")
	}
}

func TestPreferredLanguage(t *testing.T) {
	for header, want := range map[string]string{
		"":                           "",
		"zh-CN,zh;q=0.9,en;q=0.8":    langZH,
		"en-US,en;q=0.9,zh-CN;q=0.8": langEN,
		"fr-FR, zh-TW;q=0.5":         langZH,
		"de, en;q=0.1, zh;q=0.3":     langZH,
		"zh;q=0, en":                 langEN,
		"ja":                         "",
		"EN-gb;q=0.7, zh-Hans;q=0.6": langEN,
	} {
		if got := preferred(header); got != want {
			t.Errorf("preferred(%q) = %q, want %q", header, got, want)
		}
	}
}

// TestSendTextGetsKeywordReply: a text sent through the console is pushed
// to the gateway, lands in the transcript, and the keyword rule's reply
// comes back through the mock Open API and shows in the chat.
func TestSendTextGetsKeywordReply(t *testing.T) {
	s := newStack(t)
	u := s.user()
	s.send(u, "价格")
	eventually(t, "the price rule's reply", func() bool { return s.sentToUser(u, "Our prices") })
	var pushed bool
	for _, e := range s.world.Transcript(u) {
		if e.Direction == wechatsim.DirectionToServer && e.Kind == "text" && strings.Contains(string(e.Body), "价格") && e.Outcome == "success" {
			pushed = true
		}
	}
	if !pushed {
		t.Fatalf("the transcript has no accepted text push: %+v", s.world.Transcript(u))
	}
	eventually(t, "the link card", func() bool { return s.sentToUser(u, "Price list") })
	_, page := s.get("/chat?user="+url.QueryEscape(u), "en")
	for _, want := range []string{`<p class="msg">价格</p>`, "Our prices", "k-link", "价目表 Price list", `href="/wire/1"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the chat lacks %q", want)
		}
	}
	// The user's line comes before the reply, although the reply was
	// recorded first (the gateway answered while WeChat waited).
	if i, j := strings.Index(page, `<p class="msg">价格</p>`), strings.Index(page, "Our prices"); i < 0 || j < i {
		t.Error("the chat shows the reply before the user's message")
	}
}

// TestEnterSessionGetsWelcome: entering the session pushes the event and
// the welcome comes back.
func TestEnterSessionGetsWelcome(t *testing.T) {
	s := newStack(t)
	u := s.user()
	if status, out := s.post("/chat/enter", url.Values{"user": {u}, "session_from": {"order-42"}}); status != http.StatusOK {
		t.Fatalf("enter: %d %v", status, out)
	}
	eventually(t, "the welcome", func() bool { return s.sentToUser(u, "欢迎") })
	_, page := s.get("/chat?user="+url.QueryEscape(u), "zh")
	if !strings.Contains(page, "进入了客服会话（SessionFrom：order-42）") {
		t.Error("the chat does not show the session entry with its SessionFrom")
	}
}

// TestTransferAndFailureShown: the transfer rule's passive reply shows as
// the transfer notice; a push the gateway refuses shows WeChat's failure
// prompt, in the chat and on the wire.
func TestTransferAndFailureShown(t *testing.T) {
	s := newStack(t)
	u := s.user()
	s.send(u, "转人工")
	_, page := s.get("/chat?user="+url.QueryEscape(u), "en")
	if !strings.Contains(page, "Transferred to customer service") {
		t.Error("the chat does not show the transfer notice")
	}
	// A console whose Token is not the gateway's: every push is refused.
	bad := newStack(t, func(o *Options) { o.Apps[0].Token = "wrongtoken123" })
	bu := bad.user()
	bad.send(bu, "hello")
	_, page = bad.get("/chat?user="+url.QueryEscape(bu), "en")
	if !strings.Contains(page, wechatsim.FailurePrompt) || !strings.Contains(page, "WeChat shows the user:") {
		t.Error("the chat does not show WeChat's failure prompt")
	}
	_, wire := bad.get("/wire/1", "en")
	if !strings.Contains(wire, "「"+wechatsim.FailurePrompt+"」") || !strings.Contains(wire, "HTTP 403") {
		t.Error("the wire does not show the 403 and the prompt the user sees")
	}
	if !strings.Contains(wire, "WeChat retried 2 times.") || !strings.Contains(wire, "Delivery 3") {
		t.Error("the wire does not show WeChat's retries")
	}
}

// TestWireShowsDecryptedBody: the wire shows a safe-mode push encrypted
// as posted and decrypted, with its signed URL, and its curl command
// replays the exact request.
func TestWireShowsDecryptedBody(t *testing.T) {
	s := newStack(t)
	u := s.user()
	s.send(u, "hello <wire>")
	_, list := s.get("/wire", "en")
	if !strings.Contains(list, `href="/wire/1"`) || !strings.Contains(list, "success") {
		t.Fatal("the wire lists no accepted push #1")
	}
	_, page := s.get("/wire/1", "en")
	plain := preText(t, page, "plaintext")
	if !strings.Contains(plain, "<Content><![CDATA[hello <wire>]]></Content>") || !strings.Contains(plain, u) {
		t.Errorf("the decrypted body is not the push: %q", plain)
	}
	raw := preText(t, page, "raw-body")
	if !strings.Contains(raw, "<Encrypt>") || strings.Contains(raw, "hello") {
		t.Errorf("the raw body is not safe mode's ciphertext: %q", raw)
	}
	if !strings.Contains(page, "&amp;encrypt_type=aes&amp;msg_signature=") {
		t.Error("the signed URL lacks msg_signature")
	}
	rec, _ := s.console.wire.get(1)
	if want := store.MessageID("default", rec.DedupKey); !strings.Contains(page, "/server/messages/"+want) {
		t.Error("the wire does not link the gateway's message")
	}
	// The curl command is the first delivery byte for byte: replayed, the
	// gateway answers it as a retry.
	curl := preText(t, page, "curl")
	m := regexp.MustCompile(`curl -sS -X POST '([^']*)' \\\n  -H 'Content-Type: ([^']*)' \\\n  --data-binary '((?s).*)'$`).FindStringSubmatch(curl)
	if m == nil {
		t.Fatalf("unexpected curl command: %q", curl)
	}
	resp, err := http.Post(m[1], m[2], strings.NewReader(strings.ReplaceAll(m[3], `'\''`, `'`)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(b) != "success" {
		t.Errorf("replaying the curl command: %d %q", resp.StatusCode, b)
	}
	push := preText(t, page, "push-cmd")
	if want := "wxgate push --url " + s.srv.URL + "/wechat --mode safe --format xml --openid " + u + " text 'hello <wire>'"; push != want {
		t.Errorf("push command = %q, want %q", push, want)
	}
}

// preText returns the unescaped text of <pre id="id">.
func preText(t *testing.T, page, id string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<pre id="` + id + `"[^>]*>(.*?)</pre>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no <pre id=%q>", id)
	}
	return html.UnescapeString(m[1])
}

// TestSwitchModeAndFormat: the settings switch how the emulator pushes,
// and the gateway (auto mode, plaintext allowed) takes every combination.
func TestSwitchModeAndFormat(t *testing.T) {
	s := newStack(t)
	u := s.user()
	for i, tc := range []struct{ mode, format string }{
		{"safe", "json"}, {"compat", "xml"}, {"plain", "json"}, {"compat", "json"}, {"plain", "xml"},
	} {
		if status, out := s.post("/settings", url.Values{"mode": {tc.mode}, "format": {tc.format}}); status != http.StatusOK {
			t.Fatalf("settings %v: %d %v", tc, status, out)
		}
		text := "price"
		s.send(u, text)
		rec, ok := s.console.wire.get(int64(i + 1))
		if !ok || !rec.Accepted || rec.Mode.String() != tc.mode || rec.Format.String() != tc.format {
			t.Fatalf("%s/%s: push %+v", tc.mode, tc.format, rec)
		}
		msgs, _, err := s.console.api.messages(context.Background(), "", 1)
		if err != nil || len(msgs) != 1 || msgs[0].Mode != tc.mode || msgs[0].Format != tc.format {
			t.Fatalf("%s/%s: the gateway stored %+v (%v)", tc.mode, tc.format, msgs, err)
		}
	}
	_, page := s.get("/settings", "en")
	if !strings.Contains(page, `value="xml" id="format-xml" checked`) || !strings.Contains(page, `value="plain" id="mode-plain" checked`) {
		t.Error("the settings page does not show the current mode and format")
	}
	if status, _ := s.post("/settings", url.Values{"mode": {"auto"}}); status != http.StatusBadRequest {
		t.Errorf("mode auto: %d, want 400", status)
	}
	if status, _ := s.post("/settings", url.Values{"format": {"yaml"}}); status != http.StatusBadRequest {
		t.Errorf("format yaml: %d, want 400", status)
	}
}

// TestSettingsSwitchFaults: the fault switches reach the mock and the
// sample webhook, and revoking tokens invalidates them.
func TestSettingsSwitchFaults(t *testing.T) {
	s := newStack(t)
	form := url.Values{"mode": {"safe"}, "format": {"xml"}, "openapi_slow": {"1"}, "openapi_busy": {"1"}, "webhook_slow": {"1"}, "webhook_fail": {"1"}}
	if status, _ := s.post("/settings", form); status != http.StatusOK {
		t.Fatal(status)
	}
	f := s.mock.Faults()
	if f.Latency != faultLatency || f.BusyRate != faultBusyRate || !s.webhook.Slow() || !s.webhook.Failing() {
		t.Fatalf("faults on: mock %+v, webhook slow %v failing %v", f, s.webhook.Slow(), s.webhook.Failing())
	}
	_, page := s.get("/settings", "en")
	for _, id := range []string{"openapi-slow", "openapi-busy", "webhook-slow", "webhook-fail"} {
		if !strings.Contains(page, `id="`+id+`" checked`) {
			t.Errorf("%s is not shown checked", id)
		}
	}
	if status, _ := s.post("/settings", url.Values{"mode": {"safe"}, "format": {"xml"}}); status != http.StatusOK {
		t.Fatal(status)
	}
	if f := s.mock.Faults(); f.Latency != 0 || f.BusyRate != 0 || s.webhook.Slow() || s.webhook.Failing() {
		t.Fatalf("faults off: mock %+v, webhook slow %v failing %v", f, s.webhook.Slow(), s.webhook.Failing())
	}
	// A token, then revoked.
	s.send(s.user(), "价格")
	eventually(t, "a token fetched", func() bool { return s.mock.TokenFetches()+s.mock.StableTokenFetches() > 0 })
	if status, _ := s.post("/settings/revoke-tokens", nil); status != http.StatusOK {
		t.Fatal(status)
	}
	for _, tok := range s.mock.Tokens() {
		if tok.State == wechatsim.TokenValid {
			t.Errorf("token %s still valid after revoking", tok.Prefix)
		}
	}
}

// TestRedeliverDeadLetter: with the sample webhook failing, a push becomes
// a dead letter; the Server page lists it with a redeliver button, and
// redelivering it once the webhook works delivers it.
func TestRedeliverDeadLetter(t *testing.T) {
	s := newStack(t)
	s.webhook.SetFailing(true)
	u := s.user()
	s.send(u, "deliver me")
	ctx := context.Background()
	var dead []apiDelivery
	eventually(t, "a dead letter", func() bool {
		dead, _ = s.console.api.deadLetters(ctx, 10)
		return len(dead) == 1
	})
	if dead[0].Attempts != devMaxAttempts || dead[0].Destination != "default/console" {
		t.Fatalf("dead letter %+v", dead[0])
	}
	_, page := s.get("/server", "en")
	if !strings.Contains(page, `id="dead-letters"`) || !strings.Contains(page, `name="id" value="`+dead[0].MessageID+`"`) ||
		!strings.Contains(page, ">Redeliver</button>") {
		t.Fatal("the Server page does not list the dead letter with a redeliver button")
	}
	s.webhook.SetFailing(false)
	status, out := s.post("/server/redeliver", url.Values{"id": {dead[0].MessageID}, "destination": {dead[0].Destination}})
	if status != http.StatusOK {
		t.Fatalf("redeliver: %d %v", status, out)
	}
	eventually(t, "the redelivery", func() bool {
		_, ds, err := s.console.api.message(ctx, dead[0].MessageID)
		return err == nil && len(ds) == 1 && ds[0].State == "done"
	})
	eventually(t, "the webhook's reply", func() bool { return s.sentToUser(u, "received: deliver me") })
	_, page = s.get("/server/messages/"+dead[0].MessageID, "en")
	if !strings.Contains(page, `data-state="done"`) || !strings.Contains(page, "answered 500") {
		t.Error("the message page does not show the delivery done after failed attempts")
	}
	if d, _ := s.console.api.deadLetters(ctx, 10); len(d) != 0 {
		t.Errorf("dead letters left: %+v", d)
	}
	// Without the script: a redirect back with the count.
	req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/server/redeliver-dead", nil)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/server?flash=redelivered-0" {
		t.Errorf("redeliver all: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, page = s.get("/server?flash=redelivered-0", "en")
	if !strings.Contains(page, "0 redelivered.") {
		t.Error("no flash after redelivering")
	}
}

// TestSendImageServesIt: an uploaded picture is the user's image in the
// World: the push carries its MediaId, media/get and the chat serve the
// same bytes.
func TestSendImageServesIt(t *testing.T) {
	s := newStack(t)
	u := s.user()
	img := image.NewRGBA(image.Rect(0, 0, 3, 3))
	img.Set(1, 1, color.RGBA{255, 0, 0, 255})
	var pic bytes.Buffer
	png.Encode(&pic, img)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("user", u)
	fw, _ := mw.CreateFormFile("image", "red.png")
	fw.Write(pic.Bytes())
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/chat/image", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	var mediaID string
	for _, e := range s.world.Transcript(u) {
		if e.Kind == "image" && e.Direction == wechatsim.DirectionToServer {
			p, err := message.Decode(e.Body, message.FormatJSON)
			if err != nil {
				t.Fatal(err)
			}
			mediaID = p.(*message.Image).MediaID
		}
	}
	if mediaID == "" {
		t.Fatal("no image push in the transcript")
	}
	status, got := s.get("/media/"+mediaID, "")
	if status != http.StatusOK || got != pic.String() {
		t.Fatalf("/media/%s: %d, %d bytes; want the PNG uploaded", mediaID, status, len(got))
	}
	_, page := s.get("/chat?user="+url.QueryEscape(u), "en")
	if !strings.Contains(page, `<img src="/media/`+mediaID+`"`) {
		t.Error("the chat does not show the image")
	}
	// Not an image: refused, nothing pushed.
	body.Reset()
	mw = multipart.NewWriter(&body)
	mw.WriteField("user", u)
	fw, _ = mw.CreateFormFile("image", "x.txt")
	fw.Write([]byte("plain text"))
	mw.Close()
	req, _ = http.NewRequest(http.MethodPost, s.srv.URL+"/chat/image", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err = s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a text file as image: %d, want 400", resp.StatusCode)
	}
}

// TestCardAndUsers: a mini program card is pushed with the app's AppID;
// an added user gets a chat of their own.
func TestCardAndUsers(t *testing.T) {
	s := newStack(t)
	status, out := s.post("/chat/users", nil)
	if status != http.StatusOK || out["user"] == "" {
		t.Fatalf("add user: %d %v", status, out)
	}
	u2, _ := out["user"].(string)
	if len(s.world.Users()) != 2 {
		t.Fatalf("users: %v", s.world.Users())
	}
	if status, out := s.post("/chat/card", url.Values{"user": {u2}, "title": {"订单"}, "pagepath": {"pages/o?id=1"}}); status != http.StatusOK {
		t.Fatalf("card: %d %v", status, out)
	}
	_, page := s.get("/chat?user="+url.QueryEscape(u2), "en")
	if !strings.Contains(page, "k-card") || !strings.Contains(page, "pages/o?id=1") || !strings.Contains(page, `aria-current="true"`) {
		t.Error("the second user's chat does not show the card")
	}
	if status, _ := s.post("/chat/card", url.Values{"user": {u2}, "title": {"x"}}); status != http.StatusBadRequest {
		t.Errorf("card without page: %d", status)
	}
	if status, _ := s.post("/chat/send", url.Values{"user": {"nobody"}, "text": {"x"}}); status != http.StatusBadRequest {
		t.Errorf("unknown user: %d", status)
	}
	if status, _ := s.post("/chat/send", url.Values{"user": {u2}, "text": {"  "}}); status != http.StatusBadRequest {
		t.Errorf("empty text: %d", status)
	}
	if status, _ := s.get("/chat?user=nobody", "en"); status != http.StatusNotFound {
		t.Errorf("chat of an unknown user: %d", status)
	}
}

// TestCrossSiteRequestsRefused: a form posted from another site, or a
// page asked for under another Host name, is refused.
func TestCrossSiteRequestsRefused(t *testing.T) {
	s := newStack(t, func(o *Options) { o.Hosts = []string{"127.0.0.1", "localhost"} })
	u := s.user()
	for _, h := range []map[string]string{
		{"Origin": "https://evil.example"},
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:1"},
	} {
		req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/chat/send", strings.NewReader(url.Values{"user": {u}, "text": {"x"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST with %v: %d, want 403", h, resp.StatusCode)
		}
	}
	if n := len(s.console.wire.list()); n != 0 {
		t.Errorf("%d pushes made by refused requests", n)
	}
	req, _ := http.NewRequest(http.MethodGet, s.srv.URL+"/chat", nil)
	req.Host = "attacker.example"
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("GET under another Host: %d, want 421", resp.StatusCode)
	}
	if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Error("answers lack the security headers")
	}
}

// TestEventStream: the stream carries the chat's new lines rendered, the
// typing state, and the wire's rows.
func TestEventStream(t *testing.T) {
	s := newStack(t)
	u := s.user()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.srv.URL+"/events?user="+url.QueryEscape(u), nil)
	req.Header.Set("Accept-Language", "zh-CN")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("Content-Type %q", ct)
	}
	events := make(chan [2]string, 64)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		var name string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				events <- [2]string{name, strings.TrimPrefix(line, "data: ")}
			}
		}
		close(events)
	}()
	s.send(u, "order 42")
	want := map[string]bool{"user line": false, "typing": false, "wire": false, "reply": false}
	deadline := time.After(15 * time.Second)
	for !(want["user line"] && want["typing"] && want["wire"] && want["reply"]) {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the stream ended")
			}
			var d streamEvent
			if err := json.Unmarshal([]byte(ev[1]), &d); err != nil {
				t.Fatalf("event %s: %v", ev[0], err)
			}
			switch {
			case ev[0] == evEntry && strings.Contains(d.HTML, `<p class="msg">order 42</p>`):
				want["user line"] = true
			case ev[0] == evEntry && d.Typing == "on":
				want["typing"] = true
			case ev[0] == evEntry && strings.Contains(d.HTML, "订单 42 已发货"):
				want["reply"] = true
			case ev[0] == evWire && d.ID == 1 && strings.Contains(d.HTML, "success"):
				want["wire"] = true
			}
		case <-deadline:
			t.Fatalf("events missing: %v", want)
		}
	}
}

// TestSecretsStayHidden: with a configuration's real credentials, no page
// shows the Token or the EncodingAESKey, and nothing logs a secret.
func TestSecretsStayHidden(t *testing.T) {
	s := newStack(t, func(o *Options) { o.ShowCredentials = false })
	u := s.user()
	s.send(u, "价格")
	s.send(u, "hello")
	eventually(t, "the webhook's reply", func() bool { return s.sentToUser(u, "received: hello") })
	var pages strings.Builder
	for _, p := range []string{"/chat", "/wire", "/wire/1", "/wire/2", "/server", "/settings"} {
		_, b := s.get(p, "en")
		pages.WriteString(b)
	}
	secrets := map[string]string{"token": s.secrets.Token, "aes key": s.secrets.AESKey, "app secret": s.secrets.Secret,
		"admin token": s.secrets.AdminToken, "webhook secret": s.secrets.WebhookSecret}
	for name, v := range secrets {
		if strings.Contains(pages.String(), v) {
			t.Errorf("a page shows the %s", name)
		}
		if strings.Contains(s.logs.String(), v) {
			t.Errorf("the log holds the %s", name)
		}
	}
	if !strings.Contains(pages.String(), "Set WXGATE_TOKEN and WXGATE_AES_KEY") {
		t.Error("the wxgate push command does not say where the credentials come from")
	}
	// With generated development credentials, Settings shows them.
	d := newStack(t)
	_, page := d.get("/settings", "en")
	if !strings.Contains(page, d.secrets.Token) || !strings.Contains(page, d.secrets.AESKey) {
		t.Error("Settings does not show the development credentials")
	}
}

// TestCatalogComplete: every key the templates and the code use is in
// the catalog, in both languages.
func TestCatalogComplete(t *testing.T) {
	for k, v := range catalog {
		if strings.TrimSpace(v[0]) == "" || strings.TrimSpace(v[1]) == "" {
			t.Errorf("%s lacks a language", k)
		}
	}
	keyRE := regexp.MustCompile(`\.T[f]? "([a-z_.]+)"|\b(?:T|Tf)\("([a-z_.]+)"`)
	var sources []string
	for _, dir := range []string{"templates", "."} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() || strings.HasSuffix(e.Name(), "_test.go") {
				continue
			}
			b, err := os.ReadFile(dir + "/" + e.Name())
			if err != nil {
				t.Fatal(err)
			}
			sources = append(sources, string(b))
		}
	}
	used := 0
	for _, src := range sources {
		for _, m := range keyRE.FindAllStringSubmatch(src, -1) {
			k := m[1] + m[2]
			used++
			if strings.HasSuffix(k, ".") {
				continue // a prefix completed at run time, checked below
			}
			if _, ok := catalog[k]; !ok {
				t.Errorf("key %q is not in the catalog", k)
			}
		}
	}
	if used < 100 {
		t.Errorf("found only %d uses of the catalog: the pattern is broken", used)
	}
	for _, k := range []string{"mode.plain", "mode.compat", "mode.safe", "server.state.pending", "server.state.done", "server.state.dead"} {
		if _, ok := catalog[k]; !ok {
			t.Errorf("key %q is not in the catalog", k)
		}
	}
	for _, k := range jsKeys {
		if _, ok := catalog[k]; !ok {
			t.Errorf("script key %q is not in the catalog", k)
		}
	}
	for _, v := range []wechatsim.Verdict{wechatsim.VerdictSuccess, wechatsim.VerdictEmpty, wechatsim.VerdictReply,
		wechatsim.VerdictTimeout, wechatsim.VerdictRefused, wechatsim.VerdictNetwork, wechatsim.VerdictStatus,
		wechatsim.VerdictMalformed, wechatsim.VerdictWrongFormat, wechatsim.VerdictPlaintextReply,
		wechatsim.VerdictBadMsgSignature, wechatsim.VerdictBadCiphertext, wechatsim.VerdictWrongAppID,
		wechatsim.VerdictUnsupportedReply, wechatsim.VerdictReplyMismatch, wechatsim.VerdictXPayError,
		wechatsim.VerdictNotAcknowledged, wechatsim.VerdictCanceled} {
		if _, ok := catalog["verdict."+string(v)]; !ok {
			t.Errorf("verdict %s is not explained in the catalog", v)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"abc":                "abc",
		"":                   "''",
		"a b":                "'a b'",
		"it's":               `'it'\''s'`,
		"价格":                 "'价格'",
		"$(rm -r)":           "'$(rm -r)'",
		"http://x/y?a=1&b=2": "'http://x/y?a=1&b=2'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestNewChecksOptions(t *testing.T) {
	world := wechatsim.NewWorld(nil)
	mock := wechatsim.NewOpenAPI(wechatsim.WithWorld(world))
	ok := Options{API: http.NotFoundHandler(), AdminToken: "x", World: world, Mock: mock,
		Apps: []App{{Name: "a", Token: "tok", PushURL: "http://127.0.0.1:1/wechat"}}}
	for name, change := range map[string]func(*Options){
		"no API":        func(o *Options) { o.API = nil },
		"no token":      func(o *Options) { o.AdminToken = "" },
		"no world":      func(o *Options) { o.World = nil },
		"no apps":       func(o *Options) { o.Apps = nil },
		"relative URL":  func(o *Options) { o.Apps = []App{{Name: "a", Token: "t", PushURL: "/wechat"}} },
		"safe, no key":  func(o *Options) { o.Mode = wechatsim.ModeSafe },
		"unknown shape": func(o *Options) { o.Format = message.Format(9) },
	} {
		o := ok
		o.Apps = append([]App(nil), ok.Apps...)
		change(&o)
		if c, err := New(o); err == nil {
			c.Close()
			t.Errorf("%s: accepted", name)
		}
	}
	c, err := New(ok)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close()
}

// TestParseSample reads the Prometheus text format.
func TestParseSample(t *testing.T) {
	for line, want := range map[string]string{
		`wxgate_pushes_total{app="default",kind="text",result="ok"} 3`: "wxgate_pushes_total ok 3",
		`wxgate_deliveries_dead{destination="default/console"} 1`:      "wxgate_deliveries_dead  1",
		`go_goroutines 12`:       "go_goroutines  12",
		`# HELP x y`:             "",
		`broken{`:                "",
		`x{a="b"} notanumber`:    "",
		`up{a="1"} 1 1700000000`: "up  1",
	} {
		name, labels, v, ok := parseSample(line)
		got := ""
		if ok {
			got = name + " " + labelValue(labels, "result") + " " + strconv.FormatFloat(v, 'f', -1, 64)
		}
		if got != want {
			t.Errorf("parseSample(%q) = %q, want %q", line, got, want)
		}
	}
}
