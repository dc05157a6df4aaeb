package config

import (
	"github.com/wxgate/wxgate/store"
	"net"
	"net/url"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/push"
	"github.com/wxgate/wxgate/wxcrypt"
)

// Limits checked by validation.
const (
	// MinSecretLen is the shortest admin token, API key or webhook secret.
	MinSecretLen = 16
	// MaxBodyLimit is the largest max_body: WeChat's pushes are small.
	MaxBodyLimit = 64 << 20
	maxNameLen   = 64
)

var (
	namePattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	appIDPattern   = regexp.MustCompile(`^wx[0-9a-f]{16}$`)
	streamPattern  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	subjectPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
	pathPattern    = regexp.MustCompile(`^/[A-Za-z0-9._~/-]*$`)
)

// reservedPaths are the gateway's own endpoints; no push path may be one
// of them or under one.
var reservedPaths = []string{"/healthz", "/readyz", "/metrics", "/v1", "/debug"}

// validate checks c, whose defaults are set, recording every error.
func validate(c *Config, col *collector) {
	v := &validator{c: c, col: col}
	v.global()
	v.apps()
	v.apiKeys()
	v.inlineSecrets()
}

type validator struct {
	c   *Config
	col *collector
}

func (v *validator) errf(path, format string, args ...any) {
	v.col.check(path, ErrInvalid, format, args...)
}

func (v *validator) global() {
	c := v.c
	if !validAddr(c.Listen) {
		v.errf("listen", "must be an address like :8080 or 127.0.0.1:8080")
	}
	if c.Admin.Addr != "" {
		switch {
		case !validAddr(c.Admin.Addr):
			v.errf("admin.addr", "must be an address like 127.0.0.1:9090")
		case c.Admin.Addr == c.Listen:
			v.errf("admin.addr", "must differ from listen (leave it empty to serve the admin API on listen)")
		}
	}
	v.minSecret("admin.token", c.Admin.Token)
	if strings.TrimSpace(c.StateDir) == "" {
		v.errf("state_dir", "must be set")
	}
	if driver, dsn := c.StoreDSN(); driver == "sqlite" {
		if strings.TrimSpace(dsn) == "" {
			v.errf("store", "must name the database file: sqlite:PATH")
		}
	} else if u, err := url.Parse(c.Store); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		v.errf("store", "must be sqlite:PATH or a postgres:// URL%s", schemeHint(c.Store))
	}
	if c.Redis != "" {
		u, err := url.Parse(c.Redis)
		switch {
		case err != nil || !slices.Contains([]string{"redis", "rediss", "unix"}, u.Scheme):
			v.errf("redis", "must be a redis://, rediss:// or unix:// URL, or host:port%s", schemeHint(c.Redis))
		case u.Scheme != "unix" && u.Host == "":
			v.errf("redis", "must name a host, like redis://127.0.0.1:6379")
		}
	}
	if c.NATS.URL != "" {
		for i, s := range strings.Split(c.NATS.URL, ",") {
			u, err := url.Parse(strings.TrimSpace(s))
			if err != nil || !slices.Contains([]string{"nats", "tls", "ws", "wss"}, u.Scheme) || u.Host == "" {
				v.errf("nats.url", "server %d must be a nats://, tls://, ws:// or wss:// URL with a host", i+1)
			}
		}
	}
	if !streamPattern.MatchString(c.NATS.Stream) {
		v.errf("nats.stream", "must be 1 to 64 letters, digits, - and _")
	}
	if !slices.Contains([]string{"text", "json"}, c.Log.Format) {
		v.errf("log.format", "%s is not text or json", quoteShort(c.Log.Format))
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		v.errf("log.level", "%s is not debug, info, warn or error", quoteShort(c.Log.Level))
	}
	if c.Retain < 0 {
		v.errf("retain", "must be positive")
	}
	d := c.Delivery
	switch {
	case d.InitialBackoff < 0:
		v.errf("delivery.initial_backoff", "must be positive")
	case d.MaxBackoff < d.InitialBackoff:
		v.errf("delivery.max_backoff", "must be at least delivery.initial_backoff (%v)", d.InitialBackoff)
	}
	if d.MaxAttempts < 1 || d.MaxAttempts > 1000 {
		v.errf("delivery.max_attempts", "must be 1 to 1000")
	}
	v.timeout("delivery.timeout", d.Timeout)
	v.concurrency("delivery.concurrency", d.Concurrency)
	if !httpURL(c.OpenAPIURL) {
		v.errf("openapi_url", "must be an absolute http(s) URL")
	}
}

