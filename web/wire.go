package web

import (
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/store"
	"github.com/wxgate/wxgate/wechatsim"
)

// maxWire is how many pushes the wire keeps; older ones go first.
const maxWire = 500

// wireRecord is one push as the emulator made it: the request, every
// delivery and WeChat's verdict.
type wireRecord struct {
	ID        int64
	App       string
	PushURL   string
	OpenID    string
	Kind      string // msgtype, or the event's name
	Summary   string // what the user did, in a few words
	Mode      wechatsim.Mode
	Format    message.Format
	SentAt    time.Time
	DedupKey  string
	MessageID string // the gateway's id of the push (store.MessageID)

	// Filled in when the push is judged.
	Done               bool
	Body               []byte // as posted (encrypted in compat and safe mode)
	Plaintext          []byte // the message before encryption
	Deliveries         []wechatsim.Delivery
	Accepted           bool
	Verdict            string
	Reason             string
	ReplyPlain         []byte // the passive reply, decrypted
	UserVisibleFailure string
	Latency            time.Duration
	Err                string // the push could not be made at all

	// Content of the push, for the `wxgate push` command.
	command []string
}

// Retries is the number of deliveries after the first.
func (r *wireRecord) Retries() int { return max(len(r.Deliveries)-1, 0) }

// LastStatus is the HTTP status of the last delivery, 0 when none came.
func (r *wireRecord) LastStatus() int {
	if len(r.Deliveries) == 0 {
		return 0
	}
	return r.Deliveries[len(r.Deliveries)-1].Status
}

// wireLog keeps the latest pushes, by id.
type wireLog struct {
	mu     sync.Mutex
	max    int
	next   int64
	order  []int64
	byID   map[int64]*wireRecord
	byDKey map[string]int64 // openid + dedup key -> id, for ordering the chat
}

func newWireLog(max int) *wireLog {
	return &wireLog{max: max, byID: map[int64]*wireRecord{}, byDKey: map[string]int64{}}
}

// start records a push about to be made; p's header is already filled.
func (l *wireLog) start(st emuSettings, openid string, p message.Push, summary string) *wireRecord {
	key := p.DedupKey()
	rec := &wireRecord{
		App: st.app.Name, PushURL: st.app.PushURL, OpenID: openid, Kind: kindOf(p), Summary: summary,
		Mode: st.mode, Format: st.format, SentAt: time.Now(), DedupKey: key,
		MessageID: store.MessageID(st.app.Name, key), command: pushCommand(p),
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	rec.ID = l.next
	l.byID[rec.ID] = rec
	l.byDKey[openid+"\x00"+key] = rec.ID
	l.order = append(l.order, rec.ID)
	if len(l.order) > l.max {
		old := l.byID[l.order[0]]
		delete(l.byID, old.ID)
		delete(l.byDKey, old.OpenID+"\x00"+old.DedupKey)
		l.order = l.order[1:]
	}
	cp := *rec
	return &cp
}

// finish records the outcome of push id.
func (l *wireLog) finish(id int64, out *wechatsim.Outcome, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rec, ok := l.byID[id]
	if !ok {
		return
	}
	rec.Done = true
	if err != nil {
		rec.Err = err.Error()
		rec.Verdict = string(wechatsim.VerdictCanceled)
		return
	}
	rec.Body, rec.Plaintext = out.Body, out.Plaintext
	rec.Deliveries = out.Deliveries
	rec.Accepted, rec.Verdict, rec.Reason = out.Accepted, string(out.Verdict), out.Reason
	rec.ReplyPlain, rec.UserVisibleFailure, rec.Latency = out.ReplyPlaintext, out.UserVisibleFailure, out.Latency
}

// get returns a copy of push id.
func (l *wireLog) get(id int64) (wireRecord, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rec, ok := l.byID[id]
	if !ok {
		return wireRecord{}, false
	}
	return *rec, true
}

// list returns copies of the pushes, newest first.
func (l *wireLog) list() []wireRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]wireRecord, 0, len(l.order))
	for i := len(l.order) - 1; i >= 0; i-- {
		out = append(out, *l.byID[l.order[i]])
	}
	return out
}

// sentAt returns when the push of openid with dedup key key was sent, and
// its id.
func (l *wireLog) sentAt(openid, key string) (time.Time, int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id, ok := l.byDKey[openid+"\x00"+key]
	if !ok {
		return time.Time{}, 0, false
	}
	return l.byID[id].SentAt, id, true
}

// kindOf is the msgtype, or the event's name for an event.
func kindOf(p message.Push) string {
	h := p.Head()
	if h.MsgType == message.MsgTypeEvent && h.Event != "" {
		return h.Event
	}
	return h.MsgType
}

// pushCommand is the `wxgate push` subcommand and flags that push p's
// content again.
func pushCommand(p message.Push) []string {
	switch m := p.(type) {
	case *message.Text:
		return []string{"text", shellQuote(m.Content)}
	case *message.Image:
		return []string{"image", "--media-id", shellQuote(m.MediaID)}
	case *message.MiniProgramPage:
		return []string{"card", "--title", shellQuote(m.Title), "--page-path", shellQuote(m.PagePath), "--thumb-media-id", shellQuote(m.ThumbMediaID)}
	case *message.UserEnterTempSession:
		return []string{"enter", "--session-from", shellQuote(m.SessionFrom)}
	}
	return []string{"event", shellQuote(kindOf(p))}
}

// signedURL is the URL of delivery d: the push URL with WeChat's query.
func signedURL(pushURL string, openid string, d wechatsim.Delivery) string {
	q := "signature=" + d.Signature + "&timestamp=" + d.Timestamp + "&nonce=" + d.Nonce
	if d.MsgSignature != "" {
		q += "&openid=" + url.QueryEscape(openid) + "&encrypt_type=aes&msg_signature=" + d.MsgSignature
	}
	if strings.Contains(pushURL, "?") {
		return pushURL + "&" + q
	}
	return pushURL + "?" + q
}

// CurlCommand replays the first delivery of the push byte for byte.
func (r *wireRecord) CurlCommand() string {
	if len(r.Deliveries) == 0 {
		return ""
	}
	ctype := "text/xml"
	if r.Format == message.FormatJSON {
		ctype = "application/json"
	}
	return "curl -sS -X POST " + shellQuote(signedURL(r.PushURL, r.OpenID, r.Deliveries[0])) + " \\\n" +
		"  -H " + shellQuote("Content-Type: "+ctype) + " \\\n" +
		"  --data-binary " + shellQuote(string(r.Body))
}

// PushCommand pushes the same content again with `wxgate push`. stateDir
// is the --state-dir to name ("" for the default); appID, when set, is
// named too, for credentials that come from the environment rather than
// the state directory.
func (r *wireRecord) PushCommand(stateDir string, appID string) string {
	args := []string{"wxgate", "push", "--url", shellQuote(r.PushURL)}
	if stateDir != "" {
		args = append(args, "--state-dir", shellQuote(stateDir))
	}
	if appID != "" {
		args = append(args, "--appid", appID)
	}
	args = append(args, "--mode", r.Mode.String(), "--format", r.Format.String(), "--openid", shellQuote(r.OpenID))
	args = append(args, r.command...)
	return strings.Join(args, " ")
}

// shellQuote quotes s for a POSIX shell: in single quotes, each single
// quote written as '\”.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}
