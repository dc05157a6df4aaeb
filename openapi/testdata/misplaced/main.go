// Package main holds options given to constructors they do not concern.
// TestMisplacedOptionsDoNotCompile builds it and expects a compile error on
// every line marked "misplaced".
package main

import (
	"time"

	"github.com/wxgate/wxgate/openapi"
)

func main() {
	_, _ = openapi.NewStableTokenSource("wx", "s", openapi.WithRefreshAhead(time.Minute)) // misplaced
	_, _ = openapi.NewClassicTokenSource("wx", "s", openapi.WithSharedStore(nil))         // misplaced
	_, _ = openapi.NewStableTokenSource("wx", "s", openapi.WithMaxMediaSize(1))           // misplaced
	_, _ = openapi.NewClassicTokenSource("wx", "s", openapi.WithTokenCache(nil))          // misplaced
	_ = openapi.NewTokenCache(nil, openapi.WithBaseURL("http://127.0.0.1"))               // misplaced
	_ = openapi.NewTokenCache(nil, openapi.WithBusyRetry(1, 0, 0))                        // misplaced
	_ = openapi.NewTokenCache(nil, openapi.WithClassicToken())                            // misplaced

	// Options where they belong compile.
	_ = openapi.NewTokenCache(nil, openapi.WithClock(time.Now), openapi.WithFetchTimeout(time.Second))
	_, _ = openapi.NewStableTokenSource("wx", "s", openapi.WithClock(time.Now), openapi.WithTimeout(time.Second))
	_, _ = openapi.New("wx", "s", openapi.WithClock(time.Now), openapi.WithRefreshAhead(time.Minute), openapi.WithMaxMediaSize(1))
}
