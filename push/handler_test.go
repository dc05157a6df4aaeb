package push

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wxcrypt"
)

func hdr(msgType, event string, t int64) message.Header {
	return message.Header{ToUserName: "gh_97417a04a28d", FromUserName: "o9AgO5Kd5ggOC-bXrbNODIiE3bGY", CreateTime: t, MsgType: msgType, Event: event}
}

// samplePushes has one push of every kind the message model types.
func samplePushes() []message.Push {
	return []message.Push{
		&message.Text{Header: hdr("text", "", 1714112401), Content: "你好 <wxgate> & ]]> friends", MsgID: "6054768590064713728"},
		&message.Image{Header: hdr("image", "", 1714112402), PicURL: "http://mmbiz.qpic.cn/x", MediaID: "media-1", MsgID: "6054768590064713729"},
		&message.MiniProgramPage{Header: hdr("miniprogrampage", "", 1714112403), MsgID: "6054768590064713730", Title: "Card", AppID: "wxba5fad812f8e6fb9", PagePath: "pages/index/index?a=1&b=2", ThumbURL: "http://x/y.jpg", ThumbMediaID: "thumb-1"},
		&message.UserEnterTempSession{Header: hdr("event", "user_enter_tempsession", 1714112404), SessionFrom: "order-42"},
		&message.DebugDemo{Header: hdr("event", "debug_demo", 1714112405), DebugStr: "hello world"},
		&message.SubscribeMsgPopupEvent{Header: hdr("event", "subscribe_msg_popup_event", 1714112406), List: []message.SubscribePopupItem{{TemplateID: "VRR0", SubscribeStatusString: "accept", PopupScene: 2}, {TemplateID: "VRR1", SubscribeStatusString: "reject", PopupScene: 0}}},
		&message.SubscribeMsgChangeEvent{Header: hdr("event", "subscribe_msg_change_event", 1714112407), List: []message.SubscribeChangeItem{{TemplateID: "T1", SubscribeStatusString: "reject"}}},
		&message.SubscribeMsgSentEvent{Header: hdr("event", "subscribe_msg_sent_event", 1714112408), List: []message.SubscribeSentItem{{TemplateID: "T2", MsgID: "1864323726461255680", ErrorCode: 0, ErrorStatus: "success"}}},
		&message.MediaCheck{Header: hdr("event", "wxa_media_check", 1714112409), AppID: "wxb04d", TraceID: "690b03d2-301f6111-35ffbd44", Version: 2, Result: message.MediaCheckResult{Suggest: "pass", Label: "100"}, Detail: []message.MediaCheckDetail{{Strategy: "content_model", Suggest: "pass", Label: "100", Prob: 90}}},
		&message.UserInfoModified{Header: hdr("event", "user_info_modified", 1714112410), AuthChange: message.AuthChange{OpenID: "o1", AppID: "wxa", RevokeInfo: "1"}},
		&message.UserAuthorizationRevoke{Header: hdr("event", "user_authorization_revoke", 1714112411), AuthChange: message.AuthChange{OpenID: "o1", AppID: "wxa", RevokeInfo: "3"}},
		&message.UserAuthorizationCancellation{Header: hdr("event", "user_authorization_cancellation", 1714112412), AuthChange: message.AuthChange{OpenID: "o1", AppID: "wxa"}},
		&message.TradeManage{Header: hdr("event", "trade_manage_remind_shipping", 1714112413), TransactionID: "4200001", MerchantID: "1600", MerchantTradeNo: "T1", PayTime: 1714112000, Msg: "please ship"},
		&message.XPayGoodsDeliverNotify{Header: hdr("event", "xpay_goods_deliver_notify", 1714112414), OpenID: "o1", OutTradeNo: "out-1", Env: 0, WeChatPayInfo: message.XPayWeChatPayInfo{MchOrderNo: "m1", TransactionID: "t1", PaidTime: 1714112000}, GoodsInfo: message.XPayGoodsInfo{ProductID: "p1", Quantity: 2, OrigPrice: 100, ActualPrice: 90, Attach: "a"}},
		&message.XPayCoinPayNotify{Header: hdr("event", "xpay_coin_pay_notify", 1714112415), OpenID: "o1", OutTradeNo: "out-2", Env: 1},
		&message.Unknown{Header: hdr("event", "add_express_path", 1714112416), Fields: []message.Field{{Name: "DeliveryID", Value: message.StringValue("SF")}, {Name: "Count", Value: message.NumberValue("2")}}},
	}
}

var allFormats = []message.Format{message.FormatXML, message.FormatJSON}
var wireModes = []Mode{ModePlain, ModeCompat, ModeSafe}

