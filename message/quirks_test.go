package message

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func mustDecode(t *testing.T, body string, f Format) Push {
	t.Helper()
	p, err := Decode([]byte(body), f)
	if err != nil {
		t.Fatalf("Decode(%q): %v", body, err)
	}
	return p
}

func TestQuirksJSON(t *testing.T) {
	// MsgId beyond float64 precision, as a number and as a string.
	p := mustDecode(t, `{"MsgType":"text","MsgId":9223372036854775807}`, FormatJSON).(*Text)
	if p.MsgID != "9223372036854775807" {
		t.Errorf("MsgId = %q", p.MsgID)
	}
	p = mustDecode(t, `{"MsgType":"text","MsgId":"49d72d9c5cbc2d8b0011b0fe6a86a0be_1555684067"}`, FormatJSON).(*Text)
	if p.MsgID != "49d72d9c5cbc2d8b0011b0fe6a86a0be_1555684067" {
		t.Errorf("MsgId = %q", p.MsgID)
	}
	if b, _ := Encode(p, FormatJSON); !strings.Contains(string(b), `"MsgId":"49d72d`) {
		t.Errorf("opaque MsgId must stay a string: %s", b)
	}
	// A string MsgId of digits becomes a number; leading zeros stay a string.
	p = mustDecode(t, `{"MsgType":"text","MsgId":"007"}`, FormatJSON).(*Text)
	if b, _ := Encode(p, FormatJSON); !strings.Contains(string(b), `"MsgId":"007"`) {
		t.Errorf("MsgId 007: %s", b)
	}
	// CreateTime as a string; numbers with white space in strings.
	p = mustDecode(t, `{"MsgType":"text","CreateTime":"1620963428"}`, FormatJSON).(*Text)
	if p.CreateTime != 1620963428 {
		t.Errorf("CreateTime = %d", p.CreateTime)
	}
	// label as a number, prob as a string.
	m := mustDecode(t, `{"MsgType":"event","Event":"wxa_media_check","result":{"suggest":"risky","label":20001},"detail":{"strategy":"s","prob":"90","errcode":"-1"}}`, FormatJSON).(*MediaCheck)
	if m.Result.Label != "20001" || len(m.Detail) != 1 || m.Detail[0].Prob != 90 || m.Detail[0].ErrCode != -1 {
		t.Errorf("media check: %#v", m)
	}
	// null is the zero value.
	d := mustDecode(t, `{"MsgType":"event","Event":"debug_demo","debug_str":null,"ToUserName":null}`, FormatJSON).(*DebugDemo)
	if d.DebugStr != "" || d.Extra != nil {
		t.Errorf("null: %#v", d)
	}
	// Escapes, surrogate pairs and lone surrogates (U+FFFD, like encoding/json).
	d = mustDecode(t, `{"MsgType":"event","Event":"debug_demo","debug_str":"a\/b\"c\\\n\u4e2d\ud83d\ude00\ud800x\u0000"}`, FormatJSON).(*DebugDemo)
	if want := "a/b\"c\\\n中😀\uFFFDx\x00"; d.DebugStr != want {
		t.Errorf("escapes: %q, want %q", d.DebugStr, want)
	}
	// Empty List forms decode to nil.
	for _, l := range []string{`[]`, `null`, `""`} {
		s := mustDecode(t, `{"MsgType":"event","Event":"subscribe_msg_popup_event","List":`+l+`}`, FormatJSON).(*SubscribeMsgPopupEvent)
		if s.List != nil || s.Extra != nil {
			t.Errorf("List %s: %#v", l, s)
		}
	}
}

