package wechatsim

import (
	"sync"
	"testing"
	"time"
)

func TestFakeClockStartsAtGivenTime(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	if got := NewFakeClock(start).Now(); !got.Equal(start) {
		t.Fatalf("Now = %v, want %v", got, start)
	}
}

func TestFakeClockZeroStartsAtDefault(t *testing.T) {
	if got := NewFakeClock(time.Time{}).Now(); !got.Equal(DefaultFakeTime) {
		t.Fatalf("Now = %v, want %v", got, DefaultFakeTime)
	}
}

func TestFakeClockAdvanceAndSet(t *testing.T) {
	c := NewFakeClock(time.Time{})
	if got := c.Advance(90 * time.Second); !got.Equal(DefaultFakeTime.Add(90 * time.Second)) {
		t.Fatalf("Advance returned %v", got)
	}
	if got := c.Now(); !got.Equal(DefaultFakeTime.Add(90 * time.Second)) {
		t.Fatalf("Now after Advance = %v", got)
	}
	c.Advance(-30 * time.Second)
	if got := c.Now(); !got.Equal(DefaultFakeTime.Add(60 * time.Second)) {
		t.Fatalf("Now after negative Advance = %v", got)
	}
	target := time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
	c.Set(target)
	if got := c.Now(); !got.Equal(target) {
		t.Fatalf("Now after Set = %v", got)
	}
}

func TestFakeClockConcurrentAdvance(t *testing.T) {
	c := NewFakeClock(time.Time{})
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Advance(time.Second)
			_ = c.Now()
		}()
	}
	wg.Wait()
	if got := c.Now().Sub(DefaultFakeTime); got != 100*time.Second {
		t.Fatalf("clock moved %v, want 100s", got)
	}
}

func TestSystemClockFollowsTimeNow(t *testing.T) {
	before := time.Now()
	got := SystemClock{}.Now()
	if got.Before(before) || got.After(time.Now()) {
		t.Fatalf("SystemClock.Now = %v outside [%v, now]", got, before)
	}
	var _ Clock = SystemClock{}
	var _ AdjustableClock = (*FakeClock)(nil)
}
