package wechatsim_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/push"
	"github.com/wxgate/wxgate/wechatsim"
)

// Push to a handler in-process, as WeChat would in safe mode with JSON, and
// read the judged outcome and the World's transcript.
func ExampleNewClient() {
	world := wechatsim.NewWorld(wechatsim.NewFakeClock(wechatsim.DefaultFakeTime))
	user := world.NewUser()

	router := push.NewRouter()
	push.On(router, func(_ context.Context, m *message.Text) (message.Reply, error) {
		return message.TransferCustomerService(), nil
	})
	handler, err := push.NewHandler(push.Config{
		AppID: "wx0123456789abcdef", Token: "mytoken123",
		AESKeys: []string{"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"},
		Now:     world.Clock().Now, Logger: slog.New(slog.DiscardHandler),
	}, router)
	if err != nil {
		panic(err)
	}

	client, err := wechatsim.NewClient(wechatsim.ClientConfig{
		Handler: handler, // or URL: "http://127.0.0.1:8080/wechat"
		AppID:   "wx0123456789abcdef", Token: "mytoken123",
		AESKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
		Mode:   wechatsim.ModeSafe, Format: message.FormatJSON,
		World: world,
	})
	if err != nil {
		panic(err)
	}
	out, err := client.Push(context.Background(), &message.Text{Content: "人工客服"})
	if err != nil {
		panic(err)
	}
	fmt.Println(out.Accepted, out.Verdict, len(out.Deliveries))
	fmt.Println(out.Reply.Head().MsgType, out.Reply.Head().ToUserName == user.OpenID)
	fmt.Println(world.Window(user.OpenID).Reason)
	for _, e := range world.Transcript(user.OpenID) {
		fmt.Println(e.Direction, e.Kind, e.Outcome)
	}
	// Output:
	// true reply 1
	// transfer_customer_service true
	// user_message
	// to_server text reply
}

// Judge a broken answer: a newline after "success".
func ExampleClient_Push_diagnosis() {
	client, _ := wechatsim.NewClient(wechatsim.ClientConfig{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintln(w, "success") // the newline breaks it
		}),
		Token: "mytoken123",
	})
	out, _ := client.Push(context.Background(), &message.Text{Content: "hi"})
	fmt.Println(out.Verdict)
	fmt.Println(out.UserVisibleFailure)
	// Output:
	// malformed_reply
	// 该小程序客服暂时无法提供服务，请稍后再试
}
