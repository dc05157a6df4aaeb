package postgres_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/wxgate/wxgate/store"
	"github.com/wxgate/wxgate/store/postgres"
	"github.com/wxgate/wxgate/store/storetest"
)

// BenchmarkAppend: distinct pushes, committed durably (with the server's
// synchronous_commit, on here).
func BenchmarkAppend(b *testing.B) {
	url := testURL(b)
	var stats storetest.BatchStats
	s, err := postgres.Open(context.Background(), postgres.Options{URL: url, Schema: newSchema(b, url), Options: store.Options{OnBatch: stats.OnBatch}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchAppend(b, s, &stats)
}

// BenchmarkAppendAndDeliver: durable pushes to one destination while one
// Cycle loop delivers them, as fast as the store takes them and paced at
// the target rate.
func BenchmarkAppendAndDeliver(b *testing.B) {
	url := testURL(b)
	for _, rate := range []int{0, 3000} {
		b.Run("rate="+strconv.Itoa(rate), func(b *testing.B) {
			var stats storetest.BatchStats
			s, err := postgres.Open(context.Background(), postgres.Options{URL: url, Schema: newSchema(b, url), Options: store.Options{OnBatch: stats.OnBatch}})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storetest.BenchAppendAndDeliver(b, s, &stats, rate)
		})
	}
}
