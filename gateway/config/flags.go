package config

import (
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Flags are the values of wxgate serve's flags. FromFlags builds a
// single-app configuration from them; WithFlags lays them over a file.
// Both go through the same defaults and validation as a file, and errors
// about a flag's value name the flag (Source "--token").
type Flags struct {
	Addr           string        // --addr: listen
	Path           string        // --path: apps.default.path
	AppID          string        // --appid
	Token          string        // --token
	AESKeys        []string      // --aes-key, current first
	Mode           string        // --mode
	AllowPlaintext bool          // --allow-plaintext
	ReplayWindow   time.Duration // --replay-window
	MaxBody        int64         // --max-body
	Webhooks       []string      // --webhook, repeatable
	WebhookSecret  string        // --webhook-secret, for every --webhook
	Secret         string        // --secret: the AppSecret
	NATS           string        // --nats: nats.url (and, with no file, a nats destination)
	Redis          string        // --redis
	Store          string        // --store
	AdminToken     string        // --admin-token
	AdminAddr      string        // --admin-addr
	Retain         time.Duration // --retain
	OpenAPIURL     string        // --openapi-url
	StateDir       string        // --state-dir
	LogFormat      string        // --log-format
	LogLevel       string        // --log-level

	// Changed holds the names of the flags the user gave (without
	// dashes: "aes-key"), from the command line or their environment
	// variables; only those are applied. When nil, every non-zero field
	// counts as given, which suits FromFlags but not a file: with a file,
	// flags' defaults would override its values, so set Changed (with
	// cobra: cmd.Flags().Visit, plus the flags bound from the environment).
	Changed map[string]bool
}

// appFlags are the flags that configure an app rather than the gateway.
var appFlags = []string{"path", "appid", "token", "aes-key", "mode", "allow-plaintext", "replay-window", "max-body", "webhook", "webhook-secret", "secret"}

// given reports whether flag name was given.
func (f *Flags) given(name string, nonZero bool) bool {
	if f.Changed != nil {
		return f.Changed[name]
	}
	return nonZero
}

// flagSetter applies flags to a Config, recording each value's origin.
type flagSetter struct {
	c    *Config
	col  *collector
	skip bool
}

// set sets the leaf at path (reached from v) to value from flag.
func (s *flagSetter) set(v reflect.Value, path, flag, value string, leaf reflect.Type) {
	s.col.m.origin[path] = "--" + flag
	setValue(v, envTarget{leaf: leaf, path: path}, "--"+flag, value, srcFlag, s.skip, s.col)
}

func (s *flagSetter) secret(dst *Secret, path, flag, value string) {
	s.col.m.origin[path] = "--" + flag
	*dst = newSourcedSecret(value, false, "--"+flag, srcFlag, false)
}

// applyFlags lays f over c. With a file, the app flags go to its only
// app, or to its app named "default"; without one, to "default".
func applyFlags(c *Config, f *Flags, hasFile bool, col *collector) {
	s := &flagSetter{c: c, col: col}
	str := func(dst *string, path, flag, value string) {
		if f.given(flag, value != "") {
			*dst = value
			col.m.origin[path] = "--" + flag
		}
	}
	dur := func(dst *time.Duration, path, flag string, value time.Duration) {
		if f.given(flag, value != 0) {
			*dst = value
			col.m.origin[path] = "--" + flag
		}
	}
	str(&c.Listen, "listen", "addr", f.Addr)
	str(&c.Store, "store", "store", f.Store)
	str(&c.Redis, "redis", "redis", f.Redis)
	str(&c.Admin.Addr, "admin.addr", "admin-addr", f.AdminAddr)
	str(&c.OpenAPIURL, "openapi_url", "openapi-url", f.OpenAPIURL)
	str(&c.StateDir, "state_dir", "state-dir", f.StateDir)
	str(&c.Log.Format, "log.format", "log-format", f.LogFormat)
	str(&c.Log.Level, "log.level", "log-level", f.LogLevel)
	str(&c.NATS.URL, "nats.url", "nats", f.NATS)
	dur(&c.Retain, "retain", "retain", f.Retain)
	if f.given("admin-token", f.AdminToken != "") {
		s.secret(&c.Admin.Token, "admin.token", "admin-token", f.AdminToken)
	}

	var givenApp []string
	for _, name := range appFlags {
		if f.given(name, f.nonZero(name)) {
			givenApp = append(givenApp, name)
		}
	}
	natsDest := !hasFile && f.given("nats", f.NATS != "")
	if len(givenApp) == 0 && !natsDest {
		return
	}
	app := flagsApp(c, hasFile)
	if app == nil {
		for _, name := range givenApp {
			col.push(&FieldError{Source: "--" + name, Err: ErrInvalid,
				Msg: "the file has several apps (" + strings.Join(c.AppNames(), ", ") + "): set this in the file, for one of them"})
		}
		return
	}
	p := keyPath("apps", app.Name)
	av := reflect.ValueOf(app).Elem()
	for _, name := range givenApp {
		switch name {
		case "path":
			str(&app.Path, joinPath(p, "path"), name, f.Path)
		case "appid":
			str(&app.AppID, joinPath(p, "appid"), name, f.AppID)
		case "token":
			s.secret(&app.Token, joinPath(p, "token"), name, f.Token)
		case "secret":
			s.secret(&app.Secret, joinPath(p, "secret"), name, f.Secret)
		case "aes-key":
			path := joinPath(p, "aes_keys")
			col.m.origin[path] = "--aes-key"
			delete(col.m.listFiles, path)
			app.AESKeys = nil
			for _, k := range f.AESKeys {
				if k = strings.TrimSpace(k); k != "" {
					app.AESKeys = append(app.AESKeys, newSourcedSecret(k, false, "--aes-key", srcFlag, false))
				}
			}
		case "mode":
			s.set(av.FieldByName("Mode"), joinPath(p, "mode"), name, f.Mode, modeType)
		case "allow-plaintext":
			app.AllowPlaintext = f.AllowPlaintext
			col.m.origin[joinPath(p, "allow_plaintext")] = "--allow-plaintext"
		case "replay-window":
			dur(&app.ReplayWindow, joinPath(p, "replay_window"), name, f.ReplayWindow)
		case "max-body":
			app.MaxBody = ByteSize(f.MaxBody)
			col.m.origin[joinPath(p, "max_body")] = "--max-body"
		}
	}
	if f.given("webhook", len(f.Webhooks) > 0) {
		// The flags' webhooks replace the app's; its NATS destinations stay.
		var kept []Destination
		for _, d := range app.Destinations {
			if d.Webhook == nil {
				kept = append(kept, d)
			}
		}
		for i, u := range f.Webhooks {
			name := "webhook"
			if i > 0 {
				name += "-" + strconv.Itoa(i+1)
			}
			dp := indexPath(joinPath(p, "destinations"), len(kept))
			col.m.origin[dp] = "--webhook"
			col.m.origin[dp+".webhook.url"] = "--webhook"
			col.m.origin[dp+".webhook.secret"] = "--webhook-secret"
			kept = append(kept, Destination{Name: name, Webhook: &Webhook{
				URL:    strings.TrimSpace(u),
				Secret: newSourcedSecret(f.WebhookSecret, false, "--webhook-secret", srcFlag, false),
			}})
		}
		app.Destinations = kept
	} else if f.given("webhook-secret", f.WebhookSecret != "") {
		col.push(&FieldError{Source: "--webhook-secret", Err: ErrInvalid,
			Msg: "needs --webhook (webhooks from a file take their secret from the file)"})
	}
	if natsDest && !hasNATS(app) {
		dp := indexPath(joinPath(p, "destinations"), len(app.Destinations))
		col.m.origin[dp] = "--nats"
		app.Destinations = append(app.Destinations, Destination{Name: "nats", NATS: &NATSDestination{}})
	}
}

// nonZero reports whether the field of app flag name has a value.
func (f *Flags) nonZero(name string) bool {
	switch name {
	case "path":
		return f.Path != ""
	case "appid":
		return f.AppID != ""
	case "token":
		return f.Token != ""
	case "aes-key":
		return len(f.AESKeys) > 0
	case "mode":
		return f.Mode != ""
	case "allow-plaintext":
		return f.AllowPlaintext
	case "replay-window":
		return f.ReplayWindow != 0
	case "max-body":
		return f.MaxBody != 0
	case "webhook":
		return len(f.Webhooks) > 0
	case "webhook-secret":
		return f.WebhookSecret != ""
	case "secret":
		return f.Secret != ""
	}
	return false
}

// flagsApp is the app that app flags configure, made if needed; nil when
// a file has several apps and none named "default".
func flagsApp(c *Config, hasFile bool) *App {
	if a, ok := c.Apps[DefaultAppName]; ok {
		return a
	}
	if hasFile && len(c.Apps) == 1 {
		for _, a := range c.Apps {
			return a
		}
	}
	if hasFile && len(c.Apps) > 1 {
		return nil
	}
	if c.Apps == nil {
		c.Apps = map[string]*App{}
	}
	a := &App{Name: DefaultAppName}
	c.Apps[DefaultAppName] = a
	return a
}

func hasNATS(a *App) bool {
	for _, d := range a.Destinations {
		if d.NATS != nil {
			return true
		}
	}
	return false
}