func (v *validator) timeout(path string, d time.Duration) {
	if d <= 0 || d > time.Hour {
		v.errf(path, "must be positive and at most 1h")
	}
}

func (v *validator) concurrency(path string, n int) {
	if n < 1 || n > 1024 {
		v.errf(path, "must be 1 to 1024")
	}
}

func (v *validator) apps() {
	c := v.c
	if len(c.Apps) == 0 {
		v.errf("apps", "must configure at least one app")
		return
	}
	paths := map[string]string{}
	envs := map[string]string{}
	for _, name := range c.AppNames() {
		a := c.Apps[name]
		p := keyPath("apps", name)
		if !namePattern.MatchString(name) || len(name) > maxNameLen {
			v.errf(p, "app names are lowercase letters, digits, - and _, starting with a letter or digit, at most %d", maxNameLen)
		} else if other, dup := envs[envSeg(name)]; dup {
			v.errf(p, "has the same environment name as apps.%s (%s...): rename one", other, EnvName(p)+"_")
		} else {
			envs[envSeg(name)] = name
		}
		v.pushPath(joinPath(p, "path"), a.Path)
		if other, dup := paths[a.Path]; dup {
			v.errf(joinPath(p, "path"), "%s is also the path of apps.%s", a.Path, other)
		} else {
			paths[a.Path] = name
		}
		v.app(p, a)
	}
}

// pushPath checks an app's path.
func (v *validator) pushPath(p, s string) {
	switch {
	case !pathPattern.MatchString(s):
		v.errf(p, "must start with / and hold only letters, digits and . _ ~ - /")
	case s == "/":
		v.errf(p, "must not be /, which would take every URL")
	case path.Clean(s) != s:
		v.errf(p, "must be a clean path (no //, /./, /../ or trailing /)")
	default:
		for _, r := range reservedPaths {
			if s == r || strings.HasPrefix(s, r+"/") {
				v.errf(p, "%s is taken by the gateway's own endpoints", s)
				return
			}
		}
	}
}

