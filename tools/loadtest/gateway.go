package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wxcrypt"
)

// gatewayLoad measures `wxgate serve` as a gateway: durable pushes per
// second (distinct safe-mode pushes, a webhook that answers at once or
// after -webhook-delay), the acknowledgement latency at a fixed rate, the
// deliveries' pace, and the server's memory over many pushes. A bare
// net/http handler answering "success", driven by the same client in the
// same run, is the ceiling.
//
//	go run ./tools/loadtest gateway -wxgate /tmp/wxgate -store sqlite -duration 20s
//	go run ./tools/loadtest gateway -wxgate /tmp/wxgate -rate 1000 -webhook-delay 2s -duration 30s
//	go run ./tools/loadtest gateway -wxgate /tmp/wxgate -n 1000000 -sample 100000
func gatewayLoad(args []string) {
	fs := flag.NewFlagSet("gateway", flag.ExitOnError)
	bin := fs.String("wxgate", "", "the wxgate binary (go build -o /tmp/wxgate ./cmd/wxgate)")
	storeKind := fs.String("store", "sqlite", `"sqlite", or a postgres:// URL (a fresh database is best)`)
	duration := fs.Duration("duration", 20*time.Second, "how long to send (ignored with -n)")
	n := fs.Int("n", 0, "send exactly this many pushes instead of running for -duration")
	conc := fs.Int("c", 32, "concurrent senders")
	rate := fs.Int("rate", 0, "pushes per second (0: as fast as possible)")
	webhookDelay := fs.Duration("webhook-delay", 0, "how long the webhook takes to answer")
	sample := fs.Int("sample", 0, "print the server's RSS every this many pushes")
	skipBare := fs.Bool("skip-bare", false, "do not measure the bare net/http ceiling")
	extra := fs.String("serve-args", "", "more arguments for wxgate serve, space-separated (e.g. --debug-addr 127.0.0.1:6061)")
	fs.Parse(args)
	if *bin == "" {
		log.Fatal("-wxgate is required")
	}
	dir, err := os.MkdirTemp("", "wxgate-load-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	token, aesKey, appID := "loadtoken123", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx0123456789abcdef"
	// The webhook: counts deliveries, answers 200 (after the delay).
	var delivered atomic.Int64
	sink := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if *webhookDelay > 0 {
			time.Sleep(*webhookDelay)
		}
		delivered.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})}
	sinkLn := listen()
	go sink.Serve(sinkLn)

	addr := freeAddr()
	store := "sqlite:" + filepath.Join(dir, "wxgate.db")
	if strings.HasPrefix(*storeKind, "postgres") {
		store = *storeKind
	}
	cmd := exec.Command(*bin, "serve", "--addr", addr, "--state-dir", dir, "--store", store,
		"--appid", appID, "--token", token, "--aes-key", aesKey, "--mode", "safe",
		"--webhook", "http://"+sinkLn.Addr().String()+"/hook", "--webhook-secret", "loadtest-webhook-secret",
		"--log-level", "warn", "--max-conns", "4096")
	cmd.Args = append(cmd.Args, strings.Fields(*extra)...)
	logFile, _ := os.Create(filepath.Join(dir, "serve.log"))
	cmd.Stderr, cmd.Stdout = logFile, logFile
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitUp("http://" + addr + "/healthz")

	count := *n
	if count == 0 {
		count = int(duration.Seconds()*float64(max(*rate, 8000))) + 1000
	}
	log.Printf("generating %d distinct signed pushes", count)
	reqs := generate(count, token, aesKey, appID)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc, MaxConnsPerHost: *conc}, Timeout: 10 * time.Second}
	if !*skipBare && *rate == 0 {
		bareLn := listen()
		bareSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, "success")
		})}
		go bareSrv.Serve(bareLn)
		res := drive(client, "http://"+bareLn.Addr().String(), reqs, *conc, 0, min(*duration, 10*time.Second), 0, nil)
		bareSrv.Close()
		fmt.Printf("bare net/http:  %s\n", res)
	}
	rss := func() string { return rssOf(cmd.Process.Pid) }
	fmt.Printf("wxgate RSS before: %s\n", rss())
	start := time.Now()
	res := drive(client, "http://"+addr, reqs, *conc, *rate, *duration, *n, func(done int) {
		if *sample > 0 && done%*sample == 0 {
			fmt.Printf("  after %d pushes: RSS %s, delivered %d\n", done, rss(), delivered.Load())
		}
	})
	fmt.Printf("wxgate serve:   %s\n", res)
	fmt.Printf("wxgate RSS after: %s\n", rss())
	// Deliveries: wait (bounded) for the backlog to drain.
	deadline := time.Now().Add(2 * time.Minute)
	for delivered.Load() < int64(res.ok) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(start)
	fmt.Printf("delivered %d of %d accepted in %.1fs since the start (%.0f/s)\n", delivered.Load(), res.ok, took.Seconds(), float64(delivered.Load())/took.Seconds())
}

