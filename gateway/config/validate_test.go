package config

import (
	"errors"
	"strings"
	"testing"
)

// TestValidationErrors has one case per validation error: the file, the
// field path of the error and words of its message.
func TestValidationErrors(t *testing.T) {
	type vcase struct {
		name, src, path, msg string
		env                  []string
	}
	tc := func(name, src, path, msg string, env ...string) vcase { return vcase{name, src, path, msg, env} }
	tests := []vcase{
		// Globals.
		tc("listen", global(`listen: "8080"`), "listen", "must be an address like :8080"),
		tc("listen port", global(`listen: ":http-alt"`), "listen", "must be an address"),
		tc("admin.addr", global(`admin: {addr: "nowhere"}`), "admin.addr", "must be an address"),
		tc("admin.addr same", global(`listen: ":9000"`, `admin: {addr: ":9000"}`), "admin.addr", "must differ from listen"),
		tc("admin.token short", global(`admin: {token: short}`), "admin.token", "must be at least 16 characters (got 5)"),
		tc("store scheme", global(`store: "mysql://u:p@h/db"`), "store", `must be sqlite:PATH or a postgres:// URL (got scheme "mysql")`),
		tc("store sqlite empty", global(`store: "sqlite:"`), "store", "must name the database file"),
		tc("store garbage", global(`store: "just words"`), "store", "must be sqlite:PATH or a postgres:// URL"),
		tc("redis scheme", global(`redis: "http://h:6379"`), "redis", "must be a redis://"),
		tc("redis no host", global(`redis: "redis://"`), "redis", "must name a host"),
		tc("nats.url", global(`nats: {url: "nats://a:4222,http://b"}`), "nats.url", "server 2 must be a nats://"),
		tc("nats.stream", global(`nats: {stream: "a.b"}`), "nats.stream", "must be 1 to 64 letters"),
		tc("log.format", global(`log: {format: xml}`), "log.format", `"xml" is not text or json`),
		tc("log.level", global(`log: {level: loud}`), "log.level", `"loud" is not debug, info, warn or error`),
		tc("retain", global(`retain: -1h`), "retain", "must be positive"),
		tc("initial_backoff", global(`delivery: {initial_backoff: -1s}`), "delivery.initial_backoff", "must be positive"),
		tc("max_backoff", global(`delivery: {initial_backoff: 1m, max_backoff: 30s}`), "delivery.max_backoff", "must be at least delivery.initial_backoff (1m0s)"),
		tc("max_attempts", global(`delivery: {max_attempts: 5000}`), "delivery.max_attempts", "must be 1 to 1000"),
		tc("delivery.timeout", global(`delivery: {timeout: 2h}`), "delivery.timeout", "must be positive and at most 1h"),
		tc("delivery.concurrency", global(`delivery: {concurrency: -1}`), "delivery.concurrency", "must be 1 to 1024"),
		tc("openapi_url", global(`openapi_url: "api.weixin.qq.com"`), "openapi_url", "must be an absolute http(s) URL"),
		tc("no apps", "listen: :8080\n", "apps", "must configure at least one app"),

		// Apps.
		tc("app name", "allow_inline_secrets: true\napps:\n  Shop:\n"+appLines(), "apps.Shop", "app names are lowercase letters"),
		tc("app name env", "allow_inline_secrets: true\napps:\n  a-b:\n"+appLines()+"  a_b:\n"+appLines("path: /x"),
			"apps.a_b", "has the same environment name as apps.a-b (WXGATE_APPS_A_B_...)"),
		tc("path relative", app("path: wechat"), "apps.shop.path", "must start with /"),
		tc("path unclean", app("path: /wechat/"), "apps.shop.path", "must be a clean path"),
		tc("path pattern", app("path: /wechat/{x}"), "apps.shop.path", "must start with / and hold only"),
		tc("path reserved", app("path: /v1/push"), "apps.shop.path", "/v1/push is taken by the gateway's own endpoints"),
		tc("path healthz", app("path: /healthz"), "apps.shop.path", "taken by the gateway"),
		tc("path root", app("path: /"), "apps.shop.path", "must not be /"),
		tc("path unique", "allow_inline_secrets: true\napps:\n  a:\n"+appLines("path: /p")+"  b:\n"+appLines("path: /p"),
			"apps.b.path", "/p is also the path of apps.a"),
		tc("appid", app("appid: wx0123"), "apps.shop.appid", `must be "wx" and 16 lowercase hexadecimal digits`),
		tc("appid upper", app("appid: wx0123456789ABCDEF"), "apps.shop.appid", `must be "wx" and 16`),
		tc("appid needed for keys", app("appid: ''", "aes_keys: ["+key1+"]"), "apps.shop.appid", "must be set with aes_keys"),
		tc("appid needed for secret", app("appid: ''", "secret: "+appSecret), "apps.shop.appid", "must be set with secret"),
		tc("token missing", app("token: ''"), "apps.shop.token", "must be set"),
		tc("token empty ref", app("token: ${EMPTY}"), "apps.shop.token", "must be set: the console's Token (${EMPTY} is empty)", "EMPTY="),
		tc("token shape", app("token: ab"), "apps.shop.token", "must be 3 to 32 letters and digits (got 2 characters)"),
		tc("token shape ref", app("token: ${T}"), "apps.shop.token", "must be 3 to 32 letters and digits (got 4 characters, from ${T})", "T=a-b!"),
		tc("aes key", app("aes_keys: [tooshort]"), "apps.shop.aes_keys[0]", "must be an EncodingAESKey, 43 letters and digits (got 8 characters)"),
		tc("aes key second", app("aes_keys: ["+key1+", "+key1[:42]+"!]"), "apps.shop.aes_keys[1]", "must be an EncodingAESKey"),
		tc("aes key dup", app("aes_keys: ["+key1+", "+key1+"]"), "apps.shop.aes_keys[1]", "is the same key as aes_keys[0]"),
		tc("aes key empty", app("aes_keys: ['']"), "apps.shop.aes_keys[0]", "must be set"),
		tc("mode", app("mode: sfae"), "apps.shop.mode", `"sfae" is not auto, plain, compat or safe`),
		tc("safe needs keys", app("mode: safe"), "apps.shop.aes_keys", "must be set in mode safe"),
		tc("plain takes no keys", app("mode: plain", "aes_keys: ["+key1+"]"), "apps.shop.mode", "plain takes no aes_keys"),
		tc("allow_plaintext", app("mode: compat", "aes_keys: ["+key1+"]", "allow_plaintext: true"), "apps.shop.allow_plaintext", "has no effect in mode compat"),
		tc("replay negative", app("replay_window: -1s"), "apps.shop.replay_window", "must not be negative"),
		tc("replay long", app("replay_window: 2h"), "apps.shop.replay_window", "must be at most 1h0m0s"),
		tc("max_body", app("max_body: 1GiB"), "apps.shop.max_body", "must be positive and at most 64MiB"),
		tc("max_body negative", app("max_body: -5"), "apps.shop.max_body", "must be a number of bytes"),
		tc("secret spaces", app("secret: 'a b'"), "apps.shop.secret", "must be the console's AppSecret: no spaces"),

		// Destinations.
		tc("dest name", app("destinations: [{webhook: {url: 'https://x.example', secret: "+webhookSec+"}}]"),
			"apps.shop.destinations[0].name", "must be set: deliveries are recorded under it"),
		tc("dest name shape", app("destinations: [{name: Hooks, webhook: {url: 'https://x.example', secret: "+webhookSec+"}}]"), "apps.shop.destinations[0].name", "must be lowercase letters"),
		tc("dest name dup", app("destinations:\n  - {name: a, webhook: {url: 'https://x.example', secret: "+webhookSec+"}}\n  - {name: a, webhook: {url: 'https://y.example', secret: "+webhookSec+"}}"),
			"apps.shop.destinations[1].name", "a is also the name of destinations[0]"),
		tc("dest empty", app("destinations: [{name: a}]"), "apps.shop.destinations[0]", "must have webhook or nats"),
		tc("dest both", app("destinations: [{name: a, nats: {}, webhook: {url: 'https://x.example', secret: "+webhookSec+"}}]"),
			"apps.shop.destinations[0]", "not both"),
		tc("webhook url", app("destinations:\n  - {name: a, webhook: {url: 'https://x.example', secret: "+webhookSec+"}}\n  - {name: b, webhook: {url: 'ftp://x', secret: "+webhookSec+"}}"),
			"apps.shop.destinations[1].webhook.url", "must be an absolute http(s) URL"),
		tc("webhook url relative", app("destinations: [{name: a, webhook: {url: '/hook', secret: "+webhookSec+"}}]"),
			"apps.shop.destinations[0].webhook.url", "must be an absolute http(s) URL"),
		tc("webhook secret", app("destinations: [{name: a, webhook: {url: 'https://x.example'}}]"),
			"apps.shop.destinations[0].webhook.secret", "must be set: receivers check the signature"),
		tc("webhook secret short", app("destinations: [{name: a, webhook: {url: 'https://x.example', secret: short}}]"),
			"apps.shop.destinations[0].webhook.secret", "must be at least 16 characters (got 5)"),
		tc("webhook timeout", app("destinations: [{name: a, webhook: {url: 'https://x.example', secret: "+webhookSec+", timeout: -1s}}]"),
			"apps.shop.destinations[0].webhook.timeout", "must be positive"),
		tc("webhook concurrency", app("destinations: [{name: a, webhook: {url: 'https://x.example', secret: "+webhookSec+", concurrency: 5000}}]"),
			"apps.shop.destinations[0].webhook.concurrency", "must be 1 to 1024"),
		tc("nats needs url", app("destinations: [{name: a, nats: {}}]"), "apps.shop.destinations[0].nats", "needs nats.url"),
		tc("nats subject", "nats: {url: 'nats://n:4222'}\n"+app("destinations: [{name: a, nats: {subject_prefix: 'a..b'}}]"),
			"apps.shop.destinations[0].nats.subject_prefix", "must be dot-separated tokens"),

		// API keys.
		tc("key name", global("api_keys: [{secret_hash: "+HashAPIKey("x")+", apps: [shop], scopes: [send]}]"), "api_keys[0].name", "must be set"),
		tc("key name shape", global("api_keys: [{name: 'C R M', secret_hash: "+HashAPIKey("x")+", apps: [shop], scopes: [send]}]"), "api_keys[0].name", "must be lowercase"),
		tc("key name dup", global("api_keys:\n  - {name: a, secret_hash: "+HashAPIKey("x")+", apps: [shop], scopes: [send]}\n  - {name: a, secret_hash: "+HashAPIKey("y")+", apps: [shop], scopes: [send]}"),
			"api_keys[1].name", "a is also the name of api_keys[0]"),
		tc("key no secret", global("api_keys: [{name: a, apps: [shop], scopes: [send]}]"), "api_keys[0].secret", "must be set (from ${ENV} or secret_file), or give secret_hash"),
		tc("key both", global("api_keys: [{name: a, secret: "+apiKeyValue+", secret_hash: "+HashAPIKey("x")+", apps: [shop], scopes: [send]}]"), "api_keys[0]", "not both"),
		tc("key hash", global("api_keys: [{name: a, secret_hash: 'md5:abc', apps: [shop], scopes: [send]}]"), "api_keys[0].secret_hash", `must be "sha256:" and 64 hex digits`),
		tc("key short", global("api_keys: [{name: a, secret: short, apps: [shop], scopes: [send]}]"), "api_keys[0].secret", "must be at least 16 characters"),
		tc("key apps", global("api_keys: [{name: a, secret_hash: "+HashAPIKey("x")+", scopes: [send]}]"), "api_keys[0].apps", "must list the apps"),
		tc("key app unknown", global("api_keys: [{name: a, secret_hash: "+HashAPIKey("x")+", apps: [shop, blog], scopes: [send]}]"), "api_keys[0].apps[1]", `"blog" is not an app`),
		tc("key scopes", global("api_keys: [{name: a, secret_hash: "+HashAPIKey("x")+", apps: [shop]}]"), "api_keys[0].scopes", "must list scopes"),
		tc("key scope unknown", global("api_keys: [{name: a, secret_hash: "+HashAPIKey("x")+", apps: [shop], scopes: [send, write]}]"), "api_keys[0].scopes[1]", `"write" is not send, token, read or admin`),
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, es := parse(t, tt.src, tt.env...)
			e := findErr(es, tt.path)
			if e == nil {
				t.Fatalf("no error at %s; got:\n%v\nfile:\n%s", tt.path, es, tt.src)
			}
			if !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("message %q does not contain %q", e.Msg, tt.msg)
			}
			if want := tt.path + ": " + e.Msg; !strings.Contains(e.Error(), want) {
				t.Errorf("Error() %q does not contain %q", e.Error(), want)
			}
			if (e.Line == 0 && tt.path != "apps") || e.File != "testdata/test.yaml" {
				t.Errorf("error not placed in the file: %#v", e)
			}
			if !errors.Is(e, ErrInvalid) {
				t.Errorf("errors.Is(ErrInvalid) false")
			}
			if len(es) != 1 {
				t.Errorf("want one error, got:\n%v", es)
			}
			assertNoSecret(t, "error", es.Error())
		})
	}
}

