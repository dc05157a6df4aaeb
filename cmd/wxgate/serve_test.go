package main

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wxgate/wxgate/gateway/config"
	"github.com/wxgate/wxgate/push"
)

func TestServeReplayWindowFlag(t *testing.T) {
	base := serveOptions{path: "/wechat", token: "AAAAA", mode: "auto", maxBody: 1, maxConns: 1}
	for _, c := range []struct {
		flag time.Duration
		want time.Duration
		bad  string
	}{
		{0, push.DefaultReplayWindow, ""}, // 0 means push's default, as in Go: the check cannot be switched off
		{5 * time.Minute, 5 * time.Minute, ""},
		{-time.Second, 0, "must not be negative"},
		{push.MaxReplayWindow + time.Second, 0, "at most"},
	} {
		o := base
		o.replayWindow = c.flag
		err := o.check()
		if c.bad != "" {
			if err == nil || !strings.HasPrefix(err.Error(), "--replay-window / WXGATE_REPLAY_WINDOW: ") || !strings.Contains(err.Error(), c.bad) {
				t.Errorf("--replay-window %v: err %v", c.flag, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("--replay-window %v: %v", c.flag, err)
		}
		cfg, err := config.FromFlags(o.configFlags(nil))
		if err != nil || cfg.Apps["default"].ReplayWindow != c.want {
			t.Fatalf("--replay-window %v: got %v", c.flag, err)
		}
		// push takes the flag's value: 0 is its default, not "off".
		if _, err := push.NewHandler(cfg.Apps["default"].PushConfig(), nil); err != nil {
			t.Errorf("--replay-window %v: push refused the config: %v", c.flag, err)
		}
	}
}

// TestServeFlagErrors: a bad flag fails with an error that names the flag
// and its variable, never repeats a secret, and fails before development
// credentials are made.
func TestServeFlagErrors(t *testing.T) {
	const secretish = "0123456789abcdef0123456789abcdef" // an AppSecret pasted into the wrong flag
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--mode", "secure"}, `--mode / WXGATE_MODE: "secure" is not auto, plain, compat or safe`},
		{[]string{"--appid", secretish}, `--appid / WXGATE_APPID: must be "wx" and 16 lowercase hexadecimal characters`},
		{[]string{"--appid", "wx0123456789ABCDEF"}, "--appid / WXGATE_APPID: "},
		{[]string{"--appid", "wx0123"}, "--appid / WXGATE_APPID: "},
		{[]string{"--token", "a-b"}, "--token / WXGATE_TOKEN: must be 3 to 32 letters and digits (got 3 characters)"},
		{[]string{"--token", "abcde", "--aes-key", secretish}, "--aes-key / WXGATE_AES_KEY: must be the console's EncodingAESKey"},
		{[]string{"--replay-window", "-1s"}, "--replay-window / WXGATE_REPLAY_WINDOW: must not be negative"},
		{[]string{"--max-conns", "0"}, "--max-conns / WXGATE_MAX_CONNS: must be at least 1"},
		{[]string{"--max-body", "0"}, "--max-body / WXGATE_MAX_BODY: "},
		{[]string{"--path", "wechat"}, "--path / WXGATE_PATH: "},
		{[]string{"--log-level", "loud"}, "--log-level / WXGATE_LOG_LEVEL: "},
		{[]string{"--log-format", "xml"}, "--log-format / WXGATE_LOG_FORMAT: "},
		{[]string{"--mode", "safe", "--allow-plaintext"}, "--allow-plaintext / WXGATE_ALLOW_PLAINTEXT: has no effect in mode safe"},
		{[]string{"--debug-addr", "0.0.0.0:0"}, "--debug-addr / WXGATE_DEBUG_ADDR: 0.0.0.0:0 is not a loopback address"},
		{[]string{"--debug-addr", "6060"}, "--debug-addr / WXGATE_DEBUG_ADDR: "},
		{[]string{"--token", "abcde", "--mode", "safe"}, "--aes-key / WXGATE_AES_KEY: must be set in mode safe"},
		{[]string{"--token", "abcde", "--aes-key", testKey}, "--appid / WXGATE_APPID: must be set with aes_keys"},
	}
	for _, tc := range cases {
		dir := t.TempDir()
		args := append([]string{"--addr", "127.0.0.1:0", "--state-dir", dir}, tc.args...)
		_, errOut, err := runCLI(t, newServeCmd(), "", args...)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want prefix %q", tc.args, err, tc.want)
			continue
		}
		if !errors.Is(err, errConfig) {
			t.Errorf("%v: %v is not errConfig", tc.args, err)
		}
		if strings.Contains(err.Error()+errOut, secretish) || strings.Contains(err.Error(), testKey) {
			t.Errorf("%v: the error repeats a secret: %v", tc.args, err)
		}
		if _, statErr := os.Stat(credentialsPath(dir)); !os.IsNotExist(statErr) {
			t.Errorf("%v: development credentials were made before the error", tc.args)
		}
	}
	// The environment's variable is named the same way, and its value not
	// repeated.
	t.Setenv("WXGATE_MAX_CONNS", "lots")
	_, _, err := runCLI(t, newServeCmd(), "", "--addr", "127.0.0.1:0", "--state-dir", t.TempDir())
	if err == nil || !strings.HasPrefix(err.Error(), "--max-conns / WXGATE_MAX_CONNS: invalid value") || strings.Contains(err.Error(), "lots") {
		t.Fatalf("env: %v", err)
	}
}

// testKey is a well-formed EncodingAESKey.
const testKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

