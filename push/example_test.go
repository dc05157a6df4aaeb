package push_test

import (
	"context"
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
		return message.TransferCustomerService(""), nil
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
	h, _ := push.NewHandler(push.Config{Token: "AAAAA", Mode: push.ModePlain, Logger: slog.New(slog.DiscardHandler)}, nil)
	req := httptest.NewRequest("GET", "/wechat?signature=f464b24fc39322e44b38aa78f5edd27bd1441696&echostr=4375120948345356249&timestamp=1714036504&nonce=1514711492", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body.String())
	// Output: 200 4375120948345356249
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
