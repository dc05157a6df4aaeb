package message

//go:generate go run ./internal/cmd/wxgen

// The push types. Each struct's wx tags are the single source of its wire
// names, slot order and kinds: `go generate` turns them into
// fields_gen.go (slot tables, the kind registry, and the digest or
// business DedupKey of types without a hand-written one). A new push type
// is one struct declaration here; see package internal/wxgen for the tags.

// MsgType values of the pushes a mini program receives.
const (
	MsgTypeText            = "text"
	MsgTypeImage           = "image"
	MsgTypeMiniProgramPage = "miniprogrampage"
	MsgTypeEvent           = "event"
	// MsgTypeTransferCustomerService is the MsgType of the passive reply
	// that hands a conversation to the web customer-service tool.
	MsgTypeTransferCustomerService = "transfer_customer_service"
)

// Event values (MsgType "event") with a typed model in this package.
const (
	EventUserEnterTempSession          = "user_enter_tempsession"
	EventSubscribeMsgPopup             = "subscribe_msg_popup_event"
	EventSubscribeMsgChange            = "subscribe_msg_change_event"
	EventSubscribeMsgSent              = "subscribe_msg_sent_event"
	EventMediaCheck                    = "wxa_media_check"
	EventUserInfoModified              = "user_info_modified"
	EventUserAuthorizationRevoke       = "user_authorization_revoke"
	EventUserAuthorizationCancellation = "user_authorization_cancellation"
	EventTradeManageRemindAccessAPI    = "trade_manage_remind_access_api"
	EventTradeManageRemindShipping     = "trade_manage_remind_shipping"
	EventTradeManageOrderSettlement    = "trade_manage_order_settlement"
	EventXPayGoodsDeliverNotify        = "xpay_goods_deliver_notify"
	EventXPayCoinPayNotify             = "xpay_coin_pay_notify"
	EventXPayRefundNotify              = "xpay_refund_notify"
	EventXPayComplaintNotify           = "xpay_complaint_notify"
	EventXPaySubscribeSigningResult    = "xpay_subscribe_signing_result_notify"
	EventXPaySubscribePayFail          = "xpay_subscribe_pay_fail_notify"
	EventXPaySubscribeIOSRefundQuery   = "xpay_subscribe_ios_refund_query_notify"
	EventDebugDemo                     = "debug_demo"
	EventAddExpressPath                = "add_express_path"
	EventComplaintCallback             = "complaint_callback"
	EventExpressAddWaybill             = "add_waybill"
	EventExpressCancelWaybill          = "cancel_waybill"
	EventExpressGetQuota               = "get_quota"
	EventExpressCheckBiz               = "check_biz"
)

// Header holds the fields every push shares. Event is set when MsgType is
// "event". Extra keeps, in body order, every top-level field the typed
// model of the push does not know (and any repeated or ill-typed occurrence
// of a field it does know), so that encoding loses nothing.
type Header struct {
	ToUserName   string // the mini program's original ID (gh_…)
	FromUserName string // the sender's openid (a fixed WeChat account for platform events)
	CreateTime   int64  // Unix seconds; a JSON string of digits is accepted
	MsgType      string // what the push is: a message type, or "event"
	Event        string // which event, when MsgType is "event"
	Extra        []Field
}

// Head returns h. Every concrete push type gets it by embedding Header.
func (h *Header) Head() *Header { return h }

// Get returns the first field of Extra named name.
func (h *Header) Get(name string) (Value, bool) { return getField(h.Extra, name) }

func (h *Header) extra() *[]Field { return &h.Extra }

