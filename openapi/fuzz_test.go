package openapi

import (
	"errors"
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
				if ae.Code == 0 || !ae.TokenEndpoint || strings.Contains(ae.Msg, secret) {
					t.Fatalf("bad *Error: %#v", ae)
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
		if tok.Value() == "" || !tok.ExpiresAt().After(issued) || strings.Contains(tok.String(), tok.Value()) {
			t.Fatalf("bad token accepted: %v", tok)
		}
	})
}
