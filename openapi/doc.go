// Package openapi answers WeChat Mini Program users through the Open API:
// customer-service messages (text, image, link, mini-program page), the
// typing indicator, temporary media and subscribe messages (the only way to
// reach a user after the customer-service window), with access_token
// management done right.
//
// Tokens come from a TokenSource (stable_token by default, the classic
// cgi-bin/token on request) through a TokenCache: refreshed ahead of expiry,
// one fetch per process however many goroutines ask, invalidated by
// compare-and-swap when WeChat rejects a token (40001, 40014, 42001) and
// retried once. Several processes can share one token through a
// SharedStore; package openapi/redistoken provides one on Redis.
//
// Errors from WeChat are *Error values that match sentinels such as
// ErrWindowExpired (45015) or ErrQuota (45009) with errors.Is; the request
// id WeChat appends to errmsg is in Error.RID. No error, String method or
// panic of this package shows an access_token or an AppSecret, even with a
// caller's *http.Client that follows redirects.
//
// Options are typed by the constructors that take them (Option for New,
// SourceOption also for the token sources, CacheOption also for
// NewTokenCache, ClockOption for all), so a misplaced option does not
// compile. Point a Client at the wechatsim emulator, or any other endpoint,
// with WithBaseURL; use WithClock to share the emulator's fake clock.
package openapi
