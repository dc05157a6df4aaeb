package rules

import (
	"context"
	"sync"
	"time"
)

// AwayLedger records which users got the away message of which closed
// period. Back it with shared storage (the gateway's store) when several
// replicas serve an app, so that a user gets it once however many serve
// them.
type AwayLedger interface {
	// Claim records that openid of app gets the away message of the
	// closed period that began at period, and reports whether this call
	// made the record: true once per (app, openid, period), false after.
	Claim(ctx context.Context, app, openid string, period time.Time) (bool, error)
}

// ledgerKeep is how long MemoryLedger keeps a claim, counted back from
// the newest period claimed: longer than any closed period (a week at
// most), so that a claim outlives its period.
const ledgerKeep = 8 * 24 * time.Hour

// ledgerSweepEvery is how many claims go between sweeps of old ones.
const ledgerSweepEvery = 4096

// MemoryLedger is an AwayLedger in memory, for a single instance. It
// keeps one period per user, the latest: a claim of an earlier period
// than the user's latest is refused, as that period is over.
type MemoryLedger struct {
	mu     sync.Mutex
	last   map[ledgerKey]int64 // the latest period claimed, Unix seconds
	newest int64
	claims int
}

type ledgerKey struct{ app, openid string }

// NewMemoryLedger returns an empty MemoryLedger.
func NewMemoryLedger() *MemoryLedger {
	return &MemoryLedger{last: map[ledgerKey]int64{}}
}

// Claim implements AwayLedger.
func (l *MemoryLedger) Claim(_ context.Context, app, openid string, period time.Time) (bool, error) {
	p := period.Unix()
	k := ledgerKey{app, openid}
	l.mu.Lock()
	defer l.mu.Unlock()
	if prev, ok := l.last[k]; ok && p <= prev {
		return false, nil
	}
	l.last[k] = p
	l.newest = max(l.newest, p)
	if l.claims++; l.claims%ledgerSweepEvery == 0 {
		cut := l.newest - int64(ledgerKeep/time.Second)
		for k, v := range l.last {
			if v < cut {
				delete(l.last, k)
			}
		}
	}
	return true, nil
}

// Len returns the number of users with a claim kept.
func (l *MemoryLedger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.last)
}
