package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/wxgate/wxgate/store/sqlite"
	"github.com/wxgate/wxgate/store/storetest"
)

// TestOutboundSuite runs the OutboundStore suite; newDB is the suite's.
func TestOutboundSuite(t *testing.T) {
	storetest.RunOutbound(t, newDB)
}

func BenchmarkOutbound(b *testing.B) {
	s, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(b.TempDir(), "wxgate.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchOutbound(b, s)
}
