package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"path"
	"strings"
	"time"
)

// Customer-service (客服消息) calls. WeChat accepts them only inside the send
// window: up to 5 messages within 48 h of a user's message, or 2 within
// 1 min of the user entering the session. Outside it the call fails with
// ErrWindowExpired (45015) or ErrCountExceeded (45047); neither is retried.

// textMessage, imageMessage, ... are custom/send bodies.
type textMessage struct {
	ToUser  string `json:"touser"`
	MsgType string `json:"msgtype"`
	Text    struct {
		Content string `json:"content"`
	} `json:"text"`
}

type imageMessage struct {
	ToUser  string `json:"touser"`
	MsgType string `json:"msgtype"`
	Image   struct {
		MediaID string `json:"media_id"`
	} `json:"image"`
}

// Link is a link card sent with SendLink.
type Link struct {
	// Title is the card title.
	Title string `json:"title"`
	// Description is the card text.
	Description string `json:"description"`
	// URL is opened when the user taps the card.
	URL string `json:"url"`
	// ThumbURL is the card's image.
	ThumbURL string `json:"thumb_url"`
}

type linkMessage struct {
	ToUser  string `json:"touser"`
	MsgType string `json:"msgtype"`
	Link    Link   `json:"link"`
}

// MiniProgramPage is a mini-program card sent with SendMiniProgramPage.
type MiniProgramPage struct {
	// Title is the card title.
	Title string `json:"title"`
	// PagePath is the page opened, e.g. "pages/index/index?foo=bar".
	PagePath string `json:"pagepath"`
	// ThumbMediaID is an image media_id from UploadTempMedia; 520x416 is
	// recommended.
	ThumbMediaID string `json:"thumb_media_id"`
}

type pageMessage struct {
	ToUser          string          `json:"touser"`
	MsgType         string          `json:"msgtype"`
	MiniProgramPage MiniProgramPage `json:"miniprogrampage"`
}

type typingRequest struct {
	ToUser  string `json:"touser"`
	Command string `json:"command"`
}

// SendText sends a text message to the user. content may hold
// <a href="..." data-miniprogram-appid="..." data-miniprogram-path="...">
// links; it is sent without HTML escaping.
func (c *Client) SendText(ctx context.Context, openID, content string) error {
	if err := checkOpenID(openID); err != nil {
		return err
	}
	if content == "" {
		return fmt.Errorf("%w: empty text", ErrInvalidArgument)
	}
	m := textMessage{ToUser: openID, MsgType: "text"}
	m.Text.Content = content
	return c.send(ctx, &m)
}

// SendImage sends an image, given by a media_id from UploadTempMedia.
func (c *Client) SendImage(ctx context.Context, openID, mediaID string) error {
	if err := checkOpenID(openID); err != nil {
		return err
	}
	if mediaID == "" {
		return fmt.Errorf("%w: empty media_id", ErrInvalidArgument)
	}
	m := imageMessage{ToUser: openID, MsgType: "image"}
	m.Image.MediaID = mediaID
	return c.send(ctx, &m)
}

// SendLink sends a link card.
func (c *Client) SendLink(ctx context.Context, openID string, link Link) error {
	if err := checkOpenID(openID); err != nil {
		return err
	}
	if link.URL == "" || link.Title == "" {
		return fmt.Errorf("%w: link needs a title and a url", ErrInvalidArgument)
	}
	return c.send(ctx, &linkMessage{ToUser: openID, MsgType: "link", Link: link})
}

// SendMiniProgramPage sends a mini-program page card.
func (c *Client) SendMiniProgramPage(ctx context.Context, openID string, page MiniProgramPage) error {
	if err := checkOpenID(openID); err != nil {
		return err
	}
	if page.PagePath == "" || page.ThumbMediaID == "" {
		return fmt.Errorf("%w: page card needs a pagepath and a thumb_media_id", ErrInvalidArgument)
	}
	return c.send(ctx, &pageMessage{ToUser: openID, MsgType: "miniprogrampage", MiniProgramPage: page})
}

// Typing shows (on) or cancels (!on) the "typing" indicator for the user. It
// needs an exchange with the user within the last 30 s; the state lasts 15 s,
// and sending a message cancels it. WeChat answers 45080 (no recent
// exchange) or 45081 (already typing) as *Error.
func (c *Client) Typing(ctx context.Context, openID string, on bool) error {
	if err := checkOpenID(openID); err != nil {
		return err
	}
	cmd := "CancelTyping"
	if on {
		cmd = "Typing"
	}
	body, err := marshal(typingRequest{ToUser: openID, Command: cmd})
	if err != nil {
		return err
	}
	return c.call(ctx, &exchange{op: "cgi-bin/message/custom/typing", method: "POST", body: body, contentType: "application/json"}, nil)
}

