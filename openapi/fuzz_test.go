package openapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzDecodeAnswer feeds arbitrary answers to the Open API answer decoder
// and to the token answer validation: they must never panic, never leak the
// secret, and only succeed on sane input.
func FuzzDecodeAnswer(f *testing.F) {
	f.Add(200, "application/json", []byte(`{"access_token":"86_abc","expires_in":7200}`))
	f.Add(200, "application/json", []byte(`{"errcode":40001,"errmsg":"invalid credential FUZZSECRET"}`))
	f.Add(502, "text/html", []byte(`<html>502 Bad Gateway</html>`))
	f.Add(200, "text/plain", []byte(`{"errcode":"-1"}`))
	f.Add(200, "", []byte(""))
	f.Add(200, "application/json", []byte(`{"access_token":"x","expires_in":-1}`))
	f.Add(200, "application/json; charset=utf-8", []byte("\xef\xbb\xbf{\"errcode\":0,\"errmsg\":\"ok\"}"))
	f.Add(200, "application/json", []byte(`{"errcode":40164,"errmsg":"invalid ip 1.2.3.4 ipv6 ::ffff:1.2.3.4, not in whitelist rid: 6560a1b2-3c4d5e6f-1a2b3c4d"}`))
	const secret = "FUZZSECRET"
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		var ans tokenAnswer
		err := decodeAnswer("cgi-bin/token", true, status, contentType, body, &ans, secret)
		if err != nil {
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("secret in error: %v", err)
			}
			var ae *Error
			if errors.As(err, &ae) {
				if ae.Code == 0 || !ae.TokenEndpoint || strings.Contains(ae.Msg, secret) || strings.Contains(ae.RID, secret) {
					t.Fatalf("bad *Error: %#v", ae)
				}
				if ae.RID != "" && (len(ae.RID) > maxRIDLen || strings.ContainsAny(ae.RID, " :,") || strings.HasSuffix(ae.Msg, "rid:")) {
					t.Fatalf("bad request id split: %#v", ae)
				}
			} else if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		if status < 200 || status > 299 {
			t.Fatalf("HTTP %d accepted", status)
		}
		issued := time.Unix(1714000000, 0)
		tok, err := ans.token("cgi-bin/token", issued)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		if tok.Value() == "" || tok.Value() != ans.AccessToken || !tok.ExpiresAt().After(issued) {
			t.Fatalf("bad token accepted: %v", tok)
		}
		// Every printed form is the redacted description, whatever the
		// value (a value such as "0" may well occur in the description).
		want := "openapi.Token(REDACTED, expires " + tok.ExpiresAt().UTC().Format(time.RFC3339) + ")"
		j, _ := json.Marshal(tok)
		for _, got := range []string{tok.String(), tok.GoString(), fmt.Sprint(tok), fmt.Sprintf("%+v", tok),
			fmt.Sprintf("%#v", tok), fmt.Sprintf("%s", &tok), string(j[1 : len(j)-1])} {
			if got != want {
				t.Fatalf("token printed as %q, want %q", got, want)
			}
		}
	})
}

// FuzzSubscribeMessage decodes arbitrary requests into a SubscribeMessage
// and validates them: nothing may panic, errors must be typed, and a valid
// message must survive the trip through its wire encoding unchanged.
func FuzzSubscribeMessage(f *testing.F) {
	f.Add([]byte(`{"touser":"o1","template_id":"T","page":"index?a=1","miniprogram_state":"formal","lang":"zh_CN","data":{"thing1":{"value":"好"},"time2":{"value":"15:01~16:00"},"amount3":{"value":"￥1.5元"}}}`))
	f.Add([]byte(`{"touser":"o1","template_id":"T","data":{"date1":"2019年10月1日 15:01","number2":12,"car_number3":{"value":"粤A8Z888挂"}}}`))
	f.Add([]byte(`{"touser":"o1","template_id":"T","data":{"name1":{"value":"张三"},"phrase2":{"value":"配送中"},"symbol3":{"value":"#"}}}`))
	f.Add([]byte(`{"data":"x"}`))
	f.Add([]byte(`{"touser":"o1","template_id":"T","data":{"thing1":{"value":1e999}}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var m SubscribeMessage
		if json.Unmarshal(in, &m) != nil {
			return
		}
		err := m.Validate()
		if err != nil {
			if !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		b, err := marshal(&m)
		if err != nil {
			t.Fatalf("valid message does not encode: %v", err)
		}
		var back SubscribeMessage
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s does not decode: %v", b, err)
		}
		if back.ToUser != m.ToUser || back.TemplateID != m.TemplateID || back.Page != m.Page || back.Lang != m.Lang ||
			back.MiniProgramState != m.MiniProgramState || len(back.Data) != len(m.Data) {
			t.Fatalf("round trip changed the message: %+v -> %+v", m, back)
		}
		for k, v := range m.Data {
			if back.Data[k] != v {
				t.Fatalf("data.%s: %q -> %q", k, v, back.Data[k])
			}
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("valid message invalid after a round trip: %v", err)
		}
	})
}
