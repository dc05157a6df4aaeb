package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wechatsim"
)

// chatHistory is how many transcript entries the chat shows.
const chatHistory = 200

// maxImageUpload caps an image the user sends: WeChat's limit for
// temporary media.
const maxImageUpload = 10 << 20

// userView is one simulated user in the list.
type userView struct {
	OpenID  string
	Name    string
	Current bool
}

// bubble is one line of the phone's conversation.
type bubble struct {
	Seq    int64
	Sort   int64  // microseconds: when it happened, for ordering live inserts
	Side   string // "user", "server" or "system"
	Kind   string // text, image, link, card, subscribe, event, transfer, failure
	Text   string
	Title  string
	Desc   string
	URL    string
	Image  string // the console's URL of a picture
	Alt    string
	Page   string
	Time   string
	WireID int64 // the push on the wire, for the user's own lines
}

// bubblesView renders bubbles, for a page or a live event.
type bubblesView struct {
	L     *localizer
	Items []bubble
}

// chatView is the chat page.
type chatView struct {
	Users       []userView
	User        userView
	Bubbles     bubblesView
	Typing      bool
	Window      string
	Accept      string
	Suggestions []string
}

func (c *Console) users(loc *localizer, current string) ([]userView, userView, bool) {
	var list []userView
	var cur userView
	found := false
	for i, u := range c.opts.World.Users() {
		v := userView{OpenID: u.OpenID, Name: loc.Tf("chat.user_n", i+1)}
		if u.OpenID == current || (current == "" && i == 0) {
			v.Current, cur, found = true, v, true
		}
		list = append(list, v)
	}
	return list, cur, found
}

func (c *Console) chatPage(w http.ResponseWriter, r *http.Request) {
	loc := localizerFor(r)
	users, cur, ok := c.users(loc, r.URL.Query().Get("user"))
	if !ok {
		c.fail(w, r, http.StatusNotFound, loc.T("chat.err_user"))
		return
	}
	entries := c.opts.World.Transcript(cur.OpenID)
	if len(entries) > chatHistory {
		entries = entries[len(entries)-chatHistory:]
	}
	var items []bubble
	for _, e := range entries {
		items = append(items, c.bubbles(loc, e)...)
	}
	slices.SortStableFunc(items, func(a, b bubble) int {
		if a.Sort != b.Sort {
			return cmpInt(a.Sort, b.Sort)
		}
		return cmpInt(a.Seq, b.Seq)
	})
	_, typing := c.opts.Mock.TypingUntil(cur.OpenID)
	view := &chatView{Users: users, User: cur, Bubbles: bubblesView{L: loc, Items: items}, Typing: typing,
		Window: windowText(loc, c.opts.World.Window(cur.OpenID), c.opts.World.Clock().Now()),
		Accept: "image/png,image/jpeg,image/gif", Suggestions: c.suggestions()}
	c.render(w, r, http.StatusOK, "chat", &page{L: loc, Title: loc.T("chat.title"), User: cur.OpenID, Data: view})
}

// suggestions are texts worth trying: a word each keyword and contains
// rule of the current app answers, then Options.Suggestions.
func (c *Console) suggestions() []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] && len(out) < 8 {
			seen[s] = true
			out = append(out, s)
		}
	}
	if cfg := c.opts.Config; cfg != nil {
		if app, ok := cfg.Apps[c.emu.settings().app.Name]; ok && app != nil {
			for _, r := range app.Rules.Rules {
				switch {
				case len(r.Match.Keyword) > 0:
					add(r.Match.Keyword[0])
				case len(r.Match.Contains) > 0:
					add(r.Match.Contains[0])
				}
			}
		}
	}
	for _, s := range c.opts.Suggestions {
		add(s)
	}
	return out
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// windowText describes the user's send window.
func windowText(loc *localizer, sw wechatsim.SendWindow, now time.Time) string {
	if !sw.Open(now) {
		return loc.T("chat.window_none")
	}
	return loc.Tf("chat.window_open", sw.Used, sw.Limit, sw.ExpiresAt.Local().Format("01-02 15:04:05"))
}

// bubbles turns a transcript entry into the lines the phone shows.
func (c *Console) bubbles(loc *localizer, e wechatsim.Entry) []bubble {
	base := bubble{Seq: e.Seq, Sort: e.Time.UnixMicro(), Time: e.Time.Local().Format("15:04:05")}
	switch e.Direction {
	case wechatsim.DirectionToServer:
		return c.userBubbles(loc, e, base)
	case wechatsim.DirectionToUser:
		return []bubble{serverBubble(loc, e, base)}
	}
	return nil // typing shows in the header
}

