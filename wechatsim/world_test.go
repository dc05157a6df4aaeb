package wechatsim

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

func newTestWorld() (*World, *FakeClock) {
	clk := NewFakeClock(time.Time{})
	return NewWorld(clk), clk
}

func TestNewWorldNilClockUsesSystemClock(t *testing.T) {
	if _, ok := NewWorld(nil).Clock().(SystemClock); !ok {
		t.Fatal("NewWorld(nil) should use SystemClock")
	}
}

func TestWorldApps(t *testing.T) {
	w, _ := newTestWorld()
	w.AddApp(App{AppID: "wx1", Secret: "s1", OriginalID: "gh_1"})
	w.AddApp(App{AppID: "wx2", Secret: "s2"})
	w.AddApp(App{AppID: "wx1", Secret: "s1b", OriginalID: "gh_1"}) // replaces
	w.AddApp(App{})                                                // ignored
	app, ok := w.App("wx1")
	if !ok || app.Secret != "s1b" {
		t.Fatalf("App(wx1) = %+v, %v", app, ok)
	}
	if _, ok := w.App("nope"); ok {
		t.Fatal("App(nope) found")
	}
	apps := w.Apps()
	if len(apps) != 2 || apps[0].AppID != "wx1" || apps[1].AppID != "wx2" {
		t.Fatalf("Apps = %+v", apps)
	}
	b, _ := json.Marshal(apps[0])
	if strings.Contains(string(b), "s1b") {
		t.Fatalf("App JSON leaks the secret: %s", b)
	}
}

func TestNewUserOpenIDShape(t *testing.T) {
	w, clk := newTestWorld()
	seen := map[string]bool{}
	var prefix string
	for range 200 {
		u := w.NewUser()
		if len(u.OpenID) != 28 || u.OpenID[0] != 'o' {
			t.Fatalf("openid %q: want 28 chars starting with o", u.OpenID)
		}
		for _, c := range u.OpenID {
			if !strings.ContainsRune(idAlphabet, c) {
				t.Fatalf("openid %q has %q outside base64url", u.OpenID, c)
			}
		}
		if seen[u.OpenID] {
			t.Fatalf("duplicate openid %q", u.OpenID)
		}
		seen[u.OpenID] = true
		if prefix == "" {
			prefix = u.OpenID[:6]
		} else if u.OpenID[:6] != prefix {
			t.Fatalf("openids of one World should share a prefix: %q vs %q", u.OpenID[:6], prefix)
		}
		if !u.CreatedAt.Equal(clk.Now()) {
			t.Fatalf("CreatedAt = %v", u.CreatedAt)
		}
	}
	if len(w.Users()) != 200 {
		t.Fatalf("Users has %d", len(w.Users()))
	}
}

func TestEnsureUser(t *testing.T) {
	w, clk := newTestWorld()
	u1 := w.EnsureUser("oABC")
	clk.Advance(time.Minute)
	u2 := w.EnsureUser("oABC")
	if u1.OpenID != "oABC" || !u1.CreatedAt.Equal(u2.CreatedAt) {
		t.Fatalf("EnsureUser not idempotent: %+v %+v", u1, u2)
	}
	if w.EnsureUser("") != nil {
		t.Fatal("EnsureUser(\"\") should be nil")
	}
	w.NewUser()
	users := w.Users()
	if len(users) != 2 || users[0].OpenID != "oABC" {
		t.Fatalf("Users = %+v (want insertion order)", users)
	}
	if _, ok := w.User("oABC"); !ok {
		t.Fatal("User(oABC) missing")
	}
	if _, ok := w.User("missing"); ok {
		t.Fatal("User(missing) found")
	}
}

