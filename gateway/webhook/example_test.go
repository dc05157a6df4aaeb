package webhook_test

import (
	"errors"
	"io"
	"log"
	"net/http"
	"os"

	"github.com/wxgate/wxgate/gateway/webhook"
)

// A Go receiver of wxgate's webhook: verify, decode, dedup by id, 2xx.
func ExampleParseEvent() {
	secret := []byte(os.Getenv("WXGATE_WEBHOOK_SECRET"))
	http.HandleFunc("/wechat-events", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "cannot read", http.StatusBadRequest)
			return
		}
		ev, err := webhook.ParseEvent(body, r.Header.Get(webhook.HeaderSignature), secret)
		if errors.Is(err, webhook.ErrSignature) || errors.Is(err, webhook.ErrTimestamp) || errors.Is(err, webhook.ErrNoSignature) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		} else if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		// Deliveries are at least once: ev.ID is stable, keep it unique.
		log.Printf("%s from %s: %s %s", ev.ID, ev.OpenID, ev.MsgType, ev.Message)
		w.WriteHeader(http.StatusNoContent)
	})
}
