package openapi

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wxgate/wxgate/wechatsim"
)

// sim is a mock Open API served over HTTP, with its fake clock.
type sim struct {
	api   *wechatsim.OpenAPI
	srv   *httptest.Server
	clock *wechatsim.FakeClock
}

func newSim(t testing.TB, opts ...wechatsim.OpenAPIOption) *sim {
	t.Helper()
	api := wechatsim.NewOpenAPI(opts...)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	clk := api.FakeClock()
	if clk == nil {
		t.Fatal("mock has no FakeClock")
	}
	return &sim{api: api, srv: srv, clock: clk}
}

// sourceOptions points a token source at the mock, on its clock, with fast
// -1 retries.
func (s *sim) sourceOptions() []SourceOption {
	return []SourceOption{
		WithBaseURL(s.srv.URL),
		WithHTTPClient(s.srv.Client()),
		WithClock(s.clock.Now),
		WithBusyRetry(3, time.Millisecond, 4*time.Millisecond),
	}
}

// options is sourceOptions for New, followed by extra.
func (s *sim) options(extra ...Option) []Option {
	var opts []Option
	for _, o := range s.sourceOptions() {
		opts = append(opts, o)
	}
	return append(opts, extra...)
}

func (s *sim) client(t testing.TB, extra ...Option) *Client {
	t.Helper()
	c, err := New(wechatsim.DefaultAppID, wechatsim.DefaultSecret, s.options(extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// user adds a user whose 48 h window is open.
func (s *sim) user() string {
	u := s.api.World().NewUser()
	s.api.World().NoteUserMessage(u.OpenID, s.clock.Now())
	return u.OpenID
}

// calls returns how many requests the mock received on path.
func (s *sim) calls(path string) int {
	return s.api.Stats()[path].Calls
}

// checkNoSecret fails if text holds a token value or the AppSecret.
func (s *sim) checkNoSecret(t testing.TB, text string) {
	t.Helper()
	if strings.Contains(text, wechatsim.DefaultSecret) {
		t.Errorf("AppSecret leaked: %q", text)
	}
	for _, tok := range s.api.Tokens() {
		if strings.Contains(text, tok.Value) {
			t.Errorf("access_token leaked: %q", text)
		}
	}
}

// waitIdle waits for the renewal in flight, if any.
func (c *TokenCache) waitIdle() {
	c.mu.Lock()
	f := c.fl
	c.mu.Unlock()
	if f != nil {
		<-f.done
	}
}
