package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wxgate/wxgate/store"
)

// RunOutbound runs the suite of store.OutboundStore: newDB is as for Run,
// and the stores it opens must implement store.OutboundStore.
func RunOutbound(t *testing.T, newDB func(t *testing.T) Opener) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, db Opener)
	}{
		{"RecordAndList", testOutboundRecordAndList},
		{"RecordRetry", testOutboundRecordRetry},
		{"Paging", testOutboundPaging},
		{"Filters", testOutboundFilters},
		{"BadRecord", testOutboundBadRecord},
		{"BadList", testOutboundBadList},
		{"Idempotency", testIdempotency},
		{"IdempotencyLapse", testIdempotencyLapse},
		{"IdempotencyExpiry", testIdempotencyExpiry},
		{"IdempotencyConcurrent", testIdempotencyConcurrent},
		{"BadIdempotency", testBadIdempotency},
		{"Away", testAway},
		{"AwayConcurrent", testAwayConcurrent},
		{"Token", testToken},
		{"TokenLease", testTokenLease},
		{"TokenLeaseConcurrent", testTokenLeaseConcurrent},
		{"BadToken", testBadToken},
		{"DeleteOutboundBefore", testDeleteOutboundBefore},
		{"OutboundClosed", testOutboundClosed},
		{"OutboundCanceled", testOutboundCanceled},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newDB(t)) })
	}
}

// obClock is a test clock shared by the stores of a test.
type obClock struct{ ns atomic.Int64 }

func newObClock() *obClock {
	c := &obClock{}
	c.ns.Store(base.UnixNano())
	return c
}

