package openapi_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http/httptest"
	"os"

	"github.com/wxgate/wxgate/openapi"
	"github.com/wxgate/wxgate/wechatsim"
)

// One client per app and process: it caches and refreshes the token.
var wx, _ = openapi.New(os.Getenv("WX_APPID"), os.Getenv("WX_SECRET"))

func reply(ctx context.Context, openID, text string) {
	err := wx.SendText(ctx, openID, text)
	switch {
	case err == nil:
	case errors.Is(err, openapi.ErrWindowExpired), errors.Is(err, openapi.ErrCountExceeded):
		log.Printf("cannot answer %s now: %v", openID, err) // 48 h / 1 min window closed
	default:
		log.Printf("send failed: %v", err) // never shows the token or the secret
	}
}

// Send a reply to a user: the 15 lines of docs/openapi.md (wx and reply),
// run here against the emulator instead of WeChat.
func Example_reply() {
	api := wechatsim.NewOpenAPI()
	srv := httptest.NewServer(api)
	defer srv.Close()
	user := api.World().NewUser()
	api.World().NoteUserMessage(user.OpenID, api.Clock().Now()) // opens the 48 h window
	wx, _ = openapi.New(wechatsim.DefaultAppID, wechatsim.DefaultSecret,
		openapi.WithBaseURL(srv.URL), openapi.WithClock(api.Clock().Now))

	reply(context.Background(), user.OpenID, "Thanks, we are on it!")
	fmt.Println(api.SentMessages(user.OpenID)[0].Text)
	// Output: Thanks, we are on it!
}
