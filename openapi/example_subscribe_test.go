package openapi_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/wxgate/wxgate/openapi"
	"github.com/wxgate/wxgate/wechatsim"
)

// Reach a user after the 48 h window with a subscribe message. The user
// accepted the template once in the mini program's popup, so one message
// goes through; the next needs another acceptance.
func ExampleClient_SendSubscribeMessage() {
	api := wechatsim.NewOpenAPI()
	srv := api.Start()
	defer srv.Close()
	tpl, _ := api.World().AddTemplate(wechatsim.Template{Title: "发货提醒", Keywords: []string{"thing1", "character_string2", "time3"}})
	user := api.World().NewUser()
	api.World().NoteSubscribe(user.OpenID, tpl.TemplateID, true) // what subscribe_msg_popup_event reports

	client, err := openapi.New(wechatsim.DefaultAppID, wechatsim.DefaultSecret,
		openapi.WithBaseURL(srv.URL), openapi.WithClock(api.Clock().Now))
	if err != nil {
		log.Fatal(err)
	}
	msg := openapi.SubscribeMessage{
		ToUser:     user.OpenID,
		TemplateID: tpl.TemplateID,
		Page:       "pages/order/index?id=1024",
		Data:       openapi.SubscribeData{"thing1": "您的包裹已发出", "character_string2": "SF1024", "time3": "2024-04-25 15:01"},
	}
	ctx := context.Background()
	msgID, err := client.SendSubscribeMessage(ctx, msg)
	fmt.Println(len(msgID), err)

	_, err = client.SendSubscribeMessage(ctx, msg)
	fmt.Println(errors.Is(err, openapi.ErrNotSubscribed))

	msg.Data["thing1"] = "一二三四五六七八九十一二三四五六七八九十一" // 21 characters: checked before sending
	_, err = client.SendSubscribeMessage(ctx, msg)
	fmt.Println(err)
	// Output:
	// 19 <nil>
	// true
	// openapi: invalid argument: data.thing1.value has 21 characters; thing allows 20
}
