package deliver

import (
	"testing"
	"time"
)

// Equal jitter: the delay after failed attempt n lies in [d/2, d] with
// d = initial·2^(n-1) capped at max, and it varies.
func TestBackoff(t *testing.T) {
	const initial, maxd = time.Second, 10 * time.Minute
	for n := 1; n <= 40; n++ {
		d := min(initial<<min(n-1, 30), maxd)
		seen := map[time.Duration]bool{}
		for range 200 {
			got := backoff(n, initial, maxd)
			if got < d/2 || got > d {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", n, got, d/2, d)
			}
			seen[got] = true
		}
		if len(seen) < 50 {
			t.Fatalf("backoff(%d) took only %d values: no jitter", n, len(seen))
		}
	}
	if got := backoff(1<<30, time.Nanosecond, maxBackoffCap); got < maxBackoffCap/2 || got > maxBackoffCap {
		t.Fatalf("huge attempt: %s", got)
	}
	if got := backoff(5, time.Nanosecond, time.Nanosecond); got != 0 && got != time.Nanosecond {
		t.Fatalf("tiny: %s", got)
	}
}

func TestClip(t *testing.T) {
	if got := clip("héllo", 2); got != "h" {
		t.Fatalf("clip split a rune: %q", got)
	}
	if got := clip("abc", 5); got != "abc" {
		t.Fatal(got)
	}
}
