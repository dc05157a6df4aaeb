package config

import (
	"errors"
	"strings"
	"testing"
)

// Test secrets: distinctive, so that a leak is easy to find.
const (
	key1        = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	key2        = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
	shopToken   = "ShopTok3nLeak9"
	adminToken  = "admin-token-LEAK-0123456789"
	webhookSec  = "webhook-secret-LEAK-0123456789"
	appSecret   = "appsecretLEAK0123456789abcdef012"
	pgPassword  = "pgpassLEAK"
	apiKeyValue = "token-service-key-0123456789abcdef"
)

// fullEnv is what testdata/full.yaml references.
var fullEnv = []string{
	"PGPASSWORD=" + pgPassword,
	"ADMIN_TOKEN=" + adminToken,
	"SHOP_TOKEN=" + shopToken,
	"SHOP_AES_KEY=" + key1,
	"SHOP_AES_KEY_OLD=" + key2,
	"SHOP_APPSECRET=" + appSecret,
	"SHOP_WEBHOOK_SECRET=" + webhookSec,
}

// allSecrets are every secret value the tests use.
var allSecrets = []string{key1, key2, shopToken, adminToken, webhookSec, appSecret, pgPassword, apiKeyValue,
	"BlogToken42", "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC",
	"blog-webhook-secret-0123456789"}

// assertNoSecret fails if s holds any of secrets.
func assertNoSecret(t *testing.T, what, s string, secrets ...string) {
	t.Helper()
	if len(secrets) == 0 {
		secrets = allSecrets
	}
	for _, sec := range secrets {
		if strings.Contains(s, sec) {
			t.Errorf("%s shows the secret %q:\n%s", what, sec, s)
		}
	}
}

// parse parses src as a file named "test.yaml" in testdata with env.
func parse(t *testing.T, src string, env ...string) (*Config, Errors) {
	t.Helper()
	c, err := Parse("testdata/test.yaml", []byte(src), WithEnviron(env))
	return c, asErrors(t, c, err)
}

// asErrors checks that err is nil or a non-empty Errors, the latter with
// a nil Config.
func asErrors(t *testing.T, c *Config, err error) Errors {
	t.Helper()
	if err == nil {
		if c == nil {
			t.Fatal("nil Config and nil error")
		}
		return nil
	}
	var es Errors
	if !errors.As(err, &es) || len(es) == 0 {
		t.Fatalf("error %v (%T) is not a non-empty Errors", err, err)
	}
	if c != nil {
		t.Fatalf("a Config with errors")
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is(err, ErrInvalid) is false")
	}
	return es
}

// mustParse parses src and fails on any error.
func mustParse(t *testing.T, src string, env ...string) *Config {
	t.Helper()
	c, es := parse(t, src, env...)
	if es != nil {
		t.Fatalf("unexpected errors:\n%v", es)
	}
	return c
}

// findErr returns the error at path, or nil.
func findErr(es Errors, path string) *FieldError {
	for _, e := range es {
		if e.Path == path {
			return e
		}
	}
	return nil
}

// app builds a file with one app "shop": the lines given, plus a valid
// appid and token unless the lines set them. Secrets inline are allowed.
func app(lines ...string) string {
	return "allow_inline_secrets: true\napps:\n  shop:\n" + appLines(lines...)
}

// appLines indents lines under an app, adding appid and token.
func appLines(lines ...string) string {
	var b strings.Builder
	has := func(k string) bool {
		for _, l := range lines {
			if strings.HasPrefix(l, k+":") || strings.HasPrefix(l, k+"_file:") {
				return true
			}
		}
		return false
	}
	if !has("appid") {
		b.WriteString("    appid: wx0123456789abcdef\n")
	}
	if !has("token") {
		b.WriteString("    token: Token123\n")
	}
	for _, l := range lines {
		b.WriteString("    " + strings.ReplaceAll(l, "\n", "\n    ") + "\n")
	}
	return b.String()
}

// global builds a file with the global lines given and a valid app.
func global(lines ...string) string {
	return "allow_inline_secrets: true\n" + strings.Join(lines, "\n") + "\napps:\n  shop:\n" + appLines()
}
