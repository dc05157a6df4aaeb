package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wechatsim"
	"github.com/wxgate/wxgate/wxcrypt"
)

// End-to-end tests: `wxgate serve` runs in-process on a loopback port and
// is driven over HTTP, by the emulator (wechatsim) or by hand-made
// requests.

const (
	e2eToken = "e2eToken123"
	e2eAppID = "wx0123456789abcdef"
)

// serveProc is a running `wxgate serve`.
type serveProc struct {
	base     string // http://host:port of the push listener
	debug    string // http://host:port of the pprof listener, if any
	debugIP  string // the host the pprof listener is bound to
	stateDir string
	stderr   *syncBuffer
}

var (
	listeningRE = regexp.MustCompile(`msg="wxgate serve listening" addr=(\S+)`)
	debugRE     = regexp.MustCompile(`msg="debug server listening" addr=(\S+)`)
)

// startServe runs `wxgate serve` with args on a free loopback port, with
// its own state directory, until the test ends.
func startServe(t *testing.T, args ...string) *serveProc {
	t.Helper()
	p := &serveProc{stateDir: t.TempDir(), stderr: &syncBuffer{}}
	cmd := newServeCmd()
	cmd.SetArgs(append([]string{"--addr", "127.0.0.1:0", "--state-dir", p.stateDir}, args...))
	cmd.SetOut(io.Discard)
	cmd.SetErr(p.stderr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		logs := p.stderr.String()
		if m := listeningRE.FindStringSubmatch(logs); m != nil {
			p.base = "http://" + m[1]
			if d := debugRE.FindStringSubmatch(logs); d != nil {
				p.debug = "http://" + d[1]
				p.debugIP, _, _ = net.SplitHostPort(d[1])
			}
			return p
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("serve exited early: %v\n%s", err, logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// exchange sends one request and returns the status, headers and body.
func exchange(t *testing.T, method, u string, body []byte) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// signedQuery is the query WeChat puts on a push or verification URL.
func signedQuery(token string, ts int64, nonce string) url.Values {
	q := url.Values{"timestamp": {strconv.FormatInt(ts, 10)}, "nonce": {nonce}}
	q.Set("signature", wxcrypt.Signature(token, q.Get("timestamp"), nonce))
	return q
}

// textXML is a plaintext text message.
func textXML(openid, content string, msgID int64) []byte {
	return fmt.Appendf(nil, `<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName>`+
		`<CreateTime>%d</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[%s]]></Content><MsgId>%d</MsgId></xml>`,
		openid, time.Now().Unix(), content, msgID)
}

// genuinePush sends one push as WeChat would and returns its outcome,
// which must be accepted.
func genuinePush(t *testing.T, p *serveProc, mode wechatsim.Mode, aesKey string) *wechatsim.Outcome {
	t.Helper()
	c, err := wechatsim.NewClient(wechatsim.ClientConfig{URL: p.base + "/wechat", AppID: e2eAppID, Token: e2eToken,
		AESKey: aesKey, Mode: mode, Deliveries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out, err := c.Push(context.Background(), &message.Text{Content: "genuine"})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Accepted || len(out.Deliveries) != 1 {
		t.Fatalf("genuine %s push not accepted: %s %s\n%s", mode, out.Verdict, out.Reason, p.stderr.String())
	}
	return out
}

// capturedURL is the URL of a delivered push, as a proxy's log would hold
// it: signature, timestamp, nonce, and for encrypted pushes encrypt_type,
// msg_signature and openid.
func capturedURL(p *serveProc, out *wechatsim.Outcome) url.Values {
	d := out.Deliveries[0]
	q := url.Values{"signature": {d.Signature}, "timestamp": {d.Timestamp}, "nonce": {d.Nonce}}
	if d.MsgSignature != "" {
		q.Set("encrypt_type", "aes")
		q.Set("msg_signature", d.MsgSignature)
		q.Set("openid", out.OpenID)
	}
	return q
}

// TestServeRefusesPlaintextWithKey (security a): with an EncodingAESKey
// configured, a genuine push URL cannot carry a plaintext body, whether
// the URL was used already or not; --allow-plaintext lets plaintext in.
func TestServeRefusesPlaintextWithKey(t *testing.T) {
	p := startServe(t, "--token", e2eToken, "--aes-key", testKey, "--appid", e2eAppID)
	out := genuinePush(t, p, wechatsim.ModeSafe, testKey)
	forged := textXML(out.OpenID, "refund everything", 7100000000000000001)

	// The captured URL with a plaintext body of the attacker's choice.
	q := url.Values{"signature": {out.Deliveries[0].Signature}, "timestamp": {out.Deliveries[0].Timestamp}, "nonce": {out.Deliveries[0].Nonce}}
	if st, _, body := exchange(t, http.MethodPost, p.base+"/wechat?"+q.Encode(), forged); st != http.StatusForbidden {
		t.Fatalf("replayed URL with a plaintext body: %d %q", st, body)
	}
	// A genuine URL never delivered (intercepted on the way) is refused
	// too: plaintext is refused as such, not only as a replay.
	fresh := signedQuery(e2eToken, time.Now().Unix(), "1811111111")
	if st, _, body := exchange(t, http.MethodPost, p.base+"/wechat?"+fresh.Encode(), forged); st != http.StatusForbidden {
		t.Fatalf("fresh URL with a plaintext body: %d %q", st, body)
	}

	// --allow-plaintext (e.g. while the console is switched to plaintext).
	pa := startServe(t, "--token", e2eToken, "--aes-key", testKey, "--appid", e2eAppID, "--allow-plaintext")
	fresh = signedQuery(e2eToken, time.Now().Unix(), "1822222222")
	if st, _, body := exchange(t, http.MethodPost, pa.base+"/wechat?"+fresh.Encode(), forged); st != http.StatusOK {
		t.Fatalf("--allow-plaintext: %d %q", st, body)
	}
	// From the environment as well.
	t.Setenv("WXGATE_ALLOW_PLAINTEXT", "true")
	pe := startServe(t, "--token", e2eToken, "--aes-key", testKey, "--appid", e2eAppID)
	fresh = signedQuery(e2eToken, time.Now().Unix(), "1833333333")
	if st, _, body := exchange(t, http.MethodPost, pe.base+"/wechat?"+fresh.Encode(), forged); st != http.StatusOK {
		t.Fatalf("WXGATE_ALLOW_PLAINTEXT: %d %q", st, body)
	}
	for _, s := range []*serveProc{p, pa, pe} {
		if logs := s.stderr.String(); strings.Contains(logs, e2eToken) || strings.Contains(logs, testKey) {
			t.Fatalf("the log shows a secret:\n%s", logs)
		}
	}
}

// TestServeNonceBindsBody (security b): in every mode, the (timestamp,
// nonce) of a delivered push cannot carry another body, even one that is
// otherwise valid; the same body again is WeChat's retry, answered.
func TestServeNonceBindsBody(t *testing.T) {
	key := wxcrypt.MustParseKey(testKey)
	cases := []struct {
		name string
		args []string
		mode wechatsim.Mode
	}{
		{"plain", []string{"--mode", "plain"}, wechatsim.ModePlain},
		{"auto without a key", nil, wechatsim.ModePlain},
		{"auto with a key, plaintext allowed", []string{"--aes-key", testKey, "--appid", e2eAppID, "--allow-plaintext"}, wechatsim.ModePlain},
		{"auto with a key", []string{"--aes-key", testKey, "--appid", e2eAppID}, wechatsim.ModeSafe},
		{"compat", []string{"--mode", "compat", "--aes-key", testKey, "--appid", e2eAppID}, wechatsim.ModeCompat},
		{"safe", []string{"--mode", "safe", "--aes-key", testKey, "--appid", e2eAppID}, wechatsim.ModeSafe},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := startServe(t, append([]string{"--token", e2eToken}, tc.args...)...)
			aesKey := ""
			if tc.mode != wechatsim.ModePlain {
				aesKey = testKey
			}
			out := genuinePush(t, p, tc.mode, aesKey)
			q := capturedURL(p, out)

			// WeChat's retry carries the same body: answered.
			if st, _, body := exchange(t, http.MethodPost, p.base+"/wechat?"+q.Encode(), out.Body); st != http.StatusOK {
				t.Fatalf("same URL, same body: %d %q", st, body)
			}

			// Another body under the same (timestamp, nonce), signed as
			// well as it can be: refused.
			other := textXML(out.OpenID, "another body", 7200000000000000001+int64(i))
			body := other
			if tc.mode != wechatsim.ModePlain {
				enc, err := key.Encrypt(bytes.Repeat([]byte{'r'}, 16), other, e2eAppID)
				if err != nil {
					t.Fatal(err)
				}
				q.Set("msg_signature", wxcrypt.Signature(e2eToken, q.Get("timestamp"), q.Get("nonce"), enc))
				body = fmt.Appendf(nil, `<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><Encrypt><![CDATA[%s]]></Encrypt></xml>`, enc)
			}
			if st, _, resp := exchange(t, http.MethodPost, p.base+"/wechat?"+q.Encode(), body); st != http.StatusForbidden {
				t.Fatalf("same (timestamp, nonce), another body: %d %q", st, resp)
			}
		})
	}
}

// TestServeVerificationWindow (security c): a URL verification outside
// the replay window is refused; --replay-window 0 means the default window,
// not "no check"; the echo is sent with nosniff.
func TestServeVerificationWindow(t *testing.T) {
	get := func(p *serveProc, age time.Duration, nonce string) (int, http.Header, string) {
		q := signedQuery(e2eToken, time.Now().Add(-age).Unix(), nonce)
		q.Set("echostr", "4375120948345356249")
		return exchange(t, http.MethodGet, p.base+"/wechat?"+q.Encode(), nil)
	}
	for _, window := range []string{"", "0"} { // the default, and 0 meaning the default
		args := []string{"--token", e2eToken}
		if window != "" {
			args = append(args, "--replay-window", window)
		}
		p := startServe(t, args...)
		st, hdr, body := get(p, 0, "1")
		if st != http.StatusOK || body != "4375120948345356249" || hdr.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("window %q: fresh verification: %d %q %v", window, st, body, hdr)
		}
		if st, _, body := get(p, 4*time.Minute, "2"); st != http.StatusOK {
			t.Fatalf("window %q: 4 min old: %d %q", window, st, body)
		}
		if st, _, body := get(p, 10*time.Minute, "3"); st != http.StatusForbidden || strings.Contains(body, "4375120948345356249") {
			t.Fatalf("window %q: 10 min old: %d %q", window, st, body)
		}
		if st, _, body := get(p, -10*time.Minute, "4"); st != http.StatusForbidden {
			t.Fatalf("window %q: 10 min ahead: %d %q", window, st, body)
		}
	}
	p := startServe(t, "--token", e2eToken, "--replay-window", "1m")
	if st, _, body := get(p, 2*time.Minute, "5"); st != http.StatusForbidden {
		t.Fatalf("--replay-window 1m, 2 min old: %d %q", st, body)
	}
}

// TestServeDebugCmdline (security d): the pprof server is on loopback for
// a host-less address and its cmdline shows no secret.
func TestServeDebugCmdline(t *testing.T) {
	args := []string{"--token", e2eToken, "--aes-key", testKey, "--appid", e2eAppID, "--debug-addr", ":0"}
	// The process's own command line, as in production (pprof's cmdline
	// shows os.Args).
	saved := os.Args
	os.Args = append([]string{"wxgate", "serve"}, args...)
	defer func() { os.Args = saved }()
	p := startServe(t, args...)
	if p.debug == "" || p.debugIP != "127.0.0.1" {
		t.Fatalf("debug server at %q, want 127.0.0.1:\n%s", p.debug, p.stderr.String())
	}
	st, hdr, body := exchange(t, http.MethodGet, p.debug+"/debug/pprof/cmdline", nil)
	if st != http.StatusOK || strings.Contains(body, e2eToken) || strings.Contains(body, testKey) {
		t.Fatalf("cmdline: %d %q", st, body)
	}
	if !strings.Contains(body, "--token=REDACTED") || !strings.Contains(body, "--appid="+e2eAppID) || hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("cmdline: %q %v", body, hdr)
	}
	if st, _, _ := exchange(t, http.MethodGet, p.debug+"/debug/pprof/", nil); st != http.StatusOK {
		t.Fatalf("pprof index: %d", st)
	}
	// Never on the push port.
	if st, _, _ := exchange(t, http.MethodGet, p.base+"/debug/pprof/cmdline", nil); st != http.StatusNotFound {
		t.Fatalf("pprof on the push port: %d", st)
	}
	// A public address needs --debug-public, and is then logged as a warning.
	pub := startServe(t, "--token", e2eToken, "--debug-addr", "0.0.0.0:0", "--debug-public")
	if !strings.Contains(pub.stderr.String(), "level=WARN") || !strings.Contains(pub.stderr.String(), "reachable from other hosts") {
		t.Fatalf("no warning for a public pprof server:\n%s", pub.stderr.String())
	}
}

// rawConn dials addr and returns the connection, closed when the test ends.
func rawConn(t *testing.T, base string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readStatus reads an HTTP response's status line from c, waiting up to
// wait for it.
func readStatus(c net.Conn, wait time.Duration) (string, error) {
	c.SetReadDeadline(time.Now().Add(wait))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

const healthz = "GET /healthz HTTP/1.1\r\nHost: wxgate\r\n\r\n"

// TestServeMaxConns: past --max-conns, a connection waits (it is not
// refused, and the server stays up) and is served once a slot frees.
func TestServeMaxConns(t *testing.T) {
	p := startServe(t, "--token", e2eToken, "--max-conns", "2")
	// Two connections in the middle of their request headers hold both slots.
	a, b := rawConn(t, p.base), rawConn(t, p.base)
	for _, c := range []net.Conn{a, b} {
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	// A third connects (the kernel queues it) but gets no answer...
	c := rawConn(t, p.base)
	if _, err := io.WriteString(c, healthz); err != nil {
		t.Fatal(err)
	}
	if line, err := readStatus(c, 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a connection past the cap was served: %q %v", line, err)
	}
	// ...until one of the two finishes. Its connection is not kept idle
	// while the cap is reached, so the third is served.
	if _, err := io.WriteString(b, "Host: wxgate\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := readStatus(b, 10*time.Second); line != "HTTP/1.1 200 OK" {
		t.Fatalf("b: %q %v", line, err)
	}
	if line, err := readStatus(c, 10*time.Second); line != "HTTP/1.1 200 OK" {
		t.Fatalf("the waiting connection: %q %v", line, err)
	}
	// The server is still up.
	if st, _, body := exchange(t, http.MethodGet, p.base+"/healthz", nil); st != http.StatusOK {
		t.Fatalf("healthz: %d %q", st, body)
	}
	if !strings.Contains(p.stderr.String(), "max_conns=2") {
		t.Fatalf("the cap is not logged:\n%s", p.stderr.String())
	}
}

// TestServeClosesIdleAtCap: idle keep-alive connections cannot hold the
// slots while new connections wait.
func TestServeClosesIdleAtCap(t *testing.T) {
	p := startServe(t, "--token", e2eToken, "--max-conns", "2")
	idle := rawConn(t, p.base)
	io.WriteString(idle, healthz)
	r := bufio.NewReader(idle)
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("idle: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// idle is now a kept-alive connection. A second one fills the cap...
	busy := rawConn(t, p.base)
	io.WriteString(busy, "GET /healthz HTTP/1.1\r\n")
	// ...so the idle one is closed...
	idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("the idle connection was kept at the cap: %v", err)
	}
	// ...and a third is served at once, not after the idle timeout.
	c := rawConn(t, p.base)
	io.WriteString(c, healthz)
	if line, err := readStatus(c, 10*time.Second); line != "HTTP/1.1 200 OK" {
		t.Fatalf("third: %q %v", line, err)
	}
}
