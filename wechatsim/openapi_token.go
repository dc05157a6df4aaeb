package wechatsim

import (
	"net/http"
	"sort"
	"time"
)

// Token kinds used in TokenInfo.Kind.
const (
	// TokenKindToken is a token issued by GET /cgi-bin/token.
	TokenKindToken = "token"
	// TokenKindStable is a token issued by POST /cgi-bin/stable_token.
	TokenKindStable = "stable"
)

// Token states used in TokenInfo.State.
const (
	// TokenValid: the token is the app's latest of its kind and unexpired.
	TokenValid = "valid"
	// TokenOverlapping: a newer token exists but this one is still inside
	// its 5-minute overlap (or, for stable tokens, its last 5 minutes).
	TokenOverlapping = "overlap"
	// TokenSuperseded: replaced by a newer token and past the overlap; using
	// it gives 40001.
	TokenSuperseded = "superseded"
	// TokenRevoked: invalidated by RevokeTokens or force_refresh; using it
	// gives 40001.
	TokenRevoked = "revoked"
	// TokenExpired: past its 7200 s lifetime; using it gives 42001.
	TokenExpired = "expired"
)

// maxIssued bounds the number of token records kept for read-back; expired
// ones beyond it are forgotten (and then answer 40001 as unknown tokens).
const maxIssued = 10000

type tokenRec struct {
	value     string
	kind      string
	appID     string
	issuedAt  time.Time
	expiresAt time.Time
	invalidAt time.Time // zero: not superseded; set when a newer token replaces it
	revoked   bool
}

func (t *tokenRec) state(now time.Time) string {
	switch {
	case t.revoked:
		return TokenRevoked
	case !t.invalidAt.IsZero() && t.invalidAt.Before(t.expiresAt) && !now.Before(t.invalidAt):
		return TokenSuperseded
	case !now.Before(t.expiresAt):
		return TokenExpired
	case !t.invalidAt.IsZero():
		return TokenOverlapping
	}
	return TokenValid
}

// usable reports whether API calls with the token succeed at now.
func (t *tokenRec) usable(now time.Time) bool {
	s := t.state(now)
	return s == TokenValid || s == TokenOverlapping
}

// TokenInfo describes an issued access token.
type TokenInfo struct {
	// Kind is TokenKindToken or TokenKindStable.
	Kind string `json:"kind"`
	// AppID is the app the token belongs to.
	AppID string `json:"appid"`
	// Value is the full token. It is never sent over HTTP; /_sim/tokens shows
	// Prefix instead.
	Value string `json:"-"`
	// Prefix is the first 8 characters of the token followed by "…".
	Prefix string `json:"prefix"`
	// IssuedAt is when the token was issued.
	IssuedAt time.Time `json:"issued_at"`
	// ExpiresAt is IssuedAt plus 7200 s.
	ExpiresAt time.Time `json:"expires_at"`
	// InvalidAt is when the token stops (or stopped) working before
	// ExpiresAt because it was superseded or revoked; zero otherwise.
	InvalidAt time.Time `json:"invalid_at,omitzero"`
	// State is the token's state at the time of the call (TokenValid, …).
	State string `json:"state"`
}

type appState struct {
	current      *tokenRec // latest /cgi-bin/token token
	stable       *tokenRec // latest stable_token token
	tokenDay     counter   // tokens issued today (quota)
	stableDay    counter   // stable_token calls today
	stableMinute counter   // stable_token calls this minute
	forceDay     counter   // honoured force_refresh calls today
	lastForce    time.Time // last honoured force_refresh
}

func (o *OpenAPI) appStateLocked(appID string) *appState {
	st := o.apps[appID]
	if st == nil {
		st = &appState{}
		o.apps[appID] = st
	}
	return st
}

