package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/push"
	"github.com/wxgate/wxgate/wechatsim"
	"github.com/wxgate/wxgate/wxcrypt"
)

// runCLI runs a fresh command with args and returns its output.
func runCLI(t *testing.T, cmd *cobra.Command, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetIn(strings.NewReader(stdin))
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// devServer makes development credentials in a temporary state directory,
// as `wxgate serve` does, and serves the core SDK's handler with them on a
// loopback listener. Text is transferred to customer service and xpay
// events are acknowledged.
func devServer(t *testing.T) (url, stateDir string, creds devCredentials) {
	t.Helper()
	stateDir = t.TempDir()
	creds, created, err := loadOrCreateDevCredentials(stateDir)
	if err != nil || !created {
		t.Fatal(err)
	}
	r := push.NewRouter()
	push.On(r, func(context.Context, *message.Text) (message.Reply, error) {
		return message.TransferCustomerService(), nil
	})
	r.HandleEvent("xpay_*", func(context.Context, *push.Request) (message.Reply, error) { return message.XPayOK, nil })
	// Plaintext is allowed so that every mode can be pushed.
	h, err := push.NewHandler(push.Config{AppID: creds.AppID, Token: creds.Token, AESKeys: []string{creds.AESKey},
		AllowPlaintext: true, Logger: slog.New(slog.DiscardHandler)}, r)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/wechat", stateDir, creds
}

// noSecrets fails when s shows the token or the key.
func noSecrets(t *testing.T, creds devCredentials, outputs ...string) {
	t.Helper()
	for _, s := range outputs {
		if strings.Contains(s, creds.Token) || strings.Contains(s, creds.AESKey) {
			t.Fatalf("output shows a secret:\n%s", s)
		}
	}
}

// TestPushEveryCombination: the SDK handler passes verify and every push
// short form in every mode and format, with credentials read from the
// state directory (no --token).
func TestPushEveryCombination(t *testing.T) {
	url, stateDir, creds := devServer(t)
	out, errOut, err := runCLI(t, newVerifyCmd(), "", "--url", url, "--state-dir", stateDir)
	if err != nil || !strings.Contains(out, "PASS") || !strings.Contains(errOut, "development credentials") {
		t.Fatalf("verify: %v\n%s%s", err, out, errOut)
	}
	noSecrets(t, creds, out, errOut)

	forms := [][]string{
		{"text", "hello"},
		{"image", "--media-id", "MEDIA1"},
		{"card", "--title", "订单", "--page-path", "pages/order/detail?id=7"},
		{"enter", "--session-from", "faq"},
		{"event", "subscribe_msg_popup_event", "--field", "List.SubscribeStatusString=reject"},
		{"event", "xpay_goods_deliver_notify", "--field", "GoodsInfo.Quantity=2"},
	}
	dir := t.TempDir()
	for _, mode := range []string{"plain", "compat", "safe"} {
		for _, format := range []string{"xml", "json"} {
			for _, form := range forms {
				args := append(append([]string{}, form...), "--url", url, "--state-dir", stateDir, "--mode", mode, "--format", format)
				out, errOut, err := runCLI(t, newPushCmd(), "", args...)
				if err != nil || !strings.Contains(out, "ACCEPTED") {
					t.Fatalf("%v: %v\n%s%s", args, err, out, errOut)
				}
				if want := "(" + mode + ", " + format; !strings.Contains(out, want) {
					t.Fatalf("%v: output lacks %q:\n%s", args, want, out)
				}
				noSecrets(t, creds, out, errOut)
			}
			// The raw form, from a file.
			body := `<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[oRaw]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[raw]]></Content><MsgId>` + mode + `1</MsgId></xml>`
			if format == "json" {
				body = `{"ToUserName":"gh_x","FromUserName":"oRaw","CreateTime":1,"MsgType":"text","Content":"raw","MsgId":"` + mode + `2"}`
			}
			file := filepath.Join(dir, mode+"."+format)
			os.WriteFile(file, []byte(body), 0o600)
			// CreateTime 1 is outside the replay window, but the timestamp
			// that counts is the query's.
			out, errOut, err := runCLI(t, newPushCmd(), "", "--body", file, "--url", url, "--state-dir", stateDir, "--mode", mode)
			if err != nil || !strings.Contains(out, "ACCEPTED (reply)") {
				t.Fatalf("raw %s %s: %v\n%s%s", mode, format, err, out, errOut)
			}
		}
	}
	// The credentials file is only read.
	if _, err := os.Stat(filepath.Join(stateDir, "credentials.json")); err != nil {
		t.Fatal(err)
	}
}

func TestPushCountSummary(t *testing.T) {
	url, stateDir, _ := devServer(t)
	out, _, err := runCLI(t, newPushCmd(), "", "event", "user_info_modified", "--url", url, "--state-dir", stateDir,
		"--count", "40", "--concurrency", "4")
	if err != nil || !strings.Contains(out, "sent 40 pushes") || !strings.Contains(out, "40 accepted, 0 failed") || !strings.Contains(out, "p99") {
		t.Fatalf("%v\n%s", err, out)
	}
}

// brokenServer serves h on a loopback listener.
func brokenServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/wechat"
}

