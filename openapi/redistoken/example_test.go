package redistoken_test

import (
	"log"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/wxgate/wxgate/openapi"
	"github.com/wxgate/wxgate/openapi/redistoken"
)

// Share one access_token between every process of a deployment.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	store := redistoken.New(rdb, "wx5f3c9a1b2d4e6f80",
		redistoken.WithPrefix("myapp:wechat:"), redistoken.WithLease(15*time.Second))
	client, err := openapi.New("wx5f3c9a1b2d4e6f80", "APPSECRET", openapi.WithSharedStore(store))
	if err != nil {
		log.Fatal(err)
	}
	_ = client // client.SendText(ctx, openID, "...")
}
