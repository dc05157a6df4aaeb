package wechatsim

import (
	"context"
	"net/http"
	"testing"

	"github.com/wxgate/wxgate/message"
)

// A subscribe popup the emulator pushes grants the app one subscribe
// message per accepted template; a reject in the settings cancels them.
func TestClientNotesSubscriptions(t *testing.T) {
	world := NewWorld(NewFakeClock(DefaultFakeTime))
	user := world.NewUser()
	c, err := NewClient(ClientConfig{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("success")) }),
		Token:   "mytoken123", World: world, OpenID: user.OpenID,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	popup := &message.SubscribeMsgPopupEvent{List: []message.SubscribePopupItem{
		{TemplateID: "tplA", SubscribeStatusString: "accept"}, {TemplateID: "tplB", SubscribeStatusString: "reject"},
	}}
	if _, err := c.Push(context.Background(), popup); err != nil {
		t.Fatal(err)
	}
	if got := world.Subscription(user.OpenID, "tplA").Remaining; got != 1 {
		t.Fatalf("tplA remaining %d, want 1", got)
	}
	if got := world.Subscription(user.OpenID, "tplB").Remaining; got != 0 {
		t.Fatalf("tplB remaining %d, want 0", got)
	}
	change := &message.SubscribeMsgChangeEvent{List: []message.SubscribeChangeItem{{TemplateID: "tplA", SubscribeStatusString: "reject"}}}
	if _, err := c.Push(context.Background(), change); err != nil {
		t.Fatal(err)
	}
	if got := world.Subscription(user.OpenID, "tplA").Remaining; got != 0 {
		t.Fatalf("after the settings reject, tplA remaining %d", got)
	}
}