func TestRecordAssignsSeqTimeAndStores(t *testing.T) {
	w, clk := newTestWorld()
	e1 := w.Record(Entry{OpenID: "oA", Direction: DirectionToServer, Kind: "text", Body: json.RawMessage(`{"Content":"hi"}`)})
	at := clk.Now().Add(-time.Hour)
	e2 := w.Record(Entry{OpenID: "oB", Time: at, Direction: DirectionToUser, Kind: "text"})
	e3 := w.Record(Entry{OpenID: "oA", Direction: DirectionTyping, Kind: "Typing"})
	if e1.Seq != 1 || e2.Seq != 2 || e3.Seq != 3 {
		t.Fatalf("seqs %d %d %d", e1.Seq, e2.Seq, e3.Seq)
	}
	if !e1.Time.Equal(clk.Now()) || !e2.Time.Equal(at) {
		t.Fatalf("times %v %v", e1.Time, e2.Time)
	}
	if _, ok := w.User("oB"); !ok {
		t.Fatal("Record should add unknown users")
	}
	tr := w.Transcript("oA")
	if len(tr) != 2 || tr[0].Seq != 1 || tr[1].Seq != 3 {
		t.Fatalf("Transcript(oA) = %+v", tr)
	}
	tr[0].Kind = "mutated"
	if w.Transcript("oA")[0].Kind != "text" {
		t.Fatal("Transcript must return a copy")
	}
	if got := w.Transcript("nobody"); got == nil || len(got) != 0 {
		t.Fatalf("Transcript(nobody) = %#v, want empty non-nil", got)
	}
	all := w.Since(1)
	if len(all) != 2 || all[0].Seq != 2 || all[1].Seq != 3 {
		t.Fatalf("Since(1) = %+v", all)
	}
}

func TestRecordWrapsNonJSONBody(t *testing.T) {
	w, _ := newTestWorld()
	e := w.Record(Entry{OpenID: "oA", Body: json.RawMessage("<xml><a>1</a></xml>"), Reply: json.RawMessage("success")})
	var body, reply string
	if err := json.Unmarshal(e.Body, &body); err != nil || body != "<xml><a>1</a></xml>" {
		t.Fatalf("Body = %s (%v)", e.Body, err)
	}
	if err := json.Unmarshal(e.Reply, &reply); err != nil || reply != "success" {
		t.Fatalf("Reply = %s (%v)", e.Reply, err)
	}
	if _, err := json.Marshal(w.Transcript("oA")); err != nil {
		t.Fatalf("transcript not marshalable: %v", err)
	}
}

func TestRecordWithoutOpenID(t *testing.T) {
	w, _ := newTestWorld()
	w.Record(Entry{Direction: DirectionToServer, Kind: "event"})
	if len(w.Users()) != 0 {
		t.Fatal("an entry without openid must not create a user")
	}
	if got := w.Transcript(""); len(got) != 1 {
		t.Fatalf("Transcript(\"\") = %+v", got)
	}
	if got := w.Since(0); len(got) != 1 {
		t.Fatalf("Since(0) = %+v", got)
	}
}

func TestTranscriptIsCapped(t *testing.T) {
	w, _ := newTestWorld()
	for range maxTranscript + 5 {
		w.Record(Entry{OpenID: "oA", Kind: "text"})
	}
	tr := w.Transcript("oA")
	if len(tr) != maxTranscript || tr[0].Seq != 6 {
		t.Fatalf("len %d first seq %d", len(tr), tr[0].Seq)
	}
}

func TestWatchDeliversAndCloses(t *testing.T) {
	w, _ := newTestWorld()
	ctx, cancel := context.WithCancel(context.Background())
	ch := w.Watch(ctx)
	w.Record(Entry{OpenID: "oA", Kind: "text"})
	e := <-ch
	if e.Seq != 1 || e.OpenID != "oA" {
		t.Fatalf("got %+v", e)
	}
	cancel()
	for range ch { // drains and ends when closed
	}
	w.Record(Entry{OpenID: "oA", Kind: "text"}) // no watcher left: must not block
}

func TestWatchDropsForSlowReader(t *testing.T) {
	w, _ := newTestWorld()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := w.Watch(ctx)
	for range watchBuffer + 50 {
		w.Record(Entry{OpenID: "oA"}) // must not block
	}
	if len(ch) != watchBuffer {
		t.Fatalf("buffered %d, want %d", len(ch), watchBuffer)
	}
	first := <-ch
	if first.Seq != 1 {
		t.Fatalf("first seq %d", first.Seq)
	}
}

func TestWindowUnknownUserIsClosed(t *testing.T) {
	w, clk := newTestWorld()
	if win := w.Window("nobody"); win.Reason != "" || win.Open(clk.Now()) {
		t.Fatalf("Window(nobody) = %+v", win)
	}
	if code := w.useWindow("nobody", clk.Now()); code != ErrCodeOutOfTime {
		t.Fatalf("useWindow = %d", code)
	}
}