// newTokenLocked issues a fresh token of the given kind for appID.
func (o *OpenAPI) newTokenLocked(kind, appID string, now time.Time) *tokenRec {
	var value string
	for {
		// Shaped like the platform's tokens: a decimal prefix, "_", then
		// base64url characters; 136 characters in all.
		value = "86_" + randomString(133)
		if _, dup := o.tokens[value]; !dup {
			break
		}
	}
	t := &tokenRec{value: value, kind: kind, appID: appID, issuedAt: now, expiresAt: now.Add(TokenLifetime)}
	o.tokens[value] = t
	o.issued = append(o.issued, t)
	if len(o.issued) > maxIssued {
		o.pruneTokensLocked(now)
	}
	return t
}

func (o *OpenAPI) pruneTokensLocked(now time.Time) {
	keep := o.issued[:0]
	for _, t := range o.issued {
		if t.usable(now) {
			keep = append(keep, t)
		} else {
			delete(o.tokens, t.value)
		}
	}
	clear(o.issued[len(keep):])
	o.issued = keep
}

// checkCredentials validates appid and secret (shared by both token
// endpoints); it returns 0 or an errcode.
func (o *OpenAPI) checkCredentials(grantType, appID, secret string) int {
	switch {
	case grantType != "client_credential":
		return ErrCodeInvalidGrantType
	case appID == "":
		return ErrCodeAppIDMissing
	case secret == "":
		return ErrCodeAppSecretMissing
	}
	app, ok := o.world.App(appID)
	if !ok {
		return ErrCodeInvalidAppID
	}
	if app.Secret != secret {
		return ErrCodeInvalidAppSecret
	}
	return 0
}

// tokenResponse is the success body of both token endpoints.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
}

func (o *OpenAPI) handleToken(r *http.Request) response {
	q := r.URL.Query()
	appID := q.Get("appid")
	if code := o.checkCredentials(q.Get("grant_type"), appID, q.Get("secret")); code != 0 {
		return errResp(code)
	}
	if !o.ipAllowed(r) {
		return errResp(ErrCodeIPNotWhitelisted, "the caller is not in SetIPWhitelist")
	}
	now := o.clock.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	st := o.appStateLocked(appID)
	day := dayKey(now)
	if st.tokenDay.get(day) >= o.quota {
		return errResp(ErrCodeDailyQuota)
	}
	st.tokenDay.inc(day)
	if prev := st.current; prev != nil && prev.invalidAt.IsZero() {
		// The previous token keeps working for 5 more minutes at most.
		prev.invalidAt = minTime(prev.expiresAt, now.Add(TokenOverlap))
	}
	t := o.newTokenLocked(TokenKindToken, appID, now)
	st.current = t
	return okResp(tokenResponse{AccessToken: t.value, ExpiresIn: int64(TokenLifetime / time.Second)})
}

// stableTokenRequest is the body of POST /cgi-bin/stable_token.
type stableTokenRequest struct {
	GrantType    string `json:"grant_type"`
	AppID        string `json:"appid"`
	Secret       string `json:"secret"`
	ForceRefresh bool   `json:"force_refresh"`
}

