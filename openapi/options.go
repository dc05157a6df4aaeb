package openapi

import (
	"net/http"
	"time"
)

// DefaultBaseURL is the production Open API.
const DefaultBaseURL = "https://api.weixin.qq.com"

// Defaults used when no Option overrides them.
const (
	// DefaultTimeout bounds each HTTP attempt when the caller's context has
	// no earlier deadline.
	DefaultTimeout = 10 * time.Second
	// DefaultRefreshAhead is how long before expiry a cached token is
	// renewed. It is shorter than the 5 minutes during which WeChat keeps the
	// old and the new token both valid, and shorter than the 5 minutes before
	// expiry at which stable_token starts handing out a new token, so one
	// fetch always yields a new token and the old one stays usable until it
	// expires.
	DefaultRefreshAhead = 3 * time.Minute
	// DefaultBusyAttempts is the number of attempts (first try included)
	// for a call answered with -1.
	DefaultBusyAttempts = 3
	// DefaultBusyBackoff is the first backoff after -1; it doubles on each
	// retry, up to DefaultBusyMaxBackoff, with jitter.
	DefaultBusyBackoff = 200 * time.Millisecond
	// DefaultBusyMaxBackoff caps the backoff after -1.
	DefaultBusyMaxBackoff = 2 * time.Second
	// DefaultStorePoll is how often an instance that waits for another
	// instance's refresh looks at the SharedStore.
	DefaultStorePoll = 50 * time.Millisecond
)

// Option configures a Client, a TokenCache or a token source. Each
// constructor uses the options that concern it and ignores the others.
type Option func(*config)

// config collects every option.
type config struct {
	baseURL       string
	httpClient    *http.Client
	now           func() time.Time
	timeout       time.Duration
	classic       bool
	source        TokenSource
	cache         *TokenCache
	store         SharedStore
	storePoll     time.Duration
	refreshAhead  time.Duration
	busyAttempts  int
	busyBackoff   time.Duration
	busyMax       time.Duration
	maxResponse   int64
	maxMedia      int64
	flightTimeout time.Duration
}

// defaultHTTPClient is used when no WithHTTPClient option is given. Its
// timeout is a backstop; each attempt also gets the configured timeout. It
// does not follow redirects, which would hand the access_token in the query
// to another URL; a redirect is reported as ErrBadResponse.
var defaultHTTPClient = &http.Client{
	Timeout: 60 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

func newConfig(opts []Option) *config {
	c := &config{
		baseURL:      DefaultBaseURL,
		httpClient:   defaultHTTPClient,
		now:          time.Now,
		timeout:      DefaultTimeout,
		storePoll:    DefaultStorePoll,
		refreshAhead: DefaultRefreshAhead,
		busyAttempts: DefaultBusyAttempts,
		busyBackoff:  DefaultBusyBackoff,
		busyMax:      DefaultBusyMaxBackoff,
		maxResponse:  DefaultMaxResponseSize,
		maxMedia:     DefaultMaxMediaSize,
	}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	if c.flightTimeout <= 0 {
		c.flightTimeout = 60 * time.Second
		if c.timeout > 0 && 6*c.timeout > c.flightTimeout {
			c.flightTimeout = 6 * c.timeout
		}
	}
	return c
}

// WithBaseURL sends every request to base instead of DefaultBaseURL, for
// example to the wechatsim emulator or a forward proxy. A trailing slash is
// ignored.
func WithBaseURL(base string) Option {
	return func(c *config) {
		if base != "" {
			c.baseURL = base
		}
	}
}

// WithHTTPClient uses hc for every request. nil keeps the default client.
// Consider setting hc.CheckRedirect to http.ErrUseLastResponse as the
// default client does: a followed redirect carries the access_token along.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) {
		if hc != nil {
			c.httpClient = hc
		}
	}
}

// WithClock replaces time.Now for token expiry decisions, so tests can use a
// fake clock (for example wechatsim's FakeClock.Now). Backoff sleeps and the
// SharedStore lease still use real time.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithTimeout bounds each HTTP attempt (default DefaultTimeout). d <= 0
// leaves attempts bounded only by the context and the *http.Client.
func WithTimeout(d time.Duration) Option {
	return func(c *config) { c.timeout = d }
}

// WithClassicToken makes New fetch tokens with GET /cgi-bin/token instead of
// the default POST /cgi-bin/stable_token. Tokens of the two endpoints are
// independent; every classic fetch replaces the previous classic token.
func WithClassicToken() Option {
	return func(c *config) { c.classic = true }
}

// WithTokenSource makes New and NewTokenCache fetch tokens from src, for
// example a company-wide token service. It overrides WithClassicToken.
func WithTokenSource(src TokenSource) Option {
	return func(c *config) { c.source = src }
}

// WithTokenCache makes New use an existing cache, so several clients of the
// same app share one token. It overrides WithTokenSource, WithSharedStore and
// WithRefreshAhead.
func WithTokenCache(tc *TokenCache) Option {
	return func(c *config) { c.cache = tc }
}

// WithSharedStore shares tokens between processes through s: one process
// refreshes under the store's lease while the others wait and read the result
// (see TokenCache). The Redis implementation is in package
// openapi/redistoken.
func WithSharedStore(s SharedStore) Option {
	return func(c *config) { c.store = s }
}

// WithStorePoll sets how often a process waiting for another one's refresh
// reads the SharedStore (default DefaultStorePoll, real time).
func WithStorePoll(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.storePoll = d
		}
	}
}

// WithRefreshAhead sets how long before expiry a token is renewed (default
// DefaultRefreshAhead). Values below zero count as zero.
func WithRefreshAhead(d time.Duration) Option {
	return func(c *config) { c.refreshAhead = max(d, 0) }
}

// WithBusyRetry sets how calls answered with -1 (system busy) are retried:
// at most attempts tries in total, sleeping about backoff after the first
// failure, doubling up to maxBackoff, with random jitter. attempts <= 1
// disables the retry.
func WithBusyRetry(attempts int, backoff, maxBackoff time.Duration) Option {
	return func(c *config) {
		c.busyAttempts = max(attempts, 1)
		c.busyBackoff = max(backoff, 0)
		c.busyMax = max(maxBackoff, c.busyBackoff)
	}
}

// WithMaxResponseSize bounds the size of JSON answers (default
// DefaultMaxResponseSize). Larger answers fail with ErrBadResponse.
func WithMaxResponseSize(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.maxResponse = n
		}
	}
}

// WithMaxMediaSize bounds media uploaded and downloaded (default
// DefaultMaxMediaSize).
func WithMaxMediaSize(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.maxMedia = n
		}
	}
}

// WithFetchTimeout bounds one token refresh, including any wait for another
// process that holds the SharedStore lease (default: 60 s, or 6 times the
// WithTimeout value if larger). A refresh is shared by every waiting caller,
// so it is not cancelled with the context of the caller that started it;
// each caller still stops waiting when its own context ends.
func WithFetchTimeout(d time.Duration) Option {
	return func(c *config) { c.flightTimeout = d }
}
