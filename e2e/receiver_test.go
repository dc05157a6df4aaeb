package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxgate/wxgate/gateway/webhook"
)

// receivedAtRE is the contract's received_at: RFC 3339, UTC, milliseconds.
var receivedAtRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// hookCall is one webhook request as the receiver saw it.
type hookCall struct {
	ID      string // Wxgate-Id
	Attempt int    // Wxgate-Attempt
	Replica string // the URL's replica parameter, if any
	Key     string // the message's key (see messageKey)
	Event   webhook.Event
}

// answerFunc decides the receiver's answer to a call: a status and how
// long to wait before giving it.
type answerFunc func(c *hookCall) (status int, delay time.Duration)

// receiver is the team's webhook endpoint: it checks every call against
// the contract (signature, headers, body), records it and answers as told.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret []byte
	answer atomic.Pointer[answerFunc]

	mu        sync.Mutex
	delivered map[string]int             // id -> calls answered 2xx
	attempts  map[string][]int           // id -> Wxgate-Attempt of every call, in arrival order
	idsOf     map[string]map[string]bool // message key -> ids it came under
	replicaOf map[string]map[string]bool // replica -> ids it delivered (2xx)
	events    map[string]webhook.Event   // id -> its last body
	calls     int
	problems  []string
}

// newReceiver starts a receiver on 127.0.0.1 that answers 200 at once
// until told otherwise. Contract violations fail the test at its end.
func newReceiver(t *testing.T, secret string) *receiver {
	r := &receiver{t: t, secret: []byte(secret),
		delivered: map[string]int{}, attempts: map[string][]int{}, idsOf: map[string]map[string]bool{},
		replicaOf: map[string]map[string]bool{}, events: map[string]webhook.Event{}}
	r.setAnswer(func(*hookCall) (int, time.Duration) { return http.StatusOK, 0 })
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() {
		r.srv.CloseClientConnections()
		r.srv.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, p := range r.problems {
			t.Errorf("webhook receiver: %s", p)
		}
	})
	return r
}

// url is the receiver's URL for path (with its query).
func (r *receiver) url(path string) string { return r.srv.URL + path }

func (r *receiver) setAnswer(f answerFunc) { r.answer.Store(&f) }

func (r *receiver) problem(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.problems) < 20 {
		r.problems = append(r.problems, fmt.Sprintf(format, args...))
	}
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		return // the gateway gave up
	}
	if req.Method != http.MethodPost {
		r.problem("%s %s: want POST", req.Method, req.URL.Path)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if ct := req.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		r.problem("Content-Type %q, want application/json", ct)
	}
	if err := webhook.Verify(body, req.Header.Get(webhook.HeaderSignature), r.secret, webhook.DefaultTolerance, time.Now()); err != nil {
		r.problem("signature of a delivery does not verify: %v", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	c := &hookCall{ID: req.Header.Get(webhook.HeaderID), Replica: req.URL.Query().Get("replica")}
	if c.Attempt, err = strconv.Atoi(req.Header.Get(webhook.HeaderAttempt)); err != nil || c.Attempt < 1 {
		r.problem("Wxgate-Attempt %q is not a positive integer", req.Header.Get(webhook.HeaderAttempt))
	}
	if err := json.Unmarshal(body, &c.Event); err != nil {
		r.problem("body is not the contract's JSON: %v", err)
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if c.Event.ID != c.ID || c.ID == "" {
		r.problem("body id %q differs from Wxgate-Id %q", c.Event.ID, c.ID)
	}
	if !receivedAtRE.MatchString(c.Event.ReceivedAt) {
		r.problem("received_at %q is not RFC 3339 UTC with milliseconds", c.Event.ReceivedAt)
	}
	if c.Key, err = messageKey(c.Event.Message); err != nil {
		r.problem("message of %s: %v", c.ID, err)
	}

	status, delay := (*r.answer.Load())(c)
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-req.Context().Done():
			r.record(c, 0)
			return // the gateway timed out: not delivered
		}
	}
	r.record(c, status)
	w.WriteHeader(status)
}

// record notes call c, answered status (0: not answered).
func (r *receiver) record(c *hookCall, status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	r.attempts[c.ID] = append(r.attempts[c.ID], c.Attempt)
	if r.idsOf[c.Key] == nil {
		r.idsOf[c.Key] = map[string]bool{}
	}
	r.idsOf[c.Key][c.ID] = true
	r.events[c.ID] = c.Event
	if status >= 200 && status < 300 {
		r.delivered[c.ID]++
		if r.replicaOf[c.Replica] == nil {
			r.replicaOf[c.Replica] = map[string]bool{}
		}
		r.replicaOf[c.Replica][c.ID] = true
	}
}

