package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wechatsim"
)

// Replica test: three `wxgate serve` on one PostgreSQL database, each with
// its own port and webhook URL (?replica=N, same destination name). A push
// raced to two replicas at the same moment is stored once and delivered
// under one id; distinct pushes spread over the replicas are all
// delivered, and every replica delivers some.

const (
	replicas     = 3
	racedPushes  = 30
	spreadPushes = 600
	spreadConc   = 12
	replicaWait  = 60 * time.Second
)

func TestReplicas(t *testing.T) {
	t.Parallel()
	db := freshDatabase(t)
	cr := newCreds(t)
	rec := newReceiver(t, cr.WebhookSecret)
	srvs := make([]*serveProc, replicas)
	for i := range srvs {
		addr := freeAddr(t)
		srvs[i] = newServe(t, "replica"+strconv.Itoa(i), addr, cr, nil,
			"--addr", addr, "--state-dir", t.TempDir(), "--store", db, "--log-level", "warn",
			"--appid", cr.AppID, "--token", cr.Token, "--aes-key", cr.AESKey,
			"--webhook", rec.url("/hook?replica="+strconv.Itoa(i)), "--webhook-secret", cr.WebhookSecret,
			"--admin-token", cr.AdminToken)
	}
	// Started together: they race to migrate the new database too.
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i, s := range srvs {
		wg.Go(func() { errs[i] = s.tryStart() })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	// (a) The same signed request sent to two replicas at the same moment.
	racer := &raceHandler{client: &http.Client{Timeout: 10 * time.Second}}
	raced, err := wechatsim.NewClient(wechatsim.ClientConfig{Handler: racer, Path: "/wechat", AppID: cr.AppID, Token: cr.Token,
		AESKey: cr.AESKey, Mode: wechatsim.ModeSafe, Format: message.FormatJSON, Deliveries: 1})
	if err != nil {
		t.Fatal(err)
	}
	racedMsgs := texts(racedPushes, "raced")
	for i, m := range racedMsgs {
		racer.aim(srvs[i%replicas].url(""), srvs[(i+1)%replicas].url(""))
		o, err := raced.Push(t.Context(), m)
		if err != nil {
			t.Fatal(err)
		}
		if !o.Accepted {
			t.Fatalf("raced push %d: %s %s", i, o.Verdict, o.Reason)
		}
		if got := racer.answers(); got != [2]int{200, 200} {
			t.Fatalf("raced push %d: replicas %d and %d answered %v, want 200 both", i, i%replicas, (i+1)%replicas, got)
		}
	}

	// (b) Distinct pushes, round robin over the replicas.
	clients := make([]*wechatsim.Client, replicas)
	for i, s := range srvs {
		clients[i] = newClient(t, s.url("/wechat"), cr, wechatsim.ModeSafe, message.FormatXML, spreadConc)
	}
	spread := texts(spreadPushes, "spread")
	var mu sync.Mutex
	var failed []string
	pushAll(t, func(i int) *wechatsim.Client { return clients[i%replicas] }, spread, spreadConc, func(i int, o *wechatsim.Outcome) {
		if status(o) != 200 {
			mu.Lock()
			failed = append(failed, fmt.Sprintf("push %d to replica %d: %d %s", i, i%replicas, status(o), o.Reason))
			mu.Unlock()
		}
	})
	if len(failed) > 0 {
		t.Fatalf("%d pushes got no 200, e.g. %s", len(failed), failed[0])
	}

	spreadKeys := textKeys(spread)
	allKeys := append(textKeys(racedMsgs), spreadKeys...)
	rec.waitDelivered(allKeys, replicaWait)
	checkStoredOnceAndStable(t, rec, listStored(t, srvs[0].url(""), cr.AdminToken), allKeys)

	// Every replica delivered some of the distinct pushes.
	ids := map[string]bool{}
	for _, k := range spreadKeys {
		for _, id := range rec.idsOfKey(k) {
			ids[id] = true
		}
	}
	if len(ids) != spreadPushes {
		t.Errorf("%d distinct ids delivered for %d distinct pushes", len(ids), spreadPushes)
	}
	rec.mu.Lock()
	for i := range srvs {
		n := 0
		for id := range rec.replicaOf[strconv.Itoa(i)] {
			if ids[id] {
				n++
			}
		}
		t.Logf("replica %d delivered %d of the %d distinct pushes", i, n, spreadPushes)
		if n == 0 {
			t.Errorf("replica %d delivered none of the %d distinct pushes", i, spreadPushes)
		}
	}
	rec.mu.Unlock()
	for _, s := range srvs {
		s.stop()
	}
}

// raceHandler is the emulator's in-process "server": it sends each request
// it gets, unchanged, to two replicas at the same moment, and answers with
// the first replica's answer.
type raceHandler struct {
	client *http.Client

	mu       sync.Mutex
	targets  [2]string // base URLs
	statuses [2]int    // what each answered to the last request (0: no answer)
}

func (h *raceHandler) aim(a, b string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.targets, h.statuses = [2]string{a, b}, [2]int{}
}

func (h *raceHandler) answers() [2]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.statuses
}

func (h *raceHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	targets := h.targets
	h.mu.Unlock()
	type answer struct {
		status int
		header http.Header
		body   []byte
		err    error
	}
	var answers [2]answer
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, base := range targets {
		req, err := http.NewRequestWithContext(r.Context(), r.Method, base+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			answers[i].err = err
			continue
		}
		req.Header = r.Header.Clone()
		wg.Go(func() {
			<-start // both leave together
			resp, err := h.client.Do(req)
			if err != nil {
				answers[i].err = err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			answers[i] = answer{status: resp.StatusCode, header: resp.Header, body: b, err: err}
		})
	}
	close(start)
	wg.Wait()
	h.mu.Lock()
	h.statuses = [2]int{answers[0].status, answers[1].status}
	h.mu.Unlock()
	if answers[0].err != nil {
		http.Error(w, answers[0].err.Error(), http.StatusBadGateway)
		return
	}
	for k, v := range answers[0].header {
		w.Header()[k] = v
	}
	w.WriteHeader(answers[0].status)
	w.Write(answers[0].body)
}