// Push is one decoded push. Every concrete type of this package implements
// it with a pointer receiver.
type Push interface {
	// Head returns the shared header; changes through it are visible.
	Head() *Header
	// DedupKey returns the key under which deliveries of the same push
	// (WeChat retries) collapse, and only those: a retry (the same message
	// sent again, byte for byte once decrypted) shares it, a different
	// push never does.
	//   - messages with a MsgId: "msg:"+MsgId;
	//   - pushes with a business key that is unique per push:
	//     "biz:"+Event+":"+key, where key is, by type: wxa_media_check
	//     trace_id; subscribe_msg_sent_event every MsgID joined with ",";
	//     xpay OutTradeNo, the refund or complaint id; the iOS refund
	//     inquiry pay_order_id and refund_time; trade_manage_order_settlement
	//     transaction_id (or merchant_trade_no) and the stage;
	//     add_express_path DeliveryID, WayBillId and Version (parts joined
	//     with ":"). A business key survives WeChat's resends that are not
	//     byte-identical (the xpay RetryTimes counter);
	//   - every other push, and one missing its MsgId or key:
	//     "ev:"+FromUserName+":"+CreateTime+":"+Event (MsgType when Event
	//     is empty)+":"+32 hex digits of a SHA-256 over a canonical form of
	//     the whole push (every non-empty field, header included, sorted by
	//     name, whichever Go type models it).
	DedupKey() string
}

// MsgID is a message id: decimal digits in practice, but any opaque string
// is kept (cloud-function payloads send "49d72d…_1555684067"). JSON numbers
// are read without float loss.
type MsgID string

// Number is a decimal number kept as the text that was sent (a weight in
// kg, a price in yuan): JSON numbers and strings are both read, and it is
// written as a bare JSON number when it is one, as a string otherwise.
type Number string

// Kind names what a push is: MsgType, plus Event when MsgType is "event".
type Kind struct {
	MsgType string
	Event   string
}

// String returns MsgType, or "event:"+Event for events.
func (k Kind) String() string {
	if k.Event == "" {
		return k.MsgType
	}
	return k.MsgType + ":" + k.Event
}

// KindOf returns the kind of p from its header. Event is only part of the
// kind when MsgType is "event".
func KindOf(p Push) Kind {
	h := p.Head()
	return kindOf(h.MsgType, h.Event)
}

func kindOf(msgType, event string) Kind {
	if msgType != MsgTypeEvent {
		return Kind{MsgType: msgType}
	}
	return Kind{MsgType: msgType, Event: event}
}

// KindsOf returns every kind that Decode turns into p's dynamic type (for
// example the three trade_manage_* events for *TradeManage), so a router can
// map a Go type to the kinds it covers. It returns nil for *Unknown and for
// types this package does not define. The result is a fresh slice.
func KindsOf(p Push) []Kind {
	ks := kindsOf(p)
	if ks == nil {
		return nil
	}
	return append([]Kind(nil), ks...)
}

// Types returns every kind with a typed model, sorted by MsgType then
// Event. The result is a fresh slice.
func Types() []Kind { return append([]Kind(nil), allKinds...) }

// Text is a text message (MsgType "text").
type Text struct {
	Header  `wx:"text"`
	Content string `wx:"Content"` // what the user typed
	MsgID   MsgID  `wx:"MsgId"`   // the message's 64-bit id, the dedup key
}

// DedupKey implements Push: "msg:"+MsgID.
func (m *Text) DedupKey() string { return msgKey(m, m.MsgID) }

// Image is an image message (MsgType "image"). Fetch the picture with
// media/get and MediaID.
type Image struct {
	Header  `wx:"image"`
	PicURL  string `wx:"PicUrl"`  // a temporary CDN link to the picture
	MediaID string `wx:"MediaId"` // the id media/get downloads the picture with
	MsgID   MsgID  `wx:"MsgId"`   // the message's 64-bit id, the dedup key
}

// DedupKey implements Push: "msg:"+MsgID.
func (m *Image) DedupKey() string { return msgKey(m, m.MsgID) }

// MiniProgramPage is a mini program card message (MsgType "miniprogrampage").
type MiniProgramPage struct {
	Header       `wx:"miniprogrampage"`
	MsgID        MsgID  `wx:"MsgId"`        // the message's 64-bit id, the dedup key
	Title        string `wx:"Title"`        // the card's caption
	AppID        string `wx:"AppId"`        // the mini program the card opens
	PagePath     string `wx:"PagePath"`     // the page (with query) the card opens
	ThumbURL     string `wx:"ThumbUrl"`     // a temporary CDN link to the cover image
	ThumbMediaID string `wx:"ThumbMediaId"` // the cover image's temporary media id
}

