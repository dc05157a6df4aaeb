package wechatsim

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTokenSuccess(t *testing.T) {
	h := newHarness(t)
	m := decode(t, h.do(http.MethodGet, tokenURL(DefaultAppID, DefaultSecret), nil))
	tok, _ := m["access_token"].(string)
	if len(tok) != 136 || !wellFormedToken(tok) {
		t.Fatalf("token %q", tok)
	}
	if m["expires_in"].(float64) != 7200 {
		t.Fatalf("expires_in %v", m["expires_in"])
	}
	if _, has := m["errcode"]; has {
		t.Fatal("success body should not carry errcode")
	}
}

func TestTokenErrors(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name, target string
		code         int
	}{
		{"missing grant_type", PathToken + "?appid=" + DefaultAppID + "&secret=" + DefaultSecret, ErrCodeInvalidGrantType},
		{"bad grant_type", PathToken + "?grant_type=password&appid=" + DefaultAppID + "&secret=" + DefaultSecret, ErrCodeInvalidGrantType},
		{"missing appid", PathToken + "?grant_type=client_credential&secret=x", ErrCodeAppIDMissing},
		{"missing secret", PathToken + "?grant_type=client_credential&appid=" + DefaultAppID, ErrCodeAppSecretMissing},
		{"unknown appid", tokenURL("wx0000000000000000", DefaultSecret), ErrCodeInvalidAppID},
		{"wrong secret", tokenURL(DefaultAppID, "nope"), ErrCodeInvalidAppSecret},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := h.do(http.MethodGet, c.target, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			wantCode(t, rec, c.code)
		})
	}
	if n := h.api.TokenFetches(); n != len(cases) {
		t.Fatalf("TokenFetches = %d, want %d (failed calls count)", n, len(cases))
	}
	if len(h.api.Tokens()) != 0 {
		t.Fatal("no token should be issued")
	}
}

func TestTokenDailyQuota(t *testing.T) {
	h := newHarness(t, WithDailyTokenQuota(3))
	for range 3 {
		h.token()
	}
	wantCode(t, h.do(http.MethodGet, tokenURL(DefaultAppID, DefaultSecret), nil), ErrCodeDailyQuota)
	h.api.ClearQuota()
	h.token()
	h.token()
	h.token()
	wantCode(t, h.do(http.MethodGet, tokenURL(DefaultAppID, DefaultSecret), nil), ErrCodeDailyQuota)
	// The quota resets at midnight Beijing time (16:00 UTC).
	h.clk.Set(time.Date(2024, 4, 25, 15, 59, 0, 0, time.UTC))
	wantCode(t, h.do(http.MethodGet, tokenURL(DefaultAppID, DefaultSecret), nil), ErrCodeDailyQuota)
	h.clk.Set(time.Date(2024, 4, 25, 16, 0, 0, 0, time.UTC))
	h.token()
	if n := h.api.TokenFetches(); n != 10 {
		t.Fatalf("TokenFetches %d", n)
	}
}

func TestTokenDefaultQuotaIs2000(t *testing.T) {
	h := newHarness(t)
	for i := range 2000 {
		if rec := h.do(http.MethodGet, tokenURL(DefaultAppID, DefaultSecret), nil); errcode(t, rec) != 0 {
			t.Fatalf("fetch %d failed: %s", i+1, rec.Body.String())
		}
	}
	wantCode(t, h.do(http.MethodGet, tokenURL(DefaultAppID, DefaultSecret), nil), ErrCodeDailyQuota)
}

func sendStatus(h *harness, tok string) int {
	h.t.Helper()
	openid := h.user()
	return errcode(h.t, h.sendText(tok, openid, "hi"))
}

func TestTokenNewFetchKeepsOldFor5Minutes(t *testing.T) {
	h := newHarness(t)
	old := h.token()
	h.clk.Advance(time.Hour)
	fresh := h.token()
	if fresh == old {
		t.Fatal("each fetch must issue a new token")
	}
	h.clk.Advance(5*time.Minute - time.Second)
	if c := sendStatus(h, old); c != 0 {
		t.Fatalf("old token inside overlap: %d", c)
	}
	h.clk.Advance(time.Second)
	if c := sendStatus(h, old); c != ErrCodeInvalidCredential {
		t.Fatalf("old token after overlap: %d, want 40001", c)
	}
	if c := sendStatus(h, fresh); c != 0 {
		t.Fatalf("new token: %d", c)
	}
	// Still 40001 long after, even past its natural expiry.
	h.clk.Advance(3 * time.Hour)
	if c := sendStatus(h, old); c != ErrCodeInvalidCredential {
		t.Fatalf("old token hours later: %d, want 40001", c)
	}
}

