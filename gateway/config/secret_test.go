package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// printings are the ways a value can reach a log or a screen.
func printings(t *testing.T, v any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		out[verb] = fmt.Sprintf(verb, v)
	}
	out["Sprint"] = fmt.Sprint(v)
	out["Sprintln"] = fmt.Sprintln(v)
	if b, err := json.Marshal(v); err == nil {
		out["json"] = string(b)
	}
	if b, err := yaml.Marshal(v); err == nil {
		out["yaml"] = string(b)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", v)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "v", v)
	out["slog"] = buf.String()
	return out
}

func TestSecretRedacts(t *testing.T) {
	s := NewSecret(shopToken)
	if s.Value() != shopToken || !s.IsSet() || !s.Resolved() || s.Source() != "code" {
		t.Fatalf("NewSecret: set %v source %q", s.IsSet(), s.Source())
	}
	type wrapper struct {
		Exported   Secret
		unexported Secret
		List       []Secret
		Ptr        *Secret
	}
	w := wrapper{Exported: s, unexported: s, List: []Secret{s, s}, Ptr: &s}
	for _, v := range []any{s, &s, w, &w, []Secret{s}, map[string]Secret{"k": s}} {
		for how, text := range printings(t, v) {
			assertNoSecret(t, fmt.Sprintf("%T printed with %s", v, how), text, shopToken)
		}
	}
	if got := fmt.Sprint(s); got != "[redacted]" {
		t.Errorf("Sprint = %q", got)
	}
	if got := fmt.Sprintf("%#v", s); got != "config.Secret([redacted])" {
		t.Errorf("%%#v = %q", got)
	}
	if got := fmt.Sprint(Secret{}); got != "" {
		t.Errorf("unset prints %q", got)
	}
	if (Secret{}).IsSet() || NewSecret("").IsSet() {
		t.Error("empty secret is set")
	}
}

func TestSecretEqual(t *testing.T) {
	s := NewSecret(adminToken)
	if !s.Equal(adminToken) || s.Equal(adminToken+"x") || s.Equal("") || s.Equal(adminToken[:5]) {
		t.Error("Equal")
	}
	if (Secret{}).Equal("") {
		t.Error("an unset secret equals the empty string")
	}
}