// DedupKey implements Push: "msg:"+MsgID.
func (m *MiniProgramPage) DedupKey() string { return msgKey(m, m.MsgID) }

// UserEnterTempSession is the event sent when a user enters the
// customer-service session (Event "user_enter_tempsession").
type UserEnterTempSession struct {
	Header      `wx:"event:user_enter_tempsession"`
	SessionFrom string `wx:"SessionFrom"` // the session-from attribute of the contact button
}

// DebugDemo is the event the console's push debugging tool sends
// (Event "debug_demo").
type DebugDemo struct {
	Header   `wx:"event:debug_demo"`
	DebugStr string `wx:"debug_str"` // the text typed into the debugging tool
}

// SubscribePopupItem is one template in a subscribe_msg_popup_event.
type SubscribePopupItem struct {
	TemplateID            string `wx:"TemplateId"`            // the subscribe-message template shown
	SubscribeStatusString string `wx:"SubscribeStatusString"` // the user's choice: "accept" or "reject"
	PopupScene            int64  `wx:"PopupScene"`            // where the popup was: 0 inside a mini program page; a string of digits is accepted
	Extra                 []Field
}

// SubscribeChangeItem is one template in a subscribe_msg_change_event.
type SubscribeChangeItem struct {
	TemplateID            string `wx:"TemplateId"`            // the template the user turned off
	SubscribeStatusString string `wx:"SubscribeStatusString"` // the new state, "reject" in practice
	Extra                 []Field
}

// SubscribeSentItem is one template in a subscribe_msg_sent_event.
type SubscribeSentItem struct {
	TemplateID  string `wx:"TemplateId"`   // the template that was sent
	MsgID       MsgID  `wx:"MsgID,string"` // the msgid subscribeMessage.send returned
	ErrorCode   int64  `wx:"ErrorCode"`    // 0 means delivered; a string of digits is accepted
	ErrorStatus string `wx:"ErrorStatus"`  // "success", or why delivery failed
	Extra       []Field
}

// SubscribeMsgPopupEvent reports what the user chose in the subscribe
// popup (Event "subscribe_msg_popup_event"). JSON carries a top-level List
// (one object or an array); XML wraps one <List> per item in a
// <SubscribeMsgPopupEvent> container.
type SubscribeMsgPopupEvent struct {
	Header `wx:"event:subscribe_msg_popup_event"`
	List   []SubscribePopupItem `wx:"List,objarr,container=SubscribeMsgPopupEvent"` // one entry per template in the popup
}

// SubscribeMsgChangeEvent reports subscriptions the user turned off in
// 服务通知 (Event "subscribe_msg_change_event"); the XML container is
// <SubscribeMsgChangeEvent>.
type SubscribeMsgChangeEvent struct {
	Header `wx:"event:subscribe_msg_change_event"`
	List   []SubscribeChangeItem `wx:"List,objarr,container=SubscribeMsgChangeEvent"` // one entry per template changed
}

// SubscribeMsgSentEvent is the final result of subscribeMessage.send
// (Event "subscribe_msg_sent_event"); the XML container is
// <SubscribeMsgSentEvent>.
type SubscribeMsgSentEvent struct {
	Header `wx:"event:subscribe_msg_sent_event"`
	List   []SubscribeSentItem `wx:"List,objarr,container=SubscribeMsgSentEvent"` // one entry per message sent
}

// DedupKey implements Push: "biz:subscribe_msg_sent_event:"+every MsgID
// joined with ",", or the digest key when one is empty (each msgid is
// reported once).
func (m *SubscribeMsgSentEvent) DedupKey() string {
	if len(m.List) == 0 {
		return digestKey(m)
	}
	ids := make([]byte, 0, 20*len(m.List))
	for i, it := range m.List {
		if it.MsgID == "" {
			return digestKey(m)
		}
		if i > 0 {
			ids = append(ids, ',')
		}
		ids = append(ids, it.MsgID...)
	}
	return bizKey(m, string(ids))
}

// MediaCheckResult is the overall verdict of a wxa_media_check push.
type MediaCheckResult struct {
	Suggest string `wx:"suggest"` // "risky", "pass" or "review"
	Label   string `wx:"label"`   // the content category, a number sent as a string (kept as text)
	Extra   []Field
}

