package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/push"
)

func TestLoadFull(t *testing.T) {
	c, err := Load("testdata/full.yaml", WithEnviron(fullEnv))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	check := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", what, got, want)
		}
	}
	check("listen", c.Listen, ":9000")
	check("state_dir", c.StateDir, "/var/lib/wxgate")
	check("store", c.Store, "postgres://wxgate:"+pgPassword+"@db:5432/wxgate?sslmode=disable")
	driver, dsn := c.StoreDSN()
	check("store driver", driver, "postgres")
	check("store dsn", dsn, c.Store)
	check("redis", c.Redis, "redis://redis:6379/0")
	check("nats", c.NATS, NATS{URL: "nats://nats:4222", Stream: "WXGATE_TEST"})
	check("admin.token", c.Admin.Token.Value(), adminToken)
	check("admin.token source", c.Admin.Token.Source(), "${ADMIN_TOKEN}")
	check("admin.addr", c.Admin.Addr, "127.0.0.1:9090")
	check("admin enabled", c.AdminEnabled(), true)
	check("log", c.Log, Log{Format: "json", Level: "debug"})
	check("retain", c.Retain, 30*24*time.Hour)
	check("delivery", c.Delivery, Delivery{InitialBackoff: 2 * time.Second, MaxBackoff: 5 * time.Minute,
		MaxAttempts: 12, Timeout: 7 * time.Second, Concurrency: 4})
	check("openapi_url", c.OpenAPIURL, "http://127.0.0.1:9400")
	check("allow_inline_secrets", c.AllowInlineSecrets, false)

	check("api keys", len(c.APIKeys), 2)
	crm := c.APIKey("crm")
	check("crm apps", crm.Apps, []string{"shop"})
	check("crm scopes", crm.Scopes, []string{ScopeSend, ScopeRead})
	check("crm matches", crm.Match("crm-key-0123456789abcdef"), true)
	ts := c.APIKey("token-service")
	check("token-service secret", ts.Secret.Value(), apiKeyValue)
	check("token-service scopes", ts.Scopes, []string{ScopeToken})
	check("token-service apps", ts.Apps, []string{"*"})

	check("apps", c.AppNames(), []string{"blog", "shop"})
	shop := c.Apps["shop"]
	check("shop.name", shop.Name, "shop")
	check("shop.path", shop.Path, "/wechat/shop")
	check("shop.appid", shop.AppID, "wx0123456789abcdef")
	check("shop.token", shop.Token.Value(), shopToken)
	check("shop.aes_keys", len(shop.AESKeys), 2)
	check("shop.aes_keys[0]", shop.AESKeys[0].Value(), key1)
	check("shop.aes_keys[1]", shop.AESKeys[1].Value(), key2)
	check("shop.mode", shop.Mode, message.ModeSafe)
	check("shop.replay_window", shop.ReplayWindow, push.DefaultReplayWindow)
	check("shop.max_body", shop.MaxBody, ByteSize(push.DefaultMaxBody))
	check("shop.secret", shop.Secret.Value(), appSecret)
	check("shop.destinations", len(shop.Destinations), 2)
	check("shop.destinations[0]", shop.Destinations[0].Name, "orders")
	w := shop.Destinations[0].Webhook
	check("shop webhook url", w.URL, "https://api.example.com/wechat/shop")
	check("shop webhook secret", w.Secret.Value(), webhookSec)
	check("shop webhook timeout", w.Timeout, 5*time.Second)
	check("shop webhook concurrency", w.Concurrency, 16)
	check("shop nats", *shop.Destinations[1].NATS, NATSDestination{SubjectPrefix: "wxgate.shop"})
	check("shop rules", shop.Rules.IsSet(), true)
	check("shop rules line", shop.Rules.Pos().Line, 50)
	br := shop.Rules
	check("shop rules", len(br.Rules), 4)
	check("shop rules[0].match", br.Rules[0].Match.EnterSession && *br.Rules[0].Match.SessionFrom == "blog-home", true)
	check("shop rules[0].reply", br.Rules[0].Reply, []Message{{Text: "Hi!"}})
	check("shop rules[1].keyword", br.Rules[1].Match.Keyword, []string{"hello", "hi, there"})
	check("shop rules[1].image", br.Rules[1].Reply[1].Image, "testdata/media/welcome.png")
	check("shop rules[3]", br.Rules[3].Actions, Actions{Transfer: true, Continue: false, continueSet: true})
	check("shop fallback thumb", br.Fallback.Reply[0].MiniProgramPage.ThumbMedia, "testdata/media/welcome.png")
	check("shop office hours", br.OfficeHours.Location().String(), "Asia/Shanghai")
	check("shop windows", fmt.Sprint(br.OfficeHours.Windows), "[mon-fri 09:00-18:00 sat 10:00-14:00 fri 22:00-02:00]")

	blog := c.Apps["blog"]
	check("blog.path", blog.Path, "/wechat/blog-v2")
	check("blog.token", blog.Token.Value(), "BlogToken42")
	check("blog.token source", blog.Token.Source(), "file secrets/blog_token")
	check("blog.aes_keys", []string{blog.AESKeys[0].Value(), blog.AESKeys[1].Value()},
		[]string{strings.Repeat("B", 43), strings.Repeat("C", 43)})
	check("blog.mode", blog.Mode, message.ModeAuto)
	check("blog.allow_plaintext", blog.AllowPlaintext, true)
	check("blog.replay_window", blog.ReplayWindow, 2*time.Minute)
	check("blog.max_body", blog.MaxBody, ByteSize(512<<10))
	check("blog.secret", blog.Secret.IsSet(), false)
	bw := blog.Destinations[0].Webhook
	check("blog webhook secret (trimmed)", bw.Secret.Value(), "blog-webhook-secret-0123456789")
	check("blog webhook timeout (default)", bw.Timeout, 7*time.Second)
	check("blog webhook concurrency (default)", bw.Concurrency, 4)
	check("blog nats", blog.Destinations[1].NATS.SubjectPrefix, "blog.pushes")
	check("blog rules", blog.Rules.IsSet(), false)
}

