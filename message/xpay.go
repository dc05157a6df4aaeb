package message

// Virtual payment (虚拟支付) pushes. Sources:
// https://developers.weixin.qq.com/miniprogram/dev/platform-capabilities/business-capabilities/virtual-payment.html#消息推送
// https://developers.weixin.qq.com/miniprogram/dev/wxcloudservice/wxcloud/guide/wechatpay/virtual-payment-callback.html
// https://developers.weixin.qq.com/miniprogram/dev/platform-capabilities/business-capabilities/virtual-payment/ios.html
//
// WeChat redelivers an xpay notification until it gets the explicit
// acknowledgement XPayOK ("success" is not one), after 15s, 15s, 30s, 3m,
// 10m, 20m, 30m, 30m, 30m, 60m, 3h, 3h, 3h, 6h and 6h; a resend carries an
// incremented RetryTimes where the event has one, so the dedup key is the
// business key. The iOS refund inquiry is different: it must be answered
// within 3 seconds with XPayIOSRefundAnswer, and is asked 3 times at most.

// XPayWeChatPayInfo is the WeChatPayInfo object of virtual-payment pushes
// (absent for non-WeChat-Pay channels).
type XPayWeChatPayInfo struct {
	MchOrderNo    string `wx:"MchOrderNo"`    // the merchant order number WeChat Pay knows
	TransactionID string `wx:"TransactionId"` // the WeChat Pay transaction
	PaidTime      int64  `wx:"PaidTime"`      // when the user paid, Unix seconds
	Extra         []Field
}

// XPayGoodsInfo is the GoodsInfo object of xpay_goods_deliver_notify.
type XPayGoodsInfo struct {
	ProductID   string `wx:"ProductId"`   // the item, as configured in the console
	Quantity    int64  `wx:"Quantity"`    // how many were bought
	OrigPrice   int64  `wx:"OrigPrice"`   // list price, in fen
	ActualPrice int64  `wx:"ActualPrice"` // price paid, in fen
	Attach      string `wx:"Attach"`      // the developer's data passed at ordering
	Extra       []Field
}

// XPayCoinInfo is the CoinInfo object of xpay_coin_pay_notify.
type XPayCoinInfo struct {
	Quantity    int64  `wx:"Quantity"`    // how many coins were bought
	OrigPrice   int64  `wx:"OrigPrice"`   // list price, in fen
	ActualPrice int64  `wx:"ActualPrice"` // price paid, in fen
	Attach      string `wx:"Attach"`      // the developer's data passed at ordering
	Extra       []Field
}

// XPayTeamInfo is the TeamInfo (group buying) object of virtual-payment
// pushes.
type XPayTeamInfo struct {
	ActivityID string `wx:"ActivityId"` // the group-buying campaign
	TeamID     string `wx:"TeamId"`     // the group the user joined
	TeamType   int64  `wx:"TeamType"`   // the kind of group
	TeamAction int64  `wx:"TeamAction"` // what the user did in the group
	Extra      []Field
}

// XPayGoodsDeliverNotify asks the developer to deliver an item bought with
// virtual payment (Event "xpay_goods_deliver_notify"). Answer with XPayOK
// once delivered; WeChat redelivers until it gets it.
type XPayGoodsDeliverNotify struct {
	Header        `wx:"event:xpay_goods_deliver_notify"`
	OpenID        string            `wx:"OpenId"`         // the buyer
	OutTradeNo    string            `wx:"OutTradeNo,key"` // the developer's order number from wx.requestVirtualPayment, the business key
	Env           int64             `wx:"Env"`            // 0 production, 1 sandbox
	WeChatPayInfo XPayWeChatPayInfo `wx:"WeChatPayInfo"`  // the WeChat Pay side of the order (omitted when zero)
	GoodsInfo     XPayGoodsInfo     `wx:"GoodsInfo"`      // what to deliver (omitted when zero)
	TeamInfo      XPayTeamInfo      `wx:"TeamInfo"`       // the group purchase, if any (omitted when zero)
}

// XPayCoinPayNotify reports a virtual-currency purchase
// (Event "xpay_coin_pay_notify"). Answer with XPayOK.
type XPayCoinPayNotify struct {
	Header        `wx:"event:xpay_coin_pay_notify"`
	OpenID        string            `wx:"OpenId"`         // the buyer
	OutTradeNo    string            `wx:"OutTradeNo,key"` // the developer's order number, the business key
	Env           int64             `wx:"Env"`            // 0 production, 1 sandbox
	WeChatPayInfo XPayWeChatPayInfo `wx:"WeChatPayInfo"`  // the WeChat Pay side of the order (omitted when zero)
	CoinInfo      XPayCoinInfo      `wx:"CoinInfo"`       // the coins bought (omitted when zero)
}

