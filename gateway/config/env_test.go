package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wxgate/wxgate/message"
)

// base is a valid file with the app "shop" and a webhook, secrets by
// reference.
const base = `apps:
  shop:
    appid: wx0123456789abcdef
    token: ${SHOP_TOKEN}
    destinations:
      - name: hooks
        webhook:
          url: https://hooks.example.com/a
          secret: ${HOOK_SECRET}
`

var baseEnv = []string{"SHOP_TOKEN=" + shopToken, "HOOK_SECRET=" + webhookSec}

func TestEnvOverrides(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		get  func(c *Config) any
		want any
		path string // the field's path, whose origin is the variable
	}{
		{"scalar", []string{"WXGATE_LISTEN=:7000"}, func(c *Config) any { return c.Listen }, ":7000", "listen"},
		{"nested scalar", []string{"WXGATE_LOG_LEVEL=debug"}, func(c *Config) any { return c.Log.Level }, "debug", "log.level"},
		{"duration", []string{"WXGATE_DELIVERY_TIMEOUT=3s"}, func(c *Config) any { return c.Delivery.Timeout }, 3 * time.Second, "delivery.timeout"},
		{"duration days", []string{"WXGATE_RETAIN=2d"}, func(c *Config) any { return c.Retain }, 48 * time.Hour, "retain"},
		{"int", []string{"WXGATE_DELIVERY_MAX_ATTEMPTS=7"}, func(c *Config) any { return c.Delivery.MaxAttempts }, 7, "delivery.max_attempts"},
		{"bool", []string{"WXGATE_APPS_SHOP_ALLOW_PLAINTEXT=true", "WXGATE_APPS_SHOP_AES_KEYS=" + key1},
			func(c *Config) any { return c.Apps["shop"].AllowPlaintext }, true, "apps.shop.allow_plaintext"},
		{"byte size", []string{"WXGATE_APPS_SHOP_MAX_BODY=2MiB"}, func(c *Config) any { return c.Apps["shop"].MaxBody }, ByteSize(2 << 20), "apps.shop.max_body"},
		{"mode", []string{"WXGATE_APPS_SHOP_MODE=safe", "WXGATE_APPS_SHOP_AES_KEYS=" + key1},
			func(c *Config) any { return c.Apps["shop"].Mode }, message.ModeSafe, "apps.shop.mode"},
		{"secret", []string{"WXGATE_APPS_SHOP_TOKEN=Other42"}, func(c *Config) any { return c.Apps["shop"].Token.Value() }, "Other42", "apps.shop.token"},
		{"secret list", []string{"WXGATE_APPS_SHOP_AES_KEYS=" + key1 + ", " + key2},
			func(c *Config) any {
				return []string{c.Apps["shop"].AESKeys[0].Value(), c.Apps["shop"].AESKeys[1].Value()}
			},
			[]string{key1, key2}, "apps.shop.aes_keys"},
		{"list element", []string{"WXGATE_APPS_SHOP_DESTINATIONS_0_WEBHOOK_URL=https://other.example/b"},
			func(c *Config) any { return c.Apps["shop"].Destinations[0].Webhook.URL }, "https://other.example/b", "apps.shop.destinations[0].webhook.url"},
		{"new list element", []string{"WXGATE_APPS_SHOP_DESTINATIONS_1_NAME=events", "WXGATE_APPS_SHOP_DESTINATIONS_1_NATS_SUBJECT_PREFIX=ev", "WXGATE_NATS_URL=nats://n:4222"},
			func(c *Config) any { return c.Apps["shop"].Destinations[1] }, Destination{Name: "events", NATS: &NATSDestination{SubjectPrefix: "ev"}},
			"apps.shop.destinations[1].name"},
		{"new app", []string{"WXGATE_APPS_BLOG_TOKEN=Blog42", "WXGATE_APPS_BLOG_PATH=/b"},
			func(c *Config) any { return [2]string{c.Apps["blog"].Token.Value(), c.Apps["blog"].Path} }, [2]string{"Blog42", "/b"}, "apps.blog.token"},
		{"new app with underscore", []string{"WXGATE_APPS_MY_BLOG_TOKEN_FILE=testdata/secrets/blog_token"},
			func(c *Config) any { return c.Apps["my"] == nil && c.Apps["my_blog"].Token.Value() == "BlogToken42" }, true, "apps.my_blog.token"},
		{"api key", []string{"WXGATE_API_KEYS_0_NAME=ops", "WXGATE_API_KEYS_0_SECRET=" + apiKeyValue, "WXGATE_API_KEYS_0_APPS=*", "WXGATE_API_KEYS_0_SCOPES=read, admin"},
			func(c *Config) any {
				return [3]any{c.APIKeys[0].Name, c.APIKeys[0].Match(apiKeyValue), c.APIKeys[0].Scopes}
			},
			[3]any{"ops", true, []string{"read", "admin"}}, "api_keys[0].secret"},
		{"admin token file", []string{"WXGATE_ADMIN_TOKEN_FILE=testdata/secrets/api_key"},
			func(c *Config) any { return c.Admin.Token.Value() }, apiKeyValue, "admin.token"},
		{"allow inline", []string{"WXGATE_ALLOW_INLINE_SECRETS=1"}, func(c *Config) any { return c.AllowInlineSecrets }, true, "allow_inline_secrets"},
		{"empty string", []string{"WXGATE_REDIS="}, func(c *Config) any { return c.Redis }, "", "redis"},
		{"host:port redis", []string{"WXGATE_REDIS=127.0.0.1:6379"}, func(c *Config) any { return c.Redis }, "redis://127.0.0.1:6379", "redis"},
		{"unrelated variables ignored", []string{"WXGATE_ADDR=:1", "WXGATE_TEST_POSTGRES=x", "WXGATE_PUSH_COUNT=3", "WXGATE_NATS=nats://x"},
			func(c *Config) any { return c.Listen }, ":8080", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("testdata/test.yaml", []byte(base), WithEnviron(append(tt.env, baseEnv...)))
			if err != nil {
				t.Fatalf("errors:\n%v", err)
			}
			if got := tt.get(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
			if tt.path != "" {
				if env := EnvName(tt.path); c.meta.origin[tt.path] == "" || !strings.HasPrefix(c.meta.origin[tt.path], env) {
					t.Errorf("origin of %s = %q, want %s…", tt.path, c.meta.origin[tt.path], env)
				}
			}
		})
	}
}

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		name     string
		env      []string
		source   string
		path     string
		sentinel error
		msg      string
	}{
		{"bad int", []string{"WXGATE_DELIVERY_MAX_ATTEMPTS=many"}, "WXGATE_DELIVERY_MAX_ATTEMPTS", "delivery.max_attempts", ErrInvalid, "must be an integer"},
		{"bad bool", []string{"WXGATE_APPS_SHOP_ALLOW_PLAINTEXT=perhaps"}, "WXGATE_APPS_SHOP_ALLOW_PLAINTEXT", "apps.shop.allow_plaintext", ErrInvalid, "must be true or false"},
		{"bad duration", []string{"WXGATE_RETAIN=forever"}, "WXGATE_RETAIN", "retain", ErrInvalid, "must be a duration"},
		{"bad mode", []string{"WXGATE_APPS_SHOP_MODE=strict"}, "WXGATE_APPS_SHOP_MODE", "apps.shop.mode", ErrInvalid, `"strict" is not auto`},
		{"bad value, validated", []string{"WXGATE_APPS_SHOP_TOKEN=bad!token"}, "WXGATE_APPS_SHOP_TOKEN", "apps.shop.token", ErrInvalid, "must be 3 to 32 letters and digits (got 9 characters)"},
		{"unknown app field", []string{"WXGATE_APPS_SHOP_TOKN=x"}, "WXGATE_APPS_SHOP_TOKN", "", ErrUnknownField, "names no setting"},
		{"rules not overridable", []string{"WXGATE_APPS_SHOP_RULES=x"}, "WXGATE_APPS_SHOP_RULES", "", ErrUnknownField, "names no setting"},
		{"unknown api key field", []string{"WXGATE_API_KEYS_0_KEY=x"}, "WXGATE_API_KEYS_0_KEY", "", ErrUnknownField, "names no setting"},
		{"index too large", []string{"WXGATE_APPS_SHOP_DESTINATIONS_100_NAME=x"}, "WXGATE_APPS_SHOP_DESTINATIONS_100_NAME", "", ErrUnknownField, "names no setting"},
		{"secret both ways", []string{"WXGATE_APPS_SHOP_TOKEN=abc", "WXGATE_APPS_SHOP_TOKEN_FILE=/x"}, "WXGATE_APPS_SHOP_TOKEN_FILE", "apps.shop.token", ErrInvalid, "conflicts with WXGATE_APPS_SHOP_TOKEN"},
		{"missing file", []string{"WXGATE_APPS_SHOP_TOKEN_FILE=/nonexistent/token"}, "WXGATE_APPS_SHOP_TOKEN_FILE", "apps.shop.token", ErrSecretFile, "cannot read /nonexistent/token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("testdata/test.yaml", []byte(base), WithEnviron(append(tt.env, baseEnv...)))
			es := asErrors(t, nil, err)
			if len(es) != 1 {
				t.Fatalf("want one error, got:\n%v", es)
			}
			e := es[0]
			if e.Source != tt.source || e.Path != tt.path || !errors.Is(e, tt.sentinel) || !strings.Contains(e.Msg, tt.msg) || e.Line != 0 {
				t.Errorf("got %#v\nwant source %s path %q %v %q", e, tt.source, tt.path, tt.sentinel, tt.msg)
			}
			if !strings.Contains(e.Error(), tt.source) {
				t.Errorf("Error() %q does not name %s", e.Error(), tt.source)
			}
			assertNoSecret(t, "error", e.Error(), "bad!token")
		})
	}
}