// TestEveryModeFormatAndType sends every push kind in every mode and format
// and checks that the handler gets it typed and unchanged.
func TestEveryModeFormatAndType(t *testing.T) {
	for _, p := range samplePushes() {
		for _, f := range allFormats {
			plaintext, err := message.Encode(p, f)
			if err != nil {
				t.Fatalf("%T: encode: %v", p, err)
			}
			// Unknown pushes are compared with what the decoder makes of them.
			want := p
			if _, ok := p.(*message.Unknown); ok {
				if want, err = message.Decode(plaintext, f); err != nil {
					t.Fatal(err)
				}
			}
			for _, m := range wireModes {
				name := fmt.Sprintf("%s/%s/%s", message.KindOf(p), f, m)
				t.Run(name, func(t *testing.T) {
					var got message.Push
					var gotReq Request
					r := NewRouter()
					r.Fallback(func(_ context.Context, req *Request) (message.Reply, error) {
						got, gotReq = req.Push, *req
						return nil, nil
					})
					h, _ := newTestHandler(t, Config{}, r)
					rec := serve(h, wire{mode: m, format: f, plaintext: plaintext}.request(t))
					if rec.Code != http.StatusOK || rec.Body.String() != "success" {
						t.Fatalf("status %d body %q", rec.Code, rec.Body)
					}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("handler got\n%#v\nwant\n%#v", got, want)
					}
					if gotReq.Mode != m || gotReq.Format != f || gotReq.AppID != testAppID {
						t.Fatalf("request mode %v format %v app %q", gotReq.Mode, gotReq.Format, gotReq.AppID)
					}
				})
			}
		}
	}
}

// TestVectorsThroughHandler replays the shared decrypt vectors through
// ServeHTTP with their own URL parameters.
func TestVectorsThroughHandler(t *testing.T) {
	for _, v := range loadDecryptVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			ts, _ := strconv.ParseInt(v.Timestamp, 10, 64)
			var got []byte
			r := NewRouter()
			r.Fallback(func(_ context.Context, req *Request) (message.Reply, error) {
				got = append([]byte(nil), req.Plaintext...)
				return nil, nil
			})
			h, _ := newTestHandler(t, Config{AppID: v.AppID, Token: v.Token, AESKeys: []string{v.EncodingAESKey}, Mode: ModeSafe, Now: func() time.Time { return time.Unix(ts, 0) }}, r)
			f := message.FormatXML
			if v.Format == "json" {
				f = message.FormatJSON
			}
			body := v.Body
			if body == "" {
				env := message.Envelope{ToUserName: "gh_x", Encrypt: v.Encrypt}
				body = string(env.Append(nil, f))
			}
			q := url.Values{"signature": {wxcrypt.Signature(v.Token, v.Timestamp, v.Nonce)}, "timestamp": {v.Timestamp}, "nonce": {v.Nonce}, "encrypt_type": {"aes"}, "msg_signature": {v.MsgSignature}}
			rec := serve(h, httptest.NewRequest(http.MethodPost, "/wechat?"+q.Encode(), strings.NewReader(body)))
			if rec.Code != http.StatusOK || string(got) != v.ExpectMsg {
				t.Fatalf("status %d body %q; plaintext %q", rec.Code, rec.Body, got)
			}
		})
	}
}

func TestURLVerification(t *testing.T) {
	h, _ := newTestHandler(t, Config{Now: func() time.Time { return time.Unix(1714036504, 0) }}, nil)
	// The official example: Token AAAAA.
	rec := serve(h, httptest.NewRequest(http.MethodGet, "/wechat?signature=f464b24fc39322e44b38aa78f5edd27bd1441696&echostr=4375120948345356249&timestamp=1714036504&nonce=1514711492", nil))
	if rec.Code != 200 || rec.Body.String() != "4375120948345356249" {
		t.Fatalf("status %d body %q", rec.Code, rec.Body)
	}
	// echostr comes back byte for byte, escapes decoded once.
	sig := wxcrypt.Signature(testToken, "1714036500", "2")
	rec = serve(h, httptest.NewRequest(http.MethodGet, "/wechat?signature="+sig+"&timestamp=1714036500&nonce=2&echostr=a%2Bb+c%22", nil))
	if rec.Code != 200 || rec.Body.String() != `a+b c"` {
		t.Fatalf("status %d body %q", rec.Code, rec.Body)
	}
	rec = serve(h, httptest.NewRequest(http.MethodGet, "/wechat?signature=f464b24fc39322e44b38aa78f5edd27bd1441697&echostr=1&timestamp=1714036504&nonce=1514711492", nil))
	if rec.Code != http.StatusForbidden || strings.Contains(rec.Body.String(), "1\n") && len(rec.Body.String()) < 3 {
		t.Fatalf("bad signature: status %d body %q", rec.Code, rec.Body)
	}
	rec = serve(h, httptest.NewRequest(http.MethodGet, "/wechat?signature=f464b24fc39322e44b38aa78f5edd27bd1441696&timestamp=1714036504&nonce=1514711492", nil))
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("missing echostr: status %d", rec.Code)
	}
}

