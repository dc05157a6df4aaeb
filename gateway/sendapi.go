package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wxgate/wxgate/openapi"
	"github.com/wxgate/wxgate/store"
)

// The send API: customer-service messages, typing, media, subscribe
// messages and the access token, for the team's own services. Every send
// goes through the app's Open API client and is recorded as an outbound
// message with the caller as its sender.

// Limits of the send API.
const (
	// MaxTextBytes is the longest text.content WeChat's custom/send takes,
	// in bytes of UTF-8 (it answers 45002 beyond it).
	MaxTextBytes = 2048
	// MaxSendBody bounds the JSON body of a send request.
	MaxSendBody = 64 << 10
	// MaxMediaUpload bounds an uploaded image (WeChat's limit for
	// temporary images).
	MaxMediaUpload = openapi.DefaultMaxMediaSize
	// MediaLifetime is how long WeChat keeps a temporary media_id.
	MediaLifetime = 72 * time.Hour
	// sendTimeout bounds a send once started: it runs to its end even if
	// the caller goes away, so that its record and idempotency answer are
	// kept.
	sendTimeout = 30 * time.Second
	// maxOpenIDLen bounds a touser or openid (WeChat's are 28 characters).
	maxOpenIDLen = 128
	// maxFieldLen bounds the other strings of a message.
	maxFieldLen = 1024
)

// errInvalid marks a request the API refuses before sending; its text is
// the plain message, naming the field.
type errInvalid struct{ msg string }

func (e *errInvalid) Error() string { return e.msg }

func invalidf(format string, args ...any) error {
	return &errInvalid{msg: fmt.Sprintf(format, args...)}
}

// Message bodies: custom/send's own JSON, decoded strictly so that a typo
// in a field name is an error rather than a message without it.
type (
	sendText struct {
		Content string `json:"content"`
	}
	sendImage struct {
		MediaID string `json:"media_id"`
	}
	sendBody struct {
		ToUser          string                   `json:"touser"`
		MsgType         string                   `json:"msgtype"`
		Text            *sendText                `json:"text,omitempty"`
		Image           *sendImage               `json:"image,omitempty"`
		Link            *openapi.Link            `json:"link,omitempty"`
		MiniProgramPage *openapi.MiniProgramPage `json:"miniprogrampage,omitempty"`
	}
	typingBody struct {
		ToUser  string `json:"touser"`
		Command string `json:"command"`
	}
)

// readJSON reads a JSON body of at most MaxSendBody bytes into v, refusing
// unknown fields and trailing data.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxSendBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return invalidf("the body is larger than %d bytes", MaxSendBody)
		}
		return invalidf("the body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return invalidf("the body is empty: send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if dec.More() {
		return invalidf("the body holds more than one JSON value")
	}
	return nil
}

// jsonProblem turns a decoding error into a plain message naming the
// field.
func jsonProblem(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field != "":
		return invalidf("%s: want a JSON %s", te.Field, jsonKind(te.Type.Kind().String()))
	case errors.As(err, &te):
		return invalidf("the body must be a JSON object")
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return invalidf("the body is not valid JSON")
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return invalidf("unknown field %s", f)
	}
	return invalidf("the body is not valid JSON")
}

func jsonKind(k string) string {
	switch k {
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	case "int", "int64", "float64":
		return "number"
	}
	return k
}

// validate checks m as custom/send would, and more strictly: the error
// names the field.
func (m *sendBody) validate() error {
	if err := checkOpenIDField("touser", m.ToUser); err != nil {
		return err
	}
	objects := map[string]bool{"text": m.Text != nil, "image": m.Image != nil, "link": m.Link != nil, "miniprogrampage": m.MiniProgramPage != nil}
	switch m.MsgType {
	case "":
		return invalidf("msgtype: required: text, image, link or miniprogrampage")
	case "text", "image", "link", "miniprogrampage":
	default:
		return invalidf("msgtype: %q is not one of text, image, link, miniprogrampage", clip(m.MsgType))
	}
	if !objects[m.MsgType] {
		return invalidf("%s: required with msgtype %s", m.MsgType, m.MsgType)
	}
	for _, name := range []string{"text", "image", "link", "miniprogrampage"} {
		if objects[name] && name != m.MsgType {
			return invalidf("%s: not allowed with msgtype %s", name, m.MsgType)
		}
	}
	switch m.MsgType {
	case "text":
		switch c := m.Text.Content; {
		case strings.TrimSpace(c) == "":
			return invalidf("text.content: must not be empty")
		case len(c) > MaxTextBytes:
			return invalidf("text.content: %d bytes, longer than WeChat's limit of %d", len(c), MaxTextBytes)
		}
	case "image":
		return checkToken("image.media_id", m.Image.MediaID)
	case "link":
		l := m.Link
		for _, f := range [][2]string{{"link.title", l.Title}, {"link.description", l.Description}} {
			if strings.TrimSpace(f[1]) == "" {
				return invalidf("%s: required", f[0])
			}
			if len(f[1]) > maxFieldLen {
				return invalidf("%s: longer than %d bytes", f[0], maxFieldLen)
			}
		}
		for _, f := range [][2]string{{"link.url", l.URL}, {"link.thumb_url", l.ThumbURL}} {
			if err := checkURL(f[0], f[1]); err != nil {
				return err
			}
		}
	case "miniprogrampage":
		p := m.MiniProgramPage
		if strings.TrimSpace(p.Title) == "" {
			return invalidf("miniprogrampage.title: required")
		}
		if len(p.Title) > maxFieldLen {
			return invalidf("miniprogrampage.title: longer than %d bytes", maxFieldLen)
		}
		if err := checkToken("miniprogrampage.pagepath", p.PagePath); err != nil {
			return err
		}
		if strings.Contains(p.PagePath, "://") {
			return invalidf("miniprogrampage.pagepath: a page of the mini program such as pages/index/index?id=1, not a URL")
		}
		return checkToken("miniprogrampage.thumb_media_id", p.ThumbMediaID)
	}
	return nil
}