// TestEnvNameCoversEveryField checks, for every setting of a full
// configuration, that the variable EnvName gives is the one that sets it.
func TestEnvNameCoversEveryField(t *testing.T) {
	c, err := Load("testdata/full.yaml", WithEnviron(fullEnv))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		switch {
		case isLeaf(v.Type()):
			paths = append(paths, path)
		case v.Type() == rulesType:
		case v.Kind() == reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem(), path)
			}
		case v.Kind() == reflect.Struct:
			for _, f := range fieldsOf(v.Type()) {
				walk(v.Field(f.index), joinPath(path, f.name))
			}
		case v.Kind() == reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i), indexPath(path, i))
			}
		case v.Kind() == reflect.Map:
			for _, name := range c.AppNames() {
				walk(reflect.ValueOf(c.Apps[name]), keyPath(path, name))
			}
		}
	}
	walk(reflect.ValueOf(c).Elem(), "")
	if len(paths) < 60 {
		t.Fatalf("only %d settings found", len(paths))
	}
	root := reflect.TypeFor[Config]()
	for _, p := range paths {
		env := EnvName(p)
		tg, ok := findEnv(root, strings.TrimPrefix(env, EnvPrefix), "", appSegs(c))
		if !ok || tg.path != p {
			t.Errorf("%s: %s sets %q (found %v)", p, env, tg.path, ok)
		}
	}
	if EnvName("apps.my-shop.destinations[0].webhook.url") != "WXGATE_APPS_MY_SHOP_DESTINATIONS_0_WEBHOOK_URL" {
		t.Errorf("EnvName = %s", EnvName("apps.my-shop.destinations[0].webhook.url"))
	}
}