func (c *obClock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *obClock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// openOut opens a store on c's clock and returns its outbound side.
func openOut(t *testing.T, db Opener, c *obClock) store.OutboundStore {
	t.Helper()
	s := open(t, db, store.Options{Now: c.Now})
	o, ok := s.(store.OutboundStore)
	if !ok {
		t.Fatalf("%T does not implement store.OutboundStore", s)
	}
	return o
}

var bg = context.Background()

// wantOutboundID checks the documented form of an outbound id.
func wantOutboundID(t *testing.T, id string) {
	t.Helper()
	if len(id) != 30 || !strings.HasPrefix(id, "out_") || strings.Trim(id[4:], "abcdefghijklmnopqrstuvwxyz234567") != "" {
		t.Fatalf("id %q is not \"out_\" and 26 lowercase base32 characters", id)
	}
}

func record(t *testing.T, s store.OutboundStore, o store.Outbound) string {
	t.Helper()
	id, err := s.RecordOutbound(bg, o)
	if err != nil {
		t.Fatalf("RecordOutbound: %v", err)
	}
	wantOutboundID(t, id)
	return id
}

// listAll pages through f with page size limit and returns every record.
func listAll(t *testing.T, s store.OutboundStore, f store.OutboundFilter, limit int) []store.Outbound {
	t.Helper()
	f.Limit = limit
	var all []store.Outbound
	cursor := ""
	for range 10000 {
		page, next, err := s.ListOutbound(bg, f, cursor)
		if err != nil {
			t.Fatalf("ListOutbound: %v", err)
		}
		if len(page) > limit || (next != "" && len(page) != limit) {
			t.Fatalf("page of %d records with next %q, limit %d", len(page), next, limit)
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		cursor = next
	}
	t.Fatalf("ListOutbound never ended")
	return nil
}

func diffOutbound(got, want store.Outbound) string {
	var d []string
	for _, f := range [...]struct {
		name string
		ok   bool
	}{
		{"ID", got.ID == want.ID}, {"App", got.App == want.App}, {"OpenID", got.OpenID == want.OpenID},
		{"Kind", got.Kind == want.Kind}, {"MsgType", got.MsgType == want.MsgType}, {"Sender", got.Sender == want.Sender},
		{"InReplyTo", got.InReplyTo == want.InReplyTo}, {"OK", got.OK == want.OK}, {"ErrCode", got.ErrCode == want.ErrCode},
		{"Error", got.Error == want.Error}, {"CreatedAt", got.CreatedAt.Equal(want.CreatedAt) && got.CreatedAt.Location() == time.UTC},
		{"Request", bytes.Equal(got.Request, want.Request) && (got.Request == nil) == (want.Request == nil)},
	} {
		if !f.ok {
			d = append(d, f.name)
		}
	}
	if d == nil {
		return ""
	}
	return fmt.Sprintf("fields %v differ:\ngot  %+v\nwant %+v", d, got, want)
}

func testOutboundRecordAndList(t *testing.T, db Opener) {
	c := newObClock()
	s := openOut(t, db, c)
	req := make([]byte, 0, 300)
	for i := range 256 { // every byte value: Request is bytes, not text
		req = append(req, byte(i))
	}
	full := store.Outbound{
		App: "default", OpenID: "oUser-1", Kind: "message", MsgType: "text", Sender: "rule:welcome",
		InReplyTo: store.MessageID("default", "msg:1"), Request: req, OK: false, ErrCode: -1, Error: "WeChat busy: 系统繁忙",
		CreatedAt: time.Date(2026, 11, 29, 16, 0, 0, 123456789, time.FixedZone("CST", 8*3600)),
	}
	id := record(t, s, full)
	want := full
	want.ID, want.CreatedAt = id, us(full.CreatedAt).UTC()

	// Zero id and time: a random id and the store's clock; no request is nil.
	c.Add(time.Hour)
	bare := store.Outbound{App: "default", OpenID: "oUser-1", Kind: "typing", Request: []byte{}, OK: true}
	id2 := record(t, s, bare)
	id3 := record(t, s, bare)
	if id2 == id3 || id2 == id {
		t.Fatalf("ids are not distinct: %s %s %s", id, id2, id3)
	}
	// The largest request.
	big := bytes.Repeat([]byte("x"), store.MaxOutboundRequest)
	id4 := record(t, s, store.Outbound{App: "shop", OpenID: "oUser-2", Kind: "subscribe", MsgType: "tmpl-1", Request: big,
		CreatedAt: full.CreatedAt.Add(-time.Hour)})

	check := func(s store.OutboundStore) {
		t.Helper()
		got := listAll(t, s, store.OutboundFilter{}, store.MaxListLimit)
		if len(got) != 4 {
			t.Fatalf("listed %d records, want 4", len(got))
		}
		now := us(c.Now())
		wantBare := bare
		wantBare.Request, wantBare.CreatedAt = nil, now
		// id2 and id3 tie on CreatedAt: the larger id comes first.
		first, second := id2, id3
		if first < second {
			first, second = second, first
		}
		for i, w := range []store.Outbound{wantBare, wantBare, want} {
			w.ID = [...]string{first, second, id}[i]
			if d := diffOutbound(got[i], w); d != "" {
				t.Fatalf("record %d: %s", i, d)
			}
		}
		if got[3].ID != id4 || !bytes.Equal(got[3].Request, big) || got[3].Kind != "subscribe" || got[3].MsgType != "tmpl-1" {
			t.Fatalf("record 3: %+v", got[3])
		}
	}
	check(s)
	// Another handle on the database (a replica, or a restart) sees them.
	check(openOut(t, db, c))
}

func testOutboundRecordRetry(t *testing.T, db Opener) {
	c := newObClock()
	s := openOut(t, db, c)
	id := "out_" + strings.Repeat("a", 25) + "7"
	o := store.Outbound{ID: id, App: "default", OpenID: "oUser-1", Kind: "message", MsgType: "text", OK: true}
	if got := record(t, s, o); got != id {
		t.Fatalf("RecordOutbound returned %q, want the given id %q", got, id)
	}
	// A retry with the same id is not stored again, and keeps the first.
	o2 := o
	o2.MsgType, o2.OK = "image", false
	if got := record(t, s, o2); got != id {
		t.Fatalf("retry returned %q, want %q", got, id)
	}
	got := listAll(t, s, store.OutboundFilter{}, 10)
	if len(got) != 1 || got[0].MsgType != "text" || !got[0].OK {
		t.Fatalf("after a retry: %+v, want the first record alone", got)
	}

	// An Error that is not storable as it is gets cleaned and cut, not refused.
	long := "bad \xff\x00 " + strings.Repeat("é", 2000)
	id2 := record(t, s, store.Outbound{App: "default", OpenID: "oUser-1", Kind: "message", Error: long})
	for _, r := range listAll(t, s, store.OutboundFilter{}, 10) {
		if r.ID != id2 {
			continue
		}
		if !utf8.ValidString(r.Error) || strings.ContainsRune(r.Error, 0) || len(r.Error) > 1024 || len(r.Error) < 1000 ||
			!strings.HasPrefix(r.Error, "bad \uFFFD ") {
			t.Fatalf("stored Error %q (%d bytes): want it valid UTF-8, without NUL, cut to at most 1024 bytes", r.Error, len(r.Error))
		}
		return
	}
	t.Fatalf("record with a long Error not listed")
}

// pagingSet records n records of apps a and b, openids o0..o2, created in
// groups of four at the same microsecond, and returns them newest first.
func pagingSet(t *testing.T, s store.OutboundStore, n int) []store.Outbound {
	t.Helper()
	var all []store.Outbound
	for i := range n {
		o := store.Outbound{
			App: []string{"a", "b"}[i%2], OpenID: fmt.Sprintf("o%d", i%3), Kind: "message", MsgType: "text",
			Sender: fmt.Sprint("api:", i), OK: true,
			CreatedAt: base.Add(time.Duration(i/4) * time.Millisecond),
		}
		o.ID = record(t, s, o)
		o.CreatedAt = us(o.CreatedAt)
		all = append(all, o)
	}
	slices.SortFunc(all, func(x, y store.Outbound) int {
		if c := y.CreatedAt.Compare(x.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(y.ID, x.ID)
	})
	return all
}

func wantSame(t *testing.T, what string, got, want []store.Outbound) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || !got[i].CreatedAt.Equal(want[i].CreatedAt) || got[i].Sender != want[i].Sender {
			t.Fatalf("%s: record %d is %s at %v, want %s at %v", what, i, got[i].ID, got[i].CreatedAt, want[i].ID, want[i].CreatedAt)
		}
	}
}

func testOutboundPaging(t *testing.T, db Opener) {
	c := newObClock()
	s := openOut(t, db, c)
	all := pagingSet(t, s, 30)
	for _, limit := range []int{1, 3, 4, 7, 30, store.MaxListLimit} {
		wantSame(t, fmt.Sprint("limit ", limit), listAll(t, s, store.OutboundFilter{}, limit), all)
	}
	// The default page size.
	page, next, err := s.ListOutbound(bg, store.OutboundFilter{}, "")
	if err != nil || next != "" || len(page) != 30 {
		t.Fatalf("default limit: %d records, next %q, %v", len(page), next, err)
	}
	// A cursor stays put while newer records arrive: they are on page one
	// of a new listing, never in the pages that continue an old one.
	page, next, err = s.ListOutbound(bg, store.OutboundFilter{Limit: 5}, "")
	if err != nil || next == "" {
		t.Fatalf("first page: %v, next %q", err, next)
	}
	record(t, s, store.Outbound{App: "a", OpenID: "o0", Kind: "message", CreatedAt: base.Add(time.Hour)})
	rest := page
	for next != "" {
		page, next, err = s.ListOutbound(bg, store.OutboundFilter{Limit: 5}, next)
		if err != nil {
			t.Fatalf("ListOutbound: %v", err)
		}
		rest = append(rest, page...)
	}
	wantSame(t, "pages around an insert", rest, all)
	// A cursor is opaque but any replica takes it.
	_, next, _ = s.ListOutbound(bg, store.OutboundFilter{Limit: 2}, "")
	other := openOut(t, db, c)
	if page, _, err := other.ListOutbound(bg, store.OutboundFilter{Limit: 2}, next); err != nil || len(page) != 2 {
		t.Fatalf("a cursor on another replica: %d records, %v", len(page), err)
	}
}

func testOutboundFilters(t *testing.T, db Opener) {
	c := newObClock()
	s := openOut(t, db, c)
	all := pagingSet(t, s, 24)
	sel := func(keep func(o store.Outbound) bool) []store.Outbound {
		var out []store.Outbound
		for _, o := range all {
			if keep(o) {
				out = append(out, o)
			}
		}
		return out
	}
	since, until := base.Add(2*time.Millisecond), base.Add(4*time.Millisecond)
	for _, tc := range []struct {
		name string
		f    store.OutboundFilter
		keep func(o store.Outbound) bool
	}{
		{"app", store.OutboundFilter{App: "a"}, func(o store.Outbound) bool { return o.App == "a" }},
		{"openid", store.OutboundFilter{OpenID: "o1"}, func(o store.Outbound) bool { return o.OpenID == "o1" }},
		{"conversation", store.OutboundFilter{App: "b", OpenID: "o2"}, func(o store.Outbound) bool { return o.App == "b" && o.OpenID == "o2" }},
		{"since", store.OutboundFilter{Since: since}, func(o store.Outbound) bool { return !o.CreatedAt.Before(us(since)) }},
		{"until", store.OutboundFilter{Until: until}, func(o store.Outbound) bool { return o.CreatedAt.Before(us(until)) }},
		{"range and app", store.OutboundFilter{App: "a", Since: since, Until: until}, func(o store.Outbound) bool {
			return o.App == "a" && !o.CreatedAt.Before(us(since)) && o.CreatedAt.Before(us(until))
		}},
		{"no match", store.OutboundFilter{App: "c"}, func(store.Outbound) bool { return false }},
	} {
		want := sel(tc.keep)
		if tc.name != "no match" && (len(want) == 0 || len(want) == len(all)) {
			t.Fatalf("%s: the filter selects %d of %d: a useless case", tc.name, len(want), len(all))
		}
		for _, limit := range []int{2, 5, 100} {
			wantSame(t, tc.name, listAll(t, s, tc.f, limit), want)
		}
	}
}

// secret is a value that bad-input errors must never show.
const secret = "s3cr3t-Value"

func wantInvalid(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("%s: %v, want ErrInvalid", what, err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("%s: the error shows the value: %v", what, err)
	}
}

func testOutboundBadRecord(t *testing.T, db Opener) {
	c := newObClock()
	s := openOut(t, db, c)
	good := store.Outbound{App: "default", OpenID: "oUser-1", Kind: "message", MsgType: "text", Sender: "admin"}
	for name, mutate := range map[string]func(o *store.Outbound){
		"no App":           func(o *store.Outbound) { o.App = "" },
		"no OpenID":        func(o *store.Outbound) { o.OpenID = "" },
		"no Kind":          func(o *store.Outbound) { o.Kind = "" },
		"long App":         func(o *store.Outbound) { o.App = strings.Repeat("a", store.MaxAppLen+1) },
		"long OpenID":      func(o *store.Outbound) { o.OpenID = secret + strings.Repeat("o", store.MaxFieldLen) },
		"long MsgType":     func(o *store.Outbound) { o.MsgType = strings.Repeat("t", store.MaxFieldLen+1) },
		"bad UTF-8 OpenID": func(o *store.Outbound) { o.OpenID = secret + "\xff" },
		"NUL in Sender":    func(o *store.Outbound) { o.Sender = secret + "\x00" },
		"bad InReplyTo":    func(o *store.Outbound) { o.InReplyTo = "\xc3" },
		"large Request":    func(o *store.Outbound) { o.Request = make([]byte, store.MaxOutboundRequest+1) },
		"short ID":         func(o *store.Outbound) { o.ID = "out_abc" },
		"message ID":       func(o *store.Outbound) { o.ID = store.MessageID("a", "b") },
		"uppercase ID":     func(o *store.Outbound) { o.ID = "out_" + strings.Repeat("A", 26) },
		"bad ID":           func(o *store.Outbound) { o.ID = secret + strings.Repeat("x", 20) },
	} {
		o := good
		mutate(&o)
		id, err := s.RecordOutbound(bg, o)
		wantInvalid(t, name, err)
		if id != "" {
			t.Fatalf("%s: returned id %q with an error", name, id)
		}
	}
	if got := listAll(t, s, store.OutboundFilter{}, 10); len(got) != 0 {
		t.Fatalf("bad records were stored: %+v", got)
	}
}

func testOutboundBadList(t *testing.T, db Opener) {
	c := newObClock()
	s := openOut(t, db, c)
	pagingSet(t, s, 5)
	for name, f := range map[string]store.OutboundFilter{
		"negative limit":     {Limit: -1},
		"large limit":        {Limit: store.MaxListLimit + 1},
		"since after until":  {Since: base.Add(time.Second), Until: base},
		"since equals until": {Since: base, Until: base},
		"bad OpenID":         {OpenID: secret + "\xff"},
		"long App":           {App: strings.Repeat("a", store.MaxAppLen+1)},
	} {
		_, _, err := s.ListOutbound(bg, f, "")
		wantInvalid(t, name, err)
	}
	_, next, err := s.ListOutbound(bg, store.OutboundFilter{Limit: 2}, "")
	if err != nil || next == "" {
		t.Fatalf("ListOutbound: %v, next %q", err, next)
	}
	// A message cursor, garbage, and a valid cursor cut or changed.
	msgs := open(t, db, store.Options{})
	for _, m := range []string{"k1", "k2"} {
		appendOne(t, msgs, msg("default", m))
	}
	_, msgCursor, err := msgs.List(bg, store.Filter{Limit: 1}, "")
	if err != nil || msgCursor == "" {
		t.Fatalf("List: %v, cursor %q", err, msgCursor)
	}
	for _, cur := range []string{"x", "!!!!", msgCursor, next[:len(next)-1], next + "A", strings.ToUpper(next), strings.Repeat("A", 4096)} {
		if cur == next {
			continue
		}
		if _, _, err := s.ListOutbound(bg, store.OutboundFilter{Limit: 2}, cur); !errors.Is(err, store.ErrInvalidCursor) {
			t.Fatalf("cursor %q: %v, want ErrInvalidCursor", cur, err)
		}
	}
}

func claim(t *testing.T, s store.OutboundStore, scope, key, hash string, expires time.Time) store.IdempotencyRecord {
	t.Helper()
	r, err := s.ClaimIdempotency(bg, scope, key, hash, expires)
	if err != nil {
		t.Fatalf("ClaimIdempotency(%s, %s): %v", scope, key, err)
	}
	return r
}

func wantState(t *testing.T, what string, got store.IdempotencyRecord, want store.IdempotencyState) {
	t.Helper()
	if got.State != want {
		t.Fatalf("%s: state %d, want %d", what, got.State, want)
	}
	if want != store.IdempotencyDone && (got.Status != 0 || got.Response != nil) {
		t.Fatalf("%s: state %d carries an answer: %+v", what, got.State, got)
	}
}

func testIdempotency(t *testing.T, db Opener) {
	c := newObClock()
	s, s2 := openOut(t, db, c), openOut(t, db, c)
	exp := c.Now().Add(24 * time.Hour)
	wantState(t, "first claim", claim(t, s, "api:a", "k1", "h1", exp), store.IdempotencyNew)
	wantState(t, "again", claim(t, s, "api:a", "k1", "h1", exp), store.IdempotencyInFlight)
	wantState(t, "again on a replica", claim(t, s2, "api:a", "k1", "h1", exp), store.IdempotencyInFlight)
	wantState(t, "another request", claim(t, s, "api:a", "k1", "h2", exp), store.IdempotencyMismatch)
	wantState(t, "another scope", claim(t, s, "api:b", "k1", "h2", exp), store.IdempotencyNew)

	body := []byte(`{"id":"out_x"}` + "\x00\xff")
	if err := s.CompleteIdempotency(bg, "api:a", "k1", 201, body); err != nil {
		t.Fatalf("CompleteIdempotency: %v", err)
	}
	for _, st := range []store.OutboundStore{s, s2} {
		r := claim(t, st, "api:a", "k1", "h1", exp)
		if r.State != store.IdempotencyDone || r.Status != 201 || !bytes.Equal(r.Response, body) {
			t.Fatalf("after completion: %+v, want Done 201 with the body", r)
		}
	}
	wantState(t, "another request after completion", claim(t, s, "api:a", "k1", "h2", exp), store.IdempotencyMismatch)
	// The first answer stays; releasing an answered key keeps it.
	if err := s2.CompleteIdempotency(bg, "api:a", "k1", 500, []byte("late")); err != nil {
		t.Fatalf("second CompleteIdempotency: %v", err)
	}
	if err := s.ReleaseIdempotency(bg, "api:a", "k1"); err != nil {
		t.Fatalf("ReleaseIdempotency of a done key: %v", err)
	}
	if r := claim(t, s, "api:a", "k1", "h1", exp); r.State != store.IdempotencyDone || r.Status != 201 || !bytes.Equal(r.Response, body) {
		t.Fatalf("the first answer did not stay: %+v", r)
	}
	// A key never claimed (or released) cannot be completed.
	if err := s.CompleteIdempotency(bg, "api:a", "nope", 200, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CompleteIdempotency of an unclaimed key: %v, want ErrNotFound", err)
	}
	if err := s.ReleaseIdempotency(bg, "api:a", "nope"); err != nil {
		t.Fatalf("ReleaseIdempotency of an unclaimed key: %v", err)
	}
	// Released, the key is free again, for any request.
	wantState(t, "claim k2", claim(t, s, "api:a", "k2", "h1", exp), store.IdempotencyNew)
	if err := s2.ReleaseIdempotency(bg, "api:a", "k2"); err != nil {
		t.Fatalf("ReleaseIdempotency: %v", err)
	}
	if err := s.CompleteIdempotency(bg, "api:a", "k2", 200, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CompleteIdempotency of a released key: %v, want ErrNotFound", err)
	}
	wantState(t, "claim after release", claim(t, s, "api:a", "k2", "h2", exp), store.IdempotencyNew)
	// An empty answer comes back as nil.
	if err := s.CompleteIdempotency(bg, "api:a", "k2", 204, []byte{}); err != nil {
		t.Fatalf("CompleteIdempotency: %v", err)
	}
	if r := claim(t, s, "api:a", "k2", "h2", exp); r.State != store.IdempotencyDone || r.Status != 204 || r.Response != nil {
		t.Fatalf("empty answer: %+v", r)
	}
}

func testIdempotencyLapse(t *testing.T, db Opener) {
	c := newObClock()
	s, s2 := openOut(t, db, c), openOut(t, db, c)
	exp := c.Now().Add(24 * time.Hour)
	wantState(t, "claim", claim(t, s, "api:a", "k", "h1", exp), store.IdempotencyNew)
	c.Add(store.IdempotencyClaimLapse - time.Millisecond)
	wantState(t, "before the lapse", claim(t, s2, "api:a", "k", "h1", exp), store.IdempotencyInFlight)
	c.Add(time.Millisecond)
	// Lapsed: another request still may not have the key...
	wantState(t, "lapsed, another request", claim(t, s2, "api:a", "k", "h2", exp), store.IdempotencyMismatch)
	// ...but the same one takes it over, on any replica, once.
	wantState(t, "lapsed, same request", claim(t, s2, "api:a", "k", "h1", exp), store.IdempotencyNew)
	wantState(t, "taken over", claim(t, s, "api:a", "k", "h1", exp), store.IdempotencyInFlight)
	// The late first holder's answer still counts: one answer per key.
	if err := s.CompleteIdempotency(bg, "api:a", "k", 200, []byte("first")); err != nil {
		t.Fatalf("CompleteIdempotency: %v", err)
	}
	if err := s2.CompleteIdempotency(bg, "api:a", "k", 200, []byte("second")); err != nil {
		t.Fatalf("CompleteIdempotency: %v", err)
	}
	if r := claim(t, s, "api:a", "k", "h1", exp); r.State != store.IdempotencyDone || string(r.Response) != "first" {
		t.Fatalf("after two completions: %+v", r)
	}
	// A done key does not lapse.
	c.Add(time.Hour)
	if r := claim(t, s, "api:a", "k", "h1", exp); r.State != store.IdempotencyDone {
		t.Fatalf("a done key lapsed: %+v", r)
	}
}

func testIdempotencyExpiry(t *testing.T, db Opener) {
	c := newObClock()
	s := openOut(t, db, c)
	exp := c.Now().Add(10 * time.Minute)
	wantState(t, "claim", claim(t, s, "api:a", "done", "h1", exp), store.IdempotencyNew)
	if err := s.CompleteIdempotency(bg, "api:a", "done", 200, []byte("x")); err != nil {
		t.Fatal(err)
	}
	wantState(t, "claim", claim(t, s, "api:a", "flying", "h1", exp), store.IdempotencyNew)
	c.Add(10*time.Minute - time.Microsecond)
	wantState(t, "done, before expiry", claim(t, s, "api:a", "done", "h2", exp), store.IdempotencyMismatch)
	c.Add(time.Microsecond)
	// Expired keys behave as absent: a completion finds nothing, and any
	// request claims them anew, until its own expiry.
	if err := s.CompleteIdempotency(bg, "api:a", "flying", 200, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CompleteIdempotency of an expired key: %v, want ErrNotFound", err)
	}
	exp2 := c.Now().Add(time.Hour)
	wantState(t, "done, expired", claim(t, s, "api:a", "done", "h2", exp2), store.IdempotencyNew)
	wantState(t, "in flight, expired", claim(t, s, "api:a", "flying", "h3", exp2), store.IdempotencyNew)
	wantState(t, "reclaimed", claim(t, s, "api:a", "done", "h2", exp2), store.IdempotencyInFlight)
}

// replicas opens two stores on db's database (two replicas) on clock c.
func replicas(t *testing.T, db Opener, c *obClock) [2]store.OutboundStore {
	return [2]store.OutboundStore{openOut(t, db, c), openOut(t, db, c)}
}

// race runs fn(i) on n goroutines at once, half on each replica.
func race(n int, rs [2]store.OutboundStore, fn func(i int, s store.OutboundStore)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i, rs[i%2])
		}()
	}
	close(start)
	wg.Wait()
}