// TestBadInput: every malformed, forged, stale, oversized or misdirected
// request gets its status, runs no handler, and leaves no dedup entry.
func TestBadInput(t *testing.T) {
	text := &message.Text{Header: hdr("text", "", 1714112401), Content: "hi", MsgID: "1"}
	xmlText, _ := message.Encode(text, message.FormatXML)
	jsonText, _ := message.Encode(text, message.FormatJSON)
	key := wxcrypt.MustParseKey(testKey)
	// raw seals an arbitrary plaintext block sequence, to forge bad pads.
	raw := func(plain []byte) string { return forge(t, plain) }
	setEncrypt := func(enc string) func(q url.Values, body *[]byte) {
		return func(q url.Values, body *[]byte) {
			env := message.Envelope{ToUserName: "gh_x", Encrypt: enc}
			*body = env.Append(nil, message.FormatXML)
			q.Set("msg_signature", wxcrypt.Signature(testToken, q.Get("timestamp"), q.Get("nonce"), enc))
		}
	}
	plainBlock := func(msgLen uint32, app string, pad byte, padLen int) []byte {
		b := make([]byte, 16)
		b = binary.BigEndian.AppendUint32(b, msgLen)
		b = append(b, xmlText...)
		b = append(b, app...)
		for i := 0; i < padLen; i++ {
			b = append(b, pad)
		}
		return b
	}
	n := 20 + len(xmlText) + len(testAppID)
	goodPad := 32 - n%32
	safe := func(mut func(q url.Values, body *[]byte)) wire {
		return wire{mode: ModeSafe, format: message.FormatXML, plaintext: xmlText, mutate: mut}
	}
	cases := []struct {
		name   string
		cfg    Config
		req    func() *http.Request
		status int
	}{
		{"missing signature", Config{}, func() *http.Request {
			return wire{mode: ModePlain, format: message.FormatXML, plaintext: xmlText, mutate: func(q url.Values, _ *[]byte) { q.Del("signature") }}.request(t)
		}, 400},
		{"missing timestamp", Config{}, func() *http.Request {
			return wire{mode: ModePlain, format: message.FormatXML, plaintext: xmlText, mutate: func(q url.Values, _ *[]byte) { q.Del("timestamp") }}.request(t)
		}, 400},
		{"missing nonce", Config{}, func() *http.Request {
			return wire{mode: ModePlain, format: message.FormatXML, plaintext: xmlText, mutate: func(q url.Values, _ *[]byte) { q.Del("nonce") }}.request(t)
		}, 400},
		{"missing msg_signature", Config{}, func() *http.Request {
			return safe(func(q url.Values, _ *[]byte) { q.Del("msg_signature") }).request(t)
		}, 400},
		{"non-numeric timestamp", Config{}, func() *http.Request {
			return wire{mode: ModePlain, format: message.FormatXML, plaintext: xmlText, timestamp: "17141x2445"}.request(t)
		}, 400},
		{"unknown encrypt_type", Config{}, func() *http.Request {
			return safe(func(q url.Values, _ *[]byte) { q.Set("encrypt_type", "des") }).request(t)
		}, 400},
		{"wrong signature", Config{}, func() *http.Request {
			return wire{mode: ModePlain, format: message.FormatXML, plaintext: xmlText, token: "BBBBB"}.request(t)
		}, 403},
		{"bad URL signature with a good msg_signature", Config{}, func() *http.Request {
			return safe(func(q url.Values, _ *[]byte) { q.Set("signature", wxcrypt.Signature("other", "1", "2")) }).request(t)
		}, 403},
		{"plaintext refused in compat mode", Config{Mode: ModeCompat}, func() *http.Request {
			return wire{mode: ModePlain, format: message.FormatXML, plaintext: xmlText}.request(t)
		}, 403},
		{"wrong msg_signature", Config{}, func() *http.Request {
			return safe(func(q url.Values, _ *[]byte) { q.Set("msg_signature", wxcrypt.Signature("other", "1", "2")) }).request(t)
		}, 403},
		{"msg_signature over another body", Config{}, func() *http.Request {
			return safe(func(q url.Values, body *[]byte) {
				other, _ := key.Encrypt(nil, []byte("<xml><MsgType>text</MsgType></xml>"), testAppID)
				env := message.Envelope{ToUserName: "gh_x", Encrypt: other}
				*body = env.Append(nil, message.FormatXML)
			}).request(t)
		}, 403},
		{"bad base64", Config{}, func() *http.Request { return safe(setEncrypt("!!!!not*base64!!!!")).request(t) }, 400},
		{"ciphertext not a multiple of 16", Config{}, func() *http.Request {
			return safe(setEncrypt(base64.StdEncoding.EncodeToString(make([]byte, 40)))).request(t)
		}, 400},
		{"bad pad", Config{}, func() *http.Request {
			return safe(setEncrypt(raw(plainBlock(uint32(len(xmlText)), testAppID, 0, goodPad)))).request(t)
		}, 400},
		{"length past the end", Config{}, func() *http.Request {
			return safe(setEncrypt(raw(plainBlock(100000, testAppID, byte(goodPad), goodPad)))).request(t)
		}, 400},
		{"wrong AppID", Config{}, func() *http.Request {
			return wire{mode: ModeSafe, format: message.FormatXML, plaintext: xmlText, appID: "wx0000000000000000"}.request(t)
		}, 403},
		{"wrong key", Config{}, func() *http.Request {
			return wire{mode: ModeSafe, format: message.FormatXML, plaintext: xmlText, key: testKey2}.request(t)
		}, 400},
		{"oversized body", Config{MaxBody: 512}, func() *http.Request {
			return wire{mode: ModePlain, format: message.FormatXML, plaintext: []byte("<xml>" + strings.Repeat("<A>x</A>", 100) + "</xml>")}.request(t)
		}, 413},
		{"oversized body without Content-Length", Config{MaxBody: 512}, func() *http.Request {
			r := wire{mode: ModePlain, format: message.FormatXML, plaintext: []byte("<xml>" + strings.Repeat("<A>x</A>", 100) + "</xml>")}.request(t)
			r.ContentLength = -1
			return r
		}, 413},
		{"malformed XML", Config{}, func() *http.Request {
			return wire{mode: ModePlain, format: message.FormatXML, plaintext: []byte("<xml><ToUserName>a</FromUserName></xml>")}.request(t)
		}, 400},
		{"malformed JSON", Config{}, func() *http.Request {
			return wire{mode: ModePlain, format: message.FormatJSON, plaintext: []byte(`{"ToUserName":"a",`)}.request(t)
		}, 400},
		{"malformed JSON inside the envelope", Config{}, func() *http.Request {
			return wire{mode: ModeSafe, format: message.FormatJSON, plaintext: []byte(`{"MsgType":`)}.request(t)
		}, 400},
		{"neither XML nor JSON", Config{}, func() *http.Request {
			return wire{mode: ModePlain, format: message.FormatXML, plaintext: []byte("hello")}.request(t)
		}, 400},
		{"empty body", Config{}, func() *http.Request {
			return wire{mode: ModePlain, format: message.FormatXML, plaintext: []byte{}}.request(t)
		}, 400},
		{"no Encrypt field", Config{}, func() *http.Request {
			return safe(func(_ url.Values, body *[]byte) { *body = xmlText }).request(t)
		}, 400},
		{"timestamp too old", Config{}, func() *http.Request {
			return wire{mode: ModePlain, format: message.FormatJSON, plaintext: jsonText, timestamp: strconv.FormatInt(testNow.Add(-6*time.Minute).Unix(), 10)}.request(t)
		}, 403},
		{"timestamp in the future", Config{}, func() *http.Request {
			return wire{mode: ModePlain, format: message.FormatJSON, plaintext: jsonText, timestamp: strconv.FormatInt(testNow.Add(6*time.Minute).Unix(), 10)}.request(t)
		}, 403},
		{"plaintext refused in safe mode", Config{Mode: ModeSafe}, func() *http.Request {
			return wire{mode: ModePlain, format: message.FormatXML, plaintext: xmlText}.request(t)
		}, 403},
		{"encrypted refused in plain mode", Config{Mode: ModePlain}, func() *http.Request {
			return wire{mode: ModeSafe, format: message.FormatXML, plaintext: xmlText}.request(t)
		}, 403},
		{"plaintext refused in auto mode with a key", Config{AESKeys: []string{testKey}}, func() *http.Request {
			return wire{mode: ModePlain, format: message.FormatXML, plaintext: xmlText}.request(t)
		}, 403},
		{"encrypted push with no key configured", Config{AESKeys: []string{}}, func() *http.Request {
			return wire{mode: ModeSafe, format: message.FormatXML, plaintext: xmlText}.request(t)
		}, 403},
		{"PUT", Config{}, func() *http.Request {
			r := wire{mode: ModePlain, format: message.FormatXML, plaintext: xmlText}.request(t)
			r.Method = http.MethodPut
			return r
		}, 405},
		{"DELETE", Config{}, func() *http.Request { return httptest.NewRequest(http.MethodDelete, "/wechat", nil) }, 405},
		{"malformed query escape", Config{}, func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "/wechat?signature=%zz&timestamp=1&nonce=2", strings.NewReader("<xml/>"))
		}, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var calls atomic.Int32
			r := NewRouter()
			r.Fallback(func(context.Context, *Request) (message.Reply, error) { calls.Add(1); return nil, nil })
			dedup := NewMemoryDeduper(time.Hour, 0)
			cfg := c.cfg
			cfg.Deduper = dedup
			h, logs := newTestHandler(t, cfg, r)
			rec := serve(h, c.req())
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d (body %q)", rec.Code, c.status, rec.Body)
			}
			body := rec.Body.String()
			if strings.Count(body, "\n") != 1 || !strings.HasSuffix(body, "\n") || body == "success" {
				t.Fatalf("error body is not one line: %q", body)
			}
			if calls.Load() != 0 || dedup.Len() != 0 {
				t.Fatalf("left something behind: %d handler calls, %d dedup entries", calls.Load(), dedup.Len())
			}
			for _, secret := range []string{testToken, testKey, testKey2} {
				if strings.Contains(body, secret) || strings.Contains(logs.String(), secret) {
					t.Fatalf("secret in body or log: %q / %s", body, logs)
				}
			}
			if !strings.Contains(logs.String(), `"status":`+strconv.Itoa(c.status)) {
				t.Fatalf("no log line with the status: %s", logs)
			}
		})
	}
}

