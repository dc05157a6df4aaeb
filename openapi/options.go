package openapi

import (
	"fmt"
	"net/http"
	"strings"
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

// Options are typed by the constructors that use them, so that an option
// given to a constructor it does not concern is a compile error rather than
// silently ignored:
//
//	Option        New only: WithMaxMediaSize, WithClassicToken,
//	              WithTokenSource, WithTokenCache
//	SourceOption  New, NewStableTokenSource and NewClassicTokenSource:
//	              WithBaseURL, WithHTTPClient, WithTimeout, WithBusyRetry,
//	              WithMaxResponseSize
//	CacheOption   New and NewTokenCache: WithRefreshAhead, WithSharedStore,
//	              WithStorePoll, WithFetchTimeout
//	ClockOption   every constructor: WithClock
//
// The interfaces have unexported methods: only this package implements them.

// Option configures New, which accepts every option of this package.
type Option interface {
	applyClient(*config)
}

// SourceOption configures the token sources (NewStableTokenSource,
// NewClassicTokenSource) as well as New.
type SourceOption interface {
	Option
	applySource(*config)
}

// CacheOption configures NewTokenCache as well as New.
type CacheOption interface {
	Option
	applyCache(*config)
}

// ClockOption configures every constructor.
type ClockOption interface {
	SourceOption
	CacheOption
}

// clientOpt is an option of New only.
type clientOpt func(*config)

func (o clientOpt) applyClient(c *config) { o(c) }

// sourceOpt is an option of New and the token sources.
type sourceOpt func(*config)

func (o sourceOpt) applyClient(c *config) { o(c) }
func (o sourceOpt) applySource(c *config) { o(c) }

// cacheOpt is an option of New and NewTokenCache.
type cacheOpt func(*config)

func (o cacheOpt) applyClient(c *config) { o(c) }
func (o cacheOpt) applyCache(c *config)  { o(c) }

// clockOpt is an option of every constructor.
type clockOpt func(*config)

func (o clockOpt) applyClient(c *config) { o(c) }
func (o clockOpt) applySource(c *config) { o(c) }
func (o clockOpt) applyCache(c *config)  { o(c) }

// config collects every option.
type config struct {
	baseURL       string
	httpClient    *http.Client
	now           func() time.Time
	clockSet      bool
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
	cacheOpts     []string // names of the cache-only options given, for New's conflict check
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

func defaultConfig() *config {
	return &config{
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
}

// finish fills the defaults that depend on other options.
func (c *config) finish() *config {
	if c.flightTimeout <= 0 {
		c.flightTimeout = 60 * time.Second
		if c.timeout > 0 && 6*c.timeout > c.flightTimeout {
			c.flightTimeout = 6 * c.timeout
		}
	}
	return c
}

func newClientConfig(opts []Option) *config {
	c := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o.applyClient(c)
		}
	}
	return c.finish()
}

func newSourceConfig(opts []SourceOption) *config {
	c := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o.applySource(c)
		}
	}
	return c.finish()
}

func newCacheConfig(opts []CacheOption) *config {
	c := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o.applyCache(c)
		}
	}
	return c.finish()
}

// check reports the combinations of New's options in which one option
// would silently cancel another.
func (c *config) check() error {
	if c.cache != nil {
		ignored := append([]string(nil), c.cacheOpts...)
		if c.clockSet {
			ignored = append(ignored, "WithClock")
		}
		if c.classic {
			ignored = append(ignored, "WithClassicToken")
		}
		if c.source != nil {
			ignored = append(ignored, "WithTokenSource")
		}
		if len(ignored) > 0 {
			return fmt.Errorf("%w: WithTokenCache brings its own source, clock and settings; %s would be ignored (give them to NewTokenCache)",
				ErrConfig, strings.Join(ignored, ", "))
		}
	}
	if c.classic && c.source != nil {
		return fmt.Errorf("%w: WithClassicToken and WithTokenSource exclude each other", ErrConfig)
	}
	return nil
}

// WithBaseURL sends every request to base instead of DefaultBaseURL, for
// example to the wechatsim emulator or a forward proxy. A trailing slash is
// ignored.
func WithBaseURL(base string) SourceOption {
	return sourceOpt(func(c *config) {
		if base != "" {
			c.baseURL = base
		}
	})
}

// WithHTTPClient uses hc for every request. nil keeps the default client.
// Consider setting hc.CheckRedirect to http.ErrUseLastResponse as the
// default client does: a followed redirect carries the access_token (or,
// for the classic token endpoint, the AppSecret) along. Errors never show
// it either way.
func WithHTTPClient(hc *http.Client) SourceOption {
	return sourceOpt(func(c *config) {
		if hc != nil {
			c.httpClient = hc
		}
	})
}