// TestValidationPlacesErrors checks that an error points at its field's
// line, or at its parent's when the field is missing.
func TestValidationPlacesErrors(t *testing.T) {
	src := "allow_inline_secrets: true\n" + // 1
		"apps:\n" + // 2
		"  shop:\n" + // 3
		"    appid: wx0123\n" + // 4
		"    destinations:\n" + // 5
		"      - name: a\n" + // 6
		"        webhook:\n" + // 7
		"          url: nope\n" // 8
	_, es := parse(t, src)
	want := map[string]int{
		"apps.shop.appid":                          4,
		"apps.shop.token":                          3, // missing: its app's line
		"apps.shop.destinations[0].webhook.url":    8,
		"apps.shop.destinations[0].webhook.secret": 7,
	}
	for path, line := range want {
		e := findErr(es, path)
		if e == nil {
			t.Errorf("no error at %s in\n%v", path, es)
			continue
		}
		if e.Line != line {
			t.Errorf("%s: line %d, want %d", path, e.Line, line)
		}
	}
	if len(es) != len(want) {
		t.Errorf("got %d errors, want %d:\n%v", len(es), len(want), es)
	}
}

// TestAllErrorsAtOnce checks that errors of every stage come together.
func TestAllErrorsAtOnce(t *testing.T) {
	src := "listen: nowhere\n" +
		"lissen: :8080\n" +
		"apps:\n" +
		"  shop:\n" +
		"    token: ${MISSING}\n" +
		"    mode: sfae\n" +
		"    destinations:\n" +
		"      - name: a\n" +
		"        webhook: {url: x, secret: " + webhookSec + "}\n"
	_, es := parse(t, src, "WXGATE_DELIVERY_MAX_ATTEMPTS=lots")
	for _, want := range []struct {
		path     string
		sentinel error
	}{
		{"lissen", ErrUnknownField},
		{"apps.shop.token", ErrUnsetEnv},
		{"apps.shop.mode", ErrInvalid},
		{"delivery.max_attempts", ErrInvalid},
		{"listen", ErrInvalid},
		{"apps.shop.destinations[0].webhook.url", ErrInvalid},
		{"apps.shop.destinations[0].webhook.secret", ErrInlineSecret},
	} {
		e := findErr(es, want.path)
		if e == nil || !errors.Is(e, want.sentinel) {
			t.Errorf("no %v at %s in:\n%v", want.sentinel, want.path, es)
		}
	}
}

