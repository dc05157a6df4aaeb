package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wechatsim"
)

// Every mode (plain, compat, safe) and format (XML, JSON) through one
// serve in mode auto with --allow-plaintext: each push, a message and an
// event, is answered, stored with how it came, and delivered with the
// contract's body.

func TestModesAndFormats(t *testing.T) {
	t.Parallel()
	cr := newCreds(t)
	rec := newReceiver(t, cr.WebhookSecret)
	dir := t.TempDir()
	addr := freeAddr(t)
	srv := newServe(t, "serve", addr, cr, []string{"WXGATE_TOKEN=" + cr.Token, "WXGATE_AES_KEY=" + cr.AESKey,
		"WXGATE_WEBHOOK_SECRET=" + cr.WebhookSecret, "WXGATE_ADMIN_TOKEN=" + cr.AdminToken},
		"--addr", addr, "--state-dir", dir, "--store", "sqlite:"+filepath.Join(dir, "wxgate.db"), "--log-level", "debug",
		"--appid", cr.AppID, "--allow-plaintext", "--webhook", rec.url("/hook"))
	srv.start()

	type sent struct {
		key          string
		push         message.Push
		mode, format string
	}
	var all []sent
	for _, mode := range []wechatsim.Mode{wechatsim.ModePlain, wechatsim.ModeCompat, wechatsim.ModeSafe} {
		for _, format := range []message.Format{message.FormatXML, message.FormatJSON} {
			c := newClient(t, srv.url("/wechat"), cr, mode, format, 1)
			text := texts(1, fmt.Sprintf("%s-%s", mode, format))[0]
			enter, err := c.Sample(wechatsim.KindEnter, map[string]string{"SessionFrom": "e2e-" + mode.String()})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []message.Push{text, enter} {
				o, err := c.Push(t.Context(), p)
				if err != nil {
					t.Fatal(err)
				}
				if !o.Accepted {
					t.Fatalf("%s %s %s: %d %s %s", mode, format, p.Head().MsgType, status(o), o.Verdict, o.Reason)
				}
			}
			h := enter.Head()
			all = append(all,
				sent{textKey(text), text, mode.String(), format.String()},
				sent{fmt.Sprintf("event:%s|%d|%s", h.FromUserName, h.CreateTime, h.Event), enter, mode.String(), format.String()})
		}
	}
	keys := make([]string, len(all))
	for i, s := range all {
		keys[i] = s.key
	}
	rec.waitDelivered(keys, 30*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range all {
		where := fmt.Sprintf("%s %s %s", s.mode, s.format, s.push.Head().MsgType)
		ids := rec.idsOfKey(s.key)
		if len(ids) != 1 {
			t.Errorf("%s: delivered under ids %v", where, ids)
			continue
		}
		ev, _ := rec.event(ids[0])
		h := s.push.Head()
		wantEvent := ""
		if h.MsgType == message.MsgTypeEvent {
			wantEvent = h.Event
		}
		if ev.App != "default" || ev.AppID != cr.AppID || ev.OpenID != h.FromUserName || ev.MsgType != h.MsgType ||
			ev.Event != wantEvent || ev.CreateTime != h.CreateTime {
			t.Errorf("%s: webhook body %+v", where, ev)
		}
		checkMessageField(t, where, ev.Message, s.push)

		code, body, err := adminCall(ctx, http.MethodGet, srv.url(""), "/v1/messages/"+ids[0], cr.AdminToken, nil)
		if err != nil || code != http.StatusOK {
			t.Errorf("%s: GET /v1/messages/%s: %d %v %s", where, ids[0], code, err, body)
			continue
		}
		var got struct {
			Message storedMessage `json:"message"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if got.Message.ID != ids[0] || got.Message.Mode != s.mode || got.Message.Format != s.format {
			t.Errorf("%s: stored as id %s, mode %s, format %s", where, got.Message.ID, got.Message.Mode, got.Message.Format)
		}
	}
	checkStoredOnceAndStable(t, rec, listStored(t, srv.url(""), cr.AdminToken), keys)
	srv.stop()
}