// userBubbles are the user's own message (or action), then what WeChat
// shows of the server's answer: the transfer notice or the failure
// prompt.
func (c *Console) userBubbles(loc *localizer, e wechatsim.Entry, b bubble) []bubble {
	if p, err := message.Decode(jsonBody(e.Body), message.FormatJSON); err == nil {
		if at, id, ok := c.wire.sentAt(e.OpenID, p.DedupKey()); ok {
			b.Sort, b.WireID = at.UnixMicro(), id
		}
		b.Side = "user"
		switch m := p.(type) {
		case *message.Text:
			b.Kind, b.Text = "text", m.Content
		case *message.Image:
			b.Kind, b.Image, b.Alt = "image", "/media/"+m.MediaID, loc.T("chat.image_alt")
		case *message.MiniProgramPage:
			b.Kind, b.Title, b.Page, b.Image, b.Alt = "card", m.Title, m.PagePath, "/media/"+m.ThumbMediaID, loc.T("chat.card_thumb_alt")
		case *message.UserEnterTempSession:
			b.Side, b.Kind, b.Text = "system", "event", loc.T("chat.entered")
			if m.SessionFrom != "" {
				b.Text = loc.Tf("chat.entered_from", m.SessionFrom)
			}
		default:
			b.Side, b.Kind, b.Text = "system", "event", loc.Tf("chat.event", e.Kind)
		}
	} else {
		b.Side, b.Kind, b.Text = "system", "event", loc.Tf("chat.event", e.Kind)
	}
	out := []bubble{b}
	note := bubble{Seq: b.Seq, Sort: b.Sort, Time: b.Time, Side: "system", WireID: b.WireID}
	switch {
	case !wechatsim.Verdict(e.Outcome).Accepted():
		note.Kind, note.Title, note.Text = "failure", loc.T("chat.failure"), wechatsim.FailurePrompt
		out = append(out, note)
	case replyType(e.Reply) == "transfer_customer_service":
		note.Kind, note.Text = "transfer", loc.T("chat.transfer")
		out = append(out, note)
	}
	return out
}

// serverBubble is a customer-service message as the user sees it.
func serverBubble(loc *localizer, e wechatsim.Entry, b bubble) bubble {
	b.Side = "server"
	var m struct {
		Text struct {
			Content string `json:"content"`
		} `json:"text"`
		Image struct {
			MediaID string `json:"media_id"`
		} `json:"image"`
		Link struct {
			Title       string `json:"title"`
			Description string `json:"description"`
			URL         string `json:"url"`
		} `json:"link"`
		MiniProgramPage struct {
			Title        string `json:"title"`
			PagePath     string `json:"pagepath"`
			ThumbMediaID string `json:"thumb_media_id"`
		} `json:"miniprogrampage"`
		TemplateID string `json:"template_id"`
		Page       string `json:"page"`
	}
	_ = json.Unmarshal(e.Body, &m)
	switch e.Kind {
	case "text":
		b.Kind, b.Text = "text", m.Text.Content
	case "image":
		b.Kind, b.Image, b.Alt = "image", "/media/"+m.Image.MediaID, loc.T("chat.image_alt_cs")
	case "link":
		b.Kind, b.Title, b.Desc = "link", m.Link.Title, m.Link.Description
		if safeURL(m.Link.URL) {
			b.URL = m.Link.URL
		}
	case "miniprogrampage":
		b.Kind, b.Title, b.Page = "card", m.MiniProgramPage.Title, m.MiniProgramPage.PagePath
		b.Image, b.Alt = "/media/"+m.MiniProgramPage.ThumbMediaID, loc.T("chat.card_thumb_alt")
	case wechatsim.KindSubscribeMessage:
		b.Kind, b.Title, b.Page = "subscribe", loc.T("chat.subscribe"), m.Page
		b.Text = m.TemplateID
	default:
		b.Kind, b.Text = "text", string(e.Body)
	}
	return b
}

// safeURL reports whether a link may become an href: http(s) only.
func safeURL(u string) bool {
	return strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://")
}

// jsonBody unwraps a body the World kept as a JSON string (one that was
// not JSON).
func jsonBody(b json.RawMessage) []byte {
	var s string
	if len(b) > 0 && b[0] == '"' && json.Unmarshal(b, &s) == nil {
		return []byte(s)
	}
	return b
}

// replyType is the MsgType of a passive reply the World recorded.
func replyType(b json.RawMessage) string {
	var r struct {
		MsgType string `json:"MsgType"`
	}
	if json.Unmarshal(jsonBody(b), &r) == nil && r.MsgType != "" {
		return r.MsgType
	}
	if s := string(jsonBody(b)); strings.Contains(s, "transfer_customer_service") {
		return "transfer_customer_service"
	}
	return ""
}

// formUser returns the form's user, who must be in the World.
func (c *Console) formUser(r *http.Request) (string, bool) {
	openid := r.FormValue("user")
	if openid == "" {
		return "", false
	}
	_, ok := c.opts.World.User(openid)
	return openid, ok
}

