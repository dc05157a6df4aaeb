package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wxgate/wxgate/gateway/config"
	"github.com/wxgate/wxgate/store"
)

// The /v1/ API: stored messages, their deliveries and attempts, dead
// letters and redelivery (api.go), and the send API (sendapi*.go). Every
// route but the OpenAPI document takes `Authorization: Bearer <key>`;
// errors are {"error":{"code":"…","message":"…"}} (see docs/api.md).

// apiHandler is a /v1/ handler, given the caller.
type apiHandler func(g *Gateway, w http.ResponseWriter, r *http.Request, p *principal)

// apiRoute is one /v1/ route: its ServeMux pattern, the scope it needs
// and its handler. Patterns with {app} also need the key to hold the app.
type apiRoute struct {
	pattern string
	scope   string
	handler apiHandler
}

// apiRouteTable is every authenticated /v1/ route; openapi.json documents
// each one (a test holds them in step).
var apiRouteTable = []apiRoute{
	{"GET /v1/messages", config.ScopeRead, (*Gateway).listMessages},
	{"GET /v1/messages/{id}", config.ScopeRead, (*Gateway).getMessage},
	{"POST /v1/messages/{id}/redeliver", config.ScopeAdmin, (*Gateway).redeliverMessage},
	{"GET /v1/dead-letters", config.ScopeRead, (*Gateway).listDeadLetters},
	{"POST /v1/dead-letters/redeliver", config.ScopeAdmin, (*Gateway).redeliverDead},
	{"POST /v1/apps/{app}/messages", config.ScopeSend, (*Gateway).sendMessage},
	{"POST /v1/apps/{app}/typing", config.ScopeSend, (*Gateway).sendTyping},
	{"POST /v1/apps/{app}/media", config.ScopeSend, (*Gateway).uploadMedia},
	{"GET /v1/apps/{app}/media/{media_id}", config.ScopeRead, (*Gateway).downloadMedia},
	{"POST /v1/apps/{app}/subscribe-messages", config.ScopeSend, (*Gateway).sendSubscribe},
	{"GET /v1/apps/{app}/access-token", config.ScopeToken, (*Gateway).accessToken},
	{"GET /v1/apps/{app}/users/{openid}/conversation", config.ScopeRead, (*Gateway).conversation},
}

// openAPIDocPattern serves the OpenAPI document, without a key.
const openAPIDocPattern = "GET /v1/openapi.json"

// apiOn reports whether the /v1/ API is served: with an admin token or
// at least one API key.
func (g *Gateway) apiOn() bool { return g.adminToken != "" || len(g.apiKeys) > 0 }

func (g *Gateway) apiRoutes(mux *http.ServeMux) {
	if !g.apiOn() {
		return
	}
	for _, rt := range apiRouteTable {
		mux.HandleFunc(rt.pattern, g.authorize(rt.scope, strings.Contains(rt.pattern, "{app}"), rt.handler))
	}
	mux.HandleFunc(openAPIDocPattern, g.serveOpenAPIDoc)
	mux.HandleFunc("/v1/", g.authorize("", false, func(_ *Gateway, w http.ResponseWriter, r *http.Request, _ *principal) {
		apiError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path)
	}))
}

// principal is the caller of an API request: the admin token or an API
// key.
type principal struct {
	name   string         // the key's name, "admin" for the admin token; logged
	sender string         // "admin" or "api:<name>", in outbound records and idempotency scopes
	key    *config.APIKey // nil for the admin token
}

// hasScope reports whether p holds scope for at least one app.
func (p *principal) hasScope(scope string) bool {
	return p.key == nil || scope == "" || slices.Contains(p.key.Scopes, scope)
}

// allows reports whether p may use scope on app.
func (p *principal) allows(app, scope string) bool {
	return p.key == nil || p.key.Allows(app, scope)
}

// allApps reports whether p may use every app.
func (p *principal) allApps() bool {
	return p.key == nil || slices.Contains(p.key.Apps, "*")
}

// identify finds the key presented, or nil. Every configured key is
// compared, in constant time each, whichever matches: the time taken does
// not tell which key matched or how much of one did.
func (g *Gateway) identify(presented string) *principal {
	var found *principal
	if g.adminToken != "" {
		// Hashes first, so that the compare takes the same time whatever
		// the key's length.
		want, got := sha256.Sum256([]byte(g.adminToken)), sha256.Sum256([]byte(presented))
		if subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
			found = &principal{name: "admin", sender: "admin"}
		}
	}
	for i := range g.apiKeys {
		k := &g.apiKeys[i]
		if k.Match(presented) && found == nil {
			found = &principal{name: k.Name, sender: "api:" + k.Name, key: k}
		}
	}
	return found
}