func TestQuirksXML(t *testing.T) {
	// Plain text, CDATA, entities, character references, a declaration,
	// comments, and white space between elements.
	body := "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!-- c --><xml>\r\n  <ToUserName>gh&#95;a</ToUserName>\n  <FromUserName><![CDATA[o]]><!-- x --><![CDATA[U]]></FromUserName>\n" +
		"  <CreateTime> 1700000000 </CreateTime><MsgType>text</MsgType>\n  <Content>a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos; &#x4e2d;&#25991; x]y\r\nz</Content><MsgId/></xml>\n<!-- end -->\n"
	p := mustDecode(t, body, FormatXML).(*Text)
	want := &Text{Header: Header{ToUserName: "gh_a", FromUserName: "oU", CreateTime: 1700000000, MsgType: "text"}, Content: "a <b> & \"c\" 'd' 中文 x]y\nz"}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("got %#v\nwant %#v", p, want)
	}
	// Subscribe container with one item and white space.
	s := mustDecode(t, "<xml><MsgType>event</MsgType><Event>subscribe_msg_popup_event</Event>\n<SubscribeMsgPopupEvent>\n <List>\n  <TemplateId>t</TemplateId>\n  <PopupScene>0</PopupScene>\n </List>\n</SubscribeMsgPopupEvent></xml>", FormatXML).(*SubscribeMsgPopupEvent)
	if len(s.List) != 1 || s.List[0].TemplateID != "t" || s.Extra != nil {
		t.Errorf("popup: %#v", s)
	}
	// Empty container, self-closing elements.
	s = mustDecode(t, "<xml><MsgType>event</MsgType><Event>subscribe_msg_popup_event</Event><SubscribeMsgPopupEvent/></xml>", FormatXML).(*SubscribeMsgPopupEvent)
	if s.List != nil || s.Extra != nil {
		t.Errorf("empty container: %#v", s)
	}
	// An empty root is a push without fields.
	u := mustDecode(t, "<xml/>", FormatXML).(*Unknown)
	if u.MsgType != "" || u.Fields != nil {
		t.Errorf("empty root: %#v", u)
	}
}

// TestExtraKeepsEverything checks that unknown fields, repeated fields and
// values that do not fit the typed field end up in Extra in body order.
func TestExtraKeepsEverything(t *testing.T) {
	for _, f := range []Format{FormatXML, FormatJSON} {
		var body string
		if f == FormatXML {
			body = `<xml><MsgType>text</MsgType><Z>1</Z><Content>a</Content><Content>b</Content><CreateTime>abc</CreateTime><MsgId><x>1</x></MsgId><A><b>1</b><b>2</b></A></xml>`
		} else {
			body = `{"MsgType":"text","Z":"1","Content":"a","Content":"b","CreateTime":"abc","MsgId":{"x":"1"},"A":{"b":"1","b":"2"}}`
		}
		p := mustDecode(t, body, f).(*Text)
		want := []Field{
			{"Z", StringValue("1")},
			{"Content", StringValue("b")},
			{"CreateTime", StringValue("abc")},
			{"MsgId", ObjectValue(Field{"x", StringValue("1")})},
			{"A", ObjectValue(Field{"b", StringValue("1")}, Field{"b", StringValue("2")})},
		}
		if p.Content != "a" || p.CreateTime != 0 || p.MsgID != "" || !reflect.DeepEqual(p.Extra, want) {
			t.Errorf("%v: %#v", f, p)
		}
		b, err := Encode(p, f)
		if err != nil {
			t.Fatal(err)
		}
		if q := mustDecode(t, string(b), f); !reflect.DeepEqual(p, q) {
			t.Errorf("%v round trip via %s:\n%#v\n%#v", f, b, p, q)
		}
	}
	// Ill-shaped lists and nested objects go to Extra as a whole.
	for _, body := range []string{
		`{"MsgType":"event","Event":"subscribe_msg_popup_event","List":[{"TemplateId":"a"},1]}`,
		`{"MsgType":"event","Event":"subscribe_msg_popup_event","List":"x"}`,
		`{"MsgType":"event","Event":"wxa_media_check","result":[1]}`,
	} {
		p := mustDecode(t, body, FormatJSON)
		if len(p.Head().Extra) != 1 {
			t.Errorf("%s: Extra = %#v", body, p.Head().Extra)
		}
	}
	for _, body := range []string{
		`<xml><MsgType>event</MsgType><Event>subscribe_msg_popup_event</Event><SubscribeMsgPopupEvent><List><a>1</a></List><Other>x</Other></SubscribeMsgPopupEvent></xml>`,
		`<xml><MsgType>event</MsgType><Event>subscribe_msg_popup_event</Event><SubscribeMsgPopupEvent>text</SubscribeMsgPopupEvent></xml>`,
		`<xml><MsgType>event</MsgType><Event>subscribe_msg_popup_event</Event><List><TemplateId>a</TemplateId></List></xml>`,
		`<xml><MsgType>event</MsgType><Event>wxa_media_check</Event><detail>text</detail></xml>`,
		`<xml><MsgType>event</MsgType><Event>wxa_media_check</Event><result>x</result></xml>`,
	} {
		p := mustDecode(t, body, FormatXML)
		if len(p.Head().Extra) != 1 {
			t.Errorf("%s: Extra = %#v", body, p.Head().Extra)
		}
		b, _ := Encode(p, FormatXML)
		if q := mustDecode(t, string(b), FormatXML); !reflect.DeepEqual(p, q) {
			t.Errorf("round trip via %s", b)
		}
	}
	// A misfit Event stays out of the header in both formats.
	u := mustDecode(t, `{"MsgType":"text","Event":[true],"Content":"c"}`, FormatJSON).(*Text)
	for _, f := range []Format{FormatJSON, FormatXML} {
		b, err := Encode(u, f)
		if err != nil {
			t.Fatal(err)
		}
		if q := mustDecode(t, string(b), f); q.Head().Event != "" || len(q.Head().Extra) != 1 {
			t.Errorf("%v: %s decoded to %#v", f, b, q)
		}
	}
	// Nested unknown fields go to the nested Extra.
	m := mustDecode(t, `{"MsgType":"event","Event":"wxa_media_check","result":{"suggest":"pass","x":1},"isrisky":0}`, FormatJSON).(*MediaCheck)
	if len(m.Result.Extra) != 1 || len(m.Extra) != 1 || m.Extra[0].Name != "isrisky" {
		t.Errorf("nested extra: %#v", m)
	}
}

