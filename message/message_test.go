package message

import (
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// Real payloads from the protocol spec and the test vectors.
const (
	specTextXML = `<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[fromUser]]></FromUserName><CreateTime>1482048670</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[this is a test]]></Content><MsgId>1234567890123456</MsgId></xml>`
	// V3 expect_msg: the official safe-mode JSON push (debug_demo).
	v3DebugDemoJSON = `{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","CreateTime":1714112445,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}`
	// V6 expect_msg: Tencent's Python sample, compatible-mode XML text.
	v6TextXML = "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n<CreateTime>1409735668</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[abcdteT]]></Content>\n<MsgId>6054768590064713728</MsgId>\n</xml>"
	// V10 expect_msg: EasyWeChat's encryptor test (an extra URL field).
	v10TextXML       = `<xml><URL><![CDATA[http://wechat.laravel.so/server]]></URL><ToUserName><![CDATA[asdasdasd]]></ToUserName><FromUserName><![CDATA[asdasdasdsadasd]]></FromUserName><CreateTime>1234567898</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hello]]></Content><MsgId>12345</MsgId></xml>`
	specSubSentJSON  = `{"ToUserName":"gh_123456789abc","FromUserName":"o7esq5PHRGBQYmeNyfG064wEFVpQ","CreateTime":"1620963428","MsgType":"event","Event":"subscribe_msg_sent_event","List":{"TemplateId":"BEwX0BO-T3MqK3Uc5oTU3CGBqzjpndk2jzUf7VfExd8","MsgID":"1864323726461255680","ErrorCode":"0","ErrorStatus":"success"}}`
	specMediaJSON    = `{"ToUserName":"gh_7bf1f1389686","FromUserName":"or9bw…","CreateTime":1762329554,"MsgType":"event","Event":"wxa_media_check","appid":"wxb04d…","trace_id":"690b03d2-301f6111-35ffbd44","version":2,"result":{"suggest":"pass","label":"100"},"detail":[{"strategy":"content_model","errcode":0,"suggest":"pass","label":"100","prob":90}]}`
	specTempSessJSON = `{"ToUserName":"toUser","FromUserName":"fromUser","CreateTime":1482048670,"MsgType":"event","Event":"user_enter_tempsession","SessionFrom":"sessionFrom"}`
)

func hdr(msgType, event string) Header {
	return Header{ToUserName: "gh_abc", FromUserName: "oUser", CreateTime: 1700000000, MsgType: msgType, Event: event}
}

// sample is one wire body and the value it must decode to.
type sample struct {
	name string
	f    Format
	body string
	want Push
}

func samples() []sample {
	const h = `<ToUserName><![CDATA[gh_abc]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName><CreateTime>1700000000</CreateTime>`
	const jh = `"ToUserName":"gh_abc","FromUserName":"oUser","CreateTime":1700000000,`
	xev := func(ev, rest string) string {
		return `<xml>` + h + `<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[` + ev + `]]></Event>` + rest + `</xml>`
	}
	jev := func(ev, rest string) string {
		return `{` + jh + `"MsgType":"event","Event":"` + ev + `"` + rest + `}`
	}
	auth := AuthChange{OpenID: "oUser", AppID: "wxapp", RevokeInfo: "1", PluginID: "wxplugin", OpenPID: "pid"}
	const authXML = `<OpenID><![CDATA[oUser]]></OpenID><AppID><![CDATA[wxapp]]></AppID><RevokeInfo><![CDATA[1]]></RevokeInfo><PluginID><![CDATA[wxplugin]]></PluginID><OpenPID><![CDATA[pid]]></OpenPID>`
	const authJSON = `,"OpenID":"oUser","AppID":"wxapp","RevokeInfo":1,"PluginID":"wxplugin","OpenPID":"pid"`
	trade := func(ev string) *TradeManage {
		return &TradeManage{Header: hdr("event", ev), TransactionID: "4200001", MerchantID: "1600001", SubMerchantID: "1600002",
			MerchantTradeNo: "T123", PayTime: 1700000001, ShippedTime: 1700000002, EstimatedSettlementTime: 1700000003,
			ConfirmReceiveMethod: 1, ConfirmReceiveTime: 1700000004, SettlementTime: 1700000005, Msg: "please ship"}
	}
	const tradeJSON = `,"transaction_id":"4200001","merchant_id":"1600001","sub_merchant_id":"1600002","merchant_trade_no":"T123","pay_time":1700000001,"shipped_time":1700000002,"estimated_settlement_time":1700000003,"confirm_receive_method":1,"confirm_receive_time":1700000004,"settlement_time":1700000005,"msg":"please ship"`
	const tradeXML = `<transaction_id><![CDATA[4200001]]></transaction_id><merchant_id><![CDATA[1600001]]></merchant_id><sub_merchant_id><![CDATA[1600002]]></sub_merchant_id><merchant_trade_no><![CDATA[T123]]></merchant_trade_no><pay_time>1700000001</pay_time><shipped_time>1700000002</shipped_time><estimated_settlement_time>1700000003</estimated_settlement_time><confirm_receive_method>1</confirm_receive_method><confirm_receive_time>1700000004</confirm_receive_time><settlement_time>1700000005</settlement_time><msg><![CDATA[please ship]]></msg>`
	payInfo := XPayWeChatPayInfo{MchOrderNo: "M1", TransactionID: "42001", PaidTime: 1700000010}
	team := XPayTeamInfo{ActivityID: "act", TeamID: "team", TeamType: 1, TeamAction: 0}
	deliver := &XPayGoodsDeliverNotify{Header: hdr("event", EventXPayGoodsDeliverNotify), OpenID: "oUser", OutTradeNo: "OT1", Env: 1,
		WeChatPayInfo: payInfo, GoodsInfo: XPayGoodsInfo{ProductID: "p1", Quantity: 2, OrigPrice: 100, ActualPrice: 90, Attach: "a"}, TeamInfo: team}
	coin := &XPayCoinPayNotify{Header: hdr("event", EventXPayCoinPayNotify), OpenID: "oUser", OutTradeNo: "OT2", Env: 0,
		WeChatPayInfo: payInfo, CoinInfo: XPayCoinInfo{Quantity: 10, OrigPrice: 1000, ActualPrice: 1000, Attach: "c"}}
	refund := &XPayRefundNotify{Header: hdr("event", EventXPayRefundNotify), OpenID: "oUser", WxRefundID: "wr1", MchRefundID: "mr1",
		WxOrderID: "wo1", MchOrderID: "mo1", RefundFee: 90, RetCode: 0, RetMsg: "ok", RefundStartTimestamp: 1700000020,
		RefundSuccTimestamp: 1700000021, WxpayRefundTransactionID: "50001", RetryTimes: 1}
	complaint := &XPayComplaintNotify{Header: hdr("event", EventXPayComplaintNotify), OpenID: "oUser", WxOrderID: "wo1", MchOrderID: "mo1",
		TransactionID: "42001", ComplaintID: "c1", ComplaintDetail: "not delivered", ComplaintTime: 1700000030, RetryTimes: 0, RequestID: "r1"}
	iosq := &XPayIOSRefundQuery{Header: hdr("event", EventXPaySubscribeIOSRefundQuery), RefundTime: "1700000040", OrderTime: "1700000000",
		ChannelBill: "apple1", BundleID: "com.example", ProductID: "p1", PCount: "1", RefundRequestReason: "UNINTENDED_PURCHASE", ProvideStatus: "1",
		ConsumptionStatus: "0", ServiceType: "unipdt", PayOrderID: "po1"}
	path := &AddExpressPath{Header: hdr("event", EventAddExpressPath), DeliveryID: "SF", WayBillID: "SF123", Version: 3, Count: 2,
		Actions: []ExpressAction{{ActionTime: 1700000001, ActionType: 100001, ActionMsg: "已揽件"}, {ActionTime: 1700000002, ActionType: 200001}}}
	const pathJSON = `,"DeliveryID":"SF","WayBillId":"SF123","Version":3,"Count":2,"Actions":[{"ActionTime":1700000001,"ActionType":100001,"ActionMsg":"已揽件"},{"ActionTime":1700000002,"ActionType":200001}]`
	const pathXML = `<DeliveryID><![CDATA[SF]]></DeliveryID><WayBillId><![CDATA[SF123]]></WayBillId><Version>3</Version><Count>2</Count><Actions><ActionTime>1700000001</ActionTime><ActionType>100001</ActionType><ActionMsg><![CDATA[已揽件]]></ActionMsg></Actions><Actions><ActionTime>1700000002</ActionTime><ActionType>200001</ActionType></Actions>`
	complaintCB := &ComplaintCallback{Header: hdr("event", EventComplaintCallback), Info: ComplaintInfo{AppID: "wxapp", OptionType: 1, ComplaintOrderID: "cp1",
		Status: 201, CreateTime: 1700000050, ExpireTime: 1700172850, Type: 3, OrderID: "42001", OutTradeNo: "OT9", PhoneNumber: "13800000000", OpenID: "oUser",
		CustomerContent: "没收到货", CustomerMediaIDList: "m1", PayTime: 1700000000, TotalCost: 990, ProductName: "T恤",
		History: []ComplaintHistory{{Time: 1700000050, Content: "发起投诉"}, {Time: 1700000060, Content: "商家回应", MediaIDList: "m2"}}}}
	const complaintXML = `<BussiCallBackInfo><appid>wxapp</appid><option_type>1</option_type><complaint_order_id>cp1</complaint_order_id><status>201</status><create_time>1700000050</create_time><expire_time>1700172850</expire_time><type>3</type><order_id>42001</order_id><out_trade_no>OT9</out_trade_no><phone_number>13800000000</phone_number><open_id>oUser</open_id><customer_material_content>没收到货</customer_material_content><customer_material_media_id_list>m1</customer_material_media_id_list><pay_time>1700000000</pay_time><total_cost>990</total_cost><product_name>T恤</product_name><history><time>1700000050</time><content>发起投诉</content></history><history><time>1700000060</time><content>商家回应</content><media_id_list>m2</media_id_list></history></BussiCallBackInfo>`
	const complaintJSON = `,"BussiCallBackInfo":{"appid":"wxapp","option_type":1,"complaint_order_id":"cp1","status":201,"create_time":1700000050,"expire_time":1700172850,"type":3,"order_id":"42001","out_trade_no":"OT9","phone_number":"13800000000","open_id":"oUser","customer_material_content":"没收到货","customer_material_media_id_list":"m1","pay_time":1700000000,"total_cost":990,"product_name":"T恤","history":[{"time":1700000050,"content":"发起投诉"},{"time":1700000060,"content":"商家回应","media_id_list":"m2"}]}`
	contact := func(name string) ExpressContact {
		return ExpressContact{Name: name, Mobile: "13800000000", Country: "中国", Province: "广东省", City: "广州市", Area: "海珠区", Address: "XX路1号"}
	}
	addWaybill := &ExpressAddWaybill{Header: hdr("event", EventExpressAddWaybill), Token: "tok1", OrderID: "o1", BizID: "biz", BizPwd: "pwd", ShopAppID: "wxshop",
		WayBillID: "0", Remark: "易碎物品", Sender: contact("张三"), Receiver: contact("李四"),
		Cargo:   ExpressCargo{Weight: "1.2", SpaceX: "20", SpaceY: "15.5", SpaceZ: "10", Count: 1, DetailList: []ExpressCargoItem{{Name: "T恤", Count: 2}}},
		Insured: ExpressInsurance{UseInsured: 1, InsuredValue: 10000}, Service: ExpressService{ServiceType: 0, ServiceName: "标准快递"}}
	const contactJSON = `"Mobile":"13800000000","Country":"中国","Province":"广东省","City":"广州市","Area":"海珠区","Address":"XX路1号"}`
	const addWaybillJSON = `,"Token":"tok1","OrderID":"o1","BizID":"biz","BizPwd":"pwd","ShopAppID":"wxshop","WayBillID":"0","Remark":"易碎物品",` +
		`"Sender":{"Name":"张三",` + contactJSON + `,"Receiver":{"Name":"李四",` + contactJSON +
		`,"Cargo":{"Weight":1.2,"Space_X":20,"Space_Y":15.5,"Space_Z":10,"Count":1,"DetailList":[{"Name":"T恤","Count":2}]},"Insured":{"UseInsured":1,"InsuredValue":10000},"Service":{"ServiceType":0,"ServiceName":"标准快递"}`
	const contactXML = `<Mobile>13800000000</Mobile><Country>中国</Country><Province>广东省</Province><City>广州市</City><Area>海珠区</Area><Address>XX路1号</Address>`
	const addWaybillXML = `<Token>tok1</Token><OrderID>o1</OrderID><BizID>biz</BizID><BizPwd>pwd</BizPwd><ShopAppID>wxshop</ShopAppID><WayBillID>0</WayBillID><Remark>易碎物品</Remark>` +
		`<Sender><Name>张三</Name>` + contactXML + `</Sender><Receiver><Name>李四</Name>` + contactXML + `</Receiver>` +
		`<Cargo><Weight>1.2</Weight><Space_X>20</Space_X><Space_Y>15.5</Space_Y><Space_Z>10</Space_Z><Count>1</Count><DetailList><Name>T恤</Name><Count>2</Count></DetailList></Cargo>` +
		`<Insured><UseInsured>1</UseInsured><InsuredValue>10000</InsuredValue></Insured><Service><ServiceType>0</ServiceType><ServiceName>标准快递</ServiceName></Service>`

	return []sample{
		{"spec text xml", FormatXML, specTextXML, &Text{Header: Header{ToUserName: "toUser", FromUserName: "fromUser", CreateTime: 1482048670, MsgType: "text"}, Content: "this is a test", MsgID: "1234567890123456"}},
		{"V6 text xml", FormatXML, v6TextXML, &Text{Header: Header{ToUserName: "gh_10f6c3c3ac5a", FromUserName: "oyORnuP8q7ou2gfYjqLzSIWZf0rs", CreateTime: 1409735668, MsgType: "text"}, Content: "abcdteT", MsgID: "6054768590064713728"}},
		{"V10 text xml", FormatXML, v10TextXML, &Text{Header: Header{ToUserName: "asdasdasd", FromUserName: "asdasdasdsadasd", CreateTime: 1234567898, MsgType: "text",
			Extra: []Field{{"URL", StringValue("http://wechat.laravel.so/server")}}}, Content: "hello", MsgID: "12345"}},
		{"text json", FormatJSON, `{"ToUserName":"toUser","FromUserName":"fromUser","CreateTime":1482048670,"MsgType":"text","Content":"this is a test","MsgId":1234567890123456}`,
			&Text{Header: Header{ToUserName: "toUser", FromUserName: "fromUser", CreateTime: 1482048670, MsgType: "text"}, Content: "this is a test", MsgID: "1234567890123456"}},
		{"image xml", FormatXML, `<xml>` + h + `<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://x/p.jpg]]></PicUrl><MediaId><![CDATA[media1]]></MediaId><MsgId>6054768590064713729</MsgId></xml>`,
			&Image{Header: hdr("image", ""), PicURL: "http://x/p.jpg", MediaID: "media1", MsgID: "6054768590064713729"}},
		{"image json", FormatJSON, `{` + jh + `"MsgType":"image","PicUrl":"http://x/p.jpg","MediaId":"media1","MsgId":6054768590064713729}`,
			&Image{Header: hdr("image", ""), PicURL: "http://x/p.jpg", MediaID: "media1", MsgID: "6054768590064713729"}},
		{"miniprogrampage xml", FormatXML, `<xml>` + h + `<MsgType><![CDATA[miniprogrampage]]></MsgType><MsgId>7</MsgId><Title><![CDATA[t]]></Title><AppId><![CDATA[wxapp]]></AppId><PagePath><![CDATA[pages/index?a=1&amp;b=2]]></PagePath><ThumbUrl><![CDATA[http://x/t.jpg]]></ThumbUrl><ThumbMediaId><![CDATA[tm]]></ThumbMediaId></xml>`,
			&MiniProgramPage{Header: hdr("miniprogrampage", ""), MsgID: "7", Title: "t", AppID: "wxapp", PagePath: "pages/index?a=1&amp;b=2", ThumbURL: "http://x/t.jpg", ThumbMediaID: "tm"}},
		{"miniprogrampage json", FormatJSON, `{` + jh + `"MsgType":"miniprogrampage","MsgId":7,"Title":"t","AppId":"wxapp","PagePath":"pages/index?a=1&b=2","ThumbUrl":"http:\/\/x\/t.jpg","ThumbMediaId":"tm"}`,
			&MiniProgramPage{Header: hdr("miniprogrampage", ""), MsgID: "7", Title: "t", AppID: "wxapp", PagePath: "pages/index?a=1&b=2", ThumbURL: "http://x/t.jpg", ThumbMediaID: "tm"}},
		{"tempsession json (spec)", FormatJSON, specTempSessJSON,
			&UserEnterTempSession{Header: Header{ToUserName: "toUser", FromUserName: "fromUser", CreateTime: 1482048670, MsgType: "event", Event: "user_enter_tempsession"}, SessionFrom: "sessionFrom"}},
		{"tempsession xml", FormatXML, xev("user_enter_tempsession", `<SessionFrom><![CDATA[sessionFrom]]></SessionFrom>`),
			&UserEnterTempSession{Header: hdr("event", "user_enter_tempsession"), SessionFrom: "sessionFrom"}},
		{"debug_demo json (V3)", FormatJSON, v3DebugDemoJSON,
			&DebugDemo{Header: Header{ToUserName: "gh_97417a04a28d", FromUserName: "o9AgO5Kd5ggOC-bXrbNODIiE3bGY", CreateTime: 1714112445, MsgType: "event", Event: "debug_demo"}, DebugStr: "hello world"}},
		{"debug_demo xml", FormatXML, xev("debug_demo", `<debug_str><![CDATA[hello world]]></debug_str>`),
			&DebugDemo{Header: hdr("event", "debug_demo"), DebugStr: "hello world"}},
		{"popup xml", FormatXML, xev("subscribe_msg_popup_event", `<SubscribeMsgPopupEvent><List><TemplateId><![CDATA[VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc]]></TemplateId><SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString><PopupScene>2</PopupScene></List><List><TemplateId><![CDATA[9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI]]></TemplateId><SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString><PopupScene>2</PopupScene></List></SubscribeMsgPopupEvent>`),
			&SubscribeMsgPopupEvent{Header: hdr("event", "subscribe_msg_popup_event"), List: []SubscribePopupItem{
				{TemplateID: "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", SubscribeStatusString: "accept", PopupScene: 2},
				{TemplateID: "9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI", SubscribeStatusString: "reject", PopupScene: 2}}}},
		{"popup json array, string numbers", FormatJSON, jev("subscribe_msg_popup_event", `,"List":[{"TemplateId":"a","SubscribeStatusString":"accept","PopupScene":"2"},{"TemplateId":"b","SubscribeStatusString":"reject","PopupScene":"0"}]`),
			&SubscribeMsgPopupEvent{Header: hdr("event", "subscribe_msg_popup_event"), List: []SubscribePopupItem{
				{TemplateID: "a", SubscribeStatusString: "accept", PopupScene: 2}, {TemplateID: "b", SubscribeStatusString: "reject", PopupScene: 0}}}},
		{"popup json object", FormatJSON, jev("subscribe_msg_popup_event", `,"List":{"TemplateId":"a","SubscribeStatusString":"accept","PopupScene":0}`),
			&SubscribeMsgPopupEvent{Header: hdr("event", "subscribe_msg_popup_event"), List: []SubscribePopupItem{{TemplateID: "a", SubscribeStatusString: "accept"}}}},
		{"change xml", FormatXML, xev("subscribe_msg_change_event", `<SubscribeMsgChangeEvent><List><TemplateId><![CDATA[t1]]></TemplateId><SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString></List></SubscribeMsgChangeEvent>`),
			&SubscribeMsgChangeEvent{Header: hdr("event", "subscribe_msg_change_event"), List: []SubscribeChangeItem{{TemplateID: "t1", SubscribeStatusString: "reject"}}}},
		{"change json (compatible mode, Encrypt kept)", FormatJSON, jev("subscribe_msg_change_event", `,"List":{"TemplateId":"t1","SubscribeStatusString":"reject"},"Encrypt":"abc="`),
			&SubscribeMsgChangeEvent{Header: withExtra(hdr("event", "subscribe_msg_change_event"), Field{"Encrypt", StringValue("abc=")}), List: []SubscribeChangeItem{{TemplateID: "t1", SubscribeStatusString: "reject"}}}},
		{"sent json (spec)", FormatJSON, specSubSentJSON,
			&SubscribeMsgSentEvent{Header: Header{ToUserName: "gh_123456789abc", FromUserName: "o7esq5PHRGBQYmeNyfG064wEFVpQ", CreateTime: 1620963428, MsgType: "event", Event: "subscribe_msg_sent_event"},
				List: []SubscribeSentItem{{TemplateID: "BEwX0BO-T3MqK3Uc5oTU3CGBqzjpndk2jzUf7VfExd8", MsgID: "1864323726461255680", ErrorCode: 0, ErrorStatus: "success"}}}},
		{"sent xml", FormatXML, xev("subscribe_msg_sent_event", `<SubscribeMsgSentEvent><List><TemplateId><![CDATA[t1]]></TemplateId><MsgID>1700000000000000000</MsgID><ErrorCode>0</ErrorCode><ErrorStatus><![CDATA[success]]></ErrorStatus></List><List><TemplateId><![CDATA[t2]]></TemplateId><MsgID>1700000000000000001</MsgID><ErrorCode>10005</ErrorCode><ErrorStatus><![CDATA[fail]]></ErrorStatus></List></SubscribeMsgSentEvent>`),
			&SubscribeMsgSentEvent{Header: hdr("event", "subscribe_msg_sent_event"), List: []SubscribeSentItem{
				{TemplateID: "t1", MsgID: "1700000000000000000", ErrorStatus: "success"},
				{TemplateID: "t2", MsgID: "1700000000000000001", ErrorCode: 10005, ErrorStatus: "fail"}}}},
		{"media check json (spec)", FormatJSON, specMediaJSON,
			&MediaCheck{Header: Header{ToUserName: "gh_7bf1f1389686", FromUserName: "or9bw…", CreateTime: 1762329554, MsgType: "event", Event: "wxa_media_check"},
				AppID: "wxb04d…", TraceID: "690b03d2-301f6111-35ffbd44", Version: 2, Result: MediaCheckResult{Suggest: "pass", Label: "100"},
				Detail: []MediaCheckDetail{{Strategy: "content_model", Suggest: "pass", Label: "100", Prob: 90}}}},
		{"media check xml, repeated detail", FormatXML, xev("wxa_media_check", `<appid><![CDATA[wxapp]]></appid><trace_id><![CDATA[tr1]]></trace_id><version>2</version><errcode>0</errcode><errmsg><![CDATA[ok]]></errmsg><result><suggest><![CDATA[risky]]></suggest><label>20001</label></result><detail><strategy><![CDATA[content_model]]></strategy><errcode>0</errcode><suggest><![CDATA[risky]]></suggest><label>20001</label><prob>90</prob></detail><detail><strategy><![CDATA[keyword]]></strategy><errcode>0</errcode><suggest><![CDATA[pass]]></suggest><label>100</label><prob>0</prob></detail>`),
			&MediaCheck{Header: hdr("event", "wxa_media_check"), AppID: "wxapp", TraceID: "tr1", Version: 2, ErrMsg: "ok", Result: MediaCheckResult{Suggest: "risky", Label: "20001"},
				Detail: []MediaCheckDetail{{Strategy: "content_model", Suggest: "risky", Label: "20001", Prob: 90}, {Strategy: "keyword", Suggest: "pass", Label: "100"}}}},
		{"user_info_modified xml", FormatXML, xev("user_info_modified", authXML), &UserInfoModified{Header: hdr("event", "user_info_modified"), AuthChange: auth}},
		{"user_info_modified json", FormatJSON, jev("user_info_modified", authJSON), &UserInfoModified{Header: hdr("event", "user_info_modified"), AuthChange: auth}},
		{"user_authorization_revoke xml", FormatXML, xev("user_authorization_revoke", authXML), &UserAuthorizationRevoke{Header: hdr("event", "user_authorization_revoke"), AuthChange: auth}},
		{"user_authorization_revoke json", FormatJSON, jev("user_authorization_revoke", authJSON), &UserAuthorizationRevoke{Header: hdr("event", "user_authorization_revoke"), AuthChange: auth}},
		{"user_authorization_cancellation xml", FormatXML, xev("user_authorization_cancellation", authXML), &UserAuthorizationCancellation{Header: hdr("event", "user_authorization_cancellation"), AuthChange: auth}},
		{"user_authorization_cancellation json", FormatJSON, jev("user_authorization_cancellation", authJSON), &UserAuthorizationCancellation{Header: hdr("event", "user_authorization_cancellation"), AuthChange: auth}},
		{"trade_manage_remind_access_api json", FormatJSON, jev("trade_manage_remind_access_api", tradeJSON), trade("trade_manage_remind_access_api")},
		{"trade_manage_remind_shipping xml", FormatXML, xev("trade_manage_remind_shipping", tradeXML), trade("trade_manage_remind_shipping")},
		{"trade_manage_order_settlement json", FormatJSON, jev("trade_manage_order_settlement", tradeJSON), trade("trade_manage_order_settlement")},
		{"trade_manage_order_settlement xml", FormatXML, xev("trade_manage_order_settlement", tradeXML), trade("trade_manage_order_settlement")},
		{"xpay deliver json", FormatJSON, jev("xpay_goods_deliver_notify", `,"OpenId":"oUser","OutTradeNo":"OT1","Env":1,"WeChatPayInfo":{"MchOrderNo":"M1","TransactionId":"42001","PaidTime":1700000010},"GoodsInfo":{"ProductId":"p1","Quantity":2,"OrigPrice":100,"ActualPrice":90,"Attach":"a"},"TeamInfo":{"ActivityId":"act","TeamId":"team","TeamType":1,"TeamAction":0}`), deliver},
		{"xpay deliver xml", FormatXML, xev("xpay_goods_deliver_notify", `<OpenId><![CDATA[oUser]]></OpenId><OutTradeNo><![CDATA[OT1]]></OutTradeNo><Env>1</Env><WeChatPayInfo><MchOrderNo><![CDATA[M1]]></MchOrderNo><TransactionId><![CDATA[42001]]></TransactionId><PaidTime>1700000010</PaidTime></WeChatPayInfo><GoodsInfo><ProductId><![CDATA[p1]]></ProductId><Quantity>2</Quantity><OrigPrice>100</OrigPrice><ActualPrice>90</ActualPrice><Attach><![CDATA[a]]></Attach></GoodsInfo><TeamInfo><ActivityId>act</ActivityId><TeamId>team</TeamId><TeamType>1</TeamType><TeamAction>0</TeamAction></TeamInfo>`), deliver},
		{"xpay coin json", FormatJSON, jev("xpay_coin_pay_notify", `,"OpenId":"oUser","OutTradeNo":"OT2","Env":0,"WeChatPayInfo":{"MchOrderNo":"M1","TransactionId":"42001","PaidTime":1700000010},"CoinInfo":{"Quantity":10,"OrigPrice":1000,"ActualPrice":1000,"Attach":"c"}`), coin},
		{"xpay coin xml", FormatXML, xev("xpay_coin_pay_notify", `<OpenId>oUser</OpenId><OutTradeNo>OT2</OutTradeNo><Env>0</Env><WeChatPayInfo><MchOrderNo>M1</MchOrderNo><TransactionId>42001</TransactionId><PaidTime>1700000010</PaidTime></WeChatPayInfo><CoinInfo><Quantity>10</Quantity><OrigPrice>1000</OrigPrice><ActualPrice>1000</ActualPrice><Attach>c</Attach></CoinInfo>`), coin},
		{"xpay refund json", FormatJSON, jev("xpay_refund_notify", `,"OpenId":"oUser","WxRefundId":"wr1","MchRefundId":"mr1","WxOrderId":"wo1","MchOrderId":"mo1","RefundFee":90,"RetCode":0,"RetMsg":"ok","RefundStartTimestamp":1700000020,"RefundSuccTimestamp":1700000021,"WxpayRefundTransactionId":"50001","RetryTimes":1`), refund},
		{"xpay refund xml", FormatXML, xev("xpay_refund_notify", `<OpenId>oUser</OpenId><WxRefundId>wr1</WxRefundId><MchRefundId>mr1</MchRefundId><WxOrderId>wo1</WxOrderId><MchOrderId>mo1</MchOrderId><RefundFee>90</RefundFee><RetCode>0</RetCode><RetMsg>ok</RetMsg><RefundStartTimestamp>1700000020</RefundStartTimestamp><RefundSuccTimestamp>1700000021</RefundSuccTimestamp><WxpayRefundTransactionId>50001</WxpayRefundTransactionId><RetryTimes>1</RetryTimes>`), refund},
		{"xpay complaint json", FormatJSON, jev("xpay_complaint_notify", `,"OpenId":"oUser","WxOrderId":"wo1","MchOrderId":"mo1","TransactionId":"42001","ComplaintId":"c1","ComplaintDetail":"not delivered","ComplaintTime":1700000030,"RetryTimes":0,"RequestId":"r1"`), complaint},
		{"xpay complaint xml", FormatXML, xev("xpay_complaint_notify", `<OpenId>oUser</OpenId><WxOrderId>wo1</WxOrderId><MchOrderId>mo1</MchOrderId><TransactionId>42001</TransactionId><ComplaintId>c1</ComplaintId><ComplaintDetail>not delivered</ComplaintDetail><ComplaintTime>1700000030</ComplaintTime><RetryTimes>0</RetryTimes><RequestId>r1</RequestId>`), complaint},
		// The field set of a real inquiry posted on the developer forum.
		{"xpay ios refund query json", FormatJSON, jev("xpay_subscribe_ios_refund_query_notify", `,"bundleid":"com.example","channel_bill":"apple1","consumption_status":"0","order_time":"1700000000","p_count":"1","pay_order_id":"po1","product_id":"p1","provide_status":"1","refund_request_reason":"UNINTENDED_PURCHASE","refund_time":"1700000040","service_type":"unipdt"`), iosq},
		{"xpay ios refund query xml", FormatXML, xev("xpay_subscribe_ios_refund_query_notify", `<refund_time>1700000040</refund_time><order_time>1700000000</order_time><channel_bill>apple1</channel_bill><bundleid>com.example</bundleid><product_id>p1</product_id><p_count>1</p_count><refund_request_reason>UNINTENDED_PURCHASE</refund_request_reason><provide_status>1</provide_status><consumption_status>0</consumption_status><service_type>unipdt</service_type><pay_order_id>po1</pay_order_id>`), iosq},
		{"xpay signing result json", FormatJSON, jev("xpay_subscribe_signing_result_notify", `,"OpenId":"oUser","OutTradeNo":"s1","SignStatus":1`),
			&XPaySubscribeNotify{Header: withExtra(hdr("event", EventXPaySubscribeSigningResult), Field{"SignStatus", NumberValue("1")}), OpenID: "oUser", OutTradeNo: "s1"}},
		{"xpay pay fail xml", FormatXML, xev("xpay_subscribe_pay_fail_notify", `<OpenId>oUser</OpenId><OutTradeNo>s2</OutTradeNo>`),
			&XPaySubscribeNotify{Header: hdr("event", EventXPaySubscribePayFail), OpenID: "oUser", OutTradeNo: "s2"}},
		{"add_express_path json", FormatJSON, jev("add_express_path", pathJSON), path},
		{"add_express_path xml", FormatXML, xev("add_express_path", pathXML), path},
		{"complaint_callback xml", FormatXML, xev("complaint_callback", complaintXML), complaintCB},
		{"complaint_callback json", FormatJSON, jev("complaint_callback", complaintJSON), complaintCB},
		{"add_waybill json", FormatJSON, jev("add_waybill", addWaybillJSON), addWaybill},
		{"add_waybill xml", FormatXML, xev("add_waybill", addWaybillXML), addWaybill},
		{"cancel_waybill xml", FormatXML, xev("cancel_waybill", `<OrderID>o1</OrderID><BizID>biz</BizID><BizPwd>pwd</BizPwd><ShopAppID>wxshop</ShopAppID><WayBillID>w1</WayBillID>`),
			&ExpressCancelWaybill{Header: hdr("event", EventExpressCancelWaybill), OrderID: "o1", BizID: "biz", BizPwd: "pwd", ShopAppID: "wxshop", WayBillID: "w1"}},
		{"get_quota json", FormatJSON, jev("get_quota", `,"BizID":"biz","BizPwd":"pwd","ShopAppID":"wxshop"`),
			&ExpressBusiness{Header: hdr("event", EventExpressGetQuota), BizID: "biz", BizPwd: "pwd", ShopAppID: "wxshop"}},
		{"check_biz xml", FormatXML, xev("check_biz", `<BizID>biz</BizID><BizPwd>pwd</BizPwd><ShopAppID>wxshop</ShopAppID><ShopName>店</ShopName><ShopTelphone>020</ShopTelphone><ShopContact>王</ShopContact><ServiceName>标快</ServiceName><SenderAddress>广州</SenderAddress>`),
			&ExpressBusiness{Header: hdr("event", EventExpressCheckBiz), BizID: "biz", BizPwd: "pwd", ShopAppID: "wxshop", ShopName: "店", ShopTelphone: "020", ShopContact: "王", ServiceName: "标快", SenderAddress: "广州"}},
		{"unknown event json", FormatJSON, jev("secvod_upload_event", `,"DeliveryID":"SF","Actions":[{"ActionTime":1,"ActionType":100001,"ActionMsg":"picked"},{"ActionTime":2}],"Count":2,"Ok":true,"None":null`),
			&Unknown{Header: hdr("event", "secvod_upload_event"), Fields: []Field{
				{"DeliveryID", StringValue("SF")},
				{"Actions", ArrayValue(
					ObjectValue(Field{"ActionTime", NumberValue("1")}, Field{"ActionType", NumberValue("100001")}, Field{"ActionMsg", StringValue("picked")}),
					ObjectValue(Field{"ActionTime", NumberValue("2")}))},
				{"Count", NumberValue("2")}, {"Ok", BoolValue(true)}, {"None", NullValue()}}}},
		{"unknown event xml", FormatXML, xev("secvod_upload_event", `<DeliveryID>SF</DeliveryID><Actions><ActionTime>1</ActionTime><ActionMsg><![CDATA[picked]]></ActionMsg></Actions><Actions><ActionTime>2</ActionTime></Actions><Count>2</Count>`),
			&Unknown{Header: hdr("event", "secvod_upload_event"), Fields: []Field{
				{"DeliveryID", StringValue("SF")},
				{"Actions", ObjectValue(Field{"ActionTime", StringValue("1")}, Field{"ActionMsg", StringValue("picked")})},
				{"Actions", ObjectValue(Field{"ActionTime", StringValue("2")})},
				{"Count", StringValue("2")}}}},
		{"unknown msgtype xml", FormatXML, `<xml>` + h + `<MsgType><![CDATA[voice]]></MsgType><MediaId>m</MediaId><MsgId>9</MsgId></xml>`,
			&Unknown{Header: hdr("voice", ""), Fields: []Field{{"MediaId", StringValue("m")}, {"MsgId", StringValue("9")}}}},
	}
}

func withExtra(h Header, fs ...Field) Header {
	h.Extra = fs
	return h
}

// decoded strips Unknown.Raw (checked separately) so values compare.
func stripRaw(p Push) Push {
	if u, ok := p.(*Unknown); ok {
		c := *u
		c.Raw = nil
		return &c
	}
	return p
}

func TestDecodeSamples(t *testing.T) {
	for _, s := range samples() {
		t.Run(s.name, func(t *testing.T) {
			p, err := Decode([]byte(s.body), s.f)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if u, ok := p.(*Unknown); ok && string(u.Raw) != s.body {
				t.Errorf("Unknown.Raw = %q, want the body", u.Raw)
			}
			if got := stripRaw(p); !reflect.DeepEqual(got, s.want) {
				t.Errorf("Decode mismatch\n got %#v\nwant %#v", got, s.want)
			}
			if got, want := KindOf(p), kindOf(s.want.Head().MsgType, s.want.Head().Event); got != want {
				t.Errorf("KindOf = %v, want %v", got, want)
			}
		})
	}
}

// TestRoundTrip checks Decode(Encode(p, f), f) == p for every sample in both
// formats, starting from the value decoded from the sample.
func TestRoundTrip(t *testing.T) {
	for _, s := range samples() {
		for _, f := range []Format{FormatXML, FormatJSON} {
			t.Run(s.name+"/"+f.String(), func(t *testing.T) {
				p, err := Decode([]byte(s.body), s.f)
				if err != nil {
					t.Fatal(err)
				}
				if f != s.f {
					// Start from the other format's decoding so that the
					// round trip is exact (Raw and JSON-only kinds differ).
					b, err := Encode(p, f)
					if err != nil {
						t.Fatalf("Encode: %v", err)
					}
					if p, err = Decode(b, f); err != nil {
						t.Fatalf("Decode(%s): %v", b, err)
					}
				}
				b, err := Encode(p, f)
				if err != nil {
					t.Fatalf("Encode: %v", err)
				}
				q, err := Decode(b, f)
				if err != nil {
					t.Fatalf("Decode(%s): %v", b, err)
				}
				if !reflect.DeepEqual(p, q) {
					t.Errorf("round trip mismatch via %s\n got %#v\nwant %#v", b, q, p)
				}
			})
		}
	}
}

// TestRoundTripConstructed encodes the hand-built values (not decoded ones)
// and decodes them back.
func TestRoundTripConstructed(t *testing.T) {
	for _, s := range samples() {
		if _, ok := s.want.(*Unknown); ok {
			continue // Raw is only known after decoding
		}
		for _, f := range []Format{FormatXML, FormatJSON} {
			b, err := Encode(s.want, f)
			if err != nil {
				t.Fatalf("%s: Encode: %v", s.name, err)
			}
			q, err := Decode(b, f)
			if err != nil {
				t.Fatalf("%s: Decode(%s): %v", s.name, b, err)
			}
			want := s.want
			if f == FormatXML && s.f == FormatJSON {
				want = typedOnly(s.want)
				q = typedOnly(q)
			}
			if !reflect.DeepEqual(q, want) {
				t.Errorf("%s via %s:\n got %#v\nwant %#v", s.name, b, q, want)
			}
		}
	}
}

// typedOnly returns a copy of p without Header.Extra.
func typedOnly(p Push) Push {
	b, err := Encode(p, FormatJSON)
	if err != nil {
		panic(err)
	}
	q, err := Decode(b, FormatJSON)
	if err != nil {
		panic(err)
	}
	q.Head().Extra = nil
	return q
}

// TestCrossFormat checks XML -> JSON -> XML keeps every typed field (and,
// for XML-born values, everything).
func TestCrossFormat(t *testing.T) {
	for _, s := range samples() {
		p, err := Decode([]byte(s.body), s.f)
		if err != nil {
			t.Fatal(err)
		}
		other := FormatJSON
		if s.f == FormatJSON {
			other = FormatXML
		}
		b, err := Encode(p, other)
		if err != nil {
			t.Fatalf("%s: Encode(%v): %v", s.name, other, err)
		}
		q, err := Decode(b, other)
		if err != nil {
			t.Fatalf("%s: Decode(%s): %v", s.name, b, err)
		}
		b2, err := Encode(q, s.f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Decode(b2, s.f)
		if err != nil {
			t.Fatal(err)
		}
		want, got := stripRaw(p), stripRaw(r)
		if s.f == FormatJSON {
			// JSON numbers, bools and nulls in Extra become XML text.
			if _, ok := p.(*Unknown); ok {
				continue
			}
			want, got = typedOnly(want), typedOnly(got)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v->%v->%v lost data\n got %#v\nwant %#v", s.name, s.f, other, s.f, got, want)
		}
	}
}

func TestEncodeExact(t *testing.T) {
	p, err := Decode([]byte(specTextXML), FormatXML)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := Encode(p, FormatXML)
	if string(x) != specTextXML {
		t.Errorf("XML:\n got %s\nwant %s", x, specTextXML)
	}
	j, _ := Encode(p, FormatJSON)
	const wantJ = `{"ToUserName":"toUser","FromUserName":"fromUser","CreateTime":1482048670,"MsgType":"text","Content":"this is a test","MsgId":1234567890123456}`
	if string(j) != wantJ {
		t.Errorf("JSON:\n got %s\nwant %s", j, wantJ)
	}
	d, _ := Decode([]byte(v3DebugDemoJSON), FormatJSON)
	if j, _ := Encode(d, FormatJSON); string(j) != v3DebugDemoJSON {
		t.Errorf("debug_demo JSON:\n got %s\nwant %s", j, v3DebugDemoJSON)
	}
	// One subscribe item is written as an object, like real payloads.
	s, _ := Decode([]byte(specSubSentJSON), FormatJSON)
	j, _ = Encode(s, FormatJSON)
	if !strings.Contains(string(j), `"List":{"TemplateId"`) || !strings.Contains(string(j), `"MsgID":"1864323726461255680"`) {
		t.Errorf("subscribe JSON: %s", j)
	}
}

func TestEncodeFillsKind(t *testing.T) {
	b, err := Encode(&Text{Content: "hi"}, FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"ToUserName":"","FromUserName":"","CreateTime":0,"MsgType":"text","Content":"hi","MsgId":""}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	b, err = Encode(&DebugDemo{DebugStr: "x"}, FormatXML)
	if err != nil || !strings.Contains(string(b), `<Event><![CDATA[debug_demo]]></Event>`) {
		t.Errorf("DebugDemo: %s %v", b, err)
	}
	b, err = Encode(&DebugDemo{Header: Header{MsgType: "event"}}, FormatJSON)
	if err != nil || !strings.Contains(string(b), `"Event":"debug_demo"`) {
		t.Errorf("DebugDemo with MsgType only: %s %v", b, err)
	}
	// Ambiguous (several kinds) or mismatching headers are errors.
	if _, err := Encode(&TradeManage{}, FormatJSON); !errors.Is(err, ErrUnencodable) {
		t.Errorf("TradeManage without Event: %v", err)
	}
	if _, err := Encode(&Text{Header: Header{MsgType: "image"}}, FormatJSON); !errors.Is(err, ErrUnencodable) {
		t.Errorf("Text with MsgType image: %v", err)
	}
}

func TestEncodeErrors(t *testing.T) {
	for _, p := range []Push{
		&Text{Header: Header{MsgType: "text"}, Content: "bad\x00"},
		&Text{Header: Header{MsgType: "text"}, Content: "bad\xff"},
		&Unknown{Header: Header{MsgType: "x"}, Fields: []Field{{"bad name", StringValue("v")}}},
		&Unknown{Header: Header{MsgType: "x"}, Fields: []Field{{"n", NumberValue("01")}}},
		&Unknown{Header: Header{MsgType: "x"}, Fields: []Field{{"b", Value{Kind: ValueBool, Text: "yes"}}}},
	} {
		b, err := Encode(p, FormatXML)
		if !errors.Is(err, ErrUnencodable) || b != nil {
			t.Errorf("Encode(%#v, XML) = %q, %v; want ErrUnencodable", p, b, err)
		}
	}
	if _, err := Encode(&Text{Content: "x"}, Format(9)); err == nil {
		t.Error("invalid format accepted")
	}
	for _, p := range []Push{nil, (*Text)(nil), (*Unknown)(nil)} {
		if _, err := Encode(p, FormatJSON); !errors.Is(err, ErrUnencodable) {
			t.Errorf("Encode(%#v): %v", p, err)
		}
	}
	if _, err := Encode(&foreign{}, FormatXML); !errors.Is(err, ErrUnencodable) {
		t.Errorf("foreign Push: %v", err)
	}
	// JSON carries control characters; invalid UTF-8 is refused.
	if _, err := Encode(&Text{Content: "a\x00\x1f\"\\\n\r\t"}, FormatJSON); err != nil {
		t.Error(err)
	}
	if _, err := Encode(&Text{Content: "\xff"}, FormatJSON); !errors.Is(err, ErrUnencodable) {
		t.Errorf("invalid UTF-8: %v", err)
	}
}

type foreign struct{ Header }

func (*foreign) DedupKey() string { return "" }

// TestXMLSpecialText checks strings that need care in XML survive.
func TestXMLSpecialText(t *testing.T) {
	for _, s := range []string{"", " lead and trail ", "a]]>b", "]]>", "]]]>>", "x\r\ny\rz", "<&>\"'", "tab\tnl\n", "中文😀", "\uFFFD"} {
		for _, f := range []Format{FormatXML, FormatJSON} {
			p := &Text{Header: Header{MsgType: "text"}, Content: s, MsgID: "1"}
			b, err := Encode(p, f)
			if err != nil {
				t.Fatalf("%q: %v", s, err)
			}
			q, err := Decode(b, f)
			if err != nil {
				t.Fatalf("%q: %v (%s)", s, err, b)
			}
			if q.(*Text).Content != s {
				t.Errorf("%v: %q came back as %q via %s", f, s, q.(*Text).Content, b)
			}
		}
	}
}

func TestFormat(t *testing.T) {
	for body, want := range map[string]Format{"<xml/>": FormatXML, " \r\n\t<x": FormatXML, "{}": FormatJSON, "\n{": FormatJSON} {
		if got, err := DetectFormat([]byte(body)); err != nil || got != want {
			t.Errorf("DetectFormat(%q) = %v, %v", body, got, err)
		}
	}
	for _, body := range []string{"", "  ", "success", "[1]", "\xef\xbb\xbf<xml/>"} {
		if _, err := DetectFormat([]byte(body)); !errors.Is(err, ErrMalformed) {
			t.Errorf("DetectFormat(%q) err = %v", body, err)
		}
	}
	if FormatXML.String() != "xml" || FormatJSON.String() != "json" || Format(0).String() != "Format(0)" {
		t.Error("Format.String")
	}
	if _, err := Decode([]byte("{}"), 0); err == nil || errors.Is(err, ErrMalformed) {
		t.Errorf("Decode with Format(0): %v", err)
	}
}

func TestKinds(t *testing.T) {
	types := Types()
	if len(types) != 28 {
		t.Errorf("Types() has %d kinds", len(types))
	}
	for _, e := range []string{EventUserEnterTempSession, EventSubscribeMsgPopup, EventSubscribeMsgChange, EventSubscribeMsgSent, EventMediaCheck,
		EventUserInfoModified, EventUserAuthorizationRevoke, EventUserAuthorizationCancellation, EventTradeManageRemindAccessAPI,
		EventTradeManageRemindShipping, EventTradeManageOrderSettlement, EventXPayGoodsDeliverNotify, EventXPayCoinPayNotify,
		EventXPayRefundNotify, EventXPayComplaintNotify, EventXPaySubscribeSigningResult, EventXPaySubscribePayFail,
		EventXPaySubscribeIOSRefundQuery, EventDebugDemo, EventAddExpressPath, EventComplaintCallback, EventExpressAddWaybill,
		EventExpressCancelWaybill, EventExpressGetQuota, EventExpressCheckBiz} {
		if newTyped(Kind{MsgType: MsgTypeEvent, Event: e}) == nil {
			t.Errorf("event %s has no typed model", e)
		}
	}
	seen := map[Kind]bool{}
	for i, k := range types {
		if seen[k] {
			t.Errorf("duplicate kind %v", k)
		}
		seen[k] = true
		if i > 0 && (types[i-1].MsgType > k.MsgType || types[i-1].MsgType == k.MsgType && types[i-1].Event >= k.Event) {
			t.Errorf("Types not sorted at %v", k)
		}
		p := newTyped(k)
		if p == nil {
			t.Fatalf("no type for %v", k)
		}
		found := false
		for _, kk := range KindsOf(p) {
			found = found || kk == k
		}
		if !found {
			t.Errorf("KindsOf(%T) = %v lacks %v", p, KindsOf(p), k)
		}
	}
	if ks := KindsOf(&TradeManage{}); len(ks) != 3 {
		t.Errorf("KindsOf(TradeManage) = %v", ks)
	}
	if KindsOf(&Unknown{}) != nil || KindsOf(&foreign{}) != nil {
		t.Error("KindsOf(Unknown) not nil")
	}
	ks := KindsOf(&Text{})
	ks[0].MsgType = "changed"
	if KindsOf(&Text{})[0].MsgType != "text" {
		t.Error("KindsOf returned shared storage")
	}
	if got := KindOf(&Text{Header: Header{MsgType: "text", Event: "x"}}); got != (Kind{MsgType: "text"}) {
		t.Errorf("KindOf ignores Event of messages: %v", got)
	}
	if s := (Kind{"event", "debug_demo"}).String(); s != "event:debug_demo" {
		t.Error(s)
	}
	if s := (Kind{MsgType: "text"}).String(); s != "text" {
		t.Error(s)
	}
}

// digestOf is the digest key p must have.
func digestOf(p Push) string {
	h := p.Head()
	ev := h.Event
	if ev == "" {
		ev = h.MsgType
	}
	sum := digest(p)
	return "ev:" + h.FromUserName + ":" + itoa(h.CreateTime) + ":" + ev + ":" + hex.EncodeToString(sum[:16])
}

func TestDedupKeys(t *testing.T) {
	h := Header{FromUserName: "oU", CreateTime: 1700000000, MsgType: "event"}
	ev := func(e string) Header { x := h; x.Event = e; return x }
	digested := []Push{
		&Text{Header: Header{FromUserName: "oU", CreateTime: 5, MsgType: "text"}},
		&UserEnterTempSession{Header: ev("user_enter_tempsession")},
		&DebugDemo{Header: ev("debug_demo")},
		&SubscribeMsgPopupEvent{Header: ev("subscribe_msg_popup_event")},
		&SubscribeMsgChangeEvent{Header: ev("subscribe_msg_change_event")},
		&SubscribeMsgSentEvent{Header: ev("subscribe_msg_sent_event"), List: []SubscribeSentItem{{}}},
		&SubscribeMsgSentEvent{Header: ev("subscribe_msg_sent_event"), List: []SubscribeSentItem{{MsgID: "1"}, {}}},
		&MediaCheck{Header: ev("wxa_media_check")},
		&UserInfoModified{Header: ev("user_info_modified")},
		&UserAuthorizationRevoke{Header: ev("user_authorization_revoke")},
		&UserAuthorizationCancellation{Header: ev("user_authorization_cancellation")},
		&TradeManage{Header: ev("trade_manage_remind_shipping"), TransactionID: "42"},
		&TradeManage{Header: ev("trade_manage_order_settlement")},
		&XPaySubscribeNotify{Header: ev("xpay_subscribe_pay_fail_notify"), OutTradeNo: "s"},
		&XPayIOSRefundQuery{Header: ev("xpay_subscribe_ios_refund_query_notify"), PayOrderID: "po"},
		&AddExpressPath{Header: ev("add_express_path"), DeliveryID: "SF"},
		&ComplaintCallback{Header: ev("complaint_callback"), Info: ComplaintInfo{ComplaintOrderID: "c"}},
		&ExpressAddWaybill{Header: ev("add_waybill"), OrderID: "o"},
		&ExpressBusiness{Header: ev("get_quota"), BizID: "b"},
		&Unknown{Header: ev("secvod_upload_event")},
	}
	for _, p := range digested {
		got := p.DedupKey()
		if want := digestOf(p); got != want || len(got) != len(want) || !strings.HasPrefix(got, "ev:oU:") {
			t.Errorf("%T.DedupKey() = %q, want %q", p, got, want)
		}
	}
	for _, c := range []struct {
		p    Push
		want string
	}{
		{&Text{Header: Header{MsgType: "text"}, MsgID: "123"}, "msg:123"},
		{&Image{MsgID: "9"}, "msg:9"},
		{&MiniProgramPage{MsgID: "x_1"}, "msg:x_1"},
		{&SubscribeMsgSentEvent{Header: ev("subscribe_msg_sent_event"), List: []SubscribeSentItem{{MsgID: "1"}, {MsgID: "2"}}}, "biz:subscribe_msg_sent_event:1,2"},
		{&MediaCheck{Header: ev("wxa_media_check"), TraceID: "tr"}, "biz:wxa_media_check:tr"},
		{&TradeManage{Header: ev("trade_manage_order_settlement"), TransactionID: "42", ShippedTime: 1}, "biz:trade_manage_order_settlement:42:shipped"},
		{&TradeManage{Header: ev("trade_manage_order_settlement"), MerchantTradeNo: "T1", SettlementTime: 2}, "biz:trade_manage_order_settlement:T1:settled"},
		{&XPayGoodsDeliverNotify{Header: ev("xpay_goods_deliver_notify"), OutTradeNo: "o1"}, "biz:xpay_goods_deliver_notify:o1"},
		{&XPayCoinPayNotify{Header: ev("xpay_coin_pay_notify"), OutTradeNo: "o2"}, "biz:xpay_coin_pay_notify:o2"},
		{&XPayRefundNotify{Header: ev("xpay_refund_notify"), MchRefundID: "mr", WxRefundID: "wr"}, "biz:xpay_refund_notify:mr"},
		{&XPayRefundNotify{Header: ev("xpay_refund_notify"), WxRefundID: "wr"}, "biz:xpay_refund_notify:wr"},
		{&XPayComplaintNotify{Header: ev("xpay_complaint_notify"), ComplaintID: "c"}, "biz:xpay_complaint_notify:c"},
		{&XPayIOSRefundQuery{Header: ev("xpay_subscribe_ios_refund_query_notify"), PayOrderID: "po", RefundTime: "17"}, "biz:xpay_subscribe_ios_refund_query_notify:po:17"},
		{&XPayIOSRefundQuery{Header: ev("xpay_subscribe_ios_refund_query_notify"), OutTradeNo: "ot", RefundTime: "17"}, "biz:xpay_subscribe_ios_refund_query_notify:ot:17"},
		{&AddExpressPath{Header: ev("add_express_path"), DeliveryID: "SF", WayBillID: "W1", Version: 0}, "biz:add_express_path:SF:W1:0"},
		{&Unknown{Header: Header{MsgType: "voice"}, Fields: []Field{{"MsgId", NumberValue("77")}}}, "msg:77"},
	} {
		if got := c.p.DedupKey(); got != c.want {
			t.Errorf("%T.DedupKey() = %q, want %q", c.p, got, c.want)
		}
	}
	// Retries of the same push collapse; a different push does not.
	a, _ := Decode([]byte(specTextXML), FormatXML)
	b, _ := Decode([]byte(specTextXML), FormatXML)
	c, _ := Decode([]byte(v6TextXML), FormatXML)
	if a.DedupKey() != b.DedupKey() || a.DedupKey() == c.DedupKey() {
		t.Error("dedup keys of retries")
	}
}

// TestDedupDistinctEvents: the two real cases that the old key (From,
// CreateTime, Event) collapsed, so the second push was never handled. Each
// must keep its own key, while a retry (the same bytes) shares it.
func TestDedupDistinctEvents(t *testing.T) {
	const head = `"ToUserName":"gh_abc","FromUserName":"oUser","CreateTime":1700000000,"MsgType":"event",`
	pairs := [][2]string{
		{`{` + head + `"Event":"trade_manage_order_settlement","transaction_id":"4200001","merchant_id":"1600","merchant_trade_no":"T1","pay_time":1699990000,"shipped_time":1699999000,"estimated_settlement_time":1700600000}`,
			`{` + head + `"Event":"trade_manage_order_settlement","transaction_id":"4200002","merchant_id":"1600","merchant_trade_no":"T2","pay_time":1699990000,"shipped_time":1699999000,"estimated_settlement_time":1700600000}`},
		{`<xml><ToUserName>gh_abc</ToUserName><FromUserName>oUser</FromUserName><CreateTime>1700000000</CreateTime><MsgType>event</MsgType><Event>subscribe_msg_popup_event</Event><SubscribeMsgPopupEvent><List><TemplateId>tplA</TemplateId><SubscribeStatusString>accept</SubscribeStatusString><PopupScene>0</PopupScene></List></SubscribeMsgPopupEvent></xml>`,
			`<xml><ToUserName>gh_abc</ToUserName><FromUserName>oUser</FromUserName><CreateTime>1700000000</CreateTime><MsgType>event</MsgType><Event>subscribe_msg_popup_event</Event><SubscribeMsgPopupEvent><List><TemplateId>tplB</TemplateId><SubscribeStatusString>accept</SubscribeStatusString><PopupScene>0</PopupScene></List></SubscribeMsgPopupEvent></xml>`},
		// The shipping and the settlement push of one order.
		{`{` + head + `"Event":"trade_manage_order_settlement","transaction_id":"4200001","shipped_time":1699999000,"estimated_settlement_time":1700600000}`,
			`{` + head + `"Event":"trade_manage_order_settlement","transaction_id":"4200001","shipped_time":1699999000,"confirm_receive_method":1,"confirm_receive_time":1700000000,"settlement_time":1700000000}`},
		{`{` + head + `"Event":"user_enter_tempsession","SessionFrom":"a"}`, `{` + head + `"Event":"user_enter_tempsession","SessionFrom":"b"}`},
		{`{` + head + `"Event":"complaint_callback","BussiCallBackInfo":{"complaint_order_id":"c1","status":201}}`,
			`{` + head + `"Event":"complaint_callback","BussiCallBackInfo":{"complaint_order_id":"c1","status":202}}`},
		{`{` + head + `"Event":"get_quota","BizID":"b1"}`, `{` + head + `"Event":"get_quota","BizID":"b2"}`},
		{`{` + head + `"Event":"secvod_upload_event","upload_event":{"media_id":1}}`, `{` + head + `"Event":"secvod_upload_event","upload_event":{"media_id":2}}`},
	}
	for _, pr := range pairs {
		f, _ := DetectFormat([]byte(pr[0]))
		p1, p1again, p2 := mustDecode(t, pr[0], f), mustDecode(t, pr[0], f), mustDecode(t, pr[1], f)
		if p1.DedupKey() != p1again.DedupKey() {
			t.Errorf("a retry of %s gets another key", pr[0])
		}
		if p1.DedupKey() == p2.DedupKey() {
			t.Errorf("two distinct pushes share the key %q:\n%s\n%s", p1.DedupKey(), pr[0], pr[1])
		}
	}
}

// TestDigestCanonical: the digest does not depend on member order, on a
// number being sent as a string, nor on which Go type models the push.
func TestDigestCanonical(t *testing.T) {
	const head = `"ToUserName":"gh_abc","FromUserName":"oUser","CreateTime":1700000000,"MsgType":"event","Event":"subscribe_msg_popup_event"`
	a := mustDecode(t, `{`+head+`,"List":{"TemplateId":"t","SubscribeStatusString":"accept","PopupScene":2}}`, FormatJSON)
	b := mustDecode(t, `{"List":{"PopupScene":"2","SubscribeStatusString":"accept","TemplateId":"t"},`+head+`}`, FormatJSON)
	if a.DedupKey() != b.DedupKey() {
		t.Errorf("member order or number form changed the key: %s, %s", a.DedupKey(), b.DedupKey())
	}
	d := &DebugDemo{Header: Header{ToUserName: "gh", FromUserName: "oU", CreateTime: 1, MsgType: "event", Event: "debug_demo"}, DebugStr: "x"}
	u := &Unknown{Header: d.Header, Fields: []Field{{"debug_str", StringValue("x")}}}
	if d.DedupKey() != u.DedupKey() {
		t.Errorf("typed %s, unknown %s", d.DedupKey(), u.DedupKey())
	}
	// A one-character change anywhere changes the key, nested ones too.
	c := mustDecode(t, `{`+head+`,"List":{"TemplateId":"t","SubscribeStatusString":"accept","PopupScene":3}}`, FormatJSON)
	x := mustDecode(t, `{`+head+`,"List":{"TemplateId":"t","SubscribeStatusString":"accept","PopupScene":2},"X":{"y":[1]}}`, FormatJSON)
	y := mustDecode(t, `{`+head+`,"List":{"TemplateId":"t","SubscribeStatusString":"accept","PopupScene":2},"X":{"y":[2]}}`, FormatJSON)
	if c.DedupKey() == a.DedupKey() || x.DedupKey() == y.DedupKey() || x.DedupKey() == a.DedupKey() {
		t.Error("different pushes share a key")
	}
	// Path segments cannot be confused by names containing separators.
	p := &Unknown{Header: Header{MsgType: "x"}, Fields: []Field{{"a", ObjectValue(Field{"b", StringValue("1")})}}}
	q := &Unknown{Header: Header{MsgType: "x"}, Fields: []Field{{"a\x01b", StringValue("1")}}}
	if p.DedupKey() == q.DedupKey() {
		t.Error("nested and flat names collide")
	}
}

func TestValue(t *testing.T) {
	o := ObjectValue(Field{"a", StringValue("1")}, Field{"a", StringValue("2")})
	if v, ok := o.Get("a"); !ok || v.String() != "1" {
		t.Errorf("Get = %v %v", v, ok)
	}
	if _, ok := o.Get("b"); ok {
		t.Error("Get(b)")
	}
	if o.String() != "" || NumberValue("1.5").String() != "1.5" || BoolValue(false).Text != "false" || NullValue().Kind != ValueNull {
		t.Error("Value accessors")
	}
	for k, s := range map[ValueKind]string{ValueString: "string", ValueNumber: "number", ValueBool: "bool", ValueNull: "null", ValueObject: "object", ValueArray: "array", 99: "invalid"} {
		if k.String() != s {
			t.Errorf("%d.String() = %s", k, k.String())
		}
	}
	h := Header{Extra: []Field{{"URL", StringValue("u")}}}
	if v, ok := h.Get("URL"); !ok || v.Text != "u" {
		t.Error("Header.Get")
	}
	u := &Unknown{Fields: []Field{{"k", StringValue("v")}}}
	if v, ok := u.Get("k"); !ok || v.Text != "v" {
		t.Error("Unknown.Get")
	}
}
