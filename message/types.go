package message

import (
	"sort"
	"strconv"
	"strings"
)

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
)

// Header holds the fields every push shares. Event is set when MsgType is
// "event". Extra keeps, in body order, every top-level field the typed
// model of the push does not know (and any repeated or ill-typed occurrence
// of a field it does know), so that encoding loses nothing.
type Header struct {
	ToUserName   string // the mini program's original ID (gh_…)
	FromUserName string // the sender's openid
	CreateTime   int64  // Unix seconds; a JSON string of digits is accepted
	MsgType      string
	Event        string
	Extra        []Field
}

// Head returns h. Every concrete push type gets it by embedding Header.
func (h *Header) Head() *Header { return h }

// Get returns the first field of Extra named name.
func (h *Header) Get(name string) (Value, bool) { return getField(h.Extra, name) }

// eventKey is the dedup key of an event: FromUserName, CreateTime and Event
// (MsgType when Event is empty).
func (h *Header) eventKey() string {
	ev := h.Event
	if ev == "" {
		ev = h.MsgType
	}
	return "ev:" + h.FromUserName + ":" + strconv.FormatInt(h.CreateTime, 10) + ":" + ev
}

func (h *Header) msgKey(id MsgID) string {
	if id == "" {
		return h.eventKey()
	}
	return "msg:" + string(id)
}

func (h *Header) bizKey(key string) string {
	if key == "" {
		return h.eventKey()
	}
	return "biz:" + h.Event + ":" + key
}

// Push is one decoded push. Every concrete type of this package implements
// it with a pointer receiver.
type Push interface {
	// Head returns the shared header; changes through it are visible.
	Head() *Header
	// DedupKey returns the key under which deliveries of the same push
	// (WeChat retries) collapse:
	//   - messages with a MsgId: "msg:"+MsgId;
	//   - pushes with a business key: "biz:"+Event+":"+key (wxa_media_check
	//     trace_id, subscribe_msg_sent_event MsgIDs joined with ",", xpay
	//     OutTradeNo or the event's own order/refund/complaint id);
	//   - other events: "ev:"+FromUserName+":"+CreateTime+":"+Event.
	// A push missing its MsgId or business key falls back to the "ev:" form
	// (with MsgType in place of an empty Event).
	DedupKey() string
}

// MsgID is a message id: decimal digits in practice, but any opaque string
// is kept (cloud-function payloads send "49d72d…_1555684067"). JSON numbers
// are read without float loss.
type MsgID string

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

// Text is a text message (MsgType "text").
type Text struct {
	Header
	Content string
	MsgID   MsgID // MsgId
}

// DedupKey implements Push: "msg:"+MsgID.
func (m *Text) DedupKey() string { return m.msgKey(m.MsgID) }

// Image is an image message (MsgType "image"). Fetch the picture with
// media/get and MediaID.
type Image struct {
	Header
	PicURL  string // PicUrl
	MediaID string // MediaId
	MsgID   MsgID  // MsgId
}

// DedupKey implements Push: "msg:"+MsgID.
func (m *Image) DedupKey() string { return m.msgKey(m.MsgID) }

// MiniProgramPage is a mini program card message (MsgType "miniprogrampage").
type MiniProgramPage struct {
	Header
	MsgID        MsgID  // MsgId
	Title        string // Title
	AppID        string // AppId
	PagePath     string // PagePath
	ThumbURL     string // ThumbUrl
	ThumbMediaID string // ThumbMediaId
}

// DedupKey implements Push: "msg:"+MsgID.
func (m *MiniProgramPage) DedupKey() string { return m.msgKey(m.MsgID) }

// UserEnterTempSession is the event sent when a user enters the
// customer-service session (Event "user_enter_tempsession").
type UserEnterTempSession struct {
	Header
	SessionFrom string // the session-from attribute of the contact button
}

// DedupKey implements Push with the "ev:" key.
func (m *UserEnterTempSession) DedupKey() string { return m.eventKey() }

// DebugDemo is the event the console's push debugging tool sends
// (Event "debug_demo").
type DebugDemo struct {
	Header
	DebugStr string // debug_str
}

// DedupKey implements Push with the "ev:" key.
func (m *DebugDemo) DedupKey() string { return m.eventKey() }

// SubscribePopupItem is one template in a subscribe_msg_popup_event.
type SubscribePopupItem struct {
	TemplateID            string // TemplateId
	SubscribeStatusString string // "accept" or "reject"
	PopupScene            int64  // 0: popup inside a mini program page; a string of digits is accepted
	Extra                 []Field
}

