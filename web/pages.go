package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wechatsim"
)

// serverPageSize is how many messages the Server page lists.
const serverPageSize = 50

// wireRowView renders one row of the wire table.
type wireRowView struct {
	L *localizer
	R wireRecord
}

// wireView is the Wire page.
type wireView struct {
	Rows []wireRowView
}

func (c *Console) wirePage(w http.ResponseWriter, r *http.Request) {
	loc := localizerFor(r)
	var view wireView
	for _, rec := range c.wire.list() {
		view.Rows = append(view.Rows, wireRowView{L: loc, R: rec})
	}
	c.render(w, r, http.StatusOK, "wire", &page{L: loc, Title: loc.T("wire.title"), Data: &view})
}

// wireDetailView is one push on the wire.
type wireDetailView struct {
	R           wireRecord
	Attempts    []attemptView
	Curl        string
	Push        string
	PushEnv     bool
	ModeName    string
	PlainPretty string
	BodyPretty  string
}

// attemptView is one delivery of a push.
type attemptView struct {
	wechatsim.Delivery
	URL      string
	Answer   string
	Accepted bool
	Err      string
}

func (c *Console) wireDetail(w http.ResponseWriter, r *http.Request) {
	loc := localizerFor(r)
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	rec, ok := c.wire.get(id)
	if err != nil || !ok {
		c.fail(w, r, http.StatusNotFound, loc.Tf("wire.not_found", maxWire))
		return
	}
	view := &wireDetailView{R: rec, ModeName: loc.T("mode." + rec.Mode.String())}
	for _, d := range rec.Deliveries {
		a := attemptView{Delivery: d, URL: signedURL(rec.PushURL, rec.OpenID, d), Answer: string(d.Body),
			Accepted: wechatsim.Verdict(d.Verdict).Accepted()}
		if d.Err != nil {
			a.Err = d.Err.Error()
		}
		view.Attempts = append(view.Attempts, a)
	}
	view.Curl = rec.CurlCommand()
	appID := ""
	if !c.opts.ShowCredentials {
		appID, view.PushEnv = c.appID(rec.App), true
	}
	view.Push = rec.PushCommand(c.opts.StateDir, appID)
	c.render(w, r, http.StatusOK, "wire_detail", &page{L: loc, Title: loc.Tf("wire.push_n", rec.ID), Data: view})
}

// appID is the AppID of the app named name.
func (c *Console) appID(name string) string {
	for _, a := range c.opts.Apps {
		if a.Name == name {
			return a.AppID
		}
	}
	return ""
}

// serverView is the Server page.
type serverView struct {
	Counters   counters
	Sent       int
	Messages   []apiMessage
	Next       string
	Cursor     string
	Dead       []apiDelivery
	Rules      []appRules
	Config     string
	APIError   string
	HasWebhook bool
}

func (c *Console) serverPage(w http.ResponseWriter, r *http.Request) {
	loc := localizerFor(r)
	ctx, cancel := context.WithTimeout(r.Context(), apiTimeout)
	defer cancel()
	view := &serverView{Cursor: r.URL.Query().Get("cursor"), Rules: explainRules(loc, c.opts.Config)}
	var errs []error
	var err error
	if view.Counters, err = c.api.metrics(ctx); err != nil {
		errs = append(errs, err)
	}
	if view.Messages, view.Next, err = c.api.messages(ctx, view.Cursor, serverPageSize); err != nil {
		errs = append(errs, err)
	}
	if view.Dead, err = c.api.deadLetters(ctx, serverPageSize); err != nil {
		errs = append(errs, err)
	}
	if st, ok := c.opts.Mock.Stats()[wechatsim.PathCustomSend]; ok {
		view.Sent = st.OK
	}
	if c.opts.Config != nil {
		view.Config = c.opts.Config.Redacted()
	}
	if len(errs) > 0 {
		view.APIError = loc.Tf("server.api_error", errors.Join(errs...).Error())
	}
	c.render(w, r, http.StatusOK, "server", &page{L: loc, Title: loc.T("server.title"), Data: view})
}

// messageView is one stored push.
type messageView struct {
	M            *apiMessage
	Deliveries   []apiDelivery
	Pretty       string
	Conversation []apiConversationItem
}

func (c *Console) messagePage(w http.ResponseWriter, r *http.Request) {
	loc := localizerFor(r)
	ctx, cancel := context.WithTimeout(r.Context(), apiTimeout)
	defer cancel()
	m, ds, err := c.api.message(ctx, r.PathValue("id"))
	if err != nil {
		status, msg := http.StatusBadGateway, loc.Tf("server.api_error", err.Error())
		if errors.Is(err, errNotFound) {
			status, msg = http.StatusNotFound, loc.T("server.not_found")
		}
		c.fail(w, r, status, msg)
		return
	}
	view := &messageView{M: m, Deliveries: ds, Pretty: prettyJSON(m.Message)}
	if m.OpenID != "" {
		view.Conversation, _ = c.api.conversation(ctx, m.App, m.OpenID, 20)
	}
	c.render(w, r, http.StatusOK, "server_message", &page{L: loc, Title: loc.Tf("server.message", m.ID), Data: view})
}

