package web

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wxgate/wxgate/gateway/webhook"
)

// Webhook is the sample webhook of `wxgate dev`: it plays the developer's
// code behind the gateway. It checks each delivery's signature, answers
// a text message with an echo through the gateway's {"replies":[…]}, and
// can be made slow or failing from Settings, to watch retries and dead
// letters.
type Webhook struct {
	secret  []byte
	delay   time.Duration
	slow    atomic.Bool
	failing atomic.Bool
	calls   atomic.Int64
}

// WebhookDelay is how long the sample webhook waits when slow: longer
// than the delivery timeout of the development configuration (2 s).
const WebhookDelay = 3 * time.Second

// maxWebhookBody caps a delivery's body.
const maxWebhookBody = 4 << 20

// NewWebhook returns the sample webhook, checking signatures with secret.
func NewWebhook(secret string) *Webhook {
	return &Webhook{secret: []byte(secret), delay: WebhookDelay}
}

// SetSlow makes every answer wait WebhookDelay (or until the gateway hangs
// up), or not.
func (h *Webhook) SetSlow(on bool) { h.slow.Store(on) }

// Slow reports whether the webhook answers slowly.
func (h *Webhook) Slow() bool { return h.slow.Load() }

// SetFailing makes the webhook answer 500, or not.
func (h *Webhook) SetFailing(on bool) { h.failing.Store(on) }

// Failing reports whether the webhook answers 500.
func (h *Webhook) Failing() bool { return h.failing.Load() }

// Calls is the number of deliveries the webhook received.
func (h *Webhook) Calls() int64 { return h.calls.Load() }

// ServeHTTP answers one delivery.
func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.calls.Add(1)
	body, err := io.ReadAll(io.LimitReader(r.Body, maxWebhookBody+1))
	if err != nil || len(body) > maxWebhookBody {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	ev, err := webhook.ParseEvent(body, r.Header.Get(webhook.HeaderSignature), h.secret)
	if err != nil {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if h.slow.Load() {
		t := time.NewTimer(h.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if h.failing.Load() {
		http.Error(w, "failing on purpose (wxgate dev settings)", http.StatusInternalServerError)
		return
	}
	if ev.MsgType != "text" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var m struct {
		Content string `json:"Content"`
	}
	_ = json.Unmarshal(ev.Message, &m)
	text := "webhook 收到 / received: " + m.Content
	if order := orderPattern.FindStringSubmatch(strings.TrimSpace(m.Content)); order != nil {
		// The sample rule "order" shows the typing indicator meanwhile.
		t := time.NewTimer(orderLookup)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
		text = "订单 " + order[1] + " 已发货 / Order " + order[1] + " has shipped."
	}
	reply := map[string]any{"replies": []any{map[string]any{"msgtype": "text", "text": map[string]string{"content": text}}}}
	writeJSON(w, http.StatusOK, reply)
}

// orderPattern is what the sample rule "order" matches; the webhook
// "looks the order up" for orderLookup, to show the typing indicator.
var orderPattern = regexp.MustCompile(`(?i)^(?:订单|order)\s*(\d+)$`)

const orderLookup = 1200 * time.Millisecond