// chatTarget is the chat page of openid.
func chatTarget(openid string) string { return "/chat?user=" + url.QueryEscape(openid) }

func (c *Console) addUser(w http.ResponseWriter, r *http.Request) {
	u := c.opts.World.NewUser()
	c.hub.publish(event{kind: evUsers})
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "user": u.OpenID})
		return
	}
	c.done(w, r, chatTarget(u.OpenID), "user")
}

func (c *Console) sendText(w http.ResponseWriter, r *http.Request) {
	loc := localizerFor(r)
	openid, ok := c.formUser(r)
	if !ok {
		c.fail(w, r, http.StatusBadRequest, loc.T("chat.err_user"))
		return
	}
	text := strings.TrimRight(r.FormValue("text"), "\r\n")
	if strings.TrimSpace(text) == "" {
		c.fail(w, r, http.StatusBadRequest, loc.T("chat.err_text"))
		return
	}
	c.pushAndAnswer(w, r, openid, &message.Text{Content: text}, text)
}

func (c *Console) sendImage(w http.ResponseWriter, r *http.Request) {
	loc := localizerFor(r)
	r.Body = http.MaxBytesReader(w, r.Body, maxImageUpload+64<<10)
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		c.fail(w, r, http.StatusBadRequest, loc.T("chat.err_image"))
		return
	}
	defer r.MultipartForm.RemoveAll()
	openid, ok := c.formUser(r)
	if !ok {
		c.fail(w, r, http.StatusBadRequest, loc.T("chat.err_user"))
		return
	}
	f, _, err := r.FormFile("image")
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, loc.T("chat.err_image"))
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, maxImageUpload+1))
	f.Close()
	if err != nil || len(data) > maxImageUpload {
		c.fail(w, r, http.StatusBadRequest, loc.T("chat.err_image"))
		return
	}
	st := c.emu.settings()
	mediaID := randomID(24)
	if err := c.opts.World.AddUserImage(st.app.AppID, openid, mediaID, data, time.Time{}); err != nil {
		c.fail(w, r, http.StatusBadRequest, loc.T("chat.err_image"))
		return
	}
	img := &message.Image{MediaID: mediaID, PicURL: "http://mmbiz.qpic.cn/mmbiz_jpg/" + mediaID + "/0"}
	c.pushAndAnswer(w, r, openid, img, loc.T("chat.image"))
}

func (c *Console) sendCard(w http.ResponseWriter, r *http.Request) {
	loc := localizerFor(r)
	openid, ok := c.formUser(r)
	if !ok {
		c.fail(w, r, http.StatusBadRequest, loc.T("chat.err_user"))
		return
	}
	title, page := strings.TrimSpace(r.FormValue("title")), strings.TrimSpace(r.FormValue("pagepath"))
	if title == "" || page == "" {
		c.fail(w, r, http.StatusBadRequest, loc.T("chat.err_card"))
		return
	}
	st := c.emu.settings()
	thumb := randomID(24)
	card := &message.MiniProgramPage{Title: title, AppID: st.app.AppID, PagePath: page, ThumbMediaID: thumb,
		ThumbURL: "http://mmbiz.qpic.cn/mmbiz_jpg/" + thumb + "/0"}
	c.pushAndAnswer(w, r, openid, card, title)
}

func (c *Console) sendEnter(w http.ResponseWriter, r *http.Request) {
	loc := localizerFor(r)
	openid, ok := c.formUser(r)
	if !ok {
		c.fail(w, r, http.StatusBadRequest, loc.T("chat.err_user"))
		return
	}
	from := r.FormValue("session_from")
	c.pushAndAnswer(w, r, openid, &message.UserEnterTempSession{SessionFrom: from}, loc.T("chat.enter"))
}

// pushAndAnswer pushes p and answers the form: the chat page, or JSON
// with the push's wire id.
func (c *Console) pushAndAnswer(w http.ResponseWriter, r *http.Request, openid string, p message.Push, summary string) {
	loc := localizerFor(r)
	rec, err := c.push(r.Context(), openid, p, summary)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, errSetting) {
			msg = loc.T("settings.err_mode")
		}
		c.fail(w, r, http.StatusBadGateway, loc.Tf("chat.err_push", msg))
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "wire": rec.ID})
		return
	}
	http.Redirect(w, r, chatTarget(openid), http.StatusSeeOther)
}

// media serves a picture of the World: what users sent and what the
// gateway uploaded.
func (c *Console) media(w http.ResponseWriter, r *http.Request) {
	data, ctype, ok := c.opts.World.MediaData(r.PathValue("id"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch ctype {
	case "image/png", "image/jpeg", "image/gif":
	default:
		// Never let the browser render anything else the mock kept.
		ctype = "application/octet-stream"
		w.Header().Set("Content-Disposition", "attachment")
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "private, max-age=3600")
	w.Write(data)
}