// TestConfigErrorsNameFlags: the gateway configuration's errors about a
// flag's value name the flag and its variable, not the config field.
func TestConfigErrorsNameFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--token", "abcde", "--webhook", "https://example.com/hook"}, "--webhook-secret / WXGATE_WEBHOOK_SECRET: "},
		{[]string{"--token", "abcde", "--webhook", "ftp://example.com/hook", "--webhook-secret", "0123456789abcdef0"}, "--webhook / WXGATE_WEBHOOK: "},
		{[]string{"--token", "abcde", "--admin-token", "short"}, "--admin-token / WXGATE_ADMIN_TOKEN: "},
		{[]string{"--token", "abcde", "--store", "mysql://x"}, "--store / WXGATE_STORE: "},
	} {
		_, _, err := runCLI(t, newServeCmd(), "", append([]string{"--addr", "127.0.0.1:0", "--state-dir", t.TempDir()}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, errConfig) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "0123456789abcdef0") || strings.Contains(err.Error(), "short")) {
			t.Errorf("%v: a secret in %q", tc.args, err)
		}
	}
}

// TestServeNoCredentialsForPlainMode: --mode plain with no --token uses
// the development Token but not their key, which plain mode refuses.
func TestServeNoCredentialsForPlainMode(t *testing.T) {
	p := startServe(t, "--mode", "plain")
	if !strings.Contains(p.stderr.String(), "mode=plain") {
		t.Fatalf("serve log:\n%s", p.stderr.String())
	}
}

// TestServeBusyPort: a busy port names the flag and the variable.
func TestServeBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().String()
	_, _, err = runCLI(t, newServeCmd(), "", "--addr", busy, "--token", "abcde")
	want := "--addr " + busy + ": address already in use (choose another with --addr or WXGATE_ADDR)"
	if err == nil || err.Error() != want || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("got %v, want %q", err, want)
	}
	_, _, err = runCLI(t, newServeCmd(), "", "--addr", "127.0.0.1:0", "--token", "abcde", "--debug-addr", busy)
	want = "--debug-addr " + busy + ": address already in use (choose another with --debug-addr or WXGATE_DEBUG_ADDR)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	_, _, err = runCLI(t, newMockAPICmd(), "", "--addr", busy)
	want = "--addr " + busy + ": address already in use (choose another with --addr or WXGATE_MOCKAPI_ADDR)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

func TestDebugListenAddr(t *testing.T) {
	cases := []struct {
		addr    string
		public  bool
		listen  string
		exposed bool
		bad     bool
	}{
		{":6060", false, "127.0.0.1:6060", false, false},
		{":6060", true, ":6060", true, false},
		{"127.0.0.1:6060", false, "127.0.0.1:6060", false, false},
		{"127.0.0.2:6060", false, "127.0.0.2:6060", false, false},
		{"[::1]:6060", false, "[::1]:6060", false, false},
		{"localhost:6060", false, "localhost:6060", false, false},
		{"0.0.0.0:6060", false, "", false, true},
		{"[::]:6060", false, "", false, true},
		{"10.1.2.3:6060", false, "", false, true},
		{"debug.example.com:6060", false, "", false, true},
		{"0.0.0.0:6060", true, "0.0.0.0:6060", true, false},
		{"6060", false, "", false, true},
	}
	for _, c := range cases {
		listen, exposed, err := debugListenAddr(c.addr, c.public)
		if c.bad {
			if err == nil || !strings.Contains(err.Error(), "--debug-addr / WXGATE_DEBUG_ADDR") {
				t.Errorf("%q public=%v: err %v", c.addr, c.public, err)
			}
			continue
		}
		if err != nil || listen != c.listen || exposed != c.exposed {
			t.Errorf("%q public=%v: got %q %v %v, want %q %v", c.addr, c.public, listen, exposed, err, c.listen, c.exposed)
		}
	}
}

func TestRedactedCmdline(t *testing.T) {
	cmd := newServeCmd()
	if err := cmd.ParseFlags([]string{"--token", "tok3nvalue", "--aes-key=" + testKey, "--addr", ":9", "--appid", "wx0123456789abcdef"}); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(redactedCmdline(cmd), " ")
	want := "serve --addr=:9 --aes-key=REDACTED --appid=wx0123456789abcdef --token=REDACTED"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestServeDevCredentialsState: the development credentials file is made
// on a good run, in the state directory.
func TestServeDevCredentialsState(t *testing.T) {
	p := startServe(t)
	if _, err := os.Stat(filepath.Join(p.stateDir, "credentials.json")); err != nil {
		t.Fatal(err)
	}
}

func TestVersionText(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/wxgate/wxgate", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "4936d295d7eadee6ebb6ba6ca701eeeb95599e21"},
			{Key: "vcs.time", Value: "2026-11-29T17:35:19Z"},
			{Key: "vcs.modified", Value: "true"},
		}}
	got := versionText(info, true)
	for _, want := range []string{"wxgate v1.2.3\n", "commit      4936d295d7eadee6ebb6ba6ca701eeeb95599e21 (with uncommitted changes)\n",
		"commit time 2026-11-29T17:35:19Z\n", "go          go1.26.8 " + runtime.GOOS + "/" + runtime.GOARCH + "\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("version lacks %q:\n%s", want, got)
		}
	}
	got = versionText(nil, false)
	if got != "wxgate (unknown)\ngo          "+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+"\n" {
		t.Errorf("no build info:\n%s", got)
	}
}

func TestVersionFlag(t *testing.T) {
	defer func() {
		rootCmd.SetArgs(nil)
		rootCmd.SetOut(nil)
		rootCmd.SetErr(nil)
		rootCmd.SetIn(nil)
	}()
	out, _, err := runCLI(t, rootCmd, "", "--version")
	if err != nil || !strings.HasPrefix(out, "wxgate ") || !strings.Contains(out, runtime.Version()) {
		t.Fatalf("%v\n%s", err, out)
	}
}
