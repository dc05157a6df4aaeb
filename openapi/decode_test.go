package openapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	testSecret = "SECRET0123456789SECRET0123456789"
	testToken  = "86_TOKENVALUETOKENVALUETOKENVALUE"
)

// fakeWeChat answers the token endpoints with a good token and every other
// path with handler.
func fakeWeChat(t *testing.T, handler http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "token") {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"access_token":%q,"expires_in":7200}`, testToken)
			return
		}
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func fakeClient(t *testing.T, srv *httptest.Server, opts ...Option) *Client {
	t.Helper()
	c, err := New("wxtest", testSecret, append([]Option{WithBaseURL(srv.URL), WithBusyRetry(1, 0, 0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func checkClean(t *testing.T, err error) {
	t.Helper()
	for e := err; e != nil; e = errors.Unwrap(e) {
		if s := e.Error(); strings.Contains(s, testToken) || strings.Contains(s, testSecret) {
			t.Errorf("secret in error chain: %q", s)
		}
	}
	var ue *url.Error
	if errors.As(err, &ue) && (strings.Contains(ue.URL, testToken) || strings.Contains(ue.URL, testSecret)) {
		t.Errorf("secret in *url.Error URL: %q", ue.URL)
	}
}

func TestDefensiveDecoding(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		ctype  string
		body   string
		want   error
	}{
		{"html 502", 502, "text/html", "<html><body>Bad Gateway</body></html>", ErrBadResponse},
		{"html 200", 200, "text/html", "<!DOCTYPE html><p>maintenance</p>", ErrBadResponse},
		{"empty 200", 200, "application/json", "", ErrBadResponse},
		{"empty 503", 503, "", "", ErrBadResponse},
		{"invalid json", 200, "application/json", `{"errcode":0,`, ErrBadResponse},
		{"array", 200, "application/json", `[1,2]`, ErrBadResponse},
		{"errcode string junk", 200, "application/json", `{"errcode":"abc"}`, ErrBadResponse},
		{"errcode float", 200, "application/json", `{"errcode":1.5}`, ErrBadResponse},
		{"errcode huge", 200, "application/json", `{"errcode":99999999999999}`, ErrBadResponse},
		{"500 with errcode", 500, "application/json", `{"errcode":-1,"errmsg":"system error"}`, ErrBusy},
		{"errcode as string", 200, "text/plain", `{"errcode":"45015","errmsg":"out of time"}`, ErrWindowExpired},
		{"bom", 200, "application/json", "\xef\xbb\xbf{\"errcode\":45047}", ErrCountExceeded},
		{"too large", 200, "application/json", `{"errcode":0,"pad":"` + strings.Repeat("x", 4096) + `"}`, ErrBadResponse},
		{"404 text", 404, "text/plain", "not found", ErrBadResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakeWeChat(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.ctype != "" {
					w.Header().Set("Content-Type", tc.ctype)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			})
			c := fakeClient(t, srv, WithMaxResponseSize(1024))
			err := c.SendText(context.Background(), "openid", "x")
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			checkClean(t, err)
		})
	}
}

func TestTokenAnswerValidation(t *testing.T) {
	for _, body := range []string{
		`{"access_token":"","expires_in":7200}`,
		`{"expires_in":7200}`,
		`{"access_token":"abc"}`,
		`{"access_token":"abc","expires_in":0}`,
		`{"access_token":"abc","expires_in":-5}`,
		`{"access_token":"abc","expires_in":"soon"}`,
		`{"access_token":"abc","expires_in":99999999999}`,
		`{"access_token":"a b","expires_in":7200}`,
		`{"access_token":123,"expires_in":7200}`,
		`{"access_token":"` + strings.Repeat("a", maxTokenLen+1) + `","expires_in":7200}`,
		`<html>oops</html>`,
		`{"errcode":0}`,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(body))
		}))
		for _, classic := range []bool{false, true} {
			var src TokenSource
			var err error
			if classic {
				src, err = NewClassicTokenSource("wxtest", testSecret, WithBaseURL(srv.URL))
			} else {
				src, err = NewStableTokenSource("wxtest", testSecret, WithBaseURL(srv.URL))
			}
			if err != nil {
				t.Fatal(err)
			}
			tok, err := src.FetchToken(context.Background())
			if !errors.Is(err, ErrBadResponse) || !tok.IsZero() {
				t.Errorf("%.60s: err = %v, want ErrBadResponse", body, err)
			}
		}
		srv.Close()
	}
	// Accepted variants: expires_in as a string or an integral float.
	for _, body := range []string{`{"access_token":"abc","expires_in":"7200"}`, `{"access_token":"abc","expires_in":7200.0}`} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) }))
		src, _ := NewStableTokenSource("wxtest", testSecret, WithBaseURL(srv.URL))
		tok, err := src.FetchToken(context.Background())
		if err != nil || tok.ExpiresAt().Sub(tok.IssuedAt()) != 7200*time.Second {
			t.Errorf("%s: err = %v", body, err)
		}
		srv.Close()
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	t.Run("echoed errmsg", func(t *testing.T) {
		srv := fakeWeChat(t, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"errcode":40003,"errmsg":"bad openid for %s"}`, r.URL.Query().Get("access_token"))
		})
		err := fakeClient(t, srv).SendText(context.Background(), "o", "x")
		if !errors.Is(err, ErrInvalidOpenID) {
			t.Fatalf("err = %v", err)
		}
		checkClean(t, err)
	})
	t.Run("token endpoint echoes secret", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"errcode":40125,"errmsg":"invalid appsecret %s"}`, r.URL.Query().Get("secret"))
		}))
		defer srv.Close()
		c, _ := New("wxtest", testSecret, WithBaseURL(srv.URL), WithClassicToken())
		_, err := c.Token(context.Background())
		if !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("err = %v", err)
		}
		checkClean(t, err)
	})
	t.Run("transport error on API call", func(t *testing.T) {
		var srv *httptest.Server
		srv = fakeWeChat(t, func(w http.ResponseWriter, r *http.Request) {
			// Kill the connection mid-answer.
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
		})
		err := fakeClient(t, srv).SendText(context.Background(), "o", "x")
		var ue *url.Error
		if err == nil || !errors.As(err, &ue) {
			t.Fatalf("err = %v, want a *url.Error in the chain", err)
		}
		if !strings.Contains(ue.URL, "access_token="+redacted) {
			t.Errorf("URL not redacted: %q", ue.URL)
		}
		checkClean(t, err)
	})
	t.Run("transport error on classic token", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		base := srv.URL
		srv.Close() // connection refused
		src, _ := NewClassicTokenSource("wxtest", testSecret, WithBaseURL(base))
		_, err := src.FetchToken(context.Background())
		if err == nil {
			t.Fatal("no error")
		}
		checkClean(t, err)
	})
	t.Run("timeout", func(t *testing.T) {
		block := make(chan struct{})
		srv := fakeWeChat(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-block:
			case <-r.Context().Done():
			}
		})
		defer close(block)
		err := fakeClient(t, srv, WithTimeout(20*time.Millisecond)).SendText(context.Background(), "o", "x")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want DeadlineExceeded in the chain", err)
		}
		checkClean(t, err)
	})
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://api.weixin.qq.com/cgi-bin/token?appid=wx1&grant_type=client_credential&secret=S3": "https://api.weixin.qq.com/cgi-bin/token?appid=wx1&grant_type=client_credential&secret=REDACTED",
		"http://h/x?access_token=T&media_id=m":                                                     "http://h/x?access_token=REDACTED&media_id=m",
		"http://user:pw@h/x":                                                                       "http://h/x",
		"http://h/x?%zz&access_token=T":                                                            "http://h/x?REDACTED",
		"::bad::?access_token=T":                                                                   "::bad::?REDACTED",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
	// Secrets known by value are removed wherever they are, however often
	// they were percent-encoded.
	const sec = "S3/cr+t"
	for in, want := range map[string]string{
		"http://h/v/S3%2Fcr+t/x?a=1": "http://h/v/REDACTED/x?a=1",
		"http://h/login?next=" + url.QueryEscape("http://a/x?access_token="+sec): "http://h/login?next=http%3A%2F%2Fa%2Fx%3Faccess_token%3DREDACTED",
		"http://h/login?next=" + url.QueryEscape(url.QueryEscape("?t="+sec)):     "http://h/REDACTED",
	} {
		if got := redactURL(in, sec); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGetTempMediaTellsBytesFromErrors(t *testing.T) {
	for _, tc := range []struct {
		ctype, body string
		want        error
	}{
		{"image/jpeg", "\xff\xd8\xff\xe0JFIF", nil},
		{"application/json; charset=utf-8", `{"errcode":40007,"errmsg":"invalid media_id"}`, ErrInvalidMediaID},
		{"text/plain", `{"errcode":40007,"errmsg":"invalid media_id"}`, ErrInvalidMediaID},
		{"text/html", `<html>`, ErrBadResponse},
		{"application/json", `{"video_url":"http://x"}`, ErrBadResponse},
		{"image/png", ``, ErrBadResponse},
	} {
		srv := fakeWeChat(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", tc.ctype)
			_, _ = w.Write([]byte(tc.body))
		})
		data, ctype, err := fakeClient(t, srv).GetTempMedia(context.Background(), "m")
		if !errors.Is(err, tc.want) || (tc.want == nil && (string(data) != tc.body || ctype != tc.ctype)) {
			t.Errorf("%s: data=%q ctype=%q err=%v, want %v", tc.ctype, data, ctype, err, tc.want)
		}
	}
	// Oversized media.
	srv := fakeWeChat(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(make([]byte, 100))
	})
	if _, _, err := fakeClient(t, srv, WithMaxMediaSize(50)).GetTempMedia(context.Background(), "m"); !errors.Is(err, ErrBadResponse) {
		t.Errorf("oversized media: %v", err)
	}
}

func TestErrorIsMapping(t *testing.T) {
	for _, tc := range []struct {
		err  *Error
		is   []error
		isnt []error
	}{
		{&Error{Code: -1}, []error{ErrBusy}, []error{ErrTokenRejected}},
		{&Error{Code: 40001}, []error{ErrTokenRejected, ErrInvalidCredential}, []error{ErrBadCredentials, ErrInvalidToken}},
		{&Error{Code: 40001, TokenEndpoint: true}, []error{ErrBadCredentials}, []error{ErrTokenRejected, ErrInvalidCredential}},
		{&Error{Code: 40014}, []error{ErrTokenRejected, ErrInvalidToken}, []error{ErrTokenExpired}},
		{&Error{Code: 42001}, []error{ErrTokenRejected, ErrTokenExpired}, []error{ErrInvalidToken}},
		{&Error{Code: 40125, TokenEndpoint: true}, []error{ErrBadCredentials}, nil},
		{&Error{Code: 40013, TokenEndpoint: true}, []error{ErrBadCredentials}, nil},
		{&Error{Code: 40125}, nil, []error{ErrBadCredentials}},
		{&Error{Code: 45009}, []error{ErrQuota}, nil},
		{&Error{Code: 45015}, []error{ErrWindowExpired}, []error{ErrCountExceeded}},
		{&Error{Code: 45047}, []error{ErrCountExceeded}, []error{ErrWindowExpired}},
		{&Error{Code: 40003}, []error{ErrInvalidOpenID}, nil},
		{&Error{Code: 40007}, []error{ErrInvalidMediaID}, nil},
		{&Error{Code: 40164}, []error{ErrIPNotAllowed}, nil},
		{&Error{Code: 89503}, []error{ErrIPNotAllowed}, nil},
		{&Error{Code: 48001}, []error{ErrUnauthorized}, nil},
	} {
		wrapped := fmt.Errorf("context: %w", tc.err)
		for _, s := range tc.is {
			if !errors.Is(wrapped, s) {
				t.Errorf("%v should match %v", tc.err, s)
			}
		}
		for _, s := range tc.isnt {
			if errors.Is(wrapped, s) {
				t.Errorf("%v should not match %v", tc.err, s)
			}
		}
	}
	e := &Error{Code: 45015, Msg: "response out of time limit", Op: "cgi-bin/message/custom/send"}
	if got, want := e.Error(), "openapi: cgi-bin/message/custom/send: errcode 45015: response out of time limit"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := cleanMsg("a\x00b\nc"+strings.Repeat("é", 400), "b"); strings.ContainsAny(got, "\x00\n") || strings.Contains(got, "b") || len(got) > maxMsgLen+3 {
		t.Errorf("cleanMsg = %q", got)
	}
}

func TestErrorRequestIDIsSplitOff(t *testing.T) {
	for _, tc := range []struct{ errmsg, msg, rid string }{
		{"invalid credential, access_token is invalid or not latest rid: 6560a1b2-3c4d5e6f-1a2b3c4d",
			"invalid credential, access_token is invalid or not latest", "6560a1b2-3c4d5e6f-1a2b3c4d"},
		{"invalid appsecret, rid: 61783524-6e9fd6bc-59d4a1b8", "invalid appsecret", "61783524-6e9fd6bc-59d4a1b8"},
		{"invalid ip 1.2.3.4 ipv6 ::ffff:1.2.3.4, not in whitelist rid: 60196b9b-4c5ba79c-066b49c8",
			"invalid ip 1.2.3.4 ipv6 ::ffff:1.2.3.4, not in whitelist", "60196b9b-4c5ba79c-066b49c8"},
		{"rid: abc", "", "abc"},
		{"system error", "system error", ""},
		{"invalid media_id hint: [aMOoRa04274693!]", "invalid media_id hint: [aMOoRa04274693!]", ""},
		{"grid: abc", "grid: abc", ""},
		{"x rid: not an id!", "x rid: not an id!", ""},
		{"x rid: " + strings.Repeat("a", 65), "x rid: " + strings.Repeat("a", 65), ""},
	} {
		srv := fakeWeChat(t, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"errcode":45015,"errmsg":%q}`, tc.errmsg)
		})
		err := fakeClient(t, srv).SendText(context.Background(), "o", "x")
		var ae *Error
		if !errors.As(err, &ae) || ae.Msg != tc.msg || ae.RID != tc.rid {
			t.Errorf("%q: got %#v, want Msg %q RID %q", tc.errmsg, ae, tc.msg, tc.rid)
		}
	}
	e := &Error{Code: 45015, Msg: "response out of time limit or subscription is canceled", RID: "6560a1b2-3c4d5e6f-1a2b3c4d", Op: "cgi-bin/message/custom/send"}
	if got, want := e.Error(), "openapi: cgi-bin/message/custom/send: errcode 45015: response out of time limit or subscription is canceled (rid: 6560a1b2-3c4d5e6f-1a2b3c4d)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