func (v *validator) app(p string, a *App) {
	mode := a.Mode
	if a.AppID != "" && !appIDPattern.MatchString(a.AppID) {
		v.errf(joinPath(p, "appid"), `must be "wx" and 16 lowercase hexadecimal digits, as the console shows it (got %d characters)`, len(a.AppID))
	}
	switch tp := joinPath(p, "token"); {
	case !a.Token.IsSet():
		v.errf(tp, "must be set: the console's Token%s", emptyHint(a.Token))
	case a.Token.Resolved() && !wxcrypt.ValidToken(a.Token.Value()):
		v.errf(tp, "must be 3 to 32 letters and digits (got %d characters%s)", len(a.Token.Value()), from(a.Token))
	}
	kp := joinPath(p, "aes_keys")
	seen := map[string]int{}
	for i, k := range a.AESKeys {
		ip := indexPath(kp, i)
		if !k.IsSet() {
			v.errf(ip, "must be set%s", emptyHint(k))
			continue
		}
		if !k.Resolved() {
			continue
		}
		if _, err := wxcrypt.ParseKey(k.Value()); err != nil {
			v.errf(ip, "must be an EncodingAESKey, 43 letters and digits (got %d characters%s)", len(k.Value()), from(k))
			continue
		}
		if j, dup := seen[k.Value()]; dup {
			v.errf(ip, "is the same key as aes_keys[%d]", j)
		}
		seen[k.Value()] = i
	}
	switch {
	case (mode == message.ModeCompat || mode == message.ModeSafe) && len(a.AESKeys) == 0:
		v.errf(kp, "must be set in mode %s", mode)
	case mode == message.ModePlain && len(a.AESKeys) > 0:
		v.errf(joinPath(p, "mode"), "plain takes no aes_keys (use auto with allow_plaintext to accept both)")
	case a.AllowPlaintext && mode != message.ModeAuto:
		v.errf(joinPath(p, "allow_plaintext"), "has no effect in mode %s (use mode auto)", mode)
	}
	if a.AppID == "" {
		switch {
		case len(a.AESKeys) > 0:
			v.errf(joinPath(p, "appid"), "must be set with aes_keys: encrypted pushes carry the AppID, which is checked")
		case a.Secret.IsSet():
			v.errf(joinPath(p, "appid"), "must be set with secret: the Open API needs it")
		}
	}
	switch rp := joinPath(p, "replay_window"); {
	case a.ReplayWindow < 0:
		v.errf(rp, "must not be negative (0 means the default, %v)", push.DefaultReplayWindow)
	case a.ReplayWindow > push.MaxReplayWindow:
		v.errf(rp, "must be at most %v: a longer window keeps a captured push usable for longer", push.MaxReplayWindow)
	}
	if a.MaxBody < 0 || a.MaxBody > MaxBodyLimit {
		v.errf(joinPath(p, "max_body"), "must be positive and at most %v", ByteSize(MaxBodyLimit))
	}
	if s := a.Secret; s.IsSet() && s.Resolved() && (len(s.Value()) > 128 || strings.ContainsFunc(s.Value(), unicode.IsSpace)) {
		v.errf(joinPath(p, "secret"), "must be the console's AppSecret: no spaces, at most 128 characters (got %d characters%s)", len(s.Value()), from(s))
	}
	dp := joinPath(p, "destinations")
	if len(a.Destinations) > store.MaxDestinations {
		v.errf(dp, "at most %d destinations per app (got %d)", store.MaxDestinations, len(a.Destinations))
	}
	names := map[string]int{}
	for i := range a.Destinations {
		d := &a.Destinations[i]
		ip := indexPath(dp, i)
		switch {
		case d.Name == "":
			v.errf(joinPath(ip, "name"), "must be set: deliveries are recorded under it")
		case !namePattern.MatchString(d.Name) || len(d.Name) > maxNameLen:
			v.errf(joinPath(ip, "name"), "must be lowercase letters, digits, - and _, starting with a letter or digit, at most %d", maxNameLen)
		default:
			if j, dup := names[d.Name]; dup {
				v.errf(joinPath(ip, "name"), "%s is also the name of destinations[%d]", d.Name, j)
			}
			names[d.Name] = i
		}
		switch {
		case d.Webhook == nil && d.NATS == nil:
			v.errf(ip, "must have webhook or nats")
		case d.Webhook != nil && d.NATS != nil:
			v.errf(ip, "must have webhook or nats, not both")
		case d.Webhook != nil:
			w, wp := d.Webhook, joinPath(ip, "webhook")
			if !httpURL(w.URL) {
				v.errf(joinPath(wp, "url"), "must be an absolute http(s) URL")
			}
			if !w.Secret.IsSet() {
				v.errf(joinPath(wp, "secret"), "must be set: receivers check the signature with it%s", emptyHint(w.Secret))
			} else {
				v.minSecret(joinPath(wp, "secret"), w.Secret)
			}
			v.timeout(joinPath(wp, "timeout"), w.Timeout)
			v.concurrency(joinPath(wp, "concurrency"), w.Concurrency)
		default:
			np := joinPath(ip, "nats")
			if v.c.NATS.URL == "" {
				v.errf(np, "needs nats.url")
			}
			if !subjectPattern.MatchString(d.NATS.SubjectPrefix) {
				v.errf(joinPath(np, "subject_prefix"), "must be dot-separated tokens of letters, digits, - and _")
			}
		}
	}
	v.rules(joinPath(p, "rules"), a)
}

// minSecret checks the length of a secret that protects an API or a
// signature.
func (v *validator) minSecret(path string, s Secret) {
	if s.IsSet() && s.Resolved() && len(s.Value()) < MinSecretLen {
		v.errf(path, "must be at least %d characters (got %d%s)", MinSecretLen, len(s.Value()), from(s))
	}
}

