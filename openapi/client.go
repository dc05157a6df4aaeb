package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrInvalidArgument means a method was called with an argument the Open
// API would reject anyway (an empty media_id, a path with a query, ...).
// An empty openid gives ErrInvalidOpenID instead.
var ErrInvalidArgument = errors.New("openapi: invalid argument")

// Client calls the Open API for one app. It gets tokens from a TokenCache,
// and for every call:
//
//   - on 40001, 40014 or 42001 it invalidates the token (only if the cache
//     still holds the one that failed), gets a new one and retries the call
//     once, never more;
//   - on -1 it retries with exponential backoff and jitter, within
//     WithBusyRetry's attempts and the context;
//   - every other errcode is returned at once as an *Error.
//
// Errors, logs and panics never show the access_token or the AppSecret.
// A Client is safe for concurrent use.
type Client struct {
	appID string
	t     *transport
	cache *TokenCache
}

// New returns a client for the app. By default it fetches tokens with
// stable_token from DefaultBaseURL and caches them in memory; see the
// With... options, all of which New accepts. appID and secret may be empty
// only when WithTokenSource or WithTokenCache provides the tokens. Options
// that would cancel each other (see WithTokenCache) give ErrConfig.
func New(appID, secret string, opts ...Option) (*Client, error) {
	cfg := newClientConfig(opts)
	if err := cfg.check(); err != nil {
		return nil, err
	}
	t, err := newTransport(cfg)
	if err != nil {
		return nil, err
	}
	cache := cfg.cache
	if cache == nil {
		src := cfg.source
		if src == nil {
			cred, err := newCredentials(appID, secret)
			if err != nil {
				return nil, err
			}
			if cfg.classic {
				src = &ClassicTokenSource{tokenEndpoint{"ClassicTokenSource", cred, t}}
			} else {
				src = &StableTokenSource{tokenEndpoint{"StableTokenSource", cred, t}}
			}
		}
		cache = newTokenCache(src, cfg)
	}
	return &Client{appID: appID, t: t, cache: cache}, nil
}

// AppID returns the AppID given to New.
func (c *Client) AppID() string { return c.appID }

// String describes c without any secret.
func (c *Client) String() string { return "openapi.Client(appid=" + c.appID + ")" }

// TokenCache returns the cache that provides c's tokens.
func (c *Client) TokenCache() *TokenCache { return c.cache }

// Token returns the current access_token, for calling APIs this package does
// not wrap. Prefer PostJSON, which also handles token rejection.
func (c *Client) Token(ctx context.Context) (Token, error) { return c.cache.Token(ctx) }

// call runs ex with a token, handling rejection and -1 as described on
// Client.
func (c *Client) call(ctx context.Context, ex *exchange, query url.Values) error {
	tokenRetried := false
	busy := 1
	for {
		tok, err := c.cache.Token(ctx)
		if err != nil {
			return err
		}
		q := make(url.Values, len(query)+1)
		for k, v := range query {
			q[k] = v
		}
		q.Set("access_token", tok.Value())
		ex.query = q
		ex.secrets = []string{tok.Value()}
		err = c.t.do(ctx, ex)
		ae, ok := err.(*Error)
		if !ok {
			return err
		}
		switch {
		case isTokenCode(ae.Code) && !tokenRetried:
			tokenRetried = true
			c.cache.Invalidate(ctx, tok)
			continue
		case ae.Code == -1 && busy < c.t.attempts:
			if c.t.sleep(ctx, busy) != nil {
				return err
			}
			busy++
			continue
		}
		return err
	}
}

// marshal encodes v as JSON without HTML escaping (message text may hold
// <a href> links).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// cleanPath validates an API path given by the caller.
func cleanPath(path string) (string, error) {
	path = strings.TrimLeft(path, "/")
	if path == "" || strings.ContainsAny(path, "?#") || strings.Contains(path, "://") || strings.Contains(path, "..") {
		return "", fmt.Errorf("%w: API path must look like \"cgi-bin/message/custom/send\"", ErrInvalidArgument)
	}
	return path, nil
}

// PostJSON posts in as JSON to the API at path (for example
// "wxa/msg_sec_check"), with the access_token added to the query, and
// decodes the answer into out (which may be nil). Token rejection and -1 are
// handled as for every call. A non-zero errcode gives an *Error.
func (c *Client) PostJSON(ctx context.Context, path string, in, out any) error {
	op, err := cleanPath(path)
	if err != nil {
		return err
	}
	body, err := marshal(in)
	if err != nil {
		return fmt.Errorf("%w: encoding request: %v", ErrInvalidArgument, err)
	}
	return c.call(ctx, &exchange{op: op, method: "POST", body: body, contentType: "application/json", out: out}, nil)
}

// send posts a custom/send request.
func (c *Client) send(ctx context.Context, msg any) error {
	body, err := marshal(msg)
	if err != nil {
		return fmt.Errorf("%w: encoding message: %v", ErrInvalidArgument, err)
	}
	return c.call(ctx, &exchange{op: "cgi-bin/message/custom/send", method: "POST", body: body, contentType: "application/json"}, nil)
}

// checkOpenID rejects an empty openid without a round trip.
func checkOpenID(openID string) error {
	if strings.TrimSpace(openID) == "" {
		return fmt.Errorf("%w: empty openid", ErrInvalidOpenID)
	}
	return nil
}
