package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wxgate/wxgate/gateway/webhook"
	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wechatsim"
)

// NATS: serve with --nats and a config that adds a nats destination
// publishes each push to wxgate.<app>.<msg_type> (events:
// wxgate.<app>.event.<event>) with the contract's JSON body and
// Nats-Msg-Id set to the message id, on a stream it creates when missing;
// a second publish of the same message (a redelivery) is dropped by the
// stream.

const natsWait = 20 * time.Second

func TestNATS(t *testing.T) {
	t.Parallel()
	natsURL := os.Getenv("WXGATE_TEST_NATS")
	if natsURL == "" {
		t.Skip("WXGATE_TEST_NATS is unset: set it to a NATS server with JetStream (e.g. nats://127.0.0.1:4222) to run the NATS end-to-end test")
	}
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatalf("connecting to WXGATE_TEST_NATS: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}

	// A unique app, so that its subjects are this run's alone. serve
	// creates its stream with the subjects wxgate.>, which no two streams
	// may share: when one already captures them, use it (and leave it);
	// otherwise let serve create a stream of this run, and delete it after.
	app := "e2e" + randHex(5)
	ctx, cancel := context.WithTimeout(context.Background(), natsWait)
	defer cancel()
	stream, err := js.StreamNameBySubject(ctx, "wxgate."+app+".text")
	created := false
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		stream, created = "WXGATE_E2E_"+strings.ToUpper(randHex(5)), true
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := js.DeleteStream(ctx, stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
				t.Errorf("deleting stream %s: %v", stream, err)
			}
		})
	case err != nil:
		t.Fatalf("looking for a stream of wxgate.%s.>: %v", app, err)
	default:
		t.Logf("stream %s already captures wxgate.%s.>: using it", stream, app)
	}

	sub, err := nc.SubscribeSync("wxgate." + app + ".>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	cr := newCreds(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`listen: %q
state_dir: %q
store: %q
nats:
  stream: %s
admin:
  token: ${E2E_ADMIN_TOKEN}
log:
  level: debug
apps:
  %s:
    appid: %s
    token: ${E2E_TOKEN}
    aes_keys: ["${E2E_AES_KEY}"]
    destinations:
      - name: stream
        nats: {}
`, addr, dir, "sqlite:"+filepath.Join(dir, "wxgate.db"), stream, app, cr.AppID)
	cfgPath := filepath.Join(dir, "wxgate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := newServe(t, "serve", addr, cr, []string{"E2E_ADMIN_TOKEN=" + cr.AdminToken, "E2E_TOKEN=" + cr.Token, "E2E_AES_KEY=" + cr.AESKey},
		"--config", cfgPath, "--nats", natsURL)
	srv.start() // /readyz includes NATS

	client := newClient(t, srv.url("/wechat/"+app), cr, wechatsim.ModeSafe, message.FormatJSON, 1)
	text := texts(1, "nats")[0]
	enter, err := client.Sample(wechatsim.KindEnter, map[string]string{"SessionFrom": "e2e"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []message.Push{text, enter} {
		o, err := client.Push(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if !o.Accepted {
			t.Fatalf("push %s: %s %s", p.Head().MsgType, o.Verdict, o.Reason)
		}
	}

	want := map[string]message.Push{
		"wxgate." + app + ".text": text,
		"wxgate." + app + ".event." + message.EventUserEnterTempSession: enter,
	}
	ids := map[string]string{} // subject -> message id
	for len(ids) < len(want) {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			t.Fatalf("waiting for the published messages (got %v): %v", ids, err)
		}
		p, ok := want[m.Subject]
		if !ok {
			t.Fatalf("message on unexpected subject %s", m.Subject)
		}
		if _, dup := ids[m.Subject]; dup {
			continue // at least once
		}
		ids[m.Subject] = checkNATSBody(t, m, app, cr.AppID, p)
	}

	// Each is the stored message, under the same id.
	for subject, id := range ids {
		code, body, err := adminCall(ctx, http.MethodGet, srv.url(""), "/v1/messages/"+id, cr.AdminToken, nil)
		if err != nil || code != http.StatusOK {
			t.Errorf("%s: GET /v1/messages/%s: %d %v %s", subject, id, code, err, body)
		}
	}

	// The stream holds each message once; a redelivery publishes again
	// with the same Nats-Msg-Id, which the stream drops.
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	if created {
		if subj := st.CachedInfo().Config.Subjects; len(subj) == 0 {
			t.Errorf("stream %s created without subjects", stream)
		}
	}
	textID := ids["wxgate."+app+".text"]
	before := streamMsgs(t, ctx, st, app)
	if before != len(want) {
		t.Errorf("stream %s holds %d messages of %s, want %d", stream, before, app, len(want))
	}
	code, body, err := adminCall(ctx, http.MethodPost, srv.url(""), "/v1/messages/"+textID+"/redeliver", cr.AdminToken, nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("POST /v1/messages/%s/redeliver: %d %v %s", textID, code, err, body)
	}
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			t.Fatalf("waiting for the redelivered message: %v", err)
		}
		if m.Header.Get(jetstream.MsgIDHeader) == textID {
			break
		}
	}
	if after := streamMsgs(t, ctx, st, app); after != before {
		t.Errorf("after a redelivery the stream holds %d messages of %s, want %d: Nats-Msg-Id did not dedup", after, app, before)
	}
	srv.stop()
}

// checkNATSBody checks one published message against the contract and
// returns its id.
func checkNATSBody(t *testing.T, m *nats.Msg, app, appID string, p message.Push) string {
	t.Helper()
	var ev webhook.Event
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		t.Fatalf("%s: body is not the contract's JSON: %v", m.Subject, err)
	}
	h := p.Head()
	wantEvent := ""
	if h.MsgType == message.MsgTypeEvent {
		wantEvent = h.Event
	}
	if got := m.Header.Get(jetstream.MsgIDHeader); got != ev.ID || ev.ID == "" {
		t.Errorf("%s: Nats-Msg-Id %q, body id %q: want them equal", m.Subject, got, ev.ID)
	}
	if ev.App != app || ev.AppID != appID || ev.OpenID != h.FromUserName || ev.MsgType != h.MsgType ||
		ev.Event != wantEvent || ev.CreateTime != h.CreateTime || !receivedAtRE.MatchString(ev.ReceivedAt) {
		t.Errorf("%s: body %s\nwant app %s, appid %s, openid %s, msg_type %s, event %q, create_time %d",
			m.Subject, m.Data, app, appID, h.FromUserName, h.MsgType, wantEvent, h.CreateTime)
	}
	checkMessageField(t, m.Subject, ev.Message, p)
	return ev.ID
}

// checkMessageField checks that a body's message is the push, field for
// field, as WeChat sends it in JSON.
func checkMessageField(t *testing.T, where string, got json.RawMessage, p message.Push) {
	t.Helper()
	want, err := message.Encode(p, message.FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("%s: message %s: %v", where, got, err)
		return
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	gs, _ := json.Marshal(g)
	ws, _ := json.Marshal(w)
	if string(gs) != string(ws) {
		t.Errorf("%s: message\n%s\nwant\n%s", where, got, want)
	}
	if k, ok := p.(*message.Text); ok {
		if key, err := messageKey(got); err != nil || key != textKey(k) {
			t.Errorf("%s: MsgId not exact: key %q, want %q", where, key, textKey(k))
		}
	}
}

// streamMsgs counts the stream's messages on the app's subjects.
func streamMsgs(t *testing.T, ctx context.Context, st jetstream.Stream, app string) int {
	t.Helper()
	info, err := st.Info(ctx, jetstream.WithSubjectFilter("wxgate."+app+".>"))
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	return n
}
