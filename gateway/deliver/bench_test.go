package deliver_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/wxgate/wxgate/gateway/deliver"
	"github.com/wxgate/wxgate/store"
	"github.com/wxgate/wxgate/store/sqlite"
)

// BenchmarkEngineSQLite measures how fast one webhook destination drains a
// backlog on a durable SQLite store, the webhook answering at once:
//
//	go test -run '^$' -bench EngineSQLite -benchtime 1x ./gateway/deliver
func BenchmarkEngineSQLite(b *testing.B) {
	for _, conc := range []int{8, 64} {
		b.Run("concurrency="+strconv.Itoa(conc), func(b *testing.B) {
			const n = 20000
			ctx := context.Background()
			s, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(b.TempDir(), "bench.db")})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			for i := 0; i < n; i += 500 {
				batch := make([]store.NewMessage, 0, 500)
				for j := i; j < i+500; j++ {
					key := strconv.Itoa(j)
					batch = append(batch, store.NewMessage{App: "default", MsgType: "text", DedupKey: key, Raw: []byte("<xml/>"),
						Payload: payloadFor(store.MessageID("default", key)), Destinations: []string{"hook"}})
				}
				if _, err := s.Append(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			defer srv.Close()
			w, err := deliver.NewWebhook(deliver.WebhookConfig{Name: "hook", URL: srv.URL, Secrets: [][]byte{secretNew}})
			if err != nil {
				b.Fatal(err)
			}
			e, err := deliver.New(s, []deliver.Destination{w}, "", deliver.Options{Concurrency: conc, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			t0 := time.Now()
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- e.Run(rctx) }()
			for {
				st, err := s.DeliveryStats(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if len(st) == 0 {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			el := time.Since(t0)
			cancel()
			<-done
			b.ReportMetric(n/el.Seconds(), "deliveries/s")
		})
	}
}
