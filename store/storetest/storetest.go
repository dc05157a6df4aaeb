// Package storetest is the test suite every store backend passes: Run it
// from the backend's tests with a function that makes a fresh database.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxgate/wxgate/store"
)

// Opener opens a Store on the database of one test. Every call opens
// another handle on the same database: two open handles are two replicas,
// and Close followed by another call is a restart.
type Opener func(opts store.Options) (store.Store, error)

// Run runs the suite. newDB makes a fresh, empty database for one subtest
// (and removes it when the subtest ends) and returns its Opener.
func Run(t *testing.T, newDB func(t *testing.T) Opener) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, db Opener)
	}{
		{"StoreAndGet", testStoreAndGet},
		{"Duplicate", testDuplicate},
		{"AppsAreSeparate", testAppsAreSeparate},
		{"Nonces", testNonces},
		{"NonceClock", testNonceClock},
		{"OneBatchMixed", testOneBatchMixed},
		{"SetReply", testSetReply},
		{"Restart", testRestart},
		{"ConcurrentSamePush", testConcurrentSamePush},
		{"ConcurrentDistinct", testConcurrentDistinct},
		{"Paging", testPaging},
		{"NotFound", testNotFound},
		{"BadCursor", testBadCursor},
		{"BadFilter", testBadFilter},
		{"BadInput", testBadInput},
		{"BadOptions", testBadOptions},
		{"ContextCanceledBefore", testContextCanceledBefore},
		{"ContextEndsDuringCommit", testContextEndsDuringCommit},
		{"HookError", testHookError},
		{"HookPanic", testHookPanic},
		{"HookTransaction", testHookTransaction},
		{"ExtraMigrations", testExtraMigrations},
		{"DeleteExpiredNonces", testDeleteExpiredNonces},
		{"DeleteMessagesBefore", testDeleteMessagesBefore},
		{"OnBatch", testOnBatch},
		{"Closed", testClosed},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newDB(t)) })
	}
	for _, tc := range deliveryTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newDB(t)) })
	}
}

