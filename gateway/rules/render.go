package rules

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/wxgate/wxgate/openapi"
)

// csBody is the customer-service API's JSON for one message
// (cgi-bin/message/custom/send); without touser it is the shape of a
// webhook's replies.
type csBody struct {
	ToUser  string                   `json:"touser,omitempty"`
	MsgType string                   `json:"msgtype"`
	Text    *csText                  `json:"text,omitempty"`
	Image   *csImage                 `json:"image,omitempty"`
	Link    *openapi.Link            `json:"link,omitempty"`
	Page    *openapi.MiniProgramPage `json:"miniprogrampage,omitempty"`
}

type csText struct {
	Content string `json:"content"`
}

type csImage struct {
	MediaID string `json:"media_id"`
}

// Render returns m as the customer-service API's JSON, addressed to
// openid ("" leaves touser out, the shape of a webhook's replies). An
// image, or a card's cover file, is uploaded first through the engine's
// MediaCache (or its media_id taken from it). Text is not HTML-escaped:
// WeChat takes <a href> links in it.
func (e *Engine) Render(ctx context.Context, openid string, m Outbound) ([]byte, error) {
	b := csBody{ToUser: openid, MsgType: m.MsgType}
	switch m.MsgType {
	case MsgText:
		b.Text = &csText{Content: m.Text}
	case MsgImage:
		id, err := e.mediaID(ctx, m.Image)
		if err != nil {
			return nil, err
		}
		b.Image = &csImage{MediaID: id}
	case MsgLink:
		l := m.Link
		b.Link = &l
	case MsgMiniProgramPage:
		p := m.Page
		if m.Thumb != "" {
			id, err := e.mediaID(ctx, m.Thumb)
			if err != nil {
				return nil, err
			}
			p.ThumbMediaID = id
		}
		b.Page = &p
	default:
		return nil, fmt.Errorf("%w: msgtype %q", ErrInvalid, m.MsgType)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&b); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func (e *Engine) mediaID(ctx context.Context, path string) (string, error) {
	if e.media == nil {
		return "", ErrNoMedia
	}
	return e.media.MediaID(ctx, e.app, path)
}