func TestInlineSecrets(t *testing.T) {
	src := "api_keys: [{name: k, secret: " + apiKeyValue + ", apps: ['*'], scopes: [send]}]\n" +
		"admin: {token: " + adminToken + "}\n" +
		"apps:\n  shop:\n" +
		"    appid: wx0123456789abcdef\n" +
		"    token: " + shopToken + "\n" +
		"    aes_keys: [" + key1 + ", '${K2}']\n" +
		"    secret: " + appSecret + "\n" +
		"    destinations: [{name: a, webhook: {url: 'https://x.example', secret: " + webhookSec + "}}]\n"
	_, es := parse(t, src, "K2="+key2)
	paths := []string{"api_keys[0].secret", "admin.token", "apps.shop.token", "apps.shop.aes_keys[0]",
		"apps.shop.secret", "apps.shop.destinations[0].webhook.secret"}
	for _, p := range paths {
		e := findErr(es, p)
		if e == nil || !errors.Is(e, ErrInlineSecret) {
			t.Errorf("no inline-secret error at %s", p)
			continue
		}
		if !strings.Contains(e.Msg, "${ENV_NAME}") || !strings.Contains(e.Msg, "_file: PATH") || !strings.Contains(e.Msg, "allow_inline_secrets: true") {
			t.Errorf("%s: message does not say how to fix it: %s", p, e.Msg)
		}
	}
	if len(es) != len(paths) {
		t.Errorf("want %d errors (aes_keys[1] is a reference), got:\n%v", len(paths), es)
	}
	assertNoSecret(t, "errors", es.Error())
	// A literal mixed with a reference is inline too.
	_, es = parse(t, "apps:\n  shop:\n"+appLines("secret: prefix-${X}"), "X=y")
	if e := findErr(es, "apps.shop.secret"); e == nil || !errors.Is(e, ErrInlineSecret) {
		t.Errorf("mixed literal: %v", es)
	}
	// allow_inline_secrets accepts them all.
	if _, es := parse(t, "allow_inline_secrets: true\n"+src, "K2="+key2); es != nil {
		t.Errorf("allow_inline_secrets: %v", es)
	}
	// So does the environment.
	if _, es := parse(t, src, "K2="+key2, "WXGATE_ALLOW_INLINE_SECRETS=true"); es != nil {
		t.Errorf("WXGATE_ALLOW_INLINE_SECRETS: %v", es)
	}
}
