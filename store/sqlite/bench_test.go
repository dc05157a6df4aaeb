package sqlite_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/wxgate/wxgate/store"
	"github.com/wxgate/wxgate/store/sqlite"
	"github.com/wxgate/wxgate/store/storetest"
)

// BenchmarkAppend: distinct pushes into a durable (synchronous=FULL) file.
func BenchmarkAppend(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("sync="+sync, func(b *testing.B) {
			var stats storetest.BatchStats
			s, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(b.TempDir(), "bench.db"), Synchronous: sync, Options: store.Options{OnBatch: stats.OnBatch}})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storetest.BenchAppend(b, s, &stats)
		})
	}
}

// BenchmarkAppendAndDeliver: durable pushes to one destination while one
// Cycle loop delivers them (its cycles join the group-commit batches), as
// fast as the store takes them and paced at the target rate.
func BenchmarkAppendAndDeliver(b *testing.B) {
	for _, rate := range []int{0, 5000} {
		b.Run("rate="+strconv.Itoa(rate), func(b *testing.B) {
			var stats storetest.BatchStats
			s, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(b.TempDir(), "bench.db"), Options: store.Options{OnBatch: stats.OnBatch}})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storetest.BenchAppendAndDeliver(b, s, &stats, rate)
		})
	}
}