func (o *OpenAPI) handleStableToken(r *http.Request) response {
	var req stableTokenRequest
	if _, bad := readJSONBody(r, &req); bad != nil {
		return *bad
	}
	if code := o.checkCredentials(req.GrantType, req.AppID, req.Secret); code != 0 {
		return errResp(code)
	}
	if !o.ipAllowed(r) {
		return errResp(ErrCodeIPNotWhitelisted, "the caller is not in SetIPWhitelist")
	}
	now := o.clock.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	st := o.appStateLocked(req.AppID)
	day, minute := dayKey(now), minuteKey(now)
	if st.stableMinute.get(minute) >= StableMinuteQuota {
		return errResp(ErrCodeMinuteQuota)
	}
	if st.stableDay.get(day) >= StableDailyQuota {
		return errResp(ErrCodeDailyQuota)
	}
	st.stableMinute.inc(minute)
	st.stableDay.inc(day)

	cur := st.stable
	force := req.ForceRefresh && (st.lastForce.IsZero() || now.Sub(st.lastForce) >= StableForceRefreshGap)
	if force {
		if st.forceDay.get(day) >= StableForceRefreshDaily {
			return errResp(ErrCodeDailyQuota, "force_refresh daily limit")
		}
		st.forceDay.inc(day)
		st.lastForce = now
		if cur != nil && cur.invalidAt.IsZero() {
			cur.invalidAt = now // force_refresh invalidates the current token at once
		}
	} else if cur != nil && cur.usable(now) && cur.invalidAt.IsZero() && now.Before(cur.expiresAt.Add(-TokenOverlap)) {
		// Normal mode: the same token while more than 5 minutes remain.
		// (A force_refresh inside the 30 s gap also lands here: it does not
		// refresh.)
		return okResp(tokenResponse{AccessToken: cur.value, ExpiresIn: int64(cur.expiresAt.Sub(now) / time.Second)})
	} else if cur != nil && cur.usable(now) && cur.invalidAt.IsZero() {
		// Last 5 minutes: renew; the old token keeps working until it expires.
		cur.invalidAt = cur.expiresAt
	}
	t := o.newTokenLocked(TokenKindStable, req.AppID, now)
	st.stable = t
	return okResp(tokenResponse{AccessToken: t.value, ExpiresIn: int64(TokenLifetime / time.Second)})
}

func tooLargeResp() response {
	resp := errResp(ErrCodeDataFormat, "request body too large")
	resp.status = http.StatusRequestEntityTooLarge
	return resp
}

// authorize checks the access_token query parameter and returns the app it
// belongs to, or an errcode.
func (o *OpenAPI) authorize(r *http.Request) (appID string, code int) {
	q := r.URL.Query()
	if !q.Has("access_token") || q.Get("access_token") == "" {
		return "", ErrCodeAccessTokenMissing
	}
	tok := q.Get("access_token")
	if !wellFormedToken(tok) {
		return "", ErrCodeInvalidAccessToken
	}
	now := o.clock.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	t, ok := o.tokens[tok]
	if !ok {
		return "", ErrCodeInvalidCredential
	}
	switch t.state(now) {
	case TokenValid, TokenOverlapping:
		return t.appID, 0
	case TokenExpired:
		return "", ErrCodeAccessTokenExpired
	default:
		return "", ErrCodeInvalidCredential
	}
}

// wellFormedToken reports whether s could be an access token: 16 to 512
// base64url characters. Anything else is answered with 40014.
func wellFormedToken(s string) bool {
	if len(s) < 16 || len(s) > 512 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// RevokeTokens invalidates every token issued so far (both kinds, all apps):
// using one gives 40001. The next fetch issues a fresh token.
func (o *OpenAPI) RevokeTokens() {
	now := o.clock.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, t := range o.issued {
		if !t.revoked {
			t.revoked = true
			if t.invalidAt.IsZero() || t.invalidAt.After(now) {
				t.invalidAt = now
			}
		}
	}
}

// ClearQuota resets the daily counters of both token endpoints for every app
// (like cgi-bin/clear_quota).
func (o *OpenAPI) ClearQuota() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, st := range o.apps {
		st.tokenDay, st.stableDay, st.stableMinute, st.forceDay = counter{}, counter{}, counter{}, counter{}
	}
}

// Tokens returns every remembered token, oldest first, with full values.
func (o *OpenAPI) Tokens() []TokenInfo {
	now := o.clock.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]TokenInfo, 0, len(o.issued))
	for _, t := range o.issued {
		info := TokenInfo{Kind: t.kind, AppID: t.appID, Value: t.value, Prefix: redact(t.value),
			IssuedAt: t.issuedAt, ExpiresAt: t.expiresAt, State: t.state(now)}
		if !t.invalidAt.IsZero() && t.invalidAt.Before(t.expiresAt) {
			info.InvalidAt = t.invalidAt
		}
		out = append(out, info)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].IssuedAt.Before(out[j].IssuedAt) })
	return out
}

// redact returns the first 8 characters of a secret value followed by "…".
func redact(s string) string {
	if len(s) <= 8 {
		return "…"
	}
	return s[:8] + "…"
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
