package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	secret = []byte("whsec_test")
	at     = time.Unix(1795000000, 0)
)

func sampleEvent() *Event {
	return &Event{
		ID: "m_abc", App: "default", AppID: "wxba5fad812f8e6fb9", OpenID: "o9AgO5Kd5ggOC-bXrbNODIiE3bGY",
		MsgType: "text", CreateTime: 1795000000, ReceivedAt: FormatTime(time.Unix(1795000000, 123456789)),
		Message: json.RawMessage(`{"ToUserName":"gh_1","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","CreateTime":1795000000,"MsgType":"text","Content":"<&>\"","MsgId":9223372036854775807}`),
	}
}

// The body is the contract's object, field for field, with the message's
// 64-bit id untouched and event present although empty.
func TestAppendEvent(t *testing.T) {
	body, err := AppendEvent(nil, sampleEvent())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"m_abc","app":"default","appid":"wxba5fad812f8e6fb9","openid":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","msg_type":"text","event":"","create_time":1795000000,"received_at":"2026-11-18T11:06:40.123Z","message":{"ToUserName":"gh_1","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","CreateTime":1795000000,"MsgType":"text","Content":"<&>\"","MsgId":9223372036854775807}}`
	if string(body) != want {
		t.Fatalf("body\n%s\nwant\n%s", body, want)
	}
	var back Event
	if err := json.Unmarshal(body, &back); err != nil || back.ID != "m_abc" || back.Event != "" {
		t.Fatalf("%v %+v", err, back)
	}
	for _, bad := range []string{"", "[]", "{", `"x"`} {
		e := sampleEvent()
		e.Message = json.RawMessage(bad)
		if _, err := AppendEvent(nil, e); !errors.Is(err, ErrBody) {
			t.Errorf("message %q: %v", bad, err)
		}
	}
}

func TestFormatTime(t *testing.T) {
	for in, want := range map[time.Time]string{
		time.Date(2026, 11, 29, 8, 0, 0, 123e6, time.UTC):                        "2026-11-29T08:00:00.123Z",
		time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC):                            "2026-11-29T08:00:00.000Z",
		time.Date(2026, 11, 29, 16, 0, 0, 999999999, time.FixedZone("", 8*3600)): "2026-11-29T08:00:00.999Z",
	} {
		if got := FormatTime(in); got != want {
			t.Errorf("FormatTime(%v) = %s, want %s", in, got, want)
		}
	}
}

// The signature is HMAC-SHA256 of "<t>.<body>", recomputed here from the
// contract's words rather than through Sign.
func TestSignMatchesTheContract(t *testing.T) {
	body := []byte(`{"id":"x"}`)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("1795000000." + string(body)))
	want := "t=1795000000,v1=" + hex.EncodeToString(m.Sum(nil))
	if got := Sign(body, at, secret); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	body, _ := AppendEvent(nil, sampleEvent())
	header := Sign(body, at, secret)
	if err := Verify(body, header, secret, 0, at.Add(4*time.Minute)); err != nil {
		t.Fatal(err)
	}
	rotated := Sign(body, at, []byte("new"), secret)
	if err := Verify(body, rotated, secret, 0, at); err != nil {
		t.Fatalf("rotation header: %v", err)
	}
	for _, c := range []struct {
		name   string
		body   []byte
		header string
		secret []byte
		now    time.Time
		want   error
	}{
		{"other body", append(bytes.Clone(body), ' '), header, secret, at, ErrSignature},
		{"other secret", body, header, []byte("other"), at, ErrSignature},
		{"too old", body, header, secret, at.Add(6 * time.Minute), ErrTimestamp},
		{"from the future", body, header, secret, at.Add(-6 * time.Minute), ErrTimestamp},
		{"empty header", body, "", secret, at, ErrNoSignature},
		{"no v1", body, "t=1795000000", secret, at, ErrNoSignature},
		{"no t", body, strings.TrimPrefix(header, "t=1795000000,"), secret, at, ErrNoSignature},
		{"v1 not hex", body, "t=1795000000,v1=zz", secret, at, ErrNoSignature},
		{"other t", body, strings.Replace(header, "t=1795000000", "t=1795000001", 1), secret, at, ErrSignature},
	} {
		if err := Verify(c.body, c.header, c.secret, 0, c.now); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestParseEvent(t *testing.T) {
	body, _ := AppendEvent(nil, sampleEvent())
	e, err := ParseEvent(body, Sign(body, time.Now(), secret), secret)
	if err != nil || e.ID != "m_abc" || e.MsgType != "text" {
		t.Fatalf("%v %+v", err, e)
	}
	if _, err := ParseEvent([]byte(`{}`), Sign([]byte(`{}`), time.Now(), secret), secret); !errors.Is(err, ErrBody) {
		t.Fatalf("empty object: %v", err)
	}
	if _, err := ParseEvent(body, Sign(body, time.Now(), []byte("x")), secret); !errors.Is(err, ErrSignature) {
		t.Fatalf("bad signature: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"id":"1"}`), "t=1795000000,v1=00")
	f.Add([]byte{}, "t=,v1=,v1")
	f.Add([]byte("x"), Sign([]byte("x"), at, secret))
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		// Accepted only when one v1 is the right MAC (hex in any case).
		err := Verify(body, header, secret, 0, at)
		want := strings.TrimPrefix(Sign(body, at, secret), "t=1795000000,")
		if err == nil && !strings.Contains(strings.ToLower(header), want) {
			t.Fatalf("accepted %q for %q", header, body)
		}
	})
}
