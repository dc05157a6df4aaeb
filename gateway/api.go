package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wxgate/wxgate/store"
)

// The /v1/ admin API: stored messages, their deliveries and attempts, dead
// letters and redelivery. Every route takes `Authorization: Bearer <key>`;
// errors are {"error":{"code":"…","message":"…"}} (see docs/api.md).

func (g *Gateway) apiRoutes(mux *http.ServeMux) {
	if g.adminToken == "" {
		return
	}
	route := func(pattern string, scope string, h func(w http.ResponseWriter, r *http.Request)) {
		mux.HandleFunc(pattern, g.authorize(scope, h))
	}
	route("GET /v1/messages", "read", g.listMessages)
	route("GET /v1/messages/{id}", "read", g.getMessage)
	route("POST /v1/messages/{id}/redeliver", "admin", g.redeliverMessage)
	route("GET /v1/dead-letters", "read", g.listDeadLetters)
	route("POST /v1/dead-letters/redeliver", "admin", g.redeliverDead)
	mux.HandleFunc("/v1/", g.authorize("", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path)
	}))
}

// authorize checks the bearer key in constant time. The admin token holds
// every scope; scope is kept for the API keys of the send API.
func (g *Gateway) authorize(scope string, h http.HandlerFunc) http.HandlerFunc {
	want := sha256.Sum256([]byte(g.adminToken))
	return func(w http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || key == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="wxgate"`)
			apiError(w, http.StatusUnauthorized, "unauthorized", "an Authorization: Bearer key is required")
			return
		}
		// Hashes first, so that the compare takes the same time whatever
		// the key's length.
		got := sha256.Sum256([]byte(key))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="wxgate", error="invalid_token"`)
			apiError(w, http.StatusUnauthorized, "unauthorized", "unknown key")
			return
		}
		_ = scope
		h(w, r)
	}
}

// apiError writes the API's error shape.
func apiError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// storeError answers an error of the store.
func (g *Gateway) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		apiError(w, http.StatusNotFound, "not_found", "no such message")
	case errors.Is(err, store.ErrInvalidCursor):
		apiError(w, http.StatusBadRequest, "invalid_cursor", "the cursor is not one this API returned")
	case errors.Is(err, store.ErrInvalid):
		apiError(w, http.StatusBadRequest, "invalid_request", err.Error())
	case r.Context().Err() != nil:
		apiError(w, http.StatusServiceUnavailable, "canceled", "the request was canceled")
	default:
		g.log.Error("admin API: store error", "path", r.URL.Path, "err", err)
		apiError(w, http.StatusServiceUnavailable, "store_unavailable", "the store did not answer; try again")
	}
}

// messageJSON is a stored message as the API shows it: the webhook body's
// fields, plus how it arrived and the decrypted push.
type messageJSON struct {
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
	Message    json.RawMessage `json:"message,omitempty"`
	Raw        string          `json:"raw"`
	Reply      string          `json:"reply,omitempty"`
}

