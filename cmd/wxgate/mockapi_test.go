package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxgate/wxgate/wechatsim"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startMockAPI runs `wxgate mockapi` with args on a free port and returns
// its base URL, its stdout, its stderr and a stop function.
func startMockAPI(t *testing.T, args ...string) (base string, stdout, stderr *syncBuffer, stop func() error) {
	t.Helper()
	return startMockAPIArgs(t, append([]string{"--addr", "127.0.0.1:0"}, args...)...)
}

// startMockAPIArgs is startMockAPI without the --addr flag.
func startMockAPIArgs(t *testing.T, args ...string) (base string, stdout, stderr *syncBuffer, stop func() error) {
	t.Helper()
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	cmd := newMockAPICmd()
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	re := regexp.MustCompile(`mock WeChat Open API at (http://\S+)`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
			break
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("mockapi exited early: %v; stderr %s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("mockapi did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return base, stdout, stderr, func() error {
		cancel()
		return <-done
	}
}

func getJSON(t *testing.T, u string) map[string]any {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func postJSON(t *testing.T, u, body string) map[string]any {
	t.Helper()
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMockAPICommandServesAndRedacts(t *testing.T) {
	const appID, secret = "wx0123456789abcdef", "cli-test-secret-value"
	base, stdout, stderr, stop := startMockAPI(t, "--appid", appID, "--secret", secret, "--users", "2", "--open-window")
	out := stdout.String()
	for _, want := range []string{appID, wechatsim.DefaultOriginalID, "base URL"} {
		if !strings.Contains(out, want) {
			t.Fatalf("banner lacks %q:\n%s", want, out)
		}
	}
	// A secret given on the command line may be a real one: never shown.
	if strings.Contains(out, secret) {
		t.Fatalf("banner shows the given secret:\n%s", out)
	}
	users := regexp.MustCompile(`user\s+(o\S{27})`).FindAllStringSubmatch(out, -1)
	if len(users) != 2 {
		t.Fatalf("banner users: %v\n%s", users, out)
	}
	openid := users[0][1]

	q := url.Values{"grant_type": {"client_credential"}, "appid": {appID}, "secret": {secret}}
	tok, _ := getJSON(t, base+"/cgi-bin/token?"+q.Encode())["access_token"].(string)
	if tok == "" {
		t.Fatal("no token")
	}
	sent := postJSON(t, base+"/cgi-bin/message/custom/send?access_token="+tok,
		fmt.Sprintf(`{"touser":%q,"msgtype":"text","text":{"content":"hi"}}`, openid))
	if sent["errcode"].(float64) != 0 {
		t.Fatalf("send: %v", sent)
	}
	msgs := getJSON(t, base+"/_sim/messages?openid="+openid)["messages"].([]any)
	if len(msgs) != 1 {
		t.Fatalf("messages %v", msgs)
	}
	// The system clock cannot be moved.
	resp, err := http.Post(base+"/_sim/clock", "application/json", strings.NewReader(`{"advance":"1h"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("clock: %d", resp.StatusCode)
	}

	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	logs := stderr.String()
	if !strings.Contains(logs, "/cgi-bin/message/custom/send") || !strings.Contains(logs, "access_token=REDACTED") {
		t.Fatalf("request not logged as expected:\n%s", logs)
	}
	if strings.Contains(logs, tok) || strings.Contains(logs, tok[:20]) || strings.Contains(logs, secret) {
		t.Fatalf("logs leak a token or the secret:\n%s", logs)
	}
}

func TestMockAPICommandDefaults(t *testing.T) {
	base, stdout, _, stop := startMockAPI(t)
	defer stop()
	out := stdout.String()
	if !strings.Contains(out, wechatsim.DefaultAppID) || !strings.Contains(out, "/_sim/window") {
		t.Fatalf("banner:\n%s", out)
	}
	// Without --open-window the user's window is closed until opened over HTTP.
	users := getJSON(t, base+"/_sim/users")["users"].([]any)
	if len(users) != 1 {
		t.Fatalf("users %v", users)
	}
	openid := users[0].(map[string]any)["openid"].(string)
	q := url.Values{"grant_type": {"client_credential"}, "appid": {wechatsim.DefaultAppID}, "secret": {wechatsim.DefaultSecret}}
	tok := getJSON(t, base+"/cgi-bin/token?"+q.Encode())["access_token"].(string)
	send := func() float64 {
		return postJSON(t, base+"/cgi-bin/message/custom/send?access_token="+tok,
			fmt.Sprintf(`{"touser":%q,"msgtype":"text","text":{"content":"hi"}}`, openid))["errcode"].(float64)
	}
	if c := send(); c != wechatsim.ErrCodeOutOfTime {
		t.Fatalf("closed window: %v", c)
	}
	postJSON(t, base+"/_sim/window", fmt.Sprintf(`{"openid":%q,"event":"user_message"}`, openid))
	if c := send(); c != 0 {
		t.Fatalf("open window: %v", c)
	}
}

func TestMockAPICommandFlagErrors(t *testing.T) {
	cases := [][]string{
		{"--appid", ""},
		{"--secret", ""},
		{"--users", "-1"},
		{"--token-quota", "0"},
		{"--log-level", "loud"},
		{"--log-format", "xml"},
		{"--addr", "256.0.0.1:99999"},
		{"extra-arg"},
	}
	for _, args := range cases {
		cmd := newMockAPICmd()
		cmd.SetArgs(append([]string{"--addr", "127.0.0.1:0"}, args...))
		cmd.SetOut(&syncBuffer{})
		cmd.SetErr(&syncBuffer{})
		if err := cmd.Execute(); err == nil {
			t.Fatalf("%v: expected an error", args)
		}
	}
}

func TestMockAPICommandEnv(t *testing.T) {
	t.Setenv("WXGATE_MOCKAPI_SECRET", "from-env-secret")
	base, stdout, _, stop := startMockAPI(t)
	defer stop()
	if strings.Contains(stdout.String(), "from-env-secret") {
		t.Fatalf("banner shows the secret from the environment:\n%s", stdout.String())
	}
	// The environment's secret is the one the mock accepts.
	q := url.Values{"grant_type": {"client_credential"}, "appid": {wechatsim.DefaultAppID}, "secret": {"from-env-secret"}}
	if tok, _ := getJSON(t, base+"/cgi-bin/token?"+q.Encode())["access_token"].(string); tok == "" {
		t.Fatal("env not applied: the mock refused the secret from WXGATE_MOCKAPI_SECRET")
	}
}

// TestMockAPIReadsOnlyItsVariables: serve's WXGATE_ADDR and WXGATE_APPID
// do not reach mockapi, which has WXGATE_MOCKAPI_ADDR and friends.
func TestMockAPIReadsOnlyItsVariables(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	t.Setenv("WXGATE_ADDR", busy.Addr().String()) // serve's port
	t.Setenv("WXGATE_APPID", "wx00000000000000aa")
	t.Setenv("WXGATE_MOCKAPI_ADDR", "127.0.0.1:0")
	base, stdout, _, stop := startMockAPIArgs(t)
	defer stop()
	if strings.Contains(base, busy.Addr().String()) || strings.Contains(stdout.String(), "wx00000000000000aa") {
		t.Fatalf("mockapi read serve's variables:\n%s", stdout.String())
	}
	if !strings.Contains(stdout.String(), wechatsim.DefaultAppID) {
		t.Fatalf("banner:\n%s", stdout.String())
	}
}

func TestMockAPIShowsOnlyTheFakeSecret(t *testing.T) {
	_, stdout, _, stop := startMockAPI(t)
	defer stop()
	if !strings.Contains(stdout.String(), wechatsim.DefaultSecret) {
		t.Fatalf("banner lacks the built-in fake secret:\n%s", stdout.String())
	}
}

func TestMockAPIHelp(t *testing.T) {
	cmd := newMockAPICmd()
	var out syncBuffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--help"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--addr", "--appid", "--secret", "Examples:", "wxgate mockapi --addr 127.0.0.1:9400"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("help lacks %q", want)
		}
	}
}

func TestRedactQuery(t *testing.T) {
	cases := map[string]string{
		"":                                 "",
		"access_token=abc&media_id=m":      "access_token=REDACTED&media_id=m",
		"grant_type=x&appid=wx1&secret=s3": "appid=wx1&grant_type=x&secret=REDACTED",
		"ACCESS_TOKEN=abc":                 "ACCESS_TOKEN=REDACTED",
		"access_token=a&access_token=b":    "access_token=REDACTED&access_token=REDACTED",
		"access_token=%zz":                 "(unparsable query omitted)",
	}
	for in, want := range cases {
		if got := redactQuery(in); got != want {
			t.Errorf("redactQuery(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMockAPIRegistered(t *testing.T) {
	for _, c := range rootCmd.Commands() {
		if c.Name() == "mockapi" {
			return
		}
	}
	t.Fatal("mockapi not added to rootCmd")
}