// forge encrypts plain (a multiple of 32 bytes is not required: it is
// padded with zeros to 16) with testKey, without any of the envelope's
// own padding, to build ciphertexts with broken fields.
func forge(t *testing.T, plain []byte) string {
	t.Helper()
	if len(plain)%32 != 0 {
		t.Fatalf("forged plaintext must be a multiple of 32 bytes, got %d", len(plain))
	}
	return forgeCBC(wxcrypt.MustParseKey(testKey), plain)
}

func TestReplayedRequestIsADuplicate(t *testing.T) {
	var calls atomic.Int32
	r := NewRouter()
	On(r, func(_ context.Context, m *message.Text) (message.Reply, error) {
		calls.Add(1)
		return message.TransferCustomerService(), nil
	})
	h, logs := newTestHandler(t, Config{}, r)
	text := &message.Text{Header: hdr("text", "", 1714112401), Content: "hi", MsgID: "77"}
	for _, f := range allFormats {
		calls.Store(0)
		plaintext, _ := message.Encode(text, f)
		w := wire{mode: ModeSafe, format: f, plaintext: plaintext}
		req := w.request(t)
		body := readAll(t, req.Body)
		first := serve(h, httptest.NewRequest(http.MethodPost, req.URL.String(), strings.NewReader(body)))
		again := serve(h, httptest.NewRequest(http.MethodPost, req.URL.String(), strings.NewReader(body)))
		if first.Code != 200 || again.Code != 200 || calls.Load() != 1 {
			t.Fatalf("%s: statuses %d/%d, %d calls", f, first.Code, again.Code, calls.Load())
		}
		a, b := openReply(t, first.Body.Bytes(), f), openReply(t, again.Body.Bytes(), f)
		if string(a) != string(b) || !strings.Contains(string(a), "transfer_customer_service") {
			t.Fatalf("%s: different answers %q / %q", f, a, b)
		}
		// The JSON round uses another message, so it is not a duplicate.
		text.MsgID = "78"
	}
	if !strings.Contains(logs.String(), `"result":"duplicate"`) {
		t.Fatalf("no duplicate in the log: %s", logs)
	}
}

