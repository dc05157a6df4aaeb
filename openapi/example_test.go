package openapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"log"
	"net/http/httptest"
	"time"

	"github.com/wxgate/wxgate/openapi"
	"github.com/wxgate/wxgate/wechatsim"
)

// Answer a user through the emulator: the same code talks to WeChat when
// WithBaseURL is left out.
func ExampleClient_SendText() {
	api := wechatsim.NewOpenAPI() // mock api.weixin.qq.com with a fake clock
	srv := httptest.NewServer(api)
	defer srv.Close()
	user := api.World().NewUser()
	api.World().NoteUserMessage(user.OpenID, api.Clock().Now()) // opens the 48 h window

	client, err := openapi.New(wechatsim.DefaultAppID, wechatsim.DefaultSecret,
		openapi.WithBaseURL(srv.URL), openapi.WithClock(api.Clock().Now))
	if err != nil {
		log.Fatal(err)
	}
	if err := client.SendText(context.Background(), user.OpenID, "Thanks, we are on it!"); err != nil {
		log.Fatal(err)
	}
	fmt.Println(api.SentMessages(user.OpenID)[0].Text)
	fmt.Println("token fetches:", api.StableTokenFetches())
	// Output:
	// Thanks, we are on it!
	// token fetches: 1
}

// Send-window errors are typed: check them with errors.Is.
func ExampleClient_SendText_windowExpired() {
	api := wechatsim.NewOpenAPI()
	srv := httptest.NewServer(api)
	defer srv.Close()
	clock := api.FakeClock()
	user := api.World().NewUser()
	api.World().NoteEnterSession(user.OpenID, clock.Now()) // 2 messages within 1 min

	client, _ := openapi.New(wechatsim.DefaultAppID, wechatsim.DefaultSecret,
		openapi.WithBaseURL(srv.URL), openapi.WithClock(clock.Now))
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		err := client.SendText(ctx, user.OpenID, fmt.Sprint("message ", i))
		switch {
		case err == nil:
			fmt.Println(i, "sent")
		case errors.Is(err, openapi.ErrCountExceeded):
			fmt.Println(i, "count exceeded (45047)")
		}
	}
	clock.Advance(time.Minute)
	err := client.SendText(ctx, user.OpenID, "late")
	var apiErr *openapi.Error
	if errors.Is(err, openapi.ErrWindowExpired) && errors.As(err, &apiErr) {
		fmt.Println("window expired:", apiErr.Code)
	}
	// Output:
	// 1 sent
	// 2 sent
	// 3 count exceeded (45047)
	// window expired: 45015
}

// Upload an image, then send it.
func ExampleClient_UploadTempMedia() {
	api := wechatsim.NewOpenAPI()
	srv := httptest.NewServer(api)
	defer srv.Close()
	user := api.World().NewUser()
	api.World().NoteUserMessage(user.OpenID, api.Clock().Now())
	client, _ := openapi.New(wechatsim.DefaultAppID, wechatsim.DefaultSecret,
		openapi.WithBaseURL(srv.URL), openapi.WithClock(api.Clock().Now))

	var pic bytes.Buffer
	_ = png.Encode(&pic, image.NewGray(image.Rect(0, 0, 4, 4)))
	ctx := context.Background()
	media, err := client.UploadTempMedia(ctx, "reply.png", &pic)
	if err != nil {
		log.Fatal(err)
	}
	if err := client.SendImage(ctx, user.OpenID, media.MediaID); err != nil {
		log.Fatal(err)
	}
	fmt.Println(media.Type, api.SentMessages(user.OpenID)[0].MsgType)
	// Output: image image
}

// A revoked token is replaced transparently: the call is retried once with
// a new token.
func ExampleTokenCache_Invalidate() {
	api := wechatsim.NewOpenAPI()
	srv := httptest.NewServer(api)
	defer srv.Close()
	user := api.World().NewUser()
	api.World().NoteUserMessage(user.OpenID, api.Clock().Now())
	client, _ := openapi.New(wechatsim.DefaultAppID, wechatsim.DefaultSecret,
		openapi.WithBaseURL(srv.URL), openapi.WithClock(api.Clock().Now))
	ctx := context.Background()
	_ = client.SendText(ctx, user.OpenID, "one")

	api.RevokeTokens() // every token now answers 40001
	err := client.SendText(ctx, user.OpenID, "two")
	fmt.Println("err:", err)
	fmt.Println("invalidations:", client.TokenCache().Stats().Invalidations)
	fmt.Println("token fetches:", api.StableTokenFetches())
	// Output:
	// err: <nil>
	// invalidations: 1
	// token fetches: 2
}

// Printing a token never shows its value.
func ExampleToken_String() {
	tok := openapi.NewToken("86_the-secret-value", time.Time{}, time.Date(2024, 4, 25, 2, 0, 0, 0, time.UTC))
	fmt.Println(tok)
	fmt.Printf("%#v\n", tok)
	// Output:
	// openapi.Token(REDACTED, expires 2024-04-25T02:00:00Z)
	// openapi.Token(REDACTED, expires 2024-04-25T02:00:00Z)
}

// Several clients of one app share a TokenCache. The cache takes the
// CacheOptions (clock, refresh lead, shared store); each client takes only
// what concerns its own calls. Giving a CacheOption to the token source, or
// a SourceOption to the cache, does not compile.
func ExampleNewTokenCache() {
	api := wechatsim.NewOpenAPI()
	srv := httptest.NewServer(api)
	defer srv.Close()
	user := api.World().NewUser()
	api.World().NoteUserMessage(user.OpenID, api.Clock().Now())

	src, err := openapi.NewStableTokenSource(wechatsim.DefaultAppID, wechatsim.DefaultSecret,
		openapi.WithBaseURL(srv.URL), openapi.WithClock(api.Clock().Now)) // SourceOptions
	if err != nil {
		log.Fatal(err)
	}
	cache := openapi.NewTokenCache(src, openapi.WithClock(api.Clock().Now), openapi.WithRefreshAhead(5*time.Minute)) // CacheOptions
	sender, _ := openapi.New(wechatsim.DefaultAppID, "", openapi.WithBaseURL(srv.URL), openapi.WithTokenCache(cache))
	typer, _ := openapi.New(wechatsim.DefaultAppID, "", openapi.WithBaseURL(srv.URL), openapi.WithTokenCache(cache),
		openapi.WithTimeout(2*time.Second))

	ctx := context.Background()
	_ = typer.Typing(ctx, user.OpenID, true)
	_ = sender.SendText(ctx, user.OpenID, "Here is your answer.")
	fmt.Println("token fetches:", api.StableTokenFetches())

	// A cache option given next to WithTokenCache would be ignored: New says so.
	_, err = openapi.New(wechatsim.DefaultAppID, "", openapi.WithTokenCache(cache), openapi.WithRefreshAhead(time.Hour))
	fmt.Println(errors.Is(err, openapi.ErrConfig))
	// Output:
	// token fetches: 1
	// true
}