// checkOpenIDField checks an openid: required, short, without spaces.
func checkOpenIDField(field, v string) error {
	switch {
	case v == "":
		return invalidf("%s: required: the user's openid", field)
	case len(v) > maxOpenIDLen:
		return invalidf("%s: longer than %d bytes", field, maxOpenIDLen)
	case !printable(v):
		return invalidf("%s: must not hold spaces or control characters", field)
	}
	return nil
}

// checkToken checks a required identifier: a media_id or a page path.
func checkToken(field, v string) error {
	switch {
	case v == "":
		return invalidf("%s: required", field)
	case len(v) > maxFieldLen:
		return invalidf("%s: longer than %d bytes", field, maxFieldLen)
	case !printable(v):
		return invalidf("%s: must not hold spaces or control characters", field)
	}
	return nil
}

// checkURL checks an absolute http or https URL.
func checkURL(field, v string) error {
	if v == "" {
		return invalidf("%s: required", field)
	}
	if len(v) > maxFieldLen {
		return invalidf("%s: longer than %d bytes", field, maxFieldLen)
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !printable(v) {
		return invalidf("%s: must be an absolute http or https URL", field)
	}
	return nil
}

// printable reports whether s is valid UTF-8 without spaces or control
// characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 {
			return false
		}
	}
	return true
}

// clip shortens a value quoted in an error.
func clip(s string) string {
	if len(s) <= 32 {
		return s
	}
	for i := 32; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return ""
}

// marshalCompact encodes v without HTML escaping (a text may hold links)
// and without a trailing newline.
func marshalCompact(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil // the types of this file always encode
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// errBody is the API's error shape, with WeChat's errcode when it refused.
type errBody struct {
	Error errDetail `json:"error"`
}

type errDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	ErrCode *int   `json:"errcode,omitempty"`
}

// answer is a response not yet written: the idempotency keys store it.
type answer struct {
	status int
	body   []byte
}

func jsonAnswer(status int, v any) answer {
	return answer{status: status, body: append(marshalCompact(v), '\n')}
}

func errAnswer(status int, code, msg string) answer {
	return jsonAnswer(status, errBody{Error: errDetail{Code: code, Message: msg}})
}

// wechatAnswer answers an Open API error: the status and code of
// sendErrorStatus, a plain explanation, and WeChat's errcode when it
// answered one.
func wechatAnswer(err error) answer {
	var ie *errInvalid
	if errors.As(err, &ie) {
		return errAnswer(http.StatusBadRequest, "invalid_request", ie.msg)
	}
	status, code := sendErrorStatus(err)
	d := errDetail{Code: code, Message: explainSend(err)}
	var we *openapi.Error
	if errors.As(err, &we) {
		d.ErrCode = &we.Code
	}
	return jsonAnswer(status, errBody{Error: d})
}

// sendErrorStatus is wechatErrorStatus with the typing indicator's own
// refusals, which are conflicts with the conversation's state.
func sendErrorStatus(err error) (int, string) {
	var we *openapi.Error
	if errors.As(err, &we) {
		switch we.Code {
		case 45080:
			return http.StatusConflict, "no_recent_exchange"
		case 45081:
			return http.StatusConflict, "already_typing"
		case 40007:
			return http.StatusBadRequest, "invalid_media_id"
		}
	}
	return wechatErrorStatus(err)
}

// explainSend is explain with the typing refusals and local validation
// failures said plainly.
func explainSend(err error) string {
	var we *openapi.Error
	if errors.As(err, &we) {
		switch we.Code {
		case 45080:
			return "typing needs a message exchange with the user in the last 30 seconds and an open send window"
		case 45081:
			return "the user already sees the typing indicator"
		case 40007:
			return "WeChat does not know this media_id, or it expired (media lasts 3 days)"
		}
	}
	if errors.Is(err, openapi.ErrInvalidArgument) && !errors.As(err, &we) {
		msg, _ := strings.CutPrefix(err.Error(), "openapi: invalid argument: ")
		return msg
	}
	return explain(err)
}