// openReply checks and opens an encrypted passive reply.
func openReply(t *testing.T, body []byte, f message.Format) []byte {
	t.Helper()
	env, err := message.ParseEnvelope(body, f)
	if err != nil {
		t.Fatalf("reply %q: %v", body, err)
	}
	if env.MsgSignature != wxcrypt.Signature(testToken, strconv.FormatInt(env.TimeStamp, 10), env.Nonce, env.Encrypt) {
		t.Fatal("reply MsgSignature does not verify")
	}
	if env.TimeStamp != testNow.Unix() {
		t.Fatalf("reply TimeStamp %d", env.TimeStamp)
	}
	msg, err := wxcrypt.MustParseKey(testKey).Decrypt(env.Encrypt, testAppID)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestPassiveReplies(t *testing.T) {
	text := &message.Text{Header: hdr("text", "", 1714112401), Content: "need a human", MsgID: "90"}
	xpay := &message.XPayGoodsDeliverNotify{Header: hdr("event", "xpay_goods_deliver_notify", 1714112414), OpenID: "o1", OutTradeNo: "out-9"}
	for _, f := range allFormats {
		for _, m := range wireModes {
			t.Run(fmt.Sprintf("%s/%s", f, m), func(t *testing.T) {
				r := NewRouter()
				On(r, func(context.Context, *message.Text) (message.Reply, error) {
					return message.TransferCustomerService(), nil
				})
				r.HandleEvent("xpay_*", func(context.Context, *Request) (message.Reply, error) { return message.XPayOK, nil })
				h, _ := newTestHandler(t, Config{}, r)
				for _, p := range []message.Push{text, xpay} {
					plaintext, _ := message.Encode(p, f)
					rec := serve(h, wire{mode: m, format: f, plaintext: plaintext}.request(t))
					if rec.Code != 200 {
						t.Fatalf("status %d %q", rec.Code, rec.Body)
					}
					reply := rec.Body.Bytes()
					if m != ModePlain {
						reply = openReply(t, reply, f)
					}
					if gotF, err := message.DetectFormat(reply); err != nil || gotF != f {
						t.Fatalf("reply %q not in %s", reply, f)
					}
					wantCT := "application/xml"
					if f == message.FormatJSON {
						wantCT = "application/json"
					}
					if !strings.HasPrefix(rec.Header().Get("Content-Type"), wantCT) {
						t.Fatalf("Content-Type %q", rec.Header().Get("Content-Type"))
					}
					want, _ := (func() ([]byte, error) {
						if _, ok := p.(*message.Text); ok {
							return message.TransferCustomerService().AppendReply(nil, p.Head(), f, testNow.Unix())
						}
						return message.XPayOK.AppendReply(nil, p.Head(), f, testNow.Unix())
					})()
					if string(reply) != string(want) {
						t.Fatalf("reply %q, want %q", reply, want)
					}
				}
			})
		}
	}
}

func TestKeyRotation(t *testing.T) {
	var calls atomic.Int32
	r := NewRouter()
	r.Fallback(func(context.Context, *Request) (message.Reply, error) {
		calls.Add(1)
		return message.TransferCustomerService(), nil
	})
	h, logs := newTestHandler(t, Config{AESKeys: []string{testKey2, testKey}}, r)
	text := &message.Text{Header: hdr("text", "", 1714112401), Content: "old key", MsgID: "5"}
	plaintext, _ := message.Encode(text, message.FormatJSON)
	// Sealed with the previous key: opened, and answered with that key.
	rec := serve(h, wire{mode: ModeSafe, format: message.FormatJSON, plaintext: plaintext, key: testKey}.request(t))
	if rec.Code != 200 || calls.Load() != 1 {
		t.Fatalf("status %d", rec.Code)
	}
	openReply(t, rec.Body.Bytes(), message.FormatJSON) // decrypts with testKey
	if strings.Contains(logs.String(), testKey) || strings.Contains(logs.String(), testKey2) {
		t.Fatal("key in logs")
	}
}

func TestDedupConcurrentRetryWaitsForFirst(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	r := NewRouter()
	r.Fallback(func(ctx context.Context, _ *Request) (message.Reply, error) {
		calls.Add(1)
		<-release
		return message.TransferCustomerService(), nil
	})
	h, _ := newTestHandler(t, Config{}, r)
	plaintext, _ := message.Encode(&message.Text{Header: hdr("text", "", 1714112401), Content: "x", MsgID: "9"}, message.FormatXML)
	w := wire{mode: ModePlain, format: message.FormatXML, plaintext: plaintext}
	var wg sync.WaitGroup
	bodies := make([]string, 3)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bodies[i] = serve(h, w.request(t)).Body.String()
		}()
	}
	for start := time.Now(); calls.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			close(release)
			t.Fatal("the handler was never called")
		}
	}
	time.Sleep(20 * time.Millisecond) // let the retries reach the wait
	close(release)
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("handler ran %d times", calls.Load())
	}
	for _, b := range bodies {
		if b != bodies[0] || !strings.Contains(b, "transfer_customer_service") {
			t.Fatalf("answers differ: %q", bodies)
		}
	}
}

