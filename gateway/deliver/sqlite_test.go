package deliver_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/wxgate/wxgate/gateway/deliver"
	"github.com/wxgate/wxgate/store"
	"github.com/wxgate/wxgate/store/sqlite"
)

// The engine against the real SQLite store: messages appended with their
// deliveries reach a webhook that fails at first, and the deliveries that
// a crashed process held are taken over once their lease runs out.
func TestEngineWithSQLite(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "wxgate.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() }) // after the engine stops (cleanups run last first)
	const n, failures, crashed = 40, 10, 5
	rc := newReceiver(t, func(k int64, w http.ResponseWriter, _ *http.Request) bool {
		if k <= failures {
			w.WriteHeader(http.StatusBadGateway)
			return false
		}
		return true
	})
	var msgs []store.NewMessage
	var ids []string
	for i := range n {
		key := "key-" + strconv.Itoa(i)
		id := store.MessageID("default", key)
		ids = append(ids, id)
		msgs = append(msgs, store.NewMessage{App: "default", AppID: "wx1", OpenID: "o_user", MsgType: "text", DedupKey: key,
			Format: "xml", Mode: "safe", Raw: []byte("<xml/>"), Payload: payloadFor(id), Destinations: []string{"hook"}})
	}
	res, err := s.Append(ctx, msgs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Status != store.Stored || r.ID != ids[i] {
			t.Fatalf("append %d: %+v", i, r)
		}
	}
	// A process claims some deliveries and dies.
	held, err := s.Cycle(ctx, "hook", "crashed-process", nil, crashed, 200*time.Millisecond)
	if err != nil || len(held) != crashed {
		t.Fatalf("crashed claim: %v, %d", err, len(held))
	}
	e, err := deliver.New(s, []deliver.Destination{newHook(t, "hook", rc.srv.URL, 0)}, "", fast(deliver.Options{Concurrency: 4}))
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, e)
	e.Notify()
	waitFor(t, "every delivery", func() bool {
		st, err := s.DeliveryStats(ctx)
		if err != nil {
			return false
		}
		for _, d := range st { // only destinations with pending or dead deliveries are listed
			if d.Pending != 0 || d.Dead != 0 {
				return false
			}
		}
		return true
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	heldIDs := map[string]bool{}
	for _, c := range held {
		heldIDs[c.MessageID] = true
	}
	var retried int
	for _, id := range ids {
		ds, as, err := s.Deliveries(ctx, id)
		if err != nil || len(ds) != 1 || ds[0].State != store.Done || rc.delivered(id) != 1 {
			t.Fatalf("%s: %v %+v, 2xx %d", id, err, ds, rc.delivered(id))
		}
		seen := rc.seen(id)
		if len(as) != len(seen) || as[len(as)-1].N != seen[len(seen)-1] || as[len(as)-1].Status != 200 {
			t.Errorf("%s: attempts %+v, webhook saw %v", id, as, seen)
		}
		if heldIDs[id] && seen[0] != 2 {
			t.Errorf("%s: held by the crashed process, then attempts %v; want the first to be 2", id, seen)
		}
		if len(seen) > 1 {
			retried++
		}
	}
	if retried == 0 {
		t.Error("no delivery was retried")
	}
}