// sentOrAnswered reports whether WeChat took the request and answered it
// (errcode 0 or a refusal of the message itself): such an answer is kept
// for an idempotency key. Otherwise nothing was sent (no Open API, a
// token that could not be had, WeChat busy or unreachable) and the key is
// released so that a retry runs.
func sentOrAnswered(err error) bool {
	if err == nil {
		return true
	}
	var we *openapi.Error
	if !errors.As(err, &we) {
		return false
	}
	return we.Code != -1 && !we.TokenEndpoint && !errors.Is(err, openapi.ErrTokenRejected)
}

// writeAnswer writes a.
func writeAnswer(w http.ResponseWriter, a answer) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(a.status)
	w.Write(a.body)
}

// sendContext is the context of a send: not canceled with the request,
// bounded by sendTimeout.
func sendContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), sendTimeout)
}

// sendMessage is POST /v1/apps/{app}/messages.
func (g *Gateway) sendMessage(w http.ResponseWriter, r *http.Request, p *principal) {
	app := r.PathValue("app")
	var m sendBody
	err := readJSON(w, r, &m)
	if err == nil {
		err = m.validate()
	}
	if err != nil {
		writeAnswer(w, wechatAnswer(err))
		return
	}
	body := marshalCompact(&m)
	g.idempotent(w, r, p, body, func(ctx context.Context) (answer, bool) {
		id, err := g.sendCustom(ctx, app, body, p.sender, "")
		if err != nil {
			return wechatAnswer(err), sentOrAnswered(err)
		}
		return jsonAnswer(http.StatusOK, map[string]string{"id": id}), true
	})
}

// sendTyping is POST /v1/apps/{app}/typing.
func (g *Gateway) sendTyping(w http.ResponseWriter, r *http.Request, p *principal) {
	app := r.PathValue("app")
	var t typingBody
	err := readJSON(w, r, &t)
	if err == nil {
		err = checkOpenIDField("touser", t.ToUser)
	}
	if err == nil && t.Command != "Typing" && t.Command != "CancelTyping" {
		err = invalidf("command: must be Typing or CancelTyping")
	}
	if err != nil {
		writeAnswer(w, wechatAnswer(err))
		return
	}
	ctx, cancel := sendContext(r)
	defer cancel()
	c, err := g.client(app)
	if err == nil {
		err = c.Typing(ctx, t.ToUser, t.Command == "Typing")
	}
	id := g.recordOutbound(ctx, store.Outbound{App: app, OpenID: t.ToUser, Kind: "typing", MsgType: t.Command,
		Sender: p.sender, Request: marshalCompact(&t)}, err)
	if err != nil {
		writeAnswer(w, wechatAnswer(err))
		return
	}
	writeAnswer(w, jsonAnswer(http.StatusOK, map[string]string{"id": id}))
}

// sendSubscribe is POST /v1/apps/{app}/subscribe-messages.
func (g *Gateway) sendSubscribe(w http.ResponseWriter, r *http.Request, p *principal) {
	app := r.PathValue("app")
	var m openapi.SubscribeMessage
	err := readJSON(w, r, &m)
	if err == nil && len(m.ToUser) > maxOpenIDLen {
		err = invalidf("touser: longer than %d bytes", maxOpenIDLen)
	}
	if err == nil {
		if verr := m.Validate(); verr != nil {
			msg, _ := strings.CutPrefix(verr.Error(), "openapi: invalid argument: ")
			err = invalidf("%s", msg)
		}
	}
	if err != nil {
		writeAnswer(w, wechatAnswer(err))
		return
	}
	body := marshalCompact(&m)
	g.idempotent(w, r, p, body, func(ctx context.Context) (answer, bool) {
		c, err := g.client(app)
		var msgID string
		if err == nil {
			msgID, err = c.SendSubscribeMessage(ctx, m)
		}
		id := g.recordOutbound(ctx, store.Outbound{App: app, OpenID: m.ToUser, Kind: "subscribe", MsgType: m.TemplateID,
			Sender: p.sender, Request: body}, err)
		if err != nil {
			return wechatAnswer(err), sentOrAnswered(err)
		}
		return jsonAnswer(http.StatusOK, map[string]string{"id": id, "msgid": msgID}), true
	})
}

// accessToken is GET /v1/apps/{app}/access-token.
func (g *Gateway) accessToken(w http.ResponseWriter, r *http.Request, _ *principal) {
	c, err := g.client(r.PathValue("app"))
	var tok openapi.Token
	if err == nil {
		tok, err = c.Token(r.Context())
	}
	if err != nil {
		writeAnswer(w, wechatAnswer(err))
		return
	}
	writeAnswer(w, jsonAnswer(http.StatusOK, map[string]string{
		"access_token": tok.Value(),
		"expires_at":   tok.ExpiresAt().UTC().Format(time.RFC3339),
	}))
}
