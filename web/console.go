package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/wxgate/wxgate/gateway/config"
	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wechatsim"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// App is one app of the gateway, as the emulator pushes to it.
type App struct {
	// Name is the app's name in the gateway ("default" in single-app
	// mode).
	Name string
	// AppID is the mini program's AppID; "" for an app that takes
	// plaintext pushes only.
	AppID string
	// Token is the Token the gateway checks signatures with.
	Token string
	// AESKey is the current EncodingAESKey; "" for plaintext only.
	AESKey string
	// PushURL is the app's absolute push URL, where the emulator posts.
	PushURL string
}

// Options configures a Console.
type Options struct {
	// API is the gateway's handler serving /v1/ and /metrics, called
	// in-process with AdminToken.
	API http.Handler
	// AdminToken is a bearer key of the /v1/ API holding every scope.
	AdminToken string
	// Config is the configuration in effect, shown (redacted) with its
	// rules explained.
	Config *config.Config
	// Apps are the apps the emulator pushes to; the first is chosen at
	// start.
	Apps []App
	// World holds the users and their transcripts; the push client and
	// the mock share it.
	World *wechatsim.World
	// Mock is the mock Open API the gateway answers through; its faults
	// are switched in Settings.
	Mock *wechatsim.OpenAPI
	// Mode and Format are how the emulator pushes at start: ModeAuto is
	// safe mode when the app has an EncodingAESKey; the zero Format is XML.
	Mode   wechatsim.Mode
	Format message.Format
	// Webhook is the sample webhook the gateway delivers to, served by the
	// console at WebhookPath; nil when the configuration has its own
	// destinations.
	Webhook *Webhook
	// ShowCredentials shows the apps' Token and EncodingAESKey in
	// Settings: true for generated development credentials, false for a
	// configuration's real ones.
	ShowCredentials bool
	// StateDir is the --state-dir a copied `wxgate push` command needs to
	// find the development credentials; "" when it is the default or the
	// credentials come from a configuration (the command then says to set
	// WXGATE_TOKEN and WXGATE_AES_KEY).
	StateDir string
	// Suggestions are texts the chat offers to send in one click, after
	// those the rules answer (their first keyword).
	Suggestions []string
	// Hosts are the host names the console answers to (the Host header,
	// without the port); empty answers any. Give the loopback names when
	// the console listens on loopback, so that a DNS-rebinding page cannot
	// reach it.
	Hosts []string
	// Logger receives the console's warnings; slog.Default() when nil.
	Logger *slog.Logger
}

// WebhookPath is where the console serves the sample webhook.
const WebhookPath = "/dev/webhook"

