package message

import "testing"

var (
	benchXMLText  = []byte(`<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[fromUser]]></FromUserName><CreateTime>1482048670</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[this is a test]]></Content><MsgId>1234567890123456</MsgId></xml>`)
	benchJSONText = []byte(`{"ToUserName":"toUser","FromUserName":"fromUser","CreateTime":1482048670,"MsgType":"text","Content":"this is a test","MsgId":1234567890123456}`)
	benchXMLEnv   = []byte(`<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName><Encrypt><![CDATA[+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04=]]></Encrypt></xml>`)
	benchJSONEnv  = []byte(`{"ToUserName":"gh_97417a04a28d","Encrypt":"+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04="}`)
)

func benchDecode(b *testing.B, body []byte, f Format) {
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := Decode(body, f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeXMLText(b *testing.B)  { benchDecode(b, benchXMLText, FormatXML) }
func BenchmarkDecodeJSONText(b *testing.B) { benchDecode(b, benchJSONText, FormatJSON) }

func benchExtract(b *testing.B, body []byte, f Format) {
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, ok, err := ExtractEncrypt(body, f); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkExtractEncryptXML(b *testing.B)  { benchExtract(b, benchXMLEnv, FormatXML) }
func BenchmarkExtractEncryptJSON(b *testing.B) { benchExtract(b, benchJSONEnv, FormatJSON) }

func benchEncode(b *testing.B, body []byte, f Format) { benchEncodeAs(b, body, f, f) }

// benchEncodeAs decodes body (in format from) and benchmarks encoding it
// in format f.
func benchEncodeAs(b *testing.B, body []byte, from, f Format) {
	p, err := Decode(body, from)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		buf, err = AppendEncode(buf[:0], p, f)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkEncodeXMLText(b *testing.B)  { benchEncode(b, benchXMLText, FormatXML) }
func BenchmarkEncodeJSONText(b *testing.B) { benchEncode(b, benchJSONText, FormatJSON) }

func BenchmarkDecodeJSONMediaCheck(b *testing.B) { benchDecode(b, []byte(specMediaJSON), FormatJSON) }
func BenchmarkDecodeJSONSubscribe(b *testing.B)  { benchDecode(b, []byte(specSubSentJSON), FormatJSON) }
func BenchmarkDecodeXMLV6(b *testing.B)          { benchDecode(b, []byte(v6TextXML), FormatXML) }

func BenchmarkEncodeJSONMediaCheck(b *testing.B) { benchEncode(b, []byte(specMediaJSON), FormatJSON) }
func BenchmarkEncodeXMLMediaCheck(b *testing.B) {
	benchEncodeAs(b, []byte(specMediaJSON), FormatJSON, FormatXML)
}

func BenchmarkEnvelopeAppendXML(b *testing.B) {
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		buf = v4Env.Append(buf[:0], FormatXML)
	}
}

func BenchmarkTransferReplyXML(b *testing.B) {
	h := &Header{ToUserName: "gh_abc", FromUserName: "oUser"}
	r := TransferCustomerService()
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		buf, _ = r.AppendReply(buf[:0], h, FormatXML, 1713424427)
	}
}

func benchDedup(b *testing.B, body string, f Format) {
	p, err := Decode([]byte(body), f)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if p.DedupKey() == "" {
			b.Fatal("empty key")
		}
	}
}

// BenchmarkDedupKeyDigest: an event keyed by the digest of the whole push.
func BenchmarkDedupKeyDigest(b *testing.B) { benchDedup(b, specTempSessJSON, FormatJSON) }

// BenchmarkDedupKeyMsgID: a message keyed by its MsgId.
func BenchmarkDedupKeyMsgID(b *testing.B) { benchDedup(b, specTextXML, FormatXML) }