// Media is an uploaded temporary media.
type Media struct {
	// Type is the media type WeChat reports ("image").
	Type string
	// MediaID identifies the media in SendImage and MiniProgramPage; it is
	// valid for 3 days.
	MediaID string
	// CreatedAt is WeChat's creation time (zero if it did not say).
	CreatedAt time.Time
}

// uploadAnswer is the media/upload answer.
type uploadAnswer struct {
	Type      string          `json:"type"`
	MediaID   string          `json:"media_id"`
	CreatedAt json.RawMessage `json:"created_at"`
}

// UploadTempMedia uploads an image as temporary media (media/upload,
// type=image, multipart field "media") and returns its media_id. filename
// is sent to WeChat, which may check its extension; if empty, a name is
// derived from the detected image type. The image is read fully (at most
// WithMaxMediaSize bytes) so the request can be retried.
func (c *Client) UploadTempMedia(ctx context.Context, filename string, image io.Reader) (Media, error) {
	const op = "cgi-bin/media/upload"
	if image == nil {
		return Media{}, fmt.Errorf("%w: nil image", ErrInvalidArgument)
	}
	data, err := io.ReadAll(io.LimitReader(image, c.t.maxMedia+1))
	if err != nil {
		return Media{}, fmt.Errorf("openapi: %s: reading image: %w", op, err)
	}
	if len(data) == 0 {
		return Media{}, fmt.Errorf("%w: empty image", ErrInvalidArgument)
	}
	if int64(len(data)) > c.t.maxMedia {
		return Media{}, fmt.Errorf("%w: image larger than %d bytes", ErrInvalidArgument, c.t.maxMedia)
	}
	ctype := http.DetectContentType(data)
	if !strings.HasPrefix(ctype, "image/") {
		ctype = "application/octet-stream"
	}
	filename = path.Base(strings.ReplaceAll(filename, `\`, "/"))
	if filename == "" || filename == "." || filename == "/" {
		filename = "image" + imageExt(ctype)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", `form-data; name="media"; filename="`+quoteFilename(filename)+`"`)
	h.Set("Content-Type", ctype)
	pw, err := mw.CreatePart(h)
	if err == nil {
		_, err = pw.Write(data)
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		return Media{}, fmt.Errorf("openapi: %s: building form: %w", op, err)
	}
	var ans uploadAnswer
	err = c.call(ctx, &exchange{op: op, method: "POST", body: buf.Bytes(), contentType: mw.FormDataContentType(), out: &ans},
		url.Values{"type": {"image"}})
	if err != nil {
		return Media{}, err
	}
	if ans.MediaID == "" {
		return Media{}, badResponse(op, "missing media_id")
	}
	m := Media{Type: ans.Type, MediaID: ans.MediaID}
	if n, present, valid := parseInt(ans.CreatedAt); present && valid && n > 0 {
		m.CreatedAt = time.Unix(n, 0)
	}
	return m, nil
}

// imageExt returns a file extension for an image media type.
func imageExt(ctype string) string {
	switch ctype {
	case "image/png":
		return ".png"
	case "image/gif":
		return ".gif"
	case "image/bmp":
		return ".bmp"
	case "image/webp":
		return ".webp"
	}
	return ".jpg"
}

// quoteFilename escapes a filename for a quoted Content-Disposition
// parameter.
func quoteFilename(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"' || r == '\\':
			return '_'
		case r < ' ' || r == 0x7f:
			return -1
		}
		return r
	}, s)
}

// GetTempMedia downloads temporary media (media/get). WeChat answers with the
// image bytes, or with a JSON error such as 40007 (ErrInvalidMediaID); the
// two are told apart by Content-Type. contentType is the media type of the
// image, e.g. "image/jpeg". At most WithMaxMediaSize bytes are read.
func (c *Client) GetTempMedia(ctx context.Context, mediaID string) (data []byte, contentType string, err error) {
	if mediaID == "" {
		return nil, "", fmt.Errorf("%w: empty media_id", ErrInvalidArgument)
	}
	var m mediaAnswer
	err = c.call(ctx, &exchange{op: "cgi-bin/media/get", method: "GET", media: &m}, url.Values{"media_id": {mediaID}})
	if err != nil {
		return nil, "", err
	}
	return m.data, m.contentType, nil
}