func TestTokenSupersededTwice(t *testing.T) {
	h := newHarness(t)
	t1 := h.token()
	h.clk.Advance(time.Minute)
	t2 := h.token()
	h.clk.Advance(time.Minute)
	h.token()
	// t1's overlap ends 5 min after t2 was issued (t=6m); t2's 5 min
	// after t3 (t=7m).
	h.clk.Advance(4 * time.Minute)
	if c := sendStatus(h, t1); c != ErrCodeInvalidCredential {
		t.Fatalf("t1: %d", c)
	}
	if c := sendStatus(h, t2); c != 0 {
		t.Fatalf("t2: %d", c)
	}
}

func TestTokenExpiresAfter7200s(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	h.clk.Advance(7200*time.Second - time.Second)
	if c := sendStatus(h, tok); c != 0 {
		t.Fatalf("before expiry: %d", c)
	}
	h.clk.Advance(time.Second)
	if c := sendStatus(h, tok); c != ErrCodeAccessTokenExpired {
		t.Fatalf("at expiry: %d, want 42001", c)
	}
}

func TestTokenOverlapCutByExpiry(t *testing.T) {
	h := newHarness(t)
	old := h.token()
	h.clk.Advance(7200*time.Second - 2*time.Minute)
	h.token() // old has 2 min left: its overlap ends with its lifetime
	h.clk.Advance(2 * time.Minute)
	if c := sendStatus(h, old); c != ErrCodeAccessTokenExpired {
		t.Fatalf("got %d, want 42001", c)
	}
}

func TestAccessTokenChecks(t *testing.T) {
	h := newHarness(t)
	openid := h.user()
	body := map[string]any{"touser": openid, "msgtype": "text", "text": map[string]string{"content": "x"}}
	cases := []struct {
		name, target string
		code         int
	}{
		{"missing", PathCustomSend, ErrCodeAccessTokenMissing},
		{"empty", PathCustomSend + "?access_token=", ErrCodeAccessTokenMissing},
		{"malformed short", withToken(PathCustomSend, "abc"), ErrCodeInvalidAccessToken},
		{"malformed chars", withToken(PathCustomSend, strings.Repeat("a", 20)+"!*"), ErrCodeInvalidAccessToken},
		{"malformed long", withToken(PathCustomSend, strings.Repeat("a", 513)), ErrCodeInvalidAccessToken},
		{"unknown", withToken(PathCustomSend, "86_"+strings.Repeat("Q", 133)), ErrCodeInvalidCredential},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantCode(t, h.do(http.MethodPost, c.target, body), c.code)
		})
	}
}

func TestStableTokenSameWhileValid(t *testing.T) {
	h := newHarness(t)
	tok, exp, code := h.stable(false)
	if code != 0 || exp != 7200 || !wellFormedToken(tok) {
		t.Fatalf("first: %q %d %d", tok, exp, code)
	}
	h.clk.Advance(100 * time.Second)
	tok2, exp2, _ := h.stable(false)
	if tok2 != tok || exp2 != 7100 {
		t.Fatalf("second: same=%v expires_in %d, want 7100", tok2 == tok, exp2)
	}
}

func TestStableTokenRenewsInLast5Minutes(t *testing.T) {
	h := newHarness(t)
	old, _, _ := h.stable(false)
	h.clk.Advance(7200*time.Second - 5*time.Minute - time.Second)
	tok, exp, _ := h.stable(false)
	if tok != old || exp != 301 {
		t.Fatalf("just before the renew window: same=%v expires_in %d", tok == old, exp)
	}
	h.clk.Advance(time.Second)
	fresh, exp, _ := h.stable(false)
	if fresh == old || exp != 7200 {
		t.Fatalf("in the renew window: same=%v expires_in %d", fresh == old, exp)
	}
	// Old and new both work until the old one expires.
	if c := sendStatus(h, old); c != 0 {
		t.Fatalf("old during overlap: %d", c)
	}
	h.clk.Advance(5*time.Minute - time.Second)
	if c := sendStatus(h, old); c != 0 {
		t.Fatalf("old at end of overlap: %d", c)
	}
	h.clk.Advance(time.Second)
	if c := sendStatus(h, old); c != ErrCodeAccessTokenExpired {
		t.Fatalf("old after expiry: %d, want 42001", c)
	}
	if c := sendStatus(h, fresh); c != 0 {
		t.Fatalf("fresh: %d", c)
	}
}

func TestStableTokenExpiresInAtLeast300(t *testing.T) {
	h := newHarness(t)
	for i := range 6 * 60 { // six hours in 1-minute steps (plus odd seconds)
		_, exp, code := h.stable(false)
		if code != 0 || exp < 300 || exp > 7200 {
			t.Fatalf("step %d: expires_in %d code %d", i, exp, code)
		}
		h.clk.Advance(time.Minute + 7*time.Second)
	}
}