func toMessageJSON(m *store.Message) messageJSON {
	out := messageJSON{
		ID: m.ID, App: m.App, AppID: m.AppID, OpenID: m.OpenID, MsgType: m.MsgType, Event: m.Event,
		CreateTime: m.CreateTime, ReceivedAt: m.ReceivedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		Format: m.Format, Mode: m.Mode, Raw: string(m.Raw), Reply: string(m.Reply),
	}
	var body struct {
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(m.Payload, &body) == nil {
		out.Message = body.Message
	}
	return out
}

func (g *Gateway) listMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.Filter{App: q.Get("app"), OpenID: q.Get("openid"), MsgType: q.Get("msg_type"), Event: q.Get("event")}
	var err error
	if f.Since, err = parseTimeParam(q.Get("since")); err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request", "since: "+err.Error())
		return
	}
	if f.Until, err = parseTimeParam(q.Get("until")); err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request", "until: "+err.Error())
		return
	}
	if f.Limit, err = parseLimit(q.Get("limit")); err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request", "limit: "+err.Error())
		return
	}
	msgs, next, err := g.store.List(r.Context(), f, q.Get("cursor"))
	if err != nil {
		g.storeError(w, r, err)
		return
	}
	out := make([]messageJSON, len(msgs))
	for i := range msgs {
		out[i] = toMessageJSON(&msgs[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": out, "next_cursor": next})
}

type attemptJSON struct {
	N          int    `json:"n"`
	StartedAt  string `json:"started_at"`
	DurationMs int64  `json:"duration_ms"`
	Status     int    `json:"status,omitempty"`
	Error      string `json:"error,omitempty"`
}

type deliveryJSON struct {
	MessageID     string        `json:"message_id"`
	App           string        `json:"app"`
	Destination   string        `json:"destination"`
	State         string        `json:"state"`
	Attempts      int           `json:"attempts"`
	NextAttemptAt string        `json:"next_attempt_at,omitempty"`
	LastError     string        `json:"last_error,omitempty"`
	DeliveredAt   string        `json:"delivered_at,omitempty"`
	AttemptLog    []attemptJSON `json:"attempt_log,omitempty"`
}

func apiTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func toDeliveryJSON(d store.Delivery) deliveryJSON {
	out := deliveryJSON{MessageID: d.MessageID, App: d.App, Destination: d.Destination, State: string(d.State),
		Attempts: d.Attempts, LastError: d.LastError, DeliveredAt: apiTime(d.DeliveredAt)}
	if d.State == store.Pending {
		out.NextAttemptAt = apiTime(d.NextAttemptAt)
	}
	return out
}

func (g *Gateway) getMessage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !store.ValidID(id) {
		apiError(w, http.StatusNotFound, "not_found", "no such message")
		return
	}
	m, err := g.store.Get(r.Context(), id)
	if err != nil {
		g.storeError(w, r, err)
		return
	}
	deliveries, attempts, err := g.store.Deliveries(r.Context(), id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		g.storeError(w, r, err)
		return
	}
	ds := make([]deliveryJSON, len(deliveries))
	for i, d := range deliveries {
		ds[i] = toDeliveryJSON(d)
		for _, a := range attempts {
			if a.Destination == d.Destination {
				ds[i].AttemptLog = append(ds[i].AttemptLog, attemptJSON{N: a.N, StartedAt: apiTime(a.StartedAt),
					DurationMs: a.Duration.Milliseconds(), Status: a.Status, Error: a.Error})
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": toMessageJSON(m), "deliveries": ds})
}

func (g *Gateway) redeliverMessage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !store.ValidID(id) {
		apiError(w, http.StatusNotFound, "not_found", "no such message")
		return
	}
	n, err := g.store.Redeliver(r.Context(), id, r.URL.Query().Get("destination"))
	if err != nil {
		g.storeError(w, r, err)
		return
	}
	g.notify()
	writeJSON(w, http.StatusOK, map[string]any{"redelivered": n})
}

func (g *Gateway) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request", "limit: "+err.Error())
		return
	}
	dead, next, err := g.store.DeadLetters(r.Context(), store.DeadFilter{App: q.Get("app"), Destination: q.Get("destination"), Limit: limit}, q.Get("cursor"))
	if err != nil {
		g.storeError(w, r, err)
		return
	}
	out := make([]deliveryJSON, len(dead))
	for i, d := range dead {
		out[i] = toDeliveryJSON(d)
	}
	writeJSON(w, http.StatusOK, map[string]any{"dead_letters": out, "next_cursor": next})
}

func (g *Gateway) redeliverDead(w http.ResponseWriter, r *http.Request) {
	n, err := g.store.RedeliverDead(r.Context(), r.URL.Query().Get("destination"))
	if err != nil {
		g.storeError(w, r, err)
		return
	}
	g.notify()
	writeJSON(w, http.StatusOK, map[string]any{"redelivered": n})
}

func parseTimeParam(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("want an RFC 3339 time such as 2026-11-29T08:00:00Z")
	}
	return t, nil
}

func parseLimit(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > store.MaxListLimit {
		return 0, errors.New("want a whole number from 1 to " + strconv.Itoa(store.MaxListLimit))
	}
	return n, nil
}