// open opens a store and closes it when the test ends.
func open(t *testing.T, db Opener, opts store.Options) store.Store {
	t.Helper()
	s, err := db(opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var base = time.Date(2026, 11, 29, 8, 0, 0, 123456789, time.UTC)

// msg returns a complete message with dedup key key in app.
func msg(app, key string) store.NewMessage {
	return store.NewMessage{
		App: app, AppID: "wx0123456789abcdef", OpenID: "oUser-" + key, MsgType: "text",
		CreateTime: 1764403200, ReceivedAt: base, DedupKey: key, Format: "xml", Mode: "safe",
		Raw:     []byte("<xml><MsgId>" + key + "</MsgId></xml>"),
		Payload: []byte(`{"id":"x","message":{"Content":"hi"}}`),
	}
}

func appendOne(t *testing.T, s store.Store, m store.NewMessage) store.AppendResult {
	t.Helper()
	res, err := s.Append(context.Background(), []store.NewMessage{m})
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if len(res) != 1 {
		t.Fatalf("Append returned %d results for 1 message", len(res))
	}
	return res[0]
}

func wantStatus(t *testing.T, got store.AppendResult, want store.Status) {
	t.Helper()
	if got.Status != want {
		t.Fatalf("status %v, want %v", got.Status, want)
	}
}

func count(t *testing.T, s store.Store, f store.Filter) int {
	t.Helper()
	n, cursor := 0, ""
	f.Limit = store.MaxListLimit
	for {
		page, next, err := s.List(context.Background(), f, cursor)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		n += len(page)
		if next == "" {
			return n
		}
		cursor = next
	}
}

func testStoreAndGet(t *testing.T, db Opener) {
	s := open(t, db, store.Options{})
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	raw := make([]byte, 0, 600)
	for i := range 512 { // every byte value, NULs and invalid UTF-8 included
		raw = append(raw, byte(i))
	}
	raw = append(raw, `<MsgId>9223372036854775807</MsgId>`...)
	m := msg("default", "msg:9223372036854775807")
	m.Raw = raw
	m.Payload = []byte(`{"message":{"MsgId":9223372036854775807,"CreateTime":18446744073709551615}}`)
	m.CreateTime = math.MaxInt64
	m.Event = "user_enter_tempsession"
	m.Reply = []byte{0, 1, 2, 0xff}
	r := appendOne(t, s, m)
	wantStatus(t, r, store.Stored)
	if want := store.MessageID(m.App, m.DedupKey); r.ID != want || !store.ValidID(r.ID) {
		t.Fatalf("ID %q, want %q", r.ID, want)
	}
	got, err := s.Get(context.Background(), r.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	want := store.Message{
		ID: r.ID, App: m.App, AppID: m.AppID, OpenID: m.OpenID, MsgType: m.MsgType, Event: m.Event,
		CreateTime: m.CreateTime, ReceivedAt: base.Truncate(time.Microsecond), DedupKey: m.DedupKey,
		Format: m.Format, Mode: m.Mode, Raw: raw, Payload: m.Payload, Reply: m.Reply,
	}
	if diff := diffMessage(*got, want); diff != "" {
		t.Fatalf("Get: %s", diff)
	}
	if got.ReceivedAt.Location() != time.UTC {
		t.Fatalf("ReceivedAt in %v, want UTC", got.ReceivedAt.Location())
	}

	// Negative times and numbers, no payload, no reply.
	m2 := msg("default", "evt:o:1:subscribe")
	m2.CreateTime = math.MinInt64
	m2.ReceivedAt = time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.FixedZone("CST", 8*3600))
	m2.Payload, m2.Reply = nil, nil
	r2 := appendOne(t, s, m2)
	wantStatus(t, r2, store.Stored)
	got2, err := s.Get(context.Background(), r2.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got2.CreateTime != math.MinInt64 || !got2.ReceivedAt.Equal(m2.ReceivedAt) || got2.Payload != nil || got2.Reply != nil {
		t.Fatalf("Get: %+v", got2)
	}

	// A zero ReceivedAt means now.
	m3 := msg("default", "now")
	m3.ReceivedAt = time.Time{}
	before := time.Now().Add(-time.Second)
	r3 := appendOne(t, s, m3)
	got3, err := s.Get(context.Background(), r3.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got3.ReceivedAt.Before(before) || got3.ReceivedAt.After(time.Now().Add(time.Second)) {
		t.Fatalf("zero ReceivedAt stored as %v", got3.ReceivedAt)
	}
}

func diffMessage(got, want store.Message) string {
	var d []string
	check := func(name string, ok bool) {
		if !ok {
			d = append(d, name)
		}
	}
	check("ID", got.ID == want.ID)
	check("App", got.App == want.App)
	check("AppID", got.AppID == want.AppID)
	check("OpenID", got.OpenID == want.OpenID)
	check("MsgType", got.MsgType == want.MsgType)
	check("Event", got.Event == want.Event)
	check("CreateTime", got.CreateTime == want.CreateTime)
	check("ReceivedAt", got.ReceivedAt.Equal(want.ReceivedAt))
	check("DedupKey", got.DedupKey == want.DedupKey)
	check("Format", got.Format == want.Format)
	check("Mode", got.Mode == want.Mode)
	check("Raw", bytes.Equal(got.Raw, want.Raw))
	check("Payload", bytes.Equal(got.Payload, want.Payload) && (got.Payload == nil) == (want.Payload == nil))
	check("Reply", bytes.Equal(got.Reply, want.Reply) && (got.Reply == nil) == (want.Reply == nil))
	if len(d) == 0 {
		return ""
	}
	return "fields differ: " + strings.Join(d, ", ")
}

func testDuplicate(t *testing.T, db Opener) {
	s := open(t, db, store.Options{})
	m := msg("default", "msg:1")
	m.Reply = []byte("<xml>transfer</xml>")
	first := appendOne(t, s, m)
	wantStatus(t, first, store.Stored)
	if first.Reply != nil {
		t.Fatalf("Stored result carries a reply")
	}
	retry := m
	retry.Raw = []byte("<xml>other body</xml>")
	retry.Reply = []byte("other reply")
	retry.ReceivedAt = base.Add(time.Second)
	dup := appendOne(t, s, retry)
	wantStatus(t, dup, store.Duplicate)
	if dup.ID != first.ID || string(dup.Reply) != "<xml>transfer</xml>" {
		t.Fatalf("duplicate %q reply %q, want %q and the stored reply", dup.ID, dup.Reply, first.ID)
	}
	got, err := s.Get(context.Background(), first.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if string(got.Raw) != string(m.Raw) || !got.ReceivedAt.Equal(base.Truncate(time.Microsecond)) {
		t.Fatalf("the duplicate changed the stored message")
	}
	if n := count(t, s, store.Filter{}); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}

	// Without a stored reply, a duplicate's reply is nil.
	appendOne(t, s, msg("default", "msg:2"))
	if r := appendOne(t, s, msg("default", "msg:2")); r.Status != store.Duplicate || r.Reply != nil {
		t.Fatalf("duplicate %+v, want no reply", r)
	}
}

func testAppsAreSeparate(t *testing.T, db Opener) {
	s := open(t, db, store.Options{})
	a := appendOne(t, s, msg("app-a", "msg:1"))
	b := appendOne(t, s, msg("app-b", "msg:1"))
	wantStatus(t, a, store.Stored)
	wantStatus(t, b, store.Stored)
	if a.ID == b.ID {
		t.Fatalf("two apps got one id")
	}
	// A separator, not a concatenation: ("ab", "c") is not ("a", "bc").
	if store.MessageID("ab", "c") == store.MessageID("a", "bc") {
		t.Fatalf("MessageID is ambiguous")
	}
}

func withNonce(m store.NewMessage, key, digest string, expires time.Time) store.NewMessage {
	m.NonceKey, m.NonceDigest, m.NonceExpires = key, digest, expires
	return m
}

func testNonces(t *testing.T, db Opener) {
	s := open(t, db, store.Options{})
	later := time.Now().Add(time.Hour)
	first := appendOne(t, s, withNonce(msg("default", "msg:1"), "1764403200:n1", "sig-a", later))
	wantStatus(t, first, store.Stored)

	// Same nonce, another digest, another message: a replay, nothing stored.
	m2 := withNonce(msg("default", "msg:2"), "1764403200:n1", "sig-b", later)
	wantStatus(t, appendOne(t, s, m2), store.Replay)
	if _, err := s.Get(context.Background(), store.MessageID("default", "msg:2")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a replay was stored: %v", err)
	}
	// Even with the stored message's own dedup key, another digest is a replay.
	r := appendOne(t, s, withNonce(msg("default", "msg:1"), "1764403200:n1", "sig-b", later))
	if r.Status != store.Replay || r.ID != "" {
		t.Fatalf("got %+v, want a replay without id", r)
	}

	// Same nonce, same digest: a retransmission, which goes on to the dedup.
	wantStatus(t, appendOne(t, s, withNonce(msg("default", "msg:1"), "1764403200:n1", "sig-a", later)), store.Duplicate)
	wantStatus(t, appendOne(t, s, withNonce(msg("default", "msg:3"), "1764403200:n1", "sig-a", later)), store.Stored)

	// An expired nonce is free again, with a new digest.
	past := time.Now().Add(-time.Hour)
	wantStatus(t, appendOne(t, s, withNonce(msg("default", "msg:4"), "old:n2", "sig-a", past)), store.Stored)
	wantStatus(t, appendOne(t, s, withNonce(msg("default", "msg:5"), "old:n2", "sig-b", later)), store.Stored)
	wantStatus(t, appendOne(t, s, withNonce(msg("default", "msg:6"), "old:n2", "sig-a", later)), store.Replay)
	if n := count(t, s, store.Filter{}); n != 4 {
		t.Fatalf("%d messages stored, want 4", n)
	}
}

func testNonceClock(t *testing.T, db Opener) {
	var now atomic.Int64
	now.Store(base.UnixNano())
	s := open(t, db, store.Options{Now: func() time.Time { return time.Unix(0, now.Load()) }})
	expires := base.Add(5 * time.Minute)
	wantStatus(t, appendOne(t, s, withNonce(msg("default", "a"), "k", "d1", expires)), store.Stored)
	now.Store(expires.Add(-time.Microsecond).UnixNano())
	wantStatus(t, appendOne(t, s, withNonce(msg("default", "b"), "k", "d2", expires.Add(time.Hour))), store.Replay)
	now.Store(expires.UnixNano())
	wantStatus(t, appendOne(t, s, withNonce(msg("default", "b"), "k", "d2", expires.Add(time.Hour))), store.Stored)
}

func testOneBatchMixed(t *testing.T, db Opener) {
	s := open(t, db, store.Options{})
	later := time.Now().Add(time.Hour)
	a := msg("default", "msg:a")
	a.Reply = []byte("reply-a")
	a2 := a
	a2.Raw = []byte("<xml>retry</xml>")
	msgs := []store.NewMessage{
		a,
		a2,
		withNonce(msg("default", "msg:b"), "n", "x", later),
		withNonce(msg("default", "msg:c"), "n", "y", later),
		withNonce(msg("default", "msg:d"), "n", "x", later),
		withNonce(msg("default", "msg:c"), "n2", "z", later),
	}
	res, err := s.Append(context.Background(), msgs)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	want := []store.Status{store.Stored, store.Duplicate, store.Stored, store.Replay, store.Stored, store.Stored}
	for i, r := range res {
		if r.Status != want[i] {
			t.Fatalf("result %d: %v, want %v", i, r.Status, want[i])
		}
	}
	if res[1].ID != res[0].ID || string(res[1].Reply) != "reply-a" {
		t.Fatalf("in-batch duplicate: %+v", res[1])
	}
	got, err := s.Get(context.Background(), res[0].ID)
	if err != nil || string(got.Raw) != string(a.Raw) {
		t.Fatalf("the first of two in one batch must be the stored one: %v", err)
	}
	if res[5].ID != store.MessageID("default", "msg:c") {
		t.Fatalf("a replayed key stored under another nonce: %+v", res[5])
	}
}

func testSetReply(t *testing.T, db Opener) {
	s := open(t, db, store.Options{})
	ctx := context.Background()
	r := appendOne(t, s, msg("default", "msg:1"))
	if err := s.SetReply(ctx, r.ID, []byte("later")); err != nil {
		t.Fatalf("SetReply: %v", err)
	}
	if d := appendOne(t, s, msg("default", "msg:1")); string(d.Reply) != "later" {
		t.Fatalf("duplicate reply %q, want the one set", d.Reply)
	}
	if err := s.SetReply(ctx, r.ID, nil); err != nil {
		t.Fatalf("SetReply nil: %v", err)
	}
	if d := appendOne(t, s, msg("default", "msg:1")); d.Reply != nil {
		t.Fatalf("duplicate reply %q, want none", d.Reply)
	}
	for _, id := range []string{store.MessageID("default", "nope"), "msg_", "junk"} {
		if err := s.SetReply(ctx, id, []byte("x")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("SetReply(%q) = %v, want ErrNotFound", id, err)
		}
	}
	if err := s.SetReply(ctx, r.ID, make([]byte, store.MaxBodySize+1)); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("oversize SetReply = %v, want ErrInvalid", err)
	}
}

func testRestart(t *testing.T, db Opener) {
	later := time.Now().Add(time.Hour)
	s1, err := db(store.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	m := withNonce(msg("default", "msg:1"), "ts:nonce", "sig", later)
	m.Reply = []byte("stored reply")
	first := appendOne(t, s1, m)
	wantStatus(t, first, store.Stored)
	if err := s1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s2 := open(t, db, store.Options{})
	dup := appendOne(t, s2, m)
	if dup.Status != store.Duplicate || dup.ID != first.ID || string(dup.Reply) != "stored reply" {
		t.Fatalf("after a restart: %+v, want the duplicate of %q", dup, first.ID)
	}
	wantStatus(t, appendOne(t, s2, withNonce(msg("default", "msg:2"), "ts:nonce", "other", later)), store.Replay)
	if _, err := s2.Get(context.Background(), first.ID); err != nil {
		t.Fatalf("Get after a restart: %v", err)
	}
}

func testConcurrentSamePush(t *testing.T, db Opener) {
	// Two handles on one database: two replicas.
	replicas := []store.Store{open(t, db, store.Options{}), open(t, db, store.Options{})}
	later := time.Now().Add(time.Hour)
	const n = 64
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([]store.AppendResult, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := replicas[i%2]
			<-start
			batch := []store.NewMessage{withNonce(msg("default", "msg:same"), "ts:same", "sig", later)}
			if i%4 == 0 { // share the batch with other, distinct pushes
				batch = append(batch, msg("default", fmt.Sprintf("msg:other:%d", i)))
			}
			res, err := s.Append(context.Background(), batch)
			if err == nil {
				results[i] = res[0]
			}
			errs[i] = err
		}()
	}
	close(start)
	wg.Wait()
	stored := 0
	want := store.MessageID("default", "msg:same")
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Append %d: %v", i, errs[i])
		}
		switch results[i].Status {
		case store.Stored:
			stored++
		case store.Duplicate:
		default:
			t.Fatalf("Append %d: %v", i, results[i].Status)
		}
		if results[i].ID != want {
			t.Fatalf("Append %d: id %q, want %q", i, results[i].ID, want)
		}
	}
	if stored != 1 {
		t.Fatalf("stored %d times, want once", stored)
	}
	for _, s := range replicas {
		if c := count(t, s, store.Filter{OpenID: "oUser-msg:same"}); c != 1 {
			t.Fatalf("%d rows for the push, want 1", c)
		}
		if c := count(t, s, store.Filter{}); c != 1+n/4 {
			t.Fatalf("%d rows, want %d", c, 1+n/4)
		}
	}
}

func testConcurrentDistinct(t *testing.T, db Opener) {
	s := open(t, db, store.Options{MaxBatch: 16})
	const n = 300
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := withNonce(msg("default", fmt.Sprintf("msg:%d", i)), fmt.Sprintf("n:%d", i), "d", time.Now().Add(time.Hour))
			res, err := s.Append(context.Background(), []store.NewMessage{m})
			if err != nil || res[0].Status != store.Stored || res[0].ID != store.MessageID("default", m.DedupKey) {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f != 0 {
		t.Fatalf("%d of %d distinct pushes were not stored", f, n)
	}
	if c := count(t, s, store.Filter{}); c != n {
		t.Fatalf("%d rows, want %d", c, n)
	}
}

func testPaging(t *testing.T, db Opener) {
	s := open(t, db, store.Options{})
	const n = 230
	var all []store.NewMessage
	for i := range n {
		m := msg([]string{"a", "b"}[i%2], fmt.Sprintf("k%03d", i))
		m.OpenID = []string{"o1", "o2", "o3"}[i%3]
		if i%5 == 0 {
			m.MsgType, m.Event = "event", []string{"subscribe", "user_enter_tempsession"}[i%2]
		}
		m.ReceivedAt = base.Add(time.Duration(i/4) * time.Millisecond) // ties of four
		all = append(all, m)
	}
	for i := 0; i < n; i += 50 {
		if _, err := s.Append(context.Background(), all[i:min(i+50, n)]); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	since, until := base.Add(10*time.Millisecond), base.Add(40*time.Millisecond)
	for _, f := range []store.Filter{
		{},
		{App: "a"},
		{OpenID: "o2"},
		{App: "b", OpenID: "o3"},
		{MsgType: "event"},
		{Event: "subscribe"},
		{App: "a", MsgType: "text"},
		{Since: since},
		{Until: until},
		{Since: since, Until: until, App: "b"},
		{App: "none"},
	} {
		var want []string
		for _, m := range all {
			if (f.App == "" || m.App == f.App) && (f.OpenID == "" || m.OpenID == f.OpenID) &&
				(f.MsgType == "" || m.MsgType == f.MsgType) && (f.Event == "" || m.Event == f.Event) &&
				(f.Since.IsZero() || !us(m.ReceivedAt).Before(us(f.Since))) &&
				(f.Until.IsZero() || us(m.ReceivedAt).Before(us(f.Until))) {
				want = append(want, store.MessageID(m.App, m.DedupKey))
			}
		}
		at := map[string]time.Time{}
		for _, m := range all {
			at[store.MessageID(m.App, m.DedupKey)] = m.ReceivedAt
		}
		slices.SortFunc(want, func(x, y string) int {
			if c := at[y].Compare(at[x]); c != 0 {
				return c
			}
			return strings.Compare(y, x)
		})
		for _, limit := range []int{7, 1000} {
			f.Limit = limit
			var got []string
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > n {
					t.Fatalf("filter %+v: paging does not end", f)
				}
				page, next, err := s.List(context.Background(), f, cursor)
				if err != nil {
					t.Fatalf("List %+v: %v", f, err)
				}
				if len(page) > limit || (next != "" && len(page) != limit) {
					t.Fatalf("filter %+v: page of %d with next %q", f, len(page), next)
				}
				for _, m := range page {
					got = append(got, m.ID)
					if len(m.Raw) == 0 || m.App == "" {
						t.Fatalf("listed message without its fields")
					}
				}
				if next == "" {
					break
				}
				cursor = next
			}
			if !slices.Equal(got, want) {
				t.Fatalf("filter %+v limit %d: got %d ids, want %d in order", f, limit, len(got), len(want))
			}
		}
	}
	page, next, err := s.List(context.Background(), store.Filter{}, "")
	if err != nil || len(page) != store.DefaultListLimit || next == "" {
		t.Fatalf("default limit: %d rows, next %q, %v", len(page), next, err)
	}
}

// us is t to the microsecond, as the stores keep it.
func us(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

func testNotFound(t *testing.T, db Opener) {
	s := open(t, db, store.Options{})
	for _, id := range []string{store.MessageID("default", "missing"), "", "msg_x", strings.Repeat("a", 10000), "msg_'; DROP TABLE messages; --"} {
		if m, err := s.Get(context.Background(), id); !errors.Is(err, store.ErrNotFound) || m != nil {
			t.Fatalf("Get(%q) = %v, %v; want ErrNotFound", id, m, err)
		}
	}
}

func testBadCursor(t *testing.T, db Opener) {
	s := open(t, db, store.Options{})
	for i := range 3 {
		m := msg("default", fmt.Sprint(i))
		m.ReceivedAt = base.Add(time.Duration(i) * time.Second)
		appendOne(t, s, m)
	}
	_, good, err := s.List(context.Background(), store.Filter{Limit: 1}, "")
	if err != nil || good == "" {
		t.Fatalf("List: %q %v", good, err)
	}
	tampered := []byte(good) // another version byte
	tampered[0] = 'B'
	for _, c := range []string{"x", "!!!", "AQ", good[:len(good)-2], good + "A", string(tampered), strings.Repeat("A", 5000), "msg_" + store.MessageID("a", "b")} {
		if _, _, err := s.List(context.Background(), store.Filter{}, c); !errors.Is(err, store.ErrInvalidCursor) {
			t.Fatalf("List with cursor %q: %v, want ErrInvalidCursor", c, err)
		}
	}
}

func testBadFilter(t *testing.T, db Opener) {
	s := open(t, db, store.Options{})
	for _, f := range []store.Filter{
		{Limit: -1},
		{Limit: store.MaxListLimit + 1},
		{Since: base, Until: base},
		{App: "a\x00b"},
		{OpenID: "\xff"},
	} {
		if _, _, err := s.List(context.Background(), f, ""); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("List %+v: %v, want ErrInvalid", f, err)
		}
	}
}

func testBadInput(t *testing.T, db Opener) {
	s := open(t, db, store.Options{})
	const secret = "oSecretOpenID"
	for _, tc := range []struct {
		name string
		edit func(m *store.NewMessage)
	}{
		{"empty app", func(m *store.NewMessage) { m.App = "" }},
		{"empty dedup key", func(m *store.NewMessage) { m.DedupKey = "" }},
		{"empty raw", func(m *store.NewMessage) { m.Raw = nil }},
		{"long app", func(m *store.NewMessage) { m.App = strings.Repeat("a", store.MaxAppLen+1) }},
		{"long dedup key", func(m *store.NewMessage) { m.DedupKey = secret + strings.Repeat("k", store.MaxFieldLen) }},
		{"NUL in openid", func(m *store.NewMessage) { m.OpenID = secret + "\x00" }},
		{"invalid UTF-8 in event", func(m *store.NewMessage) { m.Event = secret + "\xc3\x28" }},
		{"oversize raw", func(m *store.NewMessage) { m.Raw = make([]byte, store.MaxBodySize+1) }},
		{"oversize payload", func(m *store.NewMessage) { m.Payload = make([]byte, store.MaxBodySize+1) }},
		{"oversize reply", func(m *store.NewMessage) { m.Reply = make([]byte, store.MaxBodySize+1) }},
		{"nonce without digest", func(m *store.NewMessage) { m.NonceKey, m.NonceExpires = "k", time.Now() }},
		{"nonce without expiry", func(m *store.NewMessage) { m.NonceKey, m.NonceDigest = "k", "d" }},
		{"digest without nonce", func(m *store.NewMessage) { m.NonceDigest = secret }},
	} {
		good := msg("default", "good")
		bad := msg("default", "bad")
		tc.edit(&bad)
		_, err := s.Append(context.Background(), []store.NewMessage{good, bad})
		if !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("%s: %v, want ErrInvalid", tc.name, err)
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("%s: the error shows the value: %v", tc.name, err)
		}
		if !strings.Contains(err.Error(), "message 1") {
			t.Fatalf("%s: the error does not say which message: %v", tc.name, err)
		}
	}
	if _, err := s.Append(context.Background(), make([]store.NewMessage, store.MaxAppendItems+1)); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("too many messages: %v, want ErrInvalid", err)
	}
	if n := count(t, s, store.Filter{}); n != 0 {
		t.Fatalf("a call with bad input stored %d messages", n)
	}
	res, err := s.Append(context.Background(), nil)
	if err != nil || len(res) != 0 {
		t.Fatalf("empty Append: %v, %v", res, err)
	}
}

