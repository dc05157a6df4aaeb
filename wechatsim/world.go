package wechatsim

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"sort"
	"sync"
	"time"
)

// Transcript directions used in Entry.Direction.
const (
	// DirectionToServer marks a push sent by WeChat (on a user's behalf) to
	// the developer server.
	DirectionToServer = "to_server"
	// DirectionToUser marks a customer-service message the developer server
	// sent to the user through message/custom/send.
	DirectionToUser = "to_user"
	// DirectionTyping marks a message/custom/typing command.
	DirectionTyping = "typing"
)

// Send-window rules of the customer-service API (spec §7).
const (
	// MessageWindow is how long the server may answer after a user message.
	MessageWindow = 48 * time.Hour
	// MessageWindowLimit is how many messages the server may send in a
	// MessageWindow.
	MessageWindowLimit = 5
	// EnterSessionWindow is how long the server may answer after the user
	// entered the customer-service session.
	EnterSessionWindow = time.Minute
	// EnterSessionWindowLimit is how many messages the server may send in an
	// EnterSessionWindow.
	EnterSessionWindowLimit = 2
)

// Send-window reasons used in SendWindow.Reason.
const (
	// WindowUserMessage: the window was opened by a user message.
	WindowUserMessage = "user_message"
	// WindowEnterSession: the window was opened by the user entering the
	// customer-service session.
	WindowEnterSession = "enter_session"
)

// maxTranscript is the number of entries kept per user; older ones are
// dropped first.
const maxTranscript = 10000

// watchBuffer is the channel capacity of a Watch feed.
const watchBuffer = 256

// App is a mini program known to the emulator.
type App struct {
	// AppID is the mini program's AppID ("wx" followed by 16 hex digits).
	AppID string `json:"appid"`
	// Secret is the AppSecret accepted by the token endpoints.
	Secret string `json:"-"`
	// OriginalID is the mini program's original ID ("gh_..."), used as
	// ToUserName in pushes.
	OriginalID string `json:"original_id"`
}

// User is a WeChat user of the emulated mini program.
type User struct {
	// OpenID identifies the user within the mini program.
	OpenID string `json:"openid"`
	// CreatedAt is when the user was added to the World.
	CreatedAt time.Time `json:"created_at"`
}

// Entry is one line of a user's transcript: a push the user caused, a
// customer-service message sent to the user, or a typing command.
type Entry struct {
	// Seq is a World-wide sequence number, assigned by World.Record,
	// increasing by one per entry.
	Seq int64 `json:"seq"`
	// Time is when the entry happened; World.Record fills it from the clock
	// when zero.
	Time time.Time `json:"time"`
	// OpenID is the user the entry belongs to.
	OpenID string `json:"openid"`
	// Direction is DirectionToServer, DirectionToUser or DirectionTyping.
	Direction string `json:"direction"`
	// Kind is the msgtype, the event name, the typing command, or
	// KindSubscribeMessage for a subscribe message.
	Kind string `json:"kind"`
	// Body is the message as JSON. World.Record wraps a body that is not
	// valid JSON (an XML push, say) into a JSON string.
	Body json.RawMessage `json:"body,omitempty"`
	// Reply is the developer server's answer to a push, as JSON (wrapped into
	// a JSON string like Body when it is not JSON).
	Reply json.RawMessage `json:"reply,omitempty"`
	// Outcome summarises what happened, e.g. "sent", "ok", "success",
	// "timeout".
	Outcome string `json:"outcome,omitempty"`
	// Detail is free text explaining the outcome.
	Detail string `json:"detail,omitempty"`
}

// SendWindow is the customer-service send allowance of one user.
type SendWindow struct {
	// Reason is WindowUserMessage, WindowEnterSession, or "" when the user
	// never opened a window.
	Reason string `json:"reason,omitempty"`
	// OpenedAt is when the qualifying user action happened.
	OpenedAt time.Time `json:"opened_at,omitzero"`
	// ExpiresAt is when the window closes (OpenedAt plus 48 h or 1 min).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Limit is how many messages the window allows (5 or 2).
	Limit int `json:"limit"`
	// Used is how many messages were sent in the window.
	Used int `json:"used"`
	// LastInteraction is the last message exchange with the user (a user
	// message, the user entering the session, or a customer-service message
	// sent); typing needs one within the last 30 s.
	LastInteraction time.Time `json:"last_interaction,omitzero"`
}

