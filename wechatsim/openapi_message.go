package wechatsim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Customer-service message types accepted by message/custom/send.
const (
	// MsgTypeText is a text message: {"text":{"content"}}.
	MsgTypeText = "text"
	// MsgTypeImage is an image message: {"image":{"media_id"}}.
	MsgTypeImage = "image"
	// MsgTypeLink is a link card: {"link":{"title","description","url","thumb_url"}}.
	MsgTypeLink = "link"
	// MsgTypeMiniProgramPage is a mini program card: {"miniprogrampage":{"title","pagepath","thumb_media_id"}}.
	MsgTypeMiniProgramPage = "miniprogrampage"
)

// Typing commands accepted by message/custom/typing.
const (
	// CommandTyping shows "typing…" to the user for 15 s.
	CommandTyping = "Typing"
	// CommandCancelTyping ends the typing state.
	CommandCancelTyping = "CancelTyping"
)

// maxSent bounds the customer-service messages kept for read-back.
const maxSent = 100000

// SentMessage is a customer-service message the mock accepted.
type SentMessage struct {
	// Seq is the sequence number of the matching transcript Entry.
	Seq int64 `json:"seq"`
	// Time is when the message was accepted (clock time).
	Time time.Time `json:"time"`
	// AppID is the app whose access token sent it.
	AppID string `json:"appid"`
	// ToUser is the recipient openid.
	ToUser string `json:"touser"`
	// MsgType is text, image, link or miniprogrampage.
	MsgType string `json:"msgtype"`
	// Text is text.content for text messages.
	Text string `json:"text,omitempty"`
	// Body is the request body as sent (compacted JSON).
	Body json.RawMessage `json:"body"`
}

type sendRequest struct {
	ToUser  string `json:"touser"`
	MsgType string `json:"msgtype"`
	Text    *struct {
		Content string `json:"content"`
	} `json:"text"`
	Image *struct {
		MediaID string `json:"media_id"`
	} `json:"image"`
	Link *struct {
		Title       string `json:"title"`
		Description string `json:"description"`
		URL         string `json:"url"`
		ThumbURL    string `json:"thumb_url"`
	} `json:"link"`
	MiniProgramPage *struct {
		Title        string `json:"title"`
		PagePath     string `json:"pagepath"`
		ThumbMediaID string `json:"thumb_media_id"`
	} `json:"miniprogrampage"`
}

// readJSONBody reads and decodes a JSON request body, mapping failures to
// 44002 (empty), 47001 (malformed) or HTTP 413 (too large).
func readJSONBody(r *http.Request, v any) ([]byte, *response) {
	body, tooLarge, err := readBody(r, MaxJSONBody)
	switch {
	case tooLarge:
		resp := tooLargeResp()
		return nil, &resp
	case err != nil:
		resp := errResp(ErrCodeDataFormat, "cannot read body")
		return nil, &resp
	case len(bytes.TrimSpace(body)) == 0:
		resp := errResp(ErrCodeEmptyPostData)
		return nil, &resp
	}
	if err := decodeJSON(body, v); err != nil {
		resp := errResp(ErrCodeDataFormat)
		return nil, &resp
	}
	return body, nil
}