func testBadOptions(t *testing.T, db Opener) {
	for _, o := range []store.Options{
		{MaxBatch: -1},
		{QueueSize: -1},
		{CommitTimeout: -time.Second},
		{Migrations: []store.Migration{{Component: "store", Version: 1, SQL: "SELECT 1"}}},
		{Migrations: []store.Migration{{Component: "x", Version: 0, SQL: "SELECT 1"}}},
		{Migrations: []store.Migration{{Component: "x", Version: 1, SQL: " "}}},
		{Migrations: []store.Migration{{Component: "x", Version: 1, SQL: "SELECT 1"}, {Component: "x", Version: 1, SQL: "SELECT 2"}}},
	} {
		s, err := db(o)
		if !errors.Is(err, store.ErrInvalid) {
			if s != nil {
				s.Close()
			}
			t.Fatalf("options %+v: %v, want ErrInvalid", o, err)
		}
	}
}

func testContextCanceledBefore(t *testing.T, db Opener) {
	s := open(t, db, store.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Append(ctx, []store.NewMessage{msg("default", "msg:1")}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with a canceled context: %v", err)
	}
	// A later Append is not held up, and the canceled one was never stored.
	wantStatus(t, appendOne(t, s, msg("default", "msg:1")), store.Stored)
}

// testContextEndsDuringCommit: the caller gives up while its batch commits.
// It gets its context's error, the batch still commits, and the retry is a
// duplicate.
func testContextEndsDuringCommit(t *testing.T, db Opener) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	s := open(t, db, store.Options{BeforeCommit: func(ctx context.Context, tx store.Tx, stored []store.StoredMessage) error {
		if stored[0].DedupKey == "msg:slow" {
			entered <- struct{}{}
			<-release
		}
		return nil
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.Append(ctx, []store.NewMessage{msg("default", "msg:slow")})
		done <- err
	}()
	<-entered
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Append: %v, want context.Canceled", err)
	}
	close(release)
	r := appendOne(t, s, msg("default", "msg:slow"))
	if r.Status != store.Duplicate || r.ID != store.MessageID("default", "msg:slow") {
		t.Fatalf("retry: %+v, want a duplicate", r)
	}

	// A deadline behaves the same: the caller gets DeadlineExceeded.
	release2 := make(chan struct{})
	s2 := open(t, db, store.Options{BeforeCommit: func(ctx context.Context, tx store.Tx, stored []store.StoredMessage) error {
		entered <- struct{}{}
		<-release2
		return nil
	}})
	dctx := newDeadlineContext()
	go func() {
		_, err := s2.Append(dctx, []store.NewMessage{msg("default", "msg:deadline")})
		done <- err
	}()
	<-entered
	dctx.expire()
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Append past its deadline: %v, want context.DeadlineExceeded", err)
	}
	close(release2)
	wantStatus(t, appendOne(t, s2, msg("default", "msg:other")), store.Stored)
	wantStatus(t, appendOne(t, s2, msg("default", "msg:deadline")), store.Duplicate)
}

