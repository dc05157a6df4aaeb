package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wxgate/wxgate/message"
)

// serveDefaults are wxgate serve's flag defaults, as the CLI passes them.
func serveDefaults() Flags {
	return Flags{Addr: ":8080", Path: "/wechat", Mode: "auto", ReplayWindow: 5 * time.Minute, MaxBody: 1 << 20,
		StateDir: ".wxgate", LogFormat: "text", LogLevel: "info", Retain: 720 * time.Hour}
}

func TestFromFlags(t *testing.T) {
	f := serveDefaults()
	f.AppID, f.Token, f.AESKeys, f.Mode = "wx0123456789abcdef", shopToken, []string{" " + key1 + " ", key2}, "safe"
	f.Webhooks = []string{"https://a.example/hook", "http://127.0.0.1:3000/b"}
	f.WebhookSecret, f.NATS, f.Redis = webhookSec, "nats://127.0.0.1:4222", "127.0.0.1:6379"
	f.Store, f.AdminToken, f.AdminAddr, f.Secret = "postgres://u@db/wx", adminToken, "127.0.0.1:9090", appSecret
	f.OpenAPIURL, f.Addr, f.ReplayWindow = "http://127.0.0.1:9400", ":9000", time.Minute
	c, err := FromFlags(f, WithEnviron(nil))
	if err != nil {
		t.Fatalf("FromFlags: %v", err)
	}
	if got := c.AppNames(); !reflect.DeepEqual(got, []string{"default"}) {
		t.Fatalf("apps %v", got)
	}
	a := c.Apps["default"]
	if a.Path != "/wechat" || a.AppID != f.AppID || a.Token.Value() != shopToken || a.Mode != message.ModeSafe ||
		len(a.AESKeys) != 2 || a.AESKeys[0].Value() != key1 || a.Secret.Value() != appSecret || a.ReplayWindow != time.Minute {
		t.Errorf("app: %+v", a)
	}
	if a.Token.Source() != "flag --token" {
		t.Errorf("token source %q", a.Token.Source())
	}
	want := []Destination{
		{Name: "webhook", Webhook: &Webhook{URL: "https://a.example/hook", Timeout: DefaultTimeout, Concurrency: DefaultConcurrency}},
		{Name: "webhook-2", Webhook: &Webhook{URL: "http://127.0.0.1:3000/b", Timeout: DefaultTimeout, Concurrency: DefaultConcurrency}},
		{Name: "nats", NATS: &NATSDestination{SubjectPrefix: "wxgate.default"}},
	}
	if len(a.Destinations) != 3 {
		t.Fatalf("destinations: %+v", a.Destinations)
	}
	for i, d := range a.Destinations {
		if d.Webhook != nil {
			if d.Webhook.Secret.Value() != webhookSec {
				t.Errorf("destination %d secret not set", i)
			}
			d.Webhook.Secret = Secret{}
		}
		if !reflect.DeepEqual(d, want[i]) {
			t.Errorf("destination %d = %+v, want %+v", i, d, want[i])
		}
	}
	if c.Listen != ":9000" || c.Store != f.Store || c.Redis != "redis://127.0.0.1:6379" || c.NATS.URL != f.NATS ||
		c.Admin.Token.Value() != adminToken || c.Admin.Addr != f.AdminAddr || c.OpenAPIURL != f.OpenAPIURL {
		t.Errorf("globals: %v", c)
	}

	// The flags' defaults alone make a valid dev configuration once a token is given.
	f = serveDefaults()
	f.Token = "abc123"
	c, err = FromFlags(f, WithEnviron(nil))
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if a := c.Apps["default"]; a.Path != "/wechat" || len(a.Destinations) != 0 || c.Store != "sqlite:.wxgate/wxgate.db" {
		t.Errorf("defaults: %v", c)
	}
	// Zero Flags (no Changed): nothing given but the token.
	if _, err := FromFlags(Flags{Token: "abc123"}, WithEnviron(nil)); err != nil {
		t.Errorf("zero flags: %v", err)
	}
}

