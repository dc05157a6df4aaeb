package wechatsim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestBusyRate(t *testing.T) {
	h := newHarness(t)
	h.api.SetBusyRate(1)
	rec := h.do(http.MethodGet, tokenURL(DefaultAppID, DefaultSecret), nil)
	wantCode(t, rec, ErrCodeSystemBusy)
	if !strings.HasPrefix(decode(t, rec)["errmsg"].(string), "system error") {
		t.Fatalf("errmsg %s", rec.Body.String())
	}
	h.api.SetBusyRate(2) // clamped to 1
	if f := h.api.Faults(); f.BusyRate != 1 {
		t.Fatalf("busy rate %v", f.BusyRate)
	}
	h.api.SetBusyRate(-1)
	h.token()
	// With 0.5 some calls fail and some succeed.
	h.api.SetBusyRate(0.5)
	var ok, busy int
	for range 200 {
		switch errcode(t, h.do(http.MethodGet, tokenURL(DefaultAppID, DefaultSecret), nil)) {
		case 0:
			ok++
		case ErrCodeSystemBusy:
			busy++
		}
	}
	if ok == 0 || busy == 0 || ok+busy != 200 {
		t.Fatalf("ok %d busy %d", ok, busy)
	}
	if s := h.api.Stats()[PathToken]; s.ErrCodes[ErrCodeSystemBusy] != busy+1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestFailNext(t *testing.T) {
	h := newHarness(t)
	h.api.FailNext(2, ErrCodeInvalidCredential)
	wantCode(t, h.do(http.MethodGet, tokenURL(DefaultAppID, DefaultSecret), nil), ErrCodeInvalidCredential)
	if _, _, code := h.stable(false); code != ErrCodeInvalidCredential {
		t.Fatalf("second call: %d", code)
	}
	h.token()
	if len(h.api.Faults().FailNext) != 0 {
		t.Fatal("rule should be used up")
	}
	h.api.FailNext(0, -1) // ignored
	h.api.FailNext(1, 0)  // ignored
	if len(h.api.Faults().FailNext) != 0 {
		t.Fatal("empty rules must be ignored")
	}
	h.token()
}

func TestFailNextOnPath(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	openid := h.user()
	h.api.FailNextOn(PathCustomSend, 1, ErrCodeSystemBusy)
	h.token() // other endpoints unaffected
	wantCode(t, h.sendText(tok, openid, "x"), ErrCodeSystemBusy)
	wantCode(t, h.sendText(tok, openid, "x"), 0)
	if len(h.api.SentMessages(openid)) != 1 {
		t.Fatal("the failed send must not be recorded")
	}
}

func TestLatencyAndClearFaults(t *testing.T) {
	h := newHarness(t)
	h.api.SetLatency(time.Millisecond)
	if h.api.Latency() != time.Millisecond {
		t.Fatal("Latency")
	}
	h.token() // still answered
	// A request whose context ends during the delay gets no answer and is not counted.
	h.api.SetLatency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest(http.MethodGet, tokenURL(DefaultAppID, DefaultSecret), nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	h.api.ServeHTTP(rec, req)
	if rec.Body.Len() != 0 {
		t.Fatalf("body %q", rec.Body.String())
	}
	// /_sim endpoints are never delayed.
	decode(t, h.do(http.MethodGet, "/_sim/stats", nil))
	h.api.SetLatency(-time.Second)
	if h.api.Latency() != 0 {
		t.Fatal("negative latency should clamp to 0")
	}
	h.api.SetLatency(time.Hour)
	h.api.SetBusyRate(1)
	h.api.FailNext(3, 1)
	h.api.ClearFaults()
	if f := h.api.Faults(); f.Latency != 0 || f.BusyRate != 0 || len(f.FailNext) != 0 {
		t.Fatalf("faults %+v", f)
	}
	if n := h.api.TokenFetches(); n != 1 {
		t.Fatalf("TokenFetches %d", n)
	}
}

func TestSimFaultsHTTP(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	rec := h.do(http.MethodPost, "/_sim/faults", `{"latency":"1ms","busy_rate":0.25,"fail_next":{"n":2,"errcode":-1,"path":"/cgi-bin/token"}}`)
	m := decode(t, rec)
	if m["latency"] != "1ms" || m["busy_rate"] != 0.25 || len(m["fail_next"].([]any)) != 1 {
		t.Fatalf("faults %s", rec.Body.String())
	}
	got := decode(t, h.do(http.MethodGet, "/_sim/faults", nil))
	if got["latency"] != "1ms" {
		t.Fatalf("GET faults %v", got)
	}
	decode(t, h.do(http.MethodPost, "/_sim/faults", `{"clear":true}`))
	if f := h.api.Faults(); f.Latency != 0 || f.BusyRate != 0 || len(f.FailNext) != 0 {
		t.Fatalf("after clear %+v", f)
	}
	decode(t, h.do(http.MethodPost, "/_sim/faults", `{"revoke_tokens":true}`))
	wantCode(t, h.sendText(tok, h.user(), "x"), ErrCodeInvalidCredential)

	h2 := newHarness(t, WithDailyTokenQuota(1))
	h2.token()
	wantCode(t, h2.do(http.MethodGet, tokenURL(DefaultAppID, DefaultSecret), nil), ErrCodeDailyQuota)
	decode(t, h2.do(http.MethodPost, "/_sim/faults", `{"clear_quota":true}`))
	h2.token()

	for _, bad := range []string{``, `{`, `{"latency":"soon"}`, `{"latency":"-1s"}`, `{"busy_rate":"x"}`} {
		rec := h.do(http.MethodPost, "/_sim/faults", bad)
		if rec.Code != http.StatusBadRequest {
			t.Fatalf("%q: status %d", bad, rec.Code)
		}
		wantCode(t, rec, ErrCodeBadRequest)
	}
}

func TestSimClock(t *testing.T) {
	h := newHarness(t)
	m := decode(t, h.do(http.MethodPost, "/_sim/clock", `{"advance":"10m"}`))
	if m["adjustable"] != true || int64(m["unix"].(float64)) != DefaultFakeTime.Add(10*time.Minute).Unix() {
		t.Fatalf("clock %v", m)
	}
	if !h.clk.Now().Equal(DefaultFakeTime.Add(10 * time.Minute)) {
		t.Fatal("clock not advanced")
	}
	decode(t, h.do(http.MethodPost, "/_sim/clock", `{"set":"2030-01-01T00:00:00Z"}`))
	if !h.clk.Now().Equal(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("set: %v", h.clk.Now())
	}
	m = decode(t, h.do(http.MethodGet, "/_sim/clock", nil))
	if int64(m["unix"].(float64)) != h.clk.Now().Unix() {
		t.Fatalf("GET clock %v", m)
	}
	for _, bad := range []string{`{}`, `{"advance":"soon"}`, `{"set":"yesterday"}`, `nope`} {
		if rec := h.do(http.MethodPost, "/_sim/clock", bad); rec.Code != http.StatusBadRequest {
			t.Fatalf("%q: status %d", bad, rec.Code)
		}
	}
	// The HTTP clock drives token expiry.
	tok := h.token()
	decode(t, h.do(http.MethodPost, "/_sim/clock", `{"advance":"2h"}`))
	wantCode(t, h.sendText(tok, h.user(), "x"), ErrCodeAccessTokenExpired)

	sys := NewOpenAPI(WithClock(SystemClock{}))
	rec := httptest.NewRecorder()
	sys.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/_sim/clock", strings.NewReader(`{"advance":"1m"}`)))
	if rec.Code != http.StatusConflict {
		t.Fatalf("system clock: status %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	sys.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/_sim/clock", nil))
	if m := decode(t, rec); m["adjustable"] != false {
		t.Fatalf("system clock GET %v", m)
	}
}

func TestSimStats(t *testing.T) {
	h := newHarness(t)
	h.token()
	h.token()
	h.stable(false)
	h.do(http.MethodGet, tokenURL(DefaultAppID, "bad"), nil)
	h.do(http.MethodGet, "/_sim/users", nil) // not counted
	m := decode(t, h.do(http.MethodGet, "/_sim/stats", nil))
	if m["token_fetches"].(float64) != 3 || m["stable_token_fetches"].(float64) != 1 {
		t.Fatalf("stats %v", m)
	}
	ep := m["endpoints"].(map[string]any)[PathToken].(map[string]any)
	if ep["calls"].(float64) != 3 || ep["ok"].(float64) != 2 || ep["errors"].(float64) != 1 ||
		ep["errcodes"].(map[string]any)["40125"].(float64) != 1 {
		t.Fatalf("token stats %v", ep)
	}
	if _, ok := m["endpoints"].(map[string]any)["/_sim/users"]; ok {
		t.Fatal("/_sim calls must not be counted")
	}
	st := h.api.Stats()
	st[PathToken].ErrCodes[1] = 99 // a copy
	if h.api.Stats()[PathToken].ErrCodes[1] != 0 {
		t.Fatal("Stats must return a copy")
	}
}

func TestSimMessagesAndTranscript(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	a, b := h.user(), h.user()
	h.sendText(tok, a, "to a")
	h.sendText(tok, b, "to b")
	h.typing(tok, a, CommandTyping)
	h.api.World().Record(Entry{OpenID: a, Direction: DirectionToServer, Kind: "text", Body: json.RawMessage(`{"Content":"hi"}`)})

	m := decode(t, h.do(http.MethodGet, "/_sim/messages?openid="+a, nil))
	msgs := m["messages"].([]any)
	if len(msgs) != 1 || msgs[0].(map[string]any)["text"] != "to a" {
		t.Fatalf("messages %v", msgs)
	}
	if all := decode(t, h.do(http.MethodGet, "/_sim/messages", nil))["messages"].([]any); len(all) != 2 {
		t.Fatalf("all messages %v", all)
	}
	entries := decode(t, h.do(http.MethodGet, "/_sim/transcript?openid="+a, nil))["entries"].([]any)
	if len(entries) != 3 {
		t.Fatalf("transcript %v", entries)
	}
	dirs := []string{}
	for _, e := range entries {
		dirs = append(dirs, e.(map[string]any)["direction"].(string))
	}
	if strings.Join(dirs, ",") != "to_user,typing,to_server" {
		t.Fatalf("directions %v", dirs)
	}
	first := int64(entries[0].(map[string]any)["seq"].(float64))
	later := decode(t, h.do(http.MethodGet, fmt.Sprintf("/_sim/transcript?openid=%s&since=%d", a, first), nil))["entries"].([]any)
	if len(later) != 2 || later[0].(map[string]any)["direction"] != DirectionTyping {
		t.Fatalf("transcript of a since %d: %v", first, later)
	}
	since := decode(t, h.do(http.MethodGet, "/_sim/transcript?since=2", nil))["entries"].([]any)
	if len(since) != 2 || since[0].(map[string]any)["seq"].(float64) != 3 {
		t.Fatalf("since %v", since)
	}
	if e := decode(t, h.do(http.MethodGet, "/_sim/transcript?openid=nobody", nil))["entries"].([]any); len(e) != 0 {
		t.Fatalf("nobody %v", e)
	}
	if rec := h.do(http.MethodGet, "/_sim/transcript?since=x", nil); rec.Code != http.StatusBadRequest {
		t.Fatalf("bad since: %d", rec.Code)
	}
}

func TestSimTyping(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	a, b := h.user(), h.user()
	h.typing(tok, a, CommandTyping)
	list := decode(t, h.do(http.MethodGet, "/_sim/typing", nil))["typing"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["openid"] != a {
		t.Fatalf("typing %v", list)
	}
	one := decode(t, h.do(http.MethodGet, "/_sim/typing?openid="+a, nil))
	if one["typing"] != true || one["until"] == nil {
		t.Fatalf("typing a %v", one)
	}
	if decode(t, h.do(http.MethodGet, "/_sim/typing?openid="+b, nil))["typing"] != false {
		t.Fatal("b is not typing")
	}
	h.clk.Advance(15 * time.Second)
	if list := decode(t, h.do(http.MethodGet, "/_sim/typing", nil))["typing"].([]any); len(list) != 0 {
		t.Fatalf("expired typing listed %v", list)
	}
}

func TestSimUsersAndWindow(t *testing.T) {
	h := newHarness(t)
	created := decode(t, h.do(http.MethodPost, "/_sim/users", nil))
	openid := created["openid"].(string)
	if len(openid) != 28 {
		t.Fatalf("created %v", created)
	}
	named := decode(t, h.do(http.MethodPost, "/_sim/users", `{"openid":"oCustomOpenID"}`))
	if named["openid"] != "oCustomOpenID" {
		t.Fatalf("named %v", named)
	}
	if rec := h.do(http.MethodPost, "/_sim/users", `{"openid":`); rec.Code != http.StatusBadRequest {
		t.Fatalf("bad user body: %d", rec.Code)
	}
	users := decode(t, h.do(http.MethodGet, "/_sim/users", nil))["users"].([]any)
	if len(users) != 2 || users[0].(map[string]any)["openid"] != openid {
		t.Fatalf("users %v", users)
	}

	tok := h.token()
	wantCode(t, h.sendText(tok, openid, "x"), ErrCodeOutOfTime)
	win := decode(t, h.do(http.MethodPost, "/_sim/window", fmt.Sprintf(`{"openid":%q,"event":"enter_session"}`, openid)))
	if win["reason"] != WindowEnterSession || win["limit"].(float64) != 2 {
		t.Fatalf("window %v", win)
	}
	wantCode(t, h.sendText(tok, openid, "x"), 0)
	got := decode(t, h.do(http.MethodGet, "/_sim/window?openid="+openid, nil))
	if got["used"].(float64) != 1 {
		t.Fatalf("window %v", got)
	}
	decode(t, h.do(http.MethodPost, "/_sim/window", fmt.Sprintf(`{"openid":%q,"event":"user_message"}`, openid)))
	if w := h.api.World().Window(openid); w.Limit != 5 || w.Used != 0 {
		t.Fatalf("window %+v", w)
	}
	for _, bad := range []string{`{}`, `{"openid":"x","event":"wave"}`, `[`} {
		if rec := h.do(http.MethodPost, "/_sim/window", bad); rec.Code != http.StatusBadRequest {
			t.Fatalf("%q: %d", bad, rec.Code)
		}
	}
	if rec := h.do(http.MethodGet, "/_sim/window?openid=nobody", nil); rec.Code != http.StatusNotFound {
		t.Fatalf("unknown: %d", rec.Code)
	}
}

func TestSimAppsAndMedia(t *testing.T) {
	h := newHarness(t)
	rec := h.do(http.MethodGet, "/_sim/apps", nil)
	apps := decode(t, rec)["apps"].([]any)
	if len(apps) != 1 || apps[0].(map[string]any)["appid"] != DefaultAppID || strings.Contains(rec.Body.String(), DefaultSecret) {
		t.Fatalf("apps %s", rec.Body.String())
	}
	tok := h.token()
	id := h.upload(tok, pngBytes, "a.png")
	media := decode(t, h.do(http.MethodGet, "/_sim/media", nil))["media"].([]any)
	if len(media) != 1 || media[0].(map[string]any)["media_id"] != id {
		t.Fatalf("media %v", media)
	}
}

func TestAllResponsesAreJSON(t *testing.T) {
	h := newHarness(t)
	for _, p := range []string{"/_sim/tokens", "/_sim/stats", "/_sim/messages", "/_sim/typing", "/_sim/users",
		"/_sim/transcript", "/_sim/apps", "/_sim/media", "/_sim/faults", "/_sim/clock", "/_sim/templates", "/_sim/subscriptions",
		"/_sim/subscribe-messages", PathToken, PathMediaGet, "/x"} {
		decode(t, h.do(http.MethodGet, p, nil))
	}
	for _, p := range []string{PathStableToken, PathCustomSend, PathTyping, PathMediaUpload, PathSubscribeSend, "/_sim/templates", "/_sim/subscriptions"} {
		decode(t, h.do(http.MethodPost, p, nil))
	}
}

// TestConcurrentHammer drives every endpoint from 150 goroutines; run it
// with -race.
func TestConcurrentHammer(t *testing.T) {
	api := NewOpenAPI()
	srv := api.Start()
	defer srv.Close()
	client := srv.Client()
	h := &harness{t: t, api: api, clk: api.FakeClock()}
	tok := h.token()
	mediaID := h.upload(tok, pngBytes, "a.png")
	const workers = 150
	openids := make([]string, workers)
	for i := range openids {
		openids[i] = h.user()
	}
	post := func(path, body string) (map[string]any, error) {
		resp, err := client.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 500 {
			return nil, fmt.Errorf("status %d", resp.StatusCode)
		}
		var m map[string]any
		return m, json.NewDecoder(resp.Body).Decode(&m)
	}
	get := func(path string) (map[string]any, error) {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var m map[string]any
		return m, json.NewDecoder(resp.Body).Decode(&m)
	}
	stableBody := fmt.Sprintf(`{"grant_type":"client_credential","appid":%q,"secret":%q}`, DefaultAppID, DefaultSecret)
	var wg sync.WaitGroup
	errs := make(chan error, workers*8)
	stableToks := make([]string, workers)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			openid := openids[i]
			m, err := post(PathStableToken, stableBody)
			if err != nil {
				errs <- err
				return
			}
			stableToks[i], _ = m["access_token"].(string)
			q := "?access_token=" + tok
			if m, err := post(PathCustomSend+q, fmt.Sprintf(`{"touser":%q,"msgtype":"text","text":{"content":"n%d"}}`, openid, i)); err != nil || m["errcode"].(float64) != 0 {
				errs <- fmt.Errorf("send: %v %v", m, err)
			}
			if m, err := post(PathCustomSend+q, fmt.Sprintf(`{"touser":%q,"msgtype":"image","image":{"media_id":%q}}`, openid, mediaID)); err != nil || m["errcode"].(float64) != 0 {
				errs <- fmt.Errorf("send image: %v %v", m, err)
			}
			if m, err := post(PathTyping+q, fmt.Sprintf(`{"touser":%q,"command":"Typing"}`, openid)); err != nil || m["errcode"].(float64) != 0 {
				errs <- fmt.Errorf("typing: %v %v", m, err)
			}
			if _, err := post(PathCustomSend+q, `{"touser":`); err != nil {
				errs <- err
			}
			for _, p := range []string{"/_sim/stats", "/_sim/tokens", "/_sim/transcript", "/_sim/typing", "/_sim/users", "/_sim/messages?openid=" + openid} {
				if _, err := get(p); err != nil {
					errs <- fmt.Errorf("%s: %v", p, err)
				}
			}
			if i%15 == 0 {
				api.SetLatency(0)
				api.SetBusyRate(0)
				_ = api.Faults()
				_ = api.Tokens()
				api.World().NewUser()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, s := range stableToks {
		if s != stableToks[0] {
			t.Fatal("stable tokens differ under concurrency")
		}
	}
	if n := len(api.SentMessages("")); n != 2*workers {
		t.Fatalf("%d messages sent, want %d", n, 2*workers)
	}
	seqs := map[int64]bool{}
	for _, m := range api.SentMessages("") {
		if seqs[m.Seq] {
			t.Fatalf("duplicate seq %d", m.Seq)
		}
		seqs[m.Seq] = true
	}
	for _, openid := range openids {
		if !api.Typing(openid) {
			t.Fatalf("%s should be typing", openid)
		}
		if w := api.World().Window(openid); w.Used != 2 {
			t.Fatalf("window %+v", w)
		}
	}
	if s := api.Stats()[PathCustomSend]; s.Calls != 3*workers || s.OK != 2*workers || s.ErrCodes[ErrCodeDataFormat] != workers {
		t.Fatalf("send stats %+v", s)
	}
}

// ridPattern is the platform's request id suffix.
var ridPattern = regexp.MustCompile(` rid: ([0-9a-f]{8})-[0-9a-f]{8}-[0-9a-f]{8}$`)

// TestIPNotWhitelisted40164 injects 40164 from Go and over /_sim/faults,
// on the token endpoints and elsewhere, with the platform's errmsg naming
// the caller.
func TestIPNotWhitelisted40164(t *testing.T) {
	const want = "invalid ip 192.0.2.1 ipv6 ::ffff:192.0.2.1, not in whitelist" // httptest's RemoteAddr
	check := func(t *testing.T, rec *httptest.ResponseRecorder) {
		t.Helper()
		wantCode(t, rec, ErrCodeIPNotWhitelisted)
		msg := decode(t, rec)["errmsg"].(string)
		if !strings.HasPrefix(msg, want+" rid: ") || !ridPattern.MatchString(msg) {
			t.Fatalf("errmsg %q", msg)
		}
	}
	stableBody := map[string]any{"grant_type": "client_credential", "appid": DefaultAppID, "secret": DefaultSecret}

	t.Run("FailNextOn", func(t *testing.T) {
		h := newHarness(t)
		tok := h.token()
		h.api.FailNextOn(PathToken, 1, ErrCodeIPNotWhitelisted)
		h.api.FailNextOn(PathStableToken, 1, ErrCodeIPNotWhitelisted)
		h.api.FailNextOn(PathCustomSend, 1, ErrCodeIPNotWhitelisted)
		check(t, h.do(http.MethodGet, tokenURL(DefaultAppID, DefaultSecret), nil))
		check(t, h.do(http.MethodPost, PathStableToken, stableBody))
		check(t, h.sendText(tok, h.user(), "x"))
		if rec := h.do(http.MethodGet, tokenURL(DefaultAppID, DefaultSecret), nil); errcode(t, rec) != 0 {
			t.Fatalf("fault not consumed: %s", rec.Body.String())
		}
		if rec := h.do(http.MethodGet, tokenURL(DefaultAppID, DefaultSecret), nil); strings.Contains(rec.Body.String(), "rid") {
			t.Fatalf("success with a rid: %s", rec.Body.String())
		}
	})
	t.Run("SetIPWhitelist", func(t *testing.T) {
		h := newHarness(t)
		tok := h.token()
		if err := h.api.SetIPWhitelist("10.0.0.0/8", "2001:db8::1"); err != nil {
			t.Fatal(err)
		}
		check(t, h.do(http.MethodGet, tokenURL(DefaultAppID, DefaultSecret), nil))
		check(t, h.do(http.MethodPost, PathStableToken, stableBody))
		wantCode(t, h.do(http.MethodGet, tokenURL(DefaultAppID, "wrong"), nil), ErrCodeInvalidAppSecret) // credentials first
		wantCode(t, h.sendText(tok, h.user(), "x"), 0)                                                   // API calls are not filtered
		if got := h.api.Faults().IPWhitelist; !slices.Equal(got, []string{"10.0.0.0/8", "2001:db8::1"}) {
			t.Fatalf("Faults().IPWhitelist = %v", got)
		}
		if err := h.api.SetIPWhitelist("192.0.2.0/30"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, h.do(http.MethodGet, tokenURL(DefaultAppID, DefaultSecret), nil), 0)
		if err := h.api.SetIPWhitelist("10.0.0.0/8", "not-an-ip"); err == nil {
			t.Fatal("bad entry accepted")
		}
		wantCode(t, h.do(http.MethodGet, tokenURL(DefaultAppID, DefaultSecret), nil), 0) // unchanged
		h.api.SetIPWhitelist("10.0.0.0/8")
		h.api.ClearFaults()
		wantCode(t, h.do(http.MethodGet, tokenURL(DefaultAppID, DefaultSecret), nil), 0)
	})
	t.Run("HTTP", func(t *testing.T) {
		h := newHarness(t)
		rec := h.do(http.MethodPost, "/_sim/faults", `{"ip_whitelist":["10.0.0.0/8"]}`)
		if rec.Code != 200 || decode(t, rec)["ip_whitelist"].([]any)[0] != "10.0.0.0/8" {
			t.Fatalf("faults: %d %s", rec.Code, rec.Body.String())
		}
		check(t, h.do(http.MethodGet, tokenURL(DefaultAppID, DefaultSecret), nil))
		if rec := h.do(http.MethodPost, "/_sim/faults", `{"ip_whitelist":["10.0.0.0/33"]}`); rec.Code != http.StatusBadRequest {
			t.Fatalf("bad entry: %d", rec.Code)
		}
		check(t, h.do(http.MethodGet, tokenURL(DefaultAppID, DefaultSecret), nil)) // unchanged
		h.do(http.MethodPost, "/_sim/faults", `{"latency":"0s"}`)                  // other settings leave it
		check(t, h.do(http.MethodGet, tokenURL(DefaultAppID, DefaultSecret), nil))
		h.do(http.MethodPost, "/_sim/faults", `{"ip_whitelist":[]}`)
		wantCode(t, h.do(http.MethodPost, PathStableToken, stableBody), 0)

		h.do(http.MethodPost, "/_sim/faults", `{"fail_next":{"n":1,"errcode":40164,"path":"/cgi-bin/stable_token"}}`)
		check(t, h.do(http.MethodPost, PathStableToken, stableBody))
		wantCode(t, h.do(http.MethodPost, PathStableToken, stableBody), 0)
	})
}

// TestErrorMessagesFollowWeChat checks the errmsg of the mock's errors:
// WeChat's wording, then " rid: " and an id whose first group is the clock's
// Unix time; the mock's own explanation goes to the HintHeader.
func TestErrorMessagesFollowWeChat(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	openid := h.user()
	h.api.FailNextOn(PathMediaGet, 1, ErrCodeSystemBusy)
	for _, tc := range []struct {
		rec  *httptest.ResponseRecorder
		code int
		msg  string
		hint string
	}{
		{h.do(http.MethodGet, tokenURL("wxnope", "x"), nil), ErrCodeInvalidAppID, "invalid appid", ""},
		{h.do(http.MethodGet, tokenURL(DefaultAppID, "x"), nil), ErrCodeInvalidAppSecret, "invalid appsecret", ""},
		{h.sendText("0000000000000000000000000000", openid, "x"), ErrCodeInvalidCredential,
			"invalid credential, access_token is invalid or not latest, could get access_token by getStableAccessToken, more details at https://mmbizurl.cn/s/JtxxFh33r", ""},
		{h.sendText(tok, "oNobody", "x"), ErrCodeInvalidOpenID, "invalid openid", ""},
		{h.do(http.MethodPost, withToken(PathCustomSend, tok), map[string]any{"touser": openid, "msgtype": "link", "link": map[string]string{"title": "t"}}),
			ErrCodeDataFormat, "data format error", "missing link.description"},
		{h.typing(tok, openid, CommandTyping+"x"), ErrCodeBadTypingCommand, ErrMsg(ErrCodeBadTypingCommand), ""},
		{h.do(http.MethodGet, withToken(PathMediaGet+"?media_id=x", tok), nil), ErrCodeSystemBusy, "system error", "injected fault"},
		{h.do(http.MethodPost, PathToken, nil), ErrCodeRequireGET, "require GET method", ""},
	} {
		m := decode(t, tc.rec)
		msg, _ := m["errmsg"].(string)
		if int(m["errcode"].(float64)) != tc.code || !strings.HasPrefix(msg, tc.msg+" rid: ") {
			t.Errorf("errcode %v errmsg %q, want %d %q + rid", m["errcode"], msg, tc.code, tc.msg)
			continue
		}
		sub := ridPattern.FindStringSubmatch(msg)
		if sub == nil || sub[1] != fmt.Sprintf("%08x", h.clk.Now().Unix()) {
			t.Errorf("errmsg %q: rid does not start with the clock's Unix time %08x", msg, h.clk.Now().Unix())
		}
		if got := tc.rec.Header().Get(HintHeader); got != tc.hint {
			t.Errorf("%d: hint %q, want %q", tc.code, got, tc.hint)
		}
	}
	if ErrMsg(ErrCodeMinuteQuota) != "api minute-quota reach limit  mustslower  retry next minute" {
		t.Errorf("45011: %q", ErrMsg(ErrCodeMinuteQuota))
	}
}
