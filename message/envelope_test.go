package message

import (
	"errors"
	"strings"
	"testing"
)

// V3: the official safe-mode JSON body.
const (
	v3Encrypt = "+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04="
	v3Body    = `{"ToUserName":"gh_97417a04a28d","Encrypt":"` + v3Encrypt + `"}`
	// V4: the official encrypted reply.
	v4ReplyJSON = `{"Encrypt":"ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ==","MsgSignature":"1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1","TimeStamp":1713424427,"Nonce":"415670741"}`
	v4ReplyXML  = `<xml><Encrypt><![CDATA[ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ==]]></Encrypt><MsgSignature><![CDATA[1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1]]></MsgSignature><TimeStamp>1713424427</TimeStamp><Nonce><![CDATA[415670741]]></Nonce></xml>`
)

var v4Env = Envelope{
	Encrypt:      "ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ==",
	MsgSignature: "1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1",
	TimeStamp:    1713424427,
	Nonce:        "415670741",
}

func TestExtractEncrypt(t *testing.T) {
	v6Compat := "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n<CreateTime>1409735668</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[abcdteT]]></Content>\n<MsgId>6054768590064713728</MsgId>\n<Encrypt><![CDATA[hyzAe4Oz=]]></Encrypt>\n</xml>"
	for _, c := range []struct {
		body string
		f    Format
		want string
		ok   bool
	}{
		{v3Body, FormatJSON, v3Encrypt, true},
		{strings.ReplaceAll(v3Body, "/", `\/`), FormatJSON, v3Encrypt, true},
		{`{"a":{"Encrypt":"nested"},"Encrypt":"top","Encrypt":"second"}`, FormatJSON, "top", true},
		{`{"Encrypt":123}`, FormatJSON, "123", true},
		{v3DebugDemoJSON, FormatJSON, "", false},
		{`<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName><Encrypt><![CDATA[` + v3Encrypt + `]]></Encrypt></xml>`, FormatXML, v3Encrypt, true},
		{v6Compat, FormatXML, "hyzAe4Oz=", true},
		{`<xml><Encrypt>a&amp;b</Encrypt></xml>`, FormatXML, "a&b", true},
		{`<xml><Encrypt>plain</Encrypt></xml>`, FormatXML, "plain", true},
		{`<xml><Encrypt/></xml>`, FormatXML, "", true},
		{`<xml><a><Encrypt>nested</Encrypt></a></xml>`, FormatXML, "", false},
		{specTextXML, FormatXML, "", false},
		{`<xml/>`, FormatXML, "", false},
	} {
		got, ok, err := ExtractEncrypt([]byte(c.body), c.f)
		if err != nil || ok != c.ok || string(got) != c.want {
			t.Errorf("ExtractEncrypt(%.60q) = %q, %v, %v; want %q, %v", c.body, got, ok, err, c.want, c.ok)
		}
	}
	if _, _, err := ExtractEncrypt([]byte(`{"Encrypt":{}}`), FormatJSON); !errors.Is(err, ErrMalformed) {
		t.Errorf("object Encrypt: %v", err)
	}
	if _, _, err := ExtractEncrypt([]byte(`{}`), 0); err == nil {
		t.Error("Format(0) accepted")
	}
	// The result aliases body (no copy) in the usual forms.
	body := []byte(v3Body)
	got, _, _ := ExtractEncrypt(body, FormatJSON)
	if &got[0] != &body[strings.Index(v3Body, "+qdx")] {
		t.Error("JSON result is not a sub-slice of body")
	}
	if cap(got) != len(got) {
		t.Error("result capacity extends into body")
	}
}

func TestExtractEncryptAllocs(t *testing.T) {
	for _, c := range []struct {
		body []byte
		f    Format
	}{{benchXMLEnv, FormatXML}, {benchJSONEnv, FormatJSON}} {
		n := testing.AllocsPerRun(100, func() {
			if _, ok, err := ExtractEncrypt(c.body, c.f); !ok || err != nil {
				t.Fatal(ok, err)
			}
		})
		if n != 0 {
			t.Errorf("%v: %v allocs per ExtractEncrypt", c.f, n)
		}
	}
}

func TestDecodeAllocs(t *testing.T) {
	for _, c := range []struct {
		body []byte
		f    Format
	}{{benchXMLText, FormatXML}, {benchJSONText, FormatJSON}} {
		n := testing.AllocsPerRun(100, func() {
			if _, err := Decode(c.body, c.f); err != nil {
				t.Fatal(err)
			}
		})
		if n > 3 {
			t.Errorf("%v: %v allocs per Decode of a text message", c.f, n)
		}
	}
}

