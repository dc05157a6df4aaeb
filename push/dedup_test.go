package push

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestMemoryDeduper(t *testing.T) {
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	d := NewMemoryDeduper(time.Minute)
	d.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ctx := context.Background()

	if _, ok, _ := d.Acquire(ctx, "k"); !ok {
		t.Fatal("new key not acquired")
	}
	// A second claim while in flight waits; give up through the context.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, ok, err := d.Acquire(short, "k"); ok || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("in-flight claim: ok=%v err=%v", ok, err)
	}
	d.Complete(ctx, "k", []byte("answer"))
	if a, ok, err := d.Acquire(ctx, "k"); ok || err != nil || string(a) != "answer" {
		t.Fatalf("completed key: %q %v %v", a, ok, err)
	}
	// After the TTL the key is new again.
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	if _, ok, _ := d.Acquire(ctx, "k"); !ok {
		t.Fatal("expired key not acquired")
	}
	// Release frees a key and wakes a waiter, which then holds it.
	got := make(chan bool)
	go func() {
		_, ok, _ := d.Acquire(ctx, "k")
		got <- ok
	}()
	time.Sleep(10 * time.Millisecond)
	d.Release(ctx, "k")
	if !<-got {
		t.Fatal("waiter did not take over a released key")
	}
}

func TestMemoryDeduperBounded(t *testing.T) {
	d := NewMemoryDeduper(time.Hour)
	d.maxEntries = 100
	ctx := context.Background()
	for i := 0; i < 1000; i++ {
		k := string(rune('a'+i%26)) + time.Duration(i).String()
		d.Acquire(ctx, k)
		d.Complete(ctx, k, nil)
	}
	if n := d.Len(); n > 101 {
		t.Fatalf("%d entries held, bound is 100", n)
	}
}
