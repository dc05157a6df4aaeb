package gateway

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/wxgate/wxgate/store"
)

// The conversation of one user: the pushes the user caused (stored
// messages) and what was sent to the user (outbound records), merged in
// time order. Pages go back in time: each answer holds the newest `limit`
// items before `before`, oldest first, and next_before continues with the
// older ones.

// convItem is one line of a conversation.
type convItem struct {
	Direction string          `json:"direction"` // "in" or "out"
	ID        string          `json:"id"`
	At        string          `json:"at"`
	MsgType   string          `json:"msg_type"`
	Event     string          `json:"event,omitempty"`   // in
	Message   json.RawMessage `json:"message,omitempty"` // in: the push as the webhook shows it
	Kind      string          `json:"kind,omitempty"`    // out: message, subscribe, typing
	Sender    string          `json:"sender,omitempty"`  // out
	InReplyTo string          `json:"in_reply_to,omitempty"`
	Request   json.RawMessage `json:"request,omitempty"` // out: what was sent to WeChat
	Result    *convResult     `json:"result,omitempty"`  // out

	at time.Time // truncated to the microsecond, as the stores keep it
}

// convResult is the outcome of one send.
type convResult struct {
	OK      bool   `json:"ok"`
	ErrCode int    `json:"errcode,omitempty"`
	Error   string `json:"error,omitempty"`
}

// newer reports whether a comes after b in the conversation.
func newer(a, b *convItem) bool {
	if !a.at.Equal(b.at) {
		return a.at.After(b.at)
	}
	return a.ID > b.ID
}

// convCursor is the position after which a page starts.
type convCursor struct {
	at time.Time
	id string // "" when the caller gave a plain time: items before it
}

const cursorPrefix = "c1."

func (c convCursor) String() string {
	b := binary.BigEndian.AppendUint64(nil, uint64(c.at.UnixMicro()))
	return cursorPrefix + base64.RawURLEncoding.EncodeToString(append(b, c.id...))
}

// parseBefore reads `before`: an RFC 3339 time or a next_before cursor.
func parseBefore(s string) (convCursor, error) {
	if s == "" {
		return convCursor{}, nil
	}
	if rest, ok := strings.CutPrefix(s, cursorPrefix); ok {
		b, err := base64.RawURLEncoding.DecodeString(rest)
		if err != nil || len(b) < 9 || len(b) > 8+store.IDLen+8 {
			return convCursor{}, errors.New("not a cursor this API returned")
		}
		return convCursor{at: time.UnixMicro(int64(binary.BigEndian.Uint64(b))), id: string(b[8:])}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return convCursor{}, errors.New("want an RFC 3339 time such as 2026-11-29T08:00:00Z, or a next_before cursor")
	}
	return convCursor{at: t.Truncate(time.Microsecond)}, nil
}

// before reports whether it comes before the cursor (and so belongs to
// the page).
func (c convCursor) before(it *convItem) bool {
	if c.at.IsZero() {
		return true
	}
	if c.id == "" {
		return it.at.Before(c.at)
	}
	return it.at.Before(c.at) || (it.at.Equal(c.at) && it.ID < c.id)
}

// until is the store filter's exclusive bound for the cursor.
func (c convCursor) until() time.Time {
	if c.at.IsZero() || c.id == "" {
		return c.at
	}
	return c.at.Add(time.Microsecond) // items at the cursor's time, ids below it, are still due
}

// convSource pages through one store, newest first.
type convSource struct {
	fetch  func(cursor string) ([]convItem, string, error)
	buf    []convItem
	cursor string
	done   bool
}

// peek returns the source's next item, fetching a page when needed; nil
// at the end.
func (s *convSource) peek() (*convItem, error) {
	for len(s.buf) == 0 && !s.done {
		items, next, err := s.fetch(s.cursor)
		if err != nil {
			return nil, err
		}
		s.buf, s.cursor, s.done = items, next, next == ""
	}
	if len(s.buf) == 0 {
		return nil, nil
	}
	return &s.buf[0], nil
}

// conversation is GET /v1/apps/{app}/users/{openid}/conversation.
func (g *Gateway) conversation(w http.ResponseWriter, r *http.Request, _ *principal) {
	app, openid := r.PathValue("app"), r.PathValue("openid")
	if err := checkOpenIDField("openid", openid); err != nil {
		writeAnswer(w, wechatAnswer(err))
		return
	}
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request", "limit: "+err.Error())
		return
	}
	if limit == 0 {
		limit = store.DefaultListLimit
	}
	cur, err := parseBefore(q.Get("before"))
	if err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request", "before: "+err.Error())
		return
	}
	ctx := r.Context()
	page := min(limit+1, store.MaxListLimit)
	in := &convSource{fetch: func(cursor string) ([]convItem, string, error) {
		msgs, next, err := g.store.List(ctx, store.Filter{App: app, OpenID: openid, Until: cur.until(), Limit: page}, cursor)
		items := make([]convItem, len(msgs))
		for i := range msgs {
			m := toMessageJSON(&msgs[i])
			items[i] = convItem{Direction: "in", ID: m.ID, At: apiTime(msgs[i].ReceivedAt), MsgType: m.MsgType, Event: m.Event,
				Message: m.Message, at: msgs[i].ReceivedAt.Truncate(time.Microsecond)}
		}
		return items, next, err
	}}
	sources := []*convSource{in}
	if out := g.outboundStore(); out != nil {
		sources = append(sources, &convSource{fetch: func(cursor string) ([]convItem, string, error) {
			recs, next, err := out.ListOutbound(ctx, store.OutboundFilter{App: app, OpenID: openid, Until: cur.until(), Limit: page}, cursor)
			items := make([]convItem, len(recs))
			for i, o := range recs {
				it := convItem{Direction: "out", ID: o.ID, At: apiTime(o.CreatedAt), MsgType: o.MsgType, Kind: o.Kind,
					Sender: o.Sender, InReplyTo: o.InReplyTo, Result: &convResult{OK: o.OK, ErrCode: o.ErrCode, Error: o.Error},
					at: o.CreatedAt.Truncate(time.Microsecond)}
				if json.Valid(o.Request) {
					it.Request = o.Request
				}
				items[i] = it
			}
			return items, next, err
		}})
	}
	// Merge newest first, skipping what the cursor already showed, until
	// one item more than the page (to know whether there is more).
	var items []convItem
	for len(items) <= limit {
		var best *convSource
		var bestItem *convItem
		for _, s := range sources {
			it, err := s.peek()
			if err != nil {
				g.storeError(w, r, err)
				return
			}
			for it != nil && !cur.before(it) {
				s.buf = s.buf[1:]
				if it, err = s.peek(); err != nil {
					g.storeError(w, r, err)
					return
				}
			}
			if it != nil && (bestItem == nil || newer(it, bestItem)) {
				best, bestItem = s, it
			}
		}
		if best == nil {
			break
		}
		items = append(items, *bestItem)
		best.buf = best.buf[1:]
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		last := items[limit-1]
		next = convCursor{at: last.at, id: last.ID}.String()
	}
	slices.Reverse(items) // newest last
	if items == nil {
		items = []convItem{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"app": app, "openid": openid, "items": items, "next_before": next})
}