// TestNoSecretInOutput loads configurations with every kind of secret and
// checks that none shows in String, Redacted, %v and friends, JSON, or the
// errors of invalid variants.
func TestNoSecretInOutput(t *testing.T) {
	c, err := Load("testdata/full.yaml", WithEnviron(fullEnv))
	if err != nil {
		t.Fatal(err)
	}
	for how, text := range printings(t, c) {
		assertNoSecret(t, "Config printed with "+how, text)
	}
	for _, name := range c.AppNames() {
		for how, text := range printings(t, c.Apps[name]) {
			assertNoSecret(t, "App printed with "+how, text)
		}
		for how, text := range printings(t, *c.Apps[name]) {
			assertNoSecret(t, "App value printed with "+how, text)
		}
	}
	for how, text := range printings(t, c.APIKeys) {
		assertNoSecret(t, "APIKeys printed with "+how, text)
	}
	for how, text := range printings(t, c.Admin) {
		assertNoSecret(t, "Admin printed with "+how, text)
	}

	// Errors, with each secret wrong in turn: never its value.
	bad := []struct {
		env  []string
		leak string
	}{
		{[]string{"SHOP_TOKEN=" + "Leak!Token"}, "Leak!Token"},
		{[]string{"SHOP_AES_KEY=" + "LeakAESKey" + strings.Repeat("!", 33)}, "LeakAESKey"},
		{[]string{"SHOP_WEBHOOK_SECRET=leakshort"}, "leakshort"},
		{[]string{"ADMIN_TOKEN=leakadmin"}, "leakadmin"},
		{[]string{"SHOP_APPSECRET=leak app secret"}, "leak app secret"},
		{[]string{"WXGATE_APPS_SHOP_TOKEN=Leak!Env", "WXGATE_API_KEYS_0_SECRET=leakkey"}, "Leak!Env"},
		{[]string{"WXGATE_API_KEYS_1_SECRET=leakkey2"}, "leakkey2"},
		{[]string{"WXGATE_DELIVERY_MAX_ATTEMPTS=" + shopToken}, shopToken},
		{[]string{"PGPASSWORD=" + pgPassword, "WXGATE_STORE=mysql://u:" + pgPassword + "@h/db"}, pgPassword},
		{[]string{"WXGATE_REDIS=http://u:" + pgPassword + "@h"}, pgPassword},
		{[]string{"WXGATE_APPS_SHOP_DESTINATIONS_0_WEBHOOK_URL=ftp://u:" + pgPassword + "@h"}, pgPassword},
		{[]string{"WXGATE_APPS_SHOP_APPID=" + shopToken}, shopToken},
	}
	for _, b := range bad {
		env := append(append([]string{}, fullEnv...), b.env...)
		_, err := Load("testdata/full.yaml", WithEnviron(env))
		if err == nil {
			t.Errorf("%v: no error", b.env)
			continue
		}
		assertNoSecret(t, fmt.Sprintf("errors of %v", b.env), err.Error(), append([]string{b.leak}, allSecrets...)...)
		assertNoSecret(t, "errors %#v", fmt.Sprintf("%#v", err), append([]string{b.leak}, allSecrets...)...)
	}

	// YAML errors near a secret do not quote the line.
	for _, src := range []string{
		"apps:\n  shop:\n    token: \"" + shopToken + "\\q\"\n",
		"apps:\n  shop:\n    token: " + shopToken + "\n   mode: x\n",
		"apps:\n  shop:\n    token: [" + shopToken + "\n",
		"apps:\n  shop:\n    token: {a: " + shopToken + "}\n",
		"apps:\n  shop:\n    token: " + shopToken + "\n    token: " + shopToken + "\n",
	} {
		_, err := Parse("x.yaml", []byte(src), WithEnviron(nil))
		if err == nil {
			t.Errorf("no error for %q", src)
			continue
		}
		assertNoSecret(t, "YAML error", err.Error(), shopToken)
	}
}

func TestRedacted(t *testing.T) {
	c, err := Load("testdata/full.yaml", WithEnviron(fullEnv))
	if err != nil {
		t.Fatal(err)
	}
	out := c.Redacted()
	assertNoSecret(t, "Redacted", out)
	for _, want := range []string{
		`store: "postgres://wxgate:xxxxx@db:5432/wxgate?sslmode=disable"`,
		`token: "[redacted]"  # ${ADMIN_TOKEN}`,
		`token: "[redacted]"  # file secrets/blog_token`,
		`  - "[redacted]"  # file secrets/blog_aes_keys`,
		`secret: "[redacted]"  # file secrets/api_key`,
		`secret_hash: "sha256:8180`,
		"retain: 720h",
		"max_body: 512KiB",
		"mode: safe",
		"  \"blog\":\n    path: \"/wechat/blog-v2\"",
		"rules:\n      rules:\n        - name: \"welcome\"\n          match:\n            enter_session: true\n            session_from: \"blog-home\"",
		`windows: ["mon-fri 09:00-18:00", "sat 10:00-14:00", "fri 22:00-02:00"]`,
		`regex: "^order\\s*\\d+$"`,
		"    rules: {}\n  \"shop\":",
		"subject_prefix: \"wxgate.shop\"",
		`scopes: ["send", "read"]`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Redacted lacks %q:\n%s", want, out)
		}
	}
	if c.String() != out || fmt.Sprint(c) != out {
		t.Error("String and Sprint are not Redacted")
	}
	// The output is YAML of the same shape: it parses with no unknown field.
	_, err = Parse("redacted.yaml", []byte(out), WithEnviron(nil), SkipSecrets())
	var es Errors
	errors.As(err, &es)
	for _, e := range es {
		if errors.Is(e, ErrSyntax) || errors.Is(e, ErrUnknownField) {
			t.Errorf("Redacted output does not parse back: %v", e)
		}
	}
	if got := redactURL("https://h.example/x?token=abc&mode=1"); got != "https://h.example/x?mode=1&token=xxxxx" {
		t.Errorf("redactURL = %s", got)
	}
	if got := (*Config)(nil).Redacted(); got == "" {
		t.Error("nil Config")
	}
}
