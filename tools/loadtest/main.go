// Command loadtest supports the wrk load test in run.sh. It writes distinct,
// correctly signed pushes for wrk to replay, and serves the baseline: a
// bare net/http handler that answers "success".
//
//	go run ./tools/loadtest gen  -n 300000 -out /tmp/pushes.tsv -token T -aes-key K -appid A
//	go run ./tools/loadtest bare -addr 127.0.0.1:9001
//	go run ./tools/loadtest gateway -wxgate /tmp/wxgate   (see gateway.go)
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wxcrypt"
)

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: loadtest gen|bare|gateway [flags]")
	}
	switch os.Args[1] {
	case "gen":
		gen(os.Args[2:])
	case "bare":
		bare(os.Args[2:])
	case "gateway":
		gatewayLoad(os.Args[2:])
	default:
		log.Fatalf("unknown command %q", os.Args[1])
	}
}

// gen writes one request a line: the path with its query, a tab, the body.
func gen(args []string) {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	n := fs.Int("n", 300000, "number of distinct pushes")
	out := fs.String("out", "/tmp/pushes.tsv", "output file")
	path := fs.String("path", "/wechat", "URL path")
	token := fs.String("token", "", "Token")
	aesKey := fs.String("aes-key", "", "EncodingAESKey")
	appID := fs.String("appid", "", "AppID")
	format := fs.String("format", "xml", "xml or json")
	fs.Parse(args)
	key, err := wxcrypt.ParseKey(*aesKey)
	if err != nil {
		log.Fatal(err)
	}
	f := message.FormatXML
	if *format == "json" {
		f = message.FormatJSON
	}
	file, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriterSize(file, 1<<20)
	now := time.Now().Unix()
	ts := strconv.FormatInt(now, 10)
	for i := 0; i < *n; i++ {
		text := &message.Text{
			Header:  message.Header{ToUserName: "gh_97417a04a28d", FromUserName: "o9AgO5Kd5ggOC-bXrbNODIiE" + strconv.Itoa(1000+i%9000), CreateTime: now, MsgType: "text"},
			Content: "你好，我想问一下订单什么时候发货？", MsgID: message.MsgID(strconv.FormatInt(7300000000000000000+int64(i), 10)),
		}
		plain, err := message.Encode(text, f)
		if err != nil {
			log.Fatal(err)
		}
		enc, err := key.Encrypt(nil, plain, *appID)
		if err != nil {
			log.Fatal(err)
		}
		nonce := strconv.Itoa(100000000 + i)
		q := url.Values{
			"signature": {wxcrypt.Signature(*token, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce},
			"openid": {text.FromUserName}, "encrypt_type": {"aes"}, "msg_signature": {wxcrypt.Signature(*token, ts, nonce, enc)},
		}
		env := message.Envelope{ToUserName: "gh_97417a04a28d", Encrypt: enc}
		fmt.Fprintf(w, "%s?%s\t%s\n", *path, q.Encode(), env.Append(nil, f))
	}
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
	file.Close()
}

// bare serves the baseline: read the body, answer "success".
func bare(args []string) {
	fs := flag.NewFlagSet("bare", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:9001", "listen address")
	timeouts := fs.Bool("timeouts", false, "set the same server timeouts as wxgate serve")
	fs.Parse(args)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "success")
	})
	srv := &http.Server{Addr: *addr, Handler: h}
	if *timeouts {
		srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout = 5*time.Second, 10*time.Second, 10*time.Second, 120*time.Second
	}
	log.Fatal(srv.ListenAndServe())
}