const raceN = 24

func testIdempotencyConcurrent(t *testing.T, db Opener) {
	c := newObClock()
	rs := replicas(t, db, c)
	exp := c.Now().Add(time.Hour)
	for k := range 4 {
		key := fmt.Sprint("k", k)
		var states [5]atomic.Int32
		var errs atomic.Int32
		race(raceN, rs, func(i int, s store.OutboundStore) {
			r, err := s.ClaimIdempotency(bg, "api:a", key, "h", exp)
			if err != nil {
				t.Errorf("ClaimIdempotency: %v", err)
				errs.Add(1)
				return
			}
			if int(r.State) < len(states) {
				states[r.State].Add(1)
			}
		})
		if errs.Load() > 0 {
			t.FailNow()
		}
		if n, f := states[store.IdempotencyNew].Load(), states[store.IdempotencyInFlight].Load(); n != 1 || f != raceN-1 {
			t.Fatalf("key %s: %d New and %d InFlight of %d claims, want 1 and %d", key, n, f, raceN, raceN-1)
		}
	}
	// The same after a lapse: one claim takes the key over.
	c.Add(store.IdempotencyClaimLapse)
	var news atomic.Int32
	race(raceN, rs, func(i int, s store.OutboundStore) {
		r, err := s.ClaimIdempotency(bg, "api:a", "k0", "h", exp)
		if err != nil {
			t.Errorf("ClaimIdempotency: %v", err)
		} else if r.State == store.IdempotencyNew {
			news.Add(1)
		}
	})
	if news.Load() != 1 {
		t.Fatalf("%d claims took a lapsed key over, want 1", news.Load())
	}
}

