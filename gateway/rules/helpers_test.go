package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wxgate/wxgate/gateway/config"
	"github.com/wxgate/wxgate/message"
)

// pngBytes sniffs as image/png, which is all the checks and the mock look at.
var pngBytes = append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 64)...)

// appYAML wraps an app's rules section (written at column 0) into a whole
// configuration file.
func appYAML(rules string) string {
	var b strings.Builder
	b.WriteString("allow_inline_secrets: true\napps:\n  shop:\n    appid: wx0123456789abcdef\n    token: Token123\n    secret: appsecret0123\n    rules:\n")
	for _, l := range strings.Split(strings.TrimRight(rules, "\n"), "\n") {
		b.WriteString("      " + l + "\n")
	}
	return b.String()
}

// loadRules loads the rules section through config, in a directory
// holding files (name → content), and returns them with the directory.
func loadRules(t testing.TB, rules string, files map[string][]byte) (config.Rules, string) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := config.Parse(filepath.Join(dir, "wxgate.yaml"), []byte(appYAML(rules)), config.WithEnviron(nil))
	if err != nil {
		t.Fatalf("config:\n%v\n%s", err, appYAML(rules))
	}
	return c.Apps["shop"].Rules, dir
}

// compile loads and compiles a rules section.
func compile(t testing.TB, rules string, opts ...Option) *Engine {
	t.Helper()
	cfg, _ := loadRules(t, rules, nil)
	e, err := Compile("shop", cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func hdr(openid, msgType, event string) message.Header {
	return message.Header{ToUserName: "gh_0123456789ab", FromUserName: openid, CreateTime: 1700000000, MsgType: msgType, Event: event}
}

func textMsg(openid, content string) *message.Text {
	return &message.Text{Header: hdr(openid, message.MsgTypeText, ""), Content: content, MsgID: "1"}
}

func enterSession(openid, from string) *message.UserEnterTempSession {
	return &message.UserEnterTempSession{Header: hdr(openid, message.MsgTypeEvent, message.EventUserEnterTempSession), SessionFrom: from}
}

func imageMsg(openid string) *message.Image {
	return &message.Image{Header: hdr(openid, message.MsgTypeImage, ""), MediaID: "m", MsgID: "2"}
}

func popupEvent(openid string) *message.SubscribeMsgPopupEvent {
	return &message.SubscribeMsgPopupEvent{Header: hdr(openid, message.MsgTypeEvent, message.EventSubscribeMsgPopup)}
}

// at is a time in the named zone.
func at(t testing.TB, zone string, y int, mo time.Month, d, h, mi int) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	return time.Date(y, mo, d, h, mi, 0, 0, loc)
}

// texts lists the texts (or msgtypes) of messages.
func texts(ms []Outbound) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Text
		if m.MsgType != MsgText {
			out[i] = m.MsgType
		}
	}
	return out
}