func TestFailureFreesTheKey(t *testing.T) {
	var calls atomic.Int32
	r := NewRouter()
	r.Fallback(func(context.Context, *Request) (message.Reply, error) {
		switch calls.Add(1) {
		case 1:
			return nil, errors.New("database down")
		case 2:
			panic("handler bug")
		}
		return nil, nil
	})
	h, logs := newTestHandler(t, Config{}, r)
	plaintext, _ := message.Encode(&message.Text{Header: hdr("text", "", 1714112401), Content: "x", MsgID: "10"}, message.FormatXML)
	w := wire{mode: ModeSafe, format: message.FormatXML, plaintext: plaintext}
	for i, want := range []int{500, 500, 200, 200} {
		rec := serve(h, w.request(t))
		if rec.Code != want {
			t.Fatalf("delivery %d: status %d, want %d", i+1, rec.Code, want)
		}
	}
	if calls.Load() != 3 {
		t.Fatalf("handler ran %d times, want 3 (error, panic, success; then a duplicate)", calls.Load())
	}
	if !strings.Contains(logs.String(), `"result":"panic"`) || !strings.Contains(logs.String(), "database down") {
		t.Fatalf("log: %s", logs)
	}
}

func TestHandlerDeadline(t *testing.T) {
	var sawDeadline atomic.Bool
	r := NewRouter()
	r.Fallback(func(ctx context.Context, _ *Request) (message.Reply, error) {
		if d, ok := ctx.Deadline(); ok && time.Until(d) <= 50*time.Millisecond {
			sawDeadline.Store(true)
		}
		time.Sleep(300 * time.Millisecond) // ignores ctx on purpose
		return message.TransferCustomerService(), nil
	})
	h, logs := newTestHandler(t, Config{HandlerTimeout: 50 * time.Millisecond}, r)
	plaintext, _ := message.Encode(&message.Text{Header: hdr("text", "", 1714112401), Content: "x", MsgID: "11"}, message.FormatXML)
	w := wire{mode: ModeSafe, format: message.FormatXML, plaintext: plaintext}
	rec := serve(h, w.request(t))
	if rec.Code != 200 || rec.Body.String() != "success" || !sawDeadline.Load() {
		t.Fatalf("status %d body %q deadline %v", rec.Code, rec.Body, sawDeadline.Load())
	}
	if !strings.Contains(logs.String(), `"result":"timeout"`) {
		t.Fatalf("timeout not logged: %s", logs)
	}
	// WeChat's retry gets the same "success" without a second run.
	if rec := serve(h, w.request(t)); rec.Body.String() != "success" {
		t.Fatalf("retry got %q", rec.Body)
	}
}