func testBadIdempotency(t *testing.T, db Opener) {
	c := newObClock()
	s := openOut(t, db, c)
	exp := c.Now().Add(time.Hour)
	for name, call := range map[string]func() error{
		"no scope": func() error { _, err := s.ClaimIdempotency(bg, "", "k", "h", exp); return err },
		"no key":   func() error { _, err := s.ClaimIdempotency(bg, "s", "", "h", exp); return err },
		"no hash":  func() error { _, err := s.ClaimIdempotency(bg, "s", "k", "", exp); return err },
		"long key": func() error {
			_, err := s.ClaimIdempotency(bg, "s", secret+strings.Repeat("k", store.MaxFieldLen), "h", exp)
			return err
		},
		"NUL in key":       func() error { _, err := s.ClaimIdempotency(bg, "s", secret+"\x00", "h", exp); return err },
		"bad UTF-8 scope":  func() error { _, err := s.ClaimIdempotency(bg, secret+"\xff", "k", "h", exp); return err },
		"zero expiry":      func() error { _, err := s.ClaimIdempotency(bg, "s", "k", "h", time.Time{}); return err },
		"past expiry":      func() error { _, err := s.ClaimIdempotency(bg, "s", "k", "h", c.Now().Add(-time.Second)); return err },
		"expiry now":       func() error { _, err := s.ClaimIdempotency(bg, "s", "k", "h", c.Now()); return err },
		"complete no key":  func() error { return s.CompleteIdempotency(bg, "s", "", 200, nil) },
		"status 0":         func() error { return s.CompleteIdempotency(bg, "s", "k", 0, nil) },
		"status 600":       func() error { return s.CompleteIdempotency(bg, "s", "k", 600, nil) },
		"huge response":    func() error { return s.CompleteIdempotency(bg, "s", "k", 200, make([]byte, store.MaxBodySize+1)) },
		"release no scope": func() error { return s.ReleaseIdempotency(bg, "", "k") },
		"release bad key":  func() error { return s.ReleaseIdempotency(bg, "s", secret+"\xff") },
	} {
		wantInvalid(t, name, call())
	}
	// Nothing was claimed by the bad calls.
	wantState(t, "claim after bad calls", claim(t, s, "s", "k", "h", exp), store.IdempotencyNew)
}