// MediaCheckDetail is one strategy's verdict in a wxa_media_check push.
type MediaCheckDetail struct {
	Strategy string `wx:"strategy"` // which check produced this verdict
	ErrCode  int64  `wx:"errcode"`  // 0 when this check ran
	Suggest  string `wx:"suggest"`  // "risky", "pass" or "review"
	Label    string `wx:"label"`    // the content category (number or string, kept as text)
	Prob     int64  `wx:"prob"`     // confidence, 0–100
	Extra    []Field
}

// MediaCheck is the asynchronous result of mediaCheckAsync (v2)
// (Event "wxa_media_check"). In XML, detail repeats as sibling elements.
// Legacy v1 fields (isrisky, extra_info_json, status_code) land in Extra.
type MediaCheck struct {
	Header  `wx:"event:wxa_media_check"`
	AppID   string             `wx:"appid"`        // the mini program that asked for the check
	TraceID string             `wx:"trace_id,key"` // the id mediaCheckAsync returned, the business key
	Version int64              `wx:"version"`      // the API version, 2
	ErrCode int64              `wx:"errcode"`      // 0 when the check ran
	ErrMsg  string             `wx:"errmsg"`       // the error text matching ErrCode
	Result  MediaCheckResult   `wx:"result"`       // the overall verdict (omitted when zero)
	Detail  []MediaCheckDetail `wx:"detail"`       // each strategy's verdict
}

// AuthChange holds the fields of the user authorization events
// (user_info_modified, user_authorization_revoke,
// user_authorization_cancellation).
type AuthChange struct {
	OpenID     string `wx:"OpenID"`     // the user concerned
	AppID      string `wx:"AppID"`      // the mini program the authorization was for
	RevokeInfo string `wx:"RevokeInfo"` // why it was revoked: a code 1–20, kept as text
	PluginID   string `wx:"PluginID"`   // the plugin concerned, when a plugin held it
	OpenPID    string `wx:"OpenPID"`    // the user's id within that plugin
}

// UserInfoModified reports that a user changed authorized profile data
// (Event "user_info_modified").
type UserInfoModified struct {
	Header `wx:"event:user_info_modified"`
	AuthChange
}

// UserAuthorizationRevoke reports that a user revoked an authorization
// (Event "user_authorization_revoke").
type UserAuthorizationRevoke struct {
	Header `wx:"event:user_authorization_revoke"`
	AuthChange
}

// UserAuthorizationCancellation reports that a user cancelled their
// account's authorizations (Event "user_authorization_cancellation").
type UserAuthorizationCancellation struct {
	Header `wx:"event:user_authorization_cancellation"`
	AuthChange
}

// TradeManage is one of the order-shipping management (发货信息管理) events:
// trade_manage_remind_access_api, trade_manage_remind_shipping and
// trade_manage_order_settlement; Header.Event tells which.
// https://developers.weixin.qq.com/miniprogram/dev/platform-capabilities/business-capabilities/order-shipping/order-shipping.html
type TradeManage struct {
	Header                  `wx:"event:trade_manage_remind_access_api event:trade_manage_remind_shipping event:trade_manage_order_settlement"`
	TransactionID           string `wx:"transaction_id"`            // the WeChat Pay order
	MerchantID              string `wx:"merchant_id"`               // the merchant number that was paid
	SubMerchantID           string `wx:"sub_merchant_id"`           // the sub-merchant, for service providers
	MerchantTradeNo         string `wx:"merchant_trade_no"`         // the merchant's own order number
	PayTime                 int64  `wx:"pay_time"`                  // when the user paid, Unix seconds
	ShippedTime             int64  `wx:"shipped_time"`              // when shipping was recorded, Unix seconds
	EstimatedSettlementTime int64  `wx:"estimated_settlement_time"` // when funds should settle (sent on shipping), Unix seconds
	ConfirmReceiveMethod    int64  `wx:"confirm_receive_method"`    // how receipt was confirmed: 1 automatically, 2 by the user
	ConfirmReceiveTime      int64  `wx:"confirm_receive_time"`      // when receipt was confirmed, Unix seconds
	SettlementTime          int64  `wx:"settlement_time"`           // when the order settled (sent on settlement), Unix seconds
	Msg                     string `wx:"msg"`                       // the reminder's text
}