func TestRouter(t *testing.T) {
	var order []string
	mw := func(name string) Middleware {
		return func(next HandlerFunc) HandlerFunc {
			return func(ctx context.Context, req *Request) (message.Reply, error) {
				order = append(order, name)
				return next(ctx, req)
			}
		}
	}
	r := NewRouter()
	r.Use(mw("outer"), mw("inner"))
	var got []string
	On(r, func(_ context.Context, m *message.TradeManage) (message.Reply, error) {
		got = append(got, "trade:"+m.Event)
		return nil, nil
	})
	r.HandleEvent("xpay_*", func(_ context.Context, req *Request) (message.Reply, error) {
		got = append(got, "xpay*:"+req.Push.Head().Event)
		return nil, nil
	})
	r.HandleEvent("xpay_coin_*", func(_ context.Context, req *Request) (message.Reply, error) {
		got = append(got, "coin*:"+req.Push.Head().Event)
		return nil, nil
	})
	r.HandleMsgType("image", func(context.Context, *Request) (message.Reply, error) { got = append(got, "image"); return nil, nil })
	r.Fallback(func(_ context.Context, req *Request) (message.Reply, error) {
		got = append(got, "fallback:"+message.KindOf(req.Push).String())
		return nil, nil
	})
	for _, p := range []message.Push{
		&message.TradeManage{Header: hdr("event", "trade_manage_order_settlement", 1)},
		&message.TradeManage{Header: hdr("event", "trade_manage_remind_access_api", 1)},
		&message.XPayGoodsDeliverNotify{Header: hdr("event", "xpay_goods_deliver_notify", 1)},
		&message.XPayCoinPayNotify{Header: hdr("event", "xpay_coin_pay_notify", 1)},
		&message.Image{Header: hdr("image", "", 1)},
		&message.Text{Header: hdr("text", "", 1)},
	} {
		if _, err := r.Dispatch(context.Background(), &Request{Push: p}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"trade:trade_manage_order_settlement", "trade:trade_manage_remind_access_api", "xpay*:xpay_goods_deliver_notify", "coin*:xpay_coin_pay_notify", "image", "fallback:text"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("routes %q\nwant %q", got, want)
	}
	if len(order) != 12 || order[0] != "outer" || order[1] != "inner" {
		t.Fatalf("middleware order %q", order)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("On with *message.Unknown did not panic")
		}
	}()
	On(r, func(context.Context, *message.Unknown) (message.Reply, error) { return nil, nil })
}

func TestLogLine(t *testing.T) {
	h, logs := newTestHandler(t, Config{}, nil)
	plaintext, _ := message.Encode(&message.UserEnterTempSession{Header: hdr("event", "user_enter_tempsession", 1714112404), SessionFrom: "secret-session"}, message.FormatJSON)
	serve(h, wire{mode: ModeSafe, format: message.FormatJSON, plaintext: plaintext}.request(t))
	line := logs.String()
	for _, want := range []string{`"app":"wxba5fad812f8e6fb9"`, `"mode":"safe"`, `"format":"json"`, `"msg_type":"event"`, `"event":"user_enter_tempsession"`, `"result":"ok"`, `"latency":`} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %s: %s", want, line)
		}
	}
	for _, secret := range []string{testToken, testKey, "secret-session", "o9AgO5Kd5ggOC"} {
		if strings.Contains(line, secret) {
			t.Errorf("log line shows %q", secret)
		}
	}
	if strings.Count(line, "\n") != 1 {
		t.Errorf("want one line, got %q", line)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no token":          {AppID: testAppID},
		"short token":       {AppID: testAppID, Token: "ab"},
		"token with space":  {AppID: testAppID, Token: "abc def"},
		"bad key":           {AppID: testAppID, Token: testToken, AESKeys: []string{"short"}},
		"safe without key":  {AppID: testAppID, Token: testToken, Mode: ModeSafe},
		"key without appid": {Token: testToken, AESKeys: []string{testKey}},
		"plain with key":    {AppID: testAppID, Token: testToken, Mode: ModePlain, AESKeys: []string{testKey}},
	} {
		_, err := NewHandler(cfg, nil)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), testKey) || (cfg.Token != "" && len(cfg.Token) > 3 && strings.Contains(err.Error(), cfg.Token)) {
			t.Errorf("%s: error shows a secret: %v", name, err)
		}
	}
	if _, err := NewHandler(Config{Token: testToken, Mode: ModePlain}, nil); err != nil {
		t.Errorf("plain mode without AppID: %v", err)
	}
	for _, s := range []string{"auto", "plain", "compat", "SAFE"} {
		if _, err := ParseMode(s); err != nil {
			t.Error(err)
		}
	}
	if _, err := ParseMode("secure"); err == nil {
		t.Error("ParseMode accepted secure")
	}
}

