package wechatsim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzCustomSend posts arbitrary bodies to message/custom/send and checks
// that the mock always answers JSON with a status below 500, and that only
// errcode 0 records a message.
func FuzzCustomSend(f *testing.F) {
	api := NewOpenAPI()
	tokReq := httptest.NewRequest(http.MethodPost, PathStableToken, strings.NewReader(
		`{"grant_type":"client_credential","appid":"`+DefaultAppID+`","secret":"`+DefaultSecret+`"}`))
	tokRec := httptest.NewRecorder()
	api.ServeHTTP(tokRec, tokReq)
	var tokResp struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(tokRec.Body.Bytes(), &tokResp); err != nil || tokResp.AccessToken == "" {
		f.Fatalf("no token: %s", tokRec.Body.String())
	}
	tok := tokResp.AccessToken
	openid := "oFuzzUser0000000000000000000"
	api.World().EnsureUser(openid)
	mediaID := "fuzzmedia"
	api.World().NoteUserImage(DefaultAppID, openid, mediaID, api.Clock().Now())

	f.Add([]byte(`{"touser":"oFuzzUser0000000000000000000","msgtype":"text","text":{"content":"hi"}}`))
	f.Add([]byte(`{"touser":"oFuzzUser0000000000000000000","msgtype":"image","image":{"media_id":"fuzzmedia"}}`))
	f.Add([]byte(`{"touser":"oFuzzUser0000000000000000000","msgtype":"link","link":{"title":"t","description":"d","url":"https://a","thumb_url":"http://b"}}`))
	f.Add([]byte(`{"touser":"oFuzzUser0000000000000000000","msgtype":"miniprogrampage","miniprogrampage":{"title":"t","pagepath":"p","thumb_media_id":"fuzzmedia"}}`))
	f.Add([]byte(`{"touser":1}`))
	f.Add([]byte(`{"text":null,"msgtype":"text","touser":"oFuzzUser0000000000000000000"}`))
	f.Add([]byte(""))
	f.Add([]byte("\xff\xfe{"))
	f.Fuzz(func(t *testing.T, body []byte) {
		api.World().NoteUserMessage(openid, api.Clock().Now()) // keep the window open
		before := len(api.SentMessages(""))
		req := httptest.NewRequest(http.MethodPost, PathCustomSend+"?access_token="+tok, bytes.NewReader(body))
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q", rec.Code, body)
		}
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("content type %q", rec.Header().Get("Content-Type"))
		}
		var resp struct {
			ErrCode *int   `json:"errcode"`
			ErrMsg  string `json:"errmsg"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.ErrCode == nil {
			t.Fatalf("bad answer %q: %v", rec.Body.String(), err)
		}
		after := len(api.SentMessages(""))
		if (*resp.ErrCode == 0) != (after == before+1) {
			t.Fatalf("errcode %d but %d messages recorded", *resp.ErrCode, after-before)
		}
		if *resp.ErrCode == 0 {
			last := api.SentMessages("")[after-1]
			if !json.Valid(last.Body) {
				t.Fatalf("recorded body not JSON: %q", last.Body)
			}
		}
	})
}

// FuzzSubscribeSend posts arbitrary bodies to message/subscribe/send and
// checks that the mock always answers JSON with a status below 500, and
// that errcode 0, and only errcode 0, records a message and uses an
// acceptance.
func FuzzSubscribeSend(f *testing.F) {
	api := NewOpenAPI()
	tokReq := httptest.NewRequest(http.MethodPost, PathStableToken, strings.NewReader(
		`{"grant_type":"client_credential","appid":"`+DefaultAppID+`","secret":"`+DefaultSecret+`"}`))
	tokRec := httptest.NewRecorder()
	api.ServeHTTP(tokRec, tokReq)
	var tokResp struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(tokRec.Body.Bytes(), &tokResp); err != nil || tokResp.AccessToken == "" {
		f.Fatalf("no token: %s", tokRec.Body.String())
	}
	openid := "oFuzzUser0000000000000000000"
	api.World().EnsureUser(openid)
	if _, err := api.World().AddTemplate(Template{TemplateID: "FuzzTemplate", Keywords: []string{"thing1", "time2", "amount3"}}); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"touser":"oFuzzUser0000000000000000000","template_id":"FuzzTemplate","data":{"thing1":{"value":"hi"},"time2":{"value":"15:01"},"amount3":{"value":"￥1"}}}`))
	f.Add([]byte(`{"touser":"oFuzzUser0000000000000000000","template_id":"FuzzTemplate","page":"p?a=1","miniprogram_state":"trial","lang":"zh_TW","data":{"thing1":{"value":7},"time2":{"value":"2024-01-01 10:00~2024-01-02"},"amount3":{"value":"3元"}}}`))
	f.Add([]byte(`{"touser":"oFuzzUser0000000000000000000","template_id":"FuzzTemplate","data":"x"}`))
	f.Add([]byte(`{"touser":"oFuzzUser0000000000000000000","template_id":"FuzzTemplate","data":{"thing1":{"value":1e999}}}`))
	f.Add([]byte(`{"template_id":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		api.World().NoteSubscribe(openid, "FuzzTemplate", true)
		before := len(api.SubscribeMessages(""))
		left := api.World().Subscription(openid, "FuzzTemplate").Remaining
		req := httptest.NewRequest(http.MethodPost, PathSubscribeSend+"?access_token="+tokResp.AccessToken, bytes.NewReader(body))
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		if rec.Code >= 500 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("status %d, content type %q for %q", rec.Code, rec.Header().Get("Content-Type"), body)
		}
		var resp struct {
			ErrCode *int `json:"errcode"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.ErrCode == nil {
			t.Fatalf("bad answer %q: %v", rec.Body.String(), err)
		}
		sent := len(api.SubscribeMessages("")) - before
		used := left - api.World().Subscription(openid, "FuzzTemplate").Remaining
		if ok := *resp.ErrCode == 0; ok != (sent == 1) || ok != (used == 1) || sent > 1 || used > 1 {
			t.Fatalf("errcode %d but %d messages recorded and %d acceptances used", *resp.ErrCode, sent, used)
		}
	})
}