// SubscribeChangeItem is one template in a subscribe_msg_change_event.
type SubscribeChangeItem struct {
	TemplateID            string // TemplateId
	SubscribeStatusString string // "reject" in practice
	Extra                 []Field
}

// SubscribeSentItem is one template in a subscribe_msg_sent_event.
type SubscribeSentItem struct {
	TemplateID  string // TemplateId
	MsgID       MsgID  // MsgID: the msgid subscribeMessage.send returned
	ErrorCode   int64  // 0 means delivered; a string of digits is accepted
	ErrorStatus string // ErrorStatus
	Extra       []Field
}

// SubscribeMsgPopupEvent reports what the user chose in the subscribe
// popup (Event "subscribe_msg_popup_event"). JSON carries a top-level List
// (one object or an array); XML wraps one <List> per item in a
// <SubscribeMsgPopupEvent> container.
type SubscribeMsgPopupEvent struct {
	Header
	List []SubscribePopupItem
}

// DedupKey implements Push with the "ev:" key.
func (m *SubscribeMsgPopupEvent) DedupKey() string { return m.eventKey() }

// SubscribeMsgChangeEvent reports subscriptions the user turned off in
// 服务通知 (Event "subscribe_msg_change_event"); the XML container is
// <SubscribeMsgChangeEvent>.
type SubscribeMsgChangeEvent struct {
	Header
	List []SubscribeChangeItem
}

// DedupKey implements Push with the "ev:" key.
func (m *SubscribeMsgChangeEvent) DedupKey() string { return m.eventKey() }

// SubscribeMsgSentEvent is the final result of subscribeMessage.send
// (Event "subscribe_msg_sent_event"); the XML container is
// <SubscribeMsgSentEvent>.
type SubscribeMsgSentEvent struct {
	Header
	List []SubscribeSentItem
}

// DedupKey implements Push: "biz:subscribe_msg_sent_event:"+MsgIDs joined
// with ",".
func (m *SubscribeMsgSentEvent) DedupKey() string {
	ids := make([]string, len(m.List))
	found := false
	for i, it := range m.List {
		ids[i] = string(it.MsgID)
		found = found || it.MsgID != ""
	}
	if !found {
		return m.eventKey()
	}
	return m.bizKey(strings.Join(ids, ","))
}

// MediaCheckResult is the overall verdict of a wxa_media_check push.
type MediaCheckResult struct {
	Suggest string // suggest: "risky", "pass" or "review"
	Label   string // label: a number sent as a string (kept as text)
	Extra   []Field
}

// MediaCheckDetail is one strategy's verdict in a wxa_media_check push.
type MediaCheckDetail struct {
	Strategy string // strategy
	ErrCode  int64  // errcode
	Suggest  string // suggest
	Label    string // label (number or string, kept as text)
	Prob     int64  // prob
	Extra    []Field
}

// MediaCheck is the asynchronous result of mediaCheckAsync (v2)
// (Event "wxa_media_check"). In XML, detail repeats as sibling elements.
// Legacy v1 fields (isrisky, extra_info_json, status_code) land in Extra.
type MediaCheck struct {
	Header
	AppID   string             // appid
	TraceID string             // trace_id, as returned by mediaCheckAsync
	Version int64              // version (2)
	ErrCode int64              // errcode
	ErrMsg  string             // errmsg
	Result  MediaCheckResult   // result (omitted when zero)
	Detail  []MediaCheckDetail // detail
}

// DedupKey implements Push: "biz:wxa_media_check:"+TraceID.
func (m *MediaCheck) DedupKey() string { return m.bizKey(m.TraceID) }

// AuthChange holds the fields of the user authorization events
// (user_info_modified, user_authorization_revoke,
// user_authorization_cancellation).
type AuthChange struct {
	OpenID     string // OpenID
	AppID      string // AppID
	RevokeInfo string // RevokeInfo: reason code 1–20, kept as text
	PluginID   string // PluginID
	OpenPID    string // OpenPID
}

// UserInfoModified reports that a user changed authorized profile data
// (Event "user_info_modified").
type UserInfoModified struct {
	Header
	AuthChange
}

// DedupKey implements Push with the "ev:" key.
func (m *UserInfoModified) DedupKey() string { return m.eventKey() }

// UserAuthorizationRevoke reports that a user revoked an authorization
// (Event "user_authorization_revoke").
type UserAuthorizationRevoke struct {
	Header
	AuthChange
}

