package e2e

import (
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wechatsim"
)

// Crash test: thousands of distinct pushes under concurrency, the server
// killed with SIGKILL a third of the way through, restarted on the same
// store and port, and every push that got no 200 pushed again, as WeChat
// retries. Every push answered 200 must be stored exactly once and reach
// the webhook at least once, under the id it is stored with.

const (
	crashPushes      = 3000
	crashConcurrency = 16
	// crashAnsweredFirst is how many webhook calls are answered before the
	// receiver starts holding them until the crash.
	crashAnsweredFirst = 200
	// crashDeliveryWait bounds the wait for the webhook to see every
	// message. Deliveries that the killed process had leased come back
	// when their lease runs out (deliver.DefaultLease, 30 s, which serve
	// does not let one configure) plus a poll.
	crashDeliveryWait = 75 * time.Second
)

func TestCrashSQLite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	testCrash(t, dir, "sqlite:"+filepath.Join(dir, "wxgate.db"))
}

func TestCrashPostgres(t *testing.T) {
	t.Parallel()
	db := freshDatabase(t)
	testCrash(t, t.TempDir(), db)
}

func testCrash(t *testing.T, stateDir, storeSpec string) {
	cr := newCreds(t)
	rec := newReceiver(t, cr.WebhookSecret)
	addr := freeAddr(t)
	srv := newServe(t, "serve", addr, cr, nil,
		"--addr", addr, "--state-dir", stateDir, "--store", storeSpec, "--log-level", "warn",
		"--appid", cr.AppID, "--token", cr.Token, "--aes-key", cr.AESKey, "--mode", "safe",
		"--webhook", rec.url("/hook"), "--webhook-secret", cr.WebhookSecret, "--admin-token", cr.AdminToken)
	// The receiver takes the first deliveries at once, then holds every
	// call until the crash ends it: the killed process dies holding leased
	// deliveries that it never completed, which the restarted one must
	// take over.
	var answered, held atomic.Int64
	var holding atomic.Bool
	holding.Store(true)
	rec.setAnswer(func(*hookCall) (int, time.Duration) {
		if holding.Load() && answered.Add(1) > crashAnsweredFirst {
			held.Add(1)
			return http.StatusOK, time.Hour // ends with the connection
		}
		return http.StatusOK, 0
	})
	srv.start()
	client := newClient(t, srv.url("/wechat"), cr, wechatsim.ModeSafe, message.FormatXML, crashConcurrency)

	msgs := texts(crashPushes, "crash")
	got200 := make([]bool, len(msgs))
	var mu sync.Mutex
	var accepted atomic.Int64
	var killOnce sync.Once
	killed := false
	pushAll(t, one(client), msgs, crashConcurrency, func(i int, o *wechatsim.Outcome) {
		if status(o) != 200 {
			return
		}
		mu.Lock()
		got200[i] = true
		mu.Unlock()
		if accepted.Add(1) == crashPushes/3 {
			killOnce.Do(func() { srv.kill(); killed = true; holding.Store(false) })
		}
	})
	killOnce.Do(func() {}) // wait for a kill in progress
	if !killed {
		t.Fatalf("only %d of %d pushes got a 200 before the planned crash", accepted.Load(), crashPushes)
	}
	first := int(accepted.Load())
	t.Logf("before and during the crash: %d of %d pushes answered 200; %d webhook calls cut by the crash", first, crashPushes, held.Load())
	if held.Load() == 0 {
		t.Fatalf("no delivery was in flight at the crash")
	}
	if first == crashPushes {
		t.Fatalf("every push got a 200: the kill came too late to test anything")
	}

	// Restart on the same store and port; push again what got no 200.
	srv.start()
	for round := 1; round <= 3; round++ {
		var retry []*message.Text
		var idx []int
		for i, ok := range got200 {
			if !ok {
				retry = append(retry, msgs[i])
				idx = append(idx, i)
			}
		}
		if len(retry) == 0 {
			break
		}
		t.Logf("retry round %d: %d pushes", round, len(retry))
		pushAll(t, one(client), retry, crashConcurrency, func(j int, o *wechatsim.Outcome) {
			if status(o) == 200 {
				mu.Lock()
				got200[idx[j]] = true
				mu.Unlock()
			}
		})
	}
	for i, ok := range got200 {
		if !ok {
			t.Fatalf("push %d (MsgId %s) got no 200 from the restarted server after 3 retries", i, msgs[i].MsgID)
		}
	}

	// Every push got a 200 in the end: each must reach the webhook and be
	// stored once, under one id.
	keys := textKeys(msgs)
	rec.waitDelivered(keys, crashDeliveryWait)
	checkStoredOnceAndStable(t, rec, listStored(t, srv.url(""), cr.AdminToken), keys)
	srv.stop()
}