// deadlineContext is a context whose deadline passes when the test says so.
type deadlineContext struct {
	context.Context
	done chan struct{}
	once sync.Once
}

func newDeadlineContext() *deadlineContext {
	return &deadlineContext{Context: context.Background(), done: make(chan struct{})}
}

func (c *deadlineContext) expire()               { c.once.Do(func() { close(c.done) }) }
func (c *deadlineContext) Done() <-chan struct{} { return c.done }
func (c *deadlineContext) Deadline() (time.Time, bool) {
	return time.Now().Add(time.Hour), true
}
func (c *deadlineContext) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

var errHook = errors.New("enqueue failed")

func testHookError(t *testing.T, db Opener) {
	later := time.Now().Add(time.Hour)
	s := open(t, db, store.Options{BeforeCommit: func(ctx context.Context, tx store.Tx, stored []store.StoredMessage) error {
		for _, m := range stored {
			if m.DedupKey == "msg:poison" {
				return errHook
			}
		}
		return nil
	}})
	batch := []store.NewMessage{
		withNonce(msg("default", "msg:1"), "n1", "d1", later),
		withNonce(msg("default", "msg:poison"), "n2", "d2", later),
	}
	if _, err := s.Append(context.Background(), batch); !errors.Is(err, errHook) {
		t.Fatalf("Append: %v, want the hook's error", err)
	}
	if n := count(t, s, store.Filter{}); n != 0 {
		t.Fatalf("%d messages stored by a failed batch", n)
	}
	// The nonces were rolled back too: another digest is no replay.
	wantStatus(t, appendOne(t, s, withNonce(msg("default", "msg:1"), "n1", "other", later)), store.Stored)
	wantStatus(t, appendOne(t, s, withNonce(msg("default", "msg:2"), "n2", "other", later)), store.Stored)
}