func TestDefaults(t *testing.T) {
	c := mustParse(t, "apps:\n  shop:\n    token: ${T}\n  default:\n    token: ${T}\n", "T=abc")
	want := Config{
		Listen: ":8080", StateDir: ".wxgate", Store: "sqlite:.wxgate/wxgate.db",
		NATS: NATS{Stream: "WXGATE"}, Log: Log{Format: "text", Level: "info"}, Retain: 720 * time.Hour,
		Delivery: Delivery{InitialBackoff: time.Second, MaxBackoff: 10 * time.Minute, MaxAttempts: 20,
			Timeout: 10 * time.Second, Concurrency: 16},
		OpenAPIURL: "https://api.weixin.qq.com",
	}
	got := *c
	got.Apps, got.meta = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("globals:\n got %#v\nwant %#v", got, want)
	}
	if driver, dsn := c.StoreDSN(); driver != "sqlite" || dsn != ".wxgate/wxgate.db" {
		t.Errorf("StoreDSN = %q, %q", driver, dsn)
	}
	for name, path := range map[string]string{"shop": "/wechat/shop", "default": "/wechat"} {
		a := c.Apps[name]
		if a.Path != path || a.Mode != message.ModeAuto || a.ReplayWindow != 5*time.Minute || a.MaxBody != 1<<20 {
			t.Errorf("app %s defaults: path %q mode %v window %v max body %v", name, a.Path, a.Mode, a.ReplayWindow, a.MaxBody)
		}
	}
	// The store follows state_dir.
	c = mustParse(t, "state_dir: /srv/wx\napps: {shop: {token: abc}}\nallow_inline_secrets: true\n")
	if c.Store != "sqlite:/srv/wx/wxgate.db" {
		t.Errorf("store = %q", c.Store)
	}
	if c.AdminEnabled() {
		t.Error("admin API on with no token")
	}
}