func TestEnvDashedAppName(t *testing.T) {
	src := "apps:\n  my-shop:\n    token: ${T}\n  my:\n    token: ${T}\n"
	c, err := Parse("x.yaml", []byte(src), WithEnviron([]string{"T=abc", "WXGATE_APPS_MY_SHOP_PATH=/ms", "WXGATE_APPS_MY_PATH=/m"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Apps["my-shop"].Path != "/ms" || c.Apps["my"].Path != "/m" || len(c.Apps) != 2 {
		t.Errorf("paths: %q %q, %d apps", c.Apps["my-shop"].Path, c.Apps["my"].Path, len(c.Apps))
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("token", "\n  FileToken9 \n")
	write("keys", key1+"\r\n# old:\n"+key2+"\n")
	write("empty", " \n")
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "wxgate.yaml")
	src := "apps:\n  shop:\n    appid: wx0123456789abcdef\n    token_file: token\n    aes_keys_file: ${DIR}/keys\n"
	write("wxgate.yaml", src)
	c, err := Load(cfg, WithEnviron([]string{"DIR=" + dir}))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Apps["shop"]
	if a.Token.Value() != "FileToken9" || a.Token.Source() != "file token" {
		t.Errorf("token %q from %q", a.Token.Value(), a.Token.Source())
	}
	if len(a.AESKeys) != 2 || a.AESKeys[0].Value() != key1 || a.AESKeys[1].Value() != key2 {
		t.Errorf("aes keys: %d", len(a.AESKeys))
	}
	for _, tt := range []struct{ file, msg string }{
		{"missing", "cannot read " + filepath.Join(dir, "missing") + ": no such file or directory"},
		{"empty", filepath.Join(dir, "empty") + " is empty"},
		{"adir", filepath.Join(dir, "adir") + " is not a regular file"},
	} {
		write("wxgate.yaml", "apps:\n  shop:\n    token_file: "+tt.file+"\n")
		_, err := Load(cfg, WithEnviron(nil))
		es := asErrors(t, nil, err)
		if len(es) != 1 || es[0].Path != "apps.shop.token" || !errors.Is(es[0], ErrSecretFile) || es[0].Msg != tt.msg || es[0].Line != 4-1 {
			t.Errorf("%s: %#v", tt.file, es)
		}
	}
	big := write("big", strings.Repeat("x", maxSecretFile+1))
	write("wxgate.yaml", "apps:\n  shop:\n    token_file: "+big+"\n")
	if _, err := Load(cfg, WithEnviron(nil)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big file: %v", err)
	}
}

// TestEnvMadeAppErrors checks that errors about an app or list item that a
// variable made name the variable.
func TestEnvMadeAppErrors(t *testing.T) {
	_, err := Parse("x.yaml", []byte(base), WithEnviron(append([]string{"WXGATE_APPS_NEWS_PATH=/n", "WXGATE_APPS_SHOP_DESTINATIONS_2_NAME=x"}, baseEnv...)))
	es := asErrors(t, nil, err)
	for path, src := range map[string]string{
		"apps.news.token":                "WXGATE_APPS_NEWS_PATH",
		"apps.shop.destinations[1]":      "WXGATE_APPS_SHOP_DESTINATIONS_2_NAME",
		"apps.shop.destinations[1].name": "WXGATE_APPS_SHOP_DESTINATIONS_2_NAME",
		"apps.shop.destinations[2]":      "WXGATE_APPS_SHOP_DESTINATIONS_2_NAME",
	} {
		if e := findErr(es, path); e == nil || e.Source != src {
			t.Errorf("%s: %v", path, e)
		}
	}
}