func claimAway(t *testing.T, s store.OutboundStore, app, openid string, period time.Time) bool {
	t.Helper()
	ok, err := s.ClaimAway(bg, app, openid, period)
	if err != nil {
		t.Fatalf("ClaimAway: %v", err)
	}
	return ok
}

func testAway(t *testing.T, db Opener) {
	c := newObClock()
	s, s2 := openOut(t, db, c), openOut(t, db, c)
	p1 := time.Date(2026, 11, 29, 18, 0, 0, 0, time.UTC)
	p2 := p1.Add(24 * time.Hour)
	for _, tc := range []struct {
		s           store.OutboundStore
		app, openid string
		period      time.Time
		want        bool
		what        string
	}{
		{s, "a", "o1", p1, true, "first claim"},
		{s, "a", "o1", p1, false, "second claim"},
		{s2, "a", "o1", p1, false, "on a replica"},
		{s, "a", "o1", p1.In(time.FixedZone("CST", 8*3600)), false, "the same instant in another zone"},
		{s, "a", "o1", p1.Add(999 * time.Nanosecond), false, "the same microsecond"},
		{s, "a", "o1", p2, true, "the next period"},
		{s2, "a", "o2", p1, true, "another user"},
		{s, "b", "o1", p1, true, "another app"},
	} {
		if got := claimAway(t, tc.s, tc.app, tc.openid, tc.period); got != tc.want {
			t.Fatalf("%s: ClaimAway = %v, want %v", tc.what, got, tc.want)
		}
	}
	for name, call := range map[string]func() error{
		"no app":        func() error { _, err := s.ClaimAway(bg, "", "o", p1); return err },
		"no openid":     func() error { _, err := s.ClaimAway(bg, "a", "", p1); return err },
		"bad openid":    func() error { _, err := s.ClaimAway(bg, "a", secret+"\xff", p1); return err },
		"long app":      func() error { _, err := s.ClaimAway(bg, strings.Repeat("a", store.MaxAppLen+1), "o", p1); return err },
		"zero period":   func() error { _, err := s.ClaimAway(bg, "a", "o", time.Time{}); return err },
		"NUL in app":    func() error { _, err := s.ClaimAway(bg, "a\x00", "o", p1); return err },
		"NUL in openid": func() error { _, err := s.ClaimAway(bg, "a", secret+"\x00", p1); return err },
	} {
		wantInvalid(t, name, call())
	}
}

func testAwayConcurrent(t *testing.T, db Opener) {
	c := newObClock()
	rs := replicas(t, db, c)
	for k := range 4 {
		var wins atomic.Int32
		period := base.Add(time.Duration(k) * time.Hour)
		race(raceN, rs, func(i int, s store.OutboundStore) {
			ok, err := s.ClaimAway(bg, "a", "o1", period)
			if err != nil {
				t.Errorf("ClaimAway: %v", err)
			} else if ok {
				wins.Add(1)
			}
		})
		if wins.Load() != 1 {
			t.Fatalf("period %d: %d of %d concurrent claims won, want 1", k, wins.Load(), raceN)
		}
	}
}