func TestFromFlagsErrors(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(f *Flags)
		env    []string
		path   string
		source string
		msg    string
	}{
		{"no token", func(f *Flags) { f.Token = "" }, nil, "apps.default.token", "", "must be set"},
		{"token", func(f *Flags) { f.Token = "bad token!" }, nil, "apps.default.token", "--token", "must be 3 to 32 letters and digits (got 10 characters)"},
		{"appid", func(f *Flags) { f.AppID = "wx12" }, nil, "apps.default.appid", "--appid", `must be "wx" and 16`},
		{"aes key", func(f *Flags) { f.AESKeys, f.AppID = []string{"short"}, "wx0123456789abcdef" }, nil, "apps.default.aes_keys[0]", "--aes-key", "must be an EncodingAESKey"},
		{"mode", func(f *Flags) { f.Mode = "sfae" }, nil, "apps.default.mode", "--mode", `"sfae" is not auto`},
		{"path", func(f *Flags) { f.Path = "wechat" }, nil, "apps.default.path", "--path", "must start with /"},
		{"replay", func(f *Flags) { f.ReplayWindow = 2 * time.Hour }, nil, "apps.default.replay_window", "--replay-window", "must be at most"},
		{"max body", func(f *Flags) { f.MaxBody = -1 }, nil, "apps.default.max_body", "--max-body", "must be positive"},
		{"webhook", func(f *Flags) { f.Webhooks, f.WebhookSecret = []string{"localhost:3000"}, webhookSec }, nil,
			"apps.default.destinations[0].webhook.url", "--webhook", "must be an absolute http(s) URL"},
		{"webhook secret", func(f *Flags) { f.Webhooks = []string{"http://localhost:3000"} }, nil,
			"apps.default.destinations[0].webhook.secret", "--webhook-secret", "must be set"},
		{"webhook secret alone", func(f *Flags) { f.WebhookSecret = webhookSec }, nil, "", "--webhook-secret", "needs --webhook"},
		{"store", func(f *Flags) { f.Store = "mysql://x" }, nil, "store", "--store", "must be sqlite:PATH or a postgres:// URL"},
		{"redis", func(f *Flags) { f.Redis = "http://x" }, nil, "redis", "--redis", "must be a redis://"},
		{"nats", func(f *Flags) { f.NATS = "http://x" }, nil, "nats.url", "--nats", "must be a nats://"},
		{"admin token", func(f *Flags) { f.AdminToken = "short" }, nil, "admin.token", "--admin-token", "must be at least 16 characters"},
		{"admin addr", func(f *Flags) { f.AdminAddr = ":8080" }, nil, "admin.addr", "--admin-addr", "must differ from listen"},
		{"openapi", func(f *Flags) { f.OpenAPIURL = "ftp://x" }, nil, "openapi_url", "--openapi-url", "must be an absolute http(s) URL"},
		{"log", func(f *Flags) { f.LogLevel = "loud" }, nil, "log.level", "--log-level", `"loud" is not`},
		{"retain", func(f *Flags) { f.Retain = -time.Hour }, nil, "retain", "--retain", "must be positive"},
		{"allow plaintext", func(f *Flags) {
			f.AllowPlaintext, f.Mode, f.AESKeys, f.AppID = true, "safe", []string{key1}, "wx0123456789abcdef"
		}, nil,
			"apps.default.allow_plaintext", "--allow-plaintext", "has no effect in mode safe"},
		{"env under flags", func(f *Flags) {}, []string{"WXGATE_DELIVERY_MAX_ATTEMPTS=0x10"}, "delivery.max_attempts", "WXGATE_DELIVERY_MAX_ATTEMPTS", "must be an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := serveDefaults()
			f.Token = "abc123"
			tt.mod(&f)
			c, err := FromFlags(f, WithEnviron(tt.env))
			es := asErrors(t, c, err)
			if len(es) != 1 {
				t.Fatalf("want one error, got:\n%v", es)
			}
			e := es[0]
			if e.Path != tt.path || e.Source != tt.source || !strings.Contains(e.Msg, tt.msg) || e.File != "" || e.Line != 0 {
				t.Errorf("got %#v\nwant path %q source %q msg %q", e, tt.path, tt.source, tt.msg)
			}
			assertNoSecret(t, "error", e.Error(), "bad token!", "short")
		})
	}
}