// Console is the web console. Create it with New, serve Handler, and
// Close it when done.
type Console struct {
	opts  Options
	api   *gatewayAPI
	emu   *emulator
	wire  *wireLog
	hub   *hub
	pages map[string]*template.Template
	log   *slog.Logger
	hosts map[string]bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Errors of New, matched with errors.Is.
var (
	// ErrOptions means the options are incomplete or inconsistent.
	ErrOptions = errors.New("web: invalid options")
)

// New checks opts, prepares the pages and starts the console's background
// work (the live feed of the World and of the gateway's store).
func New(opts Options) (*Console, error) {
	switch {
	case opts.API == nil:
		return nil, errors.Join(ErrOptions, errors.New("web: Options.API is required"))
	case opts.AdminToken == "":
		return nil, errors.Join(ErrOptions, errors.New("web: Options.AdminToken is required"))
	case opts.World == nil || opts.Mock == nil:
		return nil, errors.Join(ErrOptions, errors.New("web: Options.World and Options.Mock are required"))
	case len(opts.Apps) == 0:
		return nil, errors.Join(ErrOptions, errors.New("web: at least one app is required"))
	}
	for _, a := range opts.Apps {
		u, err := url.Parse(a.PushURL)
		if a.Name == "" || a.Token == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.Join(ErrOptions, errors.New("web: every app needs a name, a token and an absolute push URL"))
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	emu, err := newEmulator(opts.World, opts.Mock, opts.Apps, opts.Mode, opts.Format)
	if err != nil {
		return nil, errors.Join(ErrOptions, err)
	}
	c := &Console{
		opts: opts, api: &gatewayAPI{h: opts.API, token: opts.AdminToken}, emu: emu,
		wire: newWireLog(maxWire), hub: newHub(), pages: pages, log: log,
	}
	if len(opts.Hosts) > 0 {
		c.hosts = map[string]bool{}
		for _, h := range opts.Hosts {
			c.hosts[strings.ToLower(h)] = true
		}
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if len(opts.World.Users()) == 0 {
		opts.World.NewUser() // someone to chat as
	}
	c.wg.Add(2)
	go c.watchWorld()
	go c.pollServer()
	return c, nil
}

// Close ends the live feeds (open event streams return) and the
// background work. It is safe to call more than once.
func (c *Console) Close() {
	c.cancel()
	c.wg.Wait()
	c.emu.close()
}

// Handler serves the console's pages, its event stream, its static files
// and, when Options.Webhook is set, the sample webhook at WebhookPath.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/chat", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /chat", c.chatPage)
	mux.HandleFunc("POST /chat/users", c.addUser)
	mux.HandleFunc("POST /chat/send", c.sendText)
	mux.HandleFunc("POST /chat/image", c.sendImage)
	mux.HandleFunc("POST /chat/card", c.sendCard)
	mux.HandleFunc("POST /chat/enter", c.sendEnter)
	mux.HandleFunc("GET /wire", c.wirePage)
	mux.HandleFunc("GET /wire/{id}", c.wireDetail)
	mux.HandleFunc("GET /server", c.serverPage)
	mux.HandleFunc("GET /server/messages/{id}", c.messagePage)
	mux.HandleFunc("POST /server/redeliver", c.redeliver)
	mux.HandleFunc("POST /server/redeliver-dead", c.redeliverDead)
	mux.HandleFunc("GET /settings", c.settingsPage)
	mux.HandleFunc("POST /settings", c.saveSettings)
	mux.HandleFunc("POST /settings/revoke-tokens", c.revokeTokens)
	mux.HandleFunc("GET /events", c.events)
	mux.HandleFunc("GET /media/{id}", c.media)
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	if c.opts.Webhook != nil {
		mux.Handle("POST "+WebhookPath, c.opts.Webhook)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, http.StatusNotFound, localizerFor(r).T("err.not_found"))
	})
	return c.guard(mux)
}

