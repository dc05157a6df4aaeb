package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wechatsim"
)

// A webhook that is slow, then fails for a while, then is down past the
// retry limit, then is back: everything arrives, the deliveries that ran
// out of attempts become dead letters, and redelivering them brings them
// to the receiver. The retry policy comes from a config file.

const (
	hookMaxAttempts = 5
	slowAnswer      = 2 * time.Second
	hookWait        = 15 * time.Second
)

// deadLetter is one entry of GET /v1/dead-letters.
type deadLetter struct {
	MessageID   string `json:"message_id"`
	App         string `json:"app"`
	Destination string `json:"destination"`
	State       string `json:"state"`
	Attempts    int    `json:"attempts"`
	LastError   string `json:"last_error"`
}

func TestWebhookSlowDownBack(t *testing.T) {
	t.Parallel()
	cr := newCreds(t)
	rec := newReceiver(t, cr.WebhookSecret)
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`# e2e: a short retry policy
listen: %q
state_dir: %q
store: %q
admin:
  token: ${E2E_ADMIN_TOKEN}
log:
  level: debug
delivery:
  initial_backoff: 100ms
  max_backoff: 1s
  max_attempts: %d
apps:
  shop:
    appid: %s
    token: ${E2E_TOKEN}
    aes_keys: ["${E2E_AES_KEY}"]
    mode: compat
    destinations:
      - name: hooks
        webhook:
          url: %q
          secret: ${E2E_HOOK_SECRET}
`, addr, dir, "sqlite:"+filepath.Join(dir, "wxgate.db"), hookMaxAttempts, cr.AppID, rec.url("/hook"))
	cfgPath := filepath.Join(dir, "wxgate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := newServe(t, "serve", addr, cr, []string{
		"E2E_ADMIN_TOKEN=" + cr.AdminToken, "E2E_TOKEN=" + cr.Token, "E2E_AES_KEY=" + cr.AESKey, "E2E_HOOK_SECRET=" + cr.WebhookSecret,
	}, "--config", cfgPath)
	srv.start()
	client := newClient(t, srv.url("/wechat/shop"), cr, wechatsim.ModeCompat, message.FormatXML, 8)
	push := func(msgs []*message.Text) {
		t.Helper()
		pushAll(t, one(client), msgs, 8, func(i int, o *wechatsim.Outcome) {
			if status(o) != 200 {
				t.Errorf("push %d: %d %s %s", i, status(o), o.Verdict, o.Reason)
			}
		})
		if t.Failed() {
			t.FailNow()
		}
	}

	// Slow: every call takes 2 s. WeChat's pushes are still answered (the
	// pushes above fail the test otherwise), and everything arrives.
	rec.setAnswer(func(*hookCall) (int, time.Duration) { return http.StatusOK, slowAnswer })
	slow := texts(8, "slow")
	push(slow)
	rec.waitDelivered(textKeys(slow), hookWait)

	// Failing, then back: each message's first two calls get a 503, the
	// third a 200. Retries bring every one in, with increasing attempts.
	rec.setAnswer(func(c *hookCall) (int, time.Duration) {
		if c.Attempt < 3 {
			return http.StatusServiceUnavailable, 0
		}
		return http.StatusOK, 0
	})
	flaky := texts(5, "flaky")
	push(flaky)
	rec.waitDelivered(textKeys(flaky), hookWait)
	for _, k := range textKeys(flaky) {
		ids := rec.idsOfKey(k)
		if len(ids) != 1 {
			t.Fatalf("%s came under ids %v", k, ids)
		}
		if got := rec.attemptsOf(ids[0]); !slices.Equal(got, []int{1, 2, 3}) {
			t.Errorf("%s: Wxgate-Attempt of its calls %v, want [1 2 3]", k, got)
		}
	}

	// Down: every call fails, until the deliveries run out of attempts and
	// become dead letters.
	rec.setAnswer(func(*hookCall) (int, time.Duration) { return http.StatusServiceUnavailable, 0 })
	down := texts(6, "down")
	push(down)
	downKeys := textKeys(down)
	var downIDs []string
	waitFor(t, hookWait, func() bool {
		downIDs = downIDs[:0]
		for _, k := range downKeys {
			if ids := rec.idsOfKey(k); len(ids) == 1 {
				downIDs = append(downIDs, ids[0])
			}
		}
		return len(downIDs) == len(down)
	}, func() string {
		return fmt.Sprintf("only %d of %d messages reached the failing webhook", len(downIDs), len(down))
	})
	sort.Strings(downIDs)
	var dead []deadLetter
	waitFor(t, hookWait, func() bool {
		dead = deadLetters(t, srv.url(""), cr.AdminToken)
		return len(dead) >= len(down)
	}, func() string {
		var b strings.Builder
		for _, id := range downIDs {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, body, _ := adminCall(ctx, http.MethodGet, srv.url(""), "/v1/messages/"+id, cr.AdminToken, nil)
			cancel()
			fmt.Fprintf(&b, "\n%s: webhook calls with attempts %v; stored deliveries %s", id, rec.attemptsOf(id), body)
		}
		return fmt.Sprintf("%d dead letters, want %d: %+v%s", len(dead), len(down), dead, b.String())
	})
	var deadIDs []string
	for _, d := range dead {
		deadIDs = append(deadIDs, d.MessageID)
		// The API names a destination by app and name.
		if d.App != "shop" || (d.Destination != "shop/hooks" && d.Destination != "hooks") || d.State != "dead" ||
			d.Attempts != hookMaxAttempts || d.LastError == "" {
			t.Errorf("dead letter %+v: want app shop, destination shop/hooks, state dead, %d attempts and the last error", d, hookMaxAttempts)
		}
	}
	sort.Strings(deadIDs)
	if !slices.Equal(deadIDs, downIDs) {
		t.Fatalf("dead letters %v, want the messages pushed while the webhook was down %v", deadIDs, downIDs)
	}
	for _, id := range downIDs {
		if got := rec.attemptsOf(id); !slices.Equal(got, []int{1, 2, 3, 4, 5}) {
			t.Errorf("%s: Wxgate-Attempt of its calls %v, want [1 2 3 4 5]", id, got)
		}
		if n := rec.deliveredCount(id); n != 0 {
			t.Errorf("%s: delivered %d times while the webhook was down", id, n)
		}
	}

	// Back: redelivering the dead letters brings them in.
	rec.setAnswer(func(*hookCall) (int, time.Duration) { return http.StatusOK, 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	code, body, err := adminCall(ctx, http.MethodPost, srv.url(""), "/v1/dead-letters/redeliver", cr.AdminToken, nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("POST /v1/dead-letters/redeliver: %d %v %s", code, err, body)
	}
	var redelivered struct {
		N int `json:"redelivered"`
	}
	if err := json.Unmarshal(body, &redelivered); err != nil || redelivered.N != len(down) {
		t.Errorf("POST /v1/dead-letters/redeliver answered %s, want %d redelivered", strings.TrimSpace(string(body)), len(down))
	}
	rec.waitDelivered(downKeys, hookWait)
	if dead := deadLetters(t, srv.url(""), cr.AdminToken); len(dead) != 0 {
		t.Errorf("dead letters left after the redelivery: %+v", dead)
	}

	// Everything arrived, stored once, under its stored id.
	all := slices.Concat(textKeys(slow), textKeys(flaky), downKeys)
	rec.waitDelivered(all, hookWait)
	checkStoredOnceAndStable(t, rec, listStored(t, srv.url(""), cr.AdminToken), all)
	srv.stop()
}

// deadLetters lists every dead letter (bounded paging).
func deadLetters(t *testing.T, base, token string) []deadLetter {
	t.Helper()
	var all []deadLetter
	cursor := ""
	for range 100 {
		path := "/v1/dead-letters?limit=1000"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		code, body, err := adminCall(ctx, http.MethodGet, base, path, token, nil)
		cancel()
		if err != nil || code != http.StatusOK {
			t.Fatalf("GET /v1/dead-letters: %d %v %s", code, err, body)
		}
		var out struct {
			DeadLetters []deadLetter `json:"dead_letters"`
			NextCursor  string       `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("GET /v1/dead-letters: %v", err)
		}
		all = append(all, out.DeadLetters...)
		if out.NextCursor == "" {
			return all
		}
		cursor = out.NextCursor
	}
	t.Fatalf("GET /v1/dead-letters: more than 100 pages")
	return nil
}