// DedupKey implements Push with the "ev:" key.
func (m *UserAuthorizationRevoke) DedupKey() string { return m.eventKey() }

// UserAuthorizationCancellation reports that a user cancelled their
// account's authorizations (Event "user_authorization_cancellation").
type UserAuthorizationCancellation struct {
	Header
	AuthChange
}

// DedupKey implements Push with the "ev:" key.
func (m *UserAuthorizationCancellation) DedupKey() string { return m.eventKey() }

// TradeManage is one of the order-shipping management (发货信息管理) events:
// trade_manage_remind_access_api, trade_manage_remind_shipping and
// trade_manage_order_settlement; Header.Event tells which.
type TradeManage struct {
	Header
	TransactionID           string // transaction_id
	MerchantID              string // merchant_id
	SubMerchantID           string // sub_merchant_id
	MerchantTradeNo         string // merchant_trade_no
	PayTime                 int64  // pay_time
	ShippedTime             int64  // shipped_time
	EstimatedSettlementTime int64  // estimated_settlement_time
	ConfirmReceiveMethod    int64  // confirm_receive_method
	ConfirmReceiveTime      int64  // confirm_receive_time
	SettlementTime          int64  // settlement_time
	Msg                     string // msg
}

// DedupKey implements Push with the "ev:" key.
func (m *TradeManage) DedupKey() string { return m.eventKey() }

// XPayWeChatPayInfo is the WeChatPayInfo object of virtual-payment pushes
// (absent for non-WeChat-Pay channels).
type XPayWeChatPayInfo struct {
	MchOrderNo    string // MchOrderNo
	TransactionID string // TransactionId
	PaidTime      int64  // PaidTime, Unix seconds
	Extra         []Field
}

// XPayGoodsInfo is the GoodsInfo object of xpay_goods_deliver_notify.
type XPayGoodsInfo struct {
	ProductID   string // ProductId
	Quantity    int64  // Quantity
	OrigPrice   int64  // OrigPrice, in fen
	ActualPrice int64  // ActualPrice, in fen
	Attach      string // Attach
	Extra       []Field
}

// XPayCoinInfo is the CoinInfo object of xpay_coin_pay_notify.
type XPayCoinInfo struct {
	Quantity    int64  // Quantity
	OrigPrice   int64  // OrigPrice, in fen
	ActualPrice int64  // ActualPrice, in fen
	Attach      string // Attach
	Extra       []Field
}

// XPayTeamInfo is the TeamInfo (group buying) object of virtual-payment
// pushes.
type XPayTeamInfo struct {
	ActivityID string // ActivityId
	TeamID     string // TeamId
	TeamType   int64  // TeamType
	TeamAction int64  // TeamAction
	Extra      []Field
}

// XPayGoodsDeliverNotify asks the developer to deliver an item bought with
// virtual payment (Event "xpay_goods_deliver_notify"). Answer with XPayOK;
// WeChat retries until it gets it.
type XPayGoodsDeliverNotify struct {
	Header
	OpenID        string            // OpenId
	OutTradeNo    string            // OutTradeNo
	Env           int64             // Env: 0 production, 1 sandbox
	WeChatPayInfo XPayWeChatPayInfo // WeChatPayInfo (omitted when zero)
	GoodsInfo     XPayGoodsInfo     // GoodsInfo (omitted when zero)
	TeamInfo      XPayTeamInfo      // TeamInfo (omitted when zero)
}

// DedupKey implements Push: "biz:xpay_goods_deliver_notify:"+OutTradeNo.
func (m *XPayGoodsDeliverNotify) DedupKey() string { return m.bizKey(m.OutTradeNo) }

// XPayCoinPayNotify reports a virtual-currency purchase
// (Event "xpay_coin_pay_notify"). Answer with XPayOK.
type XPayCoinPayNotify struct {
	Header
	OpenID        string            // OpenId
	OutTradeNo    string            // OutTradeNo
	Env           int64             // Env
	WeChatPayInfo XPayWeChatPayInfo // WeChatPayInfo (omitted when zero)
	CoinInfo      XPayCoinInfo      // CoinInfo (omitted when zero)
}

// DedupKey implements Push: "biz:xpay_coin_pay_notify:"+OutTradeNo.
func (m *XPayCoinPayNotify) DedupKey() string { return m.bizKey(m.OutTradeNo) }

