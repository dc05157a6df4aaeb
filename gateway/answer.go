package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/wxgate/wxgate/gateway/deliver"
	"github.com/wxgate/wxgate/gateway/rules"
	"github.com/wxgate/wxgate/openapi"
	"github.com/wxgate/wxgate/store"
)

// answerTimeout bounds the sends that follow one push (rules, webhook
// replies): WeChat's windows are short, and a send later than this is no
// answer any more.
const answerTimeout = 30 * time.Second

// answer carries out, after a push was stored, what its rules decided:
// the typing indicator, then the away message and the rule's messages in
// order, each recorded as an outbound message of the rule. It runs in the
// background: WeChat's answer does not wait for it.
func (g *Gateway) answer(app string, eng *rules.Engine, d rules.Decision, messageID string) {
	ctx, cancel := context.WithTimeout(context.Background(), answerTimeout)
	defer cancel()
	if d.Typing {
		if c, err := g.client(app); err == nil {
			err := c.Typing(ctx, d.OpenID, true)
			req, _ := json.Marshal(map[string]string{"touser": d.OpenID, "command": "Typing"})
			g.recordOutbound(ctx, store.Outbound{App: app, OpenID: d.OpenID, Kind: "typing", Sender: "rule:" + d.Rule,
				InReplyTo: messageID, Request: req}, err)
		}
	}
	out, err := eng.Outbox(ctx, d)
	if err != nil {
		g.log.Warn("rules: the away ledger did not answer; the away message is skipped", "app", app, "err", err)
	}
	for _, m := range out {
		body, err := eng.Render(ctx, d.OpenID, m)
		if err != nil {
			g.recordOutbound(ctx, store.Outbound{App: app, OpenID: d.OpenID, Kind: "message", MsgType: m.MsgType,
				Sender: "rule:" + m.Rule, InReplyTo: messageID}, err)
			g.log.Warn("rules: a reply could not be prepared", "app", app, "rule", m.Rule, "err", err)
			continue
		}
		if _, err := g.sendCustom(ctx, app, body, "rule:"+m.Rule, messageID); err != nil {
			g.log.Warn("rules: a reply was not sent", "app", app, "rule", m.Rule, "err", explain(err))
		}
	}
}

// webhookAnswer is the part of a webhook's 2xx answer the gateway reads.
type webhookAnswer struct {
	Replies []json.RawMessage `json:"replies"`
}

// WebhookReplied handles a webhook's 2xx answer: when its body is a JSON
// object with "replies", each item (the customer-service API's own JSON
// for one message, touser optional) is sent in order to the message's
// user and recorded as an outbound message of the destination. A bad item
// is recorded as failed and never makes the delivery retry, which would
// send the earlier replies twice. It is the delivery engine's
// OnDelivered.
func (g *Gateway) WebhookReplied(ctx context.Context, c store.Claimed, r deliver.Result) {
	body := bytes.TrimSpace(r.Body)
	if r.Status == 0 || len(body) == 0 || body[0] != '{' {
		return // NATS, or a plain acknowledgement
	}
	var ans webhookAnswer
	if err := json.Unmarshal(body, &ans); err != nil || len(ans.Replies) == 0 {
		return
	}
	sender := "webhook:" + c.Destination
	if r.Truncated {
		g.recordOutbound(ctx, store.Outbound{App: c.App, OpenID: c.OpenID, Kind: "message", Sender: sender, InReplyTo: c.MessageID},
			fmt.Errorf("%w: the webhook's answer is larger than %d bytes: its replies were not sent", openapi.ErrInvalidArgument, deliver.MaxResponseBody))
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), answerTimeout)
	defer cancel()
	for i, item := range ans.Replies {
		msg, err := replyItem(item, c.OpenID)
		if err != nil {
			g.recordOutbound(ctx, store.Outbound{App: c.App, OpenID: c.OpenID, Kind: "message", Sender: sender, InReplyTo: c.MessageID,
				Request: item}, fmt.Errorf("%w: replies[%d]: %v", openapi.ErrInvalidArgument, i, err))
			continue
		}
		if _, err := g.sendCustom(ctx, c.App, msg, sender, c.MessageID); err != nil {
			g.log.Warn("webhook reply not sent", "app", c.App, "destination", c.Destination, "item", i, "err", explain(err))
		}
	}
}

// replyItem checks one reply of a webhook's answer and addresses it to
// openid.
func replyItem(item json.RawMessage, openid string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(item, &m); err != nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	var msgType string
	if err := json.Unmarshal(m["msgtype"], &msgType); err != nil || msgType == "" {
		return nil, fmt.Errorf("msgtype is missing")
	}
	switch msgType {
	case "text", "image", "link", "miniprogrampage":
	default:
		return nil, fmt.Errorf("msgtype %q is not text, image, link or miniprogrampage", msgType)
	}
	if obj := m[msgType]; len(obj) == 0 || obj[0] != '{' {
		return nil, fmt.Errorf("the %s object is missing", msgType)
	}
	if touser, ok := m["touser"]; ok {
		var to string
		if json.Unmarshal(touser, &to) != nil || to != openid {
			return nil, fmt.Errorf("touser must be the message's openid, or left out")
		}
	}
	to, _ := json.Marshal(openid)
	m["touser"] = to
	return json.Marshal(m)
}

// StoreLedger is the rules' away ledger kept in the store, so that
// replicas send one away message per user and closed period between them.
type StoreLedger struct{ Store store.OutboundStore }

// Claim implements rules.AwayLedger.
func (l StoreLedger) Claim(ctx context.Context, app, openid string, period time.Time) (bool, error) {
	return l.Store.ClaimAway(ctx, app, openid, period)
}
