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

// token validates the answer; issued is the time the request was sent.
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
	return NewToken(a.AccessToken, issued, issued.Add(time.Duration(n)*time.Second)), nil
}

// credentials identify an app. The secret is kept behind a pointer so that
// printing a copy of a struct holding credentials shows an address, not the
// secret.
type credentials struct {
	appID  string
	secret *string
}

func newCredentials(appID, secret string) (credentials, error) {
	if appID == "" || secret == "" {
		return credentials{}, fmt.Errorf("%w: appid and secret must not be empty", ErrConfig)
	}
	return credentials{appID: appID, secret: &secret}, nil
}

// tokenEndpoint is what both token sources share: the app's credentials, the
// transport, and printing that never shows the AppSecret. Its methods have
// value receivers so that a source prints redacted whether it is printed
// through a pointer or as a value.
type tokenEndpoint struct {
	name string // type name shown by String
	cred credentials
	t    *transport
}

func newTokenEndpoint(name, appID, secret string, opts []SourceOption) (tokenEndpoint, error) {
	cred, err := newCredentials(appID, secret)
	if err != nil {
		return tokenEndpoint{}, err
	}
	t, err := newTransport(newSourceConfig(opts))
	if err != nil {
		return tokenEndpoint{}, err
	}
	return tokenEndpoint{name: name, cred: cred, t: t}, nil
}

// fetch runs ex against a token endpoint, retrying -1, and validates the
// answer. The time of the request is the token's IssuedAt, so the computed
// expiry errs on the early side.
func (e tokenEndpoint) fetch(ctx context.Context, ex *exchange) (Token, error) {
	issued := e.t.now()
	var ans tokenAnswer
	ex.tokenEndpoint, ex.secrets, ex.out = true, []string{*e.cred.secret}, &ans
	if err := e.t.doBusy(ctx, ex); err != nil {
		return Token{}, err
	}
	return ans.token(ex.op, issued)
}

// AppID returns the app's AppID.
func (e tokenEndpoint) AppID() string { return e.cred.appID }

// String describes the source without the AppSecret.
func (e tokenEndpoint) String() string {
	return "openapi." + e.name + "(appid=" + e.cred.appID + ")"
}

// GoString describes the source without the AppSecret, for %#v.
func (e tokenEndpoint) GoString() string { return e.String() }

// Format prints the redacted description for every verb.
func (e tokenEndpoint) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, e.String()) }

// StableTokenSource fetches tokens with POST /cgi-bin/stable_token. In normal
// mode WeChat returns the same token while it is valid and a new one from 5
// minutes before its expiry, so several independent processes may use it
// without invalidating each other. It retries -1 with backoff. Printing it
// never shows the AppSecret.
type StableTokenSource struct {
	tokenEndpoint
}

// NewStableTokenSource returns a stable_token source for the app, configured
// by SourceOptions: WithBaseURL, WithHTTPClient, WithClock, WithTimeout,
// WithBusyRetry and WithMaxResponseSize.
func NewStableTokenSource(appID, secret string, opts ...SourceOption) (*StableTokenSource, error) {
	e, err := newTokenEndpoint("StableTokenSource", appID, secret, opts)
	if err != nil {
		return nil, err
	}
	return &StableTokenSource{e}, nil
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
	return s.fetchStable(ctx, false)
}

// ForceRefresh fetches with force_refresh true, which invalidates the
// current stable token at once (for example after it leaked). WeChat honours
// it 20 times a day, at least 30 s apart. Call TokenCache.Invalidate with the
// old token afterwards so the cache picks up the new one.
func (s *StableTokenSource) ForceRefresh(ctx context.Context) (Token, error) {
	return s.fetchStable(ctx, true)
}

func (s *StableTokenSource) fetchStable(ctx context.Context, forceRefresh bool) (Token, error) {
	const op = "cgi-bin/stable_token"
	body, err := json.Marshal(stableRequest{GrantType: "client_credential", AppID: s.cred.appID, Secret: *s.cred.secret, ForceRefresh: forceRefresh})
	if err != nil {
		return Token{}, fmt.Errorf("openapi: %s: encoding request: %w", op, ErrConfig)
	}
	return s.fetch(ctx, &exchange{op: op, method: "POST", body: body, contentType: "application/json"})
}

// ClassicTokenSource fetches tokens with GET /cgi-bin/token. Every fetch
// creates a new token and starts the 5-minute end of life of the previous
// one, so only one component of a deployment should use it (share it through
// a TokenCache and, across processes, a SharedStore). It retries -1 with
// backoff. Printing it never shows the AppSecret.
type ClassicTokenSource struct {
	tokenEndpoint
}

// NewClassicTokenSource returns a classic /cgi-bin/token source for the app.
// It takes the same SourceOptions as NewStableTokenSource.
func NewClassicTokenSource(appID, secret string, opts ...SourceOption) (*ClassicTokenSource, error) {
	e, err := newTokenEndpoint("ClassicTokenSource", appID, secret, opts)
	if err != nil {
		return nil, err
	}
	return &ClassicTokenSource{e}, nil
}

// FetchToken implements TokenSource. Every call returns a new token.
func (s *ClassicTokenSource) FetchToken(ctx context.Context) (Token, error) {
	q := url.Values{"grant_type": {"client_credential"}, "appid": {s.cred.appID}, "secret": {*s.cred.secret}}
	return s.fetch(ctx, &exchange{op: "cgi-bin/token", method: "GET", query: q})
}