// Open reports whether the window allows another message at time at.
func (s SendWindow) Open(at time.Time) bool {
	return s.Reason != "" && at.Before(s.ExpiresAt) && s.Used < s.Limit
}

type userState struct {
	user       User
	window     SendWindow
	transcript []Entry
}

type watcher struct {
	ch chan Entry
}

// World is the emulator's shared state: apps, users and their transcripts,
// each user's send window, and temporary media. The push client records
// pushes into it and registers the images users send; the mock Open API
// checks send windows against it, records the messages it accepts, and
// serves its media. A World is safe for concurrent use.
type World struct {
	clock Clock

	mu       sync.Mutex
	apps     map[string]App
	appOrder []string
	users    map[string]*userState
	order    []string
	seq      int64
	watchers map[*watcher]struct{}
	prefix   string
	orphans  []Entry // entries recorded without an openid

	media      map[string]*mediaRec // temporary media, see world_media.go
	mediaQueue []string             // media ids, oldest first

	subs subscribeState // subscribe templates and acceptances, see world_subscribe.go
}

// NewWorld returns an empty World reading time from clock (SystemClock when
// nil).
func NewWorld(clock Clock) *World {
	if clock == nil {
		clock = SystemClock{}
	}
	return &World{
		clock:    clock,
		apps:     make(map[string]App),
		users:    make(map[string]*userState),
		watchers: make(map[*watcher]struct{}),
		prefix:   randomString(5),
		media:    make(map[string]*mediaRec),
	}
}

// Clock returns the World's clock.
func (w *World) Clock() Clock { return w.clock }

// AddApp registers app, replacing an app with the same AppID. An app with an
// empty AppID is ignored.
func (w *World) AddApp(app App) {
	if app.AppID == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.apps[app.AppID]; !ok {
		w.appOrder = append(w.appOrder, app.AppID)
	}
	w.apps[app.AppID] = app
}

// App returns the app registered under appID.
func (w *World) App(appID string) (App, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	app, ok := w.apps[appID]
	return app, ok
}

// Apps returns the registered apps in the order they were added.
func (w *World) Apps() []App {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]App, 0, len(w.appOrder))
	for _, id := range w.appOrder {
		out = append(out, w.apps[id])
	}
	return out
}

// NewUser adds a user with a fresh random openid: 28 characters, "o"
// followed by a per-World prefix and random base64url characters, like
// "o9AgO5Kd5ggOC-bXrbNODIiE3bGY".
func (w *World) NewUser() *User {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		id := "o" + w.prefix + randomString(22)
		if _, taken := w.users[id]; taken {
			continue
		}
		u := w.addUserLocked(id)
		return &u
	}
}

// EnsureUser returns the user with the given openid, adding it when it does
// not exist. It returns nil for an empty openid.
func (w *World) EnsureUser(openid string) *User {
	if openid == "" {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	u := w.ensureLocked(openid).user
	return &u
}

// User returns the user with the given openid.
func (w *World) User(openid string) (User, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	st, ok := w.users[openid]
	if !ok {
		return User{}, false
	}
	return st.user, true
}

// Users returns all users in the order they were added.
func (w *World) Users() []User {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]User, 0, len(w.order))
	for _, id := range w.order {
		out = append(out, w.users[id].user)
	}
	return out
}

func (w *World) addUserLocked(openid string) User {
	st := &userState{user: User{OpenID: openid, CreatedAt: w.clock.Now()}}
	w.users[openid] = st
	w.order = append(w.order, openid)
	return st.user
}

func (w *World) ensureLocked(openid string) *userState {
	st, ok := w.users[openid]
	if !ok {
		w.addUserLocked(openid)
		st = w.users[openid]
	}
	return st
}

// NoteUserMessage tells the World that the user sent a customer-service
// message at time at. It opens a fresh send window of 5 messages within
// 48 h, replacing any earlier window (allowances do not accumulate). The
// user is added when unknown.
func (w *World) NoteUserMessage(openid string, at time.Time) {
	w.openWindow(openid, at, WindowUserMessage, MessageWindow, MessageWindowLimit)
}

// NoteEnterSession tells the World that the user entered the
// customer-service session at time at. It opens a fresh send window of 2
// messages within 1 min, replacing any earlier window. The user is added when
// unknown.
func (w *World) NoteEnterSession(openid string, at time.Time) {
	w.openWindow(openid, at, WindowEnterSession, EnterSessionWindow, EnterSessionWindowLimit)
}

