package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxgate/wxgate/gateway"
	"github.com/wxgate/wxgate/gateway/config"
	"github.com/wxgate/wxgate/gateway/deliver"
	"github.com/wxgate/wxgate/gateway/rules"
	"github.com/wxgate/wxgate/openapi"
	"github.com/wxgate/wxgate/store"
	"github.com/wxgate/wxgate/store/backend"
	"github.com/wxgate/wxgate/wechatsim"
	"github.com/wxgate/wxgate/wxcrypt"
)

// The tests run the console in front of a real gateway assembled like
// `wxgate dev` does (SQLite store, the sample rules, a delivery engine to
// the sample webhook, the Open API client on the mock), over HTTP.

const testAppID = "wx0123456789abcdef"

// stack is a console, its gateway and the emulator, served on one
// httptest server as wxgate dev serves them.
type stack struct {
	t       testing.TB
	srv     *httptest.Server
	console *Console
	world   *wechatsim.World
	mock    *wechatsim.OpenAPI
	store   store.Store
	webhook *Webhook
	cfg     *config.Config
	secrets DevConfig
	logs    *syncBuffer
	client  *http.Client
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type stackOption func(*Options)

func newStack(t testing.TB, opts ...stackOption) *stack {
	t.Helper()
	dir := t.TempDir()
	s := &stack{t: t, logs: &syncBuffer{}}
	logger := slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	token, err := wxcrypt.GenerateToken()
	if err != nil {
		t.Fatal(err)
	}
	key, err := wxcrypt.GenerateEncodingAESKey()
	if err != nil {
		t.Fatal(err)
	}
	s.world = wechatsim.NewWorld(nil)
	secret := "5ecre7a99secret0123456789abcdefx"
	s.mock = wechatsim.NewOpenAPI(wechatsim.WithWorld(s.world), wechatsim.WithApp(wechatsim.App{AppID: testAppID, Secret: secret}))
	mockSrv := httptest.NewServer(s.mock)
	t.Cleanup(mockSrv.Close)

	var top http.Handler = http.NotFoundHandler()
	var topMu sync.RWMutex
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		topMu.RLock()
		h := top
		topMu.RUnlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)

	picture, cover, err := WriteSampleMedia(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.secrets = DevConfig{
		Listen: s.srv.Listener.Addr().String(), StateDir: dir, AppID: testAppID, Token: token, AESKey: key, Secret: secret,
		AdminToken: "admin-token-for-tests-0123456789", OpenAPIURL: mockSrv.URL, WebhookURL: s.srv.URL + WebhookPath,
		WebhookSecret: "webhook-secret-for-tests-012345", PictureFile: picture, CoverFile: cover,
	}
	s.cfg, err = config.Parse("(test)", s.secrets.YAML(), config.WithEnviron(s.secrets.Environ()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := backend.Open(ctx, s.cfg.Store, "", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.store = st
	app := s.cfg.Apps["default"]
	client, err := openapi.New(app.AppID, app.Secret.Value(), openapi.WithBaseURL(s.cfg.OpenAPIURL))
	if err != nil {
		t.Fatal(err)
	}
	clients := func(string) (*openapi.Client, error) { return client, nil }
	eng, err := rules.Compile("default", app.Rules, rules.WithMediaCache(rules.NewMediaCache(rules.OpenAPIUploader{Client: clients})))
	if err != nil {
		t.Fatal(err)
	}
	const dest = "default/console"
	metrics := gateway.NewMetrics(st.DeliveryStats, dest)
	hook, err := deliver.NewWebhook(deliver.WebhookConfig{Name: dest, URL: app.Destinations[0].Webhook.URL,
		Secrets: [][]byte{[]byte(app.Destinations[0].Webhook.Secret.Value())}, Timeout: s.cfg.Delivery.Timeout})
	if err != nil {
		t.Fatal(err)
	}
	var gw *gateway.Gateway
	engine, err := deliver.New(st, []deliver.Destination{hook}, "", deliver.Options{
		InitialBackoff: s.cfg.Delivery.InitialBackoff, MaxBackoff: s.cfg.Delivery.MaxBackoff, MaxAttempts: s.cfg.Delivery.MaxAttempts,
		PollInterval: 50 * time.Millisecond, Logger: logger, OnAttempt: metrics.Attempt,
		OnDelivered: func(ctx context.Context, c store.Claimed, r deliver.Result) { gw.WebhookReplied(ctx, c, r) },
	})
	if err != nil {
		t.Fatal(err)
	}
	gw, err = gateway.New(gateway.Options{
		Apps:  []gateway.App{{Name: "default", Path: app.Path, Push: app.PushConfig(), Destinations: []string{dest}}},
		Store: st, Notify: engine.Notify, AdminToken: s.cfg.Admin.Token.Value(), Rules: map[string]*rules.Engine{"default": eng},
		OpenAPI: func(string) *openapi.Client { return client }, Metrics: metrics, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	engineDone := make(chan struct{})
	go func() { engine.Run(ctx); close(engineDone) }()

	s.webhook = NewWebhook(s.secrets.WebhookSecret)
	gwh := gw.Handler(true)
	o := Options{
		API: gwh, AdminToken: s.cfg.Admin.Token.Value(), Config: s.cfg, World: s.world, Mock: s.mock,
		Apps:    []App{{Name: "default", AppID: app.AppID, Token: token, AESKey: key, PushURL: s.srv.URL + app.Path}},
		Webhook: s.webhook, ShowCredentials: true, Logger: logger,
	}
	for _, opt := range opts {
		opt(&o)
	}
	s.console, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(app.Path, gwh)
	mux.Handle("/v1/", gwh)
	mux.Handle("/metrics", gwh)
	mux.Handle("/", s.console.Handler())
	topMu.Lock()
	top = mux
	topMu.Unlock()
	s.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(func() {
		s.console.Close()
		s.srv.CloseClientConnections()
		cancel()
		<-engineDone
		st.Close()
	})
	return s
}

// get fetches a console page with the given Accept-Language and returns
// its status and body.
func (s *stack) get(path, lang string) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.srv.URL+path, nil)
	if lang != "" {
		req.Header.Set("Accept-Language", lang)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// post sends a form as the console's script does (JSON answer).
func (s *stack) post(path string, form url.Values) (int, map[string]any) {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Origin", s.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// user is the World's first user, whom the console made.
func (s *stack) user() string {
	s.t.Helper()
	users := s.world.Users()
	if len(users) == 0 {
		s.t.Fatal("the console made no user")
	}
	return users[0].OpenID
}

// send types text as the user and checks the console accepted it.
func (s *stack) send(openid, text string) {
	s.t.Helper()
	if status, out := s.post("/chat/send", url.Values{"user": {openid}, "text": {text}}); status != http.StatusOK {
		s.t.Fatalf("POST /chat/send %q: %d %v", text, status, out)
	}
}

// eventually waits (up to 15 s, polling) for cond, and fails with what
// when it never holds. It is a wait, not a timing assertion.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited in vain for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sentToUser reports whether the mock sent openid a message containing
// text.
func (s *stack) sentToUser(openid, text string) bool {
	for _, e := range s.world.Transcript(openid) {
		if e.Direction == wechatsim.DirectionToUser && strings.Contains(string(e.Body), text) {
			return true
		}
	}
	return false
}