type request struct {
	target string
	body   []byte
}

// generate makes n distinct safe-mode XML text pushes, signed now.
func generate(n int, token, aesKey, appID string) []request {
	key := wxcrypt.MustParseKey(aesKey)
	now := time.Now().Unix()
	ts := strconv.FormatInt(now, 10)
	out := make([]request, n)
	var wg sync.WaitGroup
	workers := 4
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				text := &message.Text{
					Header:  message.Header{ToUserName: "gh_97417a04a28d", FromUserName: "o9AgO5Kd5ggOC-bXrbNODIiE" + strconv.Itoa(1000+i%9000), CreateTime: now, MsgType: "text"},
					Content: "你好，我想问一下订单什么时候发货？", MsgID: message.MsgID(strconv.FormatInt(7300000000000000000+now%100000*100000000+int64(i), 10)),
				}
				plain, _ := message.Encode(text, message.FormatXML)
				enc, _ := key.Encrypt(nil, plain, appID)
				nonce := strconv.Itoa(100000000 + i)
				q := url.Values{
					"signature": {wxcrypt.Signature(token, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce},
					"openid": {text.FromUserName}, "encrypt_type": {"aes"}, "msg_signature": {wxcrypt.Signature(token, ts, nonce, enc)},
				}
				env := message.Envelope{ToUserName: "gh_97417a04a28d", Encrypt: enc}
				out[i] = request{target: "/wechat?" + q.Encode(), body: env.Append(nil, message.FormatXML)}
			}
		}()
	}
	wg.Wait()
	return out
}

type result struct {
	ok, failed int
	elapsed    time.Duration
	latencies  []time.Duration
}

func (r result) String() string {
	slices.Sort(r.latencies)
	pct := func(p float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
	}
	return fmt.Sprintf("%d ok, %d failed in %.1fs: %.0f/s; latency p50 %v p99 %v max %v",
		r.ok, r.failed, r.elapsed.Seconds(), float64(r.ok)/r.elapsed.Seconds(),
		pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), pct(1).Round(10*time.Microsecond))
}

// drive sends reqs to base with conc senders, at rate per second (0: as
// fast as possible), for d or until n are sent (n > 0).
func drive(client *http.Client, base string, reqs []request, conc, rate int, d time.Duration, n int, progress func(int)) result {
	var next atomic.Int64
	var ok, failed atomic.Int64
	lat := make([][]time.Duration, conc)
	start := time.Now()
	stopAt := start.Add(d)
	limit := len(reqs)
	if n > 0 {
		limit = min(n, len(reqs))
	}
	var wg sync.WaitGroup
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= limit || (n == 0 && time.Now().After(stopAt)) {
					return
				}
				if rate > 0 {
					// Send request i at its slot of the fixed rate.
					if wait := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); wait > 0 {
						time.Sleep(wait)
					}
				}
				t0 := time.Now()
				resp, err := client.Post(base+reqs[i].target, "text/xml", bytes.NewReader(reqs[i].body))
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 200 && string(b) == "success" {
						ok.Add(1)
						lat[w] = append(lat[w], time.Since(t0))
						if progress != nil {
							progress(i + 1)
						}
						continue
					}
				}
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	return result{ok: int(ok.Load()), failed: int(failed.Load()), elapsed: time.Since(start), latencies: all}
}

func listen() net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	return ln
}

func freeAddr() string {
	ln := listen()
	defer ln.Close()
	return ln.Addr().String()
}

func waitUp(u string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	log.Fatal("wxgate serve did not start")
}

// rssOf reads a process's resident set size from /proc.
func rssOf(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return "?"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