func loadToken(t *testing.T, s store.OutboundStore, app string) (store.StoredToken, bool) {
	t.Helper()
	tok, ok, err := s.LoadToken(bg, app)
	if err != nil {
		t.Fatalf("LoadToken: %v", err)
	}
	if !ok && tok != (store.StoredToken{}) {
		t.Fatalf("LoadToken: no token, but %+v", tok)
	}
	return tok, ok
}

func wantToken(t *testing.T, what string, got store.StoredToken, ok bool, want store.StoredToken) {
	t.Helper()
	if !ok || got.Value != want.Value || !got.IssuedAt.Equal(us(want.IssuedAt)) || !got.ExpiresAt.Equal(us(want.ExpiresAt)) ||
		got.ExpiresAt.Location() != time.UTC || (!got.IssuedAt.IsZero() && got.IssuedAt.Location() != time.UTC) {
		// The values are test tokens; a real one is never printed.
		t.Fatalf("%s: LoadToken = %+v, %v; want %+v", what, got, ok, want)
	}
}

func testToken(t *testing.T, db Opener) {
	c := newObClock()
	s, s2 := openOut(t, db, c), openOut(t, db, c)
	if _, ok := loadToken(t, s, "wx1"); ok {
		t.Fatalf("a token before any was saved")
	}
	cst := time.FixedZone("CST", 8*3600)
	tok1 := store.StoredToken{Value: "tok-1", IssuedAt: time.Date(2026, 11, 29, 8, 0, 0, 1500, cst), ExpiresAt: time.Date(2026, 11, 29, 10, 0, 0, 999, cst)}
	tok2 := store.StoredToken{Value: strings.Repeat("T", 512), IssuedAt: tok1.IssuedAt.Add(time.Hour), ExpiresAt: tok1.ExpiresAt.Add(time.Hour)}
	if err := s.SaveToken(bg, "wx1", tok1); err != nil {
		t.Fatalf("SaveToken: %v", err)
	}
	got, ok := loadToken(t, s2, "wx1")
	wantToken(t, "saved on a replica", got, ok, tok1)
	if _, ok := loadToken(t, s, "wx2"); ok {
		t.Fatalf("another app has the token")
	}
	if err := s2.SaveToken(bg, "wx1", tok2); err != nil {
		t.Fatalf("SaveToken: %v", err)
	}
	got, ok = loadToken(t, s, "wx1")
	wantToken(t, "replaced", got, ok, tok2)
	// Compare and delete: a stale value leaves the newer token.
	if err := s.InvalidateToken(bg, "wx1", tok1.Value); err != nil {
		t.Fatalf("InvalidateToken: %v", err)
	}
	got, ok = loadToken(t, s, "wx1")
	wantToken(t, "after a stale invalidation", got, ok, tok2)
	if err := s2.InvalidateToken(bg, "wx1", tok2.Value); err != nil {
		t.Fatalf("InvalidateToken: %v", err)
	}
	if _, ok := loadToken(t, s, "wx1"); ok {
		t.Fatalf("the token survived its invalidation")
	}
	if err := s.InvalidateToken(bg, "wx1", tok2.Value); err != nil {
		t.Fatalf("InvalidateToken without a token: %v", err)
	}
	// No IssuedAt is kept as none.
	tok3 := store.StoredToken{Value: "tok-3", ExpiresAt: tok1.ExpiresAt}
	if err := s.SaveToken(bg, "wx1", tok3); err != nil {
		t.Fatalf("SaveToken: %v", err)
	}
	got, ok = loadToken(t, s, "wx1")
	wantToken(t, "without IssuedAt", got, ok, tok3)

	// The token and the lease are apart.
	if ok, err := s.TryTokenLease(bg, "wx1", "owner-a", time.Minute); err != nil || !ok {
		t.Fatalf("TryTokenLease: %v, %v", ok, err)
	}
	if err := s.InvalidateToken(bg, "wx1", tok3.Value); err != nil {
		t.Fatalf("InvalidateToken: %v", err)
	}
	if ok, err := s2.TryTokenLease(bg, "wx1", "owner-b", time.Minute); err != nil || ok {
		t.Fatalf("the lease went with the token: %v, %v", ok, err)
	}
	if err := s.SaveToken(bg, "wx1", tok1); err != nil {
		t.Fatalf("SaveToken: %v", err)
	}
	if ok, err := s2.TryTokenLease(bg, "wx1", "owner-b", time.Minute); err != nil || ok {
		t.Fatalf("saving the token freed the lease: %v, %v", ok, err)
	}
	if err := s.ReleaseTokenLease(bg, "wx1", "owner-a"); err != nil {
		t.Fatalf("ReleaseTokenLease: %v", err)
	}
	got, ok = loadToken(t, s2, "wx1")
	wantToken(t, "after the lease", got, ok, tok1)
}

func tryLease(t *testing.T, s store.OutboundStore, app, owner string, ttl time.Duration) bool {
	t.Helper()
	ok, err := s.TryTokenLease(bg, app, owner, ttl)
	if err != nil {
		t.Fatalf("TryTokenLease(%s): %v", owner, err)
	}
	return ok
}

func testTokenLease(t *testing.T, db Opener) {
	c := newObClock()
	rs := replicas(t, db, c)
	a, b := rs[0], rs[1]
	const ttl = 15 * time.Second
	steps := []struct {
		what string
		fn   func() bool
		want bool
	}{
		{"A takes the free lease", func() bool { return tryLease(t, a, "wx1", "A", ttl) }, true},
		{"B on the other replica", func() bool { return tryLease(t, b, "wx1", "B", ttl) }, false},
		{"B on A's replica", func() bool { return tryLease(t, a, "wx1", "B", ttl) }, false},
		{"another app is free", func() bool { return tryLease(t, b, "wx2", "B", ttl) }, true},
		{"A again extends it", func() bool { c.Add(10 * time.Second); return tryLease(t, a, "wx1", "A", ttl) }, true},
		{"B when A's first lease would have ended", func() bool { c.Add(10 * time.Second); return tryLease(t, b, "wx1", "B", ttl) }, false},
		{"B releasing A's lease changes nothing", func() bool {
			if err := b.ReleaseTokenLease(bg, "wx1", "B"); err != nil {
				t.Fatalf("ReleaseTokenLease: %v", err)
			}
			return tryLease(t, b, "wx1", "B", ttl)
		}, false},
		{"B after A released", func() bool {
			if err := a.ReleaseTokenLease(bg, "wx1", "A"); err != nil {
				t.Fatalf("ReleaseTokenLease: %v", err)
			}
			return tryLease(t, b, "wx1", "B", ttl)
		}, true},
		{"A a moment before B's lease ends", func() bool { c.Add(ttl - time.Microsecond); return tryLease(t, a, "wx1", "A", ttl) }, false},
		{"A when B's lease ended (B died)", func() bool { c.Add(time.Microsecond); return tryLease(t, a, "wx1", "A", ttl) }, true},
		{"B's late release leaves A's lease", func() bool {
			if err := b.ReleaseTokenLease(bg, "wx1", "B"); err != nil {
				t.Fatalf("ReleaseTokenLease: %v", err)
			}
			return tryLease(t, b, "wx1", "C", ttl)
		}, false},
		{"releasing a lease never taken", func() bool {
			if err := a.ReleaseTokenLease(bg, "wx9", "A"); err != nil {
				t.Fatalf("ReleaseTokenLease: %v", err)
			}
			return tryLease(t, a, "wx9", "A", ttl)
		}, true},
	}
	for _, st := range steps {
		if got := st.fn(); got != st.want {
			t.Fatalf("%s: TryTokenLease = %v, want %v", st.what, got, st.want)
		}
	}
}