func TestStableForceRefresh(t *testing.T) {
	h := newHarness(t)
	old, _, _ := h.stable(false)
	fresh, exp, code := h.stable(true)
	if code != 0 || fresh == old || exp != 7200 {
		t.Fatalf("force: same=%v exp %d code %d", fresh == old, exp, code)
	}
	if c := sendStatus(h, old); c != ErrCodeInvalidCredential {
		t.Fatalf("old after force_refresh: %d, want 40001", c)
	}
	if c := sendStatus(h, fresh); c != 0 {
		t.Fatalf("fresh: %d", c)
	}
}

func TestStableForceRefreshGap30s(t *testing.T) {
	h := newHarness(t)
	first, _, _ := h.stable(true)
	h.clk.Advance(29 * time.Second)
	again, exp, code := h.stable(true)
	if code != 0 || again != first || exp != 7200-29 {
		t.Fatalf("inside 30 s: same=%v exp %d code %d (should not refresh)", again == first, exp, code)
	}
	h.clk.Advance(time.Second)
	third, _, _ := h.stable(true)
	if third == first {
		t.Fatal("after 30 s force_refresh should refresh")
	}
}

func TestStableForceRefresh20PerDay(t *testing.T) {
	h := newHarness(t)
	for i := range 20 {
		if _, _, code := h.stable(true); code != 0 {
			t.Fatalf("force %d: %d", i+1, code)
		}
		h.clk.Advance(30 * time.Second)
	}
	if _, _, code := h.stable(true); code != ErrCodeDailyQuota {
		t.Fatalf("21st force: %d, want 45009", code)
	}
	if _, _, code := h.stable(false); code != 0 {
		t.Fatalf("normal mode still works: %d", code)
	}
	h.clk.Advance(24 * time.Hour)
	if _, _, code := h.stable(true); code != 0 {
		t.Fatalf("next day: %d", code)
	}
}

func TestStableMinuteQuota(t *testing.T) {
	h := newHarness(t)
	h.api.mu.Lock()
	st := h.api.appStateLocked(DefaultAppID)
	st.stableMinute = counter{period: minuteKey(h.clk.Now()), n: StableMinuteQuota}
	h.api.mu.Unlock()
	if _, _, code := h.stable(false); code != ErrCodeMinuteQuota {
		t.Fatalf("got %d, want 45011", code)
	}
	h.clk.Advance(time.Minute)
	if _, _, code := h.stable(false); code != 0 {
		t.Fatalf("next minute: %d", code)
	}
}

func TestStableDailyQuota(t *testing.T) {
	h := newHarness(t)
	h.api.mu.Lock()
	st := h.api.appStateLocked(DefaultAppID)
	st.stableDay = counter{period: dayKey(h.clk.Now()), n: StableDailyQuota}
	h.api.mu.Unlock()
	if _, _, code := h.stable(false); code != ErrCodeDailyQuota {
		t.Fatalf("got %d, want 45009", code)
	}
	h.api.ClearQuota()
	if _, _, code := h.stable(false); code != 0 {
		t.Fatalf("after ClearQuota: %d", code)
	}
}

func TestStableTokenErrors(t *testing.T) {
	h := newHarness(t)
	full := func(m map[string]any) map[string]any {
		out := map[string]any{"grant_type": "client_credential", "appid": DefaultAppID, "secret": DefaultSecret}
		for k, v := range m {
			if v == nil {
				delete(out, k)
			} else {
				out[k] = v
			}
		}
		return out
	}
	cases := []struct {
		name string
		body any
		code int
	}{
		{"empty body", "", ErrCodeEmptyPostData},
		{"blank body", "  \n", ErrCodeEmptyPostData},
		{"bad json", "{", ErrCodeDataFormat},
		{"trailing data", `{"appid":"x"} {}`, ErrCodeDataFormat},
		{"wrong type", `{"grant_type":"client_credential","appid":1}`, ErrCodeDataFormat},
		{"force_refresh string", full(map[string]any{"force_refresh": "yes"}), ErrCodeDataFormat},
		{"grant_type", full(map[string]any{"grant_type": "x"}), ErrCodeInvalidGrantType},
		{"missing appid", full(map[string]any{"appid": nil}), ErrCodeAppIDMissing},
		{"missing secret", full(map[string]any{"secret": nil}), ErrCodeAppSecretMissing},
		{"unknown appid", full(map[string]any{"appid": "wx0000000000000000"}), ErrCodeInvalidAppID},
		{"wrong secret", full(map[string]any{"secret": "nope"}), ErrCodeInvalidAppSecret},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantCode(t, h.do(http.MethodPost, PathStableToken, c.body), c.code)
		})
	}
	rec := h.do(http.MethodPost, PathStableToken, strings.Repeat(" ", MaxJSONBody+1))
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: status %d", rec.Code)
	}
	if n := h.api.StableTokenFetches(); n != len(cases)+1 {
		t.Fatalf("StableTokenFetches %d", n)
	}
}