// XPayRefundNotify reports the result of a virtual-payment refund
// (Event "xpay_refund_notify"), including an approved iOS refund. Answer
// with XPayOK.
type XPayRefundNotify struct {
	Header                   `wx:"event:xpay_refund_notify"`
	OpenID                   string       `wx:"OpenId"`                   // the refunded user
	WxRefundID               string       `wx:"WxRefundId"`               // WeChat's refund number
	MchRefundID              string       `wx:"MchRefundId"`              // the developer's refund number
	WxOrderID                string       `wx:"WxOrderId"`                // WeChat's number of the refunded order
	MchOrderID               string       `wx:"MchOrderId"`               // the developer's number of the refunded order
	RefundFee                int64        `wx:"RefundFee"`                // the amount refunded, in fen
	RetCode                  int64        `wx:"RetCode"`                  // 0 when the refund succeeded
	RetMsg                   string       `wx:"RetMsg"`                   // why the refund failed
	RefundStartTimestamp     int64        `wx:"RefundStartTimestamp"`     // when the refund began, Unix seconds
	RefundSuccTimestamp      int64        `wx:"RefundSuccTimestamp"`      // when it completed, Unix seconds
	WxpayRefundTransactionID string       `wx:"WxpayRefundTransactionId"` // the WeChat Pay refund transaction
	RetryTimes               int64        `wx:"RetryTimes"`               // how many times WeChat resent this notification
	TeamInfo                 XPayTeamInfo `wx:"TeamInfo"`                 // the group purchase, if any (omitted when zero)
}

// DedupKey implements Push: "biz:xpay_refund_notify:"+MchRefundID (the
// refund has no OutTradeNo; WxRefundID when MchRefundID is empty).
func (m *XPayRefundNotify) DedupKey() string {
	if m.MchRefundID != "" {
		return bizKey(m, m.MchRefundID)
	}
	return bizKey(m, m.WxRefundID)
}

// XPayComplaintNotify reports a user complaint about a virtual-payment
// order (Event "xpay_complaint_notify"). Answer with XPayOK.
type XPayComplaintNotify struct {
	Header          `wx:"event:xpay_complaint_notify"`
	OpenID          string `wx:"OpenId"`          // the user who complained
	WxOrderID       string `wx:"WxOrderId"`       // WeChat's number of the order
	MchOrderID      string `wx:"MchOrderId"`      // the developer's number of the order
	TransactionID   string `wx:"TransactionId"`   // the WeChat Pay transaction
	ComplaintID     string `wx:"ComplaintId,key"` // the complaint's number, the business key
	ComplaintDetail string `wx:"ComplaintDetail"` // the user's description
	ComplaintTime   int64  `wx:"ComplaintTime"`   // when the user complained, Unix seconds
	RetryTimes      int64  `wx:"RetryTimes"`      // how many times WeChat resent this notification
	RequestID       string `wx:"RequestId"`       // the notification's request id
}

// XPaySubscribeNotify is one of the virtual-payment subscription events
// xpay_subscribe_signing_result_notify and xpay_subscribe_pay_fail_notify;
// Header.Event tells which. Fields beyond the common ones land in
// Header.Extra. Answer with XPayOK. Whether OutTradeNo is unique per push
// is not documented (a renewal can fail more than once), so these get the
// digest key.
type XPaySubscribeNotify struct {
	Header     `wx:"event:xpay_subscribe_signing_result_notify event:xpay_subscribe_pay_fail_notify"`
	OpenID     string `wx:"OpenId"`     // the subscriber
	OutTradeNo string `wx:"OutTradeNo"` // the developer's order number
	Env        int64  `wx:"Env"`        // 0 production, 1 sandbox
}

// XPayIOSRefundQuery is Apple's refund inquiry relayed by WeChat (Event
// "xpay_subscribe_ios_refund_query_notify"): a user asked the App Store for
// a refund, and the developer advises for or against it. Answer within 3
// seconds with XPayIOSRefundAnswer; an inquiry not answered in time 3
// times running is reported to Apple as "undetermined".
type XPayIOSRefundQuery struct {
	Header              `wx:"event:xpay_subscribe_ios_refund_query_notify"`
	OpenID              string `wx:"OpenId"`                // the user, when sent
	OutTradeNo          string `wx:"OutTradeNo"`            // the developer's order number, when sent
	RefundTime          string `wx:"refund_time"`           // when Apple asked, Unix seconds as text
	OrderTime           string `wx:"order_time"`            // when the refunded order was paid, Unix seconds as text
	ChannelBill         string `wx:"channel_bill"`          // Apple's receipt number
	BundleID            string `wx:"bundleid"`              // the app's Apple bundle id
	ProductID           string `wx:"product_id"`            // the item refunded
	PCount              string `wx:"p_count"`               // how many items or coins
	RefundRequestReason string `wx:"refund_request_reason"` // the user's reason, such as UNINTENDED_PURCHASE
	ProvideStatus       string `wx:"provide_status"`        // delivery state: "0" not delivered, "1" delivered, "2" delivering
	ConsumptionStatus   string `wx:"consumption_status"`    // how much of the purchase was used, as reported to Apple ("0" undeclared)
	ServiceType         string `wx:"service_type"`          // the product line of the order, such as "unipdt"
	PayOrderID          string `wx:"pay_order_id"`          // the developer's order number of the refunded payment
}

// DedupKey implements Push: "biz:xpay_subscribe_ios_refund_query_notify:"+
// pay_order_id (OutTradeNo when empty)+":"+refund_time: one inquiry, each
// asked at its own time.
func (m *XPayIOSRefundQuery) DedupKey() string {
	id := m.PayOrderID
	if id == "" {
		id = m.OutTradeNo
	}
	return bizKey(m, id, m.RefundTime)
}