func TestLoadFileErrors(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, ErrInvalid) {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", MaxFileSize)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if errs := Check(big); len(errs) != 1 || !strings.Contains(errs[0].Error(), "larger than") {
		t.Errorf("big file: %v", errs)
	}
}

func TestCheck(t *testing.T) {
	if errs := Check("testdata/full.yaml", WithEnviron(fullEnv)); errs != nil {
		t.Errorf("full.yaml: %v", errs)
	}
	errs := Check("testdata/full.yaml", WithEnviron(nil))
	// Every ${NAME} of the file is unset: one error each, naming it.
	for _, name := range []string{"PGPASSWORD", "ADMIN_TOKEN", "SHOP_TOKEN", "SHOP_AES_KEY", "SHOP_AES_KEY_OLD", "SHOP_APPSECRET", "SHOP_WEBHOOK_SECRET"} {
		found := false
		for _, e := range errs {
			found = found || (errors.Is(e, ErrUnsetEnv) && strings.Contains(e.Error(), "${"+name+"} is not set"))
		}
		if !found {
			t.Errorf("no error for ${%s} in:\n%v", name, errs)
		}
	}
	for _, e := range errs {
		var fe *FieldError
		if !errors.As(e, &fe) || fe.Path == "" || fe.Line == 0 || fe.File != "testdata/full.yaml" {
			t.Errorf("error without path or line: %#v", e)
		}
	}
}

func TestSkipSecrets(t *testing.T) {
	// A CI check: no variables, no secret files; the form is still checked.
	c, err := Load("testdata/full.yaml", SkipSecrets(), WithEnviron([]string{"PGPASSWORD=x"}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if tok := c.Apps["blog"].Token; !tok.IsSet() || tok.Resolved() || tok.Value() != "" {
		t.Errorf("blog token under SkipSecrets: set %v resolved %v", tok.IsSet(), tok.Resolved())
	}
	if len(c.Apps["blog"].AESKeys) != 1 || c.Apps["blog"].AESKeys[0].Resolved() {
		t.Errorf("blog aes_keys_file under SkipSecrets: %d", len(c.Apps["blog"].AESKeys))
	}
	if c.Admin.Token.Equal("") {
		t.Error("an unresolved secret equals the empty string")
	}
	// Non-secret references are still resolved.
	_, err = Load("testdata/full.yaml", SkipSecrets(), WithEnviron(nil))
	es := asErrors(t, nil, err)
	if len(es) != 1 || es[0].Path != "store" || !errors.Is(es[0], ErrUnsetEnv) {
		t.Errorf("errors: %v", es)
	}
	// Inline secrets are refused all the same.
	_, err = Parse("x.yaml", []byte("apps: {shop: {token: abcdef}}\n"), SkipSecrets(), WithEnviron(nil))
	if !errors.Is(err, ErrInlineSecret) {
		t.Errorf("inline under SkipSecrets: %v", err)
	}
}

func TestPushConfig(t *testing.T) {
	c, err := Load("testdata/full.yaml", WithEnviron(fullEnv))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range c.AppNames() {
		pc := c.Apps[name].PushConfig()
		if _, err := push.NewHandler(pc, nil); err != nil {
			t.Errorf("%s: push.NewHandler refuses the validated config: %v", name, err)
		}
	}
	pc := c.Apps["shop"].PushConfig()
	if pc.AppID != "wx0123456789abcdef" || pc.Token != shopToken || !reflect.DeepEqual(pc.AESKeys, []string{key1, key2}) ||
		pc.Mode != message.ModeSafe || pc.MaxBody != 1<<20 || pc.ReplayWindow != 5*time.Minute {
		t.Errorf("PushConfig = %+v", pc)
	}
}