// TestFlagsOverFile checks that given flags win over the file and the
// environment, and that flags not given leave them alone.
func TestFlagsOverFile(t *testing.T) {
	src := "listen: :9000\nlog: {level: debug}\n" + base
	f := serveDefaults()
	f.Token, f.Mode, f.LogLevel = "Flag42", "plain", "warn"
	f.Changed = map[string]bool{"token": true, "mode": true, "log-level": true}
	env := append([]string{"WXGATE_APPS_SHOP_TOKEN=Env42", "WXGATE_LOG_LEVEL=error"}, baseEnv...)
	c, err := Parse("x.yaml", []byte(src), WithEnviron(env), WithFlags(f))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Apps["shop"]
	if a.Token.Value() != "Flag42" || a.Mode != message.ModePlain || c.Log.Level != "warn" {
		t.Errorf("flags did not win: token %q mode %v level %s", a.Token.Value(), a.Mode, c.Log.Level)
	}
	if c.Listen != ":9000" || a.Path != "/wechat/shop" || a.ReplayWindow != 5*time.Minute {
		t.Errorf("flags not given changed the file: listen %s path %s", c.Listen, a.Path)
	}
	// Given --webhook replaces the app's webhooks.
	f = Flags{Webhooks: []string{"https://new.example/h"}, WebhookSecret: webhookSec}
	c, err = Parse("x.yaml", []byte(src), WithEnviron(baseEnv), WithFlags(f))
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Apps["shop"].Destinations; len(d) != 1 || d[0].Name != "webhook" || d[0].Webhook.URL != "https://new.example/h" {
		t.Errorf("webhooks: %+v", d)
	}
	// In file mode --nats sets the server only.
	c, err = Parse("x.yaml", []byte(src), WithEnviron(baseEnv), WithFlags(Flags{NATS: "nats://n:4222"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.NATS.URL != "nats://n:4222" || len(c.Apps["shop"].Destinations) != 1 {
		t.Errorf("nats: %s %+v", c.NATS.URL, c.Apps["shop"].Destinations)
	}
	// Several apps: app flags go to "default", or are refused.
	two := src + "  blog:\n    token: ${SHOP_TOKEN}\n"
	_, err = Parse("x.yaml", []byte(two), WithEnviron(baseEnv), WithFlags(Flags{Token: "abc", AppID: "wx0123456789abcdef"}))
	es := asErrors(t, nil, err)
	if len(es) != 2 || es[0].Source != "--appid" || es[1].Source != "--token" || !strings.Contains(es[0].Msg, "several apps (blog, shop)") {
		t.Errorf("several apps: %v", es)
	}
	withDefault := two + "  default:\n    token: ${SHOP_TOKEN}\n"
	c, err = Parse("x.yaml", []byte(withDefault), WithEnviron(baseEnv), WithFlags(Flags{Token: "Dflt42"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Apps["default"].Token.Value() != "Dflt42" || c.Apps["shop"].Token.Value() != shopToken {
		t.Error("app flags did not go to the app named default")
	}
	// A file with no apps gets "default" from the flags.
	c, err = Parse("x.yaml", []byte("listen: :9000\n"), WithEnviron(nil), WithFlags(Flags{Token: "abc"}))
	if err != nil || c.Apps["default"].Path != "/wechat" {
		t.Errorf("no apps: %v", err)
	}
	if !errors.Is(err, nil) {
		t.Error(err)
	}
}