func testTokenLeaseConcurrent(t *testing.T, db Opener) {
	c := newObClock()
	rs := replicas(t, db, c)
	for round := range 4 {
		var wins atomic.Int32
		var winner atomic.Value
		race(raceN, rs, func(i int, s store.OutboundStore) {
			owner := fmt.Sprint("owner-", round, "-", i)
			ok, err := s.TryTokenLease(bg, "wx1", owner, 15*time.Second)
			if err != nil {
				t.Errorf("TryTokenLease: %v", err)
			} else if ok {
				wins.Add(1)
				winner.Store(owner)
			}
		})
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d of %d owners took the lease, want 1", round, wins.Load(), raceN)
		}
		// The next round starts with the lease free again: released or lapsed.
		if round%2 == 0 {
			if err := rs[round%2].ReleaseTokenLease(bg, "wx1", winner.Load().(string)); err != nil {
				t.Fatalf("ReleaseTokenLease: %v", err)
			}
		} else {
			c.Add(15 * time.Second)
		}
	}
}

func testBadToken(t *testing.T, db Opener) {
	c := newObClock()
	s := openOut(t, db, c)
	exp := c.Now().Add(time.Hour)
	for name, call := range map[string]func() error{
		"load no app":    func() error { _, _, err := s.LoadToken(bg, ""); return err },
		"load bad app":   func() error { _, _, err := s.LoadToken(bg, "\xff"); return err },
		"save no app":    func() error { return s.SaveToken(bg, "", store.StoredToken{Value: secret, ExpiresAt: exp}) },
		"save no value":  func() error { return s.SaveToken(bg, "wx1", store.StoredToken{ExpiresAt: exp}) },
		"save NUL value": func() error { return s.SaveToken(bg, "wx1", store.StoredToken{Value: secret + "\x00", ExpiresAt: exp}) },
		"save bad value": func() error { return s.SaveToken(bg, "wx1", store.StoredToken{Value: secret + "\xff", ExpiresAt: exp}) },
		"save long value": func() error {
			return s.SaveToken(bg, "wx1", store.StoredToken{Value: secret + strings.Repeat("t", 8192), ExpiresAt: exp})
		},
		"save no expiry":    func() error { return s.SaveToken(bg, "wx1", store.StoredToken{Value: secret}) },
		"invalidate empty":  func() error { return s.InvalidateToken(bg, "wx1", "") },
		"invalidate bad":    func() error { return s.InvalidateToken(bg, "wx1", secret+"\x00") },
		"invalidate no app": func() error { return s.InvalidateToken(bg, "", secret) },
		"lease no owner":    func() error { _, err := s.TryTokenLease(bg, "wx1", "", time.Minute); return err },
		"lease no app":      func() error { _, err := s.TryTokenLease(bg, "", "o", time.Minute); return err },
		"lease zero ttl":    func() error { _, err := s.TryTokenLease(bg, "wx1", "o", 0); return err },
		"lease negative":    func() error { _, err := s.TryTokenLease(bg, "wx1", "o", -time.Second); return err },
		"lease huge ttl":    func() error { _, err := s.TryTokenLease(bg, "wx1", "o", 1<<62); return err },
		"lease bad owner":   func() error { _, err := s.TryTokenLease(bg, "wx1", secret+"\xff", time.Minute); return err },
		"release no owner":  func() error { return s.ReleaseTokenLease(bg, "wx1", "") },
		"release no app":    func() error { return s.ReleaseTokenLease(bg, "", "o") },
	} {
		wantInvalid(t, name, call())
	}
	if _, ok := loadToken(t, s, "wx1"); ok {
		t.Fatalf("a bad token was saved")
	}
	if !tryLease(t, s, "wx1", "o", time.Minute) {
		t.Fatalf("a bad call took the lease")
	}
}

