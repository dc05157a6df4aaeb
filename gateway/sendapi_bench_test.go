package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkSendPath measures POST /v1/apps/{app}/messages against the mock
// Open API (in process, on loopback, no latency added) and, in the same
// run and interleaved with it, the same custom/send called directly with
// the app's Open API client: the difference is what the gateway adds
// (auth, validation, the outbound record, the idempotency key).
//
//	go test ./gateway/ -run '^$' -bench BenchmarkSendPath -benchtime 2000x
func BenchmarkSendPath(b *testing.B) {
	for _, idem := range []bool{false, true} {
		name := "plain"
		if idem {
			name = "idempotency-key"
		}
		b.Run(name, func(b *testing.B) {
			sf := newSendFixture(b, defaultBackend(), nil, nil)
			openid := sf.world.NewUser().OpenID
			c := sf.clients["default"]
			ctx := context.Background()
			if _, err := c.Token(ctx); err != nil {
				b.Fatal(err)
			}
			body, _ := json.Marshal(textBody(openid, "benchmark"))
			direct := make([]time.Duration, 0, b.N)
			api := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				now := sf.mock.Clock().Now()
				sf.world.NoteUserMessage(openid, now) // a fresh window for both sends

				t0 := time.Now()
				err := c.PostJSON(ctx, "cgi-bin/message/custom/send", json.RawMessage(body), nil)
				direct = append(direct, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}

				r := httptest.NewRequest(http.MethodPost, "/v1/apps/default/messages", bytes.NewReader(body))
				r.Header.Set("Authorization", "Bearer "+keyCRM)
				if idem {
					r.Header.Set("Idempotency-Key", "bench-"+strconv.Itoa(i))
				}
				rec := httptest.NewRecorder()
				t1 := time.Now()
				sf.handler.ServeHTTP(rec, r)
				api = append(api, time.Since(t1))
				if rec.Code != http.StatusOK {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
			b.StopTimer()
			dp99, dmean := p99mean(direct)
			ap99, amean := p99mean(api)
			b.ReportMetric(float64(dp99.Microseconds()), "mock-p99-µs")
			b.ReportMetric(float64(ap99.Microseconds()), "api-p99-µs")
			b.ReportMetric(float64((ap99 - dp99).Microseconds()), "added-p99-µs")
			b.ReportMetric(float64((amean - dmean).Microseconds()), "added-mean-µs")
			b.Logf("backend %s, n=%d: mock p99 %v mean %v; API p99 %v mean %v", sf.backend, len(api), dp99, dmean, ap99, amean)
		})
	}
}

func p99mean(d []time.Duration) (time.Duration, time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	var sum time.Duration
	for _, v := range s {
		sum += v
	}
	return s[min(len(s)-1, len(s)*99/100)], sum / time.Duration(len(s))
}