func TestUserMessageWindowFiveIn48h(t *testing.T) {
	w, clk := newTestWorld()
	w.NoteUserMessage("oA", clk.Now())
	win := w.Window("oA")
	if win.Reason != WindowUserMessage || win.Limit != 5 || !win.ExpiresAt.Equal(clk.Now().Add(48*time.Hour)) {
		t.Fatalf("window %+v", win)
	}
	clk.Advance(47 * time.Hour)
	for i := range 5 {
		if code := w.useWindow("oA", clk.Now()); code != 0 {
			t.Fatalf("message %d: code %d", i+1, code)
		}
	}
	if code := w.useWindow("oA", clk.Now()); code != ErrCodeOutOfCount {
		t.Fatalf("6th message: code %d, want 45047", code)
	}
}

func TestUserMessageWindowExpiresAfter48h(t *testing.T) {
	w, clk := newTestWorld()
	w.NoteUserMessage("oA", clk.Now())
	clk.Advance(48 * time.Hour)
	if code := w.useWindow("oA", clk.Now()); code != ErrCodeOutOfTime {
		t.Fatalf("code %d, want 45015", code)
	}
}

func TestEnterSessionWindowTwoIn1Min(t *testing.T) {
	w, clk := newTestWorld()
	w.NoteEnterSession("oA", clk.Now())
	clk.Advance(59 * time.Second)
	for i := range 2 {
		if code := w.useWindow("oA", clk.Now()); code != 0 {
			t.Fatalf("message %d: code %d", i+1, code)
		}
	}
	if code := w.useWindow("oA", clk.Now()); code != ErrCodeOutOfCount {
		t.Fatalf("3rd: %d, want 45047", code)
	}
	clk.Advance(time.Second)
	if code := w.useWindow("oA", clk.Now()); code != ErrCodeOutOfTime {
		t.Fatalf("after 1 min: %d, want 45015", code)
	}
}

func TestWindowResetsWithoutAccumulating(t *testing.T) {
	w, clk := newTestWorld()
	w.NoteUserMessage("oA", clk.Now())
	for range 3 {
		w.useWindow("oA", clk.Now())
	}
	// A second message resets the count to 5 (not 2 + 5).
	clk.Advance(time.Hour)
	w.NoteUserMessage("oA", clk.Now())
	if win := w.Window("oA"); win.Used != 0 || win.Limit != 5 || !win.ExpiresAt.Equal(clk.Now().Add(48*time.Hour)) {
		t.Fatalf("after reset: %+v", win)
	}
	// Entering the session replaces the 48 h window with the 1 min one.
	w.NoteEnterSession("oA", clk.Now())
	for range 2 {
		if code := w.useWindow("oA", clk.Now()); code != 0 {
			t.Fatalf("code %d", code)
		}
	}
	if code := w.useWindow("oA", clk.Now()); code != ErrCodeOutOfCount {
		t.Fatalf("code %d, want 45047", code)
	}
	// And a user message opens a full 5 again.
	w.NoteUserMessage("oA", clk.Now())
	for range 5 {
		if code := w.useWindow("oA", clk.Now()); code != 0 {
			t.Fatalf("code %d", code)
		}
	}
}

func TestNoteWithZeroTimeUsesClock(t *testing.T) {
	w, clk := newTestWorld()
	w.NoteUserMessage("oA", time.Time{})
	if win := w.Window("oA"); !win.OpenedAt.Equal(clk.Now()) || !win.LastInteraction.Equal(clk.Now()) {
		t.Fatalf("window %+v", win)
	}
	w.NoteEnterSession("", clk.Now()) // ignored, no panic
	if len(w.Users()) != 1 {
		t.Fatal("empty openid must not create a user")
	}
}

func TestWorldConcurrentUse(t *testing.T) {
	w, clk := newTestWorld()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	feed := w.Watch(ctx)
	go func() {
		for range feed {
		}
	}()
	var wg sync.WaitGroup
	for i := range 150 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := w.NewUser()
			w.NoteUserMessage(u.OpenID, clk.Now())
			w.Record(Entry{OpenID: u.OpenID, Kind: "text"})
			_ = w.useWindow(u.OpenID, clk.Now())
			_ = w.Transcript(u.OpenID)
			_ = w.Users()
			if i%10 == 0 {
				_ = w.Since(0)
				wctx, wcancel := context.WithCancel(ctx)
				_ = w.Watch(wctx)
				wcancel()
			}
		}()
	}
	wg.Wait()
	all := w.Since(0)
	if len(all) != 150 {
		t.Fatalf("%d entries", len(all))
	}
	for i, e := range all {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has seq %d", i, e.Seq)
		}
	}
}
