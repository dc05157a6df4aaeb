package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// gatewayAPI calls the gateway's /v1/ API and /metrics in-process, with
// the admin token, as any script would over HTTP.
type gatewayAPI struct {
	h     http.Handler
	token string
}

// apiError is an error answer of the /v1/ API.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	if e.Message == "" {
		return "HTTP " + strconv.Itoa(e.Status)
	}
	return e.Message
}

// errNotFound matches a 404 answer with errors.Is.
var errNotFound = errors.New("web: not found")

// Is makes errors.Is(err, errNotFound) true for a 404.
func (e *apiError) Is(target error) bool {
	return target == errNotFound && e.Status == http.StatusNotFound
}

// recorder is a minimal http.ResponseWriter that keeps the answer.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// do serves one request and returns the answer's status and body.
func (a *gatewayAPI) do(ctx context.Context, method, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://console.invalid"+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.RemoteAddr = "127.0.0.1:0"
	req.Header.Set("Authorization", "Bearer "+a.token)
	rec := &recorder{header: http.Header{}}
	a.h.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.status, rec.body.Bytes(), nil
}

// call does a /v1/ request and decodes its JSON answer into v.
func (a *gatewayAPI) call(ctx context.Context, method, path string, v any) error {
	status, body, err := a.do(ctx, method, path)
	if err != nil {
		return err
	}
	if status/100 != 2 {
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		return &apiError{Status: status, Code: e.Error.Code, Message: e.Error.Message}
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("web: the answer of %s %s: %w", method, path, err)
	}
	return nil
}

// apiMessage is a stored push as /v1/messages shows it.
type apiMessage struct {
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
	Raw        string          `json:"raw"`
	Reply      string          `json:"reply"`
}

// Kind is the event's name for an event, else the msgtype.
func (m *apiMessage) Kind() string {
	if m.Event != "" {
		return m.Event
	}
	return m.MsgType
}

// Summary is what the push says, in a few words: a text's content, a
// card's title, the session's SessionFrom.
func (m *apiMessage) Summary() string {
	var f struct {
		Content     string `json:"Content"`
		Title       string `json:"Title"`
		SessionFrom string `json:"SessionFrom"`
	}
	_ = json.Unmarshal(m.Message, &f)
	switch {
	case f.Content != "":
		return f.Content
	case f.Title != "":
		return f.Title
	}
	return f.SessionFrom
}

// apiAttempt is one delivery attempt.
type apiAttempt struct {
	N          int    `json:"n"`
	StartedAt  string `json:"started_at"`
	DurationMs int64  `json:"duration_ms"`
	Status     int    `json:"status"`
	Error      string `json:"error"`
}

// apiDelivery is one delivery of a stored push.
type apiDelivery struct {
	MessageID     string       `json:"message_id"`
	App           string       `json:"app"`
	Destination   string       `json:"destination"`
	State         string       `json:"state"`
	Attempts      int          `json:"attempts"`
	NextAttemptAt string       `json:"next_attempt_at"`
	LastError     string       `json:"last_error"`
	DeliveredAt   string       `json:"delivered_at"`
	AttemptLog    []apiAttempt `json:"attempt_log"`
}

// apiConversationItem is one item of a user's conversation.
type apiConversationItem struct {
	Direction string          `json:"direction"`
	ID        string          `json:"id"`
	At        string          `json:"at"`
	MsgType   string          `json:"msg_type"`
	Kind      string          `json:"kind"`
	Sender    string          `json:"sender"`
	Message   json.RawMessage `json:"message"`
	Request   json.RawMessage `json:"request"`
	Result    *struct {
		OK      bool   `json:"ok"`
		ErrCode int    `json:"errcode"`
		Error   string `json:"error"`
	} `json:"result"`
}

// Summary is what the item says: a text's content or an event's name
// for a push, a text's content or the message type for what was sent.
func (it *apiConversationItem) Summary() string {
	var in struct {
		Event   string `json:"Event"`
		Content string `json:"Content"`
	}
	var out struct {
		Text struct {
			Content string `json:"content"`
		} `json:"text"`
		Link struct {
			Title string `json:"title"`
		} `json:"link"`
		MiniProgramPage struct {
			Title string `json:"title"`
		} `json:"miniprogrampage"`
		Command string `json:"command"`
	}
	if it.Direction == "in" {
		_ = json.Unmarshal(it.Message, &in)
		if in.Content != "" {
			return in.Content
		}
		return in.Event
	}
	_ = json.Unmarshal(it.Request, &out)
	for _, s := range []string{out.Text.Content, out.Link.Title, out.MiniProgramPage.Title, out.Command} {
		if s != "" {
			return s
		}
	}
	return ""
}

