package wechatsim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wxgate/wxgate/wechatsim"
)

// ExampleNewOpenAPI fetches a token from the mock, answers a user who just
// sent a message, and watches the token expire on the fake clock.
func ExampleNewOpenAPI() {
	api := wechatsim.NewOpenAPI()
	srv := api.Start()
	defer srv.Close()

	// A user writes to the mini program: the send window opens.
	user := api.World().NewUser()
	api.World().NoteUserMessage(user.OpenID, api.Clock().Now())

	q := url.Values{"grant_type": {"client_credential"}, "appid": {wechatsim.DefaultAppID}, "secret": {wechatsim.DefaultSecret}}
	resp, err := http.Get(srv.URL + "/cgi-bin/token?" + q.Encode())
	if err != nil {
		panic(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	fmt.Println("expires_in:", tok.ExpiresIn)

	send := func() int {
		body := fmt.Sprintf(`{"touser":%q,"msgtype":"text","text":{"content":"Hello"}}`, user.OpenID)
		resp, err := http.Post(srv.URL+"/cgi-bin/message/custom/send?access_token="+tok.AccessToken, "application/json", strings.NewReader(body))
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		var r struct {
			ErrCode int `json:"errcode"`
		}
		json.NewDecoder(resp.Body).Decode(&r)
		return r.ErrCode
	}
	fmt.Println("send:", send())
	fmt.Println("recorded:", api.SentMessages(user.OpenID)[0].Text)

	api.FakeClock().Advance(2 * time.Hour)
	fmt.Println("send after 2h:", send())
	// Output:
	// expires_in: 7200
	// send: 0
	// recorded: Hello
	// send after 2h: 42001
}