func testDeleteOutboundBefore(t *testing.T, db Opener) {
	c := newObClock()
	s, s2 := openOut(t, db, c), openOut(t, db, c)
	t0 := c.Now()
	// Outbound records: 1050 before t0 (more than one deleting chunk), 3 at or after.
	const old = 1050
	var wg sync.WaitGroup
	errs := make(chan error, old)
	for i := range old {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := []store.OutboundStore{s, s2}[i%2].RecordOutbound(bg, store.Outbound{App: "a", OpenID: fmt.Sprint("o", i%7), Kind: "message",
				CreatedAt: t0.Add(-time.Duration(i+1) * time.Second)})
			errs <- err
		}()
		if i%32 == 31 {
			wg.Wait()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("RecordOutbound: %v", err)
		}
	}
	var kept []string
	for _, at := range []time.Time{t0, t0.Add(time.Microsecond), t0.Add(time.Hour)} {
		kept = append(kept, record(t, s, store.Outbound{App: "a", OpenID: "o1", Kind: "message", CreatedAt: at}))
	}
	// Away claims: two made an hour before t0 (by the clock), one at t0.
	c.Add(-time.Hour)
	claimAway(t, s, "a", "o1", base)
	claimAway(t, s, "a", "o2", base)
	c.Add(time.Hour)
	claimAway(t, s, "a", "o3", base)
	// Idempotency keys: one expired (done), one expired (in flight), two live.
	exp := c.Now().Add(time.Minute)
	claim(t, s, "api:a", "expired-done", "h", exp)
	if err := s.CompleteIdempotency(bg, "api:a", "expired-done", 200, []byte("x")); err != nil {
		t.Fatal(err)
	}
	claim(t, s, "api:a", "expired-flying", "h", exp)
	c.Add(time.Minute)
	live := c.Now().Add(time.Hour)
	claim(t, s, "api:a", "live-done", "h", live)
	if err := s.CompleteIdempotency(bg, "api:a", "live-done", 201, []byte("y")); err != nil {
		t.Fatal(err)
	}
	claim(t, s, "api:a", "live-flying", "h", live)
	if err := s.SaveToken(bg, "wx1", store.StoredToken{Value: "tok", ExpiresAt: t0}); err != nil {
		t.Fatal(err)
	}

	n, err := s2.DeleteOutboundBefore(bg, t0)
	if err != nil {
		t.Fatalf("DeleteOutboundBefore: %v", err)
	}
	if want := int64(old + 2 + 2); n != want {
		t.Fatalf("DeleteOutboundBefore deleted %d rows, want %d (%d records, 2 away claims, 2 expired keys)", n, want, old)
	}
	rest := listAll(t, s, store.OutboundFilter{}, 100)
	if len(rest) != 3 || rest[0].ID != kept[2] || rest[1].ID != kept[1] || rest[2].ID != kept[0] {
		t.Fatalf("kept %d records, want the 3 created at or after t0", len(rest))
	}
	// The deleted away claims may be claimed again; the kept one may not.
	if !claimAway(t, s, "a", "o1", base) || claimAway(t, s, "a", "o3", base) {
		t.Fatalf("away claims: the old one was kept or the new one deleted")
	}
	if r := claim(t, s, "api:a", "live-done", "h", live); r.State != store.IdempotencyDone || r.Status != 201 {
		t.Fatalf("a live done key was deleted: %+v", r)
	}
	wantState(t, "live in-flight key", claim(t, s, "api:a", "live-flying", "h", live), store.IdempotencyInFlight)
	if _, ok := loadToken(t, s, "wx1"); !ok {
		t.Fatalf("DeleteOutboundBefore deleted the token")
	}
	if n, err := s.DeleteOutboundBefore(bg, t0); err != nil || n != 0 {
		t.Fatalf("second DeleteOutboundBefore: %d, %v; want 0", n, err)
	}
}

func testOutboundClosed(t *testing.T, db Opener) {
	c := newObClock()
	st, err := db(store.Options{Now: c.Now})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	s, ok := st.(store.OutboundStore)
	if !ok {
		st.Close()
		t.Fatalf("%T does not implement store.OutboundStore", st)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	exp := c.Now().Add(time.Hour)
	for name, call := range map[string]func() error{
		"RecordOutbound": func() error {
			_, err := s.RecordOutbound(bg, store.Outbound{App: "a", OpenID: "o", Kind: "message"})
			return err
		},
		"ListOutbound":         func() error { _, _, err := s.ListOutbound(bg, store.OutboundFilter{}, ""); return err },
		"ClaimIdempotency":     func() error { _, err := s.ClaimIdempotency(bg, "s", "k", "h", exp); return err },
		"CompleteIdempotency":  func() error { return s.CompleteIdempotency(bg, "s", "k", 200, nil) },
		"ReleaseIdempotency":   func() error { return s.ReleaseIdempotency(bg, "s", "k") },
		"ClaimAway":            func() error { _, err := s.ClaimAway(bg, "a", "o", base); return err },
		"LoadToken":            func() error { _, _, err := s.LoadToken(bg, "wx1"); return err },
		"SaveToken":            func() error { return s.SaveToken(bg, "wx1", store.StoredToken{Value: "t", ExpiresAt: exp}) },
		"InvalidateToken":      func() error { return s.InvalidateToken(bg, "wx1", "t") },
		"TryTokenLease":        func() error { _, err := s.TryTokenLease(bg, "wx1", "o", time.Minute); return err },
		"ReleaseTokenLease":    func() error { return s.ReleaseTokenLease(bg, "wx1", "o") },
		"DeleteOutboundBefore": func() error { _, err := s.DeleteOutboundBefore(bg, base); return err },
	} {
		if err := call(); !errors.Is(err, store.ErrClosed) {
			t.Fatalf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func testOutboundCanceled(t *testing.T, db Opener) {
	c := newObClock()
	s := openOut(t, db, c)
	ctx, cancel := context.WithCancel(bg)
	cancel()
	exp := c.Now().Add(time.Hour)
	for name, call := range map[string]func() error{
		"RecordOutbound": func() error {
			_, err := s.RecordOutbound(ctx, store.Outbound{App: "a", OpenID: "o", Kind: "message"})
			return err
		},
		"ListOutbound":     func() error { _, _, err := s.ListOutbound(ctx, store.OutboundFilter{}, ""); return err },
		"ClaimIdempotency": func() error { _, err := s.ClaimIdempotency(ctx, "s", "k", "h", exp); return err },
		"ClaimAway":        func() error { _, err := s.ClaimAway(ctx, "a", "o", base); return err },
		"TryTokenLease":    func() error { _, err := s.TryTokenLease(ctx, "wx1", "o", time.Minute); return err },
	} {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Fatalf("%s with a canceled context: %v, want context.Canceled", name, err)
		}
	}
	// Nothing was done.
	if got := listAll(t, s, store.OutboundFilter{}, 10); len(got) != 0 {
		t.Fatalf("a canceled RecordOutbound stored %d records", len(got))
	}
	wantState(t, "claim after a canceled claim", claim(t, s, "s", "k", "h", exp), store.IdempotencyNew)
	if !claimAway(t, s, "a", "o", base) || !tryLease(t, s, "wx1", "o2", time.Minute) {
		t.Fatalf("a canceled call took a claim or the lease")
	}
}

// BenchOutbound measures the outbound paths of s: recording a send, and
// claiming then completing an idempotency key, from parallel callers.
func BenchOutbound(b *testing.B, s store.OutboundStore) {
	req := []byte(`{"touser":"oUser-1","msgtype":"text","text":{"content":"Hello"}}`)
	b.Run("RecordOutbound", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.RecordOutbound(bg, store.Outbound{App: "a", OpenID: "oUser-1", Kind: "message", MsgType: "text",
					Sender: "api:bench", Request: req, OK: true}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	var n atomic.Int64
	b.Run("ClaimCompleteIdempotency", func(b *testing.B) {
		exp := time.Now().Add(time.Hour)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				key := fmt.Sprint("k", n.Add(1))
				if _, err := s.ClaimIdempotency(bg, "api:bench", key, "h", exp); err != nil {
					b.Error(err)
					return
				}
				if err := s.CompleteIdempotency(bg, "api:bench", key, 200, []byte(`{"id":"x"}`)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