// guard sets the headers every answer carries, switches the language on
// ?lang=, and refuses requests from other sites: a Host the console does
// not answer to (DNS rebinding), and a state-changing request whose
// Origin or Sec-Fetch-Site is another site's (CSRF).
func (c *Console) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		if c.hosts != nil && r.URL.Path != WebhookPath {
			host := r.Host
			if hh, _, err := net.SplitHostPort(host); err == nil {
				host = hh
			}
			if !c.hosts[strings.ToLower(strings.Trim(host, "[]"))] {
				http.Error(w, localizerFor(r).T("err.host"), http.StatusMisdirectedRequest)
				return
			}
		}
		if r.URL.Path != WebhookPath && crossOrigin.Check(r) != nil {
			c.fail(w, r, http.StatusForbidden, localizerFor(r).T("err.forbidden"))
			return
		}
		if lang := r.URL.Query().Get("lang"); r.Method == http.MethodGet && (lang == langZH || lang == langEN) {
			http.SetCookie(w, &http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
				HttpOnly: true, SameSite: http.SameSiteLaxMode})
			q := r.URL.Query()
			q.Del("lang")
			target := r.URL.Path
			if len(q) > 0 {
				target += "?" + q.Encode()
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// crossOrigin refuses state-changing requests that browsers mark as
// coming from another site (Sec-Fetch-Site, else Origin against Host);
// tools like curl send neither and are let through.
var crossOrigin = http.NewCrossOriginProtection()

// staticVersion is a digest of the embedded files, in their URLs, so that
// a new binary's files are not taken from the browser's cache.
var staticVersion = func() string {
	h := sha256.New()
	_ = fs.WalkDir(staticFS, "static", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := staticFS.ReadFile(path)
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

// Asset is the URL of an embedded static file.
func (p *page) Asset(name string) string { return "/static/" + name + "?v=" + staticVersion }

// cacheStatic lets browsers keep the embedded files for an hour: they
// change only with the binary, and the pages name them with a digest.
func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// parsePages parses each page with the layout and the shared partials.
func parsePages() (map[string]*template.Template, error) {
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, name := range []string{"chat", "wire", "wire_detail", "server", "server_message", "settings", "error"} {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	// The partials alone, for the fragments of the event stream.
	pages[""] = base
	return pages, nil
}

// page is what every page's template gets.
type page struct {
	L      *localizer
	Page   string // the template's name; body's data-page
	Title  string
	User   string // the chat user, for the event stream
	Flash  string
	Error  string
	Path   string // the request's path and query, for the language switch
	Status statusView
	Data   any
}

// statusView is the header's summary of how the emulator pushes.
type statusView struct {
	App, Mode, Format string
}

// navItem is one link of the header.
type navItem struct {
	Href, Label string
	Current     bool
}

// Nav lists the header's links.
func (p *page) Nav() []navItem {
	items := []navItem{{"/chat", "nav.chat", false}, {"/wire", "nav.wire", false}, {"/server", "nav.server", false}, {"/settings", "nav.settings", false}}
	for i := range items {
		items[i].Current = strings.HasPrefix(p.Page, strings.TrimPrefix(items[i].Href, "/"))
		items[i].Label = p.L.T(items[i].Label)
	}
	return items
}

// LangHref is the language switch's link: this page in the other
// language.
func (p *page) LangHref() string {
	u, err := url.Parse(p.Path)
	if err != nil {
		u = &url.URL{Path: "/"}
	}
	q := u.Query()
	q.Set("lang", p.L.Other())
	u.RawQuery = q.Encode()
	return u.RequestURI()
}

// render writes the page named name.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	if p.L == nil {
		p.L = localizerFor(r)
	}
	p.Page, p.Path = name, r.URL.RequestURI()
	if p.Flash == "" {
		p.Flash = flashText(p.L, r.URL.Query().Get("flash"))
	}
	st := c.emu.settings()
	p.Status = statusView{App: st.app.Name, Mode: p.L.T("mode." + st.mode.String()), Format: strings.ToUpper(st.format.String())}
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		c.log.Error("console: rendering a page", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Accept-Language, Cookie")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail answers an error: JSON to the script, a page to the browser.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if wantsJSON(r) {
		writeJSON(w, status, map[string]string{"error": msg})
		return
	}
	c.render(w, r, status, "error", &page{Title: msg, Error: msg})
}

// done answers a state-changing request that worked: JSON to the script,
// a redirect (with a flash message) to a form without it.
func (c *Console) done(w http.ResponseWriter, r *http.Request, target, flash string) {
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		return
	}
	if flash != "" {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target += sep + "flash=" + url.QueryEscape(flash)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// flashes are the messages a redirect may carry, by name, so that a
// link cannot put arbitrary text on a page.
var flashes = map[string]string{
	"saved": "settings.saved", "revoked": "settings.revoked", "user": "chat.user_added",
}

func flashText(l *localizer, name string) string {
	if key, ok := flashes[name]; ok {
		return l.T(key)
	}
	if n, ok := strings.CutPrefix(name, "redelivered-"); ok && len(n) < 8 && strings.Trim(n, "0123456789") == "" {
		return l.Tf("server.redelivered", atoiOr(n, 0))
	}
	return ""
}

// wantsJSON reports whether the script made the request.
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// apiTimeout bounds the gateway API calls a page makes.
const apiTimeout = 5 * time.Second
