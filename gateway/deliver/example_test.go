package deliver_test

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wxgate/wxgate/gateway/deliver"
	"github.com/wxgate/wxgate/gateway/webhook"
	"github.com/wxgate/wxgate/store"
	"github.com/wxgate/wxgate/store/sqlite"
)

// How `wxgate serve` wires the engine: the store that keeps the
// deliveries, a signed webhook and a NATS stream, one Run until SIGTERM,
// and a Notify after each stored batch.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	db, err := sqlite.Open(ctx, sqlite.Options{Path: "wxgate.db"})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	hook, err := deliver.NewWebhook(deliver.WebhookConfig{
		Name:    "webhook",
		URL:     "https://api.example.com/wechat",
		Secrets: [][]byte{[]byte(os.Getenv("WXGATE_WEBHOOK_SECRET"))},
		Version: "1.0.0",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer hook.Close()
	stream, err := deliver.NewNATS(deliver.NATSConfig{URL: "nats://127.0.0.1:4222"})
	if err != nil {
		log.Fatal(err)
	}
	defer stream.Close()

	engine, err := deliver.New(db, []deliver.Destination{hook, stream}, "", deliver.Options{
		OnAttempt: func(dest string, a store.Attempt, delivered bool) {
			// e.g. deliveries_total{destination, result}.Inc()
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- engine.Run(ctx) }()

	// The push pipeline: store with one delivery per destination, answer
	// WeChat, then wake the engine.
	now := time.Now()
	payload, err := webhook.AppendEvent(nil, &webhook.Event{
		ID: store.MessageID("default", "24607418011234567"), App: "default", AppID: "wx…", OpenID: "o…",
		MsgType: "text", CreateTime: now.Unix(), ReceivedAt: webhook.FormatTime(now),
		Message: []byte(`{"MsgType":"text","Content":"hi","MsgId":24607418011234567}`),
	})
	if err != nil {
		log.Fatal(err)
	}
	_, err = db.Append(ctx, []store.NewMessage{{
		App: "default", AppID: "wx…", OpenID: "o…", MsgType: "text", DedupKey: "24607418011234567",
		Raw: []byte("<xml>…</xml>"), Payload: payload, ReceivedAt: now, Destinations: []string{"webhook", "nats"},
	}})
	if err == nil {
		engine.Notify()
	}

	// On SIGTERM Run drains what is in flight and gives the rest back.
	if err := <-done; err != nil {
		log.Print(err)
	}
}
