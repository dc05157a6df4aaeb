package deliver_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxgate/wxgate/gateway/deliver"
	"github.com/wxgate/wxgate/gateway/webhook"
	"github.com/wxgate/wxgate/store"
)

var sendAt = time.Unix(1795000000, 0)

func claimed(id string, attempt int) store.Claimed {
	return store.Claimed{MessageID: id, App: "default", Destination: "hook", MsgType: "text", Attempt: attempt, Payload: payloadFor(id)}
}

// One request, header for header and byte for byte.
func TestWebhookRequest(t *testing.T) {
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, body = r, must(io.ReadAll(r.Body))
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "thanks")
	}))
	defer srv.Close()
	secrets := [][]byte{bytes.Clone(secretNew), secretOld}
	w, err := deliver.NewWebhook(deliver.WebhookConfig{Name: "hook", URL: srv.URL + "/in?x=1", Secrets: secrets, Version: "1.2.3", Now: func() time.Time { return sendAt }})
	if err != nil {
		t.Fatal(err)
	}
	secrets[0][0] = 'X' // the webhook keeps its own copy
	c := claimed("msg_abc", 3)
	r, err := w.Deliver(context.Background(), c)
	if err != nil || !r.Delivered || r.Status != http.StatusAccepted || string(r.Body) != "thanks" || r.Truncated {
		t.Fatalf("%+v %v", r, err)
	}
	want := map[string]string{
		"Content-Type":          "application/json",
		"User-Agent":            "wxgate/1.2.3",
		webhook.HeaderID:        "msg_abc",
		webhook.HeaderAttempt:   "3",
		webhook.HeaderSignature: webhook.Sign(c.Payload, sendAt, secretNew, secretOld),
	}
	for k, v := range want {
		if got.Header.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, got.Header.Get(k), v)
		}
	}
	if got.Method != http.MethodPost || got.URL.RequestURI() != "/in?x=1" || !bytes.Equal(body, c.Payload) {
		t.Errorf("%s %s %s", got.Method, got.URL, body)
	}
	if !strings.HasPrefix(want[webhook.HeaderSignature], "t=1795000000,v1=") {
		t.Errorf("signature %s", want[webhook.HeaderSignature])
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestWebhookStatuses(t *testing.T) {
	for status, delivered := range map[int]bool{200: true, 201: true, 204: true, 299: true, 400: false, 404: false, 410: false, 429: false, 500: false, 503: false} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(status)
			if status != 204 {
				_, _ = io.WriteString(w, "answer")
			}
		}))
		w := newHook(t, "hook", srv.URL, 0)
		r, err := w.Deliver(context.Background(), claimed("m", 1))
		srv.Close()
		if r.Status != status || r.Delivered != delivered || (err == nil) != delivered {
			t.Errorf("%d: %+v %v", status, r, err)
		}
		if !delivered && (!errors.Is(err, deliver.ErrStatus) || !strings.Contains(err.Error(), "answered "+strconv.Itoa(status))) {
			t.Errorf("%d: error %v", status, err)
		}
	}
}

// A redirect is a failed attempt and is never followed.
func TestWebhookDoesNotFollowRedirects(t *testing.T) {
	var followed atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed.Add(1) }))
	defer target.Close()
	for _, code := range []int{301, 302, 303, 307, 308} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL, code)
		}))
		r, err := newHook(t, "hook", srv.URL, 0).Deliver(context.Background(), claimed("m", 1))
		srv.Close()
		if r.Delivered || r.Status != code || !errors.Is(err, deliver.ErrStatus) || !strings.Contains(err.Error(), "redirect") {
			t.Errorf("%d: %+v %v", code, r, err)
		}
	}
	if followed.Load() != 0 {
		t.Fatalf("the redirect target got %d requests", followed.Load())
	}
}

// The body kept is capped at MaxResponseBody and says so.
func TestWebhookResponseBodyCap(t *testing.T) {
	for size, truncated := range map[int]bool{0: false, 10: false, deliver.MaxResponseBody: false, deliver.MaxResponseBody + 1: true, 1 << 20: true} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write(bytes.Repeat([]byte("a"), size))
		}))
		r, err := newHook(t, "hook", srv.URL, 0).Deliver(context.Background(), claimed("m", 1))
		srv.Close()
		if err != nil || !r.Delivered || len(r.Body) != min(size, deliver.MaxResponseBody) || r.Truncated != truncated {
			t.Errorf("body of %d: len %d truncated %v, %v", size, len(r.Body), r.Truncated, err)
		}
	}
}

func TestWebhookTimeoutAndCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // the server notices the client leaving only after the body
		<-r.Context().Done()
	}))
	defer srv.Close()
	w := newHook(t, "hook", srv.URL, 50*time.Millisecond)
	if _, err := w.Deliver(context.Background(), claimed("m", 1)); !errors.Is(err, deliver.ErrTimeout) {
		t.Errorf("timeout: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := w.Deliver(ctx, claimed("m", 1)); !errors.Is(err, deliver.ErrCanceled) {
		t.Errorf("canceled: %v", err)
	}
	if _, err := w.Deliver(context.Background(), store.Claimed{MessageID: "m", Attempt: 1}); !errors.Is(err, deliver.ErrPermanent) {
		t.Errorf("no payload: %v", err)
	}
}

// Consecutive deliveries reuse one connection.
func TestWebhookReusesConnections(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte("b"), 100<<10)) // past the cap: drained, not dropped
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	w := newHook(t, "hook", srv.URL, 0)
	for i := range 5 {
		if _, err := w.Deliver(context.Background(), claimed("m", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 5 sequential deliveries", n)
	}
}

func TestNewWebhookChecksConfig(t *testing.T) {
	ok := deliver.WebhookConfig{Name: "hook", URL: "https://example.com/in", Secrets: [][]byte{secretNew}}
	if _, err := deliver.NewWebhook(ok); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*deliver.WebhookConfig){
		"no name":          func(c *deliver.WebhookConfig) { c.Name = "" },
		"no url":           func(c *deliver.WebhookConfig) { c.URL = "" },
		"relative url":     func(c *deliver.WebhookConfig) { c.URL = "/in?token=s3cr3t-token" },
		"ftp url":          func(c *deliver.WebhookConfig) { c.URL = "ftp://example.com/?token=s3cr3t-token" },
		"no host":          func(c *deliver.WebhookConfig) { c.URL = "https:///in" },
		"bad url":          func(c *deliver.WebhookConfig) { c.URL = "http://exa mple.com/%zz?token=s3cr3t-token" },
		"no secret":        func(c *deliver.WebhookConfig) { c.Secrets = nil },
		"empty secret":     func(c *deliver.WebhookConfig) { c.Secrets = [][]byte{secretNew, {}} },
		"negative timeout": func(c *deliver.WebhookConfig) { c.Timeout = -time.Second },
	} {
		c := ok
		edit(&c)
		_, err := deliver.NewWebhook(c)
		if !errors.Is(err, deliver.ErrConfig) {
			t.Errorf("%s: %v", name, err)
		} else if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%s: %v leaks the URL's token", name, err)
		}
	}
}
