package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary files to the loader: it must never panic, and
// neither an error nor a loaded configuration may show a secret of the
// environment.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(app("destinations: [{name: a, webhook: {url: 'https://x', secret: ${HOOK_SECRET}}}]")))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("apps: {x: {<<: [*y]}}\n"))
	env := append([]string{"WXGATE_APPS_SHOP_AES_KEYS=" + key1}, fullEnv...)
	env = append(env, baseEnv...)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("testdata/fuzz.yaml", data, WithEnviron(env))
		secrets := []string{shopToken, adminToken, webhookSec, appSecret, key1, key2}
		if err != nil {
			if c != nil {
				t.Fatal("a Config with an error")
			}
			msg := err.Error()
			for _, s := range secrets {
				// The file may quote a secret in a key or a non-secret
				// field; only a secret that the file does not hold counts.
				if strings.Contains(msg, s) && !strings.Contains(string(data), s) {
					t.Fatalf("error shows a secret of the environment: %s", msg)
				}
			}
			return
		}
		out := c.Redacted()
		for _, s := range secrets {
			if strings.Contains(out, s) && !strings.Contains(string(data), s) {
				t.Fatalf("Redacted shows a secret:\n%s", out)
			}
		}
	})
}