func testHookPanic(t *testing.T, db Opener) {
	s := open(t, db, store.Options{BeforeCommit: func(ctx context.Context, tx store.Tx, stored []store.StoredMessage) error {
		if stored[0].DedupKey == "msg:panic" {
			panic("boom")
		}
		return nil
	}})
	if _, err := s.Append(context.Background(), []store.NewMessage{msg("default", "msg:panic")}); err == nil {
		t.Fatalf("Append succeeded although the hook panicked")
	}
	if _, err := s.Get(context.Background(), store.MessageID("default", "msg:panic")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the panicking batch was stored: %v", err)
	}
	wantStatus(t, appendOne(t, s, msg("default", "msg:after")), store.Stored)
}

func testHookTransaction(t *testing.T, db Opener) {
	var calls atomic.Int32
	var seen []string
	var mu sync.Mutex
	s := open(t, db, store.Options{BeforeCommit: func(ctx context.Context, tx store.Tx, stored []store.StoredMessage) error {
		calls.Add(1)
		if tx.Handle() == nil || (tx.Dialect() != store.SQLite && tx.Dialect() != store.PostgreSQL) {
			return errors.New("no driver handle")
		}
		for _, m := range stored {
			// The rows are visible inside the transaction.
			n, err := tx.Exec(ctx, `UPDATE messages SET format = format WHERE id = $1`, m.ID)
			if err != nil {
				return err
			}
			if n != 1 || m.ID != store.MessageID(m.App, m.DedupKey) || len(m.Raw) == 0 {
				return fmt.Errorf("stored message %q: %d rows", m.ID, n)
			}
			mu.Lock()
			seen = append(seen, m.DedupKey)
			mu.Unlock()
		}
		return nil
	}})
	if s.Dialect() != store.SQLite && s.Dialect() != store.PostgreSQL {
		t.Fatalf("Dialect %q", s.Dialect())
	}
	later := time.Now().Add(time.Hour)
	appendOne(t, s, withNonce(msg("default", "a"), "n", "x", later))
	res, err := s.Append(context.Background(), []store.NewMessage{
		msg("default", "a"),                             // duplicate
		withNonce(msg("default", "b"), "n", "y", later), // replay
		msg("default", "c"),
		msg("default", "c"), // in-batch duplicate
	})
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if res[3].Status != store.Duplicate {
		t.Fatalf("results %+v", res)
	}
	if !slices.Equal(seen, []string{"a", "c"}) {
		t.Fatalf("the hook saw %q, want only the stored a and c", seen)
	}
	before := calls.Load()
	appendOne(t, s, msg("default", "a"))
	if calls.Load() != before {
		t.Fatalf("the hook ran for a batch that stored nothing")
	}
}