// DedupKey implements Push. trade_manage_order_settlement is pushed twice
// per order, when it ships and when it settles, so its key is
// "biz:trade_manage_order_settlement:"+transaction_id (merchant_trade_no
// when empty)+":shipped" or ":settled"; the reminders, which can repeat for
// one order, get the digest key.
func (m *TradeManage) DedupKey() string {
	if m.Event != EventTradeManageOrderSettlement {
		return digestKey(m)
	}
	id := m.TransactionID
	if id == "" {
		id = m.MerchantTradeNo
	}
	stage := "shipped"
	if m.SettlementTime != 0 || m.ConfirmReceiveTime != 0 {
		stage = "settled"
	}
	return bizKey(m, id, stage)
}

// ComplaintHistory is one step of a transaction complaint.
type ComplaintHistory struct {
	Time        int64  `wx:"time"`          // when the step happened, Unix seconds
	Content     string `wx:"content"`       // what was said or done
	MediaIDList string `wx:"media_id_list"` // the evidence images of this step
	Extra       []Field
}

// ComplaintInfo is the body of a complaint_callback push.
type ComplaintInfo struct {
	AppID               string             `wx:"appid"`                           // the mini program complained about
	OptionType          int64              `wx:"option_type"`                     // why it was pushed: a new complaint or a progress update
	ComplaintOrderID    string             `wx:"complaint_order_id"`              // the complaint's number
	Status              int64              `wx:"status"`                          // the complaint's state (201 waiting for the merchant, …)
	CreateTime          int64              `wx:"create_time"`                     // when the user complained, Unix seconds
	ExpireTime          int64              `wx:"expire_time"`                     // when the current state lapses, Unix seconds
	Type                int64              `wx:"type"`                            // what the complaint is about
	OrderID             string             `wx:"order_id"`                        // the WeChat Pay order complained about
	OutTradeNo          string             `wx:"out_trade_no"`                    // the merchant's own order number
	PhoneNumber         string             `wx:"phone_number"`                    // the user's contact number
	OpenID              string             `wx:"open_id"`                         // the user who complained
	CustomerContent     string             `wx:"customer_material_content"`       // the user's description
	CustomerMediaIDList string             `wx:"customer_material_media_id_list"` // the user's evidence images (expiring links)
	PayTime             int64              `wx:"pay_time"`                        // when the order was paid, Unix seconds
	TotalCost           int64              `wx:"total_cost"`                      // the order's amount, in fen
	ProductName         string             `wx:"product_name"`                    // what was bought
	History             []ComplaintHistory `wx:"history"`                         // the steps so far, oldest first
	Extra               []Field
}

// ComplaintCallback reports a new transaction complaint or its progress
// (Event "complaint_callback"). One complaint is pushed again at each
// step, so it gets the digest key. Answer "success".
// https://developers.weixin.qq.com/miniprogram/dev/platform-capabilities/business-capabilities/guarantee/complaint.html
type ComplaintCallback struct {
	Header `wx:"event:complaint_callback"`
	Info   ComplaintInfo `wx:"BussiCallBackInfo"` // the complaint as it stands
}

// Unknown is any push the typed model does not cover. Fields holds every
// top-level field except the five Header ones, in body order, with nested
// content as Value trees; Header.Extra stays nil. Raw is a copy of the body
// it was decoded from.
//
// Encode writes Raw verbatim when it is set and is in the requested format;
// set Raw to nil after editing Header or Fields to render them instead.
type Unknown struct {
	Header
	Fields []Field
	Raw    []byte
}

// Get returns the first field named name.
func (m *Unknown) Get(name string) (Value, bool) { return getField(m.Fields, name) }

// DedupKey implements Push: "msg:"+MsgId when the push has a MsgId field,
// the digest key otherwise.
func (m *Unknown) DedupKey() string {
	if v, ok := m.Get("MsgId"); ok && (v.Kind == ValueString || v.Kind == ValueNumber) && v.Text != "" {
		return "msg:" + v.Text
	}
	return digestKey(m)
}
