package push_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/push"
	"github.com/wxgate/wxgate/wxcrypt"
)

// A push endpoint for one mini program: typed handlers by message type,
// a transfer to customer service for text, "success" for everything else.
func ExampleNewHandler() {
	router := push.NewRouter()
	push.On(router, func(ctx context.Context, m *message.Text) (message.Reply, error) {
		log.Printf("%s says %q", m.FromUserName, m.Content)
		return message.TransferCustomerService(), nil
	})
	push.On(router, func(ctx context.Context, e *message.UserEnterTempSession) (message.Reply, error) {
		log.Printf("%s opened the chat from %q", e.FromUserName, e.SessionFrom)
		return message.Success, nil
	})

	handler, err := push.NewHandler(push.Config{
		AppID:   "wxba5fad812f8e6fb9",
		Token:   "AAAAA",                                                 // from the console
		AESKeys: []string{"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"}, // current key first
	}, router)
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/wechat", handler)
	// http.ListenAndServe(":8080", nil)
}

// The URL verification the WeChat console sends when the server
// configuration is saved: the handler answers echostr, byte for byte.
func ExampleHandler_ServeHTTP_verification() {
	h, _ := push.NewHandler(push.Config{
		Token: "AAAAA", Mode: push.ModePlain, Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return time.Unix(1714036504, 0) }, // the example's own time
	}, nil)
	req := httptest.NewRequest("GET", "/wechat?signature=f464b24fc39322e44b38aa78f5edd27bd1441696&echostr=4375120948345356249&timestamp=1714036504&nonce=1514711492", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body.String())
	// Output: 200 4375120948345356249
}

// Open for code that receives pushes its own way (a queue consumer, a cloud
// function, another router): verify, decrypt and decode in one call, and
// branch on the sentinel errors. This is the official safe-mode JSON
// example.
func ExampleOpener_Open() {
	opener, err := push.NewOpener(push.Config{
		AppID: "wxba5fad812f8e6fb9", Token: "AAAAA",
		AESKeys: []string{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		Mode:    push.ModeSafe,
		Now:     func() time.Time { return time.Unix(1714112445, 0) }, // the example's own time
	})
	if err != nil {
		log.Fatal(err)
	}
	query := "signature=6c5c811b55cc85e0e1b54100749188c20beb3f5d&timestamp=1714112445&nonce=415670741" +
		"&openid=o9AgO5Kd5ggOC-bXrbNODIiE3bGY&encrypt_type=aes&msg_signature=046e02f8204d34f8ba5fa3b1db94908f3df2e9b3"
	body := []byte(`{"ToUserName":"gh_97417a04a28d","Encrypt":"+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04="}`)

	req, err := opener.Open(context.Background(), query, body)
	switch {
	case errors.Is(err, push.ErrSignature), errors.Is(err, push.ErrReplay):
		fmt.Println("forged or replayed:", push.StatusCode(err))
		return
	case err != nil:
		fmt.Println("refused:", push.StatusCode(err), err)
		return
	}
	fmt.Println(req.Mode, req.Format, message.KindOf(req.Push))
	fmt.Println(req.Push.(*message.DebugDemo).DebugStr)

	// The same URL with another body is refused: a captured URL carries
	// only the body it came with.
	_, err = opener.Open(context.Background(), query, []byte(`{"ToUserName":"gh_97417a04a28d","Encrypt":"AAAA"}`))
	fmt.Println(push.StatusCode(err), errors.Is(err, push.ErrSignature))
	// Output:
	// safe json event:debug_demo
	// hello world
	// 403 true
}

// A plaintext JSON push, signed as WeChat signs it.
func ExampleHandler_ServeHTTP_push() {
	now := time.Unix(1714037059, 0)
	router := push.NewRouter()
	push.On(router, func(_ context.Context, m *message.DebugDemo) (message.Reply, error) {
		fmt.Println("debug_str:", m.DebugStr)
		return nil, nil
	})
	h, _ := push.NewHandler(push.Config{
		Token: "AAAAA", Mode: push.ModePlain,
		Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler),
	}, router)

	body := `{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","CreateTime":1714037059,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}`
	q := url.Values{"signature": {wxcrypt.Signature("AAAAA", "1714037059", "486452656")}, "timestamp": {"1714037059"}, "nonce": {"486452656"}}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/wechat?"+q.Encode(), strings.NewReader(body)))
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// debug_str: hello world
	// 200 success
}
