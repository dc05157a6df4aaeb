package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/wxgate/wxgate/wechatsim"
)

// Kinds of live events.
const (
	evEntry  = "entry"  // a line of a transcript
	evWire   = "wire"   // a push started or was judged
	evServer = "server" // the gateway stored or delivered something
	evUsers  = "users"  // a user was added
)

// event is one live update, rendered for each stream in its language.
type event struct {
	kind   string
	entry  wechatsim.Entry
	wireID int64
}

// subBuffer is how many events a slow stream may fall behind before it is
// closed (the browser reconnects and catches up).
const subBuffer = 256

// hub fans events out to the open streams.
type hub struct {
	mu   sync.Mutex
	subs map[chan event]struct{}
}

func newHub() *hub { return &hub{subs: map[chan event]struct{}{}} }

// subscribe returns a feed of events and its cancel function.
func (h *hub) subscribe() (<-chan event, func()) {
	ch := make(chan event, subBuffer)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		if _, ok := h.subs[ch]; ok {
			delete(h.subs, ch)
			close(ch)
		}
		h.mu.Unlock()
	}
}

// publish sends ev to every stream; a stream too far behind is closed.
func (h *hub) publish(ev event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- ev:
		default:
			delete(h.subs, ch)
			close(ch)
		}
	}
}

// listeners is the number of open streams.
func (h *hub) listeners() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// watchWorld publishes every transcript entry.
func (c *Console) watchWorld() {
	defer c.wg.Done()
	for e := range c.opts.World.Watch(c.ctx) {
		c.hub.publish(event{kind: evEntry, entry: e})
	}
}

// serverPoll is how often the console looks for news of the gateway
// while a page listens.
const serverPoll = 500 * time.Millisecond

// pollServer publishes a server event when the gateway's counters
// change (pushes stored, deliveries made or failed) and, for a while
// after a failed attempt, when its dead letters do: the attempt that
// makes a dead letter is counted before the store records it. /metrics is
// not logged; the dead letters' API call is, so it is made only then.
func (c *Console) pollServer() {
	defer c.wg.Done()
	t := time.NewTicker(serverPoll)
	defer t.Stop()
	var last string
	var failed int64
	var watchDead time.Time
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		if c.hub.listeners() == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(c.ctx, apiTimeout)
		n, err := c.api.metrics(ctx)
		if err != nil {
			cancel()
			continue
		}
		if n.Failed != failed {
			failed, watchDead = n.Failed, time.Now().Add(deadWatch)
		}
		fp := fmt.Sprintf("%+v", n)
		if time.Now().Before(watchDead) {
			if dead, err := c.api.deadLetters(ctx, 1); err == nil && len(dead) > 0 {
				fp += dead[0].MessageID + dead[0].Destination + strconv.Itoa(dead[0].Attempts)
			}
		}
		cancel()
		if fp != last {
			if last != "" {
				c.hub.publish(event{kind: evServer})
			}
			last = fp
		}
	}
}

// deadWatch is how long after a failed attempt the dead letters are
// watched.
const deadWatch = 10 * time.Second

// streamEvent is the data of one event on the stream.
type streamEvent struct {
	OpenID string `json:"openid,omitempty"`
	Seq    int64  `json:"seq,omitempty"`
	Typing string `json:"typing,omitempty"` // "on" or "off"
	ID     int64  `json:"id,omitempty"`
	HTML   string `json:"html,omitempty"`
}

// events is the live stream (text/event-stream) of a page. ?user= names
// the chat's user, whose entries come rendered; entries of other users
// come without their HTML, to mark them unread. A reconnecting browser
// sends Last-Event-ID, the last entry it saw (a page its last entry in
// ?since=), and gets what it missed.
func (c *Console) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's write timeout
	loc := localizerFor(r)
	user := r.URL.Query().Get("user")
	ch, cancel := c.hub.subscribe()
	defer cancel()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	resume := r.Header.Get("Last-Event-ID")
	if resume == "" {
		resume = r.URL.Query().Get("since") // the page's last entry, on first connect
	}
	if last, err := strconv.ParseInt(resume, 10, 64); err == nil && last > 0 {
		for _, e := range c.opts.World.Since(last) {
			c.writeEvent(w, loc, user, event{kind: evEntry, entry: e})
		}
	}
	if err := rc.Flush(); err != nil {
		return
	}
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.ctx.Done():
			return
		case <-keepalive.C:
			fmt.Fprint(w, ": keepalive\n\n")
		case ev, ok := <-ch:
			if !ok {
				return // too far behind: the browser reconnects
			}
			c.writeEvent(w, loc, user, ev)
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// writeEvent writes one event in the stream's language.
func (c *Console) writeEvent(w http.ResponseWriter, loc *localizer, user string, ev event) {
	var data streamEvent
	id := ""
	switch ev.kind {
	case evEntry:
		e := ev.entry
		id = strconv.FormatInt(e.Seq, 10)
		data = streamEvent{OpenID: e.OpenID, Seq: e.Seq}
		if e.Direction == wechatsim.DirectionTyping {
			data.Typing = "off"
			if e.Kind == "Typing" {
				data.Typing = "on"
			}
		} else if e.Direction == wechatsim.DirectionToUser {
			data.Typing = "off" // a message ends the typing state
		}
		if e.OpenID == user {
			if items := c.bubbles(loc, e); len(items) > 0 {
				data.HTML = c.fragment("bubbles", &bubblesView{L: loc, Items: items})
			}
		}
	case evWire:
		rec, ok := c.wire.get(ev.wireID)
		if !ok {
			return
		}
		data = streamEvent{ID: rec.ID, HTML: c.fragment("wire_row", &wireRowView{L: loc, R: rec})}
	case evServer, evUsers:
	default:
		return
	}
	b, _ := json.Marshal(data)
	if id != "" {
		fmt.Fprintf(w, "id: %s\n", id)
	}
	fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.kind, b)
}

// fragment renders one of the partials.
func (c *Console) fragment(name string, data any) string {
	var b bytes.Buffer
	if err := c.pages[""].ExecuteTemplate(&b, name, data); err != nil {
		c.log.Error("console: rendering a fragment", "fragment", name, "err", err)
		return ""
	}
	return b.String()
}