func (w *World) openWindow(openid string, at time.Time, reason string, d time.Duration, limit int) {
	if openid == "" {
		return
	}
	if at.IsZero() {
		at = w.clock.Now()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.ensureLocked(openid)
	st.window = SendWindow{
		Reason:          reason,
		OpenedAt:        at,
		ExpiresAt:       at.Add(d),
		Limit:           limit,
		LastInteraction: maxTime(st.window.LastInteraction, at),
	}
}

// Window returns the send window of the user (the zero SendWindow for an
// unknown user).
func (w *World) Window(openid string) SendWindow {
	w.mu.Lock()
	defer w.mu.Unlock()
	if st, ok := w.users[openid]; ok {
		return st.window
	}
	return SendWindow{}
}

// useWindow takes one message from the user's send window at time at. It
// returns 0, ErrCodeOutOfTime (no window, or window expired) or
// ErrCodeOutOfCount (window used up).
func (w *World) useWindow(openid string, at time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	st, ok := w.users[openid]
	if !ok || st.window.Reason == "" || !at.Before(st.window.ExpiresAt) {
		return ErrCodeOutOfTime
	}
	if st.window.Used >= st.window.Limit {
		return ErrCodeOutOfCount
	}
	st.window.Used++
	st.window.LastInteraction = maxTime(st.window.LastInteraction, at)
	return 0
}

// Record appends e to the transcript of e.OpenID and publishes it to Watch
// feeds. It assigns e.Seq, fills a zero e.Time from the clock, turns a Body or
// Reply that is not valid JSON into a JSON string, adds the user when
// unknown, and returns the stored entry. Each user keeps the latest 10000
// entries.
func (w *World) Record(e Entry) Entry {
	if e.Time.IsZero() {
		e.Time = w.clock.Now()
	}
	e.Body = asJSON(e.Body)
	e.Reply = asJSON(e.Reply)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	e.Seq = w.seq
	if e.OpenID == "" {
		w.orphans = appendCapped(w.orphans, e)
	} else {
		st := w.ensureLocked(e.OpenID)
		st.transcript = appendCapped(st.transcript, e)
	}
	for wt := range w.watchers {
		select {
		case wt.ch <- e:
		default: // slow reader: drop rather than block the emulator
		}
	}
	return e
}

// Transcript returns a copy of the user's transcript, oldest first. The
// empty openid returns the entries recorded without an openid.
func (w *World) Transcript(openid string) []Entry {
	w.mu.Lock()
	defer w.mu.Unlock()
	if openid == "" {
		return append([]Entry{}, w.orphans...)
	}
	st, ok := w.users[openid]
	if !ok {
		return []Entry{}
	}
	return append([]Entry{}, st.transcript...)
}

func appendCapped(list []Entry, e Entry) []Entry {
	if len(list) >= maxTranscript {
		n := copy(list, list[1:])
		list = list[:n]
	}
	return append(list, e)
}

// Since returns every stored entry (all users) with Seq greater than seq,
// ordered by Seq. Since(0) returns everything.
func (w *World) Since(seq int64) []Entry {
	w.mu.Lock()
	out := []Entry{}
	for _, e := range w.orphans {
		if e.Seq > seq {
			out = append(out, e)
		}
	}
	for _, st := range w.users {
		for _, e := range st.transcript {
			if e.Seq > seq {
				out = append(out, e)
			}
		}
	}
	w.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

// Watch returns a live feed of entries recorded from now on. The channel has
// a buffer of 256 entries; when the reader falls behind, new entries are
// dropped for that reader (Since recovers them). The channel is closed when
// ctx is done.
func (w *World) Watch(ctx context.Context) <-chan Entry {
	wt := &watcher{ch: make(chan Entry, watchBuffer)}
	w.mu.Lock()
	w.watchers[wt] = struct{}{}
	w.mu.Unlock()
	go func() {
		<-ctx.Done()
		w.mu.Lock()
		delete(w.watchers, wt)
		close(wt.ch)
		w.mu.Unlock()
	}()
	return wt.ch
}

// asJSON returns b unchanged when it is empty or valid JSON, and b encoded as
// a JSON string otherwise.
func asJSON(b json.RawMessage) json.RawMessage {
	if len(b) == 0 || json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// base64url alphabet, as used by WeChat openids, media ids and tokens.
const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// randomString returns n characters drawn uniformly from idAlphabet using
// crypto/rand.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics or succeeds)
	for i := range b {
		b[i] = idAlphabet[b[i]&63]
	}
	return string(b)
}
