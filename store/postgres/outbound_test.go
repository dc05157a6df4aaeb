package postgres_test

import (
	"context"
	"testing"

	"github.com/wxgate/wxgate/store/postgres"
	"github.com/wxgate/wxgate/store/storetest"
)

// TestOutboundSuite runs the OutboundStore suite, each subtest in a
// schema of its own; newDB is the suite's.
func TestOutboundSuite(t *testing.T) {
	storetest.RunOutbound(t, newDB)
}

// TestOutboundTablesInSchema: the outbound tables are created in the
// store's schema, never in public.
func TestOutboundTablesInSchema(t *testing.T) {
	url := testURL(t)
	schema := newSchema(t, url)
	ctx := context.Background()
	s, err := postgres.Open(ctx, postgres.Options{URL: url, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, table := range []string{"outbound", "idempotency_keys", "away_claims", "shared_tokens"} {
		var n int
		if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_name = $1 AND table_schema = $2`,
			table, schema).Scan(&n); err != nil || n != 1 {
			t.Fatalf("table %s in schema %s: %d, %v", table, schema, n, err)
		}
	}
}

func BenchmarkOutbound(b *testing.B) {
	url := testURL(b)
	s, err := postgres.Open(context.Background(), postgres.Options{URL: url, Schema: newSchema(b, url)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchOutbound(b, s)
}
