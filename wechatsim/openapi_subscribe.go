package wechatsim

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// KindSubscribeMessage is the Entry.Kind of a subscribe message sent to a
// user (Direction DirectionToUser).
const KindSubscribeMessage = "subscribe_message"

// SentSubscribeMessage is a subscribe message the mock accepted.
type SentSubscribeMessage struct {
	// Seq is the sequence number of the matching transcript Entry.
	Seq int64 `json:"seq"`
	// Time is when the message was accepted (clock time).
	Time time.Time `json:"time"`
	// AppID is the app whose access token sent it.
	AppID string `json:"appid"`
	// MsgID is the msgid the mock answered, in decimal (19 digits, too many
	// for a JavaScript number).
	MsgID string `json:"msgid"`
	// ToUser is the recipient openid.
	ToUser string `json:"touser"`
	// TemplateID is the template sent.
	TemplateID string `json:"template_id"`
	// Page is the page the message opens ("" for none).
	Page string `json:"page,omitempty"`
	// MiniProgramState is miniprogram_state as sent ("" when absent).
	MiniProgramState string `json:"miniprogram_state,omitempty"`
	// Lang is lang as sent ("" when absent).
	Lang string `json:"lang,omitempty"`
	// Data holds the keyword values, numbers as their decimal text.
	Data map[string]string `json:"data"`
	// Body is the request body as sent (compacted JSON).
	Body json.RawMessage `json:"body"`
}

type subscribeRequest struct {
	ToUser           string          `json:"touser"`
	TemplateID       string          `json:"template_id"`
	Page             string          `json:"page"`
	Data             json.RawMessage `json:"data"`
	MiniProgramState string          `json:"miniprogram_state"`
	Lang             string          `json:"lang"`
}

// argumentInvalid answers 47003 with the field in the errmsg, as WeChat
// does ("argument invalid! data.thing1.value is empty"), and why in the
// hint.
func argumentInvalid(field, what, why string) response {
	msg := ErrMsg(ErrCodeArgumentInvalid) + " " + field + " " + what
	return response{code: ErrCodeArgumentInvalid, body: apiError{ErrCode: ErrCodeArgumentInvalid, ErrMsg: msg}, hint: why}
}

// handleSubscribeSend emulates subscribeMessage.send. The checks run in
// this order, and a refused message uses no acceptance: token, body (44002,
// 47001), touser (40003), template_id (40037), page (41030),
// miniprogram_state and lang (47003), data (47003), acceptance (43101).
func (o *OpenAPI) handleSubscribeSend(r *http.Request) response {
	appID, code := o.authorize(r)
	if code != 0 {
		return errResp(code)
	}
	var req subscribeRequest
	body, bad := readJSONBody(r, &req)
	if bad != nil {
		return *bad
	}
	if req.ToUser == "" {
		return errResp(ErrCodeInvalidOpenID, "missing touser")
	}
	if _, ok := o.world.User(req.ToUser); !ok {
		return errResp(ErrCodeInvalidOpenID, "unknown touser")
	}
	tpl, ok := o.world.Template(req.TemplateID)
	switch {
	case req.TemplateID == "":
		return errResp(ErrCodeInvalidTemplateID, "missing template_id")
	case !ok:
		return errResp(ErrCodeInvalidTemplateID, "unknown template_id: add it with World.AddTemplate or POST /_sim/templates")
	case tpl.AppID != appID:
		return errResp(ErrCodeInvalidTemplateID, "the template belongs to another app")
	}
	if req.Page != "" && (strings.Contains(req.Page, "://") || strings.IndexFunc(req.Page, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}) >= 0) {
		return errResp(ErrCodeInvalidPage, "page must be a page path of the mini program, such as pages/index/index?id=1")
	}
	switch req.MiniProgramState {
	case "", "developer", "trial", "formal":
	default:
		return argumentInvalid("miniprogram_state", "invalid", "miniprogram_state must be developer, trial or formal")
	}
	switch req.Lang {
	case "", "zh_CN", "en_US", "zh_HK", "zh_TW":
	default:
		return argumentInvalid("lang", "invalid", "lang must be zh_CN, en_US, zh_HK or zh_TW")
	}
	data, resp := subscribeData(req.Data, tpl)
	if resp != nil {
		return *resp
	}
	if !o.world.useSubscription(req.ToUser, req.TemplateID) {
		return errResp(ErrCodeNotSubscribed, "the user has no acceptance of this template left: World.NoteSubscribe or POST /_sim/subscriptions")
	}
	now := o.clock.Now()
	var compact bytes.Buffer
	if err := json.Compact(&compact, body); err != nil { // cannot fail: body decoded
		compact.Reset()
		compact.Write(asJSON(body))
	}
	detail := "template " + req.TemplateID
	if tpl.Title != "" {
		detail = "template " + tpl.Title + " (" + req.TemplateID + ")"
	}
	o.mu.Lock()
	if o.msgID == 0 {
		o.msgID = 1_800_000_000_000_000_000 + rand.Int64N(100_000_000_000_000_000)
	}
	o.msgID++
	id := o.msgID
	o.mu.Unlock()
	e := o.world.Record(Entry{Time: now, OpenID: req.ToUser, Direction: DirectionToUser, Kind: KindSubscribeMessage,
		Body: compact.Bytes(), Outcome: "sent", Detail: detail})
	o.mu.Lock()
	if len(o.subs) >= maxSent {
		n := copy(o.subs, o.subs[1:])
		o.subs = o.subs[:n]
	}
	o.subs = append(o.subs, SentSubscribeMessage{Seq: e.Seq, Time: now, AppID: appID, MsgID: strconv.FormatInt(id, 10),
		ToUser: req.ToUser, TemplateID: req.TemplateID, Page: req.Page, MiniProgramState: req.MiniProgramState,
		Lang: req.Lang, Data: data, Body: e.Body})
	o.mu.Unlock()
	return okResp(subscribeAnswer{ErrCode: 0, ErrMsg: "ok", MsgID: id})
}