// authorize checks the bearer key, then the scope and, for app-scoped
// routes, the app: 401 without a known key, 403 when the key lacks the
// scope or the app, 404 for an app the gateway does not serve. It logs one
// line per call with the key's name, never the key.
func (g *Gateway) authorize(scope string, appScoped bool, h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		name := "-"
		defer func() {
			if sw.status == 0 {
				sw.status = http.StatusOK // nothing written: net/http answers 200
			}
			level := slog.LevelInfo
			if sw.status >= 500 {
				level = slog.LevelWarn
			}
			if g.log.Enabled(r.Context(), level) {
				route := r.Pattern
				if route == "" {
					route = r.Method + " " + r.URL.Path
				}
				attrs := []slog.Attr{slog.String("method", r.Method), slog.String("route", route), slog.String("key", name),
					slog.Int("status", sw.status), slog.Duration("latency", time.Since(start))}
				if app := r.PathValue("app"); app != "" {
					attrs = append(attrs, slog.String("app", app))
				}
				g.log.LogAttrs(r.Context(), level, "api call", attrs...)
			}
		}()
		presented, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || presented == "" {
			sw.Header().Set("WWW-Authenticate", `Bearer realm="wxgate"`)
			apiError(sw, http.StatusUnauthorized, "unauthorized", "an Authorization: Bearer key is required")
			return
		}
		p := g.identify(presented)
		if p == nil {
			sw.Header().Set("WWW-Authenticate", `Bearer realm="wxgate", error="invalid_token"`)
			apiError(sw, http.StatusUnauthorized, "unauthorized", "unknown key")
			return
		}
		name = p.name
		if !p.hasScope(scope) {
			apiError(sw, http.StatusForbidden, "forbidden", "this key lacks the "+scope+" scope")
			return
		}
		if appScoped {
			app := r.PathValue("app")
			if !p.allows(app, scope) {
				apiError(sw, http.StatusForbidden, "forbidden", "this key may not use app "+strconv.Quote(app))
				return
			}
			if !g.hasApp(app) {
				apiError(sw, http.StatusNotFound, "not_found", "no such app: "+strconv.Quote(app))
				return
			}
		}
		h(g, sw, r, p)
	}
}

// hasApp reports whether the gateway serves an app named name.
func (g *Gateway) hasApp(name string) bool {
	for _, a := range g.apps {
		if a.app.Name == name {
			return true
		}
	}
	return false
}

// statusWriter remembers the status written, for the log line.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// appFilter is the app a listing is limited to for p: the app asked for
// (403 when p may not read it), else p's only app, else every app. A key
// of several apps (but not "*") must name one: false means the answer was
// written.
func appFilter(w http.ResponseWriter, p *principal, asked, scope string) (string, bool) {
	switch {
	case asked != "":
		if !p.allows(asked, scope) {
			apiError(w, http.StatusForbidden, "forbidden", "this key may not use app "+strconv.Quote(asked))
			return "", false
		}
		return asked, true
	case p.allApps():
		return "", true
	case len(p.key.Apps) == 1:
		return p.key.Apps[0], true
	}
	apiError(w, http.StatusBadRequest, "invalid_request", "app: this key holds several apps; choose one with ?app=")
	return "", false
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

func (g *Gateway) listMessages(w http.ResponseWriter, r *http.Request, p *principal) {
	q := r.URL.Query()
	app, ok := appFilter(w, p, q.Get("app"), config.ScopeRead)
	if !ok {
		return
	}
	f := store.Filter{App: app, OpenID: q.Get("openid"), MsgType: q.Get("msg_type"), Event: q.Get("event")}
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

func (g *Gateway) getMessage(w http.ResponseWriter, r *http.Request, p *principal) {
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
	if !p.allows(m.App, config.ScopeRead) {
		apiError(w, http.StatusForbidden, "forbidden", "this key may not use the app of this message")
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

func (g *Gateway) redeliverMessage(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	if !store.ValidID(id) {
		apiError(w, http.StatusNotFound, "not_found", "no such message")
		return
	}
	if !p.allApps() {
		m, err := g.store.Get(r.Context(), id)
		if err != nil {
			g.storeError(w, r, err)
			return
		}
		if !p.allows(m.App, config.ScopeAdmin) {
			apiError(w, http.StatusForbidden, "forbidden", "this key may not use the app of this message")
			return
		}
	}
	n, err := g.store.Redeliver(r.Context(), id, r.URL.Query().Get("destination"))
	if err != nil {
		g.storeError(w, r, err)
		return
	}
	g.notify()
	writeJSON(w, http.StatusOK, map[string]any{"redelivered": n})
}

func (g *Gateway) listDeadLetters(w http.ResponseWriter, r *http.Request, p *principal) {
	q := r.URL.Query()
	app, ok := appFilter(w, p, q.Get("app"), config.ScopeRead)
	if !ok {
		return
	}
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request", "limit: "+err.Error())
		return
	}
	dead, next, err := g.store.DeadLetters(r.Context(), store.DeadFilter{App: app, Destination: q.Get("destination"), Limit: limit}, q.Get("cursor"))
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

func (g *Gateway) redeliverDead(w http.ResponseWriter, r *http.Request, p *principal) {
	dest := r.URL.Query().Get("destination")
	if !p.allApps() {
		// RedeliverDead has no app filter: a key of some apps names a
		// destination of one of them.
		app := g.destinationApp(dest)
		if dest == "" || app == "" || !p.allows(app, config.ScopeAdmin) {
			apiError(w, http.StatusForbidden, "forbidden", "this key may redeliver only the destinations of its apps: name one with ?destination=")
			return
		}
	}
	n, err := g.store.RedeliverDead(r.Context(), dest)
	if err != nil {
		g.storeError(w, r, err)
		return
	}
	g.notify()
	writeJSON(w, http.StatusOK, map[string]any{"redelivered": n})
}

// destinationApp is the app that delivers to dest, "" if none.
func (g *Gateway) destinationApp(dest string) string {
	for _, a := range g.apps {
		if slices.Contains(a.app.Destinations, dest) {
			return a.app.Name
		}
	}
	return ""
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