func TestStableAndTokenAreIsolated(t *testing.T) {
	h := newHarness(t)
	stable, _, _ := h.stable(false)
	tok := h.token()
	if tok == stable {
		t.Fatal("kinds must not share tokens")
	}
	// Many /cgi-bin/token fetches do not touch the stable token.
	for range 3 {
		h.token()
	}
	h.clk.Advance(10 * time.Minute)
	if c := sendStatus(h, stable); c != 0 {
		t.Fatalf("stable after token fetches: %d", c)
	}
	again, _, _ := h.stable(false)
	if again != stable {
		t.Fatal("stable token changed after /cgi-bin/token fetches")
	}
	// And force_refresh does not touch /cgi-bin/token tokens.
	latest := h.token()
	h.stable(true)
	if c := sendStatus(h, latest); c != 0 {
		t.Fatalf("token after stable force_refresh: %d", c)
	}
}

func TestRevokeTokens(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	stable, _, _ := h.stable(false)
	h.api.RevokeTokens()
	if c := sendStatus(h, tok); c != ErrCodeInvalidCredential {
		t.Fatalf("revoked token: %d", c)
	}
	if c := sendStatus(h, stable); c != ErrCodeInvalidCredential {
		t.Fatalf("revoked stable: %d", c)
	}
	fresh, exp, _ := h.stable(false)
	if fresh == stable || exp != 7200 {
		t.Fatal("stable_token should issue a new token after revocation")
	}
	if c := sendStatus(h, fresh); c != 0 {
		t.Fatalf("fresh stable: %d", c)
	}
	if c := sendStatus(h, h.token()); c != 0 {
		t.Fatalf("fresh token: %d", c)
	}
	for _, info := range h.api.Tokens() {
		if info.Value == tok || info.Value == stable {
			if info.State != TokenRevoked {
				t.Fatalf("state %q", info.State)
			}
		}
	}
}

func TestTokensReadBack(t *testing.T) {
	h := newHarness(t)
	t1 := h.token()
	h.clk.Advance(time.Minute)
	t2 := h.token()
	s1, _, _ := h.stable(false)
	infos := h.api.Tokens()
	if len(infos) != 3 || infos[0].Value != t1 || infos[1].Value != t2 || infos[2].Value != s1 {
		t.Fatalf("Tokens = %+v", infos)
	}
	if infos[0].State != TokenOverlapping || infos[1].State != TokenValid || infos[2].Kind != TokenKindStable {
		t.Fatalf("states %q %q kind %q", infos[0].State, infos[1].State, infos[2].Kind)
	}
	if !infos[0].InvalidAt.Equal(h.clk.Now().Add(5*time.Minute)) || !infos[1].InvalidAt.IsZero() {
		t.Fatalf("InvalidAt %v %v", infos[0].InvalidAt, infos[1].InvalidAt)
	}
	h.clk.Advance(5 * time.Minute)
	if st := h.api.Tokens()[0].State; st != TokenSuperseded {
		t.Fatalf("state %q", st)
	}
	h.clk.Advance(3 * time.Hour)
	if st := h.api.Tokens()[1].State; st != TokenExpired {
		t.Fatalf("state %q", st)
	}

	rec := h.do(http.MethodGet, "/_sim/tokens", nil)
	body := rec.Body.String()
	for _, tok := range []string{t1, t2, s1} {
		if strings.Contains(body, tok) || !strings.Contains(body, tok[:8]+"…") {
			t.Fatalf("/_sim/tokens must show only a prefix: %s", body)
		}
	}
	m := decode(t, rec)
	if list := m["tokens"].([]any); len(list) != 3 || list[0].(map[string]any)["state"] != TokenSuperseded {
		t.Fatalf("tokens %v", list)
	}
}

func TestTokenPruning(t *testing.T) {
	h := newHarness(t, WithDailyTokenQuota(1<<30))
	for range maxIssued + 10 {
		h.token()
		h.clk.Advance(time.Second)
	}
	if n := len(h.api.Tokens()); n > maxIssued {
		t.Fatalf("%d tokens remembered", n)
	}
	if c := sendStatus(h, h.token()); c != 0 {
		t.Fatalf("latest token: %d", c)
	}
}

func TestStableTokenConcurrentCallsShareOneToken(t *testing.T) {
	h := newHarness(t)
	var wg sync.WaitGroup
	toks := make([]string, 150)
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks[i], _, _ = h.stable(false)
		}()
	}
	wg.Wait()
	for _, tok := range toks {
		if tok != toks[0] || tok == "" {
			t.Fatal("concurrent normal-mode calls must return one token")
		}
	}
	if n := h.api.StableTokenFetches(); n != 150 {
		t.Fatalf("StableTokenFetches %d", n)
	}
}