type subscribeAnswer struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
	MsgID   int64  `json:"msgid"`
}

// subscribeData decodes data ({"thing1":{"value":V}}, V a string or a
// number) and checks every keyword of the template. Keys the template does
// not have are kept but not checked.
func subscribeData(raw json.RawMessage, tpl Template) (map[string]string, *response) {
	items := map[string]json.RawMessage{}
	if t := bytes.TrimSpace(raw); len(t) > 0 && string(t) != "null" {
		if t[0] != '{' || json.Unmarshal(t, &items) != nil {
			resp := errResp(ErrCodeDataFormat, "data must be an object such as {\"thing1\":{\"value\":\"…\"}}")
			return nil, &resp
		}
	}
	data := make(map[string]string, len(items))
	for k, item := range items {
		v, ok := keywordValue(item)
		if !ok {
			if isKeyword(tpl, k) {
				resp := argumentInvalid("data."+k+".value", "invalid", "the value must be a string or a number inside {\"value\":…}")
				return nil, &resp
			}
			continue
		}
		data[k] = v
	}
	for _, k := range tpl.Keywords {
		kind, _ := keywordKind(k)
		switch why := keywordValueProblem(kind, data[k]); {
		case why == "is empty":
			resp := argumentInvalid("data."+k+".value", "is empty", "every keyword of the template needs a value")
			return nil, &resp
		case why != "":
			resp := argumentInvalid("data."+k+".value", "invalid", why)
			return nil, &resp
		}
	}
	return data, nil
}

func isKeyword(tpl Template, k string) bool {
	for _, kw := range tpl.Keywords {
		if kw == k {
			return true
		}
	}
	return false
}

// keywordValue reads {"value":V}; a missing value gives "".
func keywordValue(item json.RawMessage) (string, bool) {
	var obj struct {
		Value json.RawMessage `json:"value"`
	}
	if t := bytes.TrimSpace(item); len(t) == 0 || t[0] != '{' || json.Unmarshal(t, &obj) != nil {
		return "", false
	}
	v := bytes.TrimSpace(obj.Value)
	switch {
	case len(v) == 0 || string(v) == "null":
		return "", true
	case v[0] == '"':
		var s string
		err := json.Unmarshal(v, &s)
		return s, err == nil
	case v[0] == '-' || v[0] >= '0' && v[0] <= '9':
		var n json.Number
		err := json.Unmarshal(v, &n)
		return n.String(), err == nil
	}
	return "", false
}

// SubscribeMessages returns the subscribe messages accepted for openid,
// oldest first; the empty openid returns every one.
func (o *OpenAPI) SubscribeMessages(openid string) []SentSubscribeMessage {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := []SentSubscribeMessage{}
	for _, m := range o.subs {
		if openid == "" || m.ToUser == openid {
			out = append(out, m)
		}
	}
	return out
}

// ---- /_sim/ endpoints ----

func (o *OpenAPI) handleSimTemplates(r *http.Request) response {
	if r.Method == http.MethodGet {
		return okResp(map[string]any{"templates": o.world.Templates(r.URL.Query().Get("appid"))})
	}
	var t Template
	if _, bad := readJSONBody(r, &t); bad != nil {
		return simError(http.StatusBadRequest, "body must be {\"appid\":\"optional\",\"template_id\":\"optional\",\"title\":\"…\",\"keywords\":[\"thing1\",\"time2\"]}")
	}
	stored, err := o.world.AddTemplate(t)
	if err != nil {
		return simError(http.StatusBadRequest, err.Error())
	}
	return okResp(stored)
}

// subscriptionRequest is the body of POST /_sim/subscriptions.
type subscriptionRequest struct {
	OpenID     string `json:"openid"`
	TemplateID string `json:"template_id"`
	Status     string `json:"status"` // accept, reject or cancel
}

func (o *OpenAPI) handleSimSubscriptions(r *http.Request) response {
	if r.Method == http.MethodGet {
		return okResp(map[string]any{"subscriptions": o.world.Subscriptions(r.URL.Query().Get("openid"))})
	}
	var req subscriptionRequest
	_, bad := readJSONBody(r, &req)
	if bad != nil || req.OpenID == "" || req.TemplateID == "" {
		return simError(http.StatusBadRequest, "body must be {\"openid\":\"…\",\"template_id\":\"…\",\"status\":\"accept\"|\"reject\"|\"cancel\"}")
	}
	switch req.Status {
	case SubscribeAccepted, SubscribeRejected:
		o.world.NoteSubscribe(req.OpenID, req.TemplateID, req.Status == SubscribeAccepted)
	case SubscribeCanceled:
		o.world.CancelSubscribe(req.OpenID, req.TemplateID)
	default:
		return simError(http.StatusBadRequest, "status must be accept, reject or cancel")
	}
	return okResp(o.world.Subscription(req.OpenID, req.TemplateID))
}

func (o *OpenAPI) handleSimSubscribeMessages(r *http.Request) response {
	return okResp(map[string]any{"messages": o.SubscribeMessages(r.URL.Query().Get("openid"))})
}
