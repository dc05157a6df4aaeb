package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/wxgate/wxgate/wechatsim"
)

// devProcess is a wxgate dev started in the test, as `go run` would.
type devProcess struct {
	*devRuntime
	banner string
	logs   *lockedBuffer
	cancel context.CancelFunc
	done   chan error
}

// startTestDev starts wxgate dev on 127.0.0.1:0 with stateDir.
func startTestDev(t *testing.T, stateDir string, mutate ...func(*devOptions)) *devProcess {
	t.Helper()
	o := &devOptions{addr: "127.0.0.1:0", mode: "auto", format: "xml", stateDir: stateDir, logLevel: "debug"}
	for _, m := range mutate {
		m(o)
	}
	if err := o.check(); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	d, err := startDev(ctx, o, logger)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var banner bytes.Buffer
	d.printBanner(&banner)
	p := &devProcess{devRuntime: d, banner: banner.String(), logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- d.wait(ctx) }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop ends the process and checks it shut down cleanly.
func (p *devProcess) stop(t *testing.T) {
	t.Helper()
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("wxgate dev ended with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("wxgate dev did not shut down")
	}
}

// send types text as the first user through the console.
func (p *devProcess) send(t *testing.T, text string) string {
	t.Helper()
	u := p.world.Users()[0].OpenID
	req, _ := http.NewRequest(http.MethodPost, p.baseURL+"/chat/send", strings.NewReader(url.Values{"user": {u}, "text": {text}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /chat/send: %d %s", resp.StatusCode, b)
	}
	return u
}

// waitSent waits until the mock sent openid a message containing text.
func (p *devProcess) waitSent(t *testing.T, openid, text string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		for _, e := range p.world.Transcript(openid) {
			if e.Direction == wechatsim.DirectionToUser && strings.Contains(string(e.Body), text) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message with %q reached the user; the log:\n%s", text, p.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDevStartsWithNothingConfigured: in an empty directory, wxgate dev
// makes its credentials, prints them with the URLs, serves the console,
// the push URL and the /v1/ API, answers a keyword, and starts again on
// the same state.
func TestDevStartsWithNothingConfigured(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".wxgate")
	p := startTestDev(t, dir)
	creds, _, err := loadOrCreateDevCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"wxgate dev: the console is at " + p.baseURL + "/", "Push URL        " + p.baseURL + "/wechat",
		"Token           " + creds.Token, "EncodingAESKey  " + creds.AESKey, "AppID           " + creds.AppID,
		filepath.Join(dir, "dev.json"), filepath.Join(dir, "dev.db"), "Press Ctrl+C to stop.",
	} {
		if !strings.Contains(p.banner, want) {
			t.Errorf("the banner lacks %q:\n%s", want, p.banner)
		}
	}
	for path, mode := range map[string]os.FileMode{filepath.Join(dir, "dev.json"): 0o600, filepath.Join(dir, "credentials.json"): 0o600} {
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: %v, mode %v; want %v", path, err, st.Mode().Perm(), mode)
		}
	}
	resp, err := http.Get(p.baseURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `id="composer"`) {
		t.Fatalf("GET /: %d, no chat", resp.StatusCode)
	}
	u := p.send(t, "价格")
	p.waitSent(t, u, "Our prices")

	// The /v1/ API answers with the token in dev.json.
	var secrets devSecrets
	b, _ := os.ReadFile(filepath.Join(dir, "dev.json"))
	if err := json.Unmarshal(b, &secrets); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, p.baseURL+"/v1/messages?limit=5", nil)
	req.Header.Set("Authorization", "Bearer "+secrets.AdminToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"msg_type":"text"`) {
		t.Fatalf("GET /v1/messages: %d %s", resp.StatusCode, b)
	}
	// No secret in the log, at debug level.
	for name, v := range map[string]string{"token": creds.Token, "aes key": creds.AESKey, "admin token": secrets.AdminToken,
		"app secret": secrets.AppSecret, "webhook secret": secrets.WebhookSecret} {
		if strings.Contains(p.logs.String(), v) {
			t.Errorf("the log holds the %s", name)
		}
	}
	p.stop(t)

	// Again on the same state: same credentials, and the access token the
	// store kept (which the new mock does not know) is replaced.
	q := startTestDev(t, dir)
	if !strings.Contains(q.banner, "Token           "+creds.Token) {
		t.Error("a second start made new credentials")
	}
	u = q.send(t, "图片")
	q.waitSent(t, u, `"msgtype":"miniprogrampage"`)
}

// TestDevModeAndFormatFlags: --mode and --format set how the emulator
// pushes at first.
func TestDevModeAndFormatFlags(t *testing.T) {
	p := startTestDev(t, t.TempDir(), func(o *devOptions) { o.mode, o.format = "compat", "json" })
	p.send(t, "hello")
	resp, err := http.Get(p.baseURL + "/wire/1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "Compatible mode · JSON") || !strings.Contains(string(b), `class="verdict ok"`) {
		t.Error("the push was not an accepted compat-mode JSON push")
	}
}

// TestDevWithConfigFile: --config runs the console in front of the file's
// apps and rules, with WeChat emulated: the file's Open API URL and store
// are not used, and its secrets are never printed.
func TestDevWithConfigFile(t *testing.T) {
	dir := t.TempDir()
	const token, key, secret = "cfgToken123", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "0123456789abcdef0123456789abcdef"
	cfg := `allow_inline_secrets: true
store: postgres://nobody@192.0.2.1:1/none
openapi_url: https://api.weixin.qq.com
apps:
  shop:
    appid: wx00112233445566ff
    token: ` + token + `
    aes_keys: ["` + key + `"]
    secret: ` + secret + `
    rules:
      rules:
        - name: hi
          match: {keyword: hi}
          reply: hello from the file
`
	file := filepath.Join(dir, "wxgate.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startTestDev(t, filepath.Join(dir, "state"), func(o *devOptions) { o.configFile = file })
	for _, s := range []string{token, key, secret} {
		if strings.Contains(p.banner, s) {
			t.Errorf("the banner prints a secret of the file:\n%s", p.banner)
		}
	}
	if !strings.Contains(p.banner, p.baseURL+"/wechat/shop") || !strings.Contains(p.banner, "not printed") {
		t.Errorf("the banner does not show the file's app:\n%s", p.banner)
	}
	u := p.send(t, "hi")
	p.waitSent(t, u, "hello from the file")
	if _, err := os.Stat(filepath.Join(dir, "state", "dev.db")); err != nil {
		t.Errorf("the store is not dev.db in the state directory: %v", err)
	}
	resp, err := http.Get(p.baseURL + "/settings")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(b), token) || strings.Contains(string(b), key) {
		t.Error("Settings shows the file's secrets")
	}
}

// TestDevFlagErrors: bad flags name the flag; a busy port says so.
func TestDevFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		o    devOptions
		want string
	}{
		{devOptions{mode: "aes256", format: "xml", stateDir: "x"}, "--mode / WXGATE_DEV_MODE"},
		{devOptions{mode: "safe", format: "yaml", stateDir: "x"}, "--format / WXGATE_DEV_FORMAT"},
		{devOptions{mode: "safe", format: "xml"}, "--state-dir / WXGATE_STATE_DIR"},
	} {
		o := tc.o
		if err := o.check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %s", tc.o, err, tc.want)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	o := &devOptions{addr: ln.Addr().String(), mode: "safe", format: "xml", stateDir: t.TempDir(), logLevel: "info"}
	err = runDev(context.Background(), io.Discard, io.Discard, o)
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "choose another with --addr or WXGATE_DEV_ADDR") {
		t.Errorf("busy port: %v", err)
	}
}

// TestDevCommandHelp: the command is registered, reads its own variables
// and says what it does.
func TestDevCommandHelp(t *testing.T) {
	cmd := newDevCmd()
	vars := envVars(cmd)
	for _, want := range []string{"WXGATE_DEV_ADDR", "WXGATE_DEV_CONFIG", "WXGATE_DEV_MODE", "WXGATE_DEV_FORMAT", "WXGATE_STATE_DIR", "WXGATE_DEV_LOG_LEVEL"} {
		found := false
		for _, v := range vars {
			found = found || v == want
		}
		if !found {
			t.Errorf("dev does not read %s (reads %v)", want, vars)
		}
	}
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--help"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "http://127.0.0.1:8080/") || !strings.Contains(out.String(), "--config") {
		t.Errorf("help: %s", out.String())
	}
}

// TestDevConsoleDoc: docs/dev-console.md lists every flag of wxgate dev
// with its variable and default, and its images exist.
func TestDevConsoleDoc(t *testing.T) {
	doc := readRepoFile(t, "docs/dev-console.md")
	newDevCmd().Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" {
			return
		}
		row := "| `--" + f.Name + "` | `" + flagEnv(f) + "` | "
		i := strings.Index(doc, row)
		if i < 0 {
			t.Errorf("the flag table lacks %q", row)
			return
		}
		line, _, _ := strings.Cut(doc[i+len(row):], "\n")
		if def := f.DefValue; def != "" && !strings.HasPrefix(line, "`"+def+"` |") {
			t.Errorf("--%s: the documented default is not %q: %q", f.Name, def, line)
		}
	})
	for _, m := range regexp.MustCompile(`\]\((img/[^)]+)\)`).FindAllStringSubmatch(doc, -1) {
		if _, err := os.Stat(filepath.Join("../../docs", m[1])); err != nil {
			t.Errorf("docs/dev-console.md shows %s: %v", m[1], err)
		}
	}
}

// TestDevConfigPlaintextApp: an app that takes plaintext only (no key, no
// AppID) is pushed plaintext, and its pushes are accepted.
func TestDevConfigPlaintextApp(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "wxgate.yaml")
	cfg := "allow_inline_secrets: true\napps:\n  default:\n    token: plainToken1\n    mode: plain\n"
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startTestDev(t, filepath.Join(dir, "state"), func(o *devOptions) { o.configFile = file })
	p.send(t, "hi")
	resp, err := http.Get(p.baseURL + "/wire/1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "Plaintext mode · XML") || !strings.Contains(string(b), `class="verdict ok"`) {
		t.Error("the push was not an accepted plaintext push")
	}
}
