package wechatsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// harness drives an OpenAPI in-process through ServeHTTP.
type harness struct {
	t   *testing.T
	api *OpenAPI
	clk *FakeClock
}

func newHarness(t *testing.T, opts ...OpenAPIOption) *harness {
	t.Helper()
	api := NewOpenAPI(opts...)
	clk := api.FakeClock()
	if clk == nil {
		t.Fatal("harness needs a FakeClock")
	}
	return &harness{t: t, api: api, clk: clk}
}

// do sends a request; body may be nil, a string, []byte or a value encoded
// as JSON.
func (h *harness) do(method, target string, body any) *httptest.ResponseRecorder {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, target, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.api.ServeHTTP(rec, req)
	return rec
}

// decode decodes a JSON response, failing the test on a non-JSON answer.
func decode(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, body %q", ct, rec.Body.String())
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("bad JSON %q: %v", rec.Body.String(), err)
	}
	return m
}

// errcode returns the response's errcode (0 when absent).
func errcode(t *testing.T, rec *httptest.ResponseRecorder) int {
	t.Helper()
	m := decode(t, rec)
	if v, ok := m["errcode"]; ok {
		return int(v.(float64))
	}
	return 0
}

func wantCode(t *testing.T, rec *httptest.ResponseRecorder, want int) {
	t.Helper()
	if got := errcode(t, rec); got != want {
		t.Fatalf("errcode %d, want %d; body %s", got, want, rec.Body.String())
	}
}

func tokenURL(appID, secret string) string {
	return PathToken + "?" + url.Values{"grant_type": {"client_credential"}, "appid": {appID}, "secret": {secret}}.Encode()
}

// token fetches a /cgi-bin/token token for the default app.
func (h *harness) token() string {
	h.t.Helper()
	rec := h.do(http.MethodGet, tokenURL(DefaultAppID, DefaultSecret), nil)
	m := decode(h.t, rec)
	tok, _ := m["access_token"].(string)
	if tok == "" {
		h.t.Fatalf("no token: %s", rec.Body.String())
	}
	return tok
}

// stable fetches a stable token for the default app.
func (h *harness) stable(force bool) (string, int64, int) {
	h.t.Helper()
	rec := h.do(http.MethodPost, PathStableToken, map[string]any{
		"grant_type": "client_credential", "appid": DefaultAppID, "secret": DefaultSecret, "force_refresh": force})
	m := decode(h.t, rec)
	if c, ok := m["errcode"]; ok {
		return "", 0, int(c.(float64))
	}
	return m["access_token"].(string), int64(m["expires_in"].(float64)), 0
}

func withToken(path, tok string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "access_token=" + url.QueryEscape(tok)
}

// user adds a user whose send window is open (a user message now).
func (h *harness) user() string {
	u := h.api.World().NewUser()
	h.api.World().NoteUserMessage(u.OpenID, h.clk.Now())
	return u.OpenID
}

func (h *harness) sendText(tok, openid, content string) *httptest.ResponseRecorder {
	return h.do(http.MethodPost, withToken(PathCustomSend, tok), map[string]any{
		"touser": openid, "msgtype": "text", "text": map[string]string{"content": content}})
}

func TestNewOpenAPIDefaults(t *testing.T) {
	api := NewOpenAPI()
	if api.FakeClock() == nil || !api.Clock().Now().Equal(DefaultFakeTime) {
		t.Fatal("default clock should be a FakeClock at DefaultFakeTime")
	}
	if api.World() == nil || api.World().Clock() != api.Clock() {
		t.Fatal("default World should share the clock")
	}
	apps := api.World().Apps()
	if len(apps) != 1 || apps[0] != DefaultApp() {
		t.Fatalf("apps %+v", apps)
	}
	if !strings.HasPrefix(DefaultAppID, "wx") || len(DefaultAppID) != 18 || !strings.HasPrefix(DefaultOriginalID, "gh_") {
		t.Fatal("default credentials should look real")
	}
}