func (o *OpenAPI) handleCustomSend(r *http.Request) response {
	appID, code := o.authorize(r)
	if code != 0 {
		return errResp(code)
	}
	var req sendRequest
	body, bad := readJSONBody(r, &req)
	if bad != nil {
		return *bad
	}
	if req.ToUser == "" {
		return errResp(ErrCodeInvalidOpenID)
	}
	if _, ok := o.world.User(req.ToUser); !ok {
		return errResp(ErrCodeInvalidOpenID)
	}
	now := o.clock.Now()
	var text string
	switch req.MsgType {
	case MsgTypeText:
		if req.Text == nil {
			return errResp(ErrCodeDataFormat, "missing text")
		}
		if strings.TrimSpace(req.Text.Content) == "" {
			return errResp(ErrCodeEmptyContent)
		}
		text = req.Text.Content
	case MsgTypeImage:
		if req.Image == nil {
			return errResp(ErrCodeDataFormat, "missing image")
		}
		if !o.mediaValid(appID, req.Image.MediaID, now) {
			return errResp(ErrCodeInvalidMediaID)
		}
	case MsgTypeLink:
		l := req.Link
		if l == nil {
			return errResp(ErrCodeDataFormat, "missing link")
		}
		for _, f := range [][2]string{{"link.title", l.Title}, {"link.description", l.Description}, {"link.url", l.URL}, {"link.thumb_url", l.ThumbURL}} {
			if f[1] == "" {
				return errResp(ErrCodeDataFormat, "missing "+f[0])
			}
		}
		if !isHTTPURL(l.URL) || !isHTTPURL(l.ThumbURL) {
			return errResp(ErrCodeDataFormat, "link.url and link.thumb_url must be http(s) URLs")
		}
	case MsgTypeMiniProgramPage:
		p := req.MiniProgramPage
		if p == nil {
			return errResp(ErrCodeDataFormat, "missing miniprogrampage")
		}
		for _, f := range [][2]string{{"miniprogrampage.title", p.Title}, {"miniprogrampage.pagepath", p.PagePath}, {"miniprogrampage.thumb_media_id", p.ThumbMediaID}} {
			if f[1] == "" {
				return errResp(ErrCodeDataFormat, "missing "+f[0])
			}
		}
		if !o.mediaValid(appID, p.ThumbMediaID, now) {
			return errResp(ErrCodeInvalidMediaID)
		}
	default:
		return errResp(ErrCodeInvalidMessageType)
	}
	if code := o.world.useWindow(req.ToUser, now); code != 0 {
		return errResp(code)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, body); err != nil { // cannot fail: body decoded
		compact.Reset()
		compact.Write(asJSON(body))
	}
	e := o.world.Record(Entry{Time: now, OpenID: req.ToUser, Direction: DirectionToUser, Kind: req.MsgType,
		Body: compact.Bytes(), Outcome: "sent"})
	o.mu.Lock()
	delete(o.typing, req.ToUser) // sending a message cancels typing
	if len(o.sent) >= maxSent {
		n := copy(o.sent, o.sent[1:])
		o.sent = o.sent[:n]
	}
	o.sent = append(o.sent, SentMessage{Seq: e.Seq, Time: now, AppID: appID, ToUser: req.ToUser,
		MsgType: req.MsgType, Text: text, Body: e.Body})
	o.mu.Unlock()
	return okResp(apiError{ErrCode: 0, ErrMsg: "ok"})
}

func isHTTPURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// SentMessages returns the customer-service messages accepted for openid,
// oldest first; the empty openid returns every message.
func (o *OpenAPI) SentMessages(openid string) []SentMessage {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := []SentMessage{}
	for _, m := range o.sent {
		if openid == "" || m.ToUser == openid {
			out = append(out, m)
		}
	}
	return out
}

type typingRequest struct {
	ToUser  string `json:"touser"`
	Command string `json:"command"`
}

func (o *OpenAPI) handleTyping(r *http.Request) response {
	if _, code := o.authorize(r); code != 0 {
		return errResp(code)
	}
	var req typingRequest
	if _, bad := readJSONBody(r, &req); bad != nil {
		return *bad
	}
	if req.ToUser == "" {
		return errResp(ErrCodeInvalidOpenID)
	}
	if _, ok := o.world.User(req.ToUser); !ok {
		return errResp(ErrCodeInvalidOpenID)
	}
	if req.Command != CommandTyping && req.Command != CommandCancelTyping {
		return errResp(ErrCodeBadTypingCommand)
	}
	now := o.clock.Now()
	o.mu.Lock()
	if req.Command == CommandTyping {
		// Typing announces a message: it needs a send window that can still
		// carry one, and a message exchange in the last 30 s.
		win := o.world.Window(req.ToUser)
		if !win.Open(now) {
			o.mu.Unlock()
			return errResp(ErrCodeNoRecentInteraction, "no open send window")
		}
		if last := win.LastInteraction; last.IsZero() || now.Sub(last) > TypingInteractionWindow {
			o.mu.Unlock()
			return errResp(ErrCodeNoRecentInteraction, "no message exchange in the last 30 s")
		}
		if until, ok := o.typing[req.ToUser]; ok && now.Before(until) {
			o.mu.Unlock()
			return errResp(ErrCodeAlreadyTyping)
		}
		o.typing[req.ToUser] = now.Add(TypingDuration)
	} else {
		delete(o.typing, req.ToUser)
	}
	o.mu.Unlock()
	o.world.Record(Entry{Time: now, OpenID: req.ToUser, Direction: DirectionTyping, Kind: req.Command, Outcome: "ok"})
	return okResp(apiError{ErrCode: 0, ErrMsg: "ok"})
}

// Typing reports whether the user currently sees the typing state.
func (o *OpenAPI) Typing(openid string) bool {
	_, ok := o.TypingUntil(openid)
	return ok
}

// TypingUntil returns when the user's typing state ends, and false when the
// user is not in the typing state.
func (o *OpenAPI) TypingUntil(openid string) (time.Time, bool) {
	now := o.clock.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	until, ok := o.typing[openid]
	if !ok || !now.Before(until) {
		return time.Time{}, false
	}
	return until, true
}
