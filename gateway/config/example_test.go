package config_test

import (
	"fmt"
	"log"

	"github.com/wxgate/wxgate/gateway/config"
)

func ExampleLoad() {
	// testdata/example.yaml:
	//
	//	apps:
	//	  shop:
	//	    appid: wx0123456789abcdef
	//	    token: ${SHOP_TOKEN}
	//	    aes_keys: ["${SHOP_AES_KEY}"]
	//	    destinations:
	//	      - name: orders
	//	        webhook:
	//	          url: https://api.example.com/wechat/shop
	//	          secret: ${SHOP_WEBHOOK_SECRET}
	//	  blog:
	//	    token_file: secrets/blog_token
	// In a program, leave WithEnviron out: the process's environment is used.
	env := []string{
		"SHOP_TOKEN=ShopToken1",
		"SHOP_AES_KEY=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
		"SHOP_WEBHOOK_SECRET=whsec-0123456789abcdef",
		"WXGATE_APPS_SHOP_DESTINATIONS_0_WEBHOOK_TIMEOUT=5s", // an override
	}
	cfg, err := config.Load("testdata/example.yaml", config.WithEnviron(env))
	if err != nil {
		log.Fatal(err) // every error, one per line, each with its field and line
	}
	for _, name := range cfg.AppNames() {
		app := cfg.Apps[name]
		fmt.Printf("%s: %s, token %v from %s, %d destination(s)\n", name, app.Path, app.Token, app.Token.Source(), len(app.Destinations))
	}
	hook := cfg.Apps["shop"].Destinations[0].Webhook
	fmt.Println(hook.URL, hook.Timeout, hook.Secret)
	// Output:
	// blog: /wechat/blog, token [redacted] from file secrets/blog_token, 0 destination(s)
	// shop: /wechat/shop, token [redacted] from ${SHOP_TOKEN}, 1 destination(s)
	// https://api.example.com/wechat/shop 5s [redacted]
}

func ExampleFromFlags() {
	cfg, err := config.FromFlags(config.Flags{
		AppID:         "wx0123456789abcdef",
		Token:         "ShopToken1",
		Webhooks:      []string{"http://127.0.0.1:3000/wechat"},
		WebhookSecret: "whsec-0123456789abcdef",
	}, config.WithEnviron(nil))
	if err != nil {
		log.Fatal(err)
	}
	app := cfg.Apps[config.DefaultAppName]
	fmt.Println(app.Name, app.Path, app.Destinations[0].Name, cfg.Store)
	// Output: default /wechat webhook sqlite:.wxgate/wxgate.db
}

func ExampleCheck() {
	for _, err := range config.Check("testdata/example.yaml", config.WithEnviron(nil)) {
		fmt.Println(err)
	}
	// Output:
	// testdata/example.yaml:4:12: apps.shop.token: ${SHOP_TOKEN} is not set
	// testdata/example.yaml:5:16: apps.shop.aes_keys[0]: ${SHOP_AES_KEY} is not set
	// testdata/example.yaml:10:19: apps.shop.destinations[0].webhook.secret: ${SHOP_WEBHOOK_SECRET} is not set
}