func TestNewOpenAPIOptions(t *testing.T) {
	clk := NewFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	w := NewWorld(clk)
	app := App{AppID: "wx0123456789abcdef", Secret: "s3cr3t", OriginalID: "gh_0123456789ab"}
	api := NewOpenAPI(WithWorld(w), WithApp(app), WithDailyTokenQuota(1), nil)
	if api.World() != w || api.Clock() != clk {
		t.Fatal("WithWorld should share the World and its clock")
	}
	if apps := w.Apps(); len(apps) != 1 || apps[0] != app {
		t.Fatalf("WithApp should replace the default app: %+v", apps)
	}
	h := &harness{t: t, api: api, clk: clk}
	wantCode(t, h.do(http.MethodGet, tokenURL(app.AppID, app.Secret), nil), 0)
	wantCode(t, h.do(http.MethodGet, tokenURL(app.AppID, app.Secret), nil), ErrCodeDailyQuota)

	other := NewFakeClock(time.Time{})
	api2 := NewOpenAPI(WithClock(other))
	if api2.Clock() != other || api2.World().Clock() != other {
		t.Fatal("WithClock should be used for the created World")
	}
	api3 := NewOpenAPI(WithClock(SystemClock{}))
	if api3.FakeClock() != nil {
		t.Fatal("FakeClock() should be nil for SystemClock")
	}
	// A World that already has apps gets no default app.
	w2 := NewWorld(clk)
	w2.AddApp(app)
	NewOpenAPI(WithWorld(w2))
	if len(w2.Apps()) != 1 {
		t.Fatalf("apps %+v", w2.Apps())
	}
}

func TestStartServesOverHTTP(t *testing.T) {
	api := NewOpenAPI()
	srv := api.Start()
	defer srv.Close()
	resp, err := http.Get(srv.URL + tokenURL(DefaultAppID, DefaultSecret))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || m["access_token"] == nil {
		t.Fatalf("got %v, %v", m, err)
	}
}

func TestUnknownPathIs404JSON(t *testing.T) {
	h := newHarness(t)
	for _, p := range []string{"/", "/cgi-bin/nope", "/_sim/nope", "/cgi-bin/token/extra"} {
		rec := h.do(http.MethodGet, p, nil)
		if rec.Code != http.StatusNotFound {
			t.Fatalf("%s: status %d", p, rec.Code)
		}
		wantCode(t, rec, ErrCodeNotFound)
	}
}

func TestWrongMethodIs405JSON(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		method, path string
		code         int
		allow        string
	}{
		{http.MethodPost, PathToken, ErrCodeRequireGET, "GET"},
		{http.MethodGet, PathStableToken, ErrCodeRequirePOST, "POST"},
		{http.MethodGet, PathCustomSend, ErrCodeRequirePOST, "POST"},
		{http.MethodGet, PathTyping, ErrCodeRequirePOST, "POST"},
		{http.MethodGet, PathMediaUpload, ErrCodeRequirePOST, "POST"},
		{http.MethodPost, PathMediaGet, ErrCodeRequireGET, "GET"},
		{http.MethodDelete, "/_sim/faults", ErrCodeRequirePOST, "GET, POST"},
		{http.MethodPost, "/_sim/stats", ErrCodeRequireGET, "GET"},
	}
	for _, c := range cases {
		rec := h.do(c.method, c.path, nil)
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != c.allow {
			t.Fatalf("%s %s: status %d allow %q", c.method, c.path, rec.Code, rec.Header().Get("Allow"))
		}
		wantCode(t, rec, c.code)
	}
	if s := h.api.Stats()[PathToken]; s.Calls != 1 || s.ErrCodes[ErrCodeRequireGET] != 1 {
		t.Fatalf("405 on an API path should be counted: %+v", s)
	}
}

func TestErrorMessagesCarryRid(t *testing.T) {
	h := newHarness(t)
	m := decode(t, h.do(http.MethodGet, tokenURL("wxnope", "x"), nil))
	msg := m["errmsg"].(string)
	if !strings.HasPrefix(msg, "invalid appid rid: ") {
		t.Fatalf("errmsg %q", msg)
	}
	if ErrMsg(ErrCodeOutOfTime) != "response out of time limit or subscription is canceled" ||
		ErrMsg(ErrCodeOutOfCount) != "out of response count limit" || ErrMsg(12345) != "error 12345" {
		t.Fatal("ErrMsg table")
	}
}

func TestResponsesNeverLeakSecretInErrors(t *testing.T) {
	h := newHarness(t)
	rec := h.do(http.MethodGet, tokenURL(DefaultAppID, "wrong-secret-value"), nil)
	wantCode(t, rec, ErrCodeInvalidAppSecret)
	if strings.Contains(rec.Body.String(), "wrong-secret-value") {
		t.Fatal("error echoes the secret")
	}
}