// XPayRefundNotify reports the result of a virtual-payment refund
// (Event "xpay_refund_notify"). Answer with XPayOK.
type XPayRefundNotify struct {
	Header
	OpenID                   string       // OpenId
	WxRefundID               string       // WxRefundId
	MchRefundID              string       // MchRefundId
	WxOrderID                string       // WxOrderId
	MchOrderID               string       // MchOrderId
	RefundFee                int64        // RefundFee, in fen
	RetCode                  int64        // RetCode: 0 success
	RetMsg                   string       // RetMsg
	RefundStartTimestamp     int64        // RefundStartTimestamp
	RefundSuccTimestamp      int64        // RefundSuccTimestamp
	WxpayRefundTransactionID string       // WxpayRefundTransactionId
	RetryTimes               int64        // RetryTimes
	TeamInfo                 XPayTeamInfo // TeamInfo (omitted when zero)
}

// DedupKey implements Push: "biz:xpay_refund_notify:"+MchRefundID (the
// refund has no OutTradeNo; WxRefundID when MchRefundID is empty).
func (m *XPayRefundNotify) DedupKey() string {
	if m.MchRefundID != "" {
		return m.bizKey(m.MchRefundID)
	}
	return m.bizKey(m.WxRefundID)
}

// XPayComplaintNotify reports a user complaint about a virtual-payment
// order (Event "xpay_complaint_notify"). Answer with XPayOK.
type XPayComplaintNotify struct {
	Header
	OpenID          string // OpenId
	WxOrderID       string // WxOrderId
	MchOrderID      string // MchOrderId
	TransactionID   string // TransactionId
	ComplaintID     string // ComplaintId
	ComplaintDetail string // ComplaintDetail
	ComplaintTime   int64  // ComplaintTime
	RetryTimes      int64  // RetryTimes
	RequestID       string // RequestId
}

// DedupKey implements Push: "biz:xpay_complaint_notify:"+ComplaintID.
func (m *XPayComplaintNotify) DedupKey() string { return m.bizKey(m.ComplaintID) }

// XPaySubscribeNotify is one of the virtual-payment subscription events:
// xpay_subscribe_signing_result_notify, xpay_subscribe_pay_fail_notify and
// xpay_subscribe_ios_refund_query_notify; Header.Event tells which. The
// typed fields are those of the iOS refund inquiry; other fields land in
// Header.Extra.
type XPaySubscribeNotify struct {
	Header
	OpenID              string // OpenId
	OutTradeNo          string // OutTradeNo
	RefundTime          string // refund_time
	OrderTime           string // order_time
	ChannelBill         string // channel_bill
	BundleID            string // bundleid
	ProductID           string // product_id
	PCount              string // p_count
	RefundRequestReason string // refund_request_reason
	ProvideStatus       string // provide_status
	PayOrderID          string // pay_order_id
}