func TestReplayWindowConfig(t *testing.T) {
	for _, w := range []time.Duration{-1, MaxReplayWindow + 1} {
		if _, err := NewHandler(Config{Token: testToken, ReplayWindow: w}, nil); err == nil {
			t.Errorf("ReplayWindow %v accepted", w)
		}
	}
	// A Deduper that forgets before a replay could still arrive.
	if _, err := NewHandler(Config{Token: testToken, ReplayWindow: time.Minute, Deduper: NewMemoryDeduper(time.Minute, 0)}, nil); err == nil {
		t.Error("a Deduper TTL under twice the replay window was accepted")
	}
	if _, err := NewHandler(Config{Token: testToken, ReplayWindow: time.Minute, Deduper: NewMemoryDeduper(2*time.Minute, 0)}, nil); err != nil {
		t.Error(err)
	}
	h, _ := newTestHandler(t, Config{}, nil)
	if h.cfg.ReplayWindow != DefaultReplayWindow {
		t.Errorf("zero ReplayWindow resolved to %v", h.cfg.ReplayWindow)
	}
}

// A handler that honours its context and returns right at the deadline
// still settles its dedup key: the retry is answered at once, not held.
func TestDeadlineHonouredSettlesKey(t *testing.T) {
	var calls atomic.Int32
	r := NewRouter()
	r.Fallback(func(ctx context.Context, _ *Request) (message.Reply, error) {
		calls.Add(1)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	dedup := NewMemoryDeduper(time.Hour, 0)
	h, _ := newTestHandler(t, Config{HandlerTimeout: 30 * time.Millisecond, Deduper: dedup}, r)
	for i := 0; i < 20; i++ {
		plaintext, _ := message.Encode(&message.Text{Header: hdr("text", "", 1714112401), Content: "x", MsgID: message.MsgID(strconv.Itoa(500 + i))}, message.FormatXML)
		w := wire{mode: ModePlain, format: message.FormatXML, plaintext: plaintext}
		if rec := serve(h, w.request(t)); rec.Code != 200 || rec.Body.String() != "success" {
			t.Fatalf("status %d body %q", rec.Code, rec.Body)
		}
		// Settled: Acquire answers at once with a context already done.
		done, cancel := context.WithCancel(context.Background())
		cancel()
		if _, acquired, err := dedup.Acquire(done, testAppID+"|msg:"+strconv.Itoa(500+i)); acquired || err != nil {
			t.Fatalf("key %d not settled: acquired=%v err=%v", i, acquired, err)
		}
	}
	if calls.Load() != 20 {
		t.Fatalf("%d calls", calls.Load())
	}
}

// failingReply panics while it renders.
type failingReply struct{}

func (failingReply) AppendReply([]byte, *message.Header, message.Format, int64) ([]byte, error) {
	panic("reply bug")
}

func TestPanickingReplyIsAFailure(t *testing.T) {
	var calls atomic.Int32
	r := NewRouter()
	r.Fallback(func(context.Context, *Request) (message.Reply, error) {
		if calls.Add(1) == 1 {
			return failingReply{}, nil
		}
		return nil, nil
	})
	h, logs := newTestHandler(t, Config{}, r)
	plaintext, _ := message.Encode(&message.Text{Header: hdr("text", "", 1714112401), Content: "x", MsgID: "600"}, message.FormatJSON)
	w := wire{mode: ModeSafe, format: message.FormatJSON, plaintext: plaintext}
	if rec := serve(h, w.request(t)); rec.Code != 500 {
		t.Fatalf("status %d", rec.Code)
	}
	// The key was released: the retry runs the handler again.
	if rec := serve(h, w.request(t)); rec.Code != 200 || calls.Load() != 2 {
		t.Fatalf("retry: status %d, %d calls", rec.Code, calls.Load())
	}
	if !strings.Contains(logs.String(), `"result":"panic"`) {
		t.Fatalf("log: %s", logs)
	}
}

func TestHandlerTimeoutCapped(t *testing.T) {
	if _, err := NewHandler(Config{AppID: testAppID, Token: testToken, AESKeys: []string{testKey}, HandlerTimeout: 5 * time.Second}, nil); err == nil {
		t.Fatal("a 5 s handler timeout was accepted")
	}
}
