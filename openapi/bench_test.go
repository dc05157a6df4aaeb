package openapi

import (
	"context"
	"testing"
)

// BenchmarkTokenCached measures TokenCache.Token when the token is cached,
// with the system clock: one atomic load and one time.Now, no lock, no
// allocation.
func BenchmarkTokenCached(b *testing.B) {
	tc := NewTokenCache(&countingSource{})
	ctx := context.Background()
	if _, err := tc.Token(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tc.Token(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTokenCachedParallel is BenchmarkTokenCached from GOMAXPROCS
// goroutines.
func BenchmarkTokenCachedParallel(b *testing.B) {
	tc := NewTokenCache(&countingSource{})
	ctx := context.Background()
	if _, err := tc.Token(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := tc.Token(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkClientTokenFakeClock measures Client.Token with a token fetched
// from the emulator and the emulator's FakeClock (a mutex-guarded clock).
func BenchmarkClientTokenFakeClock(b *testing.B) {
	s := newSim(b)
	c := s.client(b)
	ctx := context.Background()
	if _, err := c.Token(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Token(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func TestTokenCachedDoesNotAllocate(t *testing.T) {
	tc := NewTokenCache(&countingSource{})
	ctx := context.Background()
	if _, err := tc.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = tc.Token(ctx) }); n != 0 {
		t.Errorf("cached Token allocates %v times per call", n)
	}
}
