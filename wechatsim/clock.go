package wechatsim

import (
	"sync"
	"time"
)

// Clock tells the emulator what time it is. Every time-dependent rule of the
// emulator (token expiry, send windows, typing state, media lifetime, daily
// quotas) reads the time from a Clock, so tests can move time with a
// FakeClock instead of sleeping.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
}

// SystemClock is the Clock backed by time.Now. Its zero value is ready to use:
// wechatsim.SystemClock{}.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// DefaultFakeTime is the instant a FakeClock starts at when NewFakeClock is
// given the zero time: 2024-04-25 08:00:00 in China Standard Time (UTC+8).
var DefaultFakeTime = time.Date(2024, time.April, 25, 0, 0, 0, 0, time.UTC)

// FakeClock is a manually driven Clock for tests. It only moves when Advance
// or Set is called. It is safe for concurrent use.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewFakeClock returns a FakeClock reading t. A zero t starts the clock at
// DefaultFakeTime.
func NewFakeClock(t time.Time) *FakeClock {
	if t.IsZero() {
		t = DefaultFakeTime
	}
	return &FakeClock{now: t}
}

// Now returns the clock's current time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (backward if d is negative) and
// returns the new time.
func (c *FakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// Set moves the clock to t, forward or backward.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// AdjustableClock is a Clock that can be moved, such as *FakeClock. The
// OpenAPI's POST /_sim/clock endpoint works only when its clock implements it.
type AdjustableClock interface {
	Clock
	// Advance moves the clock by d and returns the new time.
	Advance(d time.Duration) time.Time
	// Set moves the clock to t.
	Set(t time.Time)
}