func TestIntegers(t *testing.T) {
	for s, want := range map[string]int64{"0": 0, "-1": -1, " 42 ": 42, "": 0, "9223372036854775807": 1<<63 - 1, "-9223372036854775808": -1 << 63} {
		if got, ok := parseInt(s); !ok || got != want {
			t.Errorf("parseInt(%q) = %d, %v", s, got, ok)
		}
	}
	for _, s := range []string{"9223372036854775808", "-9223372036854775809", "1.0", "1e3", "-", "+1", "0x1", "99999999999999999999"} {
		if _, ok := parseInt(s); ok {
			t.Errorf("parseInt(%q) accepted", s)
		}
	}
	// Non-integer JSON numbers in integer fields go to Extra.
	p := mustDecode(t, `{"MsgType":"text","CreateTime":1.5e9}`, FormatJSON)
	if p.Head().CreateTime != 0 || len(p.Head().Extra) != 1 || p.Head().Extra[0].Value.Kind != ValueNumber {
		t.Errorf("%#v", p)
	}
}

func TestMalformed(t *testing.T) {
	deep := strings.Repeat("<a>", 40) + strings.Repeat("</a>", 40)
	xmlBad := []string{
		"", "   ", "text", "<", "<xml", "<xml>", "<xml></xm>", "<xml></xml2>", "<xml><a></xml>", "<xml></xml><xml></xml>",
		"<xml></xml>x", "x<xml></xml>", "<xml a=\"1\"></xml>", "<ns:xml></ns:xml>", "<xml><a:b>1</a:b></xml>",
		"<!DOCTYPE x><xml/>", "<xml><?pi x?></xml>", "<xml><!-- -- --></xml>", "<xml><!-- x</xml>", "<xml><a><![CDATA[x</a></xml>",
		"<xml><a>&foo;</a></xml>", "<xml><a>&lt</a></xml>", "<xml><a>&#;</a></xml>", "<xml><a>&#x;</a></xml>", "<xml><a>&#0;</a></xml>",
		"<xml><a>&#x110000;</a></xml>", "<xml><a>&#xFFFE;</a></xml>", "<xml><a>&#X41;</a></xml>", "<xml><a>&#99999999999999999999;</a></xml>",
		"<xml><a>\x00</a></xml>", "<xml><a>\x1f</a></xml>", "<xml><a>\xff</a></xml>", "<xml><a><![CDATA[\x01]]></a></xml>",
		"<xml><a>\xef\xbf\xbe</a></xml>", "<xml><a>x]]>y</a></xml>", "<xml>text<a>1</a></xml>", "<xml><a>1</a>text</xml>",
		"<xml><a><![CDATA[ ]]><b>1</b></a></xml>", "<xml>hello</xml>", "<?xml version=\"1.1\"?><xml/>", "<?xml encoding=\"gbk\"?><xml/>",
		"<?xml-stylesheet x?><xml/>", " <?xml version=\"1.0\"?><xml/>", "<xml><a/ ></xml>", "< xml></xml>", "<1a></1a>",
		"<xml><a></a ></xml>x", "<xml><a></ a></xml>", deep, "\xef\xbb\xbf<xml/>",
	}
	for _, b := range xmlBad {
		if p, err := Decode([]byte(b), FormatXML); !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode XML %q = %#v, %v; want ErrMalformed", b, p, err)
		}
		if _, _, err := ExtractEncrypt([]byte(b), FormatXML); !errors.Is(err, ErrMalformed) {
			t.Errorf("ExtractEncrypt XML %q err = %v", b, err)
		}
		if _, err := ParseEnvelope([]byte(b), FormatXML); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseEnvelope XML %q err = %v", b, err)
		}
	}
	deepJ := `{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`
	jsonBad := []string{
		"", " ", "[]", "1", `"x"`, "{", "{}x", "{}{}", `{"a"}`, `{"a":}`, `{"a":1,}`, `{,"a":1}`, `{"a":1 "b":2}`, `{'a':1}`,
		`{"a":01}`, `{"a":1.}`, `{"a":.1}`, `{"a":1e}`, `{"a":-}`, `{"a":+1}`, `{"a":NaN}`, `{"a":tru}`, `{"a":nul}`,
		`{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"\u12g4"}`, "{\"a\":\"\x01\"}", "{\"a\":\"\xff\"}", `{"a":"x}`, `{"a":[1,]}`, `{"a":[1 2]}`,
		`{"a":{"b":1}`, `{a:1}`, deepJ,
	}
	for _, b := range jsonBad {
		if p, err := Decode([]byte(b), FormatJSON); !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode JSON %q = %#v, %v; want ErrMalformed", b, p, err)
		}
		if _, _, err := ExtractEncrypt([]byte(b), FormatJSON); !errors.Is(err, ErrMalformed) {
			t.Errorf("ExtractEncrypt JSON %q err = %v", b, err)
		}
	}
	// Within the depth bound nesting is fine.
	ok := `<xml>` + strings.Repeat("<a>", 30) + "x" + strings.Repeat("</a>", 30) + `</xml>`
	if _, err := Decode([]byte(ok), FormatXML); err != nil {
		t.Errorf("depth 31: %v", err)
	}
	okJ := `{"a":` + strings.Repeat("[", 31) + strings.Repeat("]", 31) + `}`
	if _, err := Decode([]byte(okJ), FormatJSON); err != nil {
		t.Errorf("JSON depth 32: %v", err)
	}
	// Error messages carry an offset and no body content.
	_, err := Decode([]byte("<xml><secret>&bogus;</secret></xml>"), FormatXML)
	var se *SyntaxError
	if !errors.As(err, &se) || se.Offset != 13 || strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "bogus") {
		t.Errorf("error = %v", err)
	}
}

