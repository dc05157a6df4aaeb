package push

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestMemoryDeduper(t *testing.T) {
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	d := NewMemoryDeduper(time.Minute, 0)
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

// A full deduper refuses new keys rather than forget live ones, frees
// room as entries expire, and gives memory back once most have gone.
func TestMemoryDeduperBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	d := NewMemoryDeduper(time.Hour, 100)
	d.now = func() time.Time { return now }
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		k := "k" + strconv.Itoa(i)
		if _, ok, err := d.Acquire(ctx, k); !ok || err != nil {
			t.Fatalf("key %d: %v %v", i, ok, err)
		}
		d.Complete(ctx, k, nil)
	}
	if _, ok, err := d.Acquire(ctx, "one more"); ok || !errors.Is(err, ErrBusy) {
		t.Fatalf("full deduper: acquired=%v err=%v, want ErrBusy", ok, err)
	}
	// Every key inside its TTL is still known: none was evicted.
	for i := 0; i < 100; i++ {
		if _, ok, err := d.Acquire(ctx, "k"+strconv.Itoa(i)); ok || err != nil {
			t.Fatalf("key %d forgotten while live: %v %v", i, ok, err)
		}
	}
	now = now.Add(time.Hour + time.Second)
	if _, ok, err := d.Acquire(ctx, "one more"); !ok || err != nil {
		t.Fatalf("after expiry: %v %v", ok, err)
	}
	if n := d.Len(); n != 1 {
		t.Fatalf("%d entries after expiry, want 1", n)
	}
}

// After a flood has come and gone, the map is rebuilt at its live size.
func TestExpiringMapShrinks(t *testing.T) {
	m := newExpiringMap(1<<20, time.Second, func(e dedupEntry) int64 { return e.expires })
	now := time.Unix(1000, 0)
	h := newKeyHasher()
	for i := 0; i < 50000; i++ {
		m.put(h.hash(strconv.Itoa(i)), dedupEntry{expires: now.UnixNano()})
	}
	m.put(h.hash("live"), dedupEntry{expires: now.Add(time.Hour).UnixNano()})
	if !m.room(now.Add(time.Minute), nil) || len(m.entries) != 1 || m.peak != 1 {
		t.Fatalf("after sweep: %d entries, peak %d", len(m.entries), m.peak)
	}
}

func TestMemoryNonceStore(t *testing.T) {
	now := time.Unix(1000, 0)
	s := NewMemoryNonceStoreSize(2)
	s.now = func() time.Time { return now }
	ctx := context.Background()
	exp := now.Add(time.Minute)
	claim := func(key, digest string) (bool, error) { return s.Claim(ctx, key, digest, exp) }
	if ok, err := claim("1:a", "body1"); !ok || err != nil {
		t.Fatal("first claim refused", err)
	}
	if ok, _ := claim("1:a", "body1"); !ok {
		t.Fatal("the same request again was refused")
	}
	if ok, _ := claim("1:a", "body2"); ok {
		t.Fatal("another body with a used nonce was accepted")
	}
	claim("1:b", "x")
	if _, err := claim("1:c", "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("full store: %v, want ErrBusy", err)
	}
	now = exp.Add(time.Second)
	if ok, err := claim("1:a", "body2"); !ok || err != nil {
		t.Fatal("an expired pair is still held", err)
	}
}