func TestEnvelopeAppend(t *testing.T) {
	req := Envelope{ToUserName: "gh_97417a04a28d", Encrypt: v3Encrypt}
	if got := string(req.Append(nil, FormatJSON)); got != v3Body {
		t.Errorf("JSON request:\n got %s\nwant %s", got, v3Body)
	}
	wantX := `<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName><Encrypt><![CDATA[` + v3Encrypt + `]]></Encrypt></xml>`
	if got := string(req.Append(nil, FormatXML)); got != wantX {
		t.Errorf("XML request:\n got %s\nwant %s", got, wantX)
	}
	if got := string(v4Env.Append(nil, FormatJSON)); got != v4ReplyJSON {
		t.Errorf("JSON reply:\n got %s\nwant %s", got, v4ReplyJSON)
	}
	if got := string(v4Env.Append([]byte("prefix"), FormatXML)); got != "prefix"+v4ReplyXML {
		t.Errorf("XML reply:\n got %s\nwant %s", got, v4ReplyXML)
	}
	if got := string((&Envelope{}).Append(nil, FormatXML)); got != `<xml><Encrypt></Encrypt></xml>` {
		t.Errorf("empty: %s", got)
	}
	// Awkward values survive a round trip or are replaced visibly.
	odd := Envelope{ToUserName: "a]]>b", Encrypt: "x\r\ny", Nonce: `q"\`}
	for _, f := range []Format{FormatXML, FormatJSON} {
		got, err := ParseEnvelope(odd.Append(nil, f), f)
		if err != nil || got != odd {
			t.Errorf("%v: %#v, %v", f, got, err)
		}
	}
	bad := Envelope{Encrypt: "a\x00b\xff"}
	got, err := ParseEnvelope(bad.Append(nil, FormatXML), FormatXML)
	if err != nil || got.Encrypt != "a\uFFFDb\uFFFD" {
		t.Errorf("sanitised XML: %q %v", got.Encrypt, err)
	}
	got, err = ParseEnvelope(bad.Append(nil, FormatJSON), FormatJSON)
	if err != nil || got.Encrypt != "a\x00b\uFFFD" {
		t.Errorf("sanitised JSON: %q %v", got.Encrypt, err)
	}
}

func TestParseEnvelope(t *testing.T) {
	for _, c := range []struct {
		body string
		f    Format
		want Envelope
	}{
		{v4ReplyJSON, FormatJSON, v4Env},
		{v4ReplyXML, FormatXML, v4Env},
		{v3Body, FormatJSON, Envelope{ToUserName: "gh_97417a04a28d", Encrypt: v3Encrypt}},
		{`{"TimeStamp":"1713424427","Nonce":415670741,"Other":[1],"Encrypt":"a","Encrypt":"b"}`, FormatJSON, Envelope{Encrypt: "a", TimeStamp: 1713424427, Nonce: "415670741"}},
		{`<xml><TimeStamp> 5 </TimeStamp><Nested><Encrypt>no</Encrypt></Nested></xml>`, FormatXML, Envelope{TimeStamp: 5}},
	} {
		got, err := ParseEnvelope([]byte(c.body), c.f)
		if err != nil || got != c.want {
			t.Errorf("ParseEnvelope(%.50q) = %#v, %v; want %#v", c.body, got, err, c.want)
		}
	}
	for _, c := range []struct {
		body string
		f    Format
	}{
		{`{"TimeStamp":"soon"}`, FormatJSON},
		{`{"TimeStamp":1.5}`, FormatJSON},
		{`{"Nonce":{}}`, FormatJSON},
		{`{"Encrypt":null}`, FormatJSON},
		{`<xml><TimeStamp>x</TimeStamp></xml>`, FormatXML},
	} {
		if _, err := ParseEnvelope([]byte(c.body), c.f); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseEnvelope(%q) err = %v", c.body, err)
		}
	}
	if _, err := ParseEnvelope([]byte(`{}`), 7); err == nil {
		t.Error("invalid format accepted")
	}
}

func TestReplies(t *testing.T) {
	in := &Header{ToUserName: "gh_abc", FromUserName: "oUser", CreateTime: 1, MsgType: "event", Event: "get_quota"}
	for _, c := range []struct {
		r    Reply
		f    Format
		want string
	}{
		{Success, FormatXML, "success"},
		{Success, FormatJSON, "success"},
		{XPayOK, FormatJSON, `{"ErrCode":0,"ErrMsg":"success"}`},
		{XPayOK, FormatXML, `<xml><ErrCode>0</ErrCode><ErrMsg><![CDATA[success]]></ErrMsg></xml>`},
		{TransferCustomerService(), FormatXML, `<xml><ToUserName><![CDATA[oUser]]></ToUserName><FromUserName><![CDATA[gh_abc]]></FromUserName><CreateTime>1713424427</CreateTime><MsgType><![CDATA[transfer_customer_service]]></MsgType></xml>`},
		{TransferCustomerService(), FormatJSON, `{"ToUserName":"oUser","FromUserName":"gh_abc","CreateTime":1713424427,"MsgType":"transfer_customer_service"}`},
		{XPayIOSRefundAnswer(true, "建议退款", "未发货"), FormatJSON, `{"result_code":0,"result_info":"建议退款","evidence":"未发货"}`},
		{XPayIOSRefundAnswer(false, "", "已发货并已使用"), FormatXML, `<xml><result_code>1</result_code><result_info></result_info><evidence><![CDATA[已发货并已使用]]></evidence></xml>`},
		{ExpressResult(0, "ok", Field{"BizID", StringValue("biz")}, Field{"Quota", NumberValue("100.5")}), FormatJSON,
			`{"ToUserName":"oUser","FromUserName":"gh_abc","CreateTime":1713424427,"MsgType":"event","Event":"get_quota","ResultCode":0,"ResultMsg":"ok","BizID":"biz","Quota":100.5}`},
		{ExpressResult(-1, "余额不足"), FormatXML,
			`<xml><ToUserName><![CDATA[oUser]]></ToUserName><FromUserName><![CDATA[gh_abc]]></FromUserName><CreateTime>1713424427</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[get_quota]]></Event><ResultCode>-1</ResultCode><ResultMsg><![CDATA[余额不足]]></ResultMsg></xml>`},
	} {
		got, err := c.r.AppendReply(nil, in, c.f, 1713424427)
		if err != nil || string(got) != c.want {
			t.Errorf("%#v/%v = %s, %v\nwant %s", c.r, c.f, got, err, c.want)
		}
	}
	// A transfer reply decodes as a generic push of its own kind.
	b, _ := TransferCustomerService().AppendReply(nil, in, FormatXML, 2)
	u := mustDecode(t, string(b), FormatXML).(*Unknown)
	if u.ToUserName != "oUser" || u.FromUserName != "gh_abc" || u.MsgType != MsgTypeTransferCustomerService {
		t.Errorf("%#v", u)
	}
	for _, r := range []Reply{TransferCustomerService(), ExpressResult(0, "")} {
		if _, err := r.AppendReply(nil, nil, FormatXML, 1); err == nil {
			t.Errorf("%#v: nil header accepted", r)
		}
	}
	if _, err := ExpressResult(0, "x\x00").AppendReply(nil, in, FormatXML, 1); !errors.Is(err, ErrUnencodable) {
		t.Errorf("bad ResultMsg: %v", err)
	}
	if _, err := ExpressResult(0, "", Field{"bad name", StringValue("v")}).AppendReply(nil, in, FormatXML, 1); !errors.Is(err, ErrUnencodable) {
		t.Errorf("bad field: %v", err)
	}
	for _, ev := range []string{"", " \n"} {
		if out, err := XPayIOSRefundAnswer(true, "x", ev).AppendReply([]byte("keep"), in, FormatJSON, 1); !errors.Is(err, ErrNoEvidence) || string(out) != "keep" {
			t.Errorf("evidence %q: %q, %v", ev, out, err)
		}
	}
	for _, r := range []Reply{XPayOK, XPayIOSRefundAnswer(true, "", "e"), ExpressResult(0, ""), TransferCustomerService()} {
		if _, err := r.AppendReply(nil, in, 0, 1); err == nil {
			t.Errorf("%#v with Format(0)", r)
		}
	}
	if !IsSuccess(nil) || !IsSuccess(Success) || IsSuccess(XPayOK) || IsSuccess(TransferCustomerService()) || IsSuccess(ExpressResult(0, "")) {
		t.Error("IsSuccess")
	}
}
