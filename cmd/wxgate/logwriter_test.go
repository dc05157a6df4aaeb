package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestBufferedLogFlushes(t *testing.T) {
	out := &lockedBuffer{}
	b := newBufferedLog(out, 10*time.Millisecond)
	b.Write([]byte("line one\n"))
	if out.String() != "" {
		t.Fatal("written through without buffering")
	}
	// The ticker flushes without any further write.
	deadline := time.Now().Add(5 * time.Second)
	for out.String() == "" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if out.String() != "line one\n" {
		t.Fatalf("not flushed by the ticker: %q", out.String())
	}
	b.Write([]byte("line two\n"))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "line two\n") {
		t.Fatalf("Close did not flush: %q", out.String())
	}
}