// DedupKey implements Push: "biz:"+Event+":"+OutTradeNo, or PayOrderID
// when OutTradeNo is empty.
func (m *XPaySubscribeNotify) DedupKey() string {
	if m.OutTradeNo != "" {
		return m.bizKey(m.OutTradeNo)
	}
	return m.bizKey(m.PayOrderID)
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
// the "ev:" key otherwise.
func (m *Unknown) DedupKey() string {
	if v, ok := m.Get("MsgId"); ok && (v.Kind == ValueString || v.Kind == ValueNumber) {
		return m.msgKey(MsgID(v.Text))
	}
	return m.eventKey()
}

var (
	kindsText     = []Kind{{MsgType: MsgTypeText}}
	kindsImage    = []Kind{{MsgType: MsgTypeImage}}
	kindsMPPage   = []Kind{{MsgType: MsgTypeMiniProgramPage}}
	kindsTemp     = []Kind{evKind(EventUserEnterTempSession)}
	kindsDebug    = []Kind{evKind(EventDebugDemo)}
	kindsPopup    = []Kind{evKind(EventSubscribeMsgPopup)}
	kindsChange   = []Kind{evKind(EventSubscribeMsgChange)}
	kindsSent     = []Kind{evKind(EventSubscribeMsgSent)}
	kindsMedia    = []Kind{evKind(EventMediaCheck)}
	kindsInfoMod  = []Kind{evKind(EventUserInfoModified)}
	kindsRevoke   = []Kind{evKind(EventUserAuthorizationRevoke)}
	kindsCancel   = []Kind{evKind(EventUserAuthorizationCancellation)}
	kindsTrade    = []Kind{evKind(EventTradeManageRemindAccessAPI), evKind(EventTradeManageRemindShipping), evKind(EventTradeManageOrderSettlement)}
	kindsDeliver  = []Kind{evKind(EventXPayGoodsDeliverNotify)}
	kindsCoin     = []Kind{evKind(EventXPayCoinPayNotify)}
	kindsRefund   = []Kind{evKind(EventXPayRefundNotify)}
	kindsComplain = []Kind{evKind(EventXPayComplaintNotify)}
	kindsXSub     = []Kind{evKind(EventXPaySubscribeSigningResult), evKind(EventXPaySubscribePayFail), evKind(EventXPaySubscribeIOSRefundQuery)}
)

func evKind(event string) Kind { return Kind{MsgType: MsgTypeEvent, Event: event} }

// newTyped returns a new zero value of the type registered for k, or nil.
func newTyped(k Kind) typed {
	switch k.MsgType {
	case MsgTypeText:
		return &Text{}
	case MsgTypeImage:
		return &Image{}
	case MsgTypeMiniProgramPage:
		return &MiniProgramPage{}
	case MsgTypeEvent:
	default:
		return nil
	}
	switch k.Event {
	case EventUserEnterTempSession:
		return &UserEnterTempSession{}
	case EventDebugDemo:
		return &DebugDemo{}
	case EventSubscribeMsgPopup:
		return &SubscribeMsgPopupEvent{}
	case EventSubscribeMsgChange:
		return &SubscribeMsgChangeEvent{}
	case EventSubscribeMsgSent:
		return &SubscribeMsgSentEvent{}
	case EventMediaCheck:
		return &MediaCheck{}
	case EventUserInfoModified:
		return &UserInfoModified{}
	case EventUserAuthorizationRevoke:
		return &UserAuthorizationRevoke{}
	case EventUserAuthorizationCancellation:
		return &UserAuthorizationCancellation{}
	case EventTradeManageRemindAccessAPI, EventTradeManageRemindShipping, EventTradeManageOrderSettlement:
		return &TradeManage{}
	case EventXPayGoodsDeliverNotify:
		return &XPayGoodsDeliverNotify{}
	case EventXPayCoinPayNotify:
		return &XPayCoinPayNotify{}
	case EventXPayRefundNotify:
		return &XPayRefundNotify{}
	case EventXPayComplaintNotify:
		return &XPayComplaintNotify{}
	case EventXPaySubscribeSigningResult, EventXPaySubscribePayFail, EventXPaySubscribeIOSRefundQuery:
		return &XPaySubscribeNotify{}
	}
	return nil
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

// kindsOf is KindsOf without the copy.
func kindsOf(p Push) (ks []Kind) {
	switch p.(type) {
	case *Text:
		ks = kindsText
	case *Image:
		ks = kindsImage
	case *MiniProgramPage:
		ks = kindsMPPage
	case *UserEnterTempSession:
		ks = kindsTemp
	case *DebugDemo:
		ks = kindsDebug
	case *SubscribeMsgPopupEvent:
		ks = kindsPopup
	case *SubscribeMsgChangeEvent:
		ks = kindsChange
	case *SubscribeMsgSentEvent:
		ks = kindsSent
	case *MediaCheck:
		ks = kindsMedia
	case *UserInfoModified:
		ks = kindsInfoMod
	case *UserAuthorizationRevoke:
		ks = kindsRevoke
	case *UserAuthorizationCancellation:
		ks = kindsCancel
	case *TradeManage:
		ks = kindsTrade
	case *XPayGoodsDeliverNotify:
		ks = kindsDeliver
	case *XPayCoinPayNotify:
		ks = kindsCoin
	case *XPayRefundNotify:
		ks = kindsRefund
	case *XPayComplaintNotify:
		ks = kindsComplain
	case *XPaySubscribeNotify:
		ks = kindsXSub
	}
	return ks
}

// Types returns every kind with a typed model, sorted by MsgType then
// Event. The result is a fresh slice.
func Types() []Kind {
	all := [][]Kind{kindsText, kindsImage, kindsMPPage, kindsTemp, kindsDebug, kindsPopup, kindsChange,
		kindsSent, kindsMedia, kindsInfoMod, kindsRevoke, kindsCancel, kindsTrade, kindsDeliver, kindsCoin,
		kindsRefund, kindsComplain, kindsXSub}
	var out []Kind
	for _, ks := range all {
		out = append(out, ks...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].MsgType != out[j].MsgType {
			return out[i].MsgType < out[j].MsgType
		}
		return out[i].Event < out[j].Event
	})
	return out
}
