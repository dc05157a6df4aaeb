package openapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// chainTexts returns the text of err and of every error reachable from it
// by Unwrap (single and multiple), plus the URL of every *url.Error.
func chainTexts(err error) []string {
	var out []string
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		out = append(out, e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e))
		if ue, ok := e.(*url.Error); ok {
			out = append(out, ue.URL)
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		}
	}
	walk(err)
	return out
}

// TestRedirectFollowedByCallerClientNeverLeaks uses a caller-supplied
// *http.Client that follows redirects. The server redirects the request,
// with its access_token or AppSecret, to places that fail: the redirected
// URL then sits in the *url.Error of the chain, possibly with the secret in
// a parameter of another name or in the path.
func TestRedirectFollowedByCallerClientNeverLeaks(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close() // connection refused from now on

	for _, tc := range []struct {
		name     string
		location func(r *http.Request) string
	}{
		{"same query to a dead host", func(r *http.Request) string {
			return "http://" + deadAddr + r.URL.RequestURI()
		}},
		{"login page with next=", func(r *http.Request) string {
			return "http://" + deadAddr + "/login?next=" + url.QueryEscape("https://api.weixin.qq.com"+r.URL.RequestURI())
		}},
		{"secret in the path", func(r *http.Request) string {
			q := r.URL.Query()
			return "http://" + deadAddr + "/v/" + q.Get("access_token") + q.Get("secret") + "/x"
		}},
		{"redirect loop", func(r *http.Request) string {
			return r.URL.RequestURI() + "&again=1"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/cgi-bin/stable_token" {
					w.Header().Set("Content-Type", "application/json")
					fmt.Fprintf(w, `{"access_token":%q,"expires_in":7200}`, testToken)
					return
				}
				http.Redirect(w, r, tc.location(r), http.StatusFound)
			}))
			defer srv.Close()
			follows := &http.Client{} // default CheckRedirect: follows up to 10 redirects

			// An API call carries the access_token.
			c, err := New("wxtest", testSecret, WithBaseURL(srv.URL), WithHTTPClient(follows), WithBusyRetry(1, 0, 0))
			if err != nil {
				t.Fatal(err)
			}
			sendErr := c.SendText(context.Background(), "o", "x")
			// The classic token endpoint carries the AppSecret.
			src, err := NewClassicTokenSource("wxtest", testSecret, WithBaseURL(srv.URL), WithHTTPClient(follows), WithBusyRetry(1, 0, 0))
			if err != nil {
				t.Fatal(err)
			}
			_, tokErr := src.FetchToken(context.Background())

			for _, err := range []error{sendErr, tokErr} {
				if err == nil {
					t.Fatal("no error")
				}
				var ue *url.Error
				if !errors.As(err, &ue) {
					t.Fatalf("no *url.Error in the chain: %v", err)
				}
				for _, s := range chainTexts(err) {
					if strings.Contains(s, testToken) || strings.Contains(s, testSecret) {
						t.Errorf("secret in the error chain: %s", s)
					}
				}
			}
		})
	}
}
