package deliver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxgate/wxgate/gateway/deliver"
	"github.com/wxgate/wxgate/gateway/webhook"
)

var (
	secretNew = []byte("whsec_current_0123456789")
	secretOld = []byte("whsec_previous_9876543210")
)

// receiver is a webhook endpoint that checks every request against the
// contract and records what it saw.
type receiver struct {
	srv *httptest.Server
	// answer writes the response to the nth request (from 1) and reports
	// whether it was a 2xx. Default: 200 "ok".
	answer func(n int64, w http.ResponseWriter, r *http.Request) bool

	n           atomic.Int64
	inflight    atomic.Int64
	maxInflight atomic.Int64

	mu       sync.Mutex
	attempts map[string][]int // Wxgate-Attempt values per id, in arrival order
	oks      map[string]int   // 2xx answers per id
	problems []string
}

func newReceiver(t *testing.T, answer func(n int64, w http.ResponseWriter, r *http.Request) bool) *receiver {
	rc := &receiver{answer: answer, attempts: map[string][]int{}, oks: map[string]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	t.Cleanup(func() {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		for _, p := range rc.problems {
			t.Error(p)
		}
	})
	return rc
}

func (rc *receiver) problem(format string, args ...any) {
	rc.mu.Lock()
	rc.problems = append(rc.problems, fmt.Sprintf(format, args...))
	rc.mu.Unlock()
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	n := rc.n.Add(1)
	in := rc.inflight.Add(1)
	defer rc.inflight.Add(-1)
	for m := rc.maxInflight.Load(); in > m && !rc.maxInflight.CompareAndSwap(m, in); m = rc.maxInflight.Load() {
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		rc.problem("reading the body: %v", err)
	}
	id := r.Header.Get(webhook.HeaderID)
	attempt, err := strconv.Atoi(r.Header.Get(webhook.HeaderAttempt))
	if err != nil || attempt < 1 {
		rc.problem("%s: bad Wxgate-Attempt %q", id, r.Header.Get(webhook.HeaderAttempt))
	}
	var ev webhook.Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != id || id == "" {
		rc.problem("body id %q, header id %q (%v)", ev.ID, id, err)
	}
	if !bytes.Equal(body, payloadFor(id)) {
		rc.problem("%s: body is not the stored payload: %s", id, body)
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(r.Header.Get("User-Agent"), "wxgate/") {
		rc.problem("%s: method %s, Content-Type %q, User-Agent %q", id, r.Method, r.Header.Get("Content-Type"), r.Header.Get("User-Agent"))
	}
	sig := r.Header.Get(webhook.HeaderSignature)
	for _, s := range [][]byte{secretNew, secretOld} {
		if err := webhook.Verify(body, sig, s, 0, time.Now()); err != nil {
			rc.problem("%s: signature with %s: %v", id, s[:12], err)
		}
	}
	if !strings.HasPrefix(sig, "t=") || strings.Count(sig, "v1=") != 2 {
		rc.problem("%s: signature header %q", id, sig)
	}
	rc.mu.Lock()
	rc.attempts[id] = append(rc.attempts[id], attempt)
	rc.mu.Unlock()
	ok := true
	if rc.answer != nil {
		ok = rc.answer(n, w, r)
	} else {
		_, _ = io.WriteString(w, "ok")
	}
	if ok {
		rc.mu.Lock()
		rc.oks[id]++
		rc.mu.Unlock()
	}
}

func (rc *receiver) seen(id string) []int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]int(nil), rc.attempts[id]...)
}

func (rc *receiver) delivered(id string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.oks[id]
}

func newHook(t *testing.T, name, url string, timeout time.Duration) *deliver.Webhook {
	t.Helper()
	w, err := deliver.NewWebhook(deliver.WebhookConfig{Name: name, URL: url, Secrets: [][]byte{secretNew, secretOld}, Timeout: timeout, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// fast are options with tiny backoffs and polls for tests.
func fast(o deliver.Options) deliver.Options {
	if o.InitialBackoff == 0 {
		o.InitialBackoff = time.Millisecond
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 4 * time.Millisecond
	}
	if o.PollInterval == 0 {
		o.PollInterval = 5 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// run starts e and returns a stop that cancels it and returns Run's error;
// the test's cleanup stops it too.
func run(t *testing.T, e *deliver.Engine) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
