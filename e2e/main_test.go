package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wxgate/wxgate/wxcrypt"
)

// wxgateBin is the wxgate binary TestMain builds.
var wxgateBin string

func TestMain(m *testing.M) { os.Exit(buildAndRun(m)) }

// buildAndRun builds ./cmd/wxgate once into a temporary directory, runs the
// tests and removes the directory. WXGATE_E2E_BINARY names a binary to test
// instead (a release build, say).
func buildAndRun(m *testing.M) int {
	if bin := os.Getenv("WXGATE_E2E_BINARY"); bin != "" {
		wxgateBin = bin
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "wxgate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := filepath.Abs("..")
	if err == nil {
		_, err = os.Stat(filepath.Join(root, "go.mod"))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: the module root (..) has no go.mod:", err)
		return 1
	}
	wxgateBin = filepath.Join(dir, "wxgate")
	build := exec.Command("go", "build", "-o", wxgateBin, "./cmd/wxgate")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/wxgate: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// Bounds of every wait, so that a broken gateway fails a test instead of
// hanging it.
const (
	startTimeout = 20 * time.Second
	stopTimeout  = 20 * time.Second
	pollEvery    = 25 * time.Millisecond
)

// randHex returns n random bytes in hex.
func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// creds are one mini program's credentials and the gateway's secrets.
type creds struct {
	AppID, Token, AESKey string
	WebhookSecret        string
	AdminToken           string
}

func newCreds(t *testing.T) creds {
	t.Helper()
	token, err := wxcrypt.GenerateToken()
	if err != nil {
		t.Fatal(err)
	}
	key, err := wxcrypt.GenerateEncodingAESKey()
	if err != nil {
		t.Fatal(err)
	}
	return creds{AppID: "wx" + randHex(8), Token: token, AESKey: key,
		WebhookSecret: "whsec-" + randHex(16), AdminToken: "admin-" + randHex(16)}
}

// freeAddr returns a loopback address that was free a moment ago: the
// server is restarted on it after a crash, so it must be known in advance.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// logBuffer keeps the first head and the last tail bytes written to it (a
// start-up and the latest events); safe for concurrent use.
type logBuffer struct {
	mu         sync.Mutex
	head, tail []byte
	headMax    int
	tailMax    int
	dropped    bool
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	rest := p
	if n := min(b.headMax-len(b.head), len(rest)); n > 0 {
		b.head = append(b.head, rest[:n]...)
		rest = rest[n:]
	}
	b.tail = append(b.tail, rest...)
	if over := len(b.tail) - b.tailMax; over > 0 {
		b.tail = append(b.tail[:0], b.tail[over:]...)
		b.dropped = true
	}
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	sep := ""
	if b.dropped {
		sep = "\n[...]\n"
	}
	return string(b.head) + sep + string(b.tail)
}

// serveProc is one `wxgate serve` child process, which can be started,
// killed and started again with the same arguments and address.
type serveProc struct {
	t    *testing.T
	name string
	addr string // 127.0.0.1:port of the push listener
	args []string
	env  []string
	logs *logBuffer
	// secrets must never show in the log.
	secrets []string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the running process was reaped
	exitErr error
	runs    int
}

// newServe prepares `wxgate serve args...` with the extra environment env
// (the test's own WXGATE_* variables are not passed on), listening on addr.
// The process is killed when the test ends; its log must not show any of
// cr's secrets, and is shown if the test failed.
func newServe(t *testing.T, name, addr string, cr creds, env []string, args ...string) *serveProc {
	t.Helper()
	p := &serveProc{t: t, name: name, addr: addr, args: append([]string{"serve"}, args...), env: env,
		logs: &logBuffer{headMax: 64 << 10, tailMax: 256 << 10}, secrets: []string{cr.Token, cr.AESKey, cr.WebhookSecret, cr.AdminToken}}
	t.Cleanup(func() {
		p.kill()
		logs := p.logs.String()
		for _, secret := range p.secrets {
			if strings.Contains(logs, secret) {
				t.Errorf("the log of %s shows a secret (%d characters)", p.name, len(secret))
			}
		}
		if t.Failed() {
			t.Logf("--- log of %s ---\n%s", p.name, p.logs.String())
		}
	})
	return p
}

// childEnv is the environment of a child: this process's, without its
// WXGATE_* variables (which serve would read), plus extra.
func childEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WXGATE_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// start runs the process and waits until /readyz answers 200.
func (p *serveProc) start() {
	p.t.Helper()
	if err := p.tryStart(); err != nil {
		p.t.Fatal(err)
	}
}

// tryStart is start for any goroutine: it returns what start would fail with.
func (p *serveProc) tryStart() error {
	p.mu.Lock()
	if p.cmd != nil {
		p.mu.Unlock()
		return fmt.Errorf("%s: already running", p.name)
	}
	p.runs++
	fmt.Fprintf(p.logs, "=== %s: start #%d\n", p.name, p.runs)
	cmd := exec.Command(wxgateBin, p.args...)
	cmd.Env = childEnv(p.env)
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	// If this test process dies, so does the child.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		return fmt.Errorf("%s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.exitErr = cmd, done, nil
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.exitErr = err
		if p.cmd == cmd {
			p.cmd = nil
		}
		p.mu.Unlock()
		close(done)
	}()

	deadline := time.Now().Add(startTimeout)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := hc.Get(p.url("/readyz"))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited before it was ready: %v\n%s", p.name, p.exitError(), p.logs.String())
		case <-time.After(pollEvery):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s was not ready within %v\n%s", p.name, startTimeout, p.logs.String())
		}
	}
}

func (p *serveProc) exitError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitErr
}

// running returns the process and its done channel, or nil.
func (p *serveProc) running() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.done
}

// kill sends SIGKILL, as a crash would, and waits for the process to be
// reaped. It does nothing when the process is not running. Safe to call
// from any goroutine.
func (p *serveProc) kill() {
	cmd, done := p.running()
	if cmd == nil {
		return
	}
	fmt.Fprintf(p.logs, "=== %s: SIGKILL\n", p.name)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// stop sends SIGTERM and waits (bounded) for a clean exit: every answered
// push is stored and the workers release what they hold.
func (p *serveProc) stop() {
	p.t.Helper()
	cmd, done := p.running()
	if cmd == nil {
		p.t.Fatalf("%s: not running", p.name)
	}
	fmt.Fprintf(p.logs, "=== %s: SIGTERM\n", p.name)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(stopTimeout):
		p.kill()
		p.t.Fatalf("%s did not stop within %v of SIGTERM", p.name, stopTimeout)
	}
	if err := p.exitError(); err != nil {
		p.t.Errorf("%s: exit after SIGTERM: %v", p.name, err)
	}
}

// url is the address of path on the push listener.
func (p *serveProc) url(path string) string { return "http://" + p.addr + path }

// waitFor polls cond until it holds, failing the test after timeout.
// what(), called then, says what was awaited and what was seen.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what())
		}
		time.Sleep(pollEvery)
	}
}

// apiClient calls the admin API.
var apiClient = &http.Client{Timeout: 15 * time.Second}

// adminCall sends method path (with an optional JSON body) to the admin
// API at base with the bearer token and returns the status and body.
func adminCall(ctx context.Context, method, base, path, token string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := apiClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp.StatusCode, b, err
}