// TestEmptyObjectBeforeObject: an empty occurrence of a nested object (null,
// "", {} or an empty element) followed by a filled one. Encode omits a zero
// object, so the filled one must not be left in Extra, or it would come back
// typed after a round trip.
func TestEmptyObjectBeforeObject(t *testing.T) {
	for _, c := range []struct {
		body string
		f    Format
	}{
		{`{"MsgType":"event","Event":"xpay_goods_deliver_notify","WeChatPayInfo":null,"WeChatPayInfo":{"MchOrderNo":"x"}}`, FormatJSON},
		{`{"MsgType":"event","Event":"xpay_goods_deliver_notify","WeChatPayInfo":"","WeChatPayInfo":{"MchOrderNo":"x"}}`, FormatJSON},
		{`{"MsgType":"event","Event":"xpay_coin_pay_notify","CoinInfo":{},"CoinInfo":{"Quantity":3}}`, FormatJSON},
		{`<xml><MsgType>event</MsgType><Event>xpay_goods_deliver_notify</Event><WeChatPayInfo></WeChatPayInfo><WeChatPayInfo><MchOrderNo>x</MchOrderNo></WeChatPayInfo></xml>`, FormatXML},
		{`<xml><MsgType>event</MsgType><Event>wxa_media_check</Event><result/><result><suggest>pass</suggest></result></xml>`, FormatXML},
	} {
		p := mustDecode(t, c.body, c.f)
		if len(p.Head().Extra) != 0 {
			t.Errorf("%s: the filled object went to Extra: %#v", c.body, p.Head().Extra)
		}
		b, err := Encode(p, c.f)
		if err != nil {
			t.Fatal(err)
		}
		if q := mustDecode(t, string(b), c.f); !reflect.DeepEqual(p, q) {
			t.Errorf("%s: round trip via %s\n got %#v\nwant %#v", c.body, b, q, p)
		}
	}
	// A filled object followed by an empty one: the empty one is kept in
	// Extra, and the round trip is exact.
	p := mustDecode(t, `{"MsgType":"event","Event":"xpay_coin_pay_notify","CoinInfo":{"Quantity":3},"CoinInfo":null}`, FormatJSON).(*XPayCoinPayNotify)
	if p.CoinInfo.Quantity != 3 || len(p.Extra) != 1 || p.Extra[0].Value.Kind != ValueNull {
		t.Errorf("filled then null: %#v", p)
	}
	b, _ := Encode(p, FormatJSON)
	if q := mustDecode(t, string(b), FormatJSON); !reflect.DeepEqual(p, q) {
		t.Errorf("filled then null: round trip via %s", b)
	}
}