func TestPushDiagnoses(t *testing.T) {
	const token, key, appid = "mytoken123", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx0123456789abcdef"
	creds := []string{"--token", token, "--aes-key", key, "--appid", appid}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := "http://" + ln.Addr().String() + "/wechat"
	ln.Close()
	cases := []struct {
		name string
		url  string
		args []string
		want []string
	}{
		{"slow", brokenServer(t, func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
		}), []string{"text", "hi", "--timeout", "100ms", "--deliveries", "2"},
			[]string{"delivery 2: no answer", "FAILED (timeout)", "all 2 deliveries", wechatsim.FailurePrompt}},
		{"refused", refused, []string{"text", "hi"}, []string{"FAILED (connection_refused)", "delivery 3"}},
		{"500", brokenServer(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "oops", 500) }),
			[]string{"image"}, []string{"HTTP 500", "FAILED (http_status)"}},
		{"plaintext reply in safe mode", brokenServer(t, func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `<xml><MsgType><![CDATA[transfer_customer_service]]></MsgType></xml>`)
		}), []string{"text", "hi", "--mode", "safe"}, []string{"FAILED (plaintext_reply)", "not encrypted"}},
		{"wrong format", brokenServer(t, func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"ErrCode":0,"ErrMsg":"success"}`)
		}), []string{"event", "xpay_coin_pay_notify", "--mode", "plain", "--deliveries", "1"}, // xpay redeliveries wait 15 s
			[]string{"FAILED (wrong_format)", "JSON to a push in XML"}},
		{"success with newline", brokenServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "success\n") }),
			[]string{"enter"}, []string{"FAILED (malformed_reply)", "no newline"}},
		{"count with failures", brokenServer(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 503) }),
			[]string{"text", "--count", "5", "--concurrency", "2", "--deliveries", "1"},
			[]string{"5 failed", "http_status", "HTTP 503", wechatsim.FailurePrompt}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append(append([]string{}, tc.args...), "--url", tc.url), creds...)
			out, errOut, err := runCLI(t, newPushCmd(), "", args...)
			var pf errPushFailed
			if !errors.As(err, &pf) {
				t.Fatalf("err %v\n%s%s", err, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Fatalf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out+errOut+err.Error(), token) || strings.Contains(out+errOut, key) {
				t.Fatal("output shows a secret")
			}
		})
	}
}

func TestVerifyDiagnosis(t *testing.T) {
	const token = "mytoken123"
	u := brokenServer(t, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if !wxcrypt.VerifySignature(q.Get("signature"), token, q.Get("timestamp"), q.Get("nonce")) {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		io.WriteString(w, q.Get("echostr")+"\n")
	})
	out, _, err := runCLI(t, newVerifyCmd(), "", "--url", u, "--token", token)
	if err == nil || !strings.Contains(out, "FAIL (echostr_whitespace)") || !strings.Contains(out, "trailing newline") {
		t.Fatalf("%v\n%s", err, out)
	}
	// The token from the environment.
	t.Setenv("WXGATE_TOKEN", "wrongtoken1")
	out, _, err = runCLI(t, newVerifyCmd(), "", "--url", u)
	if err == nil || !strings.Contains(out, "HTTP 403") || !strings.Contains(out, "Token differs") {
		t.Fatalf("%v\n%s", err, out)
	}
}

func TestPushUsageErrors(t *testing.T) {
	url, stateDir, _ := devServer(t)
	empty := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--url", url, "--state-dir", stateDir}, "say what to push"},
		{[]string{"text", "--url", url, "--state-dir", empty}, "wxgate serve"},
		{[]string{"text", "--url", url, "--state-dir", stateDir, "--field", "novalue"}, "NAME=VALUE"},
		{[]string{"text", "--url", url, "--state-dir", stateDir, "--mode", "secure"}, `--mode / WXGATE_PUSH_MODE: "secure" is not plain, compat or safe`},
		{[]string{"text", "--url", url, "--state-dir", stateDir, "--format", "yaml"}, `--format / WXGATE_PUSH_FORMAT: "yaml" is not xml or json`},
		{[]string{"text", "--url", url, "--state-dir", stateDir, "--count", "0"}, "--count / WXGATE_PUSH_COUNT: must be at least 1"},
		{[]string{"text", "--url", "ftp://x", "--state-dir", stateDir}, "not an http"},
		{[]string{"event", "bad name", "--url", url, "--state-dir", stateDir}, "not a msgtype or event name"},
		{[]string{"--body", "-", "--format", "xml", "--url", url, "--state-dir", stateDir}, "holds json"},
		{[]string{"--body", "-", "--field", "a=b", "--url", url, "--state-dir", stateDir}, "does not apply"},
	}
	for _, tc := range cases {
		out, errOut, err := runCLI(t, newPushCmd(), `{"MsgType":"text"}`, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q\n%s%s", tc.args, err, tc.want, out, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(empty, "credentials.json")); !os.IsNotExist(err) {
		t.Fatal("push created credentials")
	}
}

func TestPushHelpAndEventList(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"text", "--help"}, {"event", "--help"}} {
		out, _, err := runCLI(t, newPushCmd(), "", args...)
		if err != nil || !strings.Contains(out, "Examples:") {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	out, _, err := runCLI(t, newVerifyCmd(), "", "--help")
	if err != nil || !strings.Contains(out, "Examples:") || !strings.Contains(out, "echostr") {
		t.Fatalf("%v\n%s", err, out)
	}
	out, _, err = runCLI(t, newPushCmd(), "", "event")
	if err != nil || !strings.Contains(out, "xpay_goods_deliver_notify") || strings.Contains(out, "  text\n") {
		t.Fatalf("%v\n%s", err, out)
	}
}

// TestResolveTakesCurrentKey: WXGATE_AES_KEY may list the server's keys,
// current first; pushes are sealed with the current one.
func TestResolveTakesCurrentKey(t *testing.T) {
	o := targetOptions{token: "mytoken123", aesKey: " KEYNEW , KEYOLD", timeout: time.Second}
	if err := o.resolve(io.Discard); err != nil || o.aesKey != "KEYNEW" {
		t.Fatalf("%v: key %q", err, o.aesKey)
	}
}

// TestPushRawWithoutHeader: a --body without MsgType or FromUserName still
// prints a readable first line.
func TestPushRawWithoutHeader(t *testing.T) {
	url, stateDir, _ := devServer(t)
	out, errOut, err := runCLI(t, newPushCmd(), `<xml><ToUserName><![CDATA[gh_x]]></ToUserName></xml>`,
		"--body", "-", "--url", url, "--state-dir", stateDir, "--mode", "compat")
	if err != nil || !strings.Contains(out, "push message from no FromUserName to ") {
		t.Fatalf("%v\n%s%s", err, out, errOut)
	}
}