func testExtraMigrations(t *testing.T, db Opener) {
	extra := []store.Migration{
		{Component: "deliveries", Version: 2, Name: "second", SQL: `ALTER TABLE test_deliveries ADD COLUMN state text NOT NULL DEFAULT 'pending'`},
		{Component: "deliveries", Version: 1, Name: "first", SQL: `CREATE TABLE test_deliveries (message_id text NOT NULL)`},
	}
	var fail atomic.Bool
	hook := func(ctx context.Context, tx store.Tx, stored []store.StoredMessage) error {
		for _, m := range stored {
			if _, err := tx.Exec(ctx, `INSERT INTO test_deliveries (message_id) VALUES ($1)`, m.ID); err != nil {
				return err
			}
		}
		if fail.Load() {
			return errHook
		}
		return nil
	}
	s := open(t, db, store.Options{Migrations: extra, BeforeCommit: hook})
	appendOne(t, s, msg("default", "a"))
	fail.Store(true)
	if _, err := s.Append(context.Background(), []store.NewMessage{msg("default", "b")}); !errors.Is(err, errHook) {
		t.Fatalf("Append: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Reopening applies nothing twice (the CREATE TABLE would fail).
	fail.Store(false)
	var rows int64
	s2 := open(t, db, store.Options{Migrations: extra, BeforeCommit: func(ctx context.Context, tx store.Tx, stored []store.StoredMessage) error {
		var err error
		rows, err = tx.Exec(ctx, `UPDATE test_deliveries SET state = 'done'`)
		return err
	}})
	appendOne(t, s2, msg("default", "c"))
	if rows != 1 {
		t.Fatalf("%d delivery rows, want the 1 of the committed batch", rows)
	}
}

func testDeleteExpiredNonces(t *testing.T, db Opener) {
	s := open(t, db, store.Options{Now: func() time.Time { return base }})
	ctx := context.Background()
	var batch []store.NewMessage
	for i := range 2500 {
		exp := base.Add(time.Minute)
		if i%2 == 1 {
			exp = base.Add(time.Hour)
		}
		batch = append(batch, withNonce(msg("default", fmt.Sprint(i)), fmt.Sprint("n", i), "d", exp))
		if len(batch) == store.MaxAppendItems || i == 2499 {
			if _, err := s.Append(ctx, batch); err != nil {
				t.Fatalf("Append: %v", err)
			}
			batch = batch[:0]
		}
	}
	n, err := s.DeleteExpiredNonces(ctx, base.Add(time.Minute))
	if err != nil || n != 1250 {
		t.Fatalf("DeleteExpiredNonces = %d, %v; want 1250", n, err)
	}
	if n, err := s.DeleteExpiredNonces(ctx, base.Add(time.Minute)); err != nil || n != 0 {
		t.Fatalf("second DeleteExpiredNonces = %d, %v; want 0", n, err)
	}
	// The clock says base: n0 would still be taken had it not been deleted.
	later := base.Add(time.Hour)
	wantStatus(t, appendOne(t, s, withNonce(msg("default", "x"), "n1", "other", later)), store.Replay)
	wantStatus(t, appendOne(t, s, withNonce(msg("default", "y"), "n0", "other", later)), store.Stored)
}

func testDeleteMessagesBefore(t *testing.T, db Opener) {
	s := open(t, db, store.Options{})
	ctx := context.Background()
	var batch []store.NewMessage
	for i := range 2100 {
		m := msg([]string{"drop", "keep"}[i%2], fmt.Sprint(i))
		m.ReceivedAt = base.Add(time.Duration(i) * time.Second)
		batch = append(batch, m)
		if len(batch) == 700 {
			if _, err := s.Append(ctx, batch); err != nil {
				t.Fatalf("Append: %v", err)
			}
			batch = batch[:0]
		}
	}
	cut := base.Add(2000 * time.Second)
	n, err := s.DeleteMessagesBefore(ctx, cut, `m.app = 'keep'`)
	if err != nil || n != 1000 {
		t.Fatalf("DeleteMessagesBefore = %d, %v; want 1000", n, err)
	}
	if c := count(t, s, store.Filter{App: "drop"}); c != 50 {
		t.Fatalf("%d 'drop' messages left, want the 50 after the cut", c)
	}
	if c := count(t, s, store.Filter{App: "keep"}); c != 1050 {
		t.Fatalf("%d 'keep' messages left, want 1050", c)
	}
	n, err = s.DeleteMessagesBefore(ctx, cut, "")
	if err != nil || n != 1000 {
		t.Fatalf("DeleteMessagesBefore without keep = %d, %v; want 1000", n, err)
	}
	// A deleted push is new again.
	m := msg("drop", "0")
	wantStatus(t, appendOne(t, s, m), store.Stored)
}

func testOnBatch(t *testing.T, db Opener) {
	var mu sync.Mutex
	var infos []store.BatchInfo
	s := open(t, db, store.Options{OnBatch: func(b store.BatchInfo) {
		mu.Lock()
		infos = append(infos, b)
		mu.Unlock()
	}})
	later := time.Now().Add(time.Hour)
	appendOne(t, s, withNonce(msg("default", "a"), "n", "x", later))
	if _, err := s.Append(context.Background(), []store.NewMessage{
		msg("default", "a"), msg("default", "b"), withNonce(msg("default", "c"), "n", "y", later),
	}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(infos) != 2 {
		t.Fatalf("%d batches reported, want 2", len(infos))
	}
	b := infos[1]
	if b.Items != 3 || b.Stored != 1 || b.Duplicates != 1 || b.Replays != 1 || b.Err != nil || b.Duration <= 0 {
		t.Fatalf("batch info %+v", b)
	}
}

func testClosed(t *testing.T, db Opener) {
	s, err := db(store.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	id := appendOne(t, s, msg("default", "a")).ID
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := context.Background()
	_, err1 := s.Append(ctx, []store.NewMessage{msg("default", "b")})
	_, err2 := s.Get(ctx, id)
	_, _, err3 := s.List(ctx, store.Filter{}, "")
	err4 := s.SetReply(ctx, id, nil)
	_, err5 := s.DeleteExpiredNonces(ctx, time.Now())
	_, err6 := s.DeleteMessagesBefore(ctx, time.Now(), "")
	err7 := s.Ping(ctx)
	_, err8 := s.Cycle(ctx, "d", "w", nil, 1, time.Second)
	err9 := s.ReleaseLeases(ctx, "w")
	_, _, err10 := s.Deliveries(ctx, id)
	_, _, err11 := s.DeadLetters(ctx, store.DeadFilter{}, "")
	_, err12 := s.Redeliver(ctx, id, "")
	_, err13 := s.RedeliverDead(ctx, "")
	_, err14 := s.DeliveryStats(ctx)
	for i, err := range []error{err1, err2, err3, err4, err5, err6, err7, err8, err9, err10, err11, err12, err13, err14} {
		if !errors.Is(err, store.ErrClosed) {
			t.Fatalf("call %d after Close: %v, want ErrClosed", i+1, err)
		}
	}
}
