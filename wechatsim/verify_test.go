package wechatsim

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wxgate/wxgate/wxcrypt"
)

// newServer serves h on a loopback listener for the test and returns its
// URL with the path /wechat.
func newServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/wechat"
}

// echoing answers verification requests with render(echostr); it checks the
// signature unless lax is set.
func echoing(lax bool, render func(echo string) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if !lax && !wxcrypt.VerifySignature(q.Get("signature"), tToken, q.Get("timestamp"), q.Get("nonce")) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		io.WriteString(w, render(q.Get("echostr")))
	})
}

func TestVerifySDKHandler(t *testing.T) {
	clock := NewFakeClock(time.Time{})
	c := newTestClient(t, ClientConfig{Handler: newSDKHandler(t, clock, nil), Clock: clock})
	res := c.Verify(context.Background())
	if !res.Pass || res.Verdict != VerdictVerified || len(res.Checks) != 2 {
		t.Fatalf("%+v", res)
	}
	echo := res.Checks[0]
	if echo.Name != CheckEchostr || len(echo.Echostr) != 19 || string(echo.Body) != echo.Echostr || echo.Status != 200 {
		t.Fatalf("echo check %+v", echo)
	}
	if bad := res.Checks[1]; bad.Name != CheckBadSignature || bad.Status != http.StatusForbidden || !bad.Pass {
		t.Fatalf("bad-signature check %+v", bad)
	}
}

// TestVerifyDiagnoses covers each way a verification answer goes wrong.
func TestVerifyDiagnoses(t *testing.T) {
	cases := []struct {
		name    string
		handler http.Handler
		verdict Verdict
		reason  string
	}{
		{"newline after echostr", echoing(false, func(e string) string { return e + "\n" }), VerdictEchoWhitespace, "trailing newline"},
		{"spaces around echostr", echoing(false, func(e string) string { return " " + e + " " }), VerdictEchoWhitespace, "white space"},
		{"quoted echostr", echoing(false, func(e string) string { return `"` + e + `"` }), VerdictEchoQuoted, "quotes"},
		{"echostr in JSON", echoing(false, func(e string) string { return `{"echostr":"` + e + `"}` }), VerdictEchoJSON, "JSON"},
		{"HTML page", echoing(false, func(string) string { return "<!doctype html><html><body>It works!</body></html>" }), VerdictEchoHTML, "HTML page"},
		{"empty body", echoing(false, func(string) string { return "" }), VerdictEchoWrong, "empty"},
		{"echostr inside text", echoing(false, func(e string) string { return "echostr=" + e }), VerdictEchoWrong, "inside other text"},
		{"wrong body", echoing(false, func(string) string { return "success" }), VerdictEchoWrong, "is not the echostr"},
		{"200 to a bad signature", echoing(true, func(e string) string { return e }), VerdictBadSignatureAccepted, "does not check the signature"},
		{"200 without echo to a bad signature", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			if wxcrypt.VerifySignature(q.Get("signature"), tToken, q.Get("timestamp"), q.Get("nonce")) {
				io.WriteString(w, q.Get("echostr"))
				return
			}
			io.WriteString(w, "invalid signature")
		}), VerdictBadSignatureAccepted, "answered 200"},
		{"wrong token", echoing(false, func(e string) string { return e }), VerdictStatus, "Token differs"},
		{"not found", http.NotFoundHandler(), VerdictStatus, "HTTP 404"},
		{"slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }), VerdictTimeout, "within 100ms"},
		{"HTTP 500", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) }), VerdictStatus, "failed on the GET"},
		{"slow echo: fix the GET, not the push", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }), VerdictTimeout, "echo echostr at once"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ClientConfig{Handler: tc.handler, Timeout: 100 * time.Millisecond}
			if tc.name == "wrong token" {
				cfg.Token = "another1"
			}
			c := newTestClient(t, cfg)
			res := c.Verify(context.Background())
			if res.Pass || res.Verdict != tc.verdict || !strings.Contains(res.Reason, tc.reason) {
				t.Fatalf("got %s %q; want %s with %q", res.Verdict, res.Reason, tc.verdict, tc.reason)
			}
			// A verification is a GET the console sends once: advice about
			// pushes (retries, answering "success") would mislead.
			if strings.Contains(res.Reason, "delivers") || strings.Contains(res.Reason, "customer-service") {
				t.Fatalf("verification diagnosis talks about pushes: %q", res.Reason)
			}
		})
	}
}

// TestVerifyOverLoopback: a real listener with a quoted echo.
func TestVerifyOverLoopback(t *testing.T) {
	u := newServer(t, echoing(false, func(e string) string { return e + "\r\n" }))
	c := newTestClient(t, ClientConfig{URL: u})
	res := c.Verify(context.Background())
	if res.Pass || res.Verdict != VerdictEchoWhitespace || !res.Checks[1].Pass {
		t.Fatalf("%+v", res)
	}
}

func TestCorruptSignature(t *testing.T) {
	for _, s := range []string{"abc0", "abc1", ""} {
		if corruptSignature(s) == s {
			t.Fatalf("%q unchanged", s)
		}
	}
}