// TestNumberAndNestedZero: Number keeps the text it was sent as and is a
// bare JSON number only when it is one; a nested object whose only content
// is an empty list is omitted like any zero object.
func TestNumberAndNestedZero(t *testing.T) {
	for body, want := range map[string]string{
		`{"MsgType":"event","Event":"add_waybill","Cargo":{"Weight":1.5e0}}`:   `"Cargo":{"Weight":1.5e0,`,
		`{"MsgType":"event","Event":"add_waybill","Cargo":{"Weight":"2.50"}}`:  `"Cargo":{"Weight":2.50,`,
		`{"MsgType":"event","Event":"add_waybill","Cargo":{"Weight":"about"}}`: `"Cargo":{"Weight":"about",`,
		`{"MsgType":"event","Event":"add_waybill","Cargo":{"Weight":" 1"}}`:    `"Cargo":{"Weight":" 1",`,
	} {
		p := mustDecode(t, body, FormatJSON)
		for _, f := range []Format{FormatJSON, FormatXML} {
			b, err := Encode(p, f)
			if err != nil {
				t.Fatal(err)
			}
			if f == FormatJSON && !strings.Contains(string(b), want) {
				t.Errorf("%s encoded as %s, want %s", body, b, want)
			}
			if q := mustDecode(t, string(b), f); !reflect.DeepEqual(typedView(p), typedView(q)) {
				t.Errorf("%v round trip of %s via %s", f, body, b)
			}
		}
	}
	c := &ComplaintCallback{Info: ComplaintInfo{History: []ComplaintHistory{}}}
	for _, f := range []Format{FormatJSON, FormatXML} {
		b, err := Encode(c, f)
		if err != nil || strings.Contains(string(b), "BussiCallBackInfo") {
			t.Errorf("%v: empty info written: %s %v", f, b, err)
		}
	}
	c.Info.History = append(c.Info.History, ComplaintHistory{Content: "x"})
	if b, _ := Encode(c, FormatXML); !strings.Contains(string(b), "<history><time>0</time><content><![CDATA[x]]></content><media_id_list></media_id_list></history></BussiCallBackInfo>") {
		t.Errorf("nested list: %s", b)
	}
}