func (v *validator) apiKeys() {
	names := map[string]int{}
	for i := range v.c.APIKeys {
		k := &v.c.APIKeys[i]
		p := indexPath("api_keys", i)
		switch {
		case k.Name == "":
			v.errf(joinPath(p, "name"), "must be set")
		case !namePattern.MatchString(k.Name) || len(k.Name) > maxNameLen:
			v.errf(joinPath(p, "name"), "must be lowercase letters, digits, - and _, starting with a letter or digit, at most %d", maxNameLen)
		default:
			if j, dup := names[k.Name]; dup {
				v.errf(joinPath(p, "name"), "%s is also the name of api_keys[%d]", k.Name, j)
			}
			names[k.Name] = i
		}
		switch {
		case k.Secret.IsSet() && k.SecretHash != "":
			v.errf(p, "must have secret or secret_hash, not both")
		case k.SecretHash != "":
			if _, ok := parseHash(k.SecretHash); !ok {
				v.errf(joinPath(p, "secret_hash"), `must be "sha256:" and 64 hex digits (see HashAPIKey)`)
			}
		case !k.Secret.IsSet():
			v.errf(joinPath(p, "secret"), "must be set (from ${ENV} or secret_file), or give secret_hash%s", emptyHint(k.Secret))
		default:
			v.minSecret(joinPath(p, "secret"), k.Secret)
		}
		if len(k.Apps) == 0 {
			v.errf(joinPath(p, "apps"), `must list the apps the key may use, or "*" for all`)
		}
		for j, app := range k.Apps {
			if _, ok := v.c.Apps[app]; !ok && app != "*" {
				v.errf(indexPath(joinPath(p, "apps"), j), "%s is not an app", quoteShort(app))
			}
		}
		if len(k.Scopes) == 0 {
			v.errf(joinPath(p, "scopes"), "must list scopes among send, token, read and admin")
		}
		for j, s := range k.Scopes {
			if !slices.Contains([]string{ScopeSend, ScopeToken, ScopeRead, ScopeAdmin}, s) {
				v.errf(indexPath(joinPath(p, "scopes"), j), "%s is not send, token, read or admin", quoteShort(s))
			}
		}
	}
}

// inlineSecrets refuses secrets written in the file, unless allowed.
func (v *validator) inlineSecrets() {
	if v.c.AllowInlineSecrets {
		return
	}
	walkSecrets(reflect.ValueOf(v.c).Elem(), "", func(p string, sv reflect.Value) {
		check := func(ip string, s Secret) {
			if s.kind != srcInline {
				return
			}
			name := p[strings.LastIndexByte(p, '.')+1:]
			v.col.check(ip, ErrInlineSecret, "is written in the file: use %s: ${ENV_NAME} or %s_file: PATH (allow_inline_secrets: true accepts it, for local development only)", name, name)
		}
		if sv.Type() == secretType {
			check(p, sv.Interface().(Secret))
			return
		}
		for i, s := range sv.Interface().([]Secret) {
			check(indexPath(p, i), s)
		}
	})
}

// from describes where a secret came from, for an error: ", from
// ${WX_TOKEN}".
func from(s Secret) string {
	switch s.kind {
	case srcRef, srcFile:
		return ", from " + s.Source()
	}
	return ""
}

// emptyHint explains an empty secret that was given by reference.
func emptyHint(s Secret) string {
	if s.kind == srcRef {
		return " (" + s.ref + " is empty)"
	}
	return ""
}

// validAddr reports whether s is host:port with a numeric port.
func validAddr(s string) bool {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}

// httpURL reports whether s is an absolute http(s) URL with a host.
func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Hostname() != ""
}

// schemeHint shows a URL's scheme (never the rest, which may hold a
// password) when it is a plain short word.
func schemeHint(s string) string {
	scheme, _, ok := strings.Cut(s, ":")
	if !ok || scheme == "" || len(scheme) > 16 || strings.ContainsFunc(scheme, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')
	}) {
		return ""
	}
	return " (got scheme " + strconv.Quote(scheme) + ")"
}