func (c *Console) redeliver(w http.ResponseWriter, r *http.Request) {
	loc := localizerFor(r)
	id, dest := r.FormValue("id"), r.FormValue("destination")
	n, err := c.api.redeliver(r.Context(), id, dest)
	if err != nil {
		status := http.StatusBadGateway
		if errors.Is(err, errNotFound) {
			status = http.StatusNotFound
		}
		c.fail(w, r, status, loc.Tf("server.api_error", err.Error()))
		return
	}
	c.hub.publish(event{kind: evServer})
	back := "/server"
	if strings.HasPrefix(r.FormValue("back"), "/server/messages/") {
		back = r.FormValue("back")
	}
	c.done(w, r, back, "redelivered-"+strconv.Itoa(n))
}

func (c *Console) redeliverDead(w http.ResponseWriter, r *http.Request) {
	loc := localizerFor(r)
	n, err := c.api.redeliverDead(r.Context(), r.FormValue("destination"))
	if err != nil {
		c.fail(w, r, http.StatusBadGateway, loc.Tf("server.api_error", err.Error()))
		return
	}
	c.hub.publish(event{kind: evServer})
	c.done(w, r, "/server", "redelivered-"+strconv.Itoa(n))
}

// settingsView is the Settings page.
type settingsView struct {
	Apps        []settingsApp
	App         int
	Mode        string
	Format      string
	Modes       []choice
	Formats     []choice
	Faults      faults
	Webhook     *Webhook
	WebhookSlow bool
	WebhookFail bool
	Credentials []credentialView
	ShowSecrets bool
}

type settingsApp struct {
	Index    int
	Name     string
	Selected bool
}

// choice is one radio button.
type choice struct {
	Value, Label string
	Checked      bool
	Disabled     bool
}

type credentialView struct {
	App, PushURL, AppID, Token, AESKey string
}

func (c *Console) settingsPage(w http.ResponseWriter, r *http.Request) {
	loc := localizerFor(r)
	c.render(w, r, http.StatusOK, "settings", &page{L: loc, Title: loc.T("settings.title"), Data: c.settingsView(loc)})
}

func (c *Console) settingsView(loc *localizer) *settingsView {
	st := c.emu.settings()
	v := &settingsView{App: st.index, Mode: st.mode.String(), Format: st.format.String(), Faults: c.emu.faults(),
		Webhook: c.opts.Webhook, ShowSecrets: c.opts.ShowCredentials}
	for i, a := range c.opts.Apps {
		v.Apps = append(v.Apps, settingsApp{Index: i, Name: a.Name, Selected: i == st.index})
		cred := credentialView{App: a.Name, PushURL: a.PushURL, AppID: a.AppID}
		if c.opts.ShowCredentials {
			cred.Token, cred.AESKey = a.Token, a.AESKey
		}
		v.Credentials = append(v.Credentials, cred)
	}
	for _, m := range []wechatsim.Mode{wechatsim.ModePlain, wechatsim.ModeCompat, wechatsim.ModeSafe} {
		v.Modes = append(v.Modes, choice{Value: m.String(), Label: loc.T("mode." + m.String()), Checked: m == st.mode,
			Disabled: m != wechatsim.ModePlain && !c.emu.canEncrypt(st.index)})
	}
	for _, f := range []message.Format{message.FormatXML, message.FormatJSON} {
		v.Formats = append(v.Formats, choice{Value: f.String(), Label: strings.ToUpper(f.String()), Checked: f == st.format})
	}
	if c.opts.Webhook != nil {
		v.WebhookSlow, v.WebhookFail = c.opts.Webhook.Slow(), c.opts.Webhook.Failing()
	}
	return v
}

func (c *Console) saveSettings(w http.ResponseWriter, r *http.Request) {
	loc := localizerFor(r)
	st := c.emu.settings()
	app := st.index
	if s := r.FormValue("app"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n >= len(c.opts.Apps) {
			c.fail(w, r, http.StatusBadRequest, loc.T("settings.err_app"))
			return
		}
		app = n
	}
	mode := st.mode
	if s := r.FormValue("mode"); s != "" {
		m, err := wechatsim.ParseMode(s)
		if err != nil || m == wechatsim.ModeAuto {
			c.fail(w, r, http.StatusBadRequest, loc.T("settings.err_mode"))
			return
		}
		mode = m
	}
	format := st.format
	switch r.FormValue("format") {
	case "":
	case "xml":
		format = message.FormatXML
	case "json":
		format = message.FormatJSON
	default:
		c.fail(w, r, http.StatusBadRequest, loc.T("settings.err_format"))
		return
	}
	if err := c.emu.set(app, mode, format); err != nil {
		c.fail(w, r, http.StatusBadRequest, loc.T("settings.err_mode"))
		return
	}
	c.emu.setFaults(faults{Slow: r.FormValue("openapi_slow") != "", Busy: r.FormValue("openapi_busy") != ""})
	if c.opts.Webhook != nil {
		c.opts.Webhook.SetSlow(r.FormValue("webhook_slow") != "")
		c.opts.Webhook.SetFailing(r.FormValue("webhook_fail") != "")
	}
	c.done(w, r, "/settings", "saved")
}

func (c *Console) revokeTokens(w http.ResponseWriter, r *http.Request) {
	c.opts.Mock.RevokeTokens()
	c.done(w, r, "/settings", "revoked")
}
