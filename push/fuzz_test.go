package push

import (
	"bytes"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wxcrypt"
)

// FuzzServeHTTP feeds arbitrary bodies, correctly signed, through the whole
// handler: it must never panic and must answer one of its statuses.
func FuzzServeHTTP(f *testing.F) {
	text, _ := message.Encode(&message.Text{Header: hdr("text", "", 1), Content: "x", MsgID: "1"}, message.FormatXML)
	f.Add(text, false)
	f.Add([]byte(`{"ToUserName":"gh","FromUserName":"o","CreateTime":1,"MsgType":"event","Event":"debug_demo"}`), false)
	enc, _ := wxcrypt.MustParseKey(testKey).Encrypt(nil, text, testAppID)
	env := message.Envelope{ToUserName: "gh", Encrypt: enc}
	f.Add(env.Append(nil, message.FormatXML), true)
	f.Add(env.Append(nil, message.FormatJSON), true)
	f.Add([]byte("<xml><Encrypt><![CDATA[AAAA]]></Encrypt></xml>"), true)
	h, _ := newTestHandler(f, Config{}, nil)
	f.Fuzz(func(t *testing.T, body []byte, encrypted bool) {
		// A nonce per body, so that the one-use rule does not stop a body
		// before the decoder sees it.
		sum := fnv.New64a()
		sum.Write(body)
		nonce := strconv.FormatUint(sum.Sum64(), 10)
		q := url.Values{"signature": {wxcrypt.Signature(testToken, "1714112445", nonce)}, "timestamp": {"1714112445"}, "nonce": {nonce}}
		if encrypted {
			q.Set("encrypt_type", "aes")
			sig := "0000000000000000000000000000000000000000"
			if format, err := message.DetectFormat(body); err == nil {
				if e, ok, err := message.ExtractEncrypt(body, format); err == nil && ok {
					sig = wxcrypt.Signature(testToken, "1714112445", nonce, string(e))
				}
			}
			q.Set("msg_signature", sig)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/wechat?"+q.Encode(), bytes.NewReader(body)))
		switch rec.Code {
		case 200, 400, 403, 413:
		default:
			t.Fatalf("status %d for %q", rec.Code, body)
		}
	})
}
