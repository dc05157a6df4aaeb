package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/wxgate/wxgate/openapi"
	"github.com/wxgate/wxgate/store"
)

// ErrNoOpenAPI: the app has no AppSecret, so nothing can be sent to its
// users.
var ErrNoOpenAPI = errors.New("gateway: the app has no AppSecret configured: the Open API is off")

// outboundStore returns the store's outbound side, or nil when the store
// does not keep one.
func (g *Gateway) outboundStore() store.OutboundStore {
	if o, ok := g.store.(store.OutboundStore); ok {
		return o
	}
	return nil
}

// Client returns app's Open API client, or ErrNoOpenAPI when the app has
// no AppSecret.
func (g *Gateway) Client(app string) (*openapi.Client, error) { return g.client(app) }

// client returns app's Open API client.
func (g *Gateway) client(app string) (*openapi.Client, error) {
	if g.openapi == nil {
		return nil, ErrNoOpenAPI
	}
	c := g.openapi(app)
	if c == nil {
		return nil, ErrNoOpenAPI
	}
	return c, nil
}

// customMessage is the part of a custom/send body the gateway reads.
type customMessage struct {
	ToUser  string `json:"touser"`
	MsgType string `json:"msgtype"`
}

// sendCustom sends one customer-service message (custom/send's own JSON,
// touser included) for app and records it, sent or not, as an outbound
// message of sender. It returns the outbound id and WeChat's error, if
// any. A record that cannot be stored is logged: the message was sent.
func (g *Gateway) sendCustom(ctx context.Context, app string, body []byte, sender, inReplyTo string) (string, error) {
	var m customMessage
	if err := json.Unmarshal(body, &m); err != nil || m.ToUser == "" || m.MsgType == "" {
		return "", fmt.Errorf("%w: a customer-service message needs touser and msgtype", openapi.ErrInvalidArgument)
	}
	c, err := g.client(app)
	if err == nil {
		err = c.PostJSON(ctx, "cgi-bin/message/custom/send", json.RawMessage(body), nil)
	}
	return g.recordOutbound(ctx, store.Outbound{
		App: app, OpenID: m.ToUser, Kind: "message", MsgType: m.MsgType, Sender: sender, InReplyTo: inReplyTo, Request: body,
	}, err), err
}

// recordOutbound completes o with the outcome err and stores it.
func (g *Gateway) recordOutbound(ctx context.Context, o store.Outbound, err error) string {
	o.OK = err == nil
	if err != nil {
		o.Error = err.Error()
		var we *openapi.Error
		if errors.As(err, &we) {
			o.ErrCode = we.Code
		}
	}
	o.CreatedAt = g.now()
	out := g.outboundStore()
	if out == nil {
		return ""
	}
	id, rerr := out.RecordOutbound(context.WithoutCancel(ctx), o)
	if rerr != nil {
		g.log.Error("recording an outbound message", "app", o.App, "sender", o.Sender, "err", rerr)
	}
	return id
}

// wechatErrorStatus maps an Open API error to the API's status and code:
// 409 outside_send_window for 45015 and 45047, 400 for what the caller
// sent wrong, 502 when WeChat was unreachable or busy.
func wechatErrorStatus(err error) (int, string) {
	switch {
	case errors.Is(err, ErrNoOpenAPI):
		return http.StatusConflict, "open_api_off"
	case errors.Is(err, openapi.ErrWindowExpired), errors.Is(err, openapi.ErrCountExceeded):
		return http.StatusConflict, "outside_send_window"
	case errors.Is(err, openapi.ErrNotSubscribed):
		return http.StatusConflict, "not_subscribed"
	case errors.Is(err, openapi.ErrInvalidArgument):
		return http.StatusBadRequest, "invalid_request"
	case errors.Is(err, openapi.ErrInvalidOpenID), errors.Is(err, openapi.ErrInvalidMediaID),
		errors.Is(err, openapi.ErrInvalidTemplateID), errors.Is(err, openapi.ErrTemplateData), errors.Is(err, openapi.ErrInvalidPage):
		return http.StatusBadRequest, "rejected_by_wechat"
	}
	var we *openapi.Error
	if errors.As(err, &we) && we.Code != -1 {
		return http.StatusBadGateway, "rejected_by_wechat"
	}
	return http.StatusBadGateway, "wechat_unavailable"
}

// explain is a plain sentence for an Open API error, with no secret.
func explain(err error) string {
	switch {
	case errors.Is(err, ErrNoOpenAPI):
		return "the app has no AppSecret configured, so the gateway cannot use the Open API"
	case errors.Is(err, openapi.ErrWindowExpired):
		return "outside the send window: the user has not written in the last 48 hours (or entered the chat in the last minute)"
	case errors.Is(err, openapi.ErrCountExceeded):
		return "outside the send window: the messages allowed since the user's last action are used up"
	case errors.Is(err, openapi.ErrNotSubscribed):
		return "the user has not accepted this subscribe template, or has used up the acceptance"
	case errors.Is(err, openapi.ErrInvalidOpenID):
		return "WeChat does not know this openid for this app"
	}
	msg := err.Error()
	if i := bytes.IndexByte([]byte(msg), '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}