// WithClock replaces time.Now for token expiry decisions, so tests can use a
// fake clock (for example wechatsim's FakeClock.Now). Backoff sleeps and the
// SharedStore lease still use real time. Every constructor accepts it.
func WithClock(now func() time.Time) ClockOption {
	return clockOpt(func(c *config) {
		if now != nil {
			c.now, c.clockSet = now, true
		}
	})
}

// WithTimeout bounds each HTTP attempt (default DefaultTimeout). d <= 0
// leaves attempts bounded only by the context and the *http.Client.
func WithTimeout(d time.Duration) SourceOption {
	return sourceOpt(func(c *config) { c.timeout = d })
}

// WithClassicToken makes New fetch tokens with GET /cgi-bin/token instead of
// the default POST /cgi-bin/stable_token. Tokens of the two endpoints are
// independent; every classic fetch replaces the previous classic token. It
// cannot be combined with WithTokenSource or WithTokenCache.
func WithClassicToken() Option {
	return clientOpt(func(c *config) { c.classic = true })
}

// WithTokenSource makes New fetch tokens from src, for example a
// company-wide token service. (NewTokenCache takes its source as an
// argument.) It cannot be combined with WithClassicToken or WithTokenCache.
func WithTokenSource(src TokenSource) Option {
	return clientOpt(func(c *config) { c.source = src })
}

// WithTokenCache makes New use an existing cache, so several clients of the
// same app share one token. The cache brings its own source, clock and
// settings: New fails with ErrConfig if it is combined with WithClock,
// WithClassicToken, WithTokenSource or a CacheOption.
func WithTokenCache(tc *TokenCache) Option {
	return clientOpt(func(c *config) { c.cache = tc })
}

// WithSharedStore shares tokens between processes through s: one process
// refreshes under the store's lease while the others wait and read the result
// (see TokenCache). The Redis implementation is in package
// openapi/redistoken.
func WithSharedStore(s SharedStore) CacheOption {
	return cacheOpt(func(c *config) {
		c.store = s
		c.cacheOpts = append(c.cacheOpts, "WithSharedStore")
	})
}

// WithStorePoll sets how often a process waiting for another one's refresh
// reads the SharedStore (default DefaultStorePoll, real time).
func WithStorePoll(d time.Duration) CacheOption {
	return cacheOpt(func(c *config) {
		if d > 0 {
			c.storePoll = d
		}
		c.cacheOpts = append(c.cacheOpts, "WithStorePoll")
	})
}

// WithRefreshAhead sets how long before expiry a token is renewed (default
// DefaultRefreshAhead). Values below zero count as zero.
func WithRefreshAhead(d time.Duration) CacheOption {
	return cacheOpt(func(c *config) {
		c.refreshAhead = max(d, 0)
		c.cacheOpts = append(c.cacheOpts, "WithRefreshAhead")
	})
}

// WithBusyRetry sets how calls answered with -1 (system busy) are retried:
// at most attempts tries in total, sleeping about backoff after the first
// failure, doubling up to maxBackoff, with random jitter. attempts <= 1
// disables the retry.
func WithBusyRetry(attempts int, backoff, maxBackoff time.Duration) SourceOption {
	return sourceOpt(func(c *config) {
		c.busyAttempts = max(attempts, 1)
		c.busyBackoff = max(backoff, 0)
		c.busyMax = max(maxBackoff, c.busyBackoff)
	})
}

// WithMaxResponseSize bounds the size of JSON answers (default
// DefaultMaxResponseSize). Larger answers fail with ErrBadResponse.
func WithMaxResponseSize(n int64) SourceOption {
	return sourceOpt(func(c *config) {
		if n > 0 {
			c.maxResponse = n
		}
	})
}

// WithMaxMediaSize bounds media uploaded and downloaded (default
// DefaultMaxMediaSize).
func WithMaxMediaSize(n int64) Option {
	return clientOpt(func(c *config) {
		if n > 0 {
			c.maxMedia = n
		}
	})
}

// WithFetchTimeout bounds one token refresh, including any wait for another
// process that holds the SharedStore lease (default: 60 s, or, for New, 6
// times the WithTimeout value if larger). A refresh is shared by every
// waiting caller, so it is not cancelled with the context of the caller that
// started it; each caller still stops waiting when its own context ends.
func WithFetchTimeout(d time.Duration) CacheOption {
	return cacheOpt(func(c *config) {
		c.flightTimeout = d
		c.cacheOpts = append(c.cacheOpts, "WithFetchTimeout")
	})
}