// deliveredKeys counts the keys among keys that have at least one call
// answered 2xx, and returns up to five that have none.
func (r *receiver) deliveredKeys(keys []string) (n int, missing []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range keys {
		ok := false
		for id := range r.idsOf[k] {
			if r.delivered[id] > 0 {
				ok = true
				break
			}
		}
		if ok {
			n++
		} else if len(missing) < 5 {
			missing = append(missing, k)
		}
	}
	return n, missing
}

// waitDelivered waits (bounded) until every key was delivered.
func (r *receiver) waitDelivered(keys []string, timeout time.Duration) {
	r.t.Helper()
	waitFor(r.t, timeout, func() bool { n, _ := r.deliveredKeys(keys); return n == len(keys) }, func() string {
		n, missing := r.deliveredKeys(keys)
		return fmt.Sprintf("the webhook got %d of %d messages; missing e.g. %v", n, len(keys), missing)
	})
}

// idsOfKey returns the ids a message came under, sorted.
func (r *receiver) idsOfKey(key string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for id := range r.idsOf[key] {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// attemptsOf returns the Wxgate-Attempt of every call of id.
func (r *receiver) attemptsOf(id string) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.attempts[id]...)
}

func (r *receiver) deliveredCount(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.delivered[id]
}

func (r *receiver) event(id string) (webhook.Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.events[id]
	return e, ok
}

// messageKey identifies a push independently of the gateway's id: its
// MsgId when it has one, else its sender, time and event.
func messageKey(msg json.RawMessage) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.UseNumber() // MsgId is a 64-bit integer
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return "", err
	}
	if id, ok := m["MsgId"]; ok {
		return "msg:" + fmt.Sprint(id), nil
	}
	return fmt.Sprintf("event:%v|%v|%v", m["FromUserName"], m["CreateTime"], m["Event"]), nil
}

// storedMessage is a message as GET /v1/messages lists it.
type storedMessage struct {
	ID         string          `json:"id"`
	App        string          `json:"app"`
	AppID      string          `json:"appid"`
	OpenID     string          `json:"openid"`
	MsgType    string          `json:"msg_type"`
	Event      string          `json:"event"`
	CreateTime int64           `json:"create_time"`
	ReceivedAt string          `json:"received_at"`
	Format     string          `json:"format"`
	Mode       string          `json:"mode"`
	Message    json.RawMessage `json:"message"`
}

// listStored pages through GET /v1/messages (bounded) and returns every
// stored message.
func listStored(t *testing.T, base, token string) []storedMessage {
	t.Helper()
	var all []storedMessage
	cursor := ""
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatalf("GET /v1/messages: more than 1000 pages")
		}
		q := url.Values{"limit": {"1000"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		status, body, err := adminCall(ctx, http.MethodGet, base, "/v1/messages?"+q.Encode(), token, nil)
		cancel()
		if err != nil || status != http.StatusOK {
			t.Fatalf("GET /v1/messages: %d %v %s", status, err, body)
		}
		var out struct {
			Messages   []storedMessage `json:"messages"`
			NextCursor string          `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("GET /v1/messages: %v", err)
		}
		all = append(all, out.Messages...)
		if out.NextCursor == "" {
			return all
		}
		if len(out.Messages) == 0 {
			t.Fatalf("GET /v1/messages: an empty page with a next cursor")
		}
		cursor = out.NextCursor
	}
}

// storedByKey groups stored messages by message key.
func storedByKey(t *testing.T, msgs []storedMessage) map[string][]storedMessage {
	t.Helper()
	by := map[string][]storedMessage{}
	for _, m := range msgs {
		k, err := messageKey(m.Message)
		if err != nil {
			t.Fatalf("stored message %s: %v", m.ID, err)
		}
		by[k] = append(by[k], m)
	}
	return by
}

// checkStoredOnceAndStable asserts that each key in keys is stored
// exactly once, that nothing else is stored, and that the webhook got
// each under its stored id and no other.
func checkStoredOnceAndStable(t *testing.T, rec *receiver, stored []storedMessage, keys []string) {
	t.Helper()
	by := storedByKey(t, stored)
	want := map[string]bool{}
	bad := 0
	for _, k := range keys {
		want[k] = true
		ms := by[k]
		if len(ms) != 1 {
			if bad++; bad <= 10 {
				t.Errorf("%s is stored %d times, want once", k, len(ms))
			}
			continue
		}
		if ids := rec.idsOfKey(k); len(ids) != 1 || ids[0] != ms[0].ID {
			if bad++; bad <= 10 {
				t.Errorf("%s: stored as %s, delivered as %v", k, ms[0].ID, ids)
			}
		}
	}
	for k, ms := range by {
		if !want[k] {
			t.Errorf("%s is stored (%d times) but was never pushed", k, len(ms))
		}
	}
	if len(stored) != len(keys) {
		t.Errorf("%d messages stored, want %d", len(stored), len(keys))
	}
}