func (a *gatewayAPI) messages(ctx context.Context, cursor string, limit int) ([]apiMessage, string, error) {
	path := "/v1/messages?limit=" + strconv.Itoa(limit)
	if cursor != "" {
		path += "&cursor=" + url.QueryEscape(cursor)
	}
	var out struct {
		Messages   []apiMessage `json:"messages"`
		NextCursor string       `json:"next_cursor"`
	}
	err := a.call(ctx, http.MethodGet, path, &out)
	return out.Messages, out.NextCursor, err
}

func (a *gatewayAPI) message(ctx context.Context, id string) (*apiMessage, []apiDelivery, error) {
	var out struct {
		Message    apiMessage    `json:"message"`
		Deliveries []apiDelivery `json:"deliveries"`
	}
	if err := a.call(ctx, http.MethodGet, "/v1/messages/"+url.PathEscape(id), &out); err != nil {
		return nil, nil, err
	}
	return &out.Message, out.Deliveries, nil
}

func (a *gatewayAPI) deadLetters(ctx context.Context, limit int) ([]apiDelivery, error) {
	var out struct {
		DeadLetters []apiDelivery `json:"dead_letters"`
	}
	err := a.call(ctx, http.MethodGet, "/v1/dead-letters?limit="+strconv.Itoa(limit), &out)
	return out.DeadLetters, err
}

func (a *gatewayAPI) conversation(ctx context.Context, app, openid string, limit int) ([]apiConversationItem, error) {
	var out struct {
		Items []apiConversationItem `json:"items"`
	}
	err := a.call(ctx, http.MethodGet, "/v1/apps/"+url.PathEscape(app)+"/users/"+url.PathEscape(openid)+"/conversation?limit="+strconv.Itoa(limit), &out)
	return out.Items, err
}

func (a *gatewayAPI) redeliver(ctx context.Context, id, destination string) (int, error) {
	path := "/v1/messages/" + url.PathEscape(id) + "/redeliver"
	if destination != "" {
		path += "?destination=" + url.QueryEscape(destination)
	}
	var out struct {
		Redelivered int `json:"redelivered"`
	}
	err := a.call(ctx, http.MethodPost, path, &out)
	return out.Redelivered, err
}

func (a *gatewayAPI) redeliverDead(ctx context.Context, destination string) (int, error) {
	path := "/v1/dead-letters/redeliver"
	if destination != "" {
		path += "?destination=" + url.QueryEscape(destination)
	}
	var out struct {
		Redelivered int `json:"redelivered"`
	}
	err := a.call(ctx, http.MethodPost, path, &out)
	return out.Redelivered, err
}

// counters are the gateway's totals, from /metrics.
type counters struct {
	Stored, Duplicates, Refused int64
	Delivered, Failed           int64
	Pending, Dead               int64
}

// metrics reads the counters from the gateway's /metrics (Prometheus
// text), summed over every label but the result.
func (a *gatewayAPI) metrics(ctx context.Context) (counters, error) {
	var c counters
	status, body, err := a.do(ctx, http.MethodGet, "/metrics")
	if err != nil {
		return c, err
	}
	if status != http.StatusOK {
		return c, &apiError{Status: status, Message: "/metrics answered " + strconv.Itoa(status)}
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		name, labels, value, ok := parseSample(sc.Text())
		if !ok {
			continue
		}
		n := int64(value)
		switch name {
		case "wxgate_pushes_total":
			switch labelValue(labels, "result") {
			case "ok":
				c.Stored += n
			case "duplicate":
				c.Duplicates += n
			default:
				c.Refused += n
			}
		case "wxgate_delivery_attempts_total":
			if labelValue(labels, "result") == "delivered" {
				c.Delivered += n
			} else {
				c.Failed += n
			}
		case "wxgate_deliveries_pending":
			c.Pending += n
		case "wxgate_deliveries_dead":
			c.Dead += n
		}
	}
	return c, sc.Err()
}

// parseSample splits a line of the Prometheus text format, `name{labels}
// value`, skipping comments.
func parseSample(line string) (name, labels string, value float64, ok bool) {
	if line == "" || line[0] == '#' {
		return "", "", 0, false
	}
	rest := line
	if i := strings.IndexByte(line, '{'); i >= 0 {
		j := strings.LastIndexByte(line, '}')
		if j < i {
			return "", "", 0, false
		}
		name, labels, rest = line[:i], line[i+1:j], line[j+1:]
	} else {
		var ok bool
		name, rest, ok = strings.Cut(line, " ")
		if !ok {
			return "", "", 0, false
		}
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return "", "", 0, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return "", "", 0, false
	}
	return name, labels, v, true
}

// labelValue returns the value of label name in a label set
// (`a="x",result="ok"`); the values the gateway uses need no unescaping.
func labelValue(labels, name string) string {
	for _, part := range strings.Split(labels, ",") {
		k, v, ok := strings.Cut(part, "=")
		if ok && strings.TrimSpace(k) == name {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
