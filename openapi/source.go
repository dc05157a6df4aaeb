package openapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"time"
)

// TokenSource fetches access tokens from WeChat (or from any service that
// hands them out). A TokenCache sits in front of it; a TokenSource itself
// does not cache.
type TokenSource interface {
	// FetchToken returns a token valid for some time. Errors from WeChat
	// are *Error values.
	FetchToken(ctx context.Context) (Token, error)
}

// maxTokenLen bounds access_token values (WeChat asks for at least 512
// characters of storage).
const maxTokenLen = 8 << 10

// maxExpiresIn bounds expires_in; anything longer is treated as garbage.
const maxExpiresIn = 31 * 24 * 3600

// tokenAnswer is the answer of both token endpoints.
type tokenAnswer struct {
	AccessToken string          `json:"access_token"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
}

// token validates the answer; issued is the time the request was sent, so
// the computed expiry errs on the early side.
func (a *tokenAnswer) token(op string, issued time.Time) (Token, error) {
	if a.AccessToken == "" {
		return Token{}, badResponse(op, "missing access_token")
	}
	if len(a.AccessToken) > maxTokenLen {
		return Token{}, badResponse(op, "access_token longer than %d bytes", maxTokenLen)
	}
	for i := 0; i < len(a.AccessToken); i++ {
		if c := a.AccessToken[i]; c <= ' ' || c >= 0x7f {
			return Token{}, badResponse(op, "access_token holds a character that is not printable ASCII")
		}
	}
	n, present, valid := parseInt(a.ExpiresIn)
	switch {
	case !present:
		return Token{}, badResponse(op, "missing expires_in")
	case !valid:
		return Token{}, badResponse(op, "expires_in is not an integer")
	case n <= 0:
		return Token{}, badResponse(op, "expires_in is %d, want > 0", n)
	case n > maxExpiresIn:
		return Token{}, badResponse(op, "expires_in is %d, longer than 31 days", n)
	}
	return Token{value: a.AccessToken, issuedAt: issued, expires: issued.Add(time.Duration(n) * time.Second)}, nil
}

// credentials identify an app. The secret is never printed.
type credentials struct {
	appID  string
	secret string
}

func newCredentials(appID, secret string) (credentials, error) {
	if appID == "" || secret == "" {
		return credentials{}, fmt.Errorf("%w: appid and secret must not be empty", ErrConfig)
	}
	return credentials{appID: appID, secret: secret}, nil
}

// StableTokenSource fetches tokens with POST /cgi-bin/stable_token. In normal
// mode WeChat returns the same token while it is valid and a new one from 5
// minutes before its expiry, so several independent processes may use it
// without invalidating each other. It retries -1 with backoff. Printing it
// never shows the AppSecret.
type StableTokenSource struct {
	cred credentials
	t    *transport
}

// NewStableTokenSource returns a stable_token source for the app. It uses
// the options WithBaseURL, WithHTTPClient, WithClock, WithTimeout,
// WithBusyRetry and WithMaxResponseSize.
func NewStableTokenSource(appID, secret string, opts ...Option) (*StableTokenSource, error) {
	cred, err := newCredentials(appID, secret)
	if err != nil {
		return nil, err
	}
	t, err := newTransport(newConfig(opts))
	if err != nil {
		return nil, err
	}
	return &StableTokenSource{cred: cred, t: t}, nil
}

// stableRequest is the stable_token request body.
type stableRequest struct {
	GrantType    string `json:"grant_type"`
	AppID        string `json:"appid"`
	Secret       string `json:"secret"`
	ForceRefresh bool   `json:"force_refresh"`
}

// FetchToken implements TokenSource in normal mode (force_refresh false):
// WeChat hands back the current token while more than 5 minutes remain.
func (s *StableTokenSource) FetchToken(ctx context.Context) (Token, error) {
	return s.fetch(ctx, false)
}

// ForceRefresh fetches with force_refresh true, which invalidates the
// current stable token at once (for example after it leaked). WeChat honours
// it 20 times a day, at least 30 s apart. Call TokenCache.Invalidate with the
// old token afterwards so the cache picks up the new one.
func (s *StableTokenSource) ForceRefresh(ctx context.Context) (Token, error) {
	return s.fetch(ctx, true)
}

func (s *StableTokenSource) fetch(ctx context.Context, forceRefresh bool) (Token, error) {
	const op = "cgi-bin/stable_token"
	body, err := json.Marshal(stableRequest{GrantType: "client_credential", AppID: s.cred.appID, Secret: s.cred.secret, ForceRefresh: forceRefresh})
	if err != nil {
		return Token{}, fmt.Errorf("openapi: %s: encoding request: %w", op, ErrConfig)
	}
	issued := s.t.now()
	var ans tokenAnswer
	err = s.t.doBusy(ctx, &exchange{
		op: op, method: "POST", body: body, contentType: "application/json",
		tokenEndpoint: true, secrets: []string{s.cred.secret}, out: &ans,
	})
	if err != nil {
		return Token{}, err
	}
	return ans.token(op, issued)
}

// AppID returns the app's AppID.
func (s *StableTokenSource) AppID() string { return s.cred.appID }

// String describes s without the AppSecret.
func (s *StableTokenSource) String() string {
	return "openapi.StableTokenSource(appid=" + s.cred.appID + ")"
}

// GoString describes s without the AppSecret.
func (s *StableTokenSource) GoString() string { return s.String() }

// Format prints the redacted description for every verb.
func (s *StableTokenSource) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, s.String()) }

// ClassicTokenSource fetches tokens with GET /cgi-bin/token. Every fetch
// creates a new token and starts the 5-minute end of life of the previous
// one, so only one component of a deployment should use it (share it through
// a TokenCache and, across processes, a SharedStore). It retries -1 with
// backoff. Printing it never shows the AppSecret.
type ClassicTokenSource struct {
	cred credentials
	t    *transport
}

// NewClassicTokenSource returns a classic /cgi-bin/token source for the app.
// It uses the same options as NewStableTokenSource.
func NewClassicTokenSource(appID, secret string, opts ...Option) (*ClassicTokenSource, error) {
	cred, err := newCredentials(appID, secret)
	if err != nil {
		return nil, err
	}
	t, err := newTransport(newConfig(opts))
	if err != nil {
		return nil, err
	}
	return &ClassicTokenSource{cred: cred, t: t}, nil
}

// FetchToken implements TokenSource. Every call returns a new token.
func (s *ClassicTokenSource) FetchToken(ctx context.Context) (Token, error) {
	const op = "cgi-bin/token"
	q := url.Values{"grant_type": {"client_credential"}, "appid": {s.cred.appID}, "secret": {s.cred.secret}}
	issued := s.t.now()
	var ans tokenAnswer
	err := s.t.doBusy(ctx, &exchange{
		op: op, method: "GET", query: q, tokenEndpoint: true,
		secrets: []string{s.cred.secret}, out: &ans,
	})
	if err != nil {
		return Token{}, err
	}
	return ans.token(op, issued)
}

// AppID returns the app's AppID.
func (s *ClassicTokenSource) AppID() string { return s.cred.appID }

// String describes s without the AppSecret.
func (s *ClassicTokenSource) String() string {
	return "openapi.ClassicTokenSource(appid=" + s.cred.appID + ")"
}

// GoString describes s without the AppSecret.
func (s *ClassicTokenSource) GoString() string { return s.String() }

// Format prints the redacted description for every verb.
func (s *ClassicTokenSource) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, s.String()) }
