package message_test

import (
	"fmt"

	"github.com/wxgate/wxgate/message"
)

func ExampleDecode() {
	body := []byte(`<xml><ToUserName><![CDATA[gh_abc]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName><CreateTime>1482048670</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hello]]></Content><MsgId>1234567890123456</MsgId></xml>`)
	f, err := message.DetectFormat(body)
	if err != nil {
		panic(err)
	}
	p, err := message.Decode(body, f)
	if err != nil {
		panic(err)
	}
	switch m := p.(type) {
	case *message.Text:
		fmt.Printf("%s says %q\n", m.FromUserName, m.Content)
	case *message.Unknown:
		fmt.Println("unknown kind", message.KindOf(m))
	}
	fmt.Println(message.KindOf(p), p.DedupKey())
	// Output:
	// oUser says "hello"
	// text msg:1234567890123456
}

func ExampleEncode() {
	p := &message.SubscribeMsgSentEvent{
		Header: message.Header{ToUserName: "gh_abc", FromUserName: "oUser", CreateTime: 1620963428},
		List:   []message.SubscribeSentItem{{TemplateID: "tpl", MsgID: "1864323726461255680", ErrorStatus: "success"}},
	}
	for _, f := range []message.Format{message.FormatJSON, message.FormatXML} {
		b, err := message.Encode(p, f)
		if err != nil {
			panic(err)
		}
		fmt.Println(string(b))
	}
	// Output:
	// {"ToUserName":"gh_abc","FromUserName":"oUser","CreateTime":1620963428,"MsgType":"event","Event":"subscribe_msg_sent_event","List":{"TemplateId":"tpl","MsgID":"1864323726461255680","ErrorCode":0,"ErrorStatus":"success"}}
	// <xml><ToUserName><![CDATA[gh_abc]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName><CreateTime>1620963428</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_sent_event]]></Event><SubscribeMsgSentEvent><List><TemplateId><![CDATA[tpl]]></TemplateId><MsgID><![CDATA[1864323726461255680]]></MsgID><ErrorCode>0</ErrorCode><ErrorStatus><![CDATA[success]]></ErrorStatus></List></SubscribeMsgSentEvent></xml>
}

func ExampleTransferCustomerService() {
	in, err := message.Decode([]byte(`{"ToUserName":"gh_abc","FromUserName":"oUser","CreateTime":1714037059,"MsgType":"text","Content":"人工客服","MsgId":1}`), message.FormatJSON)
	if err != nil {
		panic(err)
	}
	reply := message.TransferCustomerService()
	b, err := reply.AppendReply(nil, in.Head(), message.FormatJSON, 1714037060)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))
	fmt.Println("may skip encryption:", message.IsSuccess(reply))
	// Output:
	// {"ToUserName":"oUser","FromUserName":"gh_abc","CreateTime":1714037060,"MsgType":"transfer_customer_service"}
	// may skip encryption: false
}

func ExampleExtractEncrypt() {
	body := []byte(`<xml><ToUserName><![CDATA[gh_abc]]></ToUserName><Encrypt><![CDATA[bXNn]]></Encrypt></xml>`)
	enc, ok, err := message.ExtractEncrypt(body, message.FormatXML)
	fmt.Println(string(enc), ok, err)

	reply := message.Envelope{Encrypt: "cmVwbHk=", MsgSignature: "1b93", TimeStamp: 1713424427, Nonce: "415670741"}
	fmt.Println(string(reply.Append(nil, message.FormatJSON)))
	// Output:
	// bXNn true <nil>
	// {"Encrypt":"cmVwbHk=","MsgSignature":"1b93","TimeStamp":1713424427,"Nonce":"415670741"}
}
